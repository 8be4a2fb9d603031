//! What exactly-once costs: the counter's `read` (a logged get), `set` (a
//! logged put) and `increment` (a logged read-modify-write), each served
//! plain (the same logic straight on the store) and exactly once (the
//! durable server, every call with its own idempotency key), on the memory
//! store and on sled (durable: every acknowledged call is on disk), at
//! concurrency 1 and 64, in one run. Two layers: over loopback RPC (what a
//! client sees) and in process (the handler call alone). With
//! `MU2SLS_BENCH_POSTGRES=postgres://...` set, the `increment` rows also run
//! on PostgreSQL (a fresh schema per cell, dropped afterwards; a pool of 32
//! connections).
//!
//! `cargo run --release -p example-exactly-once --bin eo-bench -- [SECONDS [FILTER [ROUNDS]]]`
//! (default 5 s per cell after 1 s of warm-up; FILTER keeps the rows whose
//! `layer/store/op/c`, such as `InProcess/memory/Increment/1`, contains it;
//! ROUNDS, default 1, alternates plain and exactly-once cells that many
//! times and reports medians). Prints a Markdown table with the process's
//! CPU time per call beside the latencies. `EO_BENCH_MODE=plain` or `eo`
//! runs one mode only, to count its instructions with `perf stat`.

use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "postgres")]
use example_exactly_once::loadgen::on_fresh_schema;
use example_exactly_once::loadgen::{Cell, drive, median, postgres_url, tempdir};
use example_exactly_once::{Counter, CounterClient, CounterDurable, CounterDurableServer, CounterServer, Counters};
use mu2sls::{
    Batch, CallContext, CallId, CallMeta, Channel, Engine, EngineConfig, Key, MemoryStore, NoException, Outcome,
    ProtocolKind, Request, ServiceError, SledOptions, SledStore, Store, SystemClock,
};

/// The counter straight on the store: what the handler would be without
/// exactly-once (same keys and encoding, no log, no call records).
#[derive(Clone)]
struct Plain<S> {
    store: S,
}

fn key(name: &str) -> Key {
    Key::from(("state", "Counter", name))
}

fn internal(e: impl std::fmt::Display) -> ServiceError<NoException> {
    ServiceError::internal(e.to_string())
}

