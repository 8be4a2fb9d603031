//! The `thrift-mu2sls` command line: Apache `thrift` flags in, files and
//! diagnostics out. Only argument handling and IO live here; the work is
//! [`crate::generate`].

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::Parser;

use crate::{FsLoader, GeneratedFile, Options, RustOptions, check, generate_into, write_files};

/// Parsed command line.
#[derive(Debug, Parser)]
#[command(
    name = "thrift-mu2sls",
    version,
    about = "Compile Thrift IDL into Rust for the mu2sls runtime (flags compatible with Apache `thrift`)",
    after_help = "Apache-style single-dash long flags (-out, -gen, -version, -recurse, -verbose, -strict, -nowarn) are accepted too.\n\
                  Example: thrift-mu2sls --gen rust -out src/gen idl/*.thrift"
)]
pub(crate) struct Cli {
    /// Generator and options: `rust[:opt,opt=value]` (`rs` is an alias). Options: btree, serde, apache_compat, rustfmt
    #[arg(long = "gen", value_name = "STR")]
    generator: Vec<String>,

    /// Write into DIR/gen-rust (as Apache does)
    #[arg(short = 'o', value_name = "DIR")]
    out_parent: Option<PathBuf>,

    /// Write into DIR itself
    #[arg(long = "out", value_name = "DIR")]
    out: Option<PathBuf>,

    /// Add a directory to the include search path (repeatable, searched in order)
    #[arg(short = 'I', value_name = "DIR")]
    include: Vec<PathBuf>,

    /// Also generate included files
    #[arg(short = 'r', long = "recurse")]
    recurse: bool,

    /// Print what is done
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,

    /// Suppress warnings
    #[arg(long)]
    nowarn: bool,

    /// Strict mode: implicit field ids are errors
    #[arg(long)]
    strict: bool,

    /// Accepted for compatibility; no effect
    #[arg(long, hide = true)]
    debug: bool,

    /// Allow explicit field ids of 0 and below
    #[arg(long = "allow-neg-keys")]
    allow_neg_keys: bool,

    /// Accepted for compatibility: 64-bit constants are always allowed
    #[arg(long = "allow-64bit-consts")]
    allow_64bit_consts: bool,

    /// Only parse and resolve; write nothing
    #[arg(long)]
    check: bool,

    /// Print the checked model as JSON and write nothing
    #[arg(long = "dump-model")]
    dump_model: bool,

    /// IDL files to compile
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// Apache spells long flags with one dash; clap wants two.
const APACHE_LONG_FLAGS: &[&str] = &[
    "-out",
    "-gen",
    "-version",
    "-recurse",
    "-verbose",
    "-nowarn",
    "-strict",
    "-debug",
    "-help",
    "-allow-neg-keys",
    "-allow-64bit-consts",
    "-check",
    "-dump-model",
];

fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| {
            let name = a.split_once('=').map_or(a.as_str(), |(n, _)| n);
            if APACHE_LONG_FLAGS.contains(&name) { format!("-{a}") } else { a }
        })
        .collect()
}

/// Parses `--gen` values into Rust generator options.
fn generator_options(values: &[String]) -> Result<RustOptions, String> {
    let mut opts = RustOptions::default();
    for value in values {
        let (name, rest) = value.split_once(':').map_or((value.as_str(), None), |(n, r)| (n, Some(r)));
        if name != "rust" && name != "rs" {
            return Err(format!(
                "unknown generator `{name}`; this compiler generates `rust` (alias `rs`), e.g. `--gen rust` or `--gen rust:btree`"
            ));
        }
        for opt in rest.into_iter().flat_map(|r| r.split(',')).filter(|o| !o.is_empty()) {
            opts.set(opt)?;
        }
    }
    Ok(opts)
}

/// Runs the compiler with `args` (program name first); returns the exit code.
pub(crate) fn run(args: impl IntoIterator<Item = String>, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let cli = match Cli::try_parse_from(normalize_args(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let text = e.render().to_string();
            let _ = if e.use_stderr() { stderr.write_all(text.as_bytes()) } else { stdout.write_all(text.as_bytes()) };
            return code;
        }
    };
    match execute(&cli, stdout, stderr) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(stderr, "error: {message}");
            1
        }
    }
}

