//! Serves `Counter` and `Bank` exactly once over a sled store, for the
//! kill -9 tests: `bank-server --store DIR [--counter-port N] [--bank-port N]
//! [--steps]` (ports default to 0, any free port; `--steps` turns the leaf
//! fast path off, so every step is logged as it happens). Prints `counter ADDR` and
//! `bank ADDR` once both listen, then serves until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use mu2sls::{EngineConfig, SledOptions, SledStore};

#[allow(clippy::print_stdout, clippy::print_stderr)] // a server binary reports on its standard streams
#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut store, mut counter_port, mut bank_port, mut leaf) = (None, 0u16, 0u16, true);
    while let Some(arg) = args.next() {
        if arg == "--steps" {
            leaf = false;
            continue;
        }
        let value = args.next();
        match (arg.as_str(), value) {
            ("--store", Some(v)) => store = Some(v),
            ("--counter-port", Some(v)) => counter_port = v.parse().unwrap_or(0),
            ("--bank-port", Some(v)) => bank_port = v.parse().unwrap_or(0),
            (other, _) => {
                eprintln!("usage: bank-server --store DIR [--counter-port N] [--bank-port N] (bad argument {other})");
                return ExitCode::from(2);
            }
        }
    }
    let Some(dir) = store else {
        eprintln!("usage: bank-server --store DIR [--counter-port N] [--bank-port N]");
        return ExitCode::from(2);
    };
    let store = match SledStore::open(&dir, SledOptions::default()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot open the store in {dir}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bind = |port: u16| tokio::net::TcpListener::bind(("127.0.0.1", port));
    let (counter, bank) = match (bind(counter_port).await, bind(bank_port).await) {
        (Ok(c), Ok(b)) => (c, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (Ok(counter_addr), Ok(bank_addr)) = (counter.local_addr(), bank.local_addr()) else {
        return ExitCode::FAILURE;
    };
    println!("counter {counter_addr}");
    println!("bank {bank_addr}");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let served = example_exactly_once::serve(
        store.clone(),
        EngineConfig::default().leaf_fast_path(leaf),
        counter,
        bank,
        shutdown,
    )
    .await;
    let closed = store.close().await;
    match (served, closed) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(e), _) => {
            eprintln!("server failed: {e}");
            ExitCode::FAILURE
        }
        (_, Err(e)) => {
            eprintln!("store failed to close: {e}");
            ExitCode::FAILURE
        }
    }
}
