//! The SQLite schema and its migrations. `PRAGMA user_version` counts the
//! migrations applied; each runs in the same transaction as the version
//! bump, so a crash mid-migration leaves the previous schema intact.
//! Migrations are only ever appended: a released one is never edited, and
//! each is added to PostgreSQL's too (`postgres/schema.rs`), so that one
//! [`SCHEMA_VERSION`] counts both.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// `PRAGMA application_id`: marks the file as recplan's ("rcpl").
pub(crate) const APPLICATION_ID: i32 = 0x7263_706c;

/// Schema migrations, in order: the database's `user_version` is the number
/// of them applied.
const MIGRATIONS: &[&str] = &[
    // 1: sessions and their event history.
    r"
    CREATE TABLE sessions (
        id               INTEGER PRIMARY KEY,
        plan             TEXT NOT NULL,
        plan_path        TEXT NOT NULL,
        plan_hash        TEXT NOT NULL,
        mode             TEXT NOT NULL,
        app_id           TEXT NOT NULL,
        cname            TEXT NOT NULL,
        uid              TEXT NOT NULL,
        backup_uid       TEXT,
        scheduled_start  TEXT NOT NULL,
        scheduled_end    TEXT NOT NULL,
        step_count       INTEGER NOT NULL CHECK (step_count >= 0),
        phase            TEXT NOT NULL,
        resource_id      TEXT,
        sid              TEXT,
        current_uid      TEXT NOT NULL,
        steps_done       TEXT NOT NULL DEFAULT '[]',
        step_in_flight   INTEGER,
        stop_requested   INTEGER NOT NULL DEFAULT 0,
        files            TEXT NOT NULL DEFAULT '[]',
        uploading_status TEXT,
        error            TEXT,
        starts           INTEGER NOT NULL DEFAULT 0,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        finished_at      TEXT,
        UNIQUE (plan, cname, uid, scheduled_start)
    );
    CREATE INDEX sessions_active ON sessions (id) WHERE finished_at IS NULL;
    CREATE INDEX sessions_by_start ON sessions (scheduled_start, id);

    CREATE TABLE events (
        id       INTEGER PRIMARY KEY,
        session  INTEGER NOT NULL REFERENCES sessions (id),
        at       TEXT NOT NULL,
        kind     TEXT NOT NULL,
        detail   TEXT NOT NULL
    );
    CREATE INDEX events_by_session ON events (session, id);

    -- The history is evidence of what was sent to Agora: never rewritten.
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    ",
];

/// The schema version this build writes.
#[allow(clippy::cast_possible_truncation)] // a list of migrations, not billions
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database up to [`SCHEMA_VERSION`], refusing one that is newer
/// or not recplan's.
pub(crate) fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<(), StoreError> {
    check_owner(conn, path)?;
    // IMMEDIATE takes the write lock at once, so that two processes opening
    // a fresh database do not both apply migration 1: the second waits, then
    // sees the version the first wrote.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = user_version(&tx)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let fail = |source| StoreError::Migrate {
        from: found,
        to: SCHEMA_VERSION,
        source,
    };
    for sql in &MIGRATIONS[found as usize..] {
        tx.execute_batch(sql).map_err(fail)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(fail)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(fail)?;
    tx.commit().map_err(fail)
}

fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    u32::try_from(version).map_err(|_| StoreError::corrupt(format!("user_version {version}")))
}

/// Refuses a SQLite file that some other program wrote: one marked with
/// another application id, or unmarked but already holding tables.
fn check_owner(conn: &Connection, path: &std::path::Path) -> Result<(), StoreError> {
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
