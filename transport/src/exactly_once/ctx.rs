//! The handler context (spec §2.2, §2.5): every operation is one logged
//! step, numbered in issue order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use crate::codec::{Binary, Decode, DecodeError, Encode, Reader, Writer, decode, encode};
use crate::store::{Batch, Condition, Key, Outcome, Store, Versioned};

use super::call_id::{CallId, CallMeta};
use super::clock::Clock;
use super::engine::{EngineInner, corrupt, unavailable};
use super::error::{BoxError, EngineError, StepKind};
use super::fingerprint::Fingerprint;
use super::record::{LogRecord, log_key, state_key};
use crate::store::{Page, StoreError};

/// A value a step logs and a replay reads back: a result of
/// [`Ctx::update`] or [`Ctx::transaction`].
///
/// Every codec type ([`Encode`] + [`Decode`], generated Thrift types
/// included) is one, and so is `()`.
pub trait StepValue: Sized {
    /// The logged bytes.
    fn to_step_bytes(&self) -> Bytes;
    /// The value back from its logged bytes.
    fn from_step_bytes(bytes: &Bytes) -> Result<Self, DecodeError>;
}

impl<T: Encode + Decode> StepValue for T {
    fn to_step_bytes(&self) -> Bytes {
        encode::<Binary, T>(self)
    }
    fn from_step_bytes(bytes: &Bytes) -> Result<T, DecodeError> {
        decode::<Binary, T>(bytes)
    }
}

impl StepValue for () {
    fn to_step_bytes(&self) -> Bytes {
        Bytes::new()
    }
    fn from_step_bytes(_: &Bytes) -> Result<(), DecodeError> {
        Ok(())
    }
}

/// A handler's access to persistent state and nondeterminism, for one
/// execution of one call.
///
/// Every method is exactly one step. Its record is written in the same
/// atomic batch as its effect, conditioned on the step having no record
/// yet; if one exists (an earlier or concurrent execution of the same call),
/// its value is adopted and the effect not repeated. Each operation claims
/// its step number when it is issued, from one counter shared with the
/// clients and durable futures made from this context ([`Ctx::client`],
/// [`Ctx::invoke_async`]), and keeps it however often it retries (a
/// conflict re-runs at the same number), so every execution numbers its
/// operations alike. A replay that issues a different operation at a step
/// gets [`EngineError::Divergence`] before any effect.
///
/// State values are encoded with our codec (`Binary`), so generated Thrift
/// types are state values as they are; each key of the service's map is its
/// own store entry, `("state", service, key)`.
///
/// `get` followed by `put` is not isolated from other calls: read-modify-write
/// with [`update`](Ctx::update) or [`transaction`](Ctx::transaction).
pub struct Ctx {
    shared: Arc<Shared>,
    /// The step of the operation in progress.
    step: u64,
}

/// What a call's execution shares between its [`Ctx`] and the clients
/// and durable futures made from it ([`Ctx::client`], [`Ctx::invoke_async`]):
/// one step cursor, so every operation, call or branch claims the next
/// number in issue order, whoever issues it.
pub(crate) struct Shared {
    pub(crate) engine: Arc<dyn Backend>,
    pub(crate) meta: CallMeta,
    /// The number the next operation claims.
    cursor: AtomicU64,
    /// Set once an operation met a divergence, so a server that turns the
    /// handler's error into a reply still parks the call's intent.
    divergence: std::sync::Mutex<Option<(u64, StepKind, StepKind)>>,
    /// Set when a call of another service suspended the handler at a step.
    suspension: std::sync::Mutex<Option<u64>>,
    /// Set for a leaf execution: operations read the store (and this
    /// buffer) and buffer their effects, logging nothing.
    pub(crate) leaf: Option<Arc<std::sync::Mutex<Buffer>>>,
}

impl Shared {
    /// Claims the next step number.
    pub(crate) fn claim(&self) -> u64 {
        self.cursor.fetch_add(1, Ordering::SeqCst)
    }

    pub(crate) fn call_id(&self) -> &CallId {
        self.meta.call_id()
    }

    /// Records the first divergence of this execution.
    pub(crate) fn diverged(&self, step: u64, issued: StepKind, logged: StepKind) -> EngineError {
        let mut seen = self.divergence.lock().unwrap_or_else(|p| p.into_inner());
        seen.get_or_insert((step, issued, logged));
        EngineError::Divergence { call: self.call_id().clone(), step, issued, logged }
    }

    /// Records that the handler suspends at `step` (its call of another
    /// service got no reply in time).
    pub(crate) fn suspended(&self, step: u64) -> EngineError {
        *self.suspension.lock().unwrap_or_else(|p| p.into_inner()) = Some(step);
        EngineError::Suspended { call: self.call_id().clone(), step }
    }

    /// Marks a leaf execution as needing step mode (it issued an operation
    /// a leaf cannot buffer); false if this is no leaf.
    pub(crate) fn leave_leaf(&self) -> bool {
        match &self.leaf {
            Some(buffer) => {
                buffer.lock().unwrap_or_else(|p| p.into_inner()).steps = true;
                true
            }
            None => false,
        }
    }
}

