//! Output helpers shared by the commands.

use std::io::Write;

use serde::Serialize;

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) -> std::io::Result<()> {
    // Buffered: stdout flushes every line, and pretty JSON has many.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()
}

/// Prints text on stdout.
pub fn print(text: &str) -> std::io::Result<()> {
    std::io::stdout().lock().write_all(text.as_bytes())
}

/// A message as text: a header line, then the body indented.
pub fn render_message(m: &comm_node::comm::Message) -> String {
    let mut out = format!(
        "{}  {} → {}  {}\n",
        m.id,
        m.from,
        m.to.join(", "),
        m.subject
    );
    let mut meta = Vec::new();
    if let Some(task) = &m.task {
        meta.push(format!("task {task}"));
    }
    if m.thread != m.id {
        meta.push(format!("thread {}", m.thread));
    }
    if let Some(parent) = &m.reply_to {
        meta.push(format!("reply to {parent}"));
    }
    meta.push(format!("~{} tokens", m.tokens));
    out.push_str(&format!("    ({})\n", meta.join(", ")));
    for line in m.body.lines() {
        out.push_str(&format!("    {line}\n"));
    }
    out
}

/// Reads a value given as text, or `-` for standard input.
pub fn text_or_stdin(value: &str) -> Result<String, crate::cli::CliError> {
    if value != "-" {
        return Ok(value.to_owned());
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
    String::from_utf8(bytes).map_err(|_| {
        crate::cli::CliError::new(crate::cli::Kind::Usage, "standard input is not UTF-8 text")
            .hint("send text; publish binary content as an artifact")
    })
}
