//! `run_occurrence` against the simulator over real HTTP on 127.0.0.1,
//! with time driven by tokio's paused clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use recplan::agora::{
    ApiBase, Client, ClientConfig, Credentials, RateLimiter, ResilientClient, RetryPolicy, Secret,
};
use recplan::clock::Clock;
use recplan::plan::{Env, MissingEnv, Occurrence, Options, Source, validate};
use recplan::session::{Context, Outcome, Progress, run_occurrence};
use recplan::sim::{self, SimConfig, SimHandle, Simulator};
use recplan::store::Store;
use tokio::sync::{mpsc, watch};

use crate::support::APP_CERTIFICATE;

mod minted;
mod playbook;
mod regressions;

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

pub(super) fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
        .unwrap()
        .to_utc()
}

pub(super) fn env() -> Env {
    Env::default()
        .with("AGORA_APP_ID", sim::DEMO_APP_ID)
        .with("AGORA_APP_CERTIFICATE", APP_CERTIFICATE)
}

/// What sessions share: a client of `handle`, a store in memory, `clock`.
async fn context(handle: &SimHandle, clock: Clock) -> (Context, mpsc::UnboundedReceiver<Progress>) {
    let (progress, events) = mpsc::unbounded_channel();
    let store = Store::open_in_memory().await.unwrap();
    (
        Context {
            client: ResilientClient::new(
                client(handle),
                RateLimiter::default(),
                // Without jitter, so that a test's retries land where it
                // counts on them (3, 6, 9 s), run after run.
                RetryPolicy {
                    jitter: 0.0,
                    ..RetryPolicy::default()
                },
            ),
            store,
            clock,
            env: env(),
            progress,
            stops: recplan::session::Stops::default(),
        },
        events,
    )
}

pub(super) fn client(handle: &SimHandle) -> Client {
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
    setup_plan(PLAN, now()).await
}

/// A simulator and `plan`'s occurrence starting at `now()`, on a clock
/// that reads `clock_at` now.
async fn setup_plan(plan: &str, clock_at: DateTime<Utc>) -> (SimHandle, Occurrence, Clock) {
    let handle = Simulator::start(SimConfig::default()).await.unwrap();
    let options = Options {
        env: env(),
        missing_env: MissingEnv::Refuse,
        now: now(),
    };
    let plan = validate(Source::from_text("it.yaml", plan), &options)
        .unwrap()
        .plan;
    let clock = Clock::anchored(clock_at);
    let occurrence = plan.occurrence(plan.localize(now()), &env(), None).unwrap();
    (handle, occurrence, clock)
}

