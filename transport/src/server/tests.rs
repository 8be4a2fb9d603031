//! The server with hand-written dispatchers, against the client: headers
//! reaching the call context, multiplexing, and (feature `http`) Thrift
//! over HTTP, also from a raw socket.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::client::{CallError, Channel};
use crate::codec::Protocol;
use crate::protocol::{ApplicationException, ApplicationExceptionKind};
use crate::service::{CallContext, Dispatch, MethodKind, reply};
use crate::transport::{Framing, ProtocolKind};
use crate::{Multiplexer, Server};

/// Answers `whoami` with a description of the call (its dispatcher's name,
/// the multiplexed service, the `x-call-id` header) as the message of an
/// `ApplicationException` result; `note` (oneway) hands that description
/// to `notes`.
struct Echo {
    name: &'static str,
    notes: mpsc::UnboundedSender<String>,
}

impl Echo {
    fn describe(&self, cx: &CallContext) -> String {
        format!("{} {:?} {:?}", self.name, cx.service(), cx.header("X-Call-Id"))
    }
}

impl Dispatch for Echo {
    fn method_kind(&self, method: &str) -> Option<MethodKind> {
        match method {
            "whoami" => Some(MethodKind::Call),
            "note" => Some(MethodKind::Oneway),
            _ => None,
        }
    }

    fn dispatch<P: Protocol>(
        &self,
        cx: &CallContext,
        _frame: Bytes,
        _args_at: usize,
    ) -> impl Future<Output = Option<Bytes>> + Send {
        let description = self.describe(cx);
        async move {
            if cx.method() == "note" {
                let _ = self.notes.send(description);
                return None;
            }
            let result = ApplicationException::new(ApplicationExceptionKind::UNKNOWN, description);
            Some(reply::<P, _>(cx, &result))
        }
    }
}

fn echo(name: &'static str) -> (Echo, mpsc::UnboundedReceiver<String>) {
    let (notes, received) = mpsc::unbounded_channel();
    (Echo { name, notes }, received)
}

/// Arguments and results alike: any struct will do.
fn body() -> ApplicationException {
    ApplicationException::new(ApplicationExceptionKind::UNKNOWN, "")
}

/// A running server and what stops it.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    served: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start<D: Dispatch>(server: Server, dispatch: D) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            server
                .serve(listener, dispatch, async {
                    let _ = stopped.await;
                })
                .await
        });
        Running { addr, stop, served }
    }

    /// Stops the server and waits until every connection is closed.
    async fn stop(self) {
        let _ = self.stop.send(());
        self.served.await.expect("the server task failed").expect("the server failed");
    }
}

/// What `whoami` says about the call.
async fn whoami(channel: &Channel) -> Result<String, CallError<()>> {
    let reply = channel.call("whoami", &body()).await?;
    assert_eq!(reply.header().name, "whoami", "replies carry the bare method name");
    Ok(reply.result::<ApplicationException, ()>()?.message)
}