fn execute(cli: &Cli, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Result<i32, String> {
    let rust = generator_options(&cli.generator)?;
    if cli.generator.is_empty() && !cli.check && !cli.dump_model {
        return Err("no generator given: use `--gen rust` (or `--check` / `--dump-model`)".into());
    }
    if cli.out.is_some() && cli.out_parent.is_some() {
        return Err("give either `-o DIR` (writes DIR/gen-rust) or `-out DIR` (writes DIR), not both".into());
    }
    let options = Options {
        include_dirs: cli.include.clone(),
        recurse: cli.recurse,
        allow_neg_keys: cli.allow_neg_keys,
        strict: cli.strict,
        rust,
    };
    if cli.verbose {
        for f in &cli.files {
            let _ = writeln!(stdout, "Scanning {}", f.display());
        }
    }
    let out = check(&FsLoader, &cli.files, &options);
    let color = std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
    let rendered = out.render_diagnostics(!cli.nowarn, color);
    let _ = stderr.write_all(rendered.as_bytes());
    if out.diagnostics.has_errors() {
        let n = out.diagnostics.error_count();
        let _ = writeln!(stderr, "error: could not compile: {n} error{}", if n == 1 { "" } else { "s" });
        return Ok(1);
    }
    if cli.dump_model {
        if let Some(model) = &out.model {
            let json = serde_json::to_string_pretty(model).map_err(|e| format!("cannot serialise the model: {e}"))?;
            let _ = writeln!(stdout, "{json}");
        }
        return Ok(0);
    }
    if cli.check {
        return Ok(0);
    }
    let dir = match (&cli.out, &cli.out_parent) {
        (Some(out), _) => out.clone(),
        (None, Some(parent)) => parent.join("gen-rust"),
        (None, None) => PathBuf::from("gen-rust"),
    };
    if cli.out.is_some() && !dir.is_dir() {
        // Apache requires -out to exist; so do we, to catch typos.
        return Err(format!("output directory `{}` does not exist", dir.display()));
    }
    // Each file is written as soon as it is generated: only one is in
    // memory at a time. The sources were only kept for rendering the
    // diagnostics above; what generation may still report has no spans.
    let mut out = out;
    out.sources = crate::SourceMap::new();
    let mut pending = String::new();
    let mut file: Option<std::fs::File> = None;
    generate_into(&mut out, &options, |chunk| {
        let path = dir.join(chunk.path);
        if options.rust.rustfmt {
            // rustfmt needs the whole file.
            pending.push_str(chunk.text);
            if chunk.last {
                let whole = GeneratedFile { path: chunk.path.to_path_buf(), contents: std::mem::take(&mut pending) };
                write_files(&dir, std::slice::from_ref(&rustfmt(&whole)?)).map_err(|e| e.to_string())?;
            }
        } else {
            if file.is_none() {
                std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
                file =
                    Some(std::fs::File::create(&path).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?);
            }
            if let Some(f) = file.as_mut() {
                std::io::Write::write_all(f, chunk.text.as_bytes())
                    .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
            }
            if chunk.last {
                file = None;
            }
        }
        if chunk.last && cli.verbose {
            let _ = writeln!(stdout, "Generating {}", path.display());
        }
        Ok::<(), String>(())
    })?;
    if out.diagnostics.has_errors() {
        let rendered = out.render_diagnostics(!cli.nowarn, color);
        let _ = stderr.write_all(rendered.as_bytes());
        let n = out.diagnostics.error_count();
        let _ = writeln!(stderr, "error: could not compile: {n} error{}", if n == 1 { "" } else { "s" });
        return Ok(1);
    }
    Ok(0)
}

/// Formats one generated file with the `rustfmt` on PATH (the `rustfmt`
/// generator option). Its configuration is looked up from the current
/// directory, as `cargo fmt` would for the crate being built.
fn rustfmt(f: &GeneratedFile) -> Result<GeneratedFile, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("option `rustfmt` needs `rustfmt` on PATH: {e}"))?;
    // Feed stdin from a thread: rustfmt may fill its stdout pipe
    // before it has read all of a large input.
    let mut stdin = child.stdin.take().ok_or("cannot write to rustfmt")?;
    let input = f.contents.clone();
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().map_err(|e| format!("rustfmt failed: {e}"))?;
    feeder.join().map_err(|_| "rustfmt input thread panicked".to_string())?.map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt failed on `{}`: {}",
            f.path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let contents = String::from_utf8(output.stdout).map_err(|e| format!("rustfmt output: {e}"))?;
    Ok(GeneratedFile { path: f.path.clone(), contents })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_flags_are_normalised() {
        let args = normalize_args(["thrift", "-out", "d", "-gen", "rs", "-r", "-o", "x", "-version"].map(String::from));
        assert_eq!(args, ["thrift", "--out", "d", "--gen", "rs", "-r", "-o", "x", "--version"]);
    }

    #[test]
    fn generator_names_and_options() {
        assert_eq!(generator_options(&["rs".into()]), Ok(RustOptions::default()));
        assert!(generator_options(&["rust:btree".into()]).is_ok_and(|o| o.btree));
        let e = generator_options(&["py".into()]).unwrap_err();
        assert!(e.contains("unknown generator `py`") && e.contains("rust"), "{e}");
        let e = generator_options(&["rust:frob=1".into()]).unwrap_err();
        assert!(e.contains("unknown option `frob`") && e.contains("btree"), "{e}");
    }
}
