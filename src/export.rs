//! Plans as units of engines users already run: systemd timers and
//! Kubernetes CronJobs that invoke one-shot `recplan run PLAN`; and as an
//! iCalendar feed of upcoming recordings ([`feed`]).
//!
//! Both engines only trigger: `recplan run` without `--now` picks the
//! occurrence that is due (within the plan's `starting_deadline`), so the
//! plan stays the one source of truth for timing, including DST.

mod ics;
mod kubernetes;
mod systemd;

pub use ics::feed;
pub use kubernetes::{KubernetesOptions, cron_job};

use crate::plan::Plan;
use crate::schedule::Schedule;
pub use systemd::{SystemdOptions, on_calendar, units};

/// Why a plan cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{plan}: the plan has no schedule.cron, so there is nothing to trigger")]
    NoSchedule { plan: String },
    #[error(
        "{plan}: {schedule} cannot be expressed for {engine}, which knows cron lines only; \
         run the plan with `recplan daemon` instead"
    )]
    NotCron {
        plan: String,
        schedule: String,
        engine: &'static str,
    },
    #[error("{plan}: `{cron}` cannot be expressed for {engine}: {reason}")]
    Unsupported {
        plan: String,
        cron: String,
        engine: &'static str,
        reason: String,
    },
}

/// The cron line `engine` is to trigger `plan` by.
fn cron_of<'p>(plan: &'p Plan, engine: &'static str) -> Result<&'p Schedule, ExportError> {
    let schedule = plan
        .timing()
        .schedule
        .as_ref()
        .ok_or_else(|| ExportError::NoSchedule {
            plan: plan.name().to_owned(),
        })?;
    schedule.cron().ok_or_else(|| ExportError::NotCron {
        plan: plan.name().to_owned(),
        schedule: schedule.to_string(),
        engine,
    })
}

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub name: String,
    pub contents: String,
}
