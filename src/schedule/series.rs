//! Recurrence sets in local wall time: a plan's `rrule`, or a calendar
//! event's RRULE, RDATE and EXDATE with the instances a calendar moved or
//! cancelled.
//!
//! The `rrule` crate expands the set in the event's zone; it places a wall
//! time that a spring-forward jump skips at midnight plus the time's
//! distance from midnight, which is RFC 5545's "moved forward by the gap's
//! length", and a repeated wall time at its first occurrence. Moved and
//! cancelled instances are applied here, on instants.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::RRuleSet;

/// A recurrence set and its exceptions, with starts shown in one timezone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// Where starts are shown: the plan's timezone.
    pub(super) tz: Tz,
    /// How the series is named in messages.
    pub(super) label: String,
    /// The original instances: rules, RDATEs (and every RECURRENCE-ID, so
    /// that an override of a date no rule yields still counts), EXDATEs.
    pub(super) set: RRuleSet,
    /// The event's own length, when the plan does not set one.
    pub(super) length: Option<Duration>,
    /// Single instances moved or cancelled, by original start.
    pub(super) changes: BTreeMap<DateTime<Utc>, Change>,
    /// Changes to an instance and every later one (RANGE=THISANDFUTURE),
    /// by original start.
    pub(super) ranges: BTreeMap<DateTime<Utc>, Change>,
}

/// What became of an original instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Change {
    Cancelled,
    /// Moved by `by` (for a single instance, to its own start), with its
    /// own length when the plan does not set one.
    Moved {
        by: TimeDelta,
        length: Option<Duration>,
    },
}

impl Series {
    /// The timezone starts are given in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// First start strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        let (ahead, behind) = self.reach();
        let mut best: Option<DateTime<Utc>> = None;
        for original in self.originals() {
            // No later original can start before `original - behind`.
            if best.is_some_and(|best| original - behind > best) {
                break;
            }
            if original + ahead <= after {
                continue;
            }
            if let Some((start, _)) = self.resolve(original)
                && start > after
                && best.is_none_or(|best| start < best)
            {
                best = Some(start);
            }
        }
        best.map(|start| start.with_timezone(&self.tz))
    }

    /// Starts strictly after `after`, in order (lazy iterator).
    pub fn starts_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Tz>> + '_ {
        std::iter::successors(self.next_after(after), |previous| {
            self.next_after(previous.to_utc())
        })
    }

    /// Latest start at or before `at`.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Tz>> {
        let (_, behind) = self.reach();
        self.originals()
            .take_while(|original| *original - behind <= at)
            .filter_map(|original| self.resolve(original))
            .map(|(start, _)| start)
            .filter(|start| *start <= at)
            .max()
            .map(|start| start.with_timezone(&self.tz))
    }

    /// The own length of the instance starting at `start`, if it has one.
    pub fn length_at(&self, start: DateTime<Utc>) -> Option<Duration> {
        let (_, behind) = self.reach();
        self.originals()
            .take_while(|original| *original - behind <= start)
            .filter_map(|original| self.resolve(original))
            .find(|(found, _)| *found == start)
            .and_then(|(_, length)| length)
    }

    /// The original instances in order, each once, up to a cancellation of
    /// every later one.
    fn originals(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let end = self
            .ranges
            .iter()
            .find(|(_, change)| **change == Change::Cancelled)
            .map(|(from, _)| *from);
        let mut previous = None;
        (&self.set)
            .into_iter()
            .map(|instance| instance.with_timezone(&Utc))
            .take_while(move |instance| end.is_none_or(|end| *instance < end))
            .filter(move |instance| previous.replace(*instance) != Some(*instance))
    }

    /// Where the original instance at `original` starts, and its own
    /// length; None when it was cancelled.
    fn resolve(&self, original: DateTime<Utc>) -> Option<(DateTime<Utc>, Option<Duration>)> {
        let change = self.changes.get(&original).or_else(|| {
            self.ranges
                .range(..=original)
                .next_back()
                .map(|(_, change)| change)
        });
        match change {
            None => Some((original, self.length)),
            Some(Change::Cancelled) => None,
            Some(Change::Moved { by, length }) => Some((original + *by, *length)),
        }
    }

    /// How far any change moves an instance later and earlier.
    fn reach(&self) -> (TimeDelta, TimeDelta) {
        self.changes
            .values()
            .chain(self.ranges.values())
            .filter_map(|change| match change {
                Change::Moved { by, .. } => Some(*by),
                Change::Cancelled => None,
            })
            .fold(
                (TimeDelta::zero(), TimeDelta::zero()),
                |(ahead, behind), by| (ahead.max(by), behind.max(-by)),
            )
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// The instant a wall time in `tz` stands for, as RFC 5545 reads it: a
/// repeated time at its first occurrence, a skipped one moved forward by
/// the gap's length (returned as `Err` with that instant, so a caller may
/// refuse it).
pub(super) fn wall_instant(tz: Tz, wall: NaiveDateTime) -> Result<DateTime<Tz>, DateTime<Tz>> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(instant) => Ok(instant),
        LocalResult::Ambiguous(earlier, _) => Ok(earlier),
        LocalResult::None => {
            // Read with the offset in force before the jump.
            let probe = tz.from_utc_datetime(&(wall - TimeDelta::days(1)));
            let offset = chrono::Offset::fix(probe.offset());
            let instant = (wall - offset).and_utc().with_timezone(&tz);
            Err(instant)
        }
    }
}