/// The effects of a leaf execution, committed with its Done record in one
/// batch (spec §2.4, leaf fast path).
#[derive(Debug, Default)]
pub(crate) struct Buffer {
    /// Keys read-modify-written from the store, with the version read
    /// (`None`: absent): each becomes a condition of the batch.
    reads: BTreeMap<Key, Option<crate::store::Version>>,
    /// The last write of each key (`None`: deleted), in key order.
    writes: BTreeMap<Key, Option<Bytes>>,
    /// The handler issued an operation a leaf cannot buffer.
    steps: bool,
}

impl Buffer {
    /// Whether the call must run in step mode instead.
    pub(crate) fn needs_steps(&self) -> bool {
        self.steps
    }

    /// `batch` followed by this buffer's conditions and writes.
    pub(crate) fn into_batch(self, batch: Batch) -> Batch {
        let batch = self.reads.into_iter().fold(batch, |b, (key, version)| match version {
            Some(v) => b.version_is(key, v),
            None => b.absent(key),
        });
        self.writes.into_iter().fold(batch, |b, (key, value)| match value {
            Some(bytes) => b.put(key, bytes),
            None => b.delete(key),
        })
    }
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// What a [`Ctx`] needs of its engine, with the store and clock types
/// erased: handlers (and the generated traits they implement) name one
/// `Ctx` type whatever store the engine runs on. A step costs a store
/// round trip; the box around its future is noise beside that.
pub(crate) trait Backend: Send + Sync {
    fn service(&self) -> &str;
    fn now_ms(&self) -> u64;
    fn redrive_after_ms(&self) -> u64;
    fn config(&self) -> &super::engine::EngineConfig;
    fn suspend(&self, call: &CallId, step: u64);
    fn unsuspend(&self, call: &CallId, step: u64);
    fn peer(&self, service: &str) -> Option<super::invoke::Peer>;
    fn store_id(&self) -> BoxFuture<'_, Result<Arc<str>, StoreError>>;
    fn apply(&self, batch: Batch) -> BoxFuture<'_, Result<Outcome, StoreError>>;
    fn multi_get<'a>(&'a self, keys: &'a [Key]) -> BoxFuture<'a, Result<Vec<Option<Versioned>>, StoreError>>;
    fn scan_prefix<'a>(
        &'a self,
        prefix: &'a Key,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<(Key, Versioned)>, StoreError>>;
}

impl<S: Store + 'static, C: Clock> Backend for EngineInner<S, C> {
    fn service(&self) -> &str {
        &self.service
    }
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
    fn redrive_after_ms(&self) -> u64 {
        self.config.redrive_after_ms()
    }
    fn config(&self) -> &super::engine::EngineConfig {
        &self.config
    }
    fn suspend(&self, call: &CallId, step: u64) {
        EngineInner::suspend(self, call, step);
    }
    fn unsuspend(&self, call: &CallId, step: u64) {
        EngineInner::unsuspend(self, call, step);
    }
    fn peer(&self, service: &str) -> Option<super::invoke::Peer> {
        EngineInner::peer(self, service)
    }
    fn store_id(&self) -> BoxFuture<'_, Result<Arc<str>, StoreError>> {
        Box::pin(EngineInner::store_id(self))
    }
    fn apply(&self, batch: Batch) -> BoxFuture<'_, Result<Outcome, StoreError>> {
        Box::pin(self.store.apply(batch))
    }
    fn multi_get<'a>(&'a self, keys: &'a [Key]) -> BoxFuture<'a, Result<Vec<Option<Versioned>>, StoreError>> {
        Box::pin(self.store.multi_get(keys))
    }
    fn scan_prefix<'a>(
        &'a self,
        prefix: &'a Key,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<(Key, Versioned)>, StoreError>> {
        Box::pin(self.store.scan_prefix(prefix, page))
    }
}

impl fmt::Debug for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx").field("call", self.call_id()).field("step", &self.step).finish_non_exhaustive()
    }
}

/// What writing a step's record found.
enum Recorded {
    /// The record (and the step's effect) is durable.
    Written,
    /// A record existed; its kind and fingerprint match.
    Adopted(LogRecord),
    /// A state condition failed: run the step again, same number.
    Conflict,
}

impl Ctx {
    pub(crate) fn new(engine: Arc<dyn Backend>, meta: CallMeta) -> Ctx {
        Ctx::with_leaf(engine, meta, None)
    }

    fn with_leaf(engine: Arc<dyn Backend>, meta: CallMeta, leaf: Option<Arc<std::sync::Mutex<Buffer>>>) -> Ctx {
        let shared = Shared {
            engine,
            meta,
            cursor: AtomicU64::new(0),
            divergence: std::sync::Mutex::new(None),
            suspension: std::sync::Mutex::new(None),
            leaf,
        };
        Ctx { shared: Arc::new(shared), step: 0 }
    }

    /// The call this execution serves.
    pub fn call_id(&self) -> &CallId {
        self.shared.call_id()
    }

