//! The store on disk: where it lives, its schema versions, its file modes,
//! and what never reaches its bytes.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use recplan::plan::{Env, MissingEnv, Options, Source, validate};
use recplan::store::{
    DB_FILE, NewSession, SCHEMA_VERSION, Store, StoreError, Transition, default_dir,
};

use super::{new_session, record_all, run, script};

fn raw(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join(DB_FILE)).unwrap()
}

fn pragma(dir: &Path, name: &str) -> i64 {
    raw(dir)
        .pragma_query_value(None, name, |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn an_empty_directory_is_migrated_and_reopening_keeps_the_data() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("nested/state");
    let store = Store::open(&dir).await.unwrap();
    assert_eq!(store.path(), Some(dir.join(DB_FILE).as_path()));
    let new = new_session("standup", "room", 0);
    let written = run(&store, &new, &script(&new)[..4]).await;
    drop(store);
    assert_eq!(pragma(&dir, "user_version"), i64::from(SCHEMA_VERSION));
    assert_eq!(pragma(&dir, "application_id"), 0x7263_706c);
    let store = Store::open(&dir).await.unwrap();
    assert_eq!(store.get(written.id).await.unwrap(), Some(written.clone()));
    assert_eq!(
        store.active().await.unwrap(),
        std::slice::from_ref(&written)
    );
    assert_eq!(store.events(written.id).await.unwrap().len(), 5);
    // And it carries on where it was.
    let done = record_all(&store, written.id, &script(&new)[4..]).await;
    assert!(!done.is_active());
}

#[tokio::test]
async fn a_database_from_a_newer_recplan_is_refused_untouched() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).await.unwrap();
    run(&store, &new_session("standup", "room", 0), &[]).await;
    drop(store);
    let newer = SCHEMA_VERSION + 1;
    raw(temp.path())
        .pragma_update(None, "user_version", newer)
        .unwrap();
    let error = Store::open(temp.path()).await.unwrap_err();
    assert!(
        matches!(error, StoreError::TooNew { found, supported } if found == newer && supported == SCHEMA_VERSION),
        "{error}"
    );
    assert!(
        error.to_string().contains("newer than this recplan"),
        "{error}"
    );
    assert_eq!(pragma(temp.path(), "user_version"), i64::from(newer));
}

#[tokio::test]
async fn files_that_are_not_recplan_databases_are_refused() {
    let temp = tempfile::tempdir().unwrap();
    raw(temp.path())
        .execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
        .unwrap();
    let error = Store::open(temp.path()).await.unwrap_err();
    assert!(matches!(error, StoreError::Foreign { .. }), "{error}");

    let temp = tempfile::tempdir().unwrap();
    std::fs::write(
        temp.path().join(DB_FILE),
        "name: not a database\n".repeat(100),
    )
    .unwrap();
    let error = Store::open(temp.path()).await.unwrap_err();
    assert!(matches!(error, StoreError::Open { .. }), "{error}");
}

#[tokio::test]
async fn history_rows_cannot_be_rewritten() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).await.unwrap();
    run(&store, &new_session("standup", "room", 0), &[]).await;
    let conn = raw(temp.path());
    for sql in ["UPDATE events SET kind = 'x'", "DELETE FROM events"] {
        let error = conn.execute(sql, []).unwrap_err();
        assert!(error.to_string().contains("append-only"), "{sql}: {error}");
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    dir.join(format!("{DB_FILE}{suffix}"))
}

#[cfg(unix)]
#[tokio::test]
async fn the_state_is_readable_by_its_owner_only() {
    let temp = tempfile::tempdir().unwrap();
    set_mode(temp.path(), 0o755);
    let dir = temp.path().join("state");
    let store = Store::open(&dir).await.unwrap();
    run(&store, &new_session("standup", "room", 0), &[]).await;
    assert_eq!(mode(&dir), 0o700);
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode(&sibling(&dir, suffix)), 0o600, "{DB_FILE}{suffix}");
    }
    drop(store);
    // Loosened since (by hand, or written under an older build): tightened
    // again on the next open.
    set_mode(&dir, 0o755);
    set_mode(&sibling(&dir, ""), 0o644);
    std::fs::write(sibling(&dir, "-wal"), "").unwrap();
    set_mode(&sibling(&dir, "-wal"), 0o666);
    let store = Store::open(&dir).await.unwrap();
    assert_eq!(mode(&dir), 0o700);
    for suffix in ["", "-wal"] {
        assert_eq!(mode(&sibling(&dir, suffix)), 0o600, "{DB_FILE}{suffix}");
    }
    drop(store);
    // A directory that holds no store is someone else's: left as it is.
    assert_eq!(mode(temp.path()), 0o755);
    let shared = temp.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    set_mode(&shared, 0o755);
    Store::open(&shared).await.unwrap();
    assert_eq!(mode(&shared), 0o755);
    assert_eq!(mode(&sibling(&shared, "")), 0o600);
}

