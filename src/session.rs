//! One recording of one channel for one occurrence: its timeline of calls
//! and the runner that sees it through, and [`run_occurrence`], which runs
//! every channel of an occurrence at once.

mod runner;
mod timeline;

use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use runner::{Outcome, Phase, Progress, Session, SessionReport, StepReport, Window};
pub use timeline::{CONFIRM_AFTER, PlannedCall, query_interval, timeline};

use crate::agora::Client;
use crate::clock::Clock;
use crate::plan::Occurrence;

/// What `run` reports for one occurrence.
#[derive(Clone, Debug, Serialize)]
pub struct OccurrenceReport {
    pub plan: String,
    pub start: chrono::DateTime<chrono::FixedOffset>,
    pub end: chrono::DateTime<chrono::FixedOffset>,
    pub sessions: Vec<SessionReport>,
}

impl OccurrenceReport {
    pub fn all_completed(&self) -> bool {
        self.sessions
            .iter()
            .all(|s| s.outcome == Outcome::Completed)
    }
}

/// Runs every session of `occurrence` concurrently, one task each, and
/// waits for all. Setting `shutdown` to true stops every started recording.
pub async fn run_occurrence(
    client: &Client,
    occurrence: &Occurrence,
    clock: Clock,
    shutdown: watch::Receiver<bool>,
    progress: mpsc::UnboundedSender<Progress>,
) -> OccurrenceReport {
    let start = clock.instant_at(occurrence.start.to_utc());
    let window = Window {
        start,
        end: start + occurrence.duration,
    };
    let mut tasks = JoinSet::new();
    for (index, spec) in occurrence.sessions.iter().enumerate() {
        let session = Session::new(
            client.with_app_id(&spec.app_id),
            spec.clone(),
            window,
            shutdown.clone(),
            progress.clone(),
        );
        tasks.spawn(async move { (index, session.run().await) });
    }
    let mut reports: Vec<(usize, SessionReport)> = Vec::with_capacity(occurrence.sessions.len());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(report) => reports.push(report),
            Err(error) => tracing::error!(%error, "a session task ended abnormally"),
        }
    }
    reports.sort_by_key(|(index, _)| *index);
    OccurrenceReport {
        plan: occurrence.plan.clone(),
        start: occurrence.start,
        end: occurrence.end(),
        sessions: reports.into_iter().map(|(_, report)| report).collect(),
    }
}

/// The time left in an occurrence at `now`, if any.
pub fn remaining(occurrence: &Occurrence, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    (occurrence.end().to_utc() - now)
        .to_std()
        .ok()
        .filter(|d| !d.is_zero())
}
