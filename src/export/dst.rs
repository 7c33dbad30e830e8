//! Clock changes: which occurrences an engine's own reading of a cron line
//! misses or fires twice, and extra UTC triggers that cover the misses.
//!
//! recplan's schedule follows Vixie cron (see [`crate::schedule`]); the
//! engines do not. systemd fires each wall time that exists once, at its
//! first instant, so a fixed-time start moved past a spring-forward jump and
//! a wildcard job's second pass through a repeated hour never fire.
//! Kubernetes computes CronJob times with robfig/cron, which walks elapsed
//! time: a skipped wall time never fires, a repeated one fires twice.
//!
//! The misses are found among the occurrences around each clock change from
//! an instant on, and written as UTC times on the weekdays and in the months
//! where they fell, so they keep firing in later years while the zone's
//! rules stay as they are. On other such days `recplan run` finds nothing
//! due and exits 4.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeZone, Timelike, Utc};

use crate::schedule::{Schedule, Tz};

/// How an engine maps a cron line's wall times to instants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WallClock {
    /// systemd: a wall time that exists fires once, at its first instant.
    FirstInstant,
    /// robfig/cron (Kubernetes): every instant showing a matching wall
    /// time fires, so a repeated time fires twice.
    EveryInstant,
}

/// How many years of clock changes the extra triggers are derived from.
pub const YEARS: i32 = 10;

const DAY: i64 = 86_400;

/// What an engine does differently from recplan around clock changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Divergence {
    /// Occurrences the engine does not fire.
    pub missed: Vec<DateTime<Utc>>,
    /// Occurrences the engine fires again after the delay, when the wall
    /// time repeats.
    pub repeated: Vec<(DateTime<Utc>, Duration)>,
}

/// How `clock` diverges from `schedule` at the clock changes in
/// [`YEARS`] years from `from`.
pub fn divergence(schedule: &Schedule, clock: WallClock, from: DateTime<Utc>) -> Divergence {
    let tz = schedule.timezone();
    // The same line in UTC says whether a wall time matches the line.
    let Ok(walls) = Schedule::new(schedule.cron(), Tz::UTC) else {
        return Divergence::default();
    };
    let matches = |wall: NaiveDateTime| {
        let wall = wall.and_utc();
        walls
            .next_after(wall - chrono::Duration::seconds(1))
            .is_some_and(|next| next.to_utc() == wall)
    };
    let until = from + chrono::Duration::days(365 * i64::from(YEARS));
    let mut found = Divergence::default();
    for (change, shift) in clock_changes(tz, from, until) {
        let start = change - shift - chrono::Duration::seconds(1);
        for start in schedule
            .starts_after(start)
            .take_while(|start| start.to_utc() <= change + shift)
        {
            let wall = start.naive_local();
            let instants = tz.from_local_datetime(&wall);
            let fired = matches(wall)
                && match clock {
                    WallClock::FirstInstant => instants.earliest() == Some(start),
                    WallClock::EveryInstant => true,
                };
            if !fired {
                found.missed.push(start.to_utc());
            }
            if let (WallClock::EveryInstant, Some(later)) = (clock, instants.latest())
                && matches(wall)
                && later > start
                && schedule.next_after(start.to_utc()) != Some(later)
            {
                let delay = (later - start).to_std().unwrap_or_default();
                found.repeated.push((start.to_utc(), delay));
            }
        }
    }
    found
}

/// The instants in `[from, until)` where `tz`'s offset changes, each with
/// the size of the change.
fn clock_changes(
    tz: Tz,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, chrono::Duration)> {
    let offset = |second: i64| {
        DateTime::from_timestamp(second, 0).map(|t| {
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        })
    };
    let mut changes = Vec::new();
    let mut day = from.timestamp();
    while day < until.timestamp() {
        let (Some(before), Some(after)) = (offset(day), offset(day + DAY)) else {
            break;
        };
        if before != after {
            // Bisect to the first second with the new offset.
            let (mut old, mut new) = (day, day + DAY);
            while new - old > 1 {
                let middle = old + (new - old) / 2;
                if offset(middle) == Some(before) {
                    old = middle;
                } else {
                    new = middle;
                }
            }
            if let Some(change) = DateTime::from_timestamp(new, 0) {
                let shift = chrono::Duration::seconds(i64::from((after - before).abs()));
                changes.push((change, shift));
            }
        }
        day += DAY;
    }
    changes
}

