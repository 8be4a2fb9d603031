//! The tokio server: accepts connections, recognises their transport and
//! protocol from the first bytes, and serves calls through a [`Dispatch`].
//!
//! Requests pipelined on one connection run concurrently (up to
//! [`ServerBuilder::max_in_flight`]) and their replies leave in request
//! order, which every Apache client accepts. Handler panics become
//! INTERNAL_ERROR exceptions; the connection stays up.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
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

use crate::codec::{Binary, Compact, MessageType, Protocol, Reader};
use crate::protocol::{ApplicationException, ApplicationExceptionKind};
use crate::service::{CallContext, Dispatch, MethodKind, exception_reply};
use crate::transport::{MessageCodec, ProtocolKind, Sniffed, sniff};

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    max_frame: usize,
    max_connections: usize,
    max_in_flight: usize,
    idle_timeout: Option<Duration>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            max_frame: 16_384_000,
            max_connections: 10_000,
            max_in_flight: 64,
            idle_timeout: Some(Duration::from_secs(300)),
        }
    }
}

impl ServerBuilder {
    /// The largest message accepted (16,384,000 bytes by default, as Apache).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Connections served at once; more are closed on accept (10,000).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Pipelined calls served at once per connection (64).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Close connections idle this long (5 minutes); `None` never.
    pub fn idle_timeout(mut self, t: Option<Duration>) -> Self {
        self.idle_timeout = t;
        self
    }

    /// The configured server.
    pub fn build(self) -> Server {
        Server { config: Arc::new(self) }
    }
}

/// A Thrift server. See the crate documentation for an example.
#[derive(Clone, Debug)]
pub struct Server {
    config: Arc<ServerBuilder>,
}

impl Server {
    /// Settings, starting from the defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Serves `dispatch` on `listener` until `shutdown` completes; then stops
    /// accepting, lets every connection finish the calls it has read, and
    /// returns once all are closed.
    pub async fn serve<D: Dispatch>(
        &self,
        listener: TcpListener,
        dispatch: D,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let dispatch = Arc::new(dispatch);
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
                            // Out of descriptors and the like: keep serving.
                            warn!(error = %e, "accept failed");
                            continue;
                        }
                    };
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        warn!(%peer, "connection limit reached; closing");
                        continue;
                    };
                    let config = self.config.clone();
                    let dispatch = dispatch.clone();
                    let stop = stop_rx.clone();
                    connections.spawn(
                        async move {
                            if let Err(e) = connection(stream, peer, dispatch, config, stop).await {
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

async fn connection<D: Dispatch>(
    mut stream: TcpStream,
    peer: SocketAddr,
    dispatch: Arc<D>,
    config: Arc<ServerBuilder>,
    stop: watch::Receiver<bool>,
) -> Result<(), crate::transport::FrameError> {
    stream.set_nodelay(true)?;
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let sniffed = loop {
        if let Some(s) = sniff(&buf, config.max_frame) {
            break s;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            // An empty probe connection (load balancers, test runners).
            return Ok(());
        }
    };
    let (framing, protocol) = match sniffed {
        Sniffed::Thrift(f, p) => (f, p),
        other => {
            debug!(?other, "unsupported transport; closing");
            return Ok(());
        }
    };
    let mut parts = FramedParts::new::<Bytes>(stream, MessageCodec::new(framing, protocol, config.max_frame));
    parts.read_buf = buf;
    let framed = Framed::from_parts(parts);
    match protocol {
        ProtocolKind::Binary => serve_messages::<Binary, D>(framed, peer, dispatch, config, stop).await,
        ProtocolKind::Compact => serve_messages::<Compact, D>(framed, peer, dispatch, config, stop).await,
    }
}

async fn serve_messages<P: Protocol, D: Dispatch>(
    mut framed: Framed<TcpStream, MessageCodec>,
    peer: SocketAddr,
    dispatch: Arc<D>,
    config: Arc<ServerBuilder>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), crate::transport::FrameError> {
    let mut in_flight = FuturesOrdered::new();
    let idle = config.idle_timeout.unwrap_or(Duration::MAX);
    let mut reading = true;
    loop {
        if !reading && in_flight.is_empty() {
            break;
        }
        tokio::select! {
            frame = framed.next(), if reading && in_flight.len() < config.max_in_flight => match frame {
                Some(Ok(frame)) => in_flight.push_back(handle::<P, D>(dispatch.clone(), frame, peer)),
                Some(Err(e)) => {
                    debug!(error = %e, "cannot read a message; closing after the calls in flight");
                    reading = false;
                }
                None => reading = false,
            },
            Some(reply) = in_flight.next(), if !in_flight.is_empty() => {
                if let Some(bytes) = reply {
                    framed.send(bytes).await?;
                }
            }
            changed = stop.changed(), if reading => {
                if changed.is_err() || *stop.borrow() {
                    reading = false;
                }
            }
            () = tokio::time::sleep(idle), if reading && in_flight.is_empty() => {
                debug!("idle timeout");
                reading = false;
            }
        }
    }
    Ok(())
}

/// Serves one request message; the reply message, or `None` for oneway.
async fn handle<P: Protocol, D: Dispatch>(dispatch: Arc<D>, frame: Bytes, peer: SocketAddr) -> Option<Bytes> {
    let mut r = Reader::<P>::new(&frame);
    let header = match r.message_begin() {
        Ok(h) => h,
        Err(e) => {
            // Without a header there is no name or sequence id to answer with.
            debug!(error = %e, "undecodable message header; dropped");
            return None;
        }
    };
    let args_at = r.position();
    // Multiplexed clients send `Service:method`; replies carry the method.
    let method = header.name.rsplit_once(':').map_or(header.name.as_str(), |(_, m)| m).to_string();
    let cx = CallContext::new(method, header.seq, Some(peer), P::KIND);
    let span = info_span!("call", method = cx.method(), seq = cx.seq());
    async move {
        if !matches!(header.kind, MessageType::Call | MessageType::Oneway) {
            let e = ApplicationException::new(
                ApplicationExceptionKind::INVALID_MESSAGE_TYPE,
                format!("a server accepts CALL and ONEWAY messages, not {:?}", header.kind),
            );
            return Some(exception_reply::<P>(&cx, &e));
        }
        let Some(kind) = dispatch.method_kind(cx.method()) else {
            let e = ApplicationException::new(
                ApplicationExceptionKind::UNKNOWN_METHOD,
                format!("unknown method `{}`", cx.method()),
            );
            return Some(exception_reply::<P>(&cx, &e));
        };
        let started = std::time::Instant::now();
        let outcome = AssertUnwindSafe(dispatch.dispatch::<P>(cx.clone(), frame, args_at)).catch_unwind().await;
        let reply = match outcome {
            Ok(reply) => reply,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_string());
                warn!(panic = %what, "handler panicked");
                (kind == MethodKind::Call).then(|| {
                    exception_reply::<P>(&cx, &ApplicationException::internal(format!("handler panicked: {what}")))
                })
            }
        };
        tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, "served");
        reply
    }
    .instrument(span)
    .await
}
