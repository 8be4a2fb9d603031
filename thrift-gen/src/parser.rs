//! Tokens to [`ast::Document`], by recursive descent.
//!
//! The grammar is Apache Thrift's (`thrifty.yy`, 0.17 and later), including
//! the deprecated and ignored parts (`cpp_type`, `xsd_*`, `&`). Architecture
//! invariant: [`parse`] never panics and always returns a document; syntax
//! errors become diagnostics and parsing resumes at the next field, enum
//! value, function or definition, so one run reports several errors. Every
//! loop consumes at least one token per turn, so no input can make it hang.

use crate::ast::*;
use crate::diagnostics::{Diagnostic, Diagnostics, FileId, Span, codes};
use crate::lexer::{Keyword, Token, TokenKind, tokenize};

/// Parses one file. Problems go to `diags`; the returned document holds
/// everything that could be parsed.
pub(crate) fn parse(file: FileId, text: &str, diags: &mut Diagnostics) -> Document {
    let tokens = tokenize(file, text, diags);
    let mut p = Parser { text, tokens, pos: 0, diags, depth: 0 };
    p.document()
}

/// A syntax error that has already been reported.
struct Reported;

type PResult<T> = Result<T, Reported>;

struct Parser<'a, 'd> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    diags: &'d mut Diagnostics,
    /// Current nesting of types and constant values, bounded by [`MAX_NESTING`].
    depth: usize,
}

/// How deeply types (`list<list<...>>`) and constant values may nest. Deeper
/// input is an error, not a stack overflow.
const MAX_NESTING: usize = 128;

fn is_definition_start(kind: &TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Keyword(
            Keyword::Const
                | Keyword::Typedef
                | Keyword::Enum
                | Keyword::Senum
                | Keyword::Struct
                | Keyword::Union
                | Keyword::Exception
                | Keyword::Service
                | Keyword::Include
                | Keyword::CppInclude
                | Keyword::Namespace
        )
    )
}

impl Parser<'_, '_> {
    // ----- token access -------------------------------------------------

    fn peek(&self) -> &Token {
        // The token list always ends with Eof, and `bump` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_kind(&self) -> &TokenKind {
        &self.peek().kind
    }

