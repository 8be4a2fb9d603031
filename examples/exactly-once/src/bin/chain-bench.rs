//! What exactly-once costs across services: the 2-hop call Relay.forward →
//! Tally.add (`idl/chain.thrift`; the front counts the call, the counter
//! adds), over loopback RPC, served exactly once (durable servers, every
//! client call with its own idempotency key, both services on one store)
//! and plain (the same logic straight on the store, no log, no call
//! records), on the memory store, on sled (durable: every acknowledged
//! call is on disk) and, with `MU2SLS_BENCH_POSTGRES=postgres://...` set,
//! on PostgreSQL (a fresh schema per cell), at concurrency 1 and 64, in one
//! run.
//!
//! `cargo run --release -p example-exactly-once --bin chain-bench -- [SECONDS [ROUNDS [FILTER]]]`
//! (default 5 s per cell after 1 s of warm-up, 3 rounds with the cells
//! interleaved, medians reported; FILTER keeps the rows whose
//! `store/mode/c` contains it). Prints a Markdown table.

use std::time::Duration;

use example_exactly_once::chain::{Relay, RelayClient, Tally, TallyClient, forwarded_key};
use example_exactly_once::generated::chain::{
    Relay as PlainRelay, RelayDurableServer, RelayForwardException, RelayServer, Tally as PlainTally,
    TallyDurableServer, TallyServer,
};
use example_exactly_once::loadgen::{Cell, drive, median, postgres_url, tempdir};
use mu2sls::{
    Batch, CallContext, CallError, Channel, Engine, EngineConfig, Key, MemoryStore, NoException, Outcome, Peer,
    ServiceError, SledOptions, SledStore, Store, SystemClock,
};

fn internal<E>(e: impl std::fmt::Display) -> ServiceError<E> {
    ServiceError::internal(e.to_string())
}

/// Adds `by` to `key` of `service` straight on the store: the handlers'
/// update without a log.
async fn add<S: Store, E>(store: &S, service: &str, key: &str, by: i64) -> Result<i64, ServiceError<E>> {
    let key = Key::from(("state", service, key));
    loop {
        let current = store.get(&key).await.map_err(internal)?;
        let old: i64 = match &current {
            Some(v) => mu2sls::codec::decode::<mu2sls::codec::Binary, i64>(&v.value).map_err(internal)?,
            None => 0,
        };
        let batch = match &current {
            Some(v) => Batch::new().version_is(key.clone(), v.version),
            None => Batch::new().absent(key.clone()),
        }
        .put(key.clone(), mu2sls::codec::encode::<mu2sls::codec::Binary, i64>(&(old + by)));
        if let Outcome::Applied { .. } = store.apply(batch).await.map_err(internal)? {
            return Ok(old + by);
        }
    }
}

struct PlainTallyOn<S>(S);

impl<S: Store + 'static> PlainTally for PlainTallyOn<S> {
    async fn add(&self, _cx: &CallContext, name: String, amount: i64) -> Result<i64, ServiceError<NoException>> {
        add(&self.0, "Tally", &name, amount).await
    }
    async fn total(&self, _cx: &CallContext, name: String) -> Result<i64, ServiceError<NoException>> {
        add(&self.0, "Tally", &name, 0).await
    }
}

struct PlainRelayOn<S> {
    store: S,
    tally: TallyClient,
}

impl<S: Store + 'static> PlainRelay for PlainRelayOn<S> {
    async fn forward(
        &self,
        _cx: &CallContext,
        name: String,
        amount: i64,
    ) -> Result<i64, ServiceError<RelayForwardException>> {
        add(&self.store, "Relay", &forwarded_key(&name), 1).await?;
        self.tally.add(&name, amount).await.map_err(|e: CallError<NoException>| internal(e))
    }
}

fn spawn_server<D: mu2sls::Dispatch>(
    listener: tokio::net::TcpListener,
    dispatch: D,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move { mu2sls::Server::builder().build().serve(listener, dispatch, shutdown).await })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Plain,
    ExactlyOnce,
}

