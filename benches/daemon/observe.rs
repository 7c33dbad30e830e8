//! What the daemon tells the outside while the benchmark runs: fed to a
//! `Status` as `recplan daemon` feeds its listener, and kept for the report.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use recplan::daemon::Event;
use recplan::daemon::status::Status;
use recplan::session::{Outcome, Progress, Stage};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::STEPS_AT_SECS;

/// What the sessions reported, gathered as it arrives. Times are since the
/// scheduled start.
#[derive(Default)]
pub struct Observed {
    pub late_ms: Vec<u64>,
    /// The lateness of steps whose session was recording by the step's
    /// offset: what the burst of steps itself costs, without the sessions
    /// that were still starting.
    pub ready_late_ms: Vec<u64>,
    /// From each step's offset to its answer reaching the observer: the
    /// lateness plus the journal's writes, the call and any queueing.
    pub answered_ms: Vec<u64>,
    pub steps_ok: usize,
    /// When each session began recording, and how many steps it sent.
    sessions: HashMap<String, (Option<Duration>, usize)>,
    pub last_launched: Duration,
    pub last_recording: Duration,
    pub last_ended: Duration,
    /// What the finished sessions reported: outcomes and errors, counted
    /// as they arrive (the daemon keeps no reports).
    pub completed: usize,
    pub outcomes: HashMap<String, usize>,
    pub errors: HashMap<String, usize>,
}

impl Observed {
    fn progress(&mut self, event: &Progress, since_start: Duration) {
        let (recording, steps) = self.sessions.entry(event.cname.clone()).or_default();
        match event.stage {
            Stage::Recording if recording.is_none() => {
                *recording = Some(since_start);
                self.last_recording = self.last_recording.max(since_start);
            }
            Stage::Stopped | Stage::Failed => self.last_ended = since_start,
            _ => {}
        }
        let Some(step) = &event.step else { return };
        let offset = Duration::from_secs(STEPS_AT_SECS[(*steps).min(STEPS_AT_SECS.len() - 1)]);
        *steps += 1;
        let answered = since_start.saturating_sub(offset).as_millis();
        self.answered_ms
            .push(u64::try_from(answered).unwrap_or(u64::MAX));
        self.steps_ok += usize::from(step.outcome == "ok");
        if let Some(late) = step.late_ms {
            self.late_ms.push(late);
            if recording.is_some_and(|at| at <= offset) {
                self.ready_late_ms.push(late);
            }
        }
    }
}

/// Milestones the main task waits for.
#[derive(Clone, Copy, Default)]
pub struct Milestones {
    pub ready: bool,
    pub finished: usize,
}

/// Feeds events and progress to a `Status`, as `recplan daemon` does for
/// its listener, and keeps what the report needs.
pub async fn observe(
    dir: PathBuf,
    mut events: mpsc::UnboundedReceiver<Event>,
    mut progress: mpsc::UnboundedReceiver<Progress>,
    start: Instant,
    milestones: watch::Sender<Milestones>,
) -> Observed {
    let status = Status::default();
    let mut seen = Observed::default();
    loop {
        tokio::select! {
            Some(event) = events.recv() => {
                status.observe_event(&event);
                match event {
                    Event::Ready { .. } => milestones.send_modify(|m| m.ready = true),
                    Event::Started { .. } => {
                        seen.last_launched = Instant::now().saturating_duration_since(start);
                    }
                    Event::Finished { report, .. } => {
                        for session in &report.sessions {
                            seen.completed += usize::from(session.outcome == Some(Outcome::Completed));
                            let outcome = session.outcome.map_or("skipped", Outcome::as_str);
                            *seen.outcomes.entry(outcome.to_owned()).or_default() += 1;
                            for error in &session.errors {
                                *seen.errors.entry(super::report::generic(error, &dir)).or_default() += 1;
                            }
                        }
                        milestones.send_modify(|m| m.finished += 1);
                    }
                    _ => {}
                }
            }
            Some(event) = progress.recv() => {
                status.observe_progress(&event);
                seen.progress(&event, Instant::now().saturating_duration_since(start));
            }
            else => return seen,
        }
    }
}
