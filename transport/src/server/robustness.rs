//! The server under hostile and careless peers: malformed and oversized
//! frames, slow writers and readers, half-closed connections, floods and
//! empty probes. Each attack runs beside a healthy client, which must keep
//! getting well-formed replies.
//!
//! Time is tokio's paused clock: idle timeouts fire when every task waits,
//! so no test sleeps to synchronise or measures a duration.

use std::io::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::*;
use crate::client::Channel;
use crate::service::{decode_args, encode_message};
use crate::transport::Framing;

/// Long enough that only a hung server reaches it (paused clock).
const BOUND: Duration = Duration::from_secs(24 * 3600);
const IDLE: Duration = Duration::from_secs(60);

/// `echo` answers its argument; `hold` does too, once the test releases
/// it, and counts the `hold` calls running at once; `note` is a oneway
/// `hold`.
#[derive(Clone)]
struct Probe {
    entered: mpsc::UnboundedSender<()>,
    release: Arc<Semaphore>,
    running: Arc<AtomicUsize>,
    most_running: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
}

impl Dispatch for Probe {
    fn method_kind(&self, method: &str) -> Option<MethodKind> {
        match method {
            "echo" | "hold" => Some(MethodKind::Call),
            "note" => Some(MethodKind::Oneway),
            _ => None,
        }
    }

    async fn dispatch<P: Protocol>(&self, cx: &CallContext, frame: Bytes, args_at: usize) -> Option<Bytes> {
        let args: ApplicationException = decode_args::<P, _>(&frame, args_at).ok()?;
        if matches!(cx.method(), "hold" | "note") {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_running.fetch_max(now, Ordering::SeqCst);
            let _ = self.entered.send(());
            self.release.acquire().await.expect("never closed").forget();
            self.running.fetch_sub(1, Ordering::SeqCst);
        }
        self.served.fetch_add(1, Ordering::SeqCst);
        if cx.method() == "note" {
            return None;
        }
        Some(encode_message::<P, _>(cx.method(), MessageType::Reply, cx.seq(), &args))
    }
}

struct Running {
    addr: SocketAddr,
    probe: Probe,
    entered: mpsc::UnboundedReceiver<()>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(builder: ServerBuilder) -> Running {
        let (entered_tx, entered) = mpsc::unbounded_channel();
        let probe = Probe {
            entered: entered_tx,
            release: Arc::new(Semaphore::new(0)),
            running: Arc::default(),
            most_running: Arc::default(),
            served: Arc::default(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = builder.build();
        let dispatch = probe.clone();
        let server = tokio::spawn(async move {
            server
                .serve(listener, dispatch, async {
                    let _ = stopped.await;
                })
                .await
        });
        Running { addr, probe, entered, stop: Some(stop), server }
    }

    /// A healthy client's call gets its well-formed reply.
    async fn assert_serves(&self) {
        let channel = Channel::new(self.addr.to_string());
        let reply = tokio::time::timeout(BOUND, channel.call("echo", &body("healthy")))
            .await
            .expect("the server hangs")
            .expect("a healthy call gets a reply");
        let echoed: ApplicationException = reply.result::<_, ()>().expect("a well-formed reply");
        assert_eq!(echoed, body("healthy"));
    }

    /// Graceful shutdown completes: no connection is left hanging.
    async fn shut_down(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(BOUND, self.server).await.expect("shutdown hangs").unwrap().unwrap();
    }
}

fn body(text: &str) -> ApplicationException {
    ApplicationException::new(ApplicationExceptionKind::UNKNOWN, text)
}

fn call(method: &str, seq: i32, text: &str) -> Bytes {
    encode_message::<Binary, _>(method, MessageType::Call, seq, &body(text))
}

fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = (message.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

/// Closing then proves the server decided to, not that it timed out.
fn no_idle_timeout() -> ServerBuilder {
    Server::builder().idle_timeout(None)
}

fn defaults() -> ServerBuilder {
    Server::builder().idle_timeout(Some(IDLE))
}

/// Reads until the server closes; returns what it sent. A reset (the
/// server closed with our bytes unread) counts as closed.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        loop {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) => return,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => return,
                Err(e) => panic!("reading: {e}"),
            }
        }
    });
    read.await.expect("the server never closed the connection");
    got
}