    /// The metadata of the call this execution serves.
    pub fn meta(&self) -> &CallMeta {
        &self.shared.meta
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A context for a leaf execution, buffering its effects in `buffer`.
    pub(crate) fn buffered(engine: Arc<dyn Backend>, meta: CallMeta, buffer: Arc<std::sync::Mutex<Buffer>>) -> Ctx {
        Ctx::with_leaf(engine, meta, Some(buffer))
    }

    /// Claims the next step number for the operation starting now.
    fn claim(&mut self) {
        self.step = self.shared.claim();
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, Buffer> {
        let leaf = self.shared.leaf.as_ref().expect("a leaf context");
        leaf.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A leaf's view of `key`: its own write if it made one (`Ok`), else
    /// the store's value (`Err`, with its version).
    async fn leaf_read(&self, key: &Key) -> Result<Result<Option<Bytes>, Option<Versioned>>, EngineError> {
        if let Some(written) = self.buffer().writes.get(key) {
            return Ok(Ok(written.clone()));
        }
        let mut found = self
            .shared
            .engine
            .multi_get(std::slice::from_ref(key))
            .await
            .map_err(unavailable(self.call_id(), Some(self.step)))?;
        Ok(Err(found.pop().flatten()))
    }

    /// A leaf's read-modify-write of `key`: the value to modify; the store
    /// version read becomes a condition of the commit.
    async fn leaf_read_for_update(&self, key: &Key) -> Result<Option<Bytes>, EngineError> {
        Ok(match self.leaf_read(key).await? {
            Ok(own) => own,
            Err(stored) => {
                let version = stored.as_ref().map(|v| v.version);
                self.buffer().reads.entry(key.clone()).or_insert(version);
                stored.map(|v| v.value)
            }
        })
    }

    /// The first divergence an operation of this execution met (its error
    /// may since have been turned into something else by the handler).
    pub(crate) fn divergence(&self) -> Option<EngineError> {
        let seen = *self.shared.divergence.lock().unwrap_or_else(|p| p.into_inner());
        seen.map(|(step, issued, logged)| EngineError::Divergence {
            call: self.call_id().clone(),
            step,
            issued,
            logged,
        })
    }

    /// The suspension an operation of this execution met (its error may
    /// since have been turned into something else by the handler).
    pub(crate) fn suspension(&self) -> Option<EngineError> {
        let step = (*self.shared.suspension.lock().unwrap_or_else(|p| p.into_inner()))?;
        Some(EngineError::Suspended { call: self.call_id().clone(), step })
    }

    /// The number the next operation's step will have.
    pub fn step(&self) -> u64 {
        self.shared.cursor.load(Ordering::SeqCst)
    }

    /// An [`EngineError::HandlerFailed`] for this call: what a handler
    /// returns for an error that is not a result (not recorded; the call
    /// may be retried).
    pub fn fail(&self, error: impl Into<BoxError>) -> EngineError {
        EngineError::HandlerFailed { call: self.call_id().clone(), source: error.into() }
    }

    fn fp(&self, kind: StepKind, parts: &[&[u8]]) -> Fingerprint {
        let code = [kind.code()];
        let mut all: Vec<&[u8]> = Vec::with_capacity(parts.len() + 2);
        all.push(&code);
        all.push(self.shared.engine.service().as_bytes());
        all.extend_from_slice(parts);
        Fingerprint::of(&all)
    }

    fn log_key(&self) -> Key {
        log_key(self.call_id(), self.step)
    }

    fn state_key(&self, key: &str) -> Key {
        Slot::Key(key).key(self.shared.engine.service())
    }

    fn corrupt(&self, key: &Key) -> impl FnOnce(DecodeError) -> EngineError {
        corrupt(Some(self.call_id()), Some(self.step), key)
    }

    /// Checks an existing record against what this execution issues.
    fn adopt(&self, kind: StepKind, fp: Fingerprint, found: &Versioned) -> Result<LogRecord, EngineError> {
        let record = LogRecord::decode(&found.value).map_err(self.corrupt(&self.log_key()))?;
        if record.kind != kind || record.fp != fp {
            return Err(self.shared.diverged(self.step, kind, record.kind));
        }
        Ok(record)
    }

    /// Writes this step's record with `effect`'s conditions and writes, in
    /// one batch conditioned first on the record being absent.
    async fn record(
        &self,
        kind: StepKind,
        fp: Fingerprint,
        value: Option<Bytes>,
        effect: Batch,
    ) -> Result<Recorded, EngineError> {
        let lkey = self.log_key();
        let (conditions, ops) = effect.into_parts();
        let mut batch = Batch::new().absent(lkey.clone());
        batch = conditions.into_iter().fold(batch, Batch::condition);
        batch = ops.into_iter().fold(batch, Batch::op);
        batch = batch.put(lkey, LogRecord { kind, fp, value }.encode());
        match self.shared.engine.apply(batch).await.map_err(unavailable(self.call_id(), Some(self.step)))? {
            Outcome::Applied { .. } => Ok(Recorded::Written),
            Outcome::Failed { condition: 0, current: Some(found) } => {
                Ok(Recorded::Adopted(self.adopt(kind, fp, &found)?))
            }
            Outcome::Failed { .. } => Ok(Recorded::Conflict),
        }
    }

    /// Reads this step's record and the given state keys at one point in
    /// time.
    async fn read(&self, state: &[Key]) -> Result<(Option<Versioned>, Vec<Option<Versioned>>), EngineError> {
        let mut keys = Vec::with_capacity(state.len() + 1);
        keys.push(self.log_key());
        keys.extend_from_slice(state);
        let mut found =
            self.shared.engine.multi_get(&keys).await.map_err(unavailable(self.call_id(), Some(self.step)))?;
        let rest = found.split_off(1);
        Ok((found.pop().flatten(), rest))
    }

    /// The value at `key`, if any.
    pub async fn get<T: Decode>(&mut self, key: &str) -> Result<Option<T>, EngineError> {
        self.get_slot(Slot::Key(key)).await
    }

    /// Sets `key` to `value`.
    pub async fn put<T: Encode>(&mut self, key: &str, value: &T) -> Result<(), EngineError> {
        self.put_slot(Slot::Key(key), value).await
    }

    /// Removes `key`'s value, if any.
    pub async fn delete(&mut self, key: &str) -> Result<(), EngineError> {
        self.delete_slot(Slot::Key(key)).await
    }

    /// Atomically replaces `key`'s value with `f(old).0` and returns
    /// `f(old).1`, logged: a replay returns the logged value without
    /// calling `f`. If the key changes between the read and the write, `f`
    /// runs again at the same step.
    pub async fn update<T, R, F>(&mut self, key: &str, f: F) -> Result<R, EngineError>
    where
        T: Encode + Decode,
        R: StepValue,
        F: FnMut(Option<T>) -> (T, R),
    {
        self.update_slot(Slot::Key(key), f).await
    }

    /// The persistent map `name` of this service, with values of type `V`.
    /// Each entry is a store entry of its own (`("map", service, name,
    /// entry)`), so a map grows without rewriting a blob, and every
    /// operation on it is one logged step as on plain keys.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use mu2sls::{CallId, CallMeta, Engine, EngineConfig, ManualClock, MemoryStore, Request};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mu2sls::EngineError> {
    /// let engine = Engine::new("Social", MemoryStore::new(), ManualClock::new(0), EngineConfig::default());
    /// let meta = CallMeta::root(CallId::root("Social", "follow", "f-1"), 0);
    /// let reply = engine
    ///     .serve(&meta, &Request::new("follow", Bytes::new()), |mut ctx| async move {
    ///         let mut followers = ctx.map::<i64>("followers:alice");
    ///         followers.insert("bob", &1_700_000_000).await?;
    ///         followers.insert("carol", &1_700_000_500).await?;
    ///         let all = followers.entries(100).await?;
    ///         Ok(Bytes::from(all.into_iter().map(|(who, _)| who).collect::<Vec<_>>().join(",")))
    ///     })
    ///     .await?;
    /// assert_eq!(reply, Bytes::from("bob,carol"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn map<V: Encode + Decode>(&mut self, name: &str) -> PMap<'_, V> {
        PMap { ctx: self, name: name.to_owned(), value: std::marker::PhantomData }
    }

    async fn get_slot<T: Decode>(&mut self, slot: Slot<'_>) -> Result<Option<T>, EngineError> {
        self.claim();
        let skey = slot.key(self.shared.engine.service());
        if self.shared.leaf.is_some() {
            let value = match self.leaf_read(&skey).await? {
                Ok(own) => own,
                Err(stored) => stored.map(|v| v.value),
            };
            let value = value.map(|bytes| decode::<Binary, T>(&bytes)).transpose().map_err(self.corrupt(&skey))?;
            return Ok(value);
        }
        let fp = self.fp(StepKind::Get, &slot.parts());
        let (log, mut state) = self.read(std::slice::from_ref(&skey)).await?;
        let value = match log {
            Some(found) => self.adopt(StepKind::Get, fp, &found)?.value,
            None => {
                let value = state.pop().flatten().map(|v| v.value);
                match self.record(StepKind::Get, fp, value.clone(), Batch::new()).await? {
                    Recorded::Written | Recorded::Conflict => value,
                    Recorded::Adopted(record) => record.value,
                }
            }
        };
        let value = value.map(|bytes| decode::<Binary, T>(&bytes)).transpose().map_err(self.corrupt(&skey))?;
        Ok(value)
    }

    async fn put_slot<T: Encode>(&mut self, slot: Slot<'_>, value: &T) -> Result<(), EngineError> {
        self.claim();
        let bytes = encode::<Binary, T>(value);
        if self.shared.leaf.is_some() {
            self.buffer().writes.insert(slot.key(self.shared.engine.service()), Some(bytes));
            return Ok(());
        }
        let mut parts = slot.parts();
        parts.push(&bytes);
        let fp = self.fp(StepKind::Put, &parts);
        let effect = Batch::new().put(slot.key(self.shared.engine.service()), bytes.clone());
        self.record(StepKind::Put, fp, None, effect).await?;
        Ok(())
    }

    async fn delete_slot(&mut self, slot: Slot<'_>) -> Result<(), EngineError> {
        self.claim();
        if self.shared.leaf.is_some() {
            self.buffer().writes.insert(slot.key(self.shared.engine.service()), None);
            return Ok(());
        }
        let fp = self.fp(StepKind::Delete, &slot.parts());
        let effect = Batch::new().delete(slot.key(self.shared.engine.service()));
        self.record(StepKind::Delete, fp, None, effect).await?;
        Ok(())
    }

    async fn update_slot<T, R, F>(&mut self, slot: Slot<'_>, mut f: F) -> Result<R, EngineError>
    where
        T: Encode + Decode,
        R: StepValue,
        F: FnMut(Option<T>) -> (T, R),
    {
        self.claim();
        let skey = slot.key(self.shared.engine.service());
        if self.shared.leaf.is_some() {
            let old = self.leaf_read_for_update(&skey).await?;
            let old = old.map(|b| decode::<Binary, T>(&b)).transpose().map_err(self.corrupt(&skey))?;
            let (new, ret) = f(old);
            self.buffer().writes.insert(skey, Some(encode::<Binary, T>(&new)));
            return Ok(ret);
        }
        let fp = self.fp(StepKind::Update, &slot.parts());
        loop {
            let (log, mut state) = self.read(std::slice::from_ref(&skey)).await?;
            let logged = match log {
                Some(found) => self.adopt(StepKind::Update, fp, &found)?,
                None => {
                    let current = state.pop().flatten();
                    let old = current
                        .as_ref()
                        .map(|v| decode::<Binary, T>(&v.value))
                        .transpose()
                        .map_err(self.corrupt(&skey))?;
                    let (new, ret) = f(old);
                    let ret_bytes = ret.to_step_bytes();
                    let effect = expect_version(Batch::new(), &skey, current.as_ref())
                        .put(skey.clone(), encode::<Binary, T>(&new));
                    match self.record(StepKind::Update, fp, Some(ret_bytes), effect).await? {
                        Recorded::Written => {
                            return Ok(ret);
                        }
                        Recorded::Adopted(record) => record,
                        Recorded::Conflict => continue,
                    }
                }
            };
            let ret = R::from_step_bytes(&logged.value.unwrap_or_default()).map_err(self.corrupt(&self.log_key()))?;
            return Ok(ret);
        }
    }

    /// Up to `limit` entries of map `name` in key order, as one logged step.
    async fn scan_map<V: Decode>(&mut self, name: &str, limit: usize) -> Result<Vec<(String, V)>, EngineError> {
        self.claim();
        if self.shared.leaf.is_some() {
            // A scan would have to merge the buffered writes: run the call
            // in step mode instead.
            self.buffer().steps = true;
            return Err(self.fail("a leaf execution does not scan; the call runs again in step mode"));
        }
        let fp = self.fp(StepKind::Scan, &[MAP_TAG.as_bytes(), name.as_bytes(), &(limit as u64).to_be_bytes()]);
        let (log, _) = self.read(&[]).await?;
        let bytes = match log {
            Some(found) => self.adopt(StepKind::Scan, fp, &found)?.value.unwrap_or_default(),
            None => {
                let prefix = Key::from((MAP_TAG, self.shared.engine.service(), name));
                let found = self
                    .shared
                    .engine
                    .scan_prefix(&prefix, Page::first(limit.max(1)))
                    .await
                    .map_err(unavailable(self.call_id(), Some(self.step)))?;
                let mut w = Writer::<Binary, BytesMut>::new(BytesMut::new());
                let found: Vec<_> = found.into_iter().take(limit).collect();
                w.i32(i32::try_from(found.len()).unwrap_or(i32::MAX));
                for (key, value) in &found {
                    let entry = match key.parts().nth(3) {
                        Some(crate::store::KeyPart::Str(entry)) => entry.into_owned(),
                        _ => {
                            return Err(self.corrupt(key)(DecodeError::new(
                                crate::codec::DecodeErrorKind::InvalidValue("map entry key"),
                                0,
                            )));
                        }
                    };
                    w.string(&entry);
                    w.binary(&value.value);
                }
                let bytes = w.into_inner().freeze();
                match self.record(StepKind::Scan, fp, Some(bytes.clone()), Batch::new()).await? {
                    Recorded::Written | Recorded::Conflict => bytes,
                    Recorded::Adopted(record) => record.value.unwrap_or_default(),
                }
            }
        };
        let entries = decode_entries::<V>(&bytes).map_err(self.corrupt(&self.log_key()))?;
        Ok(entries)
    }

    /// Runs `f` as an optimistic transaction over several keys of this
    /// service (spec §2.10): reads see the transaction's own writes; the
    /// commit is one batch conditioned on every key read being unchanged,
    /// and a conflict re-runs `f` at the same step. One step however many
    /// attempts it takes. `Ok(Err(a))` is an abort (`f` returned
    /// [`TxError::Abort`]): nothing is written, and replays return the same
    /// abort.
    ///
    /// `f` reads with [`Tx::get`]`(..)?`: a key not yet fetched interrupts
    /// the attempt, and `f` re-runs once every key it asked for is read, all
    /// at one point in time. So `f` must have no side effects of its own.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use mu2sls::{CallId, CallMeta, Engine, EngineConfig, ManualClock, MemoryStore, Request, TxError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mu2sls::EngineError> {
    /// let engine = Engine::new("Bank", MemoryStore::new(), ManualClock::new(0), EngineConfig::default());
    /// let meta = CallMeta::root(CallId::root("Bank", "transfer", "t-1"), 0);
    /// let reply = engine
    ///     .serve(&meta, &Request::new("transfer", Bytes::new()), |mut ctx| async move {
    ///         let moved = ctx
    ///             .transaction(|tx| {
    ///                 let from: i64 = tx.get("alice")?.unwrap_or(100);
    ///                 if from < 30 {
    ///                     return Err(TxError::Abort("insufficient funds".to_owned()));
    ///                 }
    ///                 let to: i64 = tx.get("bob")?.unwrap_or(0);
    ///                 tx.put("alice", &(from - 30));
    ///                 tx.put("bob", &(to + 30));
    ///                 Ok(30i64)
    ///             })
    ///             .await?;
    ///         Ok(Bytes::from(format!("{moved:?}")))
    ///     })
    ///     .await?;
    /// assert_eq!(reply, Bytes::from("Ok(30)"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn transaction<R, A, F>(&mut self, mut f: F) -> Result<Result<R, A>, EngineError>
    where
        R: StepValue,
        A: StepValue,
        F: FnMut(&mut Tx) -> Result<R, TxError<A>>,
    {
        self.claim();
        if self.shared.leaf.is_some() {
            return self.leaf_transaction(f).await;
        }
        let fp = self.fp(StepKind::Transaction, &[]);
        // Keys the closure asked for, fetched together on every attempt.
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        loop {
            let keys: Vec<Key> = wanted.iter().map(|k| self.state_key(k)).collect();
            let (log, values) = self.read(&keys).await?;
            if let Some(found) = log {
                let record = self.adopt(StepKind::Transaction, fp, &found)?;
                let outcome =
                    decode_tx_outcome(&record.value.unwrap_or_default()).map_err(self.corrupt(&self.log_key()))?;
                return Ok(outcome);
            }
            let (outcome, tx) = match self.attempt(&mut f, wanted.iter().cloned().zip(values).collect())? {
                Attempt::Finished(outcome, tx) => (outcome, tx),
                Attempt::NeedsRead(key) => {
                    wanted.insert(key);
                    continue;
                }
            };
            let mut effect = Batch::new();
            for key in &tx.reads {
                let skey = self.state_key(key);
                let current = tx.snapshot.get(key).and_then(Option::as_ref);
                effect = expect_version(effect, &skey, current);
            }
            if outcome.is_ok() {
                for (key, value) in tx.writes {
                    let skey = self.state_key(&key);
                    effect = match value {
                        Some(bytes) => effect.put(skey, bytes),
                        None => effect.delete(skey),
                    };
                }
            }
            let logged = encode_tx_outcome(&outcome);
            match self.record(StepKind::Transaction, fp, Some(logged), effect).await? {
                Recorded::Written => {
                    return Ok(outcome);
                }
                Recorded::Adopted(record) => {
                    let outcome =
                        decode_tx_outcome(&record.value.unwrap_or_default()).map_err(self.corrupt(&self.log_key()))?;
                    return Ok(outcome);
                }
                // A key read changed: re-run at the same step.
                Recorded::Conflict => {}
            }
        }
    }

    /// Runs one attempt of a transaction closure over `snapshot`.
    fn attempt<R, A, F>(
        &self,
        f: &mut F,
        snapshot: BTreeMap<String, Option<Versioned>>,
    ) -> Result<Attempt<R, A>, EngineError>
    where
        F: FnMut(&mut Tx) -> Result<R, TxError<A>>,
    {
        let mut tx = Tx { snapshot, reads: BTreeSet::new(), writes: BTreeMap::new() };
        match f(&mut tx) {
            Ok(value) => Ok(Attempt::Finished(Ok(value), tx)),
            Err(TxError::Abort(abort)) => Ok(Attempt::Finished(Err(abort), tx)),
            Err(TxError::Interrupted(TxInterrupt(Interrupt::NeedsRead(key)))) => Ok(Attempt::NeedsRead(key)),
            Err(TxError::Interrupted(TxInterrupt(Interrupt::Corrupt { key, source }))) => {
                Err(self.corrupt(&self.state_key(&key))(source))
            }
        }
    }

    /// [`Ctx::transaction`] in a leaf: reads from the buffer or the store,
    /// writes into the buffer; every key read from the store becomes a
    /// condition of the commit.
    async fn leaf_transaction<R, A, F>(&mut self, mut f: F) -> Result<Result<R, A>, EngineError>
    where
        F: FnMut(&mut Tx) -> Result<R, TxError<A>>,
    {
        let mut snapshot: BTreeMap<String, (Option<Versioned>, bool)> = BTreeMap::new();
        loop {
            let view = snapshot.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect();
            let (outcome, tx) = match self.attempt(&mut f, view)? {
                Attempt::Finished(outcome, tx) => (outcome, tx),
                Attempt::NeedsRead(key) => {
                    let skey = self.state_key(&key);
                    let entry = match self.leaf_read(&skey).await? {
                        // Own writes read back without a condition.
                        Ok(own) => (own.map(|value| Versioned { version: crate::store::Version::new(0), value }), true),
                        Err(stored) => (stored, false),
                    };
                    snapshot.insert(key, entry);
                    continue;
                }
            };
            if outcome.is_ok() {
                let keys: Vec<(Key, Option<Versioned>)> = tx
                    .reads
                    .iter()
                    .filter_map(|k| match snapshot.get(k) {
                        Some((stored, false)) => Some((self.state_key(k), stored.clone())),
                        _ => None,
                    })
                    .collect();
                let writes: Vec<(Key, Option<Bytes>)> =
                    tx.writes.into_iter().map(|(k, v)| (self.state_key(&k), v)).collect();
                let mut buffer = self.buffer();
                for (key, stored) in keys {
                    buffer.reads.entry(key).or_insert(stored.map(|v| v.version));
                }
                buffer.writes.extend(writes);
            }
            return Ok(outcome);
        }
    }

    /// The current time, logged: replays see the first execution's time.
    pub async fn now(&mut self) -> Result<SystemTime, EngineError> {
        let engine = Arc::clone(&self.shared.engine);
        let ms: i64 = self.draw(StepKind::Now, || i64::try_from(engine.now_ms()).unwrap_or(i64::MAX)).await?;
        Ok(UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
    }

    /// A random `u64`, logged.
    pub async fn random(&mut self) -> Result<u64, EngineError> {
        let n: i64 = self.draw(StepKind::Random, || i64::from_le_bytes(super::entropy::bytes::<8>())).await?;
        Ok(n as u64)
    }

    /// A random (version 4) UUID, logged.
    pub async fn uuid(&mut self) -> Result<uuid::Uuid, EngineError> {
        self.draw(StepKind::Uuid, || uuid::Builder::from_random_bytes(super::entropy::bytes::<16>()).into_uuid()).await
    }

    /// A logged nondeterministic value: the logged one if the step has a
    /// record, else `fresh()`, recorded.
    async fn draw<T: StepValue>(&mut self, kind: StepKind, fresh: impl FnOnce() -> T) -> Result<T, EngineError> {
        self.claim();
        if self.shared.leaf.is_some() {
            // Nothing of a leaf is seen before its commit, the result included.
            return Ok(fresh());
        }
        let fp = self.fp(kind, &[]);
        let (log, _) = self.read(&[]).await?;
        let bytes = match log {
            Some(found) => self.adopt(kind, fp, &found)?.value,
            None => {
                let bytes = fresh().to_step_bytes();
                match self.record(kind, fp, Some(bytes.clone()), Batch::new()).await? {
                    Recorded::Written | Recorded::Conflict => Some(bytes),
                    Recorded::Adopted(record) => record.value,
                }
            }
        };
        let value = T::from_step_bytes(&bytes.unwrap_or_default()).map_err(self.corrupt(&self.log_key()))?;
        Ok(value)
    }
}

/// The first key component of map entries.
const MAP_TAG: &str = "map";

/// Where a value lives: a plain key of the service, or an entry of one of
/// its maps.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Key(&'a str),
    Entry(&'a str, &'a str),
}

impl<'a> Slot<'a> {
    fn key(self, service: &str) -> Key {
        match self {
            Slot::Key(key) => state_key(service, key),
            Slot::Entry(map, entry) => Key::from((MAP_TAG, service, map, entry)),
        }
    }

    /// The parts of the step fingerprint that name the slot.
    fn parts(self) -> Vec<&'a [u8]> {
        match self {
            Slot::Key(key) => vec![key.as_bytes()],
            Slot::Entry(map, entry) => vec![MAP_TAG.as_bytes(), map.as_bytes(), entry.as_bytes()],
        }
    }
}

fn decode_entries<V: Decode>(bytes: &Bytes) -> Result<Vec<(String, V)>, DecodeError> {
    let mut r = Reader::<Binary>::new(bytes);
    let n = r.i32()?;
    let mut out = Vec::new();
    for _ in 0..n.max(0) {
        let entry = r.string()?;
        let value = r.binary()?;
        out.push((entry, decode::<Binary, V>(&value)?));
    }
    Ok(out)
}

/// A persistent map of one service ([`Ctx::map`]): string entry keys,
/// values of type `V`, each entry its own store entry, each operation one
/// logged step of the call.
pub struct PMap<'c, V> {
    ctx: &'c mut Ctx,
    name: String,
    value: std::marker::PhantomData<fn() -> V>,
}

impl<V> fmt::Debug for PMap<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PMap").field("name", &self.name).finish_non_exhaustive()
    }
}

