//! Agora's notification callbacks (NCS) as the store keeps them. A notice is
//! an observation, not a transition: it changes no phase, follows no rule
//! of [`super::Transition`], and is recorded whatever state the session is
//! in, a stopped one included (uploads finish after stop answers).
//!
//! Each recorded notice appends one event to its session's history and a
//! row to `notices`, whose keys make a resent notice a no-op; an upload
//! notice (31 or 32) also sets the session's `upload_notified` columns.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::row::{Selection, stored_instant};
use super::{SessionId, Store, StoreError, StoredSession};

/// One notice, as the NCS handler read it.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// Agora's id of the notice: a resend under the same id is a duplicate.
    pub notice_id: String,
    /// The recording the notice is about.
    pub sid: String,
    /// The recorder's uid (empty when the notice has none). Part of the
    /// duplicate key: after a failover the new task reports under a new uid,
    /// and its notices are not the old task's.
    pub uid: String,
    pub event_type: u32,
    /// Agora's per-task counter; with sid, uid and event type it recognises
    /// the same notice resent under a new id. `None` when absent, and then
    /// only the id deduplicates.
    pub sequence: Option<i64>,
    /// The event's kind in the history, e.g. `ncs_uploaded`.
    pub kind: &'static str,
    /// The event's detail in the history.
    pub detail: serde_json::Value,
    /// For an upload notice (31 or 32), what it says of the upload.
    pub upload: Option<UploadReport>,
}

/// What an upload notice says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadReport {
    /// `uploaded` (31: every file is in the storage) or `backuped` (32:
    /// some are in Agora's backup, which uploads them later).
    pub status: String,
    /// The file names, when the notice lists them (web recordings do not).
    pub files: Option<Vec<String>>,
}

/// The upload as Agora's notification callbacks last reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UploadNotified {
    /// `uploaded` or `backuped`.
    pub status: String,
    /// The files the notices listed; `None` if none listed any.
    pub files: Option<Vec<String>>,
    /// When the notice was received.
    pub at: DateTime<Utc>,
}

/// What [`Store::record_notice`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Noted {
    /// Recorded against `session` as history event `event`.
    Recorded { session: SessionId, event: i64 },
    /// Recorded before (same id, or same sid, uid, event type and
    /// sequence): nothing written.
    Duplicate { session: SessionId },
    /// No session ever held the sid: nothing written. A resend after the
    /// sid is known would be recorded then.
    UnknownSid,
}

impl Store {
    /// The session that holds, or once held, the recording `sid`: found
    /// through the started events, since the row itself forgets a sid once
    /// its recording is lost or restarted, and a notice about it may still
    /// come.
    pub async fn find_by_sid(&self, sid: &str) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.select(Selection::Sid(sid.to_owned())).await?.pop())
    }

    /// Records `notice`, received at `at`, against the session of its sid:
    /// once, however often it is resent.
    pub async fn record_notice(
        &self,
        notice: &Notice,
        at: DateTime<Utc>,
    ) -> Result<Noted, StoreError> {
        let files = notice
            .upload
            .as_ref()
            .and_then(|upload| upload.files.as_ref())
            .map(serde_json::to_string)
            .transpose()
            .map_err(|error| StoreError::corrupt(format!("notified files: {error}")))?;
        let noted = Noting {
            notice: notice.clone(),
            files,
            at: stored_instant(at),
        };
        let outcome = on_database!(self, |db| super::queries::record_notice(db, &noted))?;
        if let Noted::Recorded { .. } = outcome {
            self.committed();
        }
        Ok(outcome)
    }
}

/// A notice as a backend writes it: the upload's file list as JSON text,
/// and the time it was received to the millisecond.
#[derive(Clone, Debug)]
pub(super) struct Noting {
    pub notice: Notice,
    /// The upload notice's files, if it listed any. A notice without a file
    /// list keeps the list an earlier one gave.
    pub files: Option<String>,
    pub at: DateTime<Utc>,
}
