//! The `Store` contract as executable checks, run against every backend.
//!
//! Each backend's test module calls [`conformance_tests!`] with an expression
//! that makes a fresh `(guard, store)` pair; a durable backend also calls
//! [`durable::durable_conformance_tests!`] with a [`durable::Reopen`]
//! fixture. The model check ([`model_steps`], [`run_model_check`]) compares
//! random batch sequences with a plain `BTreeMap` model.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

use super::{Batch, Condition, Key, Op, Outcome, Page, Store, Version, Versioned};

/// One `#[tokio::test]` per check, each on a fresh store from `$fixture`, an
/// expression (it may `.await`) giving a `(guard, store)` pair.
macro_rules! conformance_tests {
    ($fixture:expr) => {
        $crate::store::conformance::conformance_tests!(@each $fixture;
            conditions_are_checked_in_order,
            failed_batch_writes_nothing,
            versions_increase_and_never_repeat,
            scan_prefix_respects_components,
            scan_prefix_pages_through_everything,
            delete_semantics,
            racing_batches_have_one_winner,
            concurrent_increments_are_not_lost,
            reads_see_whole_batches,
        );
    };
    (@each $fixture:expr; $($check:ident,)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (_guard, store) = $fixture;
                $crate::store::conformance::$check(&store).await;
            }
        )+
    };
}

pub(crate) use conformance_tests;

fn value(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn applied(outcome: Outcome) -> Version {
    match outcome {
        Outcome::Applied { version } => version,
        Outcome::Failed { condition, current } => {
            panic!("expected the batch to apply, condition {condition} failed with current value {current:?}")
        }
    }
}

async fn must_apply<S: Store>(store: &S, batch: Batch) -> Version {
    applied(store.apply(batch).await.expect("apply"))
}

async fn get<S: Store>(store: &S, key: &Key) -> Option<Versioned> {
    store.get(key).await.expect("get")
}

/// Everything under `prefix`, read in pages of `limit`.
async fn scan_all<S: Store>(store: &S, prefix: &Key, limit: usize) -> Vec<(Key, Versioned)> {
    let mut all: Vec<(Key, Versioned)> = Vec::new();
    let mut page = Page::first(limit);
    loop {
        let found = store.scan_prefix(prefix, page.clone()).await.expect("scan_prefix");
        assert!(found.len() <= limit, "a page of {} entries exceeds its limit {limit}", found.len());
        let done = found.len() < limit;
        all.extend(found);
        match all.last() {
            Some((last, _)) if !done => page = Page::after(last.clone(), limit),
            _ => return all,
        }
    }
}

async fn join_all<T>(handles: Vec<JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.expect("task panicked"));
    }
    results
}

pub(crate) async fn conditions_are_checked_in_order<S: Store>(store: &S) {
    let key = Key::from(("state", "svc", "k"));
    let other = Key::from(("state", "svc", "other"));

    let v1 = must_apply(store, Batch::new().absent(key.clone()).put(key.clone(), "one")).await;
    let first = Versioned { version: v1, value: value("one") };
    assert_eq!(get(store, &key).await, Some(first.clone()));

    let again = store.apply(Batch::new().absent(key.clone()).put(key.clone(), "again")).await.expect("apply");
    assert_eq!(again, Outcome::Failed { condition: 0, current: Some(first.clone()) });

    let v2 = must_apply(store, Batch::new().version_is(key.clone(), v1).put(key.clone(), "two")).await;
    assert!(v2 > v1);
    let second = Versioned { version: v2, value: value("two") };

    let stale = store.apply(Batch::new().version_is(key.clone(), v1).put(key.clone(), "stale")).await.expect("apply");
    assert_eq!(stale, Outcome::Failed { condition: 0, current: Some(second.clone()) });

    let missing = store.apply(Batch::new().version_is(other.clone(), v2).put(other.clone(), "x")).await.expect("apply");
    assert_eq!(missing, Outcome::Failed { condition: 0, current: None });

    // The first failing condition is reported, by its index.
    let third_fails = Batch::new()
        .absent(other.clone())
        .version_is(key.clone(), v2)
        .absent(key.clone())
        .version_is(other.clone(), v1)
        .put(other.clone(), "x");
    let outcome = store.apply(third_fails).await.expect("apply");
    assert_eq!(outcome, Outcome::Failed { condition: 2, current: Some(second.clone()) });

    // Conditions see the state before the batch, not its own writes.
    let own_write = Batch::new().put(other.clone(), "x").absent(other.clone());
    let v3 = must_apply(store, own_write).await;
    assert_eq!(get(store, &other).await, Some(Versioned { version: v3, value: value("x") }));

    // A batch with conditions only still commits, with a fresh version.
    let v4 = must_apply(store, Batch::new().version_is(key.clone(), v2)).await;
    assert!(v4 > v3);
    let v5 = must_apply(store, Batch::new()).await;
    assert!(v5 > v4);
    assert_eq!(get(store, &key).await, Some(second));
}

