//! The plan validator and the simulator's checker read the same facts but
//! decide independently; this property holds them together: every body a
//! valid plan renders, the simulator accepts. Plans are generated as YAML
//! (bodies written as JSON, which YAML reads) and go through the whole
//! validator, templates and region names included; the rendered bodies go
//! through the simulator's checks in the order its endpoints make them.
//!
//! Values come from small pools, mostly valid and near Agora's bounds, with
//! a share just past them, so that both sides often accept and often refuse.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

use crate::agora::facts;
use crate::agora::request::StartClientRequest;
use crate::plan::{Env, MissingEnv, Options, SessionSpec, Source, StepAction, validate};
use crate::schedule::Tz;
use crate::sim::validate as sim;

const APP_ID: &str = "0123456789abcdef0123456789abcdef";

/// An optional field: absent or `value`.
fn maybe(value: Value) -> BoxedStrategy<Option<Value>> {
    prop_oneof![Just(None), Just(Some(value))].boxed()
}

/// A JSON object of the fields that are present.
fn object(fields: Vec<(&'static str, Option<Value>)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), value?)))
            .collect(),
    )
}

fn uids(count: usize) -> Value {
    (0..count).map(|i| (1001 + i).to_string()).collect()
}

fn region() -> Value {
    json!({"x_axis": 0.0, "y_axis": 0.0, "width": 0.5, "height": 0.5})
}

fn web_recorder() -> Value {
    json!({"serviceName": "web_recorder_service", "serviceParam": {
        "url": "https://example.com/", "audioProfile": 0, "videoWidth": 1280,
        "videoHeight": 720, "maxRecordingHour": 1}})
}

fn rtmp(url: &str) -> Value {
    json!({"serviceName": "rtmp_publish_service", "serviceParam": {"outputs": [{"rtmpUrl": url}]}})
}

