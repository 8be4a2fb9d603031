//! The store contract the exactly-once layer runs on (spec §2.11), and its
//! backends.
//!
//! A store maps tuple-encoded [`Key`]s to [`Versioned`] byte values. Writes
//! arrive as [`Batch`]es: conditions checked and operations applied as one
//! atomic, linearizable step, stamped with the next version of a store-wide
//! commit sequence. Versions never repeat, so `VersionIs` conditions cannot be
//! fooled by a value that changed and changed back (no ABA).

mod error;
mod key;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sled")]
mod sled;

#[cfg(test)]
mod conformance;

use std::fmt;
use std::future::Future;

use bytes::Bytes;

pub use self::error::{Corruption, StoreBackend, StoreError, StoreOperation};
pub use self::key::{Key, KeyDecodeError, KeyPart};
pub use self::memory::MemoryStore;
/// Fresh-schema fixtures for tests of code above the store.
#[cfg(all(test, feature = "postgres"))]
pub(crate) use self::postgres::testing as postgres_testing;
#[cfg(feature = "postgres")]
pub use self::postgres::{PostgresError, PostgresOptions, PostgresStore};
#[cfg(feature = "sled")]
pub use self::sled::{Durability, SledOptions, SledStore};

/// A versioned key-value store with atomic conditional batches.
///
/// The contract, which every backend's tests check with one shared suite:
///
/// - [`apply`](Store::apply) is atomic (all of a batch's operations or none)
///   and linearizable, for single-key and multi-key batches alike;
///   [`get`](Store::get), [`multi_get`](Store::multi_get) and each
///   [`scan_prefix`](Store::scan_prefix) page observe whole batches only.
/// - Every applied batch takes the next version of one store-wide commit
///   sequence: versions strictly increase in commit order and are never
///   reused, also across restarts of a durable store. (`PostgresStore`
///   orders them by commit among batches that share a key, and above every
///   version already answered; concurrent batches on disjoint keys may
///   commit out of version order, which no condition can observe.)
/// - A condition that does not hold is an [`Outcome::Failed`], not an error.
/// - A backend reports a result only once the state it observed is as durable
///   as the backend promises (process lifetime for [`MemoryStore`], flushed to
///   disk for `SledStore`, committed with `synchronous_commit = on` for
///   `PostgresStore`).
///
/// Futures are `Send`, so code generic over `S: Store` can spawn them.
///
/// ```
/// use bytes::Bytes;
/// use mu2sls::{Batch, Key, MemoryStore, Outcome, Store};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mu2sls::StoreError> {
/// async fn record_once<S: Store>(store: &S, key: Key, value: Bytes) -> Result<bool, mu2sls::StoreError> {
///     let outcome = store.apply(Batch::new().absent(key.clone()).put(key, value)).await?;
///     Ok(outcome.is_applied())
/// }
///
/// let store = MemoryStore::new();
/// let key = Key::from(("log", "t1", 0u64));
/// assert!(record_once(&store, key.clone(), Bytes::from_static(b"first")).await?);
/// assert!(!record_once(&store, key.clone(), Bytes::from_static(b"second")).await?);
/// assert_eq!(store.get(&key).await?.map(|v| v.value), Some(Bytes::from_static(b"first")));
/// # Ok(())
/// # }
/// ```
pub trait Store: Send + Sync {
    /// The current value of `key`, if any.
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Versioned>, StoreError>> + Send;

    /// The current values of `keys`, in the same order, read as of one point
    /// in time.
    fn multi_get(&self, keys: &[Key]) -> impl Future<Output = Result<Vec<Option<Versioned>>, StoreError>> + Send;

    /// Up to `page.limit()` entries whose keys have `prefix` as leading
    /// components, in ascending key order, starting after `page`'s resume key.
    ///
    /// A page shorter than its limit is the last one. Each page is read as of
    /// one point in time; entries changed between pages may or may not show.
    fn scan_prefix(
        &self,
        prefix: &Key,
        page: Page,
    ) -> impl Future<Output = Result<Vec<(Key, Versioned)>, StoreError>> + Send;

    /// Checks `batch`'s conditions in order and, if all hold, applies its
    /// operations in order, as one atomic step.
    ///
    /// After an error, or if the future is dropped before it finishes, the
    /// batch may or may not have been applied; sending the same conditional
    /// batch again is the way to find out.
    fn apply(&self, batch: Batch) -> impl Future<Output = Result<Outcome, StoreError>> + Send;
}

/// A position in a store's commit sequence.
///
/// The first commit of a fresh store gets version 1; every later commit gets a
/// larger one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u64);

impl Version {
    /// The version with the given number.
    pub const fn new(n: u64) -> Version {
        Version(n)
    }

    /// This version's number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A stored value and the version of the commit that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Versioned {
    /// The commit that wrote the value.
    pub version: Version,
    /// The value.
    pub value: Bytes,
}

/// A condition a [`Batch`] requires of the current state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Condition {
    /// The key holds no value.
    Absent(Key),
    /// The key holds a value written by the commit with this version.
    VersionIs(Key, Version),
}

