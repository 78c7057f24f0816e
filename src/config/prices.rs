//! The `prices:` section of comm.yaml: US dollars per million tokens for
//! models whose CLI reports no cost (Codex), or whose turns are read from
//! transcripts. An entry replaces the built-in table's entry of the same
//! name (`spend::prices`); this module only parses and validates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Loaded;

/// Highest price accepted, in US dollars per million tokens (a typo guard:
/// the dearest published model costs a few hundred).
pub const MAX_PRICE: f64 = 10_000.0;

/// What a model costs, in US dollars per million tokens of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Input tokens not read from the cache.
    pub input: f64,
    pub output: f64,
    /// Input tokens read from the prompt cache.
    pub cache_read: f64,
    /// Input tokens written to the prompt cache.
    pub cache_write: f64,
}

// Prices are validated finite, so equality is an equivalence.
impl Eq for Price {}

/// The `prices:` section, by model name.
pub type Prices = BTreeMap<String, Price>;

/// Reports each bad entry of `prices:` through `err(path, message, hint)`.
pub(super) fn check(loaded: &Loaded, err: &mut dyn FnMut(String, String, &str)) {
    for (model, price) in &loaded.config.prices {
        if model.trim().is_empty() || model.contains(char::is_whitespace) {
            err(
                format!("prices.{model}"),
                format!("`{model}` is not a model name"),
                "name the model as its CLI reports it, e.g. `gpt-5.1-codex`",
            );
        }
        let fields = [
            ("input", price.input),
            ("output", price.output),
            ("cache_read", price.cache_read),
            ("cache_write", price.cache_write),
        ];
        for (field, value) in fields {
            if !value.is_finite() || !(0.0..=MAX_PRICE).contains(&value) {
                err(
                    format!("prices.{model}.{field}"),
                    format!("price `{value}` is not between 0 and {MAX_PRICE} dollars per million tokens"),
                    "give US dollars per million tokens, e.g. `input: 1.25`",
                );
            }
        }
    }
}
