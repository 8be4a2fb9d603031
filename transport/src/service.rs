//! The server side of a call: its context, the [`Dispatch`] trait that
//! generated `XServer` types implement, and the [`Service`]/[`Layer`]
//! middleware model the server runs calls through.
//!
//! [`Service`] is shaped like motore's (an `async fn call(&self, cx, req)`,
//! no `poll_ready`): a Thrift server has no back-pressure to signal per
//! service (the connection limit and per-connection in-flight cap do that),
//! and borrowing the context mutably lets a layer (the exactly-once layer,
//! later) add what it learns for the layers inside it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::codec::{Decode, DecodeError, Encode, LenCounter, MessageType, Protocol, Reader, Writer};
use crate::protocol::{ApplicationException, ApplicationExceptionKind};
use crate::transport::ProtocolKind;

/// What a handler knows about the call it serves.
#[derive(Clone, Debug)]
pub struct CallContext {
    method: String,
    seq: i32,
    peer: Option<SocketAddr>,
    protocol: ProtocolKind,
    /// The `Service:` prefix of a multiplexed call.
    service: Option<String>,
    /// HTTP headers or THeader info headers; `None` (no allocation) for
    /// the transports that carry none.
    headers: Option<Arc<[(String, String)]>>,
    /// Exactly-once metadata the caller sent (envelope or headers).
    meta: Option<Arc<crate::exactly_once::CallerMeta>>,
}

impl CallContext {
    /// A context for a call of `method` (without any `Service:` prefix).
    pub fn new(method: impl Into<String>, seq: i32, peer: Option<SocketAddr>, protocol: ProtocolKind) -> CallContext {
        CallContext { method: method.into(), seq, peer, protocol, service: None, headers: None, meta: None }
    }

    /// The same context for a call multiplexed to `service` (Apache's
    /// `TMultiplexedProtocol` sends `service:method`).
    pub fn with_service(mut self, service: impl Into<String>) -> CallContext {
        self.service = Some(service.into());
        self
    }

    /// The same context with these headers (name, value), in arrival order.
    pub fn with_headers(mut self, headers: impl IntoIterator<Item = (String, String)>) -> CallContext {
        let headers: Vec<_> = headers.into_iter().collect();
        self.headers = (!headers.is_empty()).then(|| headers.into());
        self
    }

    /// This context with a complete call id and its metadata (spec §2.1),
    /// as a nested call or a re-drive sends it.
    pub fn with_call_meta(self, meta: crate::exactly_once::CallMeta) -> CallContext {
        self.with_caller_meta(crate::exactly_once::CallerMeta::Call(meta))
    }

    /// This context with the exactly-once metadata the caller sent.
    pub fn with_caller_meta(mut self, meta: crate::exactly_once::CallerMeta) -> CallContext {
        self.meta = Some(Arc::new(meta));
        self
    }

    /// The exactly-once metadata the caller sent, if any. A durable server
    /// gives a call without it a fresh id: it runs once, but a retry is a
    /// new call.
    pub fn caller_meta(&self) -> Option<&crate::exactly_once::CallerMeta> {
        self.meta.as_deref()
    }

