//! Requests from the control API, answered by the daemon's loop, which
//! owns the plans: the plans as it holds them, an occurrence now, a plan
//! paused or resumed.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use tokio::sync::{mpsc, oneshot};

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
