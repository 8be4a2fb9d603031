//! Types, constant values, typedefs, enums and constants as text.
//!
//! Types and values are written flat where they fit; [`Doc`]s describe
//! them for the layout engine only when a line has to break.

use std::fmt::Write as _;

use super::writer::{Doc, ListKind, MAX_WIDTH, Writer, width};
use super::{Generator, names};
use crate::model::{BaseType, Const, DefId, Enum, Requiredness, StructKind, Type, Typedef, Value};

impl Generator<'_> {
    /// A path to a definition from program `from`, as text.
    pub(super) fn def_path_text(&self, from: usize, id: DefId, name: &str) -> String {
        let ident = names::ident(&self.type_name(name));
        if id.program == from { ident } else { format!("super::{}::{ident}", self.modules[id.program]) }
    }

    fn named_type_text(&self, from: usize, ty: &Type) -> Option<String> {
        let m = self.model;
        Some(match ty {
            Type::Struct(id) => self.def_path_text(from, *id, &m.struct_def(*id).name),
            Type::Enum(id) => self.def_path_text(from, *id, &m.enum_def(*id).name),
            Type::Typedef(id) => self.def_path_text(from, *id, &m.typedef(*id).name),
            _ => return None,
        })
    }

    fn set_path(&self) -> &'static str {
        if self.options.btree { "::std::collections::BTreeSet" } else { "::std::collections::HashSet" }
    }

    fn map_path(&self) -> &'static str {
        if self.options.btree { "::std::collections::BTreeMap" } else { "::std::collections::HashMap" }
    }

    /// The Rust type of `ty`, as one line of text.
    pub(super) fn type_text(&self, from: usize, ty: &Type, out: &mut String) {
        if let Some(path) = self.named_type_text(from, ty) {
            out.push_str(&path);
            return;
        }
        match ty {
            Type::Base(b) => out.push_str(base_type(*b)),
            Type::List(e) => {
                out.push_str("::std::vec::Vec<");
                self.type_text(from, e, out);
                out.push('>');
            }
            Type::Set(e) => {
                out.push_str(self.set_path());
                out.push('<');
                self.type_text(from, e, out);
                out.push('>');
            }
            Type::Map(k, v) => {
                out.push_str(self.map_path());
                out.push('<');
                self.type_text(from, k, out);
                out.push_str(", ");
                self.type_text(from, v, out);
                out.push('>');
            }
            Type::Struct(_) | Type::Enum(_) | Type::Typedef(_) => {}
        }
    }

    pub(super) fn type_string(&self, from: usize, ty: &Type) -> String {
        let mut s = String::new();
        self.type_text(from, ty, &mut s);
        s
    }

    /// The Rust type of `ty`, for breaking.
    pub(super) fn type_doc(&self, from: usize, ty: &Type) -> Doc {
        match ty {
            Type::List(e) => Doc::list("::std::vec::Vec", ListKind::Generic, vec![self.type_doc(from, e)]),
            Type::Set(e) => Doc::list(self.set_path(), ListKind::Generic, vec![self.type_doc(from, e)]),
            Type::Map(k, v) => {
                Doc::list(self.map_path(), ListKind::Generic, vec![self.type_doc(from, k), self.type_doc(from, v)])
            }
            _ => Doc::Text(self.type_string(from, ty)),
        }
    }

    /// An expression building an owned `value` of type `ty`.
    pub(super) fn value_doc(&self, p: usize, ty: &Type, value: &Value) -> Doc {
        let resolved = self.model.resolve(ty);
        match (resolved, value) {
            (_, Value::Bool(b)) => Doc::Text(b.to_string()),
            (_, Value::Int(n)) => Doc::Text(int_lit(*n)),
            (_, Value::Double(d)) => Doc::Text(double_lit(*d)),
            (Type::Base(BaseType::Binary), Value::String(s)) => Doc::list(
                "::mu2sls::codegen::Bytes::from_static",
                ListKind::Call,
                vec![Doc::Text(byte_string_lit(s.as_bytes()))],
            ),
            (_, Value::String(s)) => {
                Doc::list("::std::string::String::from", ListKind::Call, vec![Doc::Text(string_lit(s))])
            }
            (_, Value::Uuid(u)) => {
                let hex = u.replace('-', "");
                let n = u128::from_str_radix(&hex, 16).unwrap_or(0);
                Doc::list("::mu2sls::codegen::Uuid::from_u128", ListKind::Call, vec![Doc::Text(n.to_string())])
            }
            (_, Value::Enum { def, name, .. }) => {
                let path = self.def_path_text(p, *def, &self.model.enum_def(*def).name);
                Doc::Text(format!("{path}::{}", names::ident(&self.const_name(name))))
            }
            (Type::List(e), Value::List(items)) => {
                Doc::list("::std::vec!", ListKind::Macro, items.iter().map(|i| self.value_doc(p, e, i)).collect())
            }
            (Type::Set(e), Value::Set(items)) => {
                let items = items.iter().map(|i| self.value_doc(p, e, i)).collect();
                Doc::list(
                    format!("{}::from", self.set_path()),
                    ListKind::Call,
                    vec![Doc::list("", ListKind::Array, items)],
                )
            }
            (Type::Map(kt, vt), Value::Map(entries)) => {
                let entries = entries
                    .iter()
                    .map(|(k, v)| {
                        Doc::list("", ListKind::Tuple, vec![self.value_doc(p, kt, k), self.value_doc(p, vt, v)])
                    })
                    .collect();
                Doc::list(
                    format!("{}::from", self.map_path()),
                    ListKind::Call,
                    vec![Doc::list("", ListKind::Array, entries)],
                )
            }
            (_, Value::Struct { def, fields }) => {
                let st = self.model.struct_def(*def);
                let path = self.def_path_text(p, *def, &st.name);
                let mut inits = Vec::new();
                for (fname, v) in fields {
                    let Some(field) = st.fields.iter().find(|f| &f.name == fname) else { continue };
                    let mut expr = self.value_doc(p, &field.ty, v);
                    if field.recursive {
                        expr = Doc::list("::std::boxed::Box::new", ListKind::Call, vec![expr]);
                    }
                    if st.kind == StructKind::Union {
                        let variant = names::ident(&self.type_name(fname));
                        return Doc::list(format!("{path}::{variant}"), ListKind::Call, vec![expr]);
                    }
                    if field.requiredness == Requiredness::Optional {
                        expr = Doc::list("::std::option::Option::Some", ListKind::Call, vec![expr]);
                    }
                    inits.push((names::ident(&self.snake_name(fname)), expr));
                }
                Doc::Struct { head: path, fields: inits, rest: true }
            }
            // A model value always matches its type; nothing else reaches here.
            (_, other) => {
                let msg = format!("thrift-mu2sls: value {other:?} does not match its type");
                Doc::list("::std::compile_error!", ListKind::Call, vec![Doc::Text(string_lit(&msg))])
            }
        }
    }

    pub(super) fn emit_typedef(&self, p: usize, t: &Typedef, w: &mut Writer) {
        w.doc(&t.doc);
        let name = names::ident(&self.type_name(&t.name));
        w.assign(&format!("pub type {name} ="), &self.type_doc(p, &t.target), ";");
    }

    pub(super) fn emit_constant(&self, p: usize, c: &Const, w: &mut Writer) {
        w.doc(&c.doc);
        let name = names::ident(&self.const_name(&c.name));
        match (self.model.resolve(&c.ty), &c.value) {
            (Type::Base(BaseType::String), Value::String(s)) => {
                w.assign(&format!("pub const {name}: &str ="), &Doc::Text(string_lit(s)), ";");
            }
            (Type::Base(BaseType::Binary), Value::String(s)) => {
                w.assign(&format!("pub const {name}: &[u8] ="), &Doc::Text(byte_string_lit(s.as_bytes())), ";");
            }
            (Type::Base(_) | Type::Enum(_), _) => {
                let declared = self.type_string(p, &c.ty);
                w.assign(&format!("pub const {name}: {declared} ="), &self.value_doc(p, &c.ty, &c.value), ";");
            }
            _ => {
                let declared = self.type_string(p, &c.ty);
                let mut lhs = format!("pub static {name}: ::std::sync::LazyLock<{declared}> =");
                if w.indent() + width(&lhs) > MAX_WIDTH {
                    let ty = Doc::list("::std::sync::LazyLock", ListKind::Generic, vec![self.type_doc(p, &c.ty)]);
                    lhs = format!("pub static {name}: ");
                    let avail = MAX_WIDTH.saturating_sub(w.indent() + width(&lhs) + 2);
                    ty.render(&mut lhs, w.indent(), avail);
                    lhs.push_str(" =");
                }
                self.emit_lazy(w, &lhs, &self.value_doc(p, &c.ty, &c.value));
            }
        }
    }

    /// `lhs ::std::sync::LazyLock::new(|| value);`, laid out as rustfmt
    /// lays out a closure overflowing a call on the right of an `=`.
    fn emit_lazy(&self, w: &mut Writer, lhs: &str, value: &Doc) {
        const NEW: &str = "::std::sync::LazyLock::new(|| ";
        let flat = value.flat_string();
        let base = w.indent();
        // The columns the last line of `lhs` takes.
        let lhs_last = lhs.rsplit('\n').next().map_or(0, width) + if lhs.contains('\n') { 0 } else { base };
        if lhs_last + 1 + width(NEW) + width(&flat) + 2 <= MAX_WIDTH && value.may_be_flat() {
            w.line(format_args!("{lhs} {NEW}{flat});"));
            return;
        }
        // On the next line, in one piece.
        if base + 4 + width(NEW) + width(&flat) + 2 <= MAX_WIDTH && value.may_be_flat() {
            w.line(format_args!("{lhs}\n{:1$}{NEW}{flat});", "", base + 4));
            return;
        }
        // The closure's block opened on the `=` line, else on the next.
        let (open_indent, lead) = if lhs_last + width(NEW) + 2 <= MAX_WIDTH {
            (base, format!("{lhs} "))
        } else {
            (base + 4, format!("{lhs}\n{:1$}", "", base + 4))
        };
        w.buf.extend(std::iter::repeat_n(' ', base));
        w.buf.push_str(&lead);
        if let Doc::Struct { .. } = value {
            w.buf.push_str(NEW);
            let mut body = String::new();
            value.render(&mut body, open_indent, 0);
            w.buf.push_str(&body);
            w.buf.push_str(");\n");
            return;
        }
        w.buf.push_str(NEW);
        w.buf.push_str("{\n");
        let inner = open_indent + 4;
        w.buf.extend(std::iter::repeat_n(' ', inner));
        let mut body = String::new();
        value.render(&mut body, inner, MAX_WIDTH - inner);
        w.buf.push_str(&body);
        w.buf.push('\n');
        w.buf.extend(std::iter::repeat_n(' ', open_indent));
        w.buf.push_str("});\n");
    }

    pub(super) fn emit_enum(&self, e: &Enum, w: &mut Writer) {
        let name = names::ident(&self.type_name(&e.name));
        let n = name.as_str();
        w.doc(&e.doc);
        w.text("///");
        w.text("/// An open enum: values other than the declared ones (from a newer");
        w.text("/// peer, say) are kept as they are.");
        w.derive(&self.with_serde("Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord"));
        self.serde_lines(w, true);
        w.text("#[repr(transparent)]");
        w.line(format_args!("pub struct {n}(pub i32);"));
        w.blank();
        let members: Vec<String> = e.values.iter().map(|v| names::ident(&self.const_name(&v.name))).collect();
        w.open(format_args!("impl {n} {{"));
        for (v, m) in e.values.iter().zip(&members) {
            w.doc(&v.doc);
            w.assign(
                &format!("pub const {m}: {n} ="),
                &Doc::Text(format!("{n}({})", int_lit(i64::from(v.value)))),
                ";",
            );
        }
        w.text("/// The declared members, in IDL order.");
        let values = Doc::list("&", ListKind::Array, members.iter().map(|m| Doc::Text(format!("{n}::{m}"))).collect());
        w.assign(&format!("pub const VALUES: &'static [{n}] ="), &values, ";");
        w.blank();
        w.text("/// The member's name as written in the IDL, if the value is declared.");
        w.open(format_args!("pub fn name(self) -> ::std::option::Option<&'static str> {{"));
        w.open(format_args!("match self.0 {{"));
        // `name()` matches on values; a duplicated number keeps its first name.
        let mut seen = std::collections::HashSet::new();
        for v in e.values.iter().filter(|v| seen.insert(v.value)) {
            w.line(format_args!(
                "{} => ::std::option::Option::Some({}),",
                int_lit(i64::from(v.value)),
                string_lit(&v.name)
            ));
        }
        w.text("_ => ::std::option::Option::None,");
        w.close("}");
        w.close("}");
        w.blank();
        w.text("/// The member with this IDL name.");
        w.open(format_args!("pub fn from_name(name: &str) -> ::std::option::Option<{n}> {{"));
        w.open(format_args!("match name {{"));
        for (v, m) in e.values.iter().zip(&members) {
            w.line(format_args!("{} => ::std::option::Option::Some({n}::{m}),", string_lit(&v.name)));
        }
        w.text("_ => ::std::option::Option::None,");
        w.close("}");
        w.close("}");
        w.close("}");
        w.blank();
        let default = e.values.first().map_or_else(|| "0".to_string(), |v| int_lit(i64::from(v.value)));
        w.open(format_args!("impl ::std::default::Default for {n} {{"));
        w.text("/// The first declared member.");
        w.open(format_args!("fn default() -> Self {{"));
        w.line(format_args!("{n}({default})"));
        w.close("}");
        w.close("}");
        w.blank();
        w.open(format_args!("impl ::std::convert::From<i32> for {n} {{"));
        w.open(format_args!("fn from(value: i32) -> Self {{"));
        w.line(format_args!("{n}(value)"));
        w.close("}");
        w.close("}");
        w.blank();
        w.open(format_args!("impl ::std::convert::From<{n}> for i32 {{"));
        w.open(format_args!("fn from(value: {n}) -> i32 {{"));
        w.text("value.0");
        w.close("}");
        w.close("}");
        w.blank();
        w.open(format_args!("impl ::mu2sls::codegen::Encode for {n} {{"));
        w.text("const TTYPE: ::mu2sls::codegen::TType = ::mu2sls::codegen::TType::I32;");
        w.blank();
        w.text("#[inline]");
        w.text(ENCODE_SIGNATURE);
        w.text("    w.i32(self.0);");
        w.text("}");
        w.close("}");
        w.blank();
        w.open(format_args!("impl ::mu2sls::codegen::Decode for {n} {{"));
        w.text("#[inline]");
        w.text(DECODE_SIGNATURE);
        w.line(format_args!("    r.i32().map({n})"));
        w.text("}");
        w.close("}");
        w.blank();
        w.open(format_args!("impl ::std::fmt::Debug for {n} {{"));
        w.open(format_args!("fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{"));
        w.open(format_args!("match self.name() {{"));
        w.text("::std::option::Option::Some(n) => f.write_str(n),");
        w.line(format_args!(
            "::std::option::Option::None => write!(f, \"{{}}({{}})\", {}, self.0),",
            string_lit(&e.name)
        ));
        w.close("}");
        w.close("}");
        w.close("}");
    }

    /// `derives`, plus serde's (with `serde`), through the runtime's
    /// re-export so the user's crate needs no serde dependency.
    pub(super) fn with_serde(&self, derives: &str) -> String {
        if self.options.serde {
            format!("{derives}, ::mu2sls::codegen::serde::Serialize, ::mu2sls::codegen::serde::Deserialize")
        } else {
            derives.to_string()
        }
    }

    /// The serde attributes that follow the derive (with `serde`).
    pub(super) fn serde_lines(&self, w: &mut Writer, transparent: bool) {
        if !self.options.serde {
            return;
        }
        w.text("#[serde(crate = \"::mu2sls::codegen::serde\")]");
        if transparent {
            w.text("#[serde(transparent)]");
        }
    }
}

