use std::path::PathBuf;

use chrono::{NaiveDate, Utc};

use super::{err, exit, load_plans, out, report_plan_error};
use crate::calendar::{self, Calendar, CalendarJson, Window};
use crate::plan::raw::Overlap;
use crate::plan::{Env, MissingEnv};
use crate::schedule::{Tz, parse_timezone};

/// Shows every occurrence of the plans in a grid of days, flagging
/// overlapping recordings of one channel and uid.
///
/// Each plan's name over a row per channel, a column per day. Two
/// recordings of the same channel and uid at once are marked `!`: Agora
/// refuses the later one (error 53). A start while the plan's previous
/// occurrence still runs is marked `~`.
///
/// Channel names are rendered with this process's environment; secrets
/// need not be set. A channel whose cname or uid names a variable that is
/// not set is shown as written, with a warning: overlaps with it may go
/// unnoticed.
///
/// Examples:
///
///   recplan calendar plans/ --from 2026-11-30 --days 14 --timezone Europe/Berlin
///
///   recplan calendar plans/ --format svg > week.svg
///
///   recplan calendar plans/ --days 28 --check
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan files, or directories of them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The first day (YYYY-MM-DD, in --timezone); default today.
    #[arg(long, value_parser = parse_date)]
    from: Option<NaiveDate>,
    /// How many days to show.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..=366))]
    days: u16,
    /// The IANA timezone days and times are shown in.
    #[arg(long, default_value = "UTC", value_parser = parse_tz)]
    timezone: Tz,
    /// A text grid, or an SVG picture.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The widest a line of the text grid may be [default: the terminal's
    /// width, or 80 when output is not a terminal].
    #[arg(long, value_name = "COLUMNS", value_parser = clap::value_parser!(u16).range(40..))]
    width: Option<u16>,
    /// Prints the plans, every recording and every overlap as JSON
    /// instead.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Prints no calendar, only the overlaps: exits 1 when two recordings
    /// of one channel and uid overlap (each pair named). A plan that
    /// overlaps itself with `overlap: skip` or `stop_previous` is a
    /// warning.
    #[arg(long, conflicts_with_all = ["format", "json"])]
    check: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Svg,
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("`{text}` is not a date ({e}); e.g. 2026-11-30"))
}

fn parse_tz(text: &str) -> Result<Tz, String> {
    parse_timezone(text).map_err(|error| match error.hint() {
        Some(hint) => format!("{error}; {hint}"),
        None => error.to_string(),
    })
}

pub fn run(args: &Args) -> u8 {
    let files = match crate::plan::discover(&args.paths) {
        Ok(files) => files,
        Err(error) => {
            return report_plan_error(error);
        }
    };
    let env = Env::from_process();
    // An invalid plan is reported and left out: the others still make a
    // calendar, and the exit code says something was wrong.
    let (plans, code) = load_plans(&files, &env, MissingEnv::Warn);
    let first = args
        .from
        .unwrap_or_else(|| Utc::now().with_timezone(&args.timezone).date_naive());
    let Some(window) = Window::new(args.timezone, first, args.days) else {
        err(format_args!(
            "error: {first} plus {} days is past the last date recplan can show\n",
            args.days
        ));
        return exit::USAGE;
    };
    let built = calendar::build(&plans, window, &env);
    for plan in &built.plans {
        if let Some(reason) = &plan.unrendered {
            err(format_args!(
                "warning: {}: channels shown as written in the plan: {reason}; overlaps with them may go unnoticed\n",
                plan.path.display()
            ));
        }
    }
    if args.check {
        return check(&built).max(code);
    }
    let drawn = if args.json {
        let json = serde_json::to_string_pretty(&CalendarJson::of(&built)).unwrap_or_default();
        format!("{json}\n")
    } else {
        match args.format {
            Format::Text => calendar::text(&built, width(args.width)),
            Format::Svg => calendar::svg(&built),
        }
    };
    match out(format_args!("{drawn}")) {
        Ok(()) => code,
        Err(stop) => stop.exit_code(code),
    }
}

/// The width of the text grid: as asked, else the terminal's, else
/// [`calendar::DEFAULT_WIDTH`].
fn width(asked: Option<u16>) -> usize {
    use std::io::IsTerminal as _;
    let terminal = || {
        let stdout = std::io::stdout();
        if !stdout.is_terminal() {
            return None;
        }
        terminal_size::terminal_size_of(&stdout).map(|(terminal_size::Width(w), _)| usize::from(w))
    };
    asked
        .map(usize::from)
        .or_else(terminal)
        .unwrap_or(calendar::DEFAULT_WIDTH)
}

/// `--check`: each overlap as an error and each plan that overlaps itself
/// (without `overlap: allow`, which makes it an overlap) as a warning, on
/// stderr; a line saying all is well on stdout otherwise.
fn check(built: &Calendar) -> u8 {
    for plan in &built.plans {
        if let Some(note) = calendar::self_overlap_note(built, plan) {
            let severity = if plan.overlap == Overlap::Allow {
                "error"
            } else {
                "warning"
            };
            err(format_args!(
                "{severity}: {}: {}: {note}\n",
                plan.path.display(),
                plan.name
            ));
        }
    }
    for conflict in &built.conflicts {
        err(format_args!(
            "error: {}: recorded twice at once; Agora refuses the later start (error 53)\n",
            calendar::conflict_line(built, conflict)
        ));
    }
    let dates = built.window.dates();
    let (first, last) = (dates.first(), dates.last());
    let days = match (first, last) {
        (Some(first), Some(last)) => format!("{first} to {last}"),
        _ => String::new(),
    };
    if built.conflicts.is_empty() {
        let said = out(format_args!(
            "no overlaps: {} recordings of {} plans, {days}\n",
            built.slots.len(),
            built.plans.len()
        ));
        return said.map_or_else(|stop| stop.exit_code(exit::OK), |()| exit::OK);
    }
    err(format_args!(
        "error: {} overlaps, {days}\n",
        built.conflicts.len()
    ));
    exit::FAILED
}
