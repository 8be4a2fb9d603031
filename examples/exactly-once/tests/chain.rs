//! Exactly-once across services (`idl/chain.thrift`): a chain of three
//! (Front → Relay → Tally), a fan-out, and fire-and-forget, in process over
//! one store; and the crash-point matrix over the chain and the fan-out:
//! one [`CrashStore`] under all three services numbers every store request
//! any of them makes, the run is stopped at each (before and after it took
//! effect), and recovery (a collector pass and same-key retries on fresh
//! servers over the same data) must leave every effect applied once and
//! give every retry the same result.

use std::sync::Arc;

use example_exactly_once::chain::{
    Chain, FrontClient, FrontOrderException, Relay, RelayClient, RelayDurableServer, Tally, TallyClient,
    TallyDurableServer, forwarded_key, local_chain,
};
use example_exactly_once::gate::Gated;
use mu2sls::testing::{CrashPhase, CrashStore};
use mu2sls::{
    CallError, CallbackKey, Collector, DispatchRedriver, Engine, EngineConfig, MemoryStore, Peer, Store, SystemClock,
};

/// Far enough ahead that every intent is due and every lease expired.
const LATER_MS: u64 = 3_600_000;

fn config() -> EngineConfig {
    EngineConfig::default()
}

async fn tally_total<S: Store + Clone + 'static>(store: &S, name: &str) -> i64 {
    let tally = local_chain(store.clone(), config()).tally;
    Peer::local(tally).client::<TallyClient>(None).total(name).await.expect("total")
}

