//! What the bank's process-level tests share: starting `bank-server` as a
//! child process (through `common`, which waits until it listens and kills
//! it with SIGKILL), and the transfers they make.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};

pub(crate) use crate::common::{Process as Running, free_port};

/// Starts `bank-server --store STORE ARGS...` on the given ports and
/// returns once it listens on both.
pub(crate) fn start(store: impl AsRef<OsStr>, args: &[&str], counter: u16, bank: u16, steps: bool) -> Running {
    let mut all: Vec<OsString> = vec!["--store".into(), store.as_ref().to_owned()];
    all.extend(args.iter().map(OsString::from));
    all.extend(steps.then(|| "--steps".into()));
    all.extend(["--counter-port".into(), counter.to_string().into(), "--bank-port".into(), bank.to_string().into()]);
    // The server prints both addresses once it listens.
    Running::start(env!("CARGO_BIN_EXE_bank-server"), &all, &["counter", "bank"])
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