impl<S: Store + 'static> Counter for Plain<S> {
    async fn increment(&self, _cx: &CallContext, name: String, by: i64) -> Result<i64, ServiceError<NoException>> {
        let key = key(&name);
        loop {
            let current = self.store.get(&key).await.map_err(internal)?;
            let old: i64 = match &current {
                Some(v) => mu2sls::codec::decode::<mu2sls::codec::Binary, i64>(&v.value).map_err(internal)?,
                None => 0,
            };
            let new = old + by;
            let batch = match &current {
                Some(v) => Batch::new().version_is(key.clone(), v.version),
                None => Batch::new().absent(key.clone()),
            }
            .put(key.clone(), mu2sls::codec::encode::<mu2sls::codec::Binary, i64>(&new));
            if let Outcome::Applied { .. } = self.store.apply(batch).await.map_err(internal)? {
                return Ok(new);
            }
        }
    }

    async fn read(&self, _cx: &CallContext, name: String) -> Result<i64, ServiceError<NoException>> {
        match self.store.get(&key(&name)).await.map_err(internal)? {
            Some(v) => mu2sls::codec::decode::<mu2sls::codec::Binary, i64>(&v.value).map_err(internal),
            None => Ok(0),
        }
    }

    async fn set(&self, _cx: &CallContext, name: String, value: i64) -> Result<(), ServiceError<NoException>> {
        let batch = Batch::new().put(key(&name), mu2sls::codec::encode::<mu2sls::codec::Binary, i64>(&value));
        self.store.apply(batch).await.map_err(internal)?;
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Get,
    Put,
    Increment,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Plain,
    ExactlyOnce,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Layer {
    Rpc,
    InProcess,
}

/// One call of `op` by task `task` (its own counter), the `n`th of the task.
async fn rpc_call(client: &CounterClient, channel: &Channel, mode: Mode, op: Op, task: usize, n: u64) {
    let name = format!("c{task}");
    let keyed;
    let client = match mode {
        Mode::Plain => client,
        Mode::ExactlyOnce => {
            keyed = CounterClient::new(channel.with_idempotency_key(format!("{task}-{n}")));
            &keyed
        }
    };
    let ok = match op {
        Op::Get => client.read(&name).await.map(drop),
        Op::Put => client.set(&name, n as i64).await,
        Op::Increment => client.increment(&name, 1).await.map(drop),
    };
    if let Err(e) = ok {
        panic!("call failed: {e}");
    }
}

async fn in_process_call<S: Store + 'static>(
    plain: &Plain<S>,
    engine: &Engine<S, SystemClock>,
    mode: Mode,
    op: Op,
    task: usize,
    n: u64,
) {
    let name = format!("c{task}");
    let ok = match mode {
        Mode::Plain => {
            let cx = CallContext::new("op", 0, None, ProtocolKind::Binary);
            match op {
                Op::Get => plain.read(&cx, name).await.map(drop),
                Op::Put => plain.set(&cx, name, n as i64).await,
                Op::Increment => plain.increment(&cx, name, 1).await.map(drop),
            }
        }
        Mode::ExactlyOnce => {
            let now = engine.now_ms();
            let method = match op {
                Op::Get => "read",
                Op::Put => "set",
                Op::Increment => "increment",
            };
            let meta = CallMeta::root(CallId::root("Counter", method, format!("{task}-{n}")), now);
            let request = Request::new(method, bytes_of(task, n));
            engine
                .serve(&meta, &request, |mut ctx| {
                    let name = name.clone();
                    async move {
                        let counters = Counters;
                        let done = match op {
                            Op::Get => counters.read(&mut ctx, name).await.map(drop),
                            Op::Put => counters.set(&mut ctx, name, n as i64).await,
                            Op::Increment => counters.increment(&mut ctx, name, 1).await.map(drop),
                        };
                        done.map(|()| bytes::Bytes::new()).map_err(|e| ctx.fail(e.to_string()))
                    }
                })
                .await
                .map(drop)
                .map_err(internal)
        }
    };
    if let Err(e) = ok {
        panic!("call failed: {e}");
    }
}

fn bytes_of(task: usize, n: u64) -> bytes::Bytes {
    bytes::Bytes::from(format!("{task}/{n}"))
}

async fn cell<S: Store + Clone + 'static>(
    store: S,
    layer: Layer,
    mode: Mode,
    op: Op,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
) -> Cell {
    let engine = Engine::new("Counter", store.clone(), SystemClock, EngineConfig::default());
    let plain = Plain { store };
    match layer {
        Layer::InProcess => {
            let (plain, engine) = (Arc::new(plain), Arc::new(engine));
            drive(concurrency, warmup, measure, move |task, n| {
                let (plain, engine) = (plain.clone(), engine.clone());
                async move { in_process_call(&plain, &engine, mode, op, task, n).await }
            })
            .await
        }
        Layer::Rpc => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let stopped = async {
                let _ = stop_rx.await;
            };
            let server = match mode {
                Mode::Plain => tokio::spawn(async move {
                    mu2sls::Server::builder().build().serve(listener, CounterServer::new(plain), stopped).await
                }),
                Mode::ExactlyOnce => tokio::spawn(async move {
                    let durable = CounterDurableServer::new(Counters, engine);
                    mu2sls::Server::builder().build().serve(listener, durable, stopped).await
                }),
            };
            let channel = Channel::new(addr.to_string());
            let client = Arc::new(CounterClient::new(channel.clone()));
            let result = drive(concurrency, warmup, measure, move |task, n| {
                let (client, channel) = (client.clone(), channel.clone());
                async move { rpc_call(&client, &channel, mode, op, task, n).await }
            })
            .await;
            let _ = stop_tx.send(());
            let _ = server.await;
            result
        }
    }
}

