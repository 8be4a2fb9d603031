//! Generates the benchmark's types three times from `idl/bench.thrift`,
//! each generator writing into its own directory under `OUT_DIR`:
//!
//! - `ours/`: thrift-mu2sls, through `thrift_gen::Builder`;
//! - `apache/bench.rs`: Apache's `thrift --gen rs` (Debian's 0.17; set
//!   `THRIFT` to use another binary);
//! - `pilota/bench.rs`: pilota-build.
//!
//! The echo RPC benchmark's service, `idl/echo.thrift`, is compiled the
//! same way into `ours_echo/`, `apache/echo.rs` and (volo-build, which
//! adds Volo's service glue to pilota's types) `volo/volo_gen.rs`.
//!
//! Nothing generated here is committed.

use std::path::{Path, PathBuf};
use std::process::Command;

const IDL: &str = "idl/bench.thrift";
const ECHO_IDL: &str = "idl/echo.thrift";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts"));
    println!("cargo:rerun-if-changed={IDL}");
    println!("cargo:rerun-if-changed={ECHO_IDL}");
    println!("cargo:rerun-if-env-changed=THRIFT");

    let ours = out.join("ours");
    thrift_gen::Builder::new().out_dir(&ours).compile(&[IDL]).unwrap_or_else(|e| panic!("{e}"));

    thrift_gen::Builder::new().out_dir(out.join("ours_echo")).compile(&[ECHO_IDL]).unwrap_or_else(|e| panic!("{e}"));

    apache(&out.join("apache"), IDL, "bench.rs");
    apache(&out.join("apache"), ECHO_IDL, "echo.rs");

    let pilota = out.join("pilota");
    std::fs::create_dir_all(&pilota).expect("create OUT_DIR/pilota");
    pilota_build::Builder::thrift().ignore_unused(false).compile_with_config(
        vec![pilota_build::IdlService::from_path(PathBuf::from(IDL))],
        pilota_build::Output::File(pilota.join("bench.rs")),
    );

    volo_build::Builder::thrift()
        .add_service(ECHO_IDL)
        .out_dir(out.join("volo"))
        .write()
        .unwrap_or_else(|e| panic!("volo-build {ECHO_IDL}: {e}"));
}

/// Runs `thrift --gen rs` and makes its output includable: `include!`
/// takes no inner attributes, so the file's `#![...]` lines are dropped
/// (the crate allows what they allowed where it includes the file).
fn apache(dir: &Path, idl: &str, file: &str) {
    let thrift = std::env::var("THRIFT").unwrap_or_else(|_| "/usr/bin/thrift".to_owned());
    std::fs::create_dir_all(dir).expect("create OUT_DIR/apache");
    let status = Command::new(&thrift)
        .args(["--gen", "rs", "-out"])
        .arg(dir)
        .arg(idl)
        .status()
        .unwrap_or_else(|e| panic!("cannot run `{thrift}` (Debian package thrift-compiler): {e}"));
    assert!(status.success(), "`{thrift} --gen rs {idl}` failed: {status}");
    let file = dir.join(file);
    let text = std::fs::read_to_string(&file).expect("read Apache's generated file");
    let kept: String = text.lines().filter(|l| !l.trim_start().starts_with("#![")).flat_map(|l| [l, "\n"]).collect();
    std::fs::write(&file, kept).expect("write Apache's generated file");
}
