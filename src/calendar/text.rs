//! The calendar as a text grid for a terminal: a row per plan and
//! channel, a column per day, at most a week per block so that a line
//! stays within 100 columns; then the plans and the conflicts in full.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{Calendar, Row, clock};
use crate::plan::format_duration;

/// The widest a line may be.
const WIDTH: usize = 100;
/// A day's cell: `HH:MM`, `HH:MM+N` or `Nx`, after a one-character marker.
const CELL: usize = 7;
/// Days per block of the grid.
const WEEK: usize = 7;
/// Spaces between the label columns.
const GAP: usize = 2;
/// The least a truncated label column keeps.
const MIN_LABEL: usize = 8;
/// The most starts a cell spells out as `HH:MM+N`; more read `Nx`.
const MAX_SPELLED: usize = 10;

/// The calendar as text: a heading, the grid, the plans, the conflicts.
pub fn text(calendar: &Calendar) -> String {
    let window = &calendar.window;
    let mut out = String::new();
    if let (Some(first), Some(last)) = (window.dates().first(), window.dates().last()) {
        let _ = writeln!(
            out,
            "{} to {}, times in {}",
            first.format("%a %Y-%m-%d"),
            last.format("%a %Y-%m-%d"),
            window.tz()
        );
    }
    let rows = calendar.rows();
    if rows.is_empty() {
        out.push_str("\nno recordings on these days\n");
    } else {
        let widths = Widths::of(calendar, &rows);
        let days: Vec<usize> = (0..window.dates().len()).collect();
        for block in days.chunks(WEEK) {
            out.push('\n');
            grid(&mut out, calendar, &rows, &widths, block);
        }
        out.push_str("\n(HH:MM+N: N more starts that day; Nx: N starts; !: overlaps, below)\n");
    }
    out.push('\n');
    plans(&mut out, calendar);
    out.push('\n');
    conflicts(&mut out, calendar);
    out
}

/// The label columns' widths: as wide as their widest value, narrowed
/// (the longer first) until seven days fit in [`WIDTH`].
struct Widths {
    plan: usize,
    channel: usize,
    uid: usize,
}

impl Widths {
    fn of(calendar: &Calendar, rows: &[Row]) -> Widths {
        let widest = |values: &mut dyn Iterator<Item = usize>, heading: &str| {
            values.max().unwrap_or(0).max(heading.len())
        };
        let mut widths = Widths {
            plan: widest(
                &mut rows
                    .iter()
                    .map(|r| calendar.plans[r.plan].name.chars().count()),
                "PLAN",
            ),
            channel: widest(&mut rows.iter().map(|r| r.cname.chars().count()), "CHANNEL"),
            uid: widest(&mut rows.iter().map(|r| r.uid.chars().count()), "UID"),
        };
        let days = calendar.window.dates().len().min(WEEK) * (1 + CELL);
        let budget = WIDTH.saturating_sub(days + 2 * GAP + 1);
        while widths.plan + widths.channel + widths.uid > budget {
            let longer = if widths.channel >= widths.plan {
                &mut widths.channel
            } else {
                &mut widths.plan
            };
            if *longer <= MIN_LABEL {
                break;
            }
            *longer -= 1;
        }
        widths
    }

    fn labels(&self, plan: &str, channel: &str, uid: &str) -> String {
        format!(
            "{:<pw$}{:GAP$}{:<cw$}{:GAP$}{:<uw$}",
            fit(plan, self.plan),
            "",
            fit(channel, self.channel),
            "",
            fit(uid, self.uid),
            pw = self.plan,
            cw = self.channel,
            uw = self.uid,
        )
    }
}

