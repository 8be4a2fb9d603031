//! Exactly-once across services (`idl/chain.thrift`): a chain of three
//! (Front → Relay → Tally), a fan-out, and fire-and-forget, in process over
//! one store; and the crash-point matrix over the chain and the fan-out:
//! one [`CrashStore`] under all three services numbers every store request
//! any of them makes, the run is stopped at each (before and after it took
//! effect), and recovery (a collector pass and same-key retries on fresh
//! servers over the same data) must leave every effect applied once and
//! give every retry the same result.

use example_exactly_once::chain::{Chain, FrontClient, FrontOrderException, TallyClient, local_chain};
use mu2sls::testing::{CrashPhase, CrashStore};
use mu2sls::{CallError, Collector, DispatchRedriver, EngineConfig, MemoryStore, Peer, Store};

/// Far enough ahead that every intent is due and every lease expired.
const LATER_MS: u64 = 3_600_000;

fn config() -> EngineConfig {
    EngineConfig::default()
}

async fn tally_total<S: Store + Clone + 'static>(store: &S, name: &str) -> i64 {
    let tally = local_chain(store.clone(), config()).tally;
    Peer::local(tally).client::<TallyClient>(None).total(name).await.expect("total")
}

async fn forwarded<S: Store>(store: &S) -> i64 {
    let key = mu2sls::Key::from(("state", "Relay", "forwarded"));
    let found = store.get(&key).await.expect("read forwarded");
    found.map_or(0, |v| mu2sls::codec::decode::<mu2sls::codec::Binary, i64>(&v.value).expect("an i64"))
}

async fn intents<S: Store>(store: &S) -> usize {
    store.scan_prefix(&mu2sls::Key::from(("intent",)), mu2sls::Page::first(100)).await.expect("scan").len()
}

#[tokio::test]
async fn a_chain_of_three_runs_each_call_once() {
    let store = MemoryStore::new();
    let front = local_chain(store.clone(), config()).front;
    let first = Peer::local(front.clone()).client::<FrontClient>(Some("order-1")).order("apples", 5).await.unwrap();
    assert_eq!(first, 5);
    // A retry with the same key is answered from the record: nothing runs again.
    let retry = Peer::local(front.clone()).client::<FrontClient>(Some("order-1")).order("apples", 5).await.unwrap();
    assert_eq!(retry, 5);
    assert_eq!(tally_total(&store, "apples").await, 5);
    assert_eq!(forwarded(&store).await, 1);
    // A new key is a new call.
    let second = Peer::local(front.clone()).client::<FrontClient>(Some("order-2")).order("apples", 2).await.unwrap();
    assert_eq!(second, 7);
    // A callee's declared exception is the caller's recorded result.
    for _ in 0..2 {
        match Peer::local(front.clone()).client::<FrontClient>(Some("order-3")).order("apples", 0).await {
            Err(CallError::Exception(FrontOrderException::Refused(r))) => assert!(r.reason.contains("below 1")),
            other => panic!("expected Refused, got {other:?}"),
        }
    }
    assert_eq!(forwarded(&store).await, 2);
    assert_eq!(intents(&store).await, 0, "finished calls leave no intent");
}

#[tokio::test]
async fn a_fan_out_joins_in_order_and_runs_once() {
    let store = MemoryStore::new();
    let front = local_chain(store.clone(), config()).front;
    let names = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let client = || Peer::local(front.clone()).client::<FrontClient>(Some("spread-1"));
    assert_eq!(client().spread(&names, 2).await.unwrap(), vec![2, 2, 2]);
    assert_eq!(client().spread(&names, 2).await.unwrap(), vec![2, 2, 2]);
    for name in &names {
        assert_eq!(tally_total(&store, name).await, 2, "{name}");
    }
    assert_eq!(intents(&store).await, 0, "joined calls leave no intent");
}

#[tokio::test]
async fn fire_and_forget_runs_once_through_its_intent() {
    let store = MemoryStore::new();
    let front = local_chain(store.clone(), config()).front;
    Peer::local(front.clone()).client::<FrontClient>(Some("notify-1")).notify("pears", 3).await.unwrap();
    // The dropped call has not run: its intent waits for the collector.
    assert_eq!(tally_total(&store, "pears").await, 0);
    assert_eq!(intents(&store).await, 1);
    let collector = Collector::new(front.engine().clone(), DispatchRedriver::new(front.clone()));
    let now = front.engine().now_ms();
    let report = collector.run_once(now + LATER_MS).await.unwrap();
    assert_eq!((report.redriven, report.completed), (1, 1), "{report:?}");
    assert_eq!(tally_total(&store, "pears").await, 3);
    assert_eq!(intents(&store).await, 0);
    // Tally's own collector does not touch Front's intents; a second pass finds nothing.
    let again = collector.run_once(now + 2 * LATER_MS).await.unwrap();
    assert_eq!(again.redriven, 0);
}

