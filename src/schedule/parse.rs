//! Reading a crontab line into a croner pattern.
//!
//! croner's own parser is more liberal than crontab: it takes a year field,
//! replaces month and weekday names anywhere in the line, and accepts a bare
//! `L` in the day-of-week field that then never matches. So the line is
//! checked and normalized here, field by field, and croner only ever sees
//! six numeric fields.

use chrono::NaiveDate;
use croner::Cron;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};

use super::JobKind;
use super::error::{Field, ScheduleError};

/// A parsed line: its normalized fields and how it meets DST transitions.
pub(super) struct Parsed {
    pub(super) kind: JobKind,
    pub(super) fields: [String; 6],
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Parses a 5-field crontab line, a 6-field line with seconds first, or an
/// `@nickname`.
pub(super) fn parse(line: &str) -> Result<Parsed, ScheduleError> {
    let line = line.trim();
    if line.is_empty() {
        return Err(ScheduleError::Empty);
    }
    let line = match line.strip_prefix('@') {
        Some(name) => expand_nickname(name)?,
        None => line,
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let written: [&str; 6] = match *words.as_slice() {
        // A 5-field line fires on the minute, at second 0.
        [minute, hour, dom, month, dow] => ["0", minute, hour, dom, month, dow],
        [second, minute, hour, dom, month, dow] => [second, minute, hour, dom, month, dow],
        _ => return Err(ScheduleError::FieldCount { found: words.len() }),
    };

    let mut fields: [String; 6] = Default::default();
    for ((field, text), out) in Field::ALL.into_iter().zip(written).zip(&mut fields) {
        *out = normalize(field, text)?;
    }

    let pattern = build(&fields, &written)?;
    never_fires_check(&pattern, line)?;
    Ok(Parsed {
        kind: job_kind(&fields[1], &fields[2]),
        fields,
    })
}

/// Expands Vixie cron's `@` nicknames that name a time.
fn expand_nickname(name: &str) -> Result<&'static str, ScheduleError> {
    let expanded = match name.to_ascii_lowercase().as_str() {
        "yearly" | "annually" => "0 0 1 1 *",
        "monthly" => "0 0 1 * *",
        "weekly" => "0 0 * * 0",
        "daily" | "midnight" => "0 0 * * *",
        "hourly" => "0 * * * *",
        _ => {
            return Err(ScheduleError::UnknownNickname {
                name: name.to_string(),
            });
        }
    };
    Ok(expanded)
}

/// Vixie cron's rule: a job follows elapsed time, not the wall clock, when
/// its minute or hour field uses `*` (bare or stepped, as in `*/15`).
fn job_kind(minute: &str, hour: &str) -> JobKind {
    if minute.contains('*') || hour.contains('*') {
        JobKind::Wildcard
    } else {
        JobKind::FixedTime
    }
}

/// Upper-cases a field, replaces names by numbers and refuses anything
/// croner would misread.
fn normalize(field: Field, text: &str) -> Result<String, ScheduleError> {
    let invalid = |reason: String| ScheduleError::InvalidField {
        field,
        value: text.to_string(),
        reason,
    };
    let upper = text.to_ascii_uppercase();
    // Quartz writes `?` for "no specific value"; it means `*` here.
    if upper == "?" && matches!(field, Field::DayOfMonth | Field::DayOfWeek) {
        return Ok("*".to_string());
    }

    let mut out = String::with_capacity(upper.len());
    let mut rest = upper.as_str();
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_alphabetic() {
            let end = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let (word, tail) = rest.split_at(end);
            out.push_str(&replace_name(field, word, out.ends_with('-')).map_err(invalid)?);
            rest = tail;
        } else if c.is_ascii_digit()
            || "*,-/".contains(c)
            || (c == '#' && field == Field::DayOfWeek)
        {
            out.push(c);
            rest = &rest[1..];
        } else {
            return Err(invalid(format!(
                "unexpected character `{}`",
                c.escape_debug()
            )));
        }
    }

    for part in out.split(',') {
        if part.is_empty() {
            return Err(invalid("empty list item".to_string()));
        }
        // croner takes a lone `L` here and then never matches it.
        if field == Field::DayOfWeek && part == "L" {
            return Err(invalid(
                "a lone `L` is ambiguous; write `5L` or `FRI#L` for the last Friday".to_string(),
            ));
        }
    }
    check_values(field, &out).map_err(invalid)?;
    Ok(out)
}

