//! Text to tokens, each with its byte span.
//!
//! Follows Apache Thrift's lexer (`thriftl.ll`): signs are part of number
//! literals, identifiers may contain single dots (`base.Type`), `true` and
//! `false` are the integers 1 and 0, and `/** */` documents what follows.
//! Architecture invariant: the lexer never fails; every problem becomes a
//! diagnostic and lexing goes on, so the parser always gets a token stream
//! ending in [`TokenKind::Eof`].

use crate::diagnostics::{Diagnostic, Diagnostics, FileId, Span, codes};

/// The keywords of the IDL. Other identifiers are [`TokenKind::Ident`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Keyword {
    Namespace,
    Include,
    CppInclude,
    CppType,
    Const,
    Typedef,
    Enum,
    Senum,
    Struct,
    Union,
    Exception,
    Service,
    Extends,
    Throws,
    Oneway,
    Async,
    Void,
    Required,
    Optional,
    Bool,
    Byte,
    I8,
    I16,
    I32,
    I64,
    Double,
    String,
    Binary,
    Uuid,
    Slist,
    Map,
    List,
    Set,
    XsdAll,
    XsdOptional,
    XsdNillable,
    XsdAttrs,
}

impl Keyword {
    fn from_str(s: &str) -> Option<Keyword> {
        use Keyword::*;
        Some(match s {
            "namespace" => Namespace,
            "include" => Include,
            "cpp_include" => CppInclude,
            "cpp_type" => CppType,
            "const" => Const,
            "typedef" => Typedef,
            "enum" => Enum,
            "senum" => Senum,
            "struct" => Struct,
            "union" => Union,
            "exception" => Exception,
            "service" => Service,
            "extends" => Extends,
            "throws" => Throws,
            "oneway" => Oneway,
            "async" => Async,
            "void" => Void,
            "required" => Required,
            "optional" => Optional,
            "bool" => Bool,
            "byte" => Byte,
            "i8" => I8,
            "i16" => I16,
            "i32" => I32,
            "i64" => I64,
            "double" => Double,
            "string" => String,
            "binary" => Binary,
            "uuid" => Uuid,
            "slist" => Slist,
            "map" => Map,
            "list" => List,
            "set" => Set,
            "xsd_all" => XsdAll,
            "xsd_optional" => XsdOptional,
            "xsd_nillable" => XsdNillable,
            "xsd_attrs" => XsdAttrs,
            _ => return None,
        })
    }
}

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind {
    /// A name, possibly dotted (`base.Type`); its text is the span's text.
    Ident,
    /// A keyword.
    Keyword(Keyword),
    /// An integer literal (also `true` = 1, `false` = 0). `None` when it
    /// overflowed i64 (already reported).
    Int(Option<i64>),
    /// A floating-point literal.
    Double(f64),
    /// A string literal, escapes already processed.
    Str(String),
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// `:`
    Colon,
    /// `=`
    Eq,
    /// `*`
    Star,
    /// `&`
    Amp,
    /// End of input.
    Eof,
}

impl TokenKind {
    /// How the token is named in "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            TokenKind::Ident => "an identifier",
            TokenKind::Keyword(_) => "a keyword",
            TokenKind::Int(_) => "an integer",
            TokenKind::Double(_) => "a number",
            TokenKind::Str(_) => "a string",
            TokenKind::LBrace => "`{`",
            TokenKind::RBrace => "`}`",
            TokenKind::LParen => "`(`",
            TokenKind::RParen => "`)`",
            TokenKind::LBracket => "`[`",
            TokenKind::RBracket => "`]`",
            TokenKind::Lt => "`<`",
            TokenKind::Gt => "`>`",
            TokenKind::Comma => "`,`",
            TokenKind::Semi => "`;`",
            TokenKind::Colon => "`:`",
            TokenKind::Eq => "`=`",
            TokenKind::Star => "`*`",
            TokenKind::Amp => "`&`",
            TokenKind::Eof => "end of file",
        }
    }
}

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    /// What it is.
    pub(crate) kind: TokenKind,
    /// Where it is.
    pub(crate) span: Span,
    /// The text of a `/** */` comment right before it, cleaned up.
    pub(crate) doc: Option<String>,
}

