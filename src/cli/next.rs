//! `recplan next`: what runs next. One plan file prints its next starts a
//! line each; several, or a directory, a table like `systemctl
//! list-timers`, with each plan's last occurrence from the state store.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use serde::Serialize;

use super::table::Table;
use super::{connect, err, exit, load_plans, out, parse_time, report_plan_error};
use crate::plan::{Env, MissingEnv, Plan};
use crate::store::{SessionId, Store, StoredSession};

/// Prints when plans start next.
///
/// For one plan file: its next starts, one per line, RFC 3339 with the
/// plan's UTC offset. For several plans or a directory: a table sorted by
/// next start, like `systemctl list-timers`: PLAN, NEXT, LEFT, and the last
/// occurrence from the state store with its RESULT (when a store exists;
/// none is created). A plan paused in its file or through the daemon's
/// control API is listed as paused.
///
/// Examples:
///
///   recplan next plans/weekly-standup.yaml -n 5
///
///   recplan next plans/
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan files (YAML), or directories of them.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// How many starts to print per plan.
    #[arg(short, default_value_t = 1, value_name = "N")]
    n: usize,
    /// Starts strictly after this time (RFC 3339); default now. LEFT and
    /// LAST are reckoned from it too.
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    after: Option<DateTime<FixedOffset>>,
    /// Print a JSON array, a plan per element: `name`, `path`, `paused`,
    /// `pausedBy` (`plan` or `control_api`), `next` (RFC 3339 starts) and
    /// `last` (`start`, `result`, `sessions`, or null).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    state: connect::StateArgs,
}

/// Why a plan's schedule is not in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Paused {
    /// `paused: true` in the plan file.
    Plan,
    /// Paused through the daemon's control API (kept in the state store).
    ControlApi,
}

impl Paused {
    fn describe(self) -> &'static str {
        match self {
            Paused::Plan => "paused (plan file)",
            Paused::ControlApi => "paused (control API)",
        }
    }
}

/// One plan's line of the answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Upcoming {
    name: String,
    path: PathBuf,
    paused: bool,
    paused_by: Option<Paused>,
    /// Whether the plan has a schedule at all.
    #[serde(skip)]
    scheduled: bool,
    next: Vec<String>,
    #[serde(skip)]
    first: Option<DateTime<Utc>>,
    last: Option<Last>,
}

/// A plan's latest occurrence that began, from the state store.
#[derive(Debug, Serialize)]
struct Last {
    /// Its scheduled start, RFC 3339 in the plan's timezone.
    start: String,
    #[serde(skip)]
    at: DateTime<Utc>,
    /// How its sessions ended, in a word or three (`stopped`, `failed`, or
    /// several, comma-separated, when its channels fared differently).
    result: String,
    sessions: Vec<SessionId>,
}

pub fn run(args: &Args) -> u8 {
    let files = match crate::plan::discover(&args.paths) {
        Ok(files) => files,
        Err(error) => return report_plan_error(error),
    };
    let single = args.paths.len() == 1 && files.len() == 1 && !args.paths[0].is_dir();
    let env = Env::from_process();
    // Each failure is reported; the others are still listed.
    let (plans, code) = load_plans(&files, &env, MissingEnv::Warn);
    let (paused_by_api, histories) = read_store(&args.state, &plans);
    let now = args.after.map_or_else(Utc::now, |t| t.to_utc());
    let mut upcoming: Vec<Upcoming> = plans
        .iter()
        .zip(histories)
        .map(|(plan, history)| {
            let last = history.and_then(|sessions| last_occurrence(plan, &sessions, now));
            upcoming_of(
                plan,
                paused_by_api.contains(&plan.name().to_owned()),
                now,
                args.n,
                last,
            )
        })
        .collect();
    if single && !args.json {
        return match upcoming.pop() {
            Some(plan) => print_lines(&plan, &args.paths[0]),
            None => code,
        };
    }
    upcoming.sort_by(|a, b| {
        (a.first.is_none(), a.first, &a.name).cmp(&(b.first.is_none(), b.first, &b.name))
    });
    let text = if args.json {
        serde_json::to_string_pretty(&upcoming).unwrap_or_default() + "\n"
    } else {
        table(&upcoming, now)
    };
    match out(format_args!("{text}")) {
        Ok(()) => code,
        Err(stop) => stop.exit_code(code),
    }
}

/// What the state store says of `plans`: the plans paused through the
/// control API, and each plan's sessions (for LAST and RESULT). Without a
/// store (or where it cannot be read, with a warning) nothing.
fn read_store(
    state: &connect::StateArgs,
    plans: &[Plan],
) -> (Vec<String>, Vec<Option<Vec<StoredSession>>>) {
    let unread = || (Vec::new(), vec![None; plans.len()]);
    let Some(runtime) = connect::runtime() else {
        return unread();
    };
    runtime.block_on(async {
        let Some(store) = open_store(state).await else {
            return unread();
        };
        let paused = warn_on_error(store.paused_plans().await).unwrap_or_default();
        let mut histories = Vec::with_capacity(plans.len());
        for plan in plans {
            histories.push(warn_on_error(store.history(Some(plan.name()), None).await));
        }
        (paused, histories)
    })
}

