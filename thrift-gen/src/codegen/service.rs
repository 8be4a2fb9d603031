//! Services: the handler trait, the per-method exception enums, the
//! server-side dispatcher and the client.
//!
//! Per method `m` of service `S` the generator emits hidden `SMArgs`
//! (decoded by the server), `SMArgsRef` (borrowed, encoded by the client)
//! and `SMResult` (the result struct: field 0 for success, one field per
//! declared exception), and a public `SMException` enum when the method
//! declares exceptions. `SServer<H>` dispatches inherited methods too, and
//! `SClient` has a method for each of them.

use std::fmt::Write as _;

use super::values::{DECODE_SIGNATURE, ENCODE_SIGNATURE, string_lit};
use super::writer::{Doc, ListKind, MAX_WIDTH, Writer, width};
use super::{Generator, names};
use crate::model::{BaseType, DefId, Field, Function, Requiredness, Service, Struct, StructKind, Type};

/// One method as seen from the module generating a server or client:
/// the service that declares it and the paths to its helper types.
struct Method<'m> {
    /// The declaring service's program.
    program: usize,
    service: &'m Service,
    function: &'m Function,
}

impl Generator<'_> {
    fn prefix(&self, service: &Service, function: &Function) -> String {
        format!("{}{}", self.type_name(&service.name), self.type_name(&function.name))
    }

    /// The methods a service's server and client handle: its own, then
    /// each ancestor's, nearest first.
    fn methods_of<'m>(&'m self, id: DefId) -> Vec<Method<'m>> {
        let mut out = Vec::new();
        let mut next = Some(id);
        let mut seen = std::collections::HashSet::new();
        while let Some(sid) = next {
            if !seen.insert(sid) {
                break; // unreachable: the resolver rejects extends cycles
            }
            let service = self.model.service(sid);
            out.extend(service.functions.iter().map(|function| Method { program: sid.program, service, function }));
            next = service.extends;
        }
        out
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BorrowKind {
    Value,
    Reference,
    Binary,
    OptionalBinary,
}

