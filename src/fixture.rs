//! The bundled demo monorepo (`fixtures/demo`), embedded at build time.

use std::io;
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/fixture.rs"));

/// Writes every fixture file under `dir`.
pub fn write_to(dir: &Path) -> io::Result<()> {
    for (path, bytes) in FILES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, bytes)?;
    }
    Ok(())
}
