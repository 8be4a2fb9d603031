//! The cross-test binaries against each other and against Apache's Python
//! library (Debian's `python3-thrift` 0.17, through `tests/py/cross_client.py`
//! and `tests/py/cross_server.py`), as separate processes over loopback TCP:
//! binary and compact over framed, buffered and HTTP, THeader, and the
//! multiplexed `multi`, `multic` and `multih`, each side as server and
//! client.
//!
//! A server gets a free port (bind to port 0, release, pass it on; another
//! port if the server cannot bind it), is ready once a TCP connect succeeds
//! (bounded retries; these empty connections are the probes every
//! cross-test server must survive), and is stopped by a signal to its pid,
//! after which it must exit 0 within a bound. Without `/usr/bin/thrift` or
//! `python3-thrift`, the Python half fails in CI (env var `CI` set) and is
//! skipped with a note outside CI.
//!
//! These live in the `cross-test` package rather than `tests/` because
//! `CARGO_BIN_EXE_<name>` (the path of a binary Cargo built for this very
//! test run) exists only for a package's own integration tests.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;

const CROSS_SERVER: &str = env!("CARGO_BIN_EXE_cross-server");
const CROSS_CLIENT: &str = env!("CARGO_BIN_EXE_cross-client");
/// Debian's compiler; the Python code is generated at test time.
const THRIFT: &str = "/usr/bin/thrift";
/// Debian's interpreter: the only one that can import Debian's
/// `python3-thrift`.
const PYTHON: &str = "/usr/bin/python3";

/// Every protocol and transport both sides speak.
const MATRIX: [(&str, &str); 11] = [
    ("binary", "framed"),
    ("binary", "buffered"),
    ("compact", "framed"),
    ("compact", "buffered"),
    ("header", "buffered"),
    ("binary", "http"),
    ("compact", "http"),
    ("multi", "buffered"),
    ("multic", "framed"),
    ("multih", "buffered"),
    ("multi", "http"),
];
/// Tests per run of the suite, on either client.
const SUITE_LEN: usize = 22;

/// Tests per run with `protocol`: multiplexed runs add SecondService's.
fn suite_len(protocol: &str) -> usize {
    if protocol.starts_with("multi") { SUITE_LEN + 1 } else { SUITE_LEN }
}

/// Bounds: connect attempts (and the pause between them) before a server
/// counts as not starting; ports tried; how long a client run or a
/// server's exit after a signal may take.
const READY_ATTEMPTS: u32 = 200;
const READY_RETRY: Duration = Duration::from_millis(25);
const PORT_ATTEMPTS: u32 = 5;
const CLIENT_LIMIT: Duration = Duration::from_secs(60);
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// One side of a connection: our binaries or the Python scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Ours,
    Python,
}

/// A temporary directory for logs and, when Python takes part, the
/// generated Python code.
struct Workspace {
    dir: TempDir,
    python: bool,
}

impl Workspace {
    /// With Python code generated from `idl/thrift_test.thrift`, or `None`
    /// (after a note; in CI a panic) without the Debian packages.
    fn with_python() -> Option<Workspace> {
        if let Some(package) = missing_python_package() {
            #[allow(clippy::print_stderr, reason = "a skipped test must say so and why")]
            {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "cross-test interop with Apache Python: the Debian package {package} is missing (.ci/run installs it)"
                );
                eprintln!("note: SKIPPED cross-test interop with Apache Python: install the Debian package {package}");
            }
            return None;
        }
        let ws = Workspace::without_python();
        let out = Command::new(THRIFT)
            .args(["--gen", "py", "-out"])
            .arg(ws.gen_dir())
            .arg(workspace_root().join("idl/thrift_test.thrift"))
            .output()
            .expect("cannot run /usr/bin/thrift");
        assert!(out.status.success(), "thrift --gen py failed:\n{}", String::from_utf8_lossy(&out.stderr));
        Some(Workspace { python: true, ..ws })
    }

    fn without_python() -> Workspace {
        let dir = tempfile::tempdir().expect("cannot create a temporary directory");
        std::fs::create_dir(dir.path().join("gen")).expect("cannot create the Python output directory");
        Workspace { dir, python: false }
    }

    fn gen_dir(&self) -> PathBuf {
        self.dir.path().join("gen")
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// The command of `side`'s server or client, with Apache's options.
    fn command(&self, side: Side, role: &str, port: u16, protocol: &str, transport: &str) -> Command {
        let mut cmd = match side {
            Side::Ours => Command::new(if role == "server" { CROSS_SERVER } else { CROSS_CLIENT }),
            Side::Python => {
                assert!(self.python, "the Python code was not generated");
                let mut cmd = Command::new(PYTHON);
                cmd.arg(workspace_root().join(format!("tests/py/cross_{role}.py")));
                cmd.arg(format!("--genpydir={}", self.gen_dir().display()));
                cmd
            }
        };
        // Both forms of Apache's options: `--key=value` and `--key value`.
        cmd.arg(format!("--port={port}")).args(["--protocol", protocol]).arg(format!("--transport={transport}"));
        cmd.arg("--host=127.0.0.1");
        cmd
    }
}

