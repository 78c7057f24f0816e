//! What the agents cost: `comm-node usage` answered from the running
//! totals `usage/<domain>.yaml` on the comm tip (never a history walk),
//! the price table for CLIs that report no cost (`prices`), and the scan
//! of transcripts of sessions run by hand (`scan`). Reads state; the scan
//! writes only through `runtime::usage::record_turn`. Never prints.

mod cache;
pub mod prices;
pub mod scan;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::comm::{CommError, COMM_REF};
use crate::git::Repo;
use crate::runtime::{Totals, Usage};

/// The breakdown a report is by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum By {
    Domain,
    Task,
    Day,
    Model,
}

impl By {
    pub const NAMES: &'static [&'static str] = &["domain", "task", "day", "model"];

    pub fn parse(text: &str) -> Option<By> {
        Some(match text {
            "domain" => By::Domain,
            "task" => By::Task,
            "day" => By::Day,
            "model" => By::Model,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            By::Domain => "domain",
            By::Task => "task",
            By::Day => "day",
            By::Model => "model",
        }
    }
}

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SpendError {
    #[error("{message}")]
    Unanswerable { message: String, hint: String },
    #[error(transparent)]
    Comm(#[from] CommError),
    #[error("{0}")]
    Io(String),
}

/// The label of the row holding what no entry of a breakdown holds (turns
/// with no task; turns recorded before the breakdowns per day and model).
pub const REST_TASK: &str = "(no task)";
pub const REST_UNDATED: &str = "(undated)";

/// One row of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub key: String,
    #[serde(flatten)]
    pub totals: Figures,
}

/// Totals as a report shows them: every field, and whether any part is
/// an estimate.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub turns: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cost_usd: f64,
    /// The part of `cost_usd` priced from the price table.
    pub priced_cost_usd: f64,
    /// Turns read from transcripts (their tokens are estimates).
    pub transcript_turns: u64,
    /// Whether any figure is an estimate (priced, or from transcripts).
    pub estimated: bool,
}

impl From<&Totals> for Figures {
    fn from(t: &Totals) -> Figures {
        Figures {
            turns: t.turns,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            cache_read_tokens: t.cache_read_tokens,
            cache_write_tokens: t.cache_write_tokens,
            cost_usd: round(t.cost_usd),
            priced_cost_usd: round(t.priced_cost_usd),
            transcript_turns: t.transcript_turns,
            estimated: t.priced_cost_usd > 0.0 || t.transcript_turns > 0,
        }
    }
}

/// Rounds sums of costs to a millionth of a dollar (what events write).
fn round(usd: f64) -> f64 {
    (usd * 1e6).round() / 1e6
}

/// A usage report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub by: By,
    /// The first UTC day counted (`--since`), if not all.
    pub since: Option<String>,
    pub rows: Vec<Row>,
    pub total: Figures,
}

/// Every domain's totals on the comm tip, by domain, with everything
/// their files hold (the scan's `scanned:` too).
pub fn read_totals(repo: &Repo) -> Result<BTreeMap<String, Usage>, CommError> {
    let Some(tip) = repo.ref_tip(COMM_REF)? else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    for (name, blob) in repo.list_blobs_at(tip, crate::runtime::usage::DIR)? {
        let Some(domain) = name.strip_suffix(".yaml") else {
            continue;
        };
        let bytes = repo.blob(blob)?;
        let usage: Usage = serde_yaml::from_slice(&bytes).map_err(|e| {
            CommError::invalid(
                format!("usage/{name} on comm does not parse: {e}"),
                "run `comm-node verify` to find the event that wrote it",
            )
        })?;
        out.insert(domain.to_owned(), usage);
    }
    Ok(out)
}

/// The report `by` a breakdown, counting from UTC day `since` (`YYYY-MM-DD`) on.
pub fn report(repo: &Repo, by: By, since: Option<&str>) -> Result<Report, SpendError> {
    let kind = match (by, since) {
        (By::Task, _) => Some('t'),
        (By::Model, _) => Some('m'),
        (By::Day, _) | (By::Domain, Some(_)) => Some('d'),
        (By::Domain, None) => None,
    };
    let totals = cache::totals_for_report(repo, kind)?;
    summarize(&totals, by, since)
}