/// Environment variables, by name.
type Vars<'a> = &'a [(&'a str, &'a str)];

#[test]
fn the_state_directory_follows_the_environment() {
    let home = "/home/ada";
    let cases: [(Vars, Option<&str>); 6] = [
        (
            &[
                ("RECPLAN_STATE_DIR", "/srv/recplan"),
                ("XDG_STATE_HOME", "/x"),
                ("HOME", home),
            ],
            Some("/srv/recplan"),
        ),
        (
            &[("XDG_STATE_HOME", "/var/state"), ("HOME", home)],
            Some("/var/state/recplan"),
        ),
        (
            &[("XDG_STATE_HOME", "relative/state"), ("HOME", home)],
            Some("/home/ada/.local/state/recplan"),
        ),
        (
            &[
                ("RECPLAN_STATE_DIR", ""),
                ("XDG_STATE_HOME", ""),
                ("HOME", home),
            ],
            Some("/home/ada/.local/state/recplan"),
        ),
        (&[("HOME", "")], None),
        (&[], None),
    ];
    for (vars, expected) in cases {
        let vars: HashMap<&str, &str> = vars.iter().copied().collect();
        let found = default_dir(|name| vars.get(name).map(OsString::from));
        match expected {
            Some(path) => assert_eq!(found.unwrap(), Path::new(path), "{vars:?}"),
            None => assert!(matches!(found, Err(StoreError::NoStateDir)), "{vars:?}"),
        }
    }
}

const SECRET_PLAN: &str = r#"
name: secret-plan
mode: composite
schedule: {duration: 30m}
channels:
  - {cname: planted-channel, uid: "527841", backup_uid: "527842"}
start:
  token: "{{env.AGORA_RTC_TOKEN}}"
  storageConfig:
    vendor: 1
    region: 0
    bucket: rec
    accessKey: "{{env.S3_ACCESS_KEY}}"
    secretKey: "{{env.S3_SECRET_KEY}}"
  recordingConfig:
    channelType: 0
    maxIdleTime: 300
    transcodingConfig: {width: 640, height: 360, mixedVideoLayout: 1}
  recordingFileConfig: {avFileType: [hls]}
steps:
  - at: 2m
    updateLayout: {mixedVideoLayout: 2, maxResolutionUid: "1001"}
"#;

/// Values that look like secrets and occur nowhere else.
const SECRETS: [(&str, &str); 3] = [
    ("AGORA_RTC_TOKEN", "007eJxTYPl4nt3d-rtc-token-5e1f0c"),
    ("S3_ACCESS_KEY", "AKIAPLANTEDACCESS7Q2Z"),
    ("S3_SECRET_KEY", "pl4nted/S3cret+Key/9d8c7b6a5f4e3d2c1b0a"),
];

