//! The schema: SQLite's migrations, and how either database's are applied.
//! The database counts the migrations applied (SQLite's `PRAGMA
//! user_version`, PostgreSQL's `recplan_meta`); each runs in the same
//! transaction as the count's bump, so a crash mid-migration leaves the
//! previous schema intact. Migrations are only ever appended: a released
//! one is never edited, and each is added to PostgreSQL's too
//! (`postgres/schema.rs`), so that one [`SCHEMA_VERSION`] counts both; the
//! schemas they build are compared by a test.

use super::StoreError;
use super::database::{Connection, Database};

/// `PRAGMA application_id`: marks the file as recplan's ("rcpl").
pub(crate) const APPLICATION_ID: i32 = 0x7263_706c;

/// SQLite's schema migrations, in order: the database's `user_version` is
/// the number of them applied.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 2: Agora's notification callbacks (NCS). A session keeps the final
    // word on its upload apart from stop's answer, so that neither
    // overwrites the other whichever arrives first; `notices` remembers the
    // notices recorded, so that a resent one is recorded once.
    r"
    ALTER TABLE sessions ADD COLUMN upload_notified TEXT;
    ALTER TABLE sessions ADD COLUMN upload_notified_files TEXT;
    ALTER TABLE sessions ADD COLUMN upload_notified_at TEXT;

    CREATE TABLE notices (
        notice_id   TEXT PRIMARY KEY,
        session     INTEGER NOT NULL REFERENCES sessions (id),
        sid         TEXT NOT NULL,
        uid         TEXT NOT NULL,
        event_type  INTEGER NOT NULL,
        sequence    INTEGER,
        received_at TEXT NOT NULL,
        -- NCS's redundant servers resend a notice under a new noticeId. A
        -- notice without a sequence is deduplicated by its id alone (NULLs
        -- are distinct here).
        UNIQUE (sid, uid, event_type, sequence)
    );

    -- Notices name their recording by sid, which the sessions row forgets
    -- once the recording is lost or restarted; the started events keep
    -- every sid a session ever held.
    CREATE INDEX events_by_sid ON events (json_extract(detail, '$.recording.sid'))
        WHERE kind = 'started';
    ",
    // 3: the rate limit every runner on the store shares, per App ID: the
    // last grants (a JSON array of microseconds since the epoch) and a
    // 429's pause (see `agora::ratelimit::Window`).
    r"
    CREATE TABLE rate_windows (
        app_id       TEXT PRIMARY KEY,
        grants       TEXT NOT NULL DEFAULT '[]',
        paused_until INTEGER
    );
    ",
    // 4: paused plans and the actions taken through the daemon's API,
    // created here rather than by their first use, which two processes
    // could race to. `IF NOT EXISTS`: earlier builds made them on first
    // use.
    r"
    CREATE TABLE IF NOT EXISTS paused_plans (
        plan      TEXT PRIMARY KEY,
        paused_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS actions (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT NOT NULL,
        remote  TEXT NOT NULL,
        outcome TEXT NOT NULL
    );
    ",
    // 5: the keys of `notices`, `paused_plans` and `rate_windows` made NOT
    // NULL, as PostgreSQL's primary keys are: SQLite lets a TEXT PRIMARY
    // KEY hold NULL, any number of times. A column constraint cannot be
    // added in place, so each table is rebuilt; a row keyed by NULL names
    // no notice, plan or App ID, and is not carried over.
    r"
    CREATE TABLE notices_keyed (
        notice_id   TEXT NOT NULL PRIMARY KEY,
        session     INTEGER NOT NULL REFERENCES sessions (id),
        sid         TEXT NOT NULL,
        uid         TEXT NOT NULL,
        event_type  INTEGER NOT NULL,
        sequence    INTEGER,
        received_at TEXT NOT NULL,
        UNIQUE (sid, uid, event_type, sequence)
    );
    INSERT INTO notices_keyed (notice_id, session, sid, uid, event_type, sequence, received_at)
        SELECT notice_id, session, sid, uid, event_type, sequence, received_at FROM notices
        WHERE notice_id IS NOT NULL;
    DROP TABLE notices;
    ALTER TABLE notices_keyed RENAME TO notices;

    CREATE TABLE paused_plans_keyed (
        plan      TEXT NOT NULL PRIMARY KEY,
        paused_at TEXT NOT NULL
    );
    INSERT INTO paused_plans_keyed (plan, paused_at)
        SELECT plan, paused_at FROM paused_plans WHERE plan IS NOT NULL;
    DROP TABLE paused_plans;
    ALTER TABLE paused_plans_keyed RENAME TO paused_plans;

    CREATE TABLE rate_windows_keyed (
        app_id       TEXT NOT NULL PRIMARY KEY,
        grants       TEXT NOT NULL DEFAULT '[]',
        paused_until INTEGER
    );
    INSERT INTO rate_windows_keyed (app_id, grants, paused_until)
        SELECT app_id, grants, paused_until FROM rate_windows WHERE app_id IS NOT NULL;
    DROP TABLE rate_windows;
    ALTER TABLE rate_windows_keyed RENAME TO rate_windows;
    ",
    // 6: a final phase names the session's outcome, in the words the run's
    // report and `history` use: `stopped` becomes `completed`, or
    // `interrupted` when it stopped before its scheduled end; an abandoned
    // session that was missed or stopped before it recorded says so.
    // (Instants are fixed-width text: text order is time order.)
    FINAL_PHASES_BY_OUTCOME,
    // 7: what each runner sharing a rate window waits for, so that its
    // urgent calls go before the others' routine ones (see
    // `agora::ratelimit::Window::reserve`): a JSON array of
    // `[runner, priority, until]`.
    RATE_WINDOW_WAITING,
];

