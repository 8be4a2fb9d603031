//! The interop matrix with Apache's Rust library: binary and compact,
//! framed and buffered, in both directions.
//!
//! - Apache's client (`apache-cross-client`, a separate process) against
//!   the mu2sls cross-test server, run here on a tokio runtime with the
//!   cross-test handler: the client must exit 0 with every test passed.
//! - The mu2sls cross-test suite, run here, against Apache's `TServer`
//!   (`apache-cross-server`, a separate process): every test must pass.
//!
//! An Apache server gets a free port (bind to port 0, release, pass it
//! on; another port if it exits), and is ready once a TCP connect succeeds
//! (bounded attempts: it runs in another process, so there is no event to
//! wait on). Every process is killed when its test ends.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cross_test::generated::thrift_test::{ThriftTestClient, ThriftTestServer};
use cross_test::{Summary, TestHandler, run_suite};
use mu2sls::{Channel, Framing, ProtocolKind, Server};

const APACHE_SERVER: &str = env!("CARGO_BIN_EXE_apache-cross-server");
const APACHE_CLIENT: &str = env!("CARGO_BIN_EXE_apache-cross-client");

/// Tests in either suite.
const SUITE_LEN: usize = 22;
/// Bounds: connect attempts (and the pause between them) before a server
/// counts as not starting; ports tried; how long a client run may take.
const READY_ATTEMPTS: u32 = 200;
const READY_RETRY: Duration = Duration::from_millis(25);
const PORT_ATTEMPTS: u32 = 5;
const CLIENT_LIMIT: Duration = Duration::from_secs(60);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wire(protocol: &str, transport: &str) -> (ProtocolKind, Framing) {
    let p = match protocol {
        "binary" => ProtocolKind::Binary,
        "compact" => ProtocolKind::Compact,
        other => panic!("no protocol {other}"),
    };
    let f = match transport {
        "framed" => Framing::Framed,
        "buffered" => Framing::Buffered,
        other => panic!("no transport {other}"),
    };
    (p, f)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime")
}

/// Apache's client against our server: exit code 0, and every test passed.
fn apache_client_against_ours(protocol: &str, transport: &str) {
    let rt = runtime();
    let listener = rt.block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))).expect("a free port");
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        Server::builder().build().serve(listener, ThriftTestServer::new(TestHandler), shutdown).await
    });
    let child = Command::new(APACHE_CLIENT)
        .arg(format!("--port={port}"))
        .args(["--protocol", protocol])
        .arg(format!("--transport={transport}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start apache-cross-client");
    let mut child = Killed(child);
    let mut stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    // Reading to the end (the pipes close when the client exits) on a
    // thread, so the run is bounded.
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut out, mut err) = (String::new(), String::new());
        let _ = stdout.read_to_string(&mut out);
        let _ = stderr.read_to_string(&mut err);
        let _ = done.send((out, err));
    });
    let (out, err) = finished.recv_timeout(CLIENT_LIMIT).expect("apache-cross-client did not finish");
    let status = child.0.wait().expect("apache-cross-client's exit status");
    let context = format!("{protocol}/{transport}:\n{out}\n{err}");
    assert!(status.success(), "apache-cross-client failed ({status}) {context}");
    assert!(out.contains(&format!("apache-cross-client: {SUITE_LEN} passed, 0 failed")), "{context}");
    assert_eq!(out.matches(" ... ok").count(), SUITE_LEN, "{context}");
    let _ = stop.send(());
    rt.block_on(server).expect("the server task").expect("our server stops cleanly");
}

/// Starts Apache's server on a free port, ready to serve.
fn apache_server(protocol: &str, transport: &str) -> (Killed, u16) {
    for _ in 0..PORT_ATTEMPTS {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
        let child = Command::new(APACHE_SERVER)
            .arg(format!("--port={port}"))
            .args(["--protocol", protocol])
            .arg(format!("--transport={transport}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start apache-cross-server");
        let mut server = Killed(child);
        for _ in 0..READY_ATTEMPTS {
            if server.0.try_wait().expect("the server's status").is_some() {
                break; // It could not bind: try another port.
            }
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            if TcpStream::connect_timeout(&addr, READY_RETRY).is_ok() {
                return (server, port);
            }
            std::thread::sleep(READY_RETRY);
        }
    }
    panic!("apache-cross-server {protocol}/{transport} did not start");
}

/// Our suite against Apache's server: every test passes.
fn ours_against_apache_server(protocol: &str, transport: &str) {
    let (_server, port) = apache_server(protocol, transport);
    let (p, f) = wire(protocol, transport);
    let channel = Channel::builder(format!("127.0.0.1:{port}")).protocol(p).framing(f).timeout(CALL_TIMEOUT).build();
    let (summary, failures) = runtime().block_on(suite(ThriftTestClient::new(channel)));
    assert_eq!(failures, Vec::<String>::new(), "{protocol}/{transport}");
    assert_eq!((summary.passed(), summary.failed(), summary.exit_code()), (SUITE_LEN, 0, 0), "{protocol}/{transport}");
}

/// Our suite; the failed tests' lines.
async fn suite(client: ThriftTestClient) -> (Summary, Vec<String>) {
    let mut summary = Summary::default();
    let mut failures = Vec::new();
    run_suite(&client, |outcome| {
        if outcome.result.is_err() {
            failures.push(outcome.to_string());
        }
        summary.add(outcome);
    })
    .await;
    (summary, failures)
}

/// Several suites at once over a pool of connections to Apache's server,
/// which serves each connection one call at a time: every test passes.
#[test]
fn pooled_channel_against_apache_server() {
    let (_server, port) = apache_server("compact", "framed");
    let channel = Channel::builder(format!("127.0.0.1:{port}"))
        .protocol(ProtocolKind::Compact)
        .connections(4)
        .timeout(CALL_TIMEOUT)
        .build();
    let rt = runtime();
    let client = || ThriftTestClient::new(channel.clone());
    let runs = rt.block_on(async { tokio::join!(suite(client()), suite(client()), suite(client()), suite(client())) });
    for (summary, failures) in [runs.0, runs.1, runs.2, runs.3] {
        assert_eq!(failures, Vec::<String>::new());
        assert_eq!((summary.passed(), summary.exit_code()), (SUITE_LEN, 0));
    }
}

macro_rules! matrix {
    ($($name:ident: $protocol:literal, $transport:literal;)*) => {
        mod apache_client_our_server {
            $(#[test] fn $name() { super::apache_client_against_ours($protocol, $transport) })*
        }
        mod our_client_apache_server {
            $(#[test] fn $name() { super::ours_against_apache_server($protocol, $transport) })*
        }
    };
}

matrix! {
    binary_framed: "binary", "framed";
    binary_buffered: "binary", "buffered";
    compact_framed: "compact", "framed";
    compact_buffered: "compact", "buffered";
}
