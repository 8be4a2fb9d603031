//! The echo RPC benchmark's load generator (BENCHMARKS.md, "RPC echo"),
//! the same for every server: a closed loop over `--concurrency C`
//! connections with one call outstanding on each.
//!
//!   rpc-load --port P [--concurrency C] [--warmup S] [--duration S]
//!            [--size BYTES] [--server-pid PID] [--mode auto|blocking|epoll]
//!
//! Every call is the same pre-encoded frame (`rpc::EchoExchange`) with its
//! sequence id patched in, and every reply is compared byte for byte with
//! the one expected (a REPLY carrying the same sequence id and string), so
//! the generator does the same small work whichever server answers.
//!
//! Two loops, both without an async runtime, to keep the generator's own
//! cost per call low and fixed:
//! - `blocking` (the default for C = 1): one thread per connection, a
//!   blocking `write` and `read` per call: two system calls, and the
//!   thread sleeps in `read` until the reply arrives.
//! - `epoll` (the default for C > 1): one thread over all connections,
//!   level-triggered epoll: one `epoll_wait` per batch of ready replies,
//!   then one `read` and one `write` per call. 64 threads would cost a
//!   context switch per reply on the generator's single core.
//!
//! Calls completing in the measured window (after `--warmup`, for
//! `--duration` seconds) are counted and their latencies (from just
//! before the request's `write` to just after the reply's last `read`) go
//! into an HDR histogram. The output is one `key=value` line: req/s,
//! p50/p90/p99/p99.9/max in µs, and the CPU time of the generator (and of
//! the server, from /proc, with `--server-pid`) over the window, as a
//! share of one core and per call; `all_calls` counts warm-up too (for
//! dividing a profiler's whole-run totals, `rpc-instructions.sh`).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mu2sls_bench::rpc::{EchoExchange, Options};

const USAGE: &str = "rpc-load --port P [--concurrency C] [--warmup S] [--duration S] [--size BYTES] \
                     [--server-pid PID] [--mode auto|blocking|epoll]";

/// When calls count: completed in `[start, end)`.
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

/// One connection with its call in flight.
struct Conn {
    stream: TcpStream,
    request: Vec<u8>,
    reply: Vec<u8>,
    filled: usize,
    seq: i32,
    sent: Instant,
}

/// What a loop measured.
struct Tally {
    latencies_ns: Histogram<u64>,
    calls: u64,
    /// Every call completed, warm-up and after the window included.
    all_calls: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latencies_ns: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds"),
            calls: 0,
            all_calls: 0,
        }
    }
}

impl Conn {
    fn open(addr: SocketAddr, exchange: &EchoExchange) -> Conn {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| fail(&format!("connect to {addr}: {e}")));
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        Conn {
            stream,
            request: exchange.request.clone(),
            reply: vec![0; 64 * 1024],
            filled: 0,
            seq: 0,
            sent: Instant::now(),
        }
    }

    /// Sends the next call. The socket's send buffer is empty (the last
    /// reply has arrived), so even a non-blocking write takes it all.
    fn send(&mut self, exchange: &EchoExchange) {
        self.seq = self.seq.wrapping_add(1);
        self.request[exchange.seq_at..exchange.seq_at + 4].copy_from_slice(&self.seq.to_be_bytes());
        self.filled = 0;
        self.sent = Instant::now();
        let mut at = 0;
        while at < self.request.len() {
            match self.stream.write(&self.request[at..]) {
                Ok(0) => fail("server closed the connection"),
                Ok(n) => at += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
                Err(e) => fail(&format!("write: {e}")),
            }
        }
    }

    /// Reads what has arrived; true once the whole reply is in, checked.
    fn receive(&mut self, exchange: &EchoExchange) -> bool {
        match self.stream.read(&mut self.reply[self.filled..]) {
            Ok(0) => fail("server closed the connection"),
            Ok(n) => self.filled += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => return false,
            Err(e) => fail(&format!("read: {e}")),
        }
        let want = exchange.reply.len();
        if self.filled >= 4 {
            let frame = 4 + u32::from_be_bytes(self.reply[..4].try_into().expect("4 bytes")) as usize;
            if frame != want {
                self.mismatch(exchange, frame.min(self.filled));
            }
        }
        if self.filled < want {
            return false;
        }
        if self.filled > want {
            fail("bytes after the reply: a second reply to one call");
        }
        let s = exchange.seq_at;
        let got = &self.reply[..want];
        if got[..s] != exchange.reply[..s]
            || got[s..s + 4] != self.seq.to_be_bytes()
            || got[s + 4..] != exchange.reply[s + 4..]
        {
            self.mismatch(exchange, want);
        }
        true
    }

    fn mismatch(&self, exchange: &EchoExchange, len: usize) -> ! {
        let mut expected = exchange.reply.clone();
        expected[exchange.seq_at..exchange.seq_at + 4].copy_from_slice(&self.seq.to_be_bytes());
        fail(&format!("unexpected reply\n  got      {:02x?}\n  expected {expected:02x?}", &self.reply[..len]))
    }

    /// Counts the call just completed if it completed inside the window.
    fn done(&self, now: Instant, window: Window, tally: &mut Tally) {
        tally.all_calls += 1;
        if now >= window.start && now < window.end {
            let ns = u64::try_from((now - self.sent).as_nanos()).unwrap_or(u64::MAX);
            tally.latencies_ns.saturating_record(ns.max(1));
            tally.calls += 1;
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("rpc-load: {message}");
    std::process::exit(1);
}

/// One thread, one connection, blocking calls.
fn blocking_loop(mut conn: Conn, exchange: &EchoExchange, window: Window) -> Tally {
    let mut tally = Tally::new();
    loop {
        conn.send(exchange);
        while !conn.receive(exchange) {}
        let now = Instant::now();
        conn.done(now, window, &mut tally);
        if now >= window.end {
            return tally;
        }
    }
}

/// One thread over every connection, level-triggered epoll.
fn epoll_loop(mut conns: Vec<Conn>, exchange: &EchoExchange, window: Window) -> Tally {
    let mut tally = Tally::new();
    // SAFETY: plain system calls on descriptors this function owns
    // (through `conns`, alive until it returns); `events` outlives each
    // `epoll_wait` that writes into it, and its length bounds `maxevents`.
    unsafe {
        let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        assert!(ep >= 0, "epoll_create1: {}", std::io::Error::last_os_error());
        for (i, c) in conns.iter().enumerate() {
            c.stream.set_nonblocking(true).expect("set O_NONBLOCK");
            let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: i as u64 };
            let r = libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, c.stream.as_raw_fd(), &mut ev);
            assert!(r == 0, "epoll_ctl: {}", std::io::Error::last_os_error());
        }
        for c in &mut conns {
            c.send(exchange);
        }
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; conns.len()];
        let mut active = conns.len();
        while active > 0 {
            let n = libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, 1000);
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                fail(&format!("epoll_wait: {e}"));
            }
            if n == 0 && Instant::now() > window.end + Duration::from_secs(5) {
                fail(&format!("{active} calls unanswered 5 s after the window"));
            }
            for ev in &events[..n as usize] {
                let c = &mut conns[ev.u64 as usize];
                if !c.receive(exchange) {
                    continue;
                }
                let now = Instant::now();
                c.done(now, window, &mut tally);
                if now >= window.end {
                    libc::epoll_ctl(ep, libc::EPOLL_CTL_DEL, c.stream.as_raw_fd(), std::ptr::null_mut());
                    active -= 1;
                } else {
                    c.send(exchange);
                }
            }
        }
        libc::close(ep);
    }
    tally
}

