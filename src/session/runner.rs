//! Drives one session through Agora: acquire, start, confirm, steps at
//! their offsets, routine queries, stop. One task per session, woken by
//! timers and by the stop signal, never by polling. Every call is written
//! to the state store as an intent before it and a result after it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};

use super::journal::Journal;
use super::report::{Outcome, Phase, Progress, SessionReport, StepReport};
use super::timeline::{CONFIRM_AFTER, query_interval};
use crate::agora::response::RecordingStatus;
use crate::agora::{ApiError, Endpoint, Presence, Recording, ResilientClient, Secret};
use crate::plan::raw::OnFailure;
use crate::plan::{SessionSpec, Step, StepAction, format_duration};
use crate::store::{Lease, Transition};

/// How long a started recording may take to reach status 4 or 5 before
/// recplan counts it as dead (Agora's advice: about 90 s).
const CONFIRM_WITHIN: Duration = Duration::from_secs(90);

/// When the session's occurrence runs, as tokio instants.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

/// How the recording phase ended.
enum Ending {
    /// The occurrence is over.
    Completed,
    /// recplan was asked to stop.
    Interrupted,
    /// Agora says the recording is gone.
    Lost(String),
}

/// One session's runner. `client` must already carry the spec's App ID;
/// it retries and paces calls, so what reaches the session is final.
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
    /// Indexes of the spec's steps already answered.
    pub(super) steps_done: BTreeSet<usize>,
    /// Resource IDs of recordings that died, for `excludeResourceIds`.
    pub(super) excluded: Vec<String>,
    /// The uid the current or next recording uses.
    pub(super) uid: String,
    /// The RTC token minted for the current recording and the uid it
    /// names, when the plan has recplan mint tokens.
    pub(super) minted: Option<(String, Secret)>,
    /// False when the plan could not be rendered again on recovery: the
    /// session can still be stopped, but not restarted.
    pub(super) restartable: bool,
    /// Held while this process drives the session.
    pub(super) _lease: Lease,
}

impl Session {
    pub fn new(
        client: ResilientClient,
        journal: Journal,
        lease: Lease,
        spec: Arc<SessionSpec>,
        window: Window,
        shutdown: watch::Receiver<bool>,
        progress: mpsc::UnboundedSender<Progress>,
    ) -> Session {
        Session {
            report: SessionReport::new(&spec.cname, &spec.uid),
            uid: spec.uid.clone(),
            client,
            journal,
            spec,
            window,
            shutdown,
            progress,
            steps_done: BTreeSet::new(),
            excluded: Vec::new(),
            minted: None,
            restartable: true,
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
            self.emit(Phase::Waiting, "waiting for the start", None);
            if !self.wait_until(self.window.start).await {
                self.abandon(Outcome::Interrupted, "stopped before the occurrence began")
                    .await;
                return self.report;
            }
            if Instant::now() >= self.window.end {
                self.abandon(
                    Outcome::Missed,
                    "the occurrence was over before it could start",
                )
                .await;
                return self.report;
            }
            match Box::pin(self.start_recording()).await {
                Some(recording) => self.drive(recording).await,
                None => self.give_up_starting(),
            }
            self.report
        }
    }

    /// Records, restarting per `on_failure` while time is left, then stops.
    pub(super) async fn drive(&mut self, mut recording: Recording) {
        loop {
            match self.record(&recording).await {
                Ending::Completed => return self.stop(&recording, Outcome::Completed).await,
                Ending::Interrupted => return self.stop(&recording, Outcome::Interrupted).await,
                Ending::Lost(reason) => {
                    self.report.errors.push(reason.clone());
                    self.excluded.push(recording.resource_id.clone());
                    self.journal_or_report(&Transition::Lost {
                        reason: reason.clone(),
                    })
                    .await;
                    match Box::pin(self.after_loss(&reason)).await {
                        Some(next) => recording = next,
                        None => return,
                    }
                }
            }
        }
    }

