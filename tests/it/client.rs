//! The Agora client against a scripted local server: the exact requests it
//! sends, and how each of Agora's failure forms maps to an `ApiError`.

mod config;
mod props;
mod responses;
mod server;

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use recplan::agora::request::{
    AcquireClientRequest, StartClientRequest, StopClientRequest, UpdateClientRequest,
    UpdateLayoutClientRequest,
};
use recplan::agora::response::UploadingStatus;
use recplan::agora::{
    ApiBase, ApiError, Client, ClientConfig, Credentials, Endpoint, MAX_IN_FLIGHT, Mode, Recording,
    Secret, call,
};
use serde_json::json;

use server::{Reply, TestServer};

const APP_ID: &str = "970ca35de60c44645bbae8a215061b33";
const CUSTOMER_ID: &str = "customer-4d2c";
/// Planted so tests can search formatted output for it.
const CUSTOMER_SECRET: &str = "pl4nted-Cust0mer-S3cret-7f3a9c";
const RESOURCE_ID: &str = "JyvK8nXHuV1BE64GDkAaBGEscvtHW7v8BrQoRPCHxmeVxwY22";
const SID: &str = "38f8e3cfdc474cd56fc1ceba380d7e1a";

/// A response body from `tests/fixtures/agora/responses/`.
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agora/responses")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn config(base: &str) -> ClientConfig {
    ClientConfig {
        base: ApiBase::parse(base).unwrap(),
        app_id: APP_ID.to_owned(),
        credentials: Credentials::new(CUSTOMER_ID, Secret::new(CUSTOMER_SECRET)),
        timeout: Duration::from_secs(5),
    }
}

fn client(base: &str) -> Client {
    Client::new(config(base)).unwrap()
}

fn recording(mode: Mode) -> Recording {
    Recording {
        mode,
        resource_id: RESOURCE_ID.to_owned(),
        sid: SID.to_owned(),
        cname: "standup-platform".to_owned(),
        uid: "527841".to_owned(),
    }
}

fn prefix() -> String {
    format!("/v1/apps/{APP_ID}/cloud_recording")
}

/// Answers each endpoint with its success fixture.
fn agora_like(seen: &server::Seen) -> Reply {
    let name = match seen.path.rsplit('/').next().unwrap() {
        "acquire" => "acquire.json",
        "start" => "start.json",
        "query" => "query_composite_string.json",
        "update" | "updateLayout" => "update.json",
        "stop" => "stop_composite_backuped.json",
        other => panic!("unexpected path segment {other}"),
    };
    Reply::new(200, &fixture(name))
}

#[tokio::test]
async fn each_call_sends_agoras_exact_request() {
    let server = TestServer::start(agora_like).await;
    // A trailing slash on the base is tolerated.
    let client = client(&format!("{}/", server.base));

    let acquire = AcquireClientRequest {
        scene: Some(0),
        resource_expired_hour: Some(24),
        ..AcquireClientRequest::default()
    };
    let acquired = client
        .acquire("standup-platform", "527841", &acquire)
        .await
        .unwrap();
    assert_eq!(acquired.resource_id, RESOURCE_ID);

    let start_json = json!({
        "token": "007eJxTrtc-token",
        "storageConfig": {"vendor": 1, "region": 0, "bucket": "acme", "accessKey": "ak", "secretKey": "sk"},
        "recordingFileConfig": {"avFileType": ["hls"]},
    });
    let start: StartClientRequest = serde_json::from_value(start_json.clone()).unwrap();
    let started = client
        .start(&call::Start {
            mode: Mode::Composite,
            resource_id: &acquired.resource_id,
            cname: "standup-platform",
            uid: "527841",
            request: &start,
        })
        .await
        .unwrap();
    assert_eq!(started, recording(Mode::Composite));

    let queried = client.query(&started).await.unwrap();
    assert_eq!(
        queried.files()[0].file_name,
        "38f8e3cfdc474cd56fc1ceba380d7e1a_standup-platform.m3u8"
    );

    let update_json =
        json!({"streamSubscribe": {"videoUidList": {"subscribeVideoUids": ["1001"]}}});
    let update: UpdateClientRequest = serde_json::from_value(update_json.clone()).unwrap();
    client.on_recording(&started, &update).await.unwrap();

    let layout_json = json!({"mixedVideoLayout": 2, "maxResolutionUid": "1001"});
    let layout: UpdateLayoutClientRequest = serde_json::from_value(layout_json.clone()).unwrap();
    client.on_recording(&started, &layout).await.unwrap();

    let stop = StopClientRequest {
        async_stop: Some(false),
    };
    let stopped = client.on_recording(&started, &stop).await.unwrap();
    assert_eq!(stopped.uploading_status(), Some(&UploadingStatus::Backuped));

    let session = format!("{}/resourceid/{RESOURCE_ID}/sid/{SID}/mode/mix", prefix());
    let envelope = |request: serde_json::Value| json!({"cname": "standup-platform", "uid": "527841", "clientRequest": request});
    let expected = [
        (
            "POST",
            format!("{}/acquire", prefix()),
            Some(envelope(json!({"scene": 0, "resourceExpiredHour": 24}))),
        ),
        (
            "POST",
            format!("{}/resourceid/{RESOURCE_ID}/mode/mix/start", prefix()),
            Some(envelope(start_json)),
        ),
        ("GET", format!("{session}/query"), None),
        (
            "POST",
            format!("{session}/update"),
            Some(envelope(update_json)),
        ),
        (
            "POST",
            format!("{session}/updateLayout"),
            Some(envelope(layout_json)),
        ),
        (
            "POST",
            format!("{session}/stop"),
            Some(envelope(json!({"async_stop": false}))),
        ),
    ];
    let seen = server.seen();
    assert_eq!(seen.len(), expected.len());
    let authorization = format!(
        "Basic {}",
        STANDARD.encode(format!("{CUSTOMER_ID}:{CUSTOMER_SECRET}"))
    );
    for (request, (method, path, body)) in seen.iter().zip(expected) {
        assert_eq!(request.method.as_str(), method, "{path}");
        assert_eq!(request.path, path);
        assert_eq!(
            request.header("authorization"),
            Some(authorization.as_str()),
            "{path}"
        );
        assert_eq!(
            request.header("content-type"),
            Some("application/json;charset=utf-8"),
            "{path}"
        );
        match body {
            Some(body) => assert_eq!(request.json(), body, "{path}"),
            None => assert!(request.body.is_empty(), "{path} has a body"),
        }
    }
}

