//! Plan durations: `45s`, `30m`, `1h30m`, `2h15m30s`.

use std::fmt::Write as _;
use std::time::Duration;

/// Parses a duration written as hours, minutes and seconds, each at most
/// once and in that order. Returns a message saying what is wrong.
pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration".to_owned());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut last_unit = 0; // 0 none, 3 h, 2 m, 1 s: units must descend
    for c in trimmed.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let (rank, seconds) = match c {
            'h' => (3, 3600),
            'm' => (2, 60),
            's' => (1, 1),
            _ => return Err(format!("`{text}` is not a duration: unexpected `{c}`")),
        };
        if digits.is_empty() {
            return Err(format!(
                "`{text}` is not a duration: `{c}` needs a number before it"
            ));
        }
        if last_unit != 0 && rank >= last_unit {
            return Err(format!(
                "`{text}` is not a duration: units go h, m, s, each once"
            ));
        }
        let value: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is too large"))?;
        total = value
            .checked_mul(seconds)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{text}` is too large"))?;
        digits.clear();
        last_unit = rank;
    }
    if !digits.is_empty() {
        return Err(format!(
            "`{text}` needs a unit: s, m or h (e.g. `{digits}s`)"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Formats a duration the way plans write it (`1h30m`, `45s`, `0s`).
pub fn format(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if m > 0 {
        let _ = write!(out, "{m}m");
    }
    if s > 0 || out.is_empty() {
        let _ = write!(out, "{s}s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        for (text, secs) in [
            ("45s", 45),
            ("30m", 1800),
            ("1h30m", 5400),
            ("2h15m30s", 8130),
            ("0s", 0),
            ("90s", 90),
        ] {
            assert_eq!(parse(text), Ok(Duration::from_secs(secs)), "{text}");
        }
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format(Duration::from_secs(0)), "0s");
        assert_eq!(format(Duration::from_secs(3605)), "1h5s");
    }

    #[test]
    fn rejects_malformed() {
        for text in [
            "",
            "30",
            "m",
            "1x",
            "30m1h",
            "1m1m",
            "-5s",
            "99999999999999999999h",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
