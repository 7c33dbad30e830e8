//! What operators reach for first, through the real binary: `next` over
//! many plans, `status` with its driver and orphaned sessions, `run`'s
//! live display and a forced exit.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use recplan::sim::{self, Endpoint, Fault, SimConfig, SimHandle, Simulator};
use recplan::store::Store;
use serde_json::Value;

use crate::everyday::{history_store, path_arg, recplan};
use crate::store::Place;

/// A plan paused in its file, every morning at seven.
const PAUSED_PLAN: &str = r#"
name: quiet-hours
mode: composite
schedule: {cron: "0 7 * * *", duration: 10m, paused: true}
channels: [{cname: room, uid: "1001"}]
start:
  storageConfig: {vendor: 1, region: 0, bucket: rec, accessKey: AK, secretKey: SK}
  recordingConfig: {channelType: 0}
"#;

/// `history_store`'s sessions (weekly-standup stopped on 11-27 and 11-28,
/// classrooms failed on 11-28 and still recording on 11-29), with
/// classrooms paused through the control API.
async fn store_with_a_paused_plan() -> tempfile::TempDir {
    let dir = history_store().await;
    let store = Store::open(dir.path()).await.unwrap();
    store
        .set_paused("classrooms", true, "2026-11-29T12:00:00Z".parse().unwrap())
        .await
        .unwrap();
    dir
}

fn paused_plan_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("quiet-hours.yaml"), PAUSED_PLAN).unwrap();
    dir
}

// ---- next ----

