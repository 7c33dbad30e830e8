//! Agora's example bodies go through a whole session: acquire, start, query,
//! update or updateLayout, stop; the answers have the documented shapes.

use std::time::Duration;

use recplan::sim::DEMO_APP_ID;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Api, fixture, for_channel, start_path, task_path};

/// Past the first slice, when query lists files and shows status 5.
const AFTER_FIRST_SLICE: Duration = Duration::from_secs(16);

#[tokio::test(start_paused = true)]
async fn composite_docs_session_with_hls_and_mp4() {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite"),
        )
        .await;
    assert_eq!(sid.len(), 32);
    assert!(sid.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(rid.len() > 100, "resource IDs are long opaque strings");

    tokio::time::advance(AFTER_FIRST_SLICE).await;
    let query = api.get(&task_path(&rid, &sid, "mix", "query")).await;
    assert_eq!(query.status, StatusCode::OK, "{}", query.body);
    assert_eq!(query.body["cname"], "room1");
    assert_eq!(query.body["uid"], "527841");
    assert_eq!(query.body["resourceId"], rid.as_str());
    let server = &query.body["serverResponse"];
    assert_eq!(server["status"], 5);
    assert_eq!(server["fileListMode"], "json");
    let files = server["fileList"].as_array().expect("a json file list");
    let names: Vec<&str> = files
        .iter()
        .filter_map(|f| f["fileName"].as_str())
        .collect();
    assert_eq!(
        names,
        [format!("{sid}_room1.m3u8"), format!("{sid}_room1_0.mp4")]
    );
    for file in files {
        assert_eq!(file["trackType"], "audio_and_video");
        assert_eq!(file["uid"], "0");
        assert_eq!(file["mixedAllUser"], true);
        assert_eq!(file["isPlayable"], true);
        assert!(
            file["sliceStartTime"]
                .as_i64()
                .is_some_and(|ms| ms > 1_000_000_000_000)
        );
    }

    let update = for_channel(fixture("update-subscribe"), "room1", "527841");
    let answer = api
        .post(&task_path(&rid, &sid, "mix", "update"), &update)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({"cname": "room1", "uid": "527841", "resourceId": rid, "sid": sid})
    );

    let layout = for_channel(fixture("update-layout"), "room1", "527841");
    let answer = api
        .post(&task_path(&rid, &sid, "mix", "updateLayout"), &layout)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["sid"], sid.as_str());

    let stop = for_channel(fixture("stop"), "room1", "527841");
    let answer = api.post(&task_path(&rid, &sid, "mix", "stop"), &stop).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let server = &answer.body["serverResponse"];
    assert_eq!(server["uploadingStatus"], "uploaded");
    assert_eq!(server["fileListMode"], "json");
    assert_eq!(server["fileList"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(start_paused = true)]
async fn the_log_holds_the_exact_traffic_in_order() {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite"),
        )
        .await;
    api.get(&task_path(&rid, &sid, "mix", "query")).await;
    let update = for_channel(fixture("update-subscribe"), "room1", "527841");
    api.post(&task_path(&rid, &sid, "mix", "update"), &update)
        .await;
    let layout = for_channel(fixture("update-layout"), "room1", "527841");
    api.post(&task_path(&rid, &sid, "mix", "updateLayout"), &layout)
        .await;
    api.post(
        &task_path(&rid, &sid, "mix", "stop"),
        &fixture("stop-empty"),
    )
    .await;

    let log = api.sim.requests();
    let seen: Vec<(Method, String, Option<StatusCode>, bool)> = log
        .iter()
        .map(|r| (r.method.clone(), r.path.clone(), r.status, r.auth_valid))
        .collect();
    let base = format!("/v1/apps/{DEMO_APP_ID}/cloud_recording/");
    let ok = Some(StatusCode::OK);
    assert_eq!(
        seen,
        [
            (Method::POST, format!("{base}acquire"), ok, true),
            (
                Method::POST,
                format!("{base}{}", start_path(&rid, "mix")),
                ok,
                true
            ),
            (
                Method::GET,
                format!("{base}{}", task_path(&rid, &sid, "mix", "query")),
                ok,
                true
            ),
            (
                Method::POST,
                format!("{base}{}", task_path(&rid, &sid, "mix", "update")),
                ok,
                true
            ),
            (
                Method::POST,
                format!("{base}{}", task_path(&rid, &sid, "mix", "updateLayout")),
                ok,
                true
            ),
            (
                Method::POST,
                format!("{base}{}", task_path(&rid, &sid, "mix", "stop")),
                ok,
                true
            ),
        ]
    );
    assert_eq!(log[1].body.as_ref(), Some(&fixture("start-composite")));
    assert_eq!(log[1].content_type.as_deref(), Some("application/json"));
    assert_eq!(log[2].body, None);
}