pub(crate) async fn failed_batch_writes_nothing<S: Store>(store: &S) {
    let keys: Vec<Key> = (0..4u64).map(|i| Key::from(("state", "atomic", i))).collect();
    let guard = Key::from(("guard",));
    let mut seed = Batch::new().put(guard.clone(), "g");
    for key in &keys[..2] {
        seed = seed.put(key.clone(), "seed");
    }
    let seeded = must_apply(store, seed).await;
    let before = store.multi_get(&keys).await.expect("multi_get");
    let scan_before = scan_all(store, &Key::new(), 10).await;

    let writes = |batch: Batch| {
        batch
            .put(keys[0].clone(), "changed")
            .delete(keys[1].clone())
            .put(keys[2].clone(), "new")
            .put(keys[3].clone(), "new")
            .delete(guard.clone())
    };
    let failing = [
        writes(Batch::new().absent(guard.clone())),
        writes(Batch::new().version_is(guard.clone(), seeded).absent(keys[0].clone())),
        writes(Batch::new().absent(keys[2].clone()).version_is(keys[3].clone(), seeded)),
    ];
    for (i, batch) in failing.into_iter().enumerate() {
        let outcome = store.apply(batch).await.expect("apply");
        assert!(!outcome.is_applied(), "batch {i} should fail: {outcome:?}");
        assert_eq!(store.multi_get(&keys).await.expect("multi_get"), before, "after failed batch {i}");
        assert_eq!(scan_all(store, &Key::new(), 10).await, scan_before, "after failed batch {i}");
    }

    // A failed batch takes no version from the sequence that anyone could see:
    // the next commit is still above every version seen before.
    let next = must_apply(store, Batch::new().put(keys[3].clone(), "after")).await;
    assert!(next > seeded);
}

pub(crate) async fn versions_increase_and_never_repeat<S: Store>(store: &S) {
    let a = Key::from(("state", "svc", "a"));
    let b = Key::from(("state", "svc", "b"));
    let mut seen = Vec::new();

    let multi = must_apply(store, Batch::new().put(a.clone(), "A").put(b.clone(), "B")).await;
    seen.push(multi);
    // Every value a batch writes carries the batch's version.
    let both = store.multi_get(&[a.clone(), b.clone()]).await.expect("multi_get");
    assert_eq!(
        both,
        [Some(Versioned { version: multi, value: value("A") }), Some(Versioned { version: multi, value: value("B") })]
    );

    // A -> B -> A on one key: the value comes back, the version does not.
    seen.push(must_apply(store, Batch::new().put(a.clone(), "B")).await);
    seen.push(must_apply(store, Batch::new().put(a.clone(), "A")).await);
    let now = get(store, &a).await.expect("a is present");
    assert_eq!(now.value, value("A"));
    assert_ne!(now.version, multi);
    let aba = store.apply(Batch::new().version_is(a.clone(), multi).put(a.clone(), "C")).await.expect("apply");
    assert_eq!(aba, Outcome::Failed { condition: 0, current: Some(now.clone()) });

    // Delete and re-create: a fresh version again.
    seen.push(must_apply(store, Batch::new().delete(a.clone())).await);
    seen.push(must_apply(store, Batch::new().absent(a.clone()).put(a.clone(), "A")).await);
    for _ in 0..20 {
        seen.push(must_apply(store, Batch::new().put(b.clone(), "B")).await);
    }
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "versions not strictly increasing: {seen:?}");
    assert!(seen.iter().all(|v| v.get() > 0), "version 0 handed out: {seen:?}");
}

