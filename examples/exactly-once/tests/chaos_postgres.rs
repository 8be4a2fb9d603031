//! Chaos on PostgreSQL: two `bank-server` processes share one schema (on
//! different ports; one logs every step, the other runs leaves) while keyed counter increments and transfers run
//! against both. A seeded schedule kills random servers with SIGKILL at
//! random points of the load (counted in answered calls) and restarts them
//! on the same schema, and restarts PostgreSQL itself once. Every call is
//! retried with its idempotency key, on either server, until it is answered.
//!
//! Afterwards: every increment got exactly one reply value (the replies are
//! exactly 1..=N) and a duplicate gets the same one, the counter equals the
//! number of increments on both servers, every balance is what the
//! transfers imply, and the money is conserved.
//!
//! The server's address is `MU2SLS_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`); PostgreSQL is restarted with
//! `pg_ctlcluster --skip-systemctl-redirect 15 main restart`, or the shell
//! command in `MU2SLS_TEST_POSTGRES_RESTART`. Without a server, or without
//! permission to restart it, the test fails saying so; it never skips.

#![cfg(feature = "postgres")]
#![allow(clippy::print_stdout)] // the test reports what it covered

mod common;
mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use example_exactly_once::{BankClient, CounterClient};
use mu2sls::{CallError, Channel};
use support::{ACCOUNTS, FUNDING, Running, free_port, start, transfer};

const SEED: u64 = 0x6d75_3273_6c73_c4a0;
const INCREMENTS: usize = 200;
const TRANSFERS: usize = 120;
const WORKERS: usize = 16;
const KILLS: usize = 4;
/// The whole test, PostgreSQL restart included, must finish in this time.
const TIME_BOUND: Duration = Duration::from_secs(300);
/// How often one logical call may get an application error (a store error
/// the server reported, e.g. a commit cut off by the PostgreSQL restart)
/// before the test fails.
const MAX_APPLICATION_RETRIES: usize = 20;

/// splitmix64: a seeded schedule without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn postgres_url() -> String {
    std::env::var("MU2SLS_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Runs `statement` on the server, from a thread of its own (callers may be
/// inside the test's runtime, which cannot block on another).
fn sql_on_server(statement: String) -> Result<(), String> {
    std::thread::spawn(move || run_sql(statement)).join().unwrap_or_else(|_| Err("SQL thread panicked".to_owned()))
}

fn run_sql(statement: String) -> Result<(), String> {
    let url = postgres_url();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let (client, connection) =
            tokio_postgres::connect(&url, tokio_postgres::NoTls).await.map_err(|e| format!("connect to {url}: {e}"))?;
        let connection = tokio::spawn(connection);
        let done = client.batch_execute(&statement).await.map_err(|e| format!("{statement}: {e}"));
        drop(client);
        let _ = connection.await;
        done
    })
}

/// Restarts the PostgreSQL server and waits until it accepts connections.
fn restart_postgres() {
    let (program, args): (&str, Vec<String>) = match std::env::var("MU2SLS_TEST_POSTGRES_RESTART") {
        Ok(command) => ("sh", vec!["-c".to_owned(), command]),
        Err(_) => ("pg_ctlcluster", ["--skip-systemctl-redirect", "15", "main", "restart"].map(str::to_owned).to_vec()),
    };
    let status = Command::new(program).args(&args).status();
    match status {
        Ok(status) if status.success() => {}
        other => panic!(
            "restarting PostgreSQL with `{program} {}` failed ({other:?}): the chaos test needs root (or the \
             cluster's owner) and Debian's postgresql-common; set MU2SLS_TEST_POSTGRES_RESTART to another command",
            args.join(" ")
        ),
    }
    // Poll the external readiness, as the servers' readiness is read from
    // their stdout.
    let ready = Command::new("pg_isready").args(["-h", "127.0.0.1", "-t", "60"]).status();
    assert!(ready.is_ok_and(|s| s.success()), "PostgreSQL did not come back after its restart");
}

/// One server process: killed and restarted on the same schema and ports.
struct Server {
    ports: (u16, u16),
    /// Step mode (every step logged) instead of the leaf fast path.
    steps: bool,
    current: Mutex<Option<Running>>,
    counter: Channel,
    bank: Channel,
}

struct Chaos {
    url: String,
    schema: String,
    servers: [Server; 2],
    /// Bumped after every restart of a server, once it listens again.
    generation: tokio::sync::watch::Sender<u64>,
    transport_errors: AtomicUsize,
    application_errors: AtomicUsize,
}

