//! Requests from the control API, answered by the daemon's loop, which
//! owns the plans: the plans as it holds them, an occurrence now, a plan
//! paused or resumed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, SubsecRound as _, Utc};
use tokio::sync::{mpsc, oneshot};

use super::{Daemon, Event};
use crate::plan::{Occurrence, Plan};

/// What the control API asks the daemon.
#[derive(Debug)]
pub enum Request {
    /// Every plan in force.
    Plans(oneshot::Sender<Vec<PlanState>>),
    /// One occurrence of the plan now, as `run --now`; `None` for a plan
    /// the daemon does not have.
    Run {
        plan: String,
        reply: oneshot::Sender<Option<Launched>>,
    },
    /// Pauses or resumes the plan's schedule, in the store too; `Ok(false)`
    /// for a plan the daemon does not have.
    Pause {
        plan: String,
        paused: bool,
        reply: oneshot::Sender<Result<bool, String>>,
    },
}

/// A plan as the daemon holds it.
#[derive(Clone, Debug)]
pub struct PlanState {
    pub plan: Arc<Plan>,
    pub path: PathBuf,
    pub next: Option<DateTime<Utc>>,
    /// Paused through the control API (a plan's own `paused` is in `plan`).
    pub paused: bool,
}

/// What came of launching an occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Launched {
    Started {
        start: DateTime<FixedOffset>,
        end: DateTime<FixedOffset>,
        /// Each session's cname and uid.
        channels: Vec<(String, String)>,
    },
    /// Not started, and why: the plan's `overlap`, or a render error.
    Skipped(String),
}

impl Launched {
    pub(super) fn started(occurrence: &Occurrence) -> Launched {
        Launched::Started {
            start: occurrence.start,
            end: occurrence.end(),
            channels: occurrence
                .sessions
                .iter()
                .map(|spec| (spec.cname.clone(), spec.uid.clone()))
                .collect(),
        }
    }
}

/// The next request, or never without a receiver.
pub(super) async fn next(
    requests: &mut Option<mpsc::UnboundedReceiver<Request>>,
) -> Option<Request> {
    match requests {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

impl Daemon {
    pub(super) fn answer(&mut self, request: Request) {
        match request {
            Request::Plans(reply) => {
                let states = self
                    .plans
                    .iter()
                    .map(|(path, plan, next)| PlanState {
                        paused: self.paused.contains(plan.name()),
                        plan: Arc::clone(plan),
                        path: path.to_owned(),
                        next,
                    })
                    .collect();
                let _ = reply.send(states);
            }
            Request::Run { plan, reply } => {
                let launched = self.plans.find(&plan).map(|path| {
                    let resumed = self.resumed_starts();
                    // Whole milliseconds, as the store keeps instants.
                    let now = self.context.clock.now().trunc_subsecs(3);
                    self.launch(&path, now, false, &resumed)
                });
                let _ = reply.send(launched);
            }
            Request::Pause {
                plan,
                paused,
                reply,
            } => {
                if self.plans.find(&plan).is_none() {
                    let _ = reply.send(Ok(false));
                    return;
                }
                let now = self.context.clock.now();
                let stored = self
                    .context
                    .store
                    .set_paused(&plan, paused, now)
                    .map_err(|error| error.to_string());
                if stored.is_ok() {
                    if paused {
                        self.paused.insert(plan);
                    } else {
                        self.paused.remove(&plan);
                    }
                }
                let _ = reply.send(stored.map(|()| true));
            }
        }
    }

    /// Reads the plans paused through the control API from the store.
    pub(super) fn load_paused(&mut self) {
        match self.context.store.paused_plans() {
            Ok(paused) => self.paused = paused.into_iter().collect(),
            Err(error) => tracing::error!(%error, "cannot read the paused plans"),
        }
    }

    pub(super) fn is_paused(&self, path: &Path) -> bool {
        self.plans
            .get(path)
            .is_some_and(|plan| self.paused.contains(plan.name()))
    }

    /// Whether `path`'s plan is paused, saying so for its occurrence at
    /// `start`.
    pub(super) fn skip_paused(&self, path: &Path, start: DateTime<Utc>) -> bool {
        let Some(plan) = self
            .plans
            .get(path)
            .filter(|p| self.paused.contains(p.name()))
        else {
            return false;
        };
        self.emit(Event::Skipped {
            plan: plan.name().to_owned(),
            start,
            reason: "paused".to_owned(),
        });
        true
    }
}