/// Migration 6, the same SQL for both backends.
pub(super) const FINAL_PHASES_BY_OUTCOME: &str = r"
    UPDATE sessions SET phase = CASE WHEN finished_at < scheduled_end
        THEN 'interrupted' ELSE 'completed' END
        WHERE phase = 'stopped';
    UPDATE sessions SET phase = 'missed'
        WHERE phase = 'abandoned' AND (error LIKE 'missed:%'
            OR error IN ('the occurrence ended while nobody drove it',
                         'the occurrence was over before it could start'));
    UPDATE sessions SET phase = 'interrupted'
        WHERE phase = 'abandoned' AND error IN ('stopped before the occurrence began',
            'stopped before a recording started', 'stopped by hand');
";

/// Migration 7, the same SQL for both backends.
pub(super) const RATE_WINDOW_WAITING: &str = r"
    ALTER TABLE rate_windows ADD COLUMN waiting TEXT NOT NULL DEFAULT '[]';
";

/// The schema version this build writes.
#[allow(clippy::cast_possible_truncation)] // a list of migrations, not billions
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database up to [`SCHEMA_VERSION`], refusing one that is newer
/// or not recplan's. Under the migration lock (SQLite's write lock, a
/// PostgreSQL advisory lock), so that of two processes opening a fresh
/// database only one applies migration 1: the other waits, then sees the
/// version the first wrote.
pub(super) async fn migrate(db: &impl Database) -> Result<(), StoreError> {
    let mut tx = db.transaction().await?;
    let outcome = apply(&mut tx).await;
    tx.finish(outcome).await
}

