//! A simulator of Agora's Cloud Recording REST API: a real HTTP server on
//! loopback that answers acquire, start, query, update, updateLayout and stop
//! the way Agora's reference (`AGORA-API.md`) says the service does, with the
//! same status codes and error bodies, and with faults that tests inject.
//!
//! Everything it checks comes from the reference, not from recplan's client:
//! bodies are parsed with the typed requests of [`crate::agora::request`]
//! (which reject unknown fields) and then checked per mode; responses are
//! built here as plain JSON.
//!
//! Time is tokio's: every deadline is a [`tokio::time::Instant`], so tests run
//! a whole recording under `#[tokio::test(start_paused = true)]` with
//! `tokio::time::advance`. A recording moves through these phases
//! (defaults of [`Timings`], measured from its start response):
//!
//! | elapsed | query `status` | files listed by query |
//! |---|---|---|
//! | 0 – 0.5 s, 0.5 – 1 s, 1 – 1.5 s, 1.5 – 2 s | 0, 1, 2, 3 | none |
//! | 2 s – 15 s | 4 (all components ready) | none |
//! | 15 s on (first slice uploaded) | 5 | all |
//!
//! A stopped task is gone at once for query, update and updateLayout (404
//! "failed to find worker"); stop answers 400 code 49 for 10 s more (its
//! exiting window), then 404 as well. A task that ends by itself (`maxIdleTime`
//! with nobody in the channel, web `maxRecordingHour`, or a death fault) still
//! answers query during its exiting window, with status 8 (or 20 for a death).
//! A sid stops answering `resourceExpiredHour` after its start.
//!
//! Requests pass the gateway's checks first, in the gateway's order: route
//! (404), credentials (401), Content-Type on POST (401), rate limit (429);
//! then the service's: App ID, body, resource, task.
//!
//! Where the reference is silent the simulator decides, and says so here:
//! an unknown resource ID on start is 400 code 1001 ("resourceId cannot be
//! parsed"); 432 and 433 are sent with HTTP 400; a call on a task in another
//! mode than its start's is 400 code 2; unknown top-level body fields are
//! refused like unknown clientRequest fields; every error body is
//! `{"code","reason"}` except the gateway's `{"message"}` and the worker
//! lookup's 404; stop reports every file at once, as if uploading took no
//! time, and lists them without the storage `fileNamePrefix`.

mod endpoints;
mod faults;
mod files;
mod gate;
mod reply;
mod routes;
mod state;
pub(crate) mod validate;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::agora::{ApiBase, ClientConfig, ConfigError, Credentials, Secret};

pub use faults::{Endpoint, Fault};

/// The App ID the simulator accepts by default (Agora's docs use this
/// placeholder shape: 32 hex digits).
pub const DEMO_APP_ID: &str = "0123456789abcdef0123456789abcdef";
/// The Customer ID of the simulator's default credentials.
pub const DEMO_CUSTOMER_ID: &str = "demo-customer";
/// The Customer Secret of the simulator's default credentials.
pub const DEMO_CUSTOMER_SECRET: &str = "demo-secret";

/// How a client calls the simulator at `uri` (see [`SimHandle::uri`]) with
/// its default credentials, for recordings under `app_id`.
pub fn client_config(uri: &str, app_id: &str) -> Result<ClientConfig, ConfigError> {
    Ok(ClientConfig {
        base: ApiBase::parse(uri)?,
        app_id: app_id.to_owned(),
        credentials: Credentials::new(DEMO_CUSTOMER_ID, Secret::new(DEMO_CUSTOMER_SECRET)),
        timeout: ClientConfig::DEFAULT_TIMEOUT,
    })
}

/// Agora's default limit on concurrent tasks per App ID.
const DEFAULT_MAX_CONCURRENT_TASKS: NonZeroUsize = NonZeroUsize::new(50).unwrap();

