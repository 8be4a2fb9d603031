//! The tokio server: accepts connections, recognises their transport and
//! protocol from the first bytes, and serves calls through a [`Dispatch`].
//!
//! Requests pipelined on one connection run concurrently (up to
//! [`ServerBuilder::max_in_flight`]) and their replies leave in request
//! order, which every Apache client accepts. Handler panics become
//! INTERNAL_ERROR exceptions; the connection stays up.
//!
//! Misbehaving peers cost bounded memory and time: a connection is closed
//! (after the replies to the calls it sent before) on bytes that are not
//! Thrift, an unreadable message header, or a frame over
//! [`ServerBuilder::max_frame`], whose announced size is never allocated
//! up front. The idle timeout also bounds a peer that stalls before its
//! first message, mid-message, or while not reading its replies.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{FuturesOrdered, StreamExt};
use futures_util::{FutureExt, SinkExt};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::codec::{Framed, FramedParts};
use tracing::{Instrument, debug, info_span, warn};

use crate::codec::{Binary, Compact, DecodeError, MessageHeader, MessageType, Protocol, Reader};
use crate::protocol::{ApplicationException, ApplicationExceptionKind};
use crate::service::{
    CallContext, Dispatch, DispatchService, Identity, Incoming, Layer, MethodKind, Service, Stack, exception_reply,
};
use crate::transport::{MessageCodec, ProtocolKind, Sniffed, sniff};

#[cfg(feature = "http")]
mod http;
mod multiplex;
#[cfg(test)]
mod robustness;
/// The pause after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

pub use multiplex::Multiplexer;

/// What a server enforces, shared by its connection tasks.
#[derive(Clone, Debug)]
struct Config {
    max_frame: usize,
    max_connections: usize,
    max_in_flight: usize,
    idle_timeout: Option<Duration>,
    detach_oneway: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame: 16_384_000,
            max_connections: 10_000,
            max_in_flight: 64,
            idle_timeout: Some(Duration::from_secs(300)),
            detach_oneway: true,
        }
    }
}

/// Server settings and middleware. Layers added first are outermost:
/// `.layer(A).layer(B)` runs a call through A, then B, then the handler.
#[derive(Clone, Debug, Default)]
pub struct ServerBuilder<L = Identity> {
    config: Config,
    layers: L,
}

impl<L> ServerBuilder<L> {
    /// The largest message accepted (16,384,000 bytes by default, as Apache).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.config.max_frame = bytes;
        self
    }

    /// Connections served at once; more are closed on accept, with a
    /// warning, and cost no task (10,000).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.config.max_connections = n.max(1);
        self
    }

    /// Pipelined calls served at once per connection, oneway calls
    /// included (64). A connection reads no further message until one of
    /// them completes.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.config.max_in_flight = n.max(1);
        self
    }

    /// Whether oneway calls run detached (the default), so a slow one never
    /// delays later replies, or in line with the other calls of their
    /// connection, so their effects are visible to the next call (as on
    /// Apache's servers, which serve a connection one call at a time).
    pub fn detach_oneway(mut self, on: bool) -> Self {
        self.config.detach_oneway = on;
        self
    }

    /// Close connections idle this long (5 minutes); `None` never. A
    /// connection is idle while no whole message arrives and no call runs,
    /// so a message trickled in byte by byte does not keep it open, and
    /// while a reply cannot be written because the peer does not read.
    pub fn idle_timeout(mut self, t: Option<Duration>) -> Self {
        self.config.idle_timeout = t;
        self
    }

    /// Adds a middleware layer inside the ones added before.
    pub fn layer<N>(self, layer: N) -> ServerBuilder<Stack<L, N>> {
        ServerBuilder { config: self.config, layers: Stack::new(self.layers, layer) }
    }

    /// The configured server.
    pub fn build(self) -> Server<L> {
        Server { config: Arc::new(self.config), layers: self.layers }
    }
}

/// A Thrift server. See the crate documentation for an example.
#[derive(Clone, Debug)]
pub struct Server<L = Identity> {
    config: Arc<Config>,
    layers: L,
}