impl<V: Encode + Decode> PMap<'_, V> {
    /// The value of `entry`, if any.
    pub async fn get(&mut self, entry: &str) -> Result<Option<V>, EngineError> {
        self.ctx.get_slot(Slot::Entry(&self.name, entry)).await
    }

    /// Sets `entry` to `value`.
    pub async fn insert(&mut self, entry: &str, value: &V) -> Result<(), EngineError> {
        self.ctx.put_slot(Slot::Entry(&self.name, entry), value).await
    }

    /// Removes `entry`, if present.
    pub async fn remove(&mut self, entry: &str) -> Result<(), EngineError> {
        self.ctx.delete_slot(Slot::Entry(&self.name, entry)).await
    }

    /// Atomically replaces `entry`'s value with `f(old).0` and returns
    /// `f(old).1`, as [`Ctx::update`] does for a key.
    pub async fn update<R, F>(&mut self, entry: &str, f: F) -> Result<R, EngineError>
    where
        R: StepValue,
        F: FnMut(Option<V>) -> (V, R),
    {
        self.ctx.update_slot(Slot::Entry(&self.name, entry), f).await
    }

    /// Up to `limit` entries in ascending key order, read at one point in
    /// time and logged as one step (a replay sees the same entries).
    pub async fn entries(&mut self, limit: usize) -> Result<Vec<(String, V)>, EngineError> {
        self.ctx.scan_map(&self.name, limit).await
    }
}

