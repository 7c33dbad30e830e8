//! A plan's `schedule` block → [`Timing`]: exactly one of `cron`, `rrule`
//! and `ics`, the timezone, the duration and what applies to every kind.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;

use super::ics_source::{self, Location};
use super::issues::Issues;
use super::model::Timing;
use super::raw::{Overlap, RawSchedule};
use super::validate::parse_duration;
use crate::schedule::{IcsQuery, Recurrence, Schedule, ScheduleError, Series, Tz, parse_timezone};

/// How late an occurrence may still start when a plan does not say.
pub const DEFAULT_STARTING_DEADLINE: Duration = Duration::from_secs(300);

/// How often the daemon fetches an `ics` URL again when a plan does not say.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(15 * 60);

/// The timing of a plan without a schedule: it runs only when asked
/// (`run --now --duration`).
pub fn unscheduled() -> Timing {
    Timing {
        schedule: None,
        timezone: Tz::UTC,
        duration: None,
        starting_deadline: DEFAULT_STARTING_DEADLINE,
        overlap: Overlap::default(),
        skip_dates: Vec::new(),
        paused: false,
        calendar: None,
    }
}

/// Where a plan's calendar comes from, and the text it was read from.
#[derive(Clone, Debug)]
pub struct CalendarUse {
    pub location: Location,
    pub refresh: Duration,
    /// The calendar's text, so that a changed calendar changes the plan's
    /// digest.
    pub text: std::sync::Arc<str>,
}

/// The plan's timing; a part that is wrong is reported and left at its
/// default, so that the rest of the plan is still checked.
pub fn check(raw: &RawSchedule, plan_path: &Path, issues: &mut Issues) -> Timing {
    let timezone = raw.timezone.as_deref().and_then(|name| {
        parse_timezone(name)
            .map_err(|e| {
                issues.error("schedule.timezone", e.to_string()).hint(
                    e.hint()
                        .unwrap_or_else(|| "an IANA name such as Europe/Berlin".to_owned()),
                );
            })
            .ok()
    });
    let zone = timezone.unwrap_or(Tz::UTC);
    let mut duration = raw
        .duration
        .as_ref()
        .and_then(|text| parse_duration(text, "schedule.duration", issues));
    if duration == Some(Duration::ZERO) {
        issues
            .error("schedule.duration", "the duration must be positive")
            .hint("e.g. `30m` or `1h30m`");
    }
    let mut timing = unscheduled();
    timing.timezone = zone;
    let kinds = [
        ("cron", raw.cron.is_some()),
        ("rrule", raw.rrule.is_some()),
        ("ics", raw.ics.is_some()),
    ];
    let given: Vec<&str> = kinds
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
    if given.len() > 1 {
        issues
            .error(
                format!("schedule.{}", given[1]),
                format!(
                    "`{}` and `{}` both say when the plan starts",
                    given[0], given[1]
                ),
            )
            .hint("keep exactly one of `cron`, `rrule` and `ics`");
    }
    only_with(
        raw.dtstart.is_some(),
        "dtstart",
        "rrule",
        raw.rrule.is_some(),
        issues,
    );
    only_with(
        raw.exdates.is_some(),
        "exdates",
        "rrule",
        raw.rrule.is_some(),
        issues,
    );
    only_with(
        raw.event.is_some(),
        "event",
        "ics",
        raw.ics.is_some(),
        issues,
    );
    only_with(
        raw.refresh.is_some(),
        "refresh",
        "ics",
        raw.ics.is_some(),
        issues,
    );

    if let Some(cron) = &raw.cron {
        timing.schedule = parse_cron(cron, zone)
            .map_err(|e| {
                issues.error("schedule.cron", e.to_string()).hint(
                    e.hint()
                        .unwrap_or_else(|| "a crontab line such as `0 9 * * MON-FRI`".to_owned()),
                );
            })
            .ok()
            .map(Recurrence::Cron);
    } else if let Some(rule) = &raw.rrule {
        timing.schedule = rule_series(raw, rule, zone, issues).map(Recurrence::Series);
    } else if let Some(ics) = &raw.ics {
        let own_lengths = raw.duration.is_none();
        if let Some((series, length, zone, calendar)) =
            calendar_series(raw, ics, timezone, own_lengths, plan_path, issues)
        {
            timing.schedule = Some(Recurrence::Series(series));
            timing.timezone = timezone.unwrap_or(zone);
            timing.calendar = Some(calendar);
            if own_lengths {
                duration = length;
            }
        }
    }
    if raw.duration.is_none() && raw.ics.is_none() {
        issues
            .error("schedule", "the schedule has no `duration`")
            .hint("add `duration: 30m`: how long each occurrence records");
    }
    timing.duration = duration.filter(|d| !d.is_zero());
    timing.starting_deadline = match &raw.starting_deadline {
        Some(text) => parse_duration(text, "schedule.starting_deadline", issues)
            .unwrap_or(DEFAULT_STARTING_DEADLINE),
        None => DEFAULT_STARTING_DEADLINE,
    };
    for (i, text) in raw.skip_dates.iter().flatten().enumerate() {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) => timing.skip_dates.push(date),
            Err(_) => issues
                .error(
                    format!("schedule.skip_dates[{i}]"),
                    format!("`{text}` is not a date"),
                )
                .hint("write dates as YYYY-MM-DD"),
        }
    }
    timing.overlap = raw.overlap.unwrap_or_default();
    timing.paused = raw.paused.unwrap_or(false);
    timing
}

