//! What is PostgreSQL's own: its schema's marks and versions, tables that
//! are not recplan's, the append-only history, a lease that outlives a cut
//! connection, a lock held by another program, `--state` on the command
//! line, a URL's password kept out of every message, and runners on
//! several machines sharing one store. The tests that need a server are
//! ignored, with that reason, without `RECPLAN_TEST_POSTGRES`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DurationRound, TimeDelta, Utc};
use recplan::sim::{self, SimConfig, SimHandle, Simulator};
use recplan::store::{Driving, Phase, SCHEMA_VERSION, Store, StoreError};

use super::place::{POSTGRES_VAR, Schema};
use super::{Place, at, new_session, run, script};

/// A fresh schema in the database `RECPLAN_TEST_POSTGRES` names.
fn schema() -> Schema {
    match Place::postgres() {
        Place::Postgres(schema) => schema,
        Place::Sqlite(_) => unreachable!("a PostgreSQL place"),
    }
}

fn meta(schema: &Schema, key: &str) -> Option<String> {
    schema
        .query(&format!(
            "SELECT value FROM recplan_meta WHERE key = '{key}'"
        ))
        .unwrap()
        .pop()
        .flatten()
}

#[tokio::test]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn a_fresh_schema_is_migrated_marked_and_reopened() {
    let schema = schema();
    let store = Store::open_url(&schema.url).await.unwrap();
    assert_eq!(store.path(), None);
    let new = new_session("standup", "room", 0);
    let written = run(&store, &new, &script(&new)[..4]).await;
    drop(store);
    assert_eq!(meta(&schema, "application").as_deref(), Some("recplan"));
    assert_eq!(
        meta(&schema, "schema_version"),
        Some(SCHEMA_VERSION.to_string())
    );
    let store = Store::open_url(&schema.url).await.unwrap();
    assert_eq!(store.get(written.id).await.unwrap(), Some(written.clone()));
    assert_eq!(store.events(written.id).await.unwrap().len(), 5);
}

#[tokio::test]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn a_schema_from_a_newer_recplan_is_refused_untouched() {
    let schema = schema();
    drop(Store::open_url(&schema.url).await.unwrap());
    let newer = SCHEMA_VERSION + 1;
    schema
        .query(&format!(
            "UPDATE recplan_meta SET value = '{newer}' WHERE key = 'schema_version'"
        ))
        .unwrap();
    let error = Store::open_url(&schema.url).await.unwrap_err();
    assert!(
        matches!(error, StoreError::TooNew { found, supported } if found == newer && supported == SCHEMA_VERSION),
        "{error}"
    );
    assert_eq!(meta(&schema, "schema_version"), Some(newer.to_string()));
}

#[tokio::test]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn tables_that_are_not_recplans_are_refused() {
    let schema = schema();
    schema
        .query("CREATE TABLE sessions (id integer PRIMARY KEY)")
        .unwrap();
    let error = Store::open_url(&schema.url).await.unwrap_err();
    assert!(matches!(error, StoreError::ForeignSchema { .. }), "{error}");
    assert!(error.to_string().contains("search_path"), "{error}");
}

#[tokio::test]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn history_rows_cannot_be_rewritten() {
    let schema = schema();
    let store = Store::open_url(&schema.url).await.unwrap();
    run(&store, &new_session("standup", "room", 0), &[]).await;
    for sql in [
        "UPDATE events SET kind = 'x'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let error = schema.query(sql).unwrap_err();
        assert!(
            error
                .as_db_error()
                .is_some_and(|db| db.message() == "events are append-only"),
            "{sql}: {error:?}"
        );
    }
}

/// Advisory locks granted on session `id` of the schema's store.
fn locks_on(schema: &Schema, id: i64) -> usize {
    let count = schema
        .query(&format!(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND classid = 'sessions'::regclass::oid AND objid = {id} AND objsubid = 2"
        ))
        .unwrap()
        .pop()
        .flatten()
        .unwrap();
    count.parse().unwrap()
}

