//! The SQLite database: one file (`recplan.db` in the state directory), or
//! memory for tests, behind one connection that every clone of the store
//! shares. What it says in SQL is in [`super::queries`]; here is how it is
//! opened and how it runs a statement ([`Database`]).

use std::borrow::Cow;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};

use super::database::{Cell, Connection, Database, Dialect, Record, Value};
use super::model::instant_text;
use super::schema::{self, APPLICATION_ID};
use super::{DB_FILE, StoreError, files};

/// How long a write waits for another process (a `recplan run` from cron
/// beside the daemon, a `recplan stop`) to finish its own. Writes take
/// milliseconds; this only bites if something holds the lock abnormally.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many compiled statements the connection keeps; the store has about
/// thirty.
const STATEMENT_CACHE: usize = 64;

/// A SQLite database. Cloning is cheap: clones share one connection.
#[derive(Clone)]
pub(super) struct Sqlite {
    conn: Arc<Mutex<rusqlite::Connection>>,
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
        let conn = rusqlite::Connection::open(&path).map_err(opened)?;
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
        let db = Sqlite {
            conn: Arc::new(Mutex::new(conn)),
            path: Some(path),
        };
        block_on(schema::migrate(&db))?;
        files::restrict_siblings(db.label())?;
        Ok(db)
    }

    /// A database that lives and dies with the process, for tests. The
    /// schema is migrated once per process and copied into each new
    /// database: migrating costs milliseconds (SQLite reparses the schema at
    /// every `ALTER TABLE`), a copy of a few pages next to nothing, and tests
    /// open thousands.
    pub fn open_in_memory() -> Result<Sqlite, StoreError> {
        static MIGRATED: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
        let path = PathBuf::from(":memory:");
        let opened = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let migrated = MIGRATED.get_or_init(|| {
            let db = Self::migrated_in_memory().map_err(|error| error.to_string())?;
            let mut conn = db.conn();
            let image = conn
                .serialize(rusqlite::MAIN_DB)
                .map_err(|error| error.to_string())?;
            Ok(image.to_vec())
        });
        // After a failure, the first attempt again, for its own error.
        let Ok(image) = migrated else {
            return Self::migrated_in_memory();
        };
        let mut conn = rusqlite::Connection::open_in_memory().map_err(opened)?;
        conn.deserialize_read_exact(rusqlite::MAIN_DB, image.as_slice(), image.len(), false)
            .map_err(opened)?;
        Self::configure(&conn).map_err(opened)?;
        Ok(Sqlite {
            conn: Arc::new(Mutex::new(conn)),
            path: None,
        })
    }

    /// A new database in memory with this build's schema.
    fn migrated_in_memory() -> Result<Sqlite, StoreError> {
        let path = PathBuf::from(":memory:");
        let opened = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let conn = rusqlite::Connection::open_in_memory().map_err(opened)?;
        Self::configure(&conn).map_err(opened)?;
        let db = Sqlite {
            conn: Arc::new(Mutex::new(conn)),
            path: None,
        };
        block_on(schema::migrate(&db))?;
        Ok(db)
    }

    fn configure(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        // Room for every statement the store prepares (the writes and each
        // kind of selection), so that none is ever compiled twice.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "foreign_keys", "ON")
    }

    /// The database file; none in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The database file, or `:memory:`, for messages.
    fn label(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(":memory:"))
    }

    /// The connection. A panic elsewhere while it was held cannot have left
    /// it mid-transaction (an unwinding transaction rolls back), so a
    /// poisoned lock is taken over rather than passed on.
    fn conn(&self) -> MutexGuard<'_, rusqlite::Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Database for Sqlite {
    type Connection<'a> = SqliteConnection<'a>;

    async fn connection(&self) -> Result<SqliteConnection<'_>, StoreError> {
        Ok(SqliteConnection {
            conn: self.conn(),
            label: self.label(),
            open: false,
        })
    }

    async fn transaction(&self) -> Result<SqliteConnection<'_>, StoreError> {
        let mut connection = self.connection().await?;
        // IMMEDIATE: take the write lock before reading, so that a
        // read-then-write cannot race another process's (a deferred
        // transaction would fail with SQLITE_BUSY instead of waiting).
        connection.conn.execute_batch("BEGIN IMMEDIATE")?;
        connection.open = true;
        Ok(connection)
    }
}

/// The store's one connection, held until dropped.
pub(super) struct SqliteConnection<'a> {
    conn: MutexGuard<'a, rusqlite::Connection>,
    label: &'a Path,
    /// Whether this began a transaction that is not finished: rolled back
    /// if dropped so.
    open: bool,
}