#[tokio::test]
async fn no_secret_the_runner_holds_reaches_the_database_files() {
    let env = SECRETS.iter().fold(
        Env::default().with("AGORA_APP_ID", crate::support::APP_ID),
        |env, (name, value)| env.with(*name, *value),
    );
    let now: DateTime<Utc> = super::at(0);
    let options = Options {
        env: env.clone(),
        missing_env: MissingEnv::Refuse,
        now,
    };
    let plan = validate(Source::from_text("secret-plan.yaml", SECRET_PLAN), &options)
        .unwrap()
        .plan;
    let occurrence = plan.occurrence(plan.localize(now), &env, None).unwrap();
    let rendered = serde_json::to_string(&occurrence).unwrap();
    for (name, secret) in SECRETS {
        assert!(
            rendered.contains(secret),
            "the planted {name} reaches the rendered session"
        );
    }

    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).await.unwrap();
    let spec = &occurrence.sessions[0];
    let new = NewSession::of(&occurrence, spec, plan.content_hash());
    assert_eq!(
        (new.step_count, new.scheduled_end - new.scheduled_start),
        (1, chrono::TimeDelta::minutes(30))
    );
    let mut transitions = script(&new);
    transitions.truncate(4);
    transitions.extend([
        Transition::StepIntent { index: 0 },
        Transition::StepDone {
            index: 0,
            outcome: "failed: 400 invalid parameter".to_owned(),
            late_ms: None,
        },
        Transition::Failed {
            reason: "query: 500".to_owned(),
        },
        Transition::StopIntent,
        Transition::Stopped {
            files: vec!["planted-channel.m3u8".to_owned()],
            uploading_status: None,
            outcome: recplan::store::Outcome::Completed,
        },
    ]);
    run(&store, &new, &transitions).await;

    // Every byte SQLite wrote, with the store still open: most of it is
    // still in the WAL.
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(content) = std::fs::read(sibling(temp.path(), suffix)) {
            bytes.extend(content);
        }
    }
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains("planted-channel"),
        "the files are searched where the data is"
    );
    assert!(contains(plan.content_hash()));
    for (name, secret) in SECRETS {
        assert!(
            !contains(secret),
            "{name} was written to the state database"
        );
    }
}

/// The directory [`open_child`] opens the store in.
const OPEN_CHILD_DIR: &str = "RECPLAN_TEST_OPEN_DIR";

/// Not a test: one process opening (so creating) the store in
/// [`OPEN_CHILD_DIR`], for the test below.
#[tokio::test]
#[ignore = "processes_opening_a_new_directory_at_once_all_succeed runs it in child processes"]
async fn open_child() {
    let Some(dir) = std::env::var_os(OPEN_CHILD_DIR) else {
        return;
    };
    Store::open(Path::new(&dir)).await.unwrap();
}

/// Regression: of two daemons opening a new state directory at once, one
/// exited `database is locked`. The window is a few milliseconds wide, so
/// many rounds of processes started a little apart look for it.
#[test]
fn processes_opening_a_new_directory_at_once_all_succeed() {
    use rand::Rng as _;
    let mut rng = rand::rng();
    for _ in 0..20 {
        let temp = tempfile::tempdir().unwrap();
        let mut children = Vec::new();
        for _ in 0..4 {
            std::thread::sleep(std::time::Duration::from_millis(rng.random_range(0..8)));
            children.push(
                std::process::Command::new(std::env::current_exe().unwrap())
                    .args([
                        "store::files::open_child",
                        "--exact",
                        "--ignored",
                        "--test-threads=1",
                    ])
                    .env(OPEN_CHILD_DIR, temp.path().join("state"))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
        }
        for child in children {
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("1 passed"),
                "{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(temp.path().join("state").join(DB_FILE).exists());
    }
}

fn lease_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("leases"))
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Regression: a lease file was kept for every session ever run.
#[tokio::test]
async fn a_lease_file_lives_as_long_as_its_lease() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).await.unwrap();
    let new = new_session("standup", "room", 0);
    let id = run(&store, &new, &[]).await.id;
    let lease = store.lease(id).await.unwrap().expect("free");
    assert_eq!(lease_files(temp.path()), [format!("{id}.lock")]);
    drop(lease);
    assert!(lease_files(temp.path()).is_empty());
    // Taken again, it is made again.
    let again = store.lease(id).await.unwrap().expect("free again");
    assert_eq!(lease_files(temp.path()), [format!("{id}.lock")]);
    drop(again);
}

#[tokio::test]
async fn opening_a_store_sweeps_lease_files_their_holders_left() {
    let temp = tempfile::tempdir().unwrap();
    let leases = temp.path().join("leases");
    std::fs::create_dir_all(&leases).unwrap();
    // Left by processes that died, and one a live process holds.
    for id in [1, 2, 3] {
        std::fs::write(leases.join(format!("{id}.lock")), "").unwrap();
    }
    let live = std::fs::OpenOptions::new()
        .write(true)
        .open(leases.join("3.lock"))
        .unwrap();
    live.lock().unwrap();

    let store = Store::open(temp.path()).await.unwrap();
    assert_eq!(lease_files(temp.path()), ["3.lock"]);
    // The live holder keeps its lease.
    assert!(
        store
            .lease(recplan::store::SessionId(3))
            .await
            .unwrap()
            .is_none()
    );
    drop(live);
    assert!(
        store
            .lease(recplan::store::SessionId(3))
            .await
            .unwrap()
            .is_some()
    );
}
