//! The resilience layer (`ResilientClient` over `RateLimiter`) against the
//! simulator on 127.0.0.1, on tokio's paused clock: each error class of
//! Agora's retry policy, injected with `SimHandle::inject`, checked by the
//! exact traffic the simulator saw and the (paused) time it took.
//!
//! Delays are jittered by ±20 %, so times are checked against that band,
//! never to the millisecond.

mod limiter;
mod pacing;
mod retries;
mod start;

use std::ops::RangeInclusive;
use std::time::Duration;

use recplan::agora::request::{
    AcquireClientRequest, StartClientRequest, StopClientRequest, UpdateClientRequest,
};
use recplan::agora::response::AcquireResponse;
use recplan::agora::{
    ApiBase, ApiError, Client, ClientConfig, Credentials, Mode, RateLimiter, Recording,
    ResilientClient, RetryPolicy, Secret, Started, call,
};
use recplan::sim::{self, RecordedRequest, SimConfig, SimHandle, Simulator};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::sim::fixture;

/// The channel and recorder uid of the fixtures' bodies.
const CNAME: &str = "room1";
const UID: &str = "527841";

/// A simulator with Agora's default quota (10 requests per second).
async fn simulator() -> SimHandle {
    Simulator::start(SimConfig::default())
        .await
        .expect("simulator starts")
}

/// A plain client of `base` with the simulator's credentials.
fn client(base: &str, timeout: Duration) -> Client {
    Client::new(ClientConfig {
        base: ApiBase::parse(base).unwrap(),
        app_id: sim::DEMO_APP_ID.to_owned(),
        credentials: Credentials::new(
            sim::DEMO_CUSTOMER_ID,
            Secret::new(sim::DEMO_CUSTOMER_SECRET),
        ),
        timeout,
    })
    .unwrap()
}

/// The layer over `sim`, with Agora's default policy and quota.
fn resilient(sim: &SimHandle) -> ResilientClient {
    ResilientClient::new(
        client(&sim.uri(), Duration::from_secs(5)),
        RateLimiter::default(),
        RetryPolicy::default(),
    )
}

/// The `clientRequest` of a request fixture.
fn client_request<T: DeserializeOwned>(name: &str) -> T {
    serde_json::from_value(fixture(name)["clientRequest"].clone()).unwrap()
}

fn acquire_request() -> AcquireClientRequest {
    client_request("acquire-composite")
}

fn start_request() -> StartClientRequest {
    client_request("start-composite")
}

fn update_request() -> UpdateClientRequest {
    client_request("update-subscribe")
}

fn stop_request() -> StopClientRequest {
    StopClientRequest::default()
}

/// Acquires a resource for the fixtures' channel.
async fn acquire(api: &ResilientClient) -> AcquireResponse {
    api.send(&call::Acquire {
        cname: CNAME,
        uid: UID,
        request: &acquire_request(),
    })
    .await
    .expect("acquire")
}

/// Starts a composite recording of the fixtures' channel on `resource_id`.
async fn start_on(api: &ResilientClient, resource_id: &str) -> Result<Started, ApiError> {
    api.start(&call::Start {
        mode: Mode::Composite,
        resource_id,
        cname: CNAME,
        uid: UID,
        request: &start_request(),
    })
    .await
}

/// Acquires and starts a composite recording of the fixtures' channel.
async fn record(api: &ResilientClient) -> Recording {
    let acquired = acquire(api).await;
    match start_on(api, &acquired.resource_id).await.expect("start") {
        Started::New(recording) => recording,
        earlier @ Started::Earlier { .. } => panic!("expected a new recording, got {earlier:?}"),
    }
}

/// The requests the simulator saw for `endpoint` (Agora's name, the last
/// path segment), in arrival order.
fn requests_to(sim: &SimHandle, endpoint: &str) -> Vec<RecordedRequest> {
    sim.requests()
        .into_iter()
        .filter(|request| request.path.rsplit('/').next() == Some(endpoint))
        .collect()
}

/// `nominal` stretched by the ±20 % jitter.
fn jittered(nominal: Duration) -> RangeInclusive<Duration> {
    nominal.mul_f64(0.8)..=nominal.mul_f64(1.2)
}

/// Asserts `took` is within `range`, with both shown on failure.
#[track_caller]
fn assert_within(took: Duration, range: &RangeInclusive<Duration>) {
    assert!(range.contains(&took), "took {took:?}, expected {range:?}");
}

/// The time between consecutive arrivals.
fn gaps(requests: &[RecordedRequest]) -> Vec<Duration> {
    requests.windows(2).map(|w| w[1].at - w[0].at).collect()
}

/// Paused time since `start`.
fn since(start: Instant) -> Duration {
    Instant::now() - start
}