impl Server {
    /// Settings, starting from the defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

impl<L> Server<L> {
    /// Serves `dispatch` on `listener` until `shutdown` completes; then stops
    /// accepting, lets every connection finish the calls it has read, and
    /// returns once all are closed.
    pub async fn serve<D>(
        &self,
        listener: TcpListener,
        dispatch: D,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()>
    where
        D: Dispatch,
        L: Layer<DispatchService<D>>,
        L::Service: Service<CallContext, Incoming, Response = Option<Bytes>, Error = Infallible> + 'static,
    {
        let dispatch = Arc::new(dispatch);
        let service = Arc::new(self.layers.layer(DispatchService::new(dispatch.clone())));
        let permits = Arc::new(Semaphore::new(self.config.max_connections));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of descriptors and the like: keep serving,
                            // after a pause, or a lasting error (the waiting
                            // connection stays queued) spins this loop and
                            // floods the log.
                            warn!(error = %e, "accept failed");
                            tokio::time::sleep(ACCEPT_BACKOFF).await;
                            continue;
                        }
                    };
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        warn!(%peer, "connection limit reached; closing");
                        continue;
                    };
                    let calls = Calls { dispatch: dispatch.clone(), service: service.clone() };
                    let config = self.config.clone();
                    let stop = stop_rx.clone();
                    connections.spawn(
                        async move {
                            if let Err(e) = connection(stream, peer, calls, config, stop).await {
                                debug!(error = %e, "connection closed with an error");
                            }
                            drop(permit);
                        }
                        .instrument(info_span!("connection", %peer)),
                    );
                }
                Some(done) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(e) = done {
                        warn!(error = %e, "connection task failed");
                    }
                }
            }
        }
        let _ = stop_tx.send(true);
        while let Some(done) = connections.join_next().await {
            if let Err(e) = done {
                warn!(error = %e, "connection task failed");
            }
        }
        Ok(())
    }
}

/// What a connection serves calls with: the dispatcher (for its method
/// table) and the middleware stack around it.
struct Calls<D, S> {
    dispatch: Arc<D>,
    service: Arc<S>,
}

impl<D, S> Clone for Calls<D, S> {
    fn clone(&self) -> Self {
        Calls { dispatch: self.dispatch.clone(), service: self.service.clone() }
    }
}

async fn connection<D, S>(
    mut stream: TcpStream,
    peer: SocketAddr,
    calls: Calls<D, S>,
    config: Arc<Config>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), crate::transport::FrameError>
where
    D: Dispatch,
    S: Service<CallContext, Incoming, Response = Option<Bytes>, Error = Infallible> + 'static,
{
    stream.set_nodelay(true)?;
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let idle = config.idle_timeout.unwrap_or(Duration::MAX);
    // The first bytes must arrive within the idle timeout too, or a client
    // that connects and stalls would hold its connection slot for ever.
    let first_bytes = async {
        loop {
            if let Some(s) = sniff(&buf, config.max_frame) {
                return Ok(Some(s));
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok::<_, std::io::Error>(None);
            }
        }
    };
    let sniffed = tokio::select! {
        sniffed = tokio::time::timeout(idle, first_bytes) => match sniffed {
            Ok(sniffed) => sniffed?,
            Err(_) => {
                debug!(received = buf.len(), "idle timeout before a whole message header");
                return Ok(());
            }
        },
        _ = stop.changed() => return Ok(()),
    };
    let (framing, protocol) = match sniffed {
        Some(Sniffed::Thrift(f, p)) => (f, p),
        // An empty probe connection (load balancers, test runners).
        None => return Ok(()),
        #[cfg(feature = "http")]
        Some(Sniffed::Http) => return http::serve_connection(stream, buf, peer, calls, config, stop).await,
        Some(other) => {
            match announced_frame(&buf) {
                Some(size) if size > config.max_frame => {
                    warn!(size, limit = config.max_frame, "frame exceeds the size limit; closing");
                }
                _ => debug!(?other, "unsupported transport; closing"),
            }
            return Ok(());
        }
    };
    let mut parts = FramedParts::new::<Bytes>(stream, MessageCodec::new(framing, protocol, config.max_frame));
    parts.read_buf = buf;
    let framed = Framed::from_parts(parts);
    match protocol {
        ProtocolKind::Binary => serve_messages::<Binary, D, S>(framed, peer, calls, config, stop).await,
        ProtocolKind::Compact => serve_messages::<Compact, D, S>(framed, peer, calls, config, stop).await,
    }
}

async fn serve_messages<P, D, S>(
    mut framed: Framed<TcpStream, MessageCodec>,
    peer: SocketAddr,
    calls: Calls<D, S>,
    config: Arc<Config>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), crate::transport::FrameError>
