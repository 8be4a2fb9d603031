//! kill -9 tests: `bank-server` is killed with SIGKILL while keyed calls
//! are in flight, restarted on the same sled directory, and every call is
//! retried with its key until it gets a reply. Each effect must apply
//! exactly once: the counter ends at the number of distinct increments and
//! their replies are exactly 1..=N, and the bank's balances are what the
//! transfers imply, with the money conserved.
//!
//! The kills come after a given number of replies (not after a time), so
//! each run kills at a different point of the calls in flight; the server
//! is an external process, so its readiness is read from its stdout.

#![allow(clippy::print_stdout)] // the tests report what they covered

mod common;
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use example_exactly_once::{BankClient, CounterClient};
use mu2sls::{CallError, Channel};
use support::{ACCOUNTS, FUNDING, Running, free_port, start, transfer};

/// The server of one test: killed and restarted on the same store and
/// ports, with the channels clients share (they reconnect by themselves).
struct Cluster {
    store: tempfile::TempDir,
    ports: (u16, u16),
    /// Step mode (every step logged) instead of the leaf fast path.
    steps: bool,
    current: std::sync::Mutex<Option<Running>>,
    /// Bumped after every restart, once the new server listens.
    generation: tokio::sync::watch::Sender<u64>,
    counter: Channel,
    bank: Channel,
    /// Calls that failed on the wire (in flight or sent during a restart).
    transport_errors: AtomicUsize,
}

impl Cluster {
    fn new(steps: bool) -> Arc<Cluster> {
        let store = tempfile::tempdir().expect("tempdir");
        let ports = (free_port(), free_port());
        let running = start(store.path(), &[], ports.0, ports.1, steps);
        let channel = |port: u16| {
            Channel::builder(format!("127.0.0.1:{port}")).timeout(std::time::Duration::from_secs(20)).build()
        };
        Arc::new(Cluster {
            store,
            ports,
            steps,
            current: std::sync::Mutex::new(Some(running)),
            generation: tokio::sync::watch::channel(0).0,
            counter: channel(ports.0),
            bank: channel(ports.1),
            transport_errors: AtomicUsize::new(0),
        })
    }

    /// kill -9, then start again on the same store and ports.
    fn crash_and_restart(&self) {
        let old = self.current.lock().unwrap().take().expect("running");
        old.kill9();
        *self.current.lock().unwrap() = Some(start(self.store.path(), &[], self.ports.0, self.ports.1, self.steps));
        self.generation.send_modify(|g| *g += 1);
    }

