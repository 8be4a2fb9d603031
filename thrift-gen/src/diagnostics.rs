//! Diagnostics: what went wrong, where, and how it is rendered.
//!
//! Every stage of the front end reports problems as [`Diagnostic`] values
//! into a [`Diagnostics`] list instead of stopping at the first one, so one
//! run shows every error it can find. Rendering (`file:line:col`, the
//! offending line and a caret) is done by `codespan-reporting`.

use std::fmt;
use std::ops::Range;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Files, SimpleFiles};
use codespan_reporting::term;
use serde::Serialize;

/// Identifies one source file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The file the range is in.
    pub file: FileId,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from `start` to `end` in `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: clamp_u32(start), end: clamp_u32(end) }
    }

    /// The smallest span covering `self` and `other` (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// The byte range, for slicing the source text.
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The source files of one run, by [`FileId`]. Rendering a diagnostic needs it.
#[derive(Default)]
pub struct SourceMap {
    files: SimpleFiles<String, String>,
    count: u32,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file under the name diagnostics will show for it.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.files.add(name.into(), text.into());
        self.count += 1;
        FileId(self.count - 1)
    }

    /// The id the next added file will get.
    pub fn next_id(&self) -> FileId {
        FileId(self.count)
    }

    /// The text of a file.
    pub fn text(&self, file: FileId) -> &str {
        self.files.get(file.0 as usize).map(|f| f.source().as_str()).unwrap_or("")
    }

    /// The display name of a file.
    pub fn name(&self, file: FileId) -> &str {
        self.files.get(file.0 as usize).map(|f| f.name().as_str()).unwrap_or("<unknown>")
    }

    /// `file:line:col` (1-based) for the start of a span.
    pub fn location(&self, span: Span) -> String {
        let id = span.file.0 as usize;
        match (self.files.line_index(id, span.start as usize), self.files.get(id)) {
            (Ok(line), Ok(_)) => {
                let col = self.files.column_number(id, line, span.start as usize).unwrap_or(1);
                format!("{}:{}:{}", self.name(span.file), line + 1, col)
            }
            _ => self.name(span.file).to_string(),
        }
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The run fails.
    Error,
    /// The run goes on; `-nowarn` hides it.
    Warning,
}

/// One labelled place in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What about it (may be empty).
    pub message: String,
}

/// One problem found in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code, such as `TG0031`; see [`codes`].
    pub code: &'static str,
    /// One-line summary.
    pub message: String,
    /// The place the problem is, if it has one (a missing root file has none).
    pub primary: Option<Label>,
    /// Related places, such as an earlier definition.
    pub secondary: Vec<Label>,
    /// Extra lines: hints, searched directories, include chains.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, Some(span), message)
    }

    /// A warning at `span`.
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, code, Some(span), message)
    }

    /// An error that points at no source (for example an unreadable root file).
    pub fn error_without_span(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, None, message)
    }

    fn new(severity: Severity, code: &'static str, span: Option<Span>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            primary: span.map(|span| Label { span, message: String::new() }),
            secondary: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Sets the text under the primary caret.
    pub fn with_label(mut self, message: impl Into<String>) -> Diagnostic {
        if let Some(label) = &mut self.primary {
            label.message = message.into();
        }
        self
    }

    /// Adds a related place.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label { span, message: message.into() });
        self
    }

    /// Adds a note line.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn to_codespan(&self) -> cs::Diagnostic<usize> {
        let base = match self.severity {
            Severity::Error => cs::Diagnostic::error(),
            Severity::Warning => cs::Diagnostic::warning(),
        };
        let mut labels = Vec::new();
        if let Some(p) = &self.primary {
            labels.push(cs::Label::primary(p.span.file.0 as usize, p.span.range()).with_message(&p.message));
        }
        for s in &self.secondary {
            labels.push(cs::Label::secondary(s.span.file.0 as usize, s.span.range()).with_message(&s.message));
        }
        base.with_code(self.code).with_message(&self.message).with_labels(labels).with_notes(self.notes.clone())
    }
}

/// How many diagnostics [`Diagnostics::render`] shows; a note counts the
/// rest. Each one prints its whole source line, so without a limit n errors
/// on one n-byte line (a file of stray bytes) take O(n²) time and memory to
/// render: 4 KiB of them took seconds and 50 MB. javac stops at 100 too.
const MAX_RENDERED: usize = 100;

/// The diagnostics of one run, in the order they were found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty list.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Whether any is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// All of them.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Moves all of `other` into `self`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Renders the diagnostics (warnings too unless `warnings` is false) as
    /// text: `error[TG0031]: ...`, then `--> file:line:col` and the snippet.
    /// Past the first 100 in source order, a note only counts the rest.
    pub fn render(&self, sources: &SourceMap, warnings: bool, color: bool) -> String {
        let mut out = term::termcolor::Buffer::no_color();
        let mut colored = term::termcolor::Buffer::ansi();
        let writer = if color { &mut colored } else { &mut out };
        let config = term::Config::default();
        // In file order, then by position: how a reader walks the input.
        let mut items: Vec<&Diagnostic> = self.items.iter().filter(|d| warnings || d.is_error()).collect();
        items.sort_by_key(|d| d.primary.as_ref().map(|l| (l.span.file, l.span.start)));
        let (shown, hidden) = items.split_at(items.len().min(MAX_RENDERED));
        for d in shown {
            // Rendering only fails on spans outside their file, which the
            // front end never makes; fall back to the plain message anyway.
            if term::emit(writer, &config, &sources.files, &d.to_codespan()).is_err() {
                let _ = std::io::Write::write_fmt(writer, format_args!("{}: {}\n", d.code, d.message));
            }
        }
        if !hidden.is_empty() {
            let errors = hidden.iter().filter(|d| d.is_error()).count();
            let message =
                format!("{} more not shown ({errors} errors, {} warnings)", hidden.len(), hidden.len() - errors);
            let _ = term::emit(writer, &config, &sources.files, &cs::Diagnostic::note().with_message(message));
        }
        String::from_utf8_lossy(writer.as_slice()).into_owned()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{kind}[{}]: {}", self.code, self.message)
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// Stable diagnostic codes. Errors are `TG0xxx`, warnings `TW0xxx`.
pub mod codes {
    /// A character that starts no token.
    pub const UNEXPECTED_CHAR: &str = "TG0001";
    /// A string literal without its closing quote.
    pub const UNTERMINATED_STRING: &str = "TG0002";
    /// A `/*` comment without `*/`.
    pub const UNTERMINATED_COMMENT: &str = "TG0003";
    /// An escape other than `\n \r \t \" \' \\`.
    pub const INVALID_ESCAPE: &str = "TG0004";
    /// An integer literal outside i64, or outside the declared type.
    pub const INT_OVERFLOW: &str = "TG0005";
    /// A number that is not a valid literal.
    pub const INVALID_NUMBER: &str = "TG0006";
    /// The parser expected something else.
    pub const SYNTAX: &str = "TG0010";
    /// A `{`, `(`, `[` or `<` never closed.
    pub const UNCLOSED: &str = "TG0011";
    /// `include` or `namespace` after the first definition.
    pub const HEADER_AFTER_DEFINITION: &str = "TG0012";
    /// A construct Apache Thrift no longer supports (`slist`).
    pub const UNSUPPORTED: &str = "TG0013";
    /// An `include` that no searched directory holds.
    pub const MISSING_INCLUDE: &str = "TG0020";
    /// A file that includes itself, directly or through others.
    pub const CYCLIC_INCLUDE: &str = "TG0021";
    /// Two includes with one basename: qualified names would be ambiguous.
    pub const DUPLICATE_INCLUDE_NAME: &str = "TG0022";
    /// A file that exists but cannot be read.
    pub const UNREADABLE_FILE: &str = "TG0023";
    /// Two types, constants or services with one name.
    pub const DUPLICATE_DEFINITION: &str = "TG0030";
    /// Two fields, arguments or `throws` entries with one id.
    pub const DUPLICATE_FIELD_ID: &str = "TG0031";
    /// Two fields, arguments or `throws` entries with one name.
    pub const DUPLICATE_FIELD_NAME: &str = "TG0032";
    /// Two methods with one name along an `extends` chain.
    pub const DUPLICATE_METHOD: &str = "TG0033";
    /// Two enum values with one name.
    pub const DUPLICATE_ENUM_VALUE: &str = "TG0034";
    /// A field id outside 1..=32767.
    pub const FIELD_ID_RANGE: &str = "TG0035";
    /// A name that is no type.
    pub const UNKNOWN_TYPE: &str = "TG0040";
    /// A typedef that resolves to itself.
    pub const TYPEDEF_CYCLE: &str = "TG0041";
    /// A name that is no constant or enum value.
    pub const UNKNOWN_CONSTANT: &str = "TG0042";
    /// A constant value of the wrong type.
    pub const CONST_TYPE_MISMATCH: &str = "TG0043";
    /// A reference to a constant defined further down.
    pub const CONST_FORWARD_REFERENCE: &str = "TG0045";
    /// A constant value too large or too deeply nested once the constants
    /// it uses are expanded.
    pub const CONST_TOO_LARGE: &str = "TG0046";
    /// A `oneway` method with a result.
    pub const ONEWAY_RESULT: &str = "TG0050";
    /// A `oneway` method with `throws`.
    pub const ONEWAY_THROWS: &str = "TG0051";
    /// A `throws` entry that is not an exception.
    pub const THROWS_NOT_EXCEPTION: &str = "TG0052";
    /// `extends` of a name that is not defined.
    pub const EXTENDS_UNKNOWN: &str = "TG0053";
    /// `extends` of something that is not a service.
    pub const EXTENDS_NOT_SERVICE: &str = "TG0054";
    /// An enum value outside i32.
    pub const ENUM_VALUE_RANGE: &str = "TG0055";
    /// A service that extends itself, directly or through others.
    pub const EXTENDS_CYCLE: &str = "TG0057";
    /// A service or constant used where a type is expected.
    pub const NOT_A_TYPE: &str = "TG0056";
    /// A root file that cannot be read.
    pub const MISSING_FILE: &str = "TG0060";
    /// Two programs that would generate one Rust module.
    pub const MODULE_NAME_COLLISION: &str = "TG0070";
    /// A set element or map key type that Rust collections cannot hold.
    pub const UNSUPPORTED_KEY: &str = "TG0071";
    /// An implicit field id under `-strict`.
    pub const STRICT_IMPLICIT_FIELD_ID: &str = "TG0036";
    /// A field id left out: an implicit negative id is assigned.
    pub const W_IMPLICIT_FIELD_ID: &str = "TW0001";
    /// A deprecated keyword (`byte`, `async`, `senum`).
    pub const W_DEPRECATED: &str = "TW0002";
    /// Two enum values with one number.
    pub const W_DUPLICATE_ENUM_NUMBER: &str = "TW0003";
    /// `required` on a union member is ignored.
    pub const W_UNION_REQUIRED: &str = "TW0004";
    /// A `bool` constant given an integer other than 0 or 1.
    pub const W_BOOL_FROM_INT: &str = "TW0005";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found while writing the `parse` fuzz target (`fuzz/`), which timed
    /// out on it: one 4 KiB line of stray bytes is 4095 errors, and each
    /// one rendered the whole line, which made 50 MB of output, quadratic
    /// in the input.
    #[test]
    fn render_stops_after_max_rendered() {
        let text = "\u{fffd}".repeat(4095);
        let (_, sources, diagnostics) = crate::parse_str("stray.thrift", &text);
        assert_eq!(diagnostics.error_count(), 4095);
        let rendered = diagnostics.render(&sources, true, false);
        assert_eq!(rendered.matches("error[TG0001]").count(), MAX_RENDERED);
        assert!(rendered.ends_with("note: 3995 more not shown (3995 errors, 0 warnings)\n\n"), "{rendered}");
        assert!(rendered.len() < MAX_RENDERED * (text.len() + 1024), "{} bytes", rendered.len());
    }
}
