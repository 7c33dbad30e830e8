//! A daemon that goes away mid-recording — killed, or detached on purpose —
//! and the one that replaces it: the recording is resumed, never started
//! twice, and stopped when the replacement shuts down.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use recplan::sim::{self, SimConfig, SimHandle, Simulator};

/// Due every minute with a generous starting deadline: a daemon starting
/// at any moment finds this minute's occurrence due and starts it late.
const PLAN: &str = r#"
name: replaced
mode: individual
schedule: {cron: "* * * * *", duration: 10m, starting_deadline: 5m, overlap: skip}
channels: [{cname: replaced-room, uid: "880001"}]
start:
  token: tok
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingConfig: {channelType: 0, maxIdleTime: 600, subscribeUidGroup: 0}
"#;

fn daemon(handle: &SimHandle, dir: &Path, extra: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_recplan"))
        .args([
            "daemon",
            dir.join("plans").to_str().unwrap(),
            "--state-dir",
            dir.join("state").to_str().unwrap(),
        ])
        .args(extra)
        .env("AGORA_API_BASE", handle.uri())
        .env("AGORA_APP_ID", sim::DEMO_APP_ID)
        .env("AGORA_CUSTOMER_ID", sim::DEMO_CUSTOMER_ID)
        .env("AGORA_CUSTOMER_SECRET", sim::DEMO_CUSTOMER_SECRET)
        .env("RECPLAN_LOG", "info")
        .stdout(Stdio::null())
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

/// Waits (a few seconds, on a real process) for a log line containing
/// `text`.
fn wait_for(seen: &mpsc::Receiver<String>, text: &str) {
    let mut lines = Vec::new();
    loop {
        match seen.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.contains(text) => return,
            Ok(line) => lines.push(line),
            Err(error) => panic!(
                "never logged {text:?} ({error}); logged:\n{}",
                lines.join("\n")
            ),
        }
    }
}

fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn count(handle: &SimHandle, endpoint: &str) -> usize {
    handle
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&format!("/{endpoint}")))
        .count()
}

/// The first daemon ends (by `end_first`) with its recording still
/// running; a second daemon takes over.
async fn replace(end_first: fn(&mut Child), first_args: &'static [&'static str]) -> SimHandle {
    let handle = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    std::fs::write(dir.path().join("plans/replaced.yaml"), PLAN).unwrap();
    tokio::task::spawn_blocking(move || {
        let (mut first, seen) = daemon(&handle, dir.path(), first_args);
        wait_for(&seen, "recording; no more steps");
        end_first(&mut first);
        first.wait().unwrap();
        assert_eq!(
            count(&handle, "stop"),
            0,
            "the first daemon stopped nothing"
        );

        let (mut second, seen) = daemon(&handle, dir.path(), &[]);
        wait_for(&seen, "resumed, sid");
        terminate(&mut second);
        assert_eq!(second.wait().unwrap().code(), Some(0));
        handle
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_daemon_is_replaced_and_its_recording_resumed() {
    let handle = replace(|child| child.kill().unwrap(), &[]).await;
    assert_eq!(count(&handle, "start"), 1, "never started twice");
    assert_eq!(count(&handle, "stop"), 1, "stopped by the replacement");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_daemon_leaves_its_recording_for_the_next_to_resume() {
    let handle = replace(terminate, &["--detach"]).await;
    assert_eq!(count(&handle, "start"), 1, "never started twice");
    assert_eq!(count(&handle, "stop"), 1, "stopped by the replacement");
}

/// Log lines until `text`, that one included.
fn lines_until(seen: &mpsc::Receiver<String>, text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        match seen.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                let found = line.contains(text);
                lines.push(line);
                if found {
                    return lines;
                }
            }
            Err(error) => panic!(
                "never logged {text:?} ({error}); logged:\n{}",
                lines.join("\n")
            ),
        }
    }
}

/// Once, at `start`'s second, for ten minutes, with a step 15 s in: both
/// daemons find this one occurrence due, whenever the minute turns.
fn resumed_plan(start: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        r#"
name: resumed
mode: individual
schedule: {{cron: "{}", timezone: UTC, duration: 10m, starting_deadline: 5m}}
channels: [{{cname: resumed-room, uid: "880002"}}]
start:
  token: tok
  storageConfig: {{vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}}
  recordingConfig: {{channelType: 0, maxIdleTime: 600, subscribeUidGroup: 0}}
steps:
  - at: 15s
    update: {{streamSubscribe: {{audioUidList: {{subscribeAudioUids: ["1001"]}}}}}}
"#,
        start.format("%-S %-M %-H %-d %-m *")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_occurrence_is_not_finished_while_it_records() {
    use chrono::DurationRound as _;
    let handle = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    let start = (chrono::Utc::now() + chrono::TimeDelta::seconds(2))
        .duration_round_up(chrono::TimeDelta::seconds(1))
        .unwrap();
    std::fs::write(dir.path().join("plans/resumed.yaml"), resumed_plan(start)).unwrap();
    tokio::task::spawn_blocking(move || {
        let (mut first, seen) = daemon(&handle, dir.path(), &[]);
        wait_for(&seen, "recording; next update");
        first.kill().unwrap();
        first.wait().unwrap();

        // The replacement launches the occurrence under way (it is due)
        // while its recovery resumes the recording, which sends the step:
        // the occurrence is not over, whoever drives its session.
        let (mut second, seen) = daemon(&handle, dir.path(), &[]);
        let mut log = lines_until(&seen, "recording; no more steps");
        terminate(&mut second);
        assert_eq!(second.wait().unwrap().code(), Some(0));
        log.extend(seen.try_iter());
        let position = |text: &str| log.iter().position(|line| line.contains(text));
        assert!(
            position("occurrence started").is_some(),
            "the replacement launched the occurrence:\n{}",
            log.join("\n")
        );
        let stopping = position("shutting down").expect("shutdown is logged");
        assert!(
            position("occurrence finished").is_none_or(|finished| finished > stopping),
            "finished while it recorded:\n{}",
            log.join("\n")
        );

        // Stopped by the shutdown before its planned end: interrupted.
        let history = Command::new(env!("CARGO_BIN_EXE_recplan"))
            .args(["history", "--json", "--state-dir"])
            .arg(dir.path().join("state"))
            .env_remove("RECPLAN_STATE")
            .output()
            .unwrap();
        let sessions: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
        assert_eq!(sessions[0]["outcome"], "interrupted", "{sessions:#}");
    })
    .await
    .unwrap();
}
