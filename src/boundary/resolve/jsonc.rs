//! tsconfig's JSON dialect: comments and trailing commas.

/// JSON with comments and trailing commas (tsconfig's dialect) → JSON.
pub(super) fn strip_jsonc(text: &str) -> String {
    let without_comments = scan_json(text, |c, rest, out| match (c, rest.first()) {
        ('/', Some('/')) => rest.iter().position(|&c| c == '\n').unwrap_or(rest.len()),
        ('/', Some('*')) => {
            let end = rest.windows(2).skip(1).position(|w| w == ['*', '/']);
            end.map_or(rest.len(), |e| e + 3)
        }
        _ => {
            out.push(c);
            0
        }
    });
    scan_json(&without_comments, |c, rest, out| {
        let next = rest.iter().find(|c| !c.is_whitespace());
        if !(c == ',' && matches!(next, Some('}') | Some(']'))) {
            out.push(c);
        }
        0
    })
}

/// Copies `text`, passing each character outside string literals (and the
/// rest of the input) to `visit`, which writes what it keeps and returns
/// how many of the following characters to skip.
fn scan_json(text: &str, mut visit: impl FnMut(char, &[char], &mut String) -> usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' {
                out.extend(chars.get(i + 1));
                i += 1;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else {
            i += visit(c, &chars[i + 1..], &mut out);
        }
        i += 1;
    }
    out
}
