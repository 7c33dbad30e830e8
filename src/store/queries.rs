//! The store's sessions, events and notices in SQL, once for both
//! databases ([`Database`]): each call is one transaction, or one read.
//!
//! A write transaction sees what other runners committed before it, and
//! its writes wait for theirs. `begin` inserts with `ON CONFLICT DO
//! NOTHING`, which waits for a concurrent insert of the same occurrence to
//! commit, so of two runners exactly one creates the session. A transition
//! reads its session's row locked ([`super::database::Dialect::lock_row`]),
//! so concurrent transitions of one session apply one after the other; a
//! batch does the same for each of its transitions, each in a savepoint of
//! its own.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::batch::{Change, Entry, Written};
use super::database::{Connection, Database, Value, values};
use super::notice::Noting;
use super::row::{self, COLUMNS, EVENT_COLUMNS, Selection, State, event_from, session_from};
use super::{
    Begin, HistoryEntry, NewSession, Noted, OccurrenceKey, SessionId, StoreError, StoredSession,
};

/// Begins a session; for a new one, `before_commit` runs with its id
/// inside the inserting transaction, before other processes can see it.
/// `before_commit` must not use the store's connection, which the
/// transaction holds.
pub(super) async fn begin<D: Database, T, F: Future<Output = Result<T, StoreError>>>(
    db: &D,
    new: &NewSession,
    at: DateTime<Utc>,
    before_commit: impl FnOnce(SessionId) -> F,
) -> Result<(Begin, Option<T>), StoreError> {
    let mut tx = db.transaction().await?;
    let outcome = insert_session::<D, T, F>(&mut tx, new, at, before_commit).await;
    tx.finish(outcome).await
}

async fn insert_session<D: Database, T, F: Future<Output = Result<T, StoreError>>>(
    tx: &mut D::Connection<'_>,
    new: &NewSession,
    at: DateTime<Utc>,
    before_commit: impl FnOnce(SessionId) -> F,
) -> Result<(Begin, Option<T>), StoreError> {
    let inserted = tx
        .query(
            "INSERT INTO sessions (plan, plan_path, plan_hash, mode, app_id, cname, uid,
                 backup_uid, scheduled_start, scheduled_end, step_count, phase, current_uid,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $7, $13, $13)
             ON CONFLICT (plan, cname, uid, scheduled_start) DO NOTHING
             RETURNING id",
            &row::begun_values(new, at)?,
        )
        .await?;
    let Some(inserted) = inserted.first() else {
        // The conflicting insert has committed: ON CONFLICT waited for
        // it, and this statement sees it.
        let key = Selection::Key(OccurrenceKey {
            scheduled_start: row::stored_instant(new.scheduled_start),
            ..new.key()
        });
        let existing = select_in(tx, &key)
            .await?
            .pop()
            .ok_or_else(|| StoreError::corrupt("a conflicting session vanished"))?;
        return Ok((Begin::AlreadyExists(existing.id, existing.phase), None));
    };
    let id = SessionId(inserted.integer(0)?);
    tx.execute(
        "INSERT INTO events (session, at, kind, detail) VALUES ($1, $2, 'begun', '{}')",
        &values![id.0, row::stored_instant(at)],
    )
    .await?;
    let done = before_commit(id).await?;
    Ok((Begin::Created(id), Some(done)))
}

/// Records one transition in a transaction of its own.
pub(super) async fn record(db: &impl Database, entry: &Entry) -> Result<StoredSession, StoreError> {
    let mut tx = db.transaction().await?;
    let outcome = write_transition(&mut tx, entry).await;
    tx.finish(outcome).await
}

/// Records `entries` in one transaction, each in a savepoint: see
/// [`super::Store::record_batch`].
pub(super) async fn record_batch(
    db: &impl Database,
    entries: &[Entry],
) -> Result<Written, StoreError> {
    let mut tx = db.transaction().await?;
    let outcome = write_batch(&mut tx, entries).await;
    tx.finish(outcome).await
}

async fn write_batch(tx: &mut impl Connection, entries: &[Entry]) -> Result<Written, StoreError> {
    let mut written = Vec::with_capacity(entries.len());
    for entry in entries {
        tx.batch("SAVEPOINT transition").await?;
        match write_transition(tx, entry).await {
            Ok(next) => {
                tx.batch("RELEASE SAVEPOINT transition").await?;
                written.push(Ok(next));
            }
            // Nothing is left to write the others into.
            Err(error) if !tx.in_transaction() => return Err(error),
            Err(error) => {
                tx.batch("ROLLBACK TO SAVEPOINT transition; RELEASE SAVEPOINT transition")
                    .await?;
                written.push(Err(error));
            }
        }
    }
    Ok(written)
}

/// Writes one transition in the transaction `tx` is in: the session's new
/// state and its event, the session's row read locked.
async fn write_transition<C: Connection>(
    tx: &mut C,
    entry: &Entry,
) -> Result<StoredSession, StoreError> {
    let Change { id, at, transition } = &entry.change;
    let lock = C::DIALECT.lock_row;
    let current = tx
        .query(
            &format!("SELECT {COLUMNS} FROM sessions WHERE id = $1{lock}"),
            &values![id.0],
        )
        .await?;
    let current = current.first().ok_or(StoreError::NotFound(*id))?;
    let next = super::transition::apply(&session_from(current)?, transition, *at)?;
    tx.execute(
        "UPDATE sessions SET phase = $2, resource_id = $3, sid = $4, current_uid = $5,
             steps_done = $6, step_in_flight = $7, stop_requested = $8, files = $9,
             uploading_status = $10, error = $11, starts = $12, updated_at = $13,
             finished_at = $14
         WHERE id = $1",
        &State::of(&next)?.values(),
    )
    .await?;
    tx.execute(
        "INSERT INTO events (session, at, kind, detail) VALUES ($1, $2, $3, $4)",
        &values![
            id.0,
            row::stored_instant(*at),
            transition.kind(),
            entry.detail.clone()
        ],
    )
    .await?;
    Ok(next)
}

