//! Golden tests over the IDL corpus in `test_data/` (see its README.md).
//!
//! Each `test_data/{parse,resolve}/{ok,err}/NNNN_name.thrift` is checked
//! with [`crate::check`] and its rendered diagnostics compared with the
//! sibling `NNNN_name.stderr` (absent when there are none);
//! `UPDATE_EXPECT=1 cargo test -p thrift-gen` rewrites the goldens. A
//! `# expect:` line lists every diagnostic code the case must produce, and
//! no others. `apache_differential` runs Apache's `thrift` 0.17 on the same
//! corpus and pins every place where it disagrees with us.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{FsLoader, LoadedFile, Options, SourceLoader, check};

/// The corpus root.
fn test_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data")
}

/// Reads files relative to `test_data/`, so every path the front end sees,
/// and so every path in a rendered diagnostic, is relative to it: goldens do
/// not depend on where the repository is checked out.
struct TestDataLoader {
    root: PathBuf,
}

impl SourceLoader for TestDataLoader {
    fn load(&self, path: &Path) -> io::Result<Option<LoadedFile>> {
        FsLoader.load(&self.root.join(path))
    }
}

/// One corpus file and what its header says about it.
#[derive(Debug)]
struct Case {
    /// Path relative to `test_data/`, such as `resolve/err/0001_x.thrift`.
    path: PathBuf,
    /// Whether it sits in an `ok` directory.
    ok: bool,
    /// Every diagnostic code it must produce (with repeats), sorted.
    expect: Vec<String>,
    /// `-I` directories, relative to `test_data/`, in order.
    include_dirs: Vec<PathBuf>,
}

impl Case {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn golden(&self) -> PathBuf {
        test_data().join(self.path.with_extension("stderr"))
    }

    fn options(&self) -> Options {
        Options { include_dirs: self.include_dirs.clone(), ..Options::default() }
    }
}

/// The directive lines at the top of a case: `# expect: CODE...` and
/// `# include-dir: DIR` (relative to the case's directory), before the first
/// line that is not a `#` comment.
fn parse_header(dir: &Path, text: &str) -> (Vec<String>, Vec<PathBuf>) {
    let mut expect = Vec::new();
    let mut include_dirs = Vec::new();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let line = line.trim_start_matches('#').trim();
        if let Some(codes) = line.strip_prefix("expect:") {
            expect.extend(codes.split_whitespace().map(String::from));
        } else if let Some(d) = line.strip_prefix("include-dir:") {
            include_dirs.push(dir.join(d.trim()));
        }
    }
    expect.sort();
    (expect, include_dirs)
}

/// The cases of one directory (`parse/ok`, ...), in file name order. Only
/// the directory's own `.thrift` files are cases; subdirectories hold the
/// files they include.
fn cases(dir: &str) -> Vec<Case> {
    let ok = dir.ends_with("/ok");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(test_data().join(dir))
        .unwrap_or_else(|e| panic!("cannot list test_data/{dir}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "thrift"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|abs| {
            let file_name = abs.file_name().expect("file name").to_owned();
            let text = std::fs::read_to_string(&abs).unwrap_or_else(|e| panic!("{}: {e}", abs.display()));
            let (expect, include_dirs) = parse_header(Path::new(dir), &text);
            Case { path: Path::new(dir).join(file_name), ok, expect, include_dirs }
        })
        .collect()
}

