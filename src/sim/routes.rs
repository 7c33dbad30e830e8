//! The HTTP side: one handler that takes every request through Agora's
//! gateway checks in the gateway's order (route, credentials, Content-Type,
//! rate limit), records it, and hands it to the endpoint.
//!
//! Routing is done here rather than by axum's router so that a wrong method
//! or path gets Agora's own 404 body, before authentication, as the gateway
//! answers it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::Value;
use tokio::time::Instant;

use super::faults::Endpoint;
use super::reply::Reply;
use super::{RecordedRequest, Shared, endpoints};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// A request matched to an endpoint. Path segments are kept verbatim: the
/// service, not the gateway, judges a mode or a resource ID.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Call {
    pub(super) app_id: String,
    pub(super) endpoint: Endpoint,
    pub(super) resource_id: String,
    pub(super) sid: String,
    pub(super) mode: String,
}

/// Matches Agora's paths under `/v1/apps/{appid}/cloud_recording/`: query is
/// GET, everything else POST.
fn route(method: &Method, path: &str) -> Option<Call> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let ["v1", "apps", app_id, "cloud_recording", rest @ ..] = segments.as_slice() else {
        return None;
    };
    if app_id.is_empty() || rest.contains(&"") {
        return None;
    }
    let (endpoint, resource_id, sid, mode) = match rest {
        ["acquire"] => (Endpoint::Acquire, "", "", ""),
        ["resourceid", rid, "mode", mode, "start"] => (Endpoint::Start, *rid, "", *mode),
        ["resourceid", rid, "sid", sid, "mode", mode, op] => {
            let endpoint = match *op {
                "query" => Endpoint::Query,
                "update" => Endpoint::Update,
                "updateLayout" => Endpoint::UpdateLayout,
                "stop" => Endpoint::Stop,
                _ => return None,
            };
            (endpoint, *rid, *sid, *mode)
        }
        _ => return None,
    };
    let expected = if endpoint == Endpoint::Query {
        Method::GET
    } else {
        Method::POST
    };
    (*method == expected).then(|| Call {
        app_id: (*app_id).to_owned(),
        endpoint,
        resource_id: resource_id.to_owned(),
        sid: sid.to_owned(),
        mode: mode.to_owned(),
    })
}

/// What the `Authorization` header amounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    Missing,
    Invalid,
    Valid,
}

fn authenticate(headers: &HeaderMap, shared: &Shared) -> Auth {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Auth::Missing;
    };
    let credentials = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
        })
        .and_then(|decoded| String::from_utf8(decoded).ok());
    let config = &shared.config;
    let valid = credentials
        .as_deref()
        .and_then(|c| c.split_once(':'))
        .is_some_and(|(id, secret)| {
            id == config.customer_id && secret == config.customer_secret.expose()
        });
    if valid { Auth::Valid } else { Auth::Invalid }
}

/// Agora's current docs ask for `application/json`, older ones for exactly
/// `application/json;charset=utf-8` (wrong casing or an extra space was an
/// error); both are accepted, nothing else.
fn content_type_ok(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "application/json" || v == "application/json;charset=utf-8")
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = authenticate(&headers, &shared);
    let json = serde_json::from_slice::<Value>(&body).ok();
    let index = shared.lock().record(RecordedRequest {
        method: method.clone(),
        path: uri.path().to_owned(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: json.clone(),
        auth_valid: auth == Auth::Valid,
        status: None,
        at: Instant::now(),
    });
    let reply = respond(&shared, &method, uri.path(), &headers, auth, json.as_ref()).await;
    shared.lock().complete(index, reply.status);
    // Only the method, path and status: headers and bodies hold secrets.
    tracing::info!(%method, path = uri.path(), status = reply.status.as_u16(), "sim request");
    reply.into_response()
}

async fn respond(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    auth: Auth,
    body: Option<&Value>,
) -> Reply {
    let Some(call) = route(method, path) else {
        return Reply::no_route();
    };
    match auth {
        Auth::Missing => return Reply::unauthorized(),
        Auth::Invalid => return Reply::bad_credentials(),
        Auth::Valid => {}
    }
    if *method == Method::POST && !content_type_ok(headers) {
        return Reply::bad_credentials();
    }
    let delay = {
        let now = Instant::now();
        let mut state = shared.lock();
        if state.faults.take_rate_limited()
            || !state.admit(&call.app_id, shared.config.rate_limit, now)
        {
            return Reply::rate_limited();
        }
        if state.faults.in_outage(now) {
            return Reply::unavailable();
        }
        state.faults.take_latency(call.endpoint)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    endpoints::handle(shared, &call, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "/v1/apps/app/cloud_recording";

    #[test]
    fn routes_each_endpoint_with_its_method_only() {
        let acquire = route(&Method::POST, &format!("{BASE}/acquire"));
        assert_eq!(acquire.map(|c| c.endpoint), Some(Endpoint::Acquire));
        let start = route(
            &Method::POST,
            &format!("{BASE}/resourceid/r/mode/mix/start"),
        );
        assert_eq!(
            start.map(|c| (c.resource_id, c.mode)),
            Some(("r".into(), "mix".into()))
        );
        let query = route(
            &Method::GET,
            &format!("{BASE}/resourceid/r/sid/s/mode/web/query"),
        );
        assert_eq!(query.map(|c| c.endpoint), Some(Endpoint::Query));
        let layout = route(
            &Method::POST,
            &format!("{BASE}/resourceid/r/sid/s/mode/mix/updateLayout"),
        );
        assert_eq!(layout.map(|c| c.sid), Some("s".into()));

        assert_eq!(
            route(
                &Method::POST,
                &format!("{BASE}/resourceid/r/sid/s/mode/mix/query")
            ),
            None
        );
        assert_eq!(route(&Method::GET, &format!("{BASE}/acquire")), None);
        assert_eq!(route(&Method::POST, &format!("{BASE}/acquire/")), None);
        assert_eq!(
            route(&Method::POST, &format!("{BASE}/resourceid//mode/mix/start")),
            None
        );
        assert_eq!(route(&Method::POST, "/v1/apps/app/acquire"), None);
        assert_eq!(
            route(
                &Method::POST,
                &format!("{BASE}/resourceid/r/sid/s/mode/mix/Stop")
            ),
            None
        );
    }
}
