//! The tokio client: a [`Channel`] to one server, shared by every clone,
//! carrying calls concurrently over one connection (or a few, see
//! [`ChannelBuilder::connections`]).
//!
//! Each call gets a sequence id; a reader task hands each reply to the
//! caller waiting for that id, so replies may come back in any order (ours)
//! or in request order (Apache servers). A lost connection fails the calls
//! waiting on it and is re-established by the next call. Calls are retried
//! only when asked ([`ChannelBuilder::retries`]) and only where it is safe:
//! the call did not run, or it carries an idempotency key.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::Framed;
use tracing::debug;

use crate::codec::{Binary, Compact, Decode, DecodeError, Encode, MessageHeader, MessageType, Protocol, Reader};
use crate::exactly_once::Clock as _;
use crate::protocol::{ApplicationException, ApplicationExceptionKind};
use crate::service::encode_message;
use crate::transport::{FrameError, Framing, MessageCodec, ProtocolKind};

#[cfg(feature = "http")]
mod http;
mod pool;

/// Why a call got no reply. Whether the server ran it is unknown unless
/// the error says otherwise ([`TransportError::is_not_executed`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Connecting failed: the call was not sent.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The connection broke before the reply arrived.
    #[error("connection lost: {0}")]
    Closed(String),
    /// No reply within the deadline.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The reply is not a valid Thrift message, or not the one expected.
    #[error("bad reply: {0}")]
    BadReply(String),
    /// A durable handler's call (made through `Ctx::client`) could not be
    /// logged or replayed: the handler's call fails and is retried whole.
    #[error("exactly-once: {0}")]
    Step(Box<crate::exactly_once::EngineError>),
    /// Over HTTP: the server answered with another status than 200 OK
    /// (a 4xx says it did not run the call).
    #[error("HTTP status {status}: {message}")]
    HttpStatus {
        /// The status code.
        status: u16,
        /// The start of the answer's body (servers put the reason there).
        message: String,
    },
}

impl TransportError {
    /// Whether the call certainly did not reach the server's handler (safe
    /// to retry): it was never sent, or an HTTP server refused it with a
    /// 4xx (a Thrift server answers every call it runs with a 200).
    pub fn is_not_executed(&self) -> bool {
        matches!(self, TransportError::Connect { .. } | TransportError::HttpStatus { status: 400..=499, .. })
    }
}

/// Why a call of a generated client failed: a declared exception, an
/// undeclared failure on the server, or no reply.
#[derive(Debug, thiserror::Error)]
pub enum CallError<E> {
    /// One of the method's declared exceptions.
    #[error("declared exception: {0:?}")]
    Exception(E),
    /// The server answered with an `ApplicationException`.
    #[error("application exception: {0}")]
    Application(ApplicationException),
    /// No (valid) reply.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// A reply message, undecoded.
#[derive(Clone, Debug)]
pub struct Reply {
    frame: Bytes,
    body_at: usize,
    header: MessageHeader,
    protocol: ProtocolKind,
}

impl Reply {
    /// A reply carrying `result`, a result struct in binary, as a durable
    /// handler's step recorded it.
    pub(crate) fn recorded(method: &str, result: Bytes) -> Reply {
        let header = MessageHeader { name: method.to_owned(), kind: MessageType::Reply, seq: 0 };
        Reply { frame: result, body_at: 0, header, protocol: ProtocolKind::Binary }
    }

    /// A whole reply message in `protocol`.
    pub(crate) fn from_message(frame: Bytes, protocol: ProtocolKind) -> Result<Reply, TransportError> {
        let (header, body_at) = match protocol {
            ProtocolKind::Binary => read_header::<Binary>(&frame),
            ProtocolKind::Compact => read_header::<Compact>(&frame),
        }
        .map_err(|e| TransportError::BadReply(e.to_string()))?;
        if !matches!(header.kind, MessageType::Reply | MessageType::Exception) {
            return Err(TransportError::BadReply(format!("a {:?} message in reply", header.kind)));
        }
        Ok(Reply { frame, body_at, header, protocol })
    }

    /// The message body (the result struct, or an exception).
    pub(crate) fn body(&self) -> &[u8] {
        &self.frame[self.body_at..]
    }

