//! `recplan daemon`: every plan on its schedule, unattended.
//!
//! [`serve`] runs the daemon's workers as named tasks in one `JoinSet`:
//! the [scheduler](Scheduler) (plans, their timers, the occurrences), the
//! observer (events and progress into the log, the status and systemd),
//! the listener (`/healthz`, `/readyz`, `/metrics`, `/sessions`), the
//! watchdog and the watcher (plan files changed). What the end of each
//! means is decided in one place, [`decide`]; the scheduler's end is the
//! daemon's.

pub mod api;
pub mod calendars;
mod error;
pub mod http;
mod log;
pub mod notify;
mod plans;
mod request;
mod scheduler;
pub mod status;
pub mod takeover;
mod workers;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use error::Error;
pub use request::{Launched, PlanState, Request};
pub use scheduler::Scheduler;

use crate::plan::Diagnostic;
use crate::session::{Context, OccurrenceReport};
use notify::Notifier;
use status::Status;

/// The reason stored with an occurrence nobody ran in time (its outcome
/// is missed).
pub const MISSED_REASON: &str =
    "missed: recplan was running but could not start it within the plan's starting_deadline";

/// What the daemon is told from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Re-read the plans: list every path again (SIGHUP).
    Reload,
    /// These files changed (the watcher saw them): look at them only.
    Changed(Vec<PathBuf>),
    /// Stop every started recording and exit (SIGTERM, SIGINT).
    Shutdown,
    /// Exit, leaving recordings running for the next start to resume.
    Detach,
}

/// What happened, for logs, metrics and tests.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A new or changed plan is in force.
    Loaded {
        plan: String,
        path: PathBuf,
        next: Option<DateTime<Utc>>,
        /// When this version was loaded.
        at: DateTime<Utc>,
    },
    /// A plan's next start, after one began.
    Scheduled {
        plan: String,
        next: Option<DateTime<Utc>>,
    },
    /// A file that does not load. `kept` names the plan whose last valid
    /// version stays in force, if the file had one.
    Invalid {
        path: PathBuf,
        kept: Option<String>,
        diagnostics: Vec<Diagnostic>,
    },
    /// What validation warned about in a plan that loaded (a schedule that
    /// overlaps itself, a calendar kept from an earlier fetch), on every
    /// load: empty when nothing, so that a warning resolved is seen too.
    Warned {
        plan: String,
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
    /// A valid plan refused because the file `kept` holds its name.
    Refused {
        plan: String,
        path: PathBuf,
        kept: PathBuf,
    },
    /// A file gone, or a plan taken out of force (`plan`).
    Removed {
        plan: Option<String>,
        path: PathBuf,
    },
    /// What a reload did: how many files were loaded (new or changed),
    /// invalid, removed, unchanged.
    Reloaded {
        loaded: usize,
        invalid: usize,
        removed: usize,
        unchanged: usize,
    },
    /// The plans are loaded and the schedule runs.
    Ready {
        plans: usize,
    },
    /// The state store cannot be read: nothing new is launched until it can.
    StoreUnavailable {
        error: String,
    },
    StoreRecovered,
    /// Shutdown has begun.
    Stopping,
    Started {
        plan: String,
        start: DateTime<Utc>,
        late: bool,
    },
    Skipped {
        plan: String,
        start: DateTime<Utc>,
        reason: String,
    },
    /// An occurrence recplan was running for, and did not start in time.
    Missed {
        plan: String,
        start: DateTime<Utc>,
    },
    Finished {
        plan: String,
        start: DateTime<Utc>,
        completed: bool,
        /// What each session did. The daemon keeps none of it: over months
        /// it would grow without end.
        #[serde(skip)]
        report: Arc<OccurrenceReport>,
    },
}

/// How many occurrences a daemon ran, and how many of them had a session
/// that did not complete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub occurrences: usize,
    pub failed: usize,
}

