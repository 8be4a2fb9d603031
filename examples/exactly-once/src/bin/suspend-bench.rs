//! What calls waiting on a slow callee hold, with and without suspension:
//! N concurrent `Relay.forward` calls (`idl/chain.thrift`) whose callee,
//! Tally, holds every call until all N wait. Without suspension each
//! caller's handler stays in memory while it waits; with
//! `EngineConfig::suspend_after` it is dropped and the call resumes by
//! replaying its log when Tally's callback arrives. Both services are in
//! this process (Tally on its own store, reached over loopback TCP); heap
//! bytes are counted by a counting allocator (crate `cap`).
//!
//! `cargo run --release -p example-exactly-once --bin suspend-bench -- [N]`
//! (default 2,000). Prints a Markdown table.

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use example_exactly_once::chain::{Relay, RelayClient, RelayDurableServer, Tally, TallyDurableServer};
use example_exactly_once::gate::Gated;
use mu2sls::{CallbackKey, Engine, EngineConfig, MemoryStore, Peer, SystemClock};

/// The system allocator, counting the bytes allocated and not yet freed.
#[global_allocator]
static ALLOCATOR: cap::Cap<System> = cap::Cap::new(System, usize::MAX);

fn live() -> usize {
    ALLOCATOR.allocated()
}

struct Row {
    waiting_bytes: usize,
    suspended: usize,
}

async fn run(n: usize, suspend: bool) -> Row {
    let key = CallbackKey::new("k1", b"thirty-two bytes of bench secret".to_vec());
    let tally_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let relay_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tally_addr = tally_listener.local_addr().expect("addr").to_string();
    let relay_addr = relay_listener.local_addr().expect("addr").to_string();
    let keyed = EngineConfig::default().callback_keys(key, None);
    let tally = Gated::closed(TallyDurableServer::new(
        Tally,
        Engine::new("Tally", MemoryStore::new(), SystemClock, keyed.clone()),
    ));
    let (gate, arrived) = (tally.opener(), tally.arrivals());
    let mut config = keyed.callback_address(relay_addr);
    if suspend {
        config = config.suspend_after(Duration::from_millis(50));
    }
    let engine = Engine::new("Relay", MemoryStore::new(), SystemClock, config);
    engine.add_peer(
        "Tally",
        Peer::remote(
            // A server takes 64 pipelined calls per connection at a time.
            mu2sls::Channel::builder(tally_addr).timeout(Duration::from_secs(120)).connections(n.div_ceil(64)).build(),
        ),
    );
    let relay = Arc::new(RelayDurableServer::new(Relay, engine));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let served = relay.clone();
    let (stop_tally, stop_relay) = (stopped(stop_rx.clone()), stopped(stop_rx));
    let servers = [
        tokio::spawn(async move { mu2sls::Server::builder().build().serve(tally_listener, tally, stop_tally).await }),
        tokio::spawn(async move { mu2sls::Server::builder().build().serve(relay_listener, served, stop_relay).await }),
    ];
    // Warm up: one call through, so lazily made state (connections, the
    // store id) is not counted as waiting.
    gate.add_permits(1);
    Peer::local(relay.clone()).client::<RelayClient>(Some("warm")).forward("w", 1).await.expect("warm-up");
    arrived.store(0, Ordering::SeqCst);
    let before = live();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..n {
        let client = Peer::local(relay.clone()).client::<RelayClient>(Some(&format!("call-{i}")));
        calls.spawn(async move { client.forward(&format!("n{i}"), 1).await });
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    // Every call reached the callee (and, suspending, every caller let go).
    while arrived.load(Ordering::SeqCst) < n || (suspend && relay.engine().suspended_calls() < n) {
        assert!(
            Instant::now() < deadline,
            "calls did not all arrive: {} arrived, {} suspended",
            arrived.load(Ordering::SeqCst),
            relay.engine().suspended_calls()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let waiting_bytes = live().saturating_sub(before);
    let suspended = relay.engine().suspended_calls();
    gate.add_permits(n);
    while let Some(done) = calls.join_next().await {
        done.expect("task").expect("every call returns its result");
    }
    let _ = stop_tx.send(true);
    for server in servers {
        let _ = server.await;
    }
    Row { waiting_bytes, suspended }
}

#[allow(clippy::print_stdout)] // a benchmark prints its table
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2_000);
    println!("| N waiting calls | suspension | heap held while waiting | per call | handlers suspended |");
    println!("|---|---|---|---|---|");
    for suspend in [false, true] {
        let row = run(n, suspend).await;
        println!(
            "| {n} | {} | {:.1} MiB | {:.0} B | {} |",
            if suspend { "on" } else { "off" },
            row.waiting_bytes as f64 / (1024.0 * 1024.0),
            row.waiting_bytes as f64 / n as f64,
            row.suspended
        );
    }
}
