//! Git hook shims: installing them next to existing hooks, and answering them.
//!
//! A shim (`hooks/shim.sh`) is a few lines of POSIX sh that runs the hook
//! that was there before (moved aside to `<hook>.pre-comm-node`, so husky,
//! lefthook or the pre-commit framework keep working), then hands over to
//! `comm-node hook <name>`. Installing is idempotent and reversible: delete
//! the shim and rename the chained hook back.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::git::{GitError, Repo};
use crate::scaffold::GENERATED_MARKER;

/// The hooks comm-node installs.
pub const HOOK_NAMES: [&str; 2] = ["pre-commit", "pre-merge-commit"];

const SHIM: &str = include_str!("../hooks/shim.sh");
const SHIM_MARKER: &str = "# comm-node hook shim";
const CHAINED_SUFFIX: &str = ".pre-comm-node";

/// One hook file to (re)write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookInstall {
    pub path: PathBuf,
    /// Where an existing foreign hook will be moved to keep it running.
    pub chained: Option<PathBuf>,
    #[serde(skip)]
    pub content: String,
}

/// The shim for `hook`, calling the binary at `exe`.
pub fn shim(hook: &str, exe: &Path) -> String {
    SHIM.replace("@HOOK@", hook)
        .replace("@COMM_NODE@", &shell_quote(&exe.to_string_lossy()))
}

/// What installing the shims into `dirs` would change.
pub fn plan(dirs: &[PathBuf], exe: &Path) -> io::Result<Vec<HookInstall>> {
    let mut out = Vec::new();
    for dir in dirs {
        for hook in HOOK_NAMES {
            let path = dir.join(hook);
            let content = shim(hook, exe);
            let chained = match fs::read_to_string(&path) {
                Ok(existing) if existing == content => continue,
                Ok(existing) if existing.contains(SHIM_MARKER) => None,
                Ok(_) => Some(dir.join(format!("{hook}{CHAINED_SUFFIX}"))),
                // A binary hook is foreign too.
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    Some(dir.join(format!("{hook}{CHAINED_SUFFIX}")))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            out.push(HookInstall {
                path,
                chained,
                content,
            });
        }
    }
    Ok(out)
}

/// Writes one shim, moving the foreign hook aside first.
pub fn install(h: &HookInstall) -> io::Result<()> {
    if let Some(parent) = h.path.parent() {
        fs::create_dir_all(parent)?;
    }
    if let Some(chained) = &h.chained {
        if chained.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and {} is not comm-node's: merge them by hand, then rerun init",
                    chained.display(),
                    h.path.display()
                ),
            ));
        }
        fs::rename(&h.path, chained)?;
    }
    // Write beside and rename, so git never runs a half-written hook.
    let tmp = h.path.with_extension("comm-node-tmp");
    fs::write(&tmp, &h.content)?;
    make_executable(&tmp)?;
    fs::rename(&tmp, &h.path)
}

/// A shim to take out, and the hook it chained to put back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookRemoval {
    pub path: PathBuf,
    /// The foreign hook moved aside at install, renamed back over the shim.
    pub restore: Option<PathBuf>,
}

/// What removing comm-node's shims from `dirs` would change; hooks that are
/// not comm-node's are never listed.
pub fn removal_plan(dirs: &[PathBuf]) -> io::Result<Vec<HookRemoval>> {
    let mut out = Vec::new();
    for dir in dirs {
        for hook in HOOK_NAMES {
            let path = dir.join(hook);
            match fs::read_to_string(&path) {
                Ok(text) if text.contains(SHIM_MARKER) => {
                    let chained = dir.join(format!("{hook}{CHAINED_SUFFIX}"));
                    out.push(HookRemoval {
                        restore: chained.exists().then_some(chained),
                        path,
                    });
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::InvalidData
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

/// Takes one shim out, putting the chained hook back in its place.
pub fn remove(h: &HookRemoval) -> io::Result<()> {
    match &h.restore {
        Some(chained) => fs::rename(chained, &h.path),
        None => fs::remove_file(&h.path),
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> io::Result<()> {
    Ok(())
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A reason a hook refuses the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub file: String,
    pub rule: &'static str,
    pub message: String,
    pub hint: String,
}

/// Answers `pre-commit` and `pre-merge-commit`: the staged change must not
/// contain comm-node's generated instruction files.
pub fn check_staged(repo: &Repo) -> Result<Vec<Refusal>, GitError> {
    let mut refusals = Vec::new();
    for (path, blob) in repo.staged_changes()? {
        let Some(blob) = blob else { continue };
        if repo.blob(blob)?.starts_with(GENERATED_MARKER.as_bytes()) {
            refusals.push(Refusal {
                message: format!(
                    "{path} holds this worktree's generated agent instructions and must not be committed"
                ),
                hint: format!("unstage it: git restore --staged {path}"),
                file: path,
                rule: "generated-file",
            });
        }
    }
    Ok(refusals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_quotes_the_binary_path() {
        let s = shim("pre-commit", Path::new("/opt/it's here/comm-node"));
        assert!(s.contains(r"comm_node='/opt/it'\''s here/comm-node'"));
        assert!(s.contains("exec \"$comm_node\" hook pre-commit \"$@\""));
        assert!(s.contains("pre-commit.pre-comm-node"));
        assert!(s.contains(SHIM_MARKER));
    }
}
