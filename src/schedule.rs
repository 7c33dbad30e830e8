//! When a plan starts: a cron line, an RFC 5545 recurrence rule, or a
//! meeting series from an iCalendar file, each evaluated in a timezone.
//!
//! This module owns the meaning of a plan's `cron`, `rrule` and `ics`
//! schedules. Each becomes a [`Recurrence`], which answers "what is the
//! first start after this instant?" and "which start is due at this
//! instant?" the same way for all three, so every command treats them
//! alike. It does no I/O and never reads the clock: callers pass every
//! instant in, and an .ics file's text rather than its name.
//!
//! - [`Schedule`]: cron lines, with Vixie cron's DST rules (see
//!   [`cron`](self::cron)).
//! - [`Series`]: recurrence sets in local wall time, from a plan's
//!   `rrule`/`dtstart`/`exdates` ([`Series::from_rule`]) or an .ics event
//!   ([`Series::from_ics`]) with its RDATEs, EXDATEs, moved and cancelled
//!   instances. A wall time that a spring-forward jump skips moves forward
//!   by the jump's length (RFC 5545 §3.3.5: 02:30 in a 02:00→03:00 gap
//!   starts at 03:30); a repeated wall time starts at its first occurrence.

pub mod cron;
mod error;
mod ics;
mod parse;
mod rule;
mod series;
mod timezone;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use chrono_tz::Tz;
pub use cron::{JobKind, Schedule};
pub use error::{Field, ScheduleError};
pub use ics::{IcsError, IcsEvent, IcsQuery};
pub use rule::RuleError;
pub use series::Series;
pub use timezone::parse_timezone;

/// A plan's schedule: when its occurrences start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recurrence {
    /// A crontab line.
    Cron(Schedule),
    /// A recurrence rule or a calendar's series.
    Series(Series),
}

impl Recurrence {
    /// The timezone starts are given in.
    pub fn timezone(&self) -> Tz {
        match self {
            Recurrence::Cron(schedule) => schedule.timezone(),
            Recurrence::Series(series) => series.timezone(),
        }
    }

    /// First start strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        match self {
            Recurrence::Cron(schedule) => schedule.next_after(after),
            Recurrence::Series(series) => series.next_after(after),
        }
    }

    /// Starts strictly after `after`, in order (lazy iterator).
    pub fn starts_after(
        &self,
        after: DateTime<Utc>,
    ) -> Box<dyn Iterator<Item = DateTime<Tz>> + '_> {
        match self {
            Recurrence::Cron(schedule) => Box::new(schedule.starts_after(after)),
            Recurrence::Series(series) => Box::new(series.starts_after(after)),
        }
    }

    /// Starts in `[from, to)`, in order.
    pub fn starts_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Tz>> {
        let before_from = from - chrono::Duration::seconds(1);
        self.starts_after(before_from)
            .skip_while(|start| start.to_utc() < from)
            .take_while(|start| start.to_utc() < to)
            .collect()
    }

    /// Latest start at or before `at`: the occurrence that is due at `at`.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Tz>> {
        match self {
            Recurrence::Cron(schedule) => schedule.latest_at_or_before(at),
            Recurrence::Series(series) => series.latest_at_or_before(at),
        }
    }

    /// The length of the occurrence starting at `start` when the series
    /// gives it one of its own (a calendar event moved with a new end);
    /// None means the plan's duration.
    pub fn length_at(&self, start: DateTime<Utc>) -> Option<Duration> {
        match self {
            Recurrence::Cron(_) => None,
            Recurrence::Series(series) => series.length_at(start),
        }
    }

    /// A short description for listings: `0 9 * * 1-5 (Europe/Berlin)`.
    pub fn summary(&self) -> String {
        match self {
            Recurrence::Cron(schedule) => format!("{} ({})", schedule.cron(), schedule.timezone()),
            Recurrence::Series(series) => format!("{series} ({})", series.timezone()),
        }
    }

    /// The cron line, for exporters that translate it; None for schedules
    /// that cron, systemd timers and CronJobs cannot express.
    pub fn cron(&self) -> Option<&Schedule> {
        match self {
            Recurrence::Cron(schedule) => Some(schedule),
            Recurrence::Series(_) => None,
        }
    }
}

impl fmt::Display for Recurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recurrence::Cron(schedule) => schedule.fmt(f),
            Recurrence::Series(series) => series.fmt(f),
        }
    }
}