/// Reports `key` given without the `kind` it belongs to.
fn only_with(present: bool, key: &str, kind: &str, kind_given: bool, issues: &mut Issues) {
    if present && !kind_given {
        issues
            .error(
                format!("schedule.{key}"),
                format!("`{key}` belongs to an `{kind}` schedule"),
            )
            .hint(format!("add `{kind}`, or remove `{key}`"));
    }
}

fn rule_series(raw: &RawSchedule, rule: &str, zone: Tz, issues: &mut Issues) -> Option<Series> {
    let Some(dtstart) = &raw.dtstart else {
        issues
            .error("schedule.rrule", "an `rrule` needs a `dtstart`")
            .hint("add `dtstart: \"2026-12-01T09:30:00\"`: the local time of the first occurrence");
        return None;
    };
    let exdates = raw.exdates.as_deref().unwrap_or_default();
    parse_rule(rule, dtstart, exdates, zone)
        .map_err(|error| {
            use crate::schedule::RuleError;
            let path = match &error {
                RuleError::Time { value } if value != dtstart => exdates
                    .iter()
                    .position(|e| e == value)
                    .map_or("schedule.exdates".to_owned(), |i| {
                        format!("schedule.exdates[{i}]")
                    }),
                RuleError::NotAnOccurrence { value } => exdates
                    .iter()
                    .position(|e| e == value)
                    .map_or("schedule.exdates".to_owned(), |i| {
                        format!("schedule.exdates[{i}]")
                    }),
                RuleError::Time { .. } | RuleError::Skipped { .. } => "schedule.dtstart".to_owned(),
                RuleError::Rule { .. } | RuleError::NeverFires => "schedule.rrule".to_owned(),
            };
            issues.error(path, error.to_string()).hint(error.hint());
        })
        .ok()
}

