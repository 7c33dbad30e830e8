//! The calendar: every occurrence of a set of plans within a window of
//! days, one slot per channel, and the slots that would record the same
//! channel with the same uid at once. Agora refuses to start a second
//! recording of a cname and uid that is already being recorded (error 53,
//! a task conflict), so of two plans overlapping like that one loses its
//! recording, and nothing says so until the day comes.
//!
//! Pure: plans, a window and an environment in; a [`Calendar`] out, drawn
//! as a text grid by [`text`], as an SVG picture by [`svg`] and as JSON by
//! [`CalendarJson`].

mod channels;
mod json;
mod svg;
mod text;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveTime, Offset as _, TimeDelta, TimeZone, Utc};

use crate::plan::overlap::{SelfOverlap, self_overlap};
use crate::plan::raw::Overlap;
use crate::plan::{Env, Plan};
use crate::schedule::{Recurrence, Tz};

pub use json::CalendarJson;
pub use svg::svg;
pub use text::{DEFAULT_WIDTH, conflict_line, text};

/// Whole days in a timezone: the columns of the calendar.
#[derive(Clone, Debug)]
pub struct Window {
    tz: Tz,
    dates: Vec<NaiveDate>,
    /// The first instant of each day and, last, of the day after the
    /// window: `dates.len() + 1` bounds.
    bounds: Vec<DateTime<Utc>>,
}

impl Window {
    /// `days` days from `first`, in `tz`. `None` when a day would fall
    /// outside the dates chrono can hold.
    pub fn new(tz: Tz, first: NaiveDate, days: u16) -> Option<Window> {
        let dates: Vec<NaiveDate> = first.iter_days().take(usize::from(days)).collect();
        let after = dates.last()?.succ_opt()?;
        let bounds = dates
            .iter()
            .chain([&after])
            .map(|date| day_start(tz, *date))
            .collect();
        Some(Window { tz, dates, bounds })
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn dates(&self) -> &[NaiveDate] {
        &self.dates
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.bounds[0]
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.bounds[self.dates.len()]
    }

    /// The first instant of day `index` (`dates().len()`: the day after).
    fn bound(&self, index: usize) -> DateTime<Utc> {
        self.bounds[index]
    }

    /// The day `at` falls on, if it is inside the window.
    pub fn day_of(&self, at: DateTime<Utc>) -> Option<usize> {
        if at < self.start() || at >= self.end() {
            return None;
        }
        // bounds[0] <= at, so at least one bound is not after it.
        Some(self.bounds.partition_point(|bound| *bound <= at) - 1)
    }
}

/// The first instant of `date` in `tz`: its midnight, or, where a DST jump
/// skips midnight (Santiago, Beirut and others change clocks at 00:00),
/// the end of that jump.
fn day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.to_utc(),
        LocalResult::None => {
            // The gap begins at midnight on the clock in force before it,
            // which is the one a day earlier (zones never change twice in
            // a day).
            let before = tz
                .offset_from_utc_datetime(&(midnight - TimeDelta::days(1)))
                .fix();
            (midnight - TimeDelta::seconds(i64::from(before.local_minus_utc()))).and_utc()
        }
    }
}

/// One plan as the calendar shows it.
#[derive(Clone, Debug)]
pub struct PlanEntry {
    pub name: String,
    pub path: PathBuf,
    /// The cron line and its timezone; `None` for a plan that only runs
    /// when asked (`run --now`).
    pub schedule: Option<String>,
    pub duration: Option<Duration>,
    pub paused: bool,
    /// What the plan does with a start while its previous occurrence runs.
    pub overlap: Overlap,
    /// The first of its occurrences in the window that is still running
    /// when the next one starts.
    pub overlaps_itself: Option<SelfOverlap<Utc>>,
    /// Why the channels are shown as written in the plan instead of
    /// rendered: the first problem rendering an occurrence met, typically
    /// an environment variable that is not set here.
    pub unrendered: Option<String>,
}

