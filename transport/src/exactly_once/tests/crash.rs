//! The crash-point harness (spec §3, STYLE habit 6).
//!
//! `CrashStore` numbers every store request. A counting run finds the N
//! requests a workflow makes; then, for every k in 1..=N and both phases, a
//! fresh store runs the workflow with request k failing (Before: not
//! forwarded; After: forwarded, so durable, then failed), which stops the
//! "process" (every later request fails too). A fresh engine on the same
//! data (for sled: the store closed and reopened from disk) recovers with a
//! collector pass and same-id retries, and the check asserts one effect per
//! call and identical reply bytes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::codec::{Binary, encode};
use crate::store::{Batch, Key, MemoryStore, SledOptions, SledStore, Store};

use super::*;

pub(super) use crate::testing::{CrashPhase as Phase, CrashStore};

/// A store backend the matrix runs on.
pub(super) trait Backend: Sized {
    type S: Store + Clone + 'static;
    const NAME: &'static str;
    async fn open() -> (Self, Self::S);
    /// The restarted process's store: the same data.
    async fn restart(&mut self, store: Self::S) -> Self::S;
}

pub(super) struct Memory;

impl Backend for Memory {
    type S = MemoryStore;
    const NAME: &'static str = "memory";
    async fn open() -> (Memory, MemoryStore) {
        (Memory, MemoryStore::new())
    }
    async fn restart(&mut self, store: MemoryStore) -> MemoryStore {
        store
    }
}

#[cfg(feature = "sled")]
pub(super) struct Sled(tempfile::TempDir);

#[cfg(feature = "sled")]
impl Backend for Sled {
    type S = SledStore;
    const NAME: &'static str = "sled";
    async fn open() -> (Sled, SledStore) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SledStore::open(dir.path(), SledOptions::new()).await.expect("open sled store");
        (Sled(dir), store)
    }
    async fn restart(&mut self, store: SledStore) -> SledStore {
        store.close().await.expect("close sled store");
        SledStore::open(self.0.path(), SledOptions::new()).await.expect("reopen sled store")
    }
}

/// A fresh schema per run; the restarted process is a new pool on it (what
/// PostgreSQL acknowledged is on its disk, so only the client's state is lost).
#[cfg(feature = "postgres")]
pub(super) struct Postgres(crate::store::postgres_testing::TestSchema);

#[cfg(feature = "postgres")]
impl Backend for Postgres {
    type S = crate::store::PostgresStore;
    const NAME: &'static str = "postgres";
    async fn open() -> (Postgres, Self::S) {
        let schema = crate::store::postgres_testing::TestSchema::new();
        let store = schema.open().await;
        (Postgres(schema), store)
    }
    async fn restart(&mut self, store: Self::S) -> Self::S {
        store.close();
        self.0.open().await
    }
}

/// A workflow the matrix crashes at every store request of `act`.
pub(super) trait Workflow {
    const NAME: &'static str;
    /// Setup, never crashed.
    async fn prepare<S: Store + 'static>(_engine: &Engine<S, ManualClock>, _clock: &ManualClock) {}
    /// The crashed part.
    async fn act<S: Store + 'static>(engine: &Engine<S, ManualClock>, clock: &ManualClock) -> Result<(), EngineError>;
    /// After the restart: collector pass and retries; every reply seen.
    async fn recover<S: Store + 'static>(engine: &Engine<S, ManualClock>, clock: &ManualClock) -> Vec<Bytes>;
    /// One effect, one result.
    async fn check<S: Store>(store: &S, replies: &[Bytes], at: &str);
}

/// Runs `W` crashed at every request in both phases; returns the number of
/// crash points covered.
#[allow(clippy::print_stderr, reason = "the crash-point count is part of the test's report")]
pub(super) async fn crash_matrix<B: Backend, W: Workflow, const LEAF: bool>() -> u64 {
    let config = || config().leaf_fast_path(LEAF);
    let (_backend, store) = B::open().await;
    let clock = ManualClock::new(T0);
    W::prepare(&Engine::new(SERVICE, store.clone(), clock.clone(), config()), &clock).await;
    let counting = CrashStore::counting(store);
    W::act(&Engine::new(SERVICE, counting.clone(), clock.clone(), config()), &clock).await.expect("uncrashed run");
    let n = counting.requests();
    assert!(n > 0);
    let mut covered = 0;
    for k in 1..=n {
        for phase in [Phase::Before, Phase::After] {
            let at = format!("{} on {} (leaf {LEAF}), request {k} of {n}, {phase:?}", W::NAME, B::NAME);
            let (mut backend, store) = B::open().await;
            let clock = ManualClock::new(T0);
            W::prepare(&Engine::new(SERVICE, store.clone(), clock.clone(), config()), &clock).await;
            let crashing = CrashStore::crashing(store.clone(), k, phase);
            let outcome = W::act(&Engine::new(SERVICE, crashing.clone(), clock.clone(), config()), &clock).await;
            assert!(crashing.crashed() && outcome.is_err(), "{at}: the crash must stop the run");
            drop(crashing);
            let store = backend.restart(store).await;
            let engine = Engine::new(SERVICE, store.clone(), clock.clone(), config());
            let replies = W::recover(&engine, &clock).await;
            drop(engine);
            W::check(&store, &replies, &at).await;
            covered += 1;
        }
    }
    let mode = if LEAF { "leaf" } else { "steps" };
    eprintln!("crash points covered: {} on {} ({mode}): {covered} ({n} requests x 2 phases)", W::NAME, B::NAME);
    covered
}