    /// The message body, sharing the frame.
    pub(crate) fn body_bytes(&self) -> Bytes {
        self.frame.slice(self.body_at..)
    }

    /// The protocol the body is in.
    pub(crate) fn protocol(&self) -> ProtocolKind {
        self.protocol
    }

    /// The message header.
    pub fn header(&self) -> &MessageHeader {
        &self.header
    }

    /// Decodes the result struct; an EXCEPTION message becomes
    /// [`CallError::Application`].
    pub fn result<R: Decode, E>(&self) -> Result<R, CallError<E>> {
        match self.protocol {
            ProtocolKind::Binary => self.result_in::<Binary, R, E>(),
            ProtocolKind::Compact => self.result_in::<Compact, R, E>(),
        }
    }

    fn result_in<P: Protocol, R: Decode, E>(&self) -> Result<R, CallError<E>> {
        let mut r = Reader::<P>::new(&self.frame);
        r.skip_to(self.body_at);
        let bad = |e: DecodeError| CallError::Transport(TransportError::BadReply(e.to_string()));
        if self.header.kind == MessageType::Exception {
            return Err(CallError::Application(ApplicationException::decode(&mut r).map_err(bad)?));
        }
        R::decode(&mut r).map_err(bad)
    }
}

/// The error for a non-void reply without a result.
pub fn missing_result(method: &str) -> ApplicationException {
    ApplicationException::new(ApplicationExceptionKind::MISSING_RESULT, format!("`{method}` returned no result"))
}

/// Channel settings.
#[derive(Clone, Debug)]
pub struct ChannelBuilder {
    addr: String,
    framing: Framing,
    protocol: ProtocolKind,
    timeout: Duration,
    max_frame: usize,
    connections: usize,
    service: Option<String>,
    headers: Vec<(String, String)>,
    retries: u32,
}

impl ChannelBuilder {
    /// Framed (the default) or buffered.
    pub fn framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    /// Binary (the default) or compact.
    pub fn protocol(mut self, protocol: ProtocolKind) -> Self {
        self.protocol = protocol;
        self
    }

    /// How long a call waits for its reply (30 s by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest reply accepted (16,384,000 bytes by default).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Retries a call up to `n` times (none by default), only where that is
    /// safe: when the call certainly did not run
    /// ([`TransportError::is_not_executed`]), or, for any failure without a
    /// reply, when it carries an idempotency key
    /// ([`Channel::with_idempotency_key`]), which lets an exactly-once
    /// server run it once however often it arrives. Attempts back off
    /// exponentially from 10 ms up to 1 s; each gets the full timeout.
    /// Oneway calls are never retried.
    ///
    /// ```
    /// let channel = mu2sls::Channel::builder("127.0.0.1:9090").retries(3).build();
    /// let once = channel.with_idempotency_key("order-42"); // retried on any lost reply
    /// # let _ = once;
    /// ```
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// How many connections to keep to the server (1 by default; at least
    /// 1). Each call goes to the connection with the fewest calls in flight,
    /// and a connection that died is made again by its next call.
    ///
    /// One connection suffices for our servers, which run pipelined calls
    /// concurrently. Apache's servers answer a connection's calls one at a
    /// time: against them, `n` connections run up to `n` calls at once.
    ///
    /// ```
    /// # use mu2sls::Channel;
    /// let channel = Channel::builder("127.0.0.1:9090").connections(4).build();
    /// ```
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
        self
    }

    /// Calls a service multiplexed as `name` (Apache's
    /// `TMultiplexedProtocol`): method names go out as `name:method`.
    pub fn service(mut self, name: impl Into<String>) -> Self {
        self.service = Some(name.into());
        self
    }

    /// A header sent with every call: an HTTP request header with
    /// [`Framing::Http`], an info header with [`Framing::Header`]. Framed
    /// and buffered messages have no room for headers. Servers show them
    /// to handlers as [`crate::CallContext::header`].
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The channel. It connects on first use.
    pub fn build(self) -> Channel {
        let pool = pool::Pool::new(self.connections);
        #[cfg(feature = "http")]
        let http =
            (self.framing == Framing::Http).then(|| http::HttpCaller::new(&self.addr, &self.headers, self.max_frame));
        Channel {
            inner: Arc::new(Inner {
                #[cfg(feature = "http")]
                http,
                config: self,
                seq: AtomicI32::new(0),
                pool,
            }),
            meta: None,
            link: None,
        }
    }
}

