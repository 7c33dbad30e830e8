//! Each documented error: its HTTP status and its body, `{"message"}` from
//! the gateway or `{"code","reason"}` from the service.

use std::num::NonZeroUsize;

use recplan::sim::{DEMO_CUSTOMER_ID, DEMO_CUSTOMER_SECRET, SimConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Api, basic, fixture, for_channel, start_path, task_path};

#[tokio::test]
async fn authentication_failures_use_the_gateway_messages() {
    let api = Api::start().await;
    let body = fixture("acquire-quickstart");
    let cases = [
        (None, "Unauthorized"),
        (
            Some(basic(DEMO_CUSTOMER_ID, "wrong")),
            "Invalid authentication credentials",
        ),
        (
            Some(basic("someone", DEMO_CUSTOMER_SECRET)),
            "Invalid authentication credentials",
        ),
        (
            Some("Bearer abc".to_owned()),
            "Invalid authentication credentials",
        ),
        (
            Some("Basic %%%".to_owned()),
            "Invalid authentication credentials",
        ),
    ];
    for (authorization, message) in cases {
        let mut request = api.http().post(api.url("acquire")).json(&body);
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let answer = api.send(request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(
            answer.body,
            json!({ "message": message }),
            "{authorization:?}"
        );
    }
    let log = api.sim.requests();
    assert_eq!(log.len(), 5);
    assert!(log.iter().all(|r| !r.auth_valid));
    assert!(
        log.iter()
            .all(|r| r.status == Some(StatusCode::UNAUTHORIZED))
    );
}

#[tokio::test]
async fn wrong_content_types_are_refused_like_bad_credentials() {
    let api = Api::start().await;
    let body = fixture("acquire-quickstart").to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/json; charset=utf-8"),
        Some("Application/JSON"),
    ] {
        let mut request = api
            .http()
            .post(api.url("acquire"))
            .basic_auth(DEMO_CUSTOMER_ID, Some(DEMO_CUSTOMER_SECRET))
            .body(body.clone());
        if let Some(value) = content_type {
            request = request.header("content-type", value);
        }
        let answer = api.send(request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{content_type:?}");
        assert_eq!(answer.body["message"], "Invalid authentication credentials");
    }
}

#[tokio::test]
async fn wrong_paths_and_methods_match_no_route() {
    let api = Api::start().await;
    let body = fixture("stop-empty");
    let base = api.url("");
    let answers = [
        api.send(api.http().get(api.url("acquire"))).await,
        api.post("resourceid/r/sid/s/mode/mix/query", &body).await,
        api.send(api.http().get(api.url("resourceid/r/sid/s/mode/mix/stop")))
            .await,
        api.post("resourceid/r/sid/s/mode/mix/pause", &body).await,
        api.post("Acquire", &body).await,
        api.send(api.http().post(base.replace("cloud_recording/", "acquire")))
            .await,
        api.send(api.http().post(format!(
            "{}/v2/apps/x/cloud_recording/acquire",
            api.sim.uri()
        )))
        .await,
    ];
    for answer in answers {
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(
            answer.body,
            json!({"message": "no Route matched with those values"})
        );
    }
}

#[tokio::test]
async fn unknown_app_id_is_invalid_appid() {
    let api = Api::start().await;
    let answer = api
        .send(
            api.http()
                .post(api.url_for("ffffffffffffffffffffffffffffffff", "acquire"))
                .basic_auth(DEMO_CUSTOMER_ID, Some(DEMO_CUSTOMER_SECRET))
                .json(&fixture("acquire-quickstart")),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body, json!({"code": 400, "reason": "invalid_appid"}));
}

#[tokio::test]
async fn malformed_bodies_are_code_2_with_a_reason() {
    let api = Api::start().await;
    let ok = fixture("acquire-quickstart");
    let with = |pointer: &str, value: Value| {
        let mut body = ok.clone();
        if let Some(slot) = body.pointer_mut(pointer) {
            *slot = value;
        }
        body
    };
    let without = |key: &str| {
        let mut body = ok.clone();
        body.as_object_mut().map(|m| m.remove(key));
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"cname": "room1", "uid": "1", "clientRequest": {"scene": 0, "sceen": 1}}),
            "unknown field `sceen`",
        ),
        (
            json!({"cname": "room1", "uid": "1", "clientRequest": {}, "extra": true}),
            "unknown field `extra`",
        ),
        (with("/uid", json!(527_842)), "uid must be a string"),
        (with("/uid", json!("0")), "invalid uid `0`"),
        (with("/uid", json!("4294967296")), "invalid uid"),
        (with("/uid", json!("12ab")), "invalid uid"),
        (without("cname"), "missing field `cname`"),
        (without("uid"), "missing field `uid`"),
        (without("clientRequest"), "missing field `clientRequest`"),
        (
            with("/clientRequest", json!({"scene": "0"})),
            "invalid type",
        ),
        (
            with("/clientRequest", json!({"scene": 3})),
            "invalid scene value 3",
        ),
        (
            with("/clientRequest", json!({"resourceExpiredHour": 0})),
            "resourceExpiredHour",
        ),
        (
            with("/clientRequest", json!({"region": "MARS"})),
            "invalid region value",
        ),
        (json!([]), "JSON object"),
        (json!(null), "JSON object"),
    ];
    for (body, reason) in cases {
        let answer = api.post("acquire", &body).await;
        answer.assert_code(StatusCode::BAD_REQUEST, 2, reason);
        assert!(
            answer.reason().starts_with("Acquire: "),
            "{}",
            answer.reason()
        );
    }
    let garbage = api
        .send(
            api.http()
                .post(api.url("acquire"))
                .basic_auth(DEMO_CUSTOMER_ID, Some(DEMO_CUSTOMER_SECRET))
                .header("content-type", "application/json")
                .body("{\"cname\": "),
        )
        .await;
    garbage.assert_code(StatusCode::BAD_REQUEST, 2, "JSON object");
}