/// How one attempt of a transaction closure ended.
enum Attempt<R, A> {
    /// Committed (`Ok`) or aborted (`Err`), with the attempt's reads and writes.
    Finished(Result<R, A>, Tx),
    /// The closure asked for a key not fetched yet.
    NeedsRead(String),
}

/// Adds the condition that `key` still holds `current` (or is still absent).
fn expect_version(batch: Batch, key: &Key, current: Option<&Versioned>) -> Batch {
    batch.condition(match current {
        Some(v) => Condition::VersionIs(key.clone(), v.version),
        None => Condition::Absent(key.clone()),
    })
}

fn encode_tx_outcome<R: StepValue, A: StepValue>(outcome: &Result<R, A>) -> Bytes {
    let mut w = Writer::<Binary, BytesMut>::new(BytesMut::new());
    let (committed, bytes) = match outcome {
        Ok(value) => (true, value.to_step_bytes()),
        Err(abort) => (false, abort.to_step_bytes()),
    };
    w.bool(committed);
    w.binary(&bytes);
    w.into_inner().freeze()
}

fn decode_tx_outcome<R: StepValue, A: StepValue>(bytes: &Bytes) -> Result<Result<R, A>, DecodeError> {
    let mut r = Reader::<Binary>::new(bytes);
    let committed = r.bool()?;
    let inner = r.binary()?;
    Ok(if committed { Ok(R::from_step_bytes(&inner)?) } else { Err(A::from_step_bytes(&inner)?) })
}