/// One channel of one occurrence: a recording that would run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Index into [`Calendar::plans`].
    pub plan: usize,
    pub cname: String,
    pub uid: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Whether `cname` and `uid` are rendered values rather than the plan's
    /// templates as written.
    pub rendered: bool,
    /// It starts while the plan's previous occurrence still runs: skipped
    /// or stopping that one (per the plan's `overlap`), or, with `overlap:
    /// allow`, a conflict.
    pub overlaps_previous: bool,
}

/// Two slots recording the same cname and uid at overlapping times, as
/// indexes into [`Calendar::slots`], the earlier start first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub first: usize,
    pub second: usize,
}

/// The slots of one plan's one channel: a row of the grid, a lane of the
/// picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub plan: usize,
    pub cname: String,
    pub uid: String,
    /// Indexes into [`Calendar::slots`], by start.
    pub slots: Vec<usize>,
}

/// Every slot of a set of plans in a window, and the conflicts among them.
#[derive(Clone, Debug)]
pub struct Calendar {
    pub window: Window,
    pub plans: Vec<PlanEntry>,
    /// Ordered by cname, uid, start and plan, so that the slots of one
    /// channel and uid are together.
    pub slots: Vec<Slot>,
    pub conflicts: Vec<Conflict>,
    /// For each slot, whether it is part of a conflict.
    conflicted: Vec<bool>,
}

impl Calendar {
    /// Whether slot `index` is part of any conflict.
    pub fn is_conflicted(&self, index: usize) -> bool {
        self.conflicted.get(index).copied().unwrap_or(false)
    }

    /// The rows of the grid: one per plan, cname and uid that has a slot,
    /// ordered by plan name, cname and uid, so that a plan's channels are
    /// together under its name.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows: BTreeMap<(&str, usize, &str, &str), Row> = BTreeMap::new();
        for (index, slot) in self.slots.iter().enumerate() {
            let key = (
                self.plans[slot.plan].name.as_str(),
                slot.plan,
                slot.cname.as_str(),
                slot.uid.as_str(),
            );
            rows.entry(key)
                .or_insert_with(|| Row {
                    plan: slot.plan,
                    cname: slot.cname.clone(),
                    uid: slot.uid.clone(),
                    slots: Vec::new(),
                })
                .slots
                .push(index);
        }
        rows.into_values().collect()
    }
}

/// The calendar of `plans` over `window`. Each occurrence is rendered with
/// `env` to learn its channels' names. Secrets need not be set; a channel
/// whose cname or uid names an unset variable (or a plan that cannot be
/// rendered at all) is shown as written in the plan, and the plan's
/// [`PlanEntry::unrendered`] says why.
pub fn build(plans: &[Plan], window: Window, env: &Env) -> Calendar {
    let mut entries = Vec::with_capacity(plans.len());
    let mut slots = Vec::new();
    for (index, plan) in plans.iter().enumerate() {
        let timing = plan.timing();
        let mut entry = PlanEntry {
            name: plan.name().to_owned(),
            path: plan.path().to_owned(),
            schedule: timing.schedule.as_ref().map(Recurrence::summary),
            duration: timing.duration,
            paused: timing.paused,
            overlap: timing.overlap,
            overlaps_itself: None,
            unrendered: None,
        };
        if let (Some(_), Some(length)) = (&timing.schedule, timing.duration) {
            let starts = starts_within(plan, &window, length);
            let utc: Vec<DateTime<Utc>> = starts.iter().map(DateTime::to_utc).collect();
            // Judged from the window on (and the start before it, which may
            // run into it), so that the one named is in view.
            let from = utc.partition_point(|start| *start < window.start());
            entry.overlaps_itself = self_overlap(&utc[from.saturating_sub(1)..], length);
            let mut channels = channels::Channels::of(plan, env);
            let mut previous_end = None;
            for start in starts {
                let begins = start.to_utc();
                let span = Span {
                    plan: index,
                    start: begins,
                    end: end_of(begins, length),
                    overlaps_previous: previous_end.is_some_and(|end| begins < end),
                };
                previous_end = Some(span.end);
                slots.extend(channels.render(&span, start, &mut entry.unrendered));
            }
        }
        entries.push(entry);
    }
    slots.sort_by(|a, b| {
        (&a.cname, &a.uid, a.start, a.plan).cmp(&(&b.cname, &b.uid, b.start, b.plan))
    });
    let conflicts = conflicts(&slots, plans);
    let mut conflicted = vec![false; slots.len()];
    for conflict in &conflicts {
        conflicted[conflict.first] = true;
        conflicted[conflict.second] = true;
    }
    Calendar {
        window,
        plans: entries,
        slots,
        conflicts,
        conflicted,
    }
}

