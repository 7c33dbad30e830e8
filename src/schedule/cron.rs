//! Cron lines evaluated in an IANA timezone: a plan's `cron`.
//!
//! # Cron lines
//!
//! A line has the 5 crontab fields (minute, hour, day of month, month, day of
//! week), or 6 with a seconds field first; year fields are refused. Fields take
//! numbers, `*`, lists (`1,15`), ranges (`1-5`), steps (`*/15`, `8-18/2`) and
//! the names `JAN`-`DEC` and `SUN`-`SAT`; day of week 0 and 7 are both Sunday.
//! Day of month also takes `L` (last day), `LW` (last weekday) and `15W`
//! (weekday nearest the 15th); day of week takes `MON#2` (second Monday) and
//! `FRI#L` or `5L` (last Friday). `?` in either day field means `*`. The
//! nicknames `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
//! `@midnight` and `@hourly` stand for their usual lines.
//!
//! As in Vixie cron, when both day fields are restricted a day matches if
//! *either* does: `0 9 13 * FRI` fires on every 13th and on every Friday. When
//! either day field starts with `*` (so `*/2` too, as Vixie cron reads it),
//! a day must match both.
//!
//! # Daylight saving time
//!
//! recplan follows the rules of Debian's (Vixie) cron, applied in the plan's
//! timezone:
//!
//! - A **fixed-time** job, whose minute and hour fields hold no `*` (single
//!   values, lists and ranges such as `30 2`, `0,30 9-17`), runs at wall-clock
//!   times. A time that a spring-forward jump skips runs once, right after the
//!   jump: `30 2 * * *` in Europe/Berlin on 2026-03-29 starts at 03:00 CEST.
//!   A time that a fall-back repeats runs once, at its first occurrence.
//! - A **wildcard** job, whose minute or hour field holds a `*`
//!   (`*/15 * * * *`, `0 */3 * * *`, `30 * * * *`), follows elapsed time. It
//!   runs in both copies of a repeated hour and not at all in the times a
//!   jump skips.
//!
//! The seconds field of a 6-field line does not change which rule applies.
//! Both rules hold for zones that shift by 30 minutes, such as
//! Australia/Lord_Howe, and for any other offset change.

use std::fmt;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;

use super::error::ScheduleError;
use super::parse;

/// How a job meets daylight-saving transitions; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Minute and hour are fixed: starts follow the wall clock, once per
    /// wall-clock time, with skipped times moved to just after the jump.
    FixedTime,
    /// Minute or hour uses `*`: starts follow elapsed time.
    Wildcard,
}

/// A cron line evaluated in a timezone.
///
/// croner's parsed pattern is built again for each question rather than
/// kept: it holds a byte per year up to 5000, ~5 KB, which at 10,000 plans
/// in one daemon is 50 MB, while building it costs a few microseconds and
/// each question is asked about once per occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    cron: String,
    tz: Tz,
    kind: JobKind,
    fields: [String; 6],
}

/// `0001-01-02T00:00:00Z`. croner searches years 1 to 4999, and a day of
/// margin at each end keeps every instant's wall time inside that range
/// whatever the zone's offset.
const EARLIEST: i64 = -62_135_510_400;

/// `4999-12-30T00:00:00Z`; see [`EARLIEST`].
const LATEST: i64 = 95_617_411_200;

/// How far back [`Schedule::latest_at_or_before`] looks: 400 years, after
/// which the Gregorian calendar and its weekdays repeat, plus a week.
const HORIZON: i64 = (146_097 + 7) * 86_400;

/// No zone moves its clock by a day or more at once.
const DAY: i64 = 86_400;

impl Schedule {
    /// Parses a 5-field crontab line (or 6 fields, the first being seconds)
    /// evaluated in `tz`.
    ///
    /// A line that no date can match, like `0 0 30 2 *`, is refused.
    pub fn new(cron: &str, tz: Tz) -> Result<Schedule, ScheduleError> {
        let parsed = parse::parse(cron)?;
        Ok(Schedule {
            cron: cron.trim().to_string(),
            tz,
            kind: parsed.kind,
            fields: parsed.fields,
        })
    }

    /// The timezone the cron line is evaluated in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The cron line as written, without surrounding whitespace.
    pub fn cron(&self) -> &str {
        &self.cron
    }

    /// The line's six fields (second, minute, hour, day of month, month,
    /// day of week) in numbers only: names replaced, `?` read as `*`, a
    /// 5-field line's second `0`. What exporters translate.
    pub fn fields(&self) -> &[String; 6] {
        &self.fields
    }

    /// Whether the job follows the wall clock or elapsed time across DST
    /// transitions.
    pub fn kind(&self) -> JobKind {
        self.kind
    }