/// Splits `text` (file `file`) into tokens; problems go to `diags`.
pub(crate) fn tokenize(file: FileId, text: &str, diags: &mut Diagnostics) -> Vec<Token> {
    let mut lexer = Lexer { file, src: text.as_bytes(), text, pos: 0, diags, tokens: Vec::new(), doc: None };
    lexer.run();
    lexer.tokens
}

struct Lexer<'a, 'd> {
    file: FileId,
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    diags: &'d mut Diagnostics,
    tokens: Vec<Token>,
    doc: Option<String>,
}

impl Lexer<'_, '_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn peek_at(&self, offset: usize) -> u8 {
        self.src.get(self.pos + offset).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        let doc = self.doc.take();
        let span = self.span(start, self.pos);
        self.tokens.push(Token { kind, span, doc });
    }

    fn run(&mut self) {
        while self.pos < self.src.len() {
            let c = self.src[self.pos];
            let start = self.pos;
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => self.pos += 1,
                b'#' => self.skip_line(),
                b'/' if self.peek_at(1) == b'/' => self.skip_line(),
                b'/' if self.peek_at(1) == b'*' => self.block_comment(),
                b'"' | b'\'' => self.string(c),
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.ident(),
                b'0'..=b'9' | b'+' | b'-' => self.number(),
                b'.' if self.peek_at(1).is_ascii_digit() => self.number(),
                _ => {
                    let kind = match c {
                        b'{' => Some(TokenKind::LBrace),
                        b'}' => Some(TokenKind::RBrace),
                        b'(' => Some(TokenKind::LParen),
                        b')' => Some(TokenKind::RParen),
                        b'[' => Some(TokenKind::LBracket),
                        b']' => Some(TokenKind::RBracket),
                        b'<' => Some(TokenKind::Lt),
                        b'>' => Some(TokenKind::Gt),
                        b',' => Some(TokenKind::Comma),
                        b';' => Some(TokenKind::Semi),
                        b':' => Some(TokenKind::Colon),
                        b'=' => Some(TokenKind::Eq),
                        b'*' => Some(TokenKind::Star),
                        b'&' => Some(TokenKind::Amp),
                        _ => None,
                    };
                    match kind {
                        Some(kind) => {
                            self.pos += 1;
                            self.push(kind, start);
                        }
                        None => {
                            // Skip one whole UTF-8 character so spans stay on
                            // character boundaries.
                            let ch = self.text[start..].chars().next().unwrap_or('\u{fffd}');
                            self.pos += ch.len_utf8().max(1);
                            self.diags.push(
                                Diagnostic::error(
                                    codes::UNEXPECTED_CHAR,
                                    self.span(start, self.pos),
                                    format!("unexpected character {ch:?}"),
                                )
                                .with_label("no token starts with this"),
                            );
                        }
                    }
                }
            }
        }
        let end = self.src.len();
        self.tokens.push(Token { kind: TokenKind::Eof, span: self.span(end, end), doc: None });
    }

    fn skip_line(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn block_comment(&mut self) {
        let start = self.pos;
        let is_doc = self.peek_at(2) == b'*' && self.peek_at(3) != b'/';
        self.pos += 2;
        let body_start = self.pos;
        while self.pos + 1 < self.src.len() && !(self.src[self.pos] == b'*' && self.src[self.pos + 1] == b'/') {
            self.pos += 1;
        }
        if self.pos + 1 >= self.src.len() {
            self.pos = self.src.len();
            self.diags.push(
                Diagnostic::error(codes::UNTERMINATED_COMMENT, self.span(start, start + 2), "unterminated comment")
                    .with_label("this comment is never closed with `*/`"),
            );
            return;
        }
        let body_end = self.pos;
        self.pos += 2;
        if is_doc {
            self.doc = Some(clean_doc(&self.text[body_start + 1..body_end]));
        }
    }

    fn string(&mut self, quote: u8) {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        let mut run_start = self.pos;
        loop {
            let Some(&c) = self.src.get(self.pos) else {
                self.unterminated_string(start);
                break;
            };
            if c == b'\n' {
                self.unterminated_string(start);
                break;
            }
            if c == quote {
                value.push_str(&self.text[run_start..self.pos]);
                self.pos += 1;
                break;
            }
            if c == b'\\' {
                value.push_str(&self.text[run_start..self.pos]);
                let esc = self.peek_at(1);
                let replacement = match esc {
                    b'n' => Some('\n'),
                    b'r' => Some('\r'),
                    b't' => Some('\t'),
                    b'"' => Some('"'),
                    b'\'' => Some('\''),
                    b'\\' => Some('\\'),
                    _ => None,
                };
                match replacement {
                    Some(ch) => {
                        value.push(ch);
                        self.pos += 2;
                    }
                    None => {
                        let len = self.text[self.pos + 1..].chars().next().map_or(0, char::len_utf8);
                        let end = self.pos + 1 + len;
                        self.diags.push(
                            Diagnostic::error(
                                codes::INVALID_ESCAPE,
                                self.span(self.pos, end),
                                "invalid escape in string",
                            )
                            .with_label("not one of \\n \\r \\t \\\" \\' \\\\"),
                        );
                        self.pos = end;
                    }
                }
                run_start = self.pos;
                continue;
            }
            self.pos += 1;
        }
        self.push(TokenKind::Str(value), start);
    }

    fn unterminated_string(&mut self, start: usize) {
        self.diags.push(
            Diagnostic::error(codes::UNTERMINATED_STRING, self.span(start, start + 1), "unterminated string")
                .with_label("this string is not closed before the end of the line"),
        );
    }

    fn ident(&mut self) {
        let start = self.pos;
        self.pos += 1;
        loop {
            let c = self.peek_at(0);
            if c.is_ascii_alphanumeric() || c == b'_' {
                self.pos += 1;
            } else if c == b'.' && (self.peek_at(1).is_ascii_alphanumeric() || self.peek_at(1) == b'_') {
                self.pos += 2;
            } else {
                break;
            }
        }
        let text = &self.text[start..self.pos];
        let kind = match text {
            "true" => TokenKind::Int(Some(1)),
            "false" => TokenKind::Int(Some(0)),
            _ => Keyword::from_str(text).map_or(TokenKind::Ident, TokenKind::Keyword),
        };
        self.push(kind, start);
    }

    fn number(&mut self) {
        let start = self.pos;
        let mut p = self.pos;
        let negative = self.src[p] == b'-';
        if matches!(self.src[p], b'+' | b'-') {
            p += 1;
        }
        let at = |i: usize| self.src.get(i).copied().unwrap_or(0);
        // Hexadecimal integer.
        if at(p) == b'0' && matches!(at(p + 1), b'x' | b'X') && at(p + 2).is_ascii_hexdigit() {
            let digits_start = p + 2;
            let mut q = digits_start;
            while at(q).is_ascii_hexdigit() {
                q += 1;
            }
            self.pos = q;
            let digits = &self.text[digits_start..q];
            let value = u64::from_str_radix(digits, 16).ok().and_then(|v| signed(v, negative));
            self.finish_int(value, start);
            return;
        }
        let int_start = p;
        while at(p).is_ascii_digit() {
            p += 1;
        }
        let int_end = p;
        let mut is_double = false;
        if at(p) == b'.' && at(p + 1).is_ascii_digit() {
            p += 1;
            while at(p).is_ascii_digit() {
                p += 1;
            }
            is_double = true;
        }
        if matches!(at(p), b'e' | b'E') {
            let mut q = p + 1;
            if matches!(at(q), b'+' | b'-') {
                q += 1;
            }
            if at(q).is_ascii_digit() {
                while at(q).is_ascii_digit() {
                    q += 1;
                }
                p = q;
                is_double = true;
            }
        }
        if p == int_start {
            // A lone sign: no number follows it.
            self.pos = start + 1;
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_NUMBER,
                    self.span(start, start + 1),
                    "a sign must be followed by a number",
                )
                .with_label("expected digits after this"),
            );
            return;
        }
        self.pos = p;
        if is_double {
            let text = &self.text[start..p];
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => self.push(TokenKind::Double(v), start),
                _ => {
                    self.diags.push(
                        Diagnostic::error(
                            codes::INVALID_NUMBER,
                            self.span(start, p),
                            "floating-point literal out of range",
                        )
                        .with_label("does not fit a double"),
                    );
                    self.push(TokenKind::Double(0.0), start);
                }
            }
        } else {
            let value = self.text[int_start..int_end].parse::<u64>().ok().and_then(|v| signed(v, negative));
            self.finish_int(value, start);
        }
    }

    fn finish_int(&mut self, value: Option<i64>, start: usize) {
        if value.is_none() {
            self.diags.push(
                Diagnostic::error(codes::INT_OVERFLOW, self.span(start, self.pos), "integer literal overflows i64")
                    .with_label("must lie in -9223372036854775808..=9223372036854775807"),
            );
        }
        self.push(TokenKind::Int(value), start);
    }
}

