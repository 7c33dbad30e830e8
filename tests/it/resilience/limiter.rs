//! The shared limiter keeps a burst under the simulator's quota (10 requests
//! per second per App ID, a sliding window, like Agora's) without a single
//! 429, and lets urgent calls go before routine queries.

use std::time::Duration;

use recplan::agora::{Priority, ResilientClient, call};
use recplan::sim::{RecordedRequest, SimHandle};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{record, resilient, simulator, update_request};

/// Asserts that no 1 s window holds more than 10 arrivals and nothing was
/// refused.
#[track_caller]
fn assert_under_quota(requests: &[RecordedRequest]) {
    for request in requests {
        let window = requests
            .iter()
            .filter(|r| r.at <= request.at && request.at - r.at < Duration::from_secs(1))
            .count();
        assert!(window <= 10, "{window} requests in one second");
        assert_eq!(request.status.map(|s| s.as_u16()), Some(200), "{request:?}");
    }
}

/// Spawns `n` updates of `recording` through `api`.
fn updates(
    api: &ResilientClient,
    recording: &recplan::agora::Recording,
    n: usize,
    set: &mut JoinSet<()>,
) {
    for _ in 0..n {
        let (api, recording) = (api.clone(), recording.clone());
        set.spawn(async move {
            api.send(&call::OnRecording::new(&recording, &update_request()))
                .await
                .unwrap();
        });
    }
}

fn paths_ending(sim: &SimHandle, tail: &str) -> Vec<RecordedRequest> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.ends_with(tail))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn thirty_urgent_calls_take_the_quotas_time_and_get_no_429() {
    let sim = simulator().await;
    let api = resilient(&sim);
    let start = Instant::now();
    let recording = record(&api).await;
    let mut set = JoinSet::new();
    updates(&api, &recording, 30, &mut set);
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }

    let requests = sim.requests();
    assert_eq!(requests.len(), 32);
    assert_under_quota(&requests);
    // 32 calls at 10 per second: the last cannot go before 3 s; the
    // limiter's 20 ms margin per window is all it adds.
    let took = Instant::now() - start;
    assert!(
        took >= Duration::from_secs(3) && took <= Duration::from_millis(3100),
        "took {took:?}"
    );
    let waits = api.limiter().stats();
    assert_eq!(waits.of(Priority::Urgent).calls, 31, "start and 30 updates");
    assert_eq!(waits.pauses, 0);
}

#[tokio::test(start_paused = true)]
async fn routine_queries_wait_behind_urgent_calls() {
    let sim = simulator().await;
    let api = resilient(&sim);
    let recording = record(&api).await;
    // Fill the first second's quota: 2 calls above, 8 here.
    for _ in 0..8 {
        api.send(&call::OnRecording::new(&recording, &update_request()))
            .await
            .unwrap();
    }
    let mut set = JoinSet::new();
    for _ in 0..10 {
        let (api, recording) = (api.clone(), recording.clone());
        set.spawn(async move {
            api.send(&call::Query(&recording)).await.unwrap();
        });
    }
    tokio::task::yield_now().await;
    let app_id = api.client().config().app_id.clone();
    assert_eq!(
        api.limiter().waiting(&app_id),
        10,
        "the queries queue first"
    );
    updates(&api, &recording, 10, &mut set);
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }

    assert_under_quota(&sim.requests());
    let queries = paths_ending(&sim, "/query");
    let updates = paths_ending(&sim, "/update");
    assert_eq!((queries.len(), updates.len()), (10, 18));
    let last_update = updates.iter().map(|r| r.at).max().unwrap();
    let first_query = queries.iter().map(|r| r.at).min().unwrap();
    assert!(
        last_update < first_query,
        "every update went before every query"
    );
}
