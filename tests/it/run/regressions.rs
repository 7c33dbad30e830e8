//! One test per way a session used to lose or mishandle a recording.

use std::time::Duration;

use recplan::session::{Outcome, run_occurrence};
use recplan::sim::{Fault, SimHandle};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{context, now, setup_plan};

const EARLY_STEP: &str = r#"
mode: composite
schedule: {duration: DURATION}
on_failure: restart
channels: [{cname: room, uid: "527841", backup_uid: "527842"}]
start:
  token: tok
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingConfig: {channelType: 0, maxIdleTime: 300}
steps:
  - at: 3s
    updateLayout: {mixedVideoLayout: 2}
"#;

fn plan(duration: &str) -> String {
    EARLY_STEP.replace("DURATION", duration)
}

/// When each request to `endpoint` arrived, from `start`.
fn arrivals(handle: &SimHandle, endpoint: &str, start: Instant) -> Vec<Duration> {
    handle
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&format!("/{endpoint}")))
        .map(|r| r.at - start)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_step_due_before_the_confirming_query_goes_out_at_its_offset() {
    let (handle, occurrence, clock) = setup_plan(&plan("2m"), now()).await;
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    let start = Instant::now();
    let report = run_occurrence(&context, &occurrence, shutdown).await;
    assert!(report.all_completed(), "{report:#?}");
    let layouts = arrivals(&handle, "updateLayout", start);
    assert_eq!(layouts.len(), 1);
    assert!(
        layouts[0] >= Duration::from_secs(3) && layouts[0] < Duration::from_secs(4),
        "{layouts:?}"
    );
    // Ended at the occurrence's end, as the clock read it.
    let ended = report.sessions[0].ended_at.unwrap();
    assert!(ended >= now() + chrono::Duration::minutes(2), "{ended}");
    // The confirming query still takes its turn, after the step.
    let queries = arrivals(&handle, "query", start);
    assert!(queries[0] >= Duration::from_secs(5), "{queries:?}");
}

#[tokio::test(start_paused = true)]
async fn a_short_outage_at_the_start_costs_a_late_start_not_the_occurrence() {
    let (handle, occurrence, clock) = setup_plan(&plan("30m"), now()).await;
    handle.inject(Fault::Outage {
        duration: Duration::from_secs(20),
    });
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    let report = run_occurrence(&context, &occurrence, shutdown).await;
    assert!(report.all_completed(), "{report:#?}");
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Completed));
    // The first acquire and its retries (3, 6, 9 s) meet the outage; the
    // second attempt gets through.
    assert_eq!(session.attempts, 2, "{session:#?}");
    let late = session.late_start_ms.unwrap();
    assert!((20_000..60_000).contains(&late), "{late}");
    assert_eq!(
        session.errors.iter().filter(|e| e.contains("503")).count(),
        1,
        "{session:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_outage_to_the_end_gives_up_once_less_than_min_recording_is_left() {
    let (handle, occurrence, clock) = setup_plan(&plan("5m"), now()).await;
    handle.inject(Fault::Outage {
        duration: Duration::from_secs(600),
    });
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    let start = Instant::now();
    let report = run_occurrence(&context, &occurrence, shutdown).await;
    assert!(!report.all_completed());
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Failed));
    assert!(session.attempts > 3, "{session:#?}");
    // Gave up with less than a minute left, not before 3 minutes in.
    let elapsed = start.elapsed();
    assert!(
        elapsed > Duration::from_secs(3 * 60) && elapsed <= Duration::from_secs(5 * 60),
        "{elapsed:?}"
    );
    assert_eq!(arrivals(&handle, "start", start).len(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_recording_stuck_below_status_4_is_stopped_by_the_end() {
    let (handle, occurrence, clock) = setup_plan(&plan("40s"), now()).await;
    handle.inject(Fault::StuckStarting);
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    let start = Instant::now();
    let report = run_occurrence(&context, &occurrence, shutdown).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Failed), "{session:#?}");
    let stops = arrivals(&handle, "stop", start);
    assert_eq!(stops.len(), 1);
    assert!(stops[0] <= Duration::from_secs(41), "{stops:?}");
    assert!(start.elapsed() < Duration::from_secs(45));
    assert!(handle.recordings().iter().all(|r| r.stopped_at.is_some()));
}

