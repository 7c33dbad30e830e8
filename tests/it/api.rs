//! The control API on the real binary against the simulator: who is let
//! in, run now, stop by id, pause and resume across a restart, the events
//! stream, the actions in `history`, and no secret in any answer.

mod console;
mod process;

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::secrets::assert_no_secret;
use process::{Daemon, TOKEN, eventually, plan, simulator};

fn setup(plans: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    for (name, text) in plans {
        std::fs::write(dir.path().join("plans").join(format!("{name}.yaml")), text).unwrap();
    }
    dir
}

fn error_of(body: &Value) -> (&str, &str) {
    (
        body["error"].as_str().expect("an error"),
        body["hint"].as_str().expect("a hint"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_every_call_is_forbidden_and_with_one_only_its_bearer_is_let_in() {
    let sim = simulator().await;
    let dir = setup(&[("weekly", plan("weekly", "room"))]);
    let (plans, state) = (dir.path().join("plans"), dir.path().join("state"));

    let off = Daemon::start(&plans, &state, &sim.uri(), None).await;
    for (method, path) in [
        (Method::GET, "/api/v1/plans"),
        (Method::GET, "/api/v1/sessions"),
        (Method::GET, "/api/v1/events"),
        (Method::POST, "/api/v1/plans/weekly/run"),
        (Method::GET, "/api/v1/no-such-call"),
    ] {
        let (status, body) = off
            .call(method, path, Some(&format!("Bearer {TOKEN}")))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(error_of(&body).1.contains("RECPLAN_API_TOKEN"), "{body}");
    }
    drop(off);

    let on = Daemon::start(&plans, &state, &sim.uri(), Some(TOKEN)).await;
    for authorization in [
        None,
        Some("Bearer wrong-token"),
        Some(&format!("Bearer {TOKEN}x")),
        Some(&format!("Basic {TOKEN}")),
    ] {
        for path in ["/api/v1/plans", "/api/v1/no-such-call"] {
            let (status, body) = on.call(Method::GET, path, authorization).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?} {path}");
            assert_eq!(error_of(&body).0, "missing or wrong API token");
        }
    }
    let (status, body) = on.get("/api/v1/no-such-call").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = on.get("/api/v1/plans").await;
    assert_eq!(status, StatusCode::OK);
    let plan = &body[0];
    let fields: BTreeSet<&str> = plan
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for field in ["name", "path", "next", "paused", "problem"] {
        assert!(fields.contains(field), "{field} in {plan}");
    }
    assert_eq!(plan["name"], "weekly");
    assert_eq!(plan["paused"], false);
    assert_eq!(plan["problem"], Value::Null);
    assert_eq!(plan["next"], Value::Null, "a plan without a schedule");
    assert_eq!(plan["channels"], 2);
    let (status, body) = on.post("/api/v1/plans/nope/run").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body).0, "no plan named `nope`");

    // The console is served either way, locked down.
    let page = reqwest::get(format!("{}/", on.base)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(page.text().await.unwrap().contains("/console/console.js"));
    let (_, output) = on.stop();
    assert!(!output.contains(TOKEN), "the token is never logged");
}

#[test]
fn a_token_file_others_may_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = setup(&[("weekly", plan("weekly", "room"))]);
    let file = dir.path().join("token");
    std::fs::write(&file, TOKEN).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_recplan"))
        .args([
            "daemon",
            "--sim",
            "--listen",
            "127.0.0.1:0",
            "--api-token-file",
        ])
        .arg(&file)
        .arg(dir.path().join("plans"))
        .env("RECPLAN_STATE_DIR", dir.path().join("state"))
        .env_remove("RECPLAN_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("mode 0644") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}

/// The events stream, read as it comes, until `until` is in it.
async fn read_events(daemon_base: String, until: &'static str) -> String {
    let mut response = reqwest::Client::new()
        .get(format!("{daemon_base}/api/v1/events"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut text = String::new();
    while !text.contains(until) {
        match response.chunk().await.unwrap() {
            Some(chunk) => text.push_str(&String::from_utf8_lossy(&chunk)),
            None => break,
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_then_stop_one_session_by_id_with_the_events_streamed() {
    let sim = simulator().await;
    let dir = setup(&[("weekly", plan("weekly", "room"))]);
    let (plans, state) = (dir.path().join("plans"), dir.path().join("state"));
    let daemon = Daemon::start(&plans, &state, &sim.uri(), Some(TOKEN)).await;
    let events = tokio::spawn(read_events(daemon.base.clone(), "event: session_stopped"));
    let count = |path: &str| {
        sim.requests()
            .iter()
            .filter(|r| r.path.ends_with(path))
            .count()
    };
    // The stream is subscribed before anything happens.
    eventually("the events stream is open", || async {
        let (_, sessions) = daemon.get("/api/v1/sessions").await;
        sessions.as_array().is_some_and(Vec::is_empty)
    })
    .await;

    let (status, body) = daemon.post("/api/v1/plans/weekly/run").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["sessions"].as_array().unwrap().len(), 2);
    eventually("the simulator saw two acquires and two starts", || async {
        count("/acquire") == 2 && count("/mode/mix/start") == 2
    })
    .await;
    let live = || async {
        let (_, sessions) = daemon.get("/api/v1/sessions").await;
        sessions.as_array().unwrap().clone()
    };
    eventually("both sessions record", || async {
        let sessions = live().await;
        sessions.len() == 2 && sessions.iter().all(|s| s["phase"] == "recording")
    })
    .await;
    let sessions = live().await;
    let first = &sessions[0];
    for field in [
        "id",
        "plan",
        "cname",
        "uid",
        "resourceId",
        "sid",
        "phase",
        "started_at",
        "ends_at",
    ] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }
    assert_eq!(first["plan"], "weekly");
    assert_eq!(first["next_step"]["call"], "updateLayout");

    // The occurrence runs: a second run follows `overlap` (skip).
    let (status, body) = daemon.post("/api/v1/plans/weekly/run").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(error_of(&body).0.contains("overlap: skip"), "{body}");

    let (id, sid) = (
        first["id"].as_i64().unwrap(),
        first["sid"].as_str().unwrap(),
    );
    let (status, body) = daemon.post(&format!("/api/v1/sessions/{id}/stop")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually("the simulator saw the stop of that sid", || async {
        sim.requests()
            .iter()
            .any(|r| r.path.contains(&format!("/sid/{sid}/")) && r.path.ends_with("/stop"))
    })
    .await;
    eventually("only the other session records", || async {
        let sessions = live().await;
        sessions.len() == 1 && sessions[0]["id"] != id
    })
    .await;
    assert_eq!(count("/stop"), 1, "the other session was left alone");
    for missing in ["/api/v1/sessions/99999/stop", "/api/v1/sessions/abc/stop"] {
        let (status, _) = daemon.post(missing).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
    let (status, _) = daemon.post(&format!("/api/v1/sessions/{id}/stop")).await;
    assert_eq!(status, StatusCode::CONFLICT, "a stopped session");

    let events = tokio::time::timeout(std::time::Duration::from_secs(30), events)
        .await
        .expect("the stream carried the stop")
        .unwrap();
    for event in [
        "event: hello",
        "event: session_started",
        "event: session_stopped",
    ] {
        assert!(events.contains(event), "{event} in {events}");
    }
    let (_, history) = daemon.get("/api/v1/history").await;
    let actions: Vec<(&str, &str)> = history["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(actions.len(), 3, "{actions:?}");
    assert_eq!(actions[0], ("stop", "stopping"));
    assert!(actions[1].1.starts_with("not started"), "{actions:?}");
    assert_eq!(actions[2], ("run", "started"));
    assert!(
        history["actions"][0]["remote"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(
        history["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["phase"] == "interrupted")
    );

    let transcript = daemon.transcript.lock().unwrap().clone();
    let (code, output) = daemon.stop();
    assert_eq!(code, Some(0));
    assert_eq!(count("/stop"), 2, "shutdown stopped the other");
    assert_no_secret("the API's answers", transcript.as_bytes());
    assert_no_secret("the events stream", events.as_bytes());
    assert_no_secret("the daemon's log", output.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_is_kept_across_a_restart_and_history_shows_who_paused() {
    let sim = simulator().await;
    let daily =
        "name: daily\nschedule: {cron: \"0 9 * * *\", timezone: Asia/Tokyo, duration: 10m}\n";
    let daily = plan("daily", "room").replace(
        "name: daily\nmode: composite\nschedule: {duration: 10m}\n",
        &format!("{daily}mode: composite\n"),
    );
    let dir = setup(&[("daily", daily)]);
    let (plans, state) = (dir.path().join("plans"), dir.path().join("state"));
    let paused = |body: &Value| body[0]["paused"].as_bool().unwrap();

    let daemon = Daemon::start(&plans, &state, &sim.uri(), Some(TOKEN)).await;
    let (_, body) = daemon.get("/api/v1/plans").await;
    assert!(!paused(&body));
    assert!(
        body[0]["next"]
            .as_str()
            .unwrap()
            .ends_with("T09:00:00+09:00"),
        "{body}"
    );
    let (status, body) = daemon.post("/api/v1/plans/daily/pause").await;
    assert_eq!(
        (status, &body["paused"]),
        (StatusCode::OK, &Value::Bool(true))
    );
    let (status, _) = daemon.post("/api/v1/plans/nope/pause").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(daemon.stop().0, Some(0));

    let daemon = Daemon::start(&plans, &state, &sim.uri(), Some(TOKEN)).await;
    let (_, body) = daemon.get("/api/v1/plans").await;
    assert!(paused(&body), "still paused after a restart: {body}");
    let (status, _) = daemon.post("/api/v1/plans/daily/resume").await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = daemon.get("/api/v1/plans").await;
    assert!(!paused(&body));
    assert_eq!(daemon.stop().0, Some(0));

    let history = std::process::Command::new(env!("CARGO_BIN_EXE_recplan"))
        .args(["history", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&history.stdout);
    assert!(history.status.success(), "{text}");
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(" daily ") && line.contains("from 127.0.0.1:"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("pause ") && lines[1].contains("resume"),
        "{text}"
    );
}
