//! The values the store keeps: a session's identity, what it was begun
//! with, and its current state as read back.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{StoreError, UploadNotified};
use crate::agora::{Mode, Recording};
use crate::plan::{Occurrence, SessionSpec};

/// A session's row number: stable for the life of the database, and what
/// `recplan stop SESSION` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SessionId(pub i64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for SessionId {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<SessionId, Self::Err> {
        text.parse().map(SessionId)
    }
}

/// What makes a session unique: one plan's one channel (as the uid it was
/// planned with) at one scheduled start. The store holds at most one
/// session per key, so an occurrence runs at most once however many
/// runners (cron, a daemon, a retry) reach for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OccurrenceKey {
    pub plan: String,
    pub cname: String,
    pub uid: String,
    /// Kept to the millisecond: finer parts are dropped when stored.
    pub scheduled_start: DateTime<Utc>,
}

/// What a session is begun with, and is for the rest of its life: its
/// plan, its occurrence and its channel. A [`StoredSession`] is one of
/// these with its state. Deliberately no request bodies: those hold the
/// RTC token and the storage keys, and a state file is not a place for
/// them. Whoever resumes a session renders its plan again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSession {
    pub plan: String,
    pub plan_path: PathBuf,
    /// [`crate::plan::Plan::content_hash`]: which version of the plan ran.
    pub plan_hash: String,
    pub mode: Mode,
    pub app_id: String,
    pub cname: String,
    /// The uid the session was planned with (part of its identity).
    pub uid: String,
    pub backup_uid: Option<String>,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    pub step_count: usize,
}

impl NewSession {
    /// The session of `spec`, one channel of `occurrence`. Only the
    /// identifying fields are copied out of the rendered spec.
    pub fn of(occurrence: &Occurrence, spec: &SessionSpec, plan_hash: &str) -> NewSession {
        NewSession {
            plan: occurrence.plan.clone(),
            plan_path: occurrence.plan_path.clone(),
            plan_hash: plan_hash.to_owned(),
            mode: spec.mode,
            app_id: spec.app_id.clone(),
            cname: spec.cname.clone(),
            uid: spec.uid.clone(),
            backup_uid: spec.backup_uid.clone(),
            scheduled_start: occurrence.start.to_utc(),
            scheduled_end: occurrence.end().to_utc(),
            step_count: spec.steps.len(),
        }
    }

    pub fn key(&self) -> OccurrenceKey {
        OccurrenceKey {
            plan: self.plan.clone(),
            cname: self.cname.clone(),
            uid: self.uid.clone(),
            scheduled_start: self.scheduled_start,
        }
    }
}

/// What [`super::Store::begin`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Begin {
    /// The occurrence is new: this runner owns it.
    Created(SessionId),
    /// Someone began it before, and it is now in this phase: do not run it
    /// again.
    AlreadyExists(SessionId, Phase),
}

impl Begin {
    pub fn id(self) -> SessionId {
        match self {
            Begin::Created(id) | Begin::AlreadyExists(id, _) => id,
        }
    }
}

/// How a session ended: the one vocabulary of the run's report, the store
/// and `history`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Recorded to the occurrence's end, and stopped.
    Completed,
    /// Cut short because recplan was told to stop (Ctrl-C, SIGTERM,
    /// `recplan stop`, the daemon's API): it ended when it was stopped,
    /// not at its planned end.
    Interrupted,
    /// No recording, or not to the end: the session says why.
    Failed,
    /// The occurrence was over before a recording could start.
    Missed,
    /// Given up on deliberately, whatever it held.
    Abandoned,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Interrupted => "interrupted",
            Outcome::Failed => "failed",
            Outcome::Missed => "missed",
            Outcome::Abandoned => "abandoned",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a session stands, as of its last recorded transition: under way,
/// or ended with one of the [`Outcome`]s, named alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Begun; nothing sent yet.
    Pending,
    /// An acquire may be in flight.
    Acquiring,
    /// A resource ID is held (it lapses after five minutes unused).
    Acquired,
    /// A start may be in flight: whether a recording runs is unknown until
    /// its answer is recorded.
    Starting,
    /// A recording runs under the stored sid.
    Recording,
    /// A stop may be in flight.
    Stopping,
    /// The recording ended on Agora's side before its time; nothing runs
    /// under this session and a restart may follow.
    Lost,
    /// Stopped at the occurrence's end: final.
    Completed,
    /// Stopped early, or ended before it recorded, because recplan was
    /// told to stop: final.
    Interrupted,
    /// Something failed. Final only if no sid is held: a failed session
    /// with a sid may still be recording, and billing, until stopped.
    Failed,
    /// Over before a recording could start: final.
    Missed,
    /// Given up on deliberately: final whatever it holds.
    Abandoned,
}