/// The state store if one exists; `None` (with a warning if it cannot be
/// opened) otherwise.
async fn open_store(state: &connect::StateArgs) -> Option<Store> {
    match state.open_existing().await {
        Ok(connect::Existing::Open(store)) => Some(store),
        Ok(connect::Existing::Missing(_)) => None,
        Err(message) => {
            err(format_args!(
                "warning: {message}; LAST and RESULT left out\n"
            ));
            None
        }
    }
}

fn warn_on_error<T>(read: Result<T, crate::store::StoreError>) -> Option<T> {
    read.map_err(|error| err(format_args!("warning: state store: {error}\n")))
        .ok()
}

/// The one-plan answer: a start per line, as the contract has it; a paused
/// or unscheduled plan says so on stderr.
fn print_lines(plan: &Upcoming, path: &std::path::Path) -> u8 {
    if !plan.scheduled {
        err(format_args!(
            "{}: the plan has no schedule; it runs only with `run --now` or `--at`\n",
            path.display()
        ));
        return exit::FAILED;
    }
    if let Some(paused) = plan.paused_by {
        err(format_args!(
            "{}: {}: no start is scheduled until it is resumed\n",
            path.display(),
            paused.describe()
        ));
    }
    for start in &plan.next {
        if let Err(stop) = out(format_args!("{start}\n")) {
            return stop.exit_code(exit::OK);
        }
    }
    exit::OK
}

fn upcoming_of(
    plan: &Plan,
    paused_by_api: bool,
    now: DateTime<Utc>,
    n: usize,
    last: Option<Last>,
) -> Upcoming {
    let paused_by = if plan.timing().paused {
        Some(Paused::Plan)
    } else if paused_by_api {
        Some(Paused::ControlApi)
    } else {
        None
    };
    let starts = if paused_by.is_some() {
        Vec::new()
    } else {
        plan.next_starts(now, n)
    };
    Upcoming {
        name: plan.name().to_owned(),
        path: plan.path().to_owned(),
        paused: paused_by.is_some(),
        paused_by,
        scheduled: plan.timing().schedule.is_some(),
        first: starts.first().map(DateTime::to_utc),
        next: starts.iter().map(DateTime::to_rfc3339).collect(),
        last,
    }
}

/// The latest occurrence of `plan` scheduled at or before `now`, from its
/// sessions (oldest first, as the store lists them).
fn last_occurrence(plan: &Plan, sessions: &[StoredSession], now: DateTime<Utc>) -> Option<Last> {
    let at = sessions
        .iter()
        .map(|s| s.scheduled_start)
        .filter(|start| *start <= now)
        .max()?;
    let of_it: Vec<&StoredSession> = sessions
        .iter()
        .filter(|s| s.scheduled_start == at)
        .collect();
    let mut outcomes: Vec<String> = Vec::new();
    for session in &of_it {
        let outcome = super::history::outcome(session);
        if !outcomes.contains(&outcome) {
            outcomes.push(outcome);
        }
    }
    Some(Last {
        start: plan.localize(at).to_rfc3339(),
        at,
        result: outcomes.join(", "),
        sessions: of_it.iter().map(|s| s.id).collect(),
    })
}

/// A row per start, sorted by start; paused and unscheduled plans last.
fn table(upcoming: &[Upcoming], now: DateTime<Utc>) -> String {
    let mut rows: Vec<(Option<DateTime<Utc>>, Vec<String>)> = Vec::new();
    for plan in upcoming {
        let (last, result) = match &plan.last {
            Some(last) => (
                format!("{} ({} ago)", last.start, span(now - last.at)),
                last.result.clone(),
            ),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let row = |next: String, left: String| {
            vec![plan.name.clone(), next, left, last.clone(), result.clone()]
        };
        if plan.next.is_empty() {
            let next = match (plan.paused_by, plan.scheduled) {
                (Some(paused), _) => paused.describe().to_owned(),
                (None, false) => "no schedule (run --now)".to_owned(),
                (None, true) => "none".to_owned(),
            };
            rows.push((None, row(next, "-".to_owned())));
        }
        for start in &plan.next {
            let at = DateTime::parse_from_rfc3339(start).ok().map(|t| t.to_utc());
            let left = at.map_or_else(|| "-".to_owned(), |at| span(at - now));
            rows.push((at, row(start.clone(), left)));
        }
    }
    rows.sort_by_key(|row| (row.0.is_none(), row.0));
    let mut table = Table::new(&["PLAN", "NEXT", "LEFT", "LAST", "RESULT"]);
    for (_, cells) in rows {
        table.row(cells);
    }
    let count = upcoming.len();
    format!(
        "{}\n{count} plan{} listed.\n",
        table.render(),
        if count == 1 { "" } else { "s" }
    )
}

/// A span in its two largest units, as `list-timers` shows LEFT:
/// `2d 3h`, `5h 12m`, `12m 30s`, `45s`.
fn span(span: TimeDelta) -> String {
    let seconds = span.num_seconds().max(0);
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m {secs}s")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::span;

    #[test]
    fn spans_show_their_two_largest_units() {
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (60, "1m 0s"),
            (750, "12m 30s"),
            (3600 * 5 + 60 * 12 + 7, "5h 12m"),
            (86_400 * 2 + 3600 * 3 + 59, "2d 3h"),
            (-5, "0s"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(span(TimeDelta::seconds(seconds)), expected, "{seconds}");
        }
    }
}
