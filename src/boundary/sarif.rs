//! SARIF 2.1.0 output, the format GitHub code scanning accepts.

use serde_json::{json, Value};

use super::check::Report;

/// Describes each rule for the SARIF `tool.driver.rules` table.
const RULES: &[(&str, &str)] = &[
    ("scope", "A domain changed a file owned by another domain."),
    ("unowned", "A changed file is owned by no domain."),
    (
        "may-import",
        "An import reaches a domain that is not in may_import.",
    ),
    (
        "exports",
        "An import reaches another domain's internal file instead of its exports.",
    ),
    (
        "forbid",
        "An import crosses an edge that rules.forbid forbids.",
    ),
    (
        "external",
        "An import uses a package the domain's deny_external lists.",
    ),
];

/// The report as a SARIF log.
pub fn to_sarif(report: &Report) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|(id, text)| json!({ "id": id, "name": id, "shortDescription": { "text": text } }))
        .collect();
    let results: Vec<Value> = report
        .violations
        .iter()
        .map(|v| {
            json!({
                "ruleId": v.rule,
                "ruleIndex": RULES.iter().position(|(id, _)| *id == v.rule).unwrap_or(0),
                "level": if v.severity == "error" { "error" } else { "warning" },
                "message": { "text": format!("{} ({})", v.message, v.hint) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": v.file, "uriBaseId": "%SRCROOT%" },
                        "region": { "startLine": v.line, "startColumn": v.column }
                    }
                }]
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "comm-node",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules
            }},
            "results": results
        }]
    })
}
