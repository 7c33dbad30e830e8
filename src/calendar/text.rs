//! The calendar as a text grid for a terminal: each plan's name over a row
//! per channel, a column per day, as many days per block as the width
//! allows (a week, or two on a wide terminal); then the plans and the
//! overlaps, wrapped to the same width.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{Calendar, Row, clock};
use crate::plan::format_duration;

/// How wide lines are when the output is not a terminal.
pub const DEFAULT_WIDTH: usize = 80;
/// The least width a day's cell text takes: `HH:MM`, or a date's `MM-DD`.
const MIN_CELL: usize = 5;
/// Days per block when they fit: a week, so weekdays line up.
const WEEK: usize = 7;
/// The indent of a channel under its plan's name.
const INDENT: usize = 2;
/// The least a shortened channel or uid column keeps.
const MIN_CHANNEL: usize = 16;
const MIN_UID: usize = 6;
/// The most starts a cell spells out as `HH:MM+N`; more read `Nx`.
const MAX_SPELLED: usize = 10;
/// The most overlaps listed one by one; `--json` has them all.
pub const MAX_LISTED: usize = 20;
/// The heading of the label column: plan names, channels indented below.
const LABEL_HEADING: &str = "PLAN / CHANNEL";

/// The calendar as text, no line wider than `width` (but for a label
/// column that cannot shrink further on a very narrow terminal).
pub fn text(calendar: &Calendar, width: usize) -> String {
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
        let cells = cells(calendar, &rows);
        let layout = Layout::of(calendar, &rows, &cells, width);
        let days: Vec<usize> = (0..window.dates().len()).collect();
        for block in days.chunks(layout.days) {
            out.push('\n');
            grid(&mut out, calendar, (&rows, &cells), &layout, block);
        }
        out.push('\n');
        wrap(
            &mut out,
            width,
            "",
            "+N: N more starts that day; Nx: N starts; !: overlaps another recording \
             of its channel and uid (below); ~: starts while its plan's previous \
             occurrence still runs",
        );
    }
    out.push('\n');
    plans(&mut out, calendar, width);
    out.push('\n');
    conflicts(&mut out, calendar, width);
    out
}

/// The widths of the grid: the label columns, a day's cell, and how many
/// days a block holds.
struct Layout {
    /// The widest a line may be.
    width: usize,
    channel: usize,
    uid: usize,
    cell: usize,
    days: usize,
}

impl Layout {
    /// Labels as wide as their widest value and a week per block when that
    /// fits in `width`; otherwise labels shortened (the longer first) down
    /// to a floor, then fewer days per block. Two weeks on a line when
    /// even those fit.
    fn of(calendar: &Calendar, rows: &[Row], cells: &[Vec<Cell>], width: usize) -> Layout {
        let widest = |values: &mut dyn Iterator<Item = usize>, least: usize| {
            values.max().unwrap_or(0).max(least)
        };
        let cell = (cells.iter().flatten())
            .map(|cell| cell.text.chars().count())
            .max()
            .unwrap_or(0)
            .max(MIN_CELL);
        let mut layout = Layout {
            channel: widest(
                &mut rows.iter().map(|r| r.cname.chars().count()),
                LABEL_HEADING.len() - INDENT,
            ),
            uid: widest(&mut rows.iter().map(|r| r.uid.chars().count()), 3),
            cell,
            days: 1,
            width,
        };
        let total = calendar.window.dates().len();
        let week = total.min(WEEK);
        while layout.fitting(width) < week {
            let channel_spare = layout.channel.saturating_sub(MIN_CHANNEL);
            let uid_spare = layout.uid.saturating_sub(MIN_UID);
            if channel_spare == 0 && uid_spare == 0 {
                break;
            }
            if channel_spare >= uid_spare {
                layout.channel -= 1;
            } else {
                layout.uid -= 1;
            }
        }
        let fitting = layout.fitting(width).max(1);
        layout.days = if fitting >= WEEK {
            (fitting / WEEK * WEEK).min(total)
        } else {
            // Split a week evenly (4 and 3 days rather than 6 and 1).
            let blocks = week.div_ceil(fitting);
            week.div_ceil(blocks).max(1)
        };
        layout
    }

    /// The width of the label columns.
    fn labels(&self) -> usize {
        INDENT + self.channel + 1 + self.uid
    }

    /// How many days fit beside the labels in `width`.
    fn fitting(&self, width: usize) -> usize {
        width.saturating_sub(self.labels()) / (self.cell + 2)
    }

