//! From parsed files to one checked [`Model`].
//!
//! Passes, in order: symbol tables per program (duplicate names), typedef
//! targets and typedef cycles, enums, struct fields (ids, names, types),
//! constants (in source order, each checked against its declared type),
//! field defaults, services (`extends`, `oneway`, `throws`), and the
//! by-value recursion analysis that decides which fields need a `Box`.
//! Each pass reports every problem it finds and goes on, so one run shows
//! them all; the model is returned only when no error was found.

mod consts;
pub(crate) mod load;
mod recursion;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::ast::{self, Definition, Header, StructKind};
use crate::diagnostics::{Diagnostic, Diagnostics, Span, codes};
use crate::model::*;
use load::Parsed;

/// Options that change what the resolver accepts.
#[derive(Clone, Debug, Default)]
pub(crate) struct ResolveOptions {
    /// Accept explicit field ids ≤ 0 (Apache's `--allow-neg-keys`).
    pub(crate) allow_neg_keys: bool,
    /// `-strict`: implicit field ids are errors.
    pub(crate) strict: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SymbolKind {
    Struct,
    Enum,
    Typedef,
    Service,
    Const,
}

impl SymbolKind {
    fn describe(self) -> &'static str {
        match self {
            SymbolKind::Struct => "a struct",
            SymbolKind::Enum => "an enum",
            SymbolKind::Typedef => "a typedef",
            SymbolKind::Service => "a service",
            SymbolKind::Const => "a constant",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Symbol {
    kind: SymbolKind,
    index: usize,
    span: Span,
}

#[derive(Default)]
struct Scope {
    /// Structs, enums, typedefs and services share one namespace (as in
    /// Apache); constants have their own, so `struct A` and `const i32 A`
    /// may coexist.
    types: HashMap<String, Symbol>,
    consts: HashMap<String, Symbol>,
    /// Included programs by basename.
    includes: HashMap<String, usize>,
}

struct Resolver<'a> {
    parsed: &'a [Parsed],
    scopes: Vec<Scope>,
    programs: Vec<Program>,
    diags: &'a mut Diagnostics,
    opts: &'a ResolveOptions,
    /// Per program, per const: its AST and, once checked, its value.
    consts: consts::ConstTable<'a>,
    /// Struct kinds, known before fields are resolved.
    struct_kinds: Vec<Vec<StructKind>>,
    /// Typedefs that are part of a cycle: following them never ends.
    broken_typedefs: HashSet<DefId>,
}

/// Resolves parsed files into a model. `None` when any error was reported
/// (by this or an earlier stage).
pub(crate) fn resolve(
    parsed: &[Parsed],
    roots: Vec<usize>,
    opts: &ResolveOptions,
    diags: &mut Diagnostics,
) -> Option<Model> {
    let mut r = Resolver {
        parsed,
        scopes: Vec::new(),
        programs: Vec::new(),
        diags,
        opts,
        consts: consts::ConstTable::default(),
        struct_kinds: Vec::new(),
        broken_typedefs: HashSet::new(),
    };
    r.declare();
    r.typedefs();
    r.enums();
    r.struct_fields();
    r.evaluate_consts();
    r.field_defaults();
    r.services();
    if r.diags.has_errors() {
        return None;
    }
    recursion::mark_recursive_fields(&mut r.programs);
    Some(Model { programs: r.programs, roots })
}

fn annotations(list: &[ast::Annotation]) -> Annotations {
    list.iter().map(|a| (a.key.clone(), a.value.clone())).collect()
}

impl<'a> Resolver<'a> {
    // ----- pass 1: symbols ------------------------------------------------

