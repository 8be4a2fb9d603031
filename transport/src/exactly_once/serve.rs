//! Generated durable servers (`--gen rust:exactly_once`): one method of an
//! `XDurableServer` runs through [`Engine::serve`], so its handler gets a
//! [`Ctx`] and the call runs exactly once under its call id.
//!
//! An intent keeps the arguments as they arrived (a protocol byte, then the
//! arguments struct's bytes), so a re-drive decodes them again; the engine
//! fingerprints their canonical encoding (fields by id, set and map entries
//! sorted), so a retry may come through the other protocol or from a client
//! that orders a map differently, while different arguments under one id
//! are [`EngineError::CallIdConflict`]. The recorded result is the method's
//! result struct (success or declared exception) in the binary protocol; a
//! reply in that protocol splices it in as recorded, a compact reply
//! re-encodes it.

use std::future::Future;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::call_id::{CallId, CallMeta, CallerMeta};
use super::clock::Clock;
use super::collector::{Intent, Redriver};
use super::ctx::Ctx;
use super::engine::{Engine, Request};
use super::error::EngineError;
use crate::client::RawBody;
use crate::codec::{Binary, Compact, Decode, MessageType, Protocol, Reader, decode, encode};
use crate::method::{MethodResult, Outcome};
use crate::protocol::{ApplicationException, ApplicationExceptionKind, ServiceError};
use crate::service::{CallContext, Dispatch, decode_args, encode_message, exception_reply, protocol_error_reply};
use crate::store::Store;
use crate::transport::ProtocolKind;

/// A durable method's decoded arguments (`SMArgs` under
/// `--gen rust:exactly_once`), which know the handler method they are for.
pub trait DurableCall<H>: Decode + Send {
    /// The method's result struct.
    type Result: MethodResult + Decode;
    /// Calls the method of `handler` with these arguments and `ctx`.
    fn call(self, handler: &H, ctx: &mut Ctx) -> impl Future<Output = Outcome<Self::Result>> + Send;
}

/// A context operation's failure, as a handler returns it: an undeclared
/// failure (INTERNAL_ERROR). It is not a result: nothing is recorded, and a
/// retry with the same call id resumes from the log.
impl<E> From<EngineError> for ServiceError<E> {
    fn from(e: EngineError) -> ServiceError<E> {
        ServiceError::Application(ApplicationException::internal(format!("exactly-once: {e}")))
    }
}

/// The protocol byte that starts a recorded request.
fn protocol_byte(kind: ProtocolKind) -> u8 {
    match kind {
        ProtocolKind::Binary => 0x80,
        ProtocolKind::Compact => 0x82,
    }
}

/// The call's metadata, or a fresh root id for a caller that sent none.
fn meta_for<S: Store + 'static, C: Clock>(engine: &Engine<S, C>, cx: &CallContext) -> Result<CallMeta, String> {
    let from_headers;
    let sent = match cx.caller_meta() {
        Some(meta) => Some(meta),
        None => {
            from_headers = meta_from_headers(cx)?;
            from_headers.as_ref()
        }
    };
    Ok(match sent {
        Some(meta) => meta.resolve(engine.service(), cx.method()),
        None => {
            let now = engine.now_ms();
            CallMeta::root(CallId::fresh(engine.service(), cx.method(), now), now)
        }
    })
}

/// The value of header `mu2sls-<field>` (THeader info headers) or
/// `X-Mu2sls-<Field>` (HTTP).
fn meta_header<'a>(cx: &'a CallContext, field: &str) -> Option<&'a str> {
    cx.header(&format!("mu2sls-{field}")).or_else(|| cx.header(&format!("x-mu2sls-{field}")))
}

