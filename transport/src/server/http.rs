//! Thrift over HTTP on the server's port (feature `http`): a connection
//! whose first bytes are an HTTP request is handed to hyper's HTTP/1
//! server (keep-alive for HTTP/1.1, one request for HTTP/1.0), and each
//! POST runs through the same middleware and [`Dispatch`] as a framed call.
//!
//! A request's body is one unframed message, binary or compact (told by
//! its first byte); the reply message is the body of a 200 answer with
//! `Content-Type: application/x-thrift`. A oneway call is answered at once
//! with an empty 200, as Apache's servers do, and runs after. What is not
//! a Thrift call gets a 4xx with a line of text saying why: 405 for another
//! method, 415 for another content type, 413 for a body over the server's
//! `max_frame`, 400 for a body that is not a message.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug};

use super::{Calls, Config, Parsed, handle};
use crate::codec::{Binary, Compact, Protocol};
use crate::service::{CallContext, Dispatch, Incoming, Service};
use crate::transport::{FrameError, ProtocolKind, THRIFT_CONTENT_TYPE, protocol_at};

/// Serves one HTTP connection whose first bytes (`read`) were already read
/// to recognise it; returns once the client closes it, or after the request
/// in progress when the server stops.
pub(super) async fn serve_connection<D, S>(
    stream: TcpStream,
    read: BytesMut,
    peer: SocketAddr,
    calls: Calls<D, S>,
    config: Arc<Config>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), FrameError>
where
    D: Dispatch,
    S: Service<CallContext, Incoming, Response = Option<bytes::Bytes>, Error = Infallible> + 'static,
{
    // Oneway calls outlive their (already answered) request; the
    // connection waits for them before it ends.
    let oneway = TaskTracker::new();
    let service = {
        let (config, oneway) = (config.clone(), oneway.clone());
        service_fn(move |request| {
            let (calls, config, oneway) = (calls.clone(), config.clone(), oneway.clone());
            async move { Ok::<_, Infallible>(respond(request, calls, &config, peer, &oneway).await) }
        })
    };
    let mut builder = http1::Builder::new();
    // An idle keep-alive connection is closed when no request head arrives
    // within the idle timeout.
    builder.keep_alive(true).timer(TokioTimer::new()).header_read_timeout(config.idle_timeout);
    let connection = builder.serve_connection(TokioIo::new(Rewind { read: read.freeze(), stream }), service);
    tokio::pin!(connection);
    let mut stopping = false;
    let served = loop {
        tokio::select! {
            served = connection.as_mut() => break served,
            changed = stop.changed(), if !stopping => {
                if changed.is_err() || *stop.borrow() {
                    // Finish the request in progress, then close.
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    };
    oneway.close();
    oneway.wait().await;
    served.map_err(|e| FrameError::Io(io::Error::other(e)))
}

/// The answer to one HTTP request.
async fn respond<D, S>(
    request: Request<hyper::body::Incoming>,
    calls: Calls<D, S>,
    config: &Config,
    peer: SocketAddr,
    oneway: &TaskTracker,
) -> Response<Full<Bytes>>
where
    D: Dispatch,
    S: Service<CallContext, Incoming, Response = Option<bytes::Bytes>, Error = Infallible> + 'static,
{
    if request.method() != Method::POST {
        let mut answer =
            refuse(StatusCode::METHOD_NOT_ALLOWED, format!("Thrift over HTTP takes POST, not {}", request.method()));
        answer.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
        return answer;
    }
    if let Err(found) = check_content_type(request.headers()) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("a Thrift call has Content-Type {THRIFT_CONTENT_TYPE}, not {found}"),
        );
    }
    let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > config.max_frame as u64) {
        return too_large(config.max_frame);
    }
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    let body = match Limited::new(request.into_body(), config.max_frame).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return too_large(config.max_frame),
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("cannot read the request body: {e}")),
    };
    match protocol_at(&body) {
        Some(ProtocolKind::Binary) => call::<Binary, D, S>(calls, body, peer, headers, oneway).await,
        Some(ProtocolKind::Compact) => call::<Compact, D, S>(calls, body, peer, headers, oneway).await,
        None => refuse(StatusCode::BAD_REQUEST, "the body is not a Thrift message (binary or compact)".into()),
    }
}

/// Runs the call in `body` and answers with its reply.
async fn call<P, D, S>(
    calls: Calls<D, S>,
    body: Bytes,
    peer: SocketAddr,
    headers: Vec<(String, String)>,
    oneway: &TaskTracker,
) -> Response<Full<Bytes>>
where
    P: Protocol,
    D: Dispatch,
    S: Service<CallContext, Incoming, Response = Option<bytes::Bytes>, Error = Infallible> + 'static,
{
    let request = match Parsed::parse::<P, D>(&calls.dispatch, body) {
        Ok(request) => request,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("the body is not a Thrift message: {e}")),
    };
    if request.oneway {
        // Nothing to wait for: the client gets its answer before the call
        // runs (Apache's THttpServer does the same).
        oneway.spawn(handle::<P, D, S>(calls, request, peer, headers).in_current_span());
        return thrift_answer(Bytes::new());
    }
    match handle::<P, D, S>(calls, request, peer, headers).await {
        Some(reply) => thrift_answer(reply),
        // Only a middleware layer that swallows a call's reply gets here.
        None => refuse(StatusCode::INTERNAL_SERVER_ERROR, "the call produced no reply".into()),
    }
}

/// `Ok` for `application/x-thrift` (parameters aside) or no content type;
/// else the type found.
fn check_content_type(headers: &HeaderMap) -> Result<(), String> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let essence = text.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case(THRIFT_CONTENT_TYPE) { Ok(()) } else { Err(format!("`{text}`")) }
}

fn thrift_answer(body: Bytes) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(body));
    answer.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(THRIFT_CONTENT_TYPE));
    answer
}

fn too_large(limit: usize) -> Response<Full<Bytes>> {
    refuse(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body exceeds the limit of {limit} bytes"))
}

/// A plain-text answer saying why the request is not served.
fn refuse(status: StatusCode, why: String) -> Response<Full<Bytes>> {
    debug!(%status, %why, "HTTP request refused");
    let mut answer = Response::new(Full::new(Bytes::from(why + "\n")));
    *answer.status_mut() = status;
    answer.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    answer
}

/// The connection's stream with the bytes read while recognising it put
/// back in front.
struct Rewind {
    read: Bytes,
    stream: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.read.has_remaining() {
            let n = self.read.len().min(buf.remaining());
            buf.put_slice(&self.read[..n]);
            self.read.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