    fn declare(&mut self) {
        for (pi, p) in self.parsed.iter().enumerate() {
            let mut scope = Scope::default();
            let mut program = Program {
                name: p.name.clone(),
                path: p.path.clone(),
                namespaces: BTreeMap::new(),
                includes: Vec::new(),
                cpp_includes: Vec::new(),
                typedefs: Vec::new(),
                enums: Vec::new(),
                structs: Vec::new(),
                services: Vec::new(),
                consts: Vec::new(),
            };
            let mut include_spans: HashMap<String, Span> = HashMap::new();
            for (target, span) in &p.includes {
                let Some(target) = *target else { continue };
                let name = self.parsed[target].name.clone();
                if let Some(&earlier) = include_spans.get(&name) {
                    if scope.includes.get(&name) != Some(&target) {
                        self.diags.push(
                            Diagnostic::error(
                                codes::DUPLICATE_INCLUDE_NAME,
                                *span,
                                format!("two included files are named `{name}`: `{name}.X` would be ambiguous"),
                            )
                            .with_label("second include named this")
                            .with_secondary(earlier, "first include"),
                        );
                    }
                    continue;
                }
                include_spans.insert(name.clone(), *span);
                scope.includes.insert(name, target);
                program.includes.push(target);
            }
            for h in &p.document.headers {
                match h {
                    Header::Namespace { scope: s, name, .. } => {
                        program.namespaces.insert(s.clone(), name.clone());
                    }
                    Header::CppInclude { path, .. } => program.cpp_includes.push(path.clone()),
                    Header::Include { .. } => {}
                }
            }
            let mut kinds = Vec::new();
            let mut counts = [0usize; 5];
            let mut program_consts = Vec::new();
            for def in &p.document.definitions {
                let kind = match def {
                    Definition::Const(c) => {
                        program_consts.push(c);
                        SymbolKind::Const
                    }
                    Definition::Typedef(_) | Definition::Senum(_) => SymbolKind::Typedef,
                    Definition::Enum(_) => SymbolKind::Enum,
                    Definition::Struct(s) => {
                        kinds.push(s.kind);
                        SymbolKind::Struct
                    }
                    Definition::Service(_) => SymbolKind::Service,
                };
                let slot = &mut counts[kind as usize];
                let index = *slot;
                *slot += 1;
                let name = def.name();
                let table = if kind == SymbolKind::Const { &mut scope.consts } else { &mut scope.types };
                if let Some(prev) = table.get(&name.name) {
                    self.diags.push(
                        Diagnostic::error(
                            codes::DUPLICATE_DEFINITION,
                            name.span,
                            format!("`{}` is defined twice", name.name),
                        )
                        .with_label("redefined here")
                        .with_secondary(prev.span, format!("first defined here, as {}", prev.kind.describe())),
                    );
                    // Keep the first definition; the index still counts so
                    // the later definition's vectors stay aligned.
                    continue;
                }
                table.insert(name.name.clone(), Symbol { kind, index, span: name.span });
            }
            self.consts.add_program(pi, program_consts);
            self.struct_kinds.push(kinds);
            self.scopes.push(scope);
            self.programs.push(program);
        }
    }

    // ----- names and types ------------------------------------------------

    /// Finds the definition a possibly qualified name refers to: a type or
    /// service first, else a constant.
    fn lookup(&self, program: usize, name: &str) -> Option<(usize, Symbol)> {
        self.lookup_in(program, name, |scope| &scope.types).or_else(|| self.lookup_const(program, name))
    }

    /// Finds the constant a possibly qualified name refers to.
    fn lookup_const(&self, program: usize, name: &str) -> Option<(usize, Symbol)> {
        self.lookup_in(program, name, |scope| &scope.consts)
    }

    fn lookup_in(
        &self,
        program: usize,
        name: &str,
        table: impl Fn(&Scope) -> &HashMap<String, Symbol>,
    ) -> Option<(usize, Symbol)> {
        if let Some(sym) = table(&self.scopes[program]).get(name) {
            return Some((program, *sym));
        }
        let (prefix, rest) = name.split_once('.')?;
        let target =
            if prefix == self.programs[program].name { program } else { *self.scopes[program].includes.get(prefix)? };
        table(&self.scopes[target]).get(rest).map(|s| (target, *s))
    }

    /// Names close to `name`, for "did you mean" hints.
    fn suggest(&self, program: usize, name: &str, want: impl Fn(SymbolKind) -> bool) -> Option<String> {
        let scope = &self.scopes[program];
        let mut candidates: Vec<String> =
            scope.types.iter().chain(&scope.consts).filter(|(_, s)| want(s.kind)).map(|(n, _)| n.clone()).collect();
        for (inc, &target) in &scope.includes {
            for (n, s) in self.scopes[target].types.iter().chain(&self.scopes[target].consts) {
                if want(s.kind) {
                    candidates.push(format!("{inc}.{n}"));
                }
            }
        }
        let limit = (name.len() / 3).max(1);
        candidates
            .into_iter()
            .map(|c| (edit_distance(&c.to_lowercase(), &name.to_lowercase()), c))
            .filter(|(d, _)| *d <= limit)
            .min()
            .map(|(_, c)| c)
    }