/// A single root call as a workflow: serve it (crashed), then recover with
/// a collector pass and two same-id retries.
pub(super) trait Call {
    const NAME: &'static str;
    const KEY: &'static str;
    async fn seed<S: Store>(_store: &S) {}
    fn handler(ctx: Ctx) -> impl Future<Output = Result<Bytes, EngineError>> + Send;
    async fn check<S: Store>(store: &S, reply: &Bytes, at: &str);
}

fn call_meta<W: Call>() -> CallMeta {
    CallMeta::root(CallId::root(SERVICE, W::NAME, W::KEY), T0)
}

fn call_request<W: Call>() -> Request {
    Request::new(W::NAME, Bytes::from_static(b"args"))
}

pub(super) struct CallFlow<W>(std::marker::PhantomData<W>);

struct Redrive<W, S> {
    engine: Engine<S, ManualClock>,
    replies: Arc<std::sync::Mutex<Vec<Bytes>>>,
    _workflow: std::marker::PhantomData<fn() -> W>,
}

impl<W: Call, S: Store + 'static> Redriver for Redrive<W, S> {
    async fn redrive(&self, intent: Intent) -> Result<Bytes, EngineError> {
        let reply = self.engine.serve(intent.meta(), intent.request(), W::handler).await?;
        self.replies.lock().unwrap().push(reply.clone());
        Ok(reply)
    }
}

impl<W: Call> Workflow for CallFlow<W> {
    const NAME: &'static str = W::NAME;

    async fn prepare<S: Store + 'static>(engine: &Engine<S, ManualClock>, _clock: &ManualClock) {
        W::seed(engine.store()).await;
    }

    async fn act<S: Store + 'static>(engine: &Engine<S, ManualClock>, _clock: &ManualClock) -> Result<(), EngineError> {
        engine.serve(&call_meta::<W>(), &call_request::<W>(), W::handler).await.map(drop)
    }

    async fn recover<S: Store + 'static>(engine: &Engine<S, ManualClock>, clock: &ManualClock) -> Vec<Bytes> {
        past_redrive(clock);
        let redrive =
            Redrive::<W, S> { engine: engine.clone(), replies: Arc::default(), _workflow: Default::default() };
        let replies = Arc::clone(&redrive.replies);
        let collector = Collector::new(engine.clone(), redrive);
        let report = collector.run_once(clock.now_ms()).await.expect("collector pass");
        assert_eq!(report.failed, 0);
        let mut replies = replies.lock().unwrap().clone();
        for _ in 0..2 {
            replies.push(engine.serve(&call_meta::<W>(), &call_request::<W>(), W::handler).await.expect("retry"));
        }
        replies
    }

    async fn check<S: Store>(store: &S, replies: &[Bytes], at: &str) {
        assert!(replies.iter().all(|r| r == &replies[0]), "{at}: replies differ: {replies:?}");
        W::check(store, &replies[0], at).await;
        assert!(keys_under(store, "intent").await.is_empty(), "{at}: an intent is left");
        assert_eq!(keys_under(store, "call").await.len(), 1, "{at}");
    }
}

pub(super) struct Counter;

impl Call for Counter {
    const NAME: &'static str = "counter";
    const KEY: &'static str = "c-1";
    fn handler(ctx: Ctx) -> impl Future<Output = Result<Bytes, EngineError>> + Send {
        add_one(ctx)
    }
    async fn check<S: Store>(store: &S, reply: &Bytes, at: &str) {
        assert_eq!(reply, &Bytes::from("1"), "{at}");
        assert_eq!(state::<_, i64>(store, "hits").await, Some(1), "{at}: the increment must apply once");
        assert_eq!(
            state::<_, String>(store, "last").await.as_deref(),
            Some(call_meta::<Self>().call_id().as_str()),
            "{at}"
        );
    }
}