/// A connection to one server, shared by all clones; generated clients
/// send their calls through it.
#[derive(Clone, Debug)]
pub struct Channel {
    inner: Arc<Inner>,
    /// The exactly-once metadata calls through this handle carry, if any.
    meta: Option<Arc<SentMeta>>,
    /// Set for a client made by `Ctx::client`: calls are logged steps of
    /// the handler's call, sent through the link.
    link: Option<Arc<dyn Link>>,
}

#[derive(Debug)]
enum SentMeta {
    /// A root call's idempotency key.
    Key {
        key: String,
        /// When the logical call was first attempted: when the key was set.
        origin_ms: u64,
    },
    /// A whole call id (a nested call of a durable handler).
    Call(crate::exactly_once::CallMeta),
}

/// Where the calls of a channel made by `Ctx::client` go: the logged
/// invocation of `exactly_once::invoke`.
pub(crate) trait Link: Send + Sync + std::fmt::Debug {
    /// The protocol the arguments are to be encoded in.
    fn protocol(&self) -> ProtocolKind;
    /// Calls `method` with `args` (the arguments struct in
    /// [`Link::protocol`]) as the handler's next step; `None` for oneway.
    fn call<'a>(
        &'a self,
        method: &'a str,
        args: Bytes,
        oneway: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<Reply>, TransportError>> + Send + 'a>>;
}

#[derive(Debug)]
struct Inner {
    config: ChannelBuilder,
    seq: AtomicI32,
    pool: pool::Pool,
    /// Set for [`Framing::Http`]: calls are posted, not sent on the pool.
    #[cfg(feature = "http")]
    http: Option<http::HttpCaller>,
}

type Waiters = Arc<Mutex<Option<HashMap<i32, oneshot::Sender<Bytes>>>>>;

#[derive(Debug)]
struct Connection {
    outgoing: mpsc::Sender<Bytes>,
    /// Callers waiting for replies, by sequence id; `None` once the
    /// connection is gone.
    waiters: Waiters,
}