fn missing_python_package() -> Option<&'static str> {
    if !Path::new(THRIFT).exists() {
        return Some("thrift-compiler (for /usr/bin/thrift)");
    }
    let imports = Command::new(PYTHON).args(["-c", "import thrift"]).output();
    if !imports.is_ok_and(|out| out.status.success()) {
        return Some("python3-thrift (for the `thrift` module of /usr/bin/python3)");
    }
    None
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A port nothing listens on right now. Ports handed out by this test
/// binary are not handed out again, so parallel tests never race for one;
/// a clash with another process shows as a server that cannot bind, and
/// `start_server` tries another port.
fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("cannot bind a loopback port")
            .port();
        if HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner()).insert(port) {
            return port;
        }
    }
}

/// A server process, killed if a test ends without stopping it.
struct RunningServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl RunningServer {
    /// Sends `signal` (`TERM`, `INT`, `HUP`) to the server's pid and waits,
    /// within a bound, for it to exit.
    fn stop(mut self, signal: &str) -> ExitStatus {
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} {} failed", self.child.id());
        match wait_bounded(&mut self.child, STOP_LIMIT) {
            Some(status) => status,
            None => panic!("the server did not exit within {STOP_LIMIT:?} of SIG{signal}\n{}", read_log(&self.log)),
        }
    }

    fn logs(&self) -> String {
        read_log(&self.log)
    }
}

/// Starts `side`'s server on a free port and waits until it accepts
/// connections.
fn start_server(ws: &Workspace, side: Side, protocol: &str, transport: &str) -> RunningServer {
    let mut failures = String::new();
    for attempt in 0..PORT_ATTEMPTS {
        let port = free_port();
        let log = ws.log(&format!("{side:?}-server-{protocol}-{transport}-{port}"));
        let mut cmd = ws.command(side, "server", port, protocol, transport);
        let mut child = spawn_logged(&mut cmd, &log);
        for _ in 0..READY_ATTEMPTS {
            if let Ok(Some(status)) = child.try_wait() {
                // Most likely the port was taken meanwhile: try another.
                failures += &format!("attempt {attempt}, port {port}: exited with {status}\n{}\n", read_log(&log));
                break;
            }
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            if TcpStream::connect_timeout(&addr, READY_RETRY).is_ok() {
                return RunningServer { child, port, log };
            }
            std::thread::sleep(READY_RETRY);
        }
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{side:?} server not accepting after {READY_ATTEMPTS} connect attempts\n{}", read_log(&log));
        }
    }
    panic!("{side:?} server did not start on any of {PORT_ATTEMPTS} ports:\n{failures}");
}

/// Spawns `cmd` with stdout and stderr into `log` (a pipe nobody reads
/// could fill up and stall the process).
fn spawn_logged(cmd: &mut Command, log: &Path) -> Child {
    let out = File::create(log).expect("cannot create a log file");
    let err = out.try_clone().expect("cannot share the log file");
    cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn read_log(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| format!("(no log: {e})"));
    format!("--- {} ---\n{text}", log.display())
}

/// Polls until `child` exits or `limit` passes.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a client to completion (killed past a bound): exit status and
/// output.
fn run_client(ws: &Workspace, cmd: &mut Command, name: &str) -> (ExitStatus, String) {
    let log = ws.log(name);
    let mut child = spawn_logged(cmd, &log);
    let status = wait_bounded(&mut child, CLIENT_LIMIT);
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{name} did not finish within {CLIENT_LIMIT:?}\n{}", read_log(&log));
    };
    (status, std::fs::read_to_string(&log).expect("cannot read the client's log"))
}

/// Runs `client` against `server` in every protocol and transport; returns
/// a description of each failure.
fn matrix(ws: &Workspace, client: Side, server: Side) -> Vec<String> {
    let mut failures = Vec::new();
    for (protocol, transport) in MATRIX {
        let what = format!("{client:?} client -> {server:?} server, {protocol} {transport}");
        let running = start_server(ws, server, protocol, transport);
        let mut cmd = ws.command(client, "client", running.port, protocol, transport);
        let (status, output) =
            run_client(ws, &mut cmd, &format!("{client:?}-client-{protocol}-{transport}-{}", running.port));
        let summary = output.lines().last().unwrap_or_default();
        let passed = status.success() && summary.ends_with(&format!(": {} passed, 0 failed", suite_len(protocol)));
        let server_logs = running.logs();
        let stopped = running.stop("TERM");
        if !passed || !stopped.success() {
            failures.push(format!(
                "{what}: client exited with {status}, server after SIGTERM with {stopped}\n\
                 --- client ---\n{output}\n{server_logs}"
            ));
        }
    }
    failures
}

fn assert_matrix(client: Side, server: Side, ws: &Workspace) {
    let failures = matrix(ws, client, server);
    assert!(failures.is_empty(), "{} of {} runs failed:\n\n{}", failures.len(), MATRIX.len(), failures.join("\n\n"));
}

