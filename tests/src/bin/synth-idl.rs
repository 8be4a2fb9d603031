//! `synth-idl`: writes a large, seeded, synthetic Thrift IDL for the
//! compiler benchmark (`bench/compiler.sh`) and its e2e smoke test.
//!
//! ```text
//! synth-idl --seed 42 --lines 50000 --out DIR [--domains 4]
//! ```
//!
//! DIR receives `base.thrift` (typedefs, enums and constants first, then a
//! few structs, exceptions and services), `domain_1.thrift` …
//! `domain_N.thrift` (each includes `base`) and `top.thrift` (includes all of
//! them). Together they hold at least `--lines` lines, and one seed always
//! gives byte-identical files.
//!
//! The IDL stays inside what both Apache Thrift 0.17 and thrift-mu2sls
//! accept, so both compilers do the same work on it:
//!
//! * every name carries a number (`D2Record17`, `field_3_amount`,
//!   `BASE_LIMIT_9`), so none is a word 0.17 reserves for some target
//!   language, nor a Thrift keyword, and none collides after case conversion;
//! * every field, argument and `throws` id is explicit and in 1..=32767;
//! * every constant and default fits its declared type, doubles are written
//!   with a fraction (0.17's Rust generator turns integer literals in double
//!   constants into `0.0`), and map keys and set elements are distinct;
//! * references point backwards (to earlier definitions or included files),
//!   and a struct refers to itself only through an optional field or a list.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: synth-idl --seed N --lines N --out DIR [--domains N]";

/// Words that give generated names some variety. Every generated name also
/// carries a number, which is what keeps it clear of reserved words.
const WORDS: &[&str] = &[
    "amount", "label", "owner", "status", "count", "title", "score", "weight", "region", "price", "quota", "stamp",
    "token", "color", "level", "width", "height", "depth", "rank", "note", "city", "phone", "email", "tag", "flag",
    "limit", "offset", "cursor", "ratio", "budget", "origin", "target", "volume", "margin", "period", "detail",
];

/// Verbs for service method names.
const VERBS: &[&str] =
    &["fetch", "store", "update", "remove", "scan", "notify", "ping", "merge", "split", "count", "watch", "audit"];

/// Command-line arguments.
struct Args {
    seed: u64,
    lines: usize,
    domains: usize,
    out: PathBuf,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut seed, mut lines, mut domains, mut out) = (None, None, 4, None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("`{flag}` needs a value\n{USAGE}"));
        match flag.as_str() {
            "--seed" => seed = Some(value()?.parse().map_err(|e| format!("--seed: {e}"))?),
            "--lines" => lines = Some(value()?.parse().map_err(|e| format!("--lines: {e}"))?),
            "--domains" => domains = value()?.parse().map_err(|e| format!("--domains: {e}"))?,
            "--out" => out = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let missing = |name: &str| format!("missing `{name}`\n{USAGE}");
    if domains == 0 {
        return Err("--domains must be at least 1".into());
    }
    Ok(Args {
        seed: seed.ok_or_else(|| missing("--seed"))?,
        lines: lines.ok_or_else(|| missing("--lines"))?,
        domains,
        out: out.ok_or_else(|| missing("--out"))?,
    })
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "synth-idl: {message}");
            return ExitCode::from(2);
        }
    };
    let files = synthesize(args.seed, args.lines, args.domains);
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        let _ = writeln!(std::io::stderr(), "synth-idl: cannot create `{}`: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    let mut total = 0;
    let mut stdout = std::io::stdout().lock();
    for file in &files {
        let path = args.out.join(&file.name);
        if let Err(e) = std::fs::write(&path, &file.text) {
            let _ = writeln!(std::io::stderr(), "synth-idl: cannot write `{}`: {e}", path.display());
            return ExitCode::FAILURE;
        }
        total += file.lines;
        let _ = writeln!(stdout, "{:>8} {}", file.lines, path.display());
    }
    let _ = writeln!(stdout, "{total:>8} total (seed {}, {} files)", args.seed, files.len());
    ExitCode::SUCCESS
}

