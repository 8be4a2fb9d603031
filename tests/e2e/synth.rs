//! The synthetic IDL of the compiler benchmark (`synth-idl`, run by
//! `bench/compiler.sh`): one seed gives byte-identical files, and both
//! thrift-mu2sls and Apache Thrift 0.17 accept them, so the benchmark
//! compares the two compilers on input both compile.

use std::path::Path;
use std::process::Command;

use thrift_gen::{FsLoader, Options, check};

/// A small IDL: every kind of definition the generator writes, quickly.
const LINES: usize = 2_000;

/// `(file name, contents)` in name order.
type Files = Vec<(String, Vec<u8>)>;

fn synthesize(seed: u64, dir: &Path) -> Files {
    let out = Command::new(env!("CARGO_BIN_EXE_synth-idl"))
        .args(["--seed", &seed.to_string(), "--lines", &LINES.to_string(), "--out"])
        .arg(dir)
        .output()
        .expect("cannot run synth-idl");
    assert!(out.status.success(), "synth-idl failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let mut files: Files = std::fs::read_dir(dir)
        .expect("cannot list the output directory")
        .map(|entry| {
            let path = entry.expect("cannot read a directory entry").path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (name, std::fs::read(&path).expect("cannot read a generated file"))
        })
        .collect();
    files.sort();
    files
}

fn line_count(files: &Files) -> usize {
    files.iter().map(|(_, text)| text.iter().filter(|&&b| b == b'\n').count()).sum()
}

#[test]
fn one_seed_gives_identical_files() {
    let (a, b, c) = (tempdir(), tempdir(), tempdir());
    let first = synthesize(42, a.path());
    let names: Vec<&str> = first.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["base.thrift", "domain_1.thrift", "domain_2.thrift", "domain_3.thrift", "domain_4.thrift", "top.thrift"]
    );
    assert!(line_count(&first) >= LINES, "only {} lines", line_count(&first));

    let second = synthesize(42, b.path());
    for ((name, x), (_, y)) in first.iter().zip(&second) {
        assert!(x == y, "seed 42 gave two different `{name}`");
    }
    assert_eq!(first.len(), second.len());

    let other = synthesize(43, c.path());
    assert!(first != other, "seeds 42 and 43 gave the same files");
}

#[test]
fn thrift_mu2sls_accepts_the_synthetic_idl_cleanly() {
    let dir = tempdir();
    synthesize(7, dir.path());
    let out = check(&FsLoader, &[dir.path().join("top.thrift")], &Options::default());
    let rendered = out.render_diagnostics(true, false);
    // Warnings count too: a clean IDL keeps the benchmark about compiling,
    // not about rendering diagnostics.
    assert!(out.diagnostics.is_empty(), "diagnostics on the synthetic IDL:\n{rendered}");
    let model = out.model.expect("no model without errors");
    let mut programs: Vec<&str> = model.programs.iter().map(|p| p.name.as_str()).collect();
    programs.sort_unstable();
    assert_eq!(programs, ["base", "domain_1", "domain_2", "domain_3", "domain_4", "top"]);
}

#[test]
fn apache_thrift_accepts_the_synthetic_idl() {
    let thrift = Path::new("/usr/bin/thrift");
    if !thrift.exists() {
        // Locally the interop half is optional; CI must have Apache Thrift.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but /usr/bin/thrift is missing: install Apache Thrift 0.17 (Debian package `thrift-compiler`)"
        );
        return;
    }
    let dir = tempdir();
    synthesize(7, dir.path());
    let out_dir = dir.path().join("gen-rs");
    std::fs::create_dir(&out_dir).expect("cannot create the output directory");
    let out = Command::new(thrift)
        .args(["-r", "--gen", "rs", "-out"])
        .arg(&out_dir)
        .arg(dir.path().join("top.thrift"))
        .output()
        .expect("cannot run /usr/bin/thrift");
    assert!(
        out.status.success(),
        "Apache thrift rejected the synthetic IDL ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["base.rs", "domain_1.rs", "domain_4.rs", "top.rs"] {
        assert!(out_dir.join(name).is_file(), "Apache thrift wrote no `{name}`");
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("cannot create a temporary directory")
}
