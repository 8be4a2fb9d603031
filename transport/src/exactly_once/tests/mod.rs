//! Tests of exactly-once execution: call ids, the engine's error paths, the
//! crash-point harness (`crash.rs`) and concurrent executions and collectors
//! (`interleave.rs`).

mod crash;
mod interleave;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;

use crate::codec::{Binary, Decode, decode};
use crate::store::{Key, MemoryStore, Page, Store};

use super::*;

pub(super) const SERVICE: &str = "Bank";
pub(super) const T0: u64 = 1_700_000_000_000;

/// Horizons small enough to step over with the mock clock.
pub(super) fn config() -> EngineConfig {
    EngineConfig::default()
        .retry_horizon(Duration::from_secs(3600))
        .tombstone_life(Duration::from_secs(7200))
        .skew_margin(Duration::from_secs(60))
        .redrive_after(Duration::from_secs(60))
        .lease(Duration::from_secs(30))
        .max_attempts(3)
        .gc_chunk(2)
        // Most tests look at step mode's records; the leaf path has its own.
        .leaf_fast_path(false)
}

/// Moves past the re-drive delay and any lease taken before.
pub(super) fn past_redrive(clock: &ManualClock) {
    clock.advance(Duration::from_secs(61));
}

pub(super) async fn state<S: Store, T: Decode>(store: &S, key: &str) -> Option<T> {
    let found = store.get(&Key::from(("state", SERVICE, key))).await.expect("read state");
    found.map(|v| decode::<Binary, T>(&v.value).expect("state value decodes"))
}

pub(super) async fn keys_under<S: Store>(store: &S, prefix: &str) -> Vec<Key> {
    let found = store.scan_prefix(&Key::from((prefix,)), Page::first(10_000)).await.expect("scan");
    found.into_iter().map(|(k, _)| k).collect()
}

/// A counter handler: one `update` step, one `put` step.
pub(super) async fn add_one(mut ctx: Ctx) -> Result<Bytes, EngineError> {
    let n: i64 = ctx
        .update("hits", |old: Option<i64>| {
            let n = old.unwrap_or(0) + 1;
            (n, n)
        })
        .await?;
    ctx.put("last", &ctx.call_id().to_string()).await?;
    Ok(Bytes::from(n.to_string()))
}

fn memory_engine(clock: &ManualClock) -> Engine<MemoryStore, ManualClock> {
    Engine::new(SERVICE, MemoryStore::new(), clock.clone(), config())
}

fn root(key: &str) -> CallMeta {
    CallMeta::root(CallId::root(SERVICE, "add", key), T0)
}

#[test]
fn call_ids_escape_separators_and_parse_back() {
    let id = CallId::root("a.b", "m:n", "k/1%\u{e9} x");
    assert_eq!(id.as_str(), "a%2Eb.m%3An:k%2F1%25%C3%A9%20x");
    assert_eq!(id.service(), "a.b");
    assert_eq!(id.method(), "m:n");
    assert_eq!(id.key(), "k/1%\u{e9} x".as_bytes());
    let child = id.child(0).child(12);
    assert_eq!(child.as_str().parse::<CallId>().unwrap(), child);
    assert_eq!(child.caller(), Some((id.child(0), 12)));
    assert!(!child.is_root());
    for bad in ["", "svc", ".m:k", "s.:k", "s.m:k/", "s.m:k/01", "s.m:k/x", "s.m:%2e", "s.m:%41", "s.m:a b", "s.m:k:z"]
    {
        assert!(bad.parse::<CallId>().is_err(), "{bad:?} must be rejected");
    }
    let error = "s.m:%41".parse::<CallId>().unwrap_err();
    assert_eq!(error.offset, 4);
    assert_eq!(error.problem, CallIdProblem::BadEscape);
}

#[test]
fn fresh_ids_are_uuid_v7_at_the_given_time() {
    let id = CallId::fresh("Svc", "m", T0);
    let key = String::from_utf8(id.key()).unwrap();
    let uuid = uuid::Uuid::parse_str(&key).unwrap();
    assert_eq!(uuid.get_version_num(), 7);
    let (secs, nanos) = uuid.get_timestamp().unwrap().to_unix();
    assert_eq!(secs * 1000 + u64::from(nanos) / 1_000_000, T0);
}

