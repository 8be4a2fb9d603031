//! End-to-end test package. The tests live in `e2e/`; this library holds
//! helpers they share.

use std::path::PathBuf;

/// The workspace root, for tests that run binaries on files in `idl/`.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}
