//! A recording's life on tokio's paused clock: its statuses, its end, the
//! resource's expiry, the rate limit, and the server's own start and stop.

use std::time::Duration;

use recplan::sim::{Fault, SimConfig, serve};
use reqwest::StatusCode;
use serde_json::json;
use tokio::time::advance;

use super::{Api, fixture, for_channel, start_path, task_path};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn query_status_climbs_to_4_then_5_after_the_first_slice() {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite-hls"),
        )
        .await;
    let query = task_path(&rid, &sid, "mix", "query");
    let mut seen = Vec::new();
    for step in [0, 500, 500, 500, 500, 12_999] {
        advance(Duration::from_millis(step)).await;
        let answer = api.get(&query).await;
        let server = &answer.body["serverResponse"];
        seen.push(server["status"].as_i64());
        assert_eq!(server["fileList"], "", "no file before the first slice");
        assert_eq!(server["sliceStartTime"], 0);
    }
    assert_eq!(seen, [Some(0), Some(1), Some(2), Some(3), Some(4), Some(4)]);

    advance(Duration::from_millis(1)).await;
    let answer = api.get(&query).await;
    assert_eq!(answer.body["serverResponse"]["status"], 5);
    assert_eq!(
        answer.body["serverResponse"]["fileList"],
        format!("{sid}_room1.m3u8")
    );
}

#[tokio::test(start_paused = true)]
async fn after_stop_the_task_is_gone_and_a_second_stop_is_49_then_404() {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite"),
        )
        .await;
    let stop = fixture("stop-empty");
    let path = |op| task_path(&rid, &sid, "mix", op);
    assert_eq!(api.post(&path("stop"), &stop).await.status, StatusCode::OK);

    api.get(&path("query")).await.assert_worker_not_found();
    let update = for_channel(fixture("update-subscribe"), "room1", "527841");
    api.post(&path("update"), &update)
        .await
        .assert_worker_not_found();
    api.post(&path("stop"), &stop).await.assert_code(
        StatusCode::BAD_REQUEST,
        49,
        "invalid operation",
    );

    // The exiting window lasts 10 s.
    advance(Duration::from_millis(9_999)).await;
    assert_eq!(api.post(&path("stop"), &stop).await.code(), Some(49));
    advance(Duration::from_millis(1)).await;
    let answer = api.post(&path("stop"), &stop).await;
    answer.assert_worker_not_found();
    assert_eq!(
        answer.body["serverResponse"]["command"],
        "StopCloudRecorder"
    );

    // A new recording of the same channel needs a new acquire, and may reuse
    // the uid once the old task has stopped.
    let again = api
        .post(&start_path(&rid, "mix"), &fixture("start-composite"))
        .await;
    assert_eq!(again.code(), Some(7));
    api.record(
        &fixture("acquire-composite"),
        "mix",
        &fixture("start-composite"),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn an_empty_channel_stops_by_itself_after_max_idle_time() {
    let api = Api::start().await;
    api.sim.inject(Fault::NobodyJoined);
    // start-composite sets maxIdleTime 300.
    let (rid, sid) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite"),
        )
        .await;
    let query = task_path(&rid, &sid, "mix", "query");
    advance(Duration::from_secs(299)).await;
    let answer = api.get(&query).await;
    assert_eq!(
        answer.body["serverResponse"]["status"], 4,
        "ready, but nothing to record"
    );
    assert_eq!(answer.body["serverResponse"]["fileList"], json!([]));

    advance(SECOND).await;
    let answer = api.get(&query).await;
    assert_eq!(
        answer.body["serverResponse"]["status"], 8,
        "{}",
        answer.body
    );
    let stop = api
        .post(
            &task_path(&rid, &sid, "mix", "stop"),
            &fixture("stop-empty"),
        )
        .await;
    stop.assert_code(StatusCode::BAD_REQUEST, 49, "invalid operation");

    advance(Duration::from_secs(10)).await;
    api.get(&query).await.assert_worker_not_found();
}

