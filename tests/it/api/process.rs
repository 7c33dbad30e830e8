//! The real daemon with its listener, against a simulator, for the
//! control API and console tests: secrets planted in its environment and
//! plans, killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use recplan::sim;
use reqwest::StatusCode;
use serde_json::Value;

use crate::secrets::{ACCESS_KEY, CUSTOMER_SECRET, RTC_TOKEN, SECRET_KEY};

pub const TOKEN: &str = "api-token-for-the-tests-4c1e";

/// A simulator that knows the planted customer secret.
pub async fn simulator() -> sim::SimHandle {
    sim::Simulator::start(sim::SimConfig {
        customer_secret: recplan::agora::Secret::new(CUSTOMER_SECRET),
        ..sim::SimConfig::default()
    })
    .await
    .unwrap()
}

/// A plan recorded on demand only: two channels, ten minutes, a step at
/// five. Its storage secret is in the plan itself; the others come from
/// the environment.
pub fn plan(name: &str, cname: &str) -> String {
    format!(
        r#"
name: {name}
mode: composite
schedule: {{duration: 10m}}
channels:
  - {{cname: "{cname}", uid: "31337"}}
  - {{cname: "{cname}-2", uid: "31338"}}
start:
  token: "{{{{env.RTC_TOKEN}}}}"
  storageConfig:
    vendor: 1
    region: 0
    bucket: b
    accessKey: "{{{{env.S3_ACCESS_KEY}}}}"
    secretKey: "{SECRET_KEY}"
  recordingConfig: {{channelType: 0, maxIdleTime: 300}}
steps:
  - at: 5m
    updateLayout: {{mixedVideoLayout: 1}}
"#
    )
}

/// A running `recplan daemon PLANS --listen ...`.
pub struct Daemon {
    child: Option<Child>,
    pub base: String,
    client: reqwest::Client,
    log: PathBuf,
    /// Every answer's body, to search for secrets.
    pub transcript: std::sync::Mutex<String>,
}

impl Daemon {
    /// Starts the daemon on `plans` with its state in `state`, talking to
    /// the simulator at `sim_uri`, with the API `token` if any; returns
    /// once it is ready.
    pub async fn start(plans: &Path, state: &Path, sim_uri: &str, token: Option<&str>) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = state.with_extension(format!("{port}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_recplan"));
        command
            .args(["daemon", plans.to_str().unwrap(), "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .env("RECPLAN_LOG", "debug")
            .env("RECPLAN_STATE_DIR", state)
            .env_remove("RECPLAN_STATE")
            .env("AGORA_API_BASE", sim_uri)
            .env("AGORA_APP_ID", sim::DEMO_APP_ID)
            .env("AGORA_CUSTOMER_ID", sim::DEMO_CUSTOMER_ID)
            .env("AGORA_CUSTOMER_SECRET", CUSTOMER_SECRET)
            .env("S3_ACCESS_KEY", ACCESS_KEY)
            .env("RTC_TOKEN", RTC_TOKEN)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap());
        match token {
            Some(token) => command.env("RECPLAN_API_TOKEN", token),
            None => command.env_remove("RECPLAN_API_TOKEN"),
        };
        let child = command.spawn().expect("the binary runs");
        let daemon = Daemon {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            log,
            transcript: std::sync::Mutex::default(),
        };
        eventually("the daemon is ready", || async {
            let ready = daemon
                .client
                .get(format!("{}/readyz", daemon.base))
                .send()
                .await;
            ready.is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .await;
        daemon
    }

    /// `method path` with `authorization` (none: no header); the status
    /// and the body as JSON (null if it is not).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        authorization: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        self.transcript.lock().unwrap().push_str(&text);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A GET with the right token.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, Some(&format!("Bearer {TOKEN}")))
            .await
    }

    /// A POST with the right token.
    pub async fn post(&self, path: &str) -> (StatusCode, Value) {
        self.call(
            reqwest::Method::POST,
            path,
            Some(&format!("Bearer {TOKEN}")),
        )
        .await
    }

    /// SIGTERM, then the exit code and everything the daemon wrote.
    pub fn stop(mut self) -> (Option<i32>, String) {
        let mut child = self.child.take().unwrap();
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let code = child.wait().unwrap().code();
        let output = std::fs::read_to_string(&self.log).unwrap_or_default()
            + &std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default();
        (code, output)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits (up to 30 s of real time: another process is working) until
/// `check` holds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
