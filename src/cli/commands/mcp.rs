//! `comm-node mcp`: serve the commands as MCP tools over stdio.

use crate::cli::{CliError, Ctx};

/// Serve this domain's commands to an agent over MCP (stdio).
///
/// An MCP client (Claude Code, Codex, any other) starts it in a domain
/// worktree and calls its tools: inbox, ack, read, thread, send, task_ready,
/// task_next, task_claim, task_done, task_fail, task_show, reserve,
/// release, reservations, publish, artifact, status, check, conflicts,
/// submit, hello, budget (a request to the human). Each tool runs the
/// command of the same name, with the same checks and output; a refusal
/// comes back as a tool error carrying the message and its hint. The server acts as the worktree's domain:
/// no tool can act as another. The prompt `role` gives the domain's role
/// instructions.
///
/// `comm-node init` registers it for every domain: Claude Code's local
/// scope of the repository in ~/.claude.json (one entry serves all its
/// worktrees), and Codex's .codex/config.toml in each worktree, kept out of
/// git; `init --no-mcp` does not, `uninstall` removes them. By hand:
///
///   claude mcp add -s local comm-node -- comm-node mcp    (in the repository)
///   codex mcp add comm-node -- comm-node mcp
///   any client: command `comm-node`, args `["mcp"]`, cwd the worktree
///   (or `comm-node -C WORKTREE --as DOMAIN mcp` when it cannot set one)
///
/// Standard input and output carry the protocol; it ends when the client
/// closes standard input.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: Args) -> Result<(), CliError> {
    crate::cli::mcp::serve(ctx)
}
