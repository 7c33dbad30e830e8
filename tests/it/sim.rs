//! The Cloud Recording simulator, over real HTTP on loopback: it accepts
//! Agora's own example bodies, answers each documented error as the reference
//! says, moves recordings along tokio's paused clock, and every fault does
//! what it imitates.
//!
//! Fixtures in `tests/fixtures/agora/requests/` are typed from Agora's docs:
//! AGORA-API.md §4.6 (`start-composite`), Docs-Source `start-examples.mdx`
//! (`start-composite-hls`, `start-individual`, `start-individual-snapshot`),
//! the REST quickstart (`acquire-quickstart`, `stop-empty`), the update-layout
//! and stop reference pages (`update-layout`, `stop`), an Agora support reply
//! (`start-composite-custom-layout`) and the Go REST client's web example
//! (`start-web`, `update-web`).

mod accept;
mod checks;
mod errors;
mod faults;
mod lifecycle;

use std::path::PathBuf;

use base64::Engine as _;
use recplan::sim::{
    DEMO_APP_ID, DEMO_CUSTOMER_ID, DEMO_CUSTOMER_SECRET, SimConfig, SimHandle, Simulator,
};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

/// A simulator and a raw HTTP client speaking to it with valid credentials.
pub struct Api {
    pub sim: SimHandle,
    http: reqwest::Client,
}

/// A response: status, headers and JSON body (`Null` if not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The service's error `code`.
    pub fn code(&self) -> Option<i64> {
        self.body["code"].as_i64()
    }

    /// The service's error `reason`.
    pub fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or_default()
    }

    /// Asserts status and `{"code", "reason"}` together, with the body shown
    /// on failure.
    #[track_caller]
    pub fn assert_code(&self, status: StatusCode, code: i64, reason: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, Some(code)),
            "{}",
            self.body
        );
        assert!(
            self.reason().contains(reason),
            "reason {:?} lacks {reason:?}",
            self.reason()
        );
    }

    /// Asserts the 404 "failed to find worker" form.
    #[track_caller]
    pub fn assert_worker_not_found(&self) {
        assert_eq!(self.status, StatusCode::NOT_FOUND, "{}", self.body);
        assert_eq!(self.body["code"], 404);
        assert_eq!(
            self.body["serverResponse"]["payload"]["message"],
            "failed to find worker"
        );
    }
}

impl Api {
    /// A simulator with the default configuration but no rate limit: tests on
    /// a paused clock send many requests at one instant.
    pub async fn start() -> Api {
        Api::with(SimConfig {
            rate_limit: None,
            ..SimConfig::default()
        })
        .await
    }

    pub async fn with(config: SimConfig) -> Api {
        let sim = Simulator::start(config).await.expect("simulator starts");
        // No idle pool: a kept-alive connection's timers would fire whenever
        // a test advances the paused clock.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client builds");
        Api { sim, http }
    }

    /// The URL of `tail` under the demo App ID's cloud_recording path.
    pub fn url(&self, tail: &str) -> String {
        self.url_for(DEMO_APP_ID, tail)
    }

    pub fn url_for(&self, app_id: &str, tail: &str) -> String {
        format!("{}/v1/apps/{app_id}/cloud_recording/{tail}", self.sim.uri())
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends a request as it is built, without adding anything.
    pub async fn send(&self, request: RequestBuilder) -> Answer {
        let response = request.send().await.expect("request reaches the simulator");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body is read");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, tail: &str, body: &Value) -> Answer {
        self.send(
            self.http
                .post(self.url(tail))
                .basic_auth(DEMO_CUSTOMER_ID, Some(DEMO_CUSTOMER_SECRET))
                .json(body),
        )
        .await
    }

    pub async fn get(&self, tail: &str) -> Answer {
        self.send(
            self.http
                .get(self.url(tail))
                .basic_auth(DEMO_CUSTOMER_ID, Some(DEMO_CUSTOMER_SECRET)),
        )
        .await
    }

    /// Acquires with `body`; returns the resource ID.
    pub async fn acquire(&self, body: &Value) -> String {
        let answer = self.post("acquire", body).await;
        assert_eq!(answer.status, StatusCode::OK, "acquire: {}", answer.body);
        answer.body["resourceId"]
            .as_str()
            .expect("resourceId")
            .to_owned()
    }

    /// Acquires with `acquire` and starts with `start` in `mode`; returns the
    /// resource ID and sid.
    pub async fn record(&self, acquire: &Value, mode: &str, start: &Value) -> (String, String) {
        let rid = self.acquire(acquire).await;
        let answer = self.post(&start_path(&rid, mode), start).await;
        assert_eq!(answer.status, StatusCode::OK, "start: {}", answer.body);
        let sid = answer.body["sid"].as_str().expect("sid").to_owned();
        (rid, sid)
    }
}

pub fn start_path(rid: &str, mode: &str) -> String {
    format!("resourceid/{rid}/mode/{mode}/start")
}

/// The path of `op` (query, update, updateLayout, stop) on a task.
pub fn task_path(rid: &str, sid: &str, mode: &str, op: &str) -> String {
    format!("resourceid/{rid}/sid/{sid}/mode/{mode}/{op}")
}

/// A request body from `tests/fixtures/agora/requests/`.
pub fn fixture(name: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/agora/requests",
        &format!("{name}.json"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `body` sent for another channel or recorder uid.
pub fn for_channel(mut body: Value, cname: &str, uid: &str) -> Value {
    body["cname"] = cname.into();
    body["uid"] = uid.into();
    body
}

/// `Basic base64(id:secret)`.
pub fn basic(id: &str, secret: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {encoded}")
}
