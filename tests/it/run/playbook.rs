//! Agora's retry and failover playbook, seen from a whole session: each
//! fault class injected into the simulator, and the exact traffic that
//! follows.

use std::time::Duration;

use recplan::session::{OccurrenceReport, Outcome, run_occurrence};
use recplan::sim::{Endpoint, Fault, SimHandle};
use tokio::sync::watch;

use super::{INDIVIDUAL, context, now, setup_plan};

/// Runs the INDIVIDUAL plan (5 minutes) with `faults` injected up front.
async fn run_with(faults: &[(Fault, usize)]) -> (SimHandle, OccurrenceReport) {
    let (handle, occurrence, clock) = setup_plan(INDIVIDUAL, now()).await;
    for (fault, times) in faults {
        handle.inject_times(*fault, *times);
    }
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    let report = run_occurrence(&context, &occurrence, shutdown).await;
    (handle, report)
}

fn count(handle: &SimHandle, endpoint: &str) -> usize {
    handle
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&format!("/{endpoint}")))
        .count()
}

#[tokio::test(start_paused = true)]
async fn start_failing_on_agoras_side_is_retried_then_started_on_a_new_resource() {
    // Four 500s (code 62): the first start and its three retries (3, 6,
    // 9 s) fail, then a new acquire and start succeed.
    let (handle, report) = run_with(&[(Fault::RequestTimeout(Endpoint::Start), 4)]).await;
    assert!(report.all_completed(), "{report:#?}");
    assert_eq!(count(&handle, "acquire"), 2);
    assert_eq!(count(&handle, "start"), 5);
    assert_eq!(count(&handle, "stop"), 1);
}

#[tokio::test(start_paused = true)]
async fn failed_to_allocate_worker_acquires_again_and_starts() {
    // 500 code 502 twice: each time a new resource, never the same start.
    let (handle, report) = run_with(&[(Fault::AllocateWorkerFailed, 2)]).await;
    assert!(report.all_completed(), "{report:#?}");
    let session = &report.sessions[0];
    assert_eq!(session.attempts, 3, "{session:#?}");
    assert_eq!(count(&handle, "acquire"), 3);
    let starts: Vec<String> = handle
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/start"))
        .map(|r| r.path)
        .collect();
    assert_eq!(starts.len(), 3);
    assert!(
        starts[0] != starts[1] && starts[1] != starts[2],
        "{starts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn request_not_completed_on_start_is_retried_with_the_same_parameters() {
    let (handle, report) = run_with(&[(Fault::RequestNotCompleted(Endpoint::Start), 1)]).await;
    assert!(report.all_completed(), "{report:#?}");
    assert_eq!(count(&handle, "acquire"), 1);
    let starts: Vec<_> = handle
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/start"))
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(
        starts[0].path, starts[1].path,
        "same resource, same parameters"
    );
    assert_eq!(starts[0].body, starts[1].body);
    let gap = starts[1].at - starts[0].at;
    assert!(
        gap >= Duration::from_millis(2400) && gap <= Duration::from_millis(3600),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_start_whose_answer_was_lost_is_never_started_twice() {
    // The first start takes effect but answers after the client's 30 s
    // timeout; the retry learns it already started (201, code 7).
    let slow = Fault::Latency {
        endpoint: Endpoint::Start,
        delay: Duration::from_secs(45),
    };
    let (handle, report) = run_with(&[(slow, 1)]).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Completed), "{session:#?}");
    assert_eq!(count(&handle, "acquire"), 1);
    assert_eq!(count(&handle, "start"), 2);
    assert_eq!(count(&handle, "stop"), 1);
    // The one recording is the one stopped.
    let stop = handle
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/stop"))
        .unwrap();
    assert!(stop.path.contains(session.sid.as_deref().unwrap()));
}

#[tokio::test(start_paused = true)]
async fn a_404_during_failover_is_waited_out_not_restarted() {
    let (handle, occurrence, clock) = setup_plan(INDIVIDUAL, now()).await;
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;
    let run = tokio::spawn(async move { run_occurrence(&context, &occurrence, shutdown).await });
    // Just before the first routine query (2m5s), Agora migrates the task
    // for 40 s.
    tokio::time::sleep(Duration::from_secs(120)).await;
    handle.inject(Fault::Failover {
        duration: Duration::from_secs(40),
    });
    let report = run.await.unwrap();
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Completed), "{session:#?}");
    assert_eq!(session.restarts, 0);
    assert_eq!(count(&handle, "acquire"), 1);
    assert_eq!(count(&handle, "start"), 1);
    assert_eq!(count(&handle, "stop"), 1);
}

#[tokio::test(start_paused = true)]
async fn no_recorded_data_on_stop_ends_the_session_without_files() {
    let (handle, report) = run_with(&[(Fault::NoRecordedData, 1)]).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Completed), "{session:#?}");
    assert!(session.files.is_empty());
    assert!(
        session.errors.iter().any(|e| e.contains("435")),
        "{session:#?}"
    );
    assert_eq!(count(&handle, "stop"), 1);
}

#[tokio::test(start_paused = true)]
async fn an_acquire_failing_on_agoras_side_is_tried_again_within_the_occurrence() {
    // Ten 500s on acquire: two tries use up four each (the call and its
    // three retries), the third gets through after two more.
    let (handle, report) = run_with(&[(Fault::RequestTimeout(Endpoint::Acquire), 10)]).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Completed), "{session:#?}");
    assert_eq!(session.attempts, 3, "{session:#?}");
    assert!(
        session.late_start_ms.is_some_and(|late| late > 30_000),
        "{session:#?}"
    );
    assert_eq!(count(&handle, "acquire"), 11);
    assert_eq!(count(&handle, "start"), 1);
    assert_eq!(count(&handle, "stop"), 1);
}
