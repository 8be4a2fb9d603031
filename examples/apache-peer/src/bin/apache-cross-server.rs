//! `apache-cross-server`: Apache's `TServer` serving `ThriftTest`, with
//! Apache's test-server command line. Runs until killed.

// A command-line program: it reports to its terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use apache_peer::{ServerOptions, serve};
use clap::Parser;

fn main() -> ExitCode {
    let options = ServerOptions::parse();
    println!(
        "apache-cross-server: serving ThriftTest on {} ({:?}, {:?})",
        options.wire.address(),
        options.wire.protocol,
        options.wire.transport
    );
    match serve(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apache-cross-server: {e}");
            ExitCode::from(1)
        }
    }
}