    fn resolve_type(&mut self, program: usize, ty: &ast::Type) -> Option<Type> {
        Some(match &ty.kind {
            ast::TypeKind::Base(b) => Type::Base(*b),
            ast::TypeKind::List(e) => Type::List(Box::new(self.resolve_type(program, e)?)),
            ast::TypeKind::Set(e) => Type::Set(Box::new(self.resolve_type(program, e)?)),
            ast::TypeKind::Map(k, v) => {
                let k = self.resolve_type(program, k);
                let v = self.resolve_type(program, v);
                Type::Map(Box::new(k?), Box::new(v?))
            }
            ast::TypeKind::Named(name) => match self.lookup(program, name) {
                Some((p, sym)) => {
                    let id = DefId { program: p, index: sym.index };
                    match sym.kind {
                        SymbolKind::Struct => Type::Struct(id),
                        SymbolKind::Enum => Type::Enum(id),
                        SymbolKind::Typedef => Type::Typedef(id),
                        SymbolKind::Service | SymbolKind::Const => {
                            self.diags.push(
                                Diagnostic::error(
                                    codes::NOT_A_TYPE,
                                    ty.span,
                                    format!("`{name}` is {}, not a type", sym.kind.describe()),
                                )
                                .with_label("expected a type")
                                .with_secondary(sym.span, "defined here"),
                            );
                            return None;
                        }
                    }
                }
                None => {
                    let mut d = Diagnostic::error(codes::UNKNOWN_TYPE, ty.span, format!("unknown type `{name}`"))
                        .with_label("no type of this name");
                    if let Some((prefix, _)) = name.split_once('.')
                        && prefix != self.programs[program].name
                        && !self.scopes[program].includes.contains_key(prefix)
                    {
                        d = d.with_note(format!("no included file is named `{prefix}`"));
                    }
                    if let Some(s) = self.suggest(program, name, |k| {
                        matches!(k, SymbolKind::Struct | SymbolKind::Enum | SymbolKind::Typedef)
                    }) {
                        d = d.with_note(format!("did you mean `{s}`?"));
                    }
                    self.diags.push(d);
                    return None;
                }
            },
        })
    }

    /// `ty` with typedefs followed; `None` for a typedef cycle.
    fn true_type<'t>(&'t self, mut ty: &'t Type) -> Option<&'t Type> {
        while let Type::Typedef(id) = ty {
            if self.broken_typedefs.contains(id) {
                return None;
            }
            ty = &self.programs[id.program].typedefs[id.index].target;
        }
        Some(ty)
    }

    fn type_name(&self, from: usize, ty: &Type) -> String {
        let qualify = |id: &DefId, name: &str| {
            if id.program == from { name.to_string() } else { format!("{}.{name}", self.programs[id.program].name) }
        };
        match ty {
            Type::Base(b) => b.keyword().to_string(),
            Type::List(e) => format!("list<{}>", self.type_name(from, e)),
            Type::Set(e) => format!("set<{}>", self.type_name(from, e)),
            Type::Map(k, v) => format!("map<{}, {}>", self.type_name(from, k), self.type_name(from, v)),
            Type::Struct(id) => {
                qualify(id, self.programs[id.program].structs.get(id.index).map_or("?", |s| s.name.as_str()))
            }
            Type::Enum(id) => {
                qualify(id, self.programs[id.program].enums.get(id.index).map_or("?", |e| e.name.as_str()))
            }
            Type::Typedef(id) => {
                qualify(id, self.programs[id.program].typedefs.get(id.index).map_or("?", |t| t.name.as_str()))
            }
        }
    }

    // ----- pass 2: typedefs -----------------------------------------------