#[tokio::test(start_paused = true)]
async fn a_never_confirmed_recording_is_stopped_before_a_restart_starts_another() {
    let (handle, occurrence, clock) = setup_plan(&plan("10m"), now()).await;
    handle.inject(Fault::StuckStarting);
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    let start = Instant::now();
    let report = run_occurrence(&context, &occurrence, shutdown).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Completed), "{session:#?}");
    assert_eq!(session.restarts, 1);
    let starts = arrivals(&handle, "start", start);
    let stops = arrivals(&handle, "stop", start);
    assert_eq!((starts.len(), stops.len()), (2, 2), "{starts:?} {stops:?}");
    // Given up on 90 s after its start, stopped, and only then another.
    assert!(stops[0] >= Duration::from_secs(90), "{stops:?}");
    let order: Vec<String> = handle
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/start") || r.path.ends_with("/stop"))
        .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(order, ["start", "stop", "start", "stop"]);
    let recordings = handle.recordings();
    assert!(recordings.iter().all(|r| r.stopped_at.is_some()));
    let mut uids: Vec<&str> = recordings.iter().map(|r| r.uid.as_str()).collect();
    uids.sort_unstable();
    assert_eq!(uids, ["527841", "527842"]);
}

#[tokio::test(start_paused = true)]
async fn a_mistyped_field_in_a_200_stop_keeps_the_session_completed() {
    let (handle, occurrence, clock) = setup_plan(&plan("2m"), now()).await;
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    handle.inject(Fault::Malformed(recplan::sim::Endpoint::Stop));
    handle.inject(Fault::Malformed(recplan::sim::Endpoint::Query));
    let report = run_occurrence(&context, &occurrence, shutdown).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Completed), "{session:#?}");
    assert_eq!(session.uploading_status.as_deref(), Some("uploaded"));
    assert!(!session.files.is_empty(), "{session:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_resumed_restart_uses_the_live_restarts_uid() {
    use recplan::agora::{Mode, Recording};
    use recplan::store::{NewSession, Transition};
    // A plan without a backup uid: a live restart derives one (the top bit
    // flipped); a resumed session whose recording was lost must too, not
    // fall back to the planned uid the dead recorder may still hold.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resumed.yaml");
    let text = plan("10m").replace(", backup_uid: \"527842\"", "");
    std::fs::write(&path, &text).unwrap();
    let (handle, occurrence, clock) = setup_plan(&text, now()).await;
    let (context, _events) = context(&handle, clock).await;
    let spec = &occurrence.sessions[0];
    let mut new = NewSession::of(&occurrence, spec, &occurrence.plan_hash);
    new.plan_path.clone_from(&path);
    let id = context.store.begin(&new, now()).await.unwrap().id();
    let recording = Recording {
        mode: Mode::Composite,
        resource_id: "dead-resource".to_owned(),
        sid: "dead-sid".to_owned(),
        cname: "room".to_owned(),
        uid: "527841".to_owned(),
    };
    for transition in [
        Transition::AcquireIntent {
            uid: "527841".to_owned(),
        },
        Transition::Acquired {
            resource_id: "dead-resource".to_owned(),
        },
        Transition::StartIntent {
            resource_id: "dead-resource".to_owned(),
            uid: "527841".to_owned(),
        },
        Transition::Started { recording },
        Transition::Lost {
            reason: "the recording exited".to_owned(),
        },
    ] {
        context.store.record(id, now(), &transition).await.unwrap();
    }
    let (_stop, shutdown) = watch::channel(false);
    let reports = recplan::session::recover(&context, &shutdown).await;
    assert_eq!(reports.len(), 1);
    let acquires: Vec<serde_json::Value> = handle
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/acquire"))
        .filter_map(|r| r.body.clone())
        .collect();
    assert_eq!(acquires.len(), 1, "{reports:#?}");
    assert_eq!(acquires[0]["uid"], "2148011489");
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_session_reports_when_it_really_ended() {
    let (handle, occurrence, clock) = setup_plan(&plan("10m"), now()).await;
    let (shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    let run = tokio::spawn(async move { run_occurrence(&context, &occurrence, shutdown).await });
    tokio::time::sleep(Duration::from_secs(60)).await;
    shutdown_tx.send(true).unwrap();
    let report = run.await.unwrap();
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Interrupted), "{session:#?}");
    let ended = session.ended_at.unwrap();
    assert!(
        ended >= now() + chrono::Duration::seconds(60)
            && ended < now() + chrono::Duration::seconds(65),
        "{ended}, not the planned end"
    );
}
