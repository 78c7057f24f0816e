//! `comm-node up` handing a session off: after `handoff_after_turns`, or
//! once the context passes `handoff_at`, the agent writes a note that a
//! fresh session starts from; an `up` killed during a handoff resumes it.

mod common;

use std::path::{Path, PathBuf};

use common::up::*;
use common::{write, Env};

/// The app whose web agent is a `command:` agent speaking Claude's
/// stream-json under `settings`: its first turn leaves web more work (a
/// message from api), each result reports `input` tokens of a 1000-token
/// context window, and a turn asked for a handoff answers with a note;
/// with `hang`, the first handoff turn hangs instead (a tool process in
/// the background), after writing its pids to `pids`.
fn handoff_agent(env: &Env, settings: &str, input: u32, hang: bool) -> PathBuf {
    let (count, sessions, prompts) = (env.path("count"), env.path("sessions"), env.path("prompts"));
    let (mark, pids) = (env.path("mark"), env.path("pids"));
    let hang = if hang {
        format!(
            "if [ ! -e {m} ]; then touch {m}; sleep 300 & echo $$ $! > {p}; wait; fi; ",
            m = mark.display(),
            p = pids.display()
        )
    } else {
        String::new()
    };
    let script = env.path("agent.sh");
    write(
        &script,
        &format!(
            "n=$(( $(cat {c} 2>/dev/null || echo 0) + 1 )); echo $n > {c}\n\
             echo \"$COMM_NODE_SESSION $COMM_NODE_RESUME\" >> {s}\n\
             printf '%s\\n--\\n' \"$COMM_NODE_PROMPT\" >> {p}\n\
             echo '{{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"'$COMM_NODE_SESSION'\"}}'\n\
             case \"$COMM_NODE_PROMPT\" in\n\
             *'handoff note in Markdown'*) {hang}text=\"HANDOFF-NOTE-$n: web page half built\" ;;\n\
             *) text=done\n\
                if [ $n = 1 ]; then (cd \"$(git rev-parse --git-common-dir)/..\" && comm-node --as api send --to web more >/dev/null) || exit 9; fi ;;\n\
             esac\n\
             echo '{{\"type\":\"result\",\"subtype\":\"success\",\"result\":\"'\"$text\"'\",\"num_turns\":1,\"total_cost_usd\":0.01,\"modelUsage\":{{\"m\":{{\"inputTokens\":{i},\"outputTokens\":5,\"cacheReadInputTokens\":0,\"cacheCreationInputTokens\":0,\"contextWindow\":1000}}}}}}'\n",
            c = count.display(),
            s = sessions.display(),
            p = prompts.display(),
            i = input,
        ),
    );
    web_agent(env, settings, &format!("sh {}", script.display()))
}

/// What the agent of [`handoff_agent`] was run with: the session and
/// resume flag of each turn, and the prompts.
fn handoff_seen(env: &Env) -> (Vec<String>, Vec<String>) {
    let sessions = common::read(&env.path("sessions"))
        .lines()
        .map(str::to_owned)
        .collect();
    let prompts = common::read(&env.path("prompts"))
        .split("\n--\n")
        .filter(|p| !p.trim().is_empty())
        .map(str::to_owned)
        .collect();
    (sessions, prompts)
}

/// Runs `up web --once` on a [`handoff_agent`] that does not hang.
fn handoff_run(env: &Env, settings: &str, input: u32) -> (PathBuf, Vec<String>, Vec<String>) {
    let root = handoff_agent(env, settings, input, false);
    up(env, &root, None, &["web", "--once"]).expect(0);
    let (sessions, prompts) = handoff_seen(env);
    (root, sessions, prompts)
}

