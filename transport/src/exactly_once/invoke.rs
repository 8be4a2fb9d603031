//! Calls between services (spec §2.6): a durable handler's calls of other
//! services are logged steps.
//!
//! `ctx.client::<XClient>()` gives a generated client whose every call
//! claims the handler's next step s and
//!
//! 1. reads `log(c, s)`: a recorded result is returned as it is (the callee
//!    is not called again); a record of another operation or call is a
//!    [`EngineError::Divergence`];
//! 2. otherwise sends the call under the child id `c/s` (deterministic, so
//!    every execution of the caller names the same callee call, and the
//!    callee answers a duplicate from its Done record), with the callback
//!    `store:<id>` naming the caller's store;
//! 3. records the reply's result struct at `log(c, s)`, unless a record is
//!    there already: a callee on the same store writes it in its own Done
//!    batch, so a caller that crashed after its callee finished finds the
//!    result without calling again. Declared exceptions are results; an
//!    undeclared failure (an EXCEPTION message) or a transport error is
//!    not, and fails the handler's call, which is retried whole (same ids).
//!
//! `ctx.invoke_async` claims the step at once and writes the step's
//! Pending record and the callee's intent in one batch, so a call that is
//! dropped without being awaited still runs: the caller's collector
//! re-drives the intent. `ctx.external` runs a call outside the framework
//! at least once, with `c/s` as the idempotency key it hands the callee.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::client::{Channel, Link, RawBody, Reply, TransportError};
use crate::codec::{Binary, Compact, MessageType, canonical_struct};
use crate::service::{CallContext, Dispatch, encode_message};
use crate::store::{Batch, Condition, Outcome};
use crate::transport::ProtocolKind;

use super::call_id::{CallId, CallMeta, CallerMeta};
use super::ctx::{Ctx, Shared, StepValue};
use super::engine::{corrupt, unavailable};
use super::error::{EngineError, StepKind};
use super::fingerprint::Fingerprint;
use super::record::{IntentRecord, LogRecord, intent_key, log_key};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A generated client (every `XClient`): what [`Ctx::client`] needs to
/// make one whose calls are logged steps.
pub trait ServiceClient: Sized {
    /// The service's name in the IDL: the name its peer is registered
    /// under ([`Engine::add_peer`](crate::Engine::add_peer)).
    const SERVICE: &'static str;
    /// A client sending its calls over `channel`.
    fn with_channel(channel: Channel) -> Self;
}

/// A service in process: what [`Peer::local`] calls instead of a
/// connection. Implemented for every [`Dispatch`] through `Peer::local`.
pub trait LocalService: Send + Sync + 'static {
    /// Serves the call message `frame` (binary protocol; the arguments
    /// start at `args_at`) and returns the reply message (`None` for
    /// oneway).
    fn call(&self, cx: CallContext, frame: Bytes, args_at: usize) -> BoxFuture<'_, Option<Bytes>>;
}

struct LocalDispatch<D>(Arc<D>);

impl<D: Dispatch> LocalService for LocalDispatch<D> {
    fn call(&self, cx: CallContext, frame: Bytes, args_at: usize) -> BoxFuture<'_, Option<Bytes>> {
        Box::pin(async move { self.0.dispatch::<Binary>(&cx, frame, args_at).await })
    }
}

/// How an engine reaches another service: over a [`Channel`], or in
/// process.
///
/// ```
/// # fn demo<D: mu2sls::Dispatch>(counter_server: std::sync::Arc<D>) {
/// use mu2sls::{Channel, Engine, EngineConfig, MemoryStore, Peer, SystemClock};
///
/// let front = Engine::new("Front", MemoryStore::new(), SystemClock, EngineConfig::default());
/// // Over the network (set retries: an unanswered call is resent under the same id):
/// front.add_peer("Counter", Peer::remote(Channel::builder("127.0.0.1:9091").retries(3).build()));
/// // Or in this process:
/// front.add_peer("Counter", Peer::local(counter_server));
/// # }
/// ```
#[derive(Clone)]
pub enum Peer {
    /// Calls go over this channel (its protocol and transport).
    Remote(Channel),
    /// Calls are dispatched in this process.
    Local(Arc<dyn LocalService>),
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Remote(channel) => f.debug_tuple("Remote").field(channel).finish(),
            Peer::Local(_) => f.write_str("Local"),
        }
    }
}

