//! The API's answers as JSON: pure functions from the daemon's plans and
//! the store's sessions to the field names the contract promises.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;

use crate::calendar::Calendar;
use crate::daemon::PlanState;
use crate::plan::{Plan, format_duration};
use crate::store::{Action, StoredSession};

/// How many next starts a plan lists.
const NEXT_STARTS: usize = 5;

/// A plan: `GET /api/v1/plans`.
#[derive(Debug, Serialize)]
pub struct PlanView {
    pub name: String,
    pub path: PathBuf,
    pub next: Option<DateTime<FixedOffset>>,
    pub paused: bool,
    /// Why the file's current version is not in force, or that its
    /// calendar is a copy kept from an earlier fetch.
    pub problem: Option<String>,
    /// The next starts, `next` first, in the plan's timezone.
    pub next_starts: Vec<DateTime<FixedOffset>>,
    pub timezone: String,
    /// The cron line or recurrence; none for a plan run only when asked.
    pub schedule: Option<String>,
    pub duration: Option<String>,
    pub mode: String,
    pub channels: usize,
    pub steps: usize,
}

impl PlanView {
    pub fn of(state: &PlanState, problem: Option<String>) -> PlanView {
        let plan = &state.plan;
        let timing = plan.timing();
        let tz = timing.timezone;
        let next_starts = match state.next {
            Some(next) => {
                let mut starts = vec![next.with_timezone(&tz).fixed_offset()];
                starts.extend(
                    plan.next_starts(next, NEXT_STARTS - 1)
                        .into_iter()
                        .map(|start| start.fixed_offset()),
                );
                starts
            }
            None => Vec::new(),
        };
        PlanView {
            name: plan.name().to_owned(),
            path: state.path.clone(),
            next: next_starts.first().copied(),
            paused: state.paused || timing.paused,
            problem,
            next_starts,
            timezone: tz.name().to_owned(),
            schedule: timing
                .schedule
                .as_ref()
                .map(crate::schedule::Recurrence::summary),
            duration: timing.duration.map(format_duration),
            mode: plan.mode().to_string(),
            channels: plan.channel_count(),
            steps: plan.steps().len(),
        }
    }

    /// A file that does not load: no plan is in force for it.
    pub fn broken(path: PathBuf, problem: String) -> PlanView {
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        PlanView {
            name,
            path,
            next: None,
            paused: false,
            problem: Some(problem),
            next_starts: Vec::new(),
            timezone: "UTC".to_owned(),
            schedule: None,
            duration: None,
            mode: String::new(),
            channels: 0,
            steps: 0,
        }
    }
}

/// The step a session sends next.
#[derive(Debug, Serialize)]
pub struct NextStep {
    /// Its offset, as written in the plan.
    pub at: String,
    pub call: &'static str,
    pub due: DateTime<Utc>,
}

/// A live session: `GET /api/v1/sessions`.
#[derive(Debug, Serialize)]
pub struct SessionView {
    pub id: i64,
    pub plan: String,
    pub cname: String,
    pub uid: String,
    #[serde(rename = "resourceId")]
    pub resource_id: Option<String>,
    pub sid: Option<String>,
    pub phase: &'static str,
    pub started_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub timezone: String,
    pub steps_done: usize,
    pub steps_total: usize,
    pub next_step: Option<NextStep>,
    pub error: Option<String>,
}

impl SessionView {
    /// `plan` is the session's plan as in force now, if it is, for the
    /// steps' offsets and timezone.
    pub fn of(session: &StoredSession, plan: Option<&Plan>) -> SessionView {
        let next_step = plan.and_then(|plan| {
            let steps = plan.steps();
            (steps.len() == session.step_count)
                .then(|| (0..steps.len()).find(|i| !session.steps_done.contains(i)))
                .flatten()
                .map(|index| {
                    let step = &steps[index];
                    NextStep {
                        at: format_duration(step.at),
                        call: step.action.endpoint().name(),
                        due: session.scheduled_start
                            + chrono::Duration::from_std(step.at).unwrap_or_default(),
                    }
                })
        });
        SessionView {
            id: session.id.0,
            plan: session.plan.clone(),
            cname: session.cname.clone(),
            uid: session.uid.clone(),
            resource_id: session.resource_id.clone(),
            sid: session.sid.clone(),
            phase: session.phase.as_str(),
            started_at: session.scheduled_start,
            ends_at: session.scheduled_end,
            timezone: plan.map_or_else(
                || "UTC".to_owned(),
                |p| p.timing().timezone.name().to_owned(),
            ),
            steps_done: session.steps_done.len(),
            steps_total: session.step_count,
            next_step,
            error: session.error.clone(),
        }
    }
}

/// A past or present session: `GET /api/v1/history`.
#[derive(Debug, Serialize)]
pub struct HistoryView {
    pub id: i64,
    pub plan: String,
    pub cname: String,
    pub uid: String,
    pub sid: Option<String>,
    pub phase: &'static str,
    /// Whether its recording may still run: never stopped.
    pub active: bool,
    pub started_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub restarts: u32,
    pub files: Vec<String>,
    pub upload_status: Option<String>,
    pub error: Option<String>,
}

impl HistoryView {
    pub fn of(session: &StoredSession) -> HistoryView {
        HistoryView {
            id: session.id.0,
            plan: session.plan.clone(),
            cname: session.cname.clone(),
            uid: session.uid.clone(),
            sid: session.sid.clone(),
            phase: session.phase.as_str(),
            active: session.is_active(),
            started_at: session.scheduled_start,
            ends_at: session.scheduled_end,
            finished_at: session.finished_at,
            restarts: session.starts.saturating_sub(1),
            files: session.recorded_files().to_vec(),
            upload_status: session.upload_status().map(str::to_owned),
            error: session.error.clone(),
        }
    }
}

/// `GET /api/v1/history`: sessions newest first, and what operators did.
#[derive(Debug, Serialize)]
pub struct HistoryPage {
    pub sessions: Vec<HistoryView>,
    pub actions: Vec<Action>,
}

/// One recording the calendar shows.
#[derive(Debug, Serialize)]
pub struct SlotView {
    pub plan: String,
    pub cname: String,
    pub uid: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Another plan records this cname and uid at the same time: one of
    /// the two will be refused by Agora.
    pub conflict: bool,
    /// The plan is paused: nothing will be recorded.
    pub paused: bool,
}

/// `GET /api/v1/calendar`.
#[derive(Debug, Serialize)]
pub struct CalendarView {
    pub timezone: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub slots: Vec<SlotView>,
}

impl CalendarView {
    /// `paused`: each plan's pause, by name.
    pub fn of(calendar: &Calendar, paused: &BTreeMap<String, bool>) -> CalendarView {
        let mut slots: Vec<SlotView> = calendar
            .slots
            .iter()
            .enumerate()
            .map(|(index, slot)| {
                let plan = &calendar.plans[slot.plan];
                SlotView {
                    plan: plan.name.clone(),
                    cname: slot.cname.clone(),
                    uid: slot.uid.clone(),
                    start: slot.start,
                    end: slot.end,
                    conflict: calendar.is_conflicted(index),
                    paused: plan.paused || paused.get(&plan.name).copied().unwrap_or(false),
                }
            })
            .collect();
        slots.sort_by(|a, b| (a.start, &a.plan, &a.cname).cmp(&(b.start, &b.plan, &b.cname)));
        CalendarView {
            timezone: calendar.window.tz().name().to_owned(),
            from: calendar.window.start(),
            to: calendar.window.end(),
            slots,
        }
    }
}
