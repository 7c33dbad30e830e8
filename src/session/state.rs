//! A session's state as a value, and the decisions over it as pure
//! functions: no clock reads, no I/O. The runner and recovery perform what
//! these decide; instants come in as parameters.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::agora::response::{RecordedFile, RecordingStatus, StopResponse};
use crate::agora::{ApiError, ErrorClass, Secret};
use crate::plan::SessionSpec;
use crate::plan::raw::OnFailure;

/// Agora's advice: a started recording that has not reached status 4 or 5
/// within about 90 s is dead.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(90);
/// The longest wait between two confirming queries.
const CONFIRM_WAIT_CAP: Duration = Duration::from_secs(20);
/// The longest wait between two attempts to get a recording going.
const START_BACKOFF_CAP: Duration = Duration::from_secs(30);
/// How long an acquired resource may still be started on: Agora's five
/// minutes, less a margin for the start's own retries.
const RESOURCE_USABLE: Duration = Duration::from_secs(4 * 60);

/// What a session knows between calls.
#[derive(Clone, Debug, Default)]
pub struct SessionState {
    /// The uid the current or next recording uses.
    pub uid: String,
    /// Indexes of the spec's steps already answered.
    pub steps_done: BTreeSet<usize>,
    /// Resource IDs of recordings that died, for `excludeResourceIds`.
    pub excluded: Vec<String>,
    /// Recordings started again after one died.
    pub restarts: u32,
    /// Attempts to get a recording going (acquire, or start on a new
    /// resource), over the session's life.
    pub attempts: u32,
    /// The RTC token minted for the current recording and the uid it names,
    /// when the plan has recplan mint tokens.
    pub minted: Option<(String, Secret)>,
    /// Whether the current recording reached status 4 or 5.
    pub confirmed: bool,
    /// False when the plan could not be rendered again on recovery: the
    /// session can still be stopped, but not restarted.
    pub restartable: bool,
}

impl SessionState {
    /// A new session's state: the planned uid, nothing done yet.
    pub fn new(uid: &str) -> SessionState {
        SessionState {
            uid: uid.to_owned(),
            restartable: true,
            ..SessionState::default()
        }
    }

    /// A session's state as the store kept it: the uid in use, the steps
    /// answered, the recordings started.
    pub fn stored(uid: &str, steps_done: &[usize], starts: u32, restartable: bool) -> SessionState {
        SessionState {
            uid: uid.to_owned(),
            steps_done: steps_done.iter().copied().collect(),
            restarts: starts.saturating_sub(1),
            restartable,
            ..SessionState::default()
        }
    }
}

/// Why a try at getting a recording going failed, as far as the next try
/// cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartFailure {
    /// `acquire` failed after its own retries, with this class.
    Acquire(ErrorClass),
    /// `start` failed after its own retries, with this class.
    Start(ErrorClass),
    /// A start took effect (201 code 7) but its sid is unknown: nothing can
    /// address that recording, and another under the same uid would
    /// collide with it.
    SidUnknown,
    /// The RTC token could not be minted: no later try can do better.
    Unminted,
}

/// What to do after a failed try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartDecision {
    /// The same start on the same resource after `after`: its fate is
    /// unknown, and if it took effect Agora says so (201 code 7).
    StartAgain { after: Duration },
    /// A new acquire and start after `after`.
    AcquireAgain { after: Duration },
    /// Stop trying: the reason goes to the report.
    GiveUp(GiveUp),
}

/// Why a session stopped trying to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveUp {
    /// Less than `min_recording` of the occurrence would remain.
    TooLate,
    /// Repeating cannot help (a 4xx, a token that cannot be made).
    Final,
    /// A recording may run under a sid nobody knows.
    SidUnknown,
}

/// The wait before try `attempt + 1`, after `attempt` tries failed: 1, 2,
/// 4 … s, at most 30 s.
pub fn start_backoff(attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(5);
    Duration::from_secs(1 << exponent).min(START_BACKOFF_CAP)
}

/// Whether a recording started at `at` would still be worth having: at
/// least `min_recording` of the occurrence ending at `end` would remain.
pub fn worth_starting(at: Instant, end: Instant, min_recording: Duration) -> bool {
    at < end && end.saturating_duration_since(at) >= min_recording
}