async fn apply<C: Connection>(tx: &mut C) -> Result<(), StoreError> {
    let found = tx.schema_version().await?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let failed = |error: StoreError| error.in_migration(found, SCHEMA_VERSION);
    for sql in &C::MIGRATIONS[found as usize..] {
        tx.batch(sql).await.map_err(failed)?;
    }
    tx.set_schema_version(SCHEMA_VERSION).await.map_err(failed)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection as Sqlite;

    use super::*;
    use crate::store::sqlite::SqliteConnection;
    use crate::store::{DB_FILE, Noted, Notice, Phase, Store, UploadReport};

    /// A session recording under `sid-v1`, as recplan with schema 1 wrote
    /// it: the rows are written by hand, since that code is gone.
    const V1_SESSION: &str = r#"
        INSERT INTO sessions (id, plan, plan_path, plan_hash, mode, app_id, cname, uid,
            scheduled_start, scheduled_end, step_count, phase, resource_id, sid, current_uid,
            starts, created_at, updated_at)
        VALUES (1, 'standup', 'plans/standup.yaml', 'sha256:0f', 'composite',
            '0123456789abcdef0123456789abcdef', 'room', '527841',
            '2026-11-27T09:00:00.000Z', '2026-11-27T09:30:00.000Z', 0, 'recording',
            'resource-1', 'sid-v1', '527841', 1,
            '2026-11-27T09:00:00.000Z', '2026-11-27T09:00:03.000Z');
        INSERT INTO events (session, at, kind, detail) VALUES
            (1, '2026-11-27T09:00:00.000Z', 'begun', '{}'),
            (1, '2026-11-27T09:00:03.000Z', 'started', '{"recording":{"mode":"composite",
                "resource_id":"resource-1","sid":"sid-v1","cname":"room","uid":"527841"}}');
    "#;

    #[tokio::test]
    async fn a_version_1_database_is_upgraded_with_its_sessions() {
        let temp = tempfile::tempdir().unwrap();
        {
            let conn = Sqlite::open(temp.path().join(DB_FILE)).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(V1_SESSION).unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }

        let store = Store::open(temp.path()).await.unwrap();
        let conn = Sqlite::open(temp.path().join(DB_FILE)).unwrap();
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let session = store
            .find_by_sid("sid-v1")
            .await
            .unwrap()
            .expect("found by sid");
        assert_eq!(
            (session.phase, session.upload_notified),
            (Phase::Recording, None)
        );
        assert_eq!(store.events(session.id).await.unwrap().len(), 2);

        // The sid lookup uses the index built over the old events.
        let mut explain = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT session FROM events
                 WHERE kind = 'started' AND {} = ?1 ORDER BY id DESC LIMIT 1",
                <SqliteConnection as Connection>::DIALECT.started_sid
            ))
            .unwrap();
        let plan: Vec<String> = explain
            .query_map(["sid-v1"], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("events_by_sid")),
            "{plan:?}"
        );

        let at = session.updated_at + chrono::TimeDelta::minutes(40);
        assert!(matches!(
            store.record_notice(&uploaded("n-1"), at).await.unwrap(),
            Noted::Recorded { .. }
        ));
        let session = store.get(session.id).await.unwrap().unwrap();
        let notified = session.upload_notified.clone().expect("upload notified");
        assert_eq!(notified.at, at);
        assert_eq!(session.upload_status(), Some("uploaded"));
        assert_eq!(session.recorded_files(), ["room.m3u8"]);
    }

    /// Notice `notice_id`: `sid-v1`'s upload, sequence 3.
    fn uploaded(notice_id: &str) -> Notice {
        Notice {
            notice_id: notice_id.to_owned(),
            sid: "sid-v1".to_owned(),
            uid: "527841".to_owned(),
            event_type: 31,
            sequence: Some(3),
            kind: "ncs_uploaded",
            detail: serde_json::json!({}),
            upload: Some(UploadReport {
                status: "uploaded".to_owned(),
                files: Some(vec!["room.m3u8".to_owned()]),
            }),
        }
    }

    #[tokio::test]
    async fn a_version_4_database_keeps_its_notices_pauses_and_rate_windows() {
        let temp = tempfile::tempdir().unwrap();
        {
            let conn = Sqlite::open(temp.path().join(DB_FILE)).unwrap();
            for sql in &MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(V1_SESSION).unwrap();
            // The second notice's NULL key names no notice: not carried
            // over.
            conn.execute_batch(
                "INSERT INTO notices VALUES
                     ('n-1', 1, 'sid-v1', '527841', 31, 3, '2026-11-27T09:40:00.000Z'),
                     (NULL, 1, 'sid-v1', '527841', 31, 4, '2026-11-27T09:41:00.000Z');
                 INSERT INTO paused_plans VALUES ('standup', '2026-11-27T08:00:00.000Z');
                 INSERT INTO rate_windows VALUES ('0123456789abcdef0123456789abcdef', '[7]', 9);",
            )
            .unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            conn.pragma_update(None, "user_version", 4).unwrap();
        }

        let store = Store::open(temp.path()).await.unwrap();
        assert_eq!(store.paused_plans().await.unwrap(), ["standup"]);
        let at = crate::store::model::parse_instant("2026-11-27T09:42:00.000Z").unwrap();
        assert!(matches!(
            store.record_notice(&uploaded("n-1"), at).await.unwrap(),
            Noted::Duplicate { .. }
        ));
        let conn = Sqlite::open(temp.path().join(DB_FILE)).unwrap();
        let kept: (i64, String, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM notices), grants, paused_until FROM rate_windows",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .unwrap();
        assert_eq!(kept, (1, "[7]".to_owned(), 9));
        let refused = conn.execute(
            "INSERT INTO paused_plans VALUES (NULL, '2026-11-27T08:00:00.000Z')",
            [],
        );
        assert!(refused.is_err(), "a NULL key is refused");
    }

    /// Final sessions as schema 4 named them: `stopped` at or before the
    /// end, and `abandoned` for several reasons.
    const V4_FINAL_SESSIONS: &str = r"
        INSERT INTO sessions (id, plan, plan_path, plan_hash, mode, app_id, cname, uid,
            scheduled_start, scheduled_end, step_count, phase, current_uid, error,
            created_at, updated_at, finished_at)
        VALUES
        (1, 'standup', 'p.yaml', 'h', 'composite', 'a', 'to-the-end', '1',
            '2026-11-27T09:00:00.000Z', '2026-11-27T09:30:00.000Z', 0, 'stopped', '1', NULL,
            '2026-11-27T09:00:00.000Z', '2026-11-27T09:30:01.250Z', '2026-11-27T09:30:01.250Z'),
        (2, 'standup', 'p.yaml', 'h', 'composite', 'a', 'cut-short', '1',
            '2026-11-27T09:00:00.000Z', '2026-11-27T09:30:00.000Z', 0, 'stopped', '1', NULL,
            '2026-11-27T09:00:00.000Z', '2026-11-27T09:12:00.000Z', '2026-11-27T09:12:00.000Z'),
        (3, 'standup', 'p.yaml', 'h', 'composite', 'a', 'missed', '1',
            '2026-11-27T09:00:00.000Z', '2026-11-27T09:30:00.000Z', 0, 'abandoned', '1',
            'missed: recplan was running but could not start it within the plan''s starting_deadline',
            '2026-11-27T09:06:00.000Z', '2026-11-27T09:06:00.000Z', '2026-11-27T09:06:00.000Z'),
        (4, 'standup', 'p.yaml', 'h', 'composite', 'a', 'before-start', '1',
            '2026-11-27T09:00:00.000Z', '2026-11-27T09:30:00.000Z', 0, 'abandoned', '1',
            'stopped before the occurrence began',
            '2026-11-27T08:59:00.000Z', '2026-11-27T08:59:30.000Z', '2026-11-27T08:59:30.000Z'),
        (5, 'standup', 'p.yaml', 'h', 'composite', 'a', 'given-up', '1',
            '2026-11-27T09:00:00.000Z', '2026-11-27T09:30:00.000Z', 0, 'abandoned', '1',
            'the plan can no longer be rendered',
            '2026-11-27T09:00:00.000Z', '2026-11-27T09:01:00.000Z', '2026-11-27T09:01:00.000Z');
    ";

    #[tokio::test]
    async fn a_version_4_database_names_final_phases_by_their_outcome() {
        let temp = tempfile::tempdir().unwrap();
        {
            let conn = Sqlite::open(temp.path().join(DB_FILE)).unwrap();
            for migration in &MIGRATIONS[..4] {
                conn.execute_batch(migration).unwrap();
            }
            conn.execute_batch(V4_FINAL_SESSIONS).unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            conn.pragma_update(None, "user_version", 4).unwrap();
        }

        let store = Store::open(temp.path()).await.unwrap();
        let phases: Vec<(String, Phase)> = store
            .history(None, None)
            .await
            .unwrap()
            .into_iter()
            .map(|session| (session.cname.clone(), session.phase))
            .collect();
        let expected = [
            ("to-the-end", Phase::Completed),
            ("cut-short", Phase::Interrupted),
            ("missed", Phase::Missed),
            ("before-start", Phase::Interrupted),
            ("given-up", Phase::Abandoned),
        ];
        assert_eq!(
            phases,
            expected.map(|(cname, phase)| (cname.to_owned(), phase))
        );
    }
}
