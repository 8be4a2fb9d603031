//! `MemoryStore`: the process-lifetime backend, for tests and for measuring
//! the framework's own overhead.

use std::sync::{Arc, PoisonError, RwLock};

use dashmap::DashMap;
use tracing::Instrument;

use super::{Batch, Key, Op, Outcome, Page, Store, StoreBackend, StoreError, Version, Versioned, record_outcome};

/// An in-memory [`Store`]: durable for the life of the process, shared by every
/// clone of the handle.
///
/// Values live in a [`DashMap`]. One commit lock makes batches atomic and
/// linearizable: [`apply`](Store::apply) holds it exclusively while it checks
/// conditions, takes the next version and writes, and every read holds it
/// shared, so no read observes part of a batch and every operation takes
/// effect at one instant inside its call. Readers run in parallel with each
/// other; batches commit one at a time, in microseconds. Per-key locking would
/// let disjoint batches commit in parallel, but multi-key reads and scans
/// would then need predicate locks to stay atomic; this backend favours the
/// simple argument. The lock is never held across an `.await`: every method
/// finishes its work before its future first returns.
///
/// `scan_prefix` visits every entry (the map has no order), so it costs time
/// linear in the store's size.
///
/// ```
/// use mu2sls::{Batch, Key, MemoryStore, Outcome, Store, Version};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mu2sls::StoreError> {
/// let store = MemoryStore::new();
/// let key = Key::from(("state", "counter", "a"));
/// let Outcome::Applied { version } = store.apply(Batch::new().put(key.clone(), "1")).await? else {
///     unreachable!("a batch without conditions always applies");
/// };
/// let stale = Batch::new().version_is(key.clone(), Version::new(version.get() + 1)).put(key.clone(), "2");
/// assert!(matches!(store.apply(stale).await?, Outcome::Failed { condition: 0, .. }));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<MemoryInner>,
}

/// The map's hasher: foldhash, seeded at random per process (keys come
/// from callers, so a fixed seed would invite collisions). Hashing keys is
/// a good part of a call's store work; SipHash, the default, costs several
/// times as much on keys of this size.
type Hasher = foldhash::fast::RandomState;

#[derive(Debug, Default)]
struct MemoryInner {
    entries: DashMap<Key, Versioned, Hasher>,
    /// The commit lock; it guards the last version handed out.
    commit: RwLock<u64>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn read<T>(&self, read: impl FnOnce(&DashMap<Key, Versioned, Hasher>) -> T) -> T {
        // A panic elsewhere cannot leave the map half-written (writes happen
        // after every fallible step), so a poisoned lock is still sound.
        let _shared = self.inner.commit.read().unwrap_or_else(PoisonError::into_inner);
        read(&self.inner.entries)
    }

    fn apply_now(&self, batch: Batch) -> Result<Outcome, StoreError> {
        let mut last = self.inner.commit.write().unwrap_or_else(PoisonError::into_inner);
        let entries = &self.inner.entries;
        for (index, condition) in batch.conditions().iter().enumerate() {
            let current = entries.get(condition.key()).map(|entry| entry.value().clone());
            if !condition.holds(current.as_ref()) {
                return Ok(Outcome::Failed { condition: index, current });
            }
        }
        let version = last
            .checked_add(1)
            .ok_or(StoreError::VersionsExhausted { backend: StoreBackend::Memory, last: Version::new(*last) })?;
        *last = version;
        let version = Version::new(version);
        for op in batch.into_parts().1 {
            match op {
                Op::Put(key, value) => {
                    entries.insert(key, Versioned { version, value });
                }
                Op::Delete(key) => {
                    entries.remove(&key);
                }
            }
        }
        Ok(Outcome::Applied { version })
    }
}

impl Store for MemoryStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let span = tracing::debug_span!("store.get", backend = "memory", %key);
        async { Ok(self.read(|entries| entries.get(key).map(|entry| entry.value().clone()))) }.instrument(span).await
    }

    async fn multi_get(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        let span = tracing::debug_span!("store.multi_get", backend = "memory", keys = keys.len());
        async {
            Ok(self
                .read(|entries| keys.iter().map(|key| entries.get(key).map(|entry| entry.value().clone())).collect()))
        }
        .instrument(span)
        .await
    }

    async fn scan_prefix(&self, prefix: &Key, page: Page) -> Result<Vec<(Key, Versioned)>, StoreError> {
        let span = tracing::debug_span!("store.scan_prefix", backend = "memory", %prefix, limit = page.limit());
        async {
            let mut found: Vec<(Key, Versioned)> = self.read(|entries| {
                entries
                    .iter()
                    .filter(|entry| entry.key().starts_with(prefix) && page.admits(entry.key()))
                    .map(|entry| (entry.key().clone(), entry.value().clone()))
                    .collect()
            });
            // Keep the `limit` smallest keys without sorting the rest.
            if found.len() > page.limit() {
                found.select_nth_unstable_by(page.limit(), |a, b| a.0.cmp(&b.0));
                found.truncate(page.limit());
            }
            found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            Ok(found)
        }
        .instrument(span)
        .await
    }

    async fn apply(&self, batch: Batch) -> Result<Outcome, StoreError> {
        let span = tracing::debug_span!(
            "store.apply",
            backend = "memory",
            conditions = batch.conditions().len(),
            ops = batch.ops().len(),
            version = tracing::field::Empty,
            failed_condition = tracing::field::Empty,
        );
        async {
            let outcome = self.apply_now(batch)?;
            record_outcome(&tracing::Span::current(), &outcome);
            Ok(outcome)
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;
    use crate::store::conformance;

    conformance::conformance_tests!(((), MemoryStore::new()));

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        #[test]
        fn matches_model(steps in conformance::model_steps()) {
            conformance::run_model_check(MemoryStore::new(), steps)?;
        }
    }
}