pub(super) struct Transfer;

pub(super) async fn seed_accounts<S: Store>(store: &S) {
    let batch = Batch::new()
        .put(Key::from(("state", SERVICE, "alice")), encode::<Binary, _>(&100i64))
        .put(Key::from(("state", SERVICE, "bob")), encode::<Binary, _>(&50i64));
    store.apply(batch).await.expect("seed accounts");
}

/// Moves 30 from alice to bob in one transaction, then reads the sum in
/// another.
pub(super) async fn transfer(mut ctx: Ctx) -> Result<Bytes, EngineError> {
    let moved = ctx
        .transaction(|tx| {
            let alice: i64 = tx.get("alice")?.unwrap_or(0);
            let bob: i64 = tx.get("bob")?.unwrap_or(0);
            if alice < 30 {
                return Err(TxError::Abort("insufficient funds".to_owned()));
            }
            tx.put("alice", &(alice - 30));
            tx.put("bob", &(bob + 30));
            Ok(30i64)
        })
        .await?;
    let sum = ctx
        .transaction(|tx| -> Result<i64, TxError<String>> {
            Ok(tx.get::<i64>("alice")?.unwrap_or(0) + tx.get::<i64>("bob")?.unwrap_or(0))
        })
        .await?;
    Ok(Bytes::from(format!("{moved:?} sum={sum:?}")))
}

impl Call for Transfer {
    const NAME: &'static str = "transfer";
    const KEY: &'static str = "t-1";
    async fn seed<S: Store>(store: &S) {
        seed_accounts(store).await;
    }
    fn handler(ctx: Ctx) -> impl Future<Output = Result<Bytes, EngineError>> + Send {
        transfer(ctx)
    }
    async fn check<S: Store>(store: &S, reply: &Bytes, at: &str) {
        assert_eq!(reply, &Bytes::from("Ok(30) sum=Ok(150)"), "{at}");
        let (alice, bob) = (state::<_, i64>(store, "alice").await, state::<_, i64>(store, "bob").await);
        assert_eq!((alice, bob), (Some(70), Some(80)), "{at}: the transfer must apply once");
    }
}

pub(super) struct Nondeterminism;

impl Call for Nondeterminism {
    const NAME: &'static str = "nondeterminism";
    const KEY: &'static str = "n-1";
    async fn handler(mut ctx: Ctx) -> Result<Bytes, EngineError> {
        let now = ctx.now().await?;
        let random = ctx.random().await?;
        let uuid = ctx.uuid().await?;
        let seen = format!("{now:?} {random} {uuid}");
        ctx.put("seen", &seen).await?;
        Ok(Bytes::from(seen))
    }
    async fn check<S: Store>(store: &S, reply: &Bytes, at: &str) {
        // The effect recorded the same values the reply carries.
        let seen = state::<_, String>(store, "seen").await.expect("seen");
        assert_eq!(seen.as_bytes(), &reply[..], "{at}");
    }
}

/// GC past W: the crashed part is the first GC pass after H.
pub(super) struct GcPastW;

fn gc_meta() -> CallMeta {
    CallMeta::root(CallId::root(SERVICE, "add", "gc-1"), T0)
}

impl Workflow for GcPastW {
    const NAME: &'static str = "gc past W";

    async fn prepare<S: Store + 'static>(engine: &Engine<S, ManualClock>, clock: &ManualClock) {
        engine.serve(&gc_meta(), &Request::new("add", ""), add_one).await.expect("the call");
        clock.advance(Duration::from_secs(3600 + 1));
    }

    async fn act<S: Store + 'static>(engine: &Engine<S, ManualClock>, clock: &ManualClock) -> Result<(), EngineError> {
        engine.collect_garbage(clock.now_ms()).await.map(drop)
    }

    async fn recover<S: Store + 'static>(engine: &Engine<S, ManualClock>, clock: &ManualClock) -> Vec<Bytes> {
        engine.collect_garbage(clock.now_ms()).await.expect("gc again");
        assert_eq!(keys_under(engine.store(), "call").await.len(), 0);
        assert_eq!(keys_under(engine.store(), "tomb").await.len(), 1);
        // A late duplicate gets the tombstone's result; the handler does not run.
        let from_tomb = engine.serve(&gc_meta(), &Request::new("add", ""), add_one).await.expect("tombstone reply");
        let conflict = engine.serve(&gc_meta(), &Request::new("add", "other"), add_one).await;
        assert!(matches!(conflict, Err(EngineError::CallIdConflict { .. })));
        clock.advance(Duration::from_secs(7200 + 1));
        let report = engine.collect_garbage(clock.now_ms()).await.expect("gc after H2");
        assert_eq!(report.tombstones_expired, 1);
        let expired = engine.serve(&gc_meta(), &Request::new("add", ""), add_one).await;
        assert!(matches!(expired, Err(EngineError::ExpiredCallId { .. })), "{expired:?}");
        vec![from_tomb]
    }

    async fn check<S: Store>(store: &S, replies: &[Bytes], at: &str) {
        assert_eq!(replies, [Bytes::from("1")], "{at}");
        assert_eq!(state::<_, i64>(store, "hits").await, Some(1), "{at}: never a second execution");
        for prefix in ["call", "tomb", "log", "done", "intent"] {
            assert!(keys_under(store, prefix).await.is_empty(), "{at}: {prefix} records left after W");
        }
    }
}

