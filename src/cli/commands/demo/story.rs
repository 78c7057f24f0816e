//! The demo's story after `init`: every step runs the real `comm-node` (or
//! `git`) in the worktree of the domain that acts, and shows its output.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::{CliError, Kind};

/// Lines of a command's output shown (the rest is summarized).
const SHOWN_LINES: usize = 14;
/// Lines of a queue run's output shown (one per step).
const QUEUE_LINES: usize = 40;
/// Lines of the closing history shown.
const GRAPH_LINES: usize = 48;

/// What a command that ran printed on stdout.
struct Ran {
    stdout: String,
}

/// The story being told, step by step.
pub struct Story {
    exe: PathBuf,
    root: PathBuf,
    worktrees: PathBuf,
    text: String,
    step: usize,
    tasks: Tasks,
    /// Lines of output shown per command.
    shown: usize,
}

/// The ids of the tasks the story adds.
#[derive(Default)]
struct Tasks {
    contract: String,
    page: String,
    receipts: String,
}

impl Story {
    /// A story on the repository at `root` whose domain worktrees are in `worktrees`.
    pub fn new(exe: PathBuf, root: &Path, worktrees: &Path) -> Result<Story, CliError> {
        Ok(Story {
            exe,
            root: root.to_path_buf(),
            worktrees: worktrees.to_path_buf(),
            text: String::new(),
            step: 4,
            tasks: Tasks::default(),
            shown: SHOWN_LINES,
        })
    }

    /// Everything told so far.
    pub fn into_text(self) -> String {
        self.text
    }

    /// The human plans three tasks; web's waits for api's contract.
    pub fn tasks(&mut self) -> Result<(), CliError> {
        self.heading(
            "The human plans the work: web's page waits for api's contract (task and artifact).",
        );
        self.tasks.contract = self.add(&[
            "Publish the orders API contract",
            "--domain",
            "api",
            "--priority",
            "1",
        ])?;
        let contract = self.tasks.contract.clone();
        self.tasks.page = self.add(&[
            "Show the order list",
            "--domain",
            "web",
            "--dep",
            &contract,
            "--needs-artifact",
            "api/openapi.yaml",
            "--done-when",
            "the list renders from the api client",
        ])?;
        self.tasks.receipts = self.add(&["Format prices on receipts", "--domain", "api"])?;
        self.cn("human", &["task", "list"])?;
        self.cn("web", &["task", "ready"])?;
        Ok(())
    }

    /// api takes its task, publishes the contract and finishes; web's task
    /// becomes ready and web takes it.
    pub fn talk(&mut self) -> Result<(), CliError> {
        self.heading("api works, publishes the contract and tells web; web's task becomes ready.");
        self.cn("api", &["hello", "--agent", "claude-code"])?;
        self.cn("api", &["task", "next"])?;
        self.cn(
            "api",
            &[
                "publish",
                "openapi.yaml",
                "services/api/openapi.yaml",
                "--to",
                "web",
                "-m",
                "orders contract v1",
            ],
        )?;
        let page = self.tasks.page.clone();
        let contract = self.tasks.contract.clone();
        let sent = self.cn(
            "api",
            &[
                "send",
                "--to",
                "web,human",
                "--task",
                &page,
                "orders API contract ready",
                "GET/POST /orders are live: comm-node artifact get api/openapi.yaml",
            ],
        )?;
        self.cn("api", &["task", "done", &contract])?;
        self.cn("web", &["inbox"])?;
        // A reply names no one: it reaches api and the human, about the task.
        let id = sent.stdout.trim();
        let prefix = &id[..id.len().min(16)];
        self.cn(
            "web",
            &[
                "send",
                "--reply-to",
                prefix,
                "thanks, wiring the order list",
            ],
        )?;
        self.cn("web", &["ack", "--all"])?;
        self.cn("web", &["task", "next"])?;
        Ok(())
    }

    /// web reserves a shared file for its task; api's reservation is refused.
    pub fn reserve(&mut self) -> Result<(), CliError> {
        self.heading(
            "Shared files are where domains collide: web reserves package.json, api is refused.",
        );
        let page = self.tasks.page.clone();
        self.cn(
            "web",
            &["reserve", "package.json", "--ttl", "2h", "--task", &page],
        )?;
        self.cn_refused("api", &["reserve", "package.json"])?;
        Ok(())
    }