/// What every channel of one occurrence shares.
struct Span {
    plan: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    overlaps_previous: bool,
}

impl Span {
    fn slot(&self, cname: &str, uid: &str, rendered: bool) -> Slot {
        Slot {
            plan: self.plan,
            cname: cname.to_owned(),
            uid: uid.to_owned(),
            start: self.start,
            end: self.end,
            rendered,
            overlaps_previous: self.overlaps_previous,
        }
    }
}

fn end_of(start: DateTime<Utc>, length: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(length)
        .ok()
        .and_then(|length| start.checked_add_signed(length))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The starts of `plan` whose occurrences reach into the window, including
/// those that began before it and still run (they matter for conflicts).
fn starts_within(plan: &Plan, window: &Window, length: Duration) -> Vec<DateTime<Tz>> {
    let reach = TimeDelta::from_std(length).unwrap_or(TimeDelta::MAX);
    let after = window
        .start()
        .checked_sub_signed(reach)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    // `next_starts` takes a count, not an end: ask for more until the
    // window is covered, doubling so the cost stays linear.
    let mut wanted = 16;
    loop {
        let starts = plan.next_starts(after, wanted);
        let covered = starts.len() < wanted
            || starts
                .last()
                .is_some_and(|last| last.to_utc() >= window.end());
        if covered {
            return starts
                .into_iter()
                .filter(|start| start.to_utc() < window.end())
                .collect();
        }
        wanted *= 2;
    }
}

/// The pairs of `slots` (ordered by cname, uid and start) that record the
/// same cname and uid at overlapping times and would both run: from two
/// plans, or from one plan that allows its occurrences to overlap. (With
/// `overlap: skip` or `stop_previous` a plan never runs two at once.)
fn conflicts(slots: &[Slot], plans: &[Plan]) -> Vec<Conflict> {
    let allows_overlap = |plan: usize| plans[plan].timing().overlap == Overlap::Allow;
    let mut found = Vec::new();
    for (i, first) in slots.iter().enumerate() {
        for (j, second) in slots.iter().enumerate().skip(i + 1) {
            // Ordered by start within a channel and uid: once one starts
            // after `first` ends, so do all the rest.
            if second.cname != first.cname || second.uid != first.uid || second.start >= first.end {
                break;
            }
            if first.plan != second.plan || allows_overlap(first.plan) {
                found.push(Conflict {
                    first: i,
                    second: j,
                });
            }
        }
    }
    found
}

/// `at` on the clock of `tz`, as `HH:MM`.
fn clock(tz: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&tz).format("%H:%M").to_string()
}

/// What a plan that overlaps itself does about it, in a sentence for the
/// text view, `--check` and `--json`; `None` for a plan that does not.
pub fn self_overlap_note(calendar: &Calendar, plan: &PlanEntry) -> Option<String> {
    let found = plan.overlaps_itself.as_ref()?;
    let tz = calendar.window.tz();
    let length = plan
        .duration
        .map(crate::plan::format_duration)
        .unwrap_or_default();
    let consequence = match plan.overlap {
        Overlap::Skip => "with `overlap: skip` a start while one runs is skipped (~)",
        Overlap::StopPrevious => {
            "with `overlap: stop_previous` each such start stops the running occurrence early (~)"
        }
        Overlap::Allow => {
            "with `overlap: allow` both record the same channels at once, which Agora refuses (!)"
        }
    };
    Some(format!(
        "overlaps itself: the occurrence at {} {} lasts {length} but the next starts at {}; {consequence}",
        found.start.with_timezone(&tz).format("%Y-%m-%d"),
        clock(tz, found.start),
        clock(tz, found.next),
    ))
}