impl Peer {
    /// A peer reached over `channel`.
    pub fn remote(channel: Channel) -> Peer {
        Peer::Remote(channel)
    }

    /// A peer served in this process by `dispatch` (a generated server).
    pub fn local<D: Dispatch>(dispatch: Arc<D>) -> Peer {
        Peer::Local(Arc::new(LocalDispatch(dispatch)))
    }

    fn protocol(&self) -> ProtocolKind {
        match self {
            Peer::Remote(channel) => channel.protocol(),
            Peer::Local(_) => ProtocolKind::Binary,
        }
    }

    /// A client of this peer for calls from outside a handler: with `key`,
    /// every call through it carries that idempotency key (one key per
    /// logical call; see [`Channel::with_idempotency_key`]).
    ///
    /// For a local peer this is how a process calls a service it serves
    /// itself, without a connection.
    pub fn client<C: ServiceClient>(&self, key: Option<&str>) -> C {
        match self {
            Peer::Remote(channel) => C::with_channel(match key {
                Some(key) => channel.with_idempotency_key(key),
                None => channel.clone(),
            }),
            Peer::Local(_) => {
                let origin_ms = super::clock::Clock::now_ms(&super::clock::SystemClock);
                let meta = key.map(|key| CallerMeta::Key { key: key.to_owned(), origin_ms, deadline_ms: None });
                C::with_channel(unconnected().linked(Arc::new(PeerLink { peer: self.clone(), meta })))
            }
        }
    }

    /// Sends `method(args)` (arguments in [`Peer::protocol`]) under `meta`.
    pub(crate) async fn send(
        &self,
        method: &str,
        args: &Bytes,
        meta: CallMeta,
        oneway: bool,
    ) -> Result<Option<Reply>, TransportError> {
        self.send_as(method, args, Some(CallerMeta::Call(meta)), oneway).await
    }

    async fn send_as(
        &self,
        method: &str,
        args: &Bytes,
        meta: Option<CallerMeta>,
        oneway: bool,
    ) -> Result<Option<Reply>, TransportError> {
        match self {
            Peer::Remote(channel) => {
                let channel = match meta {
                    Some(CallerMeta::Call(meta)) => channel.with_call_meta(meta),
                    Some(CallerMeta::Key { key, .. }) => channel.with_idempotency_key(key),
                    None => channel.clone(),
                };
                if oneway {
                    channel.call_oneway(method, &RawBody(args)).await.map(|()| None)
                } else {
                    channel.call(method, &RawBody(args)).await.map(Some)
                }
            }
            Peer::Local(service) => {
                let kind = if oneway { MessageType::Oneway } else { MessageType::Call };
                let frame = encode_message::<Binary, RawBody<'_>>(method, kind, 0, &RawBody(args));
                let args_at = frame.len() - args.len();
                let cx = CallContext::new(method, 0, None, ProtocolKind::Binary);
                let cx = match meta {
                    Some(meta) => cx.with_caller_meta(meta),
                    None => cx,
                };
                match service.call(cx, frame, args_at).await {
                    None if oneway => Ok(None),
                    None => Err(TransportError::BadReply(format!("no reply to `{method}`"))),
                    Some(reply) => Reply::from_message(reply, ProtocolKind::Binary).map(Some),
                }
            }
        }
    }
}

/// The [`Link`] of [`Peer::client`]: plain calls (with a key, if given).
#[derive(Debug)]
struct PeerLink {
    peer: Peer,
    meta: Option<CallerMeta>,
}

impl Link for PeerLink {
    fn protocol(&self) -> ProtocolKind {
        self.peer.protocol()
    }

    fn call<'a>(
        &'a self,
        method: &'a str,
        args: Bytes,
        oneway: bool,
    ) -> BoxFuture<'a, Result<Option<Reply>, TransportError>> {
        Box::pin(async move { self.peer.send_as(method, &args, self.meta.clone(), oneway).await })
    }
}

