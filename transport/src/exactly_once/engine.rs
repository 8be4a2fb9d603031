//! The engine: serving a call exactly once (spec §2.4) and garbage
//! collection (§2.9).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt as _;
use tracing::Instrument as _;

use crate::store::{Batch, Key, Outcome, Page, Store, StoreError, Versioned};

use super::call_id::{CallId, CallMeta};
use super::callback::Callback;
use super::clock::{Clock, millis};
use super::ctx::Ctx;
use super::error::EngineError;
use super::fingerprint::Fingerprint;
use super::invoke::invoke_fp;
use super::record::{
    CallRecord, CallStatus, IntentRecord, LogRecord, TombRecord, call_key, done_key, intent_key, log_key, log_prefix,
    parse_done_key, tomb_key,
};

/// Horizons and limits of an [`Engine`] (spec §2.7, §2.9).
///
/// ```
/// use mu2sls::EngineConfig;
/// use std::time::Duration;
///
/// let config = EngineConfig::default().retry_horizon(Duration::from_secs(3600)).redrive_after(Duration::from_secs(30));
/// // W = H + H₂ − skew margin.
/// assert_eq!(config.expiry_window(), Duration::from_secs(3600) + Duration::from_secs(7 * 86_400) - Duration::from_secs(60));
/// ```
#[derive(Debug, Clone)]
pub struct EngineConfig {
    retry_horizon: Duration,
    tombstone_life: Duration,
    skew_margin: Duration,
    redrive_after: Duration,
    max_attempts: u32,
    lease: Duration,
    gc_chunk: usize,
    leaf_fast_path: bool,
    callback_keys: Vec<super::callback::CallbackKey>,
    callback_address: Option<String>,
    callback_timeout: Duration,
    suspend_after: Option<Duration>,
    resume_after: Duration,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            retry_horizon: Duration::from_secs(24 * 3600),
            tombstone_life: Duration::from_secs(7 * 24 * 3600),
            skew_margin: Duration::from_secs(60),
            redrive_after: Duration::from_secs(60),
            max_attempts: 10,
            lease: Duration::from_secs(60),
            gc_chunk: 256,
            leaf_fast_path: true,
            callback_keys: Vec::new(),
            callback_address: None,
            callback_timeout: Duration::from_secs(2),
            suspend_after: None,
            resume_after: Duration::from_secs(30),
        }
    }
}

impl EngineConfig {
    /// H: how long a Done call keeps its record and step log (default 24 h).
    pub fn retry_horizon(mut self, h: Duration) -> EngineConfig {
        self.retry_horizon = h;
        self
    }

    /// H₂: how long a tombstone outlives its call record (default 7 days).
    pub fn tombstone_life(mut self, h2: Duration) -> EngineConfig {
        self.tombstone_life = h2;
        self
    }

    /// How much the expiry window W stays below H + H₂, for clock skew
    /// between the origin's clock and ours (default 60 s).
    pub fn skew_margin(mut self, margin: Duration) -> EngineConfig {
        self.skew_margin = margin;
        self
    }

    /// T: how long after it is due an intent waits before the collector
    /// re-drives it; doubles per attempt up to 2⁶·T. Must exceed the longest
    /// execution (default 60 s).
    pub fn redrive_after(mut self, t: Duration) -> EngineConfig {
        self.redrive_after = t;
        self
    }

    /// N: re-drives before an intent is parked (default 10).
    pub fn max_attempts(mut self, n: u32) -> EngineConfig {
        self.max_attempts = n;
        self
    }

    /// How long an execution's lease on a call lasts (default 60 s).
    pub fn lease(mut self, lease: Duration) -> EngineConfig {
        self.lease = lease;
        self
    }

    /// Entries per GC scan page and per log-deletion batch (default 256).
    pub fn gc_chunk(mut self, entries: usize) -> EngineConfig {
        self.gc_chunk = entries.max(1);
        self
    }

    /// Whether a call with no record yet first runs as a leaf (spec §2.4,
    /// on by default): its steps are buffered and committed with its Done
    /// record in one batch, conditioned on the call still having no record
    /// and on every key it read-modify-wrote being unchanged, so a call
    /// costs its own reads and one durable write (the call's records are
    /// not read first: the commit's conditions find a call that has them). A crash before that batch
    /// leaves nothing behind (the retry starts afresh). If the batch loses
    /// to a concurrent change three times, or the handler issues an
    /// operation the leaf path does not make (a map scan, a call of another
    /// service, an external call), the call runs again in step mode, where
    /// every step is logged as it happens; after the latter, the engine
    /// starts that method's calls in step mode from then on.
    pub fn leaf_fast_path(mut self, on: bool) -> EngineConfig {
        self.leaf_fast_path = on;
        self
    }