#[tokio::test]
async fn channel_names_follow_the_mode_rules() {
    let api = Api::start().await;
    let acquire = |cname: String, scene: u8| json!({"cname": cname, "uid": "527841", "clientRequest": {"scene": scene}});
    for cname in [
        "room/1".to_owned(),
        "a".repeat(64),
        String::new(),
        "salle-é".to_owned(),
    ] {
        let answer = api.post("acquire", &acquire(cname.clone(), 0)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{cname}");
        assert_eq!(
            answer.body,
            json!({"code": 401, "reason": "invalid_channel_name"})
        );
    }
    for cname in ["a".repeat(63), "ok !#$%&()+-:;<=.>?@[]^_{}|~,".to_owned()] {
        assert_eq!(
            api.post("acquire", &acquire(cname, 0)).await.status,
            StatusCode::OK
        );
    }
    let web = api
        .post(
            "acquire",
            &acquire(format!("https://x/{}", "a".repeat(1000)), 1),
        )
        .await;
    assert_eq!(
        web.status,
        StatusCode::OK,
        "web allows 1024 bytes: {}",
        web.body
    );
    let long = api.post("acquire", &acquire("a".repeat(1025), 1)).await;
    assert_eq!(long.code(), Some(401));
}

#[tokio::test]
async fn start_must_match_its_resource() {
    let api = Api::start().await;
    let acquire = fixture("acquire-composite");
    let start = fixture("start-composite");
    let rid = api.acquire(&acquire).await;
    let path = start_path(&rid, "mix");

    let answer = api
        .post(&path, &for_channel(start.clone(), "room2", "527841"))
        .await;
    answer.assert_code(StatusCode::BAD_REQUEST, 432, "does not match");
    let answer = api
        .post(&path, &for_channel(start.clone(), "room1", "527849"))
        .await;
    answer.assert_code(StatusCode::BAD_REQUEST, 432, "does not match");
    let answer = api.post(&start_path("not-a-resource", "mix"), &start).await;
    answer.assert_code(StatusCode::BAD_REQUEST, 1001, "resourceId");

    assert_eq!(api.post(&path, &start).await.status, StatusCode::OK);
    let again = api.post(&path, &start).await;
    again.assert_code(StatusCode::CREATED, 7, "already started");

    // Same cname and uid on a fresh resource while the first task runs.
    let other = api.acquire(&acquire).await;
    let conflict = api.post(&start_path(&other, "mix"), &start).await;
    conflict.assert_code(StatusCode::BAD_REQUEST, 53, "task conflict");
}

#[tokio::test]
async fn start_scene_must_fit_the_mode() {
    let api = Api::start().await;
    let rtc = api
        .acquire(&for_channel(
            fixture("acquire-composite"),
            "webroom",
            "527843",
        ))
        .await;
    let answer = api
        .post(&start_path(&rtc, "web"), &fixture("start-web"))
        .await;
    answer.assert_code(StatusCode::BAD_REQUEST, 2, "scene 1");

    let web = api
        .acquire(&for_channel(fixture("acquire-web"), "room1", "527841"))
        .await;
    let answer = api
        .post(&start_path(&web, "mix"), &fixture("start-composite"))
        .await;
    answer.assert_code(StatusCode::BAD_REQUEST, 2, "scene 1");

    let answer = api
        .post(&start_path(&web, "composite"), &fixture("start-composite"))
        .await;
    answer.assert_code(StatusCode::BAD_REQUEST, 2, "invalid mode `composite`");
}

#[tokio::test]
async fn unknown_tasks_are_workers_not_found() {
    let api = Api::start().await;
    let (rid, _) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite"),
        )
        .await;
    let sid = "0".repeat(32);
    let answer = api.get(&task_path(&rid, &sid, "mix", "query")).await;
    answer.assert_worker_not_found();
    assert_eq!(answer.body["sid"], sid.as_str());
    let answer = api
        .post(
            &task_path(&rid, &sid, "mix", "stop"),
            &fixture("stop-empty"),
        )
        .await;
    answer.assert_worker_not_found();
    assert_eq!(
        answer.body["serverResponse"]["command"],
        "StopCloudRecorder"
    );
    assert_eq!(answer.body["cname"], "room1");
}

#[tokio::test]
async fn acquire_refuses_beyond_the_concurrency_limit() {
    let api = Api::with(SimConfig {
        rate_limit: None,
        max_concurrent_tasks: NonZeroUsize::MIN,
        ..SimConfig::default()
    })
    .await;
    api.record(
        &fixture("acquire-composite"),
        "mix",
        &fixture("start-composite"),
    )
    .await;
    let answer = api.post("acquire", &fixture("acquire-quickstart")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.body,
        json!({"code": 406, "reason": "vendor_over_load"})
    );
}