/// The callback a caller on `engine` sends with its calls: its store, and
/// its callback address if it has one.
fn callback_field(engine: &dyn super::ctx::Backend, store_id: &str) -> String {
    match engine.config().callback_address_ref() {
        // The service names the caller's server behind a multiplexer.
        Some(address) => format!("store:{store_id} {address} service:{}", engine.service()),
        None => format!("store:{store_id}"),
    }
}

/// The fingerprint of an invoke step: the callee's request fingerprint
/// (method and canonical arguments), which the callee computes alike when
/// its Done batch writes the step's record.
pub(crate) fn invoke_fp(request: Fingerprint) -> Fingerprint {
    Fingerprint::of(&[&[StepKind::Invoke.code()], &request.0.to_be_bytes()])
}

/// The canonical encoding of an arguments (or result) struct in `kind`.
fn canonical_in(kind: ProtocolKind, bytes: &[u8]) -> Result<Vec<u8>, crate::codec::DecodeError> {
    match kind {
        ProtocolKind::Binary => canonical_struct::<Binary>(bytes),
        ProtocolKind::Compact => canonical_struct::<Compact>(bytes),
    }
}

fn step_error(error: EngineError) -> TransportError {
    TransportError::Step(Box::new(error))
}

/// A request captured without being sent ([`Ctx::invoke_async`] learns
/// what the closure calls this way).
#[derive(Debug)]
struct Captured {
    method: String,
    args: Bytes,
    oneway: bool,
}

/// What a linked client's calls do.
#[derive(Debug)]
enum Mode {
    /// Logged invocations, claiming steps as they are issued, or the one
    /// step claimed in advance for an asynchronous call.
    Invoke { fixed: Mutex<Option<u64>> },
    /// Record the request and send nothing.
    Capture(Arc<Mutex<Option<Captured>>>),
}

/// The [`Link`] of a client made by [`Ctx::client`].
struct DurableLink {
    shared: Arc<Shared>,
    peer: Peer,
    mode: Mode,
}

impl fmt::Debug for DurableLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableLink").field("call", self.shared.call_id()).field("mode", &self.mode).finish()
    }
}

impl Link for DurableLink {
    fn protocol(&self) -> ProtocolKind {
        self.peer.protocol()
    }

    fn call<'a>(
        &'a self,
        method: &'a str,
        args: Bytes,
        oneway: bool,
    ) -> BoxFuture<'a, Result<Option<Reply>, TransportError>> {
        Box::pin(async move {
            match &self.mode {
                Mode::Capture(slot) => {
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(Captured { method: method.to_owned(), args, oneway });
                    Err(TransportError::BadReply("captured, not sent".into()))
                }
                Mode::Invoke { fixed } => {
                    let fixed = fixed.lock().unwrap_or_else(|p| p.into_inner()).take();
                    self.invoke(fixed, method, args, oneway).await
                }
            }
        })
    }
}

