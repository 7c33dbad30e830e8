use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::table::Table;
use super::{connect, err, exit, out};
use crate::store::{Action, Outcome, StoredSession};

/// Lists past occurrences from the state store, oldest first: each
/// channel's outcome, restarts, upload status and files; then what
/// operators did through the daemon's control API (run, stop, pause,
/// resume: when, from which address).
///
/// Times are UTC, as stored. Sessions still active (running, or left by a
/// crash for `recover`) are listed too, marked as such.
///
/// Example: recplan history --plan weekly-standup --since 2026-11-01
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this plan's occurrences (its name, as `status` shows it).
    #[arg(long)]
    plan: Option<String>,
    /// Only occurrences scheduled at or after this day (YYYY-MM-DD, from
    /// midnight UTC) or time (RFC 3339).
    #[arg(long, value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    /// Print JSON: every stored field, plus `outcome` and `restarts`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    state: connect::StateArgs,
}

fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .map_err(|_| {
            format!("`{text}` is neither a date (2026-11-01) nor an RFC 3339 time (2026-11-01T09:00:00+01:00)")
        })
}

/// A session as `--json` prints it: as stored, plus what the table derives.
#[derive(Serialize)]
struct Entry<'a> {
    #[serde(flatten)]
    session: &'a StoredSession,
    outcome: String,
    restarts: u32,
}

pub fn run(args: &Args) -> u8 {
    let Some(runtime) = connect::runtime() else {
        return exit::FAILED;
    };
    runtime.block_on(list(args))
}

async fn list(args: &Args) -> u8 {
    let store = match super::state::open_existing_store(&args.state).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let sessions = match store.history(args.plan.as_deref(), args.since).await {
        Ok(sessions) => sessions,
        Err(error) => {
            err(format_args!("error: state store: {error}\n"));
            return exit::FAILED;
        }
    };
    let actions = match store.actions(ACTIONS_LISTED).await {
        Ok(actions) => actions,
        Err(error) => {
            err(format_args!("error: state store: {error}\n"));
            return exit::FAILED;
        }
    };
    let mut text = if args.json {
        let entries: Vec<Entry> = sessions
            .iter()
            .map(|session| Entry {
                session,
                outcome: outcome(session),
                restarts: restarts(session),
            })
            .collect();
        serde_json::to_string_pretty(&entries).unwrap_or_default() + "\n"
    } else if sessions.is_empty() {
        "no occurrences recorded\n".to_owned()
    } else {
        table(&sessions)
    };
    if !args.json {
        text.push_str(&actions_table(&actions, args.plan.as_deref(), args.since));
    }
    match out(format_args!("{text}")) {
        Ok(()) => exit::OK,
        Err(stop) => stop.exit_code(exit::OK),
    }
}

/// How many of the latest operator actions `history` lists.
const ACTIONS_LISTED: usize = 1000;

/// Operator actions, oldest first, under a heading; nothing without any.
fn actions_table(actions: &[Action], plan: Option<&str>, since: Option<DateTime<Utc>>) -> String {
    let mut shown: Vec<&Action> = actions
        .iter()
        .filter(|action| plan.is_none_or(|plan| action.target == plan))
        .filter(|action| since.is_none_or(|since| action.at >= since))
        .collect();
    if shown.is_empty() {
        return String::new();
    }
    shown.reverse();
    let mut text = "\nCONTROL API ACTIONS (UTC)\n".to_owned();
    for action in shown {
        let _ = writeln!(
            text,
            "{}  {:<6}  {}  {}  from {}",
            action.at.format("%Y-%m-%d %H:%M:%S"),
            action.action,
            action.target,
            action.outcome,
            action.remote
        );
    }
    text
}

/// How a session ended, in the words the run's report uses; an unfinished
/// one says where it stands.
pub(super) fn outcome(session: &StoredSession) -> String {
    match session.phase.outcome() {
        // A failed session that holds a sid may still be recording, and
        // billing: it is not over until stopped.
        Some(Outcome::Failed) if session.sid.is_some() => "failed, may still run".to_owned(),
        Some(outcome) => outcome.to_string(),
        None => format!("active ({})", session.phase),
    }
}

/// Recordings started again after the first died.
fn restarts(session: &StoredSession) -> u32 {
    session.starts.saturating_sub(1)
}

/// A line per session, then its files and last error indented under it.
fn table(sessions: &[StoredSession]) -> String {
    let mut table = Table::new(&[
        "ID",
        "START (UTC)",
        "ENDED (UTC)",
        "PLAN",
        "CHANNEL",
        "UID",
        "OUTCOME",
        "RESTARTS",
        "UPLOAD",
    ])
    .right_aligned(&[0, 7]);
    for s in sessions {
        let mut notes: Vec<String> = s
            .recorded_files()
            .iter()
            .map(|file| format!("file {file}"))
            .collect();
        if let Some(error) = &s.error {
            notes.push(format!("last failure: {error}"));
        }
        table.row_with_notes(
            vec![
                s.id.to_string(),
                s.scheduled_start.format("%Y-%m-%d %H:%M").to_string(),
                // When it really ended: an interrupted session did not end
                // on plan.
                s.finished_at.map_or_else(
                    || "-".to_owned(),
                    |at| at.format("%Y-%m-%d %H:%M:%S").to_string(),
                ),
                s.plan.clone(),
                s.cname.clone(),
                s.uid.clone(),
                outcome(s),
                restarts(s).to_string(),
                s.upload_status().unwrap_or("-").to_owned(),
            ],
            notes,
        );
    }
    table.render()
}
