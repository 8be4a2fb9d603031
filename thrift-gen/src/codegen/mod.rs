//! The checked model to Rust source text.
//!
//! One file per program (`<module>.rs`) plus a `mod.rs` that declares the
//! modules, so programs refer to each other as `super::<module>::Type`.
//! The module name is the program's `rs` (or `rust`) namespace with dots
//! turned into `_`, else its file name in snake case. Code is written as
//! text straight into each file's buffer ([`writer::Writer`]), already in
//! the layout `rustfmt --edition 2024` gives it with its default
//! configuration: no token trees, no parsing, no formatting pass.
//!
//! Architecture invariant: output depends only on the model and the
//! options: no timestamps, absolute paths or hash-map order.
//! Architecture invariant: every generated file is rustfmt-clean (the
//! `goldens_are_rustfmt_clean` test).
//!
//! `values.rs` writes types, constant values, typedefs, enums and
//! constants; `types.rs` structs, unions and exceptions; `service.rs`
//! services.

mod names;
mod service;
#[cfg(test)]
mod tests;
mod types;
mod values;
mod writer;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::diagnostics::{Diagnostic, Diagnostics, codes};
use crate::model::{DefId, Model, Type};

/// How `mod.rs` brings in the per-program files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ModuleStyle {
    /// `pub mod a;`: for output committed into a crate's `src/` (the CLI).
    #[default]
    Files,
    /// `pub mod a { include!("a.rs"); }`: for output in `OUT_DIR`, brought
    /// in with `include!(concat!(env!("OUT_DIR"), "/mod.rs"))` (the Builder).
    Include,
}

/// Options of the Rust generator (`--gen rust:opt,...`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RustOptions {
    /// `btree`: `BTreeMap`/`BTreeSet` instead of `HashMap`/`HashSet`.
    pub btree: bool,
    /// How `mod.rs` refers to the module files.
    pub module_style: ModuleStyle,
    /// `apache_compat`: also implement Apache's `TSerializable` for every
    /// struct, union and exception (the runtime needs its `apache-compat`
    /// feature).
    pub apache_compat: bool,
    /// `serde`: derive `Serialize` and `Deserialize` for every type (the
    /// runtime needs its `serde` feature; the user's crate needs no serde
    /// dependency of its own).
    pub serde: bool,
    /// `rustfmt`: run the output through the `rustfmt` on PATH (with the
    /// user's configuration). Applied by the CLI front (it runs a program);
    /// the pure generator ignores it.
    pub rustfmt: bool,
    /// `exactly_once`: also emit, per service, a durable handler trait
    /// (`XDurable`, whose methods get a `&mut Ctx`) and `XDurableServer`,
    /// which runs every call through an exactly-once `Engine`. The plain
    /// trait and server are unchanged.
    pub exactly_once: bool,
}

