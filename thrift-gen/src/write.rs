//! Writing generated files: shared by the CLI and the Builder.

use std::io;
use std::path::Path;

use crate::codegen::GeneratedFile;

/// Writes `files` under `dir`, creating directories. A file whose contents
/// are already on disk is left untouched, so its timestamp does not trigger
/// needless rebuilds. Returns the number of files actually written.
pub fn write_files(dir: &Path, files: &[GeneratedFile]) -> io::Result<usize> {
    let mut written = 0;
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot create `{}`: {e}", parent.display())))?;
        }
        if std::fs::read(&path).is_ok_and(|old| old == f.contents.as_bytes()) {
            continue;
        }
        std::fs::write(&path, &f.contents)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot write `{}`: {e}", path.display())))?;
        written += 1;
    }
    Ok(written)
}
