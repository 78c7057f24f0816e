//! The small drawing kit the charts share: HTML escaping, a time scale
//! with readable ticks, domain colours and number formats. Every string
//! that reaches the page from an event goes through [`esc`]; nothing here
//! ever emits script or an external reference.

use std::fmt::Write;

use crate::clock;

/// `text` safe inside HTML text and double- or single-quoted attributes;
/// control characters (never meaningful in an event's text) become spaces.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `text`, with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The colour of the `i`th domain (a palette readable in print and by
/// most colour-blind readers).
pub fn color(i: usize) -> &'static str {
    const PALETTE: [&str; 10] = [
        "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f",
        "#e15759", "#bab0ac",
    ];
    PALETTE[i % PALETTE.len()]
}

/// Maps a time span onto a horizontal pixel span.
#[derive(Debug, Clone, Copy)]
pub struct TimeScale {
    pub t0: i64,
    pub t1: i64,
    pub x0: f64,
    pub x1: f64,
}

impl TimeScale {
    /// A scale over `[t0, t1]` (widened to a minute when empty).
    pub fn new(t0: i64, t1: i64, x0: f64, x1: f64) -> TimeScale {
        let t1 = if t1 <= t0 { t0 + 60 } else { t1 };
        TimeScale { t0, t1, x0, x1 }
    }

    /// The x of time `t`, clamped to the span.
    pub fn x(&self, t: i64) -> f64 {
        let t = t.clamp(self.t0, self.t1);
        self.x0 + (t - self.t0) as f64 / (self.t1 - self.t0) as f64 * (self.x1 - self.x0)
    }

    /// Tick marks and labels along `y` (the axis line) down to `bottom`
    /// (grid lines), about every 120 pixels, at round intervals.
    pub fn axis(&self, out: &mut String, y: f64, top: f64) {
        let span = (self.t1 - self.t0) as f64;
        let wanted = span / ((self.x1 - self.x0) / 120.0).max(1.0);
        const STEPS: [i64; 14] = [
            1, 5, 15, 60, 300, 900, 1800, 3600, 10_800, 21_600, 43_200, 86_400, 604_800, 2_592_000,
        ];
        let step = STEPS
            .iter()
            .copied()
            .find(|s| *s as f64 >= wanted)
            .unwrap_or(31_536_000);
        let _ = write!(
            out,
            r#"<line class="axis" x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/>"#,
            self.x0, self.x1
        );
        let mut t = (self.t0 + step - 1).div_euclid(step) * step;
        while t <= self.t1 {
            let x = self.x(t);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{y:.1}"/><text class="tick" x="{x:.1}" y="{:.1}">{}</text>"#,
                y + 14.0,
                tick_label(t, step)
            );
            t += step;
        }
    }
}

/// A tick's label: the date for day steps and longer, else the time.
fn tick_label(t: i64, step: i64) -> String {
    let full = clock::format_rfc3339(t);
    if step >= 86_400 {
        full[5..10].to_owned()
    } else if step >= 60 {
        full[11..16].to_owned()
    } else {
        full[11..19].to_owned()
    }
}

/// US dollars with cents, or more digits for small sums.
pub fn usd(v: f64) -> String {
    // An empty f64 sum is -0.0.
    let v = if v == 0.0 { 0.0 } else { v };
    if v != 0.0 && v.abs() < 0.1 {
        format!("${v:.4}")
    } else {
        format!("${v:.2}")
    }
}

/// A count with thousands separated by a thin space.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// A paragraph saying a chart has nothing to draw.
pub fn empty(what: &str) -> String {
    format!(r#"<p class="empty">{}</p>"#, esc(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(esc("a\u{7}b"), "a b");
    }

    #[test]
    fn scale_maps_and_clamps() {
        let s = TimeScale::new(100, 200, 0.0, 1000.0);
        assert_eq!(s.x(150), 500.0);
        assert_eq!(s.x(50), 0.0);
        assert_eq!(s.x(300), 1000.0);
        let flat = TimeScale::new(5, 5, 0.0, 60.0);
        assert_eq!(flat.x(35), 30.0);
    }

    #[test]
    fn dollars_never_show_a_negative_zero() {
        assert_eq!(usd(Vec::<f64>::new().into_iter().sum()), "$0.00");
        assert_eq!(usd(0.0123), "$0.0123");
        assert_eq!(usd(12.5), "$12.50");
    }

    #[test]
    fn counts_and_clips() {
        assert_eq!(count(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
