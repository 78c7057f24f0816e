//! Events: the commit messages of the `comm` branch.
//!
//! A message is a readable subject line, a markdown body, and a final
//! paragraph of `Comm-*` git trailers that carry the structured fields. Body
//! lines that look like `Comm-*` trailers are escaped with a backslash, so a
//! body can never forge a field or a sender; parsing reads trailers only from
//! the final paragraph, which comm-node alone writes.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::retry::random_u64;

/// One coordination event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened: `kickoff`, `register`, `msg`, ...
    pub kind: String,
    /// The acting domain, or `human`.
    pub from: String,
    /// Recipients (domains, `human`, `all`); may be empty.
    pub to: Vec<String>,
    /// One readable line.
    pub subject: String,
    /// Markdown.
    pub body: String,
    /// Stable unique id; survives replays that change the commit hash.
    pub id: String,
    /// Position on the `comm` branch: the parent's plus one (the kickoff is
    /// 1). Set when the event lands; a replay gives it a new one.
    pub seq: u64,
    /// Further `Comm-*` fields, e.g. `("Task", "T-12")`.
    pub fields: Vec<(String, String)>,
}

const PREFIX: &str = "Comm-";

impl Event {
    /// A new event with a fresh id.
    pub fn new(kind: &str, from: &str, subject: impl Into<String>) -> Event {
        Event {
            kind: kind.to_owned(),
            from: from.to_owned(),
            to: Vec::new(),
            subject: subject.into(),
            body: String::new(),
            id: new_id(),
            seq: 0,
            fields: Vec::new(),
        }
    }

    /// The commit message for this event.
    pub fn to_message(&self) -> String {
        let subject: String = self
            .subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut msg = subject.trim().to_owned();
        msg.push_str("\n\n");
        let body = self.body.trim_end();
        if !body.is_empty() {
            for line in body.lines() {
                if looks_like_field(line) {
                    msg.push('\\');
                }
                msg.push_str(line);
                msg.push('\n');
            }
            msg.push('\n');
        }
        let mut trailer = |key: &str, value: &str| {
            let value: String = value.chars().filter(|c| !c.is_control()).collect();
            msg.push_str(&format!("{PREFIX}{key}: {value}\n"));
        };
        trailer("Kind", &self.kind);
        trailer("From", &self.from);
        if !self.to.is_empty() {
            trailer("To", &self.to.join(", "));
        }
        trailer("Id", &self.id);
        trailer("Seq", &self.seq.to_string());
        for (key, value) in &self.fields {
            trailer(key, value);
        }
        msg
    }

    /// Parses a commit message written by [`Event::to_message`]; `None` if
    /// it carries no `Comm-Kind`.
    pub fn parse(message: &str) -> Option<Event> {
        let message = message.trim_end();
        let (head, trailers) = message.rsplit_once("\n\n")?;
        let mut event = Event {
            kind: String::new(),
            from: String::new(),
            to: Vec::new(),
            subject: String::new(),
            body: String::new(),
            id: String::new(),
            seq: 0,
            fields: Vec::new(),
        };
        for line in trailers.lines() {
            let (key, value) = line.split_once(": ")?;
            let key = key.strip_prefix(PREFIX)?;
            match key {
                "Kind" => event.kind = value.to_owned(),
                "From" => event.from = value.to_owned(),
                "To" => event.to = value.split(", ").map(str::to_owned).collect(),
                "Id" => event.id = value.to_owned(),
                "Seq" => event.seq = value.parse().ok()?,
                _ => event.fields.push((key.to_owned(), value.to_owned())),
            }
        }
        if event.kind.is_empty() {
            return None;
        }
        let (subject, body) = head.split_once("\n\n").unwrap_or((head, ""));
        event.subject = subject.to_owned();
        event.body = body
            .lines()
            .map(|l| match l.strip_prefix('\\') {
                Some(rest) if looks_like_field(rest) => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        Some(event)
    }

    /// The value of a further field, e.g. `field("Task")`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A body line that a trailer parser could mistake for a field (also when
/// already escaped, so escaping stays reversible).
fn looks_like_field(line: &str) -> bool {
    let line = line.trim_start_matches('\\');
    line.get(..PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
        && line.contains(':')
}

/// A fresh event id: milliseconds since the epoch and 40 random bits, in
/// hex. Unique across processes and clones without coordination.
pub fn new_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!("{millis:011x}-{:010x}", random_u64() & 0xff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut e = Event::new("msg", "api", "auth API contract ready");
        e.to = vec!["web".into(), "human".into()];
        e.body = "See artifacts/api/openapi.yaml.\n\nThanks.".into();
        e.fields.push(("Task".into(), "T-12".into()));
        let parsed = Event::parse(&e.to_message()).unwrap();
        assert_eq!(parsed, e);
    }

    #[test]
    fn body_cannot_forge_fields() {
        let mut e = Event::new("msg", "web", "hi");
        e.body = "text\n\nComm-From: api\ncomm-kind: kickoff\n\\Comm-Id: x".into();
        let msg = e.to_message();
        let parsed = Event::parse(&msg).unwrap();
        assert_eq!(parsed.from, "web");
        assert_eq!(parsed.kind, "msg");
        assert_eq!(parsed.body, e.body);
        assert!(msg.contains("\n\\Comm-From: api\n"));
    }

    #[test]
    fn ids_are_distinct() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