/// A workflow the crash matrix runs: its root call, and its check.
trait Workflow {
    const NAME: &'static str;
    async fn call<S: Store + Clone + 'static>(store: &S) -> Result<Vec<i64>, String>;
    async fn check<S: Store + Clone + 'static>(store: &S, replies: &[Vec<i64>], at: &str);
}

struct Order;

impl Workflow for Order {
    const NAME: &'static str = "three-service chain";
    async fn call<S: Store + Clone + 'static>(store: &S) -> Result<Vec<i64>, String> {
        let front = local_chain(store.clone(), config()).front;
        let client = Peer::local(front).client::<FrontClient>(Some("crash-order"));
        client.order("plums", 4).await.map(|t| vec![t]).map_err(|e| e.to_string())
    }
    async fn check<S: Store + Clone + 'static>(store: &S, replies: &[Vec<i64>], at: &str) {
        assert!(replies.iter().all(|r| r == &vec![4]), "{at}: replies {replies:?}");
        assert_eq!(tally_total(store, "plums").await, 4, "{at}: applied once");
        assert_eq!(forwarded(store).await, 1, "{at}: relayed once");
    }
}

struct Spread;

impl Workflow for Spread {
    const NAME: &'static str = "fan-out of three";
    async fn call<S: Store + Clone + 'static>(store: &S) -> Result<Vec<i64>, String> {
        let front = local_chain(store.clone(), config()).front;
        let client = Peer::local(front).client::<FrontClient>(Some("crash-spread"));
        let names = vec!["x".to_owned(), "y".to_owned(), "z".to_owned()];
        client.spread(&names, 3).await.map_err(|e| e.to_string())
    }
    async fn check<S: Store + Clone + 'static>(store: &S, replies: &[Vec<i64>], at: &str) {
        assert!(replies.iter().all(|r| r == &vec![3, 3, 3]), "{at}: replies {replies:?}");
        for name in ["x", "y", "z"] {
            assert_eq!(tally_total(store, name).await, 3, "{at}: {name} applied once");
        }
    }
}

/// Recovers after a crash: a collector pass of every service (Front
/// re-drives the root), then two same-key retries.
async fn recover<W: Workflow, S: Store + Clone + 'static>(store: &S) -> Vec<Vec<i64>> {
    let Chain { front, relay, tally } = local_chain(store.clone(), config());
    let now = front.engine().now_ms();
    Collector::new(front.engine().clone(), DispatchRedriver::new(front.clone()))
        .run_once(now + LATER_MS)
        .await
        .unwrap();
    Collector::new(relay.engine().clone(), DispatchRedriver::new(relay.clone()))
        .run_once(now + LATER_MS)
        .await
        .unwrap();
    Collector::new(tally.engine().clone(), DispatchRedriver::new(tally.clone()))
        .run_once(now + LATER_MS)
        .await
        .unwrap();
    let mut replies = Vec::new();
    for _ in 0..2 {
        replies.push(W::call(store).await.expect("a retry after recovery gets the result"));
    }
    replies
}

#[allow(clippy::print_stderr, reason = "the crash-point count is part of the test's report")]
async fn crash_matrix<W: Workflow>() -> u64 {
    let counting = CrashStore::counting(MemoryStore::new());
    let reply = W::call(&counting).await.expect("uncrashed run");
    let n = counting.requests();
    W::check(&counting, &[reply], "uncrashed").await;
    let mut covered = 0;
    for k in 1..=n {
        for phase in [CrashPhase::Before, CrashPhase::After] {
            let at = format!("{} crashed at request {k} of {n}, {phase:?}", W::NAME);
            let inner = MemoryStore::new();
            let crashing = CrashStore::crashing(inner.clone(), k, phase);
            let outcome = W::call(&crashing).await;
            assert!(crashing.crashed() && outcome.is_err(), "{at}: the crash must stop the run ({outcome:?})");
            drop(crashing);
            let replies = recover::<W, _>(&inner).await;
            W::check(&inner, &replies, &at).await;
            assert_eq!(intents(&inner).await, 0, "{at}: every intent ends done");
            covered += 1;
        }
    }
    eprintln!("crash points covered: {}: {covered} ({n} requests x 2 phases)", W::NAME);
    covered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_points_of_a_three_service_chain() {
    assert!(crash_matrix::<Order>().await > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_points_of_a_fan_out() {
    assert!(crash_matrix::<Spread>().await > 0);
}

#[test]
fn peers_are_reached_by_their_idl_name() {
    use mu2sls::ServiceClient as _;
    assert_eq!((FrontClient::SERVICE, TallyClient::SERVICE), ("Front", "Tally"));
}
