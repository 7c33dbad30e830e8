//! The SQLite backend: one file (`recplan.db` in the state directory), or
//! memory for tests, behind one connection that every clone of the store
//! shares. Its SQL is here; the rows' meaning is in [`super::row`].

mod control;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::batch::{Change, Entry, Written};
use super::model::{instant_text, parse_instant};
use super::notice::Noting;
use super::rate::{self, WindowChange};
use super::row::{
    self, Begun, COLUMNS, Columns, EVENT_COLUMNS, Selection, State, event_from, session_from,
};
use super::{Begin, DB_FILE, Event, Noted, SessionId, StoreError, StoredSession};
use super::{files, schema, transition};
use crate::agora::Window;

/// How long a write waits for another process (a `recplan run` from cron
/// beside the daemon, a `recplan stop`) to finish its own. Writes take
/// milliseconds; this only bites if something holds the lock abnormally.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many compiled statements the connection keeps; the store has about
/// fifteen.
const STATEMENT_CACHE: usize = 32;

/// A SQLite database. Cloning is cheap: clones share one connection.
#[derive(Clone)]
pub(super) struct Sqlite {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
}

impl Sqlite {
    /// Opens (creating if needed) the database in `dir`, migrating its
    /// schema to this build's.
    pub fn open(dir: &Path) -> Result<Sqlite, StoreError> {
        files::prepare_dir(dir)?;
        // Processes opening the store at once take turns until its schema
        // is in place: switching a new database to WAL needs it to
        // themselves, and SQLite answers `database is locked` at once
        // rather than wait for that.
        let _opening = files::lock_dir(dir)?;
        let path = dir.join(DB_FILE);
        files::prepare_db(&path)?;
        let opened = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(opened)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(opened)?;
        // WAL: readers (`recplan status`) never block the runner's writes,
        // and a commit is one append to the log.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
            .map_err(opened)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::corrupt(format!(
                "{} refuses WAL mode (journal_mode {mode})",
                path.display()
            )));
        }
        // In WAL mode, synchronous=NORMAL already survives a crash of the
        // process, even kill -9: a commit is in the OS's page cache once
        // written, and only the fsync is deferred to the checkpoint. It does
        // not survive a power cut or kernel panic, which may lose the last
        // commits (never corrupting the file). FULL fsyncs the log at every
        // commit. A session makes a dozen writes an hour, so the cost is
        // nothing, and a lost `started` would be a recording nobody can
        // stop: FULL.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(opened)?;
        Self::configure(&conn).map_err(opened)?;
        schema::migrate(&mut conn, &path)?;
        files::restrict_siblings(&path)?;
        Ok(Sqlite {
            conn: Arc::new(Mutex::new(conn)),
            path: Some(path),
        })
    }

    /// A database that lives and dies with the process, for tests.
    pub fn open_in_memory() -> Result<Sqlite, StoreError> {
        let path = PathBuf::from(":memory:");
        let opened = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open_in_memory().map_err(opened)?;
        Self::configure(&conn).map_err(opened)?;
        schema::migrate(&mut conn, &path)?;
        Ok(Sqlite {
            conn: Arc::new(Mutex::new(conn)),
            path: None,
        })
    }

    fn configure(conn: &Connection) -> rusqlite::Result<()> {
        // Room for every statement the store prepares (the writes and each
        // kind of selection), so that none is ever compiled twice.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "foreign_keys", "ON")
    }

    /// The database file; none in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The connection. A panic elsewhere while it was held cannot have left
    /// it mid-transaction (an unwinding transaction rolls back), so a
    /// poisoned lock is taken over rather than passed on.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Begins a session; for a new one, `before_commit` runs with its id
    /// inside the inserting transaction, before other processes can see it.
    pub fn begin<T>(
        &self,
        begun: &Begun,
        before_commit: impl FnOnce(SessionId) -> Result<T, StoreError>,
    ) -> Result<(Begin, Option<T>), StoreError> {
        let mut conn = self.conn();
        // IMMEDIATE: take the write lock before reading, so that the
        // read-then-write below cannot race another process's (a deferred
        // transaction would fail with SQLITE_BUSY instead of waiting).
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let at = instant_text(begun.at);
        let inserted = tx
            .prepare_cached(
                "INSERT INTO sessions (plan, plan_path, plan_hash, mode, app_id, cname, uid,
                     backup_uid, scheduled_start, scheduled_end, step_count, phase,
                     current_uid, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?7, ?13, ?13)
                 ON CONFLICT (plan, cname, uid, scheduled_start) DO NOTHING
                 RETURNING id",
            )?
            .query_row(
                params![
                    begun.plan,
                    begun.plan_path,
                    begun.plan_hash,
                    begun.mode,
                    begun.app_id,
                    begun.cname,
                    begun.uid,
                    begun.backup_uid,
                    instant_text(begun.scheduled_start),
                    instant_text(begun.scheduled_end),
                    begun.step_count,
                    begun.phase,
                    at,
                ],
                |row| row.get(0),
            )
            .optional()?;
        let Some(id) = inserted.map(SessionId) else {
            let key = Selection::Key(super::OccurrenceKey {
                plan: begun.plan.clone(),
                cname: begun.cname.clone(),
                uid: begun.uid.clone(),
                scheduled_start: begun.scheduled_start,
            });
            let existing = select_in(&tx, &key)?
                .pop()
                .ok_or_else(|| StoreError::corrupt("a conflicting session vanished"))?;
            return Ok((Begin::AlreadyExists(existing.id, existing.phase), None));
        };
        tx.prepare_cached(
            "INSERT INTO events (session, at, kind, detail) VALUES (?1, ?2, 'begun', '{}')",
        )?
        .execute(params![id.0, at])?;
        let done = before_commit(id)?;
        tx.commit()?;
        Ok((Begin::Created(id), Some(done)))
    }

    pub fn record(&self, entry: &Entry) -> Result<StoredSession, StoreError> {
        let mut conn = self.conn();
        // IMMEDIATE, as for a begin: the read and the write below must not
        // interleave with another process's.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let next = write_transition(&tx, entry)?;
        tx.commit()?;
        Ok(next)
    }

    /// Records `entries` in one transaction, each in a savepoint: see
    /// [`super::Store::record_batch`].
    pub fn record_batch(&self, entries: &[Entry]) -> Result<Written, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut written = Vec::with_capacity(entries.len());
        for entry in entries {
            let savepoint = tx.savepoint()?;
            match write_transition(&savepoint, entry) {
                Ok(next) => {
                    savepoint.commit()?;
                    written.push(Ok(next));
                }
                Err(error) => {
                    // Dropped, the savepoint rolls back what the entry
                    // wrote.
                    drop(savepoint);
                    // Some errors (a full disk, an I/O error) make SQLite
                    // roll back the whole transaction: nothing is left to
                    // write the others into.
                    if tx.is_autocommit() {
                        return Err(error);
                    }
                    written.push(Err(error));
                }
            }
        }
        tx.commit()?;
        Ok(written)
    }

    pub fn select(&self, selection: &Selection) -> Result<Vec<StoredSession>, StoreError> {
        select_in(&self.conn(), selection)
    }

    /// Every active session's id: a file lock is only known free by taking
    /// it.
    pub fn unleased(&self) -> Result<Vec<SessionId>, StoreError> {
        let conn = self.conn();
        let mut statement =
            conn.prepare_cached("SELECT id FROM sessions WHERE finished_at IS NULL ORDER BY id")?;
        let ids = statement
            .query_map([], |row| row.get(0).map(SessionId))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// Changes `app_id`'s shared rate window under the write lock, at the
    /// machine's clock, which every process here shares.
    pub fn change_window(
        &self,
        app_id: &str,
        change: WindowChange,
    ) -> Result<Option<Duration>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored: Option<(String, Option<i64>)> = tx
            .prepare_cached("SELECT grants, paused_until FROM rate_windows WHERE app_id = ?1")?
            .query_row([app_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let mut window = match stored {
            Some((grants, paused_until)) => rate::window_from(&grants, paused_until)?,
            None => Window::default(),
        };
        let now = Utc::now().timestamp_micros();
        if let Some(wait) = change.apply(&mut window, now) {
            return Ok(Some(wait));
        }
        tx.prepare_cached(
            "INSERT INTO rate_windows (app_id, grants, paused_until) VALUES (?1, ?2, ?3)
             ON CONFLICT (app_id) DO UPDATE
                 SET grants = excluded.grants, paused_until = excluded.paused_until",
        )?
        .execute(params![
            app_id,
            rate::grants_text(&window),
            window.paused_until
        ])?;
        tx.commit()?;
        Ok(None)
    }

    /// Records a notice against the session of its sid, in one
    /// transaction: see [`super::Store::record_notice`].
    pub fn record_notice(&self, noting: &Noting) -> Result<Noted, StoreError> {
        let notice = &noting.notice;
        let mut conn = self.conn();
        // IMMEDIATE, as for transitions: the duplicate check and the writes
        // must not interleave with another process's.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(session) = select_in(&tx, &Selection::Sid(notice.sid.clone()))?.pop() else {
            return Ok(Noted::UnknownSid);
        };
        let received = instant_text(noting.at);
        // No conflict target: a clash on either key (the id, or sid, uid,
        // event type and sequence) makes the notice a duplicate.
        let inserted = tx
            .prepare_cached(
                "INSERT INTO notices (notice_id, session, sid, uid, event_type, sequence,
                     received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                notice.notice_id,
                session.id.0,
                notice.sid,
                notice.uid,
                notice.event_type,
                notice.sequence,
                received,
            ])?;
        if inserted == 0 {
            return Ok(Noted::Duplicate {
                session: session.id,
            });
        }
        let event: i64 = tx
            .prepare_cached(
                "INSERT INTO events (session, at, kind, detail) VALUES (?1, ?2, ?3, ?4)
                 RETURNING id",
            )?
            .query_row(
                params![
                    session.id.0,
                    received,
                    notice.kind,
                    notice.detail.to_string()
                ],
                |row| row.get(0),
            )?;
        if let Some(upload) = &notice.upload {
            // `updated_at` stays the last transition's time.
            tx.prepare_cached(
                "UPDATE sessions SET upload_notified = ?2,
                     upload_notified_files = coalesce(?3, upload_notified_files),
                     upload_notified_at = ?4
                 WHERE id = ?1",
            )?
            .execute(params![session.id.0, upload.status, noting.files, received])?;
        }
        tx.commit()?;
        Ok(Noted::Recorded {
            session: session.id,
            event,
        })
    }

    pub fn events(&self, id: SessionId) -> Result<Vec<Event>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE session = ?1 ORDER BY id"
        ))?;
        let mut rows = statement.query([id.0])?;
        let mut events = Vec::new();
        while let Some(row) = rows.next()? {
            events.push(event_from(row, id)?);
        }
        Ok(events)
    }
}