    /// The keys callbacks between services on different stores are signed
    /// with (spec §2.6): callees sign with `current`; receivers accept
    /// `current` and, while keys rotate, `previous`. Without keys, callees
    /// deliver no callbacks and receivers reject every one.
    pub fn callback_keys(
        mut self,
        current: super::callback::CallbackKey,
        previous: Option<super::callback::CallbackKey>,
    ) -> EngineConfig {
        self.callback_keys = std::iter::once(current).chain(previous).collect();
        self
    }

    /// The address (`host:port`) where this engine's server receives
    /// callbacks: callees on another store deliver their results there, so
    /// a caller that crashed after its callee finished finds the result in
    /// its log without calling again. Unset (the default), only callees on
    /// the same store report back (through their Done batch).
    pub fn callback_address(mut self, address: impl Into<String>) -> EngineConfig {
        self.callback_address = Some(address.into());
        self
    }

    /// How long a callee waits for a caller to take its callback (default
    /// 2 s); a callback not taken is dropped (the caller's retry gets the
    /// result from the callee).
    pub fn callback_timeout(mut self, timeout: Duration) -> EngineConfig {
        self.callback_timeout = timeout;
        self
    }

    /// Suspends a handler whose call of another service has no reply
    /// after `after` (off by default; needs a
    /// [`callback_address`](EngineConfig::callback_address)): its future is
    /// dropped, releasing what it holds, and the call resumes by replaying
    /// its log when the callee's callback arrives (or after
    /// [`resume_after`](EngineConfig::resume_after), whichever is first).
    pub fn suspend_after(mut self, after: Duration) -> EngineConfig {
        self.suspend_after = Some(after);
        self
    }

    /// How long a suspended call waits for its callee's callback before it
    /// replays anyway, which resends the call under the same id (default
    /// 30 s).
    pub fn resume_after(mut self, after: Duration) -> EngineConfig {
        self.resume_after = after;
        self
    }

    pub(crate) fn suspend_after_ref(&self) -> Option<Duration> {
        self.suspend_after.filter(|_| self.callback_address.is_some())
    }

    pub(crate) fn resume_after_ref(&self) -> Duration {
        self.resume_after
    }

    pub(crate) fn callback_keys_ref(&self) -> &[super::callback::CallbackKey] {
        &self.callback_keys
    }

    pub(crate) fn callback_address_ref(&self) -> Option<&str> {
        self.callback_address.as_deref()
    }

    /// W = H + H₂ − skew margin: a call id with no record whose origin is
    /// older than W is rejected with [`EngineError::ExpiredCallId`].
    pub fn expiry_window(&self) -> Duration {
        (self.retry_horizon + self.tombstone_life).saturating_sub(self.skew_margin)
    }

    pub(crate) fn redrive_after_ms(&self) -> u64 {
        millis(self.redrive_after)
    }

    pub(crate) fn max_attempts_value(&self) -> u32 {
        self.max_attempts
    }

    pub(crate) fn lease_ms(&self) -> u64 {
        millis(self.lease)
    }

    pub(crate) fn chunk(&self) -> usize {
        self.gc_chunk
    }
}

/// A call's request: the method and its canonically encoded arguments.
///
/// Its fingerprint tells a retry (same request) from a different request
/// reusing the id ([`EngineError::CallIdConflict`]). The body must be
/// canonical: encode map and set entries in sorted order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    body: Bytes,
    fp: Fingerprint,
}

impl Request {
    /// The request to call `method` with the encoded arguments `body`.
    pub fn new(method: impl Into<String>, body: impl Into<Bytes>) -> Request {
        let method = method.into();
        let body = body.into();
        let fp = Fingerprint::request(&method, &body);
        Request { method, body, fp }
    }

    /// The request to call `method` with `body` (what a re-drive sends
    /// again), identified by `canonical`, the arguments' canonical encoding
    /// (map and set entries sorted): retries that encode the same arguments
    /// differently are the same request.
    pub fn with_canonical(method: impl Into<String>, body: impl Into<Bytes>, canonical: &[u8]) -> Request {
        let method = method.into();
        let fp = Fingerprint::request(&method, canonical);
        Request { method, body: body.into(), fp }
    }

    /// The method name.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The encoded arguments.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    pub(crate) fn fp(&self) -> Fingerprint {
        self.fp
    }
}

/// What [`Engine::collect_garbage`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcReport {
    /// Done calls older than H moved to tombstones.
    pub tombstoned: usize,
    /// Step records deleted with them.
    pub log_entries_deleted: usize,
    /// Tombstones deleted after their life H₂.
    pub tombstones_expired: usize,
}

