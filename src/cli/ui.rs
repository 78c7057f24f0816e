//! Output helpers shared by the commands, and the one way text reaches
//! the user: every human-readable line goes through [`print`] or
//! [`eprint`], which make control characters visible ([`sanitize`]), so a
//! string another domain wrote (a body, a reason, a title) can never drive
//! the terminal (set the clipboard, the title, clear the screen). `--json`
//! is data and stays exact (JSON escapes control characters anyway).

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// Whether a JSON document went to stdout already (an error then goes to
/// stderr, so that stdout stays one document).
static PRINTED_JSON: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Where output goes instead of stdout and stderr while [`capture`]
    /// runs a command (`comm-node mcp`: the text becomes a tool result).
    static CAPTURED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` with everything it prints (stdout and stderr, through this
/// module) collected into a string instead, and no standard input
/// (it is the MCP channel then). Returns what `f` returned and the text.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, String) {
    let outer = CAPTURED.with(|c| c.borrow_mut().replace(String::new()));
    let result = f();
    let text = CAPTURED.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer));
    (result, text.unwrap_or_default())
}

/// Appends to the capture when one runs (control characters made
/// visible, as on a terminal); gives `text` back otherwise.
fn captured(text: &str) -> Option<&str> {
    CAPTURED.with(|c| match c.borrow_mut().as_mut() {
        Some(buffer) => {
            buffer.push_str(&sanitize(text));
            None
        }
        None => Some(text),
    })
}

/// Reads all of standard input; refused while [`capture`] runs.
pub fn read_stdin() -> Result<Vec<u8>, crate::cli::CliError> {
    if CAPTURED.with(|c| c.borrow().is_some()) {
        return Err(crate::cli::CliError::new(
            crate::cli::Kind::Usage,
            "`-` (standard input) is not available here",
        )
        .hint("pass the text itself, or a file"));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
    Ok(bytes)
}

/// Whether [`print_json`] has printed a document.
pub fn printed_json() -> bool {
    PRINTED_JSON.load(Ordering::SeqCst)
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) -> std::io::Result<()> {
    if CAPTURED.with(|c| c.borrow().is_some()) {
        let text = serde_json::to_string_pretty(value)?;
        captured(&format!("{text}\n"));
        return Ok(());
    }
    PRINTED_JSON.store(true, Ordering::SeqCst);
    // Buffered: stdout flushes every line, and pretty JSON has many.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()
}

/// Prints text on stdout, control characters made visible.
pub fn print(text: &str) -> std::io::Result<()> {
    let Some(text) = captured(text) else {
        return Ok(());
    };
    std::io::stdout()
        .lock()
        .write_all(sanitize(text).as_bytes())
}

/// Prints text on stderr, control characters made visible.
pub fn eprint(text: &str) {
    let Some(text) = captured(text) else {
        return;
    };
    // Nothing sensible is left to do when stderr itself fails.
    let _ = std::io::stderr()
        .lock()
        .write_all(sanitize(text).as_bytes());
}

/// Writes raw bytes on stdout (an artifact); to a terminal, as text with
/// control characters made visible.
pub fn print_bytes(bytes: &[u8]) -> std::io::Result<()> {
    if captured("").is_none() {
        captured(&String::from_utf8_lossy(bytes));
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        return out.write_all(sanitize(&String::from_utf8_lossy(bytes)).as_bytes());
    }
    out.write_all(bytes)
}

/// `text` with every control character except newline and tab replaced by
/// a visible escape (`\x1b`, `\r`, `\u{9b}`), and the bidirectional
/// overrides that reorder what is shown replaced the same way.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
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
    let bytes = read_stdin()?;
    String::from_utf8(bytes).map_err(|_| {
        crate::cli::CliError::new(crate::cli::Kind::Usage, "standard input is not UTF-8 text")
            .hint("send text; publish binary content as an artifact")
    })
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn control_characters_become_visible_escapes() {
        let hostile = "a\u{1b}]52;c;aGk=\u{7}b\u{1b}[2J\r\u{9b}x\u{202e}y\n\tz";
        assert_eq!(
            sanitize(hostile),
            "a\\x1b]52;c;aGk=\\x07b\\x1b[2J\\r\\u{9b}x\\u{202e}y\n\tz"
        );
        assert!(matches!(sanitize("plain\n"), std::borrow::Cow::Borrowed(_)));
    }
}
