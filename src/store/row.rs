//! Sessions to rows and back: every column is written from a whole
//! [`StoredSession`], and every value read is checked, so that a damaged or
//! hand-edited file surfaces as [`StoreError::Corrupt`] instead of a
//! session recovery misreads.

use std::path::PathBuf;

use rusqlite::{Connection, Row, params};

use super::model::{instant_text, parse_instant};
use super::{OccurrenceKey, Phase, SessionId, StoreError, StoredSession, UploadNotified};
use crate::agora::Mode;

const COLUMNS: &str = "id, plan, plan_path, plan_hash, mode, app_id, cname, uid, backup_uid,
    scheduled_start, scheduled_end, step_count, phase, resource_id, sid, current_uid, steps_done,
    step_in_flight, stop_requested, files, uploading_status, error, starts, created_at,
    updated_at, finished_at, upload_notified, upload_notified_files, upload_notified_at";

pub(super) fn select(
    conn: &Connection,
    clause: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<StoredSession>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM sessions {clause}"))?;
    let mut rows = statement.query(params)?;
    let mut sessions = Vec::new();
    while let Some(row) = rows.next()? {
        sessions.push(session_from_row(row)?);
    }
    Ok(sessions)
}

pub(super) fn get_in(
    conn: &Connection,
    id: SessionId,
) -> Result<Option<StoredSession>, StoreError> {
    Ok(select(conn, "WHERE id = ?1", params![id.0])?.pop())
}

pub(super) fn find_in(
    conn: &Connection,
    key: &OccurrenceKey,
) -> Result<Option<StoredSession>, StoreError> {
    let start = instant_text(key.scheduled_start);
    Ok(select(
        conn,
        "WHERE plan = ?1 AND cname = ?2 AND uid = ?3 AND scheduled_start = ?4",
        params![key.plan, key.cname, key.uid, start],
    )?
    .pop())
}

/// Writes every state column of `session`: the row always matches what
/// [`transition::apply`] computed, whichever columns a transition touched.
/// The `upload_notified` columns are not transition state: only
/// [`super::Store::record_notice`] writes them.
pub(super) fn write_state(conn: &Connection, session: &StoredSession) -> Result<(), StoreError> {
    let steps_done = serde_json::to_string(&session.steps_done)
        .map_err(|error| StoreError::corrupt(format!("steps done: {error}")))?;
    let files = serde_json::to_string(&session.files)
        .map_err(|error| StoreError::corrupt(format!("files: {error}")))?;
    let step_in_flight = session
        .step_in_flight
        .map(i64::try_from)
        .transpose()
        .map_err(|_| StoreError::corrupt("step index out of range"))?;
    conn.execute(
        "UPDATE sessions SET phase = ?2, resource_id = ?3, sid = ?4, current_uid = ?5,
             steps_done = ?6, step_in_flight = ?7, stop_requested = ?8, files = ?9,
             uploading_status = ?10, error = ?11, starts = ?12, updated_at = ?13,
             finished_at = ?14
         WHERE id = ?1",
        params![
            session.id.0,
            session.phase.as_str(),
            session.resource_id,
            session.sid,
            session.current_uid,
            steps_done,
            step_in_flight,
            session.stop_requested,
            files,
            session.uploading_status,
            session.error,
            session.starts,
            instant_text(session.updated_at),
            session.finished_at.map(instant_text),
        ],
    )?;
    Ok(())
}

fn session_from_row(row: &Row<'_>) -> Result<StoredSession, StoreError> {
    let text = |index: usize| -> Result<String, StoreError> { Ok(row.get(index)?) };
    let instant = |index: usize| parse_instant(&text(index)?);
    let id = SessionId(row.get(0)?);
    let count = |value: i64, what: &str| {
        usize::try_from(value).map_err(|_| StoreError::corrupt(format!("session {id}: {what}")))
    };
    let finished_at: Option<String> = row.get(25)?;
    let step_in_flight: Option<i64> = row.get(17)?;
    Ok(StoredSession {
        id,
        plan: text(1)?,
        plan_path: PathBuf::from(text(2)?),
        plan_hash: text(3)?,
        mode: parse_mode(&text(4)?)?,
        app_id: text(5)?,
        cname: text(6)?,
        uid: text(7)?,
        backup_uid: row.get(8)?,
        scheduled_start: instant(9)?,
        scheduled_end: instant(10)?,
        step_count: count(row.get(11)?, "step count")?,
        phase: Phase::parse(&text(12)?)?,
        resource_id: row.get(13)?,
        sid: row.get(14)?,
        current_uid: text(15)?,
        steps_done: json_list(&text(16)?, id, "steps done")?,
        step_in_flight: step_in_flight
            .map(|index| count(index, "step in flight"))
            .transpose()?,
        stop_requested: row.get(18)?,
        files: json_list(&text(19)?, id, "files")?,
        uploading_status: row.get(20)?,
        error: row.get(21)?,
        starts: row.get(22)?,
        created_at: instant(23)?,
        updated_at: instant(24)?,
        finished_at: finished_at.as_deref().map(parse_instant).transpose()?,
        upload_notified: upload_notified(row, id)?,
    })
}

fn upload_notified(row: &Row<'_>, id: SessionId) -> Result<Option<UploadNotified>, StoreError> {
    let Some(status) = row.get::<_, Option<String>>(26)? else {
        return Ok(None);
    };
    let files: Option<String> = row.get(27)?;
    let at: Option<String> = row.get(28)?;
    let at = at.ok_or_else(|| {
        StoreError::corrupt(format!("session {id}: upload notified without a time"))
    })?;
    Ok(Some(UploadNotified {
        status,
        files: files
            .map(|text| json_list(&text, id, "notified files"))
            .transpose()?,
        at: parse_instant(&at)?,
    }))
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
