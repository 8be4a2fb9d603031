//! kill -9 across processes: the chain (`idl/chain.thrift`) runs as three
//! `chain-server` processes (Front → Relay → Tally), each on its own sled
//! store, so a callee's result reaches its caller only in a reply, and a
//! restarted caller gets it by re-sending the same child id. A driver sends
//! keyed calls from concurrent workers and retries each with its key until
//! it is answered, while a chaos loop (seeded: the seed is printed, and
//! `CHAIN_KILL_SEED` replays it) kills a random process with SIGKILL after
//! a random number of answers and restarts it on the same store and port.
//!
//! Afterwards every call has one answer, every retry got the same one,
//! Tally's totals are the number of distinct calls per name, and Relay
//! forwarded each order once (read from its store once it has stopped).
//! The negative control sends the same kind of load without keys: its
//! retries are new calls, so it must over-count.
//!
//! A process behind Front that the load goes through is kept down after a
//! kill until some call has failed because of it, so those kills cut calls
//! off. Readiness, stopping and
//! settling of the processes are polled with deadlines: they are external
//! processes with no other way to tell.

#![allow(clippy::print_stdout)] // the tests report what they covered

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Process, free_port};
use example_exactly_once::chain::{FrontClient, TallyClient, forwarded_key};
use mu2sls::{CallError, Channel, SledOptions, SledStore, Store};

const WORKERS: usize = 16;
/// Names the orders go to, in turn: each total is an exact count.
const ORDER_NAMES: [&str; 4] = ["apples", "pears", "plums", "figs"];
/// Names every spread adds to.
const SPREAD_NAMES: [&str; 3] = ["north", "south", "west"];
const KILLS: usize = 6;
/// Attempts per call before the test gives up on it.
const MAX_ATTEMPTS: u32 = 60;
/// Bounds a whole run, a restart, a hold and settling: never reached when
/// things work; they keep a broken run from hanging.
const RUN_DEADLINE: Duration = Duration::from_secs(120);
const WAIT_DEADLINE: Duration = Duration::from_secs(20);
/// Totals that have not moved for this long are settled.
const SETTLED_AFTER: Duration = Duration::from_millis(1500);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Front,
    Relay,
    Tally,
}

const SERVICES: [Service; 3] = [Service::Front, Service::Relay, Service::Tally];

impl Service {
    fn index(self) -> usize {
        self as usize
    }

    fn flag(self) -> &'static str {
        ["front", "relay", "tally"][self.index()]
    }
}

/// One process of the chain: its store and port outlive its restarts.
struct Node {
    /// Declared first: dropped (killed) before its store directory goes.
    process: Mutex<Option<Process>>,
    store: tempfile::TempDir,
    port: u16,
}

/// The three processes, the channels the driver calls them through (they
/// reconnect by themselves), and what the chaos did.
struct Chain {
    nodes: [Node; 3],
    /// Whether Front is down: its clients wait for it instead of burning
    /// attempts on a closed port.
    front_down: tokio::sync::watch::Sender<bool>,
    /// Attempts that failed: cut off by a kill, or sent while a process
    /// behind Front was down.
    failures: tokio::sync::watch::Sender<usize>,
    kills: [AtomicUsize; 3],
    front: Channel,
    tally: Channel,
}

impl Chain {
    /// Starts the three processes (blocking: it waits for them to listen).
    fn new() -> Arc<Chain> {
        let node =
            |_| Node { process: Mutex::new(None), store: tempfile::tempdir().expect("tempdir"), port: free_port() };
        let nodes: [Node; 3] = std::array::from_fn(node);
        // The driver's own retries are the ones counted; an attempt waits
        // long enough for Front's calls to its peers to be retried.
        let channel =
            |port: u16| Channel::builder(format!("127.0.0.1:{port}")).timeout(Duration::from_secs(15)).build();
        let chain = Chain {
            front: channel(nodes[Service::Front.index()].port),
            tally: channel(nodes[Service::Tally.index()].port),
            nodes,
            front_down: tokio::sync::watch::channel(false).0,
            failures: tokio::sync::watch::channel(0).0,
            kills: Default::default(),
        };
        for service in [Service::Tally, Service::Relay, Service::Front] {
            let process = chain.start(service);
            *chain.node(service).process.lock().unwrap() = Some(process);
        }
        Arc::new(chain)
    }

    fn node(&self, service: Service) -> &Node {
        &self.nodes[service.index()]
    }

