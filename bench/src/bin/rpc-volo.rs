//! The echo RPC benchmark's server on Volo (BENCHMARKS.md, "RPC echo"):
//! `idl/echo.thrift` compiled by volo-build (`build.rs`), served by
//! `volo_thrift::server::Server` with the framed binary codec
//! (`DefaultMakeCodec::framed()`) instead of its default TTHeader, on the
//! same tokio runtime as ours.
//!
//!   rpc-volo --port P [--workers N] [--runtime multi|current] [--max-seconds S]

use mu2sls_bench::rpc::{self, Options};
use volo_thrift::codec::default::DefaultMakeCodec;

#[allow(clippy::all, dead_code, missing_docs, unused_imports)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/volo/volo_gen.rs"));
}

use generated::volo_gen::echo::{EchoService, EchoServiceServer};

struct Echo;

impl EchoService for Echo {
    async fn echo(&self, s: pilota::FastStr) -> Result<pilota::FastStr, volo_thrift::ServerError> {
        Ok(s)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let opts = Options::from_args(rpc::SERVER_USAGE);
    rpc::exit_after_max_seconds(&opts);
    let addr = volo::net::Address::from(rpc::listen_addr(&opts));
    rpc::server_runtime(&opts).block_on(EchoServiceServer::new(Echo).make_codec(DefaultMakeCodec::framed()).run(addr))
}
