//! Pricing turns whose CLI reports no cost: the built-in table
//! (`prices.yaml`, embedded in the binary, with its sources and date)
//! under comm.yaml's `prices:`. A priced cost is an estimate and is
//! marked so on its event (`Comm-Cost-Source: prices`); a model neither
//! knows costs 0 and is marked `unpriced`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::config::{Price, Prices};
use crate::runtime::stream::Tokens;
use crate::runtime::usage::{CostSource, Turn};

/// The built-in table's text.
pub const TABLE: &str = include_str!("prices.yaml");

/// The built-in table, parsed once.
pub fn builtin() -> &'static Prices {
    static TABLE_PARSED: OnceLock<Prices> = OnceLock::new();
    TABLE_PARSED.get_or_init(|| serde_yaml::from_str(TABLE).expect("prices.yaml is valid"))
}

/// The price of `model` in comm.yaml's entries and the built-in table:
/// an entry matches its own name or a name extending it with `-` (a dated
/// snapshot or variant); the longest match wins, comm.yaml's on a tie.
pub fn lookup<'p>(model: &str, overrides: &'p Prices) -> Option<&'p Price> {
    let mine = best(model, overrides);
    let table = best(model, builtin());
    match (mine, table) {
        (Some((a, p)), Some((b, _))) if a >= b => Some(p),
        (Some(_), Some((_, p))) => Some(p),
        (Some((_, p)), None) | (None, Some((_, p))) => Some(p),
        (None, None) => None,
    }
}

/// The longest entry of `table` matching `model`, with its length.
fn best<'p>(model: &str, table: &'p BTreeMap<String, Price>) -> Option<(usize, &'p Price)> {
    table
        .iter()
        .filter(|(name, _)| {
            model == name.as_str()
                || model
                    .strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
        })
        .max_by_key(|(name, _)| name.len())
        .map(|(name, price)| (name.len(), price))
}

/// What `tokens` cost at `price`, in US dollars.
pub fn cost(price: &Price, tokens: &Tokens) -> f64 {
    (tokens.input as f64 * price.input
        + tokens.output as f64 * price.output
        + tokens.cache_read as f64 * price.cache_read
        + tokens.cache_write as f64 * price.cache_write)
        / 1_000_000.0
}

/// A cost as events write it: at most 6 decimals, no trailing zeros.
pub fn cost_text(usd: f64) -> String {
    let text = format!("{usd:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// Prices `turn` from the table if its CLI reported no cost: its cost
/// becomes the table's price of its tokens (`Prices`), or 0 for a model
/// the table does not know (`Unpriced`). A cost the CLI reported is kept.
pub fn price_turn(turn: &mut Turn, overrides: &Prices) {
    if turn.cost_reported {
        return;
    }
    let price = turn.model.as_deref().and_then(|m| lookup(m, overrides));
    match price {
        Some(price) => {
            let usd = cost(price, &turn.tokens);
            turn.cost_text = cost_text(usd);
            turn.cost_usd = turn.cost_text.parse().unwrap_or(0.0);
            turn.cost_source = CostSource::Prices;
        }
        None => {
            turn.cost_usd = 0.0;
            turn.cost_text = "0".to_owned();
            turn.cost_source = CostSource::Unpriced;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_table_parses_and_dated_names_find_their_entry() {
        let none = Prices::new();
        assert!(builtin().len() > 20);
        let sonnet = lookup("claude-sonnet-4-5-20250929", &none).unwrap();
        assert_eq!(sonnet.output, 15.0);
        // `gpt-5.5` is no snapshot of `gpt-5`.
        assert_eq!(lookup("gpt-5.5", &none).unwrap().input, 5.0);
        assert_eq!(lookup("gpt-5.1-codex-mini", &none).unwrap().input, 0.25);
        assert_eq!(lookup("gpt-5-codex", &none).unwrap().input, 1.25);
        assert!(lookup("gpt-50", &none).is_none());
        assert!(lookup("some-model", &none).is_none());
    }

    #[test]
    fn comm_yaml_entries_come_first() {
        let mut mine = Prices::new();
        mine.insert(
            "gpt-5".into(),
            Price {
                input: 2.0,
                output: 0.0,
                cache_read: 0.0,
                cache_write: 0.0,
            },
        );
        assert_eq!(lookup("gpt-5-2026-01-01", &mine).unwrap().input, 2.0);
        // A longer built-in entry still wins over a shorter one of comm.yaml.
        assert_eq!(lookup("gpt-5-codex", &mine).unwrap().input, 1.25);
        let t = Tokens {
            input: 1_000_000,
            output: 0,
            cache_read: 0,
            cache_write: 0,
        };
        assert_eq!(cost(lookup("gpt-5", &mine).unwrap(), &t), 2.0);
        assert_eq!(cost_text(0.0000004), "0");
        assert_eq!(cost_text(1.5), "1.5");
        assert_eq!(cost_text(0.01234567), "0.012346");
    }
}