    fn start(&self, service: Service) -> Process {
        let node = self.node(service);
        let mut args: Vec<OsString> = vec!["--service".into(), service.flag().into()];
        args.extend(["--store".into(), node.store.path().as_os_str().to_owned()]);
        args.extend(["--port".into(), node.port.to_string().into()]);
        let peers: &[(&str, Service)] = match service {
            Service::Front => &[("Relay", Service::Relay), ("Tally", Service::Tally)],
            Service::Relay => &[("Tally", Service::Tally)],
            Service::Tally => &[],
        };
        for (name, peer) in peers {
            args.extend(["--peer".into(), format!("{name}=127.0.0.1:{}", self.node(*peer).port).into()]);
        }
        Process::start(env!("CARGO_BIN_EXE_chain-server"), &args, &["listening"])
    }

    /// kill -9 `service`; if `hold`, keep it down until an attempt has
    /// failed since (so the kill cut something off); start it again on the
    /// same store and port.
    async fn crash_and_restart(self: &Arc<Chain>, service: Service, hold: bool) {
        let failed_before = *self.failures.borrow();
        if service == Service::Front {
            self.front_down.send_replace(true);
        }
        let chain = self.clone();
        tokio::task::spawn_blocking(move || {
            let process = chain.node(service).process.lock().unwrap().take().expect("running");
            process.kill9();
        })
        .await
        .unwrap();
        self.kills[service.index()].fetch_add(1, Ordering::SeqCst);
        if hold {
            let mut failures = self.failures.subscribe();
            tokio::time::timeout(WAIT_DEADLINE, failures.wait_for(|n| *n > failed_before))
                .await
                .unwrap_or_else(|_| panic!("no call failed while {service:?} was down"))
                .unwrap();
        }
        let chain = self.clone();
        tokio::task::spawn_blocking(move || {
            let process = chain.start(service);
            *chain.node(service).process.lock().unwrap() = Some(process);
        })
        .await
        .unwrap();
        if service == Service::Front {
            self.front_down.send_replace(false);
        }
    }

    /// Calls `call` until it is answered (at most [`MAX_ATTEMPTS`] times).
    /// A failure (no reply, or Front's call failing on a peer that is
    /// down) is not a result: the same call is sent again after a short
    /// back-off, the only signal that a process behind Front is back being
    /// a call that gets through.
    async fn until_answered<F, Fut>(&self, mut call: F) -> Vec<i64>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<i64>, String>>,
    {
        let mut last = String::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let mut front_down = self.front_down.subscribe();
            tokio::time::timeout(WAIT_DEADLINE, front_down.wait_for(|down| !*down))
                .await
                .expect("Front restarts in time")
                .unwrap();
            match call().await {
                Ok(values) => return values,
                Err(e) => {
                    self.failures.send_modify(|n| *n += 1);
                    last = e;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt.min(10)))).await;
                }
            }
        }
        panic!("a call was not answered in {MAX_ATTEMPTS} attempts; last error: {last}");
    }

    /// Tally's totals for `names`, once they have stopped moving and
    /// `done` holds of them (or the deadline has passed).
    async fn settled_totals(&self, names: &[&str], done: impl Fn(&[i64]) -> bool) -> Vec<i64> {
        let tally = TallyClient::new(self.tally.clone());
        let deadline = Instant::now() + WAIT_DEADLINE;
        let (mut last, mut since) = (Vec::new(), Instant::now());
        loop {
            let mut totals = Vec::with_capacity(names.len());
            for name in names {
                totals.push(tally.total(name).await.unwrap_or_else(|e| panic!("Tally.total({name}): {e}")));
            }
            if totals != last {
                (last, since) = (totals, Instant::now());
            } else if (since.elapsed() >= SETTLED_AFTER && done(&last)) || Instant::now() > deadline {
                return last;
            }
            // Polling external processes for stability, with a deadline.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops Relay (SIGTERM) and reads how many calls it forwarded for each
    /// of `names` from its store. Relay is not restarted.
    async fn stop_relay_and_read_forwarded(self: &Arc<Chain>, names: &[&str]) -> Vec<i64> {
        let chain = self.clone();
        let status = tokio::task::spawn_blocking(move || {
            chain.node(Service::Relay).process.lock().unwrap().take().expect("running").terminate()
        })
        .await
        .unwrap();
        assert!(status.success(), "Relay stops cleanly on SIGTERM: {status}");
        let store = SledStore::open(self.node(Service::Relay).store.path(), SledOptions::default()).await.unwrap();
        let mut forwarded = Vec::with_capacity(names.len());
        for name in names {
            let key = mu2sls::Key::from(("state", "Relay", forwarded_key(name).as_str()));
            let found = store.get(&key).await.expect("read forwarded");
            forwarded.push(
                found.map_or(0, |v| mu2sls::codec::decode::<mu2sls::codec::Binary, i64>(&v.value).expect("an i64")),
            );
        }
        store.close().await.unwrap();
        forwarded
    }

    fn kills(&self) -> [usize; 3] {
        std::array::from_fn(|i| self.kills[i].load(Ordering::SeqCst))
    }
}

/// A tiny xorshift: the chaos plan from a seed, with no extra crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seed() -> u64 {
    let seed = match std::env::var("CHAIN_KILL_SEED") {
        Ok(s) => s.parse().expect("CHAIN_KILL_SEED is a number"),
        Err(_) => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
    };
    seed.max(1) // xorshift stays at 0 from 0
}

