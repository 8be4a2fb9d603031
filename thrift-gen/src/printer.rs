//! The syntax tree back to IDL text, in one canonical layout.
//!
//! Parsing the printed text gives the same document (spans aside), so the
//! printer is both a formatter and a check on the parser: the property test
//! in this module's tests round-trips random IDL through parse, print and
//! parse again and compares the checked models.

use std::fmt::Write;

use crate::ast::*;

/// Prints a document as IDL.
///
/// ```
/// let (doc, _, diags) = thrift_gen::parse_str("a.thrift", "struct P{1:i32 x;2:optional string y='q'}");
/// assert!(!diags.has_errors());
/// assert_eq!(
///     thrift_gen::print_document(&doc),
///     "struct P {\n  1: i32 x,\n  2: optional string y = \"q\",\n}\n"
/// );
/// ```
pub fn print_document(doc: &Document) -> String {
    let mut p = Printer { out: String::new() };
    p.document(doc);
    p.out
}

struct Printer {
    out: String,
}

fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn annotations(list: &[Annotation]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let items: Vec<String> = list.iter().map(|a| format!("{} = {}", a.key, quote(&a.value))).collect();
    format!(" ({})", items.join(", "))
}

fn field_type(t: &Type) -> String {
    let base = match &t.kind {
        TypeKind::Base(b) => b.keyword().to_string(),
        TypeKind::Named(n) => n.clone(),
        TypeKind::List(e) => format!("list<{}>", field_type(e)),
        TypeKind::Set(e) => format!("set<{}>", field_type(e)),
        TypeKind::Map(k, v) => format!("map<{}, {}>", field_type(k), field_type(v)),
    };
    base + &annotations(&t.annotations)
}

