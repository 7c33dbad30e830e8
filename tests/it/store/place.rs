//! Where a test's store lives: a fresh SQLite directory, or a fresh schema
//! in the PostgreSQL database `RECPLAN_TEST_POSTGRES` names, so that tests
//! running at once never see each other's sessions.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;

use recplan::store::{DB_FILE, Store};

/// The database the PostgreSQL variants run in; unset, they are skipped.
pub const POSTGRES_VAR: &str = "RECPLAN_TEST_POSTGRES";

/// One test's store, to itself.
pub enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(Schema),
}

impl Place {
    pub fn sqlite() -> Place {
        Place::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A schema of its own in the database `RECPLAN_TEST_POSTGRES` names.
    /// The tests that call it are ignored, with that reason, so that they
    /// are run on purpose (`--ignored`) where a server is, never passed
    /// without one.
    pub fn postgres() -> Place {
        let base = std::env::var(POSTGRES_VAR)
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| panic!("{POSTGRES_VAR} names the database to test in"));
        Place::Postgres(Schema::create(&base))
    }

    /// A new handle on the store, with connections of its own, as another
    /// process would open it.
    pub async fn open(&self) -> Store {
        open_at(&self.location()).await
    }

    /// What a child process is told to open: a directory or a URL.
    pub fn location(&self) -> OsString {
        match self {
            Place::Sqlite(dir) => dir.path().as_os_str().to_owned(),
            Place::Postgres(schema) => schema.url.clone().into(),
        }
    }

    /// Keeps every other connection from writing sessions until the guard
    /// is dropped, as a long write by another process would: a store's
    /// writes wait for it.
    pub fn hold_writes(&self) -> WritesHeld {
        match self {
            Place::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                WritesHeld::Sqlite { _conn: conn }
            }
            Place::Postgres(schema) => {
                let url = schema.url.clone();
                let (taken, lock_taken) = mpsc::channel();
                let (release, released) = mpsc::channel::<()>();
                let holder = std::thread::spawn(move || {
                    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                    let mut tx = client.transaction().unwrap();
                    // Conflicts with the row locks every write takes.
                    tx.batch_execute("LOCK TABLE sessions IN EXCLUSIVE MODE")
                        .unwrap();
                    taken.send(()).unwrap();
                    let _ = released.recv();
                    tx.commit().unwrap();
                });
                lock_taken.recv().expect("the lock is taken");
                WritesHeld::Postgres {
                    release,
                    holder: Some(holder),
                }
            }
        }
    }
}

/// Writes held off by [`Place::hold_writes`]; dropped, they may go on.
pub enum WritesHeld {
    /// In a write transaction, rolled back when dropped.
    Sqlite { _conn: rusqlite::Connection },
    Postgres {
        release: mpsc::Sender<()>,
        holder: Option<std::thread::JoinHandle<()>>,
    },
}

impl Drop for WritesHeld {
    fn drop(&mut self) {
        if let WritesHeld::Postgres { release, holder } = self {
            let _ = release.send(());
            if let Some(holder) = holder.take() {
                let _ = holder.join();
            }
        }
    }
}

/// Opens the store at a [`Place::location`].
pub async fn open_at(location: &OsStr) -> Store {
    match location.to_str() {
        Some(url) if url.starts_with("postgres") => Store::open_url(url).await.unwrap(),
        _ => Store::open(Path::new(location)).await.unwrap(),
    }
}

/// A schema created for one test and dropped after it.
pub struct Schema {
    base: String,
    pub name: String,
    /// The base URL with the schema as its search path.
    pub url: String,
}

impl Schema {
    fn create(base: &str) -> Schema {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "recplan_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{name}");
        let schema = Schema {
            base: base.to_owned(),
            name,
            url,
        };
        // A run killed before its cleanup may have left one of this name.
        schema
            .admin(&format!(
                "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}",
                schema.name
            ))
            .unwrap_or_else(|error| panic!("{POSTGRES_VAR}: {error}"));
        schema
    }

    /// Runs `sql` on a connection of its own to the schema, and returns
    /// the first column of each row it yields, as text.
    pub fn query(&self, sql: &str) -> Result<Vec<Option<String>>, postgres::Error> {
        let (url, sql) = (self.url.clone(), sql.to_owned());
        on_a_plain_thread(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
            Ok(client
                .simple_query(&sql)?
                .into_iter()
                .filter_map(|message| match message {
                    postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_owned)),
                    _ => None,
                })
                .collect())
        })
    }

    fn admin(&self, sql: &str) -> Result<(), postgres::Error> {
        let (url, sql) = (self.base.clone(), sql.to_owned());
        on_a_plain_thread(move || {
            postgres::Client::connect(&url, postgres::NoTls)
                .and_then(|mut client| client.batch_execute(&sql))
        })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Best effort: a test that failed is reported already, and the
        // database is a throwaway one.
        let _ = self.admin(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

/// The sync `postgres` client runs a runtime of its own, which panics
/// inside another: async tests use it from a thread outside theirs.
fn on_a_plain_thread<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(work).join().unwrap())
}