/// A time of day in UTC on some weekdays of some months: one extra
/// trigger line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UtcTrigger {
    /// 0 is Sunday.
    pub weekdays: BTreeSet<u32>,
    pub months: BTreeSet<u32>,
    pub hour: u32,
    pub minutes: BTreeSet<u32>,
    pub second: u32,
}

impl UtcTrigger {
    /// `instants` as few triggers: one per hour, second, weekdays and
    /// months, with the minutes listed.
    pub fn covering(instants: &[DateTime<Utc>]) -> Vec<UtcTrigger> {
        // Weekdays and months, by time of day.
        let mut days: BTreeMap<(u32, u32, u32), [BTreeSet<u32>; 2]> = BTreeMap::new();
        for instant in instants {
            let [weekdays, months] = days
                .entry((instant.hour(), instant.minute(), instant.second()))
                .or_default();
            weekdays.insert(instant.weekday().num_days_from_sunday());
            months.insert(instant.month());
        }
        let mut triggers: Vec<UtcTrigger> = Vec::new();
        for ((hour, minute, second), [weekdays, months]) in days {
            let same = triggers.iter_mut().find(|t| {
                (t.hour, t.second) == (hour, second) && t.weekdays == weekdays && t.months == months
            });
            match same {
                Some(trigger) => {
                    trigger.minutes.insert(minute);
                }
                None => triggers.push(UtcTrigger {
                    weekdays,
                    months,
                    hour,
                    minutes: BTreeSet::from([minute]),
                    second,
                }),
            }
        }
        triggers
    }

    /// As a systemd calendar expression.
    pub fn on_calendar(&self) -> String {
        const NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        let weekdays: Vec<&str> = self
            .weekdays
            .iter()
            .filter_map(|&day| NAMES.get(usize::try_from(day).ok()?).copied())
            .collect();
        format!(
            "{} *-{}-* {:02}:{}:{:02} UTC",
            weekdays.join(","),
            ranges(&self.months, "..", true),
            self.hour,
            ranges(&self.minutes, "..", true),
            self.second
        )
    }

    /// As a 5-field cron line (in UTC; the seconds are dropped, being 0 for
    /// every clock change of the present era).
    pub fn cron(&self) -> String {
        format!(
            "{} {} * {} {}",
            ranges(&self.minutes, "-", false),
            self.hour,
            ranges(&self.months, "-", false),
            ranges(&self.weekdays, "-", false)
        )
    }
}