/// How the simulator behaves: who may call it, how fast it lets them, and how
/// fast recordings progress.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Where [`Simulator::start`] listens; port 0 picks a free one.
    pub listen: SocketAddr,
    /// App IDs with cloud recording enabled; others get `invalid_appid`.
    pub app_ids: Vec<String>,
    /// HTTP basic auth user.
    pub customer_id: String,
    /// HTTP basic auth password.
    pub customer_secret: Secret,
    /// Requests per second per App ID (Agora's default quota is 10); `None`
    /// turns the limit off.
    pub rate_limit: Option<NonZeroU32>,
    /// Running tasks per App ID before acquire answers 406
    /// `vendor_over_load` (Agora's default is 50).
    pub max_concurrent_tasks: NonZeroUsize,
    /// The uids publishing in every channel: individual recordings list one
    /// file per uid and track.
    pub channel_uids: Vec<String>,
    /// How fast recordings progress.
    pub timings: Timings,
    /// The wall time at which the simulator starts, for `sliceStartTime`
    /// values; `None` takes the system clock once at start.
    pub wall_clock_start: Option<DateTime<Utc>>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            app_ids: vec![DEMO_APP_ID.to_owned()],
            customer_id: DEMO_CUSTOMER_ID.to_owned(),
            customer_secret: Secret::new(DEMO_CUSTOMER_SECRET),
            rate_limit: NonZeroU32::new(10),
            max_concurrent_tasks: DEFAULT_MAX_CONCURRENT_TASKS,
            channel_uids: vec!["1001".to_owned(), "1002".to_owned()],
            timings: Timings::default(),
            wall_clock_start: None,
        }
    }
}

/// The durations that drive a simulated recording. See the module docs for
/// how they map to query statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timings {
    /// Time per status step from 0 to 4: status 4 is reached after four steps.
    pub status_step: Duration,
    /// When the first slice is uploaded: status 5 and file names appear.
    pub first_slice: Duration,
    /// How long an ended task keeps answering stop with code 49 (and query,
    /// if it ended by itself) before it is gone.
    pub exiting: Duration,
    /// How long an acquired resource stays usable for start.
    pub resource_ttl: Duration,
    /// Length of each composite or web MP4 file before the next one starts.
    pub mp4_roll: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            status_step: Duration::from_millis(500),
            first_slice: Duration::from_secs(15),
            exiting: Duration::from_secs(10),
            resource_ttl: Duration::from_secs(5 * 60),
            mp4_roll: Duration::from_secs(2 * 60 * 60),
        }
    }
}

impl Timings {
    /// The same timings, `factor` times faster: for demos in real time.
    #[must_use]
    pub fn faster(self, factor: NonZeroU32) -> Timings {
        let f = factor.get();
        Timings {
            status_step: self.status_step / f,
            first_slice: self.first_slice / f,
            exiting: self.exiting / f,
            resource_ttl: self.resource_ttl / f,
            mp4_roll: self.mp4_roll / f,
        }
    }
}

/// One request the simulator received, as it arrived.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: Method,
    /// The URL path, without the query string.
    pub path: String,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body, if it was JSON. Secrets are kept as sent: this is for tests
    /// asserting traffic, never for logs (mask with
    /// [`crate::agora::mask_secrets`] before showing it).
    pub body: Option<serde_json::Value>,
    /// Whether the request carried the configured basic credentials.
    pub auth_valid: bool,
    /// The status answered; `None` while in flight or if the client left.
    pub status: Option<StatusCode>,
    /// When it arrived, on tokio's clock.
    pub at: Instant,
}

/// A recording as the simulator saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimRecording {
    pub sid: String,
    pub cname: String,
    pub uid: String,
    pub started_at: Instant,
    /// When it ended: by a stop, or by itself (death, idle), whichever
    /// came first; `None` while it runs.
    pub ended_at: Option<Instant>,
    /// When a stop request ended it, if one did.
    pub stopped_at: Option<Instant>,
}

/// Why the simulator could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The address is taken or not ours.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read the simulator's listening address: {0}")]
    LocalAddr(std::io::Error),
    #[error("the simulator's server failed: {0}")]
    Serve(std::io::Error),
    /// The background task of [`Simulator::start`] panicked or was cancelled.
    #[error("the simulator's server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// What the request handlers share: the configuration, the clock origin and
/// the mutable state behind one lock (never held across an await).
struct Shared {
    config: SimConfig,
    epoch: Instant,
    wall_epoch_ms: i64,
    state: Mutex<state::State>,
    /// Told when a [`Fault::Unreachable`] window begins, so that the
    /// listener closes at once rather than at its next connection.
    unreachable: tokio::sync::Notify,
}

