//! `comm-node graph`: declared domain dependencies beside the actual ones.

use std::collections::BTreeMap;

use comm_node::boundary::rules::Rules;
use comm_node::text::count;
use serde::Serialize;

use crate::cli::commands::check::{self, Mode};
use crate::cli::{ui, CliError, Ctx};

/// Draw the domain graph: every `may_import` edge declared in comm.yaml
/// beside the imports actually found at HEAD. Edges in use are solid,
/// declared but unused ones dashed, and imports that break a rule red.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Dot,
    Mermaid,
}

/// One domain-to-domain edge.
#[derive(Debug, Default, Serialize)]
struct DomainEdge {
    from: String,
    to: String,
    /// File-level imports found along this edge.
    imports: usize,
    /// Declared in `may_import`.
    declared: bool,
    /// Imports along it that break a rule.
    violations: usize,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (repo, loaded) = ctx.load()?;
    let report = check::run_check(&repo, &loaded, &Mode::All, None)?;
    let rules = Rules::new(&loaded.config);
    let mut edges: BTreeMap<(String, String), DomainEdge> = BTreeMap::new();
    for (name, domain) in &loaded.config.domains {
        for other in &domain.may_import {
            edge(&mut edges, name, other).declared = true;
        }
    }
    for e in &report.edges {
        if let (Some(a), Some(b)) = (rules.owner(&e.from), rules.owner(&e.to)) {
            if a != b {
                edge(&mut edges, a, b).imports += 1;
            }
        }
    }
    for v in &report.violations {
        let owners = (
            rules.owner(&v.file),
            v.target.as_deref().and_then(|t| rules.owner(t)),
        );
        if let (Some(a), Some(b)) = owners {
            if a != b {
                edge(&mut edges, a, b).violations += 1;
            }
        }
    }
    let edges: Vec<DomainEdge> = edges.into_values().collect();
    let domains: Vec<&String> = loaded.config.domains.keys().collect();
    if ctx.json {
        return Ok(ui::print_json(
            &serde_json::json!({ "domains": domains, "edges": edges }),
        )?);
    }
    Ok(ui::print(&match args.format {
        Format::Dot => dot(&domains, &edges),
        Format::Mermaid => mermaid(&domains, &edges),
    })?)
}

fn edge<'e>(
    edges: &'e mut BTreeMap<(String, String), DomainEdge>,
    from: &str,
    to: &str,
) -> &'e mut DomainEdge {
    edges
        .entry((from.to_owned(), to.to_owned()))
        .or_insert_with(|| DomainEdge {
            from: from.to_owned(),
            to: to.to_owned(),
            ..DomainEdge::default()
        })
}

fn label(e: &DomainEdge) -> String {
    match (e.imports, e.declared, e.violations) {
        (_, _, v) if v > 0 => format!("{}, {v} not allowed", count(e.imports, "import")),
        (0, true, _) => "declared, unused".to_owned(),
        (n, _, _) => count(n, "import"),
    }
}

fn dot(domains: &[&String], edges: &[DomainEdge]) -> String {
    let mut out = String::from("digraph domains {\n  rankdir=LR;\n  node [shape=box];\n");
    for d in domains {
        out.push_str(&format!("  \"{d}\";\n"));
    }
    for e in edges {
        let style = if e.violations > 0 {
            "color=red, fontcolor=red"
        } else if e.imports == 0 {
            "style=dashed"
        } else {
            "color=black"
        };
        out.push_str(&format!(
            "  \"{}\" -> \"{}\" [label=\"{}\", {style}];\n",
            e.from,
            e.to,
            label(e)
        ));
    }
    out.push_str("}\n");
    out
}

fn mermaid(domains: &[&String], edges: &[DomainEdge]) -> String {
    let mut out = String::from("graph LR\n");
    for d in domains {
        out.push_str(&format!("  {d}[{d}]\n"));
    }
    let mut red = Vec::new();
    for (i, e) in edges.iter().enumerate() {
        let arrow = if e.imports == 0 && e.violations == 0 {
            "-.->"
        } else {
            "-->"
        };
        out.push_str(&format!("  {} {arrow}|{}| {}\n", e.from, label(e), e.to));
        if e.violations > 0 {
            red.push(i.to_string());
        }
    }
    if !red.is_empty() {
        out.push_str(&format!(
            "  linkStyle {} stroke:red,color:red\n",
            red.join(",")
        ));
    }
    out
}
