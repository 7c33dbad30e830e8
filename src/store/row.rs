//! Sessions to rows and back, for both databases: every column is written
//! from a whole [`StoredSession`], and every value read is checked, so that
//! a damaged or hand-edited database surfaces as [`StoreError::Corrupt`]
//! instead of a session recovery misreads.

use std::path::PathBuf;

use chrono::{DateTime, SubsecRound, Utc};

use super::database::{Record, Value, values};
use super::{
    HistoryEntry, NewSession, OccurrenceKey, Phase, SessionId, StoreError, StoredSession,
    UploadNotified,
};
use crate::agora::Mode;

/// The columns of `sessions` in the order [`session_from`] reads them.
pub(super) const COLUMNS: &str = "id, plan, plan_path, plan_hash, mode, app_id, cname, uid,
    backup_uid, scheduled_start, scheduled_end, step_count, phase, resource_id, sid, current_uid,
    steps_done, step_in_flight, stop_requested, files, uploading_status, error, starts,
    created_at, updated_at, finished_at, upload_notified, upload_notified_files,
    upload_notified_at";

/// The columns of `events` in the order [`event_from`] reads them.
pub(super) const EVENT_COLUMNS: &str = "id, at, kind, detail";

/// Which sessions a query returns.
#[derive(Clone, Debug)]
pub(super) enum Selection {
    Id(SessionId),
    Key(OccurrenceKey),
    /// The session whose latest started event names this sid: the row
    /// itself forgets a sid once its recording is lost or restarted, and a
    /// notice about it may still come.
    Sid(String),
    /// Not over, oldest first.
    Active,
    /// The latest `limit` by scheduled start, newest first.
    Recent(i64),
    /// Of a plan (or all) scheduled at or after an instant (or ever),
    /// oldest first.
    History {
        plan: Option<String>,
        since: Option<DateTime<Utc>>,
    },
}

/// Instants are kept to the millisecond in every backend, so that an
/// occurrence's identity does not hang on sub-millisecond jitter.
pub(super) fn stored_instant(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(3)
}

/// The parameters of the insert in [`super::queries::begin`]: session
/// `new` begun at `at`.
pub(super) fn begun_values(new: &NewSession, at: DateTime<Utc>) -> Result<[Value; 13], StoreError> {
    let step_count = i64::try_from(new.step_count)
        .map_err(|_| StoreError::corrupt(format!("step count {}", new.step_count)))?;
    Ok(values![
        new.plan.as_str(),
        new.plan_path.to_string_lossy().into_owned(),
        new.plan_hash.as_str(),
        mode_text(new.mode),
        new.app_id.as_str(),
        new.cname.as_str(),
        new.uid.as_str(),
        new.backup_uid.clone(),
        stored_instant(new.scheduled_start),
        stored_instant(new.scheduled_end),
        step_count,
        Phase::Pending.as_str(),
        stored_instant(at),
    ])
}

