//! Apache's Python library (Debian's `python3-thrift` 0.17) as a peer,
//! through `tests/py/interop.py`. Bytes travel through files in a
//! temporary directory.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::Proto;

/// Debian's compiler; the Python types are generated at test time.
const THRIFT: &str = "/usr/bin/thrift";
/// Debian's interpreter: the only one that can import Debian's
/// `python3-thrift`.
const PYTHON: &str = "/usr/bin/python3";

/// Python types generated from `tests/idl/interop.thrift`, in a
/// temporary directory.
pub(super) struct Python {
    dir: TempDir,
}

impl Python {
    /// Generates the Python types. Without the Debian packages this fails
    /// in CI (env var `CI` set) and otherwise returns `None` after a note
    /// saying what to install.
    #[allow(clippy::print_stderr, reason = "a skipped test must say so and why")]
    pub(super) fn setup() -> Option<Python> {
        let missing = if !Path::new(THRIFT).exists() {
            Some("thrift-compiler (for /usr/bin/thrift)")
        } else if !imports_thrift() {
            Some("python3-thrift (for the `thrift` module of /usr/bin/python3)")
        } else {
            None
        };
        if let Some(package) = missing {
            assert!(
                std::env::var_os("CI").is_none(),
                "codec interop with Apache Python: the Debian package {package} is missing (.ci/run installs it)"
            );
            eprintln!("note: SKIPPED codec interop with Apache Python: install the Debian package {package} to run it");
            return None;
        }
        let dir = tempfile::tempdir().expect("cannot create a temporary directory");
        let gen_dir = dir.path().join("gen");
        std::fs::create_dir(&gen_dir).expect("cannot create the Python output directory");
        let out = Command::new(THRIFT)
            .args(["--gen", "py", "-out"])
            .arg(&gen_dir)
            .arg(manifest_dir().join("idl/interop.thrift"))
            .output()
            .expect("cannot run /usr/bin/thrift");
        assert!(out.status.success(), "thrift --gen py failed:\n{}", String::from_utf8_lossy(&out.stderr));
        Some(Python { dir })
    }

    /// Every sample as Python writes it: file stem
    /// `<sample>.<protocol>.<impl>` to bytes.
    pub(super) fn write_all(&self) -> BTreeMap<String, Vec<u8>> {
        let out_dir = self.fresh_dir("written");
        let gen_dir = self.gen_dir();
        let stdout = self
            .run(&[OsStr::new("write"), gen_dir.as_os_str(), out_dir.as_os_str()])
            .unwrap_or_else(|stderr| panic!("interop.py write failed:\n{stderr}"));
        let files = read_dir(&out_dir);
        assert_eq!(stdout.trim(), format!("wrote {}", files.len()), "interop.py and its output disagree");
        files
    }

    /// Has Python decode `inputs` (sample name, bytes) with each of its
    /// implementations, check the values, and write them again. Returns
    /// the mismatches Python found (`Err`), and what it wrote: file stem
    /// `<sample>.<impl>` to bytes.
    pub(super) fn read(
        &self,
        proto: Proto,
        inputs: &[(&str, Vec<u8>)],
    ) -> (Result<(), String>, BTreeMap<String, Vec<u8>>) {
        let in_dir = self.fresh_dir(&format!("ours-{}", proto.name()));
        let out_dir = self.fresh_dir(&format!("reread-{}", proto.name()));
        for (name, bytes) in inputs {
            std::fs::write(in_dir.join(format!("{name}.bin")), bytes).expect("cannot write an input file");
        }
        let gen_dir = self.gen_dir();
        let args = [
            OsStr::new("read"),
            gen_dir.as_os_str(),
            OsStr::new(proto.name()),
            in_dir.as_os_str(),
            out_dir.as_os_str(),
        ];
        let result = self.run(&args).map(|stdout| {
            assert_eq!(stdout.trim(), format!("read {}", 2 * inputs.len()), "interop.py skipped some input");
        });
        (result, read_dir(&out_dir))
    }

    fn gen_dir(&self) -> PathBuf {
        self.dir.path().join("gen")
    }

    fn fresh_dir(&self, name: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir(&dir).expect("cannot create a directory for interop.py");
        dir
    }

    /// Runs the script: its stdout on success, its stderr on failure.
    fn run(&self, args: &[&OsStr]) -> Result<String, String> {
        let out = Command::new(PYTHON)
            .arg(manifest_dir().join("py/interop.py"))
            .args(args)
            .output()
            .expect("cannot run /usr/bin/python3");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

fn imports_thrift() -> bool {
    Command::new(PYTHON).args(["-c", "import thrift"]).output().is_ok_and(|out| out.status.success())
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.bin` files of a directory: stem to contents.
fn read_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("cannot list interop.py's output") {
        let path = entry.expect("cannot read a directory entry").path();
        if path.extension().is_some_and(|e| e == "bin") {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            files.insert(stem, std::fs::read(&path).expect("cannot read interop.py's output"));
        }
    }
    files
}
