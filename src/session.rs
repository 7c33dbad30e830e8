//! Sessions: one recording of one channel for one occurrence. The
//! timeline of its calls, the runner that sees it through and writes each
//! step to the state store, [`run_occurrence`] for every channel of an
//! occurrence at once, and [`recover`] for sessions a dead process left.

mod journal;
mod recovery;
mod report;
mod runner;
mod starting;
pub mod state;
mod stops;
mod timeline;

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument as _;

pub use journal::Journal;
pub use recovery::{Recovery, recover, recoverable, stop_by_hand, take_over};
pub use report::{Outcome, Progress, SessionReport, Stage, StepReport};
pub use runner::{Session, Window};
pub use state::SessionState;
pub use stops::Stops;
pub use timeline::{CONFIRM_AFTER, PlannedCall, query_interval, timeline};

use crate::agora::ResilientClient;
use crate::clock::Clock;
use crate::plan::{Env, Occurrence};
use crate::store::{Begin, NewSession, OccurrenceKey, SessionId, Store, StoredSession};

/// What every session of a process shares.
#[derive(Clone, Debug)]
pub struct Context {
    /// Paced and retrying; one per process, so the rate limit is shared.
    pub client: ResilientClient,
    pub store: Store,
    pub clock: Clock,
    /// The environment plans are rendered with again on recovery.
    pub env: Env,
    pub progress: mpsc::UnboundedSender<Progress>,
    /// Each running session's own stop signal.
    pub stops: Stops,
}

/// What `run` reports for one occurrence.
#[derive(Clone, Debug, Serialize)]
pub struct OccurrenceReport {
    pub plan: String,
    #[serde(serialize_with = "report::millis")]
    pub start: chrono::DateTime<chrono::FixedOffset>,
    #[serde(serialize_with = "report::millis")]
    pub end: chrono::DateTime<chrono::FixedOffset>,
    pub sessions: Vec<SessionReport>,
}

impl OccurrenceReport {
    /// Whether every session did what the plan asked.
    pub fn all_completed(&self) -> bool {
        self.sessions.iter().all(SessionReport::succeeded)
    }
}

/// The runtime sessions run on, for `recplan run` and `recplan daemon`:
/// one worker per core.
///
/// Steps and queries due at one instant are woken by the timer all at
/// once, and most of them land in the runtime's shared queue. By default a
/// worker looks there only every few dozen polls and meanwhile runs the
/// calls already under way, so with 10,000 steps due together the last
/// were taken up ~300 ms late; looking on every poll takes them up first
/// (docs/BENCHMARKS.md has the figures).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .global_queue_interval(1)
        .build()
}

/// What everything a session logs is about: its plan, channel, uid and
/// id, fields of each line (`--log-format json` puts them beside the
/// line's own).
fn span(plan: &str, cname: &str, uid: &str, id: SessionId) -> tracing::Span {
    tracing::info_span!("session", plan, channel = cname, uid, session = id.0)
}