proptest! {
    #[test]
    fn any_root_id_round_trips(service in "[ -~]{1,8}", method in "[ -~\u{80}-\u{10ffff}]{1,8}", key in proptest::collection::vec(any::<u8>(), 0..12), steps in proptest::collection::vec(any::<u64>(), 0..3)) {
        let mut id = CallId::root(&service, &method, &key);
        for step in &steps {
            id = id.child(*step);
        }
        let parsed: CallId = id.as_str().parse().unwrap();
        prop_assert_eq!(&parsed, &id);
        prop_assert_eq!(parsed.service(), service);
        prop_assert_eq!(parsed.method(), method);
        prop_assert_eq!(parsed.key(), key);
        prop_assert!(id.as_str().bytes().all(|b| (0x21..=0x7E).contains(&b)));
    }
}

#[tokio::test]
async fn a_different_request_under_a_used_id_is_a_conflict() {
    let clock = ManualClock::new(T0);
    let engine = memory_engine(&clock);
    let meta = root("c1");
    engine.serve(&meta, &Request::new("add", "a"), add_one).await.unwrap();
    let error = engine.serve(&meta, &Request::new("add", "b"), add_one).await.unwrap_err();
    assert!(matches!(&error, EngineError::CallIdConflict { call } if call == meta.call_id()), "{error}");
    assert_eq!(state::<_, i64>(engine.store(), "hits").await, Some(1));
}

#[tokio::test]
async fn failures_and_panics_are_not_results() {
    let clock = ManualClock::new(T0);
    let engine = memory_engine(&clock);
    let meta = root("f1");
    let request = Request::new("add", "x");
    let error = engine
        .serve(&meta, &request, |mut ctx| async move {
            let n: i64 = ctx.update("hits", |old: Option<i64>| (old.unwrap_or(0) + 1, old.unwrap_or(0) + 1)).await?;
            Err(ctx.fail(format!("downstream unavailable after hit {n}")))
        })
        .await
        .unwrap_err();
    assert!(matches!(error, EngineError::HandlerFailed { .. }) && error.is_retryable(), "{error}");
    let error = engine.serve(&meta, &request, |_ctx| async { panic!("boom") }).await.unwrap_err();
    assert!(matches!(&error, EngineError::HandlerPanicked { message, .. } if message == "boom"), "{error}");
    // The retry replays step 0 (the increment) instead of repeating it.
    let reply = engine.serve(&meta, &request, add_one).await.unwrap();
    assert_eq!(reply, Bytes::from("1"));
    assert_eq!(state::<_, i64>(engine.store(), "hits").await, Some(1));
    assert!(keys_under(engine.store(), "intent").await.is_empty());
}

#[tokio::test]
async fn a_replay_that_diverges_stops_before_any_effect_and_parks_the_intent() {
    let clock = ManualClock::new(T0);
    let engine = memory_engine(&clock);
    let meta = root("d1");
    let request = Request::new("add", "x");
    let error = engine
        .serve(&meta, &request, |mut ctx| async move {
            ctx.put("a", &1i64).await?;
            Err(ctx.fail("crash after step 0"))
        })
        .await
        .unwrap_err();
    assert!(matches!(error, EngineError::HandlerFailed { .. }));
    let error = engine
        .serve(&meta, &request, |mut ctx| async move {
            ctx.put("a", &2i64).await?;
            Ok(Bytes::new())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&error, EngineError::Divergence { call, step: 0, issued: StepKind::Put, logged: StepKind::Put } if call == meta.call_id()),
        "{error}"
    );
    assert_eq!(state::<_, i64>(engine.store(), "a").await, Some(1));
    // Parked: the collector leaves it alone.
    past_redrive(&clock);
    let collector = Collector::new(engine.clone(), Recorder::new(engine.clone()));
    let report = collector.run_once(clock.now_ms()).await.unwrap();
    assert_eq!(report.redriven, 0);
    assert_eq!(keys_under(engine.store(), "intent").await.len(), 1);
}