impl Connection {
    /// Whether both halves still run. The reader ends first when the
    /// server hangs up, while the writer idles on: checking the writer
    /// alone would keep a dead connection forever.
    fn is_open(&self) -> bool {
        !self.outgoing.is_closed() && self.waiters.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

impl Channel {
    /// Settings for a channel to `addr` (`host:port`).
    pub fn builder(addr: impl Into<String>) -> ChannelBuilder {
        ChannelBuilder {
            addr: addr.into(),
            framing: Framing::Framed,
            protocol: ProtocolKind::Binary,
            timeout: Duration::from_secs(30),
            max_frame: 16_384_000,
            connections: 1,
            service: None,
            headers: Vec::new(),
            retries: 0,
        }
    }

    /// A channel to `addr` with the defaults (framed, binary).
    pub fn new(addr: impl Into<String>) -> Channel {
        Channel::builder(addr).build()
    }

    /// A handle on this channel (same connection) whose calls carry `key`
    /// as their idempotency key: a server running the method exactly once
    /// (`--gen rust:exactly_once`) names the call `service.method:key`, runs
    /// it once, and answers every retry with the same handle and key with
    /// the recorded result. Use one key per logical call, and retry
    /// through the same handle (the call's origin is when the key was set).
    ///
    /// The key travels in a call-metadata envelope that only mu2sls servers
    /// read: do not set one toward a stock Thrift server.
    ///
    /// ```
    /// let channel = mu2sls::Channel::new("127.0.0.1:9090");
    /// let once = channel.with_idempotency_key("order-42");
    /// assert_eq!(once.idempotency_key(), Some("order-42"));
    /// assert_eq!(channel.idempotency_key(), None);
    /// ```
    pub fn with_idempotency_key(&self, key: impl Into<String>) -> Channel {
        let origin_ms = crate::exactly_once::SystemClock.now_ms();
        let meta = SentMeta::Key { key: key.into(), origin_ms };
        Channel { inner: self.inner.clone(), meta: Some(Arc::new(meta)), link: None }
    }

    /// A handle on this channel (same connection) whose calls carry `meta`,
    /// a whole call id: how a durable handler's logged invocations reach
    /// their callee (retries resend the same id).
    pub(crate) fn with_call_meta(&self, meta: crate::exactly_once::CallMeta) -> Channel {
        Channel { inner: self.inner.clone(), meta: Some(Arc::new(SentMeta::Call(meta))), link: None }
    }

    /// A channel whose calls go through `link`.
    pub(crate) fn linked(&self, link: Arc<dyn Link>) -> Channel {
        Channel { inner: self.inner.clone(), meta: None, link: Some(link) }
    }

    /// The protocol this channel speaks.
    pub(crate) fn protocol(&self) -> ProtocolKind {
        self.inner.config.protocol
    }

    /// The idempotency key this handle's calls carry.
    pub fn idempotency_key(&self) -> Option<&str> {
        match self.meta.as_deref() {
            Some(SentMeta::Key { key, .. }) => Some(key),
            _ => None,
        }
    }

    fn next_seq(&self) -> i32 {
        // Sequence ids start at 1, as Apache's clients; they wrap after 2^31.
        self.inner.seq.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// The live connection of a pool slot, made if there is none.
    async fn connection(&self, slot: &pool::Slot) -> Result<Arc<Connection>, TransportError> {
        let mut slot = slot.conn.lock().await;
        if let Some(c) = slot.as_ref()
            && c.is_open()
        {
            return Ok(c.clone());
        }
        let cfg = &self.inner.config;
        let stream = TcpStream::connect(&cfg.addr)
            .await
            .map_err(|source| TransportError::Connect { addr: cfg.addr.clone(), source })?;
        let _ = stream.set_nodelay(true);
        let codec = MessageCodec::new(cfg.framing, cfg.protocol, cfg.max_frame).with_info_headers(cfg.headers.clone());
        let framed = Framed::new(stream, codec);
        let (sink, stream) = framed.split();
        let (tx, rx) = mpsc::channel::<Bytes>(1024);
        let waiters: Waiters = Arc::new(Mutex::new(Some(HashMap::new())));
        tokio::spawn(write_loop(sink, rx));
        tokio::spawn(read_loop(stream, waiters.clone(), cfg.protocol));
        let conn = Arc::new(Connection { outgoing: tx, waiters });
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Sends a call of `method` with `args` (the arguments struct) and waits
    /// for its reply.
    pub async fn call<A: Encode + ?Sized>(&self, method: &str, args: &A) -> Result<Reply, TransportError> {
        if let Some(link) = &self.link {
            let args = encode_in(link.protocol(), args);
            let reply = link.call(method, args, false).await?;
            return reply.ok_or_else(|| TransportError::BadReply(format!("no reply to `{method}`")));
        }
        let mut retried = 0;
        loop {
            match self.call_once(method, args).await {
                Err(e) if retried < self.inner.config.retries && self.may_retry(&e) => {
                    debug!(method, error = %e, retried, "retrying");
                    tokio::time::sleep(Duration::from_millis(10 << retried.min(7)).min(Duration::from_secs(1))).await;
                    retried += 1;
                }
                other => return other,
            }
        }
    }

    /// Whether a failed call may be sent again: it did not run, or it has
    /// an idempotency key and got no reply (a reply that does not decode
    /// would not decode the next time either).
    fn may_retry(&self, e: &TransportError) -> bool {
        e.is_not_executed() || (self.meta.is_some() && !matches!(e, TransportError::BadReply(_)))
    }

    async fn call_once<A: Encode + ?Sized>(&self, method: &str, args: &A) -> Result<Reply, TransportError> {
        let seq = self.next_seq();
        let message = self.encode(&self.wire_name(method), MessageType::Call, seq, args);
        #[cfg(feature = "http")]
        if let Some(http) = &self.inner.http {
            let frame = http.post(message, false, self.inner.config.timeout).await?;
            return self.reply(frame, method, seq);
        }
        let lease = self.inner.pool.lease();
        let conn = self.connection(lease.slot).await?;
        let frame = self.exchange(&conn, seq, message).await?;
        drop(lease);
        self.reply(frame, method, seq)
    }

    /// Sends `message` (with sequence id `seq`) and waits, within the
    /// deadline, for the reply with that sequence id.
    async fn exchange(&self, conn: &Connection, seq: i32, message: Bytes) -> Result<Bytes, TransportError> {
        let (tx, rx) = oneshot::channel();
        match conn.waiters.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(w) => w.insert(seq, tx),
            None => return Err(TransportError::Closed("connection closed".into())),
        };
        if conn.outgoing.send(message).await.is_err() {
            return Err(TransportError::Closed("connection closed before the call was sent".into()));
        }
        let timeout = self.inner.config.timeout;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(_)) => Err(TransportError::Closed("connection lost before the reply".into())),
            Err(_) => {
                if let Some(w) = conn.waiters.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                    w.remove(&seq);
                }
                Err(TransportError::Timeout(timeout))
            }
        }
    }

