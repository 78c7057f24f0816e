//! `report` benchmark: `comm-node report` as a whole CLI process on a
//! `comm` branch of 100k events in the exact format comm-node writes
//! (`Event::to_message`), made with `git fast-import`: tasks added,
//! claimed and landed through the queue (one in five rejected first),
//! messages with `Comm-Tokens`, `turn` events, halts; 8 domains over 60
//! days, the task files at the tip (with dependencies) for the graph.
//! Records wall time and page size; `--since 7d` beside it.
//!
//! Run with `cargo bench --bench report` (`-- --events N` for another
//! size, `-- --keep DIR` to keep the repository and pages). Results go to
//! stdout; BENCHMARKS.md records them.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use comm_node::comm::task::{Status, Task};
use comm_node::comm::Event;
use comm_node::runtime::stream::Tokens;
use comm_node::runtime::usage::{CostSource, Turn};
use common::{fast_import, initialised, report, Hermetic};

const DOMAINS: usize = 8;
/// Days the generated history spans, ending now.
const DAYS: i64 = 60;

fn main() {
    let events: u64 = common::arg("events", 100_000);
    let keep: String = common::arg("keep", String::new());
    let tmp = tempfile::tempdir().unwrap();
    let dir = if keep.is_empty() {
        tmp.path().to_path_buf()
    } else {
        std::fs::create_dir_all(&keep).unwrap();
        std::path::PathBuf::from(&keep)
    };
    let root = dir.join("repo");
    let env = Hermetic::in_dir(&dir);

    let t = Instant::now();
    let tasks = setup(&env, &root, events);
    println!(
        "setup: {events} events ({tasks} tasks) on comm in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    for (name, extra) in [
        ("report", &[][..]),
        ("report --since 7d", &["--since", "7d"][..]),
    ] {
        let out = dir.join(format!("{}.html", name.replace([' ', '-'], "")));
        let mut args = vec!["report", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let mut times: Vec<Duration> = Vec::new();
        let cpu0 = common::children_cpu();
        for _ in 0..5 {
            let (d, o) = env.time(&root, &args);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            times.push(d);
        }
        let cpu = (common::children_cpu() - cpu0) / 5;
        let size = std::fs::metadata(&out).unwrap().len();
        println!(
            "  {name}: CPU (user + system) per run {} ms",
            cpu.as_millis()
        );
        report(
            &format!("{name} (CLI process, {events} events)"),
            &mut times,
        );
        println!("  {name}: page {} KiB", size / 1024);
        let page = std::fs::read_to_string(&out).unwrap();
        assert!(page.contains("class=\"task-bar"), "no timeline");
        assert!(page.contains("class=\"cost-point"), "no cost");
        assert!(page.contains("class=\"reject-marker"), "no rejection");
        assert!(page.contains("class=\"dep-edge"), "no graph edges");
        assert!(page.contains("class=\"msg-edge"), "no messages");
    }
}

fn config() -> String {
    let mut c = String::from("project: bench\ndomains:\n");
    for d in 0..DOMAINS {
        c.push_str(&format!("  d{d}: {{scope: [\"d{d}/**\"]}}\n"));
    }
    c
}

/// Writes events to `git fast-import`, one commit each, with rising times.
struct Writer<W: Write> {
    out: W,
    seq: u64,
    count: u64,
    first: Option<String>,
}

impl<W: Write> Writer<W> {
    fn event(&mut self, mut event: Event, at: i64) {
        self.seq += 1;
        self.count += 1;
        event.seq = self.seq;
        let msg = event.to_message();
        writeln!(self.out, "commit refs/heads/comm").unwrap();
        writeln!(self.out, "committer bench <bench@bench.invalid> {at} +0000").unwrap();
        writeln!(self.out, "data {}\n{msg}", msg.len()).unwrap();
        if let Some(from) = self.first.take() {
            writeln!(self.out, "from {from}").unwrap();
        }
        writeln!(self.out).unwrap();
    }
}

fn event(kind: &str, from: &str, to: &[&str], subject: String, fields: &[(&str, String)]) -> Event {
    let mut e = Event::new(kind, from, subject);
    e.to = to.iter().map(|t| (*t).to_owned()).collect();
    e.fields = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    e
}

fn turn_fields(domain: &str, task: &str, i: u64) -> (String, Vec<(String, String)>) {
    let turn = Turn {
        domain: domain.to_owned(),
        cli: "claude".into(),
        session: format!("session-{}", i / 4),
        task: Some(task.to_owned()),
        tokens: Tokens {
            input: 10 + i % 7,
            output: 200 + i % 13,
            cache_read: 20_000 + i % 101,
            cache_write: 1_000 + i % 17,
        },
        cost_usd: 0.0123,
        cost_text: "0.0123".into(),
        cost_reported: true,
        cost_source: CostSource::Cli,
        transcript: false,
        duration_ms: 30_000,
        outcome: "success".into(),
        calls: 3,
        model: Some("claude-sonnet-4-5-20250929".into()),
        parent: None,
        at: None,
    };
    let subject = format!(
        "turn {domain} {i}: success, {} in / {} out tokens, $0.0123",
        turn.tokens.input, turn.tokens.output
    );
    (subject, turn.fields())
}

/// A repository whose comm holds about `events` events after the kickoff
/// and the task files they leave; returns the number of tasks.
fn setup(env: &Hermetic, root: &Path, events: u64) -> u64 {
    let kickoff = initialised(env, root, &config());
    let mut child = fast_import(env, root);
    let mut w = Writer {
        out: std::io::BufWriter::new(child.stdin.take().unwrap()),
        seq: kickoff.seq,
        count: 0,
        first: Some(kickoff.commit),
    };
    // About 11 events per task: spread the tasks evenly over the days.
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let per_task = 10;
    let n_tasks = (events / per_task).max(1);
    let step = (DAYS * 86_400) / n_tasks as i64;
    let mut tasks: Vec<Task> = Vec::new();
    let mut n = 0u64;
    while w.count < events {
        let t0 = end - DAYS * 86_400 + n as i64 * step;
        let d = format!("d{}", n % DOMAINS as u64);
        let other = format!("d{}", (n + 1) % DOMAINS as u64);
        let id = format!("T-{n:010}");
        let title = format!("build part {n} of the {d} service");
        let deps: Vec<String> = (n >= DOMAINS as u64 && !n.is_multiple_of(3))
            .then(|| format!("T-{:010}", n - DOMAINS as u64))
            .into_iter()
            .collect();
        let task = |action: &str| vec![("Task", id.clone()), ("Action", action.to_owned())];
        w.event(
            event(
                "task",
                "human",
                &[&d],
                format!("task {id} added for {d}: {title}"),
                &task("add"),
            ),
            t0,
        );
        w.event(
            event(
                "task",
                &d,
                &[],
                format!("task {id} claimed by {d}: {title}"),
                &task("claim"),
            ),
            t0 + step / 10,
        );
        for (k, (from, to)) in [(&d, &other), (&other, &d)].into_iter().enumerate() {
            let tokens = 40 + (n % 50) * 3;
            w.event(
                event(
                    "msg",
                    from,
                    &[to],
                    format!("{from} → {to}: about {id}"),
                    &[
                        ("Thread", format!("thread-{n}")),
                        ("Task", id.clone()),
                        ("Tokens", tokens.to_string()),
                    ],
                ),
                t0 + step / 10 + 1 + k as i64,
            );
        }
        for k in 0..4u64 {
            let (subject, fields) = turn_fields(&d, &id, n * 4 + k);
            let mut e = Event::new("turn", &d, subject);
            e.fields = fields;
            w.event(e, t0 + step / 5 + k as i64 * step / 10);
        }
        let rejected_first = n.is_multiple_of(5);
        for attempt in 0..=u64::from(rejected_first) {
            let entry = format!("entry-{n}-{attempt}");
            let head = format!("{:040x}", n * 2 + attempt);
            let at = t0 + step * 6 / 10 + attempt as i64 * step / 10;
            let mut submit = event(
                "submit",
                &d,
                &[],
                format!("queue: {d} submitted {} (task {id})", &head[..7]),
                &[("Commit", head.clone()), ("Task", id.clone())],
            );
            submit.id = entry.clone();
            w.event(submit, at);
            let common = vec![
                ("Entry", entry.clone()),
                ("Domain", d.clone()),
                ("Commit", head.clone()),
                ("Task", id.clone()),
            ];
            if rejected_first && attempt == 0 {
                let mut f = common;
                f.push(("Tested", head.clone()));
                f.push(("Artifact", format!("queue/{entry}.log")));
                f.push(("Reason", "tests".into()));
                w.event(
                    event(
                        "rejected",
                        "comm-node",
                        &[&d],
                        format!(
                            "queue: rejected {d} {} (task {id}): `cargo test` failed",
                            &head[..7]
                        ),
                        &f,
                    ),
                    at + 300,
                );
            } else {
                let mut f = common;
                f.push(("Main", head.clone()));
                f.push(("Merge", head.clone()));
                f.push(("Task-Done", "yes".into()));
                w.event(
                    event(
                        "landed",
                        "comm-node",
                        &[&d, &other],
                        format!(
                            "queue: landed {d} {} on main as {} (task {id})",
                            &head[..7],
                            &head[..7]
                        ),
                        &f,
                    ),
                    at + 240,
                );
            }
        }
        if n % 500 == 499 {
            w.event(
                event(
                    "halt",
                    "human",
                    &[&d],
                    format!("halt {d} by human: main is red"),
                    &[("Domains", d.clone())],
                ),
                t0 + step - 1,
            );
        }
        let done = t0 + step * 9 / 10;
        tasks.push(Task {
            id: id.clone(),
            title,
            domain: Some(d.clone()),
            status: Status::Done,
            priority: 2,
            deps,
            needs_artifacts: Vec::new(),
            parent: None,
            assignee: Some(d.clone()),
            done_when: Vec::new(),
            skills: Vec::new(),
            created: t0,
            updated: done,
            created_by: "human".into(),
            claimed_at: Some(t0 + step / 10),
            reason: None,
            description: String::new(),
            links: Vec::new(),
            beads: Default::default(),
        });
        n += 1;
    }
    // The task files on the tip, in one last commit.
    let last = tasks.last().map_or(end, |t| t.updated);
    let msg = {
        let mut e = Event::new("hello", "d0", "d0 is here".to_owned());
        w.seq += 1;
        e.seq = w.seq;
        e.to_message()
    };
    writeln!(w.out, "commit refs/heads/comm").unwrap();
    writeln!(w.out, "committer bench <bench@bench.invalid> {last} +0000").unwrap();
    writeln!(w.out, "data {}\n{msg}", msg.len()).unwrap();
    for t in &tasks {
        let yaml = t.to_yaml();
        writeln!(
            w.out,
            "M 100644 inline {}\ndata {}",
            Task::path_of(&t.id),
            yaml.len()
        )
        .unwrap();
        w.out.write_all(&yaml).unwrap();
        writeln!(w.out).unwrap();
    }
    writeln!(w.out).unwrap();
    drop(w);
    assert!(child.wait().unwrap().success());
    env.git(root, &["repack", "-adq"]);
    n
}