pub(super) async fn select(
    db: &impl Database,
    selection: &Selection,
) -> Result<Vec<StoredSession>, StoreError> {
    select_in(&mut db.connection().await?, selection).await
}

async fn select_in<C: Connection>(
    conn: &mut C,
    selection: &Selection,
) -> Result<Vec<StoredSession>, StoreError> {
    let (clause, params) = where_clause::<C>(selection);
    let rows = conn
        .query(&format!("SELECT {COLUMNS} FROM sessions {clause}"), &params)
        .await?;
    rows.iter().map(session_from).collect()
}

/// The clause that picks `selection`'s sessions, and its parameters.
fn where_clause<C: Connection>(selection: &Selection) -> (String, Vec<Value>) {
    match selection {
        Selection::Id(id) => ("WHERE id = $1".to_owned(), values![id.0].into()),
        // The session of the latest started event naming the sid, found
        // through index `events_by_sid`.
        Selection::Sid(sid) => (
            format!(
                "WHERE id = (SELECT session FROM events
                     WHERE kind = 'started' AND {} = $1 ORDER BY id DESC LIMIT 1)",
                C::DIALECT.started_sid
            ),
            values![sid.as_str()].into(),
        ),
        Selection::Key(key) => (
            "WHERE plan = $1 AND cname = $2 AND uid = $3 AND scheduled_start = $4".to_owned(),
            values![
                key.plan.as_str(),
                key.cname.as_str(),
                key.uid.as_str(),
                key.scheduled_start
            ]
            .into(),
        ),
        Selection::Active => ("WHERE finished_at IS NULL ORDER BY id".to_owned(), vec![]),
        Selection::Recent(limit) => (
            "ORDER BY scheduled_start DESC, id DESC LIMIT $1".to_owned(),
            values![*limit].into(),
        ),
        Selection::History { plan, since } => {
            let mut conditions = Vec::new();
            let mut params = Vec::new();
            if let Some(plan) = plan {
                params.push(Value::from(plan.as_str()));
                conditions.push(format!("plan = ${}", params.len()));
            }
            if let Some(since) = since {
                params.push(Value::from(*since));
                conditions.push(format!("scheduled_start >= ${}", params.len()));
            }
            let filter = if conditions.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", conditions.join(" AND "))
            };
            (format!("{filter} ORDER BY scheduled_start, id"), params)
        }
    }
}

/// The history of session `id`, in order.
pub(super) async fn events(
    db: &impl Database,
    id: SessionId,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows = db
        .connection()
        .await?
        .query(
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE session = $1 ORDER BY id"),
            &values![id.0],
        )
        .await?;
    rows.iter().map(|row| event_from(row, id)).collect()
}

/// The ids of active sessions that may have no live driver.
pub(super) async fn unleased<D: Database>(db: &D) -> Result<Vec<SessionId>, StoreError> {
    let mut conn = db.connection().await?;
    let sql = <D::Connection<'_> as Connection>::DIALECT.unleased;
    let rows = conn.query(sql, &[]).await?;
    rows.iter()
        .map(|row| Ok(SessionId(row.integer(0)?)))
        .collect()
}

/// Records a notice against the session of its sid, in one transaction:
/// see [`super::Store::record_notice`].
pub(super) async fn record_notice(
    db: &impl Database,
    noting: &Noting,
) -> Result<Noted, StoreError> {
    let mut tx = db.transaction().await?;
    let outcome = write_notice(&mut tx, noting).await;
    tx.finish(outcome).await
}

async fn write_notice(tx: &mut impl Connection, noting: &Noting) -> Result<Noted, StoreError> {
    let notice = &noting.notice;
    let Some(session) = select_in(tx, &Selection::Sid(notice.sid.clone()))
        .await?
        .pop()
    else {
        return Ok(Noted::UnknownSid);
    };
    // No conflict target: a clash on either key (the id, or sid, uid, event
    // type and sequence) makes the notice a duplicate. A concurrent insert
    // of the same notice is waited for, then found.
    let inserted = tx
        .execute(
            "INSERT INTO notices (notice_id, session, sid, uid, event_type, sequence,
                 received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT DO NOTHING",
            &values![
                notice.notice_id.as_str(),
                session.id.0,
                notice.sid.as_str(),
                notice.uid.as_str(),
                i64::from(notice.event_type),
                notice.sequence,
                noting.at,
            ],
        )
        .await?;
    if inserted == 0 {
        return Ok(Noted::Duplicate {
            session: session.id,
        });
    }
    let event = tx
        .query(
            "INSERT INTO events (session, at, kind, detail) VALUES ($1, $2, $3, $4)
             RETURNING id",
            &values![
                session.id.0,
                noting.at,
                notice.kind,
                notice.detail.to_string()
            ],
        )
        .await?;
    let event = event
        .first()
        .ok_or_else(|| StoreError::corrupt("an inserted event has no id"))?
        .integer(0)?;
    if let Some(upload) = &notice.upload {
        // `updated_at` stays the last transition's time.
        tx.execute(
            "UPDATE sessions SET upload_notified = $2,
                 upload_notified_files = coalesce($3, upload_notified_files),
                 upload_notified_at = $4
             WHERE id = $1",
            &values![
                session.id.0,
                upload.status.as_str(),
                noting.files.clone(),
                noting.at
            ],
        )
        .await?;
    }
    Ok(Noted::Recorded {
        session: session.id,
        event,
    })
}
