//! The report's cache under `.git/comm-node/` (`usage-v2`): each domain's
//! totals and breakdowns from `usage/<domain>.yaml`, as tab-separated
//! lines stamped with the blob they were read from. Parsing a megabyte of
//! YAML takes tens of milliseconds; these lines are read in a few, and a
//! report parses only the breakdown it shows. A domain whose blob changed
//! is read from comm again; the others' lines are kept as they are.
//! Rebuildable: delete it and nothing is lost.

use std::collections::{BTreeMap, HashMap};

use crate::cachefile::{escape, unescape, write_atomic};
use crate::comm::{CommError, COMM_REF};
use crate::git::Repo;
use crate::runtime::{Totals, Usage};

/// The cache's file name (and first line).
pub const CACHE: &str = "usage-v2";

/// Every domain's totals on the comm tip, with only the breakdown marked
/// by `kind` filled in (`t` tasks, `d` days, `m` models; `None`: none).
pub fn totals_for_report(
    repo: &Repo,
    kind: Option<char>,
) -> Result<BTreeMap<String, Usage>, CommError> {
    let Some(tip) = repo.ref_tip(COMM_REF)? else {
        return Ok(BTreeMap::new());
    };
    let path = repo.state_path(CACHE);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let cached = blocks(&text);
    let mut out = BTreeMap::new();
    let mut fresh: Vec<(String, String, String)> = Vec::new();
    let mut changed = false;
    for (name, blob) in repo.list_blobs_at(tip, crate::runtime::usage::DIR)? {
        let Some(domain) = name.strip_suffix(".yaml") else {
            continue;
        };
        let id = blob.to_string();
        let block = match cached.get(domain) {
            Some((b, block)) if *b == id => (*block).to_owned(),
            _ => {
                changed = true;
                let bytes = repo.blob(blob)?;
                let usage: Usage = serde_yaml::from_slice(&bytes).map_err(|e| {
                    CommError::invalid(
                        format!("usage/{name} on comm does not parse: {e}"),
                        "run `comm-node verify` to find the event that wrote it",
                    )
                })?;
                block_of(&usage)
            }
        };
        out.insert(domain.to_owned(), parse_block(domain, &block, kind));
        fresh.push((domain.to_owned(), id, block));
    }
    changed |= cached.len() != fresh.len();
    if changed {
        let mut text = format!("{CACHE}\n");
        for (domain, id, block) in &fresh {
            text.push_str(&format!("D\t{}\t{id}\n{block}", escape(domain)));
        }
        // A cache that cannot be written only costs the next call time.
        let _ = write_atomic(&path, &text);
    }
    Ok(out)
}

/// The cache's blocks by domain: (blob id, the lines after its `D` line).
fn blocks(text: &str) -> HashMap<String, (&str, &str)> {
    let mut out = HashMap::new();
    let Some(body) = text.strip_prefix(CACHE).and_then(|t| t.strip_prefix('\n')) else {
        return out;
    };
    let mut rest = body;
    while let Some(line_end) = rest.find('\n') {
        let head = &rest[..line_end];
        let Some(head) = head.strip_prefix("D\t") else {
            return HashMap::new();
        };
        let Some((domain, blob)) = head.split_once('\t') else {
            return HashMap::new();
        };
        let after = &rest[line_end + 1..];
        let end = after.find("\nD\t").map_or(after.len(), |i| i + 1);
        out.insert(unescape(domain), (blob, &after[..end]));
        rest = &after[end..];
    }
    out
}

fn fields(t: &Totals) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        t.turns,
        t.input_tokens,
        t.output_tokens,
        t.cache_read_tokens,
        t.cache_write_tokens,
        t.cost_usd,
        t.priced_cost_usd,
        t.transcript_turns
    )
}

/// A domain's lines: `T` its totals, then `t`, `d`, `m` per task, day, model.
fn block_of(u: &Usage) -> String {
    let mut out = format!("T\t{}\n", fields(&u.totals()));
    for (kind, map) in [('t', &u.by_task), ('d', &u.by_day), ('m', &u.by_model)] {
        for (key, t) in map {
            out.push_str(&format!("{kind}\t{}\t{}\n", escape(key), fields(t)));
        }
    }
    out
}

fn parse_fields(text: &str) -> Totals {
    let mut f = text.split('\t');
    let mut n = || f.next().unwrap_or_default();
    let u = |s: &str| s.parse::<u64>().unwrap_or(0);
    let x = |s: &str| s.parse::<f64>().unwrap_or(0.0);
    Totals {
        turns: u(n()),
        input_tokens: u(n()),
        output_tokens: u(n()),
        cache_read_tokens: u(n()),
        cache_write_tokens: u(n()),
        cost_usd: x(n()),
        priced_cost_usd: x(n()),
        transcript_turns: u(n()),
    }
}

fn parse_block(domain: &str, block: &str, kind: Option<char>) -> Usage {
    let mut usage = Usage {
        domain: domain.to_owned(),
        ..Usage::default()
    };
    for line in block.lines() {
        let mut chars = line.chars();
        let k = chars.next();
        if k == Some('T') {
            usage.set_totals(&parse_fields(&line[2..]));
            continue;
        }
        if k.is_none() || k != kind {
            continue;
        }
        let Some((key, rest)) = line[2..].split_once('\t') else {
            continue;
        };
        let map = match k {
            Some('t') => &mut usage.by_task,
            Some('d') => &mut usage.by_day,
            _ => &mut usage.by_model,
        };
        map.insert(unescape(key), parse_fields(rest));
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_reads_back_what_it_was_made_of() {
        let t = |n: u64| Totals {
            turns: n,
            input_tokens: n * 10,
            output_tokens: 3,
            cache_read_tokens: 4,
            cache_write_tokens: 5,
            cost_usd: 0.1 + 0.2,
            priced_cost_usd: 0.1,
            transcript_turns: 1,
        };
        let mut u = Usage {
            domain: "api".into(),
            turns: 3,
            cost_usd: 1.0 / 3.0,
            ..Usage::default()
        };
        u.by_task.insert("T-1\tx".into(), t(1));
        u.by_day.insert("2026-12-01".into(), t(2));
        u.by_model.insert("m".into(), t(3));
        let block = block_of(&u);
        let tasks = parse_block("api", &block, Some('t'));
        assert_eq!(tasks.totals(), u.totals());
        assert_eq!(tasks.by_task, u.by_task);
        assert!(tasks.by_day.is_empty() && tasks.by_model.is_empty());
        assert_eq!(parse_block("api", &block, Some('m')).by_model, u.by_model);
        let text = format!("{CACHE}\nD\tapi\tb1\n{block}D\tweb\tb2\nT\t1\t0\t0\t0\t0\t0\t0\t0\n");
        let b = blocks(&text);
        assert_eq!(b["api"], ("b1", block.as_str()));
        assert_eq!(b["web"].0, "b2");
        assert!(blocks("usage-v1\n").is_empty());
    }
}