/// SplitMix64: tiny, seedable and the same on every platform, which is all
/// a generator of test input needs.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (i128::from(hi) - i128::from(lo) + 1) as u128;
        (i128::from(lo) + (u128::from(self.next_u64()) % span) as i128) as i64
    }

    fn percent(&mut self, p: u64) -> bool {
        self.next_u64() % 100 < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index into `weights`, chosen in proportion to them.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total as usize) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// A type as written in the IDL. Named types remember the program that
/// defines them, so they can be written `base.Name` from elsewhere.
#[derive(Clone, Debug)]
enum Ty {
    Bool,
    I8,
    I16,
    I32,
    I64,
    Double,
    Str,
    Binary,
    /// `(program, index into its enums)`.
    Enum(usize, usize),
    /// A struct or union: `(program, name)`.
    Struct(usize, String),
    /// A typedef: `(program, name, target)`.
    Alias(usize, String, Box<Ty>),
    List(Box<Ty>),
    Set(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
}

/// `list<elem>`, but never `list<i8>`, which Apache warns should be `binary`.
fn list_of(elem: Ty) -> Ty {
    Ty::List(Box::new(if matches!(elem, Ty::I8) { Ty::I16 } else { elem }))
}

const SCALARS: &[Ty] =
    &[Ty::Bool, Ty::I8, Ty::I16, Ty::I32, Ty::I32, Ty::I64, Ty::I64, Ty::Double, Ty::Str, Ty::Str, Ty::Binary];

/// Map keys and set elements: types whose distinct values are easy to make.
const KEYS: &[Ty] = &[Ty::I16, Ty::I32, Ty::I64, Ty::Str, Ty::Str];

struct EnumDef {
    name: String,
    /// `(member name, value)`.
    members: Vec<(String, i64)>,
}

/// What one program defines that later definitions may refer to.
#[derive(Default)]
struct Pool {
    enums: Vec<EnumDef>,
    typedefs: Vec<(String, Ty)>,
    /// Structs and unions.
    structs: Vec<String>,
    exceptions: Vec<String>,
    services: Vec<String>,
    /// Constants of scalar types, for constants that refer to them.
    consts: Vec<(String, Ty)>,
}

/// One output file.
struct SynthFile {
    name: String,
    text: String,
    lines: usize,
}

impl SynthFile {
    fn line(&mut self, text: &str) {
        self.text.push_str(text);
        self.text.push('\n');
        self.lines += 1;
    }
}

/// The kinds of definition, in the order of the weight tables.
#[derive(Clone, Copy)]
enum Kind {
    Struct,
    Union,
    Exception,
    Enum,
    Typedef,
    Const,
    Service,
}

const KINDS: [Kind; 7] =
    [Kind::Struct, Kind::Union, Kind::Exception, Kind::Enum, Kind::Typedef, Kind::Const, Kind::Service];

struct Synth {
    rng: Rng,
    /// Program names (file stems): `base`, `domain_1`, …, `top`.
    programs: Vec<String>,
    /// Name prefixes of types (`Base`, `D1`, `Top`) and constants (upper case).
    prefixes: Vec<String>,
    includes: Vec<Vec<usize>>,
    pools: Vec<Pool>,
    /// Makes every generated number, and so every name, unique in the run.
    counter: usize,
}

/// Generates the files for `seed`, together at least `lines` lines long.
fn synthesize(seed: u64, lines: usize, domains: usize) -> Vec<SynthFile> {
    let mut programs = vec!["base".to_string()];
    let mut prefixes = vec!["Base".to_string()];
    let mut includes = vec![Vec::new()];
    for d in 1..=domains {
        programs.push(format!("domain_{d}"));
        prefixes.push(format!("D{d}"));
        includes.push(vec![0]);
    }
    programs.push("top".into());
    prefixes.push("Top".into());
    includes.push((0..=domains).collect());
    let mut synth = Synth {
        rng: Rng(seed),
        pools: programs.iter().map(|_| Pool::default()).collect(),
        programs,
        prefixes,
        includes,
        counter: 0,
    };
    // Base 15%, top 10%, the domains share the rest.
    let base = lines * 15 / 100;
    let top = lines / 10;
    let domain = (lines - base - top).div_ceil(domains);
    let mut files = Vec::new();
    for p in 0..synth.programs.len() {
        let budget = if p == 0 {
            base
        } else if p == domains + 1 {
            top
        } else {
            domain
        };
        files.push(synth.program(p, budget, seed, lines));
    }
    files
}

impl Synth {
    fn next_number(&mut self) -> usize {
        self.counter += 1;
        self.counter
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.rng.below(WORDS.len())]
    }

