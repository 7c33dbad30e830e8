//! `run_occurrence` against the simulator over real HTTP on 127.0.0.1,
//! with time driven by tokio's paused clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use recplan::agora::{ApiBase, Client, ClientConfig, Credentials, Secret};
use recplan::clock::Clock;
use recplan::plan::{Env, MissingEnv, Occurrence, Options, Source, validate};
use recplan::session::{Outcome, run_occurrence};
use recplan::sim::{self, SimConfig, SimHandle, Simulator};
use tokio::sync::{mpsc, watch};

const PLAN: &str = r##"
mode: composite
schedule: {duration: 10m}
channels:
  - {cname: room-a, uid: "527841"}
  - {cname: room-b, uid: "527842"}
start:
  token: tok
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingConfig:
    channelType: 0
    maxIdleTime: 300
    transcodingConfig: {width: 640, height: 360, mixedVideoLayout: 1, backgroundColor: "#112233"}
  recordingFileConfig: {avFileType: [hls]}
steps:
  - at: 2m
    updateLayout: {mixedVideoLayout: 2, maxResolutionUid: "1001"}
  - at: 6m
    update:
      streamSubscribe:
        audioUidList: {subscribeAudioUids: ["#allstream#"]}
"##;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn env() -> Env {
    Env::default().with("AGORA_APP_ID", sim::DEMO_APP_ID)
}

fn client(handle: &SimHandle) -> Client {
    Client::new(ClientConfig {
        base: ApiBase::parse(&handle.uri()).unwrap(),
        app_id: sim::DEMO_APP_ID.to_owned(),
        credentials: Credentials::new(
            sim::DEMO_CUSTOMER_ID,
            Secret::new(sim::DEMO_CUSTOMER_SECRET),
        ),
        timeout: Duration::from_secs(30),
    })
    .unwrap()
}

/// A simulator and the plan's occurrence starting at `now()`, on a clock
/// anchored there.
async fn setup() -> (SimHandle, Occurrence, Clock) {
    let handle = Simulator::start(SimConfig::default()).await.unwrap();
    let options = Options {
        env: env(),
        missing_env: MissingEnv::Refuse,
        now: now(),
    };
    let plan = validate(Source::from_text("it.yaml", PLAN), &options)
        .unwrap()
        .plan;
    let clock = Clock::anchored(now());
    let occurrence = plan.occurrence(plan.localize(now()), &env(), None).unwrap();
    (handle, occurrence, clock)
}

#[tokio::test(start_paused = true)]
async fn composite_occurrence_sends_the_exact_sequence_on_time() {
    let (handle, occurrence, clock) = setup().await;
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (progress, _events) = mpsc::unbounded_channel();

    let report = run_occurrence(&client(&handle), &occurrence, clock, shutdown, progress).await;

    assert!(report.all_completed(), "{report:#?}");
    for session in &report.sessions {
        assert_eq!(session.outcome, Outcome::Completed);
        assert!(session.sid.is_some());
        assert_eq!(session.steps.len(), 2);
        for step in &session.steps {
            assert_eq!(step.outcome, "ok");
            assert!(step.late_ms.unwrap() < 50, "{step:?}");
        }
        assert_eq!(session.uploading_status.as_deref(), Some("uploaded"));
        assert!(!session.files.is_empty());
    }
    let requests = handle.requests();
    let paths: Vec<String> = requests
        .iter()
        .filter(|r| {
            r.path.contains("room-a") || r.body.as_ref().is_some_and(|b| b["cname"] == "room-a")
        })
        .map(|r| r.path.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(paths.first().map(String::as_str), Some("acquire"));
    assert_eq!(paths.get(1).map(String::as_str), Some("start"));
    assert_eq!(paths.last().map(String::as_str), Some("stop"));
    let layout = requests
        .iter()
        .find(|r| {
            r.path.ends_with("/updateLayout")
                && r.body.as_ref().is_some_and(|b| b["cname"] == "room-a")
        })
        .and_then(|r| r.body.clone())
        .unwrap();
    // The full layout: the background colour set at start is sent again.
    assert_eq!(
        layout["clientRequest"],
        serde_json::json!({"mixedVideoLayout": 2, "maxResolutionUid": "1001", "backgroundColor": "#112233"})
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/acquire"))
            .count(),
        2
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/start"))
            .count(),
        2
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/stop"))
            .count(),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_every_started_recording() {
    let (handle, occurrence, clock) = setup().await;
    let (shutdown_tx, shutdown) = watch::channel(false);
    let (progress, _events) = mpsc::unbounded_channel();
    let client = client(&handle);

    let run = tokio::spawn(async move {
        run_occurrence(&client, &occurrence, clock, shutdown, progress).await
    });
    tokio::time::sleep(Duration::from_secs(60)).await;
    shutdown_tx.send(true).unwrap();
    let report = run.await.unwrap();

    for session in &report.sessions {
        assert_eq!(session.outcome, Outcome::Interrupted, "{session:?}");
        assert!(session.steps.is_empty(), "no step was due yet");
    }
    let requests = handle.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/start"))
            .count(),
        2
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/stop"))
            .count(),
        2
    );
}