pub(crate) struct EngineInner<S, C> {
    pub(crate) service: String,
    pub(crate) store: S,
    pub(crate) clock: C,
    pub(crate) config: EngineConfig,
    /// Names this engine's executions in leases.
    owner: u64,
    /// The services its handlers call, by name.
    peers: std::sync::RwLock<std::collections::HashMap<String, super::invoke::Peer>>,
    /// The store's identity, read (or made) once.
    store_id: tokio::sync::OnceCell<Arc<str>>,
    /// Suspended calls, by the call and step waiting for a callback.
    suspended: dashmap::DashMap<(CallId, u64), Arc<tokio::sync::Notify>>,
    /// Methods whose handlers need step mode (they left the leaf path).
    step_methods: std::sync::RwLock<std::collections::HashSet<String>>,
}

/// The key of the store's identity: callers name their store by it in
/// callbacks, so a callee on the same store writes their step record.
fn store_id_key() -> Key {
    Key::from(("meta", "store-id"))
}

impl<S: Store, C> EngineInner<S, C> {
    /// The store's identity: a random id written once by whichever engine
    /// first asks.
    pub(crate) async fn store_id(&self) -> Result<Arc<str>, StoreError> {
        self.store_id
            .get_or_try_init(|| async {
                let key = store_id_key();
                loop {
                    if let Some(found) = self.store.get(&key).await? {
                        return Ok(Arc::from(String::from_utf8_lossy(&found.value).as_ref()));
                    }
                    let fresh: String = super::entropy::bytes::<16>().iter().map(|b| format!("{b:02x}")).collect();
                    let batch = Batch::new().absent(key.clone()).put(key.clone(), Bytes::from(fresh));
                    // Lost the race: read the winner's.
                    self.store.apply(batch).await?;
                }
            })
            .await
            .cloned()
    }

    /// Registers that `call` waits at `step` for a callback.
    pub(crate) fn suspend(&self, call: &CallId, step: u64) -> Arc<tokio::sync::Notify> {
        self.suspended.entry((call.clone(), step)).or_default().clone()
    }

    /// Takes the registration of a suspended call.
    pub(crate) fn unsuspend(&self, call: &CallId, step: u64) -> Option<Arc<tokio::sync::Notify>> {
        self.suspended.remove(&(call.clone(), step)).map(|(_, n)| n)
    }

    /// Wakes the call waiting at `step`, if it is suspended here (a permit
    /// is kept if it is not waiting yet).
    pub(crate) fn wake(&self, call: &CallId, step: u64) {
        if let Some(notify) = self.suspended.get(&(call.clone(), step)) {
            notify.notify_one();
        }
    }

    /// Whether `method`'s calls start in step mode.
    fn in_step_mode(&self, method: &str) -> bool {
        let methods = self.step_methods.read().unwrap_or_else(|p| p.into_inner());
        !methods.is_empty() && methods.contains(method)
    }

    /// Starts `method`'s calls in step mode from now on.
    fn start_in_steps(&self, method: &str) {
        self.step_methods.write().unwrap_or_else(|p| p.into_inner()).insert(method.to_owned());
    }

    pub(crate) fn peer(&self, service: &str) -> Option<super::invoke::Peer> {
        self.peers.read().unwrap_or_else(|p| p.into_inner()).get(service).cloned()
    }
}

/// Runs one service's handler calls exactly once over a [`Store`].
///
/// Cheap to clone (clones share one engine). Every effect a handler makes
/// through its [`Ctx`] is one logged step; the result is recorded once and
/// every duplicate, retry or re-drive of the call id gets the same bytes.
///
/// ```
/// use bytes::Bytes;
/// use mu2sls::{CallId, CallMeta, Engine, EngineConfig, ManualClock, MemoryStore, Request};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mu2sls::EngineError> {
/// let engine = Engine::new("Counter", MemoryStore::new(), ManualClock::new(1_000), EngineConfig::default());
/// let meta = CallMeta::root(CallId::root("Counter", "add", "req-1"), 1_000);
/// let request = Request::new("add", Bytes::from_static(b"\x00\x00\x00\x05"));
/// let add = |mut ctx: mu2sls::Ctx| async move {
///     let total: i64 = ctx.update("total", |old: Option<i64>| {
///         let new = old.unwrap_or(0) + 5;
///         (new, new)
///     }).await?;
///     Ok(Bytes::from(total.to_string()))
/// };
/// let first = engine.serve(&meta, &request, add).await?;
/// // A retry with the same id does not run the handler again.
/// let retry = engine.serve(&meta, &request, |_ctx| async { panic!("not run") }).await?;
/// assert_eq!((first.clone(), retry), (Bytes::from("5"), Bytes::from("5")));
/// # Ok(())
/// # }
/// ```
pub struct Engine<S, C> {
    inner: Arc<EngineInner<S, C>>,
}