    /// A fresh type name in program `p`: `D2Record17`.
    fn type_name(&mut self, p: usize, noun: &str) -> String {
        let number = self.next_number();
        format!("{}{noun}{number}", self.prefixes[p])
    }

    /// `name` as written in program `here`.
    fn qualify(&self, program: usize, name: &str, here: usize) -> String {
        if program == here { name.to_string() } else { format!("{}.{name}", self.programs[program]) }
    }

    fn render(&self, ty: &Ty, here: usize) -> String {
        match ty {
            Ty::Bool => "bool".into(),
            Ty::I8 => "i8".into(),
            Ty::I16 => "i16".into(),
            Ty::I32 => "i32".into(),
            Ty::I64 => "i64".into(),
            Ty::Double => "double".into(),
            Ty::Str => "string".into(),
            Ty::Binary => "binary".into(),
            Ty::Enum(p, i) => self.qualify(*p, &self.pools[*p].enums[*i].name, here),
            Ty::Struct(p, name) | Ty::Alias(p, name, _) => self.qualify(*p, name, here),
            Ty::List(e) => format!("list<{}>", self.render(e, here)),
            Ty::Set(e) => format!("set<{}>", self.render(e, here)),
            Ty::Map(k, v) => format!("map<{}, {}>", self.render(k, here), self.render(v, here)),
        }
    }

    /// Program `here` itself or one it includes (only direct includes are
    /// visible in Thrift).
    fn visible_program(&mut self, here: usize) -> usize {
        let includes = &self.includes[here];
        if includes.is_empty() || self.rng.percent(45) { here } else { includes[self.rng.below(includes.len())] }
    }

    fn enum_ty(&mut self, here: usize) -> Option<Ty> {
        let p = self.visible_program(here);
        let n = self.pools[p].enums.len();
        (n > 0).then(|| Ty::Enum(p, self.rng.below(n)))
    }

    fn key_ty(&mut self, here: usize) -> Ty {
        if self.rng.percent(20)
            && let Some(ty) = self.enum_ty(here)
        {
            return ty;
        }
        self.rng.pick(KEYS).clone()
    }

    /// A type for a field, argument, result or typedef, nested at most
    /// `depth` containers deep.
    fn field_ty(&mut self, here: usize, depth: usize) -> Ty {
        let choice = self.rng.weighted(&[45, 10, 15, 15, if depth > 0 { 15 } else { 0 }]);
        let fallback = |rng: &mut Rng| rng.pick(SCALARS).clone();
        match choice {
            1 => {
                let p = self.visible_program(here);
                let pool = &self.pools[p].typedefs;
                if pool.is_empty() {
                    return fallback(&mut self.rng);
                }
                let (name, target) = pool[self.rng.below(pool.len())].clone();
                Ty::Alias(p, name, Box::new(target))
            }
            2 => self.enum_ty(here).unwrap_or_else(|| fallback(&mut self.rng)),
            3 => {
                let p = self.visible_program(here);
                let pool = &self.pools[p].structs;
                if pool.is_empty() {
                    return fallback(&mut self.rng);
                }
                Ty::Struct(p, pool[self.rng.below(pool.len())].clone())
            }
            4 => match self.rng.below(3) {
                0 => list_of(self.field_ty(here, depth - 1)),
                1 => Ty::Set(Box::new(self.key_ty(here))),
                _ => {
                    let key = self.key_ty(here);
                    Ty::Map(Box::new(key), Box::new(self.field_ty(here, depth - 1)))
                }
            },
            _ => fallback(&mut self.rng),
        }
    }

    fn string_literal(&mut self) -> String {
        let (a, b, n) = (self.word(), self.word(), self.rng.below(1000));
        if self.rng.percent(10) { format!("'{a} {b} {n}'") } else { format!("\"{a} {b} {n}\"") }
    }

