//! The command lines of Apache's cross-test clients and servers
//! (`test/README.md` in Apache Thrift): `--key=value` or `--key value`.
//! Options that make no sense for us are accepted and ignored, so that
//! Apache's runner can pass them; protocols and transports we do not
//! speak yet are accepted by the parser and refused by [`Wire::resolve`]
//! with a clear message.

use std::fmt;

use clap::{Args, Parser, ValueEnum};
use mu2sls::{Framing, ProtocolKind};

/// `--protocol`: Apache's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProtocolOption {
    /// Strict binary.
    Binary,
    /// Compact.
    Compact,
    /// THeader around binary.
    Header,
    /// JSON.
    Json,
    /// Multiplexed binary.
    Multi,
    /// Multiplexed compact.
    Multic,
    /// Multiplexed THeader.
    Multih,
    /// Multiplexed JSON.
    Multij,
}

/// `--transport`: Apache's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransportOption {
    /// Messages back to back.
    Buffered,
    /// A 4-byte length before each message.
    Framed,
    /// HTTP POST.
    Http,
    /// zlib-compressed.
    Zlib,
}

/// What goes on the wire: the options every client and server takes.
#[derive(Clone, Debug, Args)]
pub struct Wire {
    /// Port to serve on or connect to.
    #[arg(long, default_value_t = 9090)]
    pub port: u16,
    /// Protocol.
    #[arg(long, value_enum, default_value_t = ProtocolOption::Binary)]
    pub protocol: ProtocolOption,
    /// Transport.
    #[arg(long, value_enum, default_value_t = TransportOption::Buffered)]
    pub transport: TransportOption,
    /// Unix domain socket path (not supported yet).
    #[arg(long, value_name = "PATH")]
    pub domain_socket: Option<String>,
    /// Use the abstract namespace for the domain socket (not supported yet).
    #[arg(long)]
    pub abstract_namespace: bool,
    /// TLS (not supported yet).
    #[arg(long)]
    pub ssl: bool,
}

/// A protocol, transport or option this build does not speak yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported(String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not supported yet", self.0)
    }
}

impl std::error::Error for Unsupported {}

impl Wire {
    /// The framing and protocol to use, or what is not supported yet.
    pub fn resolve(&self) -> Result<(Framing, ProtocolKind), Unsupported> {
        if self.ssl {
            return Err(Unsupported("--ssl".into()));
        }
        if self.domain_socket.is_some() || self.abstract_namespace {
            return Err(Unsupported("--domain-socket".into()));
        }
        if matches!(self.protocol, ProtocolOption::Header | ProtocolOption::Multih) {
            // THeader frames its messages itself; Apache's Python stacks it
            // on `--transport` (a frame inside a frame for `framed`), which
            // only the buffered transport matches here.
            return match self.transport {
                TransportOption::Buffered => Ok((Framing::Header, ProtocolKind::Binary)),
                other => Err(Unsupported(format!(
                    "--protocol={} with --transport={}",
                    value_name(self.protocol),
                    value_name(other)
                ))),
            };
        }
        let protocol = match self.protocol {
            ProtocolOption::Binary | ProtocolOption::Multi => ProtocolKind::Binary,
            ProtocolOption::Compact | ProtocolOption::Multic => ProtocolKind::Compact,
            other => return Err(Unsupported(format!("--protocol={}", value_name(other)))),
        };
        let framing = match self.transport {
            TransportOption::Buffered => Framing::Buffered,
            TransportOption::Framed => Framing::Framed,
            TransportOption::Http => Framing::Http,
            other => return Err(Unsupported(format!("--transport={}", value_name(other)))),
        };
        Ok((framing, protocol))
    }

    /// Whether the services are multiplexed (`--protocol=multi*`): served
    /// and called as `ThriftTest` and `SecondService`.
    pub fn multiplexed(&self) -> bool {
        matches!(
            self.protocol,
            ProtocolOption::Multi | ProtocolOption::Multic | ProtocolOption::Multih | ProtocolOption::Multij
        )
    }
}

fn value_name(v: impl ValueEnum) -> String {
    v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
}