#[tokio::test]
async fn deadlines_and_expired_ids_never_start() {
    let clock = ManualClock::new(T0);
    let engine = memory_engine(&clock);
    let late = root("late").with_deadline(T0 - 1);
    let error = engine.serve(&late, &Request::new("add", ""), add_one).await.unwrap_err();
    assert!(matches!(error, EngineError::DeadlinePassed { deadline_ms, .. } if deadline_ms == T0 - 1), "{error}");
    let window = u64::try_from(config().expiry_window().as_millis()).unwrap();
    let old = CallMeta::root(CallId::root(SERVICE, "add", "old"), T0 - window);
    let error = engine.serve(&old, &Request::new("add", ""), add_one).await.unwrap_err();
    assert!(matches!(error, EngineError::ExpiredCallId { .. }) && !error.is_retryable(), "{error}");
    assert!(keys_under(engine.store(), "call").await.is_empty());
    assert_eq!(state::<_, i64>(engine.store(), "hits").await, None);
}

#[tokio::test]
async fn collector_parks_after_max_attempts_and_never_drops() {
    let clock = ManualClock::new(T0);
    let engine = memory_engine(&clock);
    let meta = root("p1");
    let fail = |ctx: Ctx| async move { Err(ctx.fail("always")) };
    engine.serve(&meta, &Request::new("add", ""), fail).await.unwrap_err();
    let collector = Collector::new(engine.clone(), Failing);
    let mut redriven = 0;
    let mut parked = Vec::new();
    for _ in 0..20 {
        clock.advance(Duration::from_secs(3600));
        let report = collector.run_once(clock.now_ms()).await.unwrap();
        redriven += report.redriven;
        parked.extend(report.parked);
    }
    assert_eq!(redriven, 3);
    assert_eq!(parked, vec![meta.call_id().clone()]);
    assert_eq!(keys_under(engine.store(), "intent").await.len(), 1);
}

#[tokio::test]
async fn gc_deletes_exactly_its_own_log_prefix() {
    // Beldi B8: GC of `t1` must not touch `t10`.
    let clock = ManualClock::new(T0);
    let engine = memory_engine(&clock);
    engine.serve(&root("t1"), &Request::new("add", ""), add_one).await.unwrap();
    clock.advance(Duration::from_secs(1800));
    engine.serve(&root("t10"), &Request::new("add", ""), add_one).await.unwrap();
    clock.advance(Duration::from_secs(1801 + 1));
    let report = engine.collect_garbage(clock.now_ms()).await.unwrap();
    assert_eq!((report.tombstoned, report.log_entries_deleted), (1, 2));
    let logs = keys_under(engine.store(), "log").await;
    assert_eq!(logs.len(), 2);
    assert!(logs.iter().all(|k| k.starts_with(&Key::from(("log", root("t10").call_id().as_str())))));
}

/// A re-driver serving the counter handler again and recording replies.
#[derive(Clone)]
pub(super) struct Recorder<S, C> {
    engine: Engine<S, C>,
    pub(super) replies: Arc<Mutex<Vec<Bytes>>>,
    pub(super) calls: Arc<AtomicUsize>,
}

impl<S: Store + 'static, C: Clock> Recorder<S, C> {
    pub(super) fn new(engine: Engine<S, C>) -> Self {
        Recorder { engine, replies: Arc::default(), calls: Arc::default() }
    }
}

impl<S: Store + 'static, C: Clock> Redriver for Recorder<S, C> {
    async fn redrive(&self, intent: Intent) -> Result<Bytes, EngineError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let reply = self.engine.serve(intent.meta(), intent.request(), add_one).await?;
        self.replies.lock().unwrap().push(reply.clone());
        Ok(reply)
    }
}

struct Failing;

impl Redriver for Failing {
    async fn redrive(&self, intent: Intent) -> Result<Bytes, EngineError> {
        Err(EngineError::HandlerFailed { call: intent.meta().call_id().clone(), source: "still failing".into() })
    }
}