macro_rules! crash_tests {
    ($($(#[$attr:meta])* $name:ident: $backend:ty, $workflow:ty, $leaf:expr;)*) => {$(
        $(#[$attr])*
        #[tokio::test]
        async fn $name() {
            assert!(crash_matrix::<$backend, $workflow, $leaf>().await > 0);
        }
    )*};
}

crash_tests! {
    counter_update_survives_every_crash_point_memory: Memory, CallFlow<Counter>, false;
    #[cfg(feature = "sled")]
    counter_update_survives_every_crash_point_sled: Sled, CallFlow<Counter>, false;
    #[cfg(feature = "postgres")]
    counter_update_survives_every_crash_point_postgres: Postgres, CallFlow<Counter>, false;
    transfer_transaction_survives_every_crash_point_memory: Memory, CallFlow<Transfer>, false;
    #[cfg(feature = "sled")]
    transfer_transaction_survives_every_crash_point_sled: Sled, CallFlow<Transfer>, false;
    #[cfg(feature = "postgres")]
    transfer_transaction_survives_every_crash_point_postgres: Postgres, CallFlow<Transfer>, false;
    nondeterminism_is_stable_at_every_crash_point_memory: Memory, CallFlow<Nondeterminism>, false;
    #[cfg(feature = "sled")]
    nondeterminism_is_stable_at_every_crash_point_sled: Sled, CallFlow<Nondeterminism>, false;
    #[cfg(feature = "postgres")]
    nondeterminism_is_stable_at_every_crash_point_postgres: Postgres, CallFlow<Nondeterminism>, false;
    gc_past_w_survives_every_crash_point_memory: Memory, GcPastW, false;
    #[cfg(feature = "sled")]
    gc_past_w_survives_every_crash_point_sled: Sled, GcPastW, false;
    #[cfg(feature = "postgres")]
    gc_past_w_survives_every_crash_point_postgres: Postgres, GcPastW, false;
    counter_update_leaf_survives_every_crash_point_memory: Memory, CallFlow<Counter>, true;
    #[cfg(feature = "sled")]
    counter_update_leaf_survives_every_crash_point_sled: Sled, CallFlow<Counter>, true;
    #[cfg(feature = "postgres")]
    counter_update_leaf_survives_every_crash_point_postgres: Postgres, CallFlow<Counter>, true;
    transfer_transaction_leaf_survives_every_crash_point_memory: Memory, CallFlow<Transfer>, true;
    #[cfg(feature = "sled")]
    transfer_transaction_leaf_survives_every_crash_point_sled: Sled, CallFlow<Transfer>, true;
    #[cfg(feature = "postgres")]
    transfer_transaction_leaf_survives_every_crash_point_postgres: Postgres, CallFlow<Transfer>, true;
    nondeterminism_leaf_is_stable_at_every_crash_point_memory: Memory, CallFlow<Nondeterminism>, true;
    #[cfg(feature = "sled")]
    nondeterminism_leaf_is_stable_at_every_crash_point_sled: Sled, CallFlow<Nondeterminism>, true;
    #[cfg(feature = "postgres")]
    nondeterminism_leaf_is_stable_at_every_crash_point_postgres: Postgres, CallFlow<Nondeterminism>, true;
    gc_past_w_leaf_survives_every_crash_point_memory: Memory, GcPastW, true;
    #[cfg(feature = "sled")]
    gc_past_w_leaf_survives_every_crash_point_sled: Sled, GcPastW, true;
    #[cfg(feature = "postgres")]
    gc_past_w_leaf_survives_every_crash_point_postgres: Postgres, GcPastW, true;
}
