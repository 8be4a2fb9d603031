//! `apache-cross-client`: Apache's generated sync client running the
//! `ThriftTest` checks, with Apache's test-client command line. Prints one
//! line per test and a summary; exits 0 when every test passed, else 1.

// A command-line program: it reports to its terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use apache_peer::{ClientOptions, connect, run_suite};
use clap::Parser;

fn main() -> ExitCode {
    let options = ClientOptions::parse();
    let mut client = match connect(&options.wire) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("apache-cross-client: cannot connect to {}: {e}", options.wire.address());
            return ExitCode::from(1);
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for _ in 0..options.testloops {
        run_suite(&mut client, |name, result| match result {
            Ok(()) => {
                passed += 1;
                println!("{name} ... ok");
            }
            Err(e) => {
                failed += 1;
                println!("{name} ... FAILED: {e}");
            }
        });
    }
    println!("apache-cross-client: {passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
