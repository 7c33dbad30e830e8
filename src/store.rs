//! Durable session state. Agora has no call that lists running recordings,
//! so a runner that forgets a sid can never stop that recording, and it
//! bills. The store writes every transition of every session down before
//! and after each API call, so that whatever kills the process, at any
//! instant, the truth can be read back and acted on.
//!
//! Two tables hold the sessions: `sessions`, one row per occurrence of one
//! channel holding its current state, and `events`, the append-only
//! history of its transitions. Both change together: in one transaction
//! per transition, or per batch of transitions queued at the same time
//! ([`batch`]), each then in a savepoint of its own. `notices` remembers
//! the notification callbacks recorded in that history (see [`Notice`]),
//! so that a resent one is recorded once; `rate_windows`, `paused_plans`
//! and `actions` are the shared rate limit ([`rate`]) and the control
//! API's ([`control`]). They live in one of two databases behind the same
//! API:
//!
//! - SQLite ([`Store::open`]): one file, `recplan.db` in the state
//!   directory, for one machine.
//! - PostgreSQL ([`Store::open_url`]): for daemons or Kubernetes Jobs on
//!   several machines that share one store.
//!
//! Everything the store does is written once, over [`database::Database`]
//! (a connection that runs a statement, in a write transaction or not, and
//! the few words of SQL in which the two differ): what a transition may
//! follow and what it changes ([`transition`]), how a session maps to a
//! row ([`row`]), the SQL of each call ([`queries`], [`control`],
//! [`rate`]) and how migrations are applied ([`schema`]). Below it, each
//! database says only how it connects and runs a statement ([`sqlite`],
//! [`postgres`]) and in what DDL its migrations are written; above it,
//! `on_database!` is the one place a call picks its database and awaits
//! it: SQLite's on the runtime's blocking pool, PostgreSQL's on the
//! caller's runtime, whose tasks run its connections. Leases ([`lease`])
//! are each database's own.

/// Runs `$call`, a call over a [`database::Database`] `$db`, on whichever
/// database the store has, and awaits its answer: the one place that tells
/// them apart for a call. SQLite's statements block, so its call runs on
/// the runtime's blocking pool, with what it uses cloned or moved in;
/// PostgreSQL's is awaited here, on the caller's runtime.
macro_rules! on_database {
    ($store:expr, |$db:ident| $call:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite(sqlite) => {
                let sqlite = sqlite.clone();
                $crate::store::sqlite::blocking(move || {
                    let $db = &sqlite;
                    $crate::store::sqlite::block_on($call)
                })
                .await
            }
            $crate::store::Backend::Postgres(postgres) => {
                let $db = postgres.connections();
                $call.await
            }
        }
    };
}

mod batch;
mod control;
mod database;
mod driver;
mod error;
mod files;
mod lease;
mod model;
mod notice;
mod postgres;
mod queries;
mod rate;
mod row;
mod schema;
mod sqlite;
mod transition;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

pub use batch::{Change, Written};
pub use control::Action;
pub use driver::{Driver, Driving};
pub use error::{StoreError, StoreErrorKind};
pub use files::{DB_FILE, default_dir};
pub use lease::Lease;
pub use model::{
    Begin, HistoryEntry, NewSession, OccurrenceKey, Outcome, Phase, SessionId, StoredSession,
};
pub use notice::{Noted, Notice, UploadNotified, UploadReport};
pub use schema::SCHEMA_VERSION;
pub use transition::Transition;

use batch::{Entry, Queue};
use postgres::Postgres;
use row::Selection;
use sqlite::Sqlite;

/// The state store. Cloning is cheap: clones share its connections.
///
/// Every call is short: a few indexed statements on a local file, well under
/// a millisecond for reads and one fsync for a write, or a round trip or
/// two to PostgreSQL. Calls are async: SQLite's statements run on the
/// runtime's blocking pool, PostgreSQL's on the runtime itself, whose tasks
/// drive its connections (a SQLite store's lease files, a lock tried and a
/// line written, are the caller's own). So a store is opened, and
/// used, inside a tokio runtime. Transitions that many tasks record at
/// once go through [`Store::record_queued`] instead, which writes all that
/// are waiting with one commit.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Leases held in this process, by any clone of this store.
    leased: lease::Held,
    /// Transitions waiting to be written, from any clone of this store.
    queue: Arc<Queue>,
    /// Write transactions committed through any clone of this store.
    commits: Arc<AtomicU64>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