/// The keys of one [`Ctx::transaction`] attempt: reads come from one
/// snapshot, writes are buffered until the commit.
#[derive(Debug)]
pub struct Tx {
    snapshot: BTreeMap<String, Option<Versioned>>,
    reads: BTreeSet<String>,
    writes: BTreeMap<String, Option<Bytes>>,
}

impl Tx {
    /// The value at `key`: this transaction's own write if it made one, else
    /// the snapshot's. Propagate the error with `?`: it means the key is
    /// being fetched and the attempt will re-run.
    pub fn get<T: Decode>(&mut self, key: &str) -> Result<Option<T>, TxInterrupt> {
        let bytes = match self.writes.get(key) {
            Some(written) => written.clone(),
            None => match self.snapshot.get(key) {
                Some(found) => {
                    self.reads.insert(key.to_owned());
                    found.as_ref().map(|v| v.value.clone())
                }
                None => return Err(TxInterrupt(Interrupt::NeedsRead(key.to_owned()))),
            },
        };
        bytes
            .map(|b| decode::<Binary, T>(&b))
            .transpose()
            .map_err(|source| TxInterrupt(Interrupt::Corrupt { key: key.to_owned(), source }))
    }

    /// Sets `key` to `value` when the transaction commits.
    pub fn put<T: Encode>(&mut self, key: &str, value: &T) {
        self.writes.insert(key.to_owned(), Some(encode::<Binary, T>(value)));
    }