/// Applies a sign to a magnitude, failing outside i64.
fn signed(magnitude: u64, negative: bool) -> Option<i64> {
    if negative {
        if magnitude == 1 << 63 { Some(i64::MIN) } else { i64::try_from(magnitude).ok().map(|v| -v) }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Cleans the body of a `/** ... */` comment: drops the leading `*` of each
/// line and the common indentation, and blank first and last lines.
fn clean_doc(body: &str) -> String {
    let lines: Vec<&str> = body
        .lines()
        .map(|line| {
            let t = line.trim_start();
            match t.strip_prefix('*') {
                Some(rest) => rest.strip_prefix(' ').unwrap_or(rest),
                None => t,
            }
            .trim_end()
        })
        .collect();
    let first = lines.iter().position(|l| !l.is_empty());
    let last = lines.iter().rposition(|l| !l.is_empty());
    match (first, last) {
        (Some(a), Some(b)) => lines[a..=b].join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> (Vec<TokenKind>, Diagnostics) {
        let mut d = Diagnostics::new();
        let toks = tokenize(FileId(0), text, &mut d);
        (toks.into_iter().map(|t| t.kind).collect(), d)
    }

    #[test]
    fn numbers_follow_apache() {
        let (k, d) = kinds("-1 +2 0x1F -0x10 1.5 .5 1e3 -1.5E-2 true false 9223372036854775807 -9223372036854775808");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            k,
            vec![
                TokenKind::Int(Some(-1)),
                TokenKind::Int(Some(2)),
                TokenKind::Int(Some(31)),
                TokenKind::Int(Some(-16)),
                TokenKind::Double(1.5),
                TokenKind::Double(0.5),
                TokenKind::Double(1000.0),
                TokenKind::Double(-0.015),
                TokenKind::Int(Some(1)),
                TokenKind::Int(Some(0)),
                TokenKind::Int(Some(i64::MAX)),
                TokenKind::Int(Some(i64::MIN)),
                TokenKind::Eof,
            ]
        );
    }

    #[test]
    fn overflow_is_reported() {
        let (k, d) = kinds("9223372036854775808 0x10000000000000000");
        assert_eq!(d.error_count(), 2);
        assert_eq!(k[0], TokenKind::Int(None));
    }

    #[test]
    fn dotted_identifiers_and_docs() {
        let mut d = Diagnostics::new();
        let toks = tokenize(FileId(0), "/** the\n * doc */ base.Type a. struct", &mut d);
        assert_eq!(toks[0].kind, TokenKind::Ident);
        assert_eq!(toks[0].doc.as_deref(), Some("the\ndoc"));
        assert_eq!(toks[0].span.range(), 18..27);
        assert_eq!(toks[1].span.range(), 28..29);
        assert!(d.has_errors(), "a lone `.` is not a token");
    }

    #[test]
    fn strings_and_escapes() {
        let (k, d) = kinds(r#""a\"b\n" 'c\'d' "é""#);
        assert!(d.is_empty());
        assert_eq!(k[0], TokenKind::Str("a\"b\n".into()));
        assert_eq!(k[1], TokenKind::Str("c'd".into()));
        assert_eq!(k[2], TokenKind::Str("é".into()));
        let (_, d) = kinds("\"abc\n");
        assert_eq!(d.iter().next().map(|d| d.code), Some(codes::UNTERMINATED_STRING));
        let (_, d) = kinds(r#""\u0041""#);
        assert_eq!(d.iter().next().map(|d| d.code), Some(codes::INVALID_ESCAPE));
    }

    #[test]
    fn unterminated_comment_stops() {
        let (k, d) = kinds("struct /* never closed");
        assert_eq!(k.len(), 2);
        assert_eq!(d.iter().next().map(|d| d.code), Some(codes::UNTERMINATED_COMMENT));
    }
}
