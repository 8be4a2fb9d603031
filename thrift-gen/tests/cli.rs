//! End-to-end tests of the `thrift-mu2sls` binary: `--help`, exit codes,
//! where files are written, and each flag that changes what is read or
//! written. Every test runs the real binary in its own temporary directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary directory to run the compiler in.
struct Sandbox {
    dir: tempfile::TempDir,
}

/// What one run of the binary did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Panics with the full output unless the exit code is `code`.
    fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temporary directory") }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `text` to `rel`, creating directories.
    fn write(&self, rel: &str, text: &str) -> &Sandbox {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create directories");
        std::fs::write(path, text).expect("write file");
        self
    }

    fn mkdir(&self, rel: &str) {
        std::fs::create_dir_all(self.path(rel)).expect("create directory");
    }

    /// Runs `thrift-mu2sls args...` with the sandbox as working directory.
    fn run(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_thrift-mu2sls"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("NO_COLOR")
            .output()
            .expect("run thrift-mu2sls");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The files under `rel`, as paths relative to it (empty when it does not exist).
    fn files_under(&self, rel: &str) -> BTreeSet<String> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for entry in entries {
                let path = entry.expect("directory entry").path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    let rel = path.strip_prefix(root).expect("under root");
                    out.insert(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let mut out = BTreeSet::new();
        let root = self.path(rel);
        walk(&root, &root, &mut out);
        out
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

const SHAPES: &str = "enum Shape { CIRCLE = 1, SQUARE }\nstruct Drawing { 1: Shape shape }\n";

#[test]
fn help_is_pinned() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["--help"]);
    run.expect_code(0);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/cli/help.stdout");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&golden, &run.stdout).expect("update the help golden");
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(run.stdout, expected, "`--help` changed (rerun with UPDATE_EXPECT=1 to accept)");
    // Apache spells it with one dash.
    assert_eq!(sandbox.run(&["-help"]).expect_code(0).stdout, expected);
}

#[test]
fn version_is_printed() {
    let sandbox = Sandbox::new();
    for flag in ["--version", "-version"] {
        let run = sandbox.run(&[flag]);
        run.expect_code(0);
        assert!(run.stdout.starts_with("thrift-mu2sls "), "{flag}: {}", run.stdout);
    }
}

#[test]
fn good_idl_exits_0_and_bad_idl_exits_1_with_every_error() {
    let sandbox = Sandbox::new();
    sandbox.write("good.thrift", SHAPES);
    sandbox.write("bad.thrift", "struct A {\n  1: Missing m,\n  1: i32 again\n}\n");
    sandbox.mkdir("out");
    let run = sandbox.run(&["--gen", "rust", "-out", "out", "good.thrift"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "");
    let run = sandbox.run(&["--gen", "rust", "-out", "out", "bad.thrift"]);
    run.expect_code(1);
    assert!(run.stderr.contains("error[TG0040]: unknown type `Missing`"), "{}", run.stderr);
    assert!(run.stderr.contains("error[TG0031]"), "{}", run.stderr);
    // Paths are shown as given on the command line.
    assert!(run.stderr.contains("┌─ bad.thrift:2:6"), "{}", run.stderr);
    assert!(run.stderr.ends_with("error: could not compile: 2 errors\n"), "{}", run.stderr);
    assert_eq!(sandbox.files_under("out"), set(&["good.rs", "mod.rs"]), "nothing is written for bad input");
}

#[test]
fn missing_input_exits_1() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["--gen", "rust", "nowhere.thrift"]);
    run.expect_code(1);
    assert!(run.stderr.contains("error[TG0060]: cannot read `nowhere.thrift`: no such file"), "{}", run.stderr);
}

#[test]
fn unknown_generator_lists_the_valid_one() {
    let sandbox = Sandbox::new();
    sandbox.write("a.thrift", SHAPES);
    let run = sandbox.run(&["--gen", "py", "a.thrift"]);
    run.expect_code(1);
    assert!(run.stderr.contains("unknown generator `py`"), "{}", run.stderr);
    assert!(run.stderr.contains("`rust` (alias `rs`)"), "{}", run.stderr);
    assert!(sandbox.files_under("gen-rust").is_empty());
}