    /// web imports the api's internals; the hook refuses; the fix lands.
    pub fn boundary(&mut self) -> Result<(), CliError> {
        self.heading("web's agent imports the api's database module; the pre-commit hook says no.");
        let file = "apps/web/src/hooks/useOrders.ts";
        let original = std::fs::read_to_string(self.dir("web").join(file))?;
        let bad = "import { listOrders } from \"../../../../services/api/src/db/orders\";\n";
        self.edit("web", file, &format!("{bad}{original}"))?;
        self.git(
            "web",
            &[
                "commit",
                "-qam",
                "web: read orders straight from the api's db",
            ],
            1,
        )?;
        let good = "import type { ShopClient } from \"@shop/api/client\";\n";
        self.edit("web", file, &format!("{good}{original}"))?;
        self.git(
            "web",
            &[
                "commit",
                "-qam",
                "web: type the orders hook with the api client",
            ],
            0,
        )?;
        Ok(())
    }

    /// Both submit; web lands, api is rejected for a failing test; api's
    /// fix lands, and web catches up with main before its next change.
    pub fn queue(&mut self) -> Result<(), CliError> {
        self.heading(
            "Both submit. The queue tests the exact merge: web lands, api's bug is caught.",
        );
        let receipts = self.tasks.receipts.clone();
        let page = self.tasks.page.clone();
        self.cn("api", &["task", "next"])?;
        let money = "services/api/src/money.mjs";
        let original = std::fs::read_to_string(self.dir("api").join(money))?;
        let buggy = "\n/** Format minor units as a price with two decimals. */\nexport function formatPrice(amount) {\n  return String(amount / 100);\n}\n";
        self.edit("api", money, &format!("{original}{buggy}"))?;
        let tests = "services/api/test/orders.test.mjs";
        let test_text = std::fs::read_to_string(self.dir("api").join(tests))?;
        let new_test = "\ntest(\"formatPrice shows two decimals\", async () => {\n  const { formatPrice } = await import(\"../src/money.mjs\");\n  assert.equal(formatPrice(1200), \"12.00\");\n  assert.equal(formatPrice(5), \"0.05\");\n});\n";
        self.edit("api", tests, &format!("{test_text}{new_test}"))?;
        self.git(
            "api",
            &["commit", "-qam", "api: formatPrice for receipts"],
            0,
        )?;
        self.cn("web", &["submit", "--task", &page])?;
        self.cn("api", &["submit", "--task", &receipts])?;
        self.queue_run()?;
        self.cn("api", &["inbox"])?;

        self.heading(
            "api fixes its bug and resubmits; the fix lands and its task is done; web catches up.",
        );
        let fixed = "\n/** Format minor units as a price with two decimals. */\nexport function formatPrice(amount) {\n  return (amount / 100).toFixed(2);\n}\n";
        self.edit("api", money, &format!("{original}{fixed}"))?;
        self.git(
            "api",
            &["commit", "-qam", "api: formatPrice keeps two decimals"],
            0,
        )?;
        self.cn("api", &["submit", "--task", &receipts])?;
        self.queue_run()?;
        self.cn("web", &["update"])?;
        self.cn("human", &["task", "list"])?;
        self.cn("human", &["status"])?;
        Ok(())
    }

    /// `queue run --once`, shown whole: a line per step of the run.
    fn queue_run(&mut self) -> Result<(), CliError> {
        let shown = std::mem::replace(&mut self.shown, QUEUE_LINES);
        let ran = self.cn("human", &["queue", "run", "--once"]);
        self.shown = shown;
        ran.map(drop)
    }

    /// The code and the coordination history side by side.
    pub fn graph(&mut self) -> Result<(), CliError> {
        self.heading("Code and coordination history together:");
        self.shown = GRAPH_LINES;
        self.git(
            "human",
            &[
                "log",
                "--graph",
                "--oneline",
                "--decorate=short",
                "-n",
                "48",
                "main",
                "comm",
            ],
            0,
        )?;
        Ok(())
    }