where
    P: Protocol,
    D: Dispatch,
    S: Service<CallContext, Incoming, Response = Option<Bytes>, Error = Infallible> + 'static,
{
    // The oldest call in flight runs here, in the connection's task: a
    // connection serving one call at a time (the common case) pays no
    // allocation or move per call. Calls pipelined behind it go to
    // `in_flight`, and their replies, when done before the first's, wait
    // in `waiting`: replies leave in request order.
    let call = |request, headers| handle::<P, D, S>(calls.clone(), request, peer, headers);
    let mut first = std::pin::pin!(no_call(&call));
    let mut in_flight = FuturesOrdered::new();
    let mut waiting = VecDeque::new();
    // Oneway calls have no reply to wait for: they run detached, so a slow
    // oneway handler never holds up the replies of later calls.
    let mut oneway = JoinSet::new();
    let idle = config.idle_timeout.unwrap_or(Duration::MAX);
    // One idle timer per connection, pushed back whenever the loop turns
    // while idle (moving a deadline later is cheap; building a timer per
    // turn is not). `None` when there is no idle timeout.
    let idle_timer = config.idle_timeout.map(|_| tokio::time::sleep(idle));
    tokio::pin!(idle_timer);
    // Likewise one wait for the stop signal, not one per turn.
    let stopping = async move { while stop.changed().await.is_ok() && !*stop.borrow() {} };
    tokio::pin!(stopping);
    let mut reading = true;
    loop {
        // Replies waiting for an earlier one count: they hold memory.
        let calls_in_flight = usize::from(first.is_some()) + in_flight.len() + waiting.len();
        if !reading && calls_in_flight == 0 {
            break;
        }
        let idle_now = reading && calls_in_flight == 0 && oneway.is_empty();
        if idle_now && let Some(timer) = idle_timer.as_mut().as_pin_mut() {
            timer.reset(deadline_after(idle));
        }
        tokio::select! {
            // In this order: replies first, reading last (no random start).
            biased;
            reply = std::future::poll_fn(|cx| first.as_mut().as_pin_mut().map_or(Poll::Pending, |call| call.poll(cx))),
                if first.is_some() =>
            {
                first.set(None);
                // The replies done behind it go out in the same write.
                if !write_replies(&mut framed, reply.into_iter().chain(waiting.drain(..)), idle).await? {
                    break;
                }
            }
            Some(reply) = in_flight.next(), if !in_flight.is_empty() => {
                if first.is_some() {
                    waiting.extend(reply);
                } else if !write_replies(&mut framed, reply, idle).await? {
                    break;
                }
            }
            () = &mut stopping, if reading => reading = false,
            Some(done) = oneway.join_next(), if !oneway.is_empty() => {
                if let Err(e) = done {
                    warn!(error = %e, "oneway call task failed");
                }
            }
            // Detached oneway calls count too: a stream of them must not
            // spawn tasks without bound.
            frame = framed.next(), if reading && calls_in_flight + oneway.len() < config.max_in_flight => match frame {
                Some(Ok(frame)) => {
                    // THeader info headers travel with their frame.
                    let headers = framed.codec_mut().take_info_headers();
                    match Parsed::parse::<P, D>(&calls.dispatch, frame) {
                        Ok(request) if request.oneway && config.detach_oneway => {
                            oneway.spawn(call(request, headers).in_current_span());
                        }
                        Ok(request) => {
                            if calls_in_flight == 0 {
                                first.set(Some(call(request, headers)));
                            } else {
                                in_flight.push_back(call(request, headers));
                            }
                        }
                        Err(e) => {
                            // No name or sequence id to answer with, and a peer
                            // that speaks something else: close, as Apache does.
                            warn!(error = %e, "undecodable message header; closing after the calls in flight");
                            reading = false;
                        }
                    }
                }
                Some(Err(crate::transport::FrameError::Io(e))) => {
                    debug!(error = %e, "cannot read a message; closing after the calls in flight");
                    reading = false;
                }
                Some(Err(e)) => {
                    warn!(error = %e, "cannot read a message; closing after the calls in flight");
                    reading = false;
                }
                None => reading = false,
            },
            () = async { idle_timer.as_mut().as_pin_mut().expect("armed").await }, if idle_now && idle_timer.is_some() => {
                debug!("idle timeout");
                reading = false;
            }
        }
    }
    // Let the oneway calls already read finish (graceful shutdown).
    while let Some(done) = oneway.join_next().await {
        if let Err(e) = done {
            warn!(error = %e, "oneway call task failed");
        }
    }
    Ok(())
}

/// An empty slot for the calls `start` starts.
fn no_call<F>(_start: &impl Fn(Parsed, Vec<(String, String)>) -> F) -> Option<F> {
    None
}