impl DurableLink {
    /// The logged invocation of `method(args)` at step `fixed` (claimed in
    /// advance) or the next step.
    async fn invoke(
        &self,
        fixed: Option<u64>,
        method: &str,
        args: Bytes,
        oneway: bool,
    ) -> Result<Option<Reply>, TransportError> {
        let shared = &self.shared;
        let call = shared.call_id();
        if shared.leave_leaf() {
            return Err(step_error(EngineError::HandlerFailed {
                call: call.clone(),
                source: "a leaf execution does not call other services; the call runs again in step mode".into(),
            }));
        }
        let step = fixed.unwrap_or_else(|| shared.claim());
        let canonical = canonical_in(self.peer.protocol(), &args)
            .map_err(|e| step_error(EngineError::HandlerFailed { call: call.clone(), source: e.into() }))?;
        let fp = invoke_fp(Fingerprint::request(method, &canonical));
        let lkey = log_key(call, step);
        let engine = &shared.engine;
        let found = engine
            .multi_get(std::slice::from_ref(&lkey))
            .await
            .map_err(|e| step_error(unavailable(call, Some(step))(e)))?
            .pop()
            .flatten();
        let mut pending = None;
        if let Some(found) = found {
            match adopt(shared, step, fp, &found)? {
                Some(result) => return Ok((!oneway).then(|| Reply::recorded(method, result))),
                None => pending = Some(found.version),
            }
        }
        let store_id = engine.store_id().await.map_err(|e| step_error(unavailable(call, Some(step))(e)))?;
        let child = CallMeta::child(&shared.meta, step).with_callback(callback_field(&**engine, &store_id));
        let child_id = child.call_id().clone();
        let send = self.peer.send(method, &args, child, oneway);
        let reply = match engine.config().suspend_after_ref() {
            // A local peer's call runs inside this future: dropping it
            // would cancel the callee, so only remote calls suspend.
            Some(after) if !oneway && matches!(self.peer, Peer::Remote(_)) => {
                match tokio::time::timeout(after, send).await {
                    Ok(reply) => reply?,
                    Err(_) => return self.suspend(step, fp, method).await,
                }
            }
            _ => send.await?,
        };
        let result = match reply {
            None => Bytes::new(),
            // An undeclared failure is not a result: not recorded; the
            // handler's call fails and is retried under the same ids.
            Some(reply) if reply.header().kind == MessageType::Exception => return Ok(Some(reply)),
            Some(reply) => match reply.protocol() {
                ProtocolKind::Binary => reply.body_bytes(),
                ProtocolKind::Compact => Bytes::from(
                    canonical_struct::<Compact>(reply.body()).map_err(|e| TransportError::BadReply(e.to_string()))?,
                ),
            },
        };
        let result = record_invoke(shared, step, fp, pending, &child_id, result).await?;
        Ok((!oneway).then(|| Reply::recorded(method, result)))
    }

    /// The callee is slow: registers the call as suspended at `step` and
    /// drops the handler (its error), unless the result landed meanwhile.
    async fn suspend(&self, step: u64, fp: Fingerprint, method: &str) -> Result<Option<Reply>, TransportError> {
        let shared = &self.shared;
        let call = shared.call_id();
        // Registered before the check: a callback from now on wakes it.
        shared.engine.suspend(call, step);
        let lkey = log_key(call, step);
        let found = shared
            .engine
            .multi_get(std::slice::from_ref(&lkey))
            .await
            .map_err(|e| step_error(unavailable(call, Some(step))(e)))?;
        if let Some(found) = found.into_iter().next().flatten()
            && let Some(result) = adopt(shared, step, fp, &found)?
        {
            shared.engine.unsuspend(call, step);
            return Ok(Some(Reply::recorded(method, result)));
        }
        tracing::debug!(%call, step, "suspended waiting for a callee");
        Err(step_error(shared.suspended(step)))
    }
}

/// Checks an existing invoke record: its result, or `None` if Pending.
fn adopt(
    shared: &Shared,
    step: u64,
    fp: Fingerprint,
    found: &crate::store::Versioned,
) -> Result<Option<Bytes>, TransportError> {
    let call = shared.call_id();
    let record = LogRecord::decode(&found.value)
        .map_err(|e| step_error(corrupt(Some(call), Some(step), &log_key(call, step))(e)))?;
    if record.kind != StepKind::Invoke || record.fp != fp {
        return Err(step_error(shared.diverged(step, StepKind::Invoke, record.kind)));
    }
    Ok(record.value)
}

/// Records `result` as step `step`'s (replacing its Pending record at
/// version `pending`, and deleting the callee's intent); if another
/// writer (the callee's Done batch, a duplicate execution) recorded one
/// first, returns that one.
async fn record_invoke(
    shared: &Shared,
    step: u64,
    fp: Fingerprint,
    pending: Option<crate::store::Version>,
    child: &CallId,
    result: Bytes,
) -> Result<Bytes, TransportError> {
    let call = shared.call_id();
    let lkey = log_key(call, step);
    let condition = match pending {
        Some(version) => Condition::VersionIs(lkey.clone(), version),
        None => Condition::Absent(lkey.clone()),
    };
    let record = LogRecord { kind: StepKind::Invoke, fp, value: Some(result.clone()) };
    let mut batch = Batch::new().condition(condition).put(lkey, record.encode());
    if pending.is_some() {
        batch = batch.delete(intent_key(child));
    }
    match shared.engine.apply(batch).await.map_err(|e| step_error(unavailable(call, Some(step))(e)))? {
        Outcome::Applied { .. } => Ok(result),
        Outcome::Failed { current: Some(found), .. } => Ok(adopt(shared, step, fp, &found)?.unwrap_or(result)),
        // Only GC deletes step records, and only of Done calls.
        Outcome::Failed { current: None, .. } => Ok(result),
    }
}