/// A plan every field of which is valid for its mode.
fn valid_plan() -> impl Strategy<Value = Value> {
    let storage = (
        select(vec![json!(1), json!(2), json!("aws_s3")]),
        select(vec![json!(0), json!(1)]),
        maybe(json!(["rec", "room1"])),
        maybe(json!("sts")),
    )
        .prop_map(|(vendor, region, prefix, sts)| {
            object(vec![
                ("vendor", Some(vendor)),
                ("region", Some(region)),
                ("bucket", Some(json!("rec"))),
                ("accessKey", Some(json!("AK"))),
                ("secretKey", Some(json!("SK"))),
                ("fileNamePrefix", prefix),
                ("stsToken", sts),
            ])
        });
    let acquire = (maybe(json!(24)), maybe(json!("EU")), maybe(json!(1))).prop_map(
        |(hours, region, affinity)| {
            object(vec![
                ("resourceExpiredHour", hours),
                ("region", region),
                ("regionAffinity", affinity),
            ])
        },
    );
    let recording = (
        select(vec![json!(0), json!(1)]),
        maybe(json!(2)),
        maybe(json!(30)),
        maybe(json!(1)),
        prop_oneof![
            Just(None),
            Just(Some(("subscribeAudioUids", json!(["#allstream#"])))),
            Just(Some(("unSubscribeVideoUids", uids(32)))),
        ],
    );
    let layout = (
        select(vec![None, Some(0), Some(1), Some(2), Some(3)]),
        maybe(json!("#FF8800")),
        maybe(json!([{"uid": "1001", "image_url": "https://example.com/a.png", "render_mode": 1}])),
        select(vec![json!([region()]), Value::Array(vec![region(); 17])]),
    )
        .prop_map(|(kind, color, backgrounds, regions)| {
            object(vec![
                ("mixedVideoLayout", kind.map(Value::from)),
                ("maxResolutionUid", (kind == Some(2)).then(|| json!("1001"))),
                ("backgroundColor", color),
                ("backgroundConfig", backgrounds),
                ("layoutConfig", (kind == Some(3)).then_some(regions)),
            ])
        });
    (
        select(vec!["individual", "composite", "web"]),
        storage,
        acquire,
        recording,
        layout.clone(),
        layout,
        maybe(json!({"avFileType": ["hls"]})),
        any::<bool>(),
    )
        .prop_map(
            |(mode, storage, acquire, (channel, streams, idle, video_type, list), layout, step_layout, files, extra)| {
                let mut start = json!({"storageConfig": storage});
                let mut recording = object(vec![
                    ("channelType", Some(channel)),
                    ("streamTypes", streams),
                    ("maxIdleTime", idle),
                    ("videoStreamType", video_type),
                ]);
                if let Some((name, uids)) = list {
                    recording[name] = uids;
                }
                let steps = match mode {
                    "individual" => {
                        recording["subscribeUidGroup"] = json!(1);
                        if extra {
                            start["snapshotConfig"] = json!({"captureInterval": 5, "fileType": ["jpg"]});
                        }
                        json!([{"at": "10m", "update": {"streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["1001"]}}}}])
                    }
                    "composite" => {
                        if extra {
                            let mut canvas = layout;
                            canvas["width"] = json!(1920);
                            canvas["height"] = json!(1080);
                            recording["transcodingConfig"] = canvas;
                            recording["audioProfile"] = json!(1);
                        }
                        json!([{"at": "20m", "updateLayout": step_layout}])
                    }
                    _ => {
                        let services = if extra {
                            json!([web_recorder(), rtmp("rtmp://cdn.example.com/live/k")])
                        } else {
                            json!([web_recorder()])
                        };
                        start["extensionServiceConfig"] = json!({"extensionServices": services});
                        json!([{"at": "10m", "update": {"webRecordingConfig": {"onhold": true}}}])
                    }
                };
                if mode != "web" {
                    start["recordingConfig"] = recording;
                }
                if let Some(files) = files {
                    start["recordingFileConfig"] = files;
                }
                json!({
                    "mode": mode,
                    "app_id": APP_ID,
                    "schedule": {"duration": "30m"},
                    "channels": [{"cname": "room", "uid": "1001"}],
                    "acquire": acquire,
                    "start": start,
                    "steps": steps,
                })
            },
        )
}

/// Changes, each at a path, that break a plan or that are valid only with
/// others: values at Agora's bounds and just past them, and blocks in the
/// wrong mode.
fn edits() -> Vec<(&'static str, Value)> {
    let rc = "/start/recordingConfig";
    let mut edits = vec![
        ("/acquire/resourceExpiredHour", json!(721)),
        ("/acquire/resourceExpiredHour", json!(0)),
        ("/acquire/region", json!("XX")),
        ("/acquire/region", json!("CN")),
        ("/acquire/scene", json!(0)),
        ("/acquire/scene", json!(1)),
        ("/acquire/scene", json!(2)),
        ("/acquire/regionAffinity", json!(-1)),
        ("/channels/0/cname", json!("a".repeat(63))),
        ("/channels/0/cname", json!("a".repeat(64))),
        ("/channels/0/cname", json!("room/1")),
        ("/channels/0/cname", json!("room-1 (a|b)")),
        ("/channels/0/cname", json!("https://example.com/?q=1")),
        ("/channels/0/uid", json!("4294967295")),
        ("/channels/0/uid", json!("4294967296")),
        ("/channels/0/uid", json!("0")),
        ("/start/storageConfig/vendor", json!(5)),
        ("/start/storageConfig/vendor", json!(11)),
        ("/start/storageConfig/region", json!(30)),
        ("/start/storageConfig/region", json!("us-east-1")),
        ("/start/storageConfig/bucket", json!("")),
        ("/start/storageConfig/accessKey", json!("")),
        ("/start/storageConfig/fileNamePrefix", json!(["re c"])),
        (
            "/start/storageConfig/fileNamePrefix",
            json!(["a".repeat(128)]),
        ),
        (
            "/start/storageConfig/fileNamePrefix",
            json!(["a".repeat(129)]),
        ),
        (
            "/start/storageConfig/extensionParams",
            json!({"endpoint": "s3.example.com"}),
        ),
        (
            "/start/storageConfig/extensionParams",
            json!({"sse": "kms", "tag": "t"}),
        ),
        (
            "/start/storageConfig/extensionParams",
            json!({"sse": "des"}),
        ),
        (
            "/start/recordingFileConfig",
            json!({"avFileType": ["hls", "mp4"]}),
        ),
        ("/start/recordingFileConfig", json!({"avFileType": ["mp4"]})),
        (
            "/start/snapshotConfig",
            json!({"captureInterval": 3600, "fileType": ["jpg"]}),
        ),
        (
            "/start/snapshotConfig",
            json!({"captureInterval": 4, "fileType": ["jpg"]}),
        ),
        ("/start/snapshotConfig", json!({"fileType": ["png"]})),
        (
            "/start/appsCollection",
            json!({"combinationPolicy": "postpone_transcoding"}),
        ),
        (
            "/start/appsCollection",
            json!({"combinationPolicy": "later"}),
        ),
        (
            "/start/transcodeOptions",
            json!({"transConfig": {"transMode": "postponeTranscoding"}, "container": {"format": "mp4"}}),
        ),
        (
            "/start/transcodeOptions",
            json!({"transConfig": {"transMode": "audioMix"}, "container": {"format": "mp4"}}),
        ),
        (
            "/start/transcodeOptions",
            json!({"transConfig": {"transMode": "audioMix"}, "audio": {"sampleRate": "32000", "channels": "1", "bitrate": "64000"}}),
        ),
        (
            "/start/transcodeOptions",
            json!({"transConfig": {"transMode": "audioMix"}, "audio": {"sampleRate": "44100"}}),
        ),
        (
            "/start/transcodeOptions",
            json!({"transConfig": {"transMode": "audioMix"}, "audio": {"bitrate": "high"}}),
        ),
        (
            "/start/extensionServiceConfig",
            json!({"extensionServices": [web_recorder()]}),
        ),
        (
            "/start/extensionServiceConfig",
            json!({"errorHandlePolicy": "error_ignore", "extensionServices": [web_recorder()]}),
        ),
        (
            "/start/extensionServiceConfig/extensionServices",
            json!([web_recorder(), web_recorder()]),
        ),
        (
            "/start/extensionServiceConfig/extensionServices",
            json!([rtmp("rtmp://cdn.example.com/live/k")]),
        ),
        (
            "/start/extensionServiceConfig/extensionServices",
            json!([web_recorder(), rtmp("http://cdn.example.com/live")]),
        ),
        (
            "/start/extensionServiceConfig/extensionServices/0/errorHandlePolicy",
            json!("error_ignore"),
        ),
        (
            "/start/extensionServiceConfig/extensionServices/0/errorHandlePolicy",
            json!("retry"),
        ),
        (
            "/start/extensionServiceConfig/extensionServices/0/serviceParam/videoWidth",
            json!(2000),
        ),
        (
            "/start/extensionServiceConfig/extensionServices/0/serviceParam/url",
            json!(""),
        ),
        (
            "/start/extensionServiceConfig/extensionServices/0/serviceParam/videoFps",
            json!(61),
        ),
        (
            "/start/extensionServiceConfig/extensionServices/0/serviceParam/outputs",
            json!([{"rtmpUrl": "rtmp://cdn/x"}]),
        ),
        ("/start/recordingConfig", Value::Null),
        (
            "/steps/0/update/rtmpPublishConfig",
            json!({"outputs": [{"rtmpUrl": "ftp://cdn.example.com/k"}]}),
        ),
        (
            "/steps/0/update/rtmpPublishConfig",
            json!({"outputs": [{"rtmpUrl": "rtmps://cdn.example.com/k"}]}),
        ),
        (
            "/steps/0/update/streamSubscribe",
            json!({"audioUidList": {"unSubscribeAudioUids": ["#allstream#"]}}),
        ),
        (
            "/steps/0/update/streamSubscribe",
            json!({"videoUidList": {"subscribeVideoUids": uids(33)}}),
        ),
        ("/steps/0/updateLayout/layoutConfig", json!([])),
        (
            "/steps/0/updateLayout",
            json!({"mixedVideoLayout": 3, "layoutConfig": []}),
        ),
        (
            "/start/recordingConfig/transcodingConfig",
            json!({"mixedVideoLayout": 3, "layoutConfig": []}),
        ),
        (
            "/start/recordingConfig/transcodingConfig",
            json!({"mixedVideoLayout": 3, "layoutConfig": [{"x_axis": 0.0, "y_axis": 0.0, "width": 0.5, "height": 0.5, "render_mode": 2}]}),
        ),
        ("/steps/0/updateLayout/mixedVideoLayout", json!(3)),
        (
            "/steps/0/updateLayout/backgroundConfig",
            json!([{"uid": "1001", "image_url": ""}]),
        ),
    ];
    for (field, values) in [
        ("channelType", vec![json!(2), Value::Null]),
        ("streamTypes", vec![json!(0), json!(3)]),
        (
            "streamMode",
            vec![json!("standard"), json!("original"), json!("raw")],
        ),
        ("decryptionMode", vec![json!(1), json!(7), json!(9)]),
        ("secret", vec![json!("s")]),
        ("salt", vec![json!("c2FsdA==")]),
        (
            "maxIdleTime",
            vec![json!(4), json!(2_592_000), json!(2_592_001)],
        ),
        ("videoStreamType", vec![json!(2)]),
        ("audioProfile", vec![json!(0), json!(3)]),
        ("subscribeAudioUids", vec![uids(32), uids(33), json!(["0"])]),
        ("subscribeVideoUids", vec![json!(["1001"])]),
        (
            "unSubscribeAudioUids",
            vec![json!(["#allstream#"]), json!(["1001"])],
        ),
        ("subscribeUidGroup", vec![json!(0), json!(6), Value::Null]),
        ("transcodingConfig", vec![json!({})]),
        (
            "transcodingConfig/width",
            vec![json!(0), json!(1921), json!(1920)],
        ),
        ("transcodingConfig/height", vec![json!(1920), json!(1080)]),
        ("transcodingConfig/fps", vec![json!(16), json!(60)]),
        ("transcodingConfig/bitrate", vec![json!(6500), json!(6501)]),
        (
            "transcodingConfig/mixedVideoLayout",
            vec![json!(3), json!(4), json!(1)],
        ),
        (
            "transcodingConfig/layoutConfig",
            vec![
                json!([]),
                Value::Array(vec![region(); 18]),
                json!([{"x_axis": 0.6, "y_axis": 0.0, "width": 0.6, "height": 0.5}]),
                json!([{"x_axis": 0.0, "y_axis": 0.0, "width": 0.5, "height": 0.5, "render_mode": 2}]),
            ],
        ),
        ("transcodingConfig/backgroundColor", vec![json!("orange")]),
        ("transcodingConfig/maxResolutionUid", vec![json!("0")]),
        (
            "transcodingConfig/backgroundConfig",
            vec![
                json!([{"uid": "1001", "image_url": "https://example.com/a.png", "render_mode": 3}]),
            ],
        ),
    ] {
        let path: &'static str = format!("{rc}/{field}").leak();
        edits.extend(values.into_iter().map(|value| (path, value)));
    }
    edits
}

/// Sets `value` at a JSON pointer, making the objects on the way; `null`
/// removes the field.
fn set(plan: &mut Value, pointer: &str, value: Value) {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    if !parent.is_empty() && plan.pointer(parent).is_none() {
        set(plan, parent, json!({}));
    }
    let target = if parent.is_empty() {
        Some(&mut *plan)
    } else {
        plan.pointer_mut(parent)
    };
    match target {
        Some(Value::Object(map)) if value.is_null() => {
            map.remove(key);
        }
        Some(Value::Object(map)) => {
            map.insert(key.to_owned(), value);
        }
        Some(Value::Array(items)) => {
            if let Some(item) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *item = value;
            }
        }
        _ => {}
    }
}

/// A generated plan, as YAML: a valid one with up to three edits.
fn plan() -> impl Strategy<Value = String> {
    (
        valid_plan(),
        proptest::collection::vec(select(edits()), 0..=3),
    )
        .prop_map(|(mut plan, edits)| {
            for (pointer, value) in edits {
                set(&mut plan, pointer, value);
            }
            plan.to_string()
        })
}

fn options() -> Options {
    Options {
        env: Env::default(),
        missing_env: MissingEnv::Refuse,
        now: now(),
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default()
}

/// The sessions a plan sends, or `None` when the validator refuses it.
fn rendered(text: &str) -> Option<Vec<Arc<SessionSpec>>> {
    let validated = validate(Source::from_text("gen.yaml", text), &options()).ok()?;
    let start = now().with_timezone(&Tz::UTC);
    let occurrence = validated
        .plan
        .occurrence(start, &Env::default(), None)
        .ok()?;
    Some(occurrence.sessions)
}

/// The simulator's verdict on one session's calls, in its endpoints'
/// order: acquire, start, then each step.
fn simulator_accepts(spec: &SessionSpec) -> Result<(), String> {
    let scene = spec.acquire.scene.unwrap_or(facts::SCENE_RTC);
    sim::acquire(&spec.acquire)?;
    if !facts::is_uid(&spec.uid) {
        return Err(format!("uid `{}`", spec.uid));
    }
    if !sim::is_channel_name(&spec.cname, scene) {
        return Err(format!("channel name `{}`", spec.cname));
    }
    sim::scene_fits(scene, spec.mode)?;
    let raw = to_value(&spec.start)?;
    sim::start(spec.mode, scene, &spec.start, &raw)?;
    for step in &spec.steps {
        match &step.action {
            StepAction::Update(update) => sim::update(spec.mode, update, &to_value(update)?)?,
            StepAction::UpdateLayout(layout) => sim::update_layout(layout)?,
        }
    }
    Ok(())
}

fn to_value(body: &impl serde::Serialize) -> Result<Value, String> {
    serde_json::to_value(body).map_err(|error| error.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_body_a_valid_plan_sends_the_simulator_accepts(text in plan()) {
        if let Some(sessions) = rendered(&text) {
            for spec in sessions {
                let verdict = simulator_accepts(&spec);
                prop_assert!(verdict.is_ok(), "{verdict:?}\nplan: {text}");
            }
        }
    }
}

/// The property means something only if the validator accepts a good
/// share of the generated plans (and refuses another).
#[test]
fn the_generated_plans_are_often_valid_and_often_not() {
    let mut runner = TestRunner::deterministic();
    let strategy = plan();
    let valid = (0..300)
        .filter(|_| {
            let text = strategy
                .new_tree(&mut runner)
                .map(|tree| tree.current())
                .unwrap_or_default();
            rendered(&text).is_some()
        })
        .count();
    assert!((30..=270).contains(&valid), "{valid} of 300 valid");
}

/// Scene 2 is derived for postponed transcoding, and the simulator then
/// takes the start that needs it.
#[test]
fn postponed_transcoding_acquires_scene_2() {
    let text = json!({
        "mode": "individual", "app_id": APP_ID, "schedule": {"duration": "30m"},
        "channels": [{"cname": "room", "uid": "1001"}],
        "start": {
            "storageConfig": {"vendor": 1, "region": 0, "bucket": "rec", "accessKey": "AK", "secretKey": "SK"},
            "recordingConfig": {"channelType": 0, "subscribeUidGroup": 0},
            "appsCollection": {"combinationPolicy": "postpone_transcoding"},
            "transcodeOptions": {"transConfig": {"transMode": "postponeTranscoding"}},
        },
    })
    .to_string();
    let sessions = rendered(&text).unwrap_or_default();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].acquire.scene, Some(facts::SCENE_POSTPONED));
    assert_eq!(simulator_accepts(&sessions[0]), Ok(()));
    let start: &StartClientRequest = &sessions[0].start;
    assert!(start.apps_collection.is_some());
}