    fn typedefs(&mut self) {
        for pi in 0..self.parsed.len() {
            for def in &self.parsed[pi].document.definitions {
                let td = match def {
                    Definition::Typedef(t) => {
                        // An unresolvable target still takes its slot so
                        // indices stay aligned; the error is reported.
                        let target = self.resolve_type(pi, &t.ty).unwrap_or(Type::Base(ast::BaseType::String));
                        Typedef {
                            doc: t.doc.clone(),
                            name: t.name.name.clone(),
                            target,
                            annotations: annotations(&t.annotations),
                        }
                    }
                    Definition::Senum(s) => Typedef {
                        doc: s.doc.clone(),
                        name: s.name.name.clone(),
                        target: Type::Base(ast::BaseType::String),
                        annotations: annotations(&s.annotations),
                    },
                    _ => continue,
                };
                self.programs[pi].typedefs.push(td);
            }
        }
        self.find_typedef_cycles();
    }

    /// A typedef whose target mentions itself, even inside a container
    /// (`typedef list<A> B; typedef B A`), names an infinite type.
    fn find_typedef_cycles(&mut self) {
        fn mentions(ty: &Type, out: &mut Vec<DefId>) {
            match ty {
                Type::Typedef(id) => out.push(*id),
                Type::List(e) | Type::Set(e) => mentions(e, out),
                Type::Map(k, v) => {
                    mentions(k, out);
                    mentions(v, out);
                }
                _ => {}
            }
        }
        // Iterative DFS with colours: 0 new, 1 on the stack, 2 done.
        let mut colour: HashMap<DefId, u8> = HashMap::new();
        let all: Vec<DefId> = (0..self.programs.len())
            .flat_map(|p| (0..self.programs[p].typedefs.len()).map(move |i| DefId { program: p, index: i }))
            .collect();
        for start in all {
            if colour.get(&start).copied().unwrap_or(0) != 0 {
                continue;
            }
            let mut stack: Vec<(DefId, Vec<DefId>)> = Vec::new();
            let mut next = Vec::new();
            mentions(&self.programs[start.program].typedefs[start.index].target, &mut next);
            colour.insert(start, 1);
            stack.push((start, next));
            while let Some((node, pending)) = stack.last_mut() {
                let node = *node;
                match pending.pop() {
                    Some(n) => match colour.get(&n).copied().unwrap_or(0) {
                        0 => {
                            let mut m = Vec::new();
                            mentions(&self.programs[n.program].typedefs[n.index].target, &mut m);
                            colour.insert(n, 1);
                            stack.push((n, m));
                        }
                        1 => {
                            let cycle_start = stack.iter().position(|(d, _)| *d == n).unwrap_or(0);
                            let members: Vec<DefId> = stack[cycle_start..].iter().map(|(d, _)| *d).collect();
                            self.report_typedef_cycle(&members);
                            self.broken_typedefs.extend(members);
                        }
                        _ => {}
                    },
                    None => {
                        colour.insert(node, 2);
                        stack.pop();
                    }
                }
            }
        }
    }

    fn report_typedef_cycle(&mut self, members: &[DefId]) {
        let names: Vec<String> =
            members.iter().map(|id| self.programs[id.program].typedefs[id.index].name.clone()).collect();
        let span_of = |id: &DefId| {
            self.scopes[id.program].types.get(&self.programs[id.program].typedefs[id.index].name).map(|s| s.span)
        };
        let Some(first) = members.first().and_then(span_of) else { return };
        let message = if names.len() == 1 {
            format!("typedef `{}` refers to itself", names[0])
        } else {
            format!("typedef cycle: {} -> {}", names.join(" -> "), names[0])
        };
        let mut d = Diagnostic::error(codes::TYPEDEF_CYCLE, first, message).with_label("this type never ends");
        for id in &members[1..] {
            if let Some(span) = span_of(id) {
                d = d.with_secondary(span, "part of the cycle");
            }
        }
        self.diags.push(d);
    }

    // ----- pass 3: enums --------------------------------------------------

