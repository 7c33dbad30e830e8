//! What a session tells the outside: progress as it goes, a report at the
//! end.

use serde::Serialize;

use crate::agora::response::RecordedFile;
use crate::agora::{Endpoint, Recording};
pub use crate::store::Outcome;

/// What a session is doing, for progress output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Waiting,
    Acquiring,
    Starting,
    Confirming,
    Recording,
    Restarting,
    Stopping,
    Stopped,
    Failed,
}

/// A progress event: which session, what happened.
#[derive(Clone, Debug)]
pub struct Progress {
    pub cname: String,
    pub uid: String,
    pub stage: Stage,
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
    /// The uid the session was planned with.
    pub uid: String,
    pub resource_id: Option<String>,
    pub sid: Option<String>,
    /// How the session ended; none when this runner did not run it
    /// (another process drives it, or it ran before: see `errors`), which
    /// JSON calls `skipped`.
    #[serde(serialize_with = "outcome_or_skipped")]
    pub outcome: Option<Outcome>,
    /// A failure the plan says to ignore: the recording was lost and
    /// `on_failure` is `ignore`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub failure_ignored: bool,
    /// Recordings started again after one died (`on_failure: restart`).
    pub restarts: u32,
    /// Tries to get a recording going (an acquire, or a start on a new
    /// resource); more than one when Agora failed some.
    pub attempts: u32,
    /// How long after the occurrence's start the recording began, when it
    /// began a second or more late.
    pub late_start_ms: Option<u64>,
    pub steps: Vec<StepReport>,
    pub files: Vec<RecordedFile>,
    pub uploading_status: Option<String>,
    /// When the session really ended (its stop answered, or it was given
    /// up on): for an interrupted session, not its planned end.
    #[serde(serialize_with = "optional_millis")]
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    pub errors: Vec<String>,
}

impl SessionReport {
    pub(super) fn new(cname: &str, uid: &str) -> SessionReport {
        SessionReport {
            cname: cname.to_owned(),
            uid: uid.to_owned(),
            resource_id: None,
            sid: None,
            outcome: Some(Outcome::Failed),
            failure_ignored: false,
            restarts: 0,
            attempts: 0,
            late_start_ms: None,
            steps: Vec::new(),
            files: Vec::new(),
            uploading_status: None,
            ended_at: None,
            errors: Vec::new(),
        }
    }

    /// Whether a recording may still be running at Agora with nobody
    /// driving it: its stop was never answered.
    pub fn maybe_running(&self) -> bool {
        self.sid.is_some()
            && self.outcome == Some(Outcome::Failed)
            && !self.failure_ignored
            && self.uploading_status.is_none()
    }

    /// Whether this session counts against the run: everything but a
    /// completed, deliberately ignored, or skipped session does.
    pub fn succeeded(&self) -> bool {
        match self.outcome {
            None | Some(Outcome::Completed) => true,
            Some(Outcome::Failed) => self.failure_ignored,
            Some(_) => false,
        }
    }
}

/// An instant in a report: RFC 3339 with its offset, to the millisecond
/// (finer parts are the clock's noise, not news).
pub(crate) fn millis<S, Z>(at: &chrono::DateTime<Z>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    Z: chrono::TimeZone,
    Z::Offset: std::fmt::Display,
{
    serializer.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Millis, false))
}

#[allow(
    clippy::ref_option,
    reason = "serde's serialize_with hands the field over by reference"
)]
fn optional_millis<S: serde::Serializer>(
    at: &Option<chrono::DateTime<chrono::Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => millis(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[allow(clippy::ref_option, clippy::trivially_copy_pass_by_ref)] // serde's signature
fn outcome_or_skipped<S: serde::Serializer>(
    outcome: &Option<Outcome>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(outcome.map_or("skipped", Outcome::as_str))
}