#[tokio::test(start_paused = true)]
async fn composite_occurrence_sends_the_exact_sequence_on_time() {
    let (handle, occurrence, clock) = setup().await;
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;

    let report = run_occurrence(&context, &occurrence, shutdown).await;

    assert!(report.all_completed(), "{report:#?}");
    for session in &report.sessions {
        assert_eq!(session.outcome, Some(Outcome::Completed));
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
    let (context, _events) = context(&handle, clock).await;

    let run = tokio::spawn(async move { run_occurrence(&context, &occurrence, shutdown).await });
    tokio::time::sleep(Duration::from_secs(60)).await;
    shutdown_tx.send(true).unwrap();
    let report = run.await.unwrap();

    for session in &report.sessions {
        assert_eq!(session.outcome, Some(Outcome::Interrupted), "{session:?}");
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

/// `(method, endpoint, mode segment)` of every request the simulator saw
/// for channel `cname`, in order.
fn calls_for(handle: &SimHandle, cname: &str) -> Vec<(String, String, String)> {
    let mut resource_ids = Vec::new();
    let mut calls = Vec::new();
    for request in handle.requests() {
        let segments: Vec<&str> = request.path.split('/').collect();
        let endpoint = segments.last().copied().unwrap_or_default().to_owned();
        let mine = request.body.as_ref().is_some_and(|b| b["cname"] == cname)
            || resource_ids
                .iter()
                .any(|r: &String| request.path.contains(r.as_str()));
        if !mine {
            continue;
        }
        if endpoint == "start" {
            resource_ids.push(segments[segments.len() - 4].to_owned());
        }
        let mode = segments
            .iter()
            .position(|s| *s == "mode")
            .map_or(String::new(), |i| segments[i + 1].to_owned());
        calls.push((request.method.to_string(), endpoint, mode));
    }
    calls
}

fn call(method: &str, endpoint: &str, mode: &str) -> (String, String, String) {
    (method.to_owned(), endpoint.to_owned(), mode.to_owned())
}

const INDIVIDUAL: &str = r#"
mode: individual
schedule: {duration: 5m}
channels: [{cname: class-1, uid: "900101"}]
start:
  token: tok
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingConfig: {channelType: 1, maxIdleTime: 600, subscribeUidGroup: 0}
  recordingFileConfig: {avFileType: [hls]}
steps:
  - at: 3m
    update:
      streamSubscribe:
        videoUidList: {unSubscribeVideoUids: ["2001"]}
"#;

#[tokio::test(start_paused = true)]
async fn individual_occurrence_sends_the_exact_sequence() {
    let (handle, occurrence, clock) = setup_plan(INDIVIDUAL, now()).await;
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    let report = run_occurrence(&context, &occurrence, shutdown).await;
    assert!(report.all_completed(), "{report:#?}");
    let calls = calls_for(&handle, "class-1");
    // acquire, start, confirming query at 5 s, routine queries every 2 min
    // (at 2m5s; the update at 3m; 4m5s), stop at 5m.
    assert_eq!(
        calls,
        [
            call("POST", "acquire", ""),
            call("POST", "start", "individual"),
            call("GET", "query", "individual"),
            call("GET", "query", "individual"),
            call("POST", "update", "individual"),
            call("GET", "query", "individual"),
            call("POST", "stop", "individual"),
        ]
    );
    let acquire = handle
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/acquire"))
        .unwrap();
    assert_eq!(
        acquire.body.unwrap()["clientRequest"],
        serde_json::json!({"scene": 0})
    );
}

const WEB: &str = r#"
mode: web
schedule: {duration: 3m}
channels: [{cname: dashboard, uid: "424242"}]
start:
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingFileConfig: {avFileType: [hls, mp4]}
  extensionServiceConfig:
    errorHandlePolicy: error_abort
    extensionServices:
      - serviceName: web_recorder_service
        errorHandlePolicy: error_abort
        serviceParam: {url: "https://example.com", audioProfile: 0, videoWidth: 1280, videoHeight: 720, maxRecordingHour: 1}
steps:
  - at: 1m
    update: {webRecordingConfig: {onhold: true}}
  - at: 1m30s
    update: {webRecordingConfig: {onhold: false}}
"#;

#[tokio::test(start_paused = true)]
async fn web_occurrence_acquires_scene_1_and_pauses_and_resumes() {
    let (handle, occurrence, clock) = setup_plan(WEB, now()).await;
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    let report = run_occurrence(&context, &occurrence, shutdown).await;
    assert!(report.all_completed(), "{report:#?}");
    assert_eq!(
        calls_for(&handle, "dashboard"),
        [
            call("POST", "acquire", ""),
            call("POST", "start", "web"),
            call("GET", "query", "web"),
            call("POST", "update", "web"),
            call("POST", "update", "web"),
            call("GET", "query", "web"),
            call("POST", "stop", "web"),
        ]
    );
    let requests = handle.requests();
    let acquire = requests
        .iter()
        .find(|r| r.path.ends_with("/acquire"))
        .unwrap();
    assert_eq!(
        acquire.body.as_ref().unwrap()["clientRequest"],
        serde_json::json!({"scene": 1})
    );
    let updates: Vec<_> = requests
        .iter()
        .filter(|r| r.path.ends_with("/update"))
        .map(|r| r.body.as_ref().unwrap()["clientRequest"].clone())
        .collect();
    assert_eq!(
        updates,
        [
            serde_json::json!({"webRecordingConfig": {"onhold": true}}),
            serde_json::json!({"webRecordingConfig": {"onhold": false}}),
        ]
    );
    let session = &report.sessions[0];
    assert_eq!(session.uploading_status.as_deref(), Some("uploaded"));
    assert!(
        session
            .files
            .iter()
            .any(|f| f.file_name.to_ascii_lowercase().ends_with(".mp4")),
        "{session:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_late_start_runs_the_remainder_and_sends_missed_steps_late() {
    // The occurrence started at 09:00; recplan starts at 09:03.
    let late = now() + chrono::Duration::minutes(3);
    let (handle, occurrence, clock) = setup_plan(PLAN, late).await;
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    let started = tokio::time::Instant::now();
    let report = run_occurrence(&context, &occurrence, shutdown).await;
    assert!(report.all_completed(), "{report:#?}");
    // Stopped at the occurrence's end, 7 minutes after recplan began.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(7 * 60) && elapsed < Duration::from_secs(7 * 60 + 5),
        "{elapsed:?}"
    );
    for session in &report.sessions {
        assert_eq!(session.steps.len(), 2, "{session:?}");
        // The 2m layout step is sent at once, without waiting for the
        // confirming query: a minute late, the layout the plan wants by now.
        assert_eq!(session.steps[0].outcome, "ok");
        let late = session.steps[0].late_ms.unwrap();
        assert!((60_000..61_000).contains(&late), "{late}");
        assert!(session.steps[1].late_ms.unwrap() < 50);
    }
    assert_eq!(
        handle
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/updateLayout"))
            .count(),
        2
    );
}

/// Kills the first recording of `plan` 30 s in and returns the report.
async fn run_and_kill_the_recording(
    plan: &str,
) -> (SimHandle, recplan::session::OccurrenceReport, String) {
    let (handle, occurrence, clock) = setup_plan(plan, now()).await;
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, mut events) = context(&handle, clock).await;
    let run = tokio::spawn(async move { run_occurrence(&context, &occurrence, shutdown).await });
    let mut first = None;
    while let Some(event) = events.recv().await {
        if let Some(recording) = event.recording {
            first = Some(recording);
            break;
        }
    }
    let first = first.unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(handle.kill(&first.sid));
    (handle, run.await.unwrap(), first.resource_id)
}

#[tokio::test(start_paused = true)]
async fn a_recording_that_dies_is_restarted_with_another_uid_for_the_remainder() {
    let (handle, report, dead_resource) = run_and_kill_the_recording(INDIVIDUAL).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Completed), "{session:?}");
    assert_eq!(session.restarts, 1);
    assert!(
        session
            .errors
            .iter()
            .any(|e| e.contains("failed to find worker")),
        "{session:?}"
    );
    let requests = handle.requests();
    let acquires: Vec<serde_json::Value> = requests
        .iter()
        .filter(|r| r.path.ends_with("/acquire"))
        .map(|r| r.body.clone().unwrap())
        .collect();
    assert_eq!(acquires.len(), 2);
    // No backup uid in the plan: the top bit of 900101 flipped.
    assert_eq!(acquires[1]["uid"], "2148383749");
    assert_eq!(
        acquires[1]["clientRequest"]["excludeResourceIds"],
        serde_json::json!([dead_resource])
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/start"))
            .count(),
        2
    );
    // The step at 3m went to the new recording. Two stops: the dead
    // recording's before the restart (Agora answers it is gone), the new
    // one's at the end.
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/update"))
            .count(),
        1
    );
    let stops: Vec<&str> = requests
        .iter()
        .filter(|r| r.path.ends_with("/stop"))
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(stops.len(), 2);
    assert!(stops[0].contains(&dead_resource), "{stops:?}");
}

