//! The whole front end and the generator on up to three files that can
//! include each other, then diagnostic rendering.
//!
//! Input layout: the first byte selects options (bit 0 `-r`, bit 1
//! `-strict`, bit 2 `--allow-neg-keys`, bit 3 `-I sub`, bit 4 `rust:btree`,
//! bit 5 `include!`-style `mod.rs`, bit 6 `b.thrift` is a second root). The
//! rest is split on NUL bytes into `a.thrift` (always a root), `b.thrift`
//! and `sub/c.thrift`, each read as lossy UTF-8. So `include "b.thrift"`
//! from `a.thrift` and `include "../a.thrift"` from `sub/c.thrift` resolve.

#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use thrift_gen::{MemoryLoader, ModuleStyle, Options, RustOptions};

const FILES: [&str; 3] = ["a.thrift", "b.thrift", "sub/c.thrift"];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut loader = MemoryLoader::new();
    for (name, part) in FILES.iter().zip(rest.splitn(FILES.len(), |&b| b == 0)) {
        loader.add(name, String::from_utf8_lossy(part));
    }
    let bit = |n: u32| flags & (1 << n) != 0;
    let options = Options {
        recurse: bit(0),
        strict: bit(1),
        allow_neg_keys: bit(2),
        include_dirs: if bit(3) { vec!["sub".into()] } else { Vec::new() },
        rust: RustOptions {
            btree: bit(4),
            module_style: if bit(5) { ModuleStyle::Include } else { ModuleStyle::Files },
            ..RustOptions::default()
        },
        ..Options::default()
    };
    let mut roots: Vec<PathBuf> = vec![FILES[0].into()];
    if bit(6) {
        roots.push(FILES[1].into());
    }

    let out = thrift_gen::generate(&loader, &roots, &options);

    let errors = out.diagnostics.has_errors();
    assert!(out.model.is_some() || errors, "no model, but no error says why");
    assert_eq!(out.files.is_empty(), errors, "files are generated exactly when there is no error");
    thrift_gen_fuzz::assert_spans_in_bounds(&out.sources, &out.diagnostics);
    thrift_gen_fuzz::render_all(&out.sources, &out.diagnostics);
});
