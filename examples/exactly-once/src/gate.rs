//! A slow callee for tests and benchmarks: [`Gated`] wraps a dispatcher,
//! counts the calls that arrive, and holds each until it is let through.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mu2sls::{CallContext, Dispatch, MethodKind, codec::Protocol};

/// `inner`, holding every call until a permit lets it through (one permit,
/// one call).
#[derive(Debug)]
pub struct Gated<D> {
    inner: D,
    gate: Arc<tokio::sync::Semaphore>,
    arrived: Arc<AtomicUsize>,
}

impl<D> Gated<D> {
    /// `inner` behind a closed gate.
    pub fn closed(inner: D) -> Gated<D> {
        Gated { inner, gate: Arc::new(tokio::sync::Semaphore::new(0)), arrived: Arc::default() }
    }

    /// `inner` behind an open gate: every call goes through (and is counted).
    pub fn open(inner: D) -> Gated<D> {
        let gate = Arc::new(tokio::sync::Semaphore::new(tokio::sync::Semaphore::MAX_PERMITS));
        Gated { inner, gate, arrived: Arc::default() }
    }

    /// The gate: `add_permits(n)` lets n more calls through.
    pub fn opener(&self) -> Arc<tokio::sync::Semaphore> {
        self.gate.clone()
    }

    /// The count of calls that arrived, shared.
    pub fn arrivals(&self) -> Arc<AtomicUsize> {
        self.arrived.clone()
    }
}

impl<D: Dispatch> Dispatch for Gated<D> {
    fn method_kind(&self, method: &str) -> Option<MethodKind> {
        self.inner.method_kind(method)
    }

    async fn dispatch<P: Protocol>(
        &self,
        cx: &CallContext,
        frame: bytes::Bytes,
        args_at: usize,
    ) -> Option<bytes::Bytes> {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        // Each permit lets one call through.
        self.gate.acquire().await.expect("the gate is never closed for good").forget();
        self.inner.dispatch::<P>(cx, frame, args_at).await
    }
}