/// [`KILLS`] kills, each service at least once, the rest random, each
/// after a random number of answers between a tenth and nine tenths of
/// `calls`.
fn chaos_plan(rng: &mut XorShift, calls: usize) -> Vec<(usize, Service)> {
    let mut victims = SERVICES.to_vec();
    victims.extend((SERVICES.len()..KILLS).map(|_| SERVICES[rng.below(3)]));
    for i in (1..victims.len()).rev() {
        victims.swap(i, rng.below(i + 1));
    }
    let mut at: Vec<usize> = (0..KILLS).map(|_| calls / 10 + rng.below(calls * 8 / 10)).collect();
    at.sort_unstable();
    at.into_iter().zip(victims).collect()
}

#[derive(Clone, Copy, Debug)]
enum Load {
    /// `Front.order(name, 1)`: Front → Relay → Tally.
    Order,
    /// `Front.spread(SPREAD_NAMES, 1)`: Front fans out to Tally.
    Spread,
}

impl Load {
    async fn send(self, front: &FrontClient, i: usize) -> Result<Vec<i64>, String> {
        match self {
            Load::Order => match front.order(ORDER_NAMES[i % ORDER_NAMES.len()], 1).await {
                Ok(total) => Ok(vec![total]),
                Err(CallError::Exception(e)) => panic!("order {i}: a declared exception for amount 1: {e:?}"),
                Err(e) => Err(e.to_string()),
            },
            Load::Spread => {
                let names: Vec<String> = SPREAD_NAMES.iter().map(|n| (*n).to_owned()).collect();
                front.spread(&names, 1).await.map_err(|e| e.to_string())
            }
        }
    }

    /// The names a call adds to, in the order of its reply.
    fn names(self, i: usize) -> Vec<&'static str> {
        match self {
            Load::Order => vec![ORDER_NAMES[i % ORDER_NAMES.len()]],
            Load::Spread => SPREAD_NAMES.to_vec(),
        }
    }

    /// Whether calls fail while `service` is down, other than Front (whose
    /// clients wait for it): Relay and Tally for orders, Tally for spreads.
    fn fails_without(self, service: Service) -> bool {
        match self {
            Load::Order => service != Service::Front,
            Load::Spread => service == Service::Tally,
        }
    }

    fn all_names(self) -> &'static [&'static str] {
        match self {
            Load::Order => &ORDER_NAMES,
            Load::Spread => &SPREAD_NAMES,
        }
    }
}

/// What a run saw.
struct Run {
    /// Per call, its answer.
    answers: BTreeMap<usize, Vec<i64>>,
    attempts: usize,
}