    /// A constant value of type `ty` written in program `here`, or `None`
    /// for types this generator gives no values (structs).
    fn value(&mut self, ty: &Ty, here: usize) -> Option<String> {
        Some(match ty {
            Ty::Bool => if self.rng.percent(50) { "true" } else { "false" }.into(),
            Ty::I8 => self.rng.between(-128, 127).to_string(),
            Ty::I16 => self.rng.between(-32768, 32767).to_string(),
            Ty::I32 => match self.rng.below(10) {
                0 => self.rng.pick(&[i32::MIN, i32::MAX]).to_string(),
                1 => format!("0x{:X}", self.rng.between(0, i64::from(i32::MAX))),
                _ => self.rng.between(-100_000, 100_000).to_string(),
            },
            Ty::I64 => match self.rng.below(10) {
                // Not i64::MIN: some lexers read the magnitude first, and it overflows.
                0 => self.rng.between(i64::MIN + 1, i64::MAX).to_string(),
                1 => format!("0x{:x}", self.rng.between(0, i64::MAX)),
                _ => self.rng.between(-10_000_000, 10_000_000).to_string(),
            },
            Ty::Double => {
                let (int, frac) = (self.rng.between(-5000, 5000), self.rng.between(0, 999));
                if self.rng.percent(15) {
                    format!("{int}.{frac}e{}", self.rng.between(-8, 8))
                } else {
                    format!("{int}.{frac}")
                }
            }
            Ty::Str | Ty::Binary => self.string_literal(),
            Ty::Enum(p, i) => {
                let e = &self.pools[*p].enums[*i];
                let (member, value) = &e.members[self.rng.below(e.members.len())];
                if self.rng.percent(10) {
                    value.to_string()
                } else {
                    format!("{}.{member}", self.qualify(*p, &e.name, here))
                }
            }
            Ty::Struct(..) => return None,
            Ty::Alias(_, _, target) => return self.value(target, here),
            Ty::List(elem) => {
                let n = self.rng.below(4);
                let items = (0..n).map(|_| self.value(elem, here)).collect::<Option<Vec<_>>>()?;
                format!("[{}]", items.join(", "))
            }
            Ty::Set(elem) => {
                let n = self.rng.below(4);
                format!("[{}]", self.distinct(elem, n, here)?.join(", "))
            }
            Ty::Map(key, val) => {
                let n = self.rng.below(4);
                let keys = self.distinct(key, n, here)?;
                let mut entries = Vec::new();
                for k in keys {
                    entries.push(format!("{k}: {}", self.value(val, here)?));
                }
                format!("{{{}}}", entries.join(", "))
            }
        })
    }

    /// Up to `n` distinct values of a key type.
    fn distinct(&mut self, ty: &Ty, n: usize, here: usize) -> Option<Vec<String>> {
        match ty {
            Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64 => {
                let (start, step) = (self.rng.between(-100, 100), self.rng.between(1, 25));
                Some((0..n as i64).map(|i| (start + i * step).to_string()).collect())
            }
            Ty::Str => Some((0..n).map(|i| format!("\"k{i}_{}\"", self.word())).collect()),
            Ty::Enum(p, e) => {
                let def = &self.pools[*p].enums[*e];
                let len = def.members.len();
                let first = self.rng.below(len);
                let qualified = self.qualify(*p, &def.name, here);
                Some((0..n.min(len)).map(|i| format!("{qualified}.{}", def.members[(first + i) % len].0)).collect())
            }
            Ty::Alias(_, _, target) => self.distinct(target, n, here),
            _ => None,
        }
    }