impl RustOptions {
    /// The option names `--gen rust:` accepts.
    pub const VALID: &'static [&'static str] = &["apache_compat", "btree", "exactly_once", "rustfmt", "serde"];

    /// Applies one `name` or `name=value` option.
    pub fn set(&mut self, option: &str) -> Result<(), String> {
        let (name, value) = option.split_once('=').map_or((option, None), |(n, v)| (n, Some(v)));
        match (name, value) {
            ("btree", None) => self.btree = true,
            ("rustfmt", None) => self.rustfmt = true,
            ("apache_compat", None) => self.apache_compat = true,
            ("serde", None) => self.serde = true,
            ("exactly_once", None) => self.exactly_once = true,
            ("btree" | "rustfmt" | "apache_compat" | "serde" | "exactly_once", Some(v)) => {
                return Err(format!("option `{name}` takes no value (got `{v}`)"));
            }
            _ => {
                return Err(format!(
                    "unknown option `{name}` for generator `rust`; valid options: {}",
                    RustOptions::VALID.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// One file the generator produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the output directory.
    pub path: PathBuf,
    /// The Rust source.
    pub contents: String,
}

/// A piece of one generated file, handed out as generation goes so a
/// front end can write it and forget it.
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    /// The file, relative to the output directory.
    pub path: &'a std::path::Path,
    /// The next piece of its text (the first piece starts the file).
    pub text: &'a str,
    /// Whether this is the file's last piece.
    pub last: bool,
}

/// How much text is gathered before it is handed out.
const CHUNK: usize = 256 * 1024;

/// Generates the modules for `emit` (program indices) and their `mod.rs`,
/// handing the text to `sink` in pieces of about [`CHUNK`] bytes as it is
/// made, so the output is never all in memory. The model is checked first:
/// on diagnostics nothing reaches `sink`. A `sink` error stops generation.
pub(crate) fn generate_each<E>(
    model: &Model,
    emit: &[usize],
    options: &RustOptions,
    sink: &mut dyn FnMut(Chunk<'_>) -> Result<(), E>,
) -> Result<Result<(), E>, Diagnostics> {
    let modules = module_names(model)?;
    let g = Generator { model, options, modules: &modules, case_cache: Default::default() };
    let traits = types::TraitTable::new(&g);
    check_container_keys(&g, &traits)?;
    let mut mod_rs = format!("// Generated by thrift-mu2sls {}. Do not edit.\n", env!("CARGO_PKG_VERSION"));
    for &p in emit {
        let module = &modules[p];
        let file_name = format!("{module}.rs");
        let path = PathBuf::from(&file_name);
        let mut w = writer::Writer::with_capacity(g.estimate_size(p).min(2 * CHUNK));
        w.line(format_args!(
            "// Generated by thrift-mu2sls {} from `{}`. Do not edit.",
            env!("CARGO_PKG_VERSION"),
            file_label(&model.programs[p].path)
        ));
        let mut failed = None;
        g.program(p, &traits, &mut w, &mut |w: &mut writer::Writer| {
            if failed.is_none() && w.buf.len() >= CHUNK {
                if let Err(e) = sink(Chunk { path: &path, text: &w.buf, last: false }) {
                    failed = Some(e);
                }
                w.buf.clear();
            }
        });
        if let Some(e) = failed {
            return Ok(Err(e));
        }
        if let Err(e) = sink(Chunk { path: &path, text: &w.buf, last: true }) {
            return Ok(Err(e));
        }
        // The module files are rustfmt-clean under rustfmt's default
        // configuration; `rustfmt::skip` keeps a crate's own rustfmt.toml
        // (another `max_width`, say) from rewriting committed output.
        mod_rs.push_str(MODULE_ATTRIBUTES);
        match options.module_style {
            ModuleStyle::Files => mod_rs.push_str(&format!("pub mod {module};\n")),
            ModuleStyle::Include => {
                mod_rs.push_str(&format!("pub mod {module} {{\n    include!(\"{file_name}\");\n}}\n"))
            }
        }
    }
    Ok(sink(Chunk { path: std::path::Path::new("mod.rs"), text: &mod_rs, last: true }))
}

const MODULE_ATTRIBUTES: &str = "\n#[rustfmt::skip]\n#[allow(clippy::all, dead_code, missing_docs, unreachable_pub)]\n\
                                 #[allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]\n";

/// Set elements and map keys must be hashable (`HashSet`, `HashMap`) or
/// ordered (`btree`): no `double` inside them, and with hash containers no
/// map or set inside them either. Reported here rather than as a Rust
/// compile error in the user's crate.
fn check_container_keys(g: &Generator<'_>, traits: &types::TraitTable) -> Result<(), Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut check = |ty: &Type, place: String| {
        let mut stack = vec![ty];
        while let Some(t) = stack.pop() {
            match g.model.resolve(t) {
                Type::List(e) => stack.push(e),
                Type::Set(e) => {
                    if !traits.type_has(g, e, !g.options.btree) {
                        diags.push(Diagnostic::error_without_span(codes::UNSUPPORTED_KEY, unsupported_key(&place)));
                        return;
                    }
                    stack.push(e);
                }
                Type::Map(k, v) => {
                    if !traits.type_has(g, k, !g.options.btree) {
                        diags.push(Diagnostic::error_without_span(codes::UNSUPPORTED_KEY, unsupported_key(&place)));
                        return;
                    }
                    stack.push(k);
                    stack.push(v);
                }
                _ => {}
            }
        }
    };
    for p in &g.model.programs {
        for s in &p.structs {
            for f in &s.fields {
                check(&f.ty, format!("{}: field `{}.{}`", p.path, s.name, f.name));
            }
        }
        for t in &p.typedefs {
            check(&t.target, format!("{}: typedef `{}`", p.path, t.name));
        }
        for c in &p.consts {
            check(&c.ty, format!("{}: constant `{}`", p.path, c.name));
        }
        for svc in &p.services {
            for f in &svc.functions {
                for a in f.args.iter().chain(&f.throws) {
                    check(&a.ty, format!("{}: argument `{}.{}.{}`", p.path, svc.name, f.name, a.name));
                }
                if let Some(r) = &f.returns {
                    check(r, format!("{}: result of `{}.{}`", p.path, svc.name, f.name));
                }
            }
        }
    }
    if diags.has_errors() { Err(diags) } else { Ok(()) }
}

fn unsupported_key(place: &str) -> String {
    format!(
        "{place}: a set element or map key contains a `double` (or, without `--gen rust:btree`, a map or set), \
         which Rust's collections cannot use as a key"
    )
}

/// The file name only: paths differ between machines, output must not.
fn file_label(path: &str) -> String {
    std::path::Path::new(path).file_name().map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
}

/// Module name per program; two programs with one module name are an error.
fn module_names(model: &Model) -> Result<Vec<String>, Diagnostics> {
    let mut names = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut diags = Diagnostics::new();
    for (i, p) in model.programs.iter().enumerate() {
        let raw = match p.namespaces.get("rs").or_else(|| p.namespaces.get("rust")) {
            Some(ns) => ns.replace('.', "_"),
            None => p.name.clone(),
        };
        // A file name may hold anything; a module name only ASCII letters,
        // digits and `_` (non-ASCII identifiers are legal Rust but easy to
        // get wrong, and file names are not chosen as Rust names).
        let mut name: String = names::snake_name(&raw)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
            .collect();
        if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
            name = format!("_{name}");
        }
        let name = names::ident(&name).to_string().replace("r#", "r_");
        if let Some(&other) = seen.get(&name) {
            diags.push(Diagnostic::error_without_span(
                codes::MODULE_NAME_COLLISION,
                format!(
                    "`{}` and `{}` both generate module `{name}`; give one a `namespace rs` of its own",
                    model.programs[other].path, p.path
                ),
            ));
        }
        seen.insert(name.clone(), i);
        names.push(name);
    }
    if diags.has_errors() { Err(diags) } else { Ok(names) }
}

struct Generator<'a> {
    model: &'a Model,
    options: &'a RustOptions,
    modules: &'a [String],
    /// Case conversions already done: the same IDL names are converted
    /// many times (a method's name once per server and client of every
    /// service that inherits it), and heck is not cheap.
    /// One map per [`names::Case`], looked up by `&str` (no allocation).
    case_cache: std::cell::RefCell<[std::collections::HashMap<String, String>; 3]>,
}

impl Generator<'_> {
    fn cased(&self, case: names::Case, name: &str) -> String {
        if let Some(done) = self.case_cache.borrow()[case as usize].get(name) {
            return done.clone();
        }
        let done = case.convert(name);
        self.case_cache.borrow_mut()[case as usize].insert(name.to_string(), done.clone());
        done
    }

    fn type_name(&self, name: &str) -> String {
        self.cased(names::Case::Type, name)
    }

    fn snake_name(&self, name: &str) -> String {
        self.cased(names::Case::Snake, name)
    }

    fn const_name(&self, name: &str) -> String {
        self.cased(names::Case::Const, name)
    }
}

