//! Structs, unions and exceptions: the Rust types and their codec impls.
//!
//! - `required` and default-requiredness fields are plain `T`, initialised
//!   from the IDL default; `optional` fields are `Option<T>`.
//! - A field that holds its own struct by value (directly or through other
//!   structs) is boxed; containers already are on the heap.
//! - Unions are Rust enums with an `Unknown` variant for a member this
//!   version of the IDL does not know (or none at all).
//! - Exceptions also implement `Display` and `std::error::Error`.
//!
//! The encode and decode bodies only call the runtime's `Writer`/`Reader`
//! primitives and `Encode`/`Decode` impls: the wire format lives in the
//! runtime, never here.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::values::{DECODE_SIGNATURE, ENCODE_SIGNATURE, string_lit};
use super::writer::{Doc, ListKind, MAX_WIDTH, Writer, first_line_ends, width};
use super::{Generator, names};
use crate::model::{BaseType, DefId, Field, Requiredness, Struct, StructKind, Type};

/// Which of `Eq` and `Hash` each struct can derive: `f64` has neither, and
/// `HashMap`/`HashSet` have no `Hash`. Computed as a fixpoint, so recursive
/// types are handled.
pub(super) struct TraitTable {
    eq: HashMap<DefId, bool>,
    hash: HashMap<DefId, bool>,
}

impl TraitTable {
    pub(super) fn new(g: &Generator<'_>) -> TraitTable {
        let ids: Vec<DefId> = g
            .model
            .programs
            .iter()
            .enumerate()
            .flat_map(|(p, prog)| (0..prog.structs.len()).map(move |index| DefId { program: p, index }))
            .collect();
        let mut t = TraitTable {
            eq: ids.iter().map(|id| (*id, true)).collect(),
            hash: ids.iter().map(|id| (*id, true)).collect(),
        };
        // Start optimistic and knock out until nothing changes.
        loop {
            let mut changed = false;
            for id in &ids {
                let fields = &g.model.struct_def(*id).fields;
                let eq = fields.iter().all(|f| t.type_has(g, &f.ty, false));
                let hash = fields.iter().all(|f| t.type_has(g, &f.ty, true));
                if t.eq[id] != eq || t.hash[id] != hash {
                    t.eq.insert(*id, eq);
                    t.hash.insert(*id, hash);
                    changed = true;
                }
            }
            if !changed {
                return t;
            }
        }
    }

    /// Whether `ty` implements `Eq` (or, with `hash`, `Hash` too).
    pub(super) fn type_has(&self, g: &Generator<'_>, ty: &Type, hash: bool) -> bool {
        match g.model.resolve(ty) {
            Type::Base(BaseType::Double) => false,
            Type::Base(_) | Type::Enum(_) => true,
            Type::List(e) => self.type_has(g, e, hash),
            Type::Set(e) => (!hash || g.options.btree) && self.type_has(g, e, hash),
            Type::Map(k, v) => (!hash || g.options.btree) && self.type_has(g, k, hash) && self.type_has(g, v, hash),
            Type::Struct(id) => {
                if hash {
                    self.hash[id]
                } else {
                    self.eq[id]
                }
            }
            Type::Typedef(_) => true,
        }
    }
}

/// How a generated type gets `Default`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum DefaultImpl {
    /// Derived: no field has an IDL default, so every field's default is
    /// its type's (`None` for optional fields).
    Derive,
    /// Written out, with the IDL defaults.
    Impl,
}