    /// Sends a oneway call; returns once it is handed to the connection.
    pub async fn call_oneway<A: Encode + ?Sized>(&self, method: &str, args: &A) -> Result<(), TransportError> {
        if let Some(link) = &self.link {
            let args = encode_in(link.protocol(), args);
            return link.call(method, args, true).await.map(drop);
        }
        let seq = self.next_seq();
        let message = self.encode(&self.wire_name(method), MessageType::Oneway, seq, args);
        #[cfg(feature = "http")]
        if let Some(http) = &self.inner.http {
            return http.post(message, true, self.inner.config.timeout).await.map(drop);
        }
        let conn = self.connection(self.inner.pool.lease().slot).await?;
        conn.outgoing.send(message).await.map_err(|_| TransportError::Closed("connection closed".into()))
    }

    /// Sends a whole request message encoded elsewhere (by Apache's
    /// generated client, say) in this channel's protocol, and returns the
    /// whole reply message (`None` for a oneway message). The message's
    /// sequence id is swapped for one of this channel's on the way out and
    /// back on the way in, so many callers can share the channel.
    pub async fn call_raw(&self, message: Bytes) -> Result<Option<Bytes>, TransportError> {
        let bad = |e: DecodeError| TransportError::BadReply(format!("cannot read the request's header: {e}"));
        let (header, body_at) = self.read_header(&message).map_err(bad)?;
        let seq = self.next_seq();
        let body = message.slice(body_at..);
        let name =
            if header.name.contains(':') { Cow::Borrowed(header.name.as_str()) } else { self.wire_name(&header.name) };
        let outgoing = self.encode(&name, header.kind, seq, &RawBody(&body));
        #[cfg(feature = "http")]
        if let Some(http) = &self.inner.http {
            let oneway = header.kind == MessageType::Oneway;
            let frame = http.post(outgoing, oneway, self.inner.config.timeout).await?;
            return if oneway { Ok(None) } else { self.with_seq(&frame, header.seq).map(Some) };
        }
        let lease = self.inner.pool.lease();
        let conn = self.connection(lease.slot).await?;
        if header.kind == MessageType::Oneway {
            conn.outgoing.send(outgoing).await.map_err(|_| TransportError::Closed("connection closed".into()))?;
            return Ok(None);
        }
        let frame = self.exchange(&conn, seq, outgoing).await?;
        self.with_seq(&frame, header.seq).map(Some)
    }

    /// `frame` with its sequence id replaced by `seq`.
    fn with_seq(&self, frame: &Bytes, seq: i32) -> Result<Bytes, TransportError> {
        let (reply, reply_at) = self.read_header(frame).map_err(|e| TransportError::BadReply(e.to_string()))?;
        let reply_body = frame.slice(reply_at..);
        Ok(self.encode(&reply.name, reply.kind, seq, &RawBody(&reply_body)))
    }