#[test]
fn unknown_generator_option_lists_the_valid_ones() {
    let sandbox = Sandbox::new();
    sandbox.write("a.thrift", SHAPES);
    let run = sandbox.run(&["--gen", "rust:frob", "a.thrift"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(
            "unknown option `frob` for generator `rust`; valid options: apache_compat, btree, exactly_once, rustfmt, serde"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn unusable_command_lines_exit_1() {
    let sandbox = Sandbox::new();
    sandbox.write("a.thrift", SHAPES);
    for (args, message) in [
        (&["--frobnicate", "a.thrift"][..], "unexpected argument"),
        (&["--gen", "rust"][..], "FILE"),
        (&["a.thrift"][..], "no generator given"),
        (&["--gen", "rust", "-o", "x", "-out", "y", "a.thrift"][..], "not both"),
        (&["--gen", "rust", "-out", "missing_dir", "a.thrift"][..], "`missing_dir` does not exist"),
    ] {
        let run = sandbox.run(args);
        run.expect_code(1);
        assert!(run.stderr.contains(message), "{args:?}: expected {message:?} in\n{}", run.stderr);
    }
}

#[test]
fn dash_o_writes_into_gen_rust() {
    let sandbox = Sandbox::new();
    sandbox.write("idl/shapes.thrift", SHAPES);
    sandbox.run(&["--gen", "rust", "-o", "build", "idl/shapes.thrift"]).expect_code(0);
    assert_eq!(sandbox.files_under("build"), set(&["gen-rust/mod.rs", "gen-rust/shapes.rs"]));
    let module = std::fs::read_to_string(sandbox.path("build/gen-rust/shapes.rs")).expect("generated module");
    assert!(module.contains("Shape"), "{module}");
    // Without -o or -out, Apache writes ./gen-rust.
    sandbox.run(&["--gen", "rs", "idl/shapes.thrift"]).expect_code(0);
    assert_eq!(sandbox.files_under("gen-rust"), set(&["mod.rs", "shapes.rs"]));
}

#[test]
fn dash_out_writes_into_the_directory_itself() {
    let sandbox = Sandbox::new();
    sandbox.write("shapes.thrift", SHAPES);
    for flag in ["-out", "--out"] {
        let dir = format!("out{flag}");
        sandbox.mkdir(&dir);
        sandbox.run(&["--gen", "rust", flag, &dir, "shapes.thrift"]).expect_code(0);
        assert_eq!(sandbox.files_under(&dir), set(&["mod.rs", "shapes.rs"]), "{flag}");
    }
    // Apache's single-dash `-gen` too.
    sandbox.mkdir("apache");
    sandbox.run(&["-gen", "rs", "-out", "apache", "shapes.thrift"]).expect_code(0);
    assert_eq!(sandbox.files_under("apache"), set(&["mod.rs", "shapes.rs"]));
}

#[test]
fn include_dirs_are_searched_in_order() {
    let sandbox = Sandbox::new();
    sandbox.write("first/common.thrift", "struct FromFirst { 1: i32 n }\n");
    sandbox.write("second/common.thrift", "struct FromSecond { 1: i32 n }\n");
    sandbox.write("main.thrift", "include \"common.thrift\"\nstruct Main { 1: common.FromFirst f }\n");
    sandbox.run(&["--check", "-I", "first", "-I", "second", "main.thrift"]).expect_code(0);
    let run = sandbox.run(&["--check", "-I", "second", "-I", "first", "main.thrift"]);
    run.expect_code(1);
    assert!(run.stderr.contains("unknown type `common.FromFirst`"), "{}", run.stderr);
    let run = sandbox.run(&["--check", "main.thrift"]);
    run.expect_code(1);
    assert!(run.stderr.contains("error[TG0020]: cannot find included file `common.thrift`"), "{}", run.stderr);
}

#[test]
fn recurse_also_generates_included_files() {
    let sandbox = Sandbox::new();
    sandbox.write("lib.thrift", "struct Lib { 1: i32 n }\n");
    sandbox.write("app.thrift", "include \"lib.thrift\"\nstruct App { 1: lib.Lib lib }\n");
    sandbox.mkdir("flat");
    sandbox.mkdir("deep");
    sandbox.run(&["--gen", "rust", "-out", "flat", "app.thrift"]).expect_code(0);
    assert_eq!(sandbox.files_under("flat"), set(&["app.rs", "mod.rs"]));
    sandbox.run(&["--gen", "rust", "-r", "-out", "deep", "app.thrift"]).expect_code(0);
    assert_eq!(sandbox.files_under("deep"), set(&["app.rs", "lib.rs", "mod.rs"]));
    sandbox.mkdir("long");
    sandbox.run(&["--gen", "rust", "--recurse", "-out", "long", "app.thrift"]).expect_code(0);
    assert_eq!(sandbox.files_under("long"), set(&["app.rs", "lib.rs", "mod.rs"]));
}

#[test]
fn several_inputs_in_one_run() {
    let sandbox = Sandbox::new();
    sandbox.write("one.thrift", "struct One { 1: i32 n }\n");
    sandbox.write("two.thrift", "struct Two { 1: i32 n }\n");
    sandbox.mkdir("out");
    sandbox.run(&["--gen", "rust", "-out", "out", "one.thrift", "two.thrift"]).expect_code(0);
    assert_eq!(sandbox.files_under("out"), set(&["mod.rs", "one.rs", "two.rs"]));
    let mod_rs = std::fs::read_to_string(sandbox.path("out/mod.rs")).expect("mod.rs");
    assert!(mod_rs.contains("one") && mod_rs.contains("two"), "{mod_rs}");
    // Errors in any of them fail the whole run, and all are reported.
    sandbox.write("bad1.thrift", "struct B1 { 1: Nope n }\n");
    sandbox.write("bad2.thrift", "struct B2 { 1: Neither n }\n");
    let run = sandbox.run(&["--check", "one.thrift", "bad1.thrift", "bad2.thrift"]);
    run.expect_code(1);
    assert!(run.stderr.contains("`Nope`") && run.stderr.contains("`Neither`"), "{}", run.stderr);
}

#[test]
fn check_writes_nothing() {
    let sandbox = Sandbox::new();
    sandbox.write("good.thrift", SHAPES);
    sandbox.write("bad.thrift", "const i8 X = 300\n");
    let run = sandbox.run(&["--check", "good.thrift"]);
    run.expect_code(0);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
    let run = sandbox.run(&["--check", "bad.thrift"]);
    run.expect_code(1);
    assert!(run.stderr.contains("error[TG0005]: 300 does not fit in `i8`"), "{}", run.stderr);
    assert_eq!(sandbox.files_under(""), set(&["bad.thrift", "good.thrift"]));
}

#[test]
fn warnings_are_shown_unless_nowarn() {
    let sandbox = Sandbox::new();
    sandbox.write("legacy.thrift", "struct Legacy { i32 implicit }\n");
    let run = sandbox.run(&["--check", "legacy.thrift"]);
    run.expect_code(0);
    assert!(run.stderr.contains("warning[TW0001]"), "{}", run.stderr);
    for flag in ["-nowarn", "--nowarn"] {
        let run = sandbox.run(&["--check", flag, "legacy.thrift"]);
        run.expect_code(0);
        assert_eq!(run.stderr, "", "{flag}");
    }
    let run = sandbox.run(&["--check", "-strict", "legacy.thrift"]);
    run.expect_code(1);
    assert!(run.stderr.contains("error[TG0036]"), "{}", run.stderr);
}

#[test]
fn dump_model_prints_json() {
    let sandbox = Sandbox::new();
    sandbox.write("lib.thrift", "typedef i64 Id\n");
    sandbox.write(
        "shapes.thrift",
        "include \"lib.thrift\"\nnamespace rs geometry\nenum Shape { CIRCLE = 1, SQUARE }\n\
         struct Drawing { 1: required Shape shape, 2: lib.Id id }\nconst Shape DEFAULT = Shape.SQUARE\n",
    );
    let run = sandbox.run(&["--dump-model", "shapes.thrift"]);
    run.expect_code(0);
    let model: serde_json::Value = serde_json::from_str(&run.stdout).expect("--dump-model prints JSON");
    let programs = model["programs"].as_array().expect("programs");
    let names: Vec<&str> = programs.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["lib", "shapes"], "included files come first");
    let roots = model["roots"].as_array().expect("roots");
    assert_eq!(roots.len(), 1);
    let root = &programs[roots[0].as_u64().expect("root index") as usize];
    assert_eq!(root["namespaces"]["rs"], "geometry");
    assert_eq!(root["enums"][0]["name"], "Shape");
    assert_eq!(root["enums"][0]["values"][1]["value"], 2);
    assert_eq!(root["structs"][0]["name"], "Drawing");
    assert_eq!(root["structs"][0]["fields"][1]["name"], "id");
    assert_eq!(root["consts"][0]["name"], "DEFAULT");
    assert_eq!(sandbox.files_under(""), set(&["lib.thrift", "shapes.thrift"]), "--dump-model writes no files");
    let run = sandbox.write("bad.thrift", "struct X { 1: Y y }\n").run(&["--dump-model", "bad.thrift"]);
    run.expect_code(1);
    assert_eq!(run.stdout, "", "no model for bad input");
}

#[test]
fn allow_neg_keys_accepts_ids_of_0_and_below() {
    let sandbox = Sandbox::new();
    sandbox.write("old.thrift", "struct Old { 0: i32 zero, -5: i32 negative }\n");
    let run = sandbox.run(&["--check", "old.thrift"]);
    run.expect_code(1);
    assert_eq!(run.stderr.matches("error[TG0035]").count(), 2, "{}", run.stderr);
    for flag in ["--allow-neg-keys", "-allow-neg-keys"] {
        sandbox.run(&["--check", flag, "old.thrift"]).expect_code(0);
    }
}
