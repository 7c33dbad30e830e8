//! The PostgreSQL schema's migrations, and its marks: `recplan_meta` marks
//! the schema as recplan's and holds the number of migrations applied
//! (applied by [`crate::store::schema::migrate`]). Migration N here is the
//! same change as SQLite's migration N, so one [`SCHEMA_VERSION`] counts
//! both. Migrations are only ever appended: a released one is never edited.

use tokio_postgres::Client;

use super::super::StoreError;
use super::super::database::{Connection, Database};
use super::super::schema::{FINAL_PHASES_BY_OUTCOME, RATE_WINDOW_WAITING, SCHEMA_VERSION};

/// Schema migrations, in order.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: sessions and their event history. Instants are timestamptz kept
    // to the millisecond; lists and event details are JSON text, written
    // and read exactly as SQLite's.
    r"
    CREATE TABLE sessions (
        id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        plan             TEXT NOT NULL,
        plan_path        TEXT NOT NULL,
        plan_hash        TEXT NOT NULL,
        mode             TEXT NOT NULL,
        app_id           TEXT NOT NULL,
        cname            TEXT NOT NULL,
        uid              TEXT NOT NULL,
        backup_uid       TEXT,
        scheduled_start  TIMESTAMPTZ NOT NULL,
        scheduled_end    TIMESTAMPTZ NOT NULL,
        step_count       BIGINT NOT NULL CHECK (step_count >= 0),
        phase            TEXT NOT NULL,
        resource_id      TEXT,
        sid              TEXT,
        current_uid      TEXT NOT NULL,
        steps_done       TEXT NOT NULL DEFAULT '[]',
        step_in_flight   BIGINT,
        stop_requested   BOOLEAN NOT NULL DEFAULT false,
        files            TEXT NOT NULL DEFAULT '[]',
        uploading_status TEXT,
        error            TEXT,
        starts           BIGINT NOT NULL DEFAULT 0,
        created_at       TIMESTAMPTZ NOT NULL,
        updated_at       TIMESTAMPTZ NOT NULL,
        finished_at      TIMESTAMPTZ,
        UNIQUE (plan, cname, uid, scheduled_start)
    );
    CREATE INDEX sessions_active ON sessions (id) WHERE finished_at IS NULL;
    CREATE INDEX sessions_by_start ON sessions (scheduled_start, id);

    CREATE TABLE events (
        id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session  BIGINT NOT NULL REFERENCES sessions (id),
        at       TIMESTAMPTZ NOT NULL,
        kind     TEXT NOT NULL,
        detail   TEXT NOT NULL
    );
    CREATE INDEX events_by_session ON events (session, id);

    -- The history is evidence of what was sent to Agora: never rewritten.
    CREATE FUNCTION recplan_events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'events are append-only';
    END
    $$;
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION recplan_events_append_only();
    CREATE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION recplan_events_append_only();
    ",
    // 2: Agora's notification callbacks (NCS), as SQLite's migration 2. A
    // session keeps the final word on its upload apart from stop's answer;
    // `notices` remembers the notices recorded, so that a resent one is
    // recorded once.
    r"
    ALTER TABLE sessions ADD COLUMN upload_notified TEXT;
    ALTER TABLE sessions ADD COLUMN upload_notified_files TEXT;
    ALTER TABLE sessions ADD COLUMN upload_notified_at TIMESTAMPTZ;

    CREATE TABLE notices (
        notice_id   TEXT PRIMARY KEY,
        session     BIGINT NOT NULL REFERENCES sessions (id),
        sid         TEXT NOT NULL,
        uid         TEXT NOT NULL,
        event_type  BIGINT NOT NULL,
        sequence    BIGINT,
        received_at TIMESTAMPTZ NOT NULL,
        -- NCS's redundant servers resend a notice under a new noticeId. A
        -- notice without a sequence is deduplicated by its id alone (NULLs
        -- are distinct here).
        UNIQUE (sid, uid, event_type, sequence)
    );

    -- Notices name their recording by sid, which the sessions row forgets
    -- once the recording is lost or restarted; the started events keep
    -- every sid a session ever held.
    CREATE INDEX events_by_sid ON events (((detail::jsonb) -> 'recording' ->> 'sid'))
        WHERE kind = 'started';
    ",
    // 3: the shared rate limit, as SQLite's migration 3; instants are
    // microseconds on the server's clock, which every runner shares.
    r"
    CREATE TABLE rate_windows (
        app_id       TEXT PRIMARY KEY,
        grants       TEXT NOT NULL DEFAULT '[]',
        paused_until BIGINT
    );
    ",
    // 4: paused plans and the daemon API's actions, as SQLite's migration 4
    // (under the migration lock: two daemons creating them on first use
    // raced to the same type name).
    r"
    CREATE TABLE IF NOT EXISTS paused_plans (
        plan      TEXT PRIMARY KEY,
        paused_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE IF NOT EXISTS actions (
        id      BIGSERIAL PRIMARY KEY,
        at      TIMESTAMPTZ NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT NOT NULL,
        remote  TEXT NOT NULL,
        outcome TEXT NOT NULL
    );
    ",
    // 5: SQLite's TEXT primary keys made NOT NULL; PostgreSQL's primary
    // keys always were, so nothing changes here.
    "",
    // 6: final phases named by the session's outcome, as SQLite's
    // migration 6.
    FINAL_PHASES_BY_OUTCOME,
    // 7: what each runner sharing a rate window waits for, as SQLite's
    // migration 7.
    RATE_WINDOW_WAITING,
];