    /// `method` as it goes on the wire: `service:method` for a channel to
    /// a multiplexed service.
    fn wire_name<'a>(&self, method: &'a str) -> Cow<'a, str> {
        match &self.inner.config.service {
            Some(service) => Cow::Owned(format!("{service}:{method}")),
            None => Cow::Borrowed(method),
        }
    }

    fn read_header(&self, frame: &Bytes) -> Result<(MessageHeader, usize), DecodeError> {
        match self.inner.config.protocol {
            ProtocolKind::Binary => read_header::<Binary>(frame),
            ProtocolKind::Compact => read_header::<Compact>(frame),
        }
    }

    fn encode<A: Encode + ?Sized>(&self, method: &str, kind: MessageType, seq: i32, args: &A) -> Bytes {
        let message = match self.inner.config.protocol {
            ProtocolKind::Binary => encode_message::<Binary, A>(method, kind, seq, args),
            ProtocolKind::Compact => encode_message::<Compact, A>(method, kind, seq, args),
        };
        let Some(sent) = &self.meta else { return message };
        let timeout_ms = crate::exactly_once::millis(self.inner.config.timeout);
        let deadline_ms = crate::exactly_once::SystemClock.now_ms().saturating_add(timeout_ms);
        let meta = match &**sent {
            SentMeta::Key { key, origin_ms } => crate::exactly_once::CallerMeta::Key {
                key: key.clone(),
                origin_ms: *origin_ms,
                deadline_ms: Some(deadline_ms),
            },
            // A nested call keeps its caller's deadline when that is earlier.
            SentMeta::Call(meta) => {
                let deadline = meta.deadline_ms().map_or(deadline_ms, |d| d.min(deadline_ms));
                crate::exactly_once::CallerMeta::Call(meta.clone().with_deadline(deadline))
            }
        };
        let mut out = bytes::BytesMut::with_capacity(message.len() + 64);
        crate::transport::envelope::write(&meta, &mut out);
        out.extend_from_slice(&message);
        out.freeze()
    }

    fn reply(&self, frame: Bytes, method: &str, seq: i32) -> Result<Reply, TransportError> {
        let protocol = self.inner.config.protocol;
        let (header, body_at) = match protocol {
            ProtocolKind::Binary => read_header::<Binary>(&frame),
            ProtocolKind::Compact => read_header::<Compact>(&frame),
        }
        .map_err(|e| TransportError::BadReply(e.to_string()))?;
        if header.seq != seq {
            return Err(TransportError::BadReply(format!("sequence id {} for call {seq}", header.seq)));
        }
        let name = header.name.rsplit_once(':').map_or(header.name.as_str(), |(_, m)| m);
        if name != method {
            return Err(TransportError::BadReply(format!("reply names `{}`, the call was `{method}`", header.name)));
        }
        if !matches!(header.kind, MessageType::Reply | MessageType::Exception) {
            return Err(TransportError::BadReply(format!("a {:?} message in reply", header.kind)));
        }
        Ok(Reply { frame, body_at, header, protocol })
    }
}

/// `args` encoded in `protocol`.
fn encode_in<A: Encode + ?Sized>(protocol: ProtocolKind, args: &A) -> Bytes {
    match protocol {
        ProtocolKind::Binary => crate::codec::encode::<Binary, A>(args),
        ProtocolKind::Compact => crate::codec::encode::<Compact, A>(args),
    }
}

/// An already encoded message body, written as is.
pub(crate) struct RawBody<'a>(pub(crate) &'a [u8]);

impl Encode for RawBody<'_> {
    const TTYPE: crate::codec::TType = crate::codec::TType::Struct;
    fn encode<P: Protocol, O: crate::codec::Output>(&self, w: &mut crate::codec::Writer<P, O>) {
        w.raw(self.0);
    }
}

fn read_header<P: Protocol>(frame: &Bytes) -> Result<(MessageHeader, usize), DecodeError> {
    let mut r = Reader::<P>::new(frame);
    let h = r.message_begin()?;
    Ok((h, r.position()))
}

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<Framed<TcpStream, MessageCodec>, Bytes>,
    mut rx: mpsc::Receiver<Bytes>,
) {
    while let Some(first) = rx.recv().await {
        // Gather what is already queued and flush once.
        let mut result = sink.feed(first).await;
        while result.is_ok() {
            match rx.try_recv() {
                Ok(next) => result = sink.feed(next).await,
                Err(_) => break,
            }
        }
        if let Err(e) = result.and(sink.flush().await) {
            debug!(error = %e, "write failed; closing the connection");
            return;
        }
    }
}