#[test]
fn our_client_against_our_server() {
    assert_matrix(Side::Ours, Side::Ours, &Workspace::without_python());
}

#[test]
fn python_client_against_our_server() {
    if let Some(ws) = Workspace::with_python() {
        assert_matrix(Side::Python, Side::Ours, &ws);
    }
}

#[test]
fn our_client_against_python_server() {
    if let Some(ws) = Workspace::with_python() {
        assert_matrix(Side::Ours, Side::Python, &ws);
    }
}

/// The Python scripts against each other: a check of the peers
/// themselves, so that a failure above points at our side.
#[test]
fn python_client_against_python_server() {
    if let Some(ws) = Workspace::with_python() {
        assert_matrix(Side::Python, Side::Python, &ws);
    }
}

#[test]
fn server_survives_probes_and_stops_cleanly_on_each_signal() {
    let ws = Workspace::without_python();
    for signal in ["TERM", "INT", "HUP"] {
        let server = start_server(&ws, Side::Ours, "binary", "buffered");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, server.port));
        // Empty connections, a partial message and bytes that are no
        // Thrift at all: each closes without disturbing the server.
        for junk in
            [&b""[..], b"\x80\x01", b"\x00\x00\x00\x10\x80", b"GET / HTTP/1.0\r\n\r\n", b"\x16\x03\x01\x00\x00\x00"]
        {
            let mut probe = TcpStream::connect(addr).expect("the server stopped accepting");
            probe.write_all(junk).expect("cannot write to the server");
        }
        let mut cmd = ws.command(Side::Ours, "client", server.port, "compact", "framed");
        let (status, output) = run_client(&ws, &mut cmd, &format!("after-probes-{signal}"));
        assert!(status.success(), "the client failed after probe connections ({status}):\n{output}\n{}", server.logs());
        let logs = server.logs();
        let stopped = server.stop(signal);
        assert!(stopped.success(), "SIG{signal} must stop the server with exit code 0, got {stopped}\n{logs}");
    }
}

/// Sends `request` on a new connection to `port` and returns the whole
/// answer (the server closes the connection after an HTTP/1.0 answer).
fn http_exchange(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("the server stopped accepting");
    stream.set_read_timeout(Some(CLIENT_LIMIT)).expect("cannot set a read timeout");
    stream.write_all(request).expect("cannot write to the server");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("no answer before the read timeout");
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn http_requests_that_are_no_thrift_call_get_a_4xx_and_the_server_keeps_serving() {
    let ws = Workspace::without_python();
    // Multiplexed, so that plain and multiplexed clients are both served.
    let server = start_server(&ws, Side::Ours, "multi", "http");
    let cases: [(&[u8], &str); 3] = [
        (b"GET / HTTP/1.0\r\n\r\n", "HTTP/1.0 405 "),
        (b"POST / HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.0 415 "),
        (b"POST / HTTP/1.0\r\nContent-Type: application/x-thrift\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.0 400 "),
    ];
    for (request, status) in cases {
        let answer = http_exchange(server.port, request);
        assert!(answer.starts_with(status), "{status}expected, got:\n{answer}\n{}", server.logs());
    }
    for protocol in ["binary", "multic"] {
        let mut cmd = ws.command(Side::Ours, "client", server.port, protocol, "http");
        let (status, output) = run_client(&ws, &mut cmd, &format!("after-bad-http-{protocol}"));
        assert!(status.success(), "the client failed after refused requests ({status}):\n{output}\n{}", server.logs());
    }
    let stopped = server.stop("TERM");
    assert!(stopped.success(), "SIGTERM must stop the server with exit code 0, got {stopped}");
}

#[test]
fn client_without_a_server_fails_every_test_with_the_setup_bit() {
    let ws = Workspace::without_python();
    // A port nothing listens on.
    let port = free_port();
    let mut cmd = ws.command(Side::Ours, "client", port, "binary", "buffered");
    let (status, output) = run_client(&ws, &mut cmd, "no-server");
    // Every group failed, plus 64: no connection.
    assert_eq!(status.code(), Some(1 | 2 | 4 | 8 | 64), "{output}");
    assert!(output.ends_with(&format!("cross-client: 0 passed, {SUITE_LEN} failed\n")), "{output}");
}

#[test]
fn unsupported_protocols_and_transports_are_refused_by_name() {
    let cases = [
        (CROSS_SERVER, "--protocol=multij", "--protocol=multij is not supported yet"),
        (CROSS_SERVER, "--transport=zlib", "--transport=zlib is not supported yet"),
        (CROSS_CLIENT, "--protocol=json", "--protocol=json is not supported yet"),
        (CROSS_CLIENT, "--transport=zlib", "--transport=zlib is not supported yet"),
    ];
    for (binary, option, message) in cases {
        let out = Command::new(binary).arg(option).arg(format!("--port={}", free_port())).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{binary} {option}: {stderr}");
        assert!(stderr.contains(message), "{binary} {option}: {stderr}");
    }
}