    fn channel_labels(&self, channel: &str, uid: &str) -> String {
        format!(
            "{:INDENT$}{:<cw$} {:<uw$}",
            "",
            fit_middle(channel, self.channel),
            fit_end(uid, self.uid),
            cw = self.channel,
            uw = self.uid,
        )
    }
}

/// `text` cut to `width` characters at its end, the cut marked with `…`.
fn fit_end(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` cut to `width` characters in its middle, so that both the
/// prefix channels share and the suffix that tells them apart stay.
pub(super) fn fit_middle(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_owned();
    }
    let kept = width.saturating_sub(1);
    let head = kept / 2;
    let tail = kept - head;
    let mut cut: String = text.chars().take(head).collect();
    cut.push('…');
    cut.extend(text.chars().skip(count - tail));
    cut
}

/// One block of days: two heading lines (weekday, then month-day beside
/// the label heading), then each plan's name over its channels' rows.
fn grid(
    out: &mut String,
    calendar: &Calendar,
    (rows, cells): (&[Row], &[Vec<Cell>]),
    layout: &Layout,
    days: &[usize],
) {
    let dates = calendar.window.dates();
    let labels = layout.labels();
    let width = layout.cell;
    let mut weekdays = " ".repeat(labels);
    let mut heading = format!(
        "{:<lw$} {:<uw$}",
        fit_end(LABEL_HEADING, INDENT + layout.channel),
        "UID",
        lw = INDENT + layout.channel,
        uw = layout.uid
    );
    for &day in days {
        let _ = write!(
            weekdays,
            "  {:<width$}",
            dates[day].format("%a").to_string()
        );
        let _ = write!(
            heading,
            "  {:<width$}",
            dates[day].format("%m-%d").to_string()
        );
    }
    let _ = writeln!(out, "{}", weekdays.trim_end());
    let _ = writeln!(out, "{}", heading.trim_end());
    // A row with nothing in this block (a channel named after its date,
    // a plan that starts monthly) would only be a line of dashes.
    let shown = rows
        .iter()
        .zip(cells)
        .filter(|(_, cells)| days.iter().any(|&day| cells[day].starts > 0));
    let mut plan = None;
    let mut any = false;
    for (row, cells) in shown {
        any = true;
        if plan != Some(row.plan) {
            plan = Some(row.plan);
            let _ = writeln!(out, "{}", plan_heading(calendar, row.plan, layout.width));
        }
        let mut line = layout.channel_labels(&row.cname, &row.uid);
        for &day in days {
            let Cell { marker, text, .. } = &cells[day];
            let _ = write!(line, " {marker}{text:<width$}");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if !any {
        out.push_str("  no recordings on these days\n");
    }
}

/// A plan's line in the grid: its name, and `~ overlaps itself` when it
/// does.
fn plan_heading(calendar: &Calendar, plan: usize, width: usize) -> String {
    let entry = &calendar.plans[plan];
    let mut heading = entry.name.clone();
    if entry.overlaps_itself.is_some() {
        heading.push_str("  (overlaps itself, see below)");
    }
    fit_end(&heading, width)
}

/// What a row shows on a day.
struct Cell {
    /// `!` when a start that day is in a conflict, else `~` when one
    /// starts while the plan's previous occurrence still runs.
    marker: char,
    /// The first start that day and how many more.
    text: String,
    starts: usize,
}

/// Each row's cells, a day at a time.
fn cells(calendar: &Calendar, rows: &[Row]) -> Vec<Vec<Cell>> {
    let window = &calendar.window;
    let days = window.dates().len();
    rows.iter()
        .map(|row| {
            let mut starting: Vec<Vec<usize>> = vec![Vec::new(); days];
            for &index in &row.slots {
                if let Some(day) = window.day_of(calendar.slots[index].start) {
                    starting[day].push(index);
                }
            }
            starting
                .iter()
                .map(|starting| cell(calendar, starting))
                .collect()
        })
        .collect()
}

fn cell(calendar: &Calendar, starting: &[usize]) -> Cell {
    let tz = calendar.window.tz();
    let marker = if starting.iter().any(|&i| calendar.is_conflicted(i)) {
        '!'
    } else if starting
        .iter()
        .any(|&i| calendar.slots[i].overlaps_previous)
    {
        '~'
    } else {
        ' '
    };
    let text = match starting {
        [] => "-".to_owned(),
        [only] => clock(tz, calendar.slots[*only].start),
        [first, ..] if starting.len() <= MAX_SPELLED => format!(
            "{}+{}",
            clock(tz, calendar.slots[*first].start),
            starting.len() - 1
        ),
        _ => format!("{}x", starting.len()),
    };
    Cell {
        marker,
        text,
        starts: starting.len(),
    }
}

/// A paragraph per plan: its schedule and length, and anything that
/// limits what the grid shows of it.
fn plans(out: &mut String, calendar: &Calendar, width: usize) {
    out.push_str("plans:\n");
    let name_width = calendar
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
        if let Some(note) = super::self_overlap_note(calendar, plan) {
            let _ = write!(about, "; {note}");
        }
        if let Some(reason) = &plan.unrendered {
            let _ = write!(about, "; channels as written: {reason}");
        }
        let indent = " ".repeat(4 + name_width.min(width / 3));
        wrap(
            out,
            width,
            &indent,
            &format!("  {:<name_width$}  {about}", plan.name),
        );
    }
}

/// The conflicts one by one (at most [`MAX_LISTED`]): the channel, both
/// plans and both times.
fn conflicts(out: &mut String, calendar: &Calendar, width: usize) {
    if calendar.conflicts.is_empty() {
        out.push_str("overlaps: none (no channel and uid is recorded twice at once)\n");
        return;
    }
    wrap(
        out,
        width,
        "    ",
        &format!(
            "overlaps: {} (!): a channel and uid recorded twice at once; Agora refuses the later start (error 53)",
            calendar.conflicts.len()
        ),
    );
    for conflict in calendar.conflicts.iter().take(MAX_LISTED) {
        wrap(
            out,
            width,
            "    ",
            &format!("  {}", conflict_line(calendar, conflict)),
        );
    }
    if calendar.conflicts.len() > MAX_LISTED {
        let _ = writeln!(
            out,
            "  and {} more (--json lists them all)",
            calendar.conflicts.len() - MAX_LISTED
        );
    }
}

/// `CNAME uid UID: PLAN START-END and PLAN START-END`, the second plan's
/// name and date left out when they are the first's.
pub fn conflict_line(calendar: &Calendar, conflict: &super::Conflict) -> String {
    let tz = calendar.window.tz();
    let first = &calendar.slots[conflict.first];
    let second = &calendar.slots[conflict.second];
    let same_day =
        first.start.with_timezone(&tz).date_naive() == second.start.with_timezone(&tz).date_naive();
    let mut second_text = span(tz, second.start, second.end, !same_day);
    if second.plan != first.plan {
        second_text = format!("{} {second_text}", calendar.plans[second.plan].name);
    }
    format!(
        "{} uid {}: {} {} and {second_text}",
        first.cname,
        first.uid,
        calendar.plans[first.plan].name,
        span(tz, first.start, first.end, true),
    )
}

/// `2026-11-30 08:00-08:30` (without the date unless `dated`), with the
/// end's date too when it differs.
fn span(tz: crate::schedule::Tz, start: DateTime<Utc>, end: DateTime<Utc>, dated: bool) -> String {
    let (local_start, local_end) = (start.with_timezone(&tz), end.with_timezone(&tz));
    let end_text = if local_end.date_naive() == local_start.date_naive() {
        local_end.format("%H:%M")
    } else {
        local_end.format("%Y-%m-%d %H:%M")
    };
    let start_format = if dated { "%Y-%m-%d %H:%M" } else { "%H:%M" };
    format!("{}-{end_text}", local_start.format(start_format))
}

/// `text` as lines of at most `width` characters, broken at spaces, the
/// lines after the first indented by `indent`. A word longer than a line
/// stays whole.
pub(super) fn wrap(out: &mut String, width: usize, indent: &str, text: &str) {
    let mut line = String::new();
    let mut length = 0;
    let mut has_word = false;
    for (i, word) in text.split(' ').enumerate() {
        let word_length = word.chars().count();
        if has_word && !word.is_empty() && length + 1 + word_length > width {
            let _ = writeln!(out, "{}", line.trim_end());
            indent.clone_into(&mut line);
            length = indent.chars().count();
        } else if i > 0 {
            line.push(' ');
            length += 1;
        }
        line.push_str(word);
        length += word_length;
        has_word |= !word.is_empty();
    }
    let _ = writeln!(out, "{}", line.trim_end());
}