    /// What `comm-node up` would give each domain's agent now, and why.
    pub fn next(&mut self) -> Result<(), CliError> {
        self.heading("What `comm-node up` would give each agent now (it runs them headless):");
        self.shown = GRAPH_LINES;
        self.cn("human", &["up", "--dry-run"])?;
        Ok(())
    }

    fn heading(&mut self, text: &str) {
        self.step += 1;
        self.text.push_str(&format!("\n{}. {text}\n", self.step));
    }

    /// Where `who` works: its worktree, or the main checkout for the human.
    fn dir(&self, who: &str) -> PathBuf {
        if who == "human" {
            self.root.clone()
        } else {
            self.worktrees.join(who)
        }
    }

    fn edit(&self, who: &str, file: &str, text: &str) -> Result<(), CliError> {
        Ok(std::fs::write(self.dir(who).join(file), text)?)
    }

    /// Adds a task as the human (quietly, echoing only the command) and returns its id.
    fn add(&mut self, args: &[&str]) -> Result<String, CliError> {
        let mut full = vec!["task", "add"];
        full.extend_from_slice(args);
        let ran = self.cn("human", &full)?;
        ran.stdout
            .lines()
            .next()
            .map(str::to_owned)
            .ok_or_else(|| CliError::new(Kind::Failure, "task add printed no id"))
    }

    /// Runs comm-node as `who`; it must succeed.
    fn cn(&mut self, who: &str, args: &[&str]) -> Result<Ran, CliError> {
        self.cn_expecting(who, args, 0)
    }

    /// Runs comm-node as `who`; a rule must refuse it (exit 1).
    fn cn_refused(&mut self, who: &str, args: &[&str]) -> Result<Ran, CliError> {
        self.cn_expecting(who, args, 1)
    }

    fn cn_expecting(&mut self, who: &str, args: &[&str], want: i32) -> Result<Ran, CliError> {
        // Exactly as printed: the human's lines act as `human` because they
        // run in the main checkout, each agent's because it runs in its worktree.
        let mut cmd = Command::new(&self.exe);
        cmd.args(args).env_remove(crate::cli::AS_VAR);
        self.run(who, "comm-node", args, cmd, want)
    }

    /// Runs git as `who`; it must exit with `want` (1: a hook refused).
    fn git(&mut self, who: &str, args: &[&str], want: i32) -> Result<Ran, CliError> {
        let mut cmd = Command::new("git");
        cmd.args(args);
        self.run(who, "git", args, cmd, want)
    }

    /// Runs `cmd` in `who`'s directory and tells it: the prompt, the
    /// command, its output (stderr included, shortened), a refusal's exit
    /// code. A different exit code than `want` stops the demo: the story
    /// did not go as told.
    fn run(
        &mut self,
        who: &str,
        program: &str,
        args: &[&str],
        mut cmd: Command,
        want: i32,
    ) -> Result<Ran, CliError> {
        let out = cmd
            .current_dir(self.dir(who))
            .output()
            .map_err(|e| CliError::new(Kind::Failure, format!("cannot run {program}: {e}")))?;
        let shown: Vec<String> = args.iter().map(|a| quote(a)).collect();
        self.text
            .push_str(&format!("   {who}$ {program} {}\n", shown.join(" ")));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let all: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
        for line in all.iter().take(self.shown) {
            self.text.push_str(&format!("       {line}\n"));
        }
        if all.len() > self.shown {
            let hidden = all.len() - self.shown;
            self.text.push_str(&format!(
                "       ... ({hidden} more {})\n",
                comm_node::text::noun_for(hidden, "line")
            ));
        }
        let code = out.status.code().unwrap_or(-1);
        if code != 0 {
            self.text.push_str(&format!("       (exit {code})\n"));
        }
        if code != want {
            return Err(CliError::new(
                Kind::Failure,
                format!(
                    "demo step `{program} {}` exited {code}, expected {want}",
                    shown.join(" ")
                ),
            )
            .hint(format!("the story so far:\n{}", self.text)));
        }
        Ok(Ran { stdout })
    }
}

/// An argument as a shell would need it.
fn quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,".contains(c))
    {
        arg.to_owned()
    } else {
        format!("\"{}\"", arg.replace('"', "\\\""))
    }
}