/// Re-drives an asynchronous call from its intent (the collector of the
/// calling service does, when the caller dropped its future or crashed):
/// sends the recorded request under the call's id, then records the
/// result at the caller's Pending step, unless the callee's Done batch
/// (same store) did, and deletes the intent.
pub(crate) async fn redrive_child<S: crate::store::Store + 'static, C: super::clock::Clock>(
    engine: &super::engine::EngineInner<S, C>,
    intent: &IntentRecord,
    deadline_ms: u64,
) -> Result<(), EngineError> {
    use super::ctx::Backend as _;
    let call = &intent.call_id;
    let failed = |message: String| EngineError::HandlerFailed { call: call.clone(), source: message.into() };
    let Some((_, target)) = &intent.target else { return Err(failed("not an asynchronous call".into())) };
    let Some((caller, step)) = call.caller() else {
        return Err(failed("an asynchronous call's id names no caller".into()));
    };
    let peer =
        engine.peer(target).ok_or_else(|| EngineError::NoPeer { call: call.clone(), service: target.clone() })?;
    let (oneway, args) = match intent.body.first() {
        Some(byte) if byte & !1 == 0x80 || byte & !1 == 0x82 => (byte & 1 == 1, intent.body.slice(1..)),
        _ => return Err(failed(format!("intent of {call} holds no recorded request"))),
    };
    let store_id = engine.store_id().await.map_err(unavailable(call, None))?;
    let meta = CallMeta::new(call.clone(), Some((caller.clone(), step)), intent.origin_ms, Some(deadline_ms))
        .map_err(|e| failed(e.to_string()))?
        .with_callback(callback_field(engine, &store_id));
    let result = match peer.send(&intent.method, &args, meta, oneway).await.map_err(|e| failed(e.to_string()))? {
        None => Bytes::new(),
        Some(reply) if reply.header().kind == MessageType::Exception => {
            return Err(failed(format!("re-drive of {call} answered with an exception")));
        }
        Some(reply) => match reply.protocol() {
            ProtocolKind::Binary => reply.body_bytes(),
            ProtocolKind::Compact => {
                Bytes::from(canonical_struct::<Compact>(reply.body()).map_err(|e| failed(e.to_string()))?)
            }
        },
    };
    let lkey = log_key(&caller, step);
    let found = engine.multi_get(std::slice::from_ref(&lkey)).await.map_err(unavailable(call, None))?;
    let Some(found) = found.into_iter().next().flatten() else { return Ok(()) };
    let record = LogRecord::decode(&found.value).map_err(corrupt(Some(&caller), Some(step), &lkey))?;
    if record.value.is_some() {
        return Ok(());
    }
    let done = LogRecord { value: Some(result), ..record };
    let batch = Batch::new().version_is(lkey.clone(), found.version).put(lkey, done.encode()).delete(intent_key(call));
    engine.apply(batch).await.map_err(unavailable(call, None))?;
    Ok(())
}

/// A channel for linked clients of local peers: never connects (every
/// call goes through the link).
fn unconnected() -> Channel {
    static CHANNEL: OnceLock<Channel> = OnceLock::new();
    CHANNEL.get_or_init(|| Channel::new("mu2sls-local:0")).clone()
}

impl Ctx {
    fn peer(&self, service: &str) -> Result<Peer, EngineError> {
        let shared = self.shared();
        shared
            .engine
            .peer(service)
            .ok_or_else(|| EngineError::NoPeer { call: shared.call_id().clone(), service: service.to_owned() })
    }

