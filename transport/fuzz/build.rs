//! Generates the types of `tests/idl/interop.thrift` twice: with
//! `HashMap`/`HashSet` (the default) into `$OUT_DIR/hash`, and with
//! `BTreeMap`/`BTreeSet` into `$OUT_DIR/btree`. The B-tree twin encodes
//! containers in a fixed order, so its bytes can be compared exactly.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let idl = "../../tests/idl/interop.thrift";
    thrift_gen::Builder::new().out_dir(out.join("hash")).compile(&[idl])?;
    // Both builders watch the same file; print its rerun line once.
    thrift_gen::Builder::new().emit_rerun_if_changed(false).btree(true).out_dir(out.join("btree")).compile(&[idl])?;
    Ok(())
}
