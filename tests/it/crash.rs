//! The real binary killed with SIGKILL at several points of a session, then
//! `recplan recover`: exactly one successful start per occurrence, the
//! remaining steps sent on time, and the recording stopped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use recplan::sim::{Endpoint, Fault, SimConfig, SimHandle, Simulator};

use crate::operator::against as recplan;

const PLAN: &str = r##"
name: crash
mode: individual
schedule: {duration: 20s}
channels: [{cname: crash-room, uid: "777001", backup_uid: "777002"}]
start:
  token: tok
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingConfig: {channelType: 0, maxIdleTime: 600, subscribeUidGroup: 0}
steps:
  - at: 8s
    update: {streamSubscribe: {audioUidList: {subscribeAudioUids: ["1001"]}}}
  - at: 12s
    update: {streamSubscribe: {audioUidList: {subscribeAudioUids: ["#allstream#"]}}}
"##;

/// Starts `recplan run --now` and kills it with SIGKILL once its stderr
/// shows `marker`.
fn run_and_kill_at(handle: &SimHandle, dir: &Path, marker: &str) {
    let plan = dir.join("crash.yaml");
    std::fs::write(&plan, PLAN).unwrap();
    let mut child: Child = recplan(handle, dir, &["run", plan.to_str().unwrap(), "--now"])
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
    // A short wait on a real process, bounded.
    let found = loop {
        match seen.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.contains(marker) => break true,
            Ok(_) => {}
            Err(_) => break false,
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(found, "never saw {marker:?}");
}

/// Runs `recplan recover` to completion and returns its exit code and
/// output.
fn recover(handle: &SimHandle, dir: &Path) -> (Option<i32>, String) {
    let output = recplan(handle, dir, &["recover"]).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

fn ok_count(handle: &SimHandle, endpoint: &str) -> usize {
    handle
        .requests()
        .iter()
        .filter(|r| {
            r.path.ends_with(&format!("/{endpoint}")) && r.status.is_some_and(|s| s.as_u16() == 200)
        })
        .count()
}

async fn crash_and_recover(marker: &'static str, fault: Option<Fault>) -> SimHandle {
    let handle = Simulator::start(SimConfig::default()).await.unwrap();
    if let Some(fault) = fault {
        handle.inject(fault);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let handle = tokio::task::spawn_blocking(move || {
        run_and_kill_at(&handle, &path, marker);
        let (code, output) = recover(&handle, &path);
        assert_eq!(code, Some(0), "{output}");
        let status = recplan(&handle, &path, &["status", "--json"])
            .output()
            .unwrap();
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        assert_eq!(
            status["active"],
            serde_json::json!([]),
            "nothing left active: {output}"
        );
        handle
    })
    .await
    .unwrap();
    assert_eq!(
        ok_count(&handle, "start"),
        1,
        "exactly one recording started"
    );
    let stops = handle
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/stop"))
        .count();
    assert!(stops >= 1, "stop sent");
    handle
}

fn update_offsets(handle: &SimHandle) -> Vec<Duration> {
    let requests = handle.requests();
    let start = requests
        .iter()
        .find(|r| r.path.ends_with("/start"))
        .unwrap()
        .at;
    requests
        .iter()
        .filter(|r| r.path.ends_with("/update"))
        .map(|r| r.at - start)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_starting() {
    let slow = Fault::Latency {
        endpoint: Endpoint::Start,
        delay: Duration::from_secs(2),
    };
    crash_and_recover("Starting: start", Some(slow)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_start() {
    let handle = crash_and_recover("Confirming: started", None).await;
    // Both steps still sent, each once, near its offset.
    let offsets = update_offsets(&handle);
    assert_eq!(offsets.len(), 2, "{offsets:?}");
    assert!(
        offsets[0] >= Duration::from_secs(7) && offsets[0] <= Duration::from_secs(10),
        "{offsets:?}"
    );
    assert!(
        offsets[1] >= Duration::from_secs(11) && offsets[1] <= Duration::from_secs(14),
        "{offsets:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_steps() {
    let handle = crash_and_recover("next update at +12s", None).await;
    let offsets = update_offsets(&handle);
    assert_eq!(
        offsets.len(),
        2,
        "the first step is not sent again: {offsets:?}"
    );
    assert!(
        offsets[1] >= Duration::from_secs(11) && offsets[1] <= Duration::from_secs(14),
        "{offsets:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_stopping() {
    let slow = Fault::Latency {
        endpoint: Endpoint::Stop,
        delay: Duration::from_secs(2),
    };
    crash_and_recover("Stopping: stop", Some(slow)).await;
}
