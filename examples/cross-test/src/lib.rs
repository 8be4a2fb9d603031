//! Apache Thrift's cross-language test suite for thrift-mu2sls: the
//! `ThriftTest` service (`idl/thrift_test.thrift`), a handler with the
//! suite's semantics, and the checks a test client makes.
//!
//! Two binaries front it with Apache's command lines, so that Apache's
//! cross-test runner and its clients and servers in other languages can
//! drive them:
//!
//! - `cross-server`: serves [`TestHandler`] (and, multiplexed,
//!   [`SecondHandler`]) until SIGTERM, SIGINT or SIGHUP.
//! - `cross-client`: runs [`run_suite`] against a server and exits with
//!   Apache's failure bits ([`Summary::exit_code`]).
//!
//! ```sh
//! cross-server --port=9090 --protocol=compact --transport=framed &
//! cross-client --port=9090 --protocol=compact --transport=framed
//! ```

mod expected;
mod handler;
mod options;
mod suite;

/// The code generated from `idl/thrift_test.thrift` by `build.rs`.
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/mod.rs"));
}

pub use expected::{insanity_result, map_map_result, multi_exception_outcome, multi_result};
pub use handler::{SecondHandler, TestHandler, second_test_string};
pub use options::{ClientOptions, ProtocolOption, ServerOptions, TransportOption, Unsupported, Wire};
pub use suite::{Category, Failure, Outcome, Summary, run_second_service, run_suite};