/// Cuts framed binary replies into (method, kind, seq).
fn replies(mut bytes: &[u8]) -> Vec<(String, MessageType, i32)> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        let message = Bytes::copy_from_slice(&bytes[4..4 + len]);
        let h = Reader::<Binary>::new(&message).message_begin().expect("a well-formed reply");
        out.push((h.name, h.kind, h.seq));
        bytes = &bytes[4 + len..];
    }
    assert!(bytes.is_empty(), "a partial reply: {bytes:?}");
    out
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

/// Events at WARN and above, as "message error" lines, recorded on this
/// thread (the tests run on a current-thread runtime).
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    fn capture() -> (Warnings, tracing::subscriber::DefaultGuard) {
        let w = Warnings::default();
        let guard = tracing::subscriber::set_default(w.clone());
        (w, guard)
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Line(String);

impl tracing::field::Visit for Line {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() <= tracing::Level::WARN {
            let mut line = Line(String::new());
            event.record(&mut line);
            self.0.lock().unwrap().push(line.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(start_paused = true)]
async fn garbage_and_unknown_protocols_are_closed_without_a_reply() {
    let server = Running::start(no_idle_timeout()).await;
    let attacks: [&[u8]; 4] = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS hello
        b"SSH-2.0-OpenSSH_9.6\r\n",
        &[0x00, 0x00, 0x00, 0x10, 0x80, 0x02, 0, 1, 0, 0, 0, 4, b'e', b'c', b'h', b'o'], // binary version 2
        &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],                               // an empty frame
    ];
    for attack in attacks {
        let mut stream = connect(server.addr).await;
        stream.write_all(attack).await.unwrap();
        assert_eq!(until_closed(&mut stream).await, b"", "{attack:?}");
        server.assert_serves().await;
    }
    assert_eq!(server.probe.served.load(Ordering::SeqCst), attacks.len(), "only the healthy calls ran");
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn a_bad_message_after_good_ones_closes_after_their_replies() {
    let server = Running::start(no_idle_timeout()).await;
    let mut bad_version = call("echo", 3, "x").to_vec();
    bad_version[1] = 0x07;
    for bad in [bad_version, b"\x80\x01\x00\x01\xff\xff\xff\xff".to_vec(), Vec::new()] {
        let mut stream = connect(server.addr).await;
        let mut sent = framed(&call("echo", 1, "a"));
        sent.extend(framed(&call("echo", 2, "b")));
        sent.extend(framed(&bad));
        stream.write_all(&sent).await.unwrap();
        let got = replies(&until_closed(&mut stream).await);
        assert_eq!(got, [("echo".into(), MessageType::Reply, 1), ("echo".into(), MessageType::Reply, 2)], "{bad:?}");
    }
    server.assert_serves().await;
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn truncated_messages_then_close_are_dropped() {
    let server = Running::start(no_idle_timeout()).await;
    let whole = call("echo", 1, "truncated");
    let framed_cut = framed(&whole)[..10].to_vec();
    let buffered_cut = whole[..whole.len() - 1].to_vec();
    let mut announced_longer = (whole.len() as u32 + 100).to_be_bytes().to_vec();
    announced_longer.extend_from_slice(&whole);
    for cut in [framed_cut, buffered_cut, announced_longer] {
        let mut stream = connect(server.addr).await;
        stream.write_all(&cut).await.unwrap();
        stream.shutdown().await.unwrap();
        assert_eq!(until_closed(&mut stream).await, b"", "{cut:?}");
    }
    server.assert_serves().await;
    assert_eq!(server.probe.served.load(Ordering::SeqCst), 1, "no truncated call ran");
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn oversized_and_negative_frame_lengths_close_with_a_logged_error() {
    let (warnings, _guard) = Warnings::capture();
    let server = Running::start(defaults().max_frame(1024)).await;
    for announced in [1025u32, 16_384_000, 0x8000_0000, u32::MAX] {
        // As the first frame, seen when recognising the transport ...
        let mut stream = connect(server.addr).await;
        let mut first = announced.to_be_bytes().to_vec();
        first.extend_from_slice(&call("echo", 1, "x")[..]);
        stream.write_all(&first).await.unwrap();
        assert_eq!(until_closed(&mut stream).await, b"", "first frame of {announced}");
        let logged = warnings.take();
        assert!(
            logged.len() == 1 && logged[0].contains("exceeds the size limit") && logged[0].contains("size="),
            "first frame of {announced}: {logged:?}"
        );
        // ... and after a good call, which is answered first.
        let mut stream = connect(server.addr).await;
        let mut sent = framed(&call("echo", 1, "a"));
        sent.extend_from_slice(&announced.to_be_bytes());
        sent.extend_from_slice(&call("echo", 2, "x")[..]);
        stream.write_all(&sent).await.unwrap();
        let got = replies(&until_closed(&mut stream).await);
        assert_eq!(got, [("echo".into(), MessageType::Reply, 1)], "frame of {announced}");
        let logged = warnings.take();
        assert!(
            logged.len() == 1 && logged[0].contains(&format!("message of {announced} bytes exceeds the limit of 1024")),
            "frame of {announced}: {logged:?}"
        );
    }
    // An unframed message over the limit too.
    let mut stream = connect(server.addr).await;
    stream.write_all(&call("echo", 1, &"x".repeat(2000))).await.unwrap();
    assert_eq!(until_closed(&mut stream).await, b"");
    assert!(warnings.take().iter().any(|w| w.contains("exceeds the limit of 1024")));
    server.assert_serves().await;
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn slow_writers_are_closed_by_the_idle_timeout_while_others_are_served() {
    let server = Running::start(defaults()).await;
    let message = framed(&call("echo", 1, "slow"));
    // Stalls before the transport can be recognised.
    let mut one_byte = connect(server.addr).await;
    one_byte.write_all(&message[..1]).await.unwrap();
    // Stalls mid-frame.
    let mut half = connect(server.addr).await;
    half.write_all(&message[..message.len() / 2]).await.unwrap();
    // Connects and sends nothing.
    let mut silent = connect(server.addr).await;
    // Sends the frame's start, then a byte every IDLE / 4: never silent
    // for long, never done.
    let (mut slow_read, mut slow_write) = connect(server.addr).await.into_split();
    slow_write.write_all(&message[..6]).await.unwrap();
    let trickle = tokio::spawn(async move {
        let mut sent = 6;
        for byte in &message[6..] {
            if slow_write.write_all(std::slice::from_ref(byte)).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(IDLE / 4).await;
        }
        (sent, message.len())
    });
    server.assert_serves().await;
    assert_eq!(until_closed(&mut one_byte).await, b"");
    assert_eq!(until_closed(&mut half).await, b"");
    assert_eq!(until_closed(&mut silent).await, b"");
    let mut rest = Vec::new();
    tokio::time::timeout(BOUND, slow_read.read_to_end(&mut rest)).await.expect("the trickle stays open").ok();
    assert_eq!(rest, b"", "the trickled call got no reply");
    let (sent, whole) = trickle.await.unwrap();
    assert!(sent < whole, "closed before the frame was complete ({sent} of {whole} bytes)");
    server.assert_serves().await;
    assert_eq!(server.probe.served.load(Ordering::SeqCst), 2, "only the healthy calls ran");
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_its_replies_is_closed() {
    let server = Running::start(defaults()).await;
    // A small receive buffer, so that the replies cannot all fit.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.addr).await.unwrap();
    // Pipelined calls with large replies, never read: the socket buffers
    // fill and the server's write stalls.
    let big = "x".repeat(1 << 20);
    let calls = 32;
    let (mut read, mut write) = stream.split();
    let sent = async {
        for seq in 1..=calls {
            if write.write_all(&framed(&call("echo", seq, &big))).await.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(BOUND, sent).await.expect("the server stopped reading calls");
    server.assert_serves().await;
    // Reading now yields the replies that fitted, then the close.
    let mut got = Vec::new();
    tokio::time::timeout(BOUND, read.read_to_end(&mut got)).await.expect("the server kept the connection").ok();
    assert!(got.len() < calls as usize * big.len(), "some replies were never sent");
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn a_half_closed_connection_gets_all_its_replies_then_closes() {
    let server = Running::start(defaults()).await;
    for framing in [Framing::Framed, Framing::Buffered] {
        let mut stream = connect(server.addr).await;
        let mut sent = Vec::new();
        for seq in 1..=3 {
            let message = call("echo", seq, "half");
            match framing {
                Framing::Buffered => sent.extend_from_slice(&message),
                _ => sent.extend(framed(&message)),
            }
        }
        stream.write_all(&sent).await.unwrap();
        stream.shutdown().await.unwrap();
        let got = until_closed(&mut stream).await;
        let got = match framing {
            // Buffered replies: as many back-to-back copies of a reply.
            Framing::Buffered => {
                let one = encode_message::<Binary, _>("echo", MessageType::Reply, 1, &body("half"));
                assert_eq!(got.len(), 3 * one.len(), "three replies");
                (1..=3).map(|seq| ("echo".to_string(), MessageType::Reply, seq)).collect::<Vec<_>>()
            }
            _ => replies(&got),
        };
        let want: Vec<_> = (1..=3).map(|seq| ("echo".to_string(), MessageType::Reply, seq)).collect();
        assert_eq!(got, want, "{framing:?}");
    }
    assert_eq!(server.probe.served.load(Ordering::SeqCst), 6);
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn a_flood_beyond_max_connections_is_refused_and_service_resumes() {
    let (warnings, _guard) = Warnings::capture();
    let mut server = Running::start(defaults().max_connections(2)).await;
    // Two connections each hold a call in the handler: the limit is used up.
    let mut holders = Vec::new();
    for seq in 1..=2 {
        let mut stream = connect(server.addr).await;
        stream.write_all(&framed(&call("hold", seq, "held"))).await.unwrap();
        tokio::time::timeout(BOUND, server.entered.recv()).await.expect("the call reaches the handler");
        holders.push((seq, stream));
    }
    // A flood: every further connection is closed unserved.
    for _ in 0..50 {
        let mut stream = connect(server.addr).await;
        // The server may have closed already: then writing fails.
        let _ = stream.write_all(&framed(&call("echo", 9, "flood"))).await;
        assert_eq!(until_closed(&mut stream).await, b"", "refused");
    }
    let refusals = warnings.take();
    assert_eq!(refusals.len(), 50, "one warning per refused connection: {refusals:?}");
    assert!(refusals.iter().all(|w| w.contains("connection limit reached")), "{refusals:?}");
    assert_eq!(server.probe.served.load(Ordering::SeqCst), 0, "no flooding call ran");
    // The held calls complete, their replies arrive, and they close.
    server.probe.release.add_permits(2);
    for (seq, mut stream) in holders {
        stream.shutdown().await.unwrap();
        assert_eq!(replies(&until_closed(&mut stream).await), [("hold".into(), MessageType::Reply, seq)]);
    }
    assert_eq!(server.probe.most_running.load(Ordering::SeqCst), 2, "never more calls than connections");
    // Once their tasks end, the slots are free again. A refused attempt
    // only means a task has not ended yet; each pass lets it run.
    let mut served = false;
    for _ in 0..100 {
        let channel = Channel::new(server.addr.to_string());
        if channel.call("echo", &body("after")).await.is_ok() {
            served = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(served, "the server serves again once connections close");
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn empty_probe_connections_are_normal() {
    let (warnings, _guard) = Warnings::capture();
    let server = Running::start(defaults()).await;
    for _ in 0..20 {
        drop(connect(server.addr).await);
    }
    // A probe that half-closes and waits for the server to close too.
    let mut probe = connect(server.addr).await;
    probe.shutdown().await.unwrap();
    assert_eq!(until_closed(&mut probe).await, b"");
    server.assert_serves().await;
    // Shutdown waits for every connection task: all probes were handled.
    server.shut_down().await;
    assert_eq!(warnings.take(), Vec::<String>::new(), "probes are not errors");
}

#[tokio::test(start_paused = true)]
async fn shutdown_does_not_wait_for_connections_that_never_spoke() {
    let server = Running::start(Server::builder().idle_timeout(None)).await;
    let _silent = connect(server.addr).await;
    let mut partial = connect(server.addr).await;
    partial.write_all(&[0x00]).await.unwrap();
    server.assert_serves().await;
    server.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn oneway_calls_count_toward_max_in_flight() {
    let mut server = Running::start(defaults().max_in_flight(4)).await;
    let mut stream = connect(server.addr).await;
    let mut sent = Vec::new();
    for seq in 1..=10 {
        sent.extend(framed(&encode_message::<Binary, _>("note", MessageType::Oneway, seq, &body("note"))));
    }
    stream.write_all(&sent).await.unwrap();
    for _ in 0..4 {
        tokio::time::timeout(BOUND, server.entered.recv()).await.expect("a oneway call starts");
    }
    // Every task now waits (the paused clock advances only then), and no
    // fifth call has started: the connection stopped reading.
    let fifth = tokio::time::timeout(BOUND, server.entered.recv()).await;
    assert!(fifth.is_err(), "a fifth oneway call started while four ran");
    assert_eq!(server.probe.most_running.load(Ordering::SeqCst), 4);
    // As calls finish, the rest are read and run, never more than four.
    server.probe.release.add_permits(10);
    for _ in 4..10 {
        tokio::time::timeout(BOUND, server.entered.recv()).await.expect("the other calls run");
    }
    drop(stream);
    let probe = server.probe.clone();
    server.shut_down().await;
    assert_eq!(probe.served.load(Ordering::SeqCst), 10, "shutdown lets the oneway calls read finish");
    assert_eq!(probe.most_running.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn pipelined_calls_run_at_once_and_their_replies_leave_in_request_order() {
    let mut server = Running::start(defaults().max_in_flight(3)).await;
    let mut stream = connect(server.addr).await;
    let methods = ["hold", "echo", "hold", "echo", "hold", "echo"];
    let mut sent = Vec::new();
    for (seq, method) in (1..).zip(methods) {
        sent.extend(framed(&call(method, seq, method)));
    }
    stream.write_all(&sent).await.unwrap();
    // Calls 1 to 3 run at once (call 2 done behind the held call 1), and
    // the cap of three keeps the rest unread.
    for _ in 0..2 {
        tokio::time::timeout(BOUND, server.entered.recv()).await.expect("a hold call starts");
    }
    let third = tokio::time::timeout(BOUND, server.entered.recv()).await;
    assert!(third.is_err(), "a third hold call started beyond max_in_flight");
    assert_eq!(server.probe.served.load(Ordering::SeqCst), 1, "call 2 ran behind call 1");
    let mut early = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut early)).await;
    assert!(read.is_err(), "no reply may overtake the held first call");
    server.probe.release.add_permits(3);
    stream.shutdown().await.unwrap();
    let got = replies(&until_closed(&mut stream).await);
    let want: Vec<_> = (1..).zip(methods).map(|(seq, m)| (m.to_string(), MessageType::Reply, seq)).collect();
    assert_eq!(got, want);
    assert_eq!(server.probe.most_running.load(Ordering::SeqCst), 2);
    server.shut_down().await;
}