impl Chaos {
    fn new() -> Arc<Chaos> {
        let url = postgres_url();
        let schema = format!("mu2sls_chaos_{:08x}", std::process::id());
        // Opens fail loudly if the server is missing; the schema is created
        // by the first server and shared by the second.
        if let Err(problem) = sql_on_server(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")) {
            panic!(
                "PostgreSQL at {url} is not usable ({problem}): start it with \
                 `pg_ctlcluster --skip-systemctl-redirect 15 main start` (CI's .ci/run does)"
            );
        }
        let server = |ports: (u16, u16), steps: bool| {
            let running = start(&url, &["--schema", &schema], ports.0, ports.1, steps);
            let channel =
                |port: u16| Channel::builder(format!("127.0.0.1:{port}")).timeout(Duration::from_secs(30)).build();
            Server {
                ports,
                steps,
                current: Mutex::new(Some(running)),
                counter: channel(ports.0),
                bank: channel(ports.1),
            }
        };
        // One server logs every step, the other runs leaves: both modes meet
        // on the same calls.
        let servers = [server((free_port(), free_port()), true), server((free_port(), free_port()), false)];
        Arc::new(Chaos {
            url,
            schema,
            servers,
            generation: tokio::sync::watch::channel(0).0,
            transport_errors: AtomicUsize::new(0),
            application_errors: AtomicUsize::new(0),
        })
    }

    /// kill -9 server `which`, then start it again on the same schema and
    /// ports. Returns the killed pid.
    fn kill_and_restart(&self, which: usize) -> u32 {
        let server = &self.servers[which];
        let old = server.current.lock().unwrap().take().expect("running");
        let pid = old.pid();
        old.kill9();
        let running = start(&self.url, &["--schema", &self.schema], server.ports.0, server.ports.1, server.steps);
        *server.current.lock().unwrap() = Some(running);
        self.generation.send_modify(|g| *g += 1);
        pid
    }

    /// Retries `call` (given a server index) until it is answered: a
    /// transport failure moves to the other server, and if that fails too,
    /// waits for a restart; an application error (a store error on the
    /// server) is retried with the same key, a bounded number of times.
    async fn until_answered<T, E, F, Fut>(&self, first: usize, mut call: F) -> T
    where
        E: std::fmt::Debug,
        F: FnMut(usize) -> Fut,
        Fut: std::future::Future<Output = Result<T, CallError<E>>>,
    {
        let mut restarts = self.generation.subscribe();
        let (mut which, mut transport_in_a_row, mut application) = (first, 0, 0);
        loop {
            restarts.borrow_and_update();
            match call(which).await {
                Ok(value) => return value,
                Err(CallError::Transport(e)) => {
                    self.transport_errors.fetch_add(1, Ordering::SeqCst);
                    which = 1 - which;
                    transport_in_a_row += 1;
                    if transport_in_a_row >= 2 && !restarts.has_changed().unwrap_or(false) {
                        let wait = tokio::time::timeout(Duration::from_secs(60), restarts.changed());
                        wait.await.unwrap_or_else(|_| panic!("both servers unreachable, no restart: {e}")).unwrap();
                    }
                }
                Err(CallError::Application(e)) if application < MAX_APPLICATION_RETRIES => {
                    self.application_errors.fetch_add(1, Ordering::SeqCst);
                    application += 1;
                    transport_in_a_row = 0;
                    tracing::info!(%e, "retrying after a server-side error");
                }
                Err(other) => panic!("call failed for good: {other:?}"),
            }
        }
    }
}

impl Drop for Chaos {
    fn drop(&mut self) {
        for server in &self.servers {
            if let Some(running) = server.current.lock().unwrap_or_else(|e| e.into_inner()).take() {
                running.kill9();
            }
        }
        if let Err(problem) = sql_on_server(format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema)) {
            tracing::warn!(%problem, "could not drop the chaos schema");
        }
    }
}

/// What the chaos schedule does once this many calls have been answered.
#[derive(Debug, Clone, Copy)]
enum Event {
    Kill(usize),
    RestartPostgres,
}

