//! What the echo RPC benchmark's binaries share (BENCHMARKS.md, "RPC
//! echo"): command-line options, the servers' runtime and lifetime, and
//! the one call the load generator sends to every server.
//!
//! The call is `EchoService.echo(s)` of `idl/echo.thrift` with a string of
//! `size` bytes, framed strict binary. It is encoded once, with our codec's
//! `Writer`, so the load generator only patches the sequence id per call,
//! and the reply every server must send is known byte for byte.

use std::collections::HashMap;
use std::time::Duration;

use mu2sls::codec::{Binary, MessageType, TType, Writer};

/// `--name value` options, with defaults.
#[derive(Debug)]
pub struct Options {
    values: HashMap<String, String>,
}

impl Options {
    /// Parses `--name value` pairs from the process's arguments; exits with
    /// `usage` on anything else.
    pub fn from_args(usage: &str) -> Options {
        let mut values = HashMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let (Some(name), Some(value)) = (arg.strip_prefix("--"), args.next()) else {
                eprintln!("usage: {usage}");
                std::process::exit(2);
            };
            values.insert(name.to_owned(), value);
        }
        Options { values }
    }

    /// The value of `--name`, or `default`.
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.values.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("--{name}: cannot parse `{v}`");
                std::process::exit(2);
            }),
        }
    }

    /// The value of `--name` as text, or `default`.
    pub fn text(&self, name: &str, default: &str) -> String {
        self.values.get(name).cloned().unwrap_or_else(|| default.to_owned())
    }
}

/// The options every server takes, printed by `--help`-less misuse.
pub const SERVER_USAGE: &str =
    "SERVER --port P [--workers N] [--runtime multi|current] [--max-seconds S (default 3600)]";

/// The tokio runtime of the tokio servers (ours and Volo's), alike for
/// both: `--runtime multi` (default) with `--workers N` worker threads
/// (default 1), or `--runtime current` (one thread, `--workers` ignored).
pub fn server_runtime(opts: &Options) -> tokio::runtime::Runtime {
    let mut builder = match opts.text("runtime", "multi").as_str() {
        "multi" => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(opts.get("workers", 1usize));
            b
        }
        "current" => tokio::runtime::Builder::new_current_thread(),
        other => {
            eprintln!("--runtime: `{other}` is neither `multi` nor `current`");
            std::process::exit(2);
        }
    };
    builder.enable_all().build().expect("build the tokio runtime")
}

/// Ends the process after `--max-seconds` (default an hour), so that a
/// server left behind by an interrupted run does not live on.
pub fn exit_after_max_seconds(opts: &Options) {
    let limit = Duration::from_secs(opts.get("max-seconds", 3600u64));
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        std::process::exit(0);
    });
}

/// The address a server listens on: `127.0.0.1:--port`.
pub fn listen_addr(opts: &Options) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], opts.get("port", 9090u16)))
}

/// The echo call and the reply it must get, both framed strict binary.
#[derive(Clone, Debug)]
pub struct EchoExchange {
    /// The request frame, sequence id 0.
    pub request: Vec<u8>,
    /// The expected reply frame, sequence id 0.
    pub reply: Vec<u8>,
    /// Where the 4-byte big-endian sequence id sits in both frames.
    pub seq_at: usize,
}

impl EchoExchange {
    /// `echo(s)` with `s` of `size` ASCII letters.
    pub fn new(size: usize) -> EchoExchange {
        let s: String = (0..size).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let (request, seq_at) = frame(MessageType::Call, 1, &s);
        // The result struct: `success` is field 0.
        let (reply, reply_seq_at) = frame(MessageType::Reply, 0, &s);
        assert_eq!(seq_at, reply_seq_at, "the method name fixes the header's length");
        EchoExchange { request, reply, seq_at }
    }
}

/// A framed message `echo` of `kind` holding a struct whose field `id` is
/// the string `s`; and where its sequence id sits.
fn frame(kind: MessageType, id: i16, s: &str) -> (Vec<u8>, usize) {
    let mut header = Writer::<Binary, Vec<u8>>::new(Vec::new());
    header.message_begin("echo", kind, 0);
    let header_len = header.into_inner().len();
    let mut w = Writer::<Binary, Vec<u8>>::new(vec![0; 4]);
    w.message_begin("echo", kind, 0);
    w.struct_begin();
    w.field_begin(TType::Binary, id);
    w.string(s);
    w.struct_end();
    let mut bytes = w.into_inner();
    let body = u32::try_from(bytes.len() - 4).expect("a small message");
    bytes[..4].copy_from_slice(&body.to_be_bytes());
    // The sequence id ends the header, after the 4-byte frame length.
    (bytes, 4 + header_len - 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_differ_only_in_kind_and_field_id() {
        let x = EchoExchange::new(64);
        assert_eq!(x.request.len(), x.reply.len());
        assert_eq!(x.request.len(), 4 + 12 + 4 + 3 + 4 + 64 + 1);
        assert_eq!(&x.request[x.seq_at..x.seq_at + 4], &[0, 0, 0, 0]);
        let differ: Vec<usize> = (0..x.request.len()).filter(|&i| x.request[i] != x.reply[i]).collect();
        assert_eq!(differ.len(), 2, "message type and field id: {differ:?}");
    }
}
