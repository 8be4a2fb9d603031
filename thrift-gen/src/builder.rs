//! The `build.rs` front: compiles IDL into `OUT_DIR` and tells Cargo which
//! files to watch.

use std::path::{Path, PathBuf};

use crate::codegen::{ModuleStyle, RustOptions};
use crate::{FsLoader, Options, generate, write_files};

/// Why [`Builder::compile`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The IDL has errors; the rendered diagnostics are the message.
    #[error("thrift-mu2sls: the IDL has errors:\n{0}")]
    Idl(String),
    /// No output directory: neither [`Builder::out_dir`] nor `OUT_DIR`.
    #[error("thrift-mu2sls: no output directory (call `out_dir` or run from a build script, which sets OUT_DIR)")]
    NoOutDir,
    /// Writing the generated files failed.
    #[error("thrift-mu2sls: {0}")]
    Io(#[from] std::io::Error),
}

/// Compiles `.thrift` files from a build script, in the style of
/// `tonic-build`.
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     thrift_gen::Builder::new().include("idl").compile(&["idl/echo.thrift"])?;
///     Ok(())
/// }
/// ```
///
/// and in the crate:
///
/// ```text
/// pub mod gen {
///     include!(concat!(env!("OUT_DIR"), "/mod.rs"));
/// }
/// ```
///
/// Included files are generated too (like `-r`), since the generated code
/// refers to them. Every file read is printed as `cargo:rerun-if-changed`.
#[derive(Clone, Debug)]
pub struct Builder {
    options: Options,
    out_dir: Option<PathBuf>,
    emit_rerun: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder with the defaults: includes generated, `HashMap`/`HashSet`.
    pub fn new() -> Builder {
        let options = Options {
            recurse: true,
            rust: RustOptions { module_style: ModuleStyle::Include, ..RustOptions::default() },
            ..Options::default()
        };
        Builder { options, out_dir: None, emit_rerun: true }
    }

    /// Adds an include directory (`-I`).
    pub fn include(mut self, dir: impl AsRef<Path>) -> Builder {
        self.options.include_dirs.push(dir.as_ref().to_path_buf());
        self
    }

    /// Where to write; defaults to `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Builder {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// `BTreeMap`/`BTreeSet` instead of `HashMap`/`HashSet`.
    pub fn btree(mut self, on: bool) -> Builder {
        self.options.rust.btree = on;
        self
    }

    /// Also generate the exactly-once flavour of every service
    /// (`--gen rust:exactly_once`): `XDurable` traits whose methods get a
    /// `&mut Ctx`, and `XDurableServer`.
    pub fn exactly_once(mut self, on: bool) -> Builder {
        self.options.rust.exactly_once = on;
        self
    }

    /// Accept explicit field ids of 0 and below (`--allow-neg-keys`).
    pub fn allow_neg_keys(mut self, on: bool) -> Builder {
        self.options.allow_neg_keys = on;
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (on by default).
    pub fn emit_rerun_if_changed(mut self, on: bool) -> Builder {
        self.emit_rerun = on;
        self
    }

    /// Compiles `files` (and what they include) and writes the result.
    // A build script talks to Cargo through stdout: printing is the API here.
    #[allow(clippy::print_stdout)]
    pub fn compile(self, files: &[impl AsRef<Path>]) -> Result<(), BuildError> {
        let out_dir = match self.out_dir.clone().or_else(|| std::env::var_os("OUT_DIR").map(PathBuf::from)) {
            Some(d) => d,
            None => return Err(BuildError::NoOutDir),
        };
        let inputs: Vec<PathBuf> = files.iter().map(|f| f.as_ref().to_path_buf()).collect();
        let out = generate(&FsLoader, &inputs, &self.options);
        if self.emit_rerun {
            // Inputs first, so a missing root is still watched.
            let mut seen = std::collections::BTreeSet::new();
            for path in inputs.iter().map(|p| p.display().to_string()).chain(out.files_read().iter().cloned()) {
                if seen.insert(path.clone()) {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
        }
        if out.diagnostics.has_errors() {
            return Err(BuildError::Idl(out.render_diagnostics(true, false)));
        }
        let warnings = out.render_diagnostics(true, false);
        for line in warnings.lines().filter(|l| l.starts_with("warning")) {
            println!("cargo:warning={line}");
        }
        write_files(&out_dir, &out.files)?;
        Ok(())
    }
}