#[allow(clippy::print_stdout)] // a benchmark prints its table
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let filter = std::env::args().nth(2).unwrap_or_default();
    let rounds: usize = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let (warmup, measure) = (Duration::from_secs(1), Duration::from_secs(seconds));
    // `EO_BENCH_MODE=plain` or `eo` runs one column only (for counting a
    // mode's instructions with `perf stat`).
    let modes: Vec<Mode> = match std::env::var("EO_BENCH_MODE").as_deref() {
        Ok("plain") => vec![Mode::Plain],
        Ok("eo") => vec![Mode::ExactlyOnce],
        _ => vec![Mode::Plain, Mode::ExactlyOnce],
    };
    println!(
        "| layer | store | op | c | plain req/s | eo req/s | plain p50/p99 µs | eo p50/p99 µs | eo/plain p50 | plain CPU µs/call | eo CPU µs/call | eo/plain CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for layer in [Layer::InProcess, Layer::Rpc] {
        for store_name in ["memory", "sled", "postgres"] {
            for op in [Op::Get, Op::Put, Op::Increment] {
                for concurrency in [1, 64] {
                    if !format!("{layer:?}/{store_name}/{op:?}/{concurrency}").contains(&filter) {
                        continue;
                    }
                    if store_name == "postgres" && (op != Op::Increment || postgres_url().is_none()) {
                        continue;
                    }
                    // Plain and exactly-once alternate, round after round;
                    // each column is the median over the rounds.
                    let (mut plain, mut eo) = (Vec::new(), Vec::new());
                    for _ in 0..rounds {
                        for mode in modes.iter().copied() {
                            let result = if store_name == "memory" {
                                cell(MemoryStore::new(), layer, mode, op, concurrency, warmup, measure).await
                            } else if store_name == "postgres" {
                                postgres_cell(layer, mode, op, concurrency, warmup, measure).await
                            } else {
                                let dir = tempdir("eo-bench");
                                let store = SledStore::open(&dir, SledOptions::default()).await.expect("open sled");
                                let result = cell(store.clone(), layer, mode, op, concurrency, warmup, measure).await;
                                store.close().await.expect("close sled");
                                let _ = std::fs::remove_dir_all(&dir);
                                result
                            };
                            if mode == Mode::Plain { plain.push(result) } else { eo.push(result) }
                        }
                    }
                    let (p, e) = (Medians::of(&plain), Medians::of(&eo));
                    println!(
                        "| {layer:?} | {store_name} | {op:?} | {concurrency} | {:.0} | {:.0} | {:.1}/{:.1} | {:.1}/{:.1} | {:.2} | {:.2} | {:.2} | {:.2} |",
                        p.rps,
                        e.rps,
                        p.p50_us,
                        p.p99_us,
                        e.p50_us,
                        e.p99_us,
                        e.p50_us / p.p50_us,
                        p.cpu,
                        e.cpu,
                        e.cpu / p.cpu,
                    );
                }
            }
        }
    }
}

/// Per-column medians of one mode's rounds.
struct Medians {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    /// CPU µs per call (NaN where not reported).
    cpu: f64,
}

impl Medians {
    /// The medians of `cells` (NaN for a mode that did not run).
    fn of(cells: &[Cell]) -> Medians {
        let of = |f: fn(&Cell) -> f64| median(cells.iter().map(f).collect());
        Medians {
            rps: of(|c| c.rps),
            p50_us: of(|c| c.p50_us),
            p99_us: of(|c| c.p99_us),
            cpu: of(|c| c.cpu_us_per_call.unwrap_or(f64::NAN)),
        }
    }
}

/// One cell on a fresh PostgreSQL schema, dropped afterwards.
#[cfg(feature = "postgres")]
async fn postgres_cell(
    layer: Layer,
    mode: Mode,
    op: Op,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
) -> Cell {
    let url = postgres_url().expect("MU2SLS_BENCH_POSTGRES");
    on_fresh_schema(&url, |store| cell(store, layer, mode, op, concurrency, warmup, measure)).await
}

#[cfg(not(feature = "postgres"))]
async fn postgres_cell(_: Layer, _: Mode, _: Op, _: usize, _: Duration, _: Duration) -> Cell {
    panic!("MU2SLS_BENCH_POSTGRES is set, but eo-bench was built without the postgres feature")
}
