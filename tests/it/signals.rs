//! The real binary stops what it started when told to stop, and says the
//! sessions were interrupted, when.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `recplan run plans/demo.yaml --now --sim --json` with the state in
/// `state`, sent SIGTERM once both recordings are confirmed; its output
/// and the stderr lines after the signal.
fn run_until_sigterm(state: &Path) -> (Output, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_recplan"))
        .args(["run", "plans/demo.yaml", "--now", "--sim", "--json"])
        .arg("--state-dir")
        .arg(state)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("AGORA_APP_ID")
        .env_remove("AGORA_API_BASE")
        .env_remove("RECPLAN_STATE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // Wait (on the real process, a few seconds) until both recordings are
    // confirmed, then send SIGTERM.
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut recording = 0;
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.expect("stderr is text");
        if line.contains("Recording:") {
            recording += 1;
            if recording == 2 {
                break;
            }
        }
    }
    assert_eq!(recording, 2, "both channels reached recording");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let output = child.wait_with_output().expect("the binary exits");
    (output, rest)
}

#[test]
fn sigterm_during_a_run_stops_every_started_recording() {
    let state = tempfile::tempdir().unwrap();
    let (output, rest) = run_until_sigterm(state.path());
    assert_eq!(output.status.code(), Some(130), "stderr: {rest:#?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON summary");
    let sessions = report["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2);
    for session in sessions {
        assert_eq!(session["outcome"], "interrupted");
        assert_eq!(
            session["uploadingStatus"], "uploaded",
            "stop was sent and answered"
        );
    }
}

fn time(value: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .unwrap_or_else(|| panic!("{value} is not an RFC 3339 time"))
        .to_utc()
}

#[test]
fn an_interrupted_run_is_interrupted_in_history_with_its_real_end() {
    let state = tempfile::tempdir().unwrap();
    let (output, rest) = run_until_sigterm(state.path());
    assert_eq!(output.status.code(), Some(130), "stderr: {rest:#?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON summary");
    let planned_end = time(&report["end"]);

    let history = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_recplan"))
            .arg("history")
            .args(args)
            .arg("--state-dir")
            .arg(state.path())
            .env_remove("RECPLAN_STATE")
            .output()
            .expect("the binary runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).expect("UTF-8")
    };
    let stored: serde_json::Value = serde_json::from_str(&history(&["--json"])).unwrap();
    let stored = stored.as_array().expect("sessions");
    assert_eq!(stored.len(), 2, "{stored:#?}");
    for (session, reported) in stored.iter().zip(report["sessions"].as_array().unwrap()) {
        assert_eq!(session["phase"], "interrupted", "{session:#}");
        assert_eq!(session["outcome"], "interrupted", "{session:#}");
        // Ended when it was stopped, well before its planned end, as the
        // run's report says.
        let ended = time(&session["finishedAt"]);
        assert!(ended < planned_end, "{ended} is not before {planned_end}");
        // Stored to the millisecond.
        assert_eq!(
            time(&session["scheduledEnd"]).timestamp_millis(),
            planned_end.timestamp_millis()
        );
        let reported = time(&reported["endedAt"]);
        assert!(
            (ended - reported).abs() < chrono::TimeDelta::seconds(1),
            "history says {ended}, the run said {reported}"
        );
    }
    let text = history(&[]);
    let rows: Vec<&str> = text.lines().filter(|l| l.contains(" demo ")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    for row in rows {
        assert!(row.contains("interrupted"), "{text}");
        assert!(
            !row.contains("stopped") && !row.contains("completed"),
            "{text}"
        );
    }
}