/// How the daemon runs.
#[derive(Clone, Debug)]
pub struct Config {
    pub paths: Vec<PathBuf>,
    /// How long shutdown waits for stop calls to be answered.
    pub stop_grace: Duration,
    /// Start (and be ready) with no valid plan: for a directory that will
    /// be filled later.
    pub allow_empty: bool,
    /// How long the state store may be unavailable before the daemon stops.
    pub store_grace: Duration,
    /// Receives every event after the status has seen it.
    pub events: Option<mpsc::UnboundedSender<Event>>,
    /// Receives the sessions' progress after the status has seen it.
    pub progress: Option<mpsc::UnboundedSender<crate::session::Progress>>,
}

impl Config {
    /// The defaults `recplan daemon` has, for `paths`.
    pub fn new(paths: Vec<PathBuf>) -> Config {
        Config {
            paths,
            stop_grace: Duration::from_secs(60),
            allow_empty: false,
            store_grace: Duration::from_secs(60),
            events: None,
            progress: None,
        }
    }
}

/// Where the daemon serves its status, and routes of other services
/// (Agora's notifications) to serve beside it.
pub struct Listener {
    pub socket: tokio::net::TcpListener,
    pub routes: axum::Router,
    /// What the control API among `routes` asks the scheduler.
    pub requests: Option<mpsc::UnboundedReceiver<Request>>,
}

/// The daemon's workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worker {
    Scheduler,
    Observer,
    Listener,
    Watchdog,
    Watcher,
    Calendars,
}

/// How a worker ended: the scheduler with the daemon's summary, the
/// others with nothing.
type Ended = Result<Option<Summary>, Error>;

/// What the daemon does when a worker ends.
#[derive(Debug)]
pub enum Decision {
    CarryOn,
    /// The daemon ends: stop the scheduler if it still runs.
    Finish(Result<Summary, Error>),
}

/// Decides what a worker's end means. The scheduler's end is the daemon's;
/// a listener that fails leaves health unknown, so the daemon ends (and
/// its service manager restarts it); a worker that panicked ends it too.
/// The watcher, the watchdog and the observer may end: the watcher's
/// failure is logged where it happens, and SIGHUP still reloads.
pub fn decide(worker: Worker, ended: Result<Ended, String>) -> Decision {
    match (worker, ended) {
        (_, Err(panic)) => Decision::Finish(Err(Error::Worker {
            worker: format!("{worker:?}").to_lowercase(),
            why: panic,
        })),
        (Worker::Scheduler, Ok(Ok(summary))) => Decision::Finish(Ok(summary.unwrap_or_default())),
        (Worker::Scheduler | Worker::Listener, Ok(Err(error))) => Decision::Finish(Err(error)),
        (Worker::Listener, Ok(Ok(_)))
        | (Worker::Observer | Worker::Watchdog | Worker::Watcher | Worker::Calendars, Ok(_)) => {
            Decision::CarryOn
        }
    }
}