/// The report of `totals` (see [`report`]).
pub fn summarize(
    totals: &BTreeMap<String, Usage>,
    by: By,
    since: Option<&str>,
) -> Result<Report, SpendError> {
    let mut rows: BTreeMap<String, Totals> = BTreeMap::new();
    let mut grand = Totals::default();
    if since.is_some() && matches!(by, By::Task | By::Model) {
        return Err(SpendError::Unanswerable {
            message: format!(
                "`--by {} --since` cannot be answered: the totals on comm keep days per domain, not per {} and day",
                by.as_str(),
                by.as_str()
            ),
            hint: format!(
                "drop --since for all-time totals per {}, or use `--by day --since ...` or `--by domain --since ...`",
                by.as_str()
            ),
        });
    }
    for (domain, usage) in totals {
        let mut whole = usage.totals();
        if let Some(since) = since {
            whole = Totals::default();
            for (_, t) in usage.by_day.range(since.to_owned()..) {
                whole.merge(t);
            }
        }
        grand.merge(&whole);
        let (parts, rest_label) = match by {
            By::Domain => {
                rows.insert(domain.clone(), whole);
                continue;
            }
            By::Task => (&usage.by_task, REST_TASK),
            By::Day => (&usage.by_day, REST_UNDATED),
            By::Model => (&usage.by_model, REST_UNDATED),
        };
        let mut counted = Totals::default();
        for (key, t) in parts {
            if since.is_some_and(|s| key.as_str() < s) {
                continue;
            }
            rows.entry(key.clone()).or_default().merge(t);
            counted.merge(t);
        }
        let rest = minus(&whole, &counted);
        if rest.turns > 0 {
            rows.entry(rest_label.to_owned()).or_default().merge(&rest);
        }
    }
    Ok(Report {
        by,
        since: since.map(str::to_owned),
        rows: rows
            .iter()
            .map(|(key, t)| Row {
                key: key.clone(),
                totals: t.into(),
            })
            .collect(),
        total: (&grand).into(),
    })
}

fn minus(a: &Totals, b: &Totals) -> Totals {
    Totals {
        turns: a.turns.saturating_sub(b.turns),
        input_tokens: a.input_tokens.saturating_sub(b.input_tokens),
        output_tokens: a.output_tokens.saturating_sub(b.output_tokens),
        cache_read_tokens: a.cache_read_tokens.saturating_sub(b.cache_read_tokens),
        cache_write_tokens: a.cache_write_tokens.saturating_sub(b.cache_write_tokens),
        cost_usd: (a.cost_usd - b.cost_usd).max(0.0),
        priced_cost_usd: (a.priced_cost_usd - b.priced_cost_usd).max(0.0),
        transcript_turns: a.transcript_turns.saturating_sub(b.transcript_turns),
    }
}

/// The first UTC day `--since WHEN` counts: a date (`2026-12-01`) or a
/// duration back from `now` (`7d`: the day 7 days ago, whole).
pub fn parse_since(text: &str, now: i64) -> Result<String, String> {
    let text = text.trim();
    if text.len() == 10 && text.as_bytes()[4] == b'-' {
        return match crate::clock::parse_rfc3339(&format!("{text}T00:00:00Z")) {
            // Round trip: 2026-02-31 is no day.
            Some(t) if crate::clock::format_rfc3339(t).starts_with(text) => Ok(text.to_owned()),
            _ => Err(format!("`{text}` is not a date (use YYYY-MM-DD)")),
        };
    }
    let secs = crate::clock::parse_duration(text)
        .map_err(|_| format!("`{text}` is neither a date (2026-12-01) nor a duration (7d, 12h)"))?;
    let at = now.saturating_sub(i64::try_from(secs).unwrap_or(i64::MAX));
    if at < 0 {
        return Err(format!("`{text}` reaches back before 1970"));
    }
    Ok(crate::clock::format_rfc3339(at)[..10].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_date_or_a_duration() {
        let now = 1_796_000_000; // 2026-11-30 00:53:20 UTC
        assert_eq!(parse_since("2026-12-01", now).unwrap(), "2026-12-01");
        assert_eq!(parse_since("7d", now).unwrap(), "2026-11-23");
        assert_eq!(parse_since("1h", now).unwrap(), "2026-11-29");
        for bad in ["2026-13-01", "2026-02-31", "yesterday", "7x", ""] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