#[tokio::test(start_paused = true)]
async fn composite_hls_only_lists_the_m3u8_as_a_string() {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite-hls"),
        )
        .await;
    tokio::time::advance(AFTER_FIRST_SLICE).await;
    let query = api.get(&task_path(&rid, &sid, "mix", "query")).await;
    let server = &query.body["serverResponse"];
    assert_eq!(server["fileListMode"], "string");
    assert_eq!(server["fileList"], format!("{sid}_room1.m3u8"));
    assert!(server["sliceStartTime"].as_i64().is_some_and(|ms| ms > 0));

    let stop = api
        .post(
            &task_path(&rid, &sid, "mix", "stop"),
            &fixture("stop-empty"),
        )
        .await;
    assert_eq!(stop.status, StatusCode::OK, "{}", stop.body);
    assert_eq!(
        stop.body["serverResponse"],
        json!({
            "fileListMode": "string",
            "fileList": format!("{sid}_room1.m3u8"),
            "uploadingStatus": "uploaded",
        })
    );
}

#[tokio::test(start_paused = true)]
async fn composite_custom_layout_from_a_support_reply() {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite-custom-layout"),
        )
        .await;
    let stop = api
        .post(
            &task_path(&rid, &sid, "mix", "stop"),
            &fixture("stop-empty"),
        )
        .await;
    assert_eq!(stop.status, StatusCode::OK, "{}", stop.body);
}