/// The values of every state column of a session, as
/// [`super::transition::apply`] computed them: the row is always written
/// whole, whichever columns a transition touched. The `upload_notified`
/// columns are not transition state: only [`super::Store::record_notice`]
/// writes them.
#[derive(Clone, Debug)]
pub(super) struct State {
    pub id: i64,
    pub phase: &'static str,
    pub resource_id: Option<String>,
    pub sid: Option<String>,
    pub current_uid: String,
    pub steps_done: String,
    pub step_in_flight: Option<i64>,
    pub stop_requested: bool,
    pub files: String,
    pub uploading_status: Option<String>,
    pub error: Option<String>,
    pub starts: i64,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl State {
    pub fn of(session: &StoredSession) -> Result<State, StoreError> {
        let steps_done = serde_json::to_string(&session.steps_done)
            .map_err(|error| StoreError::corrupt(format!("steps done: {error}")))?;
        let files = serde_json::to_string(&session.files)
            .map_err(|error| StoreError::corrupt(format!("files: {error}")))?;
        let step_in_flight = session
            .step_in_flight
            .map(i64::try_from)
            .transpose()
            .map_err(|_| StoreError::corrupt("step index out of range"))?;
        Ok(State {
            id: session.id.0,
            phase: session.phase.as_str(),
            resource_id: session.resource_id.clone(),
            sid: session.sid.clone(),
            current_uid: session.current_uid.clone(),
            steps_done,
            step_in_flight,
            stop_requested: session.stop_requested,
            files,
            uploading_status: session.uploading_status.clone(),
            error: session.error.clone(),
            starts: i64::from(session.starts),
            updated_at: stored_instant(session.updated_at),
            finished_at: session.finished_at.map(stored_instant),
        })
    }

    /// The parameters of the update in [`super::queries`]: the id, then
    /// the state columns in the order the update sets them.
    pub fn values(self) -> [Value; 14] {
        values![
            self.id,
            self.phase,
            self.resource_id,
            self.sid,
            self.current_uid,
            self.steps_done,
            self.step_in_flight,
            self.stop_requested,
            self.files,
            self.uploading_status,
            self.error,
            self.starts,
            self.updated_at,
            self.finished_at,
        ]
    }
}

/// Reads a session from a row of [`COLUMNS`].
pub(super) fn session_from(row: &Record) -> Result<StoredSession, StoreError> {
    let id = SessionId(row.integer(0)?);
    let count = |value: i64, what: &str| {
        usize::try_from(value).map_err(|_| StoreError::corrupt(format!("session {id}: {what}")))
    };
    let starts = row.integer(22)?;
    Ok(StoredSession {
        id,
        begun: NewSession {
            plan: row.text(1)?,
            plan_path: PathBuf::from(row.text(2)?),
            plan_hash: row.text(3)?,
            mode: parse_mode(&row.text(4)?)?,
            app_id: row.text(5)?,
            cname: row.text(6)?,
            uid: row.text(7)?,
            backup_uid: row.optional_text(8)?,
            scheduled_start: row.instant(9)?,
            scheduled_end: row.instant(10)?,
            step_count: count(row.integer(11)?, "step count")?,
        },
        phase: Phase::parse(&row.text(12)?)?,
        resource_id: row.optional_text(13)?,
        sid: row.optional_text(14)?,
        current_uid: row.text(15)?,
        steps_done: json_list(&row.text(16)?, id, "steps done")?,
        step_in_flight: row
            .optional_integer(17)?
            .map(|index| count(index, "step in flight"))
            .transpose()?,
        stop_requested: row.flag(18)?,
        files: json_list(&row.text(19)?, id, "files")?,
        uploading_status: row.optional_text(20)?,
        error: row.optional_text(21)?,
        starts: u32::try_from(starts)
            .map_err(|_| StoreError::corrupt(format!("session {id}: starts {starts}")))?,
        created_at: row.instant(23)?,
        updated_at: row.instant(24)?,
        finished_at: row.optional_instant(25)?,
        upload_notified: upload_notified(row, id)?,
    })
}

/// The `upload_notified` columns (26 to 28) of a session's row.
fn upload_notified(row: &Record, id: SessionId) -> Result<Option<UploadNotified>, StoreError> {
    let Some(status) = row.optional_text(26)? else {
        return Ok(None);
    };
    let files = row.optional_text(27)?;
    let at = row.optional_instant(28)?.ok_or_else(|| {
        StoreError::corrupt(format!("session {id}: upload notified without a time"))
    })?;
    Ok(Some(UploadNotified {
        status,
        files: files
            .map(|text| json_list(&text, id, "notified files"))
            .transpose()?,
        at,
    }))
}

/// Reads an event of `session` from a row of [`EVENT_COLUMNS`].
pub(super) fn event_from(row: &Record, session: SessionId) -> Result<HistoryEntry, StoreError> {
    let detail = row.text(3)?;
    Ok(HistoryEntry {
        id: row.integer(0)?,
        session,
        at: row.instant(1)?,
        kind: row.text(2)?,
        detail: serde_json::from_str(&detail)
            .map_err(|error| StoreError::corrupt(format!("event detail {detail:?}: {error}")))?,
    })
}

fn json_list<T: serde::de::DeserializeOwned>(
    text: &str,
    id: SessionId,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    serde_json::from_str(text)
        .map_err(|error| StoreError::corrupt(format!("session {id}: {what} {text:?}: {error}")))
}

/// Modes are stored by their plan-file names (`composite`, not `mix`).
pub(super) fn mode_text(mode: Mode) -> &'static str {
    match mode {
        Mode::Individual => "individual",
        Mode::Composite => "composite",
        Mode::Web => "web",
    }
}

fn parse_mode(text: &str) -> Result<Mode, StoreError> {
    [Mode::Individual, Mode::Composite, Mode::Web]
        .into_iter()
        .find(|mode| mode_text(*mode) == text)
        .ok_or_else(|| StoreError::corrupt(format!("unknown mode {text:?}")))
}