impl Drop for SqliteConnection<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Connection for SqliteConnection<'_> {
    const DIALECT: Dialect = Dialect {
        started_sid: "json_extract(detail, '$.recording.sid')",
        lock_row: "",
        now_micros: "NULL",
        // A file lock is only known free by taking it.
        unleased: "SELECT id FROM sessions WHERE finished_at IS NULL ORDER BY id",
    };

    const MIGRATIONS: &'static [&'static str] = schema::MIGRATIONS;

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let changed = self
            .conn
            .prepare_cached(&placeholders(sql))?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(changed as u64)
    }

    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Record>, StoreError> {
        let mut statement = self.conn.prepare_cached(&placeholders(sql))?;
        let width = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(params))?;
        let mut records = Vec::new();
        while let Some(row) = rows.next()? {
            let cells = (0..width)
                .map(|index| cell(row.get_ref(index)?))
                .collect::<Result<_, StoreError>>()?;
            records.push(Record(cells));
        }
        Ok(records)
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch(sql)?)
    }

    fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    async fn finish<T>(mut self, outcome: Result<T, StoreError>) -> Result<T, StoreError> {
        if outcome.is_ok() {
            self.conn.execute_batch("COMMIT")?;
            self.open = false;
        }
        // Else dropped, which rolls back.
        outcome
    }

    async fn schema_version(&mut self) -> Result<u32, StoreError> {
        check_owner(&self.conn, self.label)?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?;
        u32::try_from(version).map_err(|_| StoreError::corrupt(format!("user_version {version}")))
    }

    async fn set_schema_version(&mut self, version: u32) -> Result<(), StoreError> {
        self.conn
            .pragma_update(None, "application_id", APPLICATION_ID)?;
        Ok(self.conn.pragma_update(None, "user_version", version)?)
    }
}

/// Refuses a SQLite file that some other program wrote: one marked with
/// another application id, or unmarked but already holding tables.
fn check_owner(conn: &rusqlite::Connection, path: &Path) -> Result<(), StoreError> {
    let found: i32 = conn.pragma_query_value(None, "application_id", |row| row.get(0))?;
    if found == APPLICATION_ID {
        return Ok(());
    }
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
    if found == 0 && tables == 0 {
        return Ok(());
    }
    Err(StoreError::Foreign {
        path: path.to_owned(),
        found,
    })
}

/// `sql` with PostgreSQL's placeholders (`$1`) as SQLite's (`?1`). A `$`
/// before a digit is always a placeholder in the store's SQL; one before
/// anything else (a JSON path, `'$.recording'`) is left alone.
fn placeholders(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut rewritten = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(char) = chars.next() {
        let placeholder = char == '$' && chars.peek().is_some_and(char::is_ascii_digit);
        rewritten.push(if placeholder { '?' } else { char });
    }
    Cow::Owned(rewritten)
}

fn cell(value: ValueRef<'_>) -> Result<Cell, StoreError> {
    match value {
        ValueRef::Null => Ok(Cell::Null),
        ValueRef::Integer(number) => Ok(Cell::Integer(number)),
        ValueRef::Text(text) => String::from_utf8(text.to_vec())
            .map(Cell::Text)
            .map_err(|error| StoreError::corrupt(format!("text that is not UTF-8: {error}"))),
        ValueRef::Real(_) | ValueRef::Blob(_) => Err(StoreError::corrupt(format!(
            "a value recplan never writes: {value:?}"
        ))),
    }
}

/// Instants are RFC 3339 text here (see [`instant_text`]), and flags 0 or
/// 1.
impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as Owned;
        let null = || ToSqlOutput::Owned(Owned::Null);
        Ok(match self {
            Value::Text(text) => text.as_deref().map_or_else(null, |text| {
                ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes()))
            }),
            Value::Integer(number) => {
                number.map_or_else(null, |number| ToSqlOutput::Owned(Owned::Integer(number)))
            }
            Value::Flag(flag) => ToSqlOutput::Owned(Owned::Integer(i64::from(*flag))),
            Value::Instant(at) => {
                at.map_or_else(null, |at| ToSqlOutput::Owned(Owned::Text(instant_text(at))))
            }
        })
    }
}

/// Runs `work`, which blocks on the file, on the runtime's blocking pool,
/// so that no thread of the runtime waits for the disk; a blocking thread
/// also keeps a paused test clock from jumping ahead meanwhile. A panic in
/// `work` is the caller's.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(outcome) => outcome,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => Err(StoreError::Stopped),
        },
    }
}

/// Runs a SQLite call to its end on this thread (one of the blocking
/// pool's, see [`blocking`]). Its statements block rather than wait, so
/// the first poll finishes it; parking is there for form's sake.
pub(super) fn block_on<T>(future: impl Future<Output = T>) -> T {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_sqlites_and_json_paths_stay() {
        assert_eq!(
            placeholders("WHERE id = $1 AND json_extract(detail, '$.recording.sid') = $12"),
            "WHERE id = ?1 AND json_extract(detail, '$.recording.sid') = ?12"
        );
        assert!(matches!(placeholders("SELECT 1"), Cow::Borrowed(_)));
    }
}
