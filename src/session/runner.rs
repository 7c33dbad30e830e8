//! Drives one session through Agora: acquire, start, confirm, steps at
//! their offsets, routine queries, stop. One task per session, woken by
//! timers and by the stop signal, never by polling. Every call is written
//! to the state store as an intent before it and a result after it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};

use super::journal::Journal;
use super::report::{Outcome, Progress, SessionReport, Stage, StepReport};
use super::state::{
    LossDecision, QueryReading, SessionState, StopReading, after_loss, confirm_deadline,
    next_confirm_wait, read_status, read_stop,
};
use super::timeline::{CONFIRM_AFTER, query_interval};
use crate::agora::call::{OnRecording, Query};
use crate::agora::{ApiError, Endpoint, Presence, Recording, ResilientClient};
use crate::plan::{SessionSpec, Step, StepAction, format_duration};
use crate::store::{Lease, Transition};

/// When the session's occurrence runs, as tokio instants.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

/// Why a recording counts as lost when Agora could not find its worker
/// through the whole failover window.
const WORKER_GONE: &str = "query: 404 failed to find worker";

/// How the recording phase ended.
enum Ending {
    /// The occurrence is over.
    Completed,
    /// recplan was asked to stop.
    Interrupted,
    /// Agora says the recording is gone, or it never confirmed.
    Lost(String),
}

/// One session's runner: the I/O shell around [`SessionState`] and the
/// rules in [`super::state`]. `client` must already carry the spec's App
/// ID; it retries and paces calls, so what reaches the session is final.
pub struct Session {
    pub(super) client: ResilientClient,
    pub(super) journal: Journal,
    /// Shared with the occurrence (a session's task also keeps its own
    /// state twice while it runs: the argument and the moved value).
    pub(super) spec: Arc<SessionSpec>,
    pub(super) window: Window,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) progress: mpsc::UnboundedSender<Progress>,
    pub(super) report: SessionReport,
    pub(super) state: SessionState,
    /// Held while this process drives the session.
    pub(super) _lease: Lease,
}