fn const_value(v: &ConstValue) -> String {
    match &v.kind {
        ConstValueKind::Int(Some(n)) => n.to_string(),
        // Only a document with errors holds an overflowed literal.
        ConstValueKind::Int(None) => "0".to_string(),
        ConstValueKind::Double(d) => format!("{d:?}"),
        ConstValueKind::String(s) => quote(s),
        ConstValueKind::Ident(i) => i.clone(),
        ConstValueKind::List(items) => {
            let items: Vec<String> = items.iter().map(const_value).collect();
            format!("[{}]", items.join(", "))
        }
        ConstValueKind::Map(items) => {
            let items: Vec<String> =
                items.iter().map(|(k, v)| format!("{}: {}", const_value(k), const_value(v))).collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// A doc comment written inline, before an argument.
fn inline_doc(doc: &Option<String>) -> String {
    match doc {
        Some(d) => {
            let lines: Vec<String> =
                d.lines().map(|l| if l.is_empty() { " *".to_string() } else { format!(" * {l}") }).collect();
            format!("/**\n{}\n */ ", lines.join("\n"))
        }
        None => String::new(),
    }
}

/// An argument or `throws` entry: like a field, with its doc inline.
fn argument(f: &Field) -> String {
    inline_doc(&f.doc) + &field(f)
}

fn field(f: &Field) -> String {
    let mut s = String::new();
    if let Some((id, _)) = f.id {
        let _ = write!(s, "{}: ", id.unwrap_or(0));
    }
    match f.requiredness {
        Requiredness::Required => s.push_str("required "),
        Requiredness::Optional => s.push_str("optional "),
        Requiredness::Default => {}
    }
    s.push_str(&field_type(&f.ty));
    if f.reference {
        s.push_str(" &");
    }
    s.push(' ');
    s.push_str(&f.name.name);
    if let Some(d) = &f.default {
        s.push_str(" = ");
        s.push_str(&const_value(d));
    }
    s.push_str(&annotations(&f.annotations));
    s
}

impl Printer {
    fn doc(&mut self, doc: &Option<String>, indent: &str) {
        let Some(doc) = doc else { return };
        let _ = writeln!(self.out, "{indent}/**");
        for line in doc.lines() {
            if line.is_empty() {
                let _ = writeln!(self.out, "{indent} *");
            } else {
                let _ = writeln!(self.out, "{indent} * {line}");
            }
        }
        let _ = writeln!(self.out, "{indent} */");
    }

    fn document(&mut self, doc: &Document) {
        for h in &doc.headers {
            match h {
                Header::Include { path, .. } => {
                    let _ = writeln!(self.out, "include {}", quote(path));
                }
                Header::CppInclude { path, .. } => {
                    let _ = writeln!(self.out, "cpp_include {}", quote(path));
                }
                Header::Namespace { scope, name, annotations: a, .. } => {
                    let _ = writeln!(self.out, "namespace {scope} {name}{}", annotations(a));
                }
            }
        }
        for (i, d) in doc.definitions.iter().enumerate() {
            if i > 0 || !doc.headers.is_empty() {
                self.out.push('\n');
            }
            self.definition(d);
        }
    }

    fn definition(&mut self, d: &Definition) {
        match d {
            Definition::Const(c) => {
                self.doc(&c.doc, "");
                let _ = writeln!(
                    self.out,
                    "const {} {} = {}{}",
                    field_type(&c.ty),
                    c.name.name,
                    const_value(&c.value),
                    annotations(&c.annotations)
                );
            }
            Definition::Typedef(t) => {
                self.doc(&t.doc, "");
                let _ =
                    writeln!(self.out, "typedef {} {}{}", field_type(&t.ty), t.name.name, annotations(&t.annotations));
            }
            Definition::Enum(e) => {
                self.doc(&e.doc, "");
                let _ = writeln!(self.out, "enum {} {{", e.name.name);
                for v in &e.values {
                    self.doc(&v.doc, "  ");
                    let value = match v.value {
                        Some((n, _)) => format!(" = {}", n.unwrap_or(0)),
                        None => String::new(),
                    };
                    let _ = writeln!(self.out, "  {}{value}{},", v.name.name, annotations(&v.annotations));
                }
                let _ = writeln!(self.out, "}}{}", annotations(&e.annotations));
            }
            Definition::Senum(s) => {
                self.doc(&s.doc, "");
                let values: Vec<String> = s.values.iter().map(|v| quote(v)).collect();
                let _ = writeln!(
                    self.out,
                    "senum {} {{ {} }}{}",
                    s.name.name,
                    values.join(", "),
                    annotations(&s.annotations)
                );
            }
            Definition::Struct(s) => {
                self.doc(&s.doc, "");
                let _ = writeln!(self.out, "{} {} {{", s.kind.keyword(), s.name.name);
                for f in &s.fields {
                    self.doc(&f.doc, "  ");
                    let _ = writeln!(self.out, "  {},", field(f));
                }
                let _ = writeln!(self.out, "}}{}", annotations(&s.annotations));
            }
            Definition::Service(s) => {
                self.doc(&s.doc, "");
                let extends = s.extends.as_ref().map(|e| format!(" extends {}", e.name)).unwrap_or_default();
                let _ = writeln!(self.out, "service {}{extends} {{", s.name.name);
                for f in &s.functions {
                    self.doc(&f.doc, "  ");
                    let oneway = if f.oneway.is_some() { "oneway " } else { "" };
                    let returns = f.returns.as_ref().map_or_else(|| "void".to_string(), field_type);
                    let args: Vec<String> = f.args.iter().map(argument).collect();
                    let throws = match &f.throws {
                        Some((list, _)) => {
                            let list: Vec<String> = list.iter().map(argument).collect();
                            format!(" throws ({})", list.join(", "))
                        }
                        None => String::new(),
                    };
                    let _ = writeln!(
                        self.out,
                        "  {oneway}{returns} {}({}){throws}{},",
                        f.name.name,
                        args.join(", "),
                        annotations(&f.annotations)
                    );
                }
                let _ = writeln!(self.out, "}}{}", annotations(&s.annotations));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Round trip: random well-formed IDL, laid out at random, parses to the
    //! same model as its pretty-printed form, and printing is idempotent.

    use proptest::prelude::*;

    use super::print_document;
    use crate::{MemoryLoader, Options, check, model::Model, parse_str};

    #[derive(Clone, Debug)]
    enum Ty {
        Base(u8),
        Enum(u8),
        Struct(u8),
        Typedef(u8),
        List(Box<Ty>),
        Set(Box<Ty>),
        Map(Box<Ty>, Box<Ty>),
    }

    #[derive(Clone, Debug)]
    struct FieldSpec {
        ty: Ty,
        requiredness: u8,
        implicit_id: bool,
        default: bool,
        annotated: bool,
        doc: Option<String>,
    }

    #[derive(Clone, Debug)]
    struct FuncSpec {
        returns: Option<Ty>,
        oneway: bool,
        args: Vec<FieldSpec>,
        throws: bool,
    }

    #[derive(Clone, Debug)]
    struct Spec {
        enums: Vec<Vec<Option<i16>>>,
        typedefs: Vec<Ty>,
        structs: Vec<(u8, Vec<FieldSpec>)>,
        consts: Vec<u8>,
        services: Vec<Vec<FuncSpec>>,
        layout: Vec<u8>,
    }

    fn ty() -> impl Strategy<Value = Ty> {
        let leaf = prop_oneof![
            (0u8..9).prop_map(Ty::Base),
            any::<u8>().prop_map(Ty::Enum),
            any::<u8>().prop_map(Ty::Struct),
            any::<u8>().prop_map(Ty::Typedef),
        ];
        leaf.prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| Ty::List(Box::new(t))),
                inner.clone().prop_map(|t| Ty::Set(Box::new(t))),
                (inner.clone(), inner).prop_map(|(k, v)| Ty::Map(Box::new(k), Box::new(v))),
            ]
        })
    }

    fn doc() -> impl Strategy<Value = Option<String>> {
        proptest::option::weighted(0.2, "[a-z]{1,8}( [a-z]{1,8}){0,3}(\n[a-z ]{0,6}[a-z])?")
    }

    fn field() -> impl Strategy<Value = FieldSpec> {
        (ty(), 0u8..3, proptest::bool::weighted(0.1), any::<bool>(), proptest::bool::weighted(0.2), doc()).prop_map(
            |(ty, requiredness, implicit_id, default, annotated, doc)| FieldSpec {
                ty,
                requiredness,
                implicit_id,
                default,
                annotated,
                doc,
            },
        )
    }

    fn spec() -> impl Strategy<Value = Spec> {
        let func = (proptest::option::of(ty()), any::<bool>(), proptest::collection::vec(field(), 0..4), any::<bool>())
            .prop_map(|(returns, oneway, args, throws)| FuncSpec { returns, oneway, args, throws });
        (
            proptest::collection::vec(proptest::collection::vec(proptest::option::of(-50i16..50), 0..5), 0..4),
            proptest::collection::vec(ty(), 0..4),
            proptest::collection::vec((0u8..3, proptest::collection::vec(field(), 0..6)), 0..5),
            proptest::collection::vec(0u8..6, 0..5),
            proptest::collection::vec(proptest::collection::vec(func, 0..4), 0..3),
            proptest::collection::vec(any::<u8>(), 64),
        )
            .prop_map(|(enums, typedefs, structs, consts, services, layout)| Spec {
                enums,
                typedefs,
                structs,
                consts,
                services,
                layout,
            })
    }

    /// Renders a spec as IDL text, with layout choices (separators,
    /// comments, line breaks) taken from `layout`.
    struct Render<'a> {
        spec: &'a Spec,
        out: String,
        choice: usize,
    }

    const BASES: [&str; 9] = ["bool", "byte", "i8", "i16", "i32", "i64", "double", "string", "binary"];

    impl Render<'_> {
        fn pick(&mut self, n: usize) -> usize {
            let b = self.spec.layout[self.choice % self.spec.layout.len()];
            self.choice += 1;
            usize::from(b) % n
        }

        fn gap(&mut self) {
            let s = match self.pick(8) {
                0 => "\n",
                1 => " // note\n",
                2 => " # hash note\n",
                3 => " /* block */ ",
                4 => "\n\n",
                _ => " ",
            };
            self.out.push_str(s);
        }

        fn sep(&mut self) {
            let s = [",", ";", ""][self.pick(3)];
            self.out.push_str(s);
            self.gap();
        }

        fn ty(&self, t: &Ty, typedef_limit: usize) -> String {
            let s = self.spec;
            match t {
                Ty::Base(b) => BASES[usize::from(*b) % BASES.len()].to_string(),
                Ty::Enum(i) if !s.enums.is_empty() => format!("E{}", usize::from(*i) % s.enums.len()),
                Ty::Struct(i) if !s.structs.is_empty() => format!("S{}", usize::from(*i) % s.structs.len()),
                Ty::Typedef(i) if typedef_limit > 0 => format!("T{}", usize::from(*i) % typedef_limit),
                Ty::List(e) => format!("list<{}>", self.ty(e, typedef_limit)),
                Ty::Set(e) => format!("set< {} >", self.ty(e, typedef_limit)),
                Ty::Map(k, v) => format!("map<{},{}>", self.ty(k, typedef_limit), self.ty(v, typedef_limit)),
                _ => "i32".to_string(),
            }
        }

        fn default_for(&self, t: &Ty) -> Option<String> {
            match t {
                Ty::Base(b) => Some(
                    match BASES[usize::from(*b) % BASES.len()] {
                        "bool" => "true",
                        "double" => "-1.5e3",
                        "string" | "binary" => "'it\\'s \\\"q\\\"'",
                        "byte" | "i8" => "-0x10",
                        _ => "42",
                    }
                    .to_string(),
                ),
                Ty::Enum(i) => {
                    let e = usize::from(*i) % self.spec.enums.len().max(1);
                    (!self.spec.enums.get(e)?.is_empty()).then(|| format!("E{e}.V0"))
                }
                Ty::List(_) | Ty::Set(_) => Some("[]".into()),
                Ty::Map(_, _) => Some("{}".into()),
                _ => None,
            }
        }

        fn doc(&mut self, doc: &Option<String>) {
            if let Some(d) = doc {
                self.out.push_str("/** ");
                self.out.push_str(&d.replace('\n', "\n * "));
                self.out.push_str(" */\n");
            }
        }

        fn fields(&mut self, fields: &[FieldSpec], typedefs: usize) {
            for (i, f) in fields.iter().enumerate() {
                self.doc(&f.doc);
                if !f.implicit_id {
                    self.out.push_str(&format!("{}:", i + 1));
                    self.gap();
                }
                self.out.push_str(["", "required ", "optional "][usize::from(f.requiredness)]);
                let ty = self.ty(&f.ty, typedefs);
                self.out.push_str(&ty);
                if f.annotated {
                    self.out.push_str(" (cpp.type = \"x\", flag)");
                }
                self.out.push_str(&format!(" f{i}"));
                if f.default
                    && let Some(d) = self.default_for(&f.ty)
                {
                    self.out.push_str(&format!(" = {d}"));
                }
                if f.annotated {
                    self.out.push_str(" ( note = 'v' ; other = \"w\" )");
                }
                self.sep();
            }
        }

        fn render(mut self) -> String {
            let s = self.spec;
            self.out.push_str("namespace rs round.trip\nnamespace * all\n");
            for (i, members) in s.enums.iter().enumerate() {
                self.out.push_str(&format!("enum E{i} {{"));
                self.gap();
                let mut next = 0i64;
                for (j, m) in members.iter().enumerate() {
                    match m {
                        // Keep explicit values above every implicit one so far,
                        // so no two members share a number.
                        Some(v) => {
                            let v = next + i64::from(v.unsigned_abs());
                            self.out.push_str(&format!("V{j} = {v}"));
                            next = v + 1;
                        }
                        None => {
                            self.out.push_str(&format!("V{j}"));
                            next += 1;
                        }
                    }
                    self.sep();
                }
                self.out.push_str("}\n");
            }
            for (i, t) in s.typedefs.iter().enumerate() {
                let ty = self.ty(t, i);
                self.out.push_str(&format!("typedef {ty} T{i}"));
                self.sep();
            }
            for (i, (kind, fields)) in s.structs.iter().enumerate() {
                let kw = ["struct", "union", "exception"][usize::from(*kind)];
                self.out.push_str(&format!("{kw} S{i} {{"));
                self.gap();
                self.fields(fields, s.typedefs.len());
                self.out.push_str("}\n");
            }
            for (i, c) in s.consts.iter().enumerate() {
                let text = match c {
                    0 => format!("const i32 C{i} = -0x7f"),
                    1 => format!("const double C{i} = 3"),
                    2 => format!("const list<string> C{i} = [\"a\" \"b\", 'c';]"),
                    3 => format!("const map<string, list<i16>> C{i} = {{\"k\": [1, 2], 'j': []}}"),
                    4 if !s.enums.is_empty() && !s.enums[0].is_empty() => format!("const E0 C{i} = E0.V0"),
                    _ => format!("const bool C{i} = 0"),
                };
                self.out.push_str(&text);
                self.sep();
            }
            let exception = s.structs.iter().position(|(k, _)| *k == 2);
            for (i, funcs) in s.services.iter().enumerate() {
                self.out.push_str(&format!("service Svc{i}"));
                if i > 0 {
                    self.out.push_str(&format!(" extends Svc{}", i - 1));
                }
                self.out.push_str(" {");
                self.gap();
                for (j, f) in funcs.iter().enumerate() {
                    let oneway = f.oneway && f.returns.is_none() && !f.throws;
                    if oneway {
                        self.out.push_str("oneway ");
                    }
                    let ret = f.returns.as_ref().map_or_else(|| "void".to_string(), |t| self.ty(t, s.typedefs.len()));
                    self.out.push_str(&format!("{ret} m{i}_{j}("));
                    self.fields(&f.args, s.typedefs.len());
                    self.out.push(')');
                    if let (true, Some(e)) = (f.throws && !oneway, exception) {
                        self.out.push_str(&format!(" throws (1: S{e} oops)"));
                    }
                    self.sep();
                }
                self.out.push_str("}\n");
            }
            self.out
        }
    }

    fn model_of(text: &str) -> Result<Model, String> {
        let mut files = MemoryLoader::new();
        files.add("a.thrift", text);
        let out = check(&files, &["a.thrift".into()], &Options::default());
        let rendered = out.render_diagnostics(false, false);
        out.model.ok_or(rendered)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn print_then_parse_gives_the_same_model(spec in spec()) {
            let text = Render { spec: &spec, out: String::new(), choice: 0 }.render();
            let model = model_of(&text).map_err(|e| TestCaseError::fail(format!("{e}\n--- input ---\n{text}")))?;
            let (doc, _, diags) = parse_str("a.thrift", &text);
            prop_assert!(!diags.has_errors());
            let printed = print_document(&doc);
            let reparsed = model_of(&printed).map_err(|e| TestCaseError::fail(format!("{e}\n--- printed ---\n{printed}")))?;
            prop_assert_eq!(&model, &reparsed, "printed:\n{}", printed);
            let (doc2, _, _) = parse_str("a.thrift", &printed);
            prop_assert_eq!(print_document(&doc2), printed);
        }
    }
}
