use std::path::PathBuf;

use chrono::{NaiveDate, Utc};

use super::{err, exit, load_plan, out, report_plan_error};
use crate::calendar::{self, Window};
use crate::plan::{Env, MissingEnv};
use crate::schedule::{Tz, parse_timezone};

/// Shows every occurrence of the plans in a grid of days, flagging
/// overlapping recordings of one channel and uid.
///
/// A row per plan and channel, a column per day. Two recordings of the
/// same channel and uid at once are marked `!`: Agora refuses the later
/// one (error 53).
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
    let mut code = exit::OK;
    let mut plans = Vec::with_capacity(files.len());
    for file in &files {
        match load_plan(file, &env, MissingEnv::Warn) {
            Ok(plan) => plans.push(plan),
            Err(failed) => code = failed,
        }
    }
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
    let drawn = match args.format {
        Format::Text => calendar::text(&built),
        Format::Svg => calendar::svg(&built),
    };
    match out(format_args!("{drawn}")) {
        Ok(()) => code,
        Err(stop) => stop.exit_code(code),
    }
}
