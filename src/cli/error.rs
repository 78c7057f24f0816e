//! The CLI's error: what went wrong, why, what to do next, and the exit code.

use std::fmt::Display;
use std::process::ExitCode;

use comm_node::config::ConfigErrors;

/// How a command failed, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A rule refused the action (exit 1).
    Refused,
    /// Bad arguments or a bad `comm.yaml` (exit 2).
    Usage,
    /// The environment failed: git, the file system (exit 3).
    Failure,
}

/// An error under `--json`: one document on stdout, so that scripts read
/// errors the way they read results.
#[derive(Debug, serde::Serialize)]
pub struct JsonError<'a> {
    /// What went wrong (may span lines, e.g. every mistake in comm.yaml).
    pub error: &'a str,
    /// What to do next (several hints on separate lines), or null.
    pub hint: Option<String>,
    /// The exit status: 1 refused, 2 usage or config, 3 failure.
    pub exit: u8,
    /// The chain of underlying causes, outermost first.
    pub causes: &'a [String],
}

/// An error ready to show: `error: …`, `caused by: …`, `hint: …`.
#[derive(Debug)]
pub struct CliError {
    pub kind: Kind,
    pub message: String,
    pub causes: Vec<String>,
    pub hints: Vec<String>,
    /// The command already told the user; print nothing more.
    pub quiet: bool,
}

impl CliError {
    pub fn new(kind: Kind, message: impl Display) -> CliError {
        CliError {
            kind,
            message: message.to_string(),
            causes: Vec::new(),
            hints: Vec::new(),
            quiet: false,
        }
    }

    /// Keeps the exit code but prints nothing (the output already said it).
    pub fn quiet(mut self) -> CliError {
        self.quiet = true;
        self
    }

    /// A failure of the environment, with its chain of causes.
    pub fn failure(err: &(dyn std::error::Error + 'static)) -> CliError {
        let mut e = CliError::new(Kind::Failure, err);
        let mut source = err.source();
        while let Some(s) = source {
            e.causes.push(s.to_string());
            source = s.source();
        }
        e
    }

    pub fn hint(mut self, hint: impl Display) -> CliError {
        self.hints.push(hint.to_string());
        self
    }

    /// The process's exit status: 1 refused, 2 usage, 3 failure.
    pub fn exit_status(&self) -> u8 {
        match self.kind {
            Kind::Refused => 1,
            Kind::Usage => 2,
            Kind::Failure => 3,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit_status())
    }

    /// The error as `--json` shows it on stdout.
    pub fn to_json(&self) -> JsonError<'_> {
        JsonError {
            error: &self.message,
            hint: (!self.hints.is_empty()).then(|| self.hints.join("\n")),
            exit: self.exit_status(),
            causes: &self.causes,
        }
    }

    /// The text shown on stderr.
    pub fn render(&self) -> String {
        if self.quiet {
            return String::new();
        }
        let mut out = format!("error: {}\n", self.message);
        for cause in &self.causes {
            out.push_str(&format!("caused by: {cause}\n"));
        }
        for hint in &self.hints {
            out.push_str(&format!("hint: {hint}\n"));
        }
        out
    }
}

impl From<ConfigErrors> for CliError {
    /// One mistake is shown with its hint as the error's hint; several
    /// are listed, each with its own hint.
    fn from(errors: ConfigErrors) -> CliError {
        let file = comm_node::config::FILE_NAME;
        if let [only] = errors.0.as_slice() {
            let message = format!("{file} has a mistake; nothing was changed\n  {only}");
            let error = CliError::new(Kind::Usage, message);
            return match &only.hint {
                Some(hint) => error.hint(hint),
                None => error,
            };
        }
        let mut message = format!(
            "{file} has {}; nothing was changed",
            comm_node::text::count(errors.0.len(), "mistake")
        );
        for e in &errors.0 {
            message.push_str(&format!("\n  {e}"));
            if let Some(hint) = &e.hint {
                message.push_str(&format!("\n    hint: {hint}"));
            }
        }
        CliError::new(Kind::Usage, message)
    }
}

/// Converts library errors that mean "the environment failed".
macro_rules! failure_from {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> CliError {
                CliError::failure(&e)
            }
        }
    )*};
}

failure_from!(
    comm_node::git::GitError,
    comm_node::status::StatusError,
    std::io::Error
);

impl From<comm_node::scaffold::ScaffoldError> for CliError {
    fn from(e: comm_node::scaffold::ScaffoldError) -> CliError {
        use comm_node::scaffold::ScaffoldError;
        match &e {
            ScaffoldError::PathTaken { .. } => CliError::new(Kind::Refused, &e)
                .hint("move that folder away, or set `worktrees:` in comm.yaml to another place"),
            ScaffoldError::Bare => CliError::new(Kind::Usage, &e),
            _ => CliError::failure(&e),
        }
    }
}

impl From<comm_node::comm::CommError> for CliError {
    fn from(e: comm_node::comm::CommError) -> CliError {
        use comm_node::comm::CommError;
        match e {
            CommError::Invalid { message, hint } => CliError::new(Kind::Usage, message).hint(hint),
            CommError::Refused { message, hint } => {
                CliError::new(Kind::Refused, message).hint(hint)
            }
            CommError::Signing(e) => CliError::failure(&e).hint(e.hint()),
            CommError::Corrupt { ref path, .. } => {
                let hint = format!(
                    "look at it with `git show comm:{path}`; `git log comm -- {path}` shows which event wrote it"
                );
                CliError::failure(&e).hint(hint)
            }
            other => CliError::failure(&other),
        }
    }
}

impl From<comm_node::queue::QueueError> for CliError {
    fn from(e: comm_node::queue::QueueError) -> CliError {
        use comm_node::queue::QueueError;
        match e {
            QueueError::Comm(e) => e.into(),
            QueueError::Busy { .. } => CliError::new(Kind::Refused, &e).hint(
                "wait for it to finish; `comm-node queue status` shows whether one is active",
            ),
            QueueError::NoMain(_) => CliError::new(Kind::Usage, &e)
                .hint("set `main:` in comm.yaml to the branch the queue lands on"),
            QueueError::LocalMain {
                ref branch,
                ref remote,
                ..
            } => {
                let hint = format!(
                    "the queue never pushes untested commits: move them to a domain branch, then `git branch -f {branch} {remote}`"
                );
                CliError::new(Kind::Refused, &e).hint(hint)
            }
            other => CliError::failure(&other),
        }
    }
}