/// A map handler: inserts an entry named after the call, then lists the map.
async fn follow(mut ctx: Ctx) -> Result<Bytes, EngineError> {
    let who = String::from_utf8_lossy(&ctx.call_id().key()).into_owned();
    let mut followers = ctx.map::<i64>("f");
    let count = followers.update("count", |old: Option<i64>| (old.unwrap_or(0) + 1, ())).await;
    count?;
    followers.insert(&who, &1).await?;
    let entries = followers.entries(100).await?;
    Ok(Bytes::from(entries.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")))
}

#[tokio::test]
async fn map_entries_are_keys_of_their_own_and_scans_are_logged() {
    let clock = ManualClock::new(T0);
    let engine = memory_engine(&clock);
    // A plain key and a map with the same name, and a map whose name extends it.
    let setup = |mut ctx: Ctx| async move {
        ctx.put("f", &99i64).await?;
        ctx.map::<i64>("f2").insert("x", &5).await?;
        Ok(Bytes::new())
    };
    engine.serve(&root("setup"), &Request::new("add", Bytes::new()), setup).await.unwrap();
    let first = engine.serve(&root("bob"), &Request::new("add", Bytes::new()), follow).await.unwrap();
    assert_eq!(first, Bytes::from("bob=1,count=1"));
    // Entries are separate store entries under ("map", service, name).
    let keys = keys_under(engine.store(), "map").await;
    assert_eq!(
        keys,
        vec![
            Key::from(("map", SERVICE, "f", "bob")),
            Key::from(("map", SERVICE, "f", "count")),
            Key::from(("map", SERVICE, "f2", "x")),
        ]
    );
    engine.serve(&root("carol"), &Request::new("add", Bytes::new()), follow).await.unwrap();

    // A replay of bob's call (its Done record gone, as after a crash before
    // Done) adopts the logged scan: it does not see carol.
    let call = Key::from(("call", root("bob").call_id().as_str()));
    let current = engine.store().get(&call).await.unwrap().unwrap();
    let mut record = super::record::CallRecord::decode(&current.value).unwrap();
    record.status = super::record::CallStatus::Running { owner: 0, lease_expiry_ms: 0 };
    let batch = crate::store::Batch::new().put(call.clone(), record.encode());
    engine.store().apply(batch).await.unwrap();
    let replay = engine.serve(&root("bob"), &Request::new("add", Bytes::new()), follow).await.unwrap();
    assert_eq!(replay, Bytes::from("bob=1,count=1"), "the replay must see the logged entries");
    let count: Option<i64> = {
        let found = engine.store().get(&Key::from(("map", SERVICE, "f", "count"))).await.unwrap();
        found.map(|v| decode::<Binary, i64>(&v.value).unwrap())
    };
    assert_eq!(count, Some(2), "each call's update applied once");
}

fn leaf_engine(clock: &ManualClock, store: MemoryStore) -> Engine<MemoryStore, ManualClock> {
    Engine::new(SERVICE, store, clock.clone(), config().leaf_fast_path(true))
}

#[tokio::test]
async fn a_leaf_call_commits_its_effects_and_result_in_one_batch() {
    let clock = ManualClock::new(T0);
    let counting = crash::CrashStore::counting(MemoryStore::new());
    let engine = Engine::new(SERVICE, counting.clone(), clock.clone(), config().leaf_fast_path(true));
    let reply = engine.serve(&root("leaf"), &Request::new("add", Bytes::new()), add_one).await.unwrap();
    assert_eq!(reply, Bytes::from("1"));
    // The update's read and the commit, which is conditioned on the call
    // having no records (they are not read first).
    assert_eq!(counting.requests(), 2, "one read of the key, one write");
    for prefix in ["log", "intent"] {
        assert!(keys_under(engine.store(), prefix).await.is_empty(), "a leaf logs no {prefix}");
    }
    let retry = engine.serve(&root("leaf"), &Request::new("add", Bytes::new()), add_one).await.unwrap();
    assert_eq!(retry, reply);
    assert_eq!(state::<_, i64>(engine.store(), "hits").await, Some(1));
}

#[tokio::test]
async fn a_leaf_that_keeps_conflicting_runs_in_step_mode() {
    let clock = ManualClock::new(T0);
    let memory = MemoryStore::new();
    let engine = leaf_engine(&clock, memory.clone());
    let runs = Arc::new(AtomicUsize::new(0));
    // Every leaf run sees "hits" change under it (a concurrent writer).
    let handler = |mut ctx: Ctx| {
        let (runs, memory) = (runs.clone(), memory.clone());
        async move {
            let n: i64 = ctx.update("hits", |old: Option<i64>| (old.unwrap_or(0) + 1, old.unwrap_or(0) + 1)).await?;
            if runs.fetch_add(1, Ordering::SeqCst) < 3 {
                let other = crate::store::Batch::new()
                    .put(Key::from(("state", SERVICE, "hits")), crate::codec::encode::<Binary, i64>(&100));
                memory.apply(other).await.unwrap();
            }
            Ok(Bytes::from(n.to_string()))
        }
    };
    let reply = engine.serve(&root("busy"), &Request::new("add", Bytes::new()), handler).await.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 4, "three leaf attempts, then step mode");
    assert_eq!(reply, Bytes::from("101"));
    assert_eq!(state::<_, i64>(&memory, "hits").await, Some(101), "the step-mode run applied once");
    assert!(!keys_under(&memory, "log").await.is_empty(), "step mode logs its steps");
}

#[tokio::test]
async fn a_leaf_that_scans_runs_in_step_mode() {
    let clock = ManualClock::new(T0);
    let engine = leaf_engine(&clock, MemoryStore::new());
    let first = engine.serve(&root("bob"), &Request::new("add", Bytes::new()), follow).await.unwrap();
    assert_eq!(first, Bytes::from("bob=1,count=1"));
    let second = engine.serve(&root("carol"), &Request::new("add", Bytes::new()), follow).await.unwrap();
    assert_eq!(second, Bytes::from("bob=1,carol=1,count=2"));
}

#[tokio::test]
async fn external_calls_run_until_one_succeeds_with_one_key_and_replays_adopt_the_result() {
    for leaf in [false, true] {
        let engine = Engine::new(SERVICE, MemoryStore::new(), ManualClock::new(T0), config().leaf_fast_path(leaf));
        let meta = CallMeta::root(CallId::root(SERVICE, "charge", "c-1"), T0);
        let request = Request::new("charge", Bytes::from_static(b"30"));
        let keys = Arc::new(Mutex::new(Vec::<String>::new()));
        // The external service fails once, then answers.
        let attempts = Arc::new(AtomicUsize::new(0));
        let crashed = Arc::new(AtomicUsize::new(0));
        let handler = |mut ctx: Ctx| {
            let (keys, attempts, crashed) = (keys.clone(), attempts.clone(), crashed.clone());
            async move {
                let charged = ctx
                    .external(|key| async move {
                        keys.lock().unwrap().push(key);
                        match attempts.fetch_add(1, Ordering::SeqCst) {
                            0 => Err("payment service unavailable"),
                            _ => Ok(30i64),
                        }
                    })
                    .await?;
                let charged = charged.map_err(|e| ctx.fail(e))?;
                // After the external call, the handler fails once more:
                // the retry must not call the external service again.
                if crashed.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(ctx.fail("crash after the external call"));
                }
                Ok(Bytes::from(charged.to_string()))
            }
        };
        let first = engine.serve(&meta, &request, handler).await;
        assert!(matches!(first, Err(EngineError::HandlerFailed { .. })), "{first:?}");
        let second = engine.serve(&meta, &request, handler).await;
        assert!(matches!(second, Err(EngineError::HandlerFailed { .. })), "{second:?}");
        let third = engine.serve(&meta, &request, handler).await.unwrap();
        assert_eq!(third, Bytes::from("30"), "leaf {leaf}");
        assert_eq!(attempts.load(Ordering::SeqCst), 2, "called until it succeeded, then never again (leaf {leaf})");
        let keys = keys.lock().unwrap().clone();
        assert_eq!(keys, vec!["Bank.charge:c-1/0".to_owned(); 2], "one key for every attempt (leaf {leaf})");
    }
}