const _: () = assert!(
    MIGRATIONS.len() == SCHEMA_VERSION as usize,
    "a migration is added to both backends at once"
);

/// Serializes migrations across processes: two daemons opening a fresh
/// database must not both create the tables. The second waits for the
/// first's transaction, then sees the version it wrote. ("rcpl", as
/// SQLite's application id.)
const MIGRATION_LOCK: i64 = 0x7263_706c;

/// Takes the migration lock for the transaction `client` is in, then
/// reads the number of migrations applied: 0 for a schema without
/// recplan's tables. A schema that holds tables of the same names but no
/// `recplan_meta` is someone else's.
pub(super) async fn version(client: &Client, target: &str) -> Result<u32, StoreError> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let marks = client
        .query_one(
            "SELECT to_regclass('recplan_meta') IS NOT NULL,
                    to_regclass('sessions') IS NOT NULL OR to_regclass('events') IS NOT NULL",
            &[],
        )
        .await?;
    let (marked, tables): (bool, bool) = (marks.try_get(0)?, marks.try_get(1)?);
    if !marked {
        return if tables {
            Err(StoreError::ForeignSchema {
                target: target.to_owned(),
            })
        } else {
            Ok(0)
        };
    }
    let rows = client
        .query("SELECT key, value FROM recplan_meta", &[])
        .await?;
    let value = |wanted: &str| -> Result<Option<String>, StoreError> {
        for row in &rows {
            if row.try_get::<_, &str>(0)? == wanted {
                return Ok(Some(row.try_get(1)?));
            }
        }
        Ok(None)
    };
    if value("application")?.as_deref() != Some("recplan") {
        return Err(StoreError::ForeignSchema {
            target: target.to_owned(),
        });
    }
    let version = value("schema_version")?.unwrap_or_default();
    version
        .parse()
        .map_err(|_| StoreError::corrupt(format!("recplan_meta schema_version {version:?}")))
}

/// Marks the schema as recplan's, at `version`.
pub(super) async fn set_version(client: &Client, version: u32) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS recplan_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO recplan_meta VALUES ('application', 'recplan') ON CONFLICT DO NOTHING;",
        )
        .await?;
    client
        .execute(
            "INSERT INTO recplan_meta VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&version.to_string()],
        )
        .await?;
    Ok(())
}

/// The store's lease namespace: the `sessions` table's oid, which tells
/// this store's leases from those of another recplan schema in the same
/// database (advisory locks are per database), and is the same for every
/// process that opens this one.
pub(super) async fn namespace(db: &impl Database) -> Result<i32, StoreError> {
    let rows = db
        .connection()
        .await?
        .query("SELECT 'sessions'::regclass::oid::int4", &[])
        .await?;
    let oid = rows
        .first()
        .ok_or_else(|| StoreError::corrupt("no oid for table sessions"))?
        .integer(0)?;
    i32::try_from(oid).map_err(|_| StoreError::corrupt(format!("table sessions has oid {oid}")))
}