#[tokio::test(start_paused = true)]
async fn individual_session_lists_one_file_per_uid_and_track() {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(
            &fixture("acquire-quickstart"),
            "individual",
            &fixture("start-individual"),
        )
        .await;
    tokio::time::advance(AFTER_FIRST_SLICE).await;
    let query = api.get(&task_path(&rid, &sid, "individual", "query")).await;
    let server = &query.body["serverResponse"];
    assert_eq!(server["status"], 5, "{}", query.body);
    assert_eq!(server["fileListMode"], "json");
    let files = server["fileList"].as_array().expect("a json file list");
    let seen: Vec<(&str, &str, &str)> = files
        .iter()
        .map(|f| {
            (
                f["fileName"].as_str().unwrap_or_default(),
                f["trackType"].as_str().unwrap_or_default(),
                f["uid"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let name = |uid: &str, track: &str| format!("{sid}_room1__uid_s_{uid}__uid_e_{track}.m3u8");
    let expected = [
        (name("1001", "audio"), "audio", "1001"),
        (name("1001", "video"), "video", "1001"),
        (name("1002", "audio"), "audio", "1002"),
        (name("1002", "video"), "video", "1002"),
    ];
    let expected: Vec<(&str, &str, &str)> = expected
        .iter()
        .map(|(n, t, u)| (n.as_str(), *t, *u))
        .collect();
    assert_eq!(seen, expected);
    assert!(files.iter().all(|f| f["mixedAllUser"] == false));

    // The update stops recording 1002's video.
    let update = for_channel(fixture("update-subscribe"), "room1", "527842");
    let answer = api
        .post(&task_path(&rid, &sid, "individual", "update"), &update)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    let stop = for_channel(fixture("stop"), "room1", "527842");
    let answer = api
        .post(&task_path(&rid, &sid, "individual", "stop"), &stop)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let names: Vec<&str> = answer.body["serverResponse"]["fileList"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["fileName"].as_str())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(!names.contains(&name("1002", "video").as_str()));
}

#[tokio::test(start_paused = true)]
async fn individual_screenshots_only_report_status_and_upload() {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(
            &fixture("acquire-quickstart"),
            "individual",
            &fixture("start-individual-snapshot"),
        )
        .await;
    tokio::time::advance(AFTER_FIRST_SLICE).await;
    let query = api.get(&task_path(&rid, &sid, "individual", "query")).await;
    let server = query.body["serverResponse"]
        .as_object()
        .expect("serverResponse");
    let mut keys: Vec<&str> = server.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["sliceStartTime", "status"]);

    let stop = for_channel(fixture("stop-empty"), "room1", "527842");
    let answer = api
        .post(&task_path(&rid, &sid, "individual", "stop"), &stop)
        .await;
    assert_eq!(
        answer.body["serverResponse"],
        json!({"uploadingStatus": "uploaded"})
    );
}

#[tokio::test(start_paused = true)]
async fn web_session_reports_extension_services() {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(&fixture("acquire-web"), "web", &fixture("start-web"))
        .await;

    let early = api.get(&task_path(&rid, &sid, "web", "query")).await;
    let services = &early.body["serverResponse"]["extensionServiceState"];
    assert_eq!(services[0]["serviceName"], "web_recorder_service");
    assert_eq!(services[0]["payload"]["state"], "init");
    assert_eq!(services[1]["payload"]["outputs"][0]["status"], "connecting");

    tokio::time::advance(AFTER_FIRST_SLICE).await;
    let query = api.get(&task_path(&rid, &sid, "web", "query")).await;
    let server = &query.body["serverResponse"];
    assert_eq!(server["status"], 5, "{}", query.body);
    let recorder = &server["extensionServiceState"][0]["payload"];
    assert_eq!(recorder["state"], "inProgress");
    assert_eq!(recorder["onhold"], false);
    assert_eq!(
        recorder["fileList"][0]["filename"],
        format!("{sid}_webroom.m3u8")
    );
    assert_eq!(
        recorder["fileList"][1]["filename"],
        format!("{sid}_webroom_0.mp4")
    );
    let rtmp = &server["extensionServiceState"][1];
    assert_eq!(rtmp["serviceName"], "rtmp_publish_service");
    assert_eq!(
        rtmp["payload"]["outputs"],
        json!([{"rtmpUrl": "rtmp://xxx.xxx.xxx.xxx:1935/live/test", "status": "publishing"}])
    );

    let answer = api
        .post(
            &task_path(&rid, &sid, "web", "update"),
            &fixture("update-web"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let query = api.get(&task_path(&rid, &sid, "web", "query")).await;
    assert_eq!(
        query.body["serverResponse"]["extensionServiceState"][1]["payload"]["outputs"][0]["rtmpUrl"],
        "rtmp://yyy.yyy.yyy.yyy:1935/live/test"
    );

    let stop = for_channel(fixture("stop"), "webroom", "527843");
    let answer = api.post(&task_path(&rid, &sid, "web", "stop"), &stop).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let services = &answer.body["serverResponse"]["extensionServiceState"];
    assert_eq!(
        services[0],
        json!({"serviceName": "upload_service", "payload": {"uploadingStatus": "uploaded"}})
    );
    assert_eq!(services[1]["serviceName"], "web_recorder_service");
    assert_eq!(services[1]["payload"]["state"], "exit");
    assert_eq!(
        services[1]["payload"]["fileList"][0]["filename"],
        format!("{sid}_webroom.m3u8")
    );
}

#[tokio::test]
async fn accepts_the_legacy_content_type() {
    let api = Api::start().await;
    let answer = api
        .send(
            api.http()
                .post(api.url("acquire"))
                .header(
                    "authorization",
                    super::basic("demo-customer", "demo-secret"),
                )
                .header("content-type", "application/json;charset=utf-8")
                .body(fixture("acquire-quickstart").to_string()),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}
