//! Each injected fault answers as the failure it imitates, and only the
//! requests it is aimed at.

use std::time::Duration;

use recplan::sim::{DEMO_CUSTOMER_ID, DEMO_CUSTOMER_SECRET, Endpoint, Fault};
use reqwest::StatusCode;
use tokio::time::{Instant, advance};

use super::{Api, fixture, for_channel, start_path, task_path};

/// A running composite recording: the simulator, resource ID and sid.
async fn recording() -> (Api, String, String) {
    let api = Api::start().await;
    let (rid, sid) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite"),
        )
        .await;
    (api, rid, sid)
}

#[tokio::test(start_paused = true)]
async fn allocate_worker_failures_leave_the_resource_usable() {
    let api = Api::start().await;
    api.sim.inject_times(Fault::AllocateWorkerFailed, 2);
    let rid = api.acquire(&fixture("acquire-composite")).await;
    let path = start_path(&rid, "mix");
    for _ in 0..2 {
        let answer = api.post(&path, &fixture("start-composite")).await;
        answer.assert_code(
            StatusCode::INTERNAL_SERVER_ERROR,
            502,
            "Failed to allocate worker",
        );
    }
    assert_eq!(
        api.post(&path, &fixture("start-composite")).await.status,
        StatusCode::OK
    );
    assert!(api.sim.pending_faults().is_empty());
}