/// `values` as a list with runs of three or more as ranges: `00..29,45`
/// (`pad`ded to two digits) or `0-29,45`.
fn ranges(values: &BTreeSet<u32>, to: &str, pad: bool) -> String {
    let show = |v: &u32| {
        if pad {
            format!("{v:02}")
        } else {
            v.to_string()
        }
    };
    let mut parts: Vec<String> = Vec::new();
    let mut run: Vec<u32> = Vec::new();
    let flush = |run: &mut Vec<u32>, parts: &mut Vec<String>| {
        match run.as_slice() {
            [] => {}
            [first, .., last] if run.len() >= 3 => {
                parts.push(format!("{}{to}{}", show(first), show(last)));
            }
            some => parts.extend(some.iter().map(show)),
        }
        run.clear();
    };
    for &value in values {
        if run.last().is_some_and(|&last| last + 1 != value) {
            flush(&mut run, &mut parts);
        }
        run.push(value);
    }
    flush(&mut run, &mut parts);
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn berlin(cron: &str) -> Schedule {
        Schedule::new(cron, Tz::Europe__Berlin).unwrap()
    }

    #[test]
    fn systemd_misses_the_start_after_a_jump() {
        let found = divergence(
            &berlin("30 2 * * *"),
            WallClock::FirstInstant,
            at("2026-01-01T00:00:00Z"),
        );
        assert_eq!(found.missed[0], at("2026-03-29T01:00:00Z"));
        assert_eq!(found.missed.len(), usize::try_from(YEARS).unwrap());
        let triggers = UtcTrigger::covering(&found.missed);
        assert_eq!(triggers.len(), 1);
        assert_eq!(triggers[0].on_calendar(), "Sun *-03-* 01:00:00 UTC");
        assert_eq!(triggers[0].cron(), "0 1 * 3 0");
    }

    #[test]
    fn systemd_misses_a_wildcard_jobs_second_pass() {
        let found = divergence(
            &berlin("*/15 * * * *"),
            WallClock::FirstInstant,
            at("2026-06-01T00:00:00Z"),
        );
        assert_eq!(
            &found.missed[..4],
            [
                at("2026-10-25T01:00:00Z"),
                at("2026-10-25T01:15:00Z"),
                at("2026-10-25T01:30:00Z"),
                at("2026-10-25T01:45:00Z")
            ]
        );
        let triggers = UtcTrigger::covering(&found.missed);
        assert_eq!(
            triggers
                .iter()
                .map(UtcTrigger::on_calendar)
                .collect::<Vec<_>>(),
            ["Sun *-10-* 01:00,15,30,45:00 UTC"]
        );
    }

    #[test]
    fn kubernetes_repeats_a_fixed_time_in_the_repeated_hour() {
        let found = divergence(
            &berlin("30 2 * * *"),
            WallClock::EveryInstant,
            at("2026-06-01T00:00:00Z"),
        );
        assert_eq!(
            found.repeated[0],
            (at("2026-10-25T00:30:00Z"), Duration::from_secs(3600))
        );
        // The wildcard job's second pass is its own occurrence.
        let wildcard = divergence(
            &berlin("30 * * * *"),
            WallClock::EveryInstant,
            at("2026-06-01T00:00:00Z"),
        );
        assert_eq!(wildcard, Divergence::default());
    }

    #[test]
    fn times_clear_of_clock_changes_diverge_nowhere() {
        for clock in [WallClock::FirstInstant, WallClock::EveryInstant] {
            let found = divergence(
                &berlin("0 9 * * MON-FRI"),
                clock,
                at("2026-01-01T00:00:00Z"),
            );
            assert_eq!(found, Divergence::default());
        }
    }

    /// Triggers derived from the clock changes from 2026 on still cover
    /// every start the engines miss decades later: whether an engine fires
    /// a start is decided from its wall time alone, as the engines do.
    #[test]
    fn triggers_keep_covering_later_years() {
        let cases = [
            ("30 2 * * *", "Europe/Berlin"),
            ("30 2 * * SUN", "America/New_York"),
            ("15 1,2 * * *", "Australia/Lord_Howe"),
            ("0 0 * * *", "America/Santiago"),
            ("30 0 * * *", "America/Havana"),
            ("*/20 2 * * *", "Australia/Sydney"),
            ("*/30 1 * * *", "Europe/London"),
        ];
        for clock in [WallClock::FirstInstant, WallClock::EveryInstant] {
            for (cron, zone) in cases {
                let schedule =
                    Schedule::new(cron, crate::schedule::parse_timezone(zone).unwrap()).unwrap();
                let derived = divergence(&schedule, clock, at("2026-01-01T00:00:00Z"));
                let triggers: Vec<Schedule> = UtcTrigger::covering(&derived.missed)
                    .iter()
                    .map(|trigger| Schedule::new(&trigger.cron(), Tz::UTC).unwrap())
                    .collect();
                let later = divergence(&schedule, clock, at("2046-01-01T00:00:00Z"));
                assert!(
                    !later.missed.is_empty() || clock == WallClock::EveryInstant,
                    "{cron} in {zone}"
                );
                for start in &later.missed {
                    let fired = triggers.iter().any(|trigger| {
                        trigger
                            .next_after(*start - chrono::Duration::seconds(1))
                            .is_some_and(|next| next.to_utc() == *start)
                    });
                    assert!(fired, "{cron} in {zone}, {clock:?}: {start}");
                }
            }
        }
    }

    #[test]
    fn lists_become_ranges() {
        let set = |values: &[u32]| values.iter().copied().collect::<BTreeSet<u32>>();
        assert_eq!(
            ranges(&set(&[0, 1, 2, 3, 7, 9, 10]), "..", true),
            "00..03,07,09,10"
        );
        assert_eq!(ranges(&set(&[5, 6, 7]), "-", false), "5-7");
    }
}