/// Checks that the field's values (not its steps or `#` counts) are in range,
/// to say so more plainly than croner does.
fn check_values(field: Field, normalized: &str) -> Result<(), String> {
    let (low, high) = field.bounds();
    let mut previous = None;
    let mut chars = normalized.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if !c.is_ascii_digit() {
            previous = Some(c);
            continue;
        }
        let mut end = start + 1;
        while let Some(&(index, _)) = chars.peek().filter(|(_, c)| c.is_ascii_digit()) {
            end = index + 1;
            chars.next();
        }
        let number = &normalized[start..end];
        let in_range = number
            .parse::<u32>()
            .is_ok_and(|n| (low..=high).contains(&n));
        if !in_range && !matches!(previous, Some('/' | '#')) {
            return Err(format!("{number} is outside {low}-{high}"));
        }
    }
    Ok(())
}

/// Replaces a month or weekday name by its number, and keeps the `L` and `W`
/// markers where they mean something.
fn replace_name(field: Field, word: &str, after_dash: bool) -> Result<String, String> {
    let position = |names: &[&str]| names.iter().position(|name| *name == word);
    match field {
        Field::Month => {
            if let Some(index) = position(&MONTHS) {
                return Ok((index + 1).to_string());
            }
        }
        Field::DayOfWeek => {
            // `FRI-SUN` must end at 7, not at 0, to be a valid range.
            if word == "SUN" && after_dash {
                return Ok("7".to_string());
            }
            if let Some(index) = position(&WEEKDAYS) {
                return Ok(index.to_string());
            }
            if word == "L" {
                return Ok(word.to_string());
            }
        }
        Field::DayOfMonth => {
            if matches!(word, "L" | "W" | "LW") {
                return Ok(word.to_string());
            }
        }
        Field::Second | Field::Minute | Field::Hour => {}
    }
    Err(format!("unknown name `{}`", word.escape_debug()))
}

/// Hands the normalized fields to croner.
pub(super) fn build(fields: &[String; 6], written: &[&str; 6]) -> Result<Cron, ScheduleError> {
    let [_, _, _, dom, _, dow] = fields;
    // Vixie cron ORs day-of-month and day-of-week when both are restricted,
    // and ANDs them when either starts with `*`. croner ORs by default but
    // counts only a bare `*` as unrestricted, so `*/2` must ask for AND.
    let dom_and_dow = dom.starts_with('*') || dow.starts_with('*');
    let parser = CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Disallowed)
        .dom_and_dow(dom_and_dow)
        .build();
    parser.parse(&fields.join(" ")).map_err(|error| {
        // croner does not say which field it choked on: find the first one
        // that fails on its own.
        let culprit = (0..fields.len()).find(|&index| {
            let alone: Vec<&str> = (0..fields.len())
                .map(|i| if i == index { fields[i].as_str() } else { "*" })
                .collect();
            parser.parse(&alone.join(" ")).is_err()
        });
        let index = culprit.unwrap_or(0);
        ScheduleError::InvalidField {
            field: Field::ALL[index],
            value: written[index].to_string(),
            reason: describe(&error),
        }
    })
}

/// croner's error message, trimmed to fit after a colon.
fn describe(error: &CronError) -> String {
    let message = match error {
        CronError::ComponentError(message)
        | CronError::InvalidPattern(message)
        | CronError::IllegalCharacters(message) => message.clone(),
        other => other.to_string(),
    };
    let message = message.trim_end_matches('.');
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "malformed".to_string(),
    }
}

/// Refuses a pattern no calendar date matches, like `0 0 30 2 *`.
///
/// The Gregorian calendar, weekdays included, repeats every 400 years, and
/// croner searches up to the year 5000: a pattern without a match from 2000
/// on has none at all.
fn never_fires_check(pattern: &Cron, line: &str) -> Result<(), ScheduleError> {
    let origin = NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    match pattern.find_next_occurrence(&origin, true) {
        Ok(_) => Ok(()),
        Err(_) => Err(ScheduleError::NeverFires {
            cron: line.to_string(),
        }),
    }
}
