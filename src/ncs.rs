//! Agora's notification callbacks (NCS, AGORA-API.md §14): the HTTP
//! endpoint Agora posts a recording's events to, and what becomes of them.
//!
//! A callback is verified (`Agora-Signature-V2`, an HMAC-SHA256 of the raw
//! body under the NCS secret), read, matched to the session that holds its
//! sid, and recorded in that session's history as an observation: it never
//! moves a session's phase. Recorded are the uploads (31 uploaded, 32
//! backuped, which also set the session's [`upload_notified`]), the session
//! exit (11), failover (12) and recorder leave (41); everything else is
//! answered and dropped.
//!
//! NCS resends what it thinks was not received and its redundant servers
//! may send the same event twice under different ids, so a notice is
//! recorded once per `noticeId` and once per (sid, uid, eventType,
//! sequence). The uid is in the key because a failover task reports under a
//! new uid with its own counter, and its notices must not pass for
//! duplicates of the old task's. A notice for a sid no session holds (another
//! system's recording under the same project, or a start whose answer never
//! arrived) is answered 200 and not kept.
//!
//! NCS gives no delivery guarantee, so nothing waits for a notice: the
//! session runner's own stop and query stay the source of truth for a
//! session's phase.
//!
//! [`upload_notified`]: crate::store::StoredSession::upload_notified

mod callback;
pub mod signature;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::agora::Secret;
use crate::clock::Clock;
use crate::store::{Noted, Notice, Store, StoreError};

use callback::Reading;

/// The environment variable holding the NCS secret (Agora Console, when
/// NCS is enabled for the project).
pub const ENV_SECRET: &str = "AGORA_NCS_SECRET";

/// Where the daemon's listener mounts [`router`].
pub const PATH: &str = "/ncs";

/// The largest callback body read. Notices are small (a long upload file
/// list is a few KiB); anything larger is refused with 413 before its
/// signature is checked.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How long the answer waits for the store. A local write takes
/// milliseconds; if the disk stalls, NCS is answered anyway and the write
/// finishes behind the answer, since a late answer makes NCS resend.
const ANSWER_BUDGET: Duration = Duration::from_millis(500);

/// Why the NCS endpoint cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum NcsError {
    /// Anyone can compute an HMAC under an empty key.
    #[error("the NCS secret is empty: set {ENV_SECRET} to the secret shown in Agora Console")]
    EmptySecret,
}

/// What the endpoint needs: where to record, the secret to verify with, and
/// the clock that stamps what it records. `Debug` shows the secret as `***`.
#[derive(Clone, Debug)]
pub struct NcsState {
    store: Store,
    secret: Secret,
    clock: Clock,
}

impl NcsState {
    pub fn new(store: Store, secret: Secret, clock: Clock) -> Result<NcsState, NcsError> {
        if secret.expose().is_empty() {
            return Err(NcsError::EmptySecret);
        }
        Ok(NcsState {
            store,
            secret,
            clock,
        })
    }

    /// The state with the secret from [`ENV_SECRET`] read through `lookup`
    /// (e.g. `|name| std::env::var(name).ok()`), or `None` when it is unset
    /// or empty: then NCS is not configured and nothing should listen.
    pub fn from_env(
        store: Store,
        clock: Clock,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Option<NcsState> {
        let secret = lookup(ENV_SECRET).filter(|secret| !secret.is_empty())?;
        NcsState::new(store, Secret::new(secret), clock).ok()
    }
}

/// The endpoint: `POST /` under wherever it is nested, normally
/// `Router::new().nest(ncs::PATH, ncs::router(state))`. Bodies over
/// [`BODY_LIMIT`] are refused with 413.
pub fn router(state: NcsState) -> Router {
    Router::new()
        .route("/", post(receive))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Arc::new(state))
}

/// One callback. Neither the body nor the signature header is ever logged:
/// the body names channels and files, and a logged signature would help
/// nobody but a forger.
async fn receive(
    State(state): State<Arc<NcsState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            tracing::warn!(%status, "NCS callback refused: unreadable or too large");
            return answer(status, "error", "body refused");
        }
    };
    if let Err(error) = signature::verify(&state.secret, headers.get(signature::HEADER), &body) {
        tracing::warn!(%error, "NCS callback refused");
        return answer(StatusCode::UNAUTHORIZED, "error", "bad signature");
    }
    let notice = match callback::read(&body) {
        Ok(Reading::Notice(notice)) => notice,
        Ok(Reading::Ignored(why)) => {
            tracing::debug!(%why, "NCS notice ignored");
            return answer(StatusCode::OK, "result", "ignored");
        }
        Err(error) => {
            // Signed, so Agora's (or the secret leaked): worth a warning,
            // and a 400 rather than a 200 so that it shows in NCS's console.
            tracing::warn!(%error, "NCS callback malformed");
            return answer(StatusCode::BAD_REQUEST, "error", "malformed notice");
        }
    };
    let at = state.clock.now();
    let store = state.store.clone();
    let noticed = Arc::new(*notice);
    let writing = {
        let noticed = Arc::clone(&noticed);
        // A task of its own: the write goes on if the answer cannot wait.
        tokio::spawn(async move { store.record_notice(&noticed, at).await })
    };
    settle(writing, noticed).await
}

/// Waits for the store up to [`ANSWER_BUDGET`] and answers accordingly.
async fn settle(
    mut writing: JoinHandle<Result<Noted, StoreError>>,
    notice: Arc<Notice>,
) -> Response {
    let Ok(written) = tokio::time::timeout(ANSWER_BUDGET, &mut writing).await else {
        tracing::warn!(
            sid = %notice.sid,
            "the state store is slow: NCS notice answered before it was recorded"
        );
        tokio::spawn(async move { log_outcome(&notice, writing.await) });
        return answer(StatusCode::OK, "result", "accepted");
    };
    match log_outcome(&notice, written) {
        Some(Noted::Recorded { .. }) => answer(StatusCode::OK, "result", "recorded"),
        Some(Noted::Duplicate { .. }) => answer(StatusCode::OK, "result", "duplicate"),
        Some(Noted::UnknownSid) => answer(StatusCode::OK, "result", "unknown sid"),
        // Nothing was written (the transaction rolled back), so NCS's resend
        // after a failure answer is recorded normally.
        None => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "error",
            "not recorded; resend",
        ),
    }
}

/// Logs what became of `notice`; `None` if it could not be recorded.
fn log_outcome(
    notice: &Notice,
    written: Result<Result<Noted, StoreError>, tokio::task::JoinError>,
) -> Option<Noted> {
    let (sid, event_type) = (&notice.sid, notice.event_type);
    match written {
        Ok(Ok(noted)) => {
            match noted {
                Noted::Recorded { session, .. } => {
                    tracing::info!(%session, %sid, event_type, kind = notice.kind, "NCS notice recorded");
                }
                Noted::Duplicate { session } => {
                    tracing::debug!(%session, %sid, event_type, "NCS notice already recorded");
                }
                Noted::UnknownSid => {
                    tracing::debug!(%sid, event_type, "NCS notice for a sid no session holds");
                }
            }
            Some(noted)
        }
        Ok(Err(error)) => {
            tracing::error!(%error, %sid, event_type, "NCS notice not recorded");
            None
        }
        Err(error) => {
            tracing::error!(%error, %sid, event_type, "recording an NCS notice ended abnormally");
            None
        }
    }
}

/// A small JSON answer: `{"<key>": "<value>"}`.
fn answer(status: StatusCode, key: &str, value: &str) -> Response {
    (status, axum::Json(json!({ key: value }))).into_response()
}