impl<S, C> Clone for Engine<S, C> {
    fn clone(&self) -> Self {
        Engine { inner: Arc::clone(&self.inner) }
    }
}

impl<S, C> std::fmt::Debug for Engine<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("service", &self.inner.service).finish_non_exhaustive()
    }
}

/// How a call's execution begins.
enum Begin {
    /// A result exists: return it.
    Finished(Bytes),
    /// Run the handler; the call record has this version.
    Run(crate::store::Version),
    /// No record, and the call may run: try the leaf fast path.
    Absent,
}

/// What one leaf attempt ended with.
enum Leaf {
    /// Committed: the call's result.
    Done(Bytes),
    /// Another execution created a record first: read it again.
    Reread,
    /// A state conflict: try the leaf again.
    Conflict,
    /// Run in step mode instead.
    Steps,
}

/// Leaf attempts before a call that keeps meeting state conflicts runs in
/// step mode.
const LEAF_ATTEMPTS: u32 = 3;

fn panicked(call: &CallId, panic: &(dyn std::any::Any + Send)) -> EngineError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    EngineError::HandlerPanicked { call: call.clone(), message }
}

pub(crate) fn unavailable(call: &CallId, step: Option<u64>) -> impl FnOnce(StoreError) -> EngineError + '_ {
    move |source| EngineError::StoreUnavailable { call: Some(call.clone()), step, source }
}