/// Keys whose components look alike: ids containing `-`, `/`, `0x00`, one id
/// a prefix of another, and the same text as bytes.
fn tricky_keys() -> Vec<Key> {
    vec![
        Key::from(("log", "t1")),
        Key::from(("log", "t1", 0u64)),
        Key::from(("log", "t1", 1u64)),
        Key::from(("log", "t1", 10u64)),
        Key::from(("log", "t1", 256u64)),
        Key::from(("log", "t1", "-")),
        Key::from(("log", "t10")),
        Key::from(("log", "t10", 0u64)),
        Key::from(("log", "t1-0", 0u64)),
        Key::from(("log", "t1/0", 0u64)),
        Key::from(("log", "t1\0", 0u64)),
        Key::from(("log", "t1\0\u{ff}", 0u64)),
        Key::from(("log", "t", 1u64)),
        Key::from(("log", &b"t1"[..], 0u64)),
        Key::from(("log",)),
        Key::from(("logs", "t1", 0u64)),
        Key::from(("lo", "gt1", 0u64)),
        Key::from(("state", "t1")),
    ]
}

pub(crate) async fn scan_prefix_respects_components<S: Store>(store: &S) {
    let keys = tricky_keys();
    let mut batch = Batch::new();
    for (i, key) in keys.iter().enumerate() {
        batch = batch.put(key.clone(), i.to_string());
    }
    let version = must_apply(store, batch).await;
    let prefixes = [
        Key::new(),
        Key::from(("log",)),
        Key::from(("log", "t1")),
        Key::from(("log", "t10")),
        Key::from(("log", "t1\0")),
        Key::from(("log", "t")),
        Key::from(("log", "t1", 0u64)),
        Key::from(("log", "t2")),
        Key::from(("lo",)),
    ];
    for prefix in &prefixes {
        let mut expected: Vec<(Key, Versioned)> = keys
            .iter()
            .enumerate()
            .filter(|(_, key)| key.parts().collect::<Vec<_>>().starts_with(&prefix.parts().collect::<Vec<_>>()))
            .map(|(i, key)| (key.clone(), Versioned { version, value: Bytes::from(i.to_string()) }))
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        for limit in [1, 3, 100] {
            assert_eq!(scan_all(store, prefix, limit).await, expected, "prefix {prefix}, pages of {limit}");
        }
    }
    // The t1 family exactly: t10, t1-0, t1/0 and t1\0 stay out.
    let t1: Vec<Key> = scan_all(store, &Key::from(("log", "t1")), 100).await.into_iter().map(|(key, _)| key).collect();
    assert_eq!(
        t1,
        [
            Key::from(("log", "t1")),
            Key::from(("log", "t1", "-")),
            Key::from(("log", "t1", 0u64)),
            Key::from(("log", "t1", 1u64)),
            Key::from(("log", "t1", 10u64)),
            Key::from(("log", "t1", 256u64)),
        ]
    );
}

