//! Picking up sessions a process left behind: the ones in the store that
//! are not over and whose lease is free (their runner died). A session
//! still inside its occurrence is resumed where it stood; one past its end
//! is stopped; one that never got a recording is started for the
//! remainder, or abandoned when no time is left.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::Context;
use super::journal::Journal;
use super::report::{Outcome, SessionReport};
use super::runner::{Session, Window};
use super::state::{SessionState, restart_uid};
use super::timeline::CONFIRM_AFTER;
use crate::plan::raw::OnFailure;
use crate::plan::{self, MissingEnv, SessionSpec};
use crate::store::{Lease, Phase, StoredSession};

/// Sessions taken over from dead runners, leases held, ready to resume.
pub struct Recovery {
    sessions: Vec<(Session, StoredSession)>,
}

/// Takes the lease of every active session in the store that no live
/// process drives. Leases are taken here, before anything new begins, so a
/// session is never picked up by two runners of one process.
pub async fn recoverable(context: &Context, shutdown: &watch::Receiver<bool>) -> Recovery {
    let active = match context.store.active().await {
        Ok(active) => active,
        Err(error) => {
            tracing::error!(%error, "cannot read the state store");
            Vec::new()
        }
    };
    let mut sessions = Vec::new();
    for stored in active {
        let lease = match context.store.lease(stored.id).await {
            Ok(Some(lease)) => lease,
            Ok(None) => continue,
            Err(error) => {
                tracing::error!(session = %stored.id, %error, "cannot take the session's lease");
                continue;
            }
        };
        tracing::info!(session = %stored.id, plan = %stored.plan, cname = %stored.cname, phase = ?stored.phase, "recovering");
        let session = resumed_session(context, &stored, lease, shutdown);
        sessions.push((session, stored));
    }
    Recovery { sessions }
}

impl Recovery {
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Resumes the sessions concurrently and waits for all.
    pub async fn run(self) -> Vec<SessionReport> {
        let mut tasks = JoinSet::new();
        for (session, stored) in self.sessions {
            tasks.spawn(session.resume(stored));
        }
        let mut reports = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(report) => reports.push(report),
                Err(error) => tracing::error!(%error, "a recovered session ended abnormally"),
            }
        }
        reports
    }
}

/// Resumes every active session in the store that no live process drives.
pub async fn recover(context: &Context, shutdown: &watch::Receiver<bool>) -> Vec<SessionReport> {
    recoverable(context, shutdown).await.run().await
}

/// Resumes one stored session whose lease the caller took: a session
/// whose driver died while this process runs.
pub async fn take_over(
    context: &Context,
    stored: StoredSession,
    lease: Lease,
    shutdown: watch::Receiver<bool>,
) -> SessionReport {
    resumed_session(context, &stored, lease, &shutdown)
        .resume(stored)
        .await
}

/// A session rebuilt from the store, with its bodies rendered again from
/// the plan file when it still loads.
pub(super) fn resumed_session(
    context: &Context,
    stored: &StoredSession,
    lease: Lease,
    shutdown: &watch::Receiver<bool>,
) -> Session {
    let (spec, restartable) = match render_again(context, stored) {
        Some(spec) => (spec, true),
        None => (Arc::new(bare_spec(stored)), false),
    };
    let start = context.clock.instant_at(stored.scheduled_start);
    let window = Window {
        start,
        end: context.clock.instant_at(stored.scheduled_end),
    };
    let journal = Journal::new(context.store.clone(), stored.id, context.clock);
    let client = context.client.with_app_id(&stored.app_id);
    let state = SessionState::stored(
        &stored.current_uid,
        &stored.steps_done,
        stored.starts,
        restartable,
    );
    let mut session = Session::new(
        client,
        journal,
        lease,
        spec,
        window,
        state,
        context.stops.register(stored.id, shutdown),
        context.progress.clone(),
    );
    session.report.resource_id.clone_from(&stored.resource_id);
    session.report.sid.clone_from(&stored.sid);
    session
}

fn render_again(context: &Context, stored: &StoredSession) -> Option<Arc<SessionSpec>> {
    let options = plan::Options {
        env: context.env.clone(),
        missing_env: MissingEnv::Refuse,
        now: context.clock.now(),
    };
    let loaded = plan::load(&stored.plan_path, &options)
        .map_err(|error| tracing::warn!(plan = %stored.plan_path.display(), %error, "cannot load the plan again; the session can only be stopped"))
        .ok()?;
    let plan = loaded.plan;
    if plan.content_hash() != stored.plan_hash {
        tracing::warn!(plan = %stored.plan_path.display(), "the plan changed since the session began; its remaining steps follow the new version");
    }
    let duration = (stored.scheduled_end - stored.scheduled_start)
        .to_std()
        .unwrap_or(Duration::ZERO);
    let occurrence = plan
        .occurrence(
            plan.localize(stored.scheduled_start),
            &context.env,
            Some(duration),
        )
        .ok()?;
    occurrence
        .sessions
        .into_iter()
        .find(|s| s.cname == stored.cname && s.uid == stored.uid)
}

