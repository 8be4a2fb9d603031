//! The handler context (spec §2.2, §2.5): every operation is one logged
//! step, numbered in issue order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use crate::codec::{Binary, Decode, DecodeError, Encode, Reader, Writer, decode, encode};
use crate::store::{Batch, Condition, Key, Outcome, Store, Versioned};

use super::call_id::CallId;
use super::clock::Clock;
use super::engine::{EngineInner, corrupt, unavailable};
use super::error::{BoxError, EngineError, StepKind};
use super::fingerprint::Fingerprint;
use super::record::{LogRecord, log_key, state_key};

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
/// its value is adopted and the effect not repeated. The step counter
/// advances only once the record is durable or adopted. A replay that
/// issues a different operation at a step gets [`EngineError::Divergence`]
/// before any effect.
///
/// State values are encoded with our codec (`Binary`), so generated Thrift
/// types are state values as they are; each key of the service's map is its
/// own store entry, `("state", service, key)`.
///
/// `get` followed by `put` is not isolated from other calls: read-modify-write
/// with [`update`](Ctx::update) or [`transaction`](Ctx::transaction).
pub struct Ctx<S, C> {
    engine: Arc<EngineInner<S, C>>,
    call: CallId,
    step: u64,
}

impl<S, C> fmt::Debug for Ctx<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx").field("call", &self.call).field("step", &self.step).finish_non_exhaustive()
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

impl<S: Store + 'static, C: Clock> Ctx<S, C> {
    pub(crate) fn new(engine: Arc<EngineInner<S, C>>, call: CallId) -> Ctx<S, C> {
        Ctx { engine, call, step: 0 }
    }

    /// The call this execution serves.
    pub fn call_id(&self) -> &CallId {
        &self.call
    }

    /// The number the next operation's step will have.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// An [`EngineError::HandlerFailed`] for this call: what a handler
    /// returns for an error that is not a result (not recorded; the call
    /// may be retried).
    pub fn fail(&self, error: impl Into<BoxError>) -> EngineError {
        EngineError::HandlerFailed { call: self.call.clone(), source: error.into() }
    }

    fn fp(&self, kind: StepKind, parts: &[&[u8]]) -> Fingerprint {
        let code = [kind.code()];
        let mut all: Vec<&[u8]> = Vec::with_capacity(parts.len() + 2);
        all.push(&code);
        all.push(self.engine.service.as_bytes());
        all.extend_from_slice(parts);
        Fingerprint::of(&all)
    }

    fn log_key(&self) -> Key {
        log_key(&self.call, self.step)
    }

    fn state_key(&self, key: &str) -> Key {
        state_key(&self.engine.service, key)
    }

    fn corrupt(&self, key: &Key) -> impl FnOnce(DecodeError) -> EngineError {
        corrupt(Some(&self.call), Some(self.step), key)
    }

    /// Checks an existing record against what this execution issues.
    fn adopt(&self, kind: StepKind, fp: Fingerprint, found: &Versioned) -> Result<LogRecord, EngineError> {
        let record = LogRecord::decode(&found.value).map_err(self.corrupt(&self.log_key()))?;
        if record.kind != kind || record.fp != fp {
            return Err(EngineError::Divergence {
                call: self.call.clone(),
                step: self.step,
                issued: kind,
                logged: record.kind,
            });
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
        match self.engine.store.apply(batch).await.map_err(unavailable(&self.call, Some(self.step)))? {
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
        let mut found = self.engine.store.multi_get(&keys).await.map_err(unavailable(&self.call, Some(self.step)))?;
        let rest = found.split_off(1);
        Ok((found.pop().flatten(), rest))
    }

    /// The value at `key`, if any.
    pub async fn get<T: Decode>(&mut self, key: &str) -> Result<Option<T>, EngineError> {
        let fp = self.fp(StepKind::Get, &[key.as_bytes()]);
        let skey = self.state_key(key);
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
        self.step += 1;
        Ok(value)
    }

    /// Sets `key` to `value`.
    pub async fn put<T: Encode>(&mut self, key: &str, value: &T) -> Result<(), EngineError> {
        let bytes = encode::<Binary, T>(value);
        let fp = self.fp(StepKind::Put, &[key.as_bytes(), &bytes]);
        let effect = Batch::new().put(self.state_key(key), bytes);
        self.record(StepKind::Put, fp, None, effect).await?;
        self.step += 1;
        Ok(())
    }

    /// Removes `key`'s value, if any.
    pub async fn delete(&mut self, key: &str) -> Result<(), EngineError> {
        let fp = self.fp(StepKind::Delete, &[key.as_bytes()]);
        let effect = Batch::new().delete(self.state_key(key));
        self.record(StepKind::Delete, fp, None, effect).await?;
        self.step += 1;
        Ok(())
    }

    /// Atomically replaces `key`'s value with `f(old).0` and returns
    /// `f(old).1`, logged: a replay returns the logged value without
    /// calling `f`. If the key changes between the read and the write, `f`
    /// runs again at the same step.
    pub async fn update<T, R, F>(&mut self, key: &str, mut f: F) -> Result<R, EngineError>
    where
        T: Encode + Decode,
        R: StepValue,
        F: FnMut(Option<T>) -> (T, R),
    {
        let fp = self.fp(StepKind::Update, &[key.as_bytes()]);
        let skey = self.state_key(key);
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
                            self.step += 1;
                            return Ok(ret);
                        }
                        Recorded::Adopted(record) => record,
                        Recorded::Conflict => continue,
                    }
                }
            };
            let ret = R::from_step_bytes(&logged.value.unwrap_or_default()).map_err(self.corrupt(&self.log_key()))?;
            self.step += 1;
            return Ok(ret);
        }
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
                self.step += 1;
                return Ok(outcome);
            }
            let mut tx = Tx {
                snapshot: wanted.iter().cloned().zip(values).collect(),
                reads: BTreeSet::new(),
                writes: BTreeMap::new(),
            };
            let outcome = match f(&mut tx) {
                Ok(value) => Ok(value),
                Err(TxError::Abort(abort)) => Err(abort),
                Err(TxError::Interrupted(TxInterrupt(Interrupt::NeedsRead(key)))) => {
                    wanted.insert(key);
                    continue;
                }
                Err(TxError::Interrupted(TxInterrupt(Interrupt::Corrupt { key, source }))) => {
                    return Err(self.corrupt(&self.state_key(&key))(source));
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
                    self.step += 1;
                    return Ok(outcome);
                }
                Recorded::Adopted(record) => {
                    let outcome =
                        decode_tx_outcome(&record.value.unwrap_or_default()).map_err(self.corrupt(&self.log_key()))?;
                    self.step += 1;
                    return Ok(outcome);
                }
                // A key read changed: re-run at the same step.
                Recorded::Conflict => {}
            }
        }
    }

    /// The current time, logged: replays see the first execution's time.
    pub async fn now(&mut self) -> Result<SystemTime, EngineError> {
        let engine = Arc::clone(&self.engine);
        let ms: i64 = self.draw(StepKind::Now, || i64::try_from(engine.clock.now_ms()).unwrap_or(i64::MAX)).await?;
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
        self.step += 1;
        Ok(value)
    }
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