/// Writes `replies` and flushes them, in one system call when they fit;
/// `false` (after logging) when the peer has not taken them within the
/// idle timeout: a peer that stops reading its replies would otherwise
/// hold the connection (and graceful shutdown) for ever.
async fn write_replies(
    framed: &mut Framed<TcpStream, MessageCodec>,
    replies: impl IntoIterator<Item = Bytes>,
    idle: Duration,
) -> Result<bool, crate::transport::FrameError> {
    let write = async {
        for reply in replies {
            framed.feed(reply).await?;
        }
        framed.flush().await
    };
    tokio::pin!(write);
    // Nearly always done at once; only a write that waits gets a timer.
    if let Some(written) = write.as_mut().now_or_never() {
        return written.map(|()| true);
    }
    match tokio::time::timeout(idle, write).await {
        Ok(written) => written.map(|()| true),
        Err(_) => {
            debug!("idle timeout writing a reply; closing");
            Ok(false)
        }
    }
}

/// `idle` from now, or about 30 years for a longer (or endless) timeout.
fn deadline_after(idle: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(idle).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// A request message whose header was read, once, when it arrived.
struct Parsed {
    /// The call-metadata envelope split off the frame, if it had one.
    meta: Result<Option<crate::exactly_once::CallerMeta>, crate::transport::EnvelopeError>,
    /// The message, without the envelope.
    message: Bytes,
    header: MessageHeader,
    /// Where the arguments start in `message`.
    args_at: usize,
    /// Whether the call is oneway: by its message type, or by the method
    /// (pre-0.9.3 clients send CALL for oneway methods).
    oneway: bool,
}

impl Parsed {
    /// Reads the header of `frame` (after a call-metadata envelope, which is
    /// split off). Fails when the header cannot be read: there is then no
    /// name or sequence id to answer with.
    fn parse<P: Protocol, D: Dispatch>(dispatch: &D, frame: Bytes) -> Result<Parsed, DecodeError> {
        let (meta, message) = match crate::transport::envelope::split(frame) {
            Ok((meta, message)) => (Ok(meta), message),
            Err((e, message)) => (Err(e), message),
        };
        let mut r = Reader::<P>::new(&message);
        let header = r.message_begin()?;
        let args_at = r.position();
        let (service, method) = split_name(&header.name);
        let oneway =
            header.kind == MessageType::Oneway || dispatch.route_kind(service, method) == Some(MethodKind::Oneway);
        Ok(Parsed { meta, message, header, args_at, oneway })
    }
}

/// The length a framed transport's first four bytes announce, when they
/// are followed by a Thrift message start (so the peer does speak framed).
fn announced_frame(b: &[u8]) -> Option<usize> {
    match b {
        [l0, l1, l2, l3, 0x80, 0x01, ..] | [l0, l1, l2, l3, 0x82, _, ..] => {
            Some(u32::from_be_bytes([*l0, *l1, *l2, *l3]) as usize)
        }
        _ => None,
    }
}

/// A message name's `Service:` prefix (Apache's `TMultiplexedProtocol`;
/// the first colon ends it, as in Apache's processors) and method.
fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((service, method)) => (Some(service), method),
        None => (None, name),
    }
}

/// Serves one request message; the reply message, or `None` for oneway.
/// When tracing is on, every call is logged in a span with its method,
/// sequence id, peer, protocol, and, once served, its status and duration.
async fn handle<P, D, S>(
    calls: Calls<D, S>,
    request: Parsed,
    peer: SocketAddr,
    headers: Vec<(String, String)>,
) -> Option<Bytes>
where
    P: Protocol,
    D: Dispatch,
    S: Service<CallContext, Incoming, Response = Option<Bytes>, Error = Infallible>,
{
    let Parsed { meta, message, header, args_at, .. } = request;
    // Multiplexed clients send `Service:method`; replies carry the method,
    // as Apache's multiplexed processors write them. The name read from the
    // message becomes the context's (no copy without a prefix).
    let mut name = header.name;
    let service = name.find(':').map(|colon| {
        let method = name[colon + 1..].to_string();
        name.truncate(colon);
        std::mem::replace(&mut name, method)
    });
    let mut cx = CallContext::new(name, header.seq, Some(peer), P::KIND);
    if !headers.is_empty() {
        cx = cx.with_headers(headers);
    }
    if let Some(service) = service {
        cx = cx.with_service(service);
    }
    match meta {
        Ok(Some(meta)) => cx = cx.with_caller_meta(meta),
        Ok(None) => {}
        Err(e) => {
            debug!(error = %e, "bad call-metadata envelope");
            if header.kind == MessageType::Oneway {
                return None;
            }
            let e = ApplicationException::new(ApplicationExceptionKind::PROTOCOL_ERROR, e.to_string());
            return Some(exception_reply::<P>(&cx, &e));
        }
    }
    let span = info_span!(
        "call",
        method = cx.method(),
        service = cx.service().unwrap_or(""),
        seq = cx.seq(),
        %peer,
        protocol = ?P::KIND,
        status = tracing::field::Empty,
        elapsed_us = tracing::field::Empty,
    );
    if span.is_disabled() {
        // No subscriber wants the span: no clock reads, no instrumentation.
        return serve_call::<P, D, S>(&calls, &mut cx, header.kind, message, args_at).await.0;
    }
    let record = span.clone();
    async move {
        let started = std::time::Instant::now();
        let (reply, status) = serve_call::<P, D, S>(&calls, &mut cx, header.kind, message, args_at).await;
        let status = match status {
            Status::Replied if reply.as_deref().is_some_and(is_exception::<P>) => "exception",
            Status::Replied => "ok",
            Status::Other(status) => status,
        };
        record.record("status", status);
        record.record("elapsed_us", started.elapsed().as_micros() as u64);
        debug!("served");
        reply
    }
    .instrument(span)
    .await
}

