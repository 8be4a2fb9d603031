//! Concurrent executions of one call id, and concurrent collectors, on
//! random schedules: tasks on one current-thread runtime yield at random
//! points around every store request, so each proptest case is one
//! reproducible interleaving.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use tokio::task::JoinSet;

use crate::store::{Batch, Key, MemoryStore, Outcome, Page, Store, StoreError, Versioned};

use super::crash::{seed_accounts, transfer};
use super::*;

/// A store that yields to other tasks a scheduled number of times before
/// and after every request.
#[derive(Clone)]
struct YieldStore {
    inner: MemoryStore,
    schedule: Arc<Vec<u8>>,
    next: Arc<AtomicUsize>,
}

impl YieldStore {
    fn new(inner: MemoryStore, schedule: Vec<u8>) -> YieldStore {
        YieldStore { inner, schedule: Arc::new(schedule), next: Arc::default() }
    }

    async fn pause(&self) {
        if self.schedule.is_empty() {
            return;
        }
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        for _ in 0..self.schedule[i % self.schedule.len()] {
            tokio::task::yield_now().await;
        }
    }

    async fn around<T>(&self, request: impl Future<Output = T>) -> T {
        self.pause().await;
        let out = request.await;
        self.pause().await;
        out
    }
}

impl Store for YieldStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        self.around(self.inner.get(key)).await
    }
    async fn multi_get(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        self.around(self.inner.multi_get(keys)).await
    }
    async fn scan_prefix(&self, prefix: &Key, page: Page) -> Result<Vec<(Key, Versioned)>, StoreError> {
        self.around(self.inner.scan_prefix(prefix, page)).await
    }
    async fn apply(&self, batch: Batch) -> Result<Outcome, StoreError> {
        self.around(self.inner.apply(batch)).await
    }
}

/// Every kind of step in one handler: update, two transactions, logged
/// randomness, put.
async fn mixed(mut ctx: Ctx) -> Result<Bytes, EngineError> {
    let n: i64 = ctx
        .update("hits", |old: Option<i64>| {
            let n = old.unwrap_or(0) + 1;
            (n, n)
        })
        .await?;
    let moved = transfer(ctx).await?;
    Ok(Bytes::from(format!("{n} {}", String::from_utf8_lossy(&moved))))
}

async fn mixed_with_random(mut ctx: Ctx) -> Result<Bytes, EngineError> {
    let r = ctx.random().await?;
    ctx.put("random", &(r as i64)).await?;
    let rest = mixed(ctx).await?;
    Ok(Bytes::from(format!("{r} {}", String::from_utf8_lossy(&rest))))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn concurrent_executions_of_one_call_converge(
        schedules in proptest::collection::vec(proptest::collection::vec(0u8..4, 1..16), 2..=3),
        zero_lease in any::<bool>(),
        leaf in any::<bool>(),
    ) {
        runtime().block_on(async move {
            let memory = MemoryStore::new();
            seed_accounts(&memory).await;
            let clock = ManualClock::new(T0);
            // A zero lease makes every execution take over the others' lease,
            // so Done batches race on changing versions.
            let config = if zero_lease { config().lease(Duration::ZERO) } else { config() };
            // Leaf executions race on their one commit instead.
            let config = config.leaf_fast_path(leaf);
            let meta = CallMeta::root(CallId::root(SERVICE, "mixed", "m-1"), T0);
            let mut tasks = JoinSet::new();
            for schedule in schedules {
                // One engine per execution: separate processes on one store.
                let engine = Engine::new(SERVICE, YieldStore::new(memory.clone(), schedule), clock.clone(), config.clone());
                let meta = meta.clone();
                tasks.spawn(async move { engine.serve(&meta, &Request::new("mixed", ""), mixed_with_random).await });
            }
            let replies: Vec<Bytes> = tasks.join_all().await.into_iter().map(|r| r.expect("every execution answers")).collect();
            assert!(replies.iter().all(|r| r == &replies[0]), "one result: {replies:?}");
            assert_eq!(state::<_, i64>(&memory, "hits").await, Some(1));
            assert_eq!((state::<_, i64>(&memory, "alice").await, state::<_, i64>(&memory, "bob").await), (Some(70), Some(80)));
            let random: i64 = state(&memory, "random").await.expect("random");
            assert!(replies[0].starts_with(format!("{} 1 Ok(30) sum=Ok(150)", random as u64).as_bytes()), "{replies:?}");
            assert!(keys_under(&memory, "intent").await.is_empty());
        });
    }

    #[test]
    fn concurrent_collectors_redrive_each_intent_once(
        schedules in proptest::collection::vec(proptest::collection::vec(0u8..4, 1..16), 3),
    ) {
        runtime().block_on(async move {
            const CALLS: usize = 5;
            let memory = MemoryStore::new();
            let clock = ManualClock::new(T0);
            let engine = Engine::new(SERVICE, memory.clone(), clock.clone(), config());
            for i in 0..CALLS {
                let meta = CallMeta::root(CallId::root(SERVICE, "add", format!("k{i}")), T0);
                let failed = engine.serve(&meta, &Request::new("add", ""), |ctx| async move { Err(ctx.fail("lost")) }).await;
                assert!(failed.is_err());
            }
            past_redrive(&clock);
            let mut tasks = JoinSet::new();
            let mut recorders = Vec::new();
            for schedule in schedules {
                let engine = Engine::new(SERVICE, YieldStore::new(memory.clone(), schedule), clock.clone(), config());
                let recorder = Recorder::new(engine.clone());
                recorders.push(recorder.clone());
                let collector = Collector::new(engine, recorder);
                let now = clock.now_ms();
                tasks.spawn(async move { collector.run_once(now).await });
            }
            let reports: Vec<CollectorReport> = tasks.join_all().await.into_iter().map(|r| r.expect("collector pass")).collect();
            let redriven: usize = reports.iter().map(|r| r.redriven).sum();
            let completed: usize = reports.iter().map(|r| r.completed).sum();
            assert_eq!((redriven, completed), (CALLS, CALLS), "{reports:?}");
            let calls: usize = recorders.iter().map(|r| r.calls.load(Ordering::SeqCst)).sum();
            assert_eq!(calls, CALLS);
            assert_eq!(state::<_, i64>(&memory, "hits").await, Some(CALLS as i64));
            assert!(keys_under(&memory, "intent").await.is_empty());
            let mut replies: Vec<Bytes> = recorders.iter().flat_map(|r| r.replies.lock().unwrap().clone()).collect();
            replies.sort();
            assert_eq!(replies, (1..=CALLS).map(|n| Bytes::from(n.to_string())).collect::<Vec<_>>());
        });
    }
}
