//! Agora's notification callbacks (NCS) as the store keeps them. A notice is
//! an observation, not a transition: it changes no phase, follows no rule
//! of [`super::Transition`], and is recorded whatever state the session is
//! in, a stopped one included (uploads finish after stop answers).
//!
//! Each recorded notice appends one event to its session's history and a
//! row to `notices`, whose keys make a resent notice a no-op; an upload
//! notice (31 or 32) also sets the session's `upload_notified` columns.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior, params};
use serde::Serialize;

use super::model::instant_text;
use super::row::select;
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

/// Finds the session that held `sid`: through the started events, since the
/// row itself forgets a sid once its recording is lost or restarted, and a
/// notice about it may still come.
fn find_by_sid_in(conn: &Connection, sid: &str) -> Result<Option<StoredSession>, StoreError> {
    Ok(select(
        conn,
        &format!("WHERE id = ({SESSION_OF_SID})"),
        params![sid],
    )?
    .pop())
}

/// The session whose started event names sid `?1`. The WHERE clause matches
/// index `events_by_sid` (kind and expression exactly), so this is an index
/// lookup.
pub(super) const SESSION_OF_SID: &str = "SELECT session FROM events
    WHERE kind = 'started' AND json_extract(detail, '$.recording.sid') = ?1
    ORDER BY id DESC LIMIT 1";

impl Store {
    /// The session that holds, or once held, the recording `sid`.
    pub fn find_by_sid(&self, sid: &str) -> Result<Option<StoredSession>, StoreError> {
        find_by_sid_in(&self.conn(), sid)
    }

    /// Records `notice`, received at `at`, against the session of its sid:
    /// once, however often it is resent.
    pub fn record_notice(&self, notice: &Notice, at: DateTime<Utc>) -> Result<Noted, StoreError> {
        let mut conn = self.conn();
        // IMMEDIATE, as for transitions: the duplicate check and the writes
        // must not interleave with another process's.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(session) = find_by_sid_in(&tx, &notice.sid)? else {
            return Ok(Noted::UnknownSid);
        };
        let received = instant_text(at);
        // No conflict target: a clash on either key (the id, or sid, uid,
        // event type and sequence) makes the notice a duplicate.
        let inserted = tx.execute(
            "INSERT INTO notices (notice_id, session, sid, uid, event_type, sequence, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT DO NOTHING",
            params![
                notice.notice_id,
                session.id.0,
                notice.sid,
                notice.uid,
                notice.event_type,
                notice.sequence,
                received,
            ],
        )?;
        if inserted == 0 {
            return Ok(Noted::Duplicate {
                session: session.id,
            });
        }
        tx.execute(
            "INSERT INTO events (session, at, kind, detail) VALUES (?1, ?2, ?3, ?4)",
            params![
                session.id.0,
                received,
                notice.kind,
                notice.detail.to_string()
            ],
        )?;
        let event = tx.last_insert_rowid();
        if let Some(upload) = &notice.upload {
            let files = upload
                .files
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|error| StoreError::corrupt(format!("notified files: {error}")))?;
            // A notice without a file list keeps the list an earlier one
            // gave. `updated_at` stays the last transition's time.
            tx.execute(
                "UPDATE sessions SET upload_notified = ?2,
                     upload_notified_files = coalesce(?3, upload_notified_files),
                     upload_notified_at = ?4
                 WHERE id = ?1",
                params![session.id.0, upload.status, files, received],
            )?;
        }
        tx.commit()?;
        Ok(Noted::Recorded {
            session: session.id,
            event,
        })
    }
}