/// Exactly-once metadata from headers (spec §2.1), for callers that send
/// headers rather than our envelope: `mu2sls-key` or `mu2sls-call-id`
/// (HTTP also `X-Call-Id`), `mu2sls-origin-ms`, `mu2sls-deadline-ms`,
/// `mu2sls-caller-id`, `mu2sls-caller-step` and `mu2sls-callback` (HTTP also
/// `X-Callback-Url`). A call id whose key is a
/// UUIDv7 needs no origin: it is the UUID's time.
fn meta_from_headers(cx: &CallContext) -> Result<Option<CallerMeta>, String> {
    let number = |field: &str| -> Result<Option<u64>, String> {
        meta_header(cx, field)
            .map(|v| v.trim().parse::<u64>().map_err(|_| format!("header mu2sls-{field}: not a number: {v:?}")))
            .transpose()
    };
    let key = meta_header(cx, "key");
    let id = meta_header(cx, "call-id").or_else(|| cx.header("x-call-id"));
    let (origin, deadline) = (number("origin-ms")?, number("deadline-ms")?);
    match (id, key) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err("both a call id and an idempotency key".into()),
        (None, Some(key)) => {
            let origin_ms = origin.ok_or("header mu2sls-key without mu2sls-origin-ms")?;
            Ok(Some(CallerMeta::Key { key: key.to_owned(), origin_ms, deadline_ms: deadline }))
        }
        (Some(id), None) => {
            let call_id: CallId = id.parse().map_err(|e| format!("call id header: {e}"))?;
            let origin_ms = match origin {
                Some(o) => o,
                None => uuid_v7_ms(&call_id.root_id().key())
                    .ok_or("a call id header without mu2sls-origin-ms (and its key is no UUIDv7)")?,
            };
            let caller = match (meta_header(cx, "caller-id"), number("caller-step")?) {
                (Some(c), Some(step)) => {
                    Some((c.parse::<CallId>().map_err(|e| format!("caller id header: {e}"))?, step))
                }
                (None, None) => None,
                _ => return Err("mu2sls-caller-id and mu2sls-caller-step go together".into()),
            };
            let meta = CallMeta::new(call_id, caller, origin_ms, deadline).map_err(|e| e.to_string())?;
            let meta = match meta_header(cx, "callback").or_else(|| cx.header("x-callback-url")) {
                Some(callback) => meta.with_callback(callback),
                None => meta,
            };
            Ok(Some(CallerMeta::Call(meta)))
        }
    }
}

/// The time of a UUIDv7 key, in ms since the Unix epoch.
fn uuid_v7_ms(key: &[u8]) -> Option<u64> {
    let uuid = uuid::Uuid::parse_str(std::str::from_utf8(key).ok()?).ok()?;
    if uuid.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = uuid.get_timestamp()?.to_unix();
    Some(secs.saturating_mul(1000).saturating_add(u64::from(nanos) / 1_000_000))
}