#[tokio::test(start_paused = true)]
async fn a_resource_expires_five_minutes_after_acquire() {
    let api = Api::start().await;
    let late = api.acquire(&fixture("acquire-composite")).await;
    let in_time = api.acquire(&fixture("acquire-quickstart")).await;
    advance(Duration::from_secs(5 * 60) - Duration::from_millis(1)).await;
    let answer = api
        .post(
            &start_path(&in_time, "individual"),
            &fixture("start-individual"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    advance(Duration::from_millis(1)).await;
    let answer = api
        .post(&start_path(&late, "mix"), &fixture("start-composite"))
        .await;
    answer.assert_code(StatusCode::BAD_REQUEST, 433, "expired");
}

#[tokio::test(start_paused = true)]
async fn a_sid_is_unusable_after_resource_expired_hour() {
    let api = Api::start().await;
    let mut acquire = fixture("acquire-composite");
    acquire["clientRequest"]["resourceExpiredHour"] = json!(1);
    let (rid, sid) = api
        .record(&acquire, "mix", &fixture("start-composite"))
        .await;
    let query = task_path(&rid, &sid, "mix", "query");
    advance(Duration::from_secs(3599)).await;
    assert_eq!(api.get(&query).await.status, StatusCode::OK);
    advance(SECOND).await;
    api.get(&query).await.assert_worker_not_found();
}

#[tokio::test(start_paused = true)]
async fn web_recording_ends_at_max_recording_hour_with_its_mp4s() {
    let api = Api::start().await;
    // start-web sets maxRecordingHour 1 and avFileType hls + mp4.
    let (rid, sid) = api
        .record(&fixture("acquire-web"), "web", &fixture("start-web"))
        .await;
    advance(Duration::from_secs(3600)).await;
    let answer = api.get(&task_path(&rid, &sid, "web", "query")).await;
    let server = &answer.body["serverResponse"];
    assert_eq!(server["status"], 8, "{}", answer.body);
    assert_eq!(
        server["extensionServiceState"][0]["payload"]["state"],
        "exit"
    );
    assert_eq!(
        server["extensionServiceState"][1]["payload"]["outputs"][0]["status"],
        "disconnected"
    );
}

#[tokio::test(start_paused = true)]
async fn composite_mp4_rolls_every_two_hours() {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite"),
        )
        .await;
    advance(Duration::from_secs(2 * 3600 + 2)).await;
    let answer = api
        .post(
            &task_path(&rid, &sid, "mix", "stop"),
            &fixture("stop-empty"),
        )
        .await;
    let files = &answer.body["serverResponse"]["fileList"];
    assert_eq!(
        files[2]["fileName"],
        format!("{sid}_room1_1.mp4"),
        "{files}"
    );
    let start = files[1]["sliceStartTime"].as_i64().unwrap_or_default();
    assert_eq!(
        files[2]["sliceStartTime"].as_i64(),
        Some(start + 2 * 3600 * 1000)
    );
}

#[tokio::test(start_paused = true)]
async fn the_eleventh_request_in_a_second_is_rate_limited() {
    let api = Api::with(SimConfig::default()).await;
    let body = fixture("acquire-quickstart");
    for n in 1..=10 {
        assert_eq!(
            api.post("acquire", &body).await.status,
            StatusCode::OK,
            "request {n}"
        );
    }
    let limited = api.post("acquire", &body).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body, json!({"message": "API rate limit exceeded"}));
    assert_eq!(
        limited
            .headers
            .get("retry-after")
            .map(reqwest::header::HeaderValue::as_bytes),
        Some(&b"1"[..])
    );

    advance(SECOND).await;
    assert_eq!(api.post("acquire", &body).await.status, StatusCode::OK);
    let statuses: Vec<_> = api.sim.requests().iter().filter_map(|r| r.status).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        1
    );
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let api = Api::start().await;
    let url = api.url("acquire");
    assert_eq!(
        api.post("acquire", &fixture("acquire-quickstart"))
            .await
            .status,
        StatusCode::OK
    );
    let Api { sim, .. } = api;
    sim.shutdown().await.expect("clean shutdown");
    let refused = reqwest::Client::new().post(url).send().await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn serve_runs_until_its_shutdown_signal() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, SimConfig::default(), async {
        let _ = stopped.await;
    }));
    let answer = reqwest::Client::new()
        .get(format!("http://{addr}/v1/apps/x/cloud_recording/acquire"))
        .send()
        .await
        .expect("served");
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let _ = stop.send(());
    let result = server.await.expect("server task");
    assert!(result.is_ok(), "{result:?}");
}

/// Set in the child process of [`logs_never_show_secrets`].
const LOG_CHILD: &str = "RECPLAN_SIM_LOG_CHILD";

/// The log line per request names method, path and status, and nothing of
/// the credentials or secret body fields. Tracing caches which log sites are
/// enabled process-wide, so a subscriber installed by one test among many
/// running threads misses events; the test therefore reruns itself alone in
/// a child process and reads that process's output.
#[test]
fn logs_never_show_secrets() {
    if std::env::var_os(LOG_CHILD).is_some() {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(std::io::stdout)
            .try_init();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(send_secrets());
        return;
    }
    let name = module_path!()
        .split_once("::")
        .map_or("", |(_, path)| path)
        .to_owned()
        + "::logs_never_show_secrets";
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(LOG_CHILD, "1")
        .output()
        .expect("the test binary runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("sim request"), "{text}");
    assert!(
        text.contains("/start") && text.contains("status=200"),
        "{text}"
    );
    for secret in [
        "token-value-1",
        "secret-value-2",
        "secret-value-3",
        "salt-value-4",
        "demo-secret",
        "ZGVtby",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

/// A start whose body holds a value for every secret field.
async fn send_secrets() {
    let api = Api::start().await;
    let mut start = fixture("start-composite");
    let request = &mut start["clientRequest"];
    request["token"] = json!("token-value-1");
    request["storageConfig"]["secretKey"] = json!("secret-value-2");
    request["recordingConfig"]["decryptionMode"] = json!(7);
    request["recordingConfig"]["secret"] = json!("secret-value-3");
    request["recordingConfig"]["salt"] = json!("salt-value-4");
    let rid = api.acquire(&fixture("acquire-composite")).await;
    let answer = api.post(&start_path(&rid, "mix"), &start).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}