/// Sends `calls` calls of `load` from [`WORKERS`] workers, each retried
/// until answered: with its own key (`keyed`), else as a stock client
/// would, each attempt a new call; while the chaos loop runs `plan`.
async fn drive(chain: &Arc<Chain>, load: Load, calls: usize, keyed: bool, plan: Vec<(usize, Service)>) -> Run {
    let answered = Arc::new(tokio::sync::watch::channel(0usize).0);
    let next = Arc::new(AtomicUsize::new(0));
    let attempts = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (chain, answered, next, attempts) = (chain.clone(), answered.clone(), next.clone(), attempts.clone());
        workers.spawn(async move {
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= calls {
                    return answers;
                }
                // One handle per logical call: every retry carries its key
                // and origin.
                let front = if keyed {
                    FrontClient::new(chain.front.with_idempotency_key(format!("{load:?}-{i}")))
                } else {
                    FrontClient::new(chain.front.clone())
                };
                let send = || {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    load.send(&front, i)
                };
                let values = chain.until_answered(send).await;
                if keyed {
                    // A duplicate after the fact gets the recorded answer.
                    let again = chain.until_answered(send).await;
                    assert_eq!(values, again, "{load:?} {i}: a retry must get the recorded answer");
                }
                answers.push((i, values));
                answered.send_modify(|n| *n += 1);
            }
        });
    }
    let killer = {
        let (chain, answered) = (chain.clone(), answered.clone());
        tokio::spawn(async move {
            let mut answers = answered.subscribe();
            for (at, service) in plan {
                answers.wait_for(|n| *n >= at).await.unwrap();
                chain.crash_and_restart(service, load.fails_without(service)).await;
            }
        })
    };
    let mut answers = BTreeMap::new();
    let run = async {
        while let Some(done) = workers.join_next().await {
            for (i, values) in done.expect("worker") {
                assert!(answers.insert(i, values).is_none(), "call {i} answered twice");
            }
        }
        killer.await.expect("chaos loop");
    };
    tokio::time::timeout(RUN_DEADLINE, run).await.expect("the run finishes in time");
    Run { answers, attempts: attempts.load(Ordering::SeqCst) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_three_processes_survives_kill_9_exactly_once() {
    survives_kill_9(Load::Order, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_across_processes_survives_kill_9_exactly_once() {
    survives_kill_9(Load::Spread, 120).await;
}

async fn survives_kill_9(load: Load, calls: usize) {
    let started = Instant::now();
    let seed = seed();
    let plan = chaos_plan(&mut XorShift(seed), calls);
    let chain = tokio::task::spawn_blocking(Chain::new).await.unwrap();
    let run = drive(&chain, load, calls, true, plan).await;
    assert_eq!(run.answers.len(), calls, "every call answered");
    // Each name's answers are the totals after each of its calls: exactly
    // 1..=n when each call added once, whatever the order.
    let mut seen: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (i, values) in &run.answers {
        let names = load.names(*i);
        assert_eq!(values.len(), names.len(), "call {i}: one total per name");
        for (name, value) in names.into_iter().zip(values) {
            seen.entry(name).or_default().push(*value);
        }
    }
    let names = load.all_names();
    let mut expected = Vec::new();
    for name in names {
        let mut values = seen.remove(name).unwrap_or_default();
        values.sort_unstable();
        let n = values.len() as i64;
        assert_eq!(values, (1..=n).collect::<Vec<_>>(), "{name}: each call added once");
        expected.push(n);
    }
    let totals = chain.settled_totals(names, |totals| totals == expected.as_slice()).await;
    assert_eq!(totals, expected, "Tally's totals for {names:?} count the distinct calls");
    let forwarded = chain.stop_relay_and_read_forwarded(names).await;
    let relayed = match load {
        Load::Order => expected.clone(),
        Load::Spread => vec![0; names.len()],
    };
    assert_eq!(forwarded, relayed, "Relay forwarded each order once");
    let kills = chain.kills();
    assert_eq!(kills.iter().sum::<usize>(), KILLS);
    assert!(kills.iter().all(|k| *k > 0), "each service killed at least once: {kills:?}");
    let cut_off = *chain.failures.borrow();
    assert!(cut_off > 0, "the kills must have cut calls off");
    println!(
        "chain kill -9 ({load:?}, seed {seed}): {calls} calls over {} processes, kills front/relay/tally {}/{}/{}, \
         {} attempts, {cut_off} cut off; totals {totals:?}, forwarded {forwarded:?}; {:.1} s",
        SERVICES.len(),
        kills[0],
        kills[1],
        kills[2],
        run.attempts,
        started.elapsed().as_secs_f64(),
    );
}

/// The negative control (spec §3): without keys every retry is a new call,
/// so a call that failed behind Front (Tally down) and was retried is
/// applied twice: once by the retry, once by Front's collector finishing
/// the failed call from its intent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_without_keys_over_count() {
    let calls = 100;
    let chain = tokio::task::spawn_blocking(Chain::new).await.unwrap();
    let run = drive(&chain, Load::Order, calls, false, vec![(calls / 3, Service::Tally)]).await;
    assert_eq!(run.answers.len(), calls, "every call answered");
    let cut_off = *chain.failures.borrow();
    assert!(cut_off > 0, "the kill must have cut calls off");
    let totals = chain.settled_totals(&ORDER_NAMES, |totals| totals.iter().sum::<i64>() > calls as i64).await;
    let applied: i64 = totals.iter().sum();
    assert!(applied > calls as i64, "retries without keys must over-count: {applied} applied for {calls} calls");
    assert!(applied <= run.attempts as i64, "no more effects than attempts: {applied} > {}", run.attempts);
    println!(
        "chain kill -9 without keys: {calls} calls, {} attempts, {cut_off} cut off, {applied} applied (over-count {})",
        run.attempts,
        applied - calls as i64
    );
}

#[test]
fn chain_server_rejects_bad_usage_with_exit_2() {
    let cases: [&[&str]; 4] = [
        &["--store", "unused"],
        &["--service", "front", "--store", "unused", "--peer", "Relay=127.0.0.1:1"],
        &["--service", "tally", "--store", "unused", "--peer", "Relay=127.0.0.1:1"],
        &["--service", "tally", "--store"],
    ];
    for args in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_chain-server")).args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("usage: chain-server --service front|relay|tally"), "{args:?}: {stderr}");
    }
}
