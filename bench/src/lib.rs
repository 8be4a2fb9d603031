//! The codec benchmark's three generated type families, one payload, and
//! the conversions that give every peer the same values.
//!
//! `idl/bench.thrift` is compiled three times at build time (see
//! `build.rs`): by thrift-mu2sls ([`ours`]), Apache's `thrift --gen rs`
//! ([`apache`]) and pilota-build ([`pilota_gen`]). The payloads are built
//! once, as our types, by [`payload`], and converted to each peer's types
//! with `From`; decoded values are converted back to ours and compared, so
//! "equal" means the same thing for every peer.
//!
//! [`rpc`] holds what the echo RPC benchmark's binaries share (`rpc-ours`,
//! `rpc-volo`, `rpc-apache` and the load generator `rpc-load`; see
//! `rpc.sh`). Their generated code is included by each binary.

pub mod payload;
pub mod rpc;
pub mod wire;

/// thrift-mu2sls's types (`thrift_gen::Builder`).
pub mod ours {
    include!(concat!(env!("OUT_DIR"), "/ours/mod.rs"));
}

/// Apache `thrift --gen rs` 0.17 types over the `thrift` 0.25 runtime.
#[allow(unused_imports, unused_extern_crates, clippy::all, dead_code, missing_docs)]
pub mod apache {
    include!(concat!(env!("OUT_DIR"), "/apache/bench.rs"));
}

/// pilota-build types over the `pilota` runtime.
#[allow(clippy::all, dead_code, missing_docs)]
pub mod pilota_gen {
    include!(concat!(env!("OUT_DIR"), "/pilota/bench.rs"));
}

mod convert;