async fn forwarded<S: Store>(store: &S, name: &str) -> i64 {
    let key = mu2sls::Key::from(("state", "Relay", forwarded_key(name).as_str()));
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
    assert_eq!(forwarded(&store, "apples").await, 1);
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
    assert_eq!(forwarded(&store, "apples").await, 2);
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
        assert_eq!(forwarded(store, "plums").await, 1, "{at}: relayed once");
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

fn keyed() -> EngineConfig {
    config().callback_keys(CallbackKey::new("k1", b"thirty-two bytes of test secret!".to_vec()), None)
}

/// Relay and Tally on stores of their own, over TCP: Tally (its calls
/// counted) and a Relay server that takes callbacks at `relay_addr`.
struct Apart {
    relay_store: MemoryStore,
    relay_addr: String,
    tally_addr: String,
    tally_calls: Arc<std::sync::atomic::AtomicUsize>,
    _servers: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
}

async fn apart() -> Apart {
    apart_with(false).await
}

/// [`apart`], with the Relay server behind a `Multiplexer` (as `Relay`,
/// beside another service) if `multiplexed`.
async fn apart_with(multiplexed: bool) -> Apart {
    let (relay_store, tally_store) = (MemoryStore::new(), MemoryStore::new());
    let tally_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tally_addr = tally_listener.local_addr().unwrap().to_string();
    let relay_addr = relay_listener.local_addr().unwrap().to_string();
    let tally = Gated::open(TallyDurableServer::new(Tally, Engine::new("Tally", tally_store, SystemClock, keyed())));
    let tally_calls = tally.arrivals();
    let relay = relay_server(&relay_store, &relay_addr, &tally_addr);
    let forever = std::future::pending::<()>;
    let servers = vec![
        tokio::spawn(async move { mu2sls::Server::builder().build().serve(tally_listener, tally, forever()).await }),
        tokio::spawn(async move {
            let server = mu2sls::Server::builder().build();
            if multiplexed {
                let other =
                    TallyDurableServer::new(Tally, Engine::new("Tally", MemoryStore::new(), SystemClock, keyed()));
                let mux = mu2sls::Multiplexer::new().service("Other", other).service("Relay", relay);
                server.serve(relay_listener, mux, forever()).await
            } else {
                server.serve(relay_listener, relay, forever()).await
            }
        }),
    ];
    Apart { relay_store, relay_addr, tally_addr, tally_calls, _servers: servers }
}

/// A Relay server on `store` (any process of it) whose callbacks go to
/// `callback` and whose Tally is at `tally_addr`.
fn relay_server<S: Store + Clone + 'static>(
    store: &S,
    callback: &str,
    tally_addr: &str,
) -> RelayDurableServer<Relay, S, SystemClock> {
    let engine = Engine::new("Relay", store.clone(), SystemClock, keyed().callback_address(callback));
    engine.add_peer("Tally", Peer::remote(mu2sls::Channel::new(tally_addr)));
    RelayDurableServer::new(Relay, engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_crashed_after_its_callee_finished_gets_the_result_by_callback() {
    crashed_caller_gets_its_result_by_callback(|addr| addr.to_owned()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_also_go_over_http() {
    // The caller's server answers HTTP on the same port.
    crashed_caller_gets_its_result_by_callback(|addr| format!("http://{addr}/")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_reach_a_caller_behind_a_multiplexer() {
    crashed_caller_gets_its_result_by_callback_with(true, |addr| addr.to_owned()).await;
}

async fn crashed_caller_gets_its_result_by_callback(callback: impl Fn(&str) -> String) {
    crashed_caller_gets_its_result_by_callback_with(false, callback).await;
}

async fn crashed_caller_gets_its_result_by_callback_with(multiplexed: bool, callback: impl Fn(&str) -> String) {
    // How many store requests one forward makes, on a setup of its own.
    let learn = apart_with(multiplexed).await;
    let counting = CrashStore::counting(learn.relay_store.clone());
    let relay = Arc::new(relay_server(&counting, &callback(&learn.relay_addr), &learn.tally_addr));
    Peer::local(relay).client::<RelayClient>(Some("learn")).forward("figs", 5).await.unwrap();
    let n = counting.requests();

    // The process that calls Tally crashes just before it records the
    // reply (its last two requests: the step record, the Done batch).
    let world = apart_with(multiplexed).await;
    let crashing = CrashStore::crashing(world.relay_store.clone(), n - 1, CrashPhase::Before);
    let relay = Arc::new(relay_server(&crashing, &callback(&world.relay_addr), &world.tally_addr));
    let cut = Peer::local(relay).client::<RelayClient>(Some("fwd-1")).forward("figs", 5).await;
    assert!(crashing.crashed() && cut.is_err(), "the crash stops the call: {cut:?}");
    assert_eq!(world.tally_calls.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Restarted, the caller finds the callee's result in its log (the
    // callback put it there) and does not call again.
    let restarted = Arc::new(relay_server(&world.relay_store, &callback(&world.relay_addr), &world.tally_addr));
    let total = Peer::local(restarted).client::<RelayClient>(Some("fwd-1")).forward("figs", 5).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(world.tally_calls.load(std::sync::atomic::Ordering::SeqCst), 1, "Tally was not called again");
}

#[tokio::test]
async fn a_callback_with_a_bad_signature_is_refused_and_stores_nothing() {
    let world = apart().await;
    let id = "Relay.forward:nobody/1";
    let message = bytes::Bytes::from_static(
        b"\x80\x01\x00\x02\x00\x00\x00\x03add\x00\x00\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x07\x00",
    );
    let stranger = CallbackKey::new("k1", b"not the secret".to_vec());
    for signature in [stranger.sign(id, &message), String::new(), "v1;kid=k1;sig=00".to_owned()] {
        assert!(!send_callback(&world.relay_addr, id, &message, &signature).await, "{signature:?} is refused");
    }
    let logged = world.relay_store.scan_prefix(&mu2sls::Key::from(("log",)), mu2sls::Page::first(10)).await.unwrap();
    assert!(logged.is_empty(), "nothing stored: {logged:?}");
}

/// Sends a callback for `id` carrying `message` with `signature` to
/// `addr`; whether it was taken (a REPLY) or refused (an EXCEPTION).
async fn send_callback(addr: &str, id: &str, message: &bytes::Bytes, signature: &str) -> bool {
    let channel = mu2sls::Channel::builder(addr)
        .framing(mu2sls::Framing::Header)
        .header("mu2sls-call-id", id)
        .header("mu2sls-step-fp", format!("{:032x}", 7))
        .header("mu2sls-signature", signature)
        .build();
    let reply = channel.call_raw(message.clone()).await.unwrap().expect("an answer");
    let head = mu2sls::codec::Reader::<mu2sls::codec::Binary>::new(&reply).message_begin().unwrap();
    head.kind == mu2sls::codec::MessageType::Reply
}

#[tokio::test]
async fn genuine_callbacks_change_nothing_once_the_step_has_its_result_or_the_caller_is_not_running() {
    let world = apart().await;
    let relay = Arc::new(relay_server(&world.relay_store, &world.relay_addr, &world.tally_addr));
    let client = || Peer::local(relay.clone()).client::<RelayClient>(Some("done-1"));
    assert_eq!(client().forward("limes", 5).await.unwrap(), 5);
    let step = mu2sls::Key::from(("log", "Relay.forward:done-1", 1u64));
    let before = world.relay_store.get(&step).await.unwrap().expect("the call step is logged");
    // A genuine callback claiming another result: taken (acknowledged),
    // but the step has its result and the caller is done: nothing changes.
    let key = CallbackKey::new("k1", b"thirty-two bytes of test secret!".to_vec());
    let mut other = b"\x80\x01\x00\x02\x00\x00\x00\x03add\x00\x00\x00\x00\x0a\x00\x00".to_vec();
    other.extend_from_slice(&99i64.to_be_bytes());
    other.push(0);
    let other = bytes::Bytes::from(other);
    for _ in 0..2 {
        assert!(
            send_callback(
                &world.relay_addr,
                "Relay.forward:done-1/1",
                &other,
                &key.sign("Relay.forward:done-1/1", &other)
            )
            .await
        );
    }
    let after = world.relay_store.get(&step).await.unwrap().expect("still logged");
    assert_eq!((after.version, after.value), (before.version, before.value), "the step record is unchanged");
    assert_eq!(client().forward("limes", 5).await.unwrap(), 5, "the recorded result stands");
    // A caller with no record: acknowledged and dropped.
    assert!(
        send_callback(&world.relay_addr, "Relay.forward:ghost/1", &other, &key.sign("Relay.forward:ghost/1", &other))
            .await
    );
    let ghost = world.relay_store.get(&mu2sls::Key::from(("log", "Relay.forward:ghost", 1u64))).await.unwrap();
    assert!(ghost.is_none(), "nothing stored for a caller that does not run");
}

/// Polls `done` until it holds (bounded: the state comes from a timer).
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_waiting_on_a_slow_callee_suspends_and_resumes_on_its_callback() {
    let tally_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tally_addr = tally_listener.local_addr().unwrap().to_string();
    let relay_addr = relay_listener.local_addr().unwrap().to_string();
    let tally =
        Gated::closed(TallyDurableServer::new(Tally, Engine::new("Tally", MemoryStore::new(), SystemClock, keyed())));
    let (gate, tally_calls) = (tally.opener(), tally.arrivals());
    let config = keyed().callback_address(relay_addr.clone()).suspend_after(std::time::Duration::from_millis(10));
    let engine = Engine::new("Relay", MemoryStore::new(), SystemClock, config);
    engine.add_peer("Tally", Peer::remote(mu2sls::Channel::new(tally_addr)));
    let relay = Arc::new(RelayDurableServer::new(Relay, engine));
    let forever = std::future::pending::<()>;
    let served = relay.clone();
    tokio::spawn(async move { mu2sls::Server::builder().build().serve(tally_listener, tally, forever()).await });
    tokio::spawn(async move { mu2sls::Server::builder().build().serve(relay_listener, served, forever()).await });

    let client = Peer::local(relay.clone()).client::<RelayClient>(Some("slow-1"));
    let call = tokio::spawn(async move { client.forward("dates", 6).await });
    // The callee holds the call: the caller's handler is dropped, suspended.
    until("the caller suspends", || relay.engine().suspended_calls() == 1).await;
    assert_eq!(tally_calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(!call.is_finished());
    // The callee finishes; its callback wakes the caller, which replays.
    gate.add_permits(1);
    assert_eq!(call.await.unwrap().unwrap(), 6);
    assert_eq!(relay.engine().suspended_calls(), 0);
    assert_eq!(tally_calls.load(std::sync::atomic::Ordering::SeqCst), 1, "the callee was not called again");
}

#[tokio::test]
async fn fire_and_forget_to_a_service_on_another_store_is_finished_by_the_callers_collector() {
    let (front_store, tally_store) = (MemoryStore::new(), MemoryStore::new());
    let tally =
        Arc::new(TallyDurableServer::new(Tally, Engine::new("Tally", tally_store.clone(), SystemClock, config())));
    let front = Arc::new(example_exactly_once::chain::FrontDurableServer::new(
        example_exactly_once::chain::Front,
        Engine::new("Front", front_store.clone(), SystemClock, config()),
    ));
    front.engine().add_peer("Tally", Peer::local(tally.clone()));
    Peer::local(front.clone()).client::<FrontClient>(Some("notify-2")).notify("kiwis", 4).await.unwrap();
    assert_eq!(intents(&front_store).await, 1, "the dropped call's intent is the caller's");
    let collector = Collector::new(front.engine().clone(), DispatchRedriver::new(front.clone()));
    let report = collector.run_once(front.engine().now_ms() + LATER_MS).await.unwrap();
    assert_eq!((report.redriven, report.completed), (1, 1), "{report:?}");
    assert_eq!(Peer::local(tally).client::<TallyClient>(None).total("kiwis").await.unwrap(), 4);
    assert_eq!(intents(&front_store).await, 0, "recording the result deleted the intent");
    // The caller's step holds the result: a second pass has nothing to do.
    let again = collector.run_once(front.engine().now_ms() + 2 * LATER_MS).await.unwrap();
    assert_eq!(again.redriven, 0);
}

#[tokio::test]
async fn a_call_of_a_service_without_a_peer_fails_clearly_and_records_nothing() {
    let store = MemoryStore::new();
    let front = Arc::new(example_exactly_once::chain::FrontDurableServer::new(
        example_exactly_once::chain::Front,
        Engine::new("Front", store.clone(), SystemClock, config()),
    ));
    match Peer::local(front.clone()).client::<FrontClient>(Some("lonely")).order("figs", 1).await {
        Err(CallError::Application(e)) => assert!(e.message.contains("no peer for service \"Relay\""), "{e:?}"),
        other => panic!("expected an application exception, got {other:?}"),
    }
    // Not a result: once the peer is there, the same call (same key) runs.
    let chain = local_chain(store.clone(), config());
    front.engine().add_peer("Relay", Peer::local(chain.relay.clone()));
    assert_eq!(Peer::local(front).client::<FrontClient>(Some("lonely")).order("figs", 1).await.unwrap(), 1);
}
