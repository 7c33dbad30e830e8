//! Per-call retries by error class (§9.3), and the failover check.

use std::time::Duration;

use recplan::agora::retry::RetryCount;
use recplan::agora::{Endpoint, ErrorClass, Presence, call};
use recplan::sim::{self, Fault};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{
    assert_within, client, gaps, jittered, record, requests_to, resilient, simulator, since,
    stop_request, update_request,
};
use recplan::agora::{RateLimiter, ResilientClient, RetryPolicy};

/// The count of retries of `endpoint` after `class`.
fn count(counts: &[RetryCount], endpoint: Endpoint, class: ErrorClass) -> (u64, u64) {
    counts
        .iter()
        .filter(|c| c.endpoint == endpoint && c.class == class)
        .fold((0, 0), |(r, e), c| (r + c.retries, e + c.exhausted))
}

#[tokio::test(start_paused = true)]
async fn not_completed_on_start_repeats_the_same_start_about_3s_later() {
    let sim = simulator().await;
    let api = resilient(&sim);
    sim.inject(Fault::RequestNotCompleted(sim::Endpoint::Start));
    let start = Instant::now();
    let recording = record(&api).await;

    let starts = requests_to(&sim, "start");
    assert_eq!(starts.len(), 2, "one start and one repetition");
    assert_eq!(starts[0].path, starts[1].path, "the same resource");
    assert_eq!(starts[0].body, starts[1].body, "the same parameters");
    assert_within(gaps(&starts)[0], &jittered(Duration::from_secs(3)));
    assert_within(since(start), &jittered(Duration::from_secs(3)));
    assert!(api.send(&call::Query(&recording)).await.is_ok());
    assert_eq!(
        count(
            &api.retry_counts(),
            Endpoint::Start,
            ErrorClass::NotCompleted
        ),
        (1, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn not_completed_gives_up_after_3s_and_6s() {
    let sim = simulator().await;
    let api = resilient(&sim);
    let recording = record(&api).await;
    sim.inject_times(Fault::RequestNotCompleted(sim::Endpoint::Stop), 3);
    let start = Instant::now();
    let error = api
        .send(&call::OnRecording::new(&recording, &stop_request()))
        .await
        .unwrap_err();

    assert!(error.is_request_not_completed(), "{error}");
    let stops = requests_to(&sim, "stop");
    assert_eq!(stops.len(), 3);
    let gaps = gaps(&stops);
    assert_within(gaps[0], &jittered(Duration::from_secs(3)));
    assert_within(gaps[1], &jittered(Duration::from_secs(6)));
    assert_within(since(start), &jittered(Duration::from_secs(9)));
    assert_eq!(
        count(
            &api.retry_counts(),
            Endpoint::Stop,
            ErrorClass::NotCompleted
        ),
        (2, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn start_server_errors_retry_3_times_then_the_error_is_the_sessions() {
    let sim = simulator().await;
    let api = resilient(&sim);
    sim.inject_times(Fault::RequestTimeout(sim::Endpoint::Start), 4);
    let acquired = super::acquire(&api).await;
    let start = Instant::now();
    let error = super::start_on(&api, &acquired.resource_id)
        .await
        .unwrap_err();

    assert_eq!((error.status(), error.code()), (Some(500), Some(62)));
    let starts = requests_to(&sim, "start");
    assert_eq!(starts.len(), 4, "the start and three repetitions");
    for (gap, nominal) in gaps(&starts).into_iter().zip([3, 6, 9]) {
        assert_within(gap, &jittered(Duration::from_secs(nominal)));
    }
    assert_within(since(start), &jittered(Duration::from_secs(18)));
    assert_eq!(
        count(
            &api.retry_counts(),
            Endpoint::Start,
            ErrorClass::ServerError
        ),
        (3, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn failed_to_allocate_worker_is_not_repeated_on_the_same_resource() {
    // 500 code 502: this resource got no worker; a new acquire is the
    // session's to make, the same start again cannot help.
    let sim = simulator().await;
    let api = resilient(&sim);
    sim.inject(Fault::AllocateWorkerFailed);
    let acquired = super::acquire(&api).await;
    let error = super::start_on(&api, &acquired.resource_id)
        .await
        .unwrap_err();
    assert_eq!((error.status(), error.code()), (Some(500), Some(502)));
    assert_eq!(ErrorClass::of(&error), ErrorClass::NoWorker);
    assert_eq!(requests_to(&sim, "start").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn task_server_errors_wait_5_10_15_30() {
    let sim = simulator().await;
    let api = resilient(&sim);
    let recording = record(&api).await;
    sim.inject_times(Fault::RequestTimeout(sim::Endpoint::Query), 4);
    let start = Instant::now();
    let response = api
        .send(&call::Query(&recording))
        .await
        .expect("the fifth query answers");

    assert_eq!(response.sid, recording.sid);
    let queries = requests_to(&sim, "query");
    assert_eq!(queries.len(), 5);
    for (gap, nominal) in gaps(&queries).into_iter().zip([5, 10, 15, 30]) {
        assert_within(gap, &jittered(Duration::from_secs(nominal)));
    }
    assert_within(since(start), &jittered(Duration::from_secs(60)));

    // update: one 504, repeated once after about 5 s.
    sim.inject(Fault::RequestTimeout(sim::Endpoint::Update));
    let start = Instant::now();
    api.send(&call::OnRecording::new(&recording, &update_request()))
        .await
        .unwrap();
    assert_eq!(requests_to(&sim, "update").len(), 2);
    assert_within(since(start), &jittered(Duration::from_secs(5)));
}

#[tokio::test(start_paused = true)]
async fn other_client_errors_are_not_repeated() {
    let sim = simulator().await;
    let api = resilient(&sim);
    let recording = record(&api).await;
    let mut wrong = recording.clone();
    wrong.uid = "1".to_owned();
    let start = Instant::now();
    let error = api
        .send(&call::OnRecording::new(&wrong, &update_request()))
        .await
        .unwrap_err();

    assert_eq!((error.status(), error.code()), (Some(400), Some(432)));
    assert_eq!(requests_to(&sim, "update").len(), 1);
    assert_eq!(since(start), Duration::ZERO);
    assert!(api.retry_counts().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_429_waits_for_retry_after_and_is_not_a_failure() {
    let sim = simulator().await;
    let api = resilient(&sim);
    let recording = record(&api).await;
    // Let the window of the two calls above pass: only the 429 may delay.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sim.inject(Fault::RateLimited);
    let start = Instant::now();
    api.send(&call::Query(&recording)).await.unwrap();

    let statuses: Vec<_> = requests_to(&sim, "query")
        .iter()
        .map(|r| r.status.map(|s| s.as_u16()))
        .collect();
    assert_eq!(statuses, [Some(429), Some(200)]);
    // The simulator's Retry-After is 1 s; 429 pauses are not jittered.
    assert_eq!(since(start), Duration::from_secs(1));
    assert_eq!(api.limiter().stats().pauses, 1);
    assert_eq!(
        count(
            &api.retry_counts(),
            Endpoint::Query,
            ErrorClass::RateLimited
        ),
        (1, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_is_repeated_on_the_same_loopback_base() {
    let sim = simulator().await;
    let api = resilient(&sim);
    let recording = record(&api).await;
    sim.inject(Fault::Latency {
        endpoint: sim::Endpoint::Query,
        delay: Duration::from_secs(60),
    });
    let start = Instant::now();
    api.send(&call::Query(&recording))
        .await
        .expect("the repetition answers");

    let queries = requests_to(&sim, "query");
    assert_eq!(queries.len(), 2);
    // The client's 5 s timeout, then about 1 s.
    let window = Duration::from_millis(5800)..=Duration::from_millis(6200);
    assert_within(gaps(&queries)[0], &window);
    assert_within(since(start), &window);
    assert_eq!(api.bases().count(), 1);
    assert_eq!(
        count(&api.retry_counts(), Endpoint::Query, ErrorClass::Transport),
        (1, 0)
    );
}

/// A server on loopback that accepts connections and closes them at once,
/// counting them.
async fn hang_up_server() -> (String, watch::Receiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (count, counted) = watch::channel(0);
    tokio::spawn(async move {
        while let Ok((connection, _)) = listener.accept().await {
            drop(connection);
            count.send_modify(|n| *n += 1);
        }
    });
    (base, counted)
}

#[tokio::test(start_paused = true)]
async fn no_answer_retries_after_1_3_6s_and_never_leaves_an_explicit_base() {
    let (base, connections) = hang_up_server().await;
    let api = ResilientClient::new(
        client(&base, Duration::from_secs(5)),
        RateLimiter::default(),
        RetryPolicy::default(),
    );
    let recording = recplan::agora::Recording {
        mode: recplan::agora::Mode::Composite,
        resource_id: "r".to_owned(),
        sid: "s".to_owned(),
        cname: super::CNAME.to_owned(),
        uid: super::UID.to_owned(),
    };
    let start = Instant::now();
    let error = api.send(&call::Query(&recording)).await.unwrap_err();

    assert!(error.is_transport(), "{error:?}");
    assert_eq!(
        *connections.borrow(),
        4,
        "every attempt went to the same server"
    );
    assert_within(since(start), &jittered(Duration::from_secs(10)));
    assert_eq!(
        api.bases().map(ToString::to_string).collect::<Vec<_>>(),
        [base]
    );
    assert_eq!(
        count(&api.retry_counts(), Endpoint::Query, ErrorClass::Transport),
        (3, 1)
    );
}

#[test]
fn agoras_own_domain_gets_fallbacks() {
    let api = ResilientClient::new(
        client("https://api.agora.io", Duration::from_secs(5)),
        RateLimiter::default(),
        RetryPolicy::default(),
    );
    let bases: Vec<_> = api.bases().map(ToString::to_string).collect();
    assert_eq!(
        bases,
        [
            "https://api.agora.io",
            "https://api.sd-rtn.com",
            "https://api-us-west-1.agora.io",
            "https://api-us-east-1.agora.io",
        ]
    );
    // Another App ID keeps the fallbacks.
    assert_eq!(api.with_app_id("other").bases().count(), 4);
}

#[tokio::test(start_paused = true)]
async fn worker_not_found_is_returned_and_confirm_gone_sees_the_failover_end() {
    let sim = simulator().await;
    let api = resilient(&sim);
    let recording = record(&api).await;
    sim.inject(Fault::Failover {
        duration: Duration::from_secs(40),
    });
    let start = Instant::now();
    let error = api.send(&call::Query(&recording)).await.unwrap_err();
    assert!(error.is_not_found_worker(), "{error}");
    assert_eq!(requests_to(&sim, "query").len(), 1, "no blind retry");

    let presence = api.confirm_gone(&recording).await.unwrap();
    let Presence::Back(response) = presence else {
        panic!("expected the task back, got {presence:?}");
    };
    assert_eq!(response.sid, recording.sid);
    // Checks at 5, 15, 30 s (404) and 45 s (back).
    let queries = requests_to(&sim, "query");
    assert_eq!(queries.len(), 5);
    let at: Vec<u64> = queries.iter().map(|q| (q.at - start).as_secs()).collect();
    assert_eq!(at, [0, 5, 15, 30, 45]);
    assert_eq!(
        count(
            &api.retry_counts(),
            Endpoint::Query,
            ErrorClass::WorkerNotFound
        ),
        (4, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn confirm_gone_reports_gone_after_the_90s_window() {
    let sim = simulator().await;
    let api = resilient(&sim);
    let recording = record(&api).await;
    api.send(&call::OnRecording::new(&recording, &stop_request()))
        .await
        .unwrap();
    let start = Instant::now();

    assert_eq!(api.confirm_gone(&recording).await.unwrap(), Presence::Gone);
    let queries = requests_to(&sim, "query");
    assert_eq!(queries.len(), 7, "after 5, 10, 15 s, then every 15 s");
    assert_eq!(since(start), Duration::from_secs(90));
}
