//! The output buffer and the little layout engine behind it.
//!
//! Generated code is written as text, line by line, straight into the
//! file's `String`, already in the layout `rustfmt --edition 2024` (default
//! configuration) gives it. Most lines have a fixed shape; the few whose
//! width depends on the IDL (types, constant values, calls with long
//! names) are written flat first and, only if the line gets longer than
//! [`MAX_WIDTH`], rewritten from a [`Doc`] with rustfmt's rules for breaking
//! lists: one line if it fits (and, for calls and arrays, its items take at
//! most 60 columns), else one item per line with a trailing comma, the
//! last call argument overflowing when it is an array or a macro.
//!
//! Architecture invariant: the layout depends only on the text, so output
//! stays deterministic.

use std::fmt::{self, Write as _};

/// rustfmt's default `max_width`.
pub(super) const MAX_WIDTH: usize = 100;
/// rustfmt's `fn_call_width` and `array_width` (60% of `max_width`).
const LIST_WIDTH: usize = 60;
/// rustfmt's `struct_lit_width` (18% of `max_width`).
const STRUCT_LIT_WIDTH: usize = 18;
/// rustfmt's `short_array_element_width_threshold`.
const SHORT_ITEM: usize = 10;

/// A `String` with the current indentation.
pub(super) struct Writer {
    pub(super) buf: String,
    indent: usize,
}

impl Writer {
    pub(super) fn with_capacity(capacity: usize) -> Writer {
        Writer { buf: String::with_capacity(capacity), indent: 0 }
    }

    /// Current indentation in columns.
    pub(super) fn indent(&self) -> usize {
        self.indent
    }

    fn pad(&mut self) {
        for _ in 0..self.indent {
            self.buf.push(' ');
        }
    }

    /// One line at the current indentation.
    pub(super) fn line(&mut self, args: fmt::Arguments<'_>) {
        self.pad();
        let _ = self.buf.write_fmt(args);
        self.buf.push('\n');
    }

    /// One line of literal text.
    pub(super) fn text(&mut self, s: &str) {
        self.pad();
        self.buf.push_str(s);
        self.buf.push('\n');
    }

    /// A line that ends a block opener (`... {`): indents what follows.
    pub(super) fn open(&mut self, args: fmt::Arguments<'_>) {
        self.line(args);
        self.indent += 4;
    }

    /// Dedents and writes the closing line (`}`, `};`, `},` ...).
    pub(super) fn close(&mut self, s: &str) {
        self.indent -= 4;
        self.text(s);
    }

    /// Indents what follows without writing a line.
    pub(super) fn indent_in(&mut self) {
        self.indent += 4;
    }

    /// Dedents what follows without writing a line.
    pub(super) fn indent_back(&mut self) {
        self.indent -= 4;
    }

    /// `prefix doc suffix`, with `doc` broken after `prefix` if the line is
    /// too long (function parameters and return types: never moved to a
    /// line of their own).
    pub(super) fn prefixed(&mut self, prefix: &str, doc: &Doc, suffix: &str) {
        let at = self.start();
        self.buf.push_str(prefix);
        doc.flat(&mut self.buf);
        self.buf.push_str(suffix);
        // After broken parameters, rustfmt keeps `) -> Ret {` on one line
        // only within `MAX_WIDTH - indent`, and `) -> Ret` (brace below)
        // within `MAX_WIDTH - 2` columns from the `)` (measured with rustfmt
        // 1.9).
        let signature = suffix == " {" && prefix.starts_with(')');
        let limit = if signature { MAX_WIDTH - self.indent } else { MAX_WIDTH };
        if doc.may_be_flat() && width(&self.buf[at..]) <= limit {
            self.buf.push('\n');
            return;
        }
        self.buf.truncate(at);
        if signature {
            // A signature whose return type fits without the brace.
            let at = self.start();
            self.buf.push_str(prefix);
            doc.flat(&mut self.buf);
            if doc.may_be_flat() && width(&self.buf[at..]) <= MAX_WIDTH - 2 + self.indent {
                self.buf.push('\n');
                self.text("{");
                return;
            }
            self.buf.truncate(at);
        }
        self.pad();
        self.buf.push_str(prefix);
        let indent = self.indent;
        let avail = MAX_WIDTH.saturating_sub(indent + width(prefix) + width(suffix));
        doc.render(&mut self.buf, indent, avail);
        self.buf.push_str(suffix);
        self.buf.push('\n');
    }