/// Runs the daemon until `control` says shutdown or detach, or a critical
/// error. Startup fails before anything runs if a path cannot be read or
/// there is no valid plan (see [`Config::allow_empty`]).
pub async fn serve(
    config: Config,
    context: Context,
    listener: Option<Listener>,
    control: mpsc::UnboundedReceiver<Control>,
) -> Result<Summary, Error> {
    let (progress, progress_rx) = mpsc::unbounded_channel();
    let context = Context {
        progress,
        ..context
    };
    let env = context.env.clone();
    let lookup = |name: &str| env.get(name).map(str::to_owned);
    let notifier = Notifier::from_env(lookup);
    let watchdog = Notifier::watchdog_interval(lookup);
    let status = Arc::new(Status::default());
    let (events, events_rx) = mpsc::unbounded_channel();
    let taps = workers::Taps {
        events: config.events.clone(),
        progress: config.progress.clone(),
    };
    let paths = config.paths.clone();
    let client = context.client.clone();
    let mut listener = listener;
    let requests = listener.as_mut().and_then(|l| l.requests.take());
    // Watching before loading: a change made once the plans are loaded is
    // never missed.
    let watcher = workers::watch(&paths);
    let scheduler = Scheduler::start(config, context, events)
        .await?
        .with_requests(requests);
    let (internal, internal_rx) = mpsc::unbounded_channel();
    let (stopped, stopping) = tokio::sync::watch::channel(false);

    let mut workers = JoinSet::new();
    let mut names = HashMap::new();
    let mut spawn = |worker: Worker, task| {
        names.insert(workers.spawn(task).id(), worker);
    };
    spawn(
        Worker::Scheduler,
        Box::pin(async move { scheduler.run(control, internal_rx).await.map(Some) })
            as workers::Task,
    );
    spawn(
        Worker::Observer,
        Box::pin(workers::observe(
            events_rx,
            progress_rx,
            Arc::clone(&status),
            notifier,
            taps,
        )),
    );
    if let Some(listener) = listener {
        let routes = http::router(Arc::clone(&status), client).merge(listener.routes);
        spawn(
            Worker::Listener,
            Box::pin(workers::listen(listener.socket, routes, stopping.clone())),
        );
    }
    if let Some(interval) = watchdog {
        spawn(
            Worker::Watchdog,
            Box::pin(workers::feed_watchdog(Notifier::from_env(lookup), interval)),
        );
    }
    if let Some((watcher, changes)) = watcher {
        spawn(
            Worker::Watcher,
            Box::pin(workers::forward_changes(watcher, changes, internal.clone())),
        );
    }
    spawn(
        Worker::Calendars,
        Box::pin(calendars::refresh(internal.clone())),
    );

    let mut outcome = None;
    while let Some(joined) = workers.join_next_with_id().await {
        let (id, ended) = match joined {
            Ok((id, ended)) => (id, Ok(ended)),
            Err(error) => (error.id(), Err(error.to_string())),
        };
        let Some(worker) = names.get(&id).copied() else {
            continue;
        };
        match decide(worker, ended) {
            Decision::CarryOn => {}
            Decision::Finish(result) if worker == Worker::Scheduler => {
                // A worker's failure that made the scheduler stop is the
                // reason the daemon ends.
                outcome.get_or_insert(result);
                break;
            }
            Decision::Finish(result) => {
                // The scheduler stops what it started before the daemon ends.
                tracing::error!(?worker, "a worker failed: shutting down");
                let _ = internal.send(Control::Shutdown);
                outcome.get_or_insert(result);
            }
        }
    }
    let _ = stopped.send(true);
    // The observer takes what is left of the events, then ends.
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(joined) = workers.join_next_with_id().await {
            let id = joined
                .as_ref()
                .map_or_else(tokio::task::JoinError::id, |(id, _)| *id);
            if names.get(&id) == Some(&Worker::Observer) {
                return;
            }
        }
    });
    let _ = drained.await;
    workers.shutdown().await;
    outcome.unwrap_or(Ok(Summary::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduler_ending_ends_the_daemon() {
        let summary = Summary {
            occurrences: 3,
            failed: 1,
        };
        assert!(matches!(
            decide(Worker::Scheduler, Ok(Ok(Some(summary)))),
            Decision::Finish(Ok(s)) if s == summary
        ));
    }

    #[test]
    fn a_failed_listener_is_critical() {
        let error = Error::Listener(std::io::Error::other("gone"));
        assert!(matches!(
            decide(Worker::Listener, Ok(Err(error))),
            Decision::Finish(Err(Error::Listener(_)))
        ));
    }

    #[test]
    fn a_panic_anywhere_is_critical() {
        assert!(matches!(
            decide(Worker::Watchdog, Err("panicked".into())),
            Decision::Finish(Err(Error::Worker { .. }))
        ));
    }

    #[test]
    fn helpers_may_end() {
        for worker in [Worker::Observer, Worker::Watchdog, Worker::Watcher] {
            assert!(matches!(decide(worker, Ok(Ok(None))), Decision::CarryOn));
        }
    }
}