pub(crate) fn corrupt(
    call: Option<&CallId>,
    step: Option<u64>,
    key: &Key,
) -> impl FnOnce(crate::codec::DecodeError) -> EngineError {
    let (call, key) = (call.cloned(), key.clone());
    move |source| EngineError::Corrupt { call, step, key, source: Box::new(source) }
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    /// An engine for `service`, keeping its records in `store` and reading
    /// time only from `clock`.
    pub fn new(service: impl Into<String>, store: S, clock: C, config: EngineConfig) -> Engine<S, C> {
        let owner = u64::from_le_bytes(super::entropy::bytes::<8>());
        let inner = EngineInner {
            service: service.into(),
            store,
            clock,
            config,
            owner,
            peers: Default::default(),
            store_id: tokio::sync::OnceCell::new(),
            suspended: dashmap::DashMap::new(),
            step_methods: Default::default(),
        };
        Engine { inner: Arc::new(inner) }
    }

    /// Registers how this engine's handlers reach `service`: their
    /// `ctx.client::<C>()` for a client whose `C::SERVICE` is `service`
    /// sends through `peer` (replacing an earlier one).
    pub fn add_peer(&self, service: impl Into<String>, peer: super::invoke::Peer) {
        self.inner.peers.write().unwrap_or_else(|p| p.into_inner()).insert(service.into(), peer);
    }

    /// The service this engine runs.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The store the engine keeps its records in.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The current time on the engine's clock.
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub(crate) fn inner(&self) -> &EngineInner<S, C> {
        &self.inner
    }

    /// How many calls are suspended here, waiting for a callee's callback
    /// ([`EngineConfig::suspend_after`]).
    pub fn suspended_calls(&self) -> usize {
        self.inner.suspended.len()
    }

    /// Serves one execution of the call `meta` names (spec §2.4).
    ///
    /// If the call has a result, returns it without running `handler`
    /// (a different request under the same id is
    /// [`EngineError::CallIdConflict`]). Otherwise records the call as
    /// running (a root also gets an intent the [`Collector`](crate::Collector)
    /// re-drives), runs `handler`, and records its `Ok` bytes (the encoded
    /// reply, declared exceptions included) as the call's one result: if
    /// another execution recorded one first, that one is returned. An `Err`
    /// or a panic is not a result and records nothing.
    pub async fn serve<F, Fut>(&self, meta: &CallMeta, request: &Request, mut handler: F) -> Result<Bytes, EngineError>
    where
        F: FnMut(Ctx) -> Fut,
        Fut: Future<Output = Result<Bytes, EngineError>>,
    {
        let span = tracing::info_span!("exactly_once.serve", service = %self.inner.service, call = %meta.call_id());
        async move {
            // A method whose handler once left the leaf path for an
            // operation a leaf cannot make (a call out, a map scan) starts
            // in step mode from then on.
            let leaf = self.inner.config.leaf_fast_path && !self.inner.in_step_mode(request.method());
            let mut leaf_attempts = if leaf { LEAF_ATTEMPTS } else { 0 };
            // A leaf may start without reading the call's records first: its
            // commit is conditioned on their absence, so a call that has a
            // record (a retry of a finished call, a running one) loses the
            // commit and reads them then. Not when the id may have expired
            // or the deadline passed: those need the records read first.
            let now = self.inner.clock.now_ms();
            let window_end_ms = meta.origin_ms().saturating_add(millis(self.inner.config.expiry_window()));
            let mut optimistic =
                leaf && now < window_end_ms && meta.deadline_ms().is_none_or(|deadline| now <= deadline);
            let version = loop {
                let begun = if std::mem::take(&mut optimistic) {
                    Begin::Absent
                } else {
                    self.begin(meta, request, leaf_attempts == 0).await?
                };
                match begun {
                    Begin::Finished(result) => return Ok(result),
                    Begin::Run(version) => break version,
                    Begin::Absent => match self.leaf(meta, request, &mut handler).await {
                        Ok(Leaf::Done(result)) => return Ok(result),
                        Ok(Leaf::Reread) => {}
                        Ok(Leaf::Conflict) => leaf_attempts -= 1,
                        Ok(Leaf::Steps) => {
                            self.inner.start_in_steps(request.method());
                            leaf_attempts = 0;
                        }
                        // A call that has a result returns it, whatever this
                        // execution's handler did.
                        Err(error) => match self.begin(meta, request, false).await? {
                            Begin::Finished(result) => return Ok(result),
                            Begin::Run(_) | Begin::Absent => return Err(error),
                        },
                    },
                }
            };
            let call = meta.call_id();
            let ctx = Ctx::new(Arc::clone(&self.inner) as Arc<dyn super::ctx::Backend>, meta.clone());
            let result = match AssertUnwindSafe(handler(ctx)).catch_unwind().await {
                Ok(Ok(result)) => result,
                Ok(Err(error)) => {
                    if matches!(error, EngineError::Divergence { .. }) && call.is_root() {
                        self.park(call).await;
                    }
                    return Err(error);
                }
                Err(panic) => return Err(panicked(call, &*panic)),
            };
            self.finish(meta, request, version, result).await
        }
        .instrument(span)
        .await
    }

    /// One leaf attempt: runs the handler with its steps buffered, then
    /// commits its effects and Done record in one batch.
    async fn leaf<F, Fut>(&self, meta: &CallMeta, request: &Request, handler: &mut F) -> Result<Leaf, EngineError>
    where
        F: FnMut(Ctx) -> Fut,
        Fut: Future<Output = Result<Bytes, EngineError>>,
    {
        let call = meta.call_id();
        let buffer = Arc::new(std::sync::Mutex::new(super::ctx::Buffer::default()));
        let ctx = Ctx::buffered(Arc::clone(&self.inner) as Arc<dyn super::ctx::Backend>, meta.clone(), buffer.clone());
        let outcome = AssertUnwindSafe(handler(ctx)).catch_unwind().await;
        let buffer = std::mem::take(&mut *buffer.lock().unwrap_or_else(|p| p.into_inner()));
        if buffer.needs_steps() {
            return Ok(Leaf::Steps);
        }
        let result = match outcome {
            Ok(Ok(result)) => result,
            // Nothing was written: not a result, as in step mode.
            Ok(Err(error)) => return Err(error),
            Err(panic) => return Err(panicked(call, &*panic)),
        };
        let now = self.inner.clock.now_ms();
        let (ckey, tkey) = (call_key(call), tomb_key(call));
        let done = CallRecord {
            fp: request.fp(),
            origin_ms: meta.origin_ms(),
            status: CallStatus::Done { result: result.clone(), done_at_ms: now },
        };
        let mut batch = buffer
            .into_batch(Batch::new().absent(ckey.clone()).absent(tkey))
            .put(ckey, done.encode())
            .put(done_key(now, call), Bytes::new());
        if meta.caller().is_some() {
            // An asynchronous call's intent, written by its caller.
            batch = batch.delete(intent_key(call));
        }
        let batch = self.with_caller_entry(batch, meta, request, &result).await?;
        match self.inner.store.apply(batch).await.map_err(unavailable(call, None))? {
            Outcome::Applied { .. } => {
                self.deliver_callback(meta, request, &result).await;
                Ok(Leaf::Done(result))
            }
            Outcome::Failed { condition: 0 | 1, .. } => Ok(Leaf::Reread),
            Outcome::Failed { .. } => Ok(Leaf::Conflict),
        }
    }

    async fn begin(&self, meta: &CallMeta, request: &Request, create: bool) -> Result<Begin, EngineError> {
        let inner = &self.inner;
        let call = meta.call_id();
        let (ckey, tkey) = (call_key(call), tomb_key(call));
        loop {
            let now = inner.clock.now_ms();
            let found = inner.store.multi_get(&[ckey.clone(), tkey.clone()]).await.map_err(unavailable(call, None))?;
            let mut found = found.into_iter();
            let (current, tomb) = (found.next().flatten(), found.next().flatten());
            if let Some(current) = current {
                let record = CallRecord::decode(&current.value).map_err(corrupt(Some(call), None, &ckey))?;
                if record.fp != request.fp() {
                    return Err(EngineError::CallIdConflict { call: call.clone() });
                }
                match record.status {
                    CallStatus::Done { result, .. } => return Ok(Begin::Finished(result)),
                    CallStatus::Running { owner, lease_expiry_ms } => {
                        self.check_deadline(meta, now)?;
                        if lease_expiry_ms > now || owner == inner.owner {
                            // Duplicates run and converge through the log.
                            return Ok(Begin::Run(current.version));
                        }
                        // An expired lease is taken over by CAS.
                        let running = CallRecord { status: self.running(now), ..record };
                        let batch =
                            Batch::new().version_is(ckey.clone(), current.version).put(ckey.clone(), running.encode());
                        if let Outcome::Applied { version } =
                            inner.store.apply(batch).await.map_err(unavailable(call, None))?
                        {
                            return Ok(Begin::Run(version));
                        }
                        continue;
                    }
                }
            }
            if let Some(tomb) = tomb {
                let record = TombRecord::decode(&tomb.value).map_err(corrupt(Some(call), None, &tkey))?;
                if record.fp != request.fp() {
                    return Err(EngineError::CallIdConflict { call: call.clone() });
                }
                return Ok(Begin::Finished(record.result));
            }
            // Invariant G: a call whose records may have been collected never
            // runs (again).
            let window_end_ms = meta.origin_ms().saturating_add(millis(inner.config.expiry_window()));
            if now >= window_end_ms {
                return Err(EngineError::ExpiredCallId {
                    call: call.clone(),
                    origin_ms: meta.origin_ms(),
                    window_end_ms,
                });
            }
            self.check_deadline(meta, now)?;
            if !create {
                return Ok(Begin::Absent);
            }
            let record = CallRecord { fp: request.fp(), origin_ms: meta.origin_ms(), status: self.running(now) };
            let mut batch = Batch::new().absent(ckey.clone()).absent(tkey.clone()).put(ckey.clone(), record.encode());
            if call.is_root() {
                let intent = IntentRecord {
                    call_id: call.clone(),
                    origin_ms: meta.origin_ms(),
                    method: request.method().to_owned(),
                    body: request.body().clone(),
                    attempts: 0,
                    next_due_ms: now.saturating_add(inner.config.redrive_after_ms()),
                    parked: false,
                    target: None,
                };
                batch = batch.put(intent_key(call), intent.encode());
            }
            if let Outcome::Applied { version } = inner.store.apply(batch).await.map_err(unavailable(call, None))? {
                return Ok(Begin::Run(version));
            }
            // Another execution created a record first: read it again.
        }
    }

    fn running(&self, now: u64) -> CallStatus {
        CallStatus::Running {
            owner: self.inner.owner,
            lease_expiry_ms: now.saturating_add(self.inner.config.lease_ms()),
        }
    }

    fn check_deadline(&self, meta: &CallMeta, now_ms: u64) -> Result<(), EngineError> {
        match meta.deadline_ms() {
            Some(deadline_ms) if now_ms > deadline_ms => {
                Err(EngineError::DeadlinePassed { call: meta.call_id().clone(), deadline_ms, now_ms })
            }
            _ => Ok(()),
        }
    }

    /// The Done batch: first writer wins.
    async fn finish(
        &self,
        meta: &CallMeta,
        request: &Request,
        mut version: crate::store::Version,
        result: Bytes,
    ) -> Result<Bytes, EngineError> {
        let inner = &self.inner;
        let call = meta.call_id();
        let ckey = call_key(call);
        loop {
            let now = inner.clock.now_ms();
            let done = CallRecord {
                fp: request.fp(),
                origin_ms: meta.origin_ms(),
                status: CallStatus::Done { result: result.clone(), done_at_ms: now },
            };
            let batch = Batch::new()
                .version_is(ckey.clone(), version)
                .put(ckey.clone(), done.encode())
                .put(done_key(now, call), Bytes::new())
                .delete(intent_key(call));
            let batch = self.with_caller_entry(batch, meta, request, &result).await?;
            match inner.store.apply(batch).await.map_err(unavailable(call, None))? {
                Outcome::Applied { .. } => {
                    self.deliver_callback(meta, request, &result).await;
                    return Ok(result);
                }
                Outcome::Failed { current: Some(current), .. } => {
                    let record = CallRecord::decode(&current.value).map_err(corrupt(Some(call), None, &ckey))?;
                    match record.status {
                        CallStatus::Done { result, .. } => return Ok(result),
                        // A lease was taken over: retry on the new version.
                        CallStatus::Running { .. } => version = current.version,
                    }
                }
                Outcome::Failed { current: None, .. } => {
                    // Collected since (only Done calls are): the tombstone
                    // holds the winner's result.
                    let tkey = tomb_key(call);
                    let tomb = inner.store.get(&tkey).await.map_err(unavailable(call, None))?;
                    if let Some(tomb) = tomb {
                        return Ok(TombRecord::decode(&tomb.value).map_err(corrupt(Some(call), None, &tkey))?.result);
                    }
                    return Err(EngineError::ExpiredCallId {
                        call: call.clone(),
                        origin_ms: meta.origin_ms(),
                        window_end_ms: meta.origin_ms().saturating_add(millis(inner.config.expiry_window())),
                    });
                }
            }
        }
    }

    /// `batch` plus the caller's step record, which a child call's Done
    /// batch writes when the caller shares this store (its callback names
    /// `store:<this store's id>`, spec §2.6): the caller then finds the
    /// result in its log even if it crashed before the reply reached it.
    ///
    /// Written without a condition: the caller's record at that step is
    /// absent, or the Pending record of an asynchronous call, or (if the
    /// caller got a reply from an earlier Done batch, which this one's
    /// condition on the call record rules out) this very result.
    async fn with_caller_entry(
        &self,
        batch: Batch,
        meta: &CallMeta,
        request: &Request,
        result: &Bytes,
    ) -> Result<Batch, EngineError> {
        let (Some((caller, step)), Some(callback)) = (meta.caller(), meta.callback()) else { return Ok(batch) };
        let Some(store) = Callback::parse(callback).store else { return Ok(batch) };
        let own = self.inner.store_id().await.map_err(unavailable(meta.call_id(), None))?;
        if *own != *store {
            return Ok(batch);
        }
        let record = LogRecord::invoke(invoke_fp(request.fp()), result.clone());
        Ok(batch.put(log_key(caller, step), record.encode()))
    }

    /// After this execution's Done batch: delivers the result to a caller
    /// on another store that gave a callback address (spec §2.6).
    ///
    /// Delivered even when the Done batch wrote the caller's record (same
    /// store): the callback wakes a caller that suspended waiting for it.
    async fn deliver_callback(&self, meta: &CallMeta, request: &Request, result: &Bytes) {
        let Some(callback) = meta.callback() else { return };
        let Some(address) = Callback::parse(callback).address else { return };
        if meta.caller().is_none() {
            return;
        }
        let Some(key) = self.inner.config.callback_keys.first() else {
            tracing::warn!(call = %meta.call_id(), "no callback key configured: callback not delivered");
            return;
        };
        let fp = invoke_fp(request.fp());
        let timeout = self.inner.config.callback_timeout;
        super::callback::deliver(address, key, meta, request.method(), fp, result, timeout).await;
    }

    /// Parks a root's intent after a divergence (best effort: a failure
    /// leaves the intent to the collector, which parks it after N attempts).
    async fn park(&self, call: &CallId) {
        let key = intent_key(call);
        let Ok(Some(current)) = self.inner.store.get(&key).await else { return };
        let Ok(mut intent) = IntentRecord::decode(&current.value) else { return };
        intent.parked = true;
        let batch = Batch::new().version_is(key.clone(), current.version).put(key, intent.encode());
        if let Err(error) = self.inner.store.apply(batch).await {
            tracing::warn!(%call, %error, "could not park the intent of a diverged call");
        } else {
            tracing::warn!(%call, "intent parked after a divergence");
        }
    }

    /// One garbage-collection pass at time `now_ms` (spec §2.9).
    ///
    /// Phase 1: every Done call older than H loses its step log (deleted in
    /// chunks by exact tuple prefix) and then, in one batch, its call record
    /// and done-index entry, replaced by a tombstone living H₂. Phase 2
    /// deletes expired tombstones. Deleting the log first means a crash
    /// anywhere leaves a Done record a later pass finishes; a duplicate in
    /// between gets the Done result and needs no log.
    pub async fn collect_garbage(&self, now_ms: u64) -> Result<GcReport, EngineError> {
        let span = tracing::info_span!("exactly_once.gc", service = %self.inner.service);
        async move {
            let mut report = GcReport::default();
            self.tombstone_done_calls(now_ms, &mut report).await?;
            self.expire_tombstones(now_ms, &mut report).await?;
            Ok(report)
        }
        .instrument(span)
        .await
    }

    async fn tombstone_done_calls(&self, now_ms: u64, report: &mut GcReport) -> Result<(), EngineError> {
        let inner = &self.inner;
        let horizon = now_ms.saturating_sub(millis(inner.config.retry_horizon));
        let chunk = inner.config.chunk();
        let prefix = Key::from(("done",));
        let mut page = Page::first(chunk);
        loop {
            let entries = inner.store.scan_prefix(&prefix, page.clone()).await.map_err(gc_unavailable)?;
            let last_page = entries.len() < page.limit();
            for (key, _) in &entries {
                let Some((done_at, call)) = parse_done_key(key) else {
                    return Err(gc_corrupt(key));
                };
                // The index is ordered by done_at: the rest is younger.
                if done_at >= horizon {
                    return Ok(());
                }
                self.tombstone(&call, key, now_ms, report).await?;
            }
            match entries.last() {
                Some((key, _)) if !last_page => page = Page::after(key.clone(), chunk),
                _ => return Ok(()),
            }
        }
    }

    async fn tombstone(
        &self,
        call: &CallId,
        done: &Key,
        now_ms: u64,
        report: &mut GcReport,
    ) -> Result<(), EngineError> {
        let inner = &self.inner;
        let ckey = call_key(call);
        let Some(current) = inner.store.get(&ckey).await.map_err(unavailable(call, None))? else {
            // A stray index entry: its call is gone already.
            inner.store.apply(Batch::new().delete(done.clone())).await.map_err(unavailable(call, None))?;
            return Ok(());
        };
        let record = CallRecord::decode(&current.value).map_err(corrupt(Some(call), None, &ckey))?;
        let CallStatus::Done { result, .. } = record.status else {
            inner.store.apply(Batch::new().delete(done.clone())).await.map_err(unavailable(call, None))?;
            return Ok(());
        };
        report.log_entries_deleted += self.delete_log(call).await?;
        let tomb = TombRecord {
            fp: record.fp,
            result,
            expires_at_ms: now_ms.saturating_add(millis(inner.config.tombstone_life)),
        };
        let batch = Batch::new()
            .version_is(ckey.clone(), current.version)
            .delete(ckey)
            .delete(done.clone())
            .put(tomb_key(call), tomb.encode());
        if inner.store.apply(batch).await.map_err(unavailable(call, None))?.is_applied() {
            report.tombstoned += 1;
        }
        Ok(())
    }

    /// Deletes every `(log, call, *)` entry, a chunk per batch.
    async fn delete_log(&self, call: &CallId) -> Result<usize, EngineError> {
        let inner = &self.inner;
        let prefix = log_prefix(call);
        let chunk = inner.config.chunk();
        let mut deleted = 0;
        loop {
            let entries =
                inner.store.scan_prefix(&prefix, Page::first(chunk)).await.map_err(unavailable(call, None))?;
            if entries.is_empty() {
                return Ok(deleted);
            }
            let n = entries.len();
            let batch = entries.into_iter().fold(Batch::new(), |batch, (key, _)| batch.delete(key));
            inner.store.apply(batch).await.map_err(unavailable(call, None))?;
            deleted += n;
            if n < chunk {
                return Ok(deleted);
            }
        }
    }

    async fn expire_tombstones(&self, now_ms: u64, report: &mut GcReport) -> Result<(), EngineError> {
        let inner = &self.inner;
        let chunk = inner.config.chunk();
        let prefix = Key::from(("tomb",));
        let mut page = Page::first(chunk);
        loop {
            let entries = inner.store.scan_prefix(&prefix, page.clone()).await.map_err(gc_unavailable)?;
            let mut expired = 0;
            for (key, Versioned { version, value }) in &entries {
                let tomb = TombRecord::decode(value).map_err(corrupt(None, None, key))?;
                if tomb.expires_at_ms <= now_ms {
                    // One batch per tombstone keeps each deletion conditional
                    // on the tombstone it read.
                    let one = Batch::new().version_is(key.clone(), *version).delete(key.clone());
                    if inner.store.apply(one).await.map_err(gc_unavailable)?.is_applied() {
                        expired += 1;
                    }
                }
            }
            report.tombstones_expired += expired;
            match entries.last() {
                Some((key, _)) if entries.len() == page.limit() => page = Page::after(key.clone(), chunk),
                _ => return Ok(()),
            }
        }
    }
}

fn gc_unavailable(source: StoreError) -> EngineError {
    EngineError::StoreUnavailable { call: None, step: None, source }
}

fn gc_corrupt(key: &Key) -> EngineError {
    EngineError::Corrupt {
        call: None,
        step: None,
        key: key.clone(),
        source: Box::new(crate::codec::DecodeError::new(
            crate::codec::DecodeErrorKind::InvalidValue("done-index key"),
            0,
        )),
    }
}
