//! The calendar as a self-contained SVG picture that reads on its own
//! when pasted into a document: a title, a legend, then a block per week
//! with a column per day and a time axis under each day's name, each
//! plan's name over a labelled row per channel, and a bar per recording
//! with its start time beside it. Rows have a fixed height, so sixty
//! channels make a taller picture rather than thinner bars.

use std::fmt::Write as _;

mod bars;

use bars::{RowDays, pieces, recordings};

use super::text::fit_middle;
use super::{Calendar, Row};

const MARGIN: f64 = 16.0;
const DAY_WIDTH: f64 = 124.0;
const ROW_HEIGHT: f64 = 20.0;
const BAR_HEIGHT: f64 = 12.0;
/// The day names and the time axis above each block's rows.
const BLOCK_HEADING: f64 = 36.0;
const BLOCK_GAP: f64 = 20.0;
const LEGEND_LINE: f64 = 18.0;
/// Days per block: a week.
const WEEK: usize = 7;
/// What a character of the 12-pixel labels is reckoned to take, to size
/// the label column and keep a start time inside its day.
const CHAR_WIDTH: f64 = 7.0;
const SMALL_CHAR_WIDTH: f64 = 6.0;
const MIN_LABEL_WIDTH: f64 = 150.0;
const MAX_LABEL_CHARS: usize = 40;
/// The least width a recording is drawn with, so that a short one shows.
const MIN_BAR: f64 = 3.0;
/// The least room between two labels of the time axis: `HH:00`, or `HH`
/// where hours are narrow.
const MIN_TICK_SPACING: f64 = 34.0;
const MIN_SHORT_TICK_SPACING: f64 = 20.0;
const SECONDS_PER_HOUR: i64 = 3600;

const FILL: &str = "#4e79a7";
const CONFLICT_FILL: &str = "#e15759";
const SELF_OVERLAP_FILL: &str = "#f28e2b";
const TEXT: &str = "#222222";
const MUTED: &str = "#666666";

/// The legend: each colour and what it means.
const LEGEND: [(&str, &str); 3] = [
    (
        FILL,
        "a recording (its first start that day beside it, +N: N more)",
    ),
    (
        CONFLICT_FILL,
        "the same channel and uid recorded twice at once: Agora refuses the later start (error 53)",
    ),
    (
        SELF_OVERLAP_FILL,
        "starts while its plan's previous occurrence still runs: skipped, or stopping it (per `overlap`)",
    ),
];

/// The calendar as an SVG document.
pub fn svg(calendar: &Calendar) -> String {
    let rows = calendar.rows();
    let hours = Hours::of(calendar);
    let label_width = label_width(calendar, &rows);
    let days = calendar.window.dates().len();
    let per_block = days.clamp(1, WEEK);
    let blocks = days.div_ceil(per_block);
    let lines = row_lines(&rows);
    let by_day: Vec<RowDays> = rows.iter().map(|row| RowDays::of(calendar, row)).collect();
    let block_height = BLOCK_HEADING + count(lines.len()) * ROW_HEIGHT;
    let width = 2.0 * MARGIN + label_width + count(per_block) * DAY_WIDTH;
    let legend_top = MARGIN + 30.0;
    let first_block = legend_top + count(LEGEND.len()) * LEGEND_LINE + 12.0;
    let height = first_block + count(blocks) * (block_height + BLOCK_GAP) + MARGIN;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="12" fill="{TEXT}">"#
    );
    let _ = writeln!(
        out,
        r##"<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="#ffffff"/>"##
    );
    heading(&mut out, calendar, hours, legend_top);
    let dates: Vec<usize> = (0..days).collect();
    for (index, block) in dates.chunks(per_block).enumerate() {
        let top = first_block + count(index) * (block_height + BLOCK_GAP);
        let frame = Frame {
            left: MARGIN + label_width,
            top,
            hours,
        };
        draw_block(&mut out, calendar, (&rows, &by_day), &lines, &frame, block);
    }
    out.push_str("</svg>\n");
    out
}

