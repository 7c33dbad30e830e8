//! The daemon's listener: `/healthz`, `/readyz`, `/metrics` (Prometheus)
//! and `/sessions` (JSON). Routes for other services (Agora's
//! notifications) are merged in by the caller.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::status::Status;
use crate::agora::ResilientClient;

#[derive(Clone)]
struct Shared {
    status: Arc<Status>,
    client: ResilientClient,
}

/// The observability routes over `status`, with API counters from `client`.
pub fn router(status: Arc<Status>, client: ResilientClient) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/sessions", get(sessions))
        .with_state(Shared { status, client })
}

async fn ready(State(shared): State<Shared>) -> Response {
    match shared.status.not_ready() {
        None => (StatusCode::OK, "ready\n").into_response(),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(shared): State<Shared>) -> Response {
    let body = shared.status.prometheus(&shared.client);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn sessions(State(shared): State<Shared>) -> Response {
    axum::Json(shared.status.snapshot()).into_response()
}
