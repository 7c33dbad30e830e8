//! Agora's notification callbacks over real HTTP: the endpoint is served on
//! loopback exactly as the daemon nests it, and notices shaped like
//! AGORA-API.md §14's are posted to it, signed as NCS signs them.

mod accept;
mod record;

use axum::Router;
use recplan::agora::Secret;
use recplan::clock::Clock;
use recplan::ncs::{self, NcsState, signature};
use recplan::store::{DB_FILE, SessionId, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::store::{at, new_session, run, script};

/// Planted so that a leak anywhere is found by a plain search.
pub const SECRET: &str = "ncs-secret-7d1f0c9e-planted";

/// The sid and uid of the recording of the session every test begins.
pub const SID: &str = "sid-room";
pub const UID: &str = "527841";

/// The endpoint on loopback, over a store in a temporary directory with one
/// session recording under [`SID`].
pub struct Ncs {
    url: String,
    pub store: Store,
    pub session: SessionId,
    dir: TempDir,
    client: reqwest::Client,
    server: JoinHandle<()>,
}

impl Ncs {
    pub async fn start() -> Ncs {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let new = new_session("standup", "room", 0);
        let session = run(&store, &new, &script(&new)[..4]).await.id;
        let state = NcsState::new(store.clone(), Secret::new(SECRET), Clock::anchored(at(60)))
            .expect("a secret is set");
        let app = Router::new().nest(ncs::PATH, ncs::router(state));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{}", listener.local_addr().unwrap(), ncs::PATH);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the server runs");
        });
        Ncs {
            url,
            store,
            session,
            dir,
            client: reqwest::Client::new(),
            server,
        }
    }

    /// Posts `body` with `signature` (none: no header) and returns the
    /// status and the answer's text.
    pub async fn post(
        &self,
        body: impl Into<Vec<u8>>,
        signature: Option<&str>,
    ) -> (StatusCode, String) {
        let mut request = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .body(body.into());
        if let Some(signature) = signature {
            request = request.header("Agora-Signature-V2", signature);
        }
        let response = request.send().await.expect("the endpoint answers");
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    /// Posts `notice` signed with the right secret.
    pub async fn send(&self, notice: &Value) -> (StatusCode, String) {
        let body = notice.to_string();
        let signature = signature::sign(&Secret::new(SECRET), body.as_bytes());
        self.post(body, Some(&signature)).await
    }

    /// The kinds of the session's history events, in order.
    pub async fn kinds(&self) -> Vec<String> {
        let events = self.store.events(self.session).await.unwrap();
        events.into_iter().map(|event| event.kind).collect()
    }

    /// The last event's detail.
    pub async fn last_detail(&self) -> Value {
        let events = self.store.events(self.session).await.unwrap();
        events.last().expect("an event").detail.clone()
    }

    /// Rows in the `notices` table.
    pub fn notices(&self) -> i64 {
        let conn = rusqlite::Connection::open(self.dir.path().join(DB_FILE)).unwrap();
        conn.query_row("SELECT count(*) FROM notices", [], |row| row.get(0))
            .unwrap()
    }
}

impl Drop for Ncs {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A notice as NCS posts it: `payload.details` is the event's own part.
pub fn notice(id: &str, event_type: u32, sequence: u64, details: &Value) -> Value {
    let service_type = match event_type {
        30..=33 => 2,
        40..=45 => 1,
        _ => 0,
    };
    json!({
        "noticeId": id,
        "productId": 3,
        "eventType": event_type,
        "notifyMs": 1_795_770_000_512_i64,
        "payload": {
            "cname": "room",
            "uid": UID,
            "sid": SID,
            "sequence": sequence,
            "sendts": 1_795_770_000_498_i64,
            "serviceType": service_type,
            "details": details,
        },
    })
}

/// Details of an `uploaded` (31) or `backuped` (32) notice listing `files`.
pub fn upload_details(name: &str, files: &[&str]) -> Value {
    let list: Vec<Value> = files
        .iter()
        .map(|file| {
            json!({
                "fileName": file,
                "trackType": "audio_and_video",
                "uid": "0",
                "mixedAllUser": true,
                "isPlayable": true,
                "sliceStartTime": 1_795_768_200_000_i64,
            })
        })
        .collect();
    json!({"msgName": name, "status": 0, "fileList": list})
}

pub fn leave(id: &str, sequence: u64) -> Value {
    notice(
        id,
        41,
        sequence,
        &json!({"msgName": "recorder_leave", "leaveCode": 16}),
    )
}

pub const RECORDED: &str = r#"{"result":"recorded"}"#;
pub const DUPLICATE: &str = r#"{"result":"duplicate"}"#;
pub const REFUSED: &str = r#"{"error":"bad signature"}"#;