pub(crate) async fn scan_prefix_pages_through_everything<S: Store>(store: &S) {
    let prefix = Key::from(("log", "call"));
    let mut batch =
        Batch::new().put(Key::from(("log", "cal", 5u64)), "before").put(Key::from(("log", "calm")), "after");
    for step in 0..25u64 {
        batch = batch.put(prefix.with(step), step.to_string());
    }
    must_apply(store, batch).await;
    let all = scan_all(store, &prefix, 1000).await;
    assert_eq!(all.len(), 25);
    let steps: Vec<Key> = all.iter().map(|(key, _)| key.clone()).collect();
    assert_eq!(steps, (0..25u64).map(|step| prefix.with(step)).collect::<Vec<_>>());
    for limit in [1, 2, 7, 24, 25, 26] {
        assert_eq!(scan_all(store, &prefix, limit).await, all, "pages of {limit}");
    }

    let page = |after: Key, limit| store.scan_prefix(&prefix, Page::after(after, limit));
    // Resuming after a key that is not stored, or lies outside the prefix.
    let resumed = page(prefix.with(10u64).with("x"), 3).await.expect("scan_prefix");
    assert_eq!(resumed, all[11..14]);
    assert_eq!(page(Key::from(("log", "cal")), 2).await.expect("scan_prefix"), all[..2]);
    assert_eq!(page(Key::from(("log", "calm")), 2).await.expect("scan_prefix"), []);
    assert_eq!(page(prefix.with(24u64), 5).await.expect("scan_prefix"), []);
    // A limit of 0 is taken as 1.
    assert_eq!(store.scan_prefix(&prefix, Page::first(0)).await.expect("scan_prefix"), all[..1]);
}

pub(crate) async fn delete_semantics<S: Store>(store: &S) {
    let key = Key::from(("call", "svc.m:k"));
    let v1 = must_apply(store, Batch::new().put(key.clone(), "running")).await;
    let v2 = must_apply(store, Batch::new().version_is(key.clone(), v1).delete(key.clone())).await;
    assert_eq!(get(store, &key).await, None);
    assert_eq!(scan_all(store, &Key::from(("call",)), 10).await, []);
    assert_eq!(
        store.apply(Batch::new().version_is(key.clone(), v1)).await.expect("apply"),
        Outcome::Failed { condition: 0, current: None }
    );

    // Deleting what is not there is no error, and commits.
    let v3 = must_apply(store, Batch::new().absent(key.clone()).delete(key.clone())).await;
    assert!(v3 > v2);

    let v4 = must_apply(store, Batch::new().absent(key.clone()).put(key.clone(), "again")).await;
    assert_eq!(get(store, &key).await, Some(Versioned { version: v4, value: value("again") }));

    // Within a batch the last operation on a key wins.
    let v5 = must_apply(store, Batch::new().put(key.clone(), "gone").delete(key.clone())).await;
    assert!(v5 > v4);
    assert_eq!(get(store, &key).await, None);
    let v6 = must_apply(store, Batch::new().delete(key.clone()).put(key.clone(), "back")).await;
    assert_eq!(get(store, &key).await, Some(Versioned { version: v6, value: value("back") }));
    assert_eq!(store.multi_get(&[key.clone(), key.clone()]).await.expect("multi_get").len(), 2);
}

pub(crate) async fn racing_batches_have_one_winner<S: Store + Clone + 'static>(store: &S) {
    const TASKS: usize = 16;
    const ROUNDS: usize = 8;
    let key = Key::from(("state", "race", "k"));
    let barrier = Arc::new(Barrier::new(TASKS));
    // Round 0 races on Absent, every later round on the version the previous
    // winner wrote.
    let mut expected: Option<Version> = None;
    for round in 0..ROUNDS {
        let handles = (0..TASKS)
            .map(|task| {
                let (store, key, barrier) = (store.clone(), key.clone(), Arc::clone(&barrier));
                tokio::spawn(async move {
                    let condition = match expected {
                        None => Condition::Absent(key.clone()),
                        Some(version) => Condition::VersionIs(key.clone(), version),
                    };
                    barrier.wait().await;
                    let batch = Batch::new().condition(condition).put(key, format!("{round}/{task}"));
                    (task, store.apply(batch).await.expect("apply"))
                })
            })
            .collect();
        let outcomes = join_all(handles).await;
        let winners: Vec<(usize, Version)> = outcomes
            .iter()
            .filter_map(|(task, outcome)| match outcome {
                Outcome::Applied { version } => Some((*task, *version)),
                Outcome::Failed { .. } => None,
            })
            .collect();
        let [(winner, version)] = winners[..] else {
            panic!("round {round}: expected exactly one winner, got {winners:?}");
        };
        let stored = Versioned { version, value: Bytes::from(format!("{round}/{winner}")) };
        assert_eq!(get(store, &key).await, Some(stored.clone()), "round {round}");
        for (task, outcome) in &outcomes {
            if *task != winner {
                assert_eq!(
                    *outcome,
                    Outcome::Failed { condition: 0, current: Some(stored.clone()) },
                    "round {round}, task {task}: a loser sees the winner's write"
                );
            }
        }
        assert!(expected.is_none_or(|previous| version > previous));
        expected = Some(version);
    }
}