/// A count as an `f64`, for coordinates (counts here are far below 2^32).
fn count(n: usize) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The title and the legend.
fn heading(out: &mut String, calendar: &Calendar, hours: Hours, legend_top: f64) {
    let window = &calendar.window;
    if let (Some(first), Some(last)) = (window.dates().first(), window.dates().last()) {
        let _ = writeln!(
            out,
            r#"<text x="{MARGIN}" y="{:.1}" font-size="15" font-weight="bold">{}</text>"#,
            MARGIN + 12.0,
            escape(&format!(
                "recplan calendar: {} to {}, times in {}{}",
                first.format("%a %Y-%m-%d"),
                last.format("%a %Y-%m-%d"),
                window.tz(),
                if hours.span() < 24.0 {
                    format!(" (hours {:02}:00-{:02}:00 shown)", hours.first, hours.last)
                } else {
                    String::new()
                },
            ))
        );
    }
    for (line, (fill, meaning)) in (0..).zip(LEGEND) {
        let y = legend_top + count(line) * LEGEND_LINE;
        let _ = writeln!(
            out,
            r#"<rect class="legend" x="{MARGIN}" y="{y:.1}" width="18" height="{BAR_HEIGHT}" fill="{fill}"/>"#
        );
        let _ = writeln!(
            out,
            r#"<text class="legend" x="{:.1}" y="{:.1}">{}</text>"#,
            MARGIN + 26.0,
            y + 10.0,
            escape(meaning)
        );
    }
}

/// The hours of the day the picture shows: those some recording falls in,
/// whole hours, at least six of them; all 24 when one runs past midnight.
#[derive(Clone, Copy, Debug)]
struct Hours {
    first: u32,
    last: u32,
}

impl Hours {
    fn of(calendar: &Calendar) -> Hours {
        let mut first = 24;
        let mut last = 0;
        for slot in &calendar.slots {
            for (_, top, bottom) in pieces(calendar, slot) {
                first = first.min(top / SECONDS_PER_HOUR);
                last = last.max((bottom + SECONDS_PER_HOUR - 1) / SECONDS_PER_HOUR);
            }
        }
        if first >= last {
            return Hours { first: 0, last: 24 };
        }
        let (mut first, mut last) = (
            u32::try_from(first).unwrap_or(0),
            u32::try_from(last).unwrap_or(24).min(24),
        );
        while last - first < 6 {
            if last < 24 {
                last += 1;
            }
            if last - first < 6 && first > 0 {
                first -= 1;
            }
        }
        Hours { first, last }
    }

    fn span(self) -> f64 {
        f64::from(self.last - self.first)
    }
}

/// Where a block is drawn.
struct Frame {
    /// Where the first day's column begins.
    left: f64,
    top: f64,
    hours: Hours,
}

impl Frame {
    /// The x of `seconds` into day `column` of the block, clamped to the
    /// hours shown.
    fn x(&self, column: usize, seconds: i64) -> f64 {
        let hours = f64::from(i32::try_from(seconds).unwrap_or(0)) / 3600.0;
        let within = (hours - f64::from(self.hours.first)).clamp(0.0, self.hours.span());
        self.left + count(column) * DAY_WIDTH + within / self.hours.span() * DAY_WIDTH
    }

    fn rows_top(&self) -> f64 {
        self.top + BLOCK_HEADING
    }
}

/// A line of a block: a plan's name, or one of its channels.
enum Line {
    Plan(usize),
    Channel(usize),
}

/// Each plan's name followed by its channels' rows ([`Calendar::rows`]
/// has a plan's rows together).
fn row_lines(rows: &[Row]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut plan = None;
    for (index, row) in rows.iter().enumerate() {
        if plan != Some(row.plan) {
            plan = Some(row.plan);
            lines.push(Line::Plan(row.plan));
        }
        lines.push(Line::Channel(index));
    }
    lines
}

/// A channel's label: `cname  uid`.
fn channel_label(row: &Row) -> String {
    format!("{}  uid {}", row.cname, row.uid)
}

fn label_width(calendar: &Calendar, rows: &[Row]) -> f64 {
    let widest = (rows.iter())
        .map(|row| channel_label(row).chars().count() + 2)
        .chain(
            rows.iter()
                .map(|row| calendar.plans[row.plan].name.chars().count()),
        )
        .max()
        .unwrap_or(0)
        .min(MAX_LABEL_CHARS);
    (count(widest) * CHAR_WIDTH + 16.0).max(MIN_LABEL_WIDTH)
}