/// How a call ended, for its span.
enum Status {
    /// The handler's reply (a REPLY or an EXCEPTION message).
    Replied,
    /// Anything else, said in a word.
    Other(&'static str),
}

async fn serve_call<P, D, S>(
    calls: &Calls<D, S>,
    cx: &mut CallContext,
    kind: MessageType,
    frame: Bytes,
    args_at: usize,
) -> (Option<Bytes>, Status)
where
    P: Protocol,
    D: Dispatch,
    S: Service<CallContext, Incoming, Response = Option<Bytes>, Error = Infallible>,
{
    if kind == MessageType::Reply && crate::exactly_once::is_callback(cx) {
        match calls.dispatch.receive_callback::<P>(cx, frame.clone()).await {
            Some(Ok(())) => {
                let ack = crate::service::encode_message::<P, _>(
                    cx.method(),
                    MessageType::Reply,
                    cx.seq(),
                    &crate::client::RawBody(&[0]),
                );
                return (Some(ack), Status::Other("callback"));
            }
            Some(Err(reason)) => {
                debug!(%reason, "callback refused");
                let e =
                    ApplicationException::new(ApplicationExceptionKind::UNKNOWN, format!("callback refused: {reason}"));
                return (Some(exception_reply::<P>(cx, &e)), Status::Other("callback refused"));
            }
            None => {}
        }
    }
    if !matches!(kind, MessageType::Call | MessageType::Oneway) {
        let e = ApplicationException::new(
            ApplicationExceptionKind::INVALID_MESSAGE_TYPE,
            format!("a server accepts CALL and ONEWAY messages, not {kind:?}"),
        );
        return (Some(exception_reply::<P>(cx, &e)), Status::Other("invalid message type"));
    }
    let Some(method_kind) = calls.dispatch.route_kind(cx.service(), cx.method()) else {
        let e = ApplicationException::new(
            ApplicationExceptionKind::UNKNOWN_METHOD,
            match cx.service() {
                Some(service) => format!("unknown method `{service}:{}`", cx.method()),
                None => format!("unknown method `{}`", cx.method()),
            },
        );
        return (Some(exception_reply::<P>(cx, &e)), Status::Other("unknown method"));
    };
    let outcome = AssertUnwindSafe(calls.service.call(cx, Incoming::new(frame, args_at))).catch_unwind().await;
    match outcome {
        Ok(Ok(Some(reply))) => (Some(reply), Status::Replied),
        Ok(Ok(None)) => (None, Status::Other("oneway")),
        Ok(Err(never)) => match never {},
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            warn!(panic = %what, "handler panicked");
            // Layers only add to the context, so it still names the call.
            let reply = (method_kind == MethodKind::Call).then(|| {
                exception_reply::<P>(cx, &ApplicationException::internal(format!("handler panicked: {what}")))
            });
            (reply, Status::Other("panic"))
        }
    }
}

/// Whether `reply` is an EXCEPTION message, from its type alone: our
/// writers put it at a fixed place (strict binary's fourth byte, the top
/// three bits of compact's second).
fn is_exception<P: Protocol>(reply: &[u8]) -> bool {
    let exception = MessageType::Exception.to_i8() as u8;
    match P::KIND {
        ProtocolKind::Binary => reply.get(3) == Some(&exception),
        ProtocolKind::Compact => reply.get(1).map(|b| b >> 5) == Some(exception),
    }
}

#[cfg(test)]
mod tests;