impl Generator<'_> {
    /// The text of a field's type: boxed if recursive, `Option` if optional.
    /// [`Generator::field_type_doc`] on one line.
    fn field_type_text(&self, p: usize, f: &Field, out: &mut String) {
        let optional = f.requiredness == Requiredness::Optional;
        if optional {
            out.push_str("::std::option::Option<");
        }
        if f.recursive {
            out.push_str("::std::boxed::Box<");
        }
        self.type_text(p, &f.ty, out);
        if f.recursive {
            out.push('>');
        }
        if optional {
            out.push('>');
        }
    }

    pub(super) fn field_type_doc(&self, p: usize, f: &Field) -> Doc {
        let mut ty = self.type_doc(p, &f.ty);
        if f.recursive {
            ty = Doc::list("::std::boxed::Box", ListKind::Generic, vec![ty]);
        }
        if f.requiredness == Requiredness::Optional {
            ty = Doc::list("::std::option::Option", ListKind::Generic, vec![ty]);
        }
        ty
    }

    /// The value a field has when nothing set it: its IDL default, else the
    /// type's default (`None` for an optional field without one).
    fn field_default_doc(&self, p: usize, f: &Field) -> Doc {
        let value = match &f.default {
            Some(v) => {
                let e = self.value_doc(p, &f.ty, v);
                if f.recursive { Doc::list("::std::boxed::Box::new", ListKind::Call, vec![e]) } else { e }
            }
            None if f.requiredness == Requiredness::Optional => return Doc::Text("::std::option::Option::None".into()),
            None => return Doc::Text("::std::default::Default::default()".into()),
        };
        if f.requiredness == Requiredness::Optional {
            Doc::list("::std::option::Option::Some", ListKind::Call, vec![value])
        } else {
            value
        }
    }

    /// A struct, union or exception of the IDL, with its impls.
    pub(super) fn emit_structure(&self, p: usize, id: DefId, s: &Struct, traits: &TraitTable, w: &mut Writer) {
        let derives = traits.derive_list(id, self.options.btree);
        if s.kind == StructKind::Union {
            self.emit_union(p, s, &derives, w);
        } else {
            self.emit_plain(p, s, &derives, self.options.serde, false, w);
        }
        if self.options.apache_compat {
            let name = names::ident(&self.type_name(&s.name));
            w.blank();
            w.open(format_args!("impl ::mu2sls::codegen::apache::TSerializable for {name} {{"));
            w.text(APACHE_IMPL);
            w.close("}");
        }
    }

    /// A struct or exception (also the hidden argument structs of service
    /// methods, `hidden`): `derives` is the list inside `#[derive(...)]`.
    pub(super) fn emit_plain(&self, p: usize, s: &Struct, derives: &str, serde: bool, hidden: bool, w: &mut Writer) {
        let name = names::ident(&self.type_name(&s.name));
        let n = name.as_str();
        let idents: Vec<String> = s.fields.iter().map(|f| names::ident(&self.snake_name(&f.name))).collect();
        let default_impl =
            if s.fields.iter().any(|f| f.default.is_some()) { DefaultImpl::Impl } else { DefaultImpl::Derive };
        w.doc(&s.doc);
        if hidden {
            w.text("#[doc(hidden)]");
        }
        let derives =
            if default_impl == DefaultImpl::Derive { format!("{derives}, Default") } else { derives.to_string() };
        if serde {
            w.derive(&self.with_serde(&derives));
        } else {
            w.derive(&derives);
        }
        if serde {
            self.serde_lines(w, false);
        }
        if s.fields.is_empty() {
            w.line(format_args!("pub struct {n} {{}}"));
        } else {
            w.open(format_args!("pub struct {n} {{"));
            for (f, ident) in s.fields.iter().zip(&idents) {
                w.doc(&f.doc);
                // Most fields fit on their line: written without a `Doc`.
                let at = w.start();
                w.buf.push_str("pub ");
                w.buf.push_str(ident);
                w.buf.push_str(": ");
                self.field_type_text(p, f, &mut w.buf);
                w.buf.push(',');
                if !w.end_checked(at) {
                    w.assign(&format!("pub {ident}:"), &self.field_type_doc(p, f), ",");
                }
            }
            w.close("}");
        }

        if default_impl == DefaultImpl::Impl {
            w.blank();
            w.open(format_args!("impl ::std::default::Default for {n} {{"));
            w.open(format_args!("fn default() -> Self {{"));
            let fields = s.fields.iter().zip(&idents).map(|(f, i)| (i.clone(), self.field_default_doc(p, f))).collect();
            w.statement(&Doc::Struct { head: name.clone(), fields, rest: false }, "");
            w.close("}");
            w.close("}");
        }

        w.blank();
        w.open(format_args!("impl ::mu2sls::codegen::Encode for {n} {{"));
        w.text("const TTYPE: ::mu2sls::codegen::TType = ::mu2sls::codegen::TType::Struct;");
        w.blank();
        w.text(ENCODE_SIGNATURE);
        w.open(format_args!("    w.struct_begin();"));
        for (f, ident) in s.fields.iter().zip(&idents) {
            let helper = if f.requiredness == Requiredness::Optional { "encode_optional" } else { "encode_field" };
            let at = w.start();
            let _ = write!(w.buf, "::mu2sls::codegen::{helper}(w, {}, &self.{ident});", f.id);
            // (The arguments must also fit rustfmt's 60 columns.)
            if ident.len() + 16 <= 60 && w.end_checked(at) {
                continue;
            }
            w.buf.truncate(at);
            let call = Doc::list(
                format!("::mu2sls::codegen::{helper}"),
                ListKind::Call,
                vec![Doc::Text("w".into()), Doc::Text(f.id.to_string()), Doc::Text(format!("&self.{ident}"))],
            );
            w.statement(&call, ";");
        }
        w.text("w.struct_end();");
        w.close("}");
        w.close("}");

        w.blank();
        w.open(format_args!("impl ::mu2sls::codegen::Decode for {n} {{"));
        w.text(DECODE_SIGNATURE);
        w.open(format_args!("    r.struct_begin()?;"));
        for ident in &idents {
            w.line(format_args!("let mut __{} = ::std::option::Option::None;", ident.trim_start_matches("r#")));
        }
        w.open(format_args!("while let ::std::option::Option::Some((t, id)) = r.field_begin()? {{"));
        w.open(format_args!("match (id, t) {{"));
        for (f, ident) in s.fields.iter().zip(&idents) {
            w.open(format_args!("({}, {}) => {{", f.id, self.ttype_text(&f.ty)));
            let path = string_lit(&format!("{}.{}", s.name, f.name));
            let local = ident.trim_start_matches("r#");
            let at = w.start();
            let _ = write!(w.buf, "__{local} = ::mu2sls::codegen::decode_some(r, {path})?;");
            if width(&path) + 3 <= 60 && w.end_checked(at) {
                w.close("}");
                continue;
            }
            w.buf.truncate(at);
            let call = Doc::list(
                "::mu2sls::codegen::decode_some",
                ListKind::Call,
                vec![Doc::Text("r".into()), Doc::Text(string_lit(&format!("{}.{}", s.name, f.name)))],
            );
            w.assign(&format!("__{} =", ident.trim_start_matches("r#")), &Doc::Suffix(Box::new(call), "?"), ";");
            w.close("}");
        }
        w.text("_ => r.skip(t)?,");
        w.close("}");
        w.close("}");
        w.text("r.struct_end();");
        self.emit_assemble(p, s, n, &idents, w);
        w.close("}");
        w.close("}");

        if s.kind == StructKind::Exception {
            w.blank();
            w.open(format_args!("impl ::std::fmt::Display for {n} {{"));
            w.open(format_args!("fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{"));
            w.line(format_args!("write!(f, \"{{}} {{:?}}\", {}, self)", string_lit(&s.name)));
            w.close("}");
            w.close("}");
            w.blank();
            w.line(format_args!("impl ::std::error::Error for {n} {{}}"));
        }
    }

    /// `Ok(Name { field: value, ... })` at the end of a decoder.
    fn emit_assemble(&self, p: usize, s: &Struct, n: &str, idents: &[String], w: &mut Writer) {
        let value = |f: &Field, ident: &str| -> Option<Doc> {
            let local = format!("__{}", ident.trim_start_matches("r#"));
            let path = string_lit(&format!("{}.{}", s.name, f.name));
            Some(match f.requiredness {
                Requiredness::Optional => Doc::Text(local),
                Requiredness::Required => Doc::Suffix(
                    Box::new(Doc::list(
                        "::mu2sls::codegen::required",
                        ListKind::Call,
                        vec![Doc::Text(local), Doc::Text("r".into()), Doc::Text(path)],
                    )),
                    "?",
                ),
                Requiredness::Default if f.default.is_none() => Doc::Text(format!("{local}.unwrap_or_default()")),
                Requiredness::Default => return None,
            })
        };
        let simple: Option<Vec<(String, Doc)>> =
            s.fields.iter().zip(idents).map(|(f, i)| value(f, i).map(|v| (i.clone(), v))).collect();
        if let Some(fields) = simple {
            let lit = Doc::Struct { head: n.to_string(), fields, rest: false };
            w.statement(&Doc::list("::std::result::Result::Ok", ListKind::Call, vec![lit]), "");
            return;
        }
        w.open(format_args!("::std::result::Result::Ok({n} {{"));
        for (f, ident) in s.fields.iter().zip(idents) {
            match value(f, ident) {
                Some(v) => w.prefixed(&format!("{ident}: "), &v, ","),
                None => {
                    w.open(format_args!("{ident}: match __{} {{", ident.trim_start_matches("r#")));
                    w.text("::std::option::Option::Some(v) => v,");
                    self.emit_arm(w, "::std::option::Option::None =>", &self.field_default_doc(p, f));
                    w.close("},");
                }
            }
        }
        w.close("})");
    }

    /// `pattern body,` for a match arm whose body is an expression, laid
    /// out as rustfmt does: on the `=>` line if it fits there (or breaks
    /// well there), else in a block.
    pub(super) fn emit_arm(&self, w: &mut Writer, pattern: &str, body: &Doc) {
        let at = w.start();
        w.buf.push_str(pattern);
        w.buf.push(' ');
        body.flat(&mut w.buf);
        w.buf.push(',');
        if body.may_be_flat() && w.end_checked(at) {
            return;
        }
        w.buf.truncate(at);
        let indent = w.indent();
        let mut orig = String::new();
        let orig_ok = body.render(&mut orig, indent, MAX_WIDTH.saturating_sub(indent + width(pattern) + 2));
        let mut next = String::new();
        let next_ok = body.render(&mut next, indent + 4, MAX_WIDTH.saturating_sub(indent + 4));
        let orig_first = indent + width(pattern) + 1 + orig.split('\n').next().map_or(0, width);
        let use_block = !orig_ok
            || (next_ok
                && (!next.contains('\n')
                    || orig.matches('\n').count() > next.matches('\n').count() + 1
                    || (first_line_ends(&orig, '(') && !first_line_ends(&next, '('))
                    || (first_line_ends(&orig, '[') && !first_line_ends(&next, '['))
                    || (first_line_ends(&orig, '{') && !first_line_ends(&next, '{'))))
            || !body.is_block_like()
            || orig_first > MAX_WIDTH;
        if use_block {
            w.open(format_args!("{pattern} {{"));
            w.line(format_args!("{next}"));
            w.close("}");
        } else {
            w.line(format_args!("{pattern} {orig},"));
        }
    }

    fn emit_union(&self, p: usize, s: &Struct, derives: &str, w: &mut Writer) {
        let name = names::ident(&self.type_name(&s.name));
        let n = name.as_str();
        let variants: Vec<String> = s.fields.iter().map(|f| names::ident(&self.type_name(&f.name))).collect();
        let unknown = if variants.iter().any(|v| v == "Unknown") { "UnknownField" } else { "Unknown" };
        w.doc(&s.doc);
        w.derive(&self.with_serde(derives));
        self.serde_lines(w, false);
        w.open(format_args!("pub enum {n} {{"));
        for (f, v) in s.fields.iter().zip(&variants) {
            w.doc(&f.doc);
            let mut ty = self.type_doc(p, &f.ty);
            if f.recursive {
                ty = Doc::list("::std::boxed::Box", ListKind::Generic, vec![ty]);
            }
            w.statement(&Doc::list(v.as_str(), ListKind::Call, vec![ty]), ",");
        }
        w.text("/// A member this version of the IDL does not know (its field");
        w.text("/// id), or no member at all (`None`). Encodes as an empty union.");
        w.line(format_args!("{unknown}(::std::option::Option<i16>),"));
        w.close("}");
        w.blank();
        w.open(format_args!("impl ::std::default::Default for {n} {{"));
        w.text("/// No member set.");
        w.open(format_args!("fn default() -> Self {{"));
        w.line(format_args!("{n}::{unknown}(::std::option::Option::None)"));
        w.close("}");
        w.close("}");

        w.blank();
        w.open(format_args!("impl ::mu2sls::codegen::Encode for {n} {{"));
        w.text("const TTYPE: ::mu2sls::codegen::TType = ::mu2sls::codegen::TType::Struct;");
        w.blank();
        w.text(ENCODE_SIGNATURE);
        w.open(format_args!("    w.struct_begin();"));
        w.open(format_args!("match self {{"));
        for (f, v) in s.fields.iter().zip(&variants) {
            let call = Doc::list(
                "::mu2sls::codegen::encode_field",
                ListKind::Call,
                vec![Doc::Text("w".into()), Doc::Text(f.id.to_string()), Doc::Text("v".into())],
            );
            self.emit_arm(w, &format!("{n}::{v}(v) =>"), &call);
        }
        w.line(format_args!("{n}::{unknown}(_) => {{}}"));
        w.close("}");
        w.text("w.struct_end();");
        w.close("}");
        w.close("}");

        w.blank();
        w.open(format_args!("impl ::mu2sls::codegen::Decode for {n} {{"));
        w.text(DECODE_SIGNATURE);
        w.open(format_args!("    r.struct_begin()?;"));
        w.line(format_args!("let mut value = {n}::{unknown}(::std::option::Option::None);"));
        w.text("// More than one member set is invalid; the last one wins.");
        w.open(format_args!("while let ::std::option::Option::Some((t, id)) = r.field_begin()? {{"));
        w.open(format_args!("match (id, t) {{"));
        for (f, v) in s.fields.iter().zip(&variants) {
            w.open(format_args!("({}, {}) => {{", f.id, self.ttype_text(&f.ty)));
            let call = Doc::list(
                "::mu2sls::codegen::decode_field",
                ListKind::Call,
                vec![Doc::Text("r".into()), Doc::Text(string_lit(&format!("{}.{}", s.name, f.name)))],
            );
            let rhs = Doc::list(format!("{n}::{v}"), ListKind::Call, vec![Doc::Suffix(Box::new(call), "?")]);
            w.assign("value =", &rhs, ";");
            w.close("}");
        }
        w.open(format_args!("_ => {{"));
        w.text("r.skip(t)?;");
        w.line(format_args!("value = {n}::{unknown}(::std::option::Option::Some(id));"));
        w.close("}");
        w.close("}");
        w.close("}");
        w.text("r.struct_end();");
        w.text("::std::result::Result::Ok(value)");
        w.close("}");
        w.close("}");
    }

    /// The wire type of `ty` as a `TType` path.
    pub(super) fn ttype_text(&self, ty: &Type) -> &'static str {
        match self.model.resolve(ty) {
            Type::Base(b) => match b {
                BaseType::Bool => "::mu2sls::codegen::TType::Bool",
                BaseType::I8 => "::mu2sls::codegen::TType::I8",
                BaseType::I16 => "::mu2sls::codegen::TType::I16",
                BaseType::I32 => "::mu2sls::codegen::TType::I32",
                BaseType::I64 => "::mu2sls::codegen::TType::I64",
                BaseType::Double => "::mu2sls::codegen::TType::Double",
                BaseType::String | BaseType::Binary => "::mu2sls::codegen::TType::Binary",
                BaseType::Uuid => "::mu2sls::codegen::TType::Uuid",
            },
            Type::List(_) => "::mu2sls::codegen::TType::List",
            Type::Set(_) => "::mu2sls::codegen::TType::Set",
            Type::Map(..) => "::mu2sls::codegen::TType::Map",
            Type::Enum(_) => "::mu2sls::codegen::TType::I32",
            // `resolve` follows typedefs.
            Type::Struct(_) | Type::Typedef(_) => "::mu2sls::codegen::TType::Struct",
        }
    }
}

