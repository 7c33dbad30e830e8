//! The steps of a session's life and the rule for each: which states it
//! may follow, and what it changes. Pure: [`apply`] maps a session and a
//! transition to the session after it, and the store writes both down in
//! one transaction.
//!
//! Every API call is bracketed: an intent is recorded before the call and
//! its result after the answer. A crash between the two leaves the intent
//! standing, which tells recovery that the call's fate is unknown. A caller
//! should therefore record [`Transition::Failed`] only when Agora answered
//! with a failure, not when the call timed out: a start that timed out may
//! have started a recording.
//!
//! A restart after the recording died is the ordinary sequence again:
//! [`Transition::Lost`] (which forgets the dead sid), then acquire and
//! start with the backup uid.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Outcome, Phase, StoreError, StoredSession};
use crate::agora::Recording;

/// One recorded change of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transition {
    /// About to call `acquire` for `uid` (the backup uid on a restart).
    AcquireIntent { uid: String },
    /// `acquire` answered with a resource ID.
    Acquired { resource_id: String },
    /// About to call `start`.
    StartIntent { resource_id: String, uid: String },
    /// `start` answered with a sid: a recording runs and bills.
    Started { recording: Recording },
    /// About to send step `index` (an `update` or `updateLayout`).
    StepIntent { index: usize },
    /// Step `index` was answered; `outcome` says how (`ok`, or the error).
    StepDone {
        index: usize,
        outcome: String,
        late_ms: Option<u64>,
    },
    /// About to call `stop`.
    StopIntent,
    /// The recording is stopped: `stop` answered, or Agora said it was
    /// already gone. `outcome` is [`Outcome::Completed`] at the
    /// occurrence's end, [`Outcome::Interrupted`] when recplan was told to
    /// stop before it.
    Stopped {
        files: Vec<String>,
        uploading_status: Option<String>,
        outcome: Outcome,
    },
    /// The recording ended on Agora's side (it exited, or a query said 404):
    /// nothing runs under its sid any more.
    Lost { reason: String },
    /// An API call failed. With a sid held the session stays active: the
    /// recording may still run and must be stopped.
    Failed { reason: String },
    /// Ended for good without a recording running, with `outcome` (not
    /// completed: only a stop completes a session) and why. Only an
    /// abandoned session may hold a sid: an operator gave up on it.
    Ended { outcome: Outcome, reason: String },
}

impl Transition {
    /// The name stored in the events table.
    pub fn kind(&self) -> &'static str {
        match self {
            Transition::AcquireIntent { .. } => "acquire_intent",
            Transition::Acquired { .. } => "acquired",
            Transition::StartIntent { .. } => "start_intent",
            Transition::Started { .. } => "started",
            Transition::StepIntent { .. } => "step_intent",
            Transition::StepDone { .. } => "step_done",
            Transition::StopIntent => "stop_intent",
            Transition::Stopped { .. } => "stopped",
            Transition::Lost { .. } => "lost",
            Transition::Failed { .. } => "failed",
            Transition::Ended { outcome, .. } => outcome.as_str(),
        }
    }

    /// The transition's fields as stored in an event's detail.
    pub(crate) fn detail(&self) -> Result<serde_json::Value, StoreError> {
        let mut value = serde_json::to_value(self).map_err(|error| {
            StoreError::corrupt(format!("cannot encode {}: {error}", self.kind()))
        })?;
        if let Some(fields) = value.as_object_mut() {
            fields.remove("kind");
        }
        Ok(value)
    }
}