    /// `trait_part for_part {` on one line, else with `for ...` on a line
    /// of its own and the brace below, as rustfmt breaks impl headers.
    pub(super) fn impl_header(&mut self, trait_part: &str, for_part: &str) {
        let at = self.start();
        self.buf.push_str(trait_part);
        self.buf.push(' ');
        self.buf.push_str(for_part);
        self.buf.push_str(" {");
        if self.end_checked(at) {
            self.indent += 4;
            return;
        }
        self.text(trait_part);
        self.line(format_args!("    {for_part}"));
        self.open(format_args!("{{"));
    }

    pub(super) fn blank(&mut self) {
        self.buf.push('\n');
    }

    /// `/// line` for each line of a doc comment.
    pub(super) fn doc(&mut self, doc: &Option<String>) {
        if let Some(d) = doc {
            for l in d.lines() {
                let l = l.trim_end();
                if l.is_empty() {
                    self.text("///");
                } else {
                    self.line(format_args!("/// {l}"));
                }
            }
        }
    }

    /// `#[derive(...)]` of `items` (joined with `, `), laid out as rustfmt
    /// lays out function-like attributes (at most 70 columns on one line).
    pub(super) fn derive(&mut self, items: &str) {
        const ATTR_FN_LIKE_WIDTH: usize = 70;
        let inner = self.indent + 4;
        if width(items) <= ATTR_FN_LIKE_WIDTH && self.indent + width(items) + 11 <= MAX_WIDTH {
            self.line(format_args!("#[derive({items})]"));
        } else if inner + width(items) < MAX_WIDTH {
            self.text("#[derive(");
            self.line(format_args!("    {items},"));
            self.text(")]");
        } else {
            self.text("#[derive(");
            for item in items.split(", ") {
                self.line(format_args!("    {item},"));
            }
            self.text(")]");
        }
    }

    /// Starts a line whose width is checked by [`Writer::end_checked`].
    pub(super) fn start(&mut self) -> usize {
        let at = self.buf.len();
        self.pad();
        at
    }

    /// Ends a line started at `at`: `true` if it fits in [`MAX_WIDTH`]
    /// (then it is kept), `false` if it is too long (then it is removed,
    /// and the caller writes the broken layout).
    pub(super) fn end_checked(&mut self, at: usize) -> bool {
        if width(&self.buf[at..]) <= MAX_WIDTH {
            self.buf.push('\n');
            true
        } else {
            self.buf.truncate(at);
            false
        }
    }

    /// `prefix rhs suffix` on one line, else with `rhs` on the next line
    /// (indented), else with `rhs` broken after `prefix`, as rustfmt lays
    /// out the right-hand side of `let`, `const`, `type` and assignments.
    /// `prefix` ends without a space (`let x =`, `pub x:`).
    pub(super) fn assign(&mut self, prefix: &str, rhs: &Doc, suffix: &str) {
        let at = self.start();
        self.buf.push_str(prefix);
        self.buf.push(' ');
        rhs.flat(&mut self.buf);
        self.buf.push_str(suffix);
        if rhs.may_be_flat() && self.end_checked(at) {
            return;
        }
        self.buf.truncate(at);
        let first = self.indent + width(prefix) + 1;
        let next_indent = self.indent + 4;
        let mut orig = String::new();
        let orig_ok = rhs.render(&mut orig, self.indent, MAX_WIDTH.saturating_sub(first + width(suffix)));
        let mut next = String::new();
        let next_ok = rhs.render(&mut next, next_indent, MAX_WIDTH.saturating_sub(next_indent + width(suffix)));
        let use_next = next_ok
            && (!orig_ok
                || !next.contains('\n')
                || orig.matches('\n').count() > next.matches('\n').count() + 1
                || (first_line_ends(&orig, '(') && !first_line_ends(&next, '('))
                || (first_line_ends(&orig, '[') && !first_line_ends(&next, '['))
                || (first_line_ends(&orig, '{') && !first_line_ends(&next, '{')));
        self.pad();
        self.buf.push_str(prefix);
        if use_next {
            self.buf.push('\n');
            for _ in 0..next_indent {
                self.buf.push(' ');
            }
            self.buf.push_str(&next);
        } else {
            self.buf.push(' ');
            self.buf.push_str(&orig);
        }
        self.buf.push_str(suffix);
        self.buf.push('\n');
    }