#[tokio::test]
async fn mode_segments_and_encoded_ids() {
    let server = TestServer::start(agora_like).await;
    let client = client(&server.base);
    for (mode, segment) in [(Mode::Individual, "individual"), (Mode::Web, "web")] {
        client.query(&recording(mode)).await.unwrap();
        let last = server.seen().pop().unwrap();
        assert!(
            last.path.ends_with(&format!("/mode/{segment}/query")),
            "{}",
            last.path
        );
    }
    // An id cannot reach another path.
    let odd = Recording {
        resource_id: "a/../b".to_owned(),
        ..recording(Mode::Composite)
    };
    client.query(&odd).await.unwrap();
    let last = server.seen().pop().unwrap();
    assert_eq!(
        last.path,
        format!(
            "{}/resourceid/a%2F..%2Fb/sid/{SID}/mode/mix/query",
            prefix()
        )
    );
}

#[tokio::test]
async fn a_base_with_a_path_keeps_it() {
    let server = TestServer::start(agora_like).await;
    let client = client(&format!("{}/agora/", server.base));
    client.query(&recording(Mode::Composite)).await.unwrap();
    assert!(
        server.seen()[0]
            .path
            .starts_with(&format!("/agora{}/", prefix()))
    );
}

/// Which call an error case makes.
#[derive(Clone, Copy, Debug)]
enum Call {
    Acquire,
    Start,
    Query,
    Stop,
}

async fn call(client: &Client, call: Call) -> Result<(), ApiError> {
    let recording = recording(Mode::Composite);
    match call {
        Call::Acquire => client
            .acquire("c", "1", &AcquireClientRequest::default())
            .await
            .map(drop),
        Call::Start => client
            .start(&call::Start {
                mode: Mode::Composite,
                resource_id: RESOURCE_ID,
                cname: "c",
                uid: "1",
                request: &StartClientRequest::default(),
            })
            .await
            .map(drop),
        Call::Query => client.query(&recording).await.map(drop),
        Call::Stop => client
            .on_recording(&recording, &StopClientRequest::default())
            .await
            .map(drop),
    }
}

/// Calls against a server that always answers `reply`.
async fn error_for(reply: Reply, which: Call) -> ApiError {
    let server = TestServer::always(reply).await;
    call(&client(&server.base), which).await.unwrap_err()
}

#[tokio::test]
async fn already_started_201_is_an_error() {
    let error = error_for(
        Reply::new(201, &fixture("error_already_started.json")),
        Call::Start,
    )
    .await;
    assert_eq!(error.endpoint(), Endpoint::Start);
    assert_eq!(error.status(), Some(201));
    assert_eq!(error.code(), Some(7));
    assert!(error.is_already_started());
    assert!(!error.is_transport());
    assert_eq!(
        error.to_string(),
        "Agora start failed: HTTP 201, code 7: already started"
    );
}

#[tokio::test]
async fn request_not_completed_206_is_an_error() {
    let error = error_for(
        Reply::new(206, &fixture("error_request_not_completed.json")),
        Call::Query,
    )
    .await;
    assert_eq!((error.status(), error.code()), (Some(206), Some(65)));
    assert_eq!(error.reason(), Some("request not completed"));
    assert!(error.is_request_not_completed());
}

