//! Talking to remotes. Fetch and push run the `git` executable, so every
//! transport, credential helper and ssh setting the user has keeps working.

use git2::Oid;

use super::{command, Context, Repo, Result};

/// Fetches retried while another git process holds a tracking ref's lock.
const FETCH_ATTEMPTS: usize = 20;

/// What the remote said to a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The remote ref now points at what we pushed.
    Pushed,
    /// The remote ref moved since we fetched (not a fast-forward).
    Rejected,
}

impl Repo {
    /// Whether a remote of that name is configured.
    pub fn has_remote(&self, name: &str) -> bool {
        self.inner.find_remote(name).is_ok()
    }

    /// Makes a plain `git fetch REMOTE` also bring `branch`, unless the
    /// remote's refspecs already cover it. Returns true if it added one.
    pub fn ensure_fetch_refspec(&self, remote: &str, branch: &str) -> Result<bool> {
        let found = self
            .inner
            .find_remote(remote)
            .context(|| format!("no remote named `{remote}`"))?;
        let full = format!("refs/heads/{branch}");
        let covered = found
            .refspecs()
            .any(|r| r.direction() == git2::Direction::Fetch && r.src_matches(&full));
        if covered {
            return Ok(false);
        }
        let mut config = self
            .inner
            .config()
            .context(|| "cannot open git config".into())?;
        config
            .set_multivar(
                &format!("remote.{remote}.fetch"),
                "^$",
                &format!("+{full}:refs/remotes/{remote}/{branch}"),
            )
            .context(|| format!("cannot add a fetch refspec to remote {remote}"))?;
        Ok(true)
    }

    /// Fetches `branch` from `remote` into `refs/remotes/<remote>/<branch>`;
    /// returns its commit, or `None` if the remote has no such branch.
    pub fn fetch_branch(&self, remote: &str, branch: &str) -> Result<Option<Oid>> {
        let tracking = format!("refs/remotes/{remote}/{branch}");
        let refspec = format!("+refs/heads/{branch}:{tracking}");
        let mut attempt = 0;
        let out = loop {
            let out = self.git(&["fetch", "--quiet", "--no-tags", remote, &refspec])?;
            // Another git process (a push, a fetch) was updating the same
            // tracking ref: a moment later it is done.
            let busy = String::from_utf8_lossy(&out.stderr).contains("cannot lock ref");
            if out.status.success() || !busy || attempt == FETCH_ATTEMPTS {
                break out;
            }
            std::thread::sleep(crate::retry::backoff(attempt + 5));
            attempt += 1;
        };
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.contains("couldn't find remote ref") {
                return Ok(None);
            }
            return Err(command::failed(
                &format!("git fetch {remote} {refspec}"),
                &out.stderr,
            ));
        }
        self.ref_tip(&tracking)
    }

    /// Pushes `commit` to `refs/heads/<branch>` on `remote`, never forcing.
    pub fn push_branch(&self, remote: &str, commit: Oid, branch: &str) -> Result<PushOutcome> {
        self.push_refs(remote, &[(commit, branch)], false)
    }

    /// Pushes several `(commit, branch)` updates with `git push --atomic`:
    /// all land or none does. Never forces: a ref that moved on the remote
    /// rejects the whole push.
    pub fn push_atomic(&self, remote: &str, updates: &[(Oid, &str)]) -> Result<PushOutcome> {
        self.push_refs(remote, updates, true)
    }

    fn push_refs(
        &self,
        remote: &str,
        updates: &[(Oid, &str)],
        atomic: bool,
    ) -> Result<PushOutcome> {
        let refspecs: Vec<String> = updates
            .iter()
            .map(|(commit, branch)| format!("{commit}:refs/heads/{branch}"))
            .collect();
        let mut args = vec!["push", "--porcelain", "--quiet"];
        if atomic {
            args.push("--atomic");
        }
        args.push(remote);
        args.extend(refspecs.iter().map(String::as_str));
        let out = self.git(&args)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if stdout.lines().any(|l| l.starts_with('!')) {
            return Ok(PushOutcome::Rejected);
        }
        if !out.status.success() {
            return Err(command::failed(
                &format!("git {}", args.join(" ")),
                &out.stderr,
            ));
        }
        // Keep the tracking refs in step, as git itself does after a push.
        for (commit, branch) in updates {
            let tracking = format!("refs/remotes/{remote}/{branch}");
            self.update_ref(&tracking, *commit, || {
                self.inner
                    .reference(&tracking, *commit, true, "comm-node: push")
                    .map(drop)
            })
            .context(|| format!("cannot update {tracking}"))?;
        }
        Ok(PushOutcome::Pushed)
    }

    fn git(&self, args: &[&str]) -> Result<std::process::Output> {
        command::run(
            command::git()
                .arg("--git-dir")
                .arg(self.common_dir())
                .args(args)
                .env("GIT_TERMINAL_PROMPT", "0"),
        )
    }
}
