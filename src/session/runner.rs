//! Drives one session through Agora: acquire, start, confirm, steps at
//! their offsets, routine queries, stop. One task per session, woken by
//! timers and by the stop signal; never by polling.

use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};

use super::timeline::{CONFIRM_AFTER, query_interval};
use crate::agora::response::{RecordedFile, RecordingStatus};
use crate::agora::{ApiError, Client, Endpoint, Recording};
use crate::plan::{SessionSpec, StepAction, format_duration};

/// How long a started recording may take to reach status 4 or 5 before
/// recplan gives up on it (Agora's advice: about 90 s).
const CONFIRM_WITHIN: Duration = Duration::from_secs(90);

/// When the session's occurrence runs, as tokio instants.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

/// What a session is doing, for progress output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Waiting,
    Acquiring,
    Starting,
    Confirming,
    Recording,
    Stopping,
    Stopped,
    Failed,
}

/// A progress event: which session, what happened.
#[derive(Clone, Debug)]
pub struct Progress {
    pub cname: String,
    pub uid: String,
    pub phase: Phase,
    pub message: String,
    /// The recording once started: what must be stopped if recplan exits.
    pub recording: Option<Recording>,
    /// The step just sent, with its lateness.
    pub step: Option<StepReport>,
}

/// How one step went.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    pub at: String,
    pub endpoint: Endpoint,
    /// Milliseconds after its offset that the call was sent; none if not sent.
    pub late_ms: Option<u64>,
    pub outcome: String,
}

/// The end result of one session.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionReport {
    pub cname: String,
    pub uid: String,
    pub resource_id: Option<String>,
    pub sid: Option<String>,
    pub outcome: Outcome,
    pub steps: Vec<StepReport>,
    pub files: Vec<RecordedFile>,
    pub uploading_status: Option<String>,
    pub errors: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Recorded and stopped at the end.
    Completed,
    /// Stopped early because recplan was asked to stop.
    Interrupted,
    /// Never started, died, or could not be stopped: see `errors`.
    Failed,
    /// The occurrence was over before this session could start.
    Missed,
}

impl SessionReport {
    /// Whether a recording may still be running at Agora.
    pub fn maybe_running(&self) -> bool {
        self.sid.is_some() && self.outcome == Outcome::Failed && self.uploading_status.is_none()
    }
}

/// One session's runner. `client` must already carry the spec's App ID.
pub struct Session {
    client: Client,
    spec: SessionSpec,
    window: Window,
    shutdown: watch::Receiver<bool>,
    progress: mpsc::UnboundedSender<Progress>,
    report: SessionReport,
}

impl Session {
    pub fn new(
        client: Client,
        spec: SessionSpec,
        window: Window,
        shutdown: watch::Receiver<bool>,
        progress: mpsc::UnboundedSender<Progress>,
    ) -> Session {
        let report = SessionReport {
            cname: spec.cname.clone(),
            uid: spec.uid.clone(),
            resource_id: None,
            sid: None,
            outcome: Outcome::Failed,
            steps: Vec::new(),
            files: Vec::new(),
            uploading_status: None,
            errors: Vec::new(),
        };
        Session {
            client,
            spec,
            window,
            shutdown,
            progress,
            report,
        }
    }

    /// Runs the session to its end and reports. Whatever happens after a
    /// start succeeded, stop is sent.
    pub async fn run(mut self) -> SessionReport {
        self.emit(Phase::Waiting, "waiting for the start", None);
        if !self.wait_until(self.window.start).await {
            self.report.outcome = Outcome::Interrupted;
            return self.report;
        }
        if Instant::now() >= self.window.end {
            self.report.outcome = Outcome::Missed;
            self.emit(Phase::Failed, "the occurrence is already over", None);
            return self.report;
        }
        let Some(recording) = self.start().await else {
            self.emit(Phase::Failed, "could not start", None);
            return self.report;
        };
        let outcome = self.record(&recording).await;
        self.stop(&recording, outcome).await;
        self.report
    }