impl Backend {
    /// The database file; none for a store in memory or in PostgreSQL.
    fn path(&self) -> Option<&Path> {
        match self {
            Backend::Sqlite(db) => db.path(),
            Backend::Postgres(_) => None,
        }
    }

    /// Whether other processes can open this database: all but SQLite's
    /// in memory.
    fn is_shared(&self) -> bool {
        !matches!(self, Backend::Sqlite(db) if db.path().is_none())
    }

    /// What keeps other processes off session `id`, or `None` if another
    /// live process holds it. A lease file is taken here and now: opening
    /// and locking it never waits (a lock held elsewhere is refused).
    async fn hold(&self, id: SessionId) -> Result<Option<lease::Hold>, StoreError> {
        match self {
            Backend::Sqlite(db) => match db.path().and_then(Path::parent) {
                Some(dir) => lease::lock_file(dir, id),
                None => Ok(Some(lease::Hold::Process)),
            },
            Backend::Postgres(db) => Ok(db
                .lease(id)
                .await?
                .map(|lock| lease::Hold::Advisory { _lock: lock })),
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Store");
        match &self.backend {
            Backend::Sqlite(db) => debug.field("path", &db.path()),
            // Never the URL: it may carry a password.
            Backend::Postgres(db) => debug.field("postgres", &db.target()),
        };
        debug.finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite store in `dir`, migrating its
    /// schema to this build's.
    pub async fn open(dir: &Path) -> Result<Store, StoreError> {
        let dir = dir.to_owned();
        sqlite::blocking(move || {
            let store = Store::with(Backend::Sqlite(Sqlite::open(&dir)?));
            // Lease files outlive their sessions only when their process
            // died.
            match lease::sweep(&dir, &store.leased) {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(removed, "removed stale lease files"),
                Err(error) => tracing::warn!(%error, "cannot sweep stale lease files"),
            }
            Ok(store)
        })
        .await
    }

    /// A store that lives and dies with the process, for tests.
    pub async fn open_in_memory() -> Result<Store, StoreError> {
        sqlite::blocking(|| Ok(Store::with(Backend::Sqlite(Sqlite::open_in_memory()?)))).await
    }

    /// Connects to the PostgreSQL store at `url` (`postgres://` or
    /// `postgresql://`, with libpq's URL parameters), creating or migrating
    /// its tables in the connection's schema (the first of its
    /// `search_path`). Plain connections only: no TLS. Its lease
    /// connection runs on the runtime this is called on and ends with it
    /// (leases then fail, and those held are freed): use the store on that
    /// runtime. The other connection is made again on whichever runtime
    /// calls next.
    pub async fn open_url(url: &str) -> Result<Store, StoreError> {
        Ok(Store::with(Backend::Postgres(
            Postgres::connect(url).await?,
        )))
    }

    fn with(backend: Backend) -> Store {
        Store {
            backend,
            leased: lease::Held::default(),
            queue: Arc::default(),
            commits: Arc::default(),
        }
    }

    /// How many write transactions this store and its clones have
    /// committed: one per session begun, transition recorded by
    /// [`Store::record`] and notice recorded, and one per batch of
    /// transitions however many it held. For metrics, and to see that
    /// transitions recorded at once are grouped.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    fn committed(&self) {
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    /// The database file; none for a store in memory or in PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        self.backend.path()
    }

    /// Begins the session of one occurrence of one channel, unless it was
    /// begun before: the store enforces that an occurrence runs at most once.
    pub async fn begin(&self, new: &NewSession, at: DateTime<Utc>) -> Result<Begin, StoreError> {
        let (begin, _) = self.begin_then(new, at, |_| async { Ok(()) }).await?;
        Ok(begin)
    }

    /// [`Store::begin`], and for a new session its [`Lease`] too, taken
    /// before the session is visible to other processes: recovery elsewhere
    /// cannot see it unleased and take it over. The lease never waits on
    /// the store's connection (a lease file, or PostgreSQL's lease
    /// connection), which the inserting transaction holds meanwhile.
    pub async fn begin_leased(
        &self,
        new: &NewSession,
        at: DateTime<Utc>,
    ) -> Result<(Begin, Option<Lease>), StoreError> {
        let store = self.clone();
        let (begin, lease) = self
            .begin_then(new, at, move |id| async move { store.lease(id).await })
            .await?;
        Ok((begin, lease.flatten()))
    }

    /// Begins the session, running `before_commit` with a new session's id
    /// inside the inserting transaction, before it commits.
    async fn begin_then<T, F>(
        &self,
        new: &NewSession,
        at: DateTime<Utc>,
        before_commit: impl FnOnce(SessionId) -> F + Send + 'static,
    ) -> Result<(Begin, Option<T>), StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send,
    {
        let new = new.clone();
        let outcome = on_database!(self, |db| queries::begin(db, &new, at, before_commit))?;
        if let (Begin::Created(_), _) = outcome {
            self.committed();
        }
        Ok(outcome)
    }

    /// Records `transition` of session `id` at `at`: its event and the
    /// session's new state, in one transaction. Returns the new state; a
    /// transition that does not follow from the current one is refused.
    pub async fn record(
        &self,
        id: SessionId,
        at: DateTime<Utc>,
        transition: &Transition,
    ) -> Result<StoredSession, StoreError> {
        let entry = Entry::of(Change {
            id,
            at,
            transition: transition.clone(),
        })?;
        let next = on_database!(self, |db| queries::record(db, &entry))?;
        self.committed();
        Ok(next)
    }

    /// Takes the right to drive session `id`: `None` while another live
    /// process holds it. Released when the [`Lease`] is dropped or its
    /// process dies.
    pub async fn lease(&self, id: SessionId) -> Result<Option<Lease>, StoreError> {
        lease::take(&self.leased, id, self.backend.hold(id)).await
    }

    pub async fn get(&self, id: SessionId) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.select(Selection::Id(id)).await?.pop())
    }

    /// The session of an occurrence's channel, if it was begun.
    pub async fn find(&self, key: &OccurrenceKey) -> Result<Option<StoredSession>, StoreError> {
        let key = OccurrenceKey {
            scheduled_start: row::stored_instant(key.scheduled_start),
            ..key.clone()
        };
        Ok(self.select(Selection::Key(key)).await?.pop())
    }

    /// Every session that is not over, oldest first: what recovery, `status`
    /// and `stop --all` must look at. Includes failed sessions that hold a
    /// sid, since their recording may still run.
    pub async fn active(&self) -> Result<Vec<StoredSession>, StoreError> {
        self.select(Selection::Active).await
    }

    /// The ids of active sessions that may have no live driver, oldest
    /// first: in PostgreSQL those whose lease nobody holds; in SQLite, whose
    /// file locks can only be tried, those not leased in this process. What
    /// a running daemon looks at to take over sessions whose driver died;
    /// [`Store::lease`] then says for sure.
    pub async fn unleased(&self) -> Result<Vec<SessionId>, StoreError> {
        let ids = on_database!(self, |db| queries::unleased(db))?;
        Ok(self.leased.without(ids))
    }

    /// The latest `limit` sessions by scheduled start, newest first.
    pub async fn recent(&self, limit: usize) -> Result<Vec<StoredSession>, StoreError> {
        self.select(Selection::Recent(i64::try_from(limit).unwrap_or(i64::MAX)))
            .await
    }

    /// Sessions of `plan` (or of every plan) scheduled at or after `since`
    /// (or ever), oldest first.
    pub async fn history(
        &self,
        plan: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredSession>, StoreError> {
        self.select(Selection::History {
            plan: plan.map(str::to_owned),
            since: since.map(row::stored_instant),
        })
        .await
    }

    /// The history of session `id`, in order.
    pub async fn events(&self, id: SessionId) -> Result<Vec<HistoryEntry>, StoreError> {
        on_database!(self, |db| queries::events(db, id))
    }

    async fn select(&self, selection: Selection) -> Result<Vec<StoredSession>, StoreError> {
        on_database!(self, |db| queries::select(db, &selection))
    }
}