#[tokio::test]
async fn theader_info_headers_reach_the_call_context() {
    let (dispatch, _) = echo("echo");
    let server = Running::start(Server::builder().build(), dispatch).await;
    for protocol in [ProtocolKind::Binary, ProtocolKind::Compact] {
        let channel = Channel::builder(server.addr.to_string())
            .framing(Framing::Header)
            .protocol(protocol)
            .header("x-call-id", "svc.whoami:k1")
            .build();
        assert_eq!(whoami(&channel).await.unwrap(), r#"echo None Some("svc.whoami:k1")"#, "{protocol:?}");
    }
    // Framed messages have nowhere to carry headers.
    let framed = Channel::builder(server.addr.to_string()).header("x-call-id", "lost").build();
    assert_eq!(whoami(&framed).await.unwrap(), "echo None None");
    server.stop().await;
}

/// A bad call-metadata envelope before a readable message gets a
/// PROTOCOL_ERROR with the call's name and sequence id; the connection
/// keeps serving, and a good envelope passes.
#[tokio::test]
async fn a_bad_envelope_gets_a_protocol_error_and_the_connection_goes_on() {
    use futures_util::{SinkExt, StreamExt};
    let (dispatch, _) = echo("echo");
    let server = Running::start(Server::builder().build(), dispatch).await;
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut framed = tokio_util::codec::Framed::new(
        stream,
        crate::MessageCodec::new(Framing::Framed, ProtocolKind::Binary, 1 << 20),
    );
    let call = |seq| {
        crate::service::encode_message::<crate::codec::Binary, _>(
            "whoami",
            crate::codec::MessageType::Call,
            seq,
            &body(),
        )
    };
    // Magic, version 1, a one-byte struct that is only STOP: no origin.
    let mut bad = bytes::BytesMut::from(&[0x4D, 0x55, 0x01, 0, 0, 0, 1, 0][..]);
    bad.extend_from_slice(&call(7));
    let mut good = bytes::BytesMut::new();
    let meta = crate::CallerMeta::Key { key: "k".into(), origin_ms: 1, deadline_ms: None };
    crate::transport::envelope::write(&meta, &mut good);
    good.extend_from_slice(&call(8));
    framed.send(bad.freeze()).await.unwrap();
    framed.send(good.freeze()).await.unwrap();
    let read = |reply: Bytes| {
        let mut r = crate::codec::Reader::<crate::codec::Binary>::new(&reply);
        let header = r.message_begin().unwrap();
        let e: ApplicationException = crate::codec::Decode::decode(&mut r).unwrap();
        (header.name, header.kind, header.seq, e)
    };
    let (name, kind, seq, e) = read(framed.next().await.unwrap().unwrap());
    assert_eq!((name.as_str(), kind, seq), ("whoami", crate::codec::MessageType::Exception, 7));
    assert_eq!(e.kind, ApplicationExceptionKind::PROTOCOL_ERROR);
    assert!(e.message.contains("no origin_ms"), "{}", e.message);
    let (_, kind, seq, e) = read(framed.next().await.unwrap().unwrap());
    assert_eq!((kind, seq), (crate::codec::MessageType::Reply, 8));
    assert_eq!(e.message, "echo None None");
    drop(framed);
    server.stop().await;
}

#[tokio::test]
async fn multiplexed_calls_go_to_their_service() {
    let (a, _) = echo("a");
    let (b, mut b_notes) = echo("b");
    let (fallback, _) = echo("default");
    let mux = Multiplexer::new().service("A", a).service("B", b).default_service(fallback);
    let server = Running::start(Server::builder().build(), mux).await;
    let to = |service: Option<&str>, framing| {
        let builder = Channel::builder(server.addr.to_string()).framing(framing);
        match service {
            Some(s) => builder.service(s).build(),
            None => builder.build(),
        }
    };
    for framing in [Framing::Framed, Framing::Buffered] {
        assert_eq!(whoami(&to(Some("A"), framing)).await.unwrap(), r#"a Some("A") None"#);
        assert_eq!(whoami(&to(Some("B"), framing)).await.unwrap(), r#"b Some("B") None"#);
        assert_eq!(whoami(&to(None, framing)).await.unwrap(), "default None None");
        match whoami(&to(Some("C"), framing)).await {
            Err(CallError::Application(e)) => {
                assert_eq!(e.kind, ApplicationExceptionKind::UNKNOWN_METHOD);
                assert_eq!(e.message, "unknown method `C:whoami`");
            }
            other => panic!("a call to an unknown service: {other:?}"),
        }
    }
    // A oneway method of one service is oneway through the multiplexer.
    to(Some("B"), Framing::Framed).call_oneway("note", &body()).await.unwrap();
    assert_eq!(b_notes.recv().await.as_deref(), Some(r#"b Some("B") None"#));
    server.stop().await;
}

#[cfg(feature = "http")]
mod http {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;
    use crate::TransportError;
    use crate::codec::{Binary, MessageType};
    use crate::service::encode_message;

    #[tokio::test]
    async fn calls_over_http_carry_headers_and_oneway_calls_are_answered() {
        let (fallback, _) = echo("default");
        let (second, mut notes) = echo("second");
        let mux = Multiplexer::new().service("Second", second).default_service(fallback);
        let server = Running::start(Server::builder().build(), mux).await;
        for protocol in [ProtocolKind::Binary, ProtocolKind::Compact] {
            let http = Channel::builder(server.addr.to_string())
                .framing(Framing::Http)
                .protocol(protocol)
                .header("X-Call-Id", "svc.whoami:k2")
                .header("X-Mu2sls-Caller", "tests")
                .build();
            // Twice: the second call reuses the kept-alive connection.
            for _ in 0..2 {
                assert_eq!(whoami(&http).await.unwrap(), r#"default None Some("svc.whoami:k2")"#, "{protocol:?}");
            }
            let multiplexed = Channel::builder(server.addr.to_string())
                .framing(Framing::Http)
                .protocol(protocol)
                .service("Second")
                .build();
            assert_eq!(whoami(&multiplexed).await.unwrap(), r#"second Some("Second") None"#);
            multiplexed.call_oneway("note", &body()).await.unwrap();
            assert_eq!(notes.recv().await.as_deref(), Some(r#"second Some("Second") None"#));
        }
        server.stop().await;
    }

    /// Sends `request` on a new connection and returns the whole answer.
    async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    fn post(content_type: &str, body: &[u8]) -> Vec<u8> {
        let mut request = format!(
            "POST /service HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        request
    }

    #[tokio::test]
    async fn malformed_requests_get_a_4xx_and_the_server_keeps_serving() {
        let (dispatch, _) = echo("echo");
        let server = Running::start(Server::builder().max_frame(1000).build(), dispatch).await;
        let call = encode_message::<Binary, _>("whoami", MessageType::Call, 1, &body());
        let cases: [(Vec<u8>, &str, &str); 6] = [
            (b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".to_vec(), "405", "takes POST, not GET"),
            (post("text/plain", &call), "415", "not `text/plain`"),
            (post("application/x-thrift", b"hello"), "400", "not a Thrift message"),
            (post("application/x-thrift", &[0x80, 0x01, 0x00]), "400", "not a Thrift message"),
            (post("application/x-thrift", &[0x80; 1001]), "413", "limit of 1000 bytes"),
            (
                b"POST / HTTP/1.1\r\nHost: test\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n7d1\r\n"
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(0x80, 2001))
                    .chain(*b"\r\n0\r\n\r\n")
                    .collect(),
                "413",
                "limit of 1000 bytes",
            ),
        ];
        for (request, status, why) in cases {
            let answer = exchange(server.addr, &request).await;
            let status_line = answer.lines().next().unwrap_or_default();
            assert!(status_line.starts_with(&format!("HTTP/1.1 {status} ")), "{status} expected: {answer}");
            assert!(answer.contains(why), "{answer}");
        }
        // An HTTP/1.0 client (Apache's Python THttpClient's kind) is served.
        let mut request =
            format!("POST / HTTP/1.0\r\nContent-Type: application/x-thrift\r\nContent-Length: {}\r\n\r\n", call.len())
                .into_bytes();
        request.extend_from_slice(&call);
        let answer = exchange(server.addr, &request).await;
        assert!(answer.starts_with("HTTP/1.0 200 OK\r\n"), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("content-type: application/x-thrift\r\n"), "{answer}");
        // And so is our client, after all of the above.
        let http = Channel::builder(server.addr.to_string()).framing(Framing::Http).build();
        assert_eq!(whoami(&http).await.unwrap(), "echo None None");
        server.stop().await;
    }

    #[tokio::test]
    async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
        let (dispatch, _) = echo("echo");
        let server = Server::builder().idle_timeout(Some(std::time::Duration::from_millis(100))).build();
        let server = Running::start(server, dispatch).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        // A kept-alive request, answered; then nothing more is sent.
        stream.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        let closed = tokio::time::timeout(std::time::Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
        assert!(matches!(closed, Ok(Ok(_))), "the idle connection stayed open: {closed:?}");
        assert!(answer.starts_with(b"HTTP/1.1 405 "), "{}", String::from_utf8_lossy(&answer));
        server.stop().await;
    }

    #[tokio::test]
    async fn a_refusal_reaches_the_caller_with_its_status() {
        let (dispatch, _) = echo("echo");
        let server = Running::start(Server::builder().max_frame(100).build(), dispatch).await;
        let http = Channel::builder(server.addr.to_string()).framing(Framing::Http).build();
        let big = ApplicationException::new(ApplicationExceptionKind::UNKNOWN, "x".repeat(200));
        match http.call("whoami", &big).await {
            Err(e @ TransportError::HttpStatus { status: 413, .. }) => {
                assert!(e.to_string().contains("limit of 100 bytes"), "{e}");
                assert!(e.is_not_executed(), "a refused call did not run");
            }
            other => panic!("a call over the server's limit: {other:?}"),
        }
        let refused = Channel::builder(server.addr.to_string()).framing(Framing::Http).header("bad name", "x").build();
        assert!(matches!(refused.call("whoami", &body()).await, Err(TransportError::Connect { .. })));
        server.stop().await;
    }
}