/// The signature of `Encode::encode`, up to its opening brace; the body
/// follows indented by one more level, then a `}` line.
pub(super) const ENCODE_SIGNATURE: &str = "fn encode<P: ::mu2sls::codegen::Protocol, O: ::mu2sls::codegen::Output>(
        &self,
        w: &mut ::mu2sls::codegen::Writer<P, O>,
    ) {";

/// The signature of `Decode::decode`, like [`ENCODE_SIGNATURE`].
pub(super) const DECODE_SIGNATURE: &str = "fn decode<P: ::mu2sls::codegen::Protocol>(
        r: &mut ::mu2sls::codegen::Reader<'_, P>,
    ) -> ::std::result::Result<Self, ::mu2sls::codegen::DecodeError> {";

fn base_type(b: BaseType) -> &'static str {
    match b {
        BaseType::Bool => "bool",
        BaseType::I8 => "i8",
        BaseType::I16 => "i16",
        BaseType::I32 => "i32",
        BaseType::I64 => "i64",
        BaseType::Double => "f64",
        BaseType::String => "::std::string::String",
        BaseType::Binary => "::mu2sls::codegen::Bytes",
        BaseType::Uuid => "::mu2sls::codegen::Uuid",
    }
}

/// An integer literal (`i64::MIN` has no literal of its own).
pub(super) fn int_lit(n: i64) -> String {
    if n == i64::MIN { "i64::MIN".to_string() } else { n.to_string() }
}

/// A float literal that stays a float (`3.0`, not `3`).
fn double_lit(d: f64) -> String {
    let mut s = d.to_string();
    if !s.contains(['.', 'e', 'E', 'i', 'N']) {
        s.push_str(".0");
    }
    s
}

/// A Rust string literal with `value`'s text.
pub(super) fn string_lit(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\0' => s.push_str("\\0"),
            c if c.is_control() => {
                let _ = write!(s, "\\u{{{:x}}}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// A Rust byte-string literal.
fn byte_string_lit(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 3);
    s.push_str("b\"");
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'\0' => s.push_str("\\0"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    s
}