    fn enums(&mut self) {
        for pi in 0..self.parsed.len() {
            for def in &self.parsed[pi].document.definitions {
                let Definition::Enum(e) = def else { continue };
                let mut values = Vec::new();
                let mut names: HashMap<&str, Span> = HashMap::new();
                let mut numbers: HashMap<i32, Span> = HashMap::new();
                let mut next: i64 = 0;
                for v in &e.values {
                    let value = match v.value {
                        Some((Some(n), span)) => match i32::try_from(n) {
                            Ok(n) => Some(n),
                            Err(_) => {
                                self.diags.push(
                                    Diagnostic::error(
                                        codes::ENUM_VALUE_RANGE,
                                        span,
                                        format!("enum value {n} does not fit in i32"),
                                    )
                                    .with_label("must lie in -2147483648..=2147483647"),
                                );
                                None
                            }
                        },
                        Some((None, _)) => None,
                        None => match i32::try_from(next) {
                            Ok(n) => Some(n),
                            Err(_) => {
                                self.diags.push(
                                    Diagnostic::error(
                                        codes::ENUM_VALUE_RANGE,
                                        v.name.span,
                                        format!("implicit enum value {next} (previous + 1) does not fit in i32"),
                                    )
                                    .with_label("give this member an explicit value"),
                                );
                                None
                            }
                        },
                    };
                    if let Some(prev) = names.get(v.name.name.as_str()) {
                        self.diags.push(
                            Diagnostic::error(
                                codes::DUPLICATE_ENUM_VALUE,
                                v.name.span,
                                format!("`{}.{}` is defined twice", e.name.name, v.name.name),
                            )
                            .with_label("redefined here")
                            .with_secondary(*prev, "first defined here"),
                        );
                        continue;
                    }
                    names.insert(&v.name.name, v.name.span);
                    let Some(value) = value else { continue };
                    next = i64::from(value) + 1;
                    if let Some(prev) = numbers.get(&value) {
                        self.diags.push(
                            Diagnostic::warning(
                                codes::W_DUPLICATE_ENUM_NUMBER,
                                v.name.span,
                                format!(
                                    "`{}.{}` has the same value ({value}) as an earlier member",
                                    e.name.name, v.name.name
                                ),
                            )
                            .with_secondary(*prev, "same value here"),
                        );
                    } else {
                        numbers.insert(value, v.name.span);
                    }
                    values.push(EnumValue {
                        doc: v.doc.clone(),
                        name: v.name.name.clone(),
                        value,
                        annotations: annotations(&v.annotations),
                    });
                }
                self.programs[pi].enums.push(Enum {
                    doc: e.doc.clone(),
                    name: e.name.name.clone(),
                    values,
                    annotations: annotations(&e.annotations),
                });
            }
        }
    }

    // ----- pass 4: struct fields -----------------------------------------

    fn struct_fields(&mut self) {
        for pi in 0..self.parsed.len() {
            for def in &self.parsed[pi].document.definitions {
                let Definition::Struct(s) = def else { continue };
                let what = FieldList { item: "field", owner: &s.name.name, union: s.kind == StructKind::Union };
                let fields = self.field_list(pi, &s.fields, &what);
                self.programs[pi].structs.push(Struct {
                    doc: s.doc.clone(),
                    kind: s.kind,
                    name: s.name.name.clone(),
                    fields,
                    annotations: annotations(&s.annotations),
                });
            }
        }
    }