    /// First start strictly after `after`.
    ///
    /// Returns `None` when there is none before the year 5000.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        // Starts fall on whole seconds, so the first one after `after` is the
        // first one after its whole second.
        self.next_after_second(&self.pattern()?, after.timestamp())
    }

    /// Starts strictly after `after`, in order (lazy iterator).
    pub fn starts_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Tz>> + '_ {
        let pattern = self.pattern();
        let next = move |after: i64| self.next_after_second(pattern.as_ref()?, after);
        let first = next(after.timestamp());
        std::iter::successors(first, move |previous| next(previous.timestamp()))
    }

    /// Latest start at or before `at`: the occurrence that is due at `at`.
    ///
    /// Returns `None` when there is none in the 400 years before `at`.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Tz>> {
        let at = at.timestamp().min(LATEST);
        if at < EARLIEST {
            return None;
        }
        let pattern = self.pattern()?;
        // Searching backwards is defined through `next_after`, so it obeys
        // the same DST rules by construction. "Some start lies in (from, at]"
        // holds for every `from` below the answer and for none at or above
        // it: gallop back until it holds, then bisect to the answer.
        let starts_by_at = |from: i64| {
            self.next_after_second(&pattern, from)
                .is_some_and(|start| start.timestamp() <= at)
        };
        // Invariant: no start lies in (empty_from, at].
        let mut empty_from = at;
        let mut span = 60;
        let mut from = loop {
            let from = at.saturating_sub(span).max(EARLIEST);
            if starts_by_at(from) {
                break from;
            }
            if from == EARLIEST || span >= HORIZON {
                return None;
            }
            empty_from = from;
            span = span.saturating_mul(2).min(HORIZON);
        };
        // Invariant: a start lies in (from, at], none in (empty_from, at].
        // Once they are a second apart the start is at `empty_from`.
        while empty_from - from > 1 {
            let middle = from + (empty_from - from) / 2;
            if starts_by_at(middle) {
                from = middle;
            } else {
                empty_from = middle;
            }
        }
        self.next_after_second(&pattern, from)
    }

    /// croner's pattern for the line. The fields were checked when the
    /// schedule was made, so building it again cannot fail; if it ever did,
    /// the schedule would have no more starts.
    fn pattern(&self) -> Option<Cron> {
        let written = self.fields.each_ref().map(String::as_str);
        parse::build(&self.fields, &written).ok()
    }

    /// [`Schedule::next_after`] for a Unix time in whole seconds.
    fn next_after_second(&self, pattern: &Cron, after: i64) -> Option<DateTime<Tz>> {
        if after >= LATEST {
            return None;
        }
        let after = DateTime::from_timestamp(after.max(EARLIEST), 0)?;
        match self.kind {
            // croner's search for patterns with several times a day follows
            // elapsed time: both copies of a repeated hour, nothing in a gap.
            JobKind::Wildcard => pattern
                .find_next_occurrence(&after.with_timezone(&self.tz), false)
                .ok(),
            JobKind::FixedTime => self.next_fixed_time(pattern, after),
        }
    }

    /// The first start after `after` of a fixed-time job.
    ///
    /// croner runs a fixed-time job once in a repeated hour and right after a
    /// gap only when its time is a single value; a list such as `30 1,2,3`
    /// it treats like a wildcard. So fixed-time jobs are searched on the wall
    /// clock alone, and each matching wall time is mapped to the instant it
    /// starts at. That map never goes backwards in time, and maps `after`'s
    /// own wall time to `after` or earlier, so the first later wall time
    /// whose instant is past `after` is the answer. Only the few wall times
    /// of a repeated hour can be skipped on the way.
    fn next_fixed_time(&self, pattern: &Cron, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        let mut wall = after.with_timezone(&self.tz).naive_local();
        loop {
            wall = pattern.find_next_occurrence(&wall, false).ok()?;
            let start = self.fixed_time_instant(wall)?;
            if start > after {
                return Some(start);
            }
        }
    }

    /// When a fixed-time job scheduled at wall time `wall` starts.
    fn fixed_time_instant(&self, wall: NaiveDateTime) -> Option<DateTime<Tz>> {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(start) => Some(start),
            // A repeated time runs once, at its first occurrence.
            LocalResult::Ambiguous(earlier, _) => Some(earlier),
            // A skipped time runs once the clock has jumped past it.
            LocalResult::None => end_of_gap(self.tz, wall),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` in {}", self.cron, self.tz)
    }
}

/// The first instant after the clock jump that skipped wall time `wall`.
///
/// Instants before the jump show a wall time before `wall`, and instants
/// after it one past `wall`, so bisecting on "shows a time past `wall`" finds
/// the jump. Offsets stay within a day, so `wall` read as UTC, plus or minus
/// a day, brackets it.
pub(super) fn end_of_gap(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Tz>> {
    let shows_past_wall = |second: i64| {
        DateTime::from_timestamp(second, 0)
            .map(|instant| instant.with_timezone(&tz).naive_local() > wall)
    };
    let probe = wall.and_utc().timestamp();
    let (mut before, mut past) = (probe - DAY, probe + DAY);
    if shows_past_wall(before)? || !shows_past_wall(past)? {
        return None;
    }
    while past - before > 1 {
        let middle = before + (past - before) / 2;
        if shows_past_wall(middle)? {
            past = middle;
        } else {
            before = middle;
        }
    }
    DateTime::from_timestamp(past, 0).map(|instant| instant.with_timezone(&tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_bounds_are_the_documented_instants() {
        let at = |second| DateTime::from_timestamp(second, 0).map(|t| t.to_rfc3339());
        assert_eq!(at(EARLIEST).as_deref(), Some("0001-01-02T00:00:00+00:00"));
        assert_eq!(at(LATEST).as_deref(), Some("4999-12-30T00:00:00+00:00"));
    }

    #[test]
    fn end_of_gap_is_the_jump() {
        let berlin: Tz = chrono_tz::Europe::Berlin;
        let wall = NaiveDateTime::parse_from_str("2026-03-29 02:30:00", "%F %T").ok();
        let end = wall.and_then(|wall| end_of_gap(berlin, wall));
        assert_eq!(
            end.map(|t| t.to_utc().to_rfc3339()).as_deref(),
            Some("2026-03-29T01:00:00+00:00")
        );
    }
}