impl Generator<'_> {
    /// A path from `from` to a helper type of `m` (`SMArgs`, ...), as text.
    fn helper_text(&self, from: usize, m: &Method<'_>, suffix: &str) -> String {
        let prefix = self.prefix(m.service, m.function);
        if m.program == from {
            format!("{prefix}{suffix}")
        } else {
            format!("super::{}::{prefix}{suffix}", self.modules[m.program])
        }
    }

    /// The exception type of a method, as seen from `from`.
    fn exception_text(&self, from: usize, m: &Method<'_>) -> String {
        if m.function.throws.is_empty() {
            "::mu2sls::codegen::NoException".to_string()
        } else {
            self.helper_text(from, m, "Exception")
        }
    }

    fn success_doc(&self, from: usize, f: &Function) -> Doc {
        match &f.returns {
            Some(t) => self.type_doc(from, t),
            None => Doc::Text("()".into()),
        }
    }

    pub(super) fn emit_service(&self, p: usize, id: DefId, s: &Service, w: &mut Writer) {
        for f in &s.functions {
            self.emit_method_types(p, s, f, w);
        }
        w.blank();
        self.emit_handler_trait(p, s, w);
        w.blank();
        self.emit_server(p, id, s, w);
        w.blank();
        self.emit_client(p, id, s, w);
        if self.options.exactly_once {
            w.blank();
            self.emit_durable(p, id, s, w);
        }
    }

    /// `SDurable`, its `DurableCall` impls and `SDurableServer`
    /// (`--gen rust:exactly_once`).
    fn emit_durable(&self, p: usize, id: DefId, s: &Service, w: &mut Writer) {
        self.emit_trait(p, s, Flavour::Durable, w);
        for f in &s.functions {
            w.blank();
            self.emit_call_impl_of(s, f, &self.prefix(s, f), Flavour::Durable, w);
        }
        w.blank();
        self.emit_durable_server(p, id, s, w);
    }

    fn emit_durable_server(&self, p: usize, id: DefId, s: &Service, w: &mut Writer) {
        let t = format!("{}Durable", names::ident(&self.type_name(&s.name)));
        let server = format!("{t}Server");
        let (t, sv) = (t.as_str(), server.as_str());
        w.line(format_args!("/// Serves a [`{t}`] handler exactly once over an `Engine`'s store: give"));
        w.text("/// it to `mu2sls::Server::serve`.");
        self.emit_server_type(t, sv, Flavour::Durable, w);
        w.text(&format!("impl<H, S, C> ::mu2sls::codegen::Dispatch for {sv}<H, S, C>"));
        w.text("where");
        w.line(format_args!("    H: {t},"));
        w.text("    S: ::mu2sls::codegen::Store + 'static,");
        w.text("    C: ::mu2sls::codegen::Clock,");
        w.text("{");
        w.indent_in();
        w.text(RECEIVE_CALLBACK);
        w.blank();
        self.emit_dispatch_body(&self.methods_of(id), w, |m, w| {
            let args = self.helper_text(p, m, "Args");
            let path = Doc::list(
                "::mu2sls::codegen::serve_durable::",
                ListKind::Generic,
                ["P", "H", args.as_str(), "S", "C"].iter().map(|t| Doc::Text((*t).into())).collect(),
            );
            w.assign("let serve =", &path, ";");
            // Always five levels in: 90 columns at most.
            w.line(format_args!(
                "serve(&self.handler, &self.engine, cx, &frame, args_at, {}).await",
                m.function.oneway
            ));
        });
    }

    /// A server type holding the handler (and, durable, the engine), its
    /// constructor and accessors.
    fn emit_server_type(&self, t: &str, sv: &str, flavour: Flavour, w: &mut Writer) {
        let durable = flavour == Flavour::Durable;
        let engine = "::mu2sls::codegen::Engine<S, C>";
        let generics = if durable { "<H, S, C>" } else { "<H>" };
        w.text("#[derive(Clone, Debug)]");
        w.open(format_args!("pub struct {sv}{generics} {{"));
        w.text("handler: H,");
        if durable {
            w.line(format_args!("engine: {engine},"));
        }
        w.close("}");
        w.blank();
        let params = if durable { format!("H: {t}, S, C") } else { format!("H: {t}") };
        w.open(format_args!("impl<{params}> {sv}{generics} {{"));
        if durable {
            w.text("/// A dispatcher running `handler`'s calls through `engine`.");
            w.open(format_args!("pub fn new(handler: H, engine: {engine}) -> Self {{"));
            w.line(format_args!("{sv} {{ handler, engine }}"));
        } else {
            w.text("/// A dispatcher for `handler`.");
            w.open(format_args!("pub fn new(handler: H) -> Self {{"));
            w.line(format_args!("{sv} {{ handler }}"));
        }
        w.close("}");
        w.blank();
        w.text("/// The handler.");
        w.open(format_args!("pub fn handler(&self) -> &H {{"));
        w.text("&self.handler");
        w.close("}");
        if durable {
            w.blank();
            w.text("/// The engine.");
            w.open(format_args!("pub fn engine(&self) -> &{engine} {{"));
            w.text("&self.engine");
            w.close("}");
        }
        w.close("}");
        w.blank();
    }

    /// The rest of a `Dispatch` impl whose header is written: `method_kind`
    /// and `dispatch`, with `arm` writing each method's body.
    fn emit_dispatch_body(&self, methods: &[Method<'_>], w: &mut Writer, arm: impl Fn(&Method<'_>, &mut Writer)) {
        self.emit_method_kind(methods, w);
        w.blank();
        w.text(DISPATCH_SIGNATURE);
        w.indent_in();
        w.open(format_args!("async move {{"));
        w.open(format_args!("match cx.method() {{"));
        for m in methods {
            w.open(format_args!("{} => {{", string_lit(&m.function.name)));
            arm(m, w);
            w.close("}");
        }
        w.text(UNKNOWN_METHOD_ARM);
        w.close("}");
        w.close("}");
        w.close("}");
        w.close("}");
    }

    /// `SMArgs`, `SMArgsRef`, `SMResult` and `SMException` for one method.
    fn emit_method_types(&self, p: usize, s: &Service, f: &Function, w: &mut Writer) {
        let prefix = self.prefix(s, f);
        let args_struct = Struct {
            doc: None,
            kind: StructKind::Struct,
            name: format!("{prefix}Args"),
            fields: f.args.clone(),
            annotations: Vec::new(),
        };
        w.blank();
        self.emit_plain(p, &args_struct, "Debug", false, true, w);
        w.blank();
        self.emit_call_impl(s, f, &prefix, w);
        w.blank();
        self.emit_args_ref(p, &prefix, &f.args, w);
        w.blank();
        self.emit_result(p, f, &prefix, w);
        if !f.throws.is_empty() {
            w.blank();
            self.emit_exception_enum(p, s, f, &prefix, w);
        }
    }

    /// `impl<H: S> Call<H> for SMArgs`: which handler method the arguments
    /// are for.
    fn emit_call_impl(&self, s: &Service, f: &Function, prefix: &str, w: &mut Writer) {
        self.emit_call_impl_of(s, f, prefix, Flavour::Plain, w);
    }

    fn emit_call_impl_of(&self, s: &Service, f: &Function, prefix: &str, flavour: Flavour, w: &mut Writer) {
        let trait_name = format!("{}{}", names::ident(&self.type_name(&s.name)), flavour.suffix());
        let method = names::ident(&self.snake_name(&f.name));
        let call_trait = match flavour {
            Flavour::Plain => "Call",
            Flavour::Durable => "DurableCall",
        };
        w.open(format_args!("impl<H: {trait_name}> ::mu2sls::codegen::{call_trait}<H> for {prefix}Args {{"));
        w.line(format_args!("type Result = {prefix}Result;"));
        w.blank();
        w.text(match flavour {
            Flavour::Plain => CALL_SIGNATURE,
            Flavour::Durable => DURABLE_CALL_SIGNATURE,
        });
        w.indent_in();
        let context = match flavour {
            Flavour::Plain => "cx",
            Flavour::Durable => "ctx",
        };
        let mut args = vec![Doc::Text("handler".into()), Doc::Text(context.into())];
        args.extend(f.args.iter().map(|a| Doc::Text(format!("self.{}", names::ident(&self.snake_name(&a.name))))));
        w.statement(&Doc::list(format!("<H as {trait_name}>::{method}"), ListKind::Call, args), "");
        w.close("}");
        w.close("}");
    }

    /// `SMArgsRef<'a>`: the arguments as the client borrows them.
    fn emit_args_ref(&self, p: usize, prefix: &str, args: &[Field], w: &mut Writer) {
        let borrows = args.iter().any(|f| self.borrowed_text(p, f).2 != BorrowKind::Value);
        let generics = if borrows { "<'a>" } else { "" };
        w.text("#[doc(hidden)]");
        if args.is_empty() {
            w.line(format_args!("pub struct {prefix}ArgsRef{generics} {{}}"));
        } else {
            w.open(format_args!("pub struct {prefix}ArgsRef{generics} {{"));
            for a in args {
                let ident = names::ident(&self.snake_name(&a.name));
                w.assign(&format!("pub {ident}:"), &self.borrowed_text(p, a).1, ",");
            }
            w.close("}");
        }
        w.blank();
        w.open(format_args!("impl{generics} ::mu2sls::codegen::Encode for {prefix}ArgsRef{generics} {{"));
        w.text("const TTYPE: ::mu2sls::codegen::TType = ::mu2sls::codegen::TType::Struct;");
        w.blank();
        w.text(ENCODE_SIGNATURE);
        w.open(format_args!("    w.struct_begin();"));
        for a in args {
            let ident = names::ident(&self.snake_name(&a.name));
            let helper = if a.requiredness == Requiredness::Optional { "encode_optional" } else { "encode_field" };
            let call = Doc::list(
                format!("::mu2sls::codegen::{helper}"),
                ListKind::Call,
                vec![Doc::Text("w".into()), Doc::Text(a.id.to_string()), Doc::Text(format!("&self.{ident}"))],
            );
            w.statement(&call, ";");
        }
        w.text("w.struct_end();");
        w.close("}");
        w.close("}");
    }

    /// How a client method takes an argument: scalars and enums by value,
    /// strings as `&str`, binaries as `&[u8]`, the rest by reference:
    /// (parameter type, field type in `SMArgsRef<'a>`, kind).
    fn borrowed_text(&self, p: usize, f: &Field) -> (Doc, Doc, BorrowKind) {
        let (param, field, kind) = match self.model.resolve(&f.ty) {
            Type::Base(BaseType::String) => {
                (Doc::Text("&str".into()), Doc::Text("&'a str".into()), BorrowKind::Reference)
            }
            Type::Base(BaseType::Binary) => {
                (Doc::Text("&[u8]".into()), Doc::Text("::mu2sls::codegen::BinaryRef<'a>".into()), BorrowKind::Binary)
            }
            Type::Base(BaseType::Uuid) | Type::List(_) | Type::Set(_) | Type::Map(..) | Type::Struct(_) => (
                prefix_doc("&", self.type_doc(p, &f.ty)),
                prefix_doc("&'a ", self.type_doc(p, &f.ty)),
                BorrowKind::Reference,
            ),
            _ => (self.type_doc(p, &f.ty), self.type_doc(p, &f.ty), BorrowKind::Value),
        };
        if f.requiredness == Requiredness::Optional {
            (
                Doc::list("::std::option::Option", ListKind::Generic, vec![param]),
                Doc::list("::std::option::Option", ListKind::Generic, vec![field]),
                match kind {
                    BorrowKind::Binary => BorrowKind::OptionalBinary,
                    other => other,
                },
            )
        } else {
            (param, field, kind)
        }
    }

    /// `SMResult`, its codec and its `MethodResult` impl.
    fn emit_result(&self, p: usize, f: &Function, prefix: &str, w: &mut Writer) {
        let result = format!("{prefix}Result");
        let r = result.as_str();
        let variants: Vec<String> = f.throws.iter().map(|e| names::ident(&self.type_name(&e.name))).collect();
        w.text("#[doc(hidden)]");
        w.text("#[derive(Debug)]");
        w.open(format_args!("pub enum {r} {{"));
        if let Some(ret) = &f.returns {
            w.statement(&Doc::list("Success", ListKind::Call, vec![self.type_doc(p, ret)]), ",");
        }
        for (e, v) in f.throws.iter().zip(&variants) {
            w.statement(&Doc::list(v.as_str(), ListKind::Call, vec![self.type_doc(p, &e.ty)]), ",");
        }
        w.text("/// No field: the success of a `void` method, or a missing result.");
        w.text("Empty,");
        w.close("}");

        w.blank();
        w.open(format_args!("impl ::mu2sls::codegen::Encode for {r} {{"));
        w.text("const TTYPE: ::mu2sls::codegen::TType = ::mu2sls::codegen::TType::Struct;");
        w.blank();
        w.text(ENCODE_SIGNATURE);
        w.open(format_args!("    w.struct_begin();"));
        w.open(format_args!("match self {{"));
        let encode = |id: i16| {
            Doc::list(
                "::mu2sls::codegen::encode_field",
                ListKind::Call,
                vec![Doc::Text("w".into()), Doc::Text(id.to_string()), Doc::Text("v".into())],
            )
        };
        if f.returns.is_some() {
            self.emit_arm(w, &format!("{r}::Success(v) =>"), &encode(0));
        }
        for (e, v) in f.throws.iter().zip(&variants) {
            self.emit_arm(w, &format!("{r}::{v}(v) =>"), &encode(e.id));
        }
        w.line(format_args!("{r}::Empty => {{}}"));
        w.close("}");
        w.text("w.struct_end();");
        w.close("}");
        w.close("}");

        w.blank();
        w.open(format_args!("impl ::mu2sls::codegen::Decode for {r} {{"));
        w.text(DECODE_SIGNATURE);
        w.open(format_args!("    r.struct_begin()?;"));
        let binding = if f.returns.is_none() && f.throws.is_empty() { "let value" } else { "let mut value" };
        w.line(format_args!("{binding} = {r}::Empty;"));
        w.open(format_args!("while let ::std::option::Option::Some((t, id)) = r.field_begin()? {{"));
        w.open(format_args!("match (id, t) {{"));
        let decode = Doc::Suffix(
            Box::new(Doc::list("::mu2sls::codegen::Decode::decode", ListKind::Call, vec![Doc::Text("r".into())])),
            "?",
        );
        if let Some(ret) = &f.returns {
            w.open(format_args!("(0, {}) => {{", self.ttype_text(ret)));
            w.assign("value =", &Doc::list(format!("{r}::Success"), ListKind::Call, vec![decode.clone()]), ";");
            w.close("}");
        }
        for (e, v) in f.throws.iter().zip(&variants) {
            w.open(format_args!("({}, ::mu2sls::codegen::TType::Struct) => {{", e.id));
            w.assign("value =", &Doc::list(format!("{r}::{v}"), ListKind::Call, vec![decode.clone()]), ";");
            w.close("}");
        }
        w.text("_ => r.skip(t)?,");
        w.close("}");
        w.close("}");
        w.text("r.struct_end();");
        w.text("::std::result::Result::Ok(value)");
        w.close("}");
        w.close("}");

        w.blank();
        w.open(format_args!("impl ::mu2sls::codegen::MethodResult for {r} {{"));
        w.assign("type Success =", &self.success_doc(p, f), ";");
        if f.throws.is_empty() {
            w.text("type Exception = ::mu2sls::codegen::NoException;");
        } else {
            w.assign("type Exception =", &Doc::Text(format!("{prefix}Exception")), ";");
        }
        w.blank();
        if f.returns.is_some() {
            w.open(format_args!("fn success(value: <Self as ::mu2sls::codegen::MethodResult>::Success) -> Self {{"));
            w.line(format_args!("{r}::Success(value)"));
        } else {
            w.open(format_args!("fn success((): <Self as ::mu2sls::codegen::MethodResult>::Success) -> Self {{"));
            w.line(format_args!("{r}::Empty"));
        }
        w.close("}");
        w.blank();
        w.open(format_args!("fn exception(e: <Self as ::mu2sls::codegen::MethodResult>::Exception) -> Self {{"));
        if f.throws.is_empty() {
            w.text("match e {}");
        } else {
            w.open(format_args!("match e {{"));
            for v in &variants {
                self.emit_arm(w, &format!("{prefix}Exception::{v}(e) =>"), &Doc::Text(format!("{r}::{v}(e)")));
            }
            w.close("}");
        }
        w.close("}");
        w.close("}");
    }

    /// The public `SMException` enum of a method that declares exceptions.
    fn emit_exception_enum(&self, p: usize, s: &Service, f: &Function, prefix: &str, w: &mut Writer) {
        let exception = format!("{prefix}Exception");
        let x = exception.as_str();
        let variants: Vec<String> = f.throws.iter().map(|e| names::ident(&self.type_name(&e.name))).collect();
        let types: Vec<String> = f.throws.iter().map(|e| self.type_string(p, &e.ty)).collect();
        w.line(format_args!("/// The declared exceptions of `{}.{}`.", s.name, f.name));
        w.text("#[derive(Clone, Debug, PartialEq)]");
        w.open(format_args!("pub enum {x} {{"));
        for (e, v) in f.throws.iter().zip(&variants) {
            w.statement(&Doc::list(v.as_str(), ListKind::Call, vec![self.type_doc(p, &e.ty)]), ",");
        }
        w.close("}");
        w.blank();
        w.open(format_args!("impl ::std::fmt::Display for {x} {{"));
        w.open(format_args!("fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{"));
        w.open(format_args!("match self {{"));
        for v in &variants {
            self.emit_arm(w, &format!("{x}::{v}(e) =>"), &Doc::Text("::std::fmt::Display::fmt(e, f)".into()));
        }
        w.close("}");
        w.close("}");
        w.close("}");
        w.blank();
        w.line(format_args!("impl ::std::error::Error for {x} {{}}"));
        for (v, ty) in variants.iter().zip(&types) {
            w.blank();
            w.impl_header(&format!("impl ::std::convert::From<{ty}>"), &format!("for {x}"));
            w.open(format_args!("fn from(e: {ty}) -> Self {{"));
            w.line(format_args!("{x}::{v}(e)"));
            w.close("}");
            w.close("}");
            w.blank();
            w.impl_header(
                &format!("impl ::std::convert::From<{ty}>"),
                &format!("for ::mu2sls::codegen::ServiceError<{x}>"),
            );
            w.open(format_args!("fn from(e: {ty}) -> Self {{"));
            w.statement(
                &Doc::list(
                    "::mu2sls::codegen::ServiceError::Exception",
                    ListKind::Call,
                    vec![Doc::Text(format!("{x}::{v}(e)"))],
                ),
                "",
            );
            w.close("}");
            w.close("}");
        }
    }

    fn emit_handler_trait(&self, p: usize, s: &Service, w: &mut Writer) {
        self.emit_trait(p, s, Flavour::Plain, w);
    }

    fn emit_trait(&self, p: usize, s: &Service, flavour: Flavour, w: &mut Writer) {
        let name = format!("{}{}", names::ident(&self.type_name(&s.name)), flavour.suffix());
        let parent = match s.extends {
            Some(id) => {
                format!("{}{} + ", self.def_path_text(p, id, &self.model.service(id).name), flavour.suffix())
            }
            None => String::new(),
        };
        match flavour {
            Flavour::Plain => w.doc(&s.doc),
            Flavour::Durable => {
                w.line(format_args!("/// `{}` run exactly once: every method gets the call's `Ctx`, whose", s.name));
                w.text("/// state, time and randomness are logged steps.");
            }
        }
        let bounds = format!("{parent}::std::marker::Send + ::std::marker::Sync + 'static");
        // rustfmt keeps the header on one line only up to 92 columns
        // (measured with rustfmt 1.9).
        let header = format!("pub trait {name}: {bounds} {{");
        if width(&header) <= MAX_WIDTH - 8 {
            w.text(&header);
        } else {
            w.line(format_args!("pub trait {name}:"));
            w.line(format_args!("    {bounds}"));
            w.text("{");
        }
        w.indent_in();
        for (i, f) in s.functions.iter().enumerate() {
            if i > 0 {
                w.blank();
            }
            w.doc(&f.doc);
            let method = names::ident(&self.snake_name(&f.name));
            w.open(format_args!("fn {method}("));
            w.text("&self,");
            w.text(flavour.context_param());
            for a in &f.args {
                let ident = names::ident(&self.snake_name(&a.name));
                w.prefixed(&format!("{ident}: "), &self.field_type_doc(p, a), ",");
            }
            let m = Method { program: p, service: s, function: f };
            let result = Doc::list(
                "Output = ::std::result::Result",
                ListKind::Generic,
                vec![
                    self.success_doc(p, f),
                    Doc::list(
                        "::mu2sls::codegen::ServiceError",
                        ListKind::Generic,
                        vec![Doc::Text(self.exception_text(p, &m))],
                    ),
                ],
            );
            let future = Doc::list("impl ::std::future::Future", ListKind::Generic, vec![result]);
            w.indent_back();
            w.prefixed(") -> ", &Doc::Suffix(Box::new(future), " + ::std::marker::Send"), ";");
        }
        w.close("}");
    }

    fn emit_server(&self, p: usize, id: DefId, s: &Service, w: &mut Writer) {
        let trait_name = names::ident(&self.type_name(&s.name));
        let server = format!("{trait_name}Server");
        let (t, sv) = (trait_name.as_str(), server.as_str());
        w.line(format_args!("/// Serves a [`{t}`] handler: give it to `mu2sls::Server::serve`."));
        self.emit_server_type(t, sv, Flavour::Plain, w);
        w.open(format_args!("impl<H: {t}> ::mu2sls::codegen::Dispatch for {sv}<H> {{"));
        self.emit_dispatch_body(&self.methods_of(id), w, |m, w| {
            let serve = if m.function.oneway { "serve_oneway" } else { "serve" };
            let args = self.helper_text(p, m, "Args");
            let at = w.start();
            let _ = write!(w.buf, "let serve = ::mu2sls::codegen::{serve}::<P, H, {args}>;");
            if !w.end_checked(at) {
                let path = Doc::list(
                    format!("::mu2sls::codegen::{serve}::"),
                    ListKind::Generic,
                    vec![Doc::Text("P".into()), Doc::Text("H".into()), Doc::Text(args)],
                );
                w.assign("let serve =", &path, ";");
            }
            w.text("serve(&self.handler, cx, &frame, args_at).await");
        });
    }

    /// `Dispatch::method_kind`: which methods exist and which are `oneway`.
    fn emit_method_kind(&self, methods: &[Method<'_>], w: &mut Writer) {
        w.text("fn method_kind(&self, method: &str) -> ::std::option::Option<::mu2sls::codegen::MethodKind> {");
        w.indent_in();
        w.open(format_args!("match method {{"));
        for m in methods {
            let kind = if m.function.oneway { "Oneway" } else { "Call" };
            let wire = string_lit(&m.function.name);
            let at = w.start();
            let _ = write!(w.buf, "{wire} => ::std::option::Option::Some(::mu2sls::codegen::MethodKind::{kind}),");
            if w.end_checked(at) {
                continue;
            }
            self.emit_arm(
                w,
                &format!("{wire} =>"),
                &Doc::Text(format!("::std::option::Option::Some(::mu2sls::codegen::MethodKind::{kind})")),
            );
        }
        w.text("_ => ::std::option::Option::None,");
        w.close("}");
        w.close("}");
    }

    fn emit_client(&self, p: usize, id: DefId, s: &Service, w: &mut Writer) {
        let client = format!("{}Client", self.type_name(&s.name));
        let c = client.as_str();
        w.line(format_args!("/// A client of `{}`: each method sends one call over the channel.", s.name));
        w.text("#[derive(Clone, Debug)]");
        w.open(format_args!("pub struct {c} {{"));
        w.text("channel: ::mu2sls::codegen::Channel,");
        w.close("}");
        w.blank();
        w.open(format_args!("impl {c} {{"));
        w.text("/// A client sending its calls over `channel`.");
        w.open(format_args!("pub fn new(channel: ::mu2sls::codegen::Channel) -> Self {{"));
        w.line(format_args!("{c} {{ channel }}"));
        w.close("}");
        for m in self.methods_of(id) {
            w.blank();
            self.emit_client_method(p, &m, w);
        }
        w.close("}");
        w.blank();
        w.open(format_args!("impl ::mu2sls::codegen::ServiceClient for {c} {{"));
        w.line(format_args!("const SERVICE: &'static str = {};", string_lit(&s.name)));
        w.blank();
        w.open(format_args!("fn with_channel(channel: ::mu2sls::codegen::Channel) -> Self {{"));
        w.line(format_args!("{c} {{ channel }}"));
        w.close("}");
        w.close("}");
    }

    fn emit_client_method(&self, p: usize, m: &Method<'_>, w: &mut Writer) {
        let f = m.function;
        let method = names::ident(&self.snake_name(&f.name));
        let wire = string_lit(&f.name);
        let args_ref = self.helper_text(p, m, "ArgsRef");
        let result_ty = self.helper_text(p, m, "Result");
        let err = self.exception_text(p, m);
        let mut params = Vec::new();
        let mut inits = Vec::new();
        for a in &f.args {
            let ident = names::ident(&self.snake_name(&a.name));
            let (param, _, kind) = self.borrowed_text(p, a);
            params.push((ident.clone(), param));
            let value = match kind {
                BorrowKind::Binary => format!("::mu2sls::codegen::BinaryRef({ident})"),
                BorrowKind::OptionalBinary => format!("{ident}.map(::mu2sls::codegen::BinaryRef)"),
                BorrowKind::Value | BorrowKind::Reference => ident.clone(),
            };
            inits.push((ident, Doc::Text(value)));
        }
        let ok = if f.oneway { Doc::Text("()".into()) } else { self.success_doc(p, f) };
        let ret = Doc::list(
            "::std::result::Result",
            ListKind::Generic,
            vec![ok, Doc::list("::mu2sls::codegen::CallError", ListKind::Generic, vec![Doc::Text(err.clone())])],
        );
        w.doc(&f.doc);
        // The signature: on one line if it fits, else one parameter a line.
        let at = w.start();
        let _ = write!(w.buf, "pub async fn {method}(&self");
        for (ident, param) in &params {
            let _ = write!(w.buf, ", {ident}: ");
            param.flat(&mut w.buf);
        }
        w.buf.push_str(") -> ");
        ret.flat(&mut w.buf);
        w.buf.push_str(" {");
        if !w.end_checked(at) {
            w.open(format_args!("pub async fn {method}("));
            w.text("&self,");
            for (ident, param) in &params {
                w.prefixed(&format!("{ident}: "), param, ",");
            }
            w.indent_back();
            w.prefixed(") -> ", &ret, " {");
        }
        w.indent_in();
        w.assign("let args =", &Doc::Struct { head: args_ref, fields: inits, rest: false }, ";");
        if f.oneway {
            self.emit_channel_call(w, "call_oneway", &wire, "");
            w.text("::std::result::Result::Ok(())");
            w.close("}");
            return;
        }
        self.emit_channel_call(w, "call", &wire, "let reply = ");
        let scrutinee = Doc::Suffix(Box::new(Doc::Text(format!("reply.result::<{result_ty}, {err}>()"))), "?");
        let at = w.start();
        w.buf.push_str("match ");
        scrutinee.flat(&mut w.buf);
        w.buf.push_str(" {");
        if !w.end_checked(at) {
            let chain = format!(".result::<{result_ty}, {err}>()?");
            // (rustfmt leaves a column free here; measured with rustfmt 1.9.)
            if w.indent() + 4 + width(&chain) < MAX_WIDTH {
                // rustfmt breaks the chain, then the brace goes below.
                w.text("match reply");
                w.line(format_args!("    {chain}"));
                w.text("{");
            } else if w.indent() + 4 + width(&chain) - 2 <= MAX_WIDTH {
                // Exactly at the limit: rustfmt breaks the empty parentheses.
                w.text("match reply");
                w.line(format_args!("    .result::<{result_ty}, {err}>("));
                w.text("    )? {");
            } else {
                // Too long even so: the turbofish breaks too.
                w.text("match reply");
                w.text("    .result::<");
                w.line(format_args!("        {result_ty},"));
                w.line(format_args!("        {err},"));
                w.text("    >()?");
                w.text("{");
            }
        }
        w.indent_in();
        if f.returns.is_some() {
            self.emit_arm(w, &format!("{result_ty}::Success(v) =>"), &Doc::Text("::std::result::Result::Ok(v)".into()));
            let missing = Doc::list(
                "::std::result::Result::Err",
                ListKind::Call,
                vec![Doc::list(
                    "::mu2sls::codegen::CallError::Application",
                    ListKind::Call,
                    vec![Doc::list("::mu2sls::codegen::missing_result", ListKind::Call, vec![Doc::Text(wire.clone())])],
                )],
            );
            self.emit_arm(w, &format!("{result_ty}::Empty =>"), &missing);
        } else {
            self.emit_arm(w, &format!("{result_ty}::Empty =>"), &Doc::Text("::std::result::Result::Ok(())".into()));
        }
        if !f.throws.is_empty() {
            let exc = self.helper_text(p, m, "Exception");
            for e in &f.throws {
                let v = names::ident(&self.type_name(&e.name));
                let body = Doc::list(
                    "::std::result::Result::Err",
                    ListKind::Call,
                    vec![Doc::list(
                        "::mu2sls::codegen::CallError::Exception",
                        ListKind::Call,
                        vec![Doc::Text(format!("{exc}::{v}(e)"))],
                    )],
                );
                self.emit_arm(w, &format!("{result_ty}::{v}(e) =>"), &body);
            }
        }
        w.close("}");
        w.close("}");
    }

    /// `{lead}self.channel.{call}("method", &args).await?;`, broken into a
    /// chain as rustfmt does when it is too long.
    fn emit_channel_call(&self, w: &mut Writer, call: &str, wire: &str, lead: &str) {
        let at = w.start();
        let _ = write!(w.buf, "{lead}self.channel.{call}({wire}, &args).await?;");
        if w.end_checked(at) {
            return;
        }
        if !lead.is_empty() {
            let at = w.start();
            let _ = write!(w.buf, "{}", lead.trim_end());
            let _ = write!(w.buf, "\n{:1$}self.channel.{call}({wire}, &args).await?;", "", w.indent() + 4);
            if w.buf[at..].lines().all(|l| width(l) <= MAX_WIDTH) {
                w.buf.push('\n');
                return;
            }
            w.buf.truncate(at);
        }
        w.line(format_args!("{lead}self"));
        w.line(format_args!("    .channel"));
        w.line(format_args!("    .{call}({wire}, &args)"));
        w.line(format_args!("    .await?;"));
    }
}