impl Condition {
    /// The key the condition is about.
    pub fn key(&self) -> &Key {
        match self {
            Condition::Absent(key) | Condition::VersionIs(key, _) => key,
        }
    }

    /// Whether the condition holds for `current`, the key's current value.
    pub(crate) fn holds(&self, current: Option<&Versioned>) -> bool {
        match (self, current) {
            (Condition::Absent(_), current) => current.is_none(),
            (Condition::VersionIs(_, expected), Some(current)) => current.version == *expected,
            (Condition::VersionIs(..), None) => false,
        }
    }
}

/// A write in a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    /// Sets the key's value.
    Put(Key, Bytes),
    /// Removes the key's value, if any.
    Delete(Key),
}

impl Op {
    /// The key the operation writes.
    pub fn key(&self) -> &Key {
        match self {
            Op::Put(key, _) | Op::Delete(key) => key,
        }
    }
}

/// Conditions and writes applied as one atomic step by [`Store::apply`].
///
/// Conditions are checked in order against the state before the batch; the
/// first that fails is reported and nothing is written. Otherwise the
/// operations apply in order (a later one on the same key wins) and every
/// value written carries the batch's version. A batch without operations
/// still commits (and takes a version) when its conditions hold.
///
/// ```
/// use bytes::Bytes;
/// use mu2sls::{Batch, Condition, Key, Version};
///
/// let log = Key::from(("log", "svc.m:k", 0u64));
/// let state = Key::from(("state", "svc", "k"));
/// let batch = Batch::new()
///     .absent(log.clone())
///     .version_is(state.clone(), Version::new(7))
///     .put(state, Bytes::from_static(b"2"))
///     .put(log.clone(), Bytes::from_static(b"done"));
/// assert_eq!(batch.conditions()[0], Condition::Absent(log));
/// assert_eq!(batch.ops().len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    conditions: Vec<Condition>,
    ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds a condition.
    pub fn condition(mut self, condition: Condition) -> Batch {
        self.conditions.push(condition);
        self
    }

    /// Requires `key` to hold no value.
    pub fn absent(self, key: Key) -> Batch {
        self.condition(Condition::Absent(key))
    }

    /// Requires `key` to hold the value written at `version`.
    pub fn version_is(self, key: Key, version: Version) -> Batch {
        self.condition(Condition::VersionIs(key, version))
    }

    /// Adds an operation.
    pub fn op(mut self, op: Op) -> Batch {
        self.ops.push(op);
        self
    }

    /// Sets `key` to `value`.
    pub fn put(self, key: Key, value: impl Into<Bytes>) -> Batch {
        self.op(Op::Put(key, value.into()))
    }

    /// Removes `key`'s value.
    pub fn delete(self, key: Key) -> Batch {
        self.op(Op::Delete(key))
    }

    /// The conditions, in check order.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The operations, in apply order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The conditions and operations, taken apart.
    pub fn into_parts(self) -> (Vec<Condition>, Vec<Op>) {
        (self.conditions, self.ops)
    }
}

/// The result of [`Store::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every condition held and the batch committed with this version.
    Applied {
        /// The batch's commit version, carried by every value it wrote.
        version: Version,
    },
    /// A condition did not hold; nothing was written.
    Failed {
        /// Index of the first condition that failed, in the batch's order.
        condition: usize,
        /// The current value of that condition's key.
        current: Option<Versioned>,
    },
}

impl Outcome {
    /// Whether the batch committed.
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied { .. })
    }
}

/// Where a [`Store::scan_prefix`] page starts and how long it may be.
///
/// ```
/// use mu2sls::{Key, Page};
///
/// let first = Page::first(100);
/// let next = Page::after(Key::from(("log", "t1", 99u64)), 100);
/// assert_eq!(first.limit(), 100);
/// assert_eq!(next.resume_after(), Some(&Key::from(("log", "t1", 99u64))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    after: Option<Key>,
    limit: usize,
}

impl Page {
    /// The first page, at most `limit` entries (a limit of 0 is taken as 1).
    pub fn first(limit: usize) -> Page {
        Page { after: None, limit: limit.max(1) }
    }

    /// The page of at most `limit` entries whose keys come after `key`,
    /// usually the last key of the previous page.
    pub fn after(key: Key, limit: usize) -> Page {
        Page { after: Some(key), limit: limit.max(1) }
    }

    /// The most entries the page may hold (at least 1).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The key the page starts after, if any.
    pub fn resume_after(&self) -> Option<&Key> {
        self.after.as_ref()
    }

    /// Whether `key` (under the scanned prefix) belongs after this page's
    /// start.
    pub(crate) fn admits(&self, key: &Key) -> bool {
        self.after.as_ref().is_none_or(|after| key > after)
    }
}

/// Records an outcome on an `apply` span declaring the empty fields `version`
/// and `failed_condition`.
pub(crate) fn record_outcome(span: &tracing::Span, outcome: &Outcome) {
    match outcome {
        Outcome::Applied { version } => span.record("version", version.get()),
        Outcome::Failed { condition, .. } => span.record("failed_condition", condition),
    };
}