    fn program(&mut self, p: usize, budget: usize, seed: u64, lines: usize) -> SynthFile {
        let name = format!("{}.thrift", self.programs[p]);
        let mut f = SynthFile { name, text: String::new(), lines: 0 };
        f.line(&format!(
            "// Synthetic IDL for the thrift-mu2sls compiler benchmark: synth-idl --seed {seed} --lines {lines}."
        ));
        f.line("// Generated; do not edit.");
        f.line("");
        for &i in &self.includes[p] {
            f.line(&format!("include \"{}.thrift\"", self.programs[i]));
        }
        f.line("");
        let stem = &self.programs[p];
        f.line(&format!("namespace java org.example.synth.{stem}"));
        f.line(&format!("namespace py synth.{stem}"));
        f.line("");
        let last = self.programs.len() - 1;
        // A prelude so that later definitions have something to refer to.
        let prelude: &[Kind] = if p == 0 {
            &[Kind::Typedef, Kind::Typedef, Kind::Typedef, Kind::Enum, Kind::Enum, Kind::Enum, Kind::Const, Kind::Const]
        } else {
            &[Kind::Enum, Kind::Typedef, Kind::Struct, Kind::Exception]
        };
        for &kind in prelude {
            self.definition(&mut f, p, kind);
        }
        // Weights in the order of KINDS: struct, union, exception, enum,
        // typedef, const, service.
        let weights: &[u32] = if p == 0 {
            &[20, 5, 5, 20, 20, 25, 5]
        } else if p == last {
            &[35, 10, 5, 5, 5, 15, 25]
        } else {
            &[40, 8, 5, 10, 8, 17, 12]
        };
        while f.lines < budget {
            let kind = KINDS[self.rng.weighted(weights)];
            self.definition(&mut f, p, kind);
        }
        f
    }

    fn definition(&mut self, f: &mut SynthFile, p: usize, kind: Kind) {
        match kind {
            Kind::Struct => self.structure(f, p),
            Kind::Union => self.union(f, p),
            Kind::Exception => self.exception(f, p),
            Kind::Enum => self.enumeration(f, p),
            Kind::Typedef => self.typedef(f, p),
            Kind::Const => self.constant(f, p),
            Kind::Service => self.service(f, p),
        }
    }

    fn doc_comment(&mut self, f: &mut SynthFile, what: &str, name: &str) {
        match self.rng.below(4) {
            0 => f.line(&format!("/** {name}: a synthetic {what} about {}. */", self.word())),
            1 => {
                f.line("/**");
                f.line(&format!(" * {name}: a synthetic {what}."));
                f.line(&format!(" * It groups {} and {} data.", self.word(), self.word()));
                f.line(" */");
            }
            2 => f.line(&format!("// {name} ({what})")),
            _ => {}
        }
    }