pub(crate) async fn concurrent_increments_are_not_lost<S: Store + Clone + 'static>(store: &S) {
    const TASKS: u64 = 32;
    const INCREMENTS: u64 = 10;
    let counter = Key::from(("state", "counter", "hot"));
    let handles = (0..TASKS)
        .map(|task| {
            let (store, counter) = (store.clone(), counter.clone());
            tokio::spawn(async move {
                let mut versions = Vec::new();
                let own = Key::from(("state", "counter", "own")).with(task);
                for _ in 0..INCREMENTS {
                    // Read, then compare-and-set; a lost race retries.
                    loop {
                        let current = store.get(&counter).await.expect("get");
                        let (condition, count) = match &current {
                            None => (Condition::Absent(counter.clone()), 0),
                            Some(current) => {
                                let text = std::str::from_utf8(&current.value).expect("counter is text");
                                (Condition::VersionIs(counter.clone(), current.version), text.parse().expect("number"))
                            }
                        };
                        let batch = Batch::new().condition(condition).put(counter.clone(), (count + 1u64).to_string());
                        if let Outcome::Applied { version } = store.apply(batch).await.expect("apply") {
                            versions.push(version);
                            break;
                        }
                    }
                    // Uncontended batches on a task's own key.
                    versions.push(must_apply(&store, Batch::new().put(own.clone(), "x")).await);
                }
                versions
            })
        })
        .collect();
    let versions: Vec<Version> = join_all(handles).await.into_iter().flatten().collect();
    let distinct: HashSet<Version> = versions.iter().copied().collect();
    assert_eq!(distinct.len(), versions.len(), "a version was handed out twice");
    let total = get(store, &counter).await.expect("counter exists");
    assert_eq!(total.value, Bytes::from((TASKS * INCREMENTS).to_string()));
}

