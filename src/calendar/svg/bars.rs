//! The recordings of a row in the picture: each day's parts of them as
//! bars (those that overlap merged, with a count in the tooltip) and the
//! day's first start beside them.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::{
    BAR_HEIGHT, CONFLICT_FILL, DAY_WIDTH, FILL, Frame, MIN_BAR, ROW_HEIGHT, SECONDS_PER_HOUR,
    SELF_OVERLAP_FILL, SMALL_CHAR_WIDTH, count, escape,
};
use crate::calendar::{Calendar, Row, Slot, clock};

/// A row's recordings sorted by day: the parts of its recordings on each
/// day (slot, and seconds into the day of the part's start and end), and
/// the starts on each day.
pub(super) struct RowDays {
    parts: Vec<Vec<(usize, i64, i64)>>,
    starts: Vec<Vec<DateTime<Utc>>>,
}

impl RowDays {
    pub(super) fn of(calendar: &Calendar, row: &Row) -> RowDays {
        let days = calendar.window.dates().len();
        let mut by_day = RowDays {
            parts: vec![Vec::new(); days],
            starts: vec![Vec::new(); days],
        };
        for &index in &row.slots {
            let slot = &calendar.slots[index];
            if let Some(day) = calendar.window.day_of(slot.start) {
                by_day.starts[day].push(slot.start);
            }
            for (day, top, bottom) in pieces(calendar, slot) {
                by_day.parts[day].push((index, top, bottom));
            }
        }
        by_day
    }
}

/// A bar per recording of a row on a day (recordings that overlap one
/// another merged into one, with the count in its tooltip), and the first
/// start that day beside them.
pub(super) fn recordings(
    out: &mut String,
    calendar: &Calendar,
    row: &RowDays,
    frame: &Frame,
    (column, day): (usize, usize),
    y: f64,
) {
    let mut bars: Vec<Bar> = Vec::new();
    for &(index, top, bottom) in &row.parts[day] {
        let fill = if calendar.is_conflicted(index) {
            CONFLICT_FILL
        } else if calendar.slots[index].overlaps_previous {
            SELF_OVERLAP_FILL
        } else {
            FILL
        };
        let (left, right) = (frame.x(column, top), frame.x(column, bottom));
        match bars.last_mut() {
            Some(bar) if bar.fill == fill && left <= bar.right + 0.5 => {
                bar.right = bar.right.max(right);
                bar.slots.push(index);
            }
            _ => bars.push(Bar {
                left,
                right,
                fill,
                slots: vec![index],
            }),
        }
    }
    for bar in &bars {
        let width = (bar.right - bar.left).max(MIN_BAR);
        let _ = writeln!(
            out,
            r##"<rect class="recording" x="{:.1}" y="{:.1}" width="{width:.1}" height="{BAR_HEIGHT}" fill="{}" stroke="#ffffff" stroke-width="0.5"><title>{}</title></rect>"##,
            bar.left,
            y + (ROW_HEIGHT - BAR_HEIGHT) / 2.0,
            bar.fill,
            escape(&title(calendar, bar)),
        );
    }
    start_time(out, calendar, frame, column, &bars, &row.starts[day], y);
}

/// Recordings drawn as one bar.
struct Bar {
    left: f64,
    right: f64,
    fill: &'static str,
    slots: Vec<usize>,
}

/// The first start on the day (`08:00`, `08:00 +2`) after the day's last
/// bar, or before its first when there is no room after; left out when
/// there is room on neither side.
fn start_time(
    out: &mut String,
    calendar: &Calendar,
    frame: &Frame,
    column: usize,
    bars: &[Bar],
    starts: &[DateTime<Utc>],
    y: f64,
) {
    let (Some(first), Some(first_bar), Some(last_bar)) =
        (starts.first(), bars.first(), bars.last())
    else {
        return;
    };
    let mut label = clock(calendar.window.tz(), *first);
    if starts.len() > 1 {
        let _ = write!(label, " +{}", starts.len() - 1);
    }
    let needed = count(label.len()) * SMALL_CHAR_WIDTH + 3.0;
    let day_left = frame.left + count(column) * DAY_WIDTH;
    let day_right = day_left + DAY_WIDTH;
    let after = last_bar.right.max(last_bar.left + MIN_BAR) + 3.0;
    let (x, anchor) = if after + needed <= day_right {
        (after, "start")
    } else if first_bar.left - needed >= day_left {
        (first_bar.left - 3.0, "end")
    } else {
        return;
    };
    let _ = writeln!(
        out,
        r#"<text class="start" x="{x:.1}" y="{:.1}" text-anchor="{anchor}" font-size="10">{label}</text>"#,
        y + 14.0
    );
}

/// The parts of `slot` on each day of the window it runs on: the day and
/// the seconds from that day's midnight at which the part begins and ends.
pub(super) fn pieces(calendar: &Calendar, slot: &Slot) -> Vec<(usize, i64, i64)> {
    let window = &calendar.window;
    let Some(first_day) = window.day_of(slot.start.max(window.start())) else {
        return Vec::new();
    };
    let mut parts = Vec::new();
    for day in first_day..window.dates().len() {
        if window.bound(day) >= slot.end {
            break;
        }
        let date = window.dates()[day];
        let top = seconds_into(calendar, date, slot.start.max(window.bound(day)));
        let bottom = if slot.end >= window.bound(day + 1) {
            24 * SECONDS_PER_HOUR
        } else {
            seconds_into(calendar, date, slot.end)
        };
        parts.push((day, top, bottom));
    }
    parts
}

/// How far into `date` `at` is, on the day's clock.
fn seconds_into(calendar: &Calendar, date: NaiveDate, at: DateTime<Utc>) -> i64 {
    let local = at.with_timezone(&calendar.window.tz()).naive_local();
    let since_midnight = (local - date.and_time(NaiveTime::MIN)).num_seconds();
    since_midnight.clamp(0, 24 * SECONDS_PER_HOUR)
}

/// The tooltip: plan, channel, uid and time, or how many recordings one
/// bar stands for.
fn title(calendar: &Calendar, bar: &Bar) -> String {
    let tz = calendar.window.tz();
    let first = &calendar.slots[bar.slots[0]];
    let last = &calendar.slots[bar.slots[bar.slots.len() - 1]];
    let mut title = format!(
        "{}: {} uid {}, {} ",
        calendar.plans[first.plan].name,
        first.cname,
        first.uid,
        first.start.with_timezone(&tz).format("%Y-%m-%d"),
    );
    if bar.slots.len() == 1 {
        let _ = write!(title, "{}-{}", clock(tz, first.start), clock(tz, first.end));
    } else {
        let _ = write!(
            title,
            "{} recordings starting {}-{}",
            bar.slots.len(),
            clock(tz, first.start),
            clock(tz, last.start)
        );
    }
    if bar.fill == CONFLICT_FILL {
        title.push_str(" (overlaps another recording of this channel and uid)");
    } else if bar.fill == SELF_OVERLAP_FILL {
        title.push_str(" (starts while the plan's previous occurrence still runs)");
    }
    title
}
