//! Serves `Counter` and `Bank` exactly once, for the kill -9 and chaos
//! tests: `bank-server --store STORE [--schema NAME] [--counter-port N]
//! [--bank-port N] [--steps]`.
//!
//! `STORE` is a sled directory, or with the `postgres` feature (on by
//! default in this crate) a PostgreSQL connection string
//! (`postgres://user@host:port/db`, or `postgresql://`), whose tables live
//! in schema `--schema` (default `mu2sls`); several servers may share one.
//! Without `--store`, the variable `MU2SLS_STORE` names it. Ports default
//! to 0, any free port; `--steps` turns the leaf fast path off, so every
//! step is logged as it happens. Prints `counter ADDR` and `bank ADDR` once
//! both listen, then serves until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use mu2sls::{EngineConfig, SledOptions, SledStore, Store};

const USAGE: &str =
    "usage: bank-server --store DIR|postgres://... [--schema NAME] [--counter-port N] [--bank-port N] [--steps]";

struct Args {
    store: String,
    schema: Option<String>,
    counter_port: u16,
    bank_port: u16,
    leaf: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut store, mut schema, mut counter_port, mut bank_port, mut leaf) = (None, None, 0u16, 0u16, true);
    while let Some(arg) = args.next() {
        if arg == "--steps" {
            leaf = false;
            continue;
        }
        let value = args.next();
        match (arg.as_str(), value) {
            ("--store", Some(v)) => store = Some(v),
            ("--schema", Some(v)) => schema = Some(v),
            ("--counter-port", Some(v)) => counter_port = v.parse().map_err(|_| format!("bad port {v:?}"))?,
            ("--bank-port", Some(v)) => bank_port = v.parse().map_err(|_| format!("bad port {v:?}"))?,
            (other, _) => return Err(format!("bad argument {other}")),
        }
    }
    let store = store.or_else(|| std::env::var("MU2SLS_STORE").ok()).ok_or("no --store and no MU2SLS_STORE")?;
    Ok(Args { store, schema, counter_port, bank_port, leaf })
}

fn is_postgres(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

#[allow(clippy::print_stdout, clippy::print_stderr)] // a server binary reports on its standard streams
#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("{USAGE} ({problem})");
            return ExitCode::from(2);
        }
    };
    if is_postgres(&args.store) {
        #[cfg(feature = "postgres")]
        {
            let mut options = mu2sls::PostgresOptions::new();
            if let Some(schema) = &args.schema {
                options = options.schema(schema.clone());
            }
            return match mu2sls::PostgresStore::connect_with(&args.store, options).await {
                Ok(store) => {
                    let served = run(store.clone(), &args).await;
                    store.close();
                    served
                }
                Err(e) => {
                    eprintln!("cannot open the store at {}: {e}", args.store);
                    ExitCode::FAILURE
                }
            };
        }
        #[cfg(not(feature = "postgres"))]
        {
            eprintln!("{} names PostgreSQL, but bank-server was built without the postgres feature", args.store);
            return ExitCode::from(2);
        }
    }
    if let Some(schema) = &args.schema {
        eprintln!("{USAGE} (--schema {schema} applies to PostgreSQL stores only)");
        return ExitCode::from(2);
    }
    let store = match SledStore::open(&args.store, SledOptions::default()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot open the store in {}: {e}", args.store);
            return ExitCode::FAILURE;
        }
    };
    let served = run(store.clone(), &args).await;
    match store.close().await {
        Ok(()) => served,
        Err(e) => {
            eprintln!("store failed to close: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Listens, reports the addresses, and serves until Ctrl-C or SIGTERM.
#[allow(clippy::print_stdout, clippy::print_stderr)] // a server binary reports on its standard streams
async fn run<S: Store + Clone + 'static>(store: S, args: &Args) -> ExitCode {
    let bind = |port: u16| tokio::net::TcpListener::bind(("127.0.0.1", port));
    let (counter, bank) = match (bind(args.counter_port).await, bind(args.bank_port).await) {
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
    let config = EngineConfig::default().leaf_fast_path(args.leaf);
    match example_exactly_once::serve(store, config, counter, bank, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server failed: {e}");
            ExitCode::FAILURE
        }
    }
}
