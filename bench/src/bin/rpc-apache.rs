//! The echo RPC benchmark's server on Apache's `thrift` crate
//! (BENCHMARKS.md, "RPC echo"): `idl/echo.thrift` compiled by Debian's
//! `thrift --gen rs` (`build.rs`), served by `TServer` with framed
//! transport and binary protocol. `TServer` gives each connection a thread
//! of its pool for the connection's lifetime, so `--workers` (default 64)
//! must be at least the load generator's concurrency.
//!
//!   rpc-apache --port P [--workers N] [--max-seconds S]

use mu2sls_bench::rpc::{self, Options};
use thrift::protocol::{TBinaryInputProtocolFactory, TBinaryOutputProtocolFactory};
use thrift::server::TServer;
use thrift::transport::{TFramedReadTransportFactory, TFramedWriteTransportFactory};

#[allow(unused_imports, unused_extern_crates, clippy::all, dead_code, missing_docs)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/apache/echo.rs"));
}

use generated::{EchoServiceSyncHandler, EchoServiceSyncProcessor};

struct Echo;

impl EchoServiceSyncHandler for Echo {
    fn handle_echo(&self, s: String) -> thrift::Result<String> {
        Ok(s)
    }
}

fn main() -> thrift::Result<()> {
    let opts = Options::from_args(rpc::SERVER_USAGE);
    rpc::exit_after_max_seconds(&opts);
    let mut server = TServer::new(
        TFramedReadTransportFactory::new(),
        TBinaryInputProtocolFactory::new(),
        TFramedWriteTransportFactory::new(),
        TBinaryOutputProtocolFactory::new(),
        EchoServiceSyncProcessor::new(Echo),
        opts.get("workers", 64usize),
    );
    server.listen(rpc::listen_addr(&opts))
}
