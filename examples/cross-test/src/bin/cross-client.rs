//! `cross-client`: runs Apache's `ThriftTest` checks against a server,
//! with Apache's test-client command line. Prints one line per test and a
//! summary; exits 0 when every test passed, else with Apache's OR-ed bits
//! (1 base types, 2 structs, 4 containers, 8 exceptions, 64 connection or
//! setup, 128 timeout).

// A command-line program: it reports to its terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use cross_test::generated::thrift_test::{SecondServiceClient, ThriftTestClient};
use cross_test::{ClientOptions, Summary, run_second_service, run_suite};
use mu2sls::Channel;

/// How long a call waits for its reply (Apache's clients: 5 to 15 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> ExitCode {
    let options = ClientOptions::parse();
    let (framing, protocol) = match options.wire.resolve() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("cross-client: {e}");
            return ExitCode::from(1);
        }
    };
    let channel = |service: Option<&str>| {
        let builder = Channel::builder(options.address()).framing(framing).protocol(protocol).timeout(CALL_TIMEOUT);
        match service {
            Some(name) => builder.service(name).build(),
            None => builder.build(),
        }
    };
    let multiplexed = options.wire.multiplexed();
    let client = ThriftTestClient::new(channel(multiplexed.then_some("ThriftTest")));
    let second = multiplexed.then(|| SecondServiceClient::new(channel(Some("SecondService"))));
    let mut summary = Summary::default();
    let mut report = |outcome: cross_test::Outcome| {
        println!("{outcome}");
        summary.add(outcome);
    };
    for _ in 0..options.testloops {
        run_suite(&client, &mut report).await;
        if let Some(second) = &second {
            run_second_service(second, &mut report).await;
        }
    }
    println!("cross-client: {} passed, {} failed", summary.passed(), summary.failed());
    ExitCode::from(summary.exit_code())
}