/// Serves one call of a durable method: decodes `A` from `frame` (at `at`),
/// runs the handler through `engine` under the call's id and replies with
/// the recorded result (`None` for `oneway`). Undecodable arguments get
/// PROTOCOL_ERROR and run nothing; an engine or handler failure gets an
/// EXCEPTION message and records nothing.
pub async fn serve_durable<P, H, A, S, C>(
    handler: &H,
    engine: &Engine<S, C>,
    cx: &CallContext,
    frame: &Bytes,
    at: usize,
    oneway: bool,
) -> Option<Bytes>
where
    P: Protocol,
    H: Sync,
    A: DurableCall<H>,
    S: Store + 'static,
    C: Clock,
{
    let args = match decode_args::<P, A>(frame, at) {
        Ok(a) => a,
        Err(e) if oneway => {
            tracing::warn!(method = cx.method(), error = %e, "durable oneway call with undecodable arguments dropped");
            return None;
        }
        Err(e) => return Some(protocol_error_reply::<P>(cx, &e)),
    };
    let meta = match meta_for(engine, cx) {
        Ok(meta) => meta,
        Err(_) if oneway => return None,
        Err(problem) => {
            let e = ApplicationException::new(
                ApplicationExceptionKind::PROTOCOL_ERROR,
                format!("exactly-once metadata: {problem}"),
            );
            return Some(exception_reply::<P>(cx, &e));
        }
    };
    if meta.call_id().is_root() && !meta.call_id().names(engine.service(), cx.method()) {
        if oneway {
            return None;
        }
        let message = format!(
            "exactly-once: call id {} does not name this call ({}.{})",
            meta.call_id(),
            engine.service(),
            cx.method()
        );
        return Some(exception_reply::<P>(cx, &ApplicationException::internal(message)));
    }
    // Fingerprinted canonically: a retry through the other protocol, or
    // from a client that orders a map's entries differently, is the same
    // request. It decoded above, so this only fails past the limits.
    let canonical = match crate::codec::canonical_struct::<P>(&frame[at..]) {
        Ok(c) => c,
        Err(_) if oneway => return None,
        Err(e) => return Some(protocol_error_reply::<P>(cx, &e)),
    };
    let mut body = BytesMut::with_capacity(frame.len() - at + 1);
    body.put_u8(protocol_byte(P::KIND));
    body.put_slice(&frame[at..]);
    let request = Request::with_canonical(cx.method(), body.freeze(), &canonical);
    let mut first = Some(args);
    let result = loop {
        let served = engine
            .serve(&meta, &request, |mut ctx| {
                // A call that leaves the leaf path runs again: decode again.
                let args = first.take().map_or_else(|| decode_args::<P, A>(frame, at), Ok);
                async move {
                    let args =
                        args.map_err(|e| EngineError::HandlerFailed { call: ctx.call_id().clone(), source: e.into() })?;
                    let outcome = args.call(handler, &mut ctx).await;
                    // A suspended handler's outcome is never a result.
                    if let Some(suspended) = ctx.suspension() {
                        return Err(suspended);
                    }
                    let result = match outcome {
                        Ok(v) => <A::Result as MethodResult>::success(v),
                        Err(ServiceError::Exception(e)) => <A::Result as MethodResult>::exception(e),
                        Err(ServiceError::Application(e)) => {
                            // A divergence goes to the engine as such: it parks the intent.
                            return Err(ctx.divergence().unwrap_or_else(|| EngineError::HandlerFailed {
                                call: ctx.call_id().clone(),
                                source: e.into(),
                            }));
                        }
                    };
                    Ok(encode::<Binary, A::Result>(&result))
                }
            })
            .await;
        match served {
            // The handler was dropped while its callee works: resume by
            // replaying once the callback records the result.
            Err(EngineError::Suspended { call, step }) => wait_resumed(engine, &call, step).await,
            other => break other,
        }
    };
    if oneway {
        if let Err(error) = result {
            tracing::warn!(method = cx.method(), call = %meta.call_id(), %error, "durable oneway call failed");
        }
        return None;
    }
    Some(match result {
        Ok(recorded) => reply_from_recorded::<P, A::Result>(cx, recorded),
        Err(EngineError::HandlerFailed { source, .. }) => match source.downcast::<ApplicationException>() {
            Ok(e) => exception_reply::<P>(cx, &e),
            Err(other) => exception_reply::<P>(cx, &ApplicationException::internal(other.to_string())),
        },
        Err(error) => {
            tracing::warn!(method = cx.method(), call = %meta.call_id(), %error, "durable call not served");
            exception_reply::<P>(
                cx,
                &ApplicationException::new(ApplicationExceptionKind::INTERNAL_ERROR, format!("exactly-once: {error}")),
            )
        }
    })
}

/// Waits until the call suspended at `step` is woken by its callee's
/// callback, or [`EngineConfig::resume_after`](super::EngineConfig::resume_after) passed.
async fn wait_resumed<S: Store + 'static, C: Clock>(engine: &Engine<S, C>, call: &CallId, step: u64) {
    let inner = engine.inner();
    let notify = inner.suspend(call, step);
    let _ = tokio::time::timeout(inner.config.resume_after_ref(), notify.notified()).await;
    inner.unsuspend(call, step);
}