/// What to do after try `attempt` failed with `failure` at `now`.
/// `acquired_at` is when the current resource was acquired (a start may be
/// repeated on it while it is still usable). Ambiguous failures (no
/// answer, 206 code 65) repeat the same start; Agora's server errors
/// (500 code 502 "Failed to allocate worker" above all) take a new
/// resource; a rejection that repeating cannot change ends the tries.
pub fn after_start_failure(
    failure: StartFailure,
    attempt: u32,
    now: Instant,
    acquired_at: Option<Instant>,
    end: Instant,
    min_recording: Duration,
) -> StartDecision {
    let after = start_backoff(attempt);
    let decision = match failure {
        StartFailure::Unminted => return StartDecision::GiveUp(GiveUp::Final),
        StartFailure::SidUnknown => return StartDecision::GiveUp(GiveUp::SidUnknown),
        StartFailure::Acquire(ErrorClass::Final) | StartFailure::Start(ErrorClass::Final) => {
            return StartDecision::GiveUp(GiveUp::Final);
        }
        StartFailure::Start(ErrorClass::Transport | ErrorClass::NotCompleted)
            if acquired_at.is_some_and(|at| now + after < at + RESOURCE_USABLE) =>
        {
            StartDecision::StartAgain { after }
        }
        // Agora answered, and only this resource lacks a worker: a new one
        // at once, without the backoff an outage earned.
        StartFailure::Start(ErrorClass::NoWorker) => StartDecision::AcquireAgain {
            after: start_backoff(1),
        },
        StartFailure::Acquire(_) | StartFailure::Start(_) => StartDecision::AcquireAgain { after },
    };
    if worth_starting(now + after, end, min_recording) {
        decision
    } else {
        StartDecision::GiveUp(GiveUp::TooLate)
    }
}

/// What to do once a recording is gone (it exited, Agora lost it, or it
/// never confirmed), after it has been stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LossDecision {
    /// Start a new recording with this uid.
    Restart { uid: String },
    /// End the session: `ignored` when the plan says `on_failure: ignore`.
    End { ignored: bool },
}

/// `on_failure` applied at `now`: a restart while a new recording is still
/// worth having and the session may restart, else the end.
pub fn after_loss(
    spec: &SessionSpec,
    state: &SessionState,
    now: Instant,
    end: Instant,
    min_recording: Duration,
    stopping: bool,
) -> LossDecision {
    match spec.on_failure {
        OnFailure::Restart
            if state.restartable && !stopping && worth_starting(now, end, min_recording) =>
        {
            LossDecision::Restart {
                uid: restart_uid(&spec.uid, spec.backup_uid.as_deref(), &state.uid),
            }
        }
        OnFailure::Ignore => LossDecision::End { ignored: true },
        _ => LossDecision::End { ignored: false },
    }
}

/// The uid a restarted recording joins with, whether the restart is live or
/// a resumed session's: the backup uid and the planned one take turns, so
/// that a new recorder never collides with the dead one's lingering uid.
/// Without a backup uid, one is derived by flipping the top bit (still
/// 1..=4294967295, never the same).
pub fn restart_uid(planned: &str, backup: Option<&str>, current: &str) -> String {
    let backup = backup.map_or_else(|| derived_uid(planned), str::to_owned);
    if current == backup {
        planned.to_owned()
    } else {
        backup
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

/// Until when a recording started (or taken over) at `since` may take to
/// confirm: 90 s, never past the occurrence's end.
pub fn confirm_deadline(since: Instant, end: Instant) -> Instant {
    (since + CONFIRM_WITHIN).min(end)
}

/// The wait after a confirming query that did not confirm: twice the one
/// before, at most 20 s.
pub fn next_confirm_wait(previous: Duration) -> Duration {
    (previous * 2).min(CONFIRM_WAIT_CAP)
}

/// What a query's answer says about the recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryReading {
    /// Status 4 or 5.
    Healthy,
    /// Status 7, 8 or 20: over.
    Exited,
    /// Any other status, or none: still starting, or unknown.
    Starting,
}

/// Reads a query's status.
pub fn read_status(status: Option<RecordingStatus>) -> QueryReading {
    match status {
        Some(status) if status.is_healthy() => QueryReading::Healthy,
        Some(status) if status.has_exited() => QueryReading::Exited,
        _ => QueryReading::Starting,
    }
}

/// What a stop's answer says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReading {
    /// Stopped: these files, this upload state.
    Stopped {
        files: Vec<RecordedFile>,
        uploading_status: Option<String>,
    },
    /// Nothing runs any more, though stop did not say so with a 200: 400
    /// code 49 (already exiting), 404 (gone), 206 code 435 (nobody
    /// published, no files). The note goes to the report.
    Gone { note: String },
    /// The recording may still run: the stop must be asked again.
    NotAnswered { note: String },
}

/// Reads a stop's result.
pub fn read_stop(result: &Result<StopResponse, ApiError>) -> StopReading {
    match result {
        Ok(answer) => StopReading::Stopped {
            files: answer.files().to_vec(),
            uploading_status: answer.uploading_status().map(|s| s.as_str().to_owned()),
        },
        Err(error)
            if error.code() == Some(49)
                || error.is_not_found_worker()
                || error.is_no_recorded_data() =>
        {
            StopReading::Gone {
                note: format!("stop: {error}"),
            }
        }
        Err(error) => StopReading::NotAnswered {
            note: format!("stop: {error}"),
        },
    }
}

#[cfg(test)]
mod tests;