#[tokio::test]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn a_lease_is_taken_again_when_its_connection_is_cut() {
    let schema = schema();
    // Named, so that only this store's connections are cut.
    let name = format!("{}_cut", schema.name);
    let mine = Store::open_url(&format!("{}&application_name={name}", schema.url))
        .await
        .unwrap();
    let theirs = Store::open_url(&schema.url).await.unwrap();
    let id = mine
        .begin(&new_session("cut", "room", 0), at(0))
        .await
        .unwrap()
        .id();
    let _lease = mine.lease(id).await.unwrap().expect("free at first");
    assert_eq!(locks_on(&schema, id.0), 1);

    // The lease connection's name is the store's, then `pid@host`.
    let cut: Vec<String> = schema
        .query(&format!(
            "SELECT pid::text FROM pg_stat_activity WHERE split_part(application_name, ' ', 1) = '{name}'"
        ))
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(cut.len(), 2, "the store's two connections: {cut:?}");
    let pids = cut.join(",");
    schema
        .query(&format!(
            "SELECT pg_terminate_backend(pid)::text FROM unnest(ARRAY[{pids}]) AS pid"
        ))
        .unwrap();
    // pg_terminate_backend only signals: until the old backends are gone
    // their lock may still be seen.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !schema
        .query(&format!(
            "SELECT pid::text FROM pg_stat_activity WHERE pid IN ({pids})"
        ))
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the cut connections lingered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The lease task reconnects by itself and locks the session again.
    while locks_on(&schema, id.0) == 0 {
        assert!(Instant::now() < deadline, "the lease was never taken again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(theirs.lease(id).await.unwrap().is_none(), "still held");
    // And the store's own connection is made again on its next call.
    assert_eq!(mine.get(id).await.unwrap().map(|s| s.id), Some(id));
}

#[tokio::test]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn a_lock_another_program_holds_is_driven_by_an_unnamed_process() {
    let schema = schema();
    let store = Store::open_url(&schema.url).await.unwrap();
    let id = store
        .begin(&new_session("held", "room", 0), at(0))
        .await
        .unwrap()
        .id();
    let (other, connection) = tokio_postgres::connect(
        &format!("{}&application_name=psql", schema.url),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    other
        .execute(
            "SELECT pg_advisory_lock('sessions'::regclass::oid::int4, $1)",
            &[&i32::try_from(id.0).unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(store.driving(id).await.unwrap(), Driving::By(None));
    assert!(
        store.lease(id).await.unwrap().is_none(),
        "held all the same"
    );
}

#[tokio::test]
async fn state_urls_keep_their_password_out_of_every_message() {
    const PASSWORD: &str = "pl4nted-Pa55word";
    // Nothing listens on port 1: the connection is refused at once.
    let unreachable = format!("postgres://ada:{PASSWORD}@127.0.0.1:1/recplan");
    let error = Store::open_url(&unreachable).await.unwrap_err();
    let (message, debug) = (error.to_string(), format!("{error:?}"));
    assert!(matches!(error, StoreError::Connect { .. }), "{message}");
    assert!(
        message.contains("postgres://ada@127.0.0.1:1/recplan"),
        "names where: {message}"
    );
    let malformed = format!("postgres://ada:{PASSWORD}@db.example:port/recplan");
    let not_postgres = format!("mysql://ada:{PASSWORD}@db.example/recplan");
    for url in [&malformed, &not_postgres] {
        let error = Store::open_url(url).await.unwrap_err();
        assert!(matches!(error, StoreError::Url { .. }), "{error}");
        assert!(!error.to_string().contains(PASSWORD), "{error}");
    }
    assert!(!message.contains(PASSWORD), "{message}");
    assert!(!debug.contains(PASSWORD), "{debug}");

    let recplan = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_recplan"))
            .args(args)
            .env("RECPLAN_STATE", &unreachable)
            .env_remove("RECPLAN_STATE_DIR")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (code, output) = recplan(&["status"]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("cannot connect"), "{output}");
    let (code, help) = recplan(&["status", "--help"]);
    assert_eq!(code, Some(0), "{help}");
    assert!(help.contains("--state <URL>"), "{help}");
    for output in [output, help] {
        assert!(!output.contains(PASSWORD), "{output}");
    }
}

#[tokio::test]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn a_connected_store_shows_where_it_is_but_not_its_password() {
    let schema = schema();
    // Trust authentication, as the test servers use, ignores a password.
    let Some((scheme_user, rest)) = schema.url.split_once('@') else {
        eprintln!("note: {POSTGRES_VAR} names no user: nothing to plant a password in");
        return;
    };
    if scheme_user.matches(':').count() > 1 {
        eprintln!("note: {POSTGRES_VAR} has a password of its own");
        return;
    }
    let store = Store::open_url(&format!("{scheme_user}:pl4nted-Pa55word@{rest}"))
        .await
        .unwrap();
    let debug = format!("{store:?}");
    assert!(debug.contains("postgres://"), "{debug}");
    assert!(!debug.contains("pl4nted"), "{debug}");
}

#[tokio::test]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn status_reads_the_store_given_by_state() {
    let schema = schema();
    let store = Store::open_url(&schema.url).await.unwrap();
    let new = new_session("standup", "cli-room", 0);
    let recording = run(&store, &new, &script(&new)[..4]).await;
    let output = Command::new(env!("CARGO_BIN_EXE_recplan"))
        .args(["status", "--json", "--state", &schema.url])
        // Ignored: --state takes precedence.
        .env("RECPLAN_STATE_DIR", "/nonexistent/recplan")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["active"][0]["cname"], "cli-room");
    assert_eq!(status["active"][0]["sid"], recording.sid.unwrap());
}