#[tokio::test]
async fn next_lists_a_directory_of_plans_like_list_timers() {
    let state = store_with_a_paused_plan().await;
    let paused = paused_plan_dir();
    let run = recplan(
        &[
            "next",
            "plans/",
            path_arg(paused.path()),
            "-n",
            "2",
            "--after",
            "2026-11-30T00:00:00Z",
            "--state-dir",
            path_arg(state.path()),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    insta::assert_snapshot!("next_table", run.stdout);
}

#[tokio::test]
async fn next_json_names_every_plan_with_its_starts_and_last_occurrence() {
    let state = store_with_a_paused_plan().await;
    let paused = paused_plan_dir();
    let run = recplan(
        &[
            "next",
            "plans/",
            path_arg(paused.path()),
            "--json",
            "-n",
            "3",
            "--after",
            "2026-11-30T00:00:00Z",
            "--state-dir",
            path_arg(state.path()),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let plans: Vec<Value> = serde_json::from_str(&run.stdout).expect("a JSON array");
    let names: Vec<&str> = plans.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "weekly-standup",
            "dashboard-web",
            "classrooms",
            "demo",
            "quiet-hours"
        ],
        "by next start, then the rest by name"
    );
    for plan in &plans {
        let keys: Vec<&str> = plan
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["name", "path", "paused", "pausedBy", "next", "last"],
            "{plan}"
        );
        for start in plan["next"].as_array().unwrap() {
            let start = start.as_str().unwrap();
            assert!(DateTime::parse_from_rfc3339(start).is_ok(), "{start}");
        }
    }
    let standup = &plans[0];
    assert_eq!(
        standup["next"],
        serde_json::json!([
            "2026-11-30T09:00:00+01:00",
            "2026-12-01T09:00:00+01:00",
            "2026-12-02T09:00:00+01:00"
        ])
    );
    assert_eq!(
        standup["last"],
        serde_json::json!({"start": "2026-11-28T10:00:00+01:00", "result": "completed", "sessions": [2]})
    );
    let classrooms = &plans[2];
    assert_eq!(classrooms["paused"], true);
    assert_eq!(classrooms["pausedBy"], "control_api");
    assert_eq!(classrooms["next"], serde_json::json!([]));
    assert_eq!(classrooms["last"]["result"], "active (recording)");
    let quiet = &plans[4];
    assert_eq!(quiet["pausedBy"], "plan");
    assert_eq!(quiet["last"], Value::Null);
}

#[test]
fn next_of_one_paused_plan_says_so_instead_of_printing_nothing() {
    let paused = paused_plan_dir();
    let plan = paused.path().join("quiet-hours.yaml");
    let run = recplan(&["next", path_arg(&plan)], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "", "one start per line, and none is due");
    assert!(
        run.stderr
            .contains("quiet-hours.yaml: paused (plan file): no start is scheduled"),
        "{}",
        run.stderr
    );
}

#[test]
fn next_reads_the_store_only_where_there_is_one() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("state");
    let run = recplan(
        &[
            "next",
            "plans/",
            "--after",
            "2026-11-30T00:00:00Z",
            "--state-dir",
            path_arg(&missing),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("PLAN "), "{}", run.stdout);
    assert!(
        run.stdout.ends_with("\n4 plans listed.\n"),
        "{}",
        run.stdout
    );
    assert!(!missing.exists(), "next created the state directory");
}

// ---- status ----

#[tokio::test]
async fn status_lists_oldest_first_under_a_header_with_orphans_marked() {
    let state = history_store().await;
    let run = recplan(&["status", "--state-dir", path_arg(state.path())], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    // The recording session was written by no live process: orphaned.
    insta::assert_snapshot!("status_table", run.stdout);

    let json = recplan(
        &["status", "--json", "--state-dir", path_arg(state.path())],
        &[],
    );
    let json: Value = serde_json::from_str(&json.stdout).expect("status --json prints JSON");
    let recent: Vec<i64> = json["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(recent, [1, 2, 3], "oldest first");
    let active = &json["active"][0];
    assert_eq!(active["id"], 4);
    assert_eq!(active["state"], "orphaned");
    assert_eq!(active["orphaned"], true);
    assert_eq!(active["driver"], Value::Null);
}

#[test]
fn reading_a_missing_store_says_so_and_creates_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("state");
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["stop", "1"],
        &["stop", "--all"],
        &["history"],
        &["history", "--json"],
    ] {
        let mut args = args.to_vec();
        args.extend(["--state-dir", path_arg(&missing)]);
        let run = recplan(&args, &[]);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert_eq!(run.stdout, "", "{args:?}");
        assert!(
            run.stderr.contains(&format!(
                "error: no state store in {}: nothing has run with it yet",
                missing.display()
            )),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!missing.exists(), "{args:?} created the state directory");
    }
    // The default directory too: $XDG_STATE_HOME/recplan.
    let run = recplan(&["status"], &[("XDG_STATE_HOME", path_arg(parent.path()))]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(!missing.exists() && !parent.path().join("recplan").exists());
}

/// A run long enough to look at while it records.
const LONG_PLAN: &str = r#"
name: watched
mode: individual
schedule: {duration: 60s}
channels: [{cname: watched-room, uid: "778001"}]
start:
  token: tok
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingConfig: {channelType: 0, maxIdleTime: 600, subscribeUidGroup: 0}
"#;

/// The real binary against `handle`, with its state in `state`.
pub(crate) fn against(handle: &SimHandle, state: &Path, args: &[&str]) -> Command {
    on_store(handle, &state_dir(state), args)
}

/// `--state-dir DIR`, as [`on_store`] takes it.
fn state_dir(dir: &Path) -> Vec<OsString> {
    vec!["--state-dir".into(), dir.into()]
}

/// The real binary against `handle`, on the store `state` names
/// (`--state-dir DIR` or `--state URL`).
fn on_store(handle: &SimHandle, state: &[OsString], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recplan"));
    command
        .args(args)
        .args(state)
        .env("AGORA_API_BASE", handle.uri())
        .env("AGORA_APP_ID", sim::DEMO_APP_ID)
        .env("AGORA_CUSTOMER_ID", sim::DEMO_CUSTOMER_ID)
        .env("AGORA_CUSTOMER_SECRET", sim::DEMO_CUSTOMER_SECRET)
        .env_remove("RECPLAN_STATE_DIR")
        .env_remove("RECPLAN_STATE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A started `run`, its stderr lines as they come.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command.spawn().expect("the binary runs");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (on the real process, bounded) for `count` lines holding
    /// `marker`.
    fn wait_for(&mut self, marker: &str, count: usize) {
        let mut found = 0;
        while found < count {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    found += usize::from(line.contains(marker));
                    self.seen.push(line);
                }
                Err(error) => panic!(
                    "never saw {marker:?} {count} times ({error}): {:#?}",
                    self.seen
                ),
            }
        }
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    }

    /// Its exit code and every stderr line.
    fn finish(mut self) -> (Option<i32>, Vec<String>) {
        let status = self.child.wait().expect("the binary exits");
        self.seen.extend(self.lines.iter());
        (status.code(), self.seen)
    }
}

fn status_json(handle: &SimHandle, state: &[OsString]) -> Value {
    let output = on_store(handle, state, &["status", "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).expect("status --json prints JSON")
}

/// A `run` on the store `state` names: `status` and `stop` name it
/// (`pid@host`) while it lives, and call its session orphaned once it is
/// killed.
async fn the_driver_is_named_until_it_is_killed(state: Vec<OsString>) {
    let handle = Simulator::start(SimConfig::default()).await.unwrap();
    let handle = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("watched.yaml");
        std::fs::write(&plan, LONG_PLAN).unwrap();
        let mut run = Running::start(on_store(
            &handle,
            &state,
            &["run", path_arg(&plan), "--now"],
        ));
        run.wait_for("Confirming: started", 1);
        let driver = format!("{}@", run.child.id());

        let status = status_json(&handle, &state);
        let session = &status["active"][0];
        assert_eq!(session["state"], "recording", "{status}");
        assert!(
            session["driver"].as_str().unwrap().starts_with(&driver),
            "{status}"
        );
        let text = on_store(&handle, &state, &["status"]).output().unwrap();
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(text.starts_with("ID  PLAN "), "{text}");
        assert!(text.contains(&driver), "{text}");

        let stop = on_store(&handle, &state, &["stop", "1"]).output().unwrap();
        assert_eq!(stop.status.code(), Some(1));
        let said = String::from_utf8(stop.stderr).unwrap();
        assert!(
            said.contains(&format!(
                "session 1 is driven by a live recplan process ({driver}"
            )),
            "{said}"
        );

        run.signal("-KILL");
        let _ = run.finish();
        // The kernel closes a dead process's files and sockets at once, but
        // PostgreSQL frees its locks only once its backend has seen the
        // socket close: asked again until then, within a bound.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let status = loop {
            let status = status_json(&handle, &state);
            if status["active"][0]["orphaned"] == true {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still driven after a kill: {status}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let session = &status["active"][0];
        assert_eq!(session["state"], "orphaned", "{status}");
        assert_eq!(session["driver"], Value::Null);
        let text = on_store(&handle, &state, &["status"]).output().unwrap();
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(text.contains("orphaned — run `recplan recover`"), "{text}");
        // And stop takes it over: stopped at once, since it goes through
        // the same lease.
        let stopped = on_store(&handle, &state, &["stop", "1"]).output().unwrap();
        assert_eq!(stopped.status.code(), Some(0), "{stopped:?}");
        handle
    })
    .await
    .unwrap();
    drop(handle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_names_the_driver_and_an_orphan_once_it_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    the_driver_is_named_until_it_is_killed(state_dir(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn status_names_the_driver_and_an_orphan_once_it_is_killed_on_postgres() {
    let place = Place::postgres();
    the_driver_is_named_until_it_is_killed(vec!["--state".into(), place.location()]).await;
}

// ---- run ----

/// Seven seconds (the recording is confirmed at five), a step at two.
const STEPPED_PLAN: &str = r#"
name: stepped
mode: individual
schedule: {duration: 7s}
channels: [{cname: stepped-room, uid: "779001"}]
start:
  token: tok
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingConfig: {channelType: 0, maxIdleTime: 600, subscribeUidGroup: 0}
steps:
  - at: 2s
    update: {streamSubscribe: {audioUidList: {subscribeAudioUids: ["1001"]}}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_announces_steps_and_shows_time_in_whole_seconds() {
    let handle = Simulator::start(SimConfig::default()).await.unwrap();
    let handle = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("stepped.yaml");
        std::fs::write(&plan, STEPPED_PLAN).unwrap();
        let text = against(&handle, dir.path(), &["run", path_arg(&plan), "--now"])
            .output()
            .unwrap();
        assert_eq!(text.status.code(), Some(0), "{text:?}");
        let stderr = String::from_utf8(text.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().collect();
        // Nothing gone yet, all of it left: not 6s.
        assert!(
            lines[0].starts_with("elapsed 0s, 7s left  stepped-room/779001: "),
            "{stderr}"
        );
        let step = lines
            .iter()
            .find(|line| line.contains("+2s update sent ("))
            .unwrap_or_else(|| panic!("the step is announced: {stderr}"));
        assert!(step.starts_with("elapsed 2s, 5s left"), "{step}");
        assert!(step.contains(" ms late); no more steps"), "{step}");
        assert!(!stderr.contains("[+"), "{stderr}");

        let stdout = String::from_utf8(text.stdout).unwrap();
        let summary = stdout.lines().next().unwrap();
        // `plan stepped: 2026-12-04T14:44:17+00:00 to 2026-12-04T14:44:24+00:00`
        let times: Vec<&str> = summary
            .trim_start_matches("plan stepped: ")
            .split(" to ")
            .collect();
        assert_eq!(times.len(), 2, "{summary}");
        for time in times {
            assert_eq!(time.len(), "2026-12-04T14:44:17+00:00".len(), "{summary}");
            assert!(DateTime::parse_from_rfc3339(time).is_ok(), "{summary}");
        }
        assert!(stdout.contains("step +2s update: ok ("), "{stdout}");
        // `  stepped-room uid 779001: completed at 2026-12-04T14:44:24+00:00`
        let ended = stdout
            .lines()
            .find_map(|line| line.split_once(": completed at "))
            .unwrap_or_else(|| panic!("the session's real end: {stdout}"))
            .1;
        assert_eq!(ended.len(), "2026-12-04T14:44:24+00:00".len(), "{stdout}");

        let json = against(
            &handle,
            dir.path(),
            &["run", path_arg(&plan), "--now", "--json"],
        )
        .output()
        .unwrap();
        assert_eq!(json.status.code(), Some(0), "{json:?}");
        let report: Value = serde_json::from_slice(&json.stdout).expect("a JSON summary");
        for time in [
            &report["start"],
            &report["end"],
            &report["sessions"][0]["endedAt"],
        ] {
            // To the millisecond: `2026-12-04T14:44:17.250+00:00`.
            let time = time.as_str().unwrap();
            assert_eq!(time.len(), "2026-12-04T14:44:17.250+00:00".len(), "{time}");
            assert!(DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
        }
        handle
    })
    .await
    .unwrap();
    drop(handle);
}

#[test]
fn run_with_the_simulator_checks_the_plan_and_what_is_due_first() {
    let invalid = recplan(
        &[
            "run",
            "tests/fixtures/plans/invalid/uid-zero.yaml",
            "--now",
            "--sim",
        ],
        &[],
    );
    assert_eq!(invalid.code, 3, "{invalid:?}");
    assert!(
        !invalid.stderr.contains("simulator listening"),
        "{}",
        invalid.stderr
    );
    // Daily, half a day away: nothing is due.
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("later.yaml");
    let hour = (Utc::now() + chrono::TimeDelta::hours(12)).format("%H");
    std::fs::write(
        &plan,
        PAUSED_PLAN
            .replace("0 7 * * *", &format!("0 {hour} * * *"))
            .replace(", paused: true", ""),
    )
    .unwrap();
    let due = recplan(&["run", path_arg(&plan), "--sim"], &[]);
    assert_eq!(due.code, 4, "{due:?}");
    assert!(
        due.stderr.contains("no occurrence is due"),
        "{}",
        due.stderr
    );
    assert!(
        !due.stderr.contains("simulator listening"),
        "{}",
        due.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_names_the_sessions_left_and_how_to_stop_them() {
    let handle = Simulator::start(SimConfig::default()).await.unwrap();
    // Stops hang, so the first Ctrl-C's stop is still in flight.
    handle.inject(Fault::Latency {
        endpoint: Endpoint::Stop,
        delay: Duration::from_secs(20),
    });
    let handle = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("watched.yaml");
        std::fs::write(&plan, LONG_PLAN).unwrap();
        let mut run = Running::start(against(
            &handle,
            dir.path(),
            &["run", path_arg(&plan), "--now"],
        ));
        run.wait_for("Confirming: started", 1);
        run.signal("-INT");
        run.wait_for("Stopping: stop", 1);
        run.signal("-INT");
        let (code, lines) = run.finish();
        assert_eq!(code, Some(1), "a recording may still run: {lines:#?}");
        let said = lines.join("\n");
        let state = dir.path().display().to_string();
        for expected in [
            "exiting at once with 1 session(s) that may still be recording:".to_owned(),
            "  session 1: watched-room uid 778001 (stopping) resourceId ".to_owned(),
            "stop them now:".to_owned(),
            format!("  recplan stop 1 --state-dir {state}"),
            format!("or let them record to their end: recplan recover --state-dir {state}"),
        ] {
            assert!(said.contains(&expected), "{expected:?} in {said}");
        }
        let recording = &status_json(&handle, &state_dir(dir.path()))["active"][0]["sid"];
        assert!(
            said.contains(&format!(" sid {}", recording.as_str().unwrap())),
            "{said}"
        );
        handle
    })
    .await
    .unwrap();
    drop(handle);
}