/// The session after `transition` at `at`, or why it cannot follow.
pub(crate) fn apply(
    session: &StoredSession,
    transition: &Transition,
    at: DateTime<Utc>,
) -> Result<StoredSession, StoreError> {
    let refuse = |why: &'static str| StoreError::Transition {
        id: session.id,
        phase: session.phase,
        transition: transition.kind(),
        why,
    };
    if !session.is_active() {
        return Err(refuse("the session is over"));
    }
    let mut next = session.clone();
    match transition {
        Transition::AcquireIntent { uid } => {
            if session.sid.is_some() {
                return Err(refuse(
                    "a recording may run under the held sid: record it stopped or lost first",
                ));
            }
            next.phase = Phase::Acquiring;
            next.resource_id = None;
            uid.clone_into(&mut next.current_uid);
        }
        Transition::Acquired { resource_id } => {
            if session.phase != Phase::Acquiring {
                return Err(refuse("no acquire intent is recorded"));
            }
            next.phase = Phase::Acquired;
            next.resource_id = Some(resource_id.clone());
        }
        Transition::StartIntent { resource_id, uid } => {
            if session.sid.is_some() {
                return Err(refuse(
                    "a recording may run under the held sid: record it stopped or lost first",
                ));
            }
            next.phase = Phase::Starting;
            next.resource_id = Some(resource_id.clone());
            uid.clone_into(&mut next.current_uid);
        }
        Transition::Started { recording } => {
            if session.phase != Phase::Starting {
                return Err(refuse("no start intent is recorded"));
            }
            if session.resource_id.as_deref() != Some(recording.resource_id.as_str())
                || session.current_uid != recording.uid
                || session.cname != recording.cname
                || session.mode != recording.mode
            {
                return Err(refuse(
                    "the recording is not the one whose start was intended",
                ));
            }
            next.phase = Phase::Recording;
            next.sid = Some(recording.sid.clone());
            next.starts = session.starts.saturating_add(1);
        }
        Transition::StepIntent { index } => {
            require_step(session, *index).map_err(refuse)?;
            next.step_in_flight = Some(*index);
        }
        Transition::StepDone { index, .. } => {
            require_step(session, *index).map_err(refuse)?;
            if let Err(position) = next.steps_done.binary_search(index) {
                next.steps_done.insert(position, *index);
            }
            if next.step_in_flight == Some(*index) {
                next.step_in_flight = None;
            }
        }
        Transition::StopIntent => {
            if session.sid.is_none() {
                return Err(refuse("no recording is held"));
            }
            next.phase = Phase::Stopping;
            next.stop_requested = true;
        }
        Transition::Stopped {
            files,
            uploading_status,
            outcome,
        } => {
            if session.sid.is_none() {
                return Err(refuse("no recording is held"));
            }
            if !matches!(outcome, Outcome::Completed | Outcome::Interrupted) {
                return Err(refuse("a stopped recording is completed or interrupted"));
            }
            next.phase = Phase::from(*outcome);
            next.files.clone_from(files);
            next.uploading_status.clone_from(uploading_status);
            next.step_in_flight = None;
        }
        Transition::Lost { reason } => {
            if session.sid.is_none() {
                return Err(refuse("no recording is held"));
            }
            // The dead recording's identifiers stay in the history; the row
            // holds only what may still be running.
            next.phase = Phase::Lost;
            next.resource_id = None;
            next.sid = None;
            next.step_in_flight = None;
            next.error = Some(reason.clone());
        }
        Transition::Failed { reason } => {
            next.phase = Phase::Failed;
            next.error = Some(reason.clone());
        }
        Transition::Ended { outcome, reason } => {
            if *outcome == Outcome::Completed {
                return Err(refuse("only a stop completes a session"));
            }
            if session.sid.is_some() && *outcome != Outcome::Abandoned {
                return Err(refuse(
                    "a recording may run under the held sid: record it stopped or lost first",
                ));
            }
            next.phase = Phase::from(*outcome);
            next.error = Some(reason.clone());
        }
    }
    next.updated_at = at;
    if !next.is_active() {
        next.finished_at = Some(at);
    }
    Ok(next)
}

fn require_step(session: &StoredSession, index: usize) -> Result<(), &'static str> {
    if session.phase != Phase::Recording {
        return Err("steps are sent only while recording");
    }
    if index >= session.step_count {
        return Err("no step has that index");
    }
    Ok(())
}
