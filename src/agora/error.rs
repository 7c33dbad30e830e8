//! What can go wrong between recplan and Agora, typed so that the layer that
//! retries can decide from fields instead of from text.
//!
//! No error here ever holds a request body or a credential: Agora's answers
//! and the transport's own errors are all they carry.

use std::fmt;

use super::Endpoint;
use std::time::Duration;

/// Longest excerpt of a non-JSON error body kept as the reason (a proxy's
/// HTML page, say): enough to recognize it, not enough to flood a log.
const MAX_REASON_CHARS: usize = 200;

/// A call to Agora that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Agora answered, but not with success. This includes the 2xx answers
    /// Agora uses for failures: 201 with code 7 (already started), 206 with
    /// code 65 (request not completed) and 206 with code 435 (no recorded
    /// data).
    #[error("Agora {endpoint} failed: {}", rejection(*.status, *.code, .reason.as_deref()))]
    Rejected {
        endpoint: Endpoint,
        /// HTTP status.
        status: u16,
        /// Agora's `code` from the body, when there was one.
        code: Option<i64>,
        /// Agora's `reason` or `message` from the body, when there was one.
        reason: Option<String>,
        /// The `Retry-After` header, when it held a number of seconds.
        retry_after: Option<Duration>,
        /// The `sid` in the body, when there was one: the 404 "failed to
        /// find worker" body carries it, and a 201 code 7 "already started"
        /// may (UNCONFIRMED: Agora's docs show no 201 body; recplan's
        /// simulator assumes it echoes the running task's ids).
        sid: Option<String>,
    },
    /// No answer within the configured timeout.
    #[error("Agora {endpoint} timed out after {}", seconds(*.after))]
    Timeout {
        endpoint: Endpoint,
        /// The configured timeout.
        after: Duration,
        #[source]
        source: reqwest::Error,
    },
    /// No connection: DNS, refused, TLS handshake.
    #[error("cannot connect to Agora for {endpoint}")]
    Connect {
        endpoint: Endpoint,
        #[source]
        source: reqwest::Error,
    },
    /// The connection broke while sending or receiving.
    #[error("Agora {endpoint} failed in transit")]
    Transport {
        endpoint: Endpoint,
        #[source]
        source: reqwest::Error,
    },
    /// Agora answered 200 with a body that is not the endpoint's response.
    #[error("Agora {endpoint} answered 200 with an unexpected body")]
    Decode {
        endpoint: Endpoint,
        #[source]
        source: serde_json::Error,
    },
    /// The request body could not be encoded (never expected; kept as an
    /// error rather than a panic).
    #[error("cannot encode the {endpoint} request")]
    Encode {
        endpoint: Endpoint,
        #[source]
        source: serde_json::Error,
    },
}

impl ApiError {
    /// Builds the error for a non-success answer from its status, its
    /// `Retry-After` and its body, which takes any of Agora's error forms:
    /// `{"code", "reason"}`, the gateway's `{"message"}`, or the 404
    /// `{"code": 404, "serverResponse": {"payload": {"message"}}, ..}`.
    pub(crate) fn rejected(
        endpoint: Endpoint,
        status: u16,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> ApiError {
        let (code, reason, sid) = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => (body_code(&value), body_reason(&value), body_sid(&value)),
            Err(_) => (None, text_excerpt(body), None),
        };
        ApiError::Rejected {
            endpoint,
            status,
            code,
            reason,
            retry_after,
            sid,
        }
    }

    /// The endpoint that was called.
    pub fn endpoint(&self) -> Endpoint {
        match self {
            ApiError::Rejected { endpoint, .. }
            | ApiError::Timeout { endpoint, .. }
            | ApiError::Connect { endpoint, .. }
            | ApiError::Transport { endpoint, .. }
            | ApiError::Decode { endpoint, .. }
            | ApiError::Encode { endpoint, .. } => *endpoint,
        }
    }