/// The session whose started event names sid `?1`. The WHERE clause matches
/// index `events_by_sid` (kind and expression exactly), so this is an index
/// lookup.
pub(super) const SESSION_OF_SID: &str = "SELECT session FROM events
    WHERE kind = 'started' AND json_extract(detail, '$.recording.sid') = ?1
    ORDER BY id DESC LIMIT 1";

fn select_in(conn: &Connection, selection: &Selection) -> Result<Vec<StoredSession>, StoreError> {
    let by_sid;
    let (clause, values): (&str, Vec<rusqlite::types::Value>) = match selection {
        Selection::Id(id) => ("WHERE id = ?1", vec![id.0.into()]),
        Selection::Sid(sid) => {
            by_sid = format!("WHERE id = ({SESSION_OF_SID})");
            (&by_sid, vec![sid.clone().into()])
        }
        Selection::Key(key) => (
            "WHERE plan = ?1 AND cname = ?2 AND uid = ?3 AND scheduled_start = ?4",
            vec![
                key.plan.clone().into(),
                key.cname.clone().into(),
                key.uid.clone().into(),
                instant_text(key.scheduled_start).into(),
            ],
        ),
        Selection::Active => ("WHERE finished_at IS NULL ORDER BY id", vec![]),
        Selection::Recent(limit) => (
            "ORDER BY scheduled_start DESC, id DESC LIMIT ?1",
            vec![(*limit).into()],
        ),
        Selection::History { plan, since } => (
            "WHERE (?1 IS NULL OR plan = ?1) AND (?2 IS NULL OR scheduled_start >= ?2)
             ORDER BY scheduled_start, id",
            vec![plan.clone().into(), since.map(instant_text).into()],
        ),
    };
    let mut statement = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM sessions {clause}"))?;
    let mut rows = statement.query(rusqlite::params_from_iter(values))?;
    let mut sessions = Vec::new();
    while let Some(row) = rows.next()? {
        sessions.push(session_from(row)?);
    }
    Ok(sessions)
}