/// `&T`, `&'a T`: a reference to a type that may break.
fn prefix_doc(prefix: &str, ty: Doc) -> Doc {
    match ty {
        Doc::Text(t) => Doc::Text(format!("{prefix}{t}")),
        Doc::List { head, kind, items } => Doc::List { head: format!("{prefix}{head}"), kind, items },
        other => other,
    }
}

/// Which handler trait: the plain one, or the exactly-once one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Plain,
    Durable,
}

impl Flavour {
    fn suffix(self) -> &'static str {
        match self {
            Flavour::Plain => "",
            Flavour::Durable => "Durable",
        }
    }

    fn context_param(self) -> &'static str {
        match self {
            Flavour::Plain => "cx: &::mu2sls::codegen::CallContext,",
            Flavour::Durable => "ctx: &mut ::mu2sls::codegen::Ctx,",
        }
    }
}

/// `DurableCall::call`'s signature, up to the body (one level in).
const DURABLE_CALL_SIGNATURE: &str = "fn call(
        self,
        handler: &H,
        ctx: &mut ::mu2sls::codegen::Ctx,
    ) -> impl ::std::future::Future<Output = ::mu2sls::codegen::Outcome<Self::Result>>
    + ::std::marker::Send {";

/// `Call::call`'s signature, up to the body (one level in).
const CALL_SIGNATURE: &str = "fn call(
        self,
        handler: &H,
        cx: &::mu2sls::codegen::CallContext,
    ) -> impl ::std::future::Future<Output = ::mu2sls::codegen::Outcome<Self::Result>>
    + ::std::marker::Send {";

/// `Dispatch::dispatch`'s signature, up to the body (one level in).
const DISPATCH_SIGNATURE: &str = "#[allow(unreachable_code, unused_variables)]
    fn dispatch<P: ::mu2sls::codegen::Protocol>(
        &self,
        cx: &::mu2sls::codegen::CallContext,
        frame: ::mu2sls::codegen::Bytes,
        args_at: usize,
    ) -> impl ::std::future::Future<Output = ::std::option::Option<::mu2sls::codegen::Bytes>>
    + ::std::marker::Send {";

/// A durable server takes the signed callbacks of its engine's callees.
const RECEIVE_CALLBACK: &str = "fn receive_callback<P: ::mu2sls::codegen::Protocol>(
        &self,
        cx: &::mu2sls::codegen::CallContext,
        message: ::mu2sls::codegen::Bytes,
    ) -> impl ::std::future::Future<Output = ::mu2sls::codegen::CallbackReceived> + ::std::marker::Send
    {
        ::mu2sls::codegen::receive_callback(&self.engine, cx, message)
    }";

/// The last arm of `dispatch` (three levels in).
const UNKNOWN_METHOD_ARM: &str = "other => {
                    let e = ::mu2sls::codegen::ApplicationException::new(
                        ::mu2sls::codegen::ApplicationExceptionKind::UNKNOWN_METHOD,
                        ::std::format!(\"unknown method `{other}`\"),
                    );
                    ::std::option::Option::Some(::mu2sls::codegen::exception_reply::<P>(cx, &e))
                }";
