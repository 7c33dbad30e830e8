//! The real binary telling the truth about its plans: names unique, a
//! broken reload keeps the last valid version and says so, a deleted plan
//! leaves, no readiness without work, logs a machine can read, and
//! `validate` agreeing with the daemon.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::plan;

fn recplan() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recplan"));
    command
        .env_remove("RECPLAN_STATE_DIR")
        .env_remove("RECPLAN_LOG")
        .env_remove("NO_COLOR")
        .env("AGORA_APP_ID", recplan::sim::DEMO_APP_ID);
    command
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A daemon on the simulator, listening on a free port, with its stderr
/// lines and systemd's notifications collected.
struct Daemon {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    notices: UnixDatagram,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start(paths: &[&Path], extra: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket_path = dir.path().join("notify.sock");
        let notices = UnixDatagram::bind(&socket_path).unwrap();
        notices
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = recplan()
            .arg("daemon")
            .args(paths)
            .args(["--sim", "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env("NOTIFY_SOCKET", &socket_path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Daemon {
            child,
            port,
            lines,
            seen: Vec::new(),
            notices,
            _dir: dir,
        }
    }

    fn notified(&self) -> String {
        let mut buffer = [0u8; 256];
        let received = self.notices.recv(&mut buffer).expect("a notification");
        String::from_utf8_lossy(&buffer[..received]).into_owned()
    }

    fn get(&self, path: &str) -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    fn sessions(&self) -> serde_json::Value {
        let response = self.get("/sessions");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
    }

    /// Waits (on a real process: a reload takes milliseconds) for a log
    /// line containing `text`, and returns it.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(error) => panic!(
                    "never logged {text:?} ({error}); logged:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM, then every line it logged and its exit code.
    fn stop(mut self) -> (Vec<String>, Option<i32>) {
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        self.seen.extend(self.lines.iter());
        (self.seen, status.code())
    }
}

fn plans_dir(files: &[(&str, String)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let plans = dir.path().join("plans");
    std::fs::create_dir(&plans).unwrap();
    for (name, text) in files {
        std::fs::write(plans.join(name), text).unwrap();
    }
    (dir, plans)
}

#[test]
fn validate_fails_naming_both_files_of_one_plan_name() {
    let (_dir, plans) = plans_dir(&[
        ("a.yaml", plan("standup", "0 9 * * *", "30m", "")),
        ("b.yaml", plan("standup", "0 10 * * *", "30m", "")),
    ]);
    let output = recplan().arg("validate").arg(&plans).output().unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(
        text.contains("b.yaml:0:0: error: name: plan name `standup` is already used by"),
        "{text}"
    );
    assert!(text.contains("a.yaml"), "{text}");
    assert!(text.contains("1 of 2 plan(s) invalid"), "{text}");
}

#[test]
fn validate_judges_a_plan_that_overlaps_itself() {
    let (_dir, plans) = plans_dir(&[
        (
            "allow.yaml",
            plan("allow", "*/10 * * * *", "1h", "  overlap: allow"),
        ),
        ("skip.yaml", plan("skip", "*/10 * * * *", "1h", "")),
        (
            "fits.yaml",
            plan("fits", "*/10 * * * *", "10m", "  overlap: allow"),
        ),
    ]);
    let output = recplan().arg("validate").arg(&plans).output().unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(
        text.contains("allow.yaml:") && text.contains("error: schedule.duration:"),
        "{text}"
    );
    assert!(text.contains("Agora refuses (code 53)"), "{text}");
    assert!(
        text.contains("skip.yaml:") && text.contains("warning: schedule.duration:"),
        "{text}"
    );
    assert!(text.contains("start is skipped"), "{text}");
    assert!(!text.contains("fits.yaml:"), "{text}");
    assert!(text.contains("1 of 3 plan(s) invalid"), "{text}");
}

/// A regression test: a missing file was `nonexist.yaml:0:0: error: cannot
/// read…` with exit code 3, as if the plan were invalid.
#[test]
fn an_unreadable_path_is_a_command_line_error() {
    let output = recplan()
        .args(["validate", "/nonexistent/plan.yaml"])
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.starts_with("error: cannot read /nonexistent/plan.yaml: "),
        "{text}"
    );
    let output = recplan()
        .args(["render", "/nonexistent/plan.yaml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn the_daemon_refuses_to_start_without_work() {
    let output = recplan()
        .args(["daemon", "--sim", "/nonexistent"])
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("error: cannot read /nonexistent: "), "{text}");

    let (_dir, plans) = plans_dir(&[
        ("a.yaml", "mode: composite\nchanels: []\n".to_owned()),
        ("b.yaml", plan("b", "0 9 * * *", "bad", "")),
    ]);
    let output = recplan()
        .args(["daemon", "--sim"])
        .arg(&plans)
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(text.contains("a.yaml:2:1: error"), "{text}");
    assert!(text.contains("b.yaml:"), "{text}");
    assert!(
        text.contains("error: no valid plan to run (2 invalid plan file(s)); use --allow-empty"),
        "{text}"
    );
}

#[test]
fn allow_empty_starts_ready_on_an_empty_directory() {
    let (_dir, plans) = plans_dir(&[]);
    let daemon = Daemon::start(&[&plans], &["--allow-empty"]);
    assert_eq!(daemon.notified(), "READY=1");
    assert!(daemon.get("/readyz").starts_with("HTTP/1.1 200"));
    let (_, code) = daemon.stop();
    assert_eq!(code, Some(0));
}

/// A regression test: the second file of a plan name never recorded, and
/// nothing said so.
#[test]
fn the_daemon_keeps_the_first_file_of_a_plan_name_and_reports_the_second() {
    let (_dir, plans) = plans_dir(&[
        ("a.yaml", plan("standup", "0 9 * * *", "30m", "")),
        ("b.yaml", plan("standup", "0 10 * * *", "30m", "")),
    ]);
    let mut daemon = Daemon::start(&[&plans], &[]);
    assert_eq!(daemon.notified(), "READY=1");
    let sessions = daemon.sessions();
    assert_eq!(sessions["plans"][0]["plan"], "standup");
    assert!(
        sessions["plans"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("a.yaml")
    );
    let problems = sessions["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{sessions}");
    assert!(problems[0]["path"].as_str().unwrap().ends_with("b.yaml"));
    assert!(
        problems[0]["problem"]
            .as_str()
            .unwrap()
            .contains("already used by"),
        "{sessions}"
    );
    assert!(
        daemon
            .get("/metrics")
            .contains("\nrecplan_plan_files_refused 1\n")
    );
    daemon.wait_for("plan name already used by another file");

    // The first file goes: the second takes the name.
    std::fs::remove_file(plans.join("a.yaml")).unwrap();
    daemon.signal("HUP");
    daemon.wait_for("plan removed");
    assert!(daemon.wait_for("plan loaded").contains("b.yaml"));
    let sessions = daemon.sessions();
    assert!(
        sessions["plans"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("b.yaml"),
        "{sessions}"
    );
    assert_eq!(sessions["problems"], serde_json::json!([]));
    let (_, code) = daemon.stop();
    assert_eq!(code, Some(0));
}

/// A regression test: a plan edited into an invalid state was unscheduled
/// while every view said all was well, and a deleted plan stayed in them.
#[test]
fn a_broken_reload_keeps_the_last_valid_version_and_says_so() {
    let (_dir, plans) = plans_dir(&[
        ("p.yaml", plan("p", "0 9 * * *", "30m", "")),
        ("q.yaml", plan("q", "0 9 * * *", "30m", "")),
    ]);
    let mut daemon = Daemon::start(&[&plans], &[]);
    assert_eq!(daemon.notified(), "READY=1");
    let next = daemon.sessions()["plans"][0]["next"].clone();
    assert!(next.is_string());
    let metrics = daemon.get("/metrics");
    assert!(
        metrics.contains("\nrecplan_plan_config_valid{plan=\"p\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("\nrecplan_plan_config_last_reload_success_timestamp_seconds{plan=\"p\"} "),
        "{metrics}"
    );

    // Nothing changed: the reload says so.
    daemon.signal("HUP");
    daemon.wait_for("plans reloaded: nothing changed");

    std::fs::write(plans.join("p.yaml"), plan("p", "0 9 * * *", "-30m", "")).unwrap();
    daemon.signal("HUP");
    daemon.wait_for("the last valid version of the plan stays in force");
    let sessions = daemon.sessions();
    let p = &sessions["plans"][0];
    assert_eq!(p["plan"], "p");
    assert_eq!(p["next"], next, "still scheduled");
    assert!(
        p["problem"].as_str().unwrap().contains("p.yaml:"),
        "{sessions}"
    );
    assert!(daemon.get("/readyz").starts_with("HTTP/1.1 200"));
    let metrics = daemon.get("/metrics");
    assert!(
        metrics.contains("\nrecplan_plan_config_valid{plan=\"p\"} 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("recplan_plan_next_start_timestamp_seconds{plan=\"p\"}"));

    // Deleted: the plan leaves every view.
    std::fs::remove_file(plans.join("p.yaml")).unwrap();
    daemon.signal("HUP");
    daemon.wait_for("plan removed");
    let sessions = daemon.sessions();
    assert_eq!(sessions["plans"].as_array().unwrap().len(), 1, "{sessions}");
    assert_eq!(sessions["plans"][0]["plan"], "q");
    let metrics = daemon.get("/metrics");
    assert!(!metrics.contains("plan=\"p\""), "{metrics}");
    let (_, code) = daemon.stop();
    assert_eq!(code, Some(0));
}

/// A regression test: `--log-format json` logged events as Rust debug
/// strings, and `--sim` put one plain line into the stream.
#[test]
fn json_logs_are_one_object_per_line_with_fields_of_their_own() {
    let (_dir, plans) = plans_dir(&[("p.yaml", plan("p", "0 9 * * *", "30m", ""))]);
    let mut daemon = Daemon::start(&[&plans], &["--log-format", "json"]);
    assert_eq!(daemon.notified(), "READY=1");
    daemon.wait_for("\"event\":\"ready\"");
    let (lines, code) = daemon.stop();
    assert_eq!(code, Some(0));
    assert!(lines.len() >= 4, "{lines:#?}");
    let objects: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let loaded = objects
        .iter()
        .find(|o| o["event"] == "loaded")
        .expect("a loaded event");
    assert_eq!(loaded["plan"], "p");
    assert!(objects.iter().any(|o| o["event"] == "simulator"));
    assert!(objects.iter().any(|o| o["event"] == "stopping"));
}

/// Every line a session logs (through the span it runs in) names its
/// plan, channel, uid and session, and once it records, the sid.
#[test]
fn json_session_lines_name_plan_channel_uid_session_and_sid() {
    let (_dir, plans) = plans_dir(&[(
        "now.yaml",
        plan(
            "now",
            "* * * * *",
            "30m",
            "  starting_deadline: 5m\n  overlap: skip",
        ),
    )]);
    let mut daemon = Daemon::start(&[&plans], &["--log-format", "json"]);
    assert_eq!(daemon.notified(), "READY=1");
    daemon.wait_for("\"event\":\"recording\"");
    let (lines, code) = daemon.stop();
    assert_eq!(code, Some(0));
    let objects: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let session_lines: Vec<&serde_json::Value> = objects
        .iter()
        .filter(|o| {
            o["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("recplan::session"))
        })
        .collect();
    let events: Vec<&str> = session_lines
        .iter()
        .filter_map(|o| o["event"].as_str())
        .collect();
    for expected in [
        "waiting",
        "acquiring",
        "starting",
        "recording",
        "stopping",
        "stopped",
    ] {
        assert!(events.contains(&expected), "{expected}: {lines:#?}");
    }
    for line in &session_lines {
        assert_eq!(line["plan"], "now", "{line}");
        assert_eq!(line["channel"], "now", "{line}");
        assert_eq!(line["uid"], "4242", "{line}");
        assert!(line["session"].as_i64().is_some_and(|id| id > 0), "{line}");
        assert!(line["message"].is_string(), "{line}");
    }
    let recording = session_lines
        .iter()
        .find(|o| o["event"] == "recording")
        .expect("a recording line");
    assert!(
        recording["sid"].as_str().is_some_and(|sid| sid.len() == 32),
        "{recording}"
    );
    let loaded = objects
        .iter()
        .find(|o| o["event"] == "loaded")
        .expect("a loaded event");
    assert!(
        loaded["next"]
            .as_str()
            .is_some_and(|next| next.starts_with("20")),
        "a time, not a debug string: {loaded}"
    );
}

#[test]
fn text_logs_have_no_colour_on_a_pipe() {
    let (_dir, plans) = plans_dir(&[("p.yaml", plan("p", "0 9 * * *", "30m", ""))]);
    let mut daemon = Daemon::start(&[&plans], &[]);
    assert_eq!(daemon.notified(), "READY=1");
    daemon.wait_for("ready");
    let (lines, _) = daemon.stop();
    assert!(
        lines.iter().all(|line| !line.contains('\u{1b}')),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains("plan loaded") && line.contains("plan=\"p\"")),
        "{lines:#?}"
    );
}

/// STOPPING=1 goes out as soon as shutdown begins: before the recordings
/// are stopped, not after the grace period.
#[test]
fn stopping_is_notified_when_shutdown_begins() {
    let (_dir, plans) = plans_dir(&[(
        "now.yaml",
        plan(
            "now",
            "* * * * *",
            "30m",
            "  starting_deadline: 5m\n  overlap: skip",
        ),
    )]);
    let mut daemon = Daemon::start(&[&plans], &[]);
    assert_eq!(daemon.notified(), "READY=1");
    daemon.wait_for("recording");
    daemon.signal("TERM");
    assert_eq!(daemon.notified(), "STOPPING=1");
    let status = daemon.child.wait().unwrap();
    daemon.seen.extend(daemon.lines.iter());
    let stopping = daemon
        .seen
        .iter()
        .position(|line| line.contains("shutting down"))
        .expect("logged");
    let stopped = daemon
        .seen
        .iter()
        .position(|line| line.contains("stopped"))
        .expect("a recording stopped");
    assert!(stopping < stopped, "{:#?}", daemon.seen);
    // What `validate` warns about, the daemon logs.
    assert!(
        daemon
            .seen
            .iter()
            .any(|line| line.contains("WARN") && line.contains("start is skipped")),
        "{:#?}",
        daemon.seen
    );
    // The session's fields as key=value on each of its lines.
    let session_lines: Vec<&String> = (daemon.seen.iter())
        .filter(|line| line.contains("recplan::session"))
        .collect();
    assert!(
        !session_lines.is_empty()
            && session_lines.iter().all(|line| {
                line.contains("session{plan=\"now\" channel=\"now\" uid=\"4242\" session=")
            }),
        "{session_lines:#?}"
    );
    assert_eq!(status.code(), Some(0));
}

/// A plan file edited or deleted with no signal: the watcher reports the
/// file, and only that file is looked at again.
#[test]
fn a_changed_file_is_picked_up_by_itself() {
    let (_dir, plans) = plans_dir(&[
        ("p.yaml", plan("p", "0 9 * * *", "30m", "")),
        ("q.yaml", plan("q", "0 9 * * *", "30m", "")),
    ]);
    let mut daemon = Daemon::start(&[&plans], &[]);
    assert_eq!(daemon.notified(), "READY=1");
    daemon.wait_for("event=\"ready\"");
    std::fs::write(plans.join("p.yaml"), plan("p", "30 9 * * *", "30m", "")).unwrap();
    let loaded = daemon.wait_for("plan loaded");
    assert!(loaded.contains("p.yaml"), "{loaded}");
    let reloaded = daemon.wait_for("plans reloaded");
    assert!(
        reloaded.contains("unchanged=0"),
        "only the changed file: {reloaded}"
    );
    std::fs::remove_file(plans.join("q.yaml")).unwrap();
    assert!(daemon.wait_for("plan removed").contains("q.yaml"));
    let sessions = daemon.sessions();
    assert_eq!(sessions["plans"].as_array().unwrap().len(), 1, "{sessions}");
    let (_, code) = daemon.stop();
    assert_eq!(code, Some(0));
}