impl Shared {
    fn new(config: SimConfig) -> Shared {
        let wall = config.wall_clock_start.unwrap_or_else(Utc::now);
        Shared {
            epoch: Instant::now(),
            wall_epoch_ms: wall.timestamp_millis(),
            state: Mutex::new(state::State::default()),
            unreachable: tokio::sync::Notify::new(),
            config,
        }
    }

    /// The state; a panic elsewhere while holding the lock must not take the
    /// whole simulator down, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, state::State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Unix milliseconds at `at`, derived from tokio's clock so that paused
    /// time moves it too.
    fn wall_ms(&self, at: Instant) -> i64 {
        let since = at.saturating_duration_since(self.epoch).as_millis();
        self.wall_epoch_ms
            .saturating_add(i64::try_from(since).unwrap_or(i64::MAX))
    }
}

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Binds `config.listen` and serves in a background task until the handle
    /// is shut down or dropped.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        let addr = config.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(SimError::LocalAddr)?;
        let shared = Arc::new(Shared::new(config));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(run(listener, Arc::clone(&shared), async move {
            // A dropped sender means the handle is gone: stop as well.
            let _ = stop_rx.await;
        }));
        tracing::info!(%addr, "cloud recording simulator listening");
        Ok(SimHandle {
            addr,
            shared,
            stop: Some(stop_tx),
            server: Some(server),
        })
    }
}

/// Serves the simulator on `listener` until `shutdown` completes, then
/// finishes the requests in flight: what `recplan sim` runs in the foreground.
pub async fn serve(
    listener: TcpListener,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    run(listener, Arc::new(Shared::new(config)), shutdown).await
}

async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    let listener = gate::Gate::new(listener, Arc::clone(&shared)).map_err(SimError::LocalAddr)?;
    axum::serve(listener, routes::router(shared))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(SimError::Serve)
}

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), SimError>>>,
}

impl SimHandle {
    /// The base URI to give a client, e.g. `http://127.0.0.1:40123`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order, rejected ones too.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().log.clone()
    }

    /// Queues `fault` for the next request it applies to (see [`Fault`]);
    /// a [`Fault::Failover`] window starts now.
    pub fn inject(&self, fault: Fault) {
        let now = Instant::now();
        self.shared.lock().faults.push(fault, now);
        if matches!(fault, Fault::Unreachable { .. }) {
            self.shared.unreachable.notify_one();
        }
    }

    /// Queues `fault` for the next `times` requests it applies to.
    pub fn inject_times(&self, fault: Fault, times: usize) {
        let now = Instant::now();
        let mut state = self.shared.lock();
        for _ in 0..times {
            state.faults.push(fault, now);
        }
        if matches!(fault, Fault::Unreachable { .. }) {
            self.shared.unreachable.notify_one();
        }
    }

    /// The queued faults that no request has consumed yet.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.lock().faults.pending()
    }

    /// Every recording started so far, in no particular order: what a test
    /// checks its invariants against.
    pub fn recordings(&self) -> Vec<SimRecording> {
        self.shared
            .lock()
            .tasks
            .values()
            .map(|task| SimRecording {
                sid: task.sid.clone(),
                cname: task.cname.clone(),
                uid: task.uid.clone(),
                started_at: task.started_at,
                ended_at: task.end().map(|(at, _)| at),
                stopped_at: task.stopped_at,
            })
            .collect()
    }

    /// Makes the running recording `sid` die now, as if its worker crashed
    /// for good: query shows status 20 during the exiting window, then 404.
    /// Returns false if no such recording is running.
    pub fn kill(&self, sid: &str) -> bool {
        let now = Instant::now();
        self.shared
            .lock()
            .kill(sid, now, self.shared.config.timings.exiting)
    }

    /// Stops accepting requests and waits for those in flight to finish.
    pub async fn shutdown(mut self) -> Result<(), SimError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.take() {
            Some(server) => server.await?,
            None => Ok(()),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        // The server task sees the signal and stops accepting; it needs no
        // awaiting, so a drop outside a runtime is fine too.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