/// One block of days: the day names and the time axis, the grid, the
/// labelled rows and their recordings.
fn draw_block(
    out: &mut String,
    calendar: &Calendar,
    (rows, by_day): (&[Row], &[RowDays]),
    lines: &[Line],
    frame: &Frame,
    days: &[usize],
) {
    let dates = calendar.window.dates();
    let bottom = frame.rows_top() + count(lines.len()) * ROW_HEIGHT;
    let right = frame.left + count(days.len()) * DAY_WIDTH;
    // Shading first, so that lines, labels and bars are drawn over it.
    for (index, line) in lines.iter().enumerate() {
        let y = frame.rows_top() + count(index) * ROW_HEIGHT;
        let fill = match line {
            Line::Plan(_) => "#e8edf3",
            Line::Channel(_) if index % 2 == 0 => "#f6f6f6",
            Line::Channel(_) => "#ffffff",
        };
        let _ = writeln!(
            out,
            r#"<rect x="{MARGIN}" y="{y:.1}" width="{:.1}" height="{ROW_HEIGHT}" fill="{fill}"/>"#,
            right - MARGIN
        );
    }
    let (tick, long_labels) = tick_hours(frame.hours);
    for (column, &day) in days.iter().enumerate() {
        let x = frame.left + count(column) * DAY_WIDTH;
        let _ = writeln!(
            out,
            r#"<text class="day" x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"#,
            x + DAY_WIDTH / 2.0,
            frame.top + 14.0,
            dates[day].format("%a %Y-%m-%d")
        );
        for hour in (frame.hours.first..=frame.hours.last).filter(|h| h % tick == 0) {
            let hx = frame.x(column, i64::from(hour) * SECONDS_PER_HOUR);
            let inner = hour != frame.hours.first && hour != frame.hours.last;
            if inner {
                let _ = writeln!(
                    out,
                    r##"<line x1="{hx:.1}" y1="{:.1}" x2="{hx:.1}" y2="{bottom:.1}" stroke="#dddddd"/>"##,
                    frame.rows_top() - 4.0
                );
            }
            if inner || days.len() == 1 {
                let _ = writeln!(
                    out,
                    r#"<text class="axis" x="{hx:.1}" y="{:.1}" text-anchor="middle" font-size="10" fill="{MUTED}">{hour:02}{}</text>"#,
                    frame.top + 30.0,
                    if long_labels { ":00" } else { "" }
                );
            }
        }
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#999999"/>"##,
            frame.top + 2.0
        );
    }
    let _ = writeln!(
        out,
        r##"<line x1="{right:.1}" y1="{:.1}" x2="{right:.1}" y2="{bottom:.1}" stroke="#999999"/>"##,
        frame.top + 2.0
    );
    for (index, line) in lines.iter().enumerate() {
        let y = frame.rows_top() + count(index) * ROW_HEIGHT;
        match *line {
            Line::Plan(plan) => plan_label(out, calendar, plan, y),
            Line::Channel(row) => {
                let label = fit_middle(&channel_label(&rows[row]), MAX_LABEL_CHARS);
                let _ = writeln!(
                    out,
                    r#"<text class="channel" x="{:.1}" y="{:.1}">{}</text>"#,
                    MARGIN + 14.0,
                    y + 14.0,
                    escape(&label)
                );
                for (column, &day) in days.iter().enumerate() {
                    recordings(out, calendar, &by_day[row], frame, (column, day), y);
                }
            }
        }
    }
}

/// A plan's line: its name, and a note when it overlaps itself.
fn plan_label(out: &mut String, calendar: &Calendar, plan: usize, y: f64) {
    let entry = &calendar.plans[plan];
    let _ = write!(
        out,
        r#"<text class="plan" x="{:.1}" y="{:.1}" font-weight="bold">{}"#,
        MARGIN + 4.0,
        y + 14.0,
        escape(&entry.name)
    );
    if entry.overlaps_itself.is_some() {
        let _ = write!(
            out,
            r#"<tspan font-weight="normal" fill="{SELF_OVERLAP_FILL}"> (overlaps itself)</tspan>"#
        );
    }
    out.push_str("</text>\n");
}

/// The hours between two labels of the time axis, as few as leave room
/// for the labels, and whether they are `HH:00` rather than `HH`.
fn tick_hours(hours: Hours) -> (u32, bool) {
    let per_hour = DAY_WIDTH / hours.span();
    let fitting = |spacing: f64| {
        [1, 2, 3, 4, 6]
            .into_iter()
            .find(|&step| f64::from(step) * per_hour >= spacing)
    };
    match (fitting(MIN_TICK_SPACING), fitting(MIN_SHORT_TICK_SPACING)) {
        (Some(step), _) => (step, true),
        (None, Some(step)) => (step, false),
        (None, None) => (12, true),
    }
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
