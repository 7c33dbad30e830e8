//! `GET /api/v1/events`: what happens, as it happens, as server-sent
//! events. Fed by the daemon's events and the sessions' progress; each
//! subscriber gets every update from when it connected.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::daemon::Event;
use crate::session::{Progress, Stage};

/// Updates a slow subscriber may fall behind by before it misses some
/// (it is told, and reloads).
const BACKLOG: usize = 256;

/// One thing that happened, as subscribers see it. Names only what the
/// plan and Agora's answers name: no request bodies, so no secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Update {
    /// Agora answered start: a recording runs under `sid`.
    SessionStarted {
        cname: String,
        uid: String,
        sid: Option<String>,
    },
    /// The recording is confirmed running (or resumed after a restart).
    SessionRecording {
        cname: String,
        uid: String,
    },
    /// The recording died; another starts (`on_failure: restart`).
    SessionRestarting {
        cname: String,
        uid: String,
        message: String,
    },
    StepSent {
        cname: String,
        uid: String,
        /// The step's offset, as written in the plan.
        step: String,
        call: String,
        outcome: String,
    },
    SessionStopping {
        cname: String,
        uid: String,
    },
    SessionStopped {
        cname: String,
        uid: String,
    },
    SessionFailed {
        cname: String,
        uid: String,
        message: String,
    },
    OccurrenceSkipped {
        plan: String,
        start: DateTime<Utc>,
        reason: String,
    },
    OccurrenceFinished {
        plan: String,
        start: DateTime<Utc>,
        completed: bool,
    },
    PlanReloaded {
        /// None for a file that does not load.
        plan: Option<String>,
        path: String,
        problem: Option<String>,
    },
    PlanRemoved {
        path: String,
    },
    PlanPaused {
        plan: String,
        paused: bool,
    },
}

impl Update {
    /// The update a daemon event makes, if any.
    pub fn of_event(event: &Event) -> Option<Update> {
        Some(match event {
            Event::Loaded { plan, path, .. } => Update::PlanReloaded {
                plan: Some(plan.clone()),
                path: path.display().to_string(),
                problem: None,
            },
            Event::Invalid {
                path,
                kept,
                diagnostics,
            } => Update::PlanReloaded {
                plan: kept.clone(),
                path: path.display().to_string(),
                problem: Some(problem_of(diagnostics)),
            },
            Event::Refused { plan, path, kept } => Update::PlanReloaded {
                plan: Some(plan.clone()),
                path: path.display().to_string(),
                problem: Some(refusal(plan, kept)),
            },
            Event::Removed { path, .. } => Update::PlanRemoved {
                path: path.display().to_string(),
            },
            Event::Skipped {
                plan,
                start,
                reason,
            } => Update::OccurrenceSkipped {
                plan: plan.clone(),
                start: *start,
                reason: reason.clone(),
            },
            Event::Finished {
                plan,
                start,
                completed,
                ..
            } => Update::OccurrenceFinished {
                plan: plan.clone(),
                start: *start,
                completed: *completed,
            },
            Event::Scheduled { .. }
            | Event::Reloaded { .. }
            | Event::Ready { .. }
            | Event::StoreUnavailable { .. }
            | Event::StoreRecovered
            | Event::Stopping
            | Event::Started { .. }
            | Event::Missed { .. }
            | Event::Warned { .. } => return None,
        })
    }

    /// The update a session's progress makes, if any.
    pub fn of_progress(progress: &Progress) -> Option<Update> {
        let (cname, uid) = (progress.cname.clone(), progress.uid.clone());
        if let Some(step) = &progress.step {
            return Some(Update::StepSent {
                cname,
                uid,
                step: step.at.clone(),
                call: step.endpoint.to_string(),
                outcome: step.outcome.clone(),
            });
        }
        Some(match progress.stage {
            Stage::Confirming => Update::SessionStarted {
                cname,
                uid,
                sid: progress.recording.as_ref().map(|r| r.sid.clone()),
            },
            Stage::Recording => Update::SessionRecording { cname, uid },
            Stage::Restarting => Update::SessionRestarting {
                cname,
                uid,
                message: progress.message.clone(),
            },
            Stage::Stopping => Update::SessionStopping { cname, uid },
            Stage::Stopped => Update::SessionStopped { cname, uid },
            Stage::Failed => Update::SessionFailed {
                cname,
                uid,
                message: progress.message.clone(),
            },
            _ => return None,
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Update::SessionStarted { .. } => "session_started",
            Update::SessionRecording { .. } => "session_recording",
            Update::SessionRestarting { .. } => "session_restarting",
            Update::StepSent { .. } => "step_sent",
            Update::SessionStopping { .. } => "session_stopping",
            Update::SessionStopped { .. } => "session_stopped",
            Update::SessionFailed { .. } => "session_failed",
            Update::OccurrenceSkipped { .. } => "occurrence_skipped",
            Update::OccurrenceFinished { .. } => "occurrence_finished",
            Update::PlanReloaded { .. } => "plan_reloaded",
            Update::PlanRemoved { .. } => "plan_removed",
            Update::PlanPaused { .. } => "plan_paused",
        }
    }
}

/// A file's problem in a line: its first diagnostic's first line.
pub fn problem_of(diagnostics: &[crate::plan::Diagnostic]) -> String {
    diagnostics.first().map_or_else(
        || "does not load".to_owned(),
        |first| {
            first
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        },
    )
}

/// Why a valid plan is not in force: another file has its name.
pub fn refusal(plan: &str, kept: &std::path::Path) -> String {
    format!(
        "a plan named `{plan}` is already loaded from {}",
        kept.display()
    )
}

/// Where updates are published. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Feed {
    sender: broadcast::Sender<Update>,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed {
            sender: broadcast::channel(BACKLOG).0,
        }
    }
}

impl Feed {
    pub fn publish(&self, update: Update) {
        // Nobody listening is fine.
        let _ = self.sender.send(update);
    }

    /// The stream of updates from now on, with a comment every 15 s so
    /// that proxies keep the connection open.
    pub fn subscribe(
        &self,
    ) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>> + use<>> {
        let receiver = self.sender.subscribe();
        let hello = SseEvent::default().event("hello").data("{}");
        let updates = futures_util::stream::unfold(receiver, |mut receiver| async move {
            let event = match receiver.recv().await {
                Ok(update) => SseEvent::default()
                    .event(update.name())
                    .json_data(&update)
                    .unwrap_or_default(),
                // Missed updates: the subscriber reloads everything.
                Err(broadcast::error::RecvError::Lagged(missed)) => SseEvent::default()
                    .event("lagged")
                    .data(format!("{{\"missed\":{missed}}}")),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((Ok(event), receiver))
        });
        let stream =
            futures_util::StreamExt::chain(futures_util::stream::iter([Ok(hello)]), updates);
        Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
    }
}