const SHARED_PLAN: &str = r#"
name: shared
mode: individual
schedule: {duration: 15s}
channels: [{cname: shared-room, uid: "777101", backup_uid: "777102"}]
start:
  token: tok
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingConfig: {channelType: 0, maxIdleTime: 600, subscribeUidGroup: 0}
"#;

/// `recplan run` of the shared plan's occurrence at `start`, against the
/// simulator, on the store at `url`; its stderr lines arrive on the
/// receiver.
fn spawn_run(
    sim: &SimHandle,
    url: &str,
    plan: &std::path::Path,
    start: &str,
) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_recplan"))
        .args(["run", plan.to_str().unwrap(), "--at", start, "--state", url])
        .env("AGORA_API_BASE", sim.uri())
        .env("AGORA_APP_ID", sim::DEMO_APP_ID)
        .env("AGORA_CUSTOMER_ID", sim::DEMO_CUSTOMER_ID)
        .env("AGORA_CUSTOMER_SECRET", sim::DEMO_CUSTOMER_SECRET)
        .env_remove("RECPLAN_STATE_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    (child, seen)
}

/// Waits (bounded) for a line containing `marker`, however long the
/// process runs before printing it.
fn wait_for(seen: &mpsc::Receiver<String>, marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left) {
            Ok(line) if line.contains(marker) => return,
            Ok(_) => {}
            Err(error) => panic!("never saw {marker:?}: {error}"),
        }
    }
}

fn stdout_of(child: Child) -> (Option<i32>, String) {
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// Two runners of one occurrence (two daemons, or a CronJob and a manual
/// run) record it once; and when the one that drives it is killed, a
/// retry (as Kubernetes retries a Job) resumes its recording rather than
/// starting another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn runners_on_two_machines_record_an_occurrence_once_and_resume_a_dead_ones() {
    let schema = schema();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    // The children are waited for on a blocking thread; the store's calls
    // are made on the test's runtime.
    let runtime = tokio::runtime::Handle::current();
    let sim = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("shared.yaml");
        std::fs::write(&plan, SHARED_PLAN).unwrap();
        let start = Utc::now()
            .duration_trunc(TimeDelta::seconds(1))
            .unwrap()
            .to_rfc3339();

        let (first, first_seen) = spawn_run(&sim, &schema.url, &plan, &start);
        wait_for(&first_seen, "Confirming: started");
        // Its stderr is read to the end, as a pipe closed early would
        // fail its writes.
        let (second, _second_seen) = spawn_run(&sim, &schema.url, &plan, &start);
        let (_, second_out) = stdout_of(second);
        assert!(
            second_out.contains("skipped") && second_out.contains("driven by another process"),
            "{second_out}"
        );

        let mut first = first;
        first.kill().unwrap();
        first.wait().unwrap();
        let store = runtime.block_on(Store::open_url(&schema.url)).unwrap();
        let active = runtime.block_on(store.active()).unwrap();
        let id = active.last().expect("left active").id;
        // Once the server has seen the connection close, the lease is free.
        let deadline = Instant::now() + Duration::from_secs(10);
        while locks_on(&schema, id.0) > 0 {
            assert!(Instant::now() < deadline, "the dead runner's lease stays");
            std::thread::sleep(Duration::from_millis(20));
        }
        let (retry, retry_seen) = spawn_run(&sim, &schema.url, &plan, &start);
        wait_for(&retry_seen, "recovered 1 session(s) left by an earlier run");
        let (code, retry_out) = stdout_of(retry);
        assert_eq!(code, Some(0), "{retry_out}");
        assert!(runtime.block_on(store.active()).unwrap().is_empty());
        let stored = runtime.block_on(store.get(id)).unwrap().unwrap();
        assert_eq!(stored.phase, Phase::Completed);
        sim
    })
    .await
    .unwrap();
    let requests = sim.requests();
    let started = requests
        .iter()
        .filter(|r| r.path.ends_with("/start") && r.status.is_some_and(|s| s.as_u16() == 200))
        .count();
    assert_eq!(started, 1, "one recording, started once");
    assert!(requests.iter().any(|r| r.path.ends_with("/stop")));
}
