//! `comm-node imports [PATH...]`: the imports comm-node sees in source files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use comm_node::boundary::extract::{Extractor, BINARY_SNIFF_BYTES, MAX_FILE_BYTES};
use comm_node::boundary::{Import, ImportKind, Lang};
use serde::Serialize;

use crate::cli::{ui, CliError, Ctx, Kind};

const SUPPORTED: &str =
    ".ts .tsx .mts .cts (TypeScript), .js .jsx .mjs .cjs (JavaScript), .py .pyi (Python), .rs (Rust)";

const EXAMPLES: &str = "Examples:
  comm-node imports src/main.ts           one file
  comm-node imports services/api          every supported file under a directory
  comm-node imports --json apps/web       the same as JSON: [{file, syntax_errors, imports}]";

/// Directories never searched when a PATH is a directory.
const SKIPPED_DIRS: [&str; 3] = [".git", "node_modules", "target"];

/// Show the imports comm-node finds in source files: exactly what the
/// boundary checks see, before any resolution.
///
/// Each line is `file:line:col: kind spec`, followed by `[type]` for a
/// type-only import (TS `import type`, Python under `if TYPE_CHECKING:`) and
/// by the imported names of a Python `from M import a, b`. Kinds: import,
/// side_effect, re_export, require, dynamic, import_type (TS `import('m')` in
/// a type, always `[type]`), import_equals (TS/JS), use, mod, extern_crate
/// (Rust). Rust use trees are expanded to one line per leaf.
///
/// A directory PATH means every supported file under it (skipping .git,
/// node_modules and target). Files over 2 MiB and binary files are skipped;
/// files with syntax errors show what the parser recovered, and say when
/// imports may be missing.
#[derive(Debug, clap::Args)]
#[command(after_long_help = EXAMPLES)]
pub struct Args {
    /// Files or directories, relative to the working directory (default: `.`).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// One file's result, as printed by `--json`.
#[derive(Debug, Serialize)]
struct FileImports {
    file: String,
    syntax_errors: bool,
    /// Syntax errors hide text that may be imports (TS/JS).
    imports_may_be_missing: bool,
    imports: Vec<Import>,
    /// Why the file was not parsed (text output only).
    #[serde(skip)]
    skipped: Option<&'static str>,
}

/// A file to read: where it is and how to show it.
struct Source {
    shown: String,
    path: PathBuf,
    lang: Lang,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let mut sources = Vec::new();
    for given in &paths {
        collect(ctx, given, &mut sources)?;
    }
    sources.sort_by(|a, b| a.shown.cmp(&b.shown));
    sources.dedup_by(|a, b| a.shown == b.shown);