    /// Checks ids, names and types of one field list (struct fields,
    /// arguments, or `throws`). Defaults are checked later, with constants.
    fn field_list(&mut self, program: usize, fields: &[ast::Field], what: &FieldList<'_>) -> Vec<Field> {
        let mut out = Vec::new();
        let mut ids: HashMap<i16, Span> = HashMap::new();
        let mut names: HashMap<&str, Span> = HashMap::new();
        let mut next_implicit: i16 = -1;
        for f in fields {
            let (id, implicit_id) = match f.id {
                Some((Some(v), span)) => {
                    let allowed = if self.opts.allow_neg_keys { -32768..=32767 } else { 1..=32767 };
                    if !allowed.contains(&v) {
                        let mut d = Diagnostic::error(
                            codes::FIELD_ID_RANGE,
                            span,
                            format!("{} id {v} of `{}` is out of range", what.item, f.name.name),
                        )
                        .with_label(if self.opts.allow_neg_keys {
                            "must lie in -32768..=32767"
                        } else {
                            "must lie in 1..=32767"
                        });
                        if (-32768..=0).contains(&v) {
                            d = d.with_note("ids of 0 and below are accepted with `--allow-neg-keys`");
                        }
                        self.diags.push(d);
                        (None, false)
                    } else {
                        (i16::try_from(v).ok(), false)
                    }
                }
                Some((None, _)) => (None, false),
                None => {
                    let id = next_implicit;
                    next_implicit = next_implicit.saturating_sub(1);
                    let message = format!("no id given for {} `{}`: using {id}", what.item, f.name.name);
                    let d = if self.opts.strict {
                        Diagnostic::error(codes::STRICT_IMPLICIT_FIELD_ID, f.name.span, message)
                    } else {
                        Diagnostic::warning(codes::W_IMPLICIT_FIELD_ID, f.name.span, message)
                    };
                    self.diags.push(
                        d.with_label("write an explicit id such as `1:`")
                            .with_note("implicit ids change when fields are reordered, which breaks compatibility"),
                    );
                    (Some(id), true)
                }
            };
            if let Some(prev) = names.get(f.name.name.as_str()) {
                self.diags.push(
                    Diagnostic::error(
                        codes::DUPLICATE_FIELD_NAME,
                        f.name.span,
                        format!("{} `{}` of `{}` is declared twice", what.item, f.name.name, what.owner),
                    )
                    .with_label("redeclared here")
                    .with_secondary(*prev, "first declared here"),
                );
            } else {
                names.insert(&f.name.name, f.name.span);
            }
            if let Some(id) = id {
                if let Some(prev) = ids.get(&id) {
                    let span = f.id.map_or(f.name.span, |(_, s)| s);
                    self.diags.push(
                        Diagnostic::error(
                            codes::DUPLICATE_FIELD_ID,
                            span,
                            format!("{} id {id} is used twice in `{}`", what.item, what.owner),
                        )
                        .with_label(format!("`{}` reuses it", f.name.name))
                        .with_secondary(*prev, "first used here"),
                    );
                } else {
                    ids.insert(id, f.id.map_or(f.name.span, |(_, s)| s));
                }
            }
            let mut requiredness = f.requiredness;
            if what.union && requiredness == ast::Requiredness::Required {
                self.diags.push(
                    Diagnostic::warning(
                        codes::W_UNION_REQUIRED,
                        f.span,
                        format!("union member `{}` cannot be required; `required` is ignored", f.name.name),
                    )
                    .with_label("at most one member of a union is set"),
                );
                requiredness = ast::Requiredness::Default;
            }
            let ty = self.resolve_type(program, &f.ty);
            if let (Some(id), Some(ty)) = (id, ty) {
                out.push(Field {
                    doc: f.doc.clone(),
                    id,
                    implicit_id,
                    name: f.name.name.clone(),
                    ty,
                    requiredness,
                    default: None,
                    recursive: false,
                    annotations: annotations(&f.annotations),
                });
            }
        }
        out
    }

    // ----- pass 5 and 6: constants and defaults ---------------------------

    fn evaluate_consts(&mut self) {
        for pi in 0..self.parsed.len() {
            let count = self.consts.len(pi);
            for ci in 0..count {
                let c = self.consts.ast(pi, ci);
                let value = self.resolve_type(pi, &c.ty).and_then(|ty| {
                    let value = self.check_value(pi, &ty, &c.value, consts::Limit::Before(ci), None)?;
                    Some((ty, value))
                });
                if let Some((ty, value)) = &value {
                    self.programs[pi].consts.push(Const {
                        doc: c.doc.clone(),
                        name: c.name.name.clone(),
                        ty: ty.clone(),
                        value: value.clone(),
                        annotations: annotations(&c.annotations),
                    });
                }
                self.consts.set_done(pi, ci, value.is_some());
            }
        }
    }

    fn field_defaults(&mut self) {
        for pi in 0..self.parsed.len() {
            let mut si = 0;
            let mut consts_above = 0;
            for def in &self.parsed[pi].document.definitions {
                match def {
                    Definition::Const(_) => consts_above += 1,
                    Definition::Struct(s) => {
                        // Checked on a copy: a default may be a struct value
                        // of this very struct, whose fields must stay visible.
                        let mut fields = self.programs[pi].structs[si].fields.clone();
                        self.check_defaults(pi, &s.fields, &mut fields, consts::Limit::Above(consts_above));
                        self.programs[pi].structs[si].fields = fields;
                        si += 1;
                    }
                    _ => {}
                }
            }
        }
    }