    /// Removes `key`'s value when the transaction commits.
    pub fn delete(&mut self, key: &str) {
        self.writes.insert(key.to_owned(), None);
    }
}

/// Why a transaction closure stopped early.
#[derive(Debug)]
pub enum TxError<A> {
    /// The transaction aborts with `A`: nothing is written, and the abort is
    /// the step's logged outcome (final, never retried).
    Abort(A),
    /// A read needs the store first ([`Tx::get`]'s error).
    Interrupted(TxInterrupt),
}

impl<A> From<TxInterrupt> for TxError<A> {
    fn from(interrupt: TxInterrupt) -> TxError<A> {
        TxError::Interrupted(interrupt)
    }
}

/// A [`Tx::get`] that cannot answer yet (the key is being fetched) or whose
/// stored value does not decode. Propagate it with `?`.
#[derive(Debug)]
pub struct TxInterrupt(Interrupt);

#[derive(Debug)]
enum Interrupt {
    NeedsRead(String),
    Corrupt { key: String, source: DecodeError },
}

impl fmt::Display for TxInterrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Interrupt::NeedsRead(key) => write!(f, "transaction read of {key:?} is being fetched"),
            Interrupt::Corrupt { key, source } => write!(f, "transaction read of {key:?}: {source}"),
        }
    }
}

impl std::error::Error for TxInterrupt {}
