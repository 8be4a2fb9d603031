//! Generates the `ThriftTest` code with Apache's compiler (Debian's
//! `thrift-compiler`), from the same IDL as the mu2sls cross-test binaries.
//! Apache's generated file starts with inner attributes, which cannot be
//! `include!`d into a module, so they are dropped here.

use std::path::PathBuf;
use std::process::Command;

const IDL: &str = "../../idl/thrift_test.thrift";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={IDL}");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let status =
        Command::new("thrift").args(["--gen", "rs", "-out"]).arg(&out).arg(IDL).status().map_err(|e| {
            format!("apache-peer needs Apache's compiler `thrift` on PATH (Debian: thrift-compiler): {e}")
        })?;
    if !status.success() {
        return Err(format!("`thrift --gen rs` failed: {status}").into());
    }
    let generated = std::fs::read_to_string(out.join("thrift_test.rs"))?;
    let body: String = generated.lines().filter(|l| !l.starts_with("#![")).map(|l| format!("{l}\n")).collect();
    std::fs::write(out.join("thrift_test_module.rs"), body)?;
    Ok(())
}