    /// Checks the defaults written in `ast_fields` against the types of the
    /// resolved `fields`, and stores them there.
    fn check_defaults(
        &mut self,
        program: usize,
        ast_fields: &[ast::Field],
        fields: &mut [Field],
        limit: consts::Limit,
    ) {
        for f in ast_fields {
            let Some(default) = &f.default else { continue };
            let Some(field) = fields.iter_mut().find(|m| m.name == f.name.name) else { continue };
            let ty = field.ty.clone();
            field.default = self.check_value(program, &ty, default, limit, None);
        }
    }

    // ----- pass 7: services -----------------------------------------------

    fn services(&mut self) {
        for pi in 0..self.parsed.len() {
            let mut consts_above = 0;
            for def in &self.parsed[pi].document.definitions {
                if let Definition::Const(_) = def {
                    consts_above += 1;
                }
                let Definition::Service(s) = def else { continue };
                let extends = s.extends.as_ref().and_then(|e| self.resolve_extends(pi, e));
                let mut functions = Vec::new();
                let mut names: HashMap<&str, Span> = HashMap::new();
                for f in &s.functions {
                    if let Some(prev) = names.get(f.name.name.as_str()) {
                        self.diags.push(
                            Diagnostic::error(
                                codes::DUPLICATE_METHOD,
                                f.name.span,
                                format!("method `{}` is defined twice in service `{}`", f.name.name, s.name.name),
                            )
                            .with_label("redefined here")
                            .with_secondary(*prev, "first defined here"),
                        );
                        continue;
                    }
                    names.insert(&f.name.name, f.name.span);
                    if let Some(func) = self.function(pi, &s.name.name, f, consts::Limit::Above(consts_above)) {
                        functions.push(func);
                    }
                }
                self.programs[pi].services.push(Service {
                    doc: s.doc.clone(),
                    name: s.name.name.clone(),
                    extends,
                    functions,
                    annotations: annotations(&s.annotations),
                });
            }
        }
        self.check_inheritance();
    }

