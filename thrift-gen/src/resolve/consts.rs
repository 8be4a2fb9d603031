//! Constant values checked against the types they are declared with.
//!
//! Follows Apache: an integer literal widens to `double` (0.17's Rust
//! generator then emits 0.0, a bug we do not copy), a `double` never
//! narrows to an integer, `bool` takes integers, `binary` takes strings,
//! an enum takes `Enum.NAME` or the value of one of its members, and a
//! struct takes a map of field names. Unlike Apache 0.17 we also check the
//! range of the declared integer type (`const i8 X = 300` is an error).
//! A constant, and a field or argument default, may use constants defined
//! above it or in included files; using one defined further down is an
//! error that says so (Apache resolves them in order, as it parses).

use super::{Resolver, SymbolKind};
use crate::ast::{self, BaseType, ConstValueKind};
use crate::diagnostics::{Diagnostic, Span, codes};
use crate::model::{DefId, Type, Value};

/// Which constants of the current program a value may refer to.
#[derive(Clone, Copy, Debug)]
pub(super) enum Limit {
    /// Only those defined before the one with this index (its own value).
    Before(usize),
    /// Only the first this many: those above a struct or service, for the
    /// defaults of its fields and arguments (Apache resolves them in order).
    Above(usize),
    /// All of them (constants of another program).
    All,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Ok,
    Failed,
}

struct Entry<'a> {
    ast: &'a ast::Const,
    state: State,
}

/// How many values (plus string bytes) one run may copy by expanding
/// references to constants. Each use of a constant copies its value, so
/// constants that each use the one before twice (`B = [A, A]`,
/// `C = [B, B]`, ...) double at every step: 40 such lines would take
/// exponential time and memory. Real IDL stays far below the limit; at it,
/// the generated code is about 400 KB.
const MAX_EXPANDED: usize = 1 << 14;

/// How deeply checking a value may recurse, through nested literals and the
/// constants they use: the parser's limit for one literal. References
/// compose literals that each pass the parser, so without it a chain of
/// them overflowed the stack (1300 levels in a debug build).
const MAX_DEPTH: usize = 128;

/// Per program, per constant (in source order): its AST and whether it
/// checked out.
#[derive(Default)]
pub(super) struct ConstTable<'a> {
    programs: Vec<Vec<Entry<'a>>>,
    /// How much of [`MAX_EXPANDED`] the run has used.
    expanded: usize,
    /// How deep the value being checked is, up to [`MAX_DEPTH`].
    depth: usize,
}

impl<'a> ConstTable<'a> {
    pub(super) fn add_program(&mut self, program: usize, consts: Vec<&'a ast::Const>) {
        debug_assert_eq!(program, self.programs.len());
        self.programs.push(consts.into_iter().map(|ast| Entry { ast, state: State::Pending }).collect());
    }

    pub(super) fn len(&self, program: usize) -> usize {
        self.programs[program].len()
    }

    pub(super) fn ast(&self, program: usize, index: usize) -> &'a ast::Const {
        self.programs[program][index].ast
    }

    pub(super) fn set_done(&mut self, program: usize, index: usize, ok: bool) {
        self.programs[program][index].state = if ok { State::Ok } else { State::Failed };
    }
}

fn describe(v: &ConstValueKind) -> &'static str {
    match v {
        ConstValueKind::Int(_) => "an integer",
        ConstValueKind::Double(_) => "a floating-point number",
        ConstValueKind::String(_) => "a string",
        ConstValueKind::Ident(_) => "a name",
        ConstValueKind::List(_) => "a list",
        ConstValueKind::Map(_) => "a map",
    }
}

fn int_range(b: BaseType) -> Option<(i64, i64)> {
    Some(match b {
        BaseType::I8 => (i8::MIN.into(), i8::MAX.into()),
        BaseType::I16 => (i16::MIN.into(), i16::MAX.into()),
        BaseType::I32 => (i32::MIN.into(), i32::MAX.into()),
        BaseType::I64 => (i64::MIN, i64::MAX),
        _ => return None,
    })
}

/// `8-4-4-4-12` hex digits, optionally in braces; returned lowercase.
fn parse_uuid(s: &str) -> Option<String> {
    let s = s.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(s);
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    (groups.len() == 5
        && groups.iter().zip(lens).all(|(g, n)| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit())))
    .then(|| s.to_ascii_lowercase())
}