impl Session {
    /// A session in `state`: [`SessionState::new`] for a new one,
    /// [`SessionState::stored`] for one taken over from the store.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: ResilientClient,
        journal: Journal,
        lease: Lease,
        spec: Arc<SessionSpec>,
        window: Window,
        state: SessionState,
        shutdown: watch::Receiver<bool>,
        progress: mpsc::UnboundedSender<Progress>,
    ) -> Session {
        let mut report = SessionReport::new(&spec.cname, &spec.uid);
        report.restarts = state.restarts;
        Session {
            report,
            client,
            journal,
            spec,
            window,
            state,
            shutdown,
            progress,
            _lease: lease,
        }
    }

    /// Runs a new session to its end and reports.
    ///
    /// An `async move` block rather than an `async fn`: an `async fn` taking
    /// `mut self` keeps the session twice in its task for its whole life
    /// (the argument and the moved value).
    #[allow(clippy::manual_async_fn)]
    pub fn run(mut self) -> impl Future<Output = SessionReport> + Send {
        async move {
            self.emit(Stage::Waiting, "waiting for the start", None);
            if !self.wait_until(self.window.start).await {
                self.end(Outcome::Interrupted, "stopped before the occurrence began")
                    .await;
                return self.report;
            }
            if Instant::now() >= self.window.end {
                self.end(
                    Outcome::Missed,
                    "the occurrence was over before it could start",
                )
                .await;
                return self.report;
            }
            if let Some(recording) = Box::pin(self.start_recording()).await {
                let first_query = Instant::now() + CONFIRM_AFTER;
                self.drive(recording, first_query).await;
            }
            self.report
        }
    }

    /// Records, restarting per `on_failure` while time is left, then stops.
    /// `first_query` is when the recording is first queried to confirm it.
    pub(super) async fn drive(&mut self, mut recording: Recording, mut first_query: Instant) {
        loop {
            match self.record(&recording, first_query).await {
                Ending::Completed if !self.state.confirmed => {
                    // Stopped at the end like any other, but it never
                    // reached status 4 or 5: no recording to speak of, so
                    // the session failed.
                    let reason = "the recording never reached status 4 or 5".to_owned();
                    self.report.errors.push(reason.clone());
                    return self.stop_failed(&recording, reason).await;
                }
                Ending::Completed => return self.stop(&recording, Outcome::Completed).await,
                Ending::Interrupted => return self.stop(&recording, Outcome::Interrupted).await,
                Ending::Lost(reason) => {
                    self.report.errors.push(reason.clone());
                    match Box::pin(self.after_loss(&recording, &reason)).await {
                        Some(next) => {
                            recording = next;
                            first_query = Instant::now() + CONFIRM_AFTER;
                        }
                        None => return,
                    }
                }
            }
        }
    }

    /// Once a recording is gone: stop it (one that never confirmed may
    /// still run, and a restart must not start a second beside it), then do
    /// what `on_failure` says: start a new one for the remainder, or end.
    async fn after_loss(&mut self, recording: &Recording, reason: &str) -> Option<Recording> {
        if !self.stop_lost(recording, reason == WORKER_GONE).await {
            return None;
        }
        self.state.excluded.push(recording.resource_id.clone());
        self.journal_or_report(&Transition::Lost {
            reason: reason.to_owned(),
        })
        .await;
        let decision = after_loss(
            &self.spec,
            &self.state,
            Instant::now(),
            self.window.end,
            self.spec.min_recording,
            *self.shutdown.borrow(),
        );
        match decision {
            LossDecision::Restart { uid } => {
                self.state.uid = uid;
                self.state.restarts += 1;
                self.report.restarts = self.state.restarts;
                let message = format!(
                    "recording lost ({reason}); restarting with uid {}",
                    self.state.uid
                );
                self.emit(Stage::Restarting, &message, None);
                Box::pin(self.start_recording()).await
            }
            LossDecision::End { ignored: true } => {
                let reason = format!("recording lost: {reason} (on_failure: ignore)");
                self.report.failure_ignored = true;
                self.finish(Outcome::Failed, &Transition::Failed { reason })
                    .await;
                None
            }
            LossDecision::End { ignored: false } => {
                let reason = format!("recording lost: {reason}");
                self.finish(Outcome::Failed, &Transition::Failed { reason })
                    .await;
                None
            }
        }
    }

    /// Stops a recording of a session that failed for `reason`: the
    /// session ends failed, not completed, once the stop is answered.
    pub(super) async fn stop_failed(&mut self, recording: &Recording, reason: String) {
        if self.stop_lost(recording, false).await {
            self.journal_or_report(&Transition::Lost {
                reason: reason.clone(),
            })
            .await;
            self.finish(Outcome::Failed, &Transition::Failed { reason })
                .await;
        }
    }

    /// Stops a recording counted as lost. False when the stop was not
    /// answered: the session then fails holding the sid, which recovery
    /// stops, and nothing is started beside it.
    async fn stop_lost(&mut self, recording: &Recording, known_gone: bool) -> bool {
        // After a failover window of 404s, a 404 here is the loss already
        // established, not a failover to wait out again.
        let result = if known_gone {
            self.client
                .send(&OnRecording::new(recording, &self.spec.stop))
                .await
        } else {
            self.stop_call(recording).await
        };
        match read_stop(&result) {
            StopReading::Stopped {
                files,
                uploading_status,
            } => {
                self.report.files.extend(files);
                self.report.uploading_status = uploading_status;
                true
            }
            StopReading::Gone { .. } => true,
            StopReading::NotAnswered { note } => {
                self.report.errors.push(note.clone());
                let reason = format!("recording lost and its {note}");
                self.finish(Outcome::Failed, &Transition::Failed { reason })
                    .await;
                false
            }
        }
    }

    /// Runs the steps at their offsets and the queries between them until
    /// the end, a stop signal, or the recording's death. Until the
    /// recording reports status 4 or 5 the queries confirm it (from
    /// `first_query`, then 10, 20 s apart); steps do not wait for that.
    /// One that has not confirmed within 90 s is lost, but only before the
    /// occurrence's end: then it is stopped like any other.
    async fn record(&mut self, recording: &Recording, first_query: Instant) -> Ending {
        let interval = query_interval(&self.spec);
        let deadline = confirm_deadline(Instant::now(), self.window.end);
        let mut confirm_wait = first_query.saturating_duration_since(Instant::now());
        let mut next_query = first_query;
        // A handle of its own on the spec, so that the steps are borrowed
        // from it rather than copied while `self` changes.
        let spec = Arc::clone(&self.spec);
        let steps: Vec<(usize, &Step)> = spec
            .steps
            .iter()
            .enumerate()
            .filter(|(index, _)| !self.state.steps_done.contains(index))
            .collect();
        let mut pending = steps.into_iter().peekable();
        loop {
            let next_step = pending.peek().map(|(_, s)| self.window.start + s.at);
            let confirming = (!self.state.confirmed).then_some(deadline);
            let wake = [
                Some(next_query),
                next_step,
                confirming,
                Some(self.window.end),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.window.end);
            if !self.wait_until(wake).await {
                return Ending::Interrupted;
            }
            let now = Instant::now();
            if now >= self.window.end {
                return Ending::Completed;
            }
            // Steps first, late ones included: each sets the state the plan
            // wants from its offset on, so one whose moment passed (a late
            // start, a resumed session) is still sent, and reported late.
            if let Some(due) = next_step
                && now >= due
                && let Some((index, step)) = pending.next()
            {
                // Boxed, as calls are: a session spends its life waiting in
                // this loop, and a step lasts a moment of it.
                Box::pin(self.send_step(
                    recording,
                    index,
                    step,
                    now.saturating_duration_since(due),
                ))
                .await;
                let note = next_note(pending.peek().map(|&(_, s)| s));
                let sent = self.report.steps.last().cloned();
                self.send_progress(Stage::Recording, &note, Some(recording), sent);
                continue;
            }
            if now >= next_query {
                let confirming = !self.state.confirmed;
                if let Some(lost) = Box::pin(self.query(recording)).await {
                    return Ending::Lost(lost);
                }
                if self.state.confirmed {
                    if confirming {
                        let note = next_note(pending.peek().map(|&(_, s)| s));
                        self.emit(Stage::Recording, &note, Some(recording));
                    }
                    next_query = Instant::now() + interval;
                } else {
                    confirm_wait = next_confirm_wait(confirm_wait.max(CONFIRM_AFTER / 2));
                    next_query = Instant::now() + confirm_wait;
                }
                continue;
            }
            if !self.state.confirmed && now >= deadline {
                return Ending::Lost(
                    "the recording did not reach status 4 or 5 within 90 s".to_owned(),
                );
            }
        }
    }

    /// One query: confirming while the recording has not reached status 4
    /// or 5, routine after. Returns why the recording is gone, if it is.
    async fn query(&mut self, recording: &Recording) -> Option<String> {
        let answer = match self.client.send(&Query(recording)).await {
            Ok(answer) => answer,
            Err(error) if error.is_not_found_worker() && self.state.confirmed => {
                // During Agora's failover a task answers 404 for up to 90 s
                // and then comes back: look again before calling it gone.
                return match self.client.confirm_gone(recording).await {
                    Ok(Presence::Back(answer))
                        if read_status(answer.status()) == QueryReading::Exited =>
                    {
                        Some("the recording exited".to_owned())
                    }
                    Ok(Presence::Back(_)) => {
                        tracing::info!(cname = %self.spec.cname, "the recording came back after a failover");
                        None
                    }
                    Ok(Presence::Gone) => Some(WORKER_GONE.to_owned()),
                    Err(error) => {
                        tracing::warn!(cname = %self.spec.cname, %error, "could not confirm the recording is gone");
                        None
                    }
                };
            }
            Err(error) => {
                tracing::debug!(cname = %self.spec.cname, confirmed = self.state.confirmed, %error, "query failed");
                return None;
            }
        };
        match read_status(answer.status()) {
            QueryReading::Healthy => {
                self.state.confirmed = true;
                None
            }
            QueryReading::Exited if self.state.confirmed => Some("the recording exited".to_owned()),
            QueryReading::Exited => Some("the recording exited while starting".to_owned()),
            QueryReading::Starting => None,
        }
    }

    async fn send_step(
        &mut self,
        recording: &Recording,
        index: usize,
        step: &Step,
        late: Duration,
    ) {
        self.journal_or_report(&Transition::StepIntent { index })
            .await;
        let result = match &step.action {
            StepAction::Update(update) => self
                .client
                .send(&OnRecording::new(recording, &**update))
                .await
                .map(drop),
            StepAction::UpdateLayout(layout) => self
                .client
                .send(&OnRecording::new(recording, &**layout))
                .await
                .map(drop),
        };
        let outcome = match result {
            Ok(()) => "ok".to_owned(),
            Err(error) => {
                self.report
                    .errors
                    .push(format!("step +{}: {error}", format_duration(step.at)));
                format!("failed: {error}")
            }
        };
        let late_ms = Some(u64::try_from(late.as_millis()).unwrap_or(u64::MAX));
        self.journal_or_report(&Transition::StepDone {
            index,
            outcome: outcome.clone(),
            late_ms,
        })
        .await;
        self.state.steps_done.insert(index);
        self.report.steps.push(StepReport {
            at: format_duration(step.at),
            endpoint: step.action.endpoint(),
            late_ms,
            outcome,
        });
    }

    /// Stops the recording and records what came back. A stop that Agora
    /// does not answer leaves the intent in the store, for recovery.
    pub(super) async fn stop(&mut self, recording: &Recording, outcome: Outcome) {
        self.emit(Stage::Stopping, "stop", Some(recording));
        self.journal_or_report(&Transition::StopIntent).await;
        let result = self.stop_call(recording).await;
        let stopped = match read_stop(&result) {
            StopReading::Stopped {
                files,
                uploading_status,
            } => {
                self.report.files.extend(files);
                self.report.uploading_status = uploading_status;
                true
            }
            StopReading::Gone { note } => {
                self.report.errors.push(note);
                true
            }
            StopReading::NotAnswered { note } => {
                self.report.errors.push(note);
                false
            }
        };
        if stopped {
            let files = self
                .report
                .files
                .iter()
                .map(|f| f.file_name.clone())
                .collect();
            let uploading_status = self.report.uploading_status.clone();
            self.journal_or_report(&Transition::Stopped {
                files,
                uploading_status,
                outcome,
            })
            .await;
            self.report.outcome = Some(outcome);
            self.report.ended_at = Some(self.journal.now());
            let message = format!(
                "{outcome}, {} file(s), upload {}",
                self.report.files.len(),
                self.report.uploading_status.as_deref().unwrap_or("unknown")
            );
            self.emit(Stage::Stopped, &message, None);
        } else {
            self.report.outcome = Some(Outcome::Failed);
            self.emit(
                Stage::Failed,
                "stop was not answered; `recplan recover` retries it",
                Some(recording),
            );
        }
    }

    /// Sends stop. A 404 "failed to find worker" may be a failover hiding
    /// a recording that still runs: the recording is queried through the
    /// failover window, and stopped again if it comes back.
    async fn stop_call(
        &self,
        recording: &Recording,
    ) -> Result<crate::agora::response::StopResponse, ApiError> {
        let result = self
            .client
            .send(&OnRecording::new(recording, &self.spec.stop))
            .await;
        match &result {
            Err(error) if error.is_not_found_worker() => {
                match self.client.confirm_gone(recording).await {
                    Ok(Presence::Back(answer))
                        if read_status(answer.status()) != QueryReading::Exited =>
                    {
                        tracing::info!(cname = %self.spec.cname, "the recording came back after a failover; stopping it again");
                        self.client
                            .send(&OnRecording::new(recording, &self.spec.stop))
                            .await
                    }
                    _ => result,
                }
            }
            _ => result,
        }
    }

    /// Ends a session without a recording, for good.
    pub(super) async fn end(&mut self, outcome: Outcome, reason: &str) {
        self.finish(
            outcome,
            &Transition::Ended {
                outcome,
                reason: reason.to_owned(),
            },
        )
        .await;
    }

    pub(super) async fn finish(&mut self, outcome: Outcome, transition: &Transition) {
        self.journal_or_report(transition).await;
        self.report.outcome = Some(outcome);
        self.report.ended_at = Some(self.journal.now());
        let stage = if outcome == Outcome::Failed {
            Stage::Failed
        } else {
            Stage::Stopped
        };
        self.emit(stage, outcome.as_str(), None);
    }

    pub(super) async fn journal_or_report(&mut self, transition: &Transition) {
        if let Err(error) = self.journal.record(transition).await {
            self.report.errors.push(error);
        }
    }

    /// Sleeps until `deadline`; false if a stop was signalled first.
    pub(super) async fn wait_until(&mut self, deadline: Instant) -> bool {
        if *self.shutdown.borrow() {
            return false;
        }
        tokio::select! {
            () = sleep_until(deadline) => true,
            signalled = async { self.shutdown.wait_for(|stop| *stop).await.is_ok() } => {
                if signalled {
                    return false;
                }
                // Whoever could say stop is gone (a daemon detaching): that
                // is no order to stop. Carry on until the process ends.
                sleep_until(deadline).await;
                true
            }
        }
    }

    pub(super) fn emit(&self, stage: Stage, message: &str, recording: Option<&Recording>) {
        self.send_progress(stage, message, recording, None);
    }

    fn send_progress(
        &self,
        stage: Stage,
        message: &str,
        recording: Option<&Recording>,
        step: Option<StepReport>,
    ) {
        // Logged here, inside the session's span, so that the line carries
        // the plan, channel, uid and session id.
        let event = format!("{stage:?}").to_lowercase();
        let sid = recording.map(|r| r.sid.as_str());
        tracing::info!(event, sid, "{message}");
        let _ = self.progress.send(Progress {
            cname: self.spec.cname.clone(),
            uid: self.spec.uid.clone(),
            stage,
            message: message.to_owned(),
            recording: recording.cloned(),
            step,
        });
    }

    pub(super) fn fail_call(&mut self, call: Endpoint, error: &ApiError) {
        self.report.errors.push(format!("{call}: {error}"));
    }
}

fn next_note(next: Option<&Step>) -> String {
    match next {
        Some(step) => format!(
            "recording; next {} at +{}",
            step.action.endpoint(),
            format_duration(step.at)
        ),
        None => "recording; no more steps".to_owned(),
    }
}