    fn separator(&mut self) -> &'static str {
        const SEPARATORS: [&str; 5] = [",", ",", ",", ";", ""];
        SEPARATORS[self.rng.below(SEPARATORS.len())]
    }

    /// Field ids: increasing from 1 with gaps, sometimes ending near the
    /// top of the i16 range.
    fn field_ids(&mut self, n: usize) -> Vec<i64> {
        let mut ids = Vec::with_capacity(n);
        let mut id = 0;
        for _ in 0..n {
            id += if self.rng.percent(80) { 1 } else { self.rng.between(2, 20) };
            ids.push(id);
        }
        if n > 1 && self.rng.percent(5) {
            ids[n - 1] = self.rng.between(30_000, 32_767);
        }
        ids
    }

    fn structure(&mut self, f: &mut SynthFile, p: usize) {
        let name = self.type_name(p, "Record");
        self.doc_comment(f, "record", &name);
        f.line(&format!("struct {name} {{"));
        let n = 2 + self.rng.below(11);
        let ids = self.field_ids(n);
        let sep = self.separator();
        let recursive = self.rng.percent(8);
        for (i, &id) in ids.iter().enumerate() {
            let (ty, word) = if recursive && i == n - 1 {
                let me = Ty::Struct(p, name.clone());
                if self.rng.percent(50) { (me, "parent") } else { (Ty::List(Box::new(me)), "children") }
            } else {
                (self.field_ty(p, 2), self.word())
            };
            let requiredness = match self.rng.below(20) {
                _ if recursive && i == n - 1 => "optional ",
                0..=2 => "required ",
                3..=9 => "optional ",
                _ => "",
            };
            let default = if self.rng.percent(30) {
                self.value(&ty, p).map(|v| format!(" = {v}")).unwrap_or_default()
            } else {
                String::new()
            };
            let ty = self.render(&ty, p);
            f.line(&format!("  {id}: {requiredness}{ty} field_{id}_{word}{default}{sep}"));
        }
        f.line("}");
        f.line("");
        self.pools[p].structs.push(name);
    }

    fn union(&mut self, f: &mut SynthFile, p: usize) {
        let name = self.type_name(p, "Choice");
        self.doc_comment(f, "union", &name);
        f.line(&format!("union {name} {{"));
        let n = 2 + self.rng.below(5);
        // Sometimes the last member nests the union itself, through a list.
        let nested = self.rng.percent(10);
        let ids = self.field_ids(n);
        let sep = self.separator();
        for (i, &id) in ids.iter().enumerate() {
            if nested && i == n - 1 {
                f.line(&format!("  {id}: list<{name}> field_{id}_nested{sep}"));
                continue;
            }
            let ty = self.field_ty(p, 2);
            let ty = self.render(&ty, p);
            let word = self.word();
            f.line(&format!("  {id}: {ty} field_{id}_{word}{sep}"));
        }
        f.line("}");
        f.line("");
        self.pools[p].structs.push(name);
    }

    fn exception(&mut self, f: &mut SynthFile, p: usize) {
        let name = self.type_name(p, "Fault");
        self.doc_comment(f, "exception", &name);
        f.line(&format!("exception {name} {{"));
        f.line("  1: string field_1_message,");
        let code = self.rng.between(400, 599);
        f.line(&format!("  2: i32 field_2_code = {code},"));
        if let Some(ty) = self.enum_ty(p).filter(|_| self.rng.percent(50)) {
            let ty = self.render(&ty, p);
            f.line(&format!("  3: optional {ty} field_3_kind,"));
        }
        f.line("}");
        f.line("");
        self.pools[p].exceptions.push(name);
    }

    fn enumeration(&mut self, f: &mut SynthFile, p: usize) {
        let name = self.type_name(p, "Kind");
        self.doc_comment(f, "enum", &name);
        f.line(&format!("enum {name} {{"));
        let n = 2 + self.rng.below(11);
        // 0: all implicit (0, 1, 2, …); 1: all explicit; 2: mixed. Values
        // increase strictly, so none repeats (duplicates draw warnings).
        let style = self.rng.below(3);
        let sep = self.separator();
        let start = if style == 0 { 0 } else { self.rng.between(-10, 20) };
        let mut previous: Option<i64> = None;
        let mut members = Vec::with_capacity(n);
        for i in 1..=n {
            // Thrift's implicit value: the previous member's plus one, or 0.
            let implicit_value = previous.map_or(0, |v| v + 1);
            let value = match previous {
                None => start,
                Some(v) if style == 0 || self.rng.percent(60) => v + 1,
                Some(v) => v + self.rng.between(2, 100),
            };
            previous = Some(value);
            let implicit = style == 0 || (style == 2 && self.rng.percent(50));
            let member = format!("{}_{i}", self.word().to_ascii_uppercase());
            if implicit && value == implicit_value {
                f.line(&format!("  {member}{sep}"));
            } else if value >= 16 && self.rng.percent(20) {
                f.line(&format!("  {member} = 0x{value:X}{sep}"));
            } else {
                f.line(&format!("  {member} = {value}{sep}"));
            }
            members.push((member, value));
        }
        f.line("}");
        f.line("");
        self.pools[p].enums.push(EnumDef { name, members });
    }

    fn typedef(&mut self, f: &mut SynthFile, p: usize) {
        let name = self.type_name(p, "Alias");
        let target = if self.rng.percent(50) { self.rng.pick(SCALARS).clone() } else { self.field_ty(p, 2) };
        let rendered = self.render(&target, p);
        self.doc_comment(f, "typedef", &name);
        f.line(&format!("typedef {rendered} {name}"));
        f.line("");
        self.pools[p].typedefs.push((name, target));
    }

    fn constant(&mut self, f: &mut SynthFile, p: usize) {
        let number = self.next_number();
        let word = self.word().to_ascii_uppercase();
        let name = format!("{}_{word}_{number}", self.prefixes[p].to_ascii_uppercase());
        let ty = match self.rng.below(20) {
            0..=7 => self.rng.pick(SCALARS).clone(),
            8..=10 => self.enum_ty(p).unwrap_or(Ty::I32),
            11..=12 => list_of(self.field_ty(p, 1)),
            13 => Ty::Set(Box::new(self.key_ty(p))),
            14..=15 => {
                let key = self.key_ty(p);
                Ty::Map(Box::new(key), Box::new(self.field_ty(p, 1)))
            }
            16 => {
                let q = self.visible_program(p);
                let pool = &self.pools[q].typedefs;
                if pool.is_empty() {
                    Ty::I64
                } else {
                    let (alias, target) = pool[self.rng.below(pool.len())].clone();
                    Ty::Alias(q, alias, Box::new(target))
                }
            }
            _ => {
                // A reference to an earlier constant, here or included.
                let q = self.visible_program(p);
                let pool = &self.pools[q].consts;
                if !pool.is_empty() {
                    let (other, ty) = pool[self.rng.below(pool.len())].clone();
                    let rendered = self.render(&ty, p);
                    let reference = self.qualify(q, &other, p);
                    f.line(&format!("const {rendered} {name} = {reference}"));
                    self.pools[p].consts.push((name, ty));
                    return;
                }
                Ty::I32
            }
        };
        let Some(value) = self.value(&ty, p) else {
            // A list of structs, say: no literal for it here.
            return;
        };
        let rendered = self.render(&ty, p);
        let sep = self.separator();
        self.doc_comment(f, "constant", &name);
        f.line(&format!("const {rendered} {name} = {value}{sep}"));
        if matches!(ty, Ty::Bool | Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64 | Ty::Double | Ty::Str) {
            self.pools[p].consts.push((name, ty));
        }
    }

    fn service(&mut self, f: &mut SynthFile, p: usize) {
        let name = self.type_name(p, "Service");
        let parent = {
            let q = self.visible_program(p);
            let pool = &self.pools[q].services;
            (!pool.is_empty() && self.rng.percent(70)).then(|| (q, pool[self.rng.below(pool.len())].clone()))
        };
        self.doc_comment(f, "service", &name);
        match parent {
            Some((q, parent)) => f.line(&format!("service {name} extends {} {{", self.qualify(q, &parent, p))),
            None => f.line(&format!("service {name} {{")),
        }
        let n = 2 + self.rng.below(9);
        for _ in 0..n {
            self.method(f, p);
        }
        f.line("}");
        f.line("");
        self.pools[p].services.push(name);
    }

    fn method(&mut self, f: &mut SynthFile, p: usize) {
        let number = self.next_number();
        let verb = *self.rng.pick(VERBS);
        let oneway = self.rng.percent(15);
        let nargs = self.rng.below(5);
        let ids = self.field_ids(nargs);
        let mut args = Vec::with_capacity(nargs);
        for id in ids {
            let ty = self.field_ty(p, 2);
            let ty = self.render(&ty, p);
            args.push(format!("{id}: {ty} arg_{id}_{}", self.word()));
        }
        let args = args.join(", ");
        let sep = self.separator();
        if self.rng.percent(20) {
            f.line(&format!("  /** Operation {number}. */"));
        }
        if oneway {
            f.line(&format!("  oneway void op_{number}_{verb}({args}){sep}"));
            return;
        }
        let result = if self.rng.percent(25) {
            "void".to_string()
        } else {
            let ty = self.field_ty(p, 2);
            self.render(&ty, p)
        };
        let mut throws = Vec::new();
        for id in 1..=self.rng.below(3) {
            let q = self.visible_program(p);
            let pool = &self.pools[q].exceptions;
            if !pool.is_empty() {
                let e = pool[self.rng.below(pool.len())].clone();
                let e = self.qualify(q, &e, p);
                // One exception type per clause, as real services declare them.
                if !throws.iter().any(|(_, t)| *t == e) {
                    throws.push((id, e));
                }
            }
        }
        let mut line = String::new();
        let _ = write!(line, "  {result} op_{number}_{verb}({args})");
        if !throws.is_empty() {
            let throws: Vec<String> = throws.iter().map(|(id, e)| format!("{id}: {e} err_{id}")).collect();
            let _ = write!(line, " throws ({})", throws.join(", "));
        }
        line.push_str(sep);
        f.line(&line);
    }
}