    fn nth_kind(&self, n: usize) -> &TokenKind {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)].kind
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn at(&self, kind: &TokenKind) -> bool {
        self.peek_kind() == kind
    }

    fn eat(&mut self, kind: &TokenKind) -> Option<Token> {
        if self.at(kind) { Some(self.bump()) } else { None }
    }

    fn eat_keyword(&mut self, kw: Keyword) -> Option<Token> {
        self.eat(&TokenKind::Keyword(kw))
    }

    /// Whether the next tokens start a new top-level definition: a
    /// definition keyword followed by what such a definition has next (so
    /// `struct = 1` inside an enum is a member named `struct`).
    fn at_definition(&self) -> bool {
        is_definition_start(self.peek_kind())
            && matches!(
                self.nth_kind(1),
                TokenKind::Ident | TokenKind::Str(_) | TokenKind::Star | TokenKind::Keyword(_)
            )
    }

    fn text_of(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }

    fn prev_span(&self) -> Span {
        self.tokens[self.pos.saturating_sub(1)].span
    }

    fn found(&self) -> String {
        let t = self.peek();
        match &t.kind {
            TokenKind::Ident | TokenKind::Keyword(_) => format!("`{}`", self.text_of(t.span)),
            TokenKind::Int(_) | TokenKind::Double(_) | TokenKind::Str(_) => {
                format!("{} `{}`", t.kind.describe(), self.text_of(t.span))
            }
            other => other.describe().to_string(),
        }
    }

    fn error_expected(&mut self, what: &str) -> Reported {
        let span = self.peek().span;
        let found = self.found();
        self.diags.push(
            Diagnostic::error(codes::SYNTAX, span, format!("expected {what}, found {found}"))
                .with_label(format!("expected {what}")),
        );
        Reported
    }

    fn expect(&mut self, kind: TokenKind, what: &str) -> PResult<Token> {
        match self.eat(&kind) {
            Some(t) => Ok(t),
            None => Err(self.error_expected(what)),
        }
    }

    /// Expects the closing token of a delimiter opened at `open`. At end of
    /// file (or at a token that starts a new definition) the error points at
    /// the opener: that is where the user has to look.
    fn expect_close(&mut self, kind: TokenKind, open: Span, what: &str) -> PResult<Token> {
        if let Some(t) = self.eat(&kind) {
            return Ok(t);
        }
        let at_end = self.at(&TokenKind::Eof) || self.at_definition();
        let span = self.peek().span;
        let found = self.found();
        let d = if at_end {
            Diagnostic::error(codes::UNCLOSED, open, format!("unclosed delimiter: expected {what}, found {found}"))
                .with_label("this is never closed")
                .with_secondary(span, format!("expected {what} before this"))
        } else {
            Diagnostic::error(codes::SYNTAX, span, format!("expected {what}, found {found}"))
                .with_label(format!("expected {what}"))
                .with_secondary(open, "to close this")
        };
        self.diags.push(d);
        Err(Reported)
    }

    /// A name: an identifier, or a keyword used as a name (Thrift 0.18+
    /// allows keywords as field, argument, method and enum value names).
    fn name(&mut self, what: &str) -> PResult<Ident> {
        match self.peek_kind() {
            TokenKind::Ident | TokenKind::Keyword(_) => {
                let t = self.bump();
                Ok(Ident { name: self.text_of(t.span).to_string(), span: t.span })
            }
            _ => Err(self.error_expected(what)),
        }
    }

    /// A definition name: an identifier only.
    fn def_name(&mut self, what: &str) -> PResult<Ident> {
        match self.peek_kind() {
            TokenKind::Ident => {
                let t = self.bump();
                Ok(Ident { name: self.text_of(t.span).to_string(), span: t.span })
            }
            _ => Err(self.error_expected(what)),
        }
    }

    fn string_literal(&mut self, what: &str) -> PResult<(String, Span)> {
        match self.peek_kind().clone() {
            TokenKind::Str(s) => {
                let t = self.bump();
                Ok((s, t.span))
            }
            _ => Err(self.error_expected(what)),
        }
    }

    fn separator(&mut self) {
        if self.eat(&TokenKind::Comma).is_none() {
            self.eat(&TokenKind::Semi);
        }
    }

    fn deprecated(&mut self, span: Span, what: &str, instead: &str) {
        self.diags.push(
            Diagnostic::warning(codes::W_DEPRECATED, span, format!("`{what}` is deprecated"))
                .with_label(format!("use `{instead}` instead")),
        );
    }

    // ----- recovery -----------------------------------------------------

    /// Skips to the end of the current item inside a `{ }` or `( )` list:
    /// past a `,` or `;`, or up to the list's closing token, a new item
    /// start (`N:`) or a definition keyword. Consumes at least one token.
    fn recover_item(&mut self, close: &TokenKind) {
        let mut depth = 0usize;
        let mut first = true;
        loop {
            let kind = self.peek_kind().clone();
            if kind == TokenKind::Eof {
                return;
            }
            if depth == 0 && !first {
                if &kind == close || self.at_definition() {
                    return;
                }
                if matches!(kind, TokenKind::Int(_)) && self.nth_kind(1) == &TokenKind::Colon {
                    return;
                }
            }
            match kind {
                TokenKind::LBrace | TokenKind::LParen | TokenKind::LBracket => depth += 1,
                TokenKind::RBrace | TokenKind::RParen | TokenKind::RBracket => {
                    if depth == 0 {
                        // A closer of an outer list: stop here unless it is
                        // the very first token (then eat it to make progress).
                        if first && &kind != close {
                            self.bump();
                        }
                        return;
                    }
                    depth -= 1;
                }
                TokenKind::Comma | TokenKind::Semi if depth == 0 => {
                    self.bump();
                    return;
                }
                _ => {}
            }
            self.bump();
            first = false;
        }
    }

    /// Skips to the next definition keyword at brace depth 0.
    fn recover_definition(&mut self) {
        let mut depth = 0usize;
        let mut first = true;
        loop {
            let kind = self.peek_kind().clone();
            match kind {
                TokenKind::Eof => return,
                _ if depth == 0 && !first && is_definition_start(&kind) => return,
                TokenKind::LBrace => depth += 1,
                TokenKind::RBrace => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.bump();
            first = false;
        }
    }

    // ----- grammar ------------------------------------------------------

    fn document(&mut self) -> Document {
        let mut doc = Document::default();
        loop {
            let kind = self.peek_kind().clone();
            let result = match kind {
                TokenKind::Eof => break,
                TokenKind::Keyword(Keyword::Include | Keyword::CppInclude | Keyword::Namespace) => {
                    if let Some(first) = doc.definitions.first() {
                        let span = self.peek().span;
                        let first_span = first.name().span;
                        self.diags.push(
                            Diagnostic::error(
                                codes::HEADER_AFTER_DEFINITION,
                                span,
                                format!("`{}` must come before the first definition", self.text_of(span)),
                            )
                            .with_label("move this up")
                            .with_secondary(first_span, "first definition"),
                        );
                    }
                    self.header().map(|h| doc.headers.push(h))
                }
                _ if is_definition_start(&kind) => self.definition().map(|d| doc.definitions.push(d)),
                _ => Err(self.error_expected("a definition (`struct`, `enum`, `service`, `const`, `typedef`, ...)")),
            };
            if result.is_err() {
                self.recover_definition();
            }
        }
        doc
    }

    fn header(&mut self) -> PResult<Header> {
        let kw = self.bump();
        match kw.kind {
            TokenKind::Keyword(Keyword::Include) => {
                let (path, span) = self.string_literal("the path of the included file, in quotes")?;
                Ok(Header::Include { path, span: kw.span.to(span) })
            }
            TokenKind::Keyword(Keyword::CppInclude) => {
                let (path, span) = self.string_literal("a path in quotes")?;
                Ok(Header::CppInclude { path, span: kw.span.to(span) })
            }
            _ => {
                let scope = if self.eat(&TokenKind::Star).is_some() {
                    "*".to_string()
                } else {
                    self.name("a language scope (such as `rs` or `*`)")?.name
                };
                let name = self.name("a namespace")?;
                let annotations = self.annotations()?;
                Ok(Header::Namespace { scope, name: name.name, annotations, span: kw.span.to(name.span) })
            }
        }
    }

    fn definition(&mut self) -> PResult<Definition> {
        let doc = self.peek().doc.clone();
        let kw = self.bump();
        let TokenKind::Keyword(k) = kw.kind else {
            return Err(self.error_expected("a definition"));
        };
        let def = match k {
            Keyword::Const => {
                let ty = self.field_type()?;
                let name = self.def_name("the constant's name")?;
                self.expect(TokenKind::Eq, "`=`")?;
                let value = self.const_value()?;
                let annotations = self.annotations()?;
                self.separator();
                Definition::Const(Const { doc, ty, name, value, annotations })
            }
            Keyword::Typedef => {
                let ty = self.field_type()?;
                let name = self.def_name("the new type's name")?;
                let annotations = self.annotations()?;
                self.separator();
                Definition::Typedef(Typedef { doc, ty, name, annotations })
            }
            Keyword::Enum => self.enum_def(doc)?,
            Keyword::Senum => self.senum_def(doc, kw.span)?,
            Keyword::Struct | Keyword::Union | Keyword::Exception => {
                let kind = match k {
                    Keyword::Struct => StructKind::Struct,
                    Keyword::Union => StructKind::Union,
                    _ => StructKind::Exception,
                };
                let name = self.def_name(&format!("the {}'s name", kind.keyword()))?;
                self.eat_keyword(Keyword::XsdAll);
                let open = self.expect(TokenKind::LBrace, "`{`")?.span;
                let fields = self.field_list(&TokenKind::RBrace, open, "`}`")?;
                let annotations = self.annotations()?;
                Definition::Struct(Struct { doc, kind, name, fields, annotations })
            }
            Keyword::Service => self.service_def(doc)?,
            _ => return Err(self.error_expected("a definition")),
        };
        Ok(def)
    }

    fn enum_def(&mut self, doc: Option<String>) -> PResult<Definition> {
        let name = self.def_name("the enum's name")?;
        let open = self.expect(TokenKind::LBrace, "`{`")?.span;
        let mut values = Vec::new();
        loop {
            if matches!(self.peek_kind(), TokenKind::RBrace | TokenKind::Eof) || self.at_definition() {
                break;
            }
            match self.enum_value() {
                Ok(v) => values.push(v),
                Err(Reported) => self.recover_item(&TokenKind::RBrace),
            }
        }
        self.expect_close(TokenKind::RBrace, open, "`}`")?;
        let annotations = self.annotations()?;
        Ok(Definition::Enum(Enum { doc, name, values, annotations }))
    }

    fn enum_value(&mut self) -> PResult<EnumValue> {
        let doc = self.peek().doc.clone();
        let name = self.name("an enum value name")?;
        let value = if self.eat(&TokenKind::Eq).is_some() {
            match self.peek_kind().clone() {
                TokenKind::Int(v) => {
                    let t = self.bump();
                    Some((v, t.span))
                }
                _ => return Err(self.error_expected("an integer")),
            }
        } else {
            None
        };
        let annotations = self.annotations()?;
        self.separator();
        Ok(EnumValue { doc, name, value, annotations })
    }

    fn senum_def(&mut self, doc: Option<String>, keyword: Span) -> PResult<Definition> {
        self.deprecated(keyword, "senum", "string");
        let name = self.def_name("the senum's name")?;
        let open = self.expect(TokenKind::LBrace, "`{`")?.span;
        let mut values = Vec::new();
        while let TokenKind::Str(s) = self.peek_kind().clone() {
            self.bump();
            values.push(s);
            self.separator();
        }
        self.expect_close(TokenKind::RBrace, open, "`}` or a string")?;
        let annotations = self.annotations()?;
        Ok(Definition::Senum(Senum { doc, name, values, annotations, keyword }))
    }

    fn service_def(&mut self, doc: Option<String>) -> PResult<Definition> {
        let name = self.def_name("the service's name")?;
        let extends = match self.eat_keyword(Keyword::Extends) {
            Some(_) => Some(self.def_name("the name of the extended service")?),
            None => None,
        };
        let open = self.expect(TokenKind::LBrace, "`{`")?.span;
        let mut functions = Vec::new();
        loop {
            if matches!(self.peek_kind(), TokenKind::RBrace | TokenKind::Eof) || self.at_definition() {
                break;
            }
            match self.function() {
                Ok(f) => functions.push(f),
                Err(Reported) => self.recover_item(&TokenKind::RBrace),
            }
        }
        self.expect_close(TokenKind::RBrace, open, "`}`")?;
        let annotations = self.annotations()?;
        Ok(Definition::Service(Service { doc, name, extends, functions, annotations }))
    }

    fn function(&mut self) -> PResult<Function> {
        let doc = self.peek().doc.clone();
        let mut oneway = None;
        if let Some(t) = self.eat_keyword(Keyword::Oneway) {
            oneway = Some(t.span);
        } else if let Some(t) = self.eat_keyword(Keyword::Async) {
            self.deprecated(t.span, "async", "oneway");
            oneway = Some(t.span);
        }
        let (returns, returns_span) = match self.eat_keyword(Keyword::Void) {
            Some(t) => (None, t.span),
            None => {
                let ty = self.field_type()?;
                let span = ty.span;
                (Some(ty), span)
            }
        };
        let name = self.name("the method's name")?;
        let open = self.expect(TokenKind::LParen, "`(`")?.span;
        let args = self.field_list(&TokenKind::RParen, open, "`)`")?;
        let throws = match self.eat_keyword(Keyword::Throws) {
            Some(t) => {
                let open = self.expect(TokenKind::LParen, "`(`")?.span;
                Some((self.field_list(&TokenKind::RParen, open, "`)`")?, t.span))
            }
            None => None,
        };
        let annotations = self.annotations()?;
        self.separator();
        Ok(Function { doc, oneway, returns, returns_span, name, args, throws, annotations })
    }

    /// Fields up to and including `close` (`}` for structs, `)` for arguments).
    fn field_list(&mut self, close: &TokenKind, open: Span, what: &str) -> PResult<Vec<Field>> {
        let mut fields = Vec::new();
        loop {
            let k = self.peek_kind();
            if k == close || k == &TokenKind::Eof || self.at_definition() {
                break;
            }
            match self.field() {
                Ok(f) => fields.push(f),
                Err(Reported) => self.recover_item(close),
            }
        }
        self.expect_close(close.clone(), open, what)?;
        // The AST lives until resolving ends; growth slack in tens of
        // thousands of field lists was a third of its size.
        fields.shrink_to_fit();
        Ok(fields)
    }

    fn field(&mut self) -> PResult<Field> {
        let doc = self.peek().doc.clone();
        let start = self.peek().span;
        let id = match (self.peek_kind().clone(), self.nth_kind(1)) {
            (TokenKind::Int(v), TokenKind::Colon) => {
                let t = self.bump();
                self.bump();
                Some((v, t.span))
            }
            _ => None,
        };
        let requiredness = if self.eat_keyword(Keyword::Required).is_some() {
            Requiredness::Required
        } else if self.eat_keyword(Keyword::Optional).is_some() {
            Requiredness::Optional
        } else {
            Requiredness::Default
        };
        let ty = self.field_type()?;
        let reference = self.eat(&TokenKind::Amp).is_some();
        let name = self.name("a field name")?;
        let default = match self.eat(&TokenKind::Eq) {
            Some(_) => Some(self.const_value()?),
            None => None,
        };
        self.eat_keyword(Keyword::XsdOptional);
        self.eat_keyword(Keyword::XsdNillable);
        if self.eat_keyword(Keyword::XsdAttrs).is_some() {
            let open = self.expect(TokenKind::LBrace, "`{`")?.span;
            self.enter()?;
            let attrs = self.field_list(&TokenKind::RBrace, open, "`}`");
            self.depth -= 1;
            attrs?;
        }
        let annotations = self.annotations()?;
        let span = start.to(self.prev_span());
        self.separator();
        Ok(Field { doc, id, requiredness, ty, reference, name, default, annotations, span })
    }

    fn cpp_type(&mut self) -> PResult<()> {
        if self.eat_keyword(Keyword::CppType).is_some() {
            self.string_literal("a C++ type name in quotes")?;
        }
        Ok(())
    }

    fn field_type(&mut self) -> PResult<Type> {
        self.enter()?;
        let r = self.field_type_inner();
        self.depth -= 1;
        r
    }

    fn const_value(&mut self) -> PResult<ConstValue> {
        self.enter()?;
        let r = self.const_value_inner();
        self.depth -= 1;
        r
    }

    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            let span = self.peek().span;
            self.diags.push(
                Diagnostic::error(codes::SYNTAX, span, format!("nesting deeper than {MAX_NESTING} levels"))
                    .with_label("too deeply nested"),
            );
            return Err(Reported);
        }
        self.depth += 1;
        Ok(())
    }

    fn field_type_inner(&mut self) -> PResult<Type> {
        let t = self.peek().clone();
        let kind = match t.kind {
            TokenKind::Ident => {
                self.bump();
                TypeKind::Named(self.text_of(t.span).to_string())
            }
            TokenKind::Keyword(kw) => {
                let base = match kw {
                    Keyword::Bool => Some(BaseType::Bool),
                    Keyword::Byte => {
                        self.deprecated(t.span, "byte", "i8");
                        Some(BaseType::I8)
                    }
                    Keyword::I8 => Some(BaseType::I8),
                    Keyword::I16 => Some(BaseType::I16),
                    Keyword::I32 => Some(BaseType::I32),
                    Keyword::I64 => Some(BaseType::I64),
                    Keyword::Double => Some(BaseType::Double),
                    Keyword::String => Some(BaseType::String),
                    Keyword::Binary => Some(BaseType::Binary),
                    Keyword::Uuid => Some(BaseType::Uuid),
                    _ => None,
                };
                if let Some(base) = base {
                    self.bump();
                    TypeKind::Base(base)
                } else {
                    match kw {
                        Keyword::Slist => {
                            self.bump();
                            self.diags.push(
                                Diagnostic::error(codes::UNSUPPORTED, t.span, "`slist` is no longer supported")
                                    .with_label("use `string` instead"),
                            );
                            TypeKind::Base(BaseType::String)
                        }
                        Keyword::Map => {
                            self.bump();
                            self.cpp_type()?;
                            let open = self.expect(TokenKind::Lt, "`<`")?.span;
                            let k = self.field_type()?;
                            self.expect(TokenKind::Comma, "`,` between the key and value types")?;
                            let v = self.field_type()?;
                            self.expect_close(TokenKind::Gt, open, "`>`")?;
                            TypeKind::Map(Box::new(k), Box::new(v))
                        }
                        Keyword::Set => {
                            self.bump();
                            self.cpp_type()?;
                            let open = self.expect(TokenKind::Lt, "`<`")?.span;
                            let e = self.field_type()?;
                            self.expect_close(TokenKind::Gt, open, "`>`")?;
                            TypeKind::Set(Box::new(e))
                        }
                        Keyword::List => {
                            self.bump();
                            let open = self.expect(TokenKind::Lt, "`<`")?.span;
                            let e = self.field_type()?;
                            self.expect_close(TokenKind::Gt, open, "`>`")?;
                            self.cpp_type()?;
                            TypeKind::List(Box::new(e))
                        }
                        _ => return Err(self.error_expected("a type")),
                    }
                }
            }
            _ => return Err(self.error_expected("a type")),
        };
        let span = t.span.to(self.prev_span());
        let annotations = self.annotations()?;
        Ok(Type { kind, annotations, span })
    }

    fn annotations(&mut self) -> PResult<Vec<Annotation>> {
        let Some(open) = self.eat(&TokenKind::LParen) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        while !self.at(&TokenKind::RParen) {
            let key = self.name("an annotation name or `)`")?;
            let (value, end) = if self.eat(&TokenKind::Eq).is_some() {
                self.string_literal("the annotation's value, in quotes")?
            } else {
                ("1".to_string(), key.span)
            };
            out.push(Annotation { key: key.name, value, span: key.span.to(end) });
            self.separator();
        }
        self.expect_close(TokenKind::RParen, open.span, "`)`")?;
        Ok(out)
    }

    fn const_value_inner(&mut self) -> PResult<ConstValue> {
        let t = self.peek().clone();
        let kind = match t.kind {
            TokenKind::Int(v) => {
                self.bump();
                ConstValueKind::Int(v)
            }
            TokenKind::Double(v) => {
                self.bump();
                ConstValueKind::Double(v)
            }
            TokenKind::Str(s) => {
                self.bump();
                ConstValueKind::String(s)
            }
            TokenKind::Ident => {
                self.bump();
                ConstValueKind::Ident(self.text_of(t.span).to_string())
            }
            TokenKind::LBracket => {
                self.bump();
                let mut items = Vec::new();
                while !self.at(&TokenKind::RBracket) && !self.at(&TokenKind::Eof) {
                    items.push(self.const_value()?);
                    self.separator();
                }
                self.expect_close(TokenKind::RBracket, t.span, "`]`")?;
                ConstValueKind::List(items)
            }
            TokenKind::LBrace => {
                self.bump();
                let mut items = Vec::new();
                while !self.at(&TokenKind::RBrace) && !self.at(&TokenKind::Eof) {
                    let k = self.const_value()?;
                    self.expect(TokenKind::Colon, "`:` between key and value")?;
                    let v = self.const_value()?;
                    items.push((k, v));
                    self.separator();
                }
                self.expect_close(TokenKind::RBrace, t.span, "`}`")?;
                ConstValueKind::Map(items)
            }
            _ => return Err(self.error_expected("a constant value")),
        };
        Ok(ConstValue { kind, span: t.span.to(self.prev_span()) })
    }
}