    /// The method called.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The service named by a multiplexed call (`ThriftTest` for
    /// `ThriftTest:testVoid`); `None` for a plain call.
    pub fn service(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// The client's sequence id.
    pub fn seq(&self) -> i32 {
        self.seq
    }

    /// The client's address, when known.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The protocol of the call.
    pub fn protocol(&self) -> ProtocolKind {
        self.protocol
    }

    /// The first value of the header `name`: an HTTP request header (such
    /// as `X-Call-Id`) for a call over HTTP, an info header (such as
    /// `mu2sls-call-id`) for a call in a THeader frame. Names compare
    /// ASCII-case-insensitively, as in HTTP. Framed and buffered calls
    /// carry no headers.
    ///
    /// ```
    /// use mu2sls::{CallContext, ProtocolKind};
    ///
    /// let cx = CallContext::new("ping", 1, None, ProtocolKind::Binary)
    ///     .with_headers([("x-call-id".to_string(), "svc.ping:k1".to_string())]);
    /// assert_eq!(cx.header("X-Call-Id"), Some("svc.ping:k1"));
    /// assert_eq!(cx.header("x-mu2sls-caller"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// Every header of the call (name, value), in arrival order; see
    /// [`CallContext::header`].
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().flat_map(|h| h.iter()).map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Whether a method expects a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodKind {
    /// A normal call: the server replies.
    Call,
    /// `oneway`: the server writes nothing back.
    Oneway,
}

/// Routes calls to a service's handler: implemented by generated
/// `XServer` types, served by [`crate::Server`].
pub trait Dispatch: Send + Sync + 'static {
    /// Whether `method` exists, and whether it is `oneway`.
    fn method_kind(&self, method: &str) -> Option<MethodKind>;

    /// Whether `method` of `service` (the prefix of a multiplexed call,
    /// `None` for a plain one) exists, and whether it is `oneway`. The
    /// server asks this one. A single service serves its methods under any
    /// prefix, as before multiplexing; [`crate::Multiplexer`] routes by it.
    fn route_kind(&self, service: Option<&str>, method: &str) -> Option<MethodKind> {
        let _ = service;
        self.method_kind(method)
    }

    /// Takes a signed callback (spec §2.6): a REPLY message whose headers
    /// carry a `mu2sls-signature`, which the server hands here instead of
    /// rejecting it. `None` (the default) if this dispatcher takes no
    /// callbacks; durable servers take them for their engine
    /// ([`receive_callback`](crate::receive_callback)).
    fn receive_callback<P: Protocol>(
        &self,
        cx: &CallContext,
        message: Bytes,
    ) -> impl Future<Output = Option<Result<(), String>>> + Send {
        let _ = (cx, message);
        std::future::ready(None)
    }

    /// Serves one call. `frame` is the whole request message and its
    /// arguments start at `args_at`. Returns the whole reply message, or
    /// `None` for a oneway call. The context is borrowed: the server keeps
    /// it (for a panic's reply, and the middleware around the call).
    fn dispatch<P: Protocol>(
        &self,
        cx: &CallContext,
        frame: Bytes,
        args_at: usize,
    ) -> impl Future<Output = Option<Bytes>> + Send;
}

/// A shared dispatcher dispatches as itself (to serve one handler under
/// several names of a [`crate::Multiplexer`], say).
impl<D: Dispatch> Dispatch for Arc<D> {
    fn method_kind(&self, method: &str) -> Option<MethodKind> {
        (**self).method_kind(method)
    }

    fn route_kind(&self, service: Option<&str>, method: &str) -> Option<MethodKind> {
        (**self).route_kind(service, method)
    }

    fn receive_callback<P: Protocol>(
        &self,
        cx: &CallContext,
        message: Bytes,
    ) -> impl Future<Output = Option<Result<(), String>>> + Send {
        (**self).receive_callback::<P>(cx, message)
    }

    fn dispatch<P: Protocol>(
        &self,
        cx: &CallContext,
        frame: Bytes,
        args_at: usize,
    ) -> impl Future<Output = Option<Bytes>> + Send {
        (**self).dispatch::<P>(cx, frame, args_at)
    }
}

/// One middleware step: handles a request with a context, possibly by
/// calling an inner service.
pub trait Service<Cx, Req>: Send + Sync {
    /// What a call returns.
    type Response;
    /// What a call fails with.
    type Error;
    /// Handles one request.
    fn call(&self, cx: &mut Cx, req: Req) -> impl Future<Output = Result<Self::Response, Self::Error>> + Send;
}

/// Wraps a service in another (a timeout, a log, exactly-once).
pub trait Layer<S> {
    /// The wrapping service.
    type Service;
    /// Wraps `inner`.
    fn layer(&self, inner: S) -> Self::Service;
}

/// The layer that adds nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl<S> Layer<S> for Identity {
    type Service = S;
    fn layer(&self, inner: S) -> S {
        inner
    }
}

/// Two layers, `outer` around `inner`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stack<Outer, Inner> {
    outer: Outer,
    inner: Inner,
}

impl<Outer, Inner> Stack<Outer, Inner> {
    /// `outer` wrapped around `inner`.
    pub fn new(outer: Outer, inner: Inner) -> Self {
        Stack { outer, inner }
    }
}