    /// A statement `call(args)suffix` (`suffix` like `;` or `?;`).
    pub(super) fn statement(&mut self, call: &Doc, suffix: &str) {
        let at = self.start();
        call.flat(&mut self.buf);
        self.buf.push_str(suffix);
        if call.may_be_flat() && self.end_checked(at) {
            return;
        }
        self.buf.truncate(at);
        self.pad();
        let indent = self.indent;
        call.render(&mut self.buf, indent, MAX_WIDTH.saturating_sub(indent + width(suffix)));
        self.buf.push_str(suffix);
        self.buf.push('\n');
    }
}

pub(super) fn first_line_ends(s: &str, c: char) -> bool {
    s.lines().next().is_some_and(|l| l.ends_with(c))
}

/// Display width, as rustfmt counts it (characters; the IDL's identifiers
/// are ASCII, only string literals may not be).
pub(super) fn width(s: &str) -> usize {
    if s.is_ascii() { s.len() } else { s.chars().count() }
}

/// How a list breaks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ListKind {
    /// `head(a, b)`: at most 60 columns of arguments on one line; the last
    /// argument may overflow.
    Call,
    /// `head<A, B>`: one line if it fits.
    Generic,
    /// `head[a, b]` (`&[...]`, `[...]`): at most 60 columns on one line.
    Array,
    /// `head![a, b]`: like an array, but no trailing comma when broken.
    Macro,
    /// `(a, b)`: like a call, no overflow.
    Tuple,
}

/// A piece of code whose layout depends on the width it gets.
#[derive(Clone)]
pub(super) enum Doc {
    /// Never broken.
    Text(String),
    List {
        head: String,
        kind: ListKind,
        items: Vec<Doc>,
    },
    /// `head { a: x, ..::std::default::Default::default() }`.
    Struct {
        head: String,
        fields: Vec<(String, Doc)>,
        rest: bool,
    },
    /// `inner?` and the like.
    Suffix(Box<Doc>, &'static str),
}

const DEFAULT_REST: &str = "..::std::default::Default::default()";

impl Doc {
    pub(super) fn list(head: impl Into<String>, kind: ListKind, items: Vec<Doc>) -> Doc {
        Doc::List { head: head.into(), kind, items }
    }

    /// Whether this, as the last of `count` call arguments, may overflow.
    fn overflows(&self, count: usize) -> bool {
        match self {
            Doc::List { kind: ListKind::Array | ListKind::Macro, .. } | Doc::Struct { .. } => true,
            Doc::List { kind: ListKind::Call | ListKind::Tuple, .. } => count == 1,
            Doc::Suffix(inner, "?") => inner.overflows(count),
            _ => false,
        }
    }

    /// A call or macro call (rustfmt's "nested call").
    fn is_call(&self) -> bool {
        matches!(self, Doc::List { kind: ListKind::Call | ListKind::Macro, head, .. } if !head.is_empty())
    }

    /// Whether rustfmt may keep this on the `=>` line of a match arm when
    /// it breaks (calls, macros, arrays, struct literals).
    pub(super) fn is_block_like(&self) -> bool {
        match self {
            Doc::List { kind, .. } => *kind != ListKind::Generic,
            Doc::Struct { .. } => true,
            Doc::Suffix(inner, _) => inner.is_block_like(),
            Doc::Text(_) => false,
        }
    }

    /// Whether this is the plain text `s` (a field init shorthand).
    fn is_text(&self, s: &str) -> bool {
        matches!(self, Doc::Text(t) if t == s)
    }

    fn delims(kind: ListKind) -> (&'static str, &'static str) {
        match kind {
            ListKind::Call | ListKind::Tuple => ("(", ")"),
            ListKind::Generic => ("<", ">"),
            ListKind::Array | ListKind::Macro => ("[", "]"),
        }
    }