    async fn start(&mut self) -> Option<Recording> {
        let spec = &self.spec;
        self.emit(Phase::Acquiring, "acquire", None);
        let acquired = match self
            .client
            .acquire(&spec.cname, &spec.uid, &spec.acquire)
            .await
        {
            Ok(acquired) => acquired,
            Err(error) => return self.fail(&error),
        };
        self.report.resource_id = Some(acquired.resource_id.clone());
        self.emit(Phase::Starting, "start", None);
        // Started at once: a resource ID lives five minutes.
        match self
            .client
            .start(
                spec.mode,
                &acquired.resource_id,
                &spec.cname,
                &spec.uid,
                &spec.start,
            )
            .await
        {
            Ok(recording) => {
                self.report.sid = Some(recording.sid.clone());
                let message = format!("started, sid {}", recording.sid);
                self.emit(Phase::Confirming, &message, Some(&recording));
                Some(recording)
            }
            Err(error) => self.fail(&error),
        }
    }

    fn fail<T>(&mut self, error: &ApiError) -> Option<T> {
        self.report.errors.push(error.to_string());
        None
    }

    /// Confirms the recording runs, then runs the steps and routine
    /// queries until the end or a stop signal.
    async fn record(&mut self, recording: &Recording) -> Outcome {
        if !self.confirm(recording).await {
            return if *self.shutdown.borrow() {
                Outcome::Interrupted
            } else {
                Outcome::Failed
            };
        }
        let interval = query_interval(&self.spec);
        let mut next_query = Instant::now() + interval;
        let steps = self.spec.steps.clone();
        let mut pending = steps.iter().peekable();
        // Steps whose offset passed before this (late-started) session began
        // are reported, not sent: their moment is gone.
        while let Some(step) = pending.peek() {
            if self.window.start + step.at
                >= Instant::now() - CONFIRM_AFTER - Duration::from_secs(1)
                || step.at.is_zero()
            {
                break;
            }
            self.report.steps.push(StepReport {
                at: format_duration(step.at),
                endpoint: endpoint_of(&step.action),
                late_ms: None,
                outcome: "skipped: before this run began".to_owned(),
            });
            pending.next();
        }
        self.emit(
            Phase::Recording,
            &Self::next_note(pending.peek().copied()),
            Some(recording),
        );
        loop {
            let next_step = pending.peek().map(|s| self.window.start + s.at);
            let wake = [Some(next_query), next_step, Some(self.window.end)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(self.window.end);
            if !self.wait_until(wake).await {
                return Outcome::Interrupted;
            }
            let now = Instant::now();
            if now >= self.window.end {
                return Outcome::Completed;
            }
            if let Some(due) = next_step
                && now >= due
                && let Some(step) = pending.next()
            {
                let late = now.saturating_duration_since(due);
                let outcome = match self.send_step(recording, &step.action).await {
                    Ok(()) => "ok".to_owned(),
                    Err(error) => {
                        self.report.errors.push(error.to_string());
                        format!("failed: {error}")
                    }
                };
                self.report.steps.push(StepReport {
                    at: format_duration(step.at),
                    endpoint: endpoint_of(&step.action),
                    late_ms: Some(u64::try_from(late.as_millis()).unwrap_or(u64::MAX)),
                    outcome,
                });
                let note = Self::next_note(pending.peek().copied());
                let step = self.report.steps.last().cloned();
                self.send_progress(Phase::Recording, &note, Some(recording), step);
                continue;
            }
            if now >= next_query {
                next_query = now + interval;
                match self.client.query(recording).await {
                    Ok(answer) if answer.status().is_some_and(RecordingStatus::has_exited) => {
                        self.report
                            .errors
                            .push("the recording exited before the end".to_owned());
                        return Outcome::Failed;
                    }
                    Ok(_) => {}
                    Err(error) if error.is_not_found_worker() => {
                        self.report
                            .errors
                            .push("the recording is gone (404 failed to find worker)".to_owned());
                        return Outcome::Failed;
                    }
                    Err(error) => {
                        tracing::warn!(cname = %self.spec.cname, %error, "routine query failed");
                    }
                }
            }
        }
    }

    /// Queries until the recording reports status 4 or 5.
    async fn confirm(&mut self, recording: &Recording) -> bool {
        let deadline = Instant::now() + CONFIRM_WITHIN;
        let mut wait = CONFIRM_AFTER;
        loop {
            if !self.wait_until(Instant::now() + wait).await {
                return false;
            }
            match self.client.query(recording).await {
                Ok(answer) if answer.status().is_some_and(RecordingStatus::is_healthy) => {
                    return true;
                }
                Ok(answer) if answer.status().is_some_and(RecordingStatus::has_exited) => {
                    self.report
                        .errors
                        .push("the recording exited while starting".to_owned());
                    return false;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(cname = %self.spec.cname, %error, "confirming query failed");
                }
            }
            if Instant::now() + wait > deadline {
                self.report
                    .errors
                    .push("the recording did not reach status 4 or 5 within 90 s".to_owned());
                return false;
            }
            wait = (wait * 2).min(Duration::from_secs(20));
        }
    }

    async fn send_step(&self, recording: &Recording, action: &StepAction) -> Result<(), ApiError> {
        match action {
            StepAction::Update(update) => self.client.update(recording, update).await.map(drop),
            StepAction::UpdateLayout(layout) => {
                self.client.update_layout(recording, layout).await.map(drop)
            }
        }
    }

    async fn stop(&mut self, recording: &Recording, outcome: Outcome) {
        self.emit(Phase::Stopping, "stop", Some(recording));
        match self.client.stop(recording, &self.spec.stop).await {
            Ok(answer) => {
                self.report.files = answer.files().to_vec();
                self.report.uploading_status =
                    answer.uploading_status().map(|s| s.as_str().to_owned());
                self.report.outcome = outcome;
            }
            // 49: already exiting (idle, kicked, or a stop already sent);
            // 404: the task is gone. Either way nothing is left running.
            Err(error) if error.code() == Some(49) || error.is_not_found_worker() => {
                self.report.uploading_status = Some("unknown".to_owned());
                self.report.outcome = if outcome == Outcome::Completed {
                    Outcome::Completed
                } else {
                    outcome
                };
                self.report.errors.push(format!("stop: {error}"));
            }
            Err(error) => {
                self.report.errors.push(format!("stop: {error}"));
                self.report.outcome = Outcome::Failed;
            }
        }
        let phase = if self.report.maybe_running() {
            Phase::Failed
        } else {
            Phase::Stopped
        };
        let message = format!(
            "{} file(s), upload {}",
            self.report.files.len(),
            self.report.uploading_status.as_deref().unwrap_or("unknown")
        );
        self.emit(
            phase,
            &message,
            if phase == Phase::Failed {
                Some(recording)
            } else {
                None
            },
        );
    }

    /// Sleeps until `deadline`; false if a stop was signalled first.
    async fn wait_until(&mut self, deadline: Instant) -> bool {
        if *self.shutdown.borrow() {
            return false;
        }
        tokio::select! {
            () = sleep_until(deadline) => true,
            _ = self.shutdown.wait_for(|stop| *stop) => false,
        }
    }

    fn next_note(next: Option<&crate::plan::Step>) -> String {
        match next {
            Some(step) => format!(
                "recording; next {} at +{}",
                step.action.endpoint(),
                format_duration(step.at)
            ),
            None => "recording; no more steps".to_owned(),
        }
    }

    fn emit(&self, phase: Phase, message: &str, recording: Option<&Recording>) {
        self.send_progress(phase, message, recording, None);
    }

    fn send_progress(&self, phase: Phase, message: &str, recording: Option<&Recording>, step: Option<StepReport>) {
        let _ = self.progress.send(Progress {
            cname: self.spec.cname.clone(),
            uid: self.spec.uid.clone(),
            phase,
            message: message.to_owned(),
            recording: recording.cloned(),
            step,
        });
    }
}

fn endpoint_of(action: &StepAction) -> Endpoint {
    match action {
        StepAction::Update(_) => Endpoint::Update,
        StepAction::UpdateLayout(_) => Endpoint::UpdateLayout,
    }
}