/// Writes one transition in the transaction `conn` is in: the session's
/// new state and its event.
fn write_transition(conn: &Connection, entry: &Entry) -> Result<StoredSession, StoreError> {
    let Change { id, at, transition } = &entry.change;
    let current = select_in(conn, &Selection::Id(*id))?
        .pop()
        .ok_or(StoreError::NotFound(*id))?;
    let next = transition::apply(&current, transition, *at)?;
    write_state(conn, &State::of(&next)?)?;
    conn.prepare_cached("INSERT INTO events (session, at, kind, detail) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            id.0,
            instant_text(row::stored_instant(*at)),
            transition.kind(),
            entry.detail
        ])?;
    Ok(next)
}

fn write_state(conn: &Connection, state: &State) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE sessions SET phase = ?2, resource_id = ?3, sid = ?4, current_uid = ?5,
             steps_done = ?6, step_in_flight = ?7, stop_requested = ?8, files = ?9,
             uploading_status = ?10, error = ?11, starts = ?12, updated_at = ?13,
             finished_at = ?14
         WHERE id = ?1",
    )?
    .execute(params![
        state.id,
        state.phase,
        state.resource_id,
        state.sid,
        state.current_uid,
        state.steps_done,
        state.step_in_flight,
        state.stop_requested,
        state.files,
        state.uploading_status,
        state.error,
        state.starts,
        instant_text(state.updated_at),
        state.finished_at.map(instant_text),
    ])?;
    Ok(())
}

/// Instants are RFC 3339 text here (see [`instant_text`]).
impl Columns for Row<'_> {
    fn text(&self, index: usize) -> Result<String, StoreError> {
        Ok(self.get(index)?)
    }

    fn optional_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(index)?)
    }

    fn integer(&self, index: usize) -> Result<i64, StoreError> {
        Ok(self.get(index)?)
    }

    fn optional_integer(&self, index: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(index)?)
    }

    fn flag(&self, index: usize) -> Result<bool, StoreError> {
        Ok(self.get(index)?)
    }

    fn instant(&self, index: usize) -> Result<DateTime<Utc>, StoreError> {
        parse_instant(&self.text(index)?)
    }

    fn optional_instant(&self, index: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.optional_text(index)?
            .as_deref()
            .map(parse_instant)
            .transpose()
    }
}
