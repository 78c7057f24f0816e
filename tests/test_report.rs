//! `comm-node report`: a known history made with the real binary (tasks,
//! messages, a landing and a rejection, a halt, agent turns through `up`
//! with a `command:` agent), then the page's charts checked element by
//! element, its escaping of hostile text, its errors, and the page opened
//! in real headless Chromium (no console error, the same elements in the
//! DOM it builds).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::up::{events, trailer, up_command};
use common::{read, write, Env, Run};

const HOSTILE: &str = r#"<script>alert("x")</script> & <img src=x onerror=alert(1)>"#;

fn json(run: Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn add(env: &Env, root: &Path, domain: &str, title: &str, deps: &[&str]) -> String {
    let mut args = vec!["--as", "human", "--json", "task", "add", "--domain", domain];
    for d in deps {
        args.extend(["--dep", d]);
    }
    args.push(title);
    json(env.cn(root, &args).expect(0))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The history every test here reads; returns the repository and the
/// task ids (api's, web's, docs' hostile one).
struct Known {
    root: PathBuf,
    api: String,
    web: String,
    docs: String,
}

fn known_history(env: &Env) -> Known {
    // The web agent: one Claude-style stream-json turn costing $0.25.
    let agent = env.path("agent.sh");
    write(
        &agent,
        "echo '{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"'$COMM_NODE_SESSION'\"}'\n\
         echo '{\"type\":\"result\",\"subtype\":\"success\",\"result\":\"done\",\"num_turns\":1,\"total_cost_usd\":0.25,\"modelUsage\":{\"m\":{\"inputTokens\":1200,\"outputTokens\":300,\"cacheReadInputTokens\":0,\"cacheCreationInputTokens\":0,\"contextWindow\":200000}}}'\n",
    );
    let config = format!(
        "project: app\ntest: [\"! grep -rqx --exclude=.git BROKEN .\"]\ndomains:\n  api:\n    scope: [\"api/**\"]\n  web:\n    scope: [\"web/**\"]\n  docs:\n    scope: [\"docs/**\"]\nagents:\n  web:\n    cli: command\n    command: [sh, {}]\n",
        agent.display()
    );
    let root = env.app(&[
        ("comm.yaml", &config),
        ("api/a.txt", "a\n"),
        ("web/w.txt", "w\n"),
        ("docs/d.txt", "d\n"),
    ]);
    let api = add(env, &root, "api", "design the API", &[]);
    let web = add(env, &root, "web", "build the page", &[&api]);
    let docs = add(env, &root, "docs", HOSTILE, &[]);
    env.cn(&root, &["--as", "api", "task", "claim", &api])
        .expect(0);
    env.cn(
        &root,
        &[
            "--as",
            "api",
            "send",
            "--to",
            "web",
            "contract ready",
            "see api/a.txt",
        ],
    )
    .expect(0);
    env.cn(
        &root,
        &["--as", "web", "send", "--to", "api", "thanks", "starting"],
    )
    .expect(0);
    // api's work lands and marks its task done.
    common::queue::commit(env, "api", &[("api/a.txt", "a2\n")], "api work");
    env.cn(&env.worktree("api"), &["submit", "--task", &api])
        .expect(0);
    env.cn(&root, &["queue", "run", "--once"]).expect(0);
    // web's first try breaks the tests: a rejection.
    env.cn(&root, &["--as", "web", "task", "claim", &web])
        .expect(0);
    common::queue::commit(env, "web", &[("web/w.txt", "BROKEN\n")], "web work");
    env.cn(&env.worktree("web"), &["submit"]).expect(0);
    env.cn(&root, &["queue", "run", "--once"]).expect(0);
    // web's agent runs two turns under `up`, the second for api's news.
    for turn in 1..=2 {
        if turn == 2 {
            env.cn(
                &root,
                &[
                    "--as",
                    "api",
                    "send",
                    "--to",
                    "web",
                    "contract v2",
                    "a field more",
                ],
            )
            .expect(0);
        }
        let out = up_command(env, &root, None, &["web", "--once"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    env.cn(
        &root,
        &["--as", "human", "halt", "web", "--reason", "stop & think"],
    )
    .expect(0);
    Known {
        root,
        api,
        web,
        docs,
    }
}

/// Writes the report of `root` and returns the page.
fn report(env: &Env, root: &Path, args: &[&str]) -> String {
    let out = env.path("report.html");
    let mut all = vec!["report", "--out", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let run = env.cn(root, &all).expect(0);
    assert!(run.stdout.starts_with("wrote "), "{}", run.stdout);
    read(&out)
}

/// The start tags of an HTML document with their attributes, in order: a
/// small tokenizer, enough for the pages comm-node and Chromium write
/// (quoted or bare attribute values, no raw `<` inside tags).
fn tags(html: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if rest.starts_with("!--") {
            rest = rest.find("-->").map_or("", |j| &rest[j + 3..]);
            continue;
        }
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        if name_len == 0 {
            continue;
        }
        let name = rest[..name_len].to_ascii_lowercase();
        rest = &rest[name_len..];
        let mut attrs = BTreeMap::new();
        loop {
            rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('>') || rest.starts_with("/>") {
                break;
            }
            let key_len = rest
                .find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')
                .unwrap_or(rest.len())
                .max(1);
            let key = rest[..key_len].to_ascii_lowercase();
            rest = &rest[key_len..];
            let mut value = String::new();
            if let Some(r) = rest.strip_prefix('=') {
                let (v, after) = match r.chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let end = r[1..].find(q).map_or(r.len(), |e| e + 1);
                        (&r[1..end], r.get(end + 1..).unwrap_or(""))
                    }
                    _ => {
                        let end = r
                            .find(|c: char| c.is_whitespace() || c == '>')
                            .unwrap_or(r.len());
                        (&r[..end], &r[end..])
                    }
                };
                value = v
                    .replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&");
                rest = after;
            }
            attrs.insert(key, value);
        }
        out.push((name, attrs));
    }
    out
}

/// The tags whose class list holds `class`.
fn with_class<'a>(
    tags: &'a [(String, BTreeMap<String, String>)],
    class: &str,
) -> Vec<&'a BTreeMap<String, String>> {
    tags.iter()
        .map(|(_, a)| a)
        .filter(|a| {
            a.get("class")
                .is_some_and(|c| c.split_whitespace().any(|c| c == class))
        })
        .collect()
}

/// Checks the charts of the [`known_history`] page (from comm-node or from
/// Chromium's DOM).
#[track_caller]
fn assert_charts(env: &Env, k: &Known, html: &str) {
    let tags = tags(html);
    // One timeline bar per task, in its domain's lane.
    let bars = with_class(&tags, "task-bar");
    let mut bar_tasks: Vec<(&str, &str, &str)> = bars
        .iter()
        .map(|a| {
            (
                a["data-task"].as_str(),
                a["data-domain"].as_str(),
                a["class"].as_str(),
            )
        })
        .collect();
    bar_tasks.sort();
    let mut expected = vec![
        (k.api.as_str(), "api", "task-bar status-done"),
        (k.web.as_str(), "web", "task-bar status-claimed"),
        (k.docs.as_str(), "docs", "task-bar status-open"),
    ];
    expected.sort();
    assert_eq!(bar_tasks, expected);
    // One rejection marker (web's tests), one landing (api's).
    let rejects = with_class(&tags, "reject-marker");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(
        (
            rejects[0]["data-domain"].as_str(),
            rejects[0]["data-outcome"].as_str()
        ),
        ("web", "tests")
    );
    let lands = with_class(&tags, "land-marker");
    assert_eq!(lands.len(), 1);
    assert_eq!(lands[0]["data-domain"], "api");
    // The halt of web.
    let halts = with_class(&tags, "halt-marker");
    assert_eq!(halts.len(), 1);
    assert_eq!(halts[0]["data-domain"], "web");
    // Message edges with the tokens comm recorded.
    let msgs = events(env, &k.root, "msg");
    let tokens_of = |from: &str| -> String {
        msgs.iter()
            .filter(|m| m.0 == from)
            .map(|m| trailer(&m.3, "Tokens").parse::<u64>().unwrap())
            .sum::<u64>()
            .to_string()
    };
    let edges = with_class(&tags, "msg-edge");
    let mut edge_list: Vec<(String, String, String, String)> = edges
        .iter()
        .map(|a| {
            (
                a["data-from"].clone(),
                a["data-to"].clone(),
                a["data-count"].clone(),
                a["data-tokens"].clone(),
            )
        })
        .collect();
    edge_list.sort();
    assert_eq!(
        edge_list,
        [
            ("api".into(), "web".into(), "2".into(), tokens_of("api")),
            ("web".into(), "api".into(), "1".into(), tokens_of("web")),
        ]
    );
    // One cost point per web turn, the last at the total.
    let turns = events(env, &k.root, "turn");
    assert_eq!(turns.len(), 2, "{turns:?}");
    let points = with_class(&tags, "cost-point");
    assert_eq!(points.len(), 2, "{points:?}");
    assert!(points.iter().all(|p| p["data-domain"] == "web"));
    assert_eq!(points[1]["data-usd"], "0.500000");
    // The graph: three nodes with their status, api → web.
    let nodes = with_class(&tags, "task-node");
    assert_eq!(nodes.len(), 3);
    let deps = with_class(&tags, "dep-edge");
    assert_eq!(deps.len(), 1);
    assert_eq!(
        (deps[0]["data-from"].as_str(), deps[0]["data-to"].as_str()),
        (k.api.as_str(), k.web.as_str())
    );
    // Queue outcomes and durations.
    let outcomes: Vec<(&str, &str)> = with_class(&tags, "queue-outcome")
        .iter()
        .map(|a| (a["data-domain"].as_str(), a["data-outcome"].as_str()))
        .collect();
    assert_eq!(outcomes, [("api", "landed"), ("web", "tests")]);
    // Both decisions were made by a test run: their bars are its durations.
    let bars: Vec<(&str, &str, &str)> = with_class(&tags, "queue-duration")
        .iter()
        .map(|a| {
            assert!(a["data-millis"].parse::<u64>().is_ok(), "{a:?}");
            (
                a["data-domain"].as_str(),
                a["data-outcome"].as_str(),
                a["data-measure"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        bars,
        [("api", "landed", "tests"), ("web", "tests", "tests")]
    );
}

#[test]
fn the_report_draws_the_known_history() {
    let env = Env::new();
    let k = known_history(&env);
    let page = report(&env, &k.root, &[]);
    assert_charts(&env, &k, &page);
    // Self-contained: no script, nothing loaded from elsewhere.
    for (name, attrs) in tags(&page) {
        assert!(
            !["script", "link", "img", "iframe", "object", "embed"].contains(&name.as_str()),
            "the page holds <{name}>"
        );
        assert!(!attrs.contains_key("src"), "<{name}> loads {attrs:?}");
        assert!(
            attrs.keys().all(|k| !k.starts_with("on")),
            "<{name}> has a handler: {attrs:?}"
        );
        if let Some(href) = attrs.get("href") {
            assert!(href.starts_with('#'), "<{name}> links out: {href}");
        }
    }
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(page.contains("@media print"));
}

#[test]
fn hostile_event_text_is_escaped_everywhere() {
    let env = Env::new();
    let k = known_history(&env);
    let page = report(&env, &k.root, &[]);
    assert!(!page.contains("<script"), "raw markup from an event");
    assert!(!page.contains("<img"), "raw markup from an event");
    assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img"));
    // The escaped title reads back as the hostile text, in the bar's title
    // and in the latest-events table.
    assert!(page.matches("&lt;script&gt;").count() >= 3);
    // And a halt reason with markup is escaped too.
    assert!(page.contains("stop &amp; think"));
}

#[test]
fn since_takes_a_date_or_a_duration() {
    let env = Env::new();
    let k = known_history(&env);
    let events_of = |args: &[&str], now: Option<&str>| -> usize {
        let out = env.path("since.html");
        let mut all = vec!["report", "--out", out.to_str().unwrap()];
        all.extend_from_slice(args);
        let vars: Vec<(&str, &str)> = now.map(|n| ("COMM_NODE_NOW", n)).into_iter().collect();
        env.cn_env(&k.root, &vars, &all).expect(0);
        let tags = tags(&read(&out));
        tags.iter()
            .find(|(_, a)| a.get("id").is_some_and(|i| i == "summary"))
            .unwrap()
            .1["data-events"]
            .parse()
            .unwrap()
    };
    let everything = events_of(&[], None);
    assert!(everything > 15, "{everything}");
    // The history was written just now (commit times are real).
    assert_eq!(events_of(&["--since", "1h"], None), everything);
    assert_eq!(events_of(&["--since", "2000-01-01"], None), everything);
    assert_eq!(events_of(&["--since", "2999-01-01"], None), 0);
    // An hour back from a clock a day ahead reaches none of it.
    let tomorrow = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400)
        .to_string();
    assert_eq!(events_of(&["--since", "1h"], Some(&tomorrow)), 0);
    assert_eq!(events_of(&["--since", "2d"], Some(&tomorrow)), everything);
}

/// Rewrites comm so its `i`th commit (oldest first) was made at `t0 +
/// 100 i` (git honours the dates given to fast-import; comm-node's own
/// commits take the real clock).
fn redate(env: &Env, root: &Path, t0: i64) -> usize {
    let export = env.git(root, &["fast-export", "--signed-tags=strip", "comm"]);
    let mut i = 0;
    let mut out = String::new();
    for line in export.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("committer ") {
            let who = rest.rsplitn(3, ' ').nth(2).unwrap();
            out.push_str(&format!("committer {who} {} +0000\n", t0 + 100 * i));
            i += 1;
        } else {
            out.push_str(line);
        }
    }
    out.push('\n');
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet", "--force"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), out.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    i as usize
}

#[test]
fn since_cuts_the_history_and_a_task_claimed_before_starts_with_the_period() {
    let env = Env::new();
    let k = known_history(&env);
    let t0 = 1_767_225_600; // 2026-01-01T00:00:00Z
    let total = redate(&env, &k.root, t0);
    let page_since = |since: i64| {
        let out = env.path("cut.html");
        let now = (t0 + 100 * total as i64).to_string();
        let ago = format!("{}s", t0 + 100 * total as i64 - since);
        env.cn_env(
            &k.root,
            &[("COMM_NODE_NOW", now.as_str())],
            &["report", "--out", out.to_str().unwrap(), "--since", &ago],
        )
        .expect(0);
        tags(&read(&out))
    };
    // Just after api's claim.
    let log: Vec<String> = env
        .git(&k.root, &["log", "--reverse", "--format=%s", "comm"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(log.len(), total);
    let at = log
        .iter()
        .position(|s| s.contains("claimed by api"))
        .unwrap();
    let after_claim = page_since(t0 + 100 * at as i64 + 1);
    let summary = after_claim
        .iter()
        .find(|(_, a)| a.get("id").is_some_and(|i| i == "summary"))
        .unwrap();
    assert_eq!(
        summary.1["data-events"].parse::<usize>().unwrap(),
        total - at - 1
    );
    // api's task was claimed before the period: its bar starts with it
    // (the left edge of the plot, x = 120) and ends at its landing.
    let bars = with_class(&after_claim, "task-bar");
    let api = bars.iter().find(|a| a["data-task"] == k.api).unwrap();
    assert_eq!(api["x"], "120.0");
    assert!(api["class"].contains("status-done"));
    // docs' task, added before the period and untouched since, is gone.
    assert!(bars.iter().all(|a| a["data-task"] != k.docs));
}

#[test]
fn bad_since_and_unwritable_out_exit_2_and_write_nothing() {
    let env = Env::new();
    let root = env.app(&[(
        "comm.yaml",
        "project: app\ndomains:\n  api:\n    scope: [\"api/**\"]\n",
    )]);
    let before: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let run = env.cn(&root, &["report", "--since", "yesterday"]).expect(2);
    assert!(
        run.stderr.contains("`yesterday` is neither a date"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    env.cn(&root, &["report", "--since", "2026-02-31"])
        .expect(2);
    let run = env
        .cn(&root, &["report", "--out", "no/such/folder/r.html"])
        .expect(2);
    assert!(run.stderr.contains("cannot write"), "{}", run.stderr);
    let run = env.cn(&root, &["report", "--out", "."]).expect(2);
    assert!(run.stderr.contains("it is a folder"), "{}", run.stderr);
    let after: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before, after, "something was written");
    // A read-only folder: refused at the write, no temporary file left.
    let ro = env.path("ro");
    std::fs::create_dir(&ro).unwrap();
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&ro, perms).unwrap();
    let target = ro.join("r.html");
    let run = env.cn(&root, &["report", "--out", target.to_str().unwrap()]);
    if run.code == 0 {
        // Running as root: the folder was writable after all.
        std::fs::remove_file(&target).unwrap();
    } else {
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
    }
    // `-` is stdout, and the default is comm-report.html.
    let run = env.cn(&root, &["report", "--out", "-"]).expect(0);
    assert!(
        run.stdout.starts_with("<!DOCTYPE html>"),
        "{}",
        &run.stdout[..80.min(run.stdout.len())]
    );
    env.cn(&root, &["report"]).expect(0);
    assert!(read(&root.join("comm-report.html")).contains("</html>"));
    let help = env.cn(&root, &["report", "--help"]).expect(0).stdout;
    for words in ["--since", "--out", "Timeline per domain", "no script"] {
        assert!(help.contains(words), "--help lacks {words}: {help}");
    }
}

/// Headless Chromium, if installed (`.ci/run` installs it and requires it;
/// elsewhere the browser test says it skipped).
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// Opens `page` in headless Chromium with its own profile; returns the DOM
/// it built and its console lines (`--enable-logging=stderr` writes every
/// console message as a `CONSOLE` line). Kills the browser's process group
/// and removes the profile.
fn open_in_chromium(env: &Env, browser: &str, page: &Path) -> (String, Vec<String>) {
    use std::os::unix::process::CommandExt;
    let profile = env.path("chromium-profile");
    let url = format!("file://{}", page.display());
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .env("HOME", env.path("home"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = child.id() as i32;
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The browser's helpers (zygote, GPU, renderer) share its group.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
    let _ = child.wait();
    let (dom, log) = (out.join().unwrap(), err.join().unwrap());
    std::fs::remove_dir_all(&profile).ok();
    assert!(status.is_some(), "chromium did not finish in 90 s: {log}");
    let console = log
        .lines()
        .filter(|l| l.contains("CONSOLE"))
        .map(str::to_owned)
        .collect();
    (dom, console)
}

#[test]
fn chromium_loads_the_report_without_console_errors_and_builds_the_charts() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("COMM_NODE_REQUIRE_CHROMIUM").is_none(),
            "no chromium, and COMM_NODE_REQUIRE_CHROMIUM is set (.ci/run installs it)"
        );
        eprintln!("skipped: no chromium (apt-get install chromium)");
        return;
    };
    let env = Env::new();
    // The check can see a console error: a page that logs one.
    let control = env.path("control.html");
    write(
        &control,
        "<!DOCTYPE html><html><body><p id=x>ok</p><script>console.error('CONTROL-ERROR')</script></body></html>",
    );
    let (dom, console) = open_in_chromium(&env, browser, &control);
    assert!(dom.contains(r#"<p id="x">ok</p>"#), "{dom}");
    assert!(
        console.iter().any(|l| l.contains("CONTROL-ERROR")),
        "chromium's console is not visible: {console:?}"
    );
    let k = known_history(&env);
    report(&env, &k.root, &[]);
    let (dom, console) = open_in_chromium(&env, browser, &env.path("report.html"));
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(dom.contains("</svg>"), "{dom}");
    assert_charts(&env, &k, &dom);
    // Chromium parsed the hostile title as text, not as elements.
    let tags = tags(&dom);
    assert!(tags
        .iter()
        .all(|(name, _)| name != "script" && name != "img"));
}