async fn read_loop(
    mut stream: futures_util::stream::SplitStream<Framed<TcpStream, MessageCodec>>,
    waiters: Waiters,
    protocol: ProtocolKind,
) {
    while let Some(frame) = stream.next().await {
        let frame = match frame {
            Ok(f) => f,
            Err(FrameError::Io(e)) => {
                debug!(error = %e, "connection lost");
                break;
            }
            Err(e) => {
                debug!(error = %e, "undecodable reply stream; closing");
                break;
            }
        };
        let seq = match protocol {
            ProtocolKind::Binary => read_header::<Binary>(&frame),
            ProtocolKind::Compact => read_header::<Compact>(&frame),
        }
        .map(|(h, _)| h.seq);
        let Ok(seq) = seq else {
            debug!("reply without a readable header; closing");
            break;
        };
        let waiter = waiters.lock().unwrap_or_else(|p| p.into_inner()).as_mut().and_then(|w| w.remove(&seq));
        match waiter {
            Some(tx) => {
                let _ = tx.send(frame);
            }
            None => debug!(seq, "reply for no waiting call (timed out?); dropped"),
        }
    }
    // Fail every waiting call by dropping its sender.
    waiters.lock().unwrap_or_else(|p| p.into_inner()).take();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ApplicationException;

    /// Any struct will do as arguments and result.
    fn body() -> ApplicationException {
        ApplicationException::new(ApplicationExceptionKind::UNKNOWN, "")
    }

    /// A server whose first connection reads a call and hangs up; the
    /// second answers every call. Counts the calls it answered.
    async fn flaky_server() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>, tokio::task::JoinHandle<()>)
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = answered.clone();
        let codec = || MessageCodec::new(Framing::Framed, ProtocolKind::Binary, 1 << 20);
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut first = Framed::new(stream, codec());
            first.next().await.unwrap().unwrap();
            drop(first);
            let (stream, _) = listener.accept().await.unwrap();
            let mut second = Framed::new(stream, codec());
            while let Some(Ok(call)) = second.next().await {
                let at = crate::transport::envelope::message_start(&call);
                let (header, _) = read_header::<Binary>(&call.slice(at..)).unwrap();
                let reply = encode_message::<Binary, _>(&header.name, MessageType::Reply, header.seq, &body());
                second.send(reply).await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        (addr, answered, server)
    }

    #[tokio::test]
    async fn only_safe_calls_are_retried() {
        // Without a key, a call lost in flight may have run: not retried.
        let (addr, answered, server) = flaky_server().await;
        let channel = Channel::builder(addr.to_string()).retries(3).build();
        let lost = channel.call("ping", &body()).await;
        assert!(matches!(lost, Err(TransportError::Closed(_))), "{lost:?}");
        assert_eq!(answered.load(Ordering::SeqCst), 0);
        channel.call("ping", &body()).await.expect("the next call reconnects");
        server.abort();

        // With a key the server deduplicates: the lost call is sent again.
        let (addr, answered, server) = flaky_server().await;
        let channel = Channel::builder(addr.to_string()).retries(3).build().with_idempotency_key("k");
        channel.call("ping", &body()).await.expect("retried on a new connection");
        assert_eq!(answered.load(Ordering::SeqCst), 1, "one retry answered");
        server.abort();

        // Not retried unless asked.
        let (addr, _, server) = flaky_server().await;
        let channel = Channel::new(addr.to_string()).with_idempotency_key("k");
        assert!(channel.call("ping", &body()).await.is_err());
        server.abort();
    }

    #[tokio::test]
    async fn a_lost_connection_is_reestablished_by_the_next_call() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let codec = || MessageCodec::new(Framing::Framed, ProtocolKind::Binary, 1 << 20);
        let server = tokio::spawn(async move {
            // The first connection reads a call and hangs up unanswered.
            let (stream, _) = listener.accept().await.unwrap();
            let mut first = Framed::new(stream, codec());
            first.next().await.unwrap().unwrap();
            drop(first);
            // The second answers one call.
            let (stream, _) = listener.accept().await.unwrap();
            let mut second = Framed::new(stream, codec());
            let call = second.next().await.unwrap().unwrap();
            let (header, _) = read_header::<Binary>(&call).unwrap();
            let reply = encode_message::<Binary, _>(&header.name, MessageType::Reply, header.seq, &body());
            second.send(reply).await.unwrap();
        });
        let channel = Channel::new(addr.to_string());
        let lost = channel.call("ping", &body()).await;
        assert!(matches!(lost, Err(TransportError::Closed(_))), "{lost:?}");
        let reply = channel.call("ping", &body()).await.expect("the next call connects again");
        assert_eq!((reply.header().kind, reply.header().seq), (MessageType::Reply, 2));
        server.await.unwrap();
    }
}