    /// Retries `call` until it gets an answer that is not a transport
    /// failure. A transport failure means the server was killed: the retry
    /// waits for the restart (bounded: a failure with no restart coming
    /// fails the test).
    async fn until_answered<T, E, F, Fut>(&self, mut call: F) -> Result<T, CallError<E>>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, CallError<E>>>,
    {
        let mut restarts = self.generation.subscribe();
        loop {
            restarts.borrow_and_update();
            match call().await {
                Err(CallError::Transport(e)) => {
                    self.transport_errors.fetch_add(1, Ordering::SeqCst);
                    if !restarts.has_changed().unwrap_or(false) {
                        let wait = tokio::time::timeout(std::time::Duration::from_secs(60), restarts.changed());
                        wait.await.unwrap_or_else(|_| panic!("transport error with no restart: {e}")).unwrap();
                    }
                }
                other => return other,
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(running) = self.current.lock().unwrap().take() {
            running.kill9();
        }
    }
}

const INCREMENTS: usize = 240;
const WORKERS: usize = 16;
/// Kill after this many replies, then again after as many more, ...
const KILL_AFTER: [usize; 3] = [37, 101, 170];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_increments_survive_kill_9_exactly_once_leaf() {
    counter_increments(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_increments_survive_kill_9_exactly_once_steps() {
    counter_increments(true).await;
}

async fn counter_increments(steps: bool) {
    let cluster = Cluster::new(steps);
    let answered = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (cluster, answered, next) = (cluster.clone(), answered.clone(), next.clone());
        workers.spawn(async move {
            let mut replies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= INCREMENTS {
                    return replies;
                }
                let key = format!("inc-{i}");
                // One handle per logical call: every retry carries its key
                // and origin.
                let once = CounterClient::new(cluster.counter.with_idempotency_key(&key));
                let value = cluster.until_answered(|| once.increment("hits", 1)).await.expect("increment");
                // A duplicate after the fact gets the recorded reply.
                let again = cluster.until_answered(|| once.increment("hits", 1)).await.expect("duplicate");
                assert_eq!(value, again, "{key}: a duplicate must get the recorded reply");
                replies.push(value);
                answered.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let killer = {
        let (cluster, answered) = (cluster.clone(), answered.clone());
        tokio::spawn(async move {
            for at in KILL_AFTER {
                while answered.load(Ordering::SeqCst) < at {
                    tokio::task::yield_now().await;
                }
                let cluster = cluster.clone();
                tokio::task::spawn_blocking(move || cluster.crash_and_restart()).await.unwrap();
            }
        })
    };
    let mut replies = Vec::new();
    while let Some(done) = workers.join_next().await {
        replies.extend(done.expect("worker"));
    }
    killer.await.unwrap();
    let replies: BTreeSet<i64> = replies.into_iter().collect();
    let expected: BTreeSet<i64> = (1..=INCREMENTS as i64).collect();
    assert_eq!(replies, expected, "each increment applied once: replies are exactly 1..=N");
    let reader = CounterClient::new(cluster.counter.clone());
    let total = cluster.until_answered(|| reader.read("hits")).await.unwrap();
    assert_eq!(total, INCREMENTS as i64);
    let failed = cluster.transport_errors.load(Ordering::SeqCst);
    assert!(failed > 0, "the kills must have cut calls off");
    let mode = if steps { "steps" } else { "leaf" };
    println!(
        "kill -9 x{} ({mode}): {INCREMENTS} increments, each applied once ({failed} attempts cut off)",
        KILL_AFTER.len()
    );
}

const TRANSFERS: usize = 160;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_transfers_survive_kill_9_exactly_once_leaf() {
    bank_transfers(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_transfers_survive_kill_9_exactly_once_steps() {
    bank_transfers(true).await;
}

async fn bank_transfers(steps: bool) {
    let cluster = Cluster::new(steps);
    for account in ACCOUNTS {
        let once = BankClient::new(cluster.bank.with_idempotency_key(format!("fund-{account}")));
        cluster.until_answered(|| once.deposit(account, FUNDING)).await.expect("fund");
    }
    let answered = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (cluster, answered, next) = (cluster.clone(), answered.clone(), next.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= TRANSFERS {
                    return;
                }
                let (from, to, amount) = transfer(i);
                let once = BankClient::new(cluster.bank.with_idempotency_key(format!("transfer-{i}")));
                cluster.until_answered(|| once.transfer(from, to, amount)).await.expect("transfer");
                answered.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let killer = {
        let (cluster, answered) = (cluster.clone(), answered.clone());
        tokio::spawn(async move {
            for at in [23, 88] {
                while answered.load(Ordering::SeqCst) < at {
                    tokio::task::yield_now().await;
                }
                let cluster = cluster.clone();
                tokio::task::spawn_blocking(move || cluster.crash_and_restart()).await.unwrap();
            }
        })
    };
    while let Some(done) = workers.join_next().await {
        done.expect("worker");
    }
    killer.await.unwrap();
    let mut expected: std::collections::BTreeMap<&str, i64> = ACCOUNTS.iter().map(|a| (*a, FUNDING)).collect();
    for i in 0..TRANSFERS {
        let (from, to, amount) = transfer(i);
        *expected.get_mut(from).unwrap() -= amount;
        *expected.get_mut(to).unwrap() += amount;
    }
    let reader = BankClient::new(cluster.bank.clone());
    let mut total = 0;
    for account in ACCOUNTS {
        let balance = cluster.until_answered(|| reader.balance(account)).await.unwrap();
        assert_eq!(balance, expected[account], "account {account}: each transfer applied once");
        total += balance;
    }
    assert_eq!(total, FUNDING * ACCOUNTS.len() as i64, "money is conserved");
    let failed = cluster.transport_errors.load(Ordering::SeqCst);
    assert!(failed > 0, "the kills must have cut calls off");
    let mode = if steps { "steps" } else { "leaf" };
    println!(
        "kill -9 x2 ({mode}): {TRANSFERS} transfers over {} accounts, each applied once ({failed} attempts cut off)",
        ACCOUNTS.len()
    );
}
