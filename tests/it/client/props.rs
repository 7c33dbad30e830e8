//! Whatever Agora (or something in between) answers, the client never
//! panics and never echoes a credential: arbitrary statuses and bodies,
//! shaped from Agora's own field names, through the real HTTP path.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use recplan::agora::request::{AcquireClientRequest, StopClientRequest};
use recplan::agora::{Client, Mode};
use serde_json::{Map, Value};

use super::server::{Reply, TestServer};
use super::{CUSTOMER_SECRET, config, recording};

/// Field names Agora's responses use, so generated bodies reach deep into
/// the parsers rather than failing at the first key.
const KEYS: &[&str] = &[
    "cname",
    "uid",
    "resourceId",
    "sid",
    "code",
    "reason",
    "message",
    "serverResponse",
    "status",
    "fileListMode",
    "fileList",
    "fileName",
    "filename",
    "trackType",
    "mixedAllUser",
    "isPlayable",
    "sliceStartTime",
    "uploadingStatus",
    "extensionServiceState",
    "serviceName",
    "payload",
    "state",
    "onhold",
    "outputs",
    "command",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z0-9_.\\- ]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "string",
            "json",
            "uploaded",
            "backuped",
            "5",
            "web_recorder_service",
            "upload_service"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        json_value().prop_map(|v| v.to_string()),
        ".{0,64}",
        Just(String::new()),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop::sample::select(vec![200u16, 201, 206, 400, 401, 404, 429, 500, 502, 504])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn any_answer_is_parsed_or_refused_without_panic(status in status(), body in body()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let reply = Arc::new(Mutex::new(Reply::new(status, &body)));
        let served = Arc::clone(&reply);
        runtime.block_on(async move {
            let server = TestServer::start(move |_| served.lock().unwrap().clone()).await;
            let client = Client::new(config(&server.base)).unwrap();
            let recording = recording(Mode::Composite);
            let outcomes = [
                client.query(&recording).await.map(|_| ()),
                client.on_recording(&recording, &StopClientRequest::default()).await.map(|_| ()),
                client.acquire("room", "1", &AcquireClientRequest::default()).await.map(|_| ()),
            ];
            for outcome in outcomes {
                if let Err(error) = outcome {
                    let shown = format!("{error} {error:?}");
                    prop_assert!(!shown.contains(CUSTOMER_SECRET), "{shown}");
                }
            }
            Ok(())
        })?;
    }
}