    let reports = extract_all(&sources)?;
    if ctx.json {
        return Ok(ui::print_json(&reports)?);
    }
    if reports.is_empty() {
        return Ok(ui::print(&format!(
            "no source files found (supported: {SUPPORTED})\n"
        ))?);
    }
    let mut out = String::new();
    for report in &reports {
        if let Some(why) = report.skipped {
            out.push_str(&format!("{}: skipped ({why})\n", report.file));
        }
        if report.imports_may_be_missing {
            out.push_str(&format!(
                "{}: could not be fully parsed: imports may be missing\n",
                report.file
            ));
        } else if report.syntax_errors {
            out.push_str(&format!(
                "{}: syntax errors; showing the imports the parser recovered\n",
                report.file
            ));
        }
        for i in &report.imports {
            out.push_str(&format!(
                "{}:{}:{}: {} {}",
                report.file,
                i.line,
                i.column,
                kind_name(i.kind),
                i.spec
            ));
            if i.type_only {
                out.push_str(" [type]");
            }
            if !i.names.is_empty() {
                out.push_str(&format!(" names: {}", i.names.join(", ")));
            }
            out.push('\n');
        }
    }
    Ok(ui::print(&out)?)
}

/// Adds the file `given`, or the supported files under the directory `given`.
fn collect(ctx: &Ctx, given: &Path, out: &mut Vec<Source>) -> Result<(), CliError> {
    let path = ctx.cwd.join(given);
    let shown = display(given);
    let meta = std::fs::metadata(&path).map_err(|e| {
        CliError::new(Kind::Usage, format!("cannot read {shown}: {e}"))
            .hint("paths are relative to the working directory (or -C DIR)")
    })?;
    if meta.is_dir() {
        return walk(&path, &shown, out);
    }
    let Some(lang) = Lang::of_path(&shown) else {
        return Err(CliError::new(
            Kind::Usage,
            format!("{shown}: comm-node does not read imports from this kind of file"),
        )
        .hint(format!("supported extensions: {SUPPORTED}")));
    };
    out.push(Source { shown, path, lang });
    Ok(())
}

/// Every supported file under `dir`, recursively. Symbolic links are not
/// followed (a link to a directory could loop).
fn walk(dir: &Path, shown: &str, out: &mut Vec<Source>) -> Result<(), CliError> {
    let mut pending = vec![(dir.to_path_buf(), shown.trim_end_matches('/').to_owned())];
    while let Some((dir, shown)) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| CliError::new(Kind::Failure, format!("cannot list {shown}: {e}")))?;
        for entry in entries {
            let entry = entry
                .map_err(|e| CliError::new(Kind::Failure, format!("cannot list {shown}: {e}")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = if shown.is_empty() || shown == "." {
                name.clone()
            } else {
                format!("{shown}/{name}")
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) {
                    pending.push((entry.path(), child));
                }
            } else if kind.is_file() {
                if let Some(lang) = Lang::of_path(&name) {
                    out.push(Source {
                        shown: child,
                        path: entry.path(),
                        lang,
                    });
                }
            }
        }
    }
    Ok(())
}

/// A path as the user wrote it, with `/` separators.
fn display(path: &Path) -> String {
    let shown = path.to_string_lossy().replace('\\', "/");
    if shown.len() > 1 {
        shown.trim_end_matches('/').to_owned()
    } else {
        shown
    }
}

/// Reads and extracts every file, on all cores; results keep `sources`' order.
fn extract_all(sources: &[Source]) -> Result<Vec<FileImports>, CliError> {
    let extractor = Extractor::new();
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(sources.len())
        .max(1);
    let mut results: Vec<(usize, Result<FileImports, CliError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(source) = sources.get(i) else {
                            break;
                        };
                        done.push((i, extract_one(&extractor, source)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![(
                        usize::MAX,
                        Err(CliError::new(Kind::Failure, "an extraction thread failed")),
                    )]
                })
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn extract_one(extractor: &Extractor, source: &Source) -> Result<FileImports, CliError> {
    let bytes = std::fs::read(&source.path)
        .map_err(|e| CliError::new(Kind::Failure, format!("cannot read {}: {e}", source.shown)))?;
    let skipped = if bytes.len() > MAX_FILE_BYTES {
        Some("larger than 2 MiB")
    } else if bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0) {
        Some("binary content")
    } else {
        None
    };
    let found = extractor.extract(source.lang, &bytes);
    Ok(FileImports {
        file: source.shown.clone(),
        syntax_errors: found.syntax_errors,
        imports_may_be_missing: found.incomplete,
        imports: found.imports,
        skipped,
    })
}

fn kind_name(kind: ImportKind) -> &'static str {
    match kind {
        ImportKind::Import => "import",
        ImportKind::SideEffect => "side_effect",
        ImportKind::ReExport => "re_export",
        ImportKind::Require => "require",
        ImportKind::Dynamic => "dynamic",
        ImportKind::ImportType => "import_type",
        ImportKind::ImportEquals => "import_equals",
        ImportKind::Use => "use",
        ImportKind::Mod => "mod",
        ImportKind::ExternCrate => "extern_crate",
    }
}
