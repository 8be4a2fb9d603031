//! The echo RPC benchmark's server on thrift-mu2sls (BENCHMARKS.md, "RPC
//! echo"): `idl/echo.thrift` compiled by our generator (`build.rs`),
//! served by `mu2sls::Server` with its defaults. The server recognises the
//! load generator's framed strict binary from the first bytes.
//!
//!   rpc-ours --port P [--workers N] [--runtime multi|current] [--max-seconds S]

use mu2sls::{CallContext, NoException, Server, ServiceError};
use mu2sls_bench::rpc::{self, Options};

#[allow(clippy::all, dead_code, missing_docs)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/ours_echo/mod.rs"));
}

use generated::echo::{EchoService, EchoServiceServer};

struct Echo;

impl EchoService for Echo {
    async fn echo(&self, _: &CallContext, s: String) -> Result<String, ServiceError<NoException>> {
        Ok(s)
    }
}

fn main() -> std::io::Result<()> {
    let opts = Options::from_args(rpc::SERVER_USAGE);
    rpc::exit_after_max_seconds(&opts);
    let addr = rpc::listen_addr(&opts);
    rpc::server_runtime(&opts).block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Server::builder().build().serve(listener, EchoServiceServer::new(Echo), std::future::pending()).await
    })
}