/// Runs every session of `occurrence` concurrently, one task each, and
/// waits for all. Setting `shutdown` to true stops every started
/// recording. A session the store already knows is not started twice: it
/// is resumed if its runner died, and skipped if it is over or another
/// live process drives it.
pub async fn run_occurrence(
    context: &Context,
    occurrence: &Occurrence,
    shutdown: watch::Receiver<bool>,
) -> OccurrenceReport {
    let start = context.clock.instant_at(occurrence.start.to_utc());
    let window = Window {
        start,
        end: start + occurrence.duration,
    };
    let mut tasks = JoinSet::new();
    for (index, spec) in occurrence.sessions.iter().enumerate() {
        let new = NewSession::of(occurrence, spec, &occurrence.plan_hash);
        let skipped = |reason: String| {
            let mut report = SessionReport::new(&spec.cname, &spec.uid);
            report.outcome = None;
            report.errors.push(reason);
            report
        };
        // A new session is leased before other processes can see it, so
        // their recovery never mistakes it for an orphan.
        let begun = context.store.begin_leased(&new, context.clock.now()).await;
        let (id, earlier, leased) = match begun {
            Ok((Begin::Created(id), leased)) => (id, None, leased),
            Ok((Begin::AlreadyExists(id, _), _)) => match context.store.get(id).await {
                Ok(Some(stored)) if stored.is_active() => (id, Some(stored), None),
                Ok(Some(stored)) => {
                    let reason = format!("already ran (session {id}, {})", stored.phase.as_str());
                    tasks.spawn(std::future::ready((index, skipped(reason))));
                    continue;
                }
                Ok(None) => {
                    tasks.spawn(std::future::ready((
                        index,
                        skipped(format!("session {id} vanished from the store")),
                    )));
                    continue;
                }
                Err(error) => {
                    tasks.spawn(std::future::ready((index, store_failed(spec, &error))));
                    continue;
                }
            },
            Err(error) => {
                // Without the store a started recording could be forgotten:
                // nothing is started.
                tasks.spawn(std::future::ready((index, store_failed(spec, &error))));
                continue;
            }
        };
        let lease = match leased {
            Some(lease) => Ok(Some(lease)),
            None => context.store.lease(id).await,
        };
        let lease = match lease {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                tasks.spawn(std::future::ready((
                    index,
                    skipped(format!("session {id} is driven by another process")),
                )));
                continue;
            }
            Err(error) => {
                tasks.spawn(std::future::ready((index, store_failed(spec, &error))));
                continue;
            }
        };
        if let Some(stored) = earlier {
            // Begun by a runner that died: pick it up where it stood.
            let session = recovery::resumed_session(context, &stored, lease, &shutdown);
            tasks.spawn(async move { (index, session.resume(stored).await) });
            continue;
        }
        let journal = Journal::new(context.store.clone(), id, context.clock);
        let client = context.client.with_app_id(&spec.app_id);
        let session = Session::new(
            client,
            journal,
            lease,
            Arc::clone(spec),
            window,
            SessionState::new(&spec.uid),
            context.stops.register(id, &shutdown),
            context.progress.clone(),
        );
        let span = span(&occurrence.plan, &spec.cname, &spec.uid, id);
        tasks.spawn(async move { (index, session.run().await) }.instrument(span));
    }
    let mut reports: Vec<(usize, SessionReport)> = Vec::with_capacity(occurrence.sessions.len());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(report) => reports.push(report),
            Err(error) => tracing::error!(%error, "a session task ended abnormally"),
        }
    }
    reports.sort_by_key(|(index, _)| *index);
    OccurrenceReport {
        plan: occurrence.plan.clone(),
        start: occurrence.start,
        end: occurrence.end(),
        sessions: reports.into_iter().map(|(_, report)| report).collect(),
    }
}

/// How long after an occurrence's end [`until_driven_elsewhere_end`] waits
/// for its other drivers: a stop takes seconds, and one still unanswered
/// a minute later is recovery's business, not the occurrence's.
const OTHERS_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Waits until the sessions of `report` that another driver runs (this
/// process's recovery after a restart, or a peer on the same store) are
/// over, `shutdown` turns true, or [`OTHERS_GRACE`] after the end has
/// passed: an occurrence resumed after a crash is not finished while it
/// still records. The store is read from the occurrence's end on, every
/// second.
pub async fn until_driven_elsewhere_end(
    context: &Context,
    report: &OccurrenceReport,
    mut shutdown: watch::Receiver<bool>,
) {
    let elsewhere: Vec<OccurrenceKey> = report
        .sessions
        .iter()
        .filter(|session| session.outcome.is_none())
        .map(|session| OccurrenceKey {
            plan: report.plan.clone(),
            cname: session.cname.clone(),
            uid: session.uid.clone(),
            scheduled_start: report.start.to_utc(),
        })
        .collect();
    if elsewhere.is_empty() {
        return;
    }
    let end = context.clock.instant_at(report.end.to_utc());
    let mut look_at = end;
    while look_at <= end + OTHERS_GRACE {
        tokio::select! {
            () = tokio::time::sleep_until(look_at) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        // Each by its key, as the store matches it (to the millisecond).
        let stored = async {
            let mut stored = Vec::with_capacity(elsewhere.len());
            for key in &elsewhere {
                stored.push(context.store.find(key).await?);
            }
            Ok::<_, crate::store::StoreError>(stored)
        };
        match stored.await {
            Ok(stored) => {
                if !stored.iter().flatten().any(StoredSession::is_active) {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(plan = %report.plan, %error, "cannot tell whether the occurrence's other sessions are over");
            }
        }
        look_at = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    }
}

fn store_failed(
    spec: &crate::plan::SessionSpec,
    error: &crate::store::StoreError,
) -> SessionReport {
    let mut report = SessionReport::new(&spec.cname, &spec.uid);
    report.errors.push(format!("state store: {error}"));
    report
}
