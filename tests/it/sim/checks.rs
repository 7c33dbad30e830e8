//! Start and update bodies are checked per mode, as the reference lists:
//! each case is a fixture with one thing wrong, and the 400 code 2 reason
//! names the problem.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Api, fixture, for_channel, start_path, task_path};

/// Where the shorthand prefixes of [`start_rejects`] point.
const SHORTHANDS: [(&str, &str); 3] = [
    ("rc/", "recordingConfig/"),
    ("tc/", "recordingConfig/transcodingConfig/"),
    (
        "web/",
        "extensionServiceConfig/extensionServices/0/serviceParam/",
    ),
];

/// `body` with `value` at `pointer` under clientRequest; `Null` removes it.
fn patched(mut body: Value, pointer: &str, value: Value) -> Value {
    let mut path = pointer.to_owned();
    for (short, long) in SHORTHANDS {
        if let Some(rest) = pointer.strip_prefix(short) {
            path = format!("{long}{rest}");
        }
    }
    let full = format!("/clientRequest/{path}");
    let (parent, key) = full.rsplit_once('/').unwrap_or_default();
    let object = body.pointer_mut(parent).and_then(Value::as_object_mut);
    let object = object.unwrap_or_else(|| panic!("no object at {parent}"));
    if value.is_null() {
        object.remove(key);
    } else {
        object.insert(key.to_owned(), value);
    }
    body
}

/// Starts each patched `start` fixture in `mode` on a fresh resource and
/// expects 400 code 2 with a reason containing the case's text.
async fn start_rejects(mode: &str, start: &str, cases: Vec<(&str, Value, &str)>) {
    let api = Api::start().await;
    for (pointer, value, reason) in cases {
        let body = patched(fixture(start), pointer, value);
        let acquire = json!({
            "cname": body["cname"],
            "uid": body["uid"],
            "clientRequest": {"scene": u8::from(mode == "web")},
        });
        let rid = api.acquire(&acquire).await;
        let answer = api.post(&start_path(&rid, mode), &body).await;
        answer.assert_code(StatusCode::BAD_REQUEST, 2, reason);
        assert!(
            answer.reason().starts_with("Start: "),
            "{}",
            answer.reason()
        );
    }
}

#[tokio::test]
async fn composite_start_bodies() {
    start_rejects(
        "mix",
        "start-composite",
        vec![
            ("storageConfig", Value::Null, "storageConfig is required"),
            (
                "storageConfig/vendor",
                json!("aws_s3"),
                "vendor must be a number",
            ),
            (
                "storageConfig/region",
                json!("us-east-1"),
                "region must be a number",
            ),
            (
                "storageConfig/region",
                json!(99),
                "invalid storageConfig.region",
            ),
            (
                "storageConfig/fileNamePrefix",
                json!(["a/b"]),
                "fileNamePrefix",
            ),
            (
                "recordingFileConfig",
                json!({"avFileType": ["mp4"]}),
                "avFileType",
            ),
            (
                "snapshotConfig",
                json!({"fileType": ["jpg"]}),
                "only for individual",
            ),
            (
                "recordingConfig",
                Value::Null,
                "recordingConfig is required",
            ),
            ("rc/maxIdleTime", json!(4), "maxIdleTime"),
            ("rc/decryptionMode", json!(5), "secret is required"),
            (
                "rc/streamMode",
                json!("standard"),
                "streamMode is only for individual",
            ),
            ("tc/bitrate", json!(6501), "bitrate"),
            ("tc/width", json!(3840), "resolution"),
            ("tc/mixedVideoLayout", json!(3), "layoutConfig is required"),
            ("tc/backgroundColor", json!("red"), "backgroundColor"),
            ("tc/widht", json!(640), "unknown field `widht`"),
        ],
    )
    .await;
}

