//! What the kill -9 tests share: free ports, and server processes started
//! on them, waited for (by the lines they print once they listen), killed
//! with SIGKILL or stopped with SIGTERM, and killed when dropped.

// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to listen, or to stop after SIGTERM.
const PATIENCE: Duration = Duration::from_secs(20);

/// A free port on 127.0.0.1 (bound, read, released).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// A server process; killed with SIGKILL when dropped.
pub(crate) struct Process {
    child: Child,
}

impl Process {
    /// Starts `program` with `args` and waits until it has printed one
    /// line starting with each of `ready` in turn (what it prints once it
    /// listens).
    pub(crate) fn start(program: &str, args: &[std::ffi::OsString], ready: &[&str]) -> Process {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let process = Process { child };
        // Read on a thread, so a server that never gets ready fails the
        // test after a deadline instead of hanging it; the thread drains
        // the pipe until the server exits.
        let (lines_tx, lines_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                let Ok(line) = line else { return };
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let deadline = Instant::now() + PATIENCE;
        for expected in ready {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines_rx.recv_timeout(left).unwrap_or_else(|e| panic!("{program} did not get ready: {e}"));
            assert!(line.starts_with(expected), "{program}: unexpected line {line:?}");
        }
        process
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// kill -9, and reap.
    pub(crate) fn kill9(mut self) {
        // Child::kill sends SIGKILL on Unix.
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }

    /// SIGTERM, and wait (bounded) for the exit.
    pub(crate) fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill -TERM");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + PATIENCE;
        loop {
            // Polling an external process with a deadline: it has no other
            // way to tell us it is gone.
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "pid {pid} did not stop within {PATIENCE:?} of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Already reaped after kill9 or terminate: both calls then fail harmlessly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