/// `cross-server`'s command line.
#[derive(Clone, Debug, Parser)]
#[command(name = "cross-server", about = "Serves Apache's ThriftTest service for the cross-language tests")]
pub struct ServerOptions {
    /// Port, protocol and transport. The server also recognises the other
    /// framing and protocol from a connection's first bytes.
    #[command(flatten)]
    pub wire: Wire,
    /// Address to listen on (default: every interface, IPv6 and IPv4).
    #[arg(long)]
    pub host: Option<String>,
    /// Apache's server type (simple, thread-pool, threaded,
    /// nonblocking): ignored, there is one tokio server.
    #[arg(long, value_name = "TYPE")]
    pub server_type: Option<String>,
    /// Apache's worker count: ignored, tokio sizes its pool.
    #[arg(short = 'n', long, value_name = "N")]
    pub workers: Option<u32>,
}

/// `cross-client`'s command line.
#[derive(Clone, Debug, Parser)]
#[command(name = "cross-client", about = "Runs Apache's ThriftTest checks against a server")]
pub struct ClientOptions {
    /// Port, protocol and transport.
    #[command(flatten)]
    pub wire: Wire,
    /// Server host name or address.
    #[arg(long, default_value = "localhost")]
    pub host: String,
    /// How many times to run the suite.
    #[arg(short = 'n', long, default_value_t = 1, value_name = "N")]
    pub testloops: u32,
    /// Apache's client thread count: ignored, the suite runs on one
    /// connection.
    #[arg(short = 't', long, value_name = "N")]
    pub threads: Option<u32>,
}

impl ClientOptions {
    /// `host:port`, with an IPv6 address in brackets.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.wire.port)
        } else {
            format!("{}:{}", self.host, self.wire.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_forms_parse() {
        let o = ClientOptions::parse_from([
            "cross-client",
            "--port=9091",
            "--protocol",
            "compact",
            "--transport=framed",
            "--host=::1",
            "-n",
            "3",
        ]);
        assert_eq!(o.wire.resolve(), Ok((Framing::Framed, ProtocolKind::Compact)));
        assert_eq!(o.address(), "[::1]:9091");
        assert_eq!(o.testloops, 3);

        let o = ServerOptions::parse_from(["cross-server", "--server-type=simple", "--workers=4"]);
        assert_eq!(o.wire.port, 9090);
        assert_eq!(o.wire.resolve(), Ok((Framing::Buffered, ProtocolKind::Binary)), "Apache's defaults");
    }

    #[test]
    fn what_we_do_not_speak_is_named() {
        let o = ServerOptions::parse_from(["cross-server", "--protocol=header"]);
        assert_eq!(o.wire.resolve().unwrap(), (Framing::Header, ProtocolKind::Binary));
        let o = ServerOptions::parse_from(["cross-server", "--protocol=header", "--transport=framed"]);
        assert_eq!(
            o.wire.resolve().unwrap_err().to_string(),
            "--protocol=header with --transport=framed is not supported yet"
        );
        let o = ClientOptions::parse_from(["cross-client", "--transport", "zlib"]);
        assert_eq!(o.wire.resolve().unwrap_err().to_string(), "--transport=zlib is not supported yet");
        let o = ClientOptions::parse_from(["cross-client", "--protocol=multij"]);
        assert_eq!(o.wire.resolve().unwrap_err().to_string(), "--protocol=multij is not supported yet");
        let o = ClientOptions::parse_from(["cross-client", "--protocol=multih", "--transport", "http"]);
        assert_eq!(
            o.wire.resolve().unwrap_err().to_string(),
            "--protocol=multih with --transport=http is not supported yet"
        );
    }

    #[test]
    fn http_and_multiplexed_resolve() {
        let o = ClientOptions::parse_from(["cross-client", "--transport=http", "--protocol", "compact"]);
        assert_eq!(o.wire.resolve(), Ok((Framing::Http, ProtocolKind::Compact)));
        assert!(!o.wire.multiplexed());
        for (option, framing, protocol) in [
            ("multi", Framing::Buffered, ProtocolKind::Binary),
            ("multic", Framing::Buffered, ProtocolKind::Compact),
            ("multih", Framing::Header, ProtocolKind::Binary),
        ] {
            let o = ServerOptions::parse_from(["cross-server", "--protocol", option]);
            assert_eq!(o.wire.resolve(), Ok((framing, protocol)), "{option}");
            assert!(o.wire.multiplexed(), "{option}");
        }
        let o = ServerOptions::parse_from(["cross-server", "--protocol=multic", "--transport=http"]);
        assert_eq!(o.wire.resolve(), Ok((Framing::Http, ProtocolKind::Compact)));
    }
}