    /// The one-line form.
    pub(super) fn flat(&self, out: &mut String) {
        match self {
            Doc::Text(s) => out.push_str(s),
            Doc::List { head, kind, items } => {
                let (open, close) = Self::delims(*kind);
                out.push_str(head);
                out.push_str(open);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.flat(out);
                }
                if *kind == ListKind::Tuple && items.len() == 1 {
                    out.push(',');
                }
                out.push_str(close);
            }
            Doc::Struct { head, fields, rest } => {
                out.push_str(head);
                if fields.is_empty() && !rest {
                    out.push_str(" {}");
                    return;
                }
                out.push_str(" { ");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(name);
                    if !value.is_text(name) {
                        out.push_str(": ");
                        value.flat(out);
                    }
                }
                if *rest {
                    if !fields.is_empty() {
                        out.push_str(", ");
                    }
                    out.push_str(DEFAULT_REST);
                }
                out.push_str(" }");
            }
            Doc::Suffix(inner, suffix) => {
                inner.flat(out);
                out.push_str(suffix);
            }
        }
    }

    /// The width of the one-line form, without writing it.
    pub(super) fn flat_width(&self) -> usize {
        match self {
            Doc::Text(s) => width(s),
            Doc::List { head, kind, items } => {
                let tuple1 = usize::from(*kind == ListKind::Tuple && items.len() == 1);
                width(head) + 2 + Self::items_width(items) + tuple1
            }
            Doc::Struct { head, fields, rest } => {
                if fields.is_empty() && !rest {
                    return width(head) + 3;
                }
                let mut content: usize = fields
                    .iter()
                    .map(|(name, value)| width(name) + if value.is_text(name) { 0 } else { 2 + value.flat_width() })
                    .sum::<usize>()
                    + 2 * fields.len().saturating_sub(1);
                if *rest {
                    content += DEFAULT_REST.len() + if fields.is_empty() { 0 } else { 2 };
                }
                width(head) + 5 + content
            }
            Doc::Suffix(inner, suffix) => inner.flat_width() + width(suffix),
        }
    }

    /// Items joined with `, `.
    fn items_width(items: &[Doc]) -> usize {
        items.iter().map(Doc::flat_width).sum::<usize>() + 2 * items.len().saturating_sub(1)
    }

    pub(super) fn flat_string(&self) -> String {
        let mut s = String::new();
        self.flat(&mut s);
        s
    }

    /// Whether the one-line form is allowed (the list-width heuristics).
    pub(super) fn may_be_flat(&self) -> bool {
        match self {
            Doc::Text(_) => true,
            Doc::List { kind, items, .. } => {
                let limited = match kind {
                    ListKind::Generic => false,
                    ListKind::Call | ListKind::Tuple => items.len() > 1,
                    ListKind::Array | ListKind::Macro => true,
                };
                (!limited || Self::items_width(items) <= LIST_WIDTH) && items.iter().all(Doc::may_be_flat)
            }
            Doc::Struct { head, fields, rest } => {
                let body = self.flat_width().saturating_sub(width(head) + 5);
                (fields.is_empty() && !rest || body <= STRUCT_LIT_WIDTH) && fields.iter().all(|(_, v)| v.may_be_flat())
            }
            Doc::Suffix(inner, _) => inner.may_be_flat(),
        }
    }

    /// Writes the layout for a first line with `avail` columns left, the
    /// enclosing block at `indent`. `false` if even that overflows.
    pub(super) fn render(&self, out: &mut String, indent: usize, avail: usize) -> bool {
        if self.flat_width() <= avail && self.may_be_flat() {
            self.flat(out);
            return true;
        }
        match self {
            Doc::Text(s) => {
                out.push_str(s);
                false
            }
            Doc::List { head, kind, items } => {
                let (open, close) = Self::delims(*kind);
                // Overflow the last argument (an array, struct literal or
                // bracket macro, or the only argument, a call) if the other
                // arguments and its first line fit on this line.
                // (Not in a `vec![...]` of several items: rustfmt 1.9 does not.)
                if (matches!(kind, ListKind::Call | ListKind::Array) || *kind == ListKind::Macro && items.len() == 1)
                    && let Some(last) = items.last()
                    && last.overflows(items.len())
                    && items[..items.len() - 1].iter().all(Doc::may_be_flat)
                {
                    let mut before = String::new();
                    for item in &items[..items.len() - 1] {
                        item.flat(&mut before);
                        before.push_str(", ");
                    }
                    let used = width(head) + 1 + width(&before);
                    if used + 1 < avail {
                        let mut budget = avail - used - 1;
                        // rustfmt keeps a nested call within 60 columns.
                        if items.len() == 1 && last.is_call() {
                            budget = budget.min(LIST_WIDTH);
                        }
                        let mut tail = String::new();
                        let ok = last.render(&mut tail, indent, budget);
                        let first = tail.split('\n').next().map_or(0, width);
                        let inner = indent + 4;
                        let own_line = last.flat_width() + 1 + inner <= MAX_WIDTH && last.may_be_flat();
                        let two_lines = tail.matches('\n').count() == 1;
                        if ok
                            && first <= budget
                            && width(&before) + first <= LIST_WIDTH
                            && tail.contains('\n')
                            && !(items.len() == 1 && two_lines && own_line)
                        {
                            out.push_str(head);
                            out.push_str(open);
                            out.push_str(&before);
                            out.push_str(&tail);
                            out.push_str(close);
                            return true;
                        }
                    }
                }
                out.push_str(head);
                out.push_str(open);
                let inner = indent + 4;
                let short = *kind != ListKind::Generic
                    && items.len() > 1
                    && items
                        .iter()
                        .all(|i| matches!(i, Doc::Text(t) if is_simple_literal(t) && width(t) <= SHORT_ITEM));
                let mut ok = true;
                if short {
                    // rustfmt's "mixed" layout: as many per line as fit.
                    out.push('\n');
                    let mut col = 0;
                    for (i, item) in items.iter().enumerate() {
                        let t = item.flat_string();
                        let sep = if i + 1 < items.len() || *kind != ListKind::Macro { "," } else { "" };
                        if col > 0 && col + 1 + width(&t) + sep.len() > MAX_WIDTH {
                            out.push('\n');
                            col = 0;
                        }
                        if col == 0 {
                            push_spaces(out, inner);
                            col = inner;
                        } else {
                            out.push(' ');
                            col += 1;
                        }
                        out.push_str(&t);
                        out.push_str(sep);
                        col += width(&t) + sep.len();
                    }
                    out.push('\n');
                } else {
                    out.push('\n');
                    for (i, item) in items.iter().enumerate() {
                        push_spaces(out, inner);
                        ok &= item.render(out, inner, MAX_WIDTH.saturating_sub(inner + 1));
                        if i + 1 < items.len() || *kind != ListKind::Macro {
                            out.push(',');
                        }
                        out.push('\n');
                    }
                }
                push_spaces(out, indent);
                out.push_str(close);
                ok
            }
            Doc::Struct { .. } => self.render_broken(out, indent),
            Doc::Suffix(inner, suffix) => {
                let ok = inner.render(out, indent, avail.saturating_sub(width(suffix)));
                out.push_str(suffix);
                ok
            }
        }
    }

    /// The broken layout of a delimited list or struct literal, for
    /// overflowing: opener on the current line, items below.
    fn render_broken(&self, out: &mut String, indent: usize) -> bool {
        match self {
            Doc::Struct { head, fields, rest } => {
                out.push_str(head);
                out.push_str(" {\n");
                let inner = indent + 4;
                let mut ok = true;
                for (name, value) in fields {
                    push_spaces(out, inner);
                    out.push_str(name);
                    if !value.is_text(name) {
                        out.push_str(": ");
                        ok &= value.render(out, inner, MAX_WIDTH.saturating_sub(inner + width(name) + 3));
                    }
                    out.push_str(",\n");
                }
                if *rest {
                    push_spaces(out, inner);
                    out.push_str(DEFAULT_REST);
                    out.push('\n');
                }
                push_spaces(out, indent);
                out.push('}');
                ok
            }
            Doc::List { .. } => self.render(out, indent, 0),
            Doc::Text(_) | Doc::Suffix(..) => false,
        }
    }
}

/// What rustfmt calls a simple expression, for the "mixed" array layout:
/// literals (and negated literals).
fn is_simple_literal(t: &str) -> bool {
    let t = t.strip_prefix('-').unwrap_or(t);
    t.starts_with(|c: char| c.is_ascii_digit() || c == '"') || t == "true" || t == "false"
}

fn push_spaces(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}