/// Checks every case of `dir` against its header and golden; reports all
/// failures at once.
fn check_dir(dir: &str) {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let loader = TestDataLoader { root: test_data() };
    let all = cases(dir);
    assert!(!all.is_empty(), "test_data/{dir} holds no cases");
    let mut failures = String::new();
    for case in &all {
        let out = check(&loader, std::slice::from_ref(&case.path), &case.options());
        let rendered = out.render_diagnostics(true, false);
        let mut codes: Vec<String> = out.diagnostics.iter().map(|d| d.code.to_string()).collect();
        codes.sort();
        let name = case.name();
        let mut fail = |message: String| {
            let _ = writeln!(failures, "--- {name}: {message}");
        };
        if case.ok && out.diagnostics.has_errors() {
            fail(format!("an ok case has errors:\n{rendered}"));
        }
        if !case.ok && !out.diagnostics.has_errors() {
            fail(format!("an err case was accepted:\n{rendered}"));
        }
        if !case.ok && case.expect.is_empty() {
            fail("an err case needs an `# expect: TGnnnn` line".into());
        }
        if case.ok == out.model.is_none() {
            fail(format!("the model is {} although the case is {}", if case.ok { "missing" } else { "present" }, dir));
        }
        if codes != case.expect {
            fail(format!("codes {codes:?} differ from `# expect:` {:?}:\n{rendered}", case.expect));
        }
        if rendered.contains(&*test_data().to_string_lossy()) {
            fail(format!("the output holds an absolute path:\n{rendered}"));
        }
        let golden = case.golden();
        if update {
            let written =
                if rendered.is_empty() { remove_if_present(&golden) } else { std::fs::write(&golden, &rendered) };
            written.unwrap_or_else(|e| panic!("cannot update {}: {e}", golden.display()));
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if expected != rendered {
            fail(format!(
                "diagnostics differ from {} (rerun with UPDATE_EXPECT=1 to accept)\n=== expected\n{expected}=== actual\n{rendered}",
                golden.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[test]
fn parse_ok() {
    check_dir("parse/ok");
}

#[test]
fn parse_err() {
    check_dir("parse/err");
}

#[test]
fn resolve_ok() {
    check_dir("resolve/ok");
}

#[test]
fn resolve_err() {
    check_dir("resolve/err");
}

const CASE_DIRS: [&str; 4] = ["parse/ok", "parse/err", "resolve/ok", "resolve/err"];

/// Names are `NNNN_snake_name.thrift`, numbers unique per directory, every
/// golden belongs to a case, and every code in an `# expect:` line exists.
#[test]
fn corpus_is_well_formed() {
    // Every code is a `"TGnnnn"`/`"TWnnnn"` literal in the `codes` module.
    let source = include_str!("diagnostics.rs");
    let codes_module = &source[source.find("pub mod codes").expect("the codes module")..];
    let known: Vec<&str> = codes_module.split('"').filter(|s| s.len() == 6 && s.starts_with('T')).collect();
    assert!(known.len() > 30, "found only {known:?} in the codes module");
    let mut problems = String::new();
    for dir in CASE_DIRS {
        let mut numbers = BTreeMap::new();
        for case in cases(dir) {
            let stem = case.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let well_named = stem.len() > 5
                && stem.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                && stem.as_bytes()[4] == b'_'
                && stem[5..].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !well_named {
                let _ = writeln!(problems, "{}: not named NNNN_snake_case.thrift", case.name());
                continue;
            }
            if let Some(other) = numbers.insert(stem[..4].to_string(), case.name()) {
                let _ = writeln!(problems, "{} and {other} share a number", case.name());
            }
            for code in &case.expect {
                if !known.contains(&code.as_str()) {
                    let _ = writeln!(problems, "{}: `# expect:` names unknown code {code}", case.name());
                }
            }
            for d in &case.include_dirs {
                if !test_data().join(d).is_dir() {
                    let _ = writeln!(problems, "{}: include-dir {} does not exist", case.name(), d.display());
                }
            }
        }
        for entry in std::fs::read_dir(test_data().join(dir)).expect("case directory") {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|e| e == "stderr") && !path.with_extension("thrift").is_file() {
                let _ = writeln!(problems, "{}: golden without a case", path.display());
            }
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

// ----- differential test against Apache Thrift 0.17 ----------------------

/// Where Apache's `thrift` 0.17 does not do what our verdict says it should
/// (accept every ok case, reject every err case), with the reason.
#[derive(Clone, Copy, Debug)]
enum ApacheDiffers {
    /// Apache hangs or crashes on it: never run.
    Skip(&'static str),
    /// A bad input Apache 0.17 accepts (exit 0): we are stricter.
    WronglyAccepts(&'static str),
    /// A good input Apache 0.17 rejects because 0.18+ allows it.
    Needs018(&'static str),
    /// A good input Apache 0.17 rejects for another reason.
    Rejects(&'static str),
    /// Valid IDL past a limit of ours (which keeps the front end from
    /// overflowing its stack): Apache accepts it.
    OurLimit(&'static str),
}

impl ApacheDiffers {
    fn describe(self) -> String {
        match self {
            ApacheDiffers::Skip(why) => format!("not run: {why}"),
            ApacheDiffers::WronglyAccepts(why) => format!("listed as wrongly accepted by Apache: {why}"),
            ApacheDiffers::Needs018(why) => format!("listed as 0.18+ only: {why}"),
            ApacheDiffers::Rejects(why) => format!("listed as rejected by Apache: {why}"),
            ApacheDiffers::OurLimit(why) => format!("listed as past a limit of ours: {why}"),
        }
    }
}

const APACHE_DIFFERS: &[(&str, ApacheDiffers)] = &[
    ("parse/ok/0008_keywords_as_names.thrift", ApacheDiffers::Needs018("Thrift keywords as names (THRIFT-5626)")),
    (
        "parse/ok/0009_rust_keywords.thrift",
        ApacheDiffers::Needs018("0.17 rejects cross-language reserved words such as `self` (THRIFT-5626)"),
    ),
    (
        "parse/ok/0011_senum.thrift",
        ApacheDiffers::Rejects("0.17 dropped `senum`; we keep it as a deprecated string typedef, with a warning"),
    ),
    (
        "parse/ok/0015_const_annotations.thrift",
        ApacheDiffers::Rejects("Apache's grammar has no annotations after a constant; we accept them"),
    ),
    (
        "parse/ok/0016_keyword_enum_members.thrift",
        ApacheDiffers::Rejects("Apache's grammar takes no keywords as enum member names; we accept them"),
    ),
    ("resolve/ok/0016_uuid.thrift", ApacheDiffers::Needs018("the `uuid` type (THRIFT-5591)")),
    (
        "resolve/ok/0018_struct_const_by_name.thrift",
        ApacheDiffers::Rejects("0.17 wants a literal map where a struct is expected, not a struct constant's name"),
    ),
    ("parse/err/0015_nesting_too_deep.thrift", ApacheDiffers::OurLimit("types nest at most 128 levels deep")),
    ("parse/err/0002_unterminated_comment.thrift", ApacheDiffers::Skip("an unterminated `/*` hangs, memory growing")),
    ("resolve/err/0015_cyclic_include.thrift", ApacheDiffers::Skip("an include cycle segfaults")),
    ("resolve/err/0016_self_include.thrift", ApacheDiffers::Skip("a self-include segfaults")),
    ("resolve/err/0017_typedef_cycle.thrift", ApacheDiffers::Skip("a typedef cycle hangs")),
    ("resolve/err/0019_typedef_cycle_through_container.thrift", ApacheDiffers::Skip("a typedef cycle hangs")),
    ("resolve/err/0014_missing_include.thrift", ApacheDiffers::WronglyAccepts("a missing include is a warning")),
    ("resolve/err/0018_self_typedef.thrift", ApacheDiffers::WronglyAccepts("`typedef T T` passes")),
    ("resolve/err/0027_const_i8_overflow.thrift", ApacheDiffers::WronglyAccepts("only i64 range is checked")),
    ("resolve/err/0028_const_i16_overflow.thrift", ApacheDiffers::WronglyAccepts("only i64 range is checked")),
    ("resolve/err/0029_const_i32_overflow.thrift", ApacheDiffers::WronglyAccepts("only i64 range is checked")),
    ("resolve/err/0032_field_id_zero.thrift", ApacheDiffers::WronglyAccepts("id 0 is replaced, with a warning")),
    (
        "resolve/err/0033_field_id_negative.thrift",
        ApacheDiffers::WronglyAccepts("ids < 0 are replaced, with a warning"),
    ),
    ("resolve/err/0034_field_id_too_large.thrift", ApacheDiffers::WronglyAccepts("id > 32767 is a warning")),
    ("resolve/err/0035_oneway_with_result.thrift", ApacheDiffers::WronglyAccepts("oneway non-void is a warning")),
    (
        "resolve/err/0053_union_const_two_members.thrift",
        ApacheDiffers::WronglyAccepts("a union constant may set several members"),
    ),
    (
        "resolve/err/0044_duplicate_include_name.thrift",
        ApacheDiffers::WronglyAccepts("two includes with one basename pass silently"),
    ),
];

/// Runs Apache's compiler on `case` under a time limit; returns its exit
/// code and output, or `None` when `thrift` is not installed.
fn run_apache(case: &Case) -> Option<(Option<i32>, String)> {
    let out_dir = tempfile::tempdir().expect("temporary directory");
    let root = test_data();
    let mut cmd = Command::new("timeout");
    // Apache has hung on inputs not listed as skipped before; a time limit
    // turns that into a failure instead of a stuck test run.
    cmd.args(["--kill-after=5", "60", "thrift", "--gen", "rs", "-out"]).arg(out_dir.path());
    for dir in &case.include_dirs {
        cmd.arg("-I").arg(root.join(dir));
    }
    cmd.arg(root.join(&case.path));
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run `timeout thrift`: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // `timeout` exits 127 when it cannot find the program.
    if output.status.code() == Some(127) {
        return None;
    }
    Some((output.status.code(), stderr + &String::from_utf8_lossy(&output.stdout)))
}

#[test]
#[allow(clippy::print_stderr, reason = "the skip message when `thrift` is missing outside CI")]
fn apache_differential() {
    let loader = TestDataLoader { root: test_data() };
    let all: Vec<Case> = CASE_DIRS.iter().flat_map(|d| cases(d)).collect();
    for (name, _) in APACHE_DIFFERS {
        assert!(all.iter().any(|c| c.name() == *name), "APACHE_DIFFERS names {name}, which is no case");
    }
    let mut failures = String::new();
    for case in &all {
        let name = case.name();
        let ours_ok = !check(&loader, std::slice::from_ref(&case.path), &case.options()).diagnostics.has_errors();
        if ours_ok != case.ok {
            let _ = writeln!(failures, "--- {name}: we {}", if ours_ok { "accept it" } else { "reject it" });
        }
        let differs = APACHE_DIFFERS.iter().find(|(n, _)| *n == name).map(|(_, d)| *d);
        let apache_should_accept = match differs {
            Some(ApacheDiffers::Skip(_)) => continue,
            Some(ApacheDiffers::WronglyAccepts(_) | ApacheDiffers::OurLimit(_)) => true,
            Some(ApacheDiffers::Needs018(_) | ApacheDiffers::Rejects(_)) => false,
            None => case.ok,
        };
        let Some((code, output)) = run_apache(case) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "Apache `thrift` (Debian package thrift-compiler) is required in CI"
            );
            eprintln!("skipping apache_differential: `thrift` is not installed (apt-get install thrift-compiler)");
            return;
        };
        // 0 accepts and 1 rejects; anything else (124 timeout, 128+n signal)
        // is a hang or crash that belongs in the Skip list.
        let verdict = match code {
            Some(0) => "accepts",
            Some(1) => "rejects",
            _ => "crashes or hangs on",
        };
        let expected = if apache_should_accept { "accepts" } else { "rejects" };
        if verdict != expected {
            let _ = writeln!(
                failures,
                "--- {name}: Apache {verdict} it (exit {code:?}), but the table says it {expected} it ({})\n{output}",
                differs.map_or_else(|| "no difference listed".to_string(), ApacheDiffers::describe)
            );
        }
    }
    assert!(failures.is_empty(), "{failures}");
}
