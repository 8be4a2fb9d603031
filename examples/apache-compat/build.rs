//! Generates the app's code with Apache's compiler, as the app always did.
//! Apache's generated file starts with inner attributes, which cannot be
//! `include!`d into a module, so they are dropped here.

use std::path::PathBuf;
use std::process::Command;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=echo_svc.thrift");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let status =
        Command::new("thrift").args(["--gen", "rs", "-out"]).arg(&out).arg("echo_svc.thrift").status().map_err(
            |e| format!("this example needs Apache's compiler `thrift` on PATH (Debian: thrift-compiler): {e}"),
        )?;
    if !status.success() {
        return Err(format!("`thrift --gen rs` failed: {status}").into());
    }
    let generated = std::fs::read_to_string(out.join("echo_svc.rs"))?;
    let body: String = generated.lines().filter(|l| !l.starts_with("#![")).map(|l| format!("{l}\n")).collect();
    std::fs::write(out.join("echo_svc_module.rs"), body)?;
    Ok(())
}
