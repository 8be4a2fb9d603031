//! The client side of Thrift over HTTP (feature `http`): each call is a
//! POST of one unframed message to `http://<addr>/`, and the body of the
//! 200 answer is the reply. hyper's pooled client keeps connections alive
//! (HTTP/1.1) and opens more for concurrent calls; a server speaking
//! HTTP/1.0 (Apache's Python `THttpServer`) gets a connection per call.

use std::fmt;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::TransportError;
use crate::transport::THRIFT_CONTENT_TYPE;

/// How much of a refusal's body (its reason, as text) an error keeps.
const REFUSAL_TEXT_LIMIT: usize = 1024;

/// Posts calls to one server.
pub(super) struct HttpCaller {
    client: Client<HttpConnector, Full<Bytes>>,
    addr: String,
    /// The URI calls go to, or why `addr` makes none.
    uri: Result<Uri, String>,
    /// The channel's extra headers, or why one is not a valid header.
    headers: Result<Vec<(HeaderName, HeaderValue)>, String>,
    max_frame: usize,
}

impl fmt::Debug for HttpCaller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCaller").field("uri", &self.uri).field("headers", &self.headers).finish_non_exhaustive()
    }
}

impl HttpCaller {
    /// A caller posting to `addr` (`host:port`, or a whole `http://` URL
    /// with its path) with `headers` on every request. Errors in either are
    /// reported by each call.
    pub(super) fn new(addr: &str, headers: &[(String, String)], max_frame: usize) -> HttpCaller {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let uri = if addr.starts_with("http://") {
            addr.parse::<Uri>().map_err(|e| format!("`{addr}` is not a URL ({e})"))
        } else {
            format!("http://{addr}/").parse::<Uri>().map_err(|e| format!("`{addr}` is not host:port ({e})"))
        };
        let headers = headers
            .iter()
            .map(|(name, value)| {
                let bad = |e: &dyn fmt::Display| format!("header `{name}: {value}`: {e}");
                Ok((
                    HeaderName::try_from(name.as_str()).map_err(|e| bad(&e))?,
                    HeaderValue::try_from(value.as_str()).map_err(|e| bad(&e))?,
                ))
            })
            .collect();
        HttpCaller { client, addr: addr.to_string(), uri, headers, max_frame }
    }

    fn not_sent(&self, why: &str) -> TransportError {
        TransportError::Connect { addr: self.addr.clone(), source: io::Error::new(io::ErrorKind::InvalidInput, why) }
    }

    /// Posts `message` and returns the body of the answer: the reply
    /// message, or (`oneway`) nothing, without waiting for a body.
    pub(super) async fn post(&self, message: Bytes, oneway: bool, timeout: Duration) -> Result<Bytes, TransportError> {
        let uri = self.uri.as_ref().map_err(|e| self.not_sent(e))?;
        let headers = self.headers.as_ref().map_err(|e| self.not_sent(e))?;
        // Call metadata travels as HTTP headers (spec §2.1), not as an
        // envelope before the message.
        // (A value that is no valid header value, such as a key outside
        // visible ASCII, keeps the envelope, which our servers read too.)
        let as_headers = |meta| -> Option<Vec<(HeaderName, HeaderValue)>> {
            crate::transport::envelope::to_headers(&meta, true)
                .into_iter()
                .map(|(n, v)| Some((HeaderName::try_from(n).ok()?, HeaderValue::try_from(v).ok()?)))
                .collect()
        };
        let (meta, message) = match crate::transport::envelope::split(message.clone()) {
            Ok((Some(meta), rest)) => match as_headers(meta) {
                Some(headers) => (headers, rest),
                None => (Vec::new(), message),
            },
            _ => (Vec::new(), message),
        };
        let mut request =
            Request::post(uri.clone()).body(Full::new(message)).map_err(|e| self.not_sent(&e.to_string()))?;
        let request_headers = request.headers_mut();
        request_headers.insert(CONTENT_TYPE, HeaderValue::from_static(THRIFT_CONTENT_TYPE));
        for (name, value) in headers {
            request_headers.append(name.clone(), value.clone());
        }
        for (name, value) in meta {
            request_headers.append(name, value);
        }
        let exchange = async {
            let answer = self.client.request(request).await.map_err(|e| {
                let why = std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}"));
                if e.is_connect() {
                    TransportError::Connect { addr: self.addr.clone(), source: io::Error::other(why) }
                } else {
                    TransportError::Closed(why)
                }
            })?;
            let status = answer.status();
            if status != StatusCode::OK {
                let text = Limited::new(answer.into_body(), REFUSAL_TEXT_LIMIT)
                    .collect()
                    .await
                    .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_string())
                    .unwrap_or_default();
                return Err(TransportError::HttpStatus { status: status.as_u16(), message: text });
            }
            if oneway {
                return Ok(Bytes::new());
            }
            match Limited::new(answer.into_body(), self.max_frame).collect().await {
                Ok(body) => Ok(body.to_bytes()),
                Err(e) if e.is::<LengthLimitError>() => {
                    Err(TransportError::BadReply(format!("a reply over the limit of {} bytes", self.max_frame)))
                }
                Err(e) => Err(TransportError::Closed(format!("reading the reply: {e}"))),
            }
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| TransportError::Timeout(timeout))?
    }
}