/// Enough to stop a recording when its plan is gone.
fn bare_spec(stored: &StoredSession) -> SessionSpec {
    SessionSpec {
        app_id: stored.app_id.clone(),
        mode: stored.mode,
        cname: stored.cname.clone(),
        uid: stored.uid.clone(),
        backup_uid: stored.backup_uid.clone(),
        on_failure: OnFailure::Stop,
        min_recording: crate::plan::DEFAULT_MIN_RECORDING,
        acquire: crate::agora::request::AcquireClientRequest::default(),
        start: crate::agora::request::StartClientRequest::default(),
        steps: Vec::new(),
        stop: crate::agora::request::StopClientRequest::default(),
        rtc_token: None,
    }
}

impl Session {
    /// Continues a stored session from where it stood.
    pub async fn resume(self, stored: StoredSession) -> SessionReport {
        let span = super::span(&stored.plan, &stored.cname, &stored.current_uid, stored.id);
        self.resume_in_span(stored).instrument(span).await
    }

    async fn resume_in_span(mut self, stored: StoredSession) -> SessionReport {
        let over = Instant::now() >= self.window.end;
        if let Some(recording) = stored.recording() {
            let finishing = over || matches!(stored.phase, Phase::Stopping | Phase::Failed);
            if finishing {
                match (over, stored.phase) {
                    (true, _) => self.stop(&recording, Outcome::Completed).await,
                    // A stop under way before the end: an interruption.
                    (false, Phase::Stopping) => {
                        self.stop(&recording, Outcome::Interrupted).await;
                    }
                    (false, _) => {
                        let reason = stored
                            .error
                            .clone()
                            .unwrap_or_else(|| "failed while recording".to_owned());
                        self.stop_failed(&recording, reason).await;
                    }
                }
            } else {
                // Whether it confirmed before is not stored: ask at once;
                // steps missed meanwhile go out at once too, the rest at
                // their offsets.
                self.started_again(&recording);
                self.drive(recording, Instant::now()).await;
            }
            return self.report;
        }
        if over || !self.state.restartable {
            let reason = if over {
                "the occurrence ended while nobody drove it"
            } else {
                "the plan can no longer be rendered"
            };
            let outcome = if over {
                Outcome::Missed
            } else {
                Outcome::Abandoned
            };
            self.end(outcome, reason).await;
            return self.report;
        }
        // A start whose answer never arrived: ask again on the same
        // resource. If the first took effect Agora says so (201, code 7).
        if let (Phase::Starting, Some(resource_id)) = (stored.phase, stored.resource_id.as_deref())
            && let Ok(recording) = self.start_on(resource_id).await
        {
            self.drive(recording, Instant::now() + CONFIRM_AFTER).await;
            return self.report;
        }
        // A recording may linger under the uid in use: the next one joins
        // with the restart uid, by the rule a live restart follows.
        if stored.phase == Phase::Lost || stored.phase == Phase::Starting {
            self.state.uid = restart_uid(
                &self.spec.uid,
                self.spec.backup_uid.as_deref(),
                &self.state.uid,
            );
        }
        if let Some(recording) = Box::pin(self.start_recording()).await {
            self.drive(recording, Instant::now() + CONFIRM_AFTER).await;
        }
        self.report
    }

    fn started_again(&self, recording: &crate::agora::Recording) {
        tracing::info!(sid = %recording.sid, "resuming a recording");
        self.emit(
            super::report::Stage::Recording,
            &format!("resumed, sid {}", recording.sid),
            Some(recording),
        );
    }
}

/// Stops one stored session by hand: its recording if it holds one, else
/// it is abandoned. `None` when a live process drives it (stop that
/// process instead: SIGTERM stops what it started).
pub async fn stop_by_hand(
    context: &Context,
    stored: StoredSession,
) -> Result<Option<SessionReport>, crate::store::StoreError> {
    let Some(lease) = context.store.lease(stored.id).await? else {
        return Ok(None);
    };
    let (_stop, shutdown) = watch::channel(true);
    let mut session = resumed_session(context, &stored, lease, &shutdown);
    match stored.recording() {
        Some(recording) => session.stop(&recording, Outcome::Interrupted).await,
        None => {
            session.end(Outcome::Interrupted, "stopped by hand").await;
        }
    }
    Ok(Some(session.report))
}