impl<S, Outer: Layer<Inner::Service>, Inner: Layer<S>> Layer<S> for Stack<Outer, Inner> {
    type Service = Outer::Service;
    fn layer(&self, service: S) -> Self::Service {
        self.outer.layer(self.inner.layer(service))
    }
}

/// An incoming call as the server's middleware sees it: the whole
/// message, and where its arguments start.
#[derive(Clone, Debug)]
pub struct Incoming {
    frame: Bytes,
    args_at: usize,
}

impl Incoming {
    /// A request for the message `frame` whose arguments start at `args_at`.
    pub fn new(frame: Bytes, args_at: usize) -> Incoming {
        Incoming { frame, args_at }
    }

    /// The whole request message, header included.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }

    /// Where the arguments start in [`Incoming::frame`].
    pub fn args_at(&self) -> usize {
        self.args_at
    }
}

/// The innermost service of a server: hands the call to a [`Dispatch`],
/// monomorphised for the call's protocol.
#[derive(Debug)]
pub struct DispatchService<D> {
    dispatch: Arc<D>,
}

impl<D> DispatchService<D> {
    /// Serves calls with `dispatch`.
    pub fn new(dispatch: Arc<D>) -> Self {
        DispatchService { dispatch }
    }
}

impl<D: Dispatch> Service<CallContext, Incoming> for DispatchService<D> {
    type Response = Option<Bytes>;
    type Error = std::convert::Infallible;

    async fn call(&self, cx: &mut CallContext, req: Incoming) -> Result<Option<Bytes>, std::convert::Infallible> {
        Ok(match cx.protocol() {
            ProtocolKind::Binary => self.dispatch.dispatch::<crate::codec::Binary>(cx, req.frame, req.args_at).await,
            ProtocolKind::Compact => self.dispatch.dispatch::<crate::codec::Compact>(cx, req.frame, req.args_at).await,
        })
    }
}

/// An EXCEPTION message for `cx`'s call, in its protocol.
pub fn exception_for(cx: &CallContext, e: &ApplicationException) -> Bytes {
    match cx.protocol() {
        ProtocolKind::Binary => exception_reply::<crate::codec::Binary>(cx, e),
        ProtocolKind::Compact => exception_reply::<crate::codec::Compact>(cx, e),
    }
}

/// Encodes a whole message (header and body) into one buffer of exactly
/// the right size.
pub(crate) fn encode_message<P: Protocol, T: Encode + ?Sized>(
    name: &str,
    kind: MessageType,
    seq: i32,
    body: &T,
) -> Bytes {
    let mut counter = Writer::<P, LenCounter>::new(LenCounter(0));
    counter.message_begin(name, kind, seq);
    body.encode(&mut counter);
    let mut w = Writer::<P, BytesMut>::new(BytesMut::with_capacity(counter.into_inner().0));
    w.message_begin(name, kind, seq);
    body.encode(&mut w);
    w.into_inner().freeze()
}

/// A REPLY carrying `result` (a method's result struct).
pub fn reply<P: Protocol, R: Encode>(cx: &CallContext, result: &R) -> Bytes {
    encode_message::<P, R>(&cx.method, MessageType::Reply, cx.seq, result)
}

/// An EXCEPTION message carrying `e`.
pub fn exception_reply<P: Protocol>(cx: &CallContext, e: &ApplicationException) -> Bytes {
    encode_message::<P, ApplicationException>(&cx.method, MessageType::Exception, cx.seq, e)
}

/// Decodes a call's arguments struct from `frame` at `at`.
pub fn decode_args<P: Protocol, A: Decode>(frame: &Bytes, at: usize) -> Result<A, DecodeError> {
    let mut r = Reader::<P>::new(frame);
    r.skip_to(at);
    A::decode(&mut r)
}

/// The PROTOCOL_ERROR reply for arguments that did not decode.
pub fn protocol_error_reply<P: Protocol>(cx: &CallContext, e: &DecodeError) -> Bytes {
    let e = ApplicationException::new(
        ApplicationExceptionKind::PROTOCOL_ERROR,
        format!("cannot decode the arguments of `{}`: {e}", cx.method),
    );
    exception_reply::<P>(cx, &e)
}