    /// What `on_failure` says to do once a recording is gone: start a new
    /// one for the remainder, or end the session.
    async fn after_loss(&mut self, reason: &str) -> Option<Recording> {
        let time_left = Instant::now() + CONFIRM_AFTER < self.window.end;
        match self.spec.on_failure {
            OnFailure::Restart if time_left && self.restartable && !*self.shutdown.borrow() => {
                self.uid = self.next_uid();
                self.report.restarts += 1;
                let message = format!(
                    "recording lost ({reason}); restarting with uid {}",
                    self.uid
                );
                self.emit(Phase::Restarting, &message, None);
                let recording = Box::pin(self.start_recording()).await;
                if recording.is_none() {
                    self.give_up_starting();
                }
                recording
            }
            OnFailure::Ignore => {
                self.finish(
                    Outcome::Lost,
                    &Transition::Failed {
                        reason: format!("recording lost: {reason} (on_failure: ignore)"),
                    },
                )
                .await;
                None
            }
            _ => {
                self.finish(
                    Outcome::Failed,
                    &Transition::Failed {
                        reason: format!("recording lost: {reason}"),
                    },
                )
                .await;
                None
            }
        }
    }

    /// Confirms the recording runs, then runs the steps and routine
    /// queries until the end, a stop signal, or the recording's death.
    async fn record(&mut self, recording: &Recording) -> Ending {
        if let Err(ending) = self.confirm(recording).await {
            return ending;
        }
        let interval = query_interval(&self.spec);
        let mut next_query = Instant::now() + interval;
        // A handle of its own on the spec, so that the steps are borrowed
        // from it rather than copied while `self` changes.
        let spec = Arc::clone(&self.spec);
        let steps: Vec<(usize, &Step)> = spec
            .steps
            .iter()
            .enumerate()
            .filter(|(index, _)| !self.steps_done.contains(index))
            .collect();
        let mut pending = steps.into_iter().peekable();
        self.emit(
            Phase::Recording,
            &next_note(pending.peek().map(|&(_, s)| s)),
            Some(recording),
        );
        loop {
            let next_step = pending.peek().map(|(_, s)| self.window.start + s.at);
            let wake = [Some(next_query), next_step, Some(self.window.end)]
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
                self.send_progress(Phase::Recording, &note, Some(recording), sent);
                continue;
            }
            if now >= next_query {
                next_query = now + interval;
                match self.client.query(recording).await {
                    Ok(answer) if answer.status().is_some_and(RecordingStatus::has_exited) => {
                        return Ending::Lost("the recording exited".to_owned());
                    }
                    Ok(_) => {}
                    Err(error) if error.is_not_found_worker() => {
                        // During Agora's failover a task answers 404 for up
                        // to 90 s and then comes back: look again before
                        // calling it gone.
                        match self.client.confirm_gone(recording).await {
                            Ok(Presence::Back(_)) => {
                                tracing::info!(cname = %self.spec.cname, "the recording came back after a failover");
                            }
                            Ok(Presence::Gone) => {
                                return Ending::Lost("query: 404 failed to find worker".to_owned());
                            }
                            Err(error) => {
                                tracing::warn!(cname = %self.spec.cname, %error, "could not confirm the recording is gone");
                            }
                        }
                    }
                    Err(error) => {
                        tracing::warn!(cname = %self.spec.cname, %error, "routine query failed");
                    }
                }
            }
        }
    }

    /// Queries until the recording reports status 4 or 5.
    async fn confirm(&mut self, recording: &Recording) -> Result<(), Ending> {
        let deadline = Instant::now() + CONFIRM_WITHIN;
        let mut wait = CONFIRM_AFTER;
        loop {
            if !self.wait_until(Instant::now() + wait).await {
                return Err(Ending::Interrupted);
            }
            match self.client.query(recording).await {
                Ok(answer) if answer.status().is_some_and(RecordingStatus::is_healthy) => {
                    return Ok(());
                }
                Ok(answer) if answer.status().is_some_and(RecordingStatus::has_exited) => {
                    return Err(Ending::Lost(
                        "the recording exited while starting".to_owned(),
                    ));
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(cname = %self.spec.cname, %error, "confirming query failed");
                }
            }
            if Instant::now() + wait > deadline {
                return Err(Ending::Lost(
                    "the recording did not reach status 4 or 5 within 90 s".to_owned(),
                ));
            }
            wait = (wait * 2).min(Duration::from_secs(20));
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
            StepAction::Update(update) => self.client.update(recording, update).await.map(drop),
            StepAction::UpdateLayout(layout) => {
                self.client.update_layout(recording, layout).await.map(drop)
            }
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
        self.steps_done.insert(index);
        self.report.steps.push(StepReport {
            at: format_duration(step.at),
            endpoint: endpoint_of(&step.action),
            late_ms,
            outcome,
        });
    }

    /// Stops the recording and records what came back. A stop that Agora
    /// does not answer leaves the intent in the store, for recovery.
    pub(super) async fn stop(&mut self, recording: &Recording, outcome: Outcome) {
        self.emit(Phase::Stopping, "stop", Some(recording));
        self.journal_or_report(&Transition::StopIntent).await;
        let stopped = match self.client.stop(recording, &self.spec.stop).await {
            Ok(answer) => {
                self.report.files = answer.files().to_vec();
                self.report.uploading_status =
                    answer.uploading_status().map(|s| s.as_str().to_owned());
                true
            }
            // 49: already exiting (idle, kicked, a stop already sent); 404:
            // gone; 435: nobody published, so there are no files. In every
            // case nothing is left running.
            Err(error)
                if error.code() == Some(49)
                    || error.is_not_found_worker()
                    || error.is_no_recorded_data() =>
            {
                self.report.errors.push(format!("stop: {error}"));
                true
            }
            Err(error) => {
                self.report.errors.push(format!("stop: {error}"));
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
            })
            .await;
            self.report.outcome = outcome;
            let message = format!(
                "{} file(s), upload {}",
                self.report.files.len(),
                self.report.uploading_status.as_deref().unwrap_or("unknown")
            );
            self.emit(Phase::Stopped, &message, None);
        } else {
            self.report.outcome = Outcome::Failed;
            self.emit(
                Phase::Failed,
                "stop was not answered; `recplan recover` retries it",
                Some(recording),
            );
        }
    }

    /// Ends a session that never got a recording going.
    pub(super) fn give_up_starting(&mut self) {
        self.report.outcome = Outcome::Failed;
        self.emit(Phase::Failed, "could not start", None);
    }

    /// Ends a session without a recording, for good.
    async fn abandon(&mut self, outcome: Outcome, reason: &str) {
        self.finish(
            outcome,
            &Transition::Abandoned {
                reason: reason.to_owned(),
            },
        )
        .await;
    }

    pub(super) async fn finish(&mut self, outcome: Outcome, transition: &Transition) {
        self.journal_or_report(transition).await;
        self.report.outcome = outcome;
        let phase = if outcome == Outcome::Failed {
            Phase::Failed
        } else {
            Phase::Stopped
        };
        self.emit(phase, &format!("{outcome:?}"), None);
    }

    pub(super) async fn journal_or_report(&mut self, transition: &Transition) {
        if let Err(error) = self.journal.record(transition).await {
            self.report.errors.push(error);
        }
    }

    /// The uid a restarted recording joins with: the backup uid and the
    /// planned one take turns, so that a new recorder never collides with
    /// the dead one's lingering uid. Without a backup uid, one is derived
    /// by flipping the top bit (still 1..=4294967295, never the same).
    fn next_uid(&self) -> String {
        let backup = self
            .spec
            .backup_uid
            .clone()
            .unwrap_or_else(|| derived_uid(&self.spec.uid));
        if self.uid == backup {
            self.spec.uid.clone()
        } else {
            backup
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

    pub(super) fn emit(&self, phase: Phase, message: &str, recording: Option<&Recording>) {
        self.send_progress(phase, message, recording, None);
    }

    fn send_progress(
        &self,
        phase: Phase,
        message: &str,
        recording: Option<&Recording>,
        step: Option<StepReport>,
    ) {
        let _ = self.progress.send(Progress {
            cname: self.spec.cname.clone(),
            uid: self.spec.uid.clone(),
            phase,
            message: message.to_owned(),
            recording: recording.cloned(),
            step,
        });
    }

    pub(super) fn fail_call(&mut self, call: Endpoint, error: &ApiError) {
        self.report.errors.push(format!("{call}: {error}"));
    }
}

/// A uid for a restart when the plan gives no backup uid.
fn derived_uid(uid: &str) -> String {
    let value: u32 = uid.parse().unwrap_or(1);
    let flipped = value ^ 0x8000_0000;
    if flipped == 0 {
        "2147483649".to_owned()
    } else {
        flipped.to_string()
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

fn endpoint_of(action: &StepAction) -> Endpoint {
    match action {
        StepAction::Update(_) => Endpoint::Update,
        StepAction::UpdateLayout(_) => Endpoint::UpdateLayout,
    }
}
