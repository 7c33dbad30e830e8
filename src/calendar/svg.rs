//! The calendar as a self-contained SVG picture: a column per day, the
//! hours of the day downwards, a lane per plan and channel inside each
//! column, and a rectangle per recording, red where it conflicts.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::{Calendar, Slot};

/// Space for the hour labels.
const LEFT: f64 = 44.0;
/// Space for the title and the day headings.
const TOP: f64 = 48.0;
const DAY_WIDTH: f64 = 140.0;
const HOUR_HEIGHT: f64 = 20.0;
/// Space below the day for the legend.
const BOTTOM: f64 = 32.0;
/// The least height a recording is drawn with, so that a short one shows.
const MIN_HEIGHT: f64 = 2.0;
const SECONDS_PER_DAY: i64 = 86_400;

const FILL: &str = "#4e79a7";
const CONFLICT_FILL: &str = "#e15759";

/// The calendar as an SVG document.
pub fn svg(calendar: &Calendar) -> String {
    let window = &calendar.window;
    let dates = window.dates();
    let days = f64::from(u32::try_from(dates.len()).unwrap_or(u32::MAX));
    let day_height = 24.0 * HOUR_HEIGHT;
    let width = LEFT + days * DAY_WIDTH + 8.0;
    let height = TOP + day_height + BOTTOM;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        out,
        r##"<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="#ffffff"/>"##
    );
    if let (Some(first), Some(last)) = (dates.first(), dates.last()) {
        let _ = writeln!(
            out,
            r#"<text x="{LEFT}" y="16" font-size="13">{}</text>"#,
            escape(&format!(
                "recplan calendar: {first} to {last}, times in {}",
                window.tz()
            ))
        );
    }
    for hour in 0..=24u32 {
        let y = TOP + f64::from(hour) * HOUR_HEIGHT;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e0e0e0"/>"##,
            LEFT + days * DAY_WIDTH
        );
        if hour % 3 == 0 && hour < 24 {
            let _ = writeln!(
                out,
                r##"<text x="4" y="{:.1}" fill="#555555">{hour:02}:00</text>"##,
                y + 4.0
            );
        }
    }
    for (day, date) in (0u32..).zip(dates) {
        let x = LEFT + f64::from(day) * DAY_WIDTH;
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#b0b0b0"/>"##,
            TOP + day_height
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 4.0,
            TOP - 8.0,
            date.format("%a %m-%d")
        );
    }
    recordings(&mut out, calendar);
    let _ = writeln!(
        out,
        r##"<text x="{LEFT}" y="{:.1}" fill="#555555">a lane per plan and channel; red: the same channel and uid recorded twice at once (Agora error 53)</text>"##,
        TOP + day_height + 20.0
    );
    out.push_str("</svg>\n");
    out
}

/// A rectangle per recording on each day it runs: `occurrence` on the day
/// it starts, `continued` on the days it runs on into.
fn recordings(out: &mut String, calendar: &Calendar) {
    let window = &calendar.window;
    let rows = calendar.rows();
    let lanes = f64::from(u32::try_from(rows.len()).unwrap_or(u32::MAX)).max(1.0);
    let lane_width = (DAY_WIDTH - 4.0) / lanes;
    for (lane, row) in (0u32..).zip(&rows) {
        for &index in &row.slots {
            let slot = &calendar.slots[index];
            let first_day = window.day_of(slot.start.max(window.start()));
            let Some(first_day) = first_day else { continue };
            let started_in_window = window.day_of(slot.start) == Some(first_day);
            for day in first_day..window.dates().len() {
                if window.bound(day) >= slot.end {
                    break;
                }
                let date = window.dates()[day];
                let top = offset(calendar, date, slot.start.max(window.bound(day)));
                let bottom = if slot.end >= window.bound(day + 1) {
                    24.0 * HOUR_HEIGHT
                } else {
                    offset(calendar, date, slot.end)
                };
                let class = if started_in_window && day == first_day {
                    "occurrence"
                } else {
                    "continued"
                };
                let x = LEFT
                    + f64::from(u32::try_from(day).unwrap_or(u32::MAX)) * DAY_WIDTH
                    + 2.0
                    + f64::from(lane) * lane_width;
                let conflicted = calendar.is_conflicted(index);
                let _ = writeln!(
                    out,
                    r##"<rect class="{class}" x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" stroke="#ffffff" stroke-width="0.5"><title>{}</title></rect>"##,
                    TOP + top,
                    lane_width,
                    (bottom - top).max(MIN_HEIGHT),
                    if conflicted { CONFLICT_FILL } else { FILL },
                    escape(&title(calendar, slot, conflicted)),
                );
            }
        }
    }
}

/// How far down the day `at` is drawn: its time on the day's clock.
fn offset(calendar: &Calendar, date: NaiveDate, at: DateTime<Utc>) -> f64 {
    let local = at.with_timezone(&calendar.window.tz()).naive_local();
    let seconds = (local - date.and_time(NaiveTime::MIN))
        .num_seconds()
        .clamp(0, SECONDS_PER_DAY);
    // At most 86 400: exact in an f64.
    f64::from(u32::try_from(seconds).unwrap_or(0)) / 3600.0 * HOUR_HEIGHT
}

/// The tooltip: plan, channel, uid and time.
fn title(calendar: &Calendar, slot: &Slot, conflicted: bool) -> String {
    let tz = calendar.window.tz();
    let mut title = format!(
        "{}: {} uid {}, {} {}-{}",
        calendar.plans[slot.plan].name,
        slot.cname,
        slot.uid,
        slot.start.with_timezone(&tz).format("%Y-%m-%d"),
        super::clock(tz, slot.start),
        super::clock(tz, slot.end),
    );
    if conflicted {
        title.push_str(" (overlaps another recording of this channel and uid)");
    }
    title
}

/// `text` with XML's special characters escaped.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            _ => escaped.push(c),
        }
    }
    escaped
}
