use std::path::PathBuf;

use chrono::{DateTime, FixedOffset, Utc};

use super::{err, exit, load_plan, out, parse_time};
use crate::plan::{Env, MissingEnv};

/// Prints a plan's next start times, one per line, RFC 3339 with the plan's
/// UTC offset.
///
/// Example: recplan next plans/weekly-standup.yaml -n 5
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file (YAML).
    plan: PathBuf,
    /// How many starts to print.
    #[arg(short, default_value_t = 1)]
    n: usize,
    /// Starts strictly after this time (RFC 3339); default now.
    #[arg(long, value_parser = parse_time)]
    after: Option<DateTime<FixedOffset>>,
}

pub fn run(args: &Args) -> u8 {
    let plan = match load_plan(&args.plan, &Env::from_process(), MissingEnv::Warn) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    if plan.timing().schedule.is_none() {
        err(format_args!(
            "{}: the plan has no schedule; it runs only with `run --now` or `--at`\n",
            args.plan.display()
        ));
        return exit::FAILED;
    }
    let after = args.after.map_or_else(Utc::now, |t| t.with_timezone(&Utc));
    for start in plan.next_starts(after, args.n) {
        if let Err(stop) = out(format_args!("{}\n", start.to_rfc3339())) {
            return stop.exit_code(exit::OK);
        }
    }
    exit::OK
}