    fn resolve_extends(&mut self, program: usize, e: &ast::Ident) -> Option<DefId> {
        match self.lookup(program, &e.name) {
            Some((p, sym)) if sym.kind == SymbolKind::Service => Some(DefId { program: p, index: sym.index }),
            Some((_, sym)) => {
                self.diags.push(
                    Diagnostic::error(
                        codes::EXTENDS_NOT_SERVICE,
                        e.span,
                        format!("`{}` is {}, and only a service can be extended", e.name, sym.kind.describe()),
                    )
                    .with_label("not a service")
                    .with_secondary(sym.span, "defined here"),
                );
                None
            }
            None => {
                let mut d = Diagnostic::error(codes::EXTENDS_UNKNOWN, e.span, format!("unknown service `{}`", e.name))
                    .with_label("no service of this name");
                if let Some(s) = self.suggest(program, &e.name, |k| k == SymbolKind::Service) {
                    d = d.with_note(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
                None
            }
        }
    }

    /// Resolves one method; `limit` says which constants argument defaults may use.
    fn function(&mut self, program: usize, service: &str, f: &ast::Function, limit: consts::Limit) -> Option<Function> {
        let owner = format!("{service}.{}", f.name.name);
        let mut args = self.field_list(program, &f.args, &FieldList { item: "argument", owner: &owner, union: false });
        self.check_defaults(program, &f.args, &mut args, limit);
        let throws_ast = f.throws.as_ref().map(|(t, _)| t.as_slice()).unwrap_or(&[]);
        let mut throws =
            self.field_list(program, throws_ast, &FieldList { item: "exception", owner: &owner, union: false });
        self.check_defaults(program, throws_ast, &mut throws, limit);
        let mut ok = true;
        for (t, ast_field) in throws.iter().zip(throws_ast) {
            let is_exception = match self.true_type(&t.ty) {
                Some(Type::Struct(id)) => self.struct_kinds[id.program][id.index] == StructKind::Exception,
                None => true, // a typedef cycle, already reported
                _ => false,
            };
            if !is_exception {
                ok = false;
                let name = self.type_name(program, &t.ty);
                self.diags.push(
                    Diagnostic::error(
                        codes::THROWS_NOT_EXCEPTION,
                        ast_field.ty.span,
                        format!("`{name}` in `throws` of `{owner}` is not an exception"),
                    )
                    .with_label("declare it with `exception`, not `struct`"),
                );
            }
        }
        let returns = match &f.returns {
            Some(t) => Some(self.resolve_type(program, t)?),
            None => None,
        };
        if let Some(oneway) = f.oneway {
            if f.returns.is_some() {
                ok = false;
                self.diags.push(
                    Diagnostic::error(
                        codes::ONEWAY_RESULT,
                        f.returns_span,
                        format!("oneway method `{owner}` must return `void`"),
                    )
                    .with_label("a oneway call gets no reply")
                    .with_secondary(oneway, "declared oneway here"),
                );
            }
            if let Some((list, span)) = &f.throws
                && !list.is_empty()
            {
                ok = false;
                self.diags.push(
                    Diagnostic::error(
                        codes::ONEWAY_THROWS,
                        *span,
                        format!("oneway method `{owner}` cannot throw exceptions"),
                    )
                    .with_label("a oneway call gets no reply to carry them")
                    .with_secondary(oneway, "declared oneway here"),
                );
            }
        }
        ok.then(|| Function {
            doc: f.doc.clone(),
            name: f.name.name.clone(),
            oneway: f.oneway.is_some(),
            returns,
            args,
            throws,
            annotations: annotations(&f.annotations),
        })
    }

    /// Method names are unique along an `extends` chain, and chains end.
    fn check_inheritance(&mut self) {
        for pi in 0..self.programs.len() {
            for si in 0..self.programs[pi].services.len() {
                let me = DefId { program: pi, index: si };
                let service_ast = self.service_ast(me);
                let mut seen = HashSet::from([me]);
                let mut parent = self.programs[pi].services[si].extends;
                while let Some(p) = parent {
                    if !seen.insert(p) {
                        // Reported once per service on the cycle; a service
                        // that only leads into a cycle is not on it.
                        if p == me
                            && let Some(e) = service_ast.and_then(|s| s.extends.as_ref())
                        {
                            self.diags.push(
                                Diagnostic::error(
                                    codes::EXTENDS_CYCLE,
                                    e.span,
                                    format!(
                                        "service `{}` extends itself through `{}`",
                                        self.programs[pi].services[si].name, e.name
                                    ),
                                )
                                .with_label("this `extends` chain is a cycle"),
                            );
                        }
                        break;
                    }
                    let parent_service = &self.programs[p.program].services[p.index];
                    for f in &self.programs[pi].services[si].functions {
                        if parent_service.functions.iter().any(|g| g.name == f.name) {
                            let span = service_ast
                                .and_then(|s| s.functions.iter().find(|g| g.name.name == f.name))
                                .map(|g| g.name.span);
                            let parent_span = self
                                .service_ast(p)
                                .and_then(|s| s.functions.iter().find(|g| g.name.name == f.name).map(|g| g.name.span));
                            if let Some(span) = span {
                                let mut d = Diagnostic::error(
                                    codes::DUPLICATE_METHOD,
                                    span,
                                    format!(
                                        "method `{}` of `{}` is already defined by the extended service `{}`",
                                        f.name, self.programs[pi].services[si].name, parent_service.name
                                    ),
                                )
                                .with_label("redefined here");
                                if let Some(ps) = parent_span {
                                    d = d.with_secondary(ps, "inherited from here");
                                }
                                self.diags.push(d);
                            }
                        }
                    }
                    parent = parent_service.extends;
                }
            }
        }
    }

    fn service_ast(&self, id: DefId) -> Option<&'a ast::Service> {
        self.parsed[id.program]
            .document
            .definitions
            .iter()
            .filter_map(|d| match d {
                Definition::Service(s) => Some(s),
                _ => None,
            })
            .nth(id.index)
    }
}

/// What a field list is, for messages.
struct FieldList<'n> {
    item: &'static str,
    owner: &'n str,
    union: bool,
}

/// Levenshtein distance, for "did you mean" hints on short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