/// This process's user + system CPU time.
fn own_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Another process's user + system CPU time, all threads, from
/// /proc/PID/stat (clock-tick resolution: 10 ms in a 10 s window is 0.1%).
fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of proc(5), counted from the state (field 3).
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

fn main() {
    let opts = Options::from_args(USAGE);
    let addr = SocketAddr::from(([127, 0, 0, 1], opts.get("port", 9090u16)));
    let concurrency: usize = opts.get("concurrency", 1);
    let warmup = Duration::from_secs_f64(opts.get("warmup", 3.0));
    let duration = Duration::from_secs_f64(opts.get("duration", 10.0));
    let exchange = EchoExchange::new(opts.get("size", 64));
    let server_pid = Some(opts.get("server-pid", 0u32)).filter(|&p| p != 0);
    let mode = match opts.text("mode", "auto").as_str() {
        "auto" if concurrency == 1 => "blocking",
        "auto" => "epoll",
        "blocking" => "blocking",
        "epoll" => "epoll",
        m => fail(&format!("--mode: `{m}` is not auto, blocking or epoll")),
    };
    if concurrency == 0 {
        fail("--concurrency must be at least 1");
    }

    let conns: Vec<Conn> = (0..concurrency).map(|_| Conn::open(addr, &exchange)).collect();
    let t0 = Instant::now();
    let window = Window { start: t0 + warmup, end: t0 + warmup + duration };
    let workers: Vec<std::thread::JoinHandle<Tally>> = if mode == "blocking" {
        conns
            .into_iter()
            .map(|c| {
                let x = exchange.clone();
                std::thread::spawn(move || blocking_loop(c, &x, window))
            })
            .collect()
    } else {
        let x = exchange.clone();
        vec![std::thread::spawn(move || epoll_loop(conns, &x, window))]
    };

    sleep_until(window.start);
    let (wall0, cpu0, server0) = (Instant::now(), own_cpu(), server_pid.and_then(process_cpu));
    sleep_until(window.end);
    let (wall1, cpu1, server1) = (Instant::now(), own_cpu(), server_pid.and_then(process_cpu));

    let mut tally = Tally::new();
    for w in workers {
        let t = w.join().expect("a load thread panicked");
        tally.latencies_ns.add(&t.latencies_ns).expect("same histogram bounds");
        tally.calls += t.calls;
        tally.all_calls += t.all_calls;
    }
    if tally.calls == 0 {
        fail("no call completed in the measured window");
    }

    let wall = (wall1 - wall0).as_secs_f64();
    let us = |q: f64| tally.latencies_ns.value_at_quantile(q) as f64 / 1000.0;
    let per_call_us = |cpu: Duration| cpu.as_secs_f64() * 1e6 / tally.calls as f64;
    let gen_cpu = cpu1 - cpu0;
    let mut line = format!(
        "mode={mode} concurrency={concurrency} calls={} rps={:.0} p50_us={:.1} p90_us={:.1} p99_us={:.1} \
         p999_us={:.1} max_us={:.1} gen_cpu={:.3} gen_us_per_call={:.2} all_calls={}",
        tally.calls,
        tally.calls as f64 / duration.as_secs_f64(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        tally.latencies_ns.max() as f64 / 1000.0,
        gen_cpu.as_secs_f64() / wall,
        per_call_us(gen_cpu),
        tally.all_calls,
    );
    if let (Some(s0), Some(s1)) = (server0, server1) {
        let server_cpu = s1.saturating_sub(s0);
        line += &format!(
            " server_cpu={:.3} server_us_per_call={:.2}",
            server_cpu.as_secs_f64() / wall,
            per_call_us(server_cpu)
        );
    }
    println!("{line}");
}
