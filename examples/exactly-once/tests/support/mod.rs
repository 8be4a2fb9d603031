//! What the process-level tests share: starting `bank-server` as a child
//! process, waiting until it listens, and killing it with SIGKILL.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `bank-server` process.
pub(crate) struct Running {
    child: Child,
}

/// A free port on 127.0.0.1 (bound, read, released).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// Starts `bank-server --store STORE ARGS...` on the given ports and
/// returns once it listens on both.
pub(crate) fn start(store: impl AsRef<OsStr>, args: &[&str], counter: u16, bank: u16, steps: bool) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bank-server"))
        .arg("--store")
        .arg(store)
        .args(args)
        .args(steps.then_some("--steps"))
        .args(["--counter-port", &counter.to_string(), "--bank-port", &bank.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start bank-server");
    // The server prints both addresses once it listens.
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for name in ["counter", "bank"] {
        let line = lines.next().expect("bank-server exited before listening").expect("read stdout");
        assert!(line.starts_with(name), "unexpected line {line:?}");
    }
    Running { child }
}

impl Running {
    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap.
    pub(crate) fn kill9(mut self) {
        // Child::kill sends SIGKILL on Unix.
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

/// The bank accounts the transfer tests use.
pub(crate) const ACCOUNTS: [&str; 4] = ["a", "b", "c", "d"];
/// What each account is funded with before the transfers.
pub(crate) const FUNDING: i64 = 1_000_000;

/// The `i`th transfer: a fixed pseudo-random pair and amount, so the
/// expected balances are known whatever order the transfers run in.
pub(crate) fn transfer(i: usize) -> (&'static str, &'static str, i64) {
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    let from = (x % 4) as usize;
    let to = (from + 1 + ((x >> 8) % 3) as usize) % 4;
    (ACCOUNTS[from], ACCOUNTS[to], 1 + ((x >> 16) % 97) as i64)
}
