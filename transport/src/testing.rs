//! Fault injection for tests of exactly-once handlers (feature `testing`).
//!
//! [`CrashStore`] numbers every store request its clones make. Run a
//! workflow once on a counting store to learn how many requests N it
//! makes; then run it again for each k in 1..=N and both [`CrashPhase`]s
//! on a store that fails request k (Before: not forwarded; After:
//! forwarded, so durable, and then failed) and every request after it:
//! the "process" stopped there. Recover on the inner store (a fresh
//! engine, a collector pass, same-id retries) and check the invariants.
//!
//! ```
//! use mu2sls::testing::{CrashPhase, CrashStore};
//! use mu2sls::{Batch, Key, MemoryStore, Store};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let inner = MemoryStore::new();
//! let store = CrashStore::crashing(inner.clone(), 2, CrashPhase::After);
//! let key = Key::from(("state", "k"));
//! assert!(store.get(&key).await.is_ok());
//! // Request 2 reaches the inner store, then fails.
//! assert!(store.apply(Batch::new().put(key.clone(), "v")).await.is_err());
//! assert!(store.crashed());
//! assert!(inner.get(&key).await.unwrap().is_some());
//! assert!(store.get(&key).await.is_err());
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::store::{Batch, Key, Outcome, Page, Store, StoreBackend, StoreError, Versioned};

/// Where a [`CrashStore`] fails its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPhase {
    /// Before forwarding it: the request has no effect.
    Before,
    /// After forwarding it: the request took effect (it is as durable as
    /// the inner store makes it), but its caller sees a failure.
    After,
}

/// A store that fails request k (counting from 1 across all clones), before
/// or after forwarding it to the inner store, and every request after it.
#[derive(Debug, Clone)]
pub struct CrashStore<S> {
    inner: S,
    crash_at: Option<(u64, CrashPhase)>,
    requests: Arc<AtomicU64>,
    crashed: Arc<AtomicBool>,
}

impl<S: Store> CrashStore<S> {
    /// A store that forwards every request and counts them.
    pub fn counting(inner: S) -> CrashStore<S> {
        CrashStore { inner, crash_at: None, requests: Arc::default(), crashed: Arc::default() }
    }

    /// A store that fails request `k` in `phase`, and every later one.
    pub fn crashing(inner: S, k: u64, phase: CrashPhase) -> CrashStore<S> {
        CrashStore { crash_at: Some((k, phase)), ..CrashStore::counting(inner) }
    }

    /// The requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Whether the crash happened.
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    fn crash() -> StoreError {
        StoreError::Closed { backend: StoreBackend::Memory }
    }

    async fn gate<T>(&self, request: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        if self.crashed() {
            return Err(Self::crash());
        }
        if self.crash_at == Some((n, CrashPhase::Before)) {
            self.crashed.store(true, Ordering::SeqCst);
            return Err(Self::crash());
        }
        let result = request.await;
        if self.crash_at == Some((n, CrashPhase::After)) {
            self.crashed.store(true, Ordering::SeqCst);
            return Err(Self::crash());
        }
        result
    }
}

impl<S: Store> Store for CrashStore<S> {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        self.gate(self.inner.get(key)).await
    }

    async fn multi_get(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        self.gate(self.inner.multi_get(keys)).await
    }

    async fn scan_prefix(&self, prefix: &Key, page: Page) -> Result<Vec<(Key, Versioned)>, StoreError> {
        self.gate(self.inner.scan_prefix(prefix, page)).await
    }

    async fn apply(&self, batch: Batch) -> Result<Outcome, StoreError> {
        self.gate(self.inner.apply(batch)).await
    }
}