    /// The HTTP status, when Agora answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Rejected { status, .. } => Some(*status),
            ApiError::Decode { .. } => Some(200),
            _ => None,
        }
    }

    /// Agora's `code`, when the body had one.
    pub fn code(&self) -> Option<i64> {
        match self {
            ApiError::Rejected { code, .. } => *code,
            _ => None,
        }
    }

    /// Agora's `reason` or `message`, when the body had one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            ApiError::Rejected { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }

    /// How long Agora asked to wait, when it said (`Retry-After` in seconds).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Rejected { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The `sid` in Agora's error body, when it had a non-empty one.
    pub fn sid(&self) -> Option<&str> {
        match self {
            ApiError::Rejected { sid, .. } => sid.as_deref(),
            _ => None,
        }
    }

    /// The request may or may not have reached Agora: timeout, no
    /// connection, broken connection.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            ApiError::Timeout { .. } | ApiError::Connect { .. } | ApiError::Transport { .. }
        )
    }

    /// No answer within the timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ApiError::Timeout { .. })
    }

    /// HTTP 429: over the QPS limit; see [`retry_after`](Self::retry_after).
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// HTTP 401: credentials missing, wrong, or not matching the App ID.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// HTTP 404 "failed to find worker": the recording is not (or, during
    /// a failover of up to 90 s, not yet again) running.
    pub fn is_not_found_worker(&self) -> bool {
        self.status() == Some(404)
            && (self.code() == Some(404)
                || self
                    .reason()
                    .is_some_and(|reason| reason.contains("failed to find worker")))
    }

    /// HTTP 404 from the gateway ("no Route matched with those values"): a
    /// wrong method or URL, never worth retrying.
    pub fn is_route_not_found(&self) -> bool {
        self.status() == Some(404) && !self.is_not_found_worker()
    }

    /// Code 7 (HTTP 201): `start` was already called on this resource.
    pub fn is_already_started(&self) -> bool {
        self.code() == Some(7)
    }

    /// Code 65 (HTTP 206): the request reached Agora but its answer timed
    /// out; Agora advises repeating it with the same parameters.
    pub fn is_request_not_completed(&self) -> bool {
        self.code() == Some(65)
    }

    /// Code 435 (HTTP 206 on stop): nobody published, so there are no files.
    pub fn is_no_recorded_data(&self) -> bool {
        self.code() == Some(435)
    }
}

/// `code` at the top of an error body, as a number or a numeric string.
fn body_code(body: &serde_json::Value) -> Option<i64> {
    match body.get("code")? {
        serde_json::Value::Number(number) => number.as_i64(),
        serde_json::Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A non-empty string `sid` at the top of an error body.
fn body_sid(body: &serde_json::Value) -> Option<String> {
    body.get("sid")
        .and_then(serde_json::Value::as_str)
        .filter(|sid| !sid.is_empty())
        .map(str::to_owned)
}

/// The first of `reason`, `message` and `serverResponse.payload.message`.
fn body_reason(body: &serde_json::Value) -> Option<String> {
    let nested = body
        .get("serverResponse")
        .and_then(|response| response.get("payload"))
        .and_then(|payload| payload.get("message"));
    [body.get("reason"), body.get("message"), nested]
        .into_iter()
        .flatten()
        .find_map(|value| value.as_str())
        .map(str::to_owned)
}

/// The start of a body that is not JSON, if it is text at all.
fn text_excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(MAX_REASON_CHARS).collect())
}

/// `HTTP 404, code 404: failed to find worker`, leaving out what is absent.
fn rejection(status: u16, code: Option<i64>, reason: Option<&str>) -> String {
    use fmt::Write as _;
    let mut text = format!("HTTP {status}");
    // Writing to a String cannot fail.
    if let Some(code) = code {
        let _ = write!(text, ", code {code}");
    }
    if let Some(reason) = reason {
        let _ = write!(text, ": {reason}");
    }
    text
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// A client configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Required environment variables are unset or empty.
    #[error("environment variable{} not set: {}", plural(.names), .names.join(", "))]
    MissingEnv { names: Vec<&'static str> },
    /// The API base URL is malformed or unsafe. `url` has any user info
    /// removed, so a password typed into the URL is never echoed.
    #[error("invalid Agora API base{}: {problem}", shown(.url.as_deref()))]
    InvalidBase {
        url: Option<String>,
        problem: String,
    },
    /// The HTTP client could not be built (TLS initialization).
    #[error("cannot set up the HTTP client")]
    HttpClient {
        #[source]
        source: reqwest::Error,
    },
}

fn plural(names: &[&str]) -> &'static str {
    if names.len() == 1 { "" } else { "s" }
}

fn shown(url: Option<&str>) -> String {
    url.map(|url| format!(" `{url}`")).unwrap_or_default()
}
