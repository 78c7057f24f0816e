//! The task harness: a three-domain repository, adding tasks as the
//! human, racing processes, and readers of comm (`test_task.rs`,
//! `test_task_claims.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::bus::{json, trailers_on_comm};
use super::{Env, BIN};
use serde_json::Value;

/// comm.yaml of the task tests: api, web (with the `css` skill) and docs.
pub const CONFIG: &str = "project: app
domains:
  api:
    scope: [\"api/**\"]
  web:
    scope: [\"web/**\"]
    skills: [css]
  docs:
    scope: [\"docs/**\"]
";

/// The repository of [`CONFIG`] after `comm-node init`.
pub fn bus(env: &Env) -> PathBuf {
    env.api_web_app(CONFIG, &[("docs/d.md", "# docs\n")])
}

/// Adds a task as the human; returns its id.
pub fn add(env: &Env, root: &Path, args: &[&str]) -> String {
    let mut full = vec!["--as", "human", "task", "add", "--json"];
    full.extend_from_slice(args);
    json(&env.cn(root, &full).expect(0))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The ids of a JSON list of tasks.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Task `id`'s file on comm.
pub fn task_file(env: &Env, root: &Path, id: &str) -> String {
    env.git(root, &["show", &format!("comm:{}", super::task_path(id))])
}

/// Starts `comm-node ARGS` in `dir` without waiting.
pub fn spawn(env: &Env, dir: &Path, args: &[&str]) -> std::process::Child {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    env.hermetic(&mut cmd);
    cmd.spawn().unwrap()
}

/// Waits for each child: its exit code, stdout and stderr.
pub fn outputs(children: Vec<std::process::Child>) -> Vec<(i32, String, String)> {
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

/// Claim events on comm so far.
pub fn claim_count(env: &Env, root: &Path) -> usize {
    trailers_on_comm(env, root, "Comm-Action")
        .iter()
        .filter(|a| *a == "claim")
        .count()
}