#[tokio::test(start_paused = true)]
async fn on_failure_stop_ends_the_session_as_failed() {
    let plan = INDIVIDUAL.replace("mode: individual", "mode: individual\non_failure: stop");
    let (handle, report, _) = run_and_kill_the_recording(&plan).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Failed), "{session:?}");
    assert_eq!(session.restarts, 0);
    let requests = handle.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/start"))
            .count(),
        1
    );
    assert!(!report.all_completed());
}

/// A step body without templates is the plan's own in every session of
/// every occurrence; one that names its channel is rendered per session.
#[test]
fn step_bodies_are_shared_unless_rendering_changes_them() {
    use std::sync::Arc;

    use recplan::plan::StepAction;

    let plan = format!(
        "{PLAN}  - at: 8m\n    update:\n      streamSubscribe:\n        \
         audioUidList: {{subscribeAudioUids: [\"{{{{channel.uid}}}}\"]}}\n"
    );
    let options = Options {
        env: env(),
        missing_env: MissingEnv::Refuse,
        now: now(),
    };
    let plan = validate(Source::from_text("it.yaml", &plan), &options)
        .unwrap()
        .plan;
    let first = plan.occurrence(plan.localize(now()), &env(), None).unwrap();
    let second = plan.occurrence(plan.localize(now()), &env(), None).unwrap();
    let body = |occurrence: &Occurrence, session: usize, step: usize| match &occurrence.sessions
        [session]
        .steps[step]
        .action
    {
        StepAction::Update(update) => Arc::as_ptr(update).cast::<()>(),
        StepAction::UpdateLayout(layout) => Arc::as_ptr(layout).cast::<()>(),
    };
    for step in [0, 1] {
        let shared = body(&first, 0, step);
        assert_eq!(body(&first, 1, step), shared, "step {step}");
        assert_eq!(body(&second, 0, step), shared, "step {step}");
    }
    assert_ne!(body(&first, 0, 2), body(&first, 1, 2));
    assert_ne!(body(&first, 0, 2), body(&second, 0, 2));
}
