//! The real binary stops what it started when told to stop.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn sigterm_during_a_run_stops_every_started_recording() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_recplan"))
        .args(["run", "plans/demo.yaml", "--now", "--sim", "--json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("AGORA_APP_ID")
        .env_remove("AGORA_API_BASE")
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
