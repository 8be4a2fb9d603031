//! Finding, reading and parsing every file a run needs.
//!
//! An `include "x.thrift"` is looked up relative to the including file, then
//! in each `-I` directory in order; the first match wins (Apache 0.17 does
//! the same). Files are identified by the key their [`SourceLoader`] gives,
//! so one file reached along two paths is parsed once. An include cycle is
//! an error naming the whole chain (Apache segfaults on it).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::ast::{Document, Header};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap, Span, codes};
use crate::parser::parse;

/// Where the front end gets file contents from. The compiler core touches
/// no file system itself: the CLI and `Builder` pass [`FsLoader`], tests pass
/// [`MemoryLoader`].
pub trait SourceLoader {
    /// Reads `path`. `Ok(None)` means "no such file" (the next include
    /// directory is tried); `Err` means it exists but could not be read.
    fn load(&self, path: &Path) -> io::Result<Option<LoadedFile>>;
}

/// A file's contents and identity.
#[derive(Clone, Debug)]
pub struct LoadedFile {
    /// What identifies the file (a canonical path on disk): two paths with
    /// one key are one file.
    pub key: PathBuf,
    /// The text.
    pub text: String,
}

/// Reads files from disk; the key is the canonical path.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsLoader;

impl SourceLoader for FsLoader {
    fn load(&self, path: &Path) -> io::Result<Option<LoadedFile>> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let key = std::fs::canonicalize(path)?;
                let text = String::from_utf8(bytes)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not valid UTF-8: {e}")))?;
                Ok(Some(LoadedFile { key, text }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            // A directory named like the include is "not this one" too.
            Err(_) if path.is_dir() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Serves files from memory, for tests and tools. Paths are normalised
/// lexically (`a/./b/../c` is `a/c`).
#[derive(Clone, Debug, Default)]
pub struct MemoryLoader {
    files: HashMap<PathBuf, String>,
}

impl MemoryLoader {
    /// An empty set of files.
    pub fn new() -> MemoryLoader {
        MemoryLoader::default()
    }

    /// Adds (or replaces) a file.
    pub fn add(&mut self, path: impl AsRef<Path>, text: impl Into<String>) -> &mut MemoryLoader {
        self.files.insert(normalize(path.as_ref()), text.into());
        self
    }
}

impl SourceLoader for MemoryLoader {
    fn load(&self, path: &Path) -> io::Result<Option<LoadedFile>> {
        let key = normalize(path);
        Ok(self.files.get(&key).map(|text| LoadedFile { key, text: text.clone() }))
    }
}

fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// One parsed file and how its includes resolved.
pub(crate) struct Parsed {
    pub(crate) path: String,
    pub(crate) name: String,
    pub(crate) document: Document,
    /// Per `include` header, in order: the index of the included file in the
    /// list [`load_all`] returns (`None` when it was missing or cyclic).
    pub(crate) includes: Vec<(Option<usize>, Span)>,
}

enum State {
    InProgress,
    Done(usize),
}

struct Loader<'a> {
    loader: &'a dyn SourceLoader,
    include_dirs: &'a [PathBuf],
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    state: HashMap<PathBuf, State>,
    /// Keys of the files being loaded, outermost first, with the include span
    /// that led to the next one.
    stack: Vec<(PathBuf, String, Option<Span>)>,
    out: Vec<Parsed>,
}

/// Loads and parses `roots` and, transitively, everything they include.
/// Returns the parsed files in dependency order (an included file comes
/// before the files that include it) and the indices of the roots.
pub(crate) fn load_all(
    loader: &dyn SourceLoader,
    roots: &[PathBuf],
    include_dirs: &[PathBuf],
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> (Vec<Parsed>, Vec<usize>) {
    let mut l =
        Loader { loader, include_dirs, sources, diags, state: HashMap::new(), stack: Vec::new(), out: Vec::new() };
    let mut root_ids = Vec::new();
    for root in roots {
        let display = root.display().to_string();
        match l.loader.load(root) {
            Ok(Some(file)) => {
                if let Some(i) = l.visit(file, display, None) {
                    root_ids.push(i);
                }
            }
            Ok(None) => l.diags.push(Diagnostic::error_without_span(
                codes::MISSING_FILE,
                format!("cannot read `{display}`: no such file"),
            )),
            Err(e) => l
                .diags
                .push(Diagnostic::error_without_span(codes::UNREADABLE_FILE, format!("cannot read `{display}`: {e}"))),
        }
    }
    (l.out, root_ids)
}

impl Loader<'_> {
    fn visit(&mut self, file: LoadedFile, display: String, via: Option<Span>) -> Option<usize> {
        match self.state.get(&file.key) {
            Some(State::Done(i)) => return Some(*i),
            Some(State::InProgress) => {
                self.report_cycle(&file.key, &display, via);
                return None;
            }
            None => {}
        }
        self.state.insert(file.key.clone(), State::InProgress);
        let document = parse(self.sources.next_id(), &file.text, self.diags);
        self.sources.add(display.clone(), file.text);
        let name = basename(&display);
        self.stack.push((file.key.clone(), display.clone(), via));
        let dir = Path::new(&display).parent().map(Path::to_path_buf).unwrap_or_default();
        let mut includes = Vec::new();
        for header in &document.headers {
            if let Header::Include { path, span } = header {
                let target = self.resolve_include(&dir, path, *span);
                includes.push((target, *span));
            }
        }
        self.stack.pop();
        let index = self.out.len();
        self.out.push(Parsed { path: display, name, document, includes });
        self.state.insert(file.key, State::Done(index));
        Some(index)
    }

    fn resolve_include(&mut self, dir: &Path, path: &str, span: Span) -> Option<usize> {
        let requested = Path::new(path);
        let candidates: Vec<PathBuf> = if requested.is_absolute() {
            vec![requested.to_path_buf()]
        } else {
            std::iter::once(dir.join(requested)).chain(self.include_dirs.iter().map(|d| d.join(requested))).collect()
        };
        for candidate in &candidates {
            match self.loader.load(candidate) {
                Ok(Some(file)) => return self.visit(file, candidate.display().to_string(), Some(span)),
                Ok(None) => {}
                Err(e) => {
                    self.diags.push(
                        Diagnostic::error(
                            codes::UNREADABLE_FILE,
                            span,
                            format!("cannot read included file `{}`: {e}", candidate.display()),
                        )
                        .with_label("included here"),
                    );
                    return None;
                }
            }
        }
        let mut d = Diagnostic::error(codes::MISSING_INCLUDE, span, format!("cannot find included file `{path}`"))
            .with_label("not found in any searched directory");
        for c in &candidates {
            d = d.with_note(format!("searched: {}", c.display()));
        }
        if self.include_dirs.is_empty() && !requested.is_absolute() {
            d = d.with_note("add a search directory with `-I DIR`");
        }
        self.diags.push(d);
        None
    }

    fn report_cycle(&mut self, key: &Path, display: &str, via: Option<Span>) {
        let start = self.stack.iter().position(|(k, _, _)| k == key).unwrap_or(0);
        let mut chain: Vec<&str> = self.stack[start..].iter().map(|(_, d, _)| d.as_str()).collect();
        chain.push(display);
        let message = if chain.len() == 2 {
            format!("`{display}` includes itself")
        } else {
            format!("include cycle: {}", chain.join(" -> "))
        };
        let mut d = match via {
            Some(span) => {
                Diagnostic::error(codes::CYCLIC_INCLUDE, span, message).with_label("this include closes the cycle")
            }
            None => Diagnostic::error_without_span(codes::CYCLIC_INCLUDE, message),
        };
        for (_, _, span) in self.stack[start + 1..].iter() {
            if let Some(span) = span {
                d = d.with_secondary(*span, "included from here");
            }
        }
        self.diags.push(d);
    }
}

/// `dir/base.thrift` → `base`: the name other files qualify this one's definitions with.
pub(crate) fn basename(path: &str) -> String {
    let file = Path::new(path).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    match file.strip_suffix(".thrift") {
        Some(stem) => stem.to_string(),
        None => Path::new(&file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or(file),
    }
}