/// Checks a run of [`handoff_run`] that handed off after each clean turn:
/// kickoff and handoff on session A, the next work and its handoff on a
/// fresh session B given A's note, the note published, the lineage on comm.
#[track_caller]
fn assert_handed_off(env: &Env, root: &Path, sessions: &[String], prompts: &[String]) {
    assert_eq!(sessions.len(), 4, "{sessions:?}");
    let a = sessions[0].split_once(' ').unwrap().0;
    let b = sessions[2].split_once(' ').unwrap().0;
    assert_ne!(a, b, "no fresh session after the handoff");
    assert_eq!(
        sessions,
        [
            format!("{a} 0"),
            format!("{a} 1"),
            format!("{b} 0"),
            format!("{b} 1")
        ]
    );
    assert!(
        prompts[1].contains("handoff note in Markdown"),
        "{}",
        prompts[1]
    );
    assert!(
        prompts[2].contains("HANDOFF-NOTE-2: web page half built"),
        "the fresh session was not given the note: {}",
        prompts[2]
    );
    let note = env.git(root, &["show", "comm:artifacts/web/handoff/web.md"]);
    assert_eq!(note, "HANDOFF-NOTE-4: web page half built");
    let turns = events(env, root, "turn");
    let parents = parents(&turns);
    assert_eq!(parents, ["", "", a, ""], "{turns:?}");
    env.cn(root, &["verify"]).expect(0);
    assert_no_process_left(env);
}

#[test]
fn after_handoff_after_turns_the_session_hands_off_a_note_to_a_fresh_one() {
    let env = Env::new();
    let (root, sessions, prompts) = handoff_run(&env, "    handoff_after_turns: 1\n", 100);
    assert_handed_off(&env, &root, &sessions, &prompts);
}

#[test]
fn a_session_whose_context_passes_handoff_at_hands_off_a_note_to_a_fresh_one() {
    let env = Env::new();
    let (root, sessions, prompts) = handoff_run(&env, "    handoff_at: 0.8\n", 850);
    assert_handed_off(&env, &root, &sessions, &prompts);
    // Below the threshold nothing is handed off.
    let env = Env::new();
    let (_, sessions, _) = handoff_run(&env, "    handoff_at: 0.9\n", 850);
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_no_process_left(&env);
}

#[test]
fn an_up_killed_during_a_handoff_resumes_the_handoff_and_keeps_the_lineage() {
    let env = Env::new();
    let root = handoff_agent(&env, "    handoff_after_turns: 1\n", 100, true);
    let mut first = up_web_started(&env, &root, &env.path("pids"));
    first.kill().unwrap(); // SIGKILL during the handoff turn
    first.wait().unwrap();

    up(&env, &root, None, &["web", "--once"]).expect(0);

    let (sessions, prompts) = handoff_seen(&env);
    assert_eq!(sessions.len(), 5, "{sessions:?}");
    let a = sessions[0].split_once(' ').unwrap().0;
    let b = sessions[3].split_once(' ').unwrap().0;
    assert_ne!(a, b);
    assert_eq!(
        sessions,
        [
            format!("{a} 0"),
            format!("{a} 1"),
            format!("{a} 1"),
            format!("{b} 0"),
            format!("{b} 1")
        ]
    );
    assert!(
        prompts[2].contains("handoff note in Markdown"),
        "{}",
        prompts[2]
    );
    assert!(prompts[3].contains("HANDOFF-NOTE-3"), "{}", prompts[3]);
    let turns = events(&env, &root, "turn");
    let seen: Vec<(String, String)> = turns
        .iter()
        .map(|t| {
            let parent =
                t.3.lines()
                    .find_map(|l| l.strip_prefix("Comm-Session-Parent: "))
                    .unwrap_or("");
            (trailer(&t.3, "Outcome").to_owned(), parent.to_owned())
        })
        .collect();
    let at = |o: &str, p: &str| (o.to_owned(), p.to_owned());
    assert_eq!(
        seen,
        [
            at("success", ""),
            at("interrupted (up died)", ""),
            at("success", ""),
            at("success", a),
            at("success", "")
        ]
    );
    env.cn(&root, &["verify"]).expect(0);
    assert_no_process_left(&env);
}
