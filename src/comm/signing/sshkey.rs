//! The real `ssh-keygen`: key generation, `-Y sign` and `-Y verify` in the
//! `git` namespace, as git itself runs it for `gpg.format=ssh`. Data goes
//! in on stdin; what `ssh-keygen` needs as a file (the signature to check,
//! the allowed signers) is written to a scratch file that is removed after.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use super::SigningError;

/// The namespace git signs commits in (`ssh-keygen -Y sign -n git`).
const NAMESPACE: &str = "git";

/// Creates an ed25519 key pair at `path` and `path.pub`, without a
/// passphrase (comm-node signs unattended), with `comment`.
pub fn generate(path: &Path, comment: &str) -> Result<(), SigningError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| SigningError::io(dir, e))?;
    }
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path);
    run(cmd, None)
        .map(drop)
        .map_err(|f| f.into_error("generate a key"))
}

/// An armored SSH signature of `data` by the private key at `key`.
pub fn sign(key: &Path, data: &[u8]) -> Result<String, SigningError> {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-Y", "sign", "-n", NAMESPACE, "-f"]).arg(key);
    let out = run(cmd, Some(data)).map_err(|f| f.into_error("sign an event"))?;
    String::from_utf8(out).map_err(|e| SigningError::Tool {
        action: "sign an event".into(),
        detail: e.to_string(),
    })
}

/// Checks that `signature` over `data` is made by one of `keys` (public
/// key lines) for `principal`. `Err` carries ssh-keygen's reason.
pub fn verify(
    scratch: &Path,
    principal: &str,
    keys: &[&str],
    signature: &[u8],
    data: &[u8],
) -> Result<Result<(), String>, SigningError> {
    let allowed: String = keys
        .iter()
        .map(|k| format!("{principal} namespaces=\"{NAMESPACE}\" {k}\n"))
        .collect();
    let files = Scratch::new(scratch)?;
    let allowed_file = files.write("allowed", allowed.as_bytes())?;
    let sig_file = files.write("sig", signature)?;
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-Y", "verify", "-n", NAMESPACE, "-I", principal, "-f"])
        .arg(&allowed_file)
        .arg("-s")
        .arg(&sig_file);
    match run(cmd, Some(data)) {
        Ok(_) => Ok(Ok(())),
        Err(Failure::Exit(why)) => Ok(Err(why)),
        Err(f) => Err(f.into_error("verify an event")),
    }
}

/// The SHA256 fingerprint of a public key line, as `ssh-keygen -l` shows it.
pub fn fingerprint(public: &str) -> Result<String, SigningError> {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-l", "-E", "sha256", "-f", "-"]);
    let out = run(cmd, Some(public.as_bytes())).map_err(|f| f.into_error("read a key"))?;
    let text = String::from_utf8_lossy(&out);
    Ok(text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned())
}

/// Why running ssh-keygen failed.
enum Failure {
    /// It could not be started or fed.
    Spawn(std::io::Error),
    /// It ran and said no (its stderr).
    Exit(String),
}

impl Failure {
    fn into_error(self, action: &str) -> SigningError {
        SigningError::Tool {
            action: action.to_owned(),
            detail: match self {
                Failure::Spawn(e) => format!("cannot run ssh-keygen: {e}"),
                Failure::Exit(why) => why,
            },
        }
    }
}

/// Runs `cmd` with `input` on stdin; its stdout, or why it failed.
fn run(mut cmd: Command, input: Option<&[u8]>) -> Result<Vec<u8>, Failure> {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(Failure::Spawn)?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        // ssh-keygen reads all of its input before it writes anything.
        stdin.write_all(data).map_err(Failure::Spawn)?;
    }
    let out = child.wait_with_output().map_err(Failure::Spawn)?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let detail = stderr
        .lines()
        .filter(|l| !l.starts_with("Signing data on standard input"))
        .collect::<Vec<_>>()
        .join("; ");
    Err(Failure::Exit(if detail.is_empty() {
        format!("ssh-keygen exited with {}", out.status)
    } else {
        detail
    }))
}

/// Files of one verification, removed when it is done.
struct Scratch {
    stem: PathBuf,
    written: std::cell::RefCell<Vec<PathBuf>>,
}

impl Scratch {
    fn new(dir: &Path) -> Result<Scratch, SigningError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(dir).map_err(|e| SigningError::io(dir, e))?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Ok(Scratch {
            stem: dir.join(format!("{}-{n}", std::process::id())),
            written: Default::default(),
        })
    }

    fn write(&self, ext: &str, bytes: &[u8]) -> Result<PathBuf, SigningError> {
        let path = self.stem.with_extension(ext);
        std::fs::write(&path, bytes).map_err(|e| SigningError::io(&path, e))?;
        self.written.borrow_mut().push(path.clone());
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for path in self.written.borrow().iter() {
            let _ = std::fs::remove_file(path);
        }
    }
}
