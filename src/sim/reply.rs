//! What the simulator answers: a status and a JSON body in one of Agora's
//! shapes: the gateway's `{"message"}`, the service's `{"code","reason"}`, and
//! the worker lookup's 404 with a `serverResponse`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::faults::Endpoint;

/// A response, before it is sent.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) status: StatusCode,
    body: Value,
    /// 429s carry `Retry-After: 1` (Agora documents no value; one second is
    /// the length of its rate window).
    retry_after: bool,
}

impl Reply {
    pub(super) fn ok(body: Value) -> Reply {
        Reply::with_status(StatusCode::OK, body)
    }

    pub(super) fn with_status(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body,
            retry_after: false,
        }
    }

    /// The gateway's form, `{"message": …}`.
    fn message(status: StatusCode, message: &str) -> Reply {
        Reply::with_status(status, json!({ "message": message }))
    }

    /// The service's form, `{"code": …, "reason": …}`.
    pub(super) fn code(status: StatusCode, code: u32, reason: impl Into<String>) -> Reply {
        Reply::with_status(status, json!({ "code": code, "reason": reason.into() }))
    }

    /// 400 code 2, the reason naming the endpoint and the problem, as in
    /// Agora's `"Acquire: invalid resourceExpiredHour value!"`.
    pub(super) fn invalid(endpoint: Endpoint, reason: &str) -> Reply {
        Reply::code(
            StatusCode::BAD_REQUEST,
            2,
            format!("{}: {reason}", capitalized(endpoint)),
        )
    }

    /// 503 from Agora's gateway during an outage.
    pub(super) fn unavailable() -> Reply {
        Reply::message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    }

    /// The same answer with fields of the wrong type beside the right
    /// ones, in every file entry of `serverResponse.fileList`.
    pub(super) fn malformed(mut self) -> Reply {
        if let Some(response) = self.body.get_mut("serverResponse") {
            if let Some(Value::Array(files)) = response.get_mut("fileList") {
                for file in files.iter_mut() {
                    if let Some(file) = file.as_object_mut() {
                        file.insert("isPlayable".to_owned(), json!("true"));
                        file.insert("sliceStartTime".to_owned(), json!("soon"));
                    }
                }
                files.push(json!(7));
            }
            if let Some(response) = response.as_object_mut() {
                response.insert("sliceStartTime".to_owned(), json!({"at": "now"}));
            }
        }
        self
    }

    /// Wrong method or path.
    pub(super) fn no_route() -> Reply {
        Reply::message(StatusCode::NOT_FOUND, "no Route matched with those values")
    }

    /// No `Authorization` header.
    pub(super) fn unauthorized() -> Reply {
        Reply::message(StatusCode::UNAUTHORIZED, "Unauthorized")
    }

    /// Wrong credentials, a scheme other than Basic, or a bad Content-Type.
    pub(super) fn bad_credentials() -> Reply {
        Reply::message(
            StatusCode::UNAUTHORIZED,
            "Invalid authentication credentials",
        )
    }

    pub(super) fn rate_limited() -> Reply {
        Reply {
            retry_after: true,
            ..Reply::message(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded")
        }
    }

    /// 404 "failed to find worker", in the form of Agora's real stop answer
    /// (API-Examples#373). The `command` names other than
    /// `StopCloudRecorder` are guesses that follow its pattern.
    pub(super) fn worker_not_found(
        endpoint: Endpoint,
        resource_id: &str,
        sid: &str,
        cname: &str,
        uid: &str,
    ) -> Reply {
        let command = match endpoint {
            Endpoint::Query => "QueryCloudRecorder",
            Endpoint::Update => "UpdateCloudRecorder",
            Endpoint::UpdateLayout => "UpdateLayoutCloudRecorder",
            Endpoint::Acquire | Endpoint::Start | Endpoint::Stop => "StopCloudRecorder",
        };
        Reply::with_status(
            StatusCode::NOT_FOUND,
            json!({
                "cname": cname,
                "uid": uid,
                "resourceId": resource_id,
                "sid": sid,
                "code": 404,
                "serverResponse": {
                    "command": command,
                    "payload": { "message": "failed to find worker" },
                },
            }),
        )
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The endpoint as Agora's error reasons start (`"Acquire: …"`).
fn capitalized(endpoint: Endpoint) -> String {
    let name = endpoint.name();
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}
