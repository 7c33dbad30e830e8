//! Durable session state. Agora has no call that lists running recordings,
//! so a runner that forgets a sid can never stop that recording, and it
//! bills. The store writes every transition of every session down before
//! and after each API call, so that whatever kills the process, at any
//! instant, the truth can be read back and acted on.
//!
//! One SQLite file (`recplan.db` in the state directory) with three tables:
//! `sessions`, one row per occurrence of one channel holding its current
//! state, and `events`, the append-only history of its transitions. Both
//! change in one transaction per transition. `notices` remembers the
//! notification callbacks recorded in that history (see [`Notice`]), so that
//! a resent one is recorded once.

mod error;
mod files;
mod lease;
mod model;
mod notice;
mod row;
mod schema;
mod transition;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior, params};

pub use error::StoreError;
pub use files::{DB_FILE, default_dir};
pub use lease::Lease;
pub use model::{Begin, Event, NewSession, OccurrenceKey, Phase, SessionId, StoredSession};
pub use notice::{Noted, Notice, UploadNotified, UploadReport};
pub use schema::SCHEMA_VERSION;
pub use transition::Transition;

use model::{instant_text, parse_instant};
use row::{find_in, get_in, mode_text, select, write_state};

/// How long a write waits for another process (a `recplan run` from cron
/// beside the daemon, a `recplan stop`) to finish its own. Writes take
/// milliseconds; this only bites if something holds the lock abnormally.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The state store. Cloning is cheap: clones share one connection.
///
/// Every call is short: a few indexed statements on a local file, well under
/// a millisecond for reads, and one fsync for a write. Async code may call
/// it directly from a task; under a heavy or slow disk, wrap calls in
/// `tokio::task::spawn_blocking` (the store is `Send + Sync + 'static`).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
    /// Leases held in this process, by any clone of this store.
    leased: lease::Held,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, migrating its schema
    /// to this build's.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        files::prepare_dir(dir)?;
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
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: Some(path),
            leased: lease::Held::default(),
        })
    }

    /// A store that lives and dies with the process, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let opened = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open_in_memory().map_err(opened)?;
        Self::configure(&conn).map_err(opened)?;
        schema::migrate(&mut conn, &path)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: None,
            leased: lease::Held::default(),
        })
    }

    fn configure(conn: &Connection) -> rusqlite::Result<()> {
        conn.pragma_update(None, "foreign_keys", "ON")
    }

    /// The database file; none for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The connection. A panic elsewhere while it was held cannot have left
    /// it mid-transaction (an unwinding transaction rolls back), so a
    /// poisoned lock is taken over rather than passed on.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Begins the session of one occurrence of one channel, unless it was
    /// begun before: the store enforces that an occurrence runs at most once.
    pub fn begin(&self, new: &NewSession, at: DateTime<Utc>) -> Result<Begin, StoreError> {
        self.begin_then(new, at, |_| Ok(())).map(|(begin, _)| begin)
    }

    /// [`Store::begin`], and for a new session its [`Lease`] too, taken
    /// before the session is visible to other processes: recovery elsewhere
    /// cannot see it unleased and take it over.
    pub fn begin_leased(
        &self,
        new: &NewSession,
        at: DateTime<Utc>,
    ) -> Result<(Begin, Option<Lease>), StoreError> {
        self.begin_then(new, at, |id| self.lease(id))
            .map(|(begin, lease)| (begin, lease.flatten()))
    }

    fn begin_then<T>(
        &self,
        new: &NewSession,
        at: DateTime<Utc>,
        before_commit: impl FnOnce(SessionId) -> Result<T, StoreError>,
    ) -> Result<(Begin, Option<T>), StoreError> {
        let step_count = i64::try_from(new.step_count)
            .map_err(|_| StoreError::corrupt(format!("step count {}", new.step_count)))?;
        let mut conn = self.conn();
        // IMMEDIATE: take the write lock before reading, so that the
        // read-then-write below cannot race another process's (a deferred
        // transaction would fail with SQLITE_BUSY instead of waiting).
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = instant_text(at);
        let inserted = tx.execute(
            "INSERT INTO sessions (plan, plan_path, plan_hash, mode, app_id, cname, uid,
                 backup_uid, scheduled_start, scheduled_end, step_count, phase, current_uid,
                 created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?7, ?13, ?13)
             ON CONFLICT (plan, cname, uid, scheduled_start) DO NOTHING",
            params![
                new.plan,
                new.plan_path.to_string_lossy(),
                new.plan_hash,
                mode_text(new.mode),
                new.app_id,
                new.cname,
                new.uid,
                new.backup_uid,
                instant_text(new.scheduled_start),
                instant_text(new.scheduled_end),
                step_count,
                Phase::Pending.as_str(),
                now,
            ],
        )?;
        if inserted == 0 {
            let existing = find_in(&tx, &new.key())?
                .ok_or_else(|| StoreError::corrupt("a conflicting session vanished"))?;
            return Ok((Begin::AlreadyExists(existing.id, existing.phase), None));
        }
        let id = SessionId(tx.last_insert_rowid());
        tx.execute(
            "INSERT INTO events (session, at, kind, detail) VALUES (?1, ?2, 'begun', '{}')",
            params![id.0, now],
        )?;
        let done = before_commit(id)?;
        tx.commit()?;
        Ok((Begin::Created(id), Some(done)))
    }

    /// Records `transition` of session `id` at `at`: its event and the
    /// session's new state, in one transaction. Returns the new state; a
    /// transition that does not follow from the current one is refused.
    pub fn record(
        &self,
        id: SessionId,
        at: DateTime<Utc>,
        transition: &Transition,
    ) -> Result<StoredSession, StoreError> {
        let detail = transition.detail()?.to_string();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = get_in(&tx, id)?.ok_or(StoreError::NotFound(id))?;
        let next = transition::apply(&current, transition, at)?;
        write_state(&tx, &next)?;
        tx.execute(
            "INSERT INTO events (session, at, kind, detail) VALUES (?1, ?2, ?3, ?4)",
            params![id.0, instant_text(at), transition.kind(), detail],
        )?;
        tx.commit()?;
        Ok(next)
    }

    /// Takes the right to drive session `id`: `None` while another live
    /// process holds it. Released when the [`Lease`] is dropped or its
    /// process dies.
    pub fn lease(&self, id: SessionId) -> Result<Option<Lease>, StoreError> {
        lease::take(
            &self.leased,
            self.path.as_deref().and_then(Path::parent),
            id,
        )
    }

    pub fn get(&self, id: SessionId) -> Result<Option<StoredSession>, StoreError> {
        get_in(&self.conn(), id)
    }

    /// The session of an occurrence's channel, if it was begun.
    pub fn find(&self, key: &OccurrenceKey) -> Result<Option<StoredSession>, StoreError> {
        find_in(&self.conn(), key)
    }

    /// Every session that is not over, oldest first: what recovery, `status`
    /// and `stop --all` must look at. Includes failed sessions that hold a
    /// sid, since their recording may still run.
    pub fn active(&self) -> Result<Vec<StoredSession>, StoreError> {
        select(
            &self.conn(),
            "WHERE finished_at IS NULL ORDER BY id",
            params![],
        )
    }

    /// The latest `limit` sessions by scheduled start, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<StoredSession>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        select(
            &self.conn(),
            "ORDER BY scheduled_start DESC, id DESC LIMIT ?1",
            params![limit],
        )
    }

    /// Sessions of `plan` (or of every plan) scheduled at or after `since`
    /// (or ever), oldest first.
    pub fn history(
        &self,
        plan: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredSession>, StoreError> {
        let since = since.map(instant_text);
        select(
            &self.conn(),
            "WHERE (?1 IS NULL OR plan = ?1) AND (?2 IS NULL OR scheduled_start >= ?2)
             ORDER BY scheduled_start, id",
            params![plan, since],
        )
    }

    /// The history of session `id`, in order.
    pub fn events(&self, id: SessionId) -> Result<Vec<Event>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT id, at, kind, detail FROM events WHERE session = ?1 ORDER BY id",
        )?;
        let mut rows = statement.query([id.0])?;
        let mut events = Vec::new();
        while let Some(row) = rows.next()? {
            let at: String = row.get(1)?;
            let detail: String = row.get(3)?;
            events.push(Event {
                id: row.get(0)?,
                session: id,
                at: parse_instant(&at)?,
                kind: row.get(2)?,
                detail: serde_json::from_str(&detail).map_err(|error| {
                    StoreError::corrupt(format!("event detail {detail:?}: {error}"))
                })?,
            });
        }
        Ok(events)
    }
}