impl Generator<'_> {
    /// A guess at the size of a program's file, so its buffer is allocated
    /// once: about 3 KiB per struct and 6 KiB per method, less for the rest.
    fn estimate_size(&self, p: usize) -> usize {
        let program = &self.model.programs[p];
        let fields: usize = program.structs.iter().map(|s| s.fields.len()).sum();
        let methods: usize = program.services.iter().map(|s| s.functions.len()).sum();
        4096 + program.structs.len() * 2048
            + fields * 400
            + program.enums.iter().map(|e| 2500 + e.values.len() * 200).sum::<usize>()
            + program.typedefs.len() * 80
            + program.consts.len() * 150
            + methods * 6144
    }

    /// Writes program `p`, calling `flush` after each definition so the
    /// caller can hand out what has been written.
    fn program(
        &self,
        p: usize,
        traits: &types::TraitTable,
        w: &mut writer::Writer,
        flush: &mut dyn FnMut(&mut writer::Writer),
    ) {
        let program = &self.model.programs[p];
        for (i, s) in program.structs.iter().enumerate() {
            w.blank();
            self.emit_structure(p, DefId { program: p, index: i }, s, traits, w);
            flush(w);
        }
        // Typedefs and constants in runs without blank lines, like a
        // hand-written block of them.
        if !program.typedefs.is_empty() {
            w.blank();
        }
        for t in &program.typedefs {
            self.emit_typedef(p, t, w);
        }
        for e in &program.enums {
            w.blank();
            self.emit_enum(e, w);
            flush(w);
        }
        // `const`s in a run; each `static` (often several lines) apart.
        let mut after_item = true;
        for c in &program.consts {
            let is_static = !matches!(self.model.resolve(&c.ty), Type::Base(_) | Type::Enum(_));
            if after_item || is_static {
                w.blank();
            }
            self.emit_constant(p, c, w);
            after_item = is_static;
            flush(w);
        }
        for (i, s) in program.services.iter().enumerate() {
            self.emit_service(p, DefId { program: p, index: i }, s, w);
            flush(w);
        }
    }
}
