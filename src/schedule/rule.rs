//! A plan's `rrule`, `dtstart` and `exdates`: an RFC 5545 recurrence rule
//! in the plan's timezone.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use rrule::{RRule, RRuleError, RRuleSet, Unvalidated};

use super::series::{Series, wall_instant};

/// What can be wrong with a plan's recurrence rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("invalid rrule: {message}")]
    Rule { message: String },
    #[error("`{}` is not a local date and time", value.escape_debug())]
    Time { value: String },
    #[error("{value} does not exist in {tz}: the clocks skip it")]
    Skipped { value: String, tz: Tz },
    #[error("the rrule never fires: no date matches it")]
    NeverFires,
    #[error("{value} is not an occurrence of the rule")]
    NotAnOccurrence { value: String },
}

impl RuleError {
    /// A one-line suggestion for fixing the input.
    pub fn hint(&self) -> &'static str {
        match self {
            RuleError::Rule { .. } => {
                "an RFC 5545 rule such as `FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH` or \
                 `FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1`"
            }
            RuleError::Time { .. } => {
                "write the local time without an offset, e.g. `2026-12-01T09:30:00`: \
                 it is read in `timezone`"
            }
            RuleError::Skipped { .. } => "choose a time outside the daylight-saving jump",
            RuleError::NeverFires => "check the days against the months: e.g. February has no 30th",
            RuleError::NotAnOccurrence { .. } => {
                "an exdate must be a start the rule yields, at the same local time as `dtstart`"
            }
        }
    }
}

impl Series {
    /// The series of a plan's `rrule` from `dtstart` (local wall time in
    /// `tz`), without the starts at `exdates` (local wall times too).
    pub fn from_rule(
        rule: &str,
        dtstart: &str,
        exdates: &[String],
        tz: Tz,
    ) -> Result<Series, RuleError> {
        let wall = parse_wall(dtstart)?;
        let start = wall_instant(tz, wall).map_err(|_| RuleError::Skipped {
            value: dtstart.to_owned(),
            tz,
        })?;
        let rule = parse_rule(rule, tz).map_err(|message| RuleError::Rule { message })?;
        let set = rule
            .build(start.with_timezone(&rrule::Tz::Tz(tz)))
            .map_err(|error| RuleError::Rule {
                message: describe(&error),
            })?;
        let Some(first) = (&set).into_iter().next() else {
            return Err(RuleError::NeverFires);
        };
        let mut excluded = Vec::with_capacity(exdates.len());
        for text in exdates {
            let instant = wall_instant(tz, parse_wall(text)?)
                .map_err(|_| RuleError::NotAnOccurrence {
                    value: text.clone(),
                })?
                .with_timezone(&rrule::Tz::Tz(tz));
            let occurs = instant >= first
                && (&set)
                    .into_iter()
                    .take_while(|start| *start <= instant)
                    .any(|start| start == instant);
            if !occurs {
                return Err(RuleError::NotAnOccurrence {
                    value: text.clone(),
                });
            }
            excluded.push(instant);
        }
        Ok(Series {
            tz,
            label: format!("`{}` from {}", rule_text(&set), wall.format("%FT%T")),
            set: set.set_exdates(excluded),
            length: None,
            changes: BTreeMap::new(),
            ranges: BTreeMap::new(),
        })
    }
}

/// The set's rule as written back by the crate, for messages.
fn rule_text(set: &RRuleSet) -> String {
    set.get_rrule()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a local date and time: `2026-12-01T09:30:00`, `2026-12-01T09:30`
/// or iCalendar's `20261201T093000`.
pub(super) fn parse_wall(text: &str) -> Result<NaiveDateTime, RuleError> {
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y%m%dT%H%M%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text.trim(), format).ok())
        .ok_or_else(|| RuleError::Time {
            value: text.to_owned(),
        })
}

/// Parses an RRULE value (with or without `RRULE:`) evaluated in `tz`.
///
/// RFC 5545 wants UNTIL in UTC when DTSTART has a zone, but calendars and
/// people also write it as a local time or a date (through the end of that
/// day); the crate would read those in the machine's own zone, so they are
/// converted from `tz` first.
pub(super) fn parse_rule(text: &str, tz: Tz) -> Result<RRule<Unvalidated>, String> {
    let text = text.trim();
    let text = text.strip_prefix("RRULE:").unwrap_or(text);
    let parts: Vec<String> = text
        .split(';')
        .map(|part| match part.split_once('=') {
            Some((key, value)) if key.eq_ignore_ascii_case("UNTIL") => {
                format!(
                    "UNTIL={}",
                    utc_until(value, tz).unwrap_or_else(|| value.to_owned())
                )
            }
            _ => part.to_owned(),
        })
        .collect();
    RRule::from_str(&parts.join(";")).map_err(|error| describe(&error))
}

/// A local UNTIL (date or date-time) as the UTC date-time RFC 5545 wants.
fn utc_until(value: &str, tz: Tz) -> Option<String> {
    if value.ends_with(['Z', 'z']) {
        return None;
    }
    let wall = match value.len() {
        8 => chrono::NaiveDate::parse_from_str(value, "%Y%m%d")
            .ok()?
            .and_hms_opt(23, 59, 59)?,
        _ => NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").ok()?,
    };
    let instant = wall_instant(tz, wall).unwrap_or_else(|moved| moved);
    Some(instant.to_utc().format("%Y%m%dT%H%M%SZ").to_string())
}

/// The crate's message without its "RRule parsing error:" prefix.
fn describe(error: &RRuleError) -> String {
    let message = match error {
        RRuleError::ParserError(error) => error.to_string(),
        RRuleError::ValidationError(error) => error.to_string(),
        other @ RRuleError::IterError(_) => other.to_string(),
    };
    message.trim_end_matches('.').to_owned()
}
