//! `comm-node mcp`: the commands as MCP tools over stdio (the official SDK,
//! `rmcp`).
//!
//! A tool call is one command line (`tools.rs`) run through the CLI's own
//! parser and `run` function with its output captured (`ui::capture`): the
//! same library call, validation and messages as in a terminal. A refusal
//! or a bad argument is a tool result with `isError: true` and the text
//! the CLI would print (`error: …` / `hint: …`), which the agent reads and
//! acts on; protocol errors are only for unknown tools.
//!
//! The server acts as the domain of the worktree it runs in, like every
//! command; no argument names who acts. Standard output is the protocol:
//! the server moves it to a descriptor of its own and points fd 1 at
//! stderr, so a stray write (a child process, a library) cannot corrupt it.

pub mod tools;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

use clap::Parser;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult, ListToolsResult,
    PaginatedRequestParams, Prompt, PromptMessage, Role, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

use crate::cli::{ui, Cli, CliError, Ctx, Kind};

/// The server: where it runs, and who acts there.
struct Server {
    cwd: PathBuf,
    launch_dir: Option<PathBuf>,
    as_name: Option<String>,
    tools: Vec<Tool>,
}

impl Server {
    fn ctx(&self) -> Ctx {
        Ctx {
            cwd: self.cwd.clone(),
            launch_dir: self.launch_dir.clone(),
            json: false,
            as_name: self.as_name.clone(),
        }
    }

    /// Runs one tool call: its command line, captured.
    fn call(
        &self,
        spec: &tools::Spec,
        args: &serde_json::Map<String, serde_json::Value>,
    ) -> CallToolResult {
        let argv = match spec.argv(args) {
            Ok(argv) => argv,
            Err(message) => return failed(format!("error: {message}\n")),
        };
        let cli = match Cli::try_parse_from(&argv) {
            Ok(cli) => cli,
            Err(e) => return failed(clap_message(&e)),
        };
        let ctx = self.ctx();
        let (result, mut text) = ui::capture(|| super::dispatch(&ctx, cli.command));
        match result {
            Ok(()) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Err(e) => {
                text.push_str(&ui::sanitize(&e.render()));
                failed(text)
            }
        }
    }

    /// The role instructions of the acting domain, as its CLAUDE.md says them.
    fn role(&self) -> Result<String, CliError> {
        let ctx = self.ctx();
        let (repo, loaded) = ctx.load()?;
        let me = ctx.actor(&repo)?;
        if !loaded.config.domains.contains_key(&me) {
            return Err(CliError::new(
                Kind::Usage,
                format!("`{me}` is no domain of comm.yaml, so it has no role"),
            )
            .hint("run comm-node mcp in a domain worktree"));
        }
        use comm_node::scaffold::{render, Reader};
        Ok(render(&loaded.config, &me, Reader::Claude, "CLAUDE.md"))
    }
}

fn failed(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// A clap error in one readable paragraph, without the `--help` footer.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("For more information") {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned() + "\n"
}

const ROLE_PROMPT: &str = "role";

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("comm-node", env!("CARGO_PKG_VERSION")))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(spec) = tools::find(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("no tool `{}`", request.name),
                None,
            ));
        };
        let args = request.arguments.unwrap_or_default();
        Ok(self.call(spec, &args).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            ROLE_PROMPT,
            Some("This domain's role instructions (its CLAUDE.md)."),
            None,
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != ROLE_PROMPT {
            return Err(ErrorData::invalid_params(
                format!("no prompt `{}`", request.name),
                None,
            ));
        }
        let text = self
            .role()
            .map_err(|e| ErrorData::invalid_params(e.render(), None))?;
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).into())
    }
}

/// The tool list as `tools/list` returns it.
fn tool_list() -> Vec<Tool> {
    tools::TOOLS
        .iter()
        .map(|t| Tool::new(t.name, t.description, t.input_schema()))
        .collect()
}

/// Serves MCP on stdin/stdout until the client closes the connection.
pub fn serve(ctx: &Ctx) -> Result<(), CliError> {
    let server = Server {
        cwd: ctx.cwd.clone(),
        launch_dir: ctx.launch_dir.clone(),
        as_name: ctx.as_name.clone(),
        tools: tool_list(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if both_pipes() {
            // How MCP clients start servers: the pipes, reopened for the
            // reactor (no thread hand-off per message), then fd 1 moved away.
            let (read, write) = rmcp::transport::stdio_pipes();
            take_stdout()?;
            run(server, read, write).await
        } else {
            let out = take_stdout()?;
            let out = tokio::fs::File::from_std(std::fs::File::from(out));
            run(server, tokio::io::stdin(), out).await
        }
    })?;
    // A blocking read of stdin may still hold a runtime thread: do not wait for it.
    runtime.shutdown_background();
    Ok(())
}

async fn run<R, W>(server: Server, read: R, write: W) -> Result<(), CliError>
where
    R: tokio::io::AsyncRead + Send + Unpin + 'static,
    W: tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let running = server
        .serve((read, write))
        .await
        .map_err(|e| CliError::new(Kind::Failure, format!("MCP start-up failed: {e}")))?;
    running
        .waiting()
        .await
        .map_err(|e| CliError::new(Kind::Failure, format!("MCP server failed: {e}")))?;
    Ok(())
}

/// Whether standard input and output are both pipes.
fn both_pipes() -> bool {
    use std::os::unix::fs::FileTypeExt;
    [0, 1].iter().all(|fd| {
        std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok_and(|m| m.file_type().is_fifo())
    })
}

/// Moves standard output to a descriptor of its own (returned) and points
/// fd 1 at stderr.
fn take_stdout() -> Result<OwnedFd, CliError> {
    // SAFETY: dup and dup2 on the process's own standard descriptors; the
    // new descriptor is owned by the returned OwnedFd alone.
    unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return Err(CliError::failure(&std::io::Error::last_os_error()));
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}