#[tokio::test(start_paused = true)]
async fn request_timeouts_are_500_on_start_and_504_elsewhere() {
    let api = Api::start().await;
    api.sim.inject(Fault::RequestTimeout(Endpoint::Start));
    api.sim.inject(Fault::RequestTimeout(Endpoint::Query));
    let rid = api.acquire(&fixture("acquire-composite")).await;
    let start = api
        .post(&start_path(&rid, "mix"), &fixture("start-composite"))
        .await;
    start.assert_code(StatusCode::INTERNAL_SERVER_ERROR, 62, "request timeout");
    let start = api
        .post(&start_path(&rid, "mix"), &fixture("start-composite"))
        .await;
    let sid = start.body["sid"].as_str().unwrap_or_default().to_owned();
    let query = task_path(&rid, &sid, "mix", "query");
    api.get(&query)
        .await
        .assert_code(StatusCode::GATEWAY_TIMEOUT, 62, "request timeout");
    assert_eq!(api.get(&query).await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn request_not_completed_is_206_65_once_and_changes_nothing() {
    let (api, rid, sid) = recording().await;
    api.sim.inject(Fault::RequestNotCompleted(Endpoint::Stop));
    api.sim.inject(Fault::RequestNotCompleted(Endpoint::Query));
    let query = task_path(&rid, &sid, "mix", "query");
    let stop = task_path(&rid, &sid, "mix", "stop");
    api.get(&query)
        .await
        .assert_code(StatusCode::PARTIAL_CONTENT, 65, "request not completed");
    assert_eq!(api.get(&query).await.status, StatusCode::OK);
    let answer = api.post(&stop, &fixture("stop-empty")).await;
    answer.assert_code(StatusCode::PARTIAL_CONTENT, 65, "request not completed");
    // The task still runs: the retried stop succeeds.
    assert_eq!(
        api.post(&stop, &fixture("stop-empty")).await.status,
        StatusCode::OK
    );
}

#[tokio::test(start_paused = true)]
async fn failover_hides_the_task_for_its_window_then_it_is_back() {
    let (api, rid, sid) = recording().await;
    advance(Duration::from_secs(16)).await;
    api.sim.inject(Fault::Failover {
        duration: Duration::from_secs(30),
    });
    let path = |op| task_path(&rid, &sid, "mix", op);
    let update = for_channel(fixture("update-subscribe"), "room1", "527841");
    let layout = for_channel(fixture("update-layout"), "room1", "527841");
    api.get(&path("query")).await.assert_worker_not_found();
    api.post(&path("update"), &update)
        .await
        .assert_worker_not_found();
    api.post(&path("updateLayout"), &layout)
        .await
        .assert_worker_not_found();
    let stop = api.post(&path("stop"), &fixture("stop-empty")).await;
    stop.assert_worker_not_found();
    assert_eq!(stop.body["cname"], "room1");

    advance(Duration::from_secs(30)).await;
    let query = api.get(&path("query")).await;
    assert_eq!(query.status, StatusCode::OK, "{}", query.body);
    assert_eq!(query.body["serverResponse"]["status"], 5, "still recording");
    assert_eq!(
        api.post(&path("stop"), &fixture("stop-empty")).await.status,
        StatusCode::OK
    );
}

#[tokio::test(start_paused = true)]
async fn unreachable_refuses_connections_for_its_window_then_listens_again() {
    let (api, rid, sid) = recording().await;
    let query = api.url(&task_path(&rid, &sid, "mix", "query"));
    let get = |http: &reqwest::Client| {
        http.get(&query)
            .basic_auth(DEMO_CUSTOMER_ID, Some(DEMO_CUSTOMER_SECRET))
            .send()
    };
    // A connection kept open from before the window.
    let pooled = reqwest::Client::new();
    assert_eq!(get(&pooled).await.unwrap().status(), StatusCode::OK);
    let seen = api.sim.requests().len();

    api.sim.inject(Fault::Unreachable {
        duration: Duration::from_secs(20),
    });
    let refused = get(api.http()).await.expect_err("nothing listens");
    assert!(refused.is_connect(), "{refused:?}");
    assert!(get(&pooled).await.is_err(), "the open connection is reset");
    assert_eq!(
        api.sim.requests().len(),
        seen,
        "nothing reached the service"
    );

    advance(Duration::from_secs(20)).await;
    // The listener is bound again by its own task: give it its turn.
    let mut answer = get(api.http()).await;
    for _ in 0..10 {
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        answer = get(api.http()).await;
    }
    assert_eq!(answer.unwrap().status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_dying_recording_shows_status_20_then_is_gone() {
    let api = Api::start().await;
    api.sim.inject(Fault::RecordingDies {
        after: Duration::from_secs(20),
    });
    let (rid, sid) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite"),
        )
        .await;
    let query = task_path(&rid, &sid, "mix", "query");
    advance(Duration::from_millis(19_999)).await;
    assert_eq!(api.get(&query).await.body["serverResponse"]["status"], 5);
    advance(Duration::from_millis(1)).await;
    let answer = api.get(&query).await;
    assert_eq!(
        answer.body["serverResponse"]["status"], 20,
        "{}",
        answer.body
    );
    let stop = task_path(&rid, &sid, "mix", "stop");
    api.post(&stop, &fixture("stop-empty")).await.assert_code(
        StatusCode::BAD_REQUEST,
        49,
        "invalid operation",
    );
    advance(Duration::from_secs(10)).await;
    api.get(&query).await.assert_worker_not_found();
    api.post(&stop, &fixture("stop-empty"))
        .await
        .assert_worker_not_found();
}

#[tokio::test(start_paused = true)]
async fn kill_makes_a_running_recording_die_now() {
    let (api, rid, sid) = recording().await;
    assert!(api.sim.kill(&sid));
    let answer = api.get(&task_path(&rid, &sid, "mix", "query")).await;
    assert_eq!(answer.body["serverResponse"]["status"], 20);
    assert!(!api.sim.kill(&sid), "only a running recording can die");
}

#[tokio::test(start_paused = true)]
async fn no_recorded_data_is_206_435_and_the_task_still_stops() {
    let (api, rid, sid) = recording().await;
    api.sim.inject(Fault::NoRecordedData);
    let stop = task_path(&rid, &sid, "mix", "stop");
    api.post(&stop, &fixture("stop-empty")).await.assert_code(
        StatusCode::PARTIAL_CONTENT,
        435,
        "no recorded data",
    );
    api.get(&task_path(&rid, &sid, "mix", "query"))
        .await
        .assert_worker_not_found();
    assert_eq!(
        api.post(&stop, &fixture("stop-empty")).await.code(),
        Some(49)
    );
}

#[tokio::test(start_paused = true)]
async fn nobody_joined_makes_an_early_stop_435() {
    let api = Api::start().await;
    api.sim.inject(Fault::NobodyJoined);
    let (rid, sid) = api
        .record(
            &fixture("acquire-composite"),
            "mix",
            &fixture("start-composite"),
        )
        .await;
    advance(Duration::from_secs(60)).await;
    let stop = api
        .post(
            &task_path(&rid, &sid, "mix", "stop"),
            &fixture("stop-empty"),
        )
        .await;
    stop.assert_code(StatusCode::PARTIAL_CONTENT, 435, "no recorded data");
}

#[tokio::test(start_paused = true)]
async fn latency_delays_one_call_of_its_endpoint() {
    let (api, rid, sid) = recording().await;
    api.sim.inject(Fault::Latency {
        endpoint: Endpoint::Query,
        delay: Duration::from_secs(3),
    });
    let query = task_path(&rid, &sid, "mix", "query");
    let before = Instant::now();
    assert_eq!(api.get(&query).await.status, StatusCode::OK);
    assert!(
        before.elapsed() >= Duration::from_secs(3),
        "{:?}",
        before.elapsed()
    );
    let before = Instant::now();
    api.get(&query).await;
    assert!(before.elapsed() < Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn forced_rate_limit_applies_to_the_next_request_only() {
    let (api, rid, sid) = recording().await;
    api.sim.inject(Fault::RateLimited);
    let query = task_path(&rid, &sid, "mix", "query");
    let limited = api.get(&query).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["message"], "API rate limit exceeded");
    assert_eq!(api.get(&query).await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn already_started_answers_7_though_the_start_took_effect() {
    let api = Api::start().await;
    api.sim.inject(Fault::AlreadyStarted);
    let rid = api.acquire(&fixture("acquire-composite")).await;
    let answer = api
        .post(&start_path(&rid, "mix"), &fixture("start-composite"))
        .await;
    answer.assert_code(StatusCode::CREATED, 7, "already started");
    // The task runs: the same cname and uid conflict on a new resource.
    let other = api.acquire(&fixture("acquire-composite")).await;
    let conflict = api
        .post(&start_path(&other, "mix"), &fixture("start-composite"))
        .await;
    assert_eq!(conflict.code(), Some(53));
}

#[tokio::test(start_paused = true)]
async fn faults_wait_for_a_request_that_passes_the_checks() {
    let api = Api::start().await;
    api.sim.inject(Fault::AllocateWorkerFailed);
    let rid = api.acquire(&fixture("acquire-composite")).await;
    // A start rejected for its body does not use the fault up.
    let wrong = for_channel(fixture("start-composite"), "room1", "1");
    assert_eq!(
        api.post(&start_path(&rid, "mix"), &wrong).await.code(),
        Some(432)
    );
    assert_eq!(api.sim.pending_faults(), [Fault::AllocateWorkerFailed]);
}