#[tokio::test]
async fn individual_start_bodies() {
    let web_services = fixture("start-web")["clientRequest"]["extensionServiceConfig"].clone();
    start_rejects(
        "individual",
        "start-individual",
        vec![
            (
                "recordingFileConfig",
                json!({"avFileType": ["hls", "mp4"]}),
                "mp4 is not supported",
            ),
            (
                "rc/transcodingConfig",
                json!({"width": 640}),
                "only for mix",
            ),
            (
                "rc/subscribeUidGroup",
                Value::Null,
                "subscribeUidGroup is required",
            ),
            (
                "rc/unSubscribeAudioUids",
                json!(["1"]),
                "cannot both be set",
            ),
            ("rc/subscribeVideoUids", json!(["007"]), "invalid uid `007`"),
            ("rc/streamMode", json!("original"), "needs streamTypes 0"),
            ("extensionServiceConfig", web_services, "only for web"),
            (
                "appsCollection",
                json!({"combinationPolicy": "default"}),
                "scene 2",
            ),
            ("snapshotConfig", json!({"fileType": ["png"]}), "fileType"),
            (
                "snapshotConfig",
                json!({"fileType": ["jpg"], "captureInterval": 1}),
                "captureInterval",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn web_start_bodies() {
    start_rejects(
        "web",
        "start-web",
        vec![
            (
                "extensionServiceConfig",
                Value::Null,
                "extensionServiceConfig is required",
            ),
            (
                "recordingConfig",
                json!({"channelType": 0}),
                "not supported in web mode",
            ),
            ("web/videoWidth", json!(320), "videoWidth"),
            (
                "web/maxRecordingHour",
                Value::Null,
                "maxRecordingHour are required",
            ),
            ("web/url", Value::Null, "url is required"),
            ("web/readyTimeout", json!(61), "readyTimeout"),
            (
                "web/outputs",
                json!([{"rtmpUrl": "rtmp://x"}]),
                "outputs is only for",
            ),
            (
                "extensionServiceConfig/extensionServices/1/serviceParam/outputs",
                json!([{"rtmpUrl": "http://x"}]),
                "rtmpUrl",
            ),
            (
                "extensionServiceConfig/extensionServices/0/serviceName",
                json!("web_recorder"),
                "needs one web_recorder_service",
            ),
            (
                "extensionServiceConfig/errorHandlePolicy",
                json!("error_ignore"),
                "errorHandlePolicy",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn update_and_update_layout_bodies_follow_the_mode() {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(
            &fixture("acquire-quickstart"),
            "individual",
            &fixture("start-individual"),
        )
        .await;
    let individual = |op| task_path(&rid, &sid, "individual", op);
    let layout = for_channel(fixture("update-layout"), "room1", "527842");
    let answer = api.post(&individual("updateLayout"), &layout).await;
    answer.assert_code(StatusCode::BAD_REQUEST, 2, "only supported in mode mix");

    let web_update = for_channel(fixture("update-web"), "room1", "527842");
    let answer = api.post(&individual("update"), &web_update).await;
    answer.assert_code(StatusCode::BAD_REQUEST, 2, "only for web mode");
    assert!(
        answer.reason().starts_with("Update: "),
        "{}",
        answer.reason()
    );

    let subscribe = for_channel(fixture("update-subscribe"), "room1", "527842");
    let answer = api
        .post(&task_path(&rid, &sid, "mix", "update"), &subscribe)
        .await;
    answer.assert_code(
        StatusCode::BAD_REQUEST,
        2,
        "does not match the recording's mode",
    );

    let stranger = for_channel(fixture("update-subscribe"), "room1", "1234");
    let answer = api.post(&individual("update"), &stranger).await;
    answer.assert_code(StatusCode::BAD_REQUEST, 432, "does not match");

    let (web_resource, web_recording) = api
        .record(&fixture("acquire-web"), "web", &fixture("start-web"))
        .await;
    let subscribe = for_channel(fixture("update-subscribe"), "webroom", "527843");
    let path = task_path(&web_resource, &web_recording, "web", "update");
    let answer = api.post(&path, &subscribe).await;
    answer.assert_code(
        StatusCode::BAD_REQUEST,
        2,
        "streamSubscribe is not supported",
    );

    let (mix_resource, mix_recording) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite"),
        )
        .await;
    let mut bad_layout = for_channel(fixture("update-layout"), "room1", "527841");
    bad_layout["clientRequest"]["mixedVideoLayout"] = json!(1);
    let path = task_path(&mix_resource, &mix_recording, "mix", "updateLayout");
    let answer = api.post(&path, &bad_layout).await;
    answer.assert_code(StatusCode::BAD_REQUEST, 2, "only for mixedVideoLayout 3");
    assert!(answer.reason().starts_with("UpdateLayout: "));
}