/// The body of the `TSerializable` impl (`apache_compat`), one level in.
const APACHE_IMPL: &str = "fn read_from_in_protocol(
        i: &mut dyn ::mu2sls::codegen::apache::TInputProtocol,
    ) -> ::mu2sls::codegen::apache::Result<Self> {
        ::mu2sls::codegen::apache::read(i)
    }

    fn write_to_out_protocol(
        &self,
        o: &mut dyn ::mu2sls::codegen::apache::TOutputProtocol,
    ) -> ::mu2sls::codegen::apache::Result<()> {
        ::mu2sls::codegen::apache::write(self, o)
    }";

impl TraitTable {
    /// `Clone, Debug, PartialEq` always; `Eq` and `Hash` where the fields
    /// have them; with `btree`, `PartialOrd` and `Ord` wherever `Eq` holds,
    /// so the type can sit in a `BTreeSet` or be a `BTreeMap` key. The text
    /// inside `#[derive(...)]`.
    pub(super) fn derive_list(&self, id: DefId, btree: bool) -> String {
        let mut s = String::from("Clone, Debug, PartialEq");
        if self.eq[&id] {
            s.push_str(", Eq");
            if self.hash[&id] {
                s.push_str(", Hash");
            }
            if btree {
                s.push_str(", PartialOrd, Ord");
            }
        }
        s
    }
}