impl Resolver<'_> {
    /// Checks `v` against `expected`. Errors are reported at `via` when
    /// given (the place that referred to the constant being checked), else
    /// at the value itself.
    pub(super) fn check_value(
        &mut self,
        program: usize,
        expected: &Type,
        v: &ast::ConstValue,
        limit: Limit,
        via: Option<Span>,
    ) -> Option<Value> {
        // Under a reference (`via`) every value checked is a copy of the
        // referenced constant's: it counts against MAX_EXPANDED.
        if let Some(at) = via {
            let cost = match &v.kind {
                ConstValueKind::String(s) => 1 + s.len(),
                _ => 1,
            };
            let before = self.consts.expanded;
            self.consts.expanded = before.saturating_add(cost);
            if self.consts.expanded > MAX_EXPANDED {
                if before <= MAX_EXPANDED {
                    self.diags.push(
                        Diagnostic::error(
                            codes::CONST_TOO_LARGE,
                            at,
                            format!("references to constants expand to more than {MAX_EXPANDED} values"),
                        )
                        .with_label("expanding this reference passes the limit")
                        .with_note("each use of a constant copies its value, and copies of copies grow fast"),
                    );
                }
                return None;
            }
        }
        if self.consts.depth >= MAX_DEPTH {
            self.diags.push(
                Diagnostic::error(
                    codes::CONST_TOO_LARGE,
                    via.unwrap_or(v.span),
                    format!("constant value nests deeper than {MAX_DEPTH} levels"),
                )
                .with_label("counting the values of the constants it uses"),
            );
            return None;
        }
        self.consts.depth += 1;
        let value = self.check_nested_value(program, expected, v, limit, via);
        self.consts.depth -= 1;
        value
    }

    /// [`Resolver::check_value`] once the limits are checked.
    fn check_nested_value(
        &mut self,
        program: usize,
        expected: &Type,
        v: &ast::ConstValue,
        limit: Limit,
        via: Option<Span>,
    ) -> Option<Value> {
        if let ConstValueKind::Ident(name) = &v.kind {
            return self.check_ident(program, expected, name, v.span, limit, via);
        }
        let resolved = self.true_type(expected)?.clone();
        let span = via.unwrap_or(v.span);
        let value = match (&resolved, &v.kind) {
            (_, ConstValueKind::Int(None)) => return None, // overflow, already reported
            (Type::Base(BaseType::Bool), ConstValueKind::Int(Some(n))) => {
                if *n != 0 && *n != 1 {
                    self.diags.push(
                        Diagnostic::warning(
                            codes::W_BOOL_FROM_INT,
                            span,
                            format!("bool constant given {n}; it means `true`"),
                        )
                        .with_label("use `true` or `false`"),
                    );
                }
                Value::Bool(*n != 0)
            }
            (
                Type::Base(b @ (BaseType::I8 | BaseType::I16 | BaseType::I32 | BaseType::I64)),
                ConstValueKind::Int(Some(n)),
            ) => self.int_in_range(*b, *n, span)?,
            (Type::Base(BaseType::Double), ConstValueKind::Int(Some(n))) => Value::Double(*n as f64),
            (Type::Base(BaseType::Double), ConstValueKind::Double(d)) => Value::Double(*d),
            (Type::Base(BaseType::String | BaseType::Binary), ConstValueKind::String(s)) => Value::String(s.clone()),
            (Type::Base(BaseType::Uuid), ConstValueKind::String(s)) => match parse_uuid(s) {
                Some(u) => Value::Uuid(u),
                None => {
                    self.diags.push(
                        Diagnostic::error(codes::CONST_TYPE_MISMATCH, span, format!("`{s}` is not a UUID"))
                            .with_label("expected the form 00112233-4455-6677-8899-aabbccddeeff"),
                    );
                    return None;
                }
            },
            (Type::Enum(id), ConstValueKind::Int(Some(n))) => {
                let e = &self.programs[id.program].enums[id.index];
                match e.values.iter().find(|m| i64::from(m.value) == *n) {
                    Some(m) => Value::Enum { def: *id, name: m.name.clone(), value: m.value },
                    None => {
                        let name = e.name.clone();
                        self.diags.push(
                            Diagnostic::error(
                                codes::CONST_TYPE_MISMATCH,
                                span,
                                format!("{n} is not a value of enum `{name}`"),
                            )
                            .with_label(format!("expected a member of `{name}`")),
                        );
                        return None;
                    }
                }
            }
            (Type::List(elem), ConstValueKind::List(items)) => {
                Value::List(self.check_items(program, elem, items, limit, via)?)
            }
            (Type::Set(elem), ConstValueKind::List(items)) => {
                Value::Set(self.check_items(program, elem, items, limit, via)?)
            }
            // Apache accepts `{}` as an empty list or set.
            (Type::List(_), ConstValueKind::Map(items)) if items.is_empty() => Value::List(Vec::new()),
            (Type::Set(_), ConstValueKind::Map(items)) if items.is_empty() => Value::Set(Vec::new()),
            (Type::Map(kt, vt), ConstValueKind::Map(items)) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (k, val) in items {
                    let k = self.check_value(program, kt, k, limit, via);
                    let val = self.check_value(program, vt, val, limit, via);
                    match (k, val) {
                        (Some(k), Some(val)) => out.push((k, val)),
                        _ => ok = false,
                    }
                }
                ok.then_some(Value::Map(out))?
            }
            (Type::Struct(id), ConstValueKind::Map(items)) => self.check_struct(program, *id, items, limit, via)?,
            (_, found) => {
                let expected_name = self.type_name(program, expected);
                self.diags.push(
                    Diagnostic::error(
                        codes::CONST_TYPE_MISMATCH,
                        span,
                        format!("type mismatch: expected `{expected_name}`, found {}", describe(found)),
                    )
                    .with_label(format!("expected `{expected_name}`")),
                );
                return None;
            }
        };
        Some(value)
    }

    fn int_in_range(&mut self, b: BaseType, n: i64, span: Span) -> Option<Value> {
        let (lo, hi) = int_range(b)?;
        if n < lo || n > hi {
            self.diags.push(
                Diagnostic::error(codes::INT_OVERFLOW, span, format!("{n} does not fit in `{}`", b.keyword()))
                    .with_label(format!("must lie in {lo}..={hi}")),
            );
            return None;
        }
        Some(Value::Int(n))
    }

    fn check_items(
        &mut self,
        program: usize,
        elem: &Type,
        items: &[ast::ConstValue],
        limit: Limit,
        via: Option<Span>,
    ) -> Option<Vec<Value>> {
        let checked: Vec<Option<Value>> =
            items.iter().map(|i| self.check_value(program, elem, i, limit, via)).collect();
        checked.into_iter().collect()
    }

    fn check_struct(
        &mut self,
        program: usize,
        id: DefId,
        items: &[(ast::ConstValue, ast::ConstValue)],
        limit: Limit,
        via: Option<Span>,
    ) -> Option<Value> {
        let mut fields = Vec::new();
        let mut ok = true;
        for (k, val) in items {
            let span = via.unwrap_or(k.span);
            let ConstValueKind::String(name) = &k.kind else {
                self.diags.push(
                    Diagnostic::error(
                        codes::CONST_TYPE_MISMATCH,
                        span,
                        format!("a struct constant's keys are field names in quotes, found {}", describe(&k.kind)),
                    )
                    .with_label("expected a field name such as \"id\""),
                );
                ok = false;
                continue;
            };
            let st = &self.programs[id.program].structs[id.index];
            let Some(field) = st.fields.iter().find(|f| &f.name == name) else {
                let known: Vec<String> = st.fields.iter().map(|f| format!("`{}`", f.name)).collect();
                let struct_name = st.name.clone();
                let mut d = Diagnostic::error(
                    codes::CONST_TYPE_MISMATCH,
                    span,
                    format!("`{struct_name}` has no field `{name}`"),
                )
                .with_label("unknown field");
                if !known.is_empty() {
                    d = d.with_note(format!("its fields are {}", known.join(", ")));
                }
                self.diags.push(d);
                ok = false;
                continue;
            };
            let ty = field.ty.clone();
            match self.check_value(program, &ty, val, limit, via) {
                Some(v) => fields.push((name.clone(), v)),
                None => ok = false,
            }
        }
        let st = &self.programs[id.program].structs[id.index];
        if st.kind == ast::StructKind::Union
            && let Some((second, _)) = items.get(1)
        {
            // A union value sets one member; Apache 0.17 lets this through
            // and its Rust generator emits `unimplemented!()`.
            let message =
                format!("a value of union `{}` sets {} members; a union holds at most one", st.name, items.len());
            self.diags.push(
                Diagnostic::error(codes::CONST_TYPE_MISMATCH, via.unwrap_or(second.span), message)
                    .with_label("a second member"),
            );
            ok = false;
        }
        ok.then_some(Value::Struct { def: id, fields })
    }

    fn check_ident(
        &mut self,
        program: usize,
        expected: &Type,
        name: &str,
        span: Span,
        limit: Limit,
        via: Option<Span>,
    ) -> Option<Value> {
        let at = via.unwrap_or(span);
        // A constant?
        if let Some((p, sym)) = self.lookup_const(program, name) {
            if p == program
                && let Limit::Before(current) | Limit::Above(current) = limit
                && sym.index >= current
            {
                let itself = matches!(limit, Limit::Before(current) if sym.index == current);
                let what = if itself { "itself" } else { "a constant defined later" };
                self.diags.push(
                    Diagnostic::error(codes::CONST_FORWARD_REFERENCE, at, format!("`{name}` refers to {what}"))
                        .with_label("only constants defined above this can be used here")
                        .with_secondary(sym.span, format!("`{name}` is defined here")),
                );
                return None;
            }
            let entry_state = self.consts.programs[p][sym.index].state;
            if entry_state == State::Failed {
                return None; // its own error is already reported
            }
            let c = self.consts.ast(p, sym.index);
            let inner_limit = if p == program { Limit::Before(sym.index) } else { Limit::All };
            // Check the referenced constant's own value against the type
            // wanted here: `const double D = INT_CONST` widens like a literal.
            return self.check_value(p, expected, &c.value, inner_limit, Some(at));
        }
        // An enum value: `Enum.NAME` or `include.Enum.NAME`.
        if let Some((enum_name, member)) = name.rsplit_once('.')
            && let Some((p, sym)) = self.lookup(program, enum_name)
            && sym.kind == SymbolKind::Enum
        {
            let id = DefId { program: p, index: sym.index };
            let e = &self.programs[p].enums[sym.index];
            let Some(m) = e.values.iter().find(|m| m.name == member) else {
                let enum_name = e.name.clone();
                self.diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_CONSTANT,
                        at,
                        format!("enum `{enum_name}` has no member `{member}`"),
                    )
                    .with_label("unknown enum member")
                    .with_secondary(sym.span, "enum defined here"),
                );
                return None;
            };
            let (mname, mvalue) = (m.name.clone(), m.value);
            let resolved = self.true_type(expected)?.clone();
            return match resolved {
                Type::Enum(want) if want == id => Some(Value::Enum { def: id, name: mname, value: mvalue }),
                Type::Base(b @ (BaseType::I8 | BaseType::I16 | BaseType::I32 | BaseType::I64)) => {
                    self.int_in_range(b, i64::from(mvalue), at)
                }
                _ => {
                    let expected_name = self.type_name(program, expected);
                    self.diags.push(
                        Diagnostic::error(
                            codes::CONST_TYPE_MISMATCH,
                            at,
                            format!("type mismatch: expected `{expected_name}`, found `{name}`, a member of enum `{enum_name}`"),
                        )
                        .with_label(format!("expected `{expected_name}`")),
                    );
                    None
                }
            };
        }
        let mut d = Diagnostic::error(codes::UNKNOWN_CONSTANT, at, format!("unknown constant `{name}`"))
            .with_label("no constant or enum value of this name");
        if let Some((_, sym)) = self.lookup(program, name) {
            d = d.with_note(format!("`{name}` is {}, not a constant", sym.kind.describe()));
        } else if let Some(s) = self.suggest(program, name, |k| k == SymbolKind::Const) {
            d = d.with_note(format!("did you mean `{s}`?"));
        }
        self.diags.push(d);
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::{MemoryLoader, Options, check, codes};

    /// Found while writing the `check` fuzz target (`fuzz/`): each constant
    /// uses the one before twice, so `C17` alone is 2^17 copies of `C0`,
    /// and every line more doubled the time and memory of the check.
    #[test]
    fn doubling_constants_stop_at_the_expansion_limit() {
        let mut idl = String::from("struct S { 1: list<S> k }\nconst S C0 = {\"k\": []}\n");
        for i in 1..=17 {
            idl += &format!("const S C{i} = {{\"k\": [C{p}, C{p}]}}\n", p = i - 1);
        }
        let mut files = MemoryLoader::new();
        files.add("doubling.thrift", idl);
        let out = check(&files, &["doubling.thrift".into()], &Options::default());
        let found: Vec<&str> = out.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(found, [codes::CONST_TOO_LARGE], "{}", out.render_diagnostics(true, false));
        assert!(out.model.is_none());
    }

    /// Found while fixing the above: literals that each pass the parser's
    /// nesting limit compose through constants, and 16 constants of 120
    /// levels each (52 KB of IDL) overflowed the stack while checking.
    #[test]
    fn values_nested_through_constants_stop_at_the_depth_limit() {
        let mut idl = String::from("typedef i32 T0\n");
        for d in 1..=140 {
            idl += &format!("typedef list<T{p}> T{d}\n", p = d - 1);
        }
        let nest = |inner: &str| format!("{}{inner}{}", "[".repeat(70), "]".repeat(70));
        idl += &format!("const T0 C0 = 1\nconst T70 C1 = {}\nconst T140 C2 = {}\n", nest("C0"), nest("C1"));
        let mut files = MemoryLoader::new();
        files.add("deep.thrift", idl);
        let out = check(&files, &["deep.thrift".into()], &Options::default());
        let found: Vec<&str> = out.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(found, [codes::CONST_TOO_LARGE], "{}", out.render_diagnostics(true, false));
        assert!(out.render_diagnostics(true, false).contains("deep.thrift:144:"), "at the use of C1, in C2");
    }
}
