//! Apache-generated apps on our transport: the server side serves a
//! `TProcessor`, the client side is a `TIoChannel`.

use std::future::Future;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use thrift::protocol::{TBinaryInputProtocol, TBinaryOutputProtocol, TCompactInputProtocol, TCompactOutputProtocol};
use thrift::server::TProcessor;
use thrift::transport::{ReadHalf, TIoChannel, WriteHalf};
use tokio::net::TcpListener;
use tracing::warn;

use crate::client::Channel;
use crate::codec::{Protocol, ProtocolKind};
use crate::protocol::ApplicationException;
use crate::server::Server;
use crate::service::{CallContext, Dispatch, MethodKind, exception_reply};

/// A [`Dispatch`] that hands every call to an Apache `TProcessor`, on
/// tokio's blocking pool (the processor and its handlers are synchronous).
///
/// The processor answers unknown methods itself, and writes nothing for
/// oneway calls, so every method name is accepted here.
pub struct ProcessorService<P> {
    processor: Arc<P>,
}

impl<P> ProcessorService<P> {
    /// Wraps `processor`.
    pub fn new(processor: Arc<P>) -> ProcessorService<P> {
        ProcessorService { processor }
    }
}

impl<T: TProcessor + Send + Sync + 'static> Dispatch for ProcessorService<T> {
    fn method_kind(&self, _method: &str) -> Option<MethodKind> {
        // The processor knows; an empty reply means oneway.
        Some(MethodKind::Call)
    }

    fn dispatch<P: Protocol>(
        &self,
        cx: &CallContext,
        frame: Bytes,
        _args_at: usize,
    ) -> impl Future<Output = Option<Bytes>> + Send {
        let processor = self.processor.clone();
        async move {
            let run = tokio::task::spawn_blocking(move || -> thrift::Result<Vec<u8>> {
                let mut out = Vec::new();
                match P::KIND {
                    ProtocolKind::Binary => processor.process(
                        &mut TBinaryInputProtocol::new(&frame[..], false),
                        &mut TBinaryOutputProtocol::new(&mut out, true),
                    )?,
                    ProtocolKind::Compact => processor.process(
                        &mut TCompactInputProtocol::new(&frame[..]),
                        &mut TCompactOutputProtocol::new(&mut out),
                    )?,
                }
                Ok(out)
            })
            .await;
            match run {
                Ok(Ok(out)) if out.is_empty() => None,
                Ok(Ok(out)) => Some(Bytes::from(out)),
                Ok(Err(e)) => {
                    // The processor already wrote an exception reply when it
                    // could; this is a failure to even do that.
                    warn!(error = %e, "processor failed");
                    Some(exception_reply::<P>(cx, &ApplicationException::internal(e.to_string())))
                }
                Err(e) => {
                    warn!(error = %e, "processor panicked");
                    Some(exception_reply::<P>(cx, &ApplicationException::internal("handler panicked")))
                }
            }
        }
    }
}

/// Serves an Apache-generated `TProcessor` on `listener` with our tokio
/// server (framed or buffered, binary or compact, recognised per
/// connection) until `shutdown` completes. Calls on one connection run one
/// after another, as on Apache's servers, so a oneway call's effects are
/// visible to the next call on its connection.
///
/// Before (Apache's thread-per-connection server):
///
/// ```text
/// TServer::new(read_factory, in_factory, write_factory, out_factory, EchoSyncProcessor::new(handler), 64)
///     .listen("127.0.0.1:9090")?;
/// ```
///
/// After:
///
/// ```text
/// mu2sls::compat::serve_processor(listener, Arc::new(EchoSyncProcessor::new(handler)), shutdown).await?;
/// ```
pub async fn serve_processor<T: TProcessor + Send + Sync + 'static>(
    listener: TcpListener,
    processor: Arc<T>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    Server::builder()
        .max_in_flight(1)
        .detach_oneway(false)
        .build()
        .serve(listener, ProcessorService::new(processor), shutdown)
        .await
}

#[derive(Default)]
struct Exchange {
    /// The request being written by the Apache client.
    request: Vec<u8>,
    /// The reply being read by the Apache client.
    reply: Bytes,
}

/// A `TIoChannel` for Apache-generated clients: each flushed message is
/// sent through a [`Channel`] (pooled connection, deadlines, framing and
/// protocol of the channel's settings), and the reply is read back.
///
/// Use it with Apache's protocols directly, without Apache's framed or
/// buffered transports (the channel frames messages itself), and with the
/// same protocol as the channel. Its calls block the calling thread, so
/// use it from a thread outside the tokio runtime, as Apache's synchronous
/// clients expect.
///
/// ```text
/// let (r, w) = MuChannel::new(channel, tokio::runtime::Handle::current()).split()?;
/// let mut client = EchoSyncClient::new(TBinaryInputProtocol::new(r, true), TBinaryOutputProtocol::new(w, true));
/// ```
#[derive(Clone)]
pub struct MuChannel {
    channel: Channel,
    runtime: tokio::runtime::Handle,
    exchange: Arc<Mutex<Exchange>>,
}

impl MuChannel {
    /// A channel sending through `channel` on `runtime`.
    pub fn new(channel: Channel, runtime: tokio::runtime::Handle) -> MuChannel {
        MuChannel { channel, runtime, exchange: Arc::new(Mutex::new(Exchange::default())) }
    }

    fn exchange(&self) -> std::sync::MutexGuard<'_, Exchange> {
        self.exchange.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Read for MuChannel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut ex = self.exchange();
        let n = buf.len().min(ex.reply.len());
        buf[..n].copy_from_slice(&ex.reply[..n]);
        bytes::Buf::advance(&mut ex.reply, n);
        Ok(n)
    }
}

impl Write for MuChannel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.exchange().request.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let request = std::mem::take(&mut self.exchange().request);
        if request.is_empty() {
            return Ok(());
        }
        let channel = self.channel.clone();
        let reply = self
            .runtime
            .block_on(async move { channel.call_raw(Bytes::from(request)).await })
            .map_err(io::Error::other)?;
        if let Some(reply) = reply {
            self.exchange().reply = reply;
        }
        Ok(())
    }
}

impl TIoChannel for MuChannel {
    fn split(self) -> thrift::Result<(ReadHalf<Self>, WriteHalf<Self>)> {
        Ok((ReadHalf::new(self.clone()), WriteHalf::new(self)))
    }
}
