//! How close a burst of sessions gets to Agora's quota through the
//! resilience layer.
//!
//! N channels acquire and start at the same instant (2N requests) through
//! one `ResilientClient` and its `RateLimiter` against the simulator, which
//! enforces Agora's default 10 requests per second per App ID. At that
//! quota 1,000 channels need 200 s, so everything runs on tokio's paused
//! clock in a current-thread runtime: the limiter and the simulator both
//! read tokio's clock, and the real HTTP exchanges over loopback take no
//! paused time. Reported: the makespan (paused time until the last start
//! answered) against the bound 2N/10 s, the 429s the simulator sent, and
//! the gap between each session's acquire and start. Run with
//! `cargo bench --bench burst`; the figures are recorded in
//! docs/BENCHMARKS.md.

use std::num::NonZeroUsize;
use std::time::Duration;

use recplan::agora::request::{AcquireClientRequest, StartClientRequest};
use recplan::agora::{
    Client, Mode, Priority, RateLimiter, ResilientClient, RetryPolicy, Started, call,
};
use recplan::sim::{self, SimConfig, Simulator};
use tokio::task::JoinSet;
use tokio::time::Instant;

const START_BODY: &str = include_str!("../tests/fixtures/agora/requests/start-composite.json");

/// What one burst came to.
struct Report {
    channels: usize,
    makespan: Duration,
    bound: Duration,
    requests: usize,
    rate_limited: usize,
    max_gap: Duration,
    mean_started: Duration,
    urgent_max_wait: Duration,
    real: std::time::Duration,
}

/// When one session's acquire and start answered, from the burst's start.
struct Timing {
    acquired: Duration,
    started: Duration,
}

fn client(base: &str) -> Client {
    let config = sim::client_config(base, sim::DEMO_APP_ID).expect("the simulator's URI is valid");
    Client::new(config).expect("the client builds")
}

fn start_request() -> StartClientRequest {
    let body: serde_json::Value = serde_json::from_str(START_BODY).expect("fixture is JSON");
    serde_json::from_value(body["clientRequest"].clone()).expect("fixture is a start body")
}

/// One channel: acquire, then start on the resource.
async fn session(
    api: ResilientClient,
    index: usize,
    request: StartClientRequest,
    origin: Instant,
) -> Timing {
    let cname = format!("burst-{index}");
    let uid = (100_000 + index).to_string();
    let acquire = AcquireClientRequest {
        scene: Some(0),
        ..AcquireClientRequest::default()
    };
    let acquired = api
        .send(&call::Acquire {
            cname: &cname,
            uid: &uid,
            request: &acquire,
        })
        .await
        .unwrap_or_else(|e| panic!("{cname}: {e}"));
    let acquired_at = origin.elapsed();
    let started = api
        .start(&call::Start {
            mode: Mode::Composite,
            resource_id: &acquired.resource_id,
            cname: &cname,
            uid: &uid,
            request: &request,
        })
        .await
        .unwrap_or_else(|e| panic!("{cname}: {e}"));
    assert!(matches!(started, Started::New(_)), "{cname}: {started:?}");
    Timing {
        acquired: acquired_at,
        started: origin.elapsed(),
    }
}

async fn burst(channels: usize) -> Report {
    let real = std::time::Instant::now();
    let sim = Simulator::start(SimConfig {
        max_concurrent_tasks: NonZeroUsize::new(channels + 1).expect("not zero"),
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts");
    let api = ResilientClient::new(
        client(&sim.uri()),
        RateLimiter::default(),
        RetryPolicy::default(),
    );
    let request = start_request();
    let origin = Instant::now();
    let mut sessions = JoinSet::new();
    for index in 0..channels {
        sessions.spawn(session(api.clone(), index, request.clone(), origin));
    }
    let mut timings = Vec::with_capacity(channels);
    while let Some(timing) = sessions.join_next().await {
        timings.push(timing.expect("a session panicked"));
    }

    let requests = sim.requests();
    let started: Vec<Duration> = timings.iter().map(|t| t.started).collect();
    let total: Duration = started.iter().sum();
    Report {
        channels,
        makespan: started.iter().copied().max().unwrap_or_default(),
        bound: Duration::from_secs_f64(2.0 * count(channels) / 10.0),
        requests: requests.len(),
        rate_limited: requests
            .iter()
            .filter(|r| r.status.is_some_and(|s| s.as_u16() == 429))
            .count(),
        max_gap: timings
            .iter()
            .map(|t| t.started.saturating_sub(t.acquired))
            .max()
            .unwrap_or_default(),
        mean_started: total / u32::try_from(channels).expect("few channels"),
        urgent_max_wait: api.limiter().stats().of(Priority::Urgent).max,
        real: real.elapsed(),
    }
}

#[allow(clippy::cast_precision_loss)]
fn count(n: usize) -> f64 {
    n as f64
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("the runtime builds");
    println!(
        "burst start (acquire + start per channel) through ResilientClient, \
         simulator quota 10 req/s, paused clock"
    );
    println!(
        "{:>8} {:>9} {:>10} {:>9} {:>7} {:>5} {:>14} {:>12} {:>14} {:>9}",
        "channels",
        "requests",
        "makespan",
        "bound",
        "ratio",
        "429s",
        "mean started",
        "max gap a→s",
        "max start wait",
        "real"
    );
    for channels in [100, 1_000] {
        let r = runtime.block_on(burst(channels));
        println!(
            "{:>8} {:>9} {:>9.2}s {:>8.1}s {:>7.3} {:>5} {:>13.2}s {:>11.2}s {:>13.2}s {:>8.2}s",
            r.channels,
            r.requests,
            r.makespan.as_secs_f64(),
            r.bound.as_secs_f64(),
            r.makespan.as_secs_f64() / r.bound.as_secs_f64(),
            r.rate_limited,
            r.mean_started.as_secs_f64(),
            r.max_gap.as_secs_f64(),
            r.urgent_max_wait.as_secs_f64(),
            r.real.as_secs_f64(),
        );
    }
}
