//! Wall-clock time for leases and expiries, and the durations users type.
//!
//! `COMM_NODE_NOW` (seconds since the epoch) replaces the clock, so tests
//! and rehearsals can look at state "two hours later" without waiting.

use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that overrides the clock.
pub const NOW_VAR: &str = "COMM_NODE_NOW";

/// Seconds since the epoch: `COMM_NODE_NOW` when set to an integer, else the system clock.
pub fn now() -> i64 {
    if let Some(fixed) = std::env::var(NOW_VAR)
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return fixed;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Parses `90s`, `15m`, `2h`, `1d`, `1h30m` (or plain seconds) into seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a duration (use forms like 90s, 15m, 2h, 1d, 1h30m)");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(secs);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// Renders seconds compactly: `45s`, `12m`, `2h05m`, `3d4h`.
pub fn format_duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => match (s % 3600) / 60 {
            0 => format!("{}h", s / 3600),
            m => format!("{}h{m:02}m", s / 3600),
        },
        s => match (s % 86_400) / 3600 {
            0 => format!("{}d", s / 86_400),
            h => format!("{}d{h}h", s / 86_400),
        },
    }
}

/// Renders seconds since the epoch as `2026-11-23 23:45:00 UTC`.
pub fn format_timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (y, m, d) = civil_date(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

/// How far `when` is from `now`: `in 1h05m`, or `5m ago`.
pub fn format_relative(when: i64, now: i64) -> String {
    let gap = when.abs_diff(now);
    if when >= now {
        format!("in {}", format_duration(gap))
    } else {
        format!("{} ago", format_duration(gap))
    }
}

/// The proleptic Gregorian date of a day number (0 is 1970-01-01), counted
/// in 400-year eras of 146,097 days whose years start on March 1st.
fn civil_date(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468; // days from 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("42"), Ok(42));
        for bad in ["", "h", "2x", "1h30", "-5m", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_format() {
        assert_eq!(format_duration(45), "45s");
        assert_eq!(format_duration(720), "12m");
        assert_eq!(format_duration(7500), "2h05m");
        assert_eq!(format_duration(7200), "2h");
        assert_eq!(format_duration(3 * 86_400 + 4 * 3600), "3d4h");
    }

    #[test]
    fn timestamps_format() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_timestamp(1_795_476_305), "2026-11-23 23:25:05 UTC");
        assert_eq!(format_timestamp(-86_400), "1969-12-31 00:00:00 UTC");
        assert_eq!(format_relative(3900, 0), "in 1h05m");
        assert_eq!(format_relative(0, 300), "5m ago");
    }
}
