//! Serves one service of the chain (`idl/chain.thrift`) exactly once on its
//! own sled store, for the multi-process kill -9 tests:
//!
//! `chain-server --service front|relay|tally --store DIR [--port N]
//! [--peer Relay=HOST:PORT] [--peer Tally=HOST:PORT]`
//!
//! Front needs both peers, Relay needs Tally. Peers are reached over framed
//! binary channels with a bounded timeout and retries (a retry resends the
//! same child id, which the callee deduplicates). A collector re-drives the
//! service's unfinished calls and a garbage collector runs, both every
//! [`MAINTENANCE_EVERY`], with re-drive delay and lease short enough that a
//! restarted process finishes its calls within seconds. Prints
//! `listening ADDR` once it listens, then serves until SIGTERM or Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use example_exactly_once::chain::{Front, Relay, Tally};
use mu2sls::{
    Channel, Collector, Dispatch, DispatchRedriver, Engine, EngineConfig, Peer, SledOptions, SledStore, SystemClock,
};

const USAGE: &str = "usage: chain-server --service front|relay|tally --store DIR [--port N] [--peer Relay=HOST:PORT] [--peer Tally=HOST:PORT]";

/// How often the collector and the garbage collector run.
const MAINTENANCE_EVERY: Duration = Duration::from_millis(200);

/// T and the lease: short, so calls cut off by a kill are re-driven (and
/// leases taken over) soon after the restart.
const REDRIVE_AFTER: Duration = Duration::from_secs(1);

/// How long a call to a peer waits for its reply, and how often it is
/// resent (same id) before the handler's call fails and is retried whole.
const PEER_TIMEOUT: Duration = Duration::from_secs(2);
const PEER_RETRIES: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Front,
    Relay,
    Tally,
}

impl Service {
    fn parse(name: &str) -> Option<Service> {
        match name {
            "front" => Some(Service::Front),
            "relay" => Some(Service::Relay),
            "tally" => Some(Service::Tally),
            _ => None,
        }
    }

    /// The peers this service calls, by IDL name.
    fn needs(self) -> &'static [&'static str] {
        match self {
            Service::Front => &["Relay", "Tally"],
            Service::Relay => &["Tally"],
            Service::Tally => &[],
        }
    }
}

struct Args {
    service: Service,
    store: String,
    port: u16,
    peers: Vec<(String, String)>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut service, mut store, mut port, mut peers) = (None, None, 0u16, Vec::new());
    while let Some(arg) = args.next() {
        let Some(value) = args.next() else { return Err(format!("{arg} needs a value")) };
        match arg.as_str() {
            "--service" => service = Some(Service::parse(&value).ok_or(format!("unknown service {value}"))?),
            "--store" => store = Some(value),
            "--port" => port = value.parse().map_err(|_| format!("bad port {value}"))?,
            "--peer" => {
                let Some((name, addr)) = value.split_once('=') else { return Err(format!("bad peer {value}")) };
                peers.push((name.to_owned(), addr.to_owned()));
            }
            other => return Err(format!("bad argument {other}")),
        }
    }
    let service = service.ok_or("--service is required")?;
    let store = store.ok_or("--store is required")?;
    for (name, _) in &peers {
        if !service.needs().contains(&name.as_str()) {
            return Err(format!("{service:?} does not call {name}"));
        }
    }
    if let Some(missing) = service.needs().iter().find(|n| !peers.iter().any(|(name, _)| name == *n)) {
        return Err(format!("{service:?} needs --peer {missing}=HOST:PORT"));
    }
    Ok(Args { service, store, port, peers })
}

#[allow(clippy::print_stdout, clippy::print_stderr)] // a server binary reports on its standard streams
#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("{USAGE} ({problem})");
            return ExitCode::from(2);
        }
    };
    let store = match SledStore::open(&args.store, SledOptions::default()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot open the store in {}: {e}", args.store);
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on port {}: {e}", args.port);
            return ExitCode::FAILURE;
        }
    };
    let Ok(addr) = listener.local_addr() else { return ExitCode::FAILURE };
    let config = EngineConfig::default().redrive_after(REDRIVE_AFTER).lease(REDRIVE_AFTER);
    let engine = |name: &str| {
        let engine = Engine::new(name, store.clone(), SystemClock, config.clone());
        for (peer, peer_addr) in &args.peers {
            let channel = Channel::builder(peer_addr.clone()).timeout(PEER_TIMEOUT).retries(PEER_RETRIES).build();
            engine.add_peer(peer.clone(), Peer::remote(channel));
        }
        engine
    };
    println!("listening {addr}");
    let served = match args.service {
        Service::Front => {
            let engine = engine("Front");
            serve(example_exactly_once::chain::FrontDurableServer::new(Front, engine.clone()), engine, listener).await
        }
        Service::Relay => {
            let engine = engine("Relay");
            serve(example_exactly_once::chain::RelayDurableServer::new(Relay, engine.clone()), engine, listener).await
        }
        Service::Tally => {
            let engine = engine("Tally");
            serve(example_exactly_once::chain::TallyDurableServer::new(Tally, engine.clone()), engine, listener).await
        }
    };
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

/// Serves `server` on `listener` until SIGTERM or Ctrl-C, with its
/// collector and garbage collector running beside it.
async fn serve<D: Dispatch + Clone + 'static>(
    server: D,
    engine: Engine<SledStore, SystemClock>,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    let maintenance = tokio::spawn(maintain(engine, Arc::new(server.clone())));
    let served = mu2sls::Server::builder().build().serve(listener, server, terminated()).await;
    maintenance.abort();
    served
}

/// Completes on SIGTERM or Ctrl-C.
async fn terminated() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs the service's collector and GC forever.
async fn maintain<D: Dispatch + 'static>(engine: Engine<SledStore, SystemClock>, server: Arc<D>) {
    let collector = Collector::new(engine.clone(), DispatchRedriver::new(server));
    let mut tick = tokio::time::interval(MAINTENANCE_EVERY);
    loop {
        tick.tick().await;
        let now = engine.now_ms();
        match collector.run_once(now).await {
            Ok(report) if report.redriven > 0 => {
                tracing::info!(service = engine.service(), redriven = report.redriven, "collector re-drove calls");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(service = engine.service(), %error, "collector pass failed"),
        }
        if let Err(error) = engine.collect_garbage(now).await {
            tracing::warn!(service = engine.service(), %error, "garbage collection failed");
        }
    }
}
