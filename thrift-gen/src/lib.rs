//! `thrift-gen`: the Thrift IDL compiler of thrift-mu2sls.
//!
//! It accepts everything Apache Thrift 0.17+ accepts, rejects broken IDL with
//! diagnostics that name `file:line:col` and show the line, and generates
//! Rust code for the `mu2sls` runtime. Two thin fronts share one pure core:
//!
//! * the `thrift-mu2sls` binary, flag-compatible with Apache's `thrift`:
//!   `thrift-mu2sls --gen rust -out src/gen idl/*.thrift`;
//! * [`Builder`], for `build.rs`.
//!
//! The core is [`generate`] (and [`check`], which stops after resolving):
//! input files come through a [`SourceLoader`], results come back as values.
//!
//! ```
//! use thrift_gen::{MemoryLoader, Options, generate};
//!
//! let mut files = MemoryLoader::new();
//! files.add("shapes.thrift", "enum Shape { CIRCLE = 1, SQUARE }\nconst Shape DEFAULT = Shape.SQUARE");
//! let out = generate(&files, &["shapes.thrift".into()], &Options::default());
//! assert!(!out.diagnostics.has_errors());
//! let module = out.files.iter().find(|f| f.path.ends_with("shapes.rs")).unwrap();
//! assert!(module.contents.contains("pub const SQUARE: Shape = Shape(2);"));
//! ```

pub mod ast;
mod builder;
mod cli;
mod codegen;
mod diagnostics;
mod lexer;
pub mod model;
mod parser;
mod printer;
mod resolve;
mod write;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use builder::{BuildError, Builder};
pub use codegen::{Chunk, GeneratedFile, ModuleStyle, RustOptions};
pub use diagnostics::{Diagnostic, Diagnostics, FileId, Label, Severity, SourceMap, Span, codes};
pub use printer::print_document;
pub use resolve::load::{FsLoader, LoadedFile, MemoryLoader, SourceLoader};
pub use write::write_files;

/// What a run reads and how it checks and generates.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-I` directories, searched in order after the including file's own.
    pub include_dirs: Vec<PathBuf>,
    /// `-r`: also generate code for included files.
    pub recurse: bool,
    /// `--allow-neg-keys`: accept explicit field ids of 0 and below.
    pub allow_neg_keys: bool,
    /// `-strict`: implicit field ids are errors, not warnings.
    pub strict: bool,
    /// Options of the Rust generator.
    pub rust: RustOptions,
}

/// The result of a run: diagnostics always, the model and files when the
/// input had no errors.
pub struct Output {
    /// Every file read, for rendering diagnostics.
    pub sources: SourceMap,
    /// Errors and warnings, in the order found.
    pub diagnostics: Diagnostics,
    /// The checked model (`None` when there were errors).
    pub model: Option<model::Model>,
    /// Generated files ([`generate`] only; empty when there were errors).
    pub files: Vec<GeneratedFile>,
    read: Vec<String>,
}

impl Output {
    /// The paths of every file the run read, roots and includes, in the
    /// order read (for `cargo:rerun-if-changed`).
    pub fn files_read(&self) -> &[String] {
        &self.read
    }

    /// Renders the diagnostics (see [`Diagnostics::render`]).
    pub fn render_diagnostics(&self, warnings: bool, color: bool) -> String {
        self.diagnostics.render(&self.sources, warnings, color)
    }
}

/// Parses and resolves `inputs` and everything they include.
pub fn check(loader: &dyn SourceLoader, inputs: &[PathBuf], options: &Options) -> Output {
    let mut sources = SourceMap::new();
    let mut diagnostics = Diagnostics::new();
    let (parsed, roots) =
        resolve::load::load_all(loader, inputs, &options.include_dirs, &mut sources, &mut diagnostics);
    let read = parsed.iter().map(|p| p.path.clone()).collect();
    let resolve_options = resolve::ResolveOptions { allow_neg_keys: options.allow_neg_keys, strict: options.strict };
    let model = resolve::resolve(&parsed, roots, &resolve_options, &mut diagnostics);
    Output { sources, diagnostics, model, files: Vec::new(), read }
}

/// Parses, resolves and generates Rust code for `inputs` (and, with
/// [`Options::recurse`], for everything they include).
pub fn generate(loader: &dyn SourceLoader, inputs: &[PathBuf], options: &Options) -> Output {
    let mut out = check(loader, inputs, options);
    let mut files: Vec<GeneratedFile> = Vec::new();
    let mut current = String::new();
    let written: Result<(), std::convert::Infallible> = generate_into(&mut out, options, |chunk| {
        current.push_str(chunk.text);
        if chunk.last {
            files.push(GeneratedFile { path: chunk.path.to_path_buf(), contents: std::mem::take(&mut current) });
        }
        Ok(())
    });
    match written {
        Ok(()) => out.files = files,
        Err(never) => match never {},
    }
    out
}

/// Generates the code for `out`, the result of [`check`], handing the
/// text of each file to `sink` in [`Chunk`]s as it is made: a front end
/// that writes them as they come never holds the whole output. Does
/// nothing when `out` has no model (the input had errors); problems the
/// generator finds are added to `out.diagnostics` before anything reaches
/// `sink`. An error from `sink` stops generation and is returned.
pub fn generate_into<E>(
    out: &mut Output,
    options: &Options,
    mut sink: impl FnMut(Chunk<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let Some(model) = &out.model else { return Ok(()) };
    let emit: Vec<usize> = if options.recurse {
        (0..model.programs.len()).collect()
    } else {
        // A file named twice on the command line is generated once.
        let mut seen = std::collections::HashSet::new();
        model.roots.iter().copied().filter(|r| seen.insert(*r)).collect()
    };
    match codegen::generate_each(model, &emit, &options.rust, &mut sink) {
        Ok(result) => result,
        Err(d) => {
            out.diagnostics.extend(d);
            Ok(())
        }
    }
}

/// Parses one file's text without resolving it: the syntax tree and the
/// diagnostics of lexing and parsing. The entry point for fuzzing and for
/// tools that only need syntax.
pub fn parse_str(name: &str, text: &str) -> (ast::Document, SourceMap, Diagnostics) {
    let mut sources = SourceMap::new();
    let file = sources.add(name, text);
    let mut diagnostics = Diagnostics::new();
    let document = parser::parse(file, text, &mut diagnostics);
    (document, sources, diagnostics)
}

/// Runs the `thrift-mu2sls` command line with `args` (program name first)
/// on the process's stdout and stderr; returns the exit code (0 success,
/// 1 errors in the IDL or the arguments, as Apache's `thrift` does).
pub fn cli_main(args: impl IntoIterator<Item = String>) -> i32 {
    cli::run(args, &mut std::io::stdout().lock(), &mut std::io::stderr().lock())
}