/// Serves Tally and Relay over `store` on loopback, drives Relay.forward,
/// and stops both.
async fn cell<S: Store + Clone + 'static>(
    store: S,
    mode: Mode,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
) -> Cell {
    let bind = || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind") };
    let (tally_listener, relay_listener) = (bind().await, bind().await);
    let (tally_addr, relay_addr) =
        (tally_listener.local_addr().expect("addr"), relay_listener.local_addr().expect("addr"));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let to_tally = Channel::builder(tally_addr.to_string()).connections(2).build();
    let servers = match mode {
        Mode::Plain => {
            let tally = TallyServer::new(PlainTallyOn(store.clone()));
            let relay = RelayServer::new(PlainRelayOn { store, tally: TallyClient::new(to_tally) });
            let a = spawn_server(tally_listener, tally, stopped(stop_rx.clone()));
            let b = spawn_server(relay_listener, relay, stopped(stop_rx));
            (a, b)
        }
        Mode::ExactlyOnce => {
            let config = EngineConfig::default();
            let tally =
                TallyDurableServer::new(Tally, Engine::new("Tally", store.clone(), SystemClock, config.clone()));
            let relay = RelayDurableServer::new(Relay, Engine::new("Relay", store, SystemClock, config));
            relay.engine().add_peer("Tally", Peer::remote(to_tally));
            let a = spawn_server(tally_listener, tally, stopped(stop_rx.clone()));
            let b = spawn_server(relay_listener, relay, stopped(stop_rx));
            (a, b)
        }
    };
    let channel = Channel::builder(relay_addr.to_string()).connections(2).build();
    let result = drive(concurrency, warmup, measure, move |task, n| {
        let channel = channel.clone();
        async move {
            let client = match mode {
                Mode::Plain => RelayClient::new(channel),
                Mode::ExactlyOnce => RelayClient::new(channel.with_idempotency_key(format!("{task}-{n}"))),
            };
            if let Err(e) = client.forward(&format!("t{task}"), 1).await {
                panic!("call failed: {e}");
            }
        }
    })
    .await;
    let _ = stop_tx.send(true);
    let _ = servers.0.await;
    let _ = servers.1.await;
    result
}

async fn measure_on(store_name: &str, mode: Mode, concurrency: usize, warmup: Duration, measure: Duration) -> Cell {
    if store_name == "memory" {
        return cell(MemoryStore::new(), mode, concurrency, warmup, measure).await;
    }
    if store_name == "postgres" {
        #[cfg(feature = "postgres")]
        {
            let url = postgres_url().expect("MU2SLS_BENCH_POSTGRES");
            return example_exactly_once::loadgen::on_fresh_schema(&url, |store| {
                cell(store, mode, concurrency, warmup, measure)
            })
            .await;
        }
        #[cfg(not(feature = "postgres"))]
        panic!("MU2SLS_BENCH_POSTGRES is set, but chain-bench was built without the postgres feature");
    }
    let dir = tempdir("chain-bench");
    let store = SledStore::open(&dir, SledOptions::default()).await.expect("open sled");
    let result = cell(store.clone(), mode, concurrency, warmup, measure).await;
    store.close().await.expect("close sled");
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[allow(clippy::print_stdout)] // a benchmark prints its table
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3).max(1);
    let filter = args.next().unwrap_or_default();
    let (warmup, measure) = (Duration::from_secs(1), Duration::from_secs(seconds));
    let mut cells: Vec<(String, Mode, usize, Vec<Cell>)> = Vec::new();
    let stores = if postgres_url().is_some() { &["memory", "sled", "postgres"][..] } else { &["memory", "sled"][..] };
    for store in stores {
        for concurrency in [1, 64] {
            for mode in [Mode::Plain, Mode::ExactlyOnce] {
                if format!("{store}/{mode:?}/{concurrency}").contains(&filter) {
                    cells.push(((*store).to_owned(), mode, concurrency, Vec::new()));
                }
            }
        }
    }
    for _ in 0..rounds {
        for (store, mode, concurrency, results) in &mut cells {
            results.push(measure_on(store, *mode, *concurrency, warmup, measure).await);
        }
    }
    println!("| store | c | mode | req/s | p50 µs | p99 µs |");
    println!("|---|---|---|---|---|---|");
    for (store, mode, concurrency, results) in &cells {
        let rps = median(results.iter().map(|c| c.rps).collect());
        let p50 = median(results.iter().map(|c| c.p50_us).collect());
        let p99 = median(results.iter().map(|c| c.p99_us).collect());
        let mode = match mode {
            Mode::Plain => "plain",
            Mode::ExactlyOnce => "exactly once",
        };
        println!("| {store} | {concurrency} | {mode} | {rps:.0} | {p50:.0} | {p99:.0} |");
    }
}