/// A REPLY for `cx` carrying a recorded (binary) result struct.
fn reply_from_recorded<P: Protocol, R: MethodResult + Decode>(cx: &CallContext, recorded: Bytes) -> Bytes {
    if P::KIND == ProtocolKind::Binary {
        return encode_message::<P, RawBody<'_>>(cx.method(), MessageType::Reply, cx.seq(), &RawBody(&recorded));
    }
    match decode::<Binary, R>(&recorded) {
        Ok(result) => encode_message::<P, R>(cx.method(), MessageType::Reply, cx.seq(), &result),
        Err(e) => exception_reply::<P>(cx, &ApplicationException::internal(format!("recorded result unreadable: {e}"))),
    }
}

/// Re-drives intents through a (durable) dispatcher: the intent's request
/// becomes a call message again, served with the intent's metadata, so the
/// engine inside the dispatcher adopts every logged step.
///
/// ```no_run
/// # fn demo<D: mu2sls::Dispatch, S: mu2sls::Store + 'static>(server: std::sync::Arc<D>, engine: mu2sls::Engine<S, mu2sls::SystemClock>) {
/// use mu2sls::{Collector, DispatchRedriver};
/// let collector = Collector::new(engine, DispatchRedriver::new(server));
/// # }
/// ```
#[derive(Debug)]
pub struct DispatchRedriver<D> {
    dispatch: Arc<D>,
}

impl<D> DispatchRedriver<D> {
    /// Re-drives through `dispatch`.
    pub fn new(dispatch: Arc<D>) -> DispatchRedriver<D> {
        DispatchRedriver { dispatch }
    }
}

impl<D> Clone for DispatchRedriver<D> {
    fn clone(&self) -> Self {
        DispatchRedriver { dispatch: Arc::clone(&self.dispatch) }
    }
}

impl<D: Dispatch> Redriver for DispatchRedriver<D> {
    async fn redrive(&self, intent: Intent) -> Result<Bytes, EngineError> {
        {
            let call = intent.meta().call_id().clone();
            let body = intent.request().body().clone();
            let method = intent.request().method().to_owned();
            let failed = |message: String| EngineError::HandlerFailed { call: call.clone(), source: message.into() };
            let (kind, args) = match body.first() {
                Some(0x80) => (ProtocolKind::Binary, body.slice(1..)),
                Some(0x82) => (ProtocolKind::Compact, body.slice(1..)),
                _ => return Err(failed(format!("intent of {call} holds no recorded request"))),
            };
            let cx = CallContext::new(method.as_str(), 0, None, kind).with_call_meta(intent.meta().clone());
            let reply = match kind {
                ProtocolKind::Binary => redrive_in::<Binary, D>(&self.dispatch, cx, &method, &args).await,
                ProtocolKind::Compact => redrive_in::<Compact, D>(&self.dispatch, cx, &method, &args).await,
            };
            let Some(reply) = reply else { return Ok(Bytes::new()) };
            let is_reply = match kind {
                ProtocolKind::Binary => is_reply::<Binary>(&reply),
                ProtocolKind::Compact => is_reply::<Compact>(&reply),
            };
            if is_reply { Ok(reply) } else { Err(failed(format!("re-drive of {call} answered with an exception"))) }
        }
    }
}

async fn redrive_in<P: Protocol, D: Dispatch>(
    dispatch: &D,
    cx: CallContext,
    method: &str,
    args: &Bytes,
) -> Option<Bytes> {
    let frame = encode_message::<P, RawBody<'_>>(method, MessageType::Call, 0, &RawBody(args));
    let args_at = frame.len() - args.len();
    dispatch.dispatch::<P>(&cx, frame, args_at).await
}

fn is_reply<P: Protocol>(message: &Bytes) -> bool {
    Reader::<P>::new(message).message_begin().map(|h| h.kind == MessageType::Reply).unwrap_or(false)
}