    fn link(&self, service: &str, mode: Mode) -> Result<Channel, EngineError> {
        let shared = self.shared();
        let peer = self.peer(service)?;
        let base = match &peer {
            Peer::Remote(channel) => channel.clone(),
            Peer::Local(_) => unconnected(),
        };
        Ok(base.linked(Arc::new(DurableLink { shared: Arc::clone(shared), peer, mode })))
    }

    /// A client of service `C` whose every call is a logged step of this
    /// call (spec §2.6): the callee runs it exactly once under the id
    /// `call/step`, and a replay of this call gets the recorded result
    /// without calling again. Declared exceptions are results like any
    /// other; an undeclared failure or a lost connection is not recorded
    /// and fails the call, to be retried under the same ids.
    ///
    /// Issue calls one after another, or join them in a fixed order
    /// (each claims its step when first polled); for concurrent calls
    /// whose order must not depend on polling, use
    /// [`invoke_async`](Ctx::invoke_async).
    pub fn client<C: ServiceClient>(&self) -> Result<C, EngineError> {
        Ok(C::with_channel(self.link(C::SERVICE, Mode::Invoke { fixed: Mutex::new(None) })?))
    }

    /// Starts a call of service `C` as a durable future (spec §2.6): the
    /// step is claimed now, and one batch records it as Pending together
    /// with an intent for the callee, so the call runs even if the future
    /// is dropped (fire and forget: the collector re-drives the intent).
    /// `call` makes the one call, e.g. `|c: CounterClient| async move {
    /// c.add(5).await }`; it runs once to capture the request, then again
    /// when the future is awaited. Awaiting several futures in any way
    /// gives each the result of its own step, on replay too.
    pub async fn invoke_async<C, T, F, Fut>(&mut self, call: F) -> Result<DurableFuture<T>, EngineError>
    where
        C: ServiceClient,
        F: Fn(C) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let shared = Arc::clone(self.shared());
        let call_id = shared.call_id().clone();
        if shared.leave_leaf() {
            return Err(EngineError::HandlerFailed {
                call: call_id,
                source: "a leaf execution does not call other services; the call runs again in step mode".into(),
            });
        }
        // Learn the request: run `call` with a client that captures it.
        let slot = Arc::new(Mutex::new(None));
        let capturing = self.link(C::SERVICE, Mode::Capture(Arc::clone(&slot)))?;
        let _ = call(C::with_channel(capturing)).await;
        let captured = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        let captured = captured.ok_or_else(|| EngineError::HandlerFailed {
            call: call_id.clone(),
            source: "invoke_async: the closure made no call of its client".into(),
        })?;
        let protocol = self.peer(C::SERVICE)?.protocol();
        let step = shared.claim();
        let failed =
            |e: crate::codec::DecodeError| EngineError::HandlerFailed { call: call_id.clone(), source: e.into() };
        let canonical = canonical_in(protocol, &captured.args).map_err(failed)?;
        let fp = invoke_fp(Fingerprint::request(&captured.method, &canonical));
        let lkey = log_key(&call_id, step);
        let child = CallMeta::child(&shared.meta, step);
        let now = shared.engine.now_ms();
        let intent = IntentRecord {
            call_id: child.call_id().clone(),
            origin_ms: child.origin_ms(),
            method: captured.method.clone(),
            body: protocol_prefixed(protocol, &captured.args, captured.oneway),
            attempts: 0,
            next_due_ms: now.saturating_add(shared.engine.redrive_after_ms()),
            parked: false,
            target: Some((shared.engine.service().to_owned(), C::SERVICE.to_owned())),
        };
        let pending = LogRecord { kind: StepKind::Invoke, fp, value: None };
        let batch = Batch::new()
            .absent(lkey.clone())
            .put(lkey, pending.encode())
            .put(intent_key(child.call_id()), intent.encode());
        match shared.engine.apply(batch).await.map_err(unavailable(&call_id, Some(step)))? {
            Outcome::Applied { .. } => {}
            Outcome::Failed { current: Some(found), .. } => {
                adopt(&shared, step, fp, &found).map_err(|e| match e {
                    TransportError::Step(e) => *e,
                    other => EngineError::HandlerFailed { call: call_id.clone(), source: other.into() },
                })?;
            }
            Outcome::Failed { current: None, .. } => {}
        }
        let client = C::with_channel(self.link(C::SERVICE, Mode::Invoke { fixed: Mutex::new(Some(step)) })?);
        Ok(DurableFuture { step, inner: Box::pin(call(client)) })
    }

    /// Runs `f`, a call outside the framework, at least once (spec §2.2):
    /// `f` gets an idempotency key, `call_id/step`, the same in every
    /// execution, for the callee to deduplicate with. Its `Ok` value is
    /// recorded: later executions get it without calling `f`. An `Err` is
    /// not recorded (`Ok(Err(e))`), so a retry of the call runs `f` again
    /// with the same key.
    pub async fn external<T, E, F, Fut>(&mut self, f: F) -> Result<Result<T, E>, EngineError>
    where
        T: StepValue,
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let shared = Arc::clone(self.shared());
        let call = shared.call_id().clone();
        if shared.leave_leaf() {
            return Err(EngineError::HandlerFailed {
                call,
                source: "a leaf execution does not make external calls; the call runs again in step mode".into(),
            });
        }
        let step = shared.claim();
        let lkey = log_key(&call, step);
        let fp = Fingerprint::of(&[&[StepKind::External.code()], shared.engine.service().as_bytes()]);
        let logged = |found: &crate::store::Versioned| -> Result<T, EngineError> {
            let record = LogRecord::decode(&found.value).map_err(corrupt(Some(&call), Some(step), &lkey))?;
            if record.kind != StepKind::External || record.fp != fp {
                return Err(shared.diverged(step, StepKind::External, record.kind));
            }
            T::from_step_bytes(&record.value.unwrap_or_default()).map_err(corrupt(Some(&call), Some(step), &lkey))
        };
        let found =
            shared.engine.multi_get(std::slice::from_ref(&lkey)).await.map_err(unavailable(&call, Some(step)))?;
        if let Some(found) = found.into_iter().next().flatten() {
            return logged(&found).map(Ok);
        }
        let value = match f(call.child(step).to_string()).await {
            Ok(value) => value,
            Err(e) => return Ok(Err(e)),
        };
        let record = LogRecord { kind: StepKind::External, fp, value: Some(value.to_step_bytes()) };
        let batch = Batch::new().absent(lkey.clone()).put(lkey.clone(), record.encode());
        match shared.engine.apply(batch).await.map_err(unavailable(&call, Some(step)))? {
            Outcome::Applied { .. } | Outcome::Failed { current: None, .. } => Ok(Ok(value)),
            // A concurrent execution recorded its result first: that one stands.
            Outcome::Failed { current: Some(found), .. } => logged(&found).map(Ok),
        }
    }
}

/// The recorded request of an intent: a protocol byte, then the arguments
/// (with the oneway flag in the byte's low bit, which protocol bytes
/// never use).
fn protocol_prefixed(kind: ProtocolKind, args: &Bytes, oneway: bool) -> Bytes {
    let byte = match kind {
        ProtocolKind::Binary => 0x80u8,
        ProtocolKind::Compact => 0x82u8,
    } | u8::from(oneway);
    let mut out = Vec::with_capacity(args.len() + 1);
    out.push(byte);
    out.extend_from_slice(args);
    Bytes::from(out)
}

/// The result of a call started by [`Ctx::invoke_async`]: awaiting it
/// sends the call (if it has no recorded result yet) and records the
/// result at its step. Dropping it leaves the call to the collector.
pub struct DurableFuture<T> {
    step: u64,
    inner: BoxFuture<'static, T>,
}

impl<T> DurableFuture<T> {
    /// The step this call holds in its caller's log (its callee's id is
    /// `caller/step`).
    pub fn step(&self) -> u64 {
        self.step
    }
}

impl<T> fmt::Debug for DurableFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableFuture").field("step", &self.step).finish_non_exhaustive()
    }
}

impl<T> Future for DurableFuture<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.inner.as_mut().poll(cx)
    }
}