fn schedule(rng: &mut Rng, total: usize) -> Vec<(usize, Event)> {
    let span = (total - 40) as u64;
    let mut events: Vec<(usize, Event)> =
        (0..KILLS).map(|_| (20 + rng.below(span) as usize, Event::Kill(rng.below(2) as usize))).collect();
    events.push((total / 4 + rng.below((total / 2) as u64) as usize, Event::RestartPostgres));
    events.sort_by_key(|(at, _)| *at);
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_postgres_survive_kill_9_and_a_postgres_restart() {
    let chaos = Chaos::new();
    tokio::time::timeout(TIME_BOUND, run(chaos.clone()))
        .await
        .unwrap_or_else(|_| panic!("the chaos test exceeded its time bound of {TIME_BOUND:?}"));
}

async fn run(chaos: Arc<Chaos>) {
    let mut rng = Rng(SEED);
    for (i, account) in ACCOUNTS.iter().enumerate() {
        let key = format!("fund-{account}");
        chaos
            .until_answered(i % 2, |s| {
                let once = BankClient::new(chaos.servers[s].bank.with_idempotency_key(&key));
                async move { once.deposit(account, FUNDING).await }
            })
            .await;
    }
    let total = INCREMENTS + TRANSFERS;
    let events = schedule(&mut rng, total);
    let first_server: Vec<usize> = (0..total).map(|_| rng.below(2) as usize).collect();
    let first_server = Arc::new(first_server);

    let answered = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (chaos, answered, next, first_server) =
            (chaos.clone(), answered.clone(), next.clone(), first_server.clone());
        workers.spawn(async move {
            let mut replies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    return replies;
                }
                let first = first_server[i];
                let key = format!("op-{i}");
                match operation(i) {
                    Operation::Increment => {
                        let call = |s: usize| {
                            let once = CounterClient::new(chaos.servers[s].counter.with_idempotency_key(&key));
                            async move { once.increment("hits", 1).await }
                        };
                        let value = chaos.until_answered(first, call).await;
                        // A duplicate after the fact, on the other server,
                        // gets the recorded reply.
                        let again = chaos.until_answered(1 - first, call).await;
                        assert_eq!(value, again, "{key}: a duplicate must get the recorded reply");
                        replies.push(value);
                    }
                    Operation::Transfer(t) => {
                        let (from, to, amount) = transfer(t);
                        chaos
                            .until_answered(first, |s| {
                                let once = BankClient::new(chaos.servers[s].bank.with_idempotency_key(&key));
                                async move { once.transfer(from, to, amount).await }
                            })
                            .await;
                    }
                }
                answered.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let chaos_loop = {
        let (chaos, answered) = (chaos.clone(), answered.clone());
        tokio::spawn(async move {
            let (mut kills, mut pg_restarts) = (Vec::new(), 0);
            for (at, event) in events {
                while answered.load(Ordering::SeqCst) < at {
                    tokio::task::yield_now().await;
                }
                let chaos = chaos.clone();
                match event {
                    Event::Kill(which) => {
                        let pid = tokio::task::spawn_blocking(move || chaos.kill_and_restart(which)).await.unwrap();
                        kills.push((at, which, pid));
                    }
                    Event::RestartPostgres => {
                        tokio::task::spawn_blocking(restart_postgres).await.unwrap();
                        pg_restarts += 1;
                    }
                }
            }
            (kills, pg_restarts)
        })
    };
    let mut replies = Vec::new();
    while let Some(done) = workers.join_next().await {
        replies.extend(done.expect("worker"));
    }
    let (kills, pg_restarts) = chaos_loop.await.expect("chaos loop");
    assert_eq!(kills.len(), KILLS);
    assert_eq!(pg_restarts, 1);

    // Every increment got one reply value, and no two the same.
    assert_eq!(replies.len(), INCREMENTS);
    let distinct: BTreeSet<i64> = replies.iter().copied().collect();
    let expected: BTreeSet<i64> = (1..=INCREMENTS as i64).collect();
    assert_eq!(distinct, expected, "each increment applied once: replies are exactly 1..=N");
    for s in 0..2 {
        let reader = CounterClient::new(chaos.servers[s].counter.clone());
        let hits = chaos.until_answered(s, |_| reader.read("hits")).await;
        assert_eq!(hits, INCREMENTS as i64, "server {s}: the counter equals the acknowledged increments");
    }
    let mut balances: std::collections::BTreeMap<&str, i64> = ACCOUNTS.iter().map(|a| (*a, FUNDING)).collect();
    for t in 0..TRANSFERS {
        let (from, to, amount) = transfer(t);
        *balances.get_mut(from).unwrap() -= amount;
        *balances.get_mut(to).unwrap() += amount;
    }
    let mut money = 0;
    for account in ACCOUNTS {
        let reader = BankClient::new(chaos.servers[0].bank.clone());
        let balance = chaos.until_answered(0, |_| reader.balance(account)).await;
        assert_eq!(balance, balances[account], "account {account}: each transfer applied once");
        money += balance;
    }
    assert_eq!(money, FUNDING * ACCOUNTS.len() as i64, "money is conserved");
    let cut = chaos.transport_errors.load(Ordering::SeqCst);
    let application = chaos.application_errors.load(Ordering::SeqCst);
    assert!(cut > 0, "the kills must have cut calls off");
    println!(
        "chaos on postgres: {INCREMENTS} increments + {TRANSFERS} transfers over 2 servers (steps, leaf), kill -9 x{} at {:?} \
         (answered, server, pid), PostgreSQL restarted x{pg_restarts}; {cut} attempts cut off, {application} \
         server-side errors retried; every effect applied once, money conserved",
        kills.len(),
        kills
    );
}

#[derive(Debug, Clone, Copy)]
enum Operation {
    Increment,
    Transfer(usize),
}

/// The `i`th logical call: increments and transfers spread evenly, so
/// that both run throughout the chaos.
fn operation(i: usize) -> Operation {
    let increments_before = i * INCREMENTS / (INCREMENTS + TRANSFERS);
    let increments_through = (i + 1) * INCREMENTS / (INCREMENTS + TRANSFERS);
    if increments_through > increments_before {
        Operation::Increment
    } else {
        Operation::Transfer(i - increments_through)
    }
}