/// The series `ics` names, its length and zone, and where it came from.
fn calendar_series(
    raw: &RawSchedule,
    ics: &str,
    timezone: Option<Tz>,
    own_lengths: bool,
    plan_path: &Path,
    issues: &mut Issues,
) -> Option<(Series, Option<Duration>, Tz, CalendarUse)> {
    let refresh = match &raw.refresh {
        Some(text) => parse_duration(text, "schedule.refresh", issues)?,
        None => DEFAULT_REFRESH,
    };
    let location = Location::of(ics, plan_path)
        .map_err(|message| {
            issues
                .error("schedule.ics", message)
                .hint("a file beside the plan, or the calendar's https address");
        })
        .ok()?;
    let calendar = ics_source::read(&location, refresh, plan_path)
        .map_err(|message| {
            issues
                .error("schedule.ics", message)
                .hint("a file beside the plan, or the calendar's https address");
        })
        .ok()?;
    if let Some(stale) = &calendar.stale {
        issues.warn("schedule.ics", stale.clone());
    }
    let query = IcsQuery {
        event: raw.event.as_deref(),
        timezone,
        own_lengths,
    };
    let name = match &location {
        Location::File(path) => path.display().to_string(),
        Location::Url(url) => ics_source::redact(url),
    };
    match Series::from_ics(&calendar.text, query) {
        Ok(event) => {
            if !own_lengths || event.length.is_some() {
                Some((
                    event.series,
                    event.length,
                    event.zone,
                    CalendarUse {
                        location,
                        refresh,
                        text: calendar.text,
                    },
                ))
            } else {
                issues
                    .error("schedule.ics", "the event has no end or DURATION")
                    .hint("add `duration: 30m` to the schedule");
                None
            }
        }
        Err(error) => {
            let at = error.line.map_or(String::new(), |line| format!(":{line}"));
            let path = if error.message.contains("no event called") {
                "schedule.event"
            } else {
                "schedule.ics"
            };
            let finding = issues.error(path, format!("{name}{at}: {}", error.message));
            if let Some(hint) = error.hint {
                finding.hint(hint);
            }
            None
        }
    }
}

/// How many parsed schedules a thread keeps; see [`parse_cron`].
const MAX_SCHEDULES: usize = 256;

/// A rule series' inputs: rule, dtstart, exdates and timezone.
type RuleKey = (String, String, Vec<String>, Tz);

thread_local! {
    /// Cron schedules by line and timezone, and rule series by rule,
    /// start, exdates and timezone. Parsing (and checking that some date
    /// matches) costs more than the rest of a plan's schedule checks, and a
    /// directory of plans repeats a few.
    static CRONS: RefCell<HashMap<(String, Tz), Schedule>> = RefCell::default();
    static RULES: RefCell<HashMap<RuleKey, Series>> = RefCell::default();
}

/// [`Schedule::new`], reusing a schedule parsed before on this thread.
/// Lines that fail are not kept: they are rare, and their errors are
/// reported once per plan anyway.
fn parse_cron(cron: &str, timezone: Tz) -> Result<Schedule, ScheduleError> {
    cached(&CRONS, (cron.to_owned(), timezone), || {
        Schedule::new(cron, timezone)
    })
}

/// [`Series::from_rule`], reusing a series parsed before on this thread.
fn parse_rule(
    rule: &str,
    dtstart: &str,
    exdates: &[String],
    timezone: Tz,
) -> Result<Series, crate::schedule::RuleError> {
    let key = (
        rule.to_owned(),
        dtstart.to_owned(),
        exdates.to_vec(),
        timezone,
    );
    cached(&RULES, key, || {
        Series::from_rule(rule, dtstart, exdates, timezone)
    })
}

fn cached<K, V, E>(
    cache: &'static std::thread::LocalKey<RefCell<HashMap<K, V>>>,
    key: K,
    make: impl FnOnce() -> Result<V, E>,
) -> Result<V, E>
where
    K: std::hash::Hash + Eq,
    V: Clone,
{
    cache.with(|cache| {
        if let Some(found) = cache.borrow().get(&key) {
            return Ok(found.clone());
        }
        let value = make()?;
        let mut cache = cache.borrow_mut();
        if cache.len() >= MAX_SCHEDULES {
            cache.clear();
        }
        cache.insert(key, value.clone());
        Ok(value)
    })
}
