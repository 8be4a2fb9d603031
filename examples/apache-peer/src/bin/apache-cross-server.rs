//! `apache-cross-server`: Apache's `TServer` serving `ThriftTest`, with
//! Apache's test-server command line. Runs until killed.

// A command-line program: it reports to its terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use apache_peer::{Options, serve};
use clap::Parser;

fn main() -> ExitCode {
    let options = Options::parse();
    println!(
        "apache-cross-server: serving ThriftTest on {} ({:?}, {:?})",
        options.address(),
        options.protocol,
        options.transport
    );
    match serve(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apache-cross-server: {e}");
            ExitCode::from(1)
        }
    }
}