impl Phase {
    pub const ALL: [Phase; 12] = [
        Phase::Pending,
        Phase::Acquiring,
        Phase::Acquired,
        Phase::Starting,
        Phase::Recording,
        Phase::Stopping,
        Phase::Lost,
        Phase::Completed,
        Phase::Interrupted,
        Phase::Failed,
        Phase::Missed,
        Phase::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Acquiring => "acquiring",
            Phase::Acquired => "acquired",
            Phase::Starting => "starting",
            Phase::Recording => "recording",
            Phase::Stopping => "stopping",
            Phase::Lost => "lost",
            // The outcome's own word.
            Phase::Completed => Outcome::Completed.as_str(),
            Phase::Interrupted => Outcome::Interrupted.as_str(),
            Phase::Failed => Outcome::Failed.as_str(),
            Phase::Missed => Outcome::Missed.as_str(),
            Phase::Abandoned => Outcome::Abandoned.as_str(),
        }
    }

    /// The outcome this phase names: the session's, once it is final.
    pub fn outcome(self) -> Option<Outcome> {
        match self {
            Phase::Completed => Some(Outcome::Completed),
            Phase::Interrupted => Some(Outcome::Interrupted),
            Phase::Failed => Some(Outcome::Failed),
            Phase::Missed => Some(Outcome::Missed),
            Phase::Abandoned => Some(Outcome::Abandoned),
            _ => None,
        }
    }

    /// Whether a session in this phase, holding a sid or not, needs no
    /// further attention from anyone.
    pub fn is_final(self, holds_sid: bool) -> bool {
        match self {
            Phase::Failed => !holds_sid,
            phase => phase.outcome().is_some(),
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Phase, StoreError> {
        Phase::ALL
            .into_iter()
            .find(|phase| phase.as_str() == text)
            .ok_or_else(|| StoreError::corrupt(format!("unknown phase {text:?}")))
    }
}

impl From<Outcome> for Phase {
    fn from(outcome: Outcome) -> Phase {
        match outcome {
            Outcome::Completed => Phase::Completed,
            Outcome::Interrupted => Phase::Interrupted,
            Outcome::Failed => Phase::Failed,
            Outcome::Missed => Phase::Missed,
            Outcome::Abandoned => Phase::Abandoned,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session as stored: what it was begun with (which its fields read
/// through to, as `session.cname`) and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSession {
    pub id: SessionId,
    /// As begun, its instants to the millisecond.
    #[serde(flatten)]
    pub begun: NewSession,
    pub phase: Phase,
    /// The resource of the current attempt, once acquired.
    pub resource_id: Option<String>,
    /// The running (or last running) recording's sid, once started. Cleared
    /// only when the recording is known to be gone ([`Phase::Lost`]).
    pub sid: Option<String>,
    /// The uid of the current attempt: `uid`, or `backup_uid` after a
    /// restart.
    pub current_uid: String,
    /// Indexes of the steps that were sent and answered, ascending.
    pub steps_done: Vec<usize>,
    /// A step that was about to be sent and has no answer recorded.
    pub step_in_flight: Option<usize>,
    pub stop_requested: bool,
    /// The recorded file names, from the stop answer.
    pub files: Vec<String>,
    /// The upload's state as the stop answer gave it, if it did.
    pub uploading_status: Option<String>,
    /// The upload as Agora's notification callbacks (NCS 31 or 32) later
    /// reported it. Kept apart from the stop answer, so that neither
    /// overwrites the other whichever arrives first.
    pub upload_notified: Option<UploadNotified>,
    /// The last failure's reason.
    pub error: Option<String>,
    /// How many recordings were started for this session (more than one
    /// after a restart).
    pub starts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the session reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
}

impl StoredSession {
    /// The recording to query or stop, once both its resource and sid are
    /// known.
    pub fn recording(&self) -> Option<Recording> {
        Some(Recording {
            mode: self.mode,
            resource_id: self.resource_id.clone()?,
            sid: self.sid.clone()?,
            cname: self.cname.clone(),
            uid: self.current_uid.clone(),
        })
    }

    /// The upload's state: a notification's if one came, since an
    /// asynchronous stop answers before the upload is done and NCS reports
    /// its end; else the stop answer's.
    pub fn upload_status(&self) -> Option<&str> {
        self.upload_notified
            .as_ref()
            .map(|notified| notified.status.as_str())
            .or(self.uploading_status.as_deref())
    }

    /// The recorded files: those a notification listed, if one did, else
    /// the stop answer's.
    pub fn recorded_files(&self) -> &[String] {
        self.upload_notified
            .as_ref()
            .and_then(|notified| notified.files.as_deref())
            .unwrap_or(&self.files)
    }

    /// Whether recovery must still look at this session.
    pub fn is_active(&self) -> bool {
        !self.phase.is_final(self.sid.is_some())
    }
}

/// What a session was begun with is part of it, and read as its own:
/// `session.plan`, `session.key()`.
impl std::ops::Deref for StoredSession {
    type Target = NewSession;

    fn deref(&self) -> &NewSession {
        &self.begun
    }
}

/// One entry of a session's append-only history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub session: SessionId,
    pub at: DateTime<Utc>,
    /// `begun`, a [`super::Transition`]'s kind, or a notification's
    /// (`ncs_…`, see [`super::Notice`]).
    pub kind: String,
    /// The transition's or notification's fields.
    pub detail: serde_json::Value,
}

/// How instants are stored: RFC 3339 in UTC, fixed width to the
/// millisecond, so that text order is time order.
pub(crate) fn instant_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_instant(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .map_err(|error| StoreError::corrupt(format!("instant {text:?}: {error}")))
}