/// `text` cut to `width` characters, the cut marked with `…`.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// One block of days: two heading lines (weekday, then month-day beside
/// the label headings) and a line per row.
fn grid(out: &mut String, calendar: &Calendar, rows: &[Row], widths: &Widths, days: &[usize]) {
    let dates = calendar.window.dates();
    let labels = widths.labels("PLAN", "CHANNEL", "UID");
    let mut weekdays = " ".repeat(labels.chars().count() + 1);
    let mut heading = labels + " ";
    for &day in days {
        let _ = write!(weekdays, " {:<CELL$}", dates[day].format("%a").to_string());
        let _ = write!(
            heading,
            " {:<CELL$}",
            dates[day].format("%m-%d").to_string()
        );
    }
    let _ = writeln!(out, "{}", weekdays.trim_end());
    let _ = writeln!(out, "{}", heading.trim_end());
    // A row with nothing in this block (a channel named after its date,
    // a plan that starts monthly) would only be a line of dashes.
    let shown = rows.iter().filter(|row| {
        days.iter()
            .any(|&day| !starting(calendar, row, day).is_empty())
    });
    for row in shown {
        let mut line = widths.labels(&calendar.plans[row.plan].name, &row.cname, &row.uid);
        line.push(' ');
        for &day in days {
            let (marker, text) = cell(calendar, row, day);
            let _ = write!(line, "{marker}{text:<CELL$}");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// What a row shows on a day: the first start that day and how many more,
/// marked `!` when any of them is in a conflict.
fn cell(calendar: &Calendar, row: &Row, day: usize) -> (char, String) {
    let window = &calendar.window;
    let starting = starting(calendar, row, day);
    let marker = if starting.iter().any(|&i| calendar.is_conflicted(i)) {
        '!'
    } else {
        ' '
    };
    let text = match starting.as_slice() {
        [] => "-".to_owned(),
        [only] => clock(window.tz(), calendar.slots[*only].start),
        [first, ..] if starting.len() <= MAX_SPELLED => format!(
            "{}+{}",
            clock(window.tz(), calendar.slots[*first].start),
            starting.len() - 1
        ),
        _ => format!("{}x", starting.len()),
    };
    (marker, text)
}

/// The slots of `row` that start on `day`.
fn starting(calendar: &Calendar, row: &Row, day: usize) -> Vec<usize> {
    row.slots
        .iter()
        .copied()
        .filter(|&i| calendar.window.day_of(calendar.slots[i].start) == Some(day))
        .collect()
}

/// A line per plan: its schedule and length, and anything that limits
/// what the grid shows of it.
fn plans(out: &mut String, calendar: &Calendar) {
    out.push_str("plans:\n");
    let width = calendar
        .plans
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0);
    for plan in &calendar.plans {
        let mut about = match (&plan.schedule, plan.duration) {
            (Some(schedule), Some(length)) => format!("{schedule}, {}", format_duration(length)),
            (Some(schedule), None) => schedule.clone(),
            (None, _) => "no schedule: runs only with `run --now`".to_owned(),
        };
        if plan.paused {
            about.push_str(", paused");
        }
        if plan.truncated {
            let _ = write!(
                about,
                ", only its first {} occurrences shown",
                super::MAX_OCCURRENCES
            );
        }
        if let Some(reason) = &plan.unrendered {
            let _ = write!(about, "; channels as written: {reason}");
        }
        let _ = writeln!(out, "  {:<width$}  {about}", plan.name);
    }
}

/// Every conflict in full: the channel, both plans and both times.
fn conflicts(out: &mut String, calendar: &Calendar) {
    if calendar.conflicts.is_empty() {
        out.push_str("overlaps: none (no channel and uid is recorded twice at once)\n");
        return;
    }
    let _ = writeln!(
        out,
        "overlaps: {} (!): a channel and uid recorded twice at once; Agora refuses the later start (error 53)",
        calendar.conflicts.len()
    );
    let tz = calendar.window.tz();
    for conflict in &calendar.conflicts {
        let first = &calendar.slots[conflict.first];
        let second = &calendar.slots[conflict.second];
        let _ = writeln!(
            out,
            "  {} uid {}: {} {} and {} {}",
            first.cname,
            first.uid,
            calendar.plans[first.plan].name,
            span(tz, first.start, first.end),
            calendar.plans[second.plan].name,
            span(tz, second.start, second.end),
        );
    }
}

/// `2026-11-30 08:00-08:30`, with the end's date too when it differs.
fn span(tz: crate::schedule::Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let (local_start, local_end) = (start.with_timezone(&tz), end.with_timezone(&tz));
    let end_text = if local_end.date_naive() == local_start.date_naive() {
        local_end.format("%H:%M")
    } else {
        local_end.format("%Y-%m-%d %H:%M")
    };
    format!("{}-{end_text}", local_start.format("%Y-%m-%d %H:%M"))
}
