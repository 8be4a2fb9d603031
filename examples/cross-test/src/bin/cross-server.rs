//! `cross-server`: serves Apache's `ThriftTest` service for the
//! cross-language tests, with Apache's test-server command line. It
//! recognises framed, buffered, THeader or HTTP, binary or compact from
//! each connection's first bytes; `--protocol=multi*` multiplexes
//! `ThriftTest` and `SecondService`. It stops with exit code 0 on SIGTERM,
//! SIGINT or SIGHUP.

// A command-line program: it reports to its terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;
use std::sync::Arc;

use cross_test::generated::thrift_test::{SecondServiceServer, ThriftTestServer};
use cross_test::{SecondHandler, ServerOptions, TestHandler};
use mu2sls::{Multiplexer, Server};
use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};

#[tokio::main]
async fn main() -> ExitCode {
    let options = ServerOptions::parse();
    if let Err(e) = options.wire.resolve() {
        eprintln!("cross-server: {e}");
        return ExitCode::from(1);
    }
    // Handlers first: a stop signal must never meet the default action.
    let stop = match StopSignals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cross-server: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let listener = match bind(options.host.as_deref(), options.wire.port).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cross-server: cannot listen on port {}: {e}", options.wire.port);
            return ExitCode::from(1);
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("cross-server: serving ThriftTest on {addr}"),
        Err(e) => println!("cross-server: serving ThriftTest (address unknown: {e})"),
    }
    let server = Server::builder().build();
    let served = if options.wire.multiplexed() {
        // As Apache's test servers: ThriftTest also answers unprefixed calls.
        let thrift_test = Arc::new(ThriftTestServer::new(TestHandler));
        let mux = Multiplexer::new()
            .service("ThriftTest", thrift_test.clone())
            .service("SecondService", SecondServiceServer::new(SecondHandler))
            .default_service(thrift_test);
        server.serve(listener, mux, stop.wait()).await
    } else {
        server.serve(listener, ThriftTestServer::new(TestHandler), stop.wait()).await
    };
    match served {
        Ok(()) => {
            println!("cross-server: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cross-server: {e}");
            ExitCode::from(1)
        }
    }
}

/// Listens on `host`, or on every interface: IPv6 and IPv4 (a dual-stack
/// socket), else IPv4 alone where IPv6 is off.
async fn bind(host: Option<&str>, port: u16) -> std::io::Result<TcpListener> {
    match host {
        Some(h) if h.contains(':') && !h.starts_with('[') => TcpListener::bind(format!("[{h}]:{port}")).await,
        Some(h) => TcpListener::bind(format!("{h}:{port}")).await,
        None => match TcpListener::bind(format!("[::]:{port}")).await {
            Ok(l) => Ok(l),
            Err(_) => TcpListener::bind(format!("0.0.0.0:{port}")).await,
        },
    }
}

/// SIGTERM, SIGINT and SIGHUP: Apache's runner sends SIGHUP, then SIGTERM.
struct StopSignals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}