pub(crate) async fn reads_see_whole_batches<S: Store + Clone + 'static>(store: &S) {
    const WRITES: u64 = 300;
    const READERS: usize = 3;
    // Several keys per batch widen the window in which a torn read could hide.
    let keys: Vec<Key> = (0..8u64).map(|i| Key::from(("group", i))).collect();
    let write_all =
        |keys: &[Key], n: u64| keys.iter().fold(Batch::new(), |batch, key| batch.put(key.clone(), n.to_string()));
    must_apply(store, write_all(&keys, 0)).await;
    // All tasks start together; each yields between requests, since an
    // in-memory store never does, so the writer and readers interleave.
    let start = Arc::new(Barrier::new(READERS + 1));
    let writer = {
        let (store, keys, start) = (store.clone(), keys.clone(), Arc::clone(&start));
        tokio::spawn(async move {
            start.wait().await;
            for n in 1..=WRITES {
                must_apply(&store, write_all(&keys, n)).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let readers = (0..READERS)
        .map(|_| {
            let (store, keys, start) = (store.clone(), keys.clone(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                let prefix = Key::from(("group",));
                let mut last = Version::new(0);
                for _ in 0..WRITES {
                    let read = store.multi_get(&keys).await.expect("multi_get");
                    let read: Vec<Versioned> = read.into_iter().map(|v| v.expect("key present")).collect();
                    assert!(read.windows(2).all(|w| w[0] == w[1]), "multi_get saw part of a batch: {read:?}");
                    let page = store.scan_prefix(&prefix, Page::first(100)).await.expect("scan_prefix");
                    assert_eq!(page.len(), keys.len());
                    assert!(page.windows(2).all(|w| w[0].1 == w[1].1), "scan_prefix saw part of a batch: {page:?}");
                    // Reads never go back in time.
                    assert!(read[0].version >= last && page[0].1.version >= read[0].version);
                    last = page[0].1.version;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    writer.await.expect("writer panicked");
    join_all(readers).await;
}

/// Checks only a durable backend passes: acknowledged batches and the
/// commit sequence survive a crash and a reopen.
pub(crate) mod durable {
    // Without the `sled` feature no durable backend is compiled to run these.
    #![cfg_attr(not(any(feature = "sled", feature = "postgres")), allow(dead_code, unused_imports, unused_macros))]

    use std::collections::BTreeSet;
    use std::future::Future;

    use bytes::Bytes;

    use super::{get, join_all, must_apply, scan_all, value};
    use crate::store::{Batch, Condition, Key, Store, Version, Versioned};

    /// The checks only a durable backend passes, each on a fresh [`Reopen`]
    /// fixture from `$fixture`.
    macro_rules! durable_conformance_tests {
        ($fixture:expr) => {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn acknowledged_batches_survive_a_crash() {
                $crate::store::conformance::durable::acknowledged_batches_survive_a_crash(&$fixture).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn versions_continue_after_reopen() {
                $crate::store::conformance::durable::versions_continue_after_reopen(&$fixture).await;
            }
        };
    }

    pub(crate) use durable_conformance_tests;

    /// A durable backend's storage location, which can be opened again.
    pub(crate) trait Reopen: Send + Sync {
        type Store: Store + Clone + 'static;

        /// Opens the store at the fixture's location.
        fn open(&self) -> impl Future<Output = Self::Store> + Send;

        /// Closes a store so that its location can be opened again.
        fn close(&self, store: Self::Store) -> impl Future<Output = ()> + Send;

        /// Opens a copy of the location as it is on disk now, while the store
        /// that wrote it is still open: what a process killed at this instant
        /// would leave behind.
        fn open_crash_image(&self) -> impl Future<Output = Self::Store> + Send;
    }

    pub(crate) async fn acknowledged_batches_survive_a_crash<R: Reopen>(fixture: &R) {
        const TASKS: u64 = 64;
        const BATCHES: u64 = 4;
        let store = fixture.open().await;
        let counter = Key::from(("state", "crash", "counter"));
        let handles = (0..TASKS)
            .map(|task| {
                let (store, counter) = (store.clone(), counter.clone());
                tokio::spawn(async move {
                    let mut acknowledged = Vec::new();
                    let mut increments = 0u64;
                    for batch in 0..BATCHES {
                        let key = Key::from(("acked", task, batch));
                        let version = must_apply(&store, Batch::new().absent(key.clone()).put(key.clone(), "v")).await;
                        acknowledged.push((key, version));
                        // One attempt at a contended increment; losing is fine.
                        let current = store.get(&counter).await.expect("get");
                        let (condition, count) = match &current {
                            None => (Condition::Absent(counter.clone()), 0u64),
                            Some(c) => (
                                Condition::VersionIs(counter.clone(), c.version),
                                std::str::from_utf8(&c.value).expect("text").parse().expect("number"),
                            ),
                        };
                        let cas = Batch::new().condition(condition).put(counter.clone(), (count + 1).to_string());
                        if store.apply(cas).await.expect("apply").is_applied() {
                            increments += 1;
                        }
                    }
                    (acknowledged, increments)
                })
            })
            .collect();
        let mut increments = 0;
        let mut acknowledged = Vec::new();
        for (acked, count) in join_all(handles).await {
            increments += count;
            acknowledged.extend(acked);
        }
        let latest = store.get(&counter).await.expect("get").expect("counter exists");
        let highest = acknowledged.iter().map(|(_, version)| *version).fold(latest.version, Version::max);

        // Without closing (or dropping) the writer, open what is on disk.
        let crashed = fixture.open_crash_image().await;
        for (key, version) in &acknowledged {
            assert_eq!(get(&crashed, key).await, Some(Versioned { version: *version, value: value("v") }), "{key}");
        }
        let counted = get(&crashed, &counter).await.expect("counter survived");
        assert_eq!(counted, latest);
        assert_eq!(counted.value, Bytes::from(increments.to_string()));
        assert_eq!(scan_all(&crashed, &Key::from(("acked",)), 50).await.len(), acknowledged.len());
        // The crashed copy continues the sequence; it never reuses a version.
        let next = must_apply(&crashed, Batch::new().put(counter.clone(), "after")).await;
        assert!(next > highest, "version {next} reused after a crash (highest acknowledged {highest})");
        fixture.close(crashed).await;
        fixture.close(store).await;
    }

    pub(crate) async fn versions_continue_after_reopen<R: Reopen>(fixture: &R) {
        let untouched = Key::from(("state", "reopen", "untouched"));
        let busy = Key::from(("state", "reopen", "busy"));
        let mut versions = BTreeSet::new();

        let store = fixture.open().await;
        let kept = must_apply(&store, Batch::new().put(untouched.clone(), "kept")).await;
        versions.insert(kept);
        for _ in 0..5 {
            versions.insert(must_apply(&store, Batch::new().put(busy.clone(), "x")).await);
        }
        // Versions taken by batches that wrote nothing count too.
        versions.insert(must_apply(&store, Batch::new()).await);
        let mut highest = *versions.last().expect("versions");
        fixture.close(store).await;

        for round in 0..3 {
            let store = fixture.open().await;
            assert_eq!(get(&store, &untouched).await, Some(Versioned { version: kept, value: value("kept") }));
            let version = must_apply(&store, Batch::new().version_is(untouched.clone(), kept)).await;
            assert!(version > highest, "round {round}: version {version} after {highest}");
            assert!(versions.insert(version));
            highest = version;
            fixture.close(store).await;
            // Reopening with no batch in between changes nothing either.
            let idle = fixture.open().await;
            fixture.close(idle).await;
        }
    }
}

/// One step of a random model check.
#[derive(Debug, Clone)]
pub(crate) enum ModelStep {
    Apply { conditions: Vec<ModelCondition>, ops: Vec<ModelOp> },
    Scan { prefix: usize, limit: usize },
    MultiGet(Vec<usize>),
}

/// A condition on `MODEL_KEYS[key]`.
#[derive(Debug, Clone)]
pub(crate) enum ModelCondition {
    Absent(usize),
    /// `VersionIs` with the key's current version (or a version nobody has,
    /// if it is absent).
    CurrentVersion(usize),
    /// `VersionIs` with an arbitrary small version.
    Version(usize, u64),
}

#[derive(Debug, Clone)]
pub(crate) enum ModelOp {
    Put(usize, Vec<u8>),
    Delete(usize),
}

fn model_keys() -> Vec<Key> {
    let mut keys = tricky_keys();
    keys.truncate(12);
    keys.push(Key::from(("state", "svc", "a-b")));
    keys.push(Key::from(("state", "svc", "a")));
    keys
}

fn model_prefixes() -> Vec<Key> {
    vec![Key::new(), Key::from(("log",)), Key::from(("log", "t1")), Key::from(("log", "t1\0")), Key::from(("state",))]
}

pub(crate) fn model_steps() -> impl Strategy<Value = Vec<ModelStep>> {
    let keys = model_keys().len();
    let condition = prop_oneof![
        (0..keys).prop_map(ModelCondition::Absent),
        (0..keys).prop_map(ModelCondition::CurrentVersion),
        (0..keys, 0u64..12).prop_map(|(key, version)| ModelCondition::Version(key, version)),
    ];
    let op = prop_oneof![
        3 => (0..keys, proptest::collection::vec(any::<u8>(), 0..4)).prop_map(|(key, value)| ModelOp::Put(key, value)),
        1 => (0..keys).prop_map(ModelOp::Delete),
    ];
    let step = prop_oneof![
        6 => (proptest::collection::vec(condition, 0..3), proptest::collection::vec(op, 0..4))
            .prop_map(|(conditions, ops)| ModelStep::Apply { conditions, ops }),
        1 => (0..model_prefixes().len(), 1usize..5).prop_map(|(prefix, limit)| ModelStep::Scan { prefix, limit }),
        1 => proptest::collection::vec(0..keys, 1..4).prop_map(ModelStep::MultiGet),
    ];
    proptest::collection::vec(step, 1..40)
}

/// A current-thread runtime for checks driven from a synchronous proptest.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("tokio runtime")
}

/// Runs `steps` against `store` and a `BTreeMap` model, comparing every result.
pub(crate) fn run_model_check<S: Store>(store: S, steps: Vec<ModelStep>) -> Result<(), TestCaseError> {
    run_model_check_on(&runtime(), store, steps)
}

/// [`run_model_check`] on a given runtime.
pub(crate) fn run_model_check_on<S: Store>(
    runtime: &tokio::runtime::Runtime,
    store: S,
    steps: Vec<ModelStep>,
) -> Result<(), TestCaseError> {
    runtime.block_on(check_against_model(&store, steps))
}

async fn check_against_model<S: Store>(store: &S, steps: Vec<ModelStep>) -> Result<(), TestCaseError> {
    let keys = model_keys();
    let prefixes = model_prefixes();
    let mut model: BTreeMap<Key, Versioned> = BTreeMap::new();
    let mut last = Version::new(0);
    for (index, step) in steps.into_iter().enumerate() {
        match step {
            ModelStep::Apply { conditions, ops } => {
                let conditions: Vec<Condition> = conditions
                    .into_iter()
                    .map(|condition| match condition {
                        ModelCondition::Absent(key) => Condition::Absent(keys[key].clone()),
                        ModelCondition::CurrentVersion(key) => {
                            let version = model.get(&keys[key]).map_or(Version::new(u64::MAX), |v| v.version);
                            Condition::VersionIs(keys[key].clone(), version)
                        }
                        ModelCondition::Version(key, version) => {
                            Condition::VersionIs(keys[key].clone(), Version::new(version))
                        }
                    })
                    .collect();
                let ops: Vec<Op> = ops
                    .into_iter()
                    .map(|op| match op {
                        ModelOp::Put(key, value) => Op::Put(keys[key].clone(), Bytes::from(value)),
                        ModelOp::Delete(key) => Op::Delete(keys[key].clone()),
                    })
                    .collect();
                let failure = conditions.iter().enumerate().find_map(|(i, condition)| {
                    let current = model.get(condition.key());
                    (!condition.holds(current)).then(|| (i, current.cloned()))
                });
                let batch = conditions.into_iter().fold(Batch::new(), Batch::condition);
                let batch = ops.iter().cloned().fold(batch, Batch::op);
                let outcome = store.apply(batch).await.expect("apply");
                match (failure, outcome) {
                    (Some((condition, current)), outcome) => {
                        prop_assert_eq!(outcome, Outcome::Failed { condition, current }, "step {}", index);
                    }
                    (None, Outcome::Applied { version }) => {
                        prop_assert!(version > last, "step {}: version {} after {}", index, version, last);
                        last = version;
                        for op in ops {
                            match op {
                                Op::Put(key, value) => model.insert(key, Versioned { version, value }),
                                Op::Delete(key) => model.remove(&key),
                            };
                        }
                    }
                    (None, outcome) => prop_assert!(false, "step {}: expected to apply, got {:?}", index, outcome),
                }
            }
            ModelStep::Scan { prefix, limit } => {
                let prefix = &prefixes[prefix];
                let expected: Vec<(Key, Versioned)> = model
                    .iter()
                    .filter(|(key, _)| key.starts_with(prefix))
                    .map(|(key, versioned)| (key.clone(), versioned.clone()))
                    .collect();
                prop_assert_eq!(scan_all(store, prefix, limit).await, expected, "step {}", index);
            }
            ModelStep::MultiGet(indices) => {
                let asked: Vec<Key> = indices.iter().map(|&i| keys[i].clone()).collect();
                let expected: Vec<Option<Versioned>> = asked.iter().map(|key| model.get(key).cloned()).collect();
                prop_assert_eq!(store.multi_get(&asked).await.expect("multi_get"), expected, "step {}", index);
            }
        }
    }
    let everything: Vec<(Key, Versioned)> = model.into_iter().collect();
    prop_assert_eq!(scan_all(store, &Key::new(), 4).await, everything);
    Ok(())
}