#[tokio::test]
async fn no_recorded_data_206_on_stop_is_an_error() {
    let error = error_for(
        Reply::new(206, &fixture("error_no_recorded_data.json")),
        Call::Stop,
    )
    .await;
    assert_eq!((error.status(), error.code()), (Some(206), Some(435)));
    assert!(error.is_no_recorded_data());
}

#[tokio::test]
async fn gateway_404_is_a_missing_route() {
    let error = error_for(
        Reply::new(404, &fixture("error_no_route.json")),
        Call::Acquire,
    )
    .await;
    assert!(error.is_route_not_found());
    assert!(!error.is_not_found_worker());
    assert_eq!(error.code(), None);
    assert_eq!(
        error.to_string(),
        "Agora acquire failed: HTTP 404: no Route matched with those values"
    );
}

#[tokio::test]
async fn failed_to_find_worker_404() {
    let error = error_for(
        Reply::new(404, &fixture("error_failed_to_find_worker.json")),
        Call::Stop,
    )
    .await;
    assert!(error.is_not_found_worker());
    assert!(!error.is_route_not_found());
    assert_eq!(error.code(), Some(404));
    assert_eq!(
        error.to_string(),
        "Agora stop failed: HTTP 404, code 404: failed to find worker"
    );
}

#[tokio::test]
async fn rate_limited_429_with_and_without_retry_after() {
    let body = fixture("error_rate_limited.json");
    let error = error_for(
        Reply::new(429, &body).header("retry-after", "3"),
        Call::Query,
    )
    .await;
    assert!(error.is_rate_limited());
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(error.reason(), Some("API rate limit exceeded"));

    let error = error_for(Reply::new(429, &body), Call::Query).await;
    assert!(error.is_rate_limited());
    assert_eq!(error.retry_after(), None);
}

#[tokio::test]
async fn unauthorized_401() {
    let error = error_for(
        Reply::new(401, &fixture("error_unauthorized.json")),
        Call::Acquire,
    )
    .await;
    assert!(error.is_unauthorized());
    assert_eq!(error.reason(), Some("Invalid authentication credentials"));
}

#[tokio::test]
async fn server_errors_keep_code_or_text() {
    let error = error_for(
        Reply::new(504, &fixture("error_request_timeout.json")),
        Call::Query,
    )
    .await;
    assert_eq!((error.status(), error.code()), (Some(504), Some(62)));
    assert!(!error.is_transport());

    let error = error_for(Reply::new(502, "<html>Bad Gateway</html>\n"), Call::Query).await;
    assert_eq!(error.status(), Some(502));
    assert_eq!(error.reason(), Some("<html>Bad Gateway</html>"));
}

#[tokio::test]
async fn unexpected_200_body_is_a_decode_error() {
    let error = error_for(Reply::new(200, r#"{"cname": "c"}"#), Call::Start).await;
    assert!(matches!(
        error,
        ApiError::Decode {
            endpoint: Endpoint::Start,
            ..
        }
    ));
    assert_eq!(error.status(), Some(200));
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let server = TestServer::always(Reply::new(200, "{}").after(Duration::from_secs(30))).await;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_millis(200),
        ..config(&server.base)
    })
    .unwrap();
    let error = call(&client, Call::Query).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(error.is_transport());
    assert_eq!(error.status(), None);
    assert_eq!(error.to_string(), "Agora query timed out after 0.2s");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = call(&client(&base), Call::Acquire).await.unwrap_err();
    assert!(
        matches!(
            error,
            ApiError::Connect {
                endpoint: Endpoint::Acquire,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_transport());
}

#[test]
fn a_recording_round_trips_through_json() {
    let recording = recording(Mode::Composite);
    let stored = serde_json::to_value(&recording).unwrap();
    assert_eq!(
        stored,
        json!({"mode": "composite", "resource_id": RESOURCE_ID, "sid": SID,
               "cname": "standup-platform", "uid": "527841"})
    );
    assert_eq!(
        serde_json::from_value::<Recording>(stored).unwrap(),
        recording
    );
}

/// Thousands of recordings calling at once hold [`MAX_IN_FLIGHT`]
/// connections, not one each; every call is still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_bounded() {
    let server = TestServer::start(|seen| agora_like(seen).after(Duration::from_millis(50))).await;
    let client = client(&server.base);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..3 * MAX_IN_FLIGHT {
        let client = client.clone();
        calls.spawn(async move { call(&client, Call::Query).await });
    }
    while let Some(answered) = calls.join_next().await {
        answered.unwrap().unwrap();
    }
    assert_eq!(server.seen().len(), 3 * MAX_IN_FLIGHT);
    assert_eq!(server.most_at_once(), MAX_IN_FLIGHT);
}
