//! Plans as units of engines users already run: systemd timers and
//! Kubernetes CronJobs that invoke one-shot `recplan run PLAN`, and a
//! Kubernetes Deployment of `recplan daemon`; and an iCalendar feed of
//! upcoming recordings ([`feed`]).
//!
//! The engines only trigger: `recplan run` without `--now` picks the
//! occurrence that is due (within the plan's `starting_deadline`), so the
//! plan stays the one source of truth for timing. Where an engine reads
//! the cron line differently around clock changes ([`dst`]), the export
//! adds triggers so that every occurrence recplan computes fires; a trigger
//! with nothing due makes `run` exit 4.

mod daemon;
pub mod dst;
mod ics;
mod kubernetes;
mod systemd;

use crate::plan::Plan;

pub use daemon::{DaemonOptions, deployment};
pub use ics::{MAX_EVENTS_PER_PLAN, feed};
pub use kubernetes::KubernetesOptions;
pub use systemd::{SANDBOX, SystemdOptions};

/// Why a plan cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{plan}: the plan has no schedule.cron, so there is nothing to trigger")]
    NoSchedule { plan: String },
    #[error(
        "{plan}: {schedule} cannot be expressed by cron, systemd timers or CronJobs, \
         which know cron lines only; run the plan with `recplan daemon` instead"
    )]
    NotCron { plan: String, schedule: String },
    #[error("{plan}: `{cron}` cannot be expressed for {engine}: {reason}")]
    Unsupported {
        plan: String,
        cron: String,
        engine: &'static str,
        reason: String,
    },
    #[error(
        "{} and {} have the same file name, which the daemon's ConfigMap holds once: rename one",
        first.display(),
        second.display()
    )]
    SameFileName {
        first: std::path::PathBuf,
        second: std::path::PathBuf,
    },
}

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub name: String,
    pub contents: String,
}

/// What one plan became: its files, and what the user should know about
/// them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exported {
    pub files: Vec<GeneratedFile>,
    pub warnings: Vec<String>,
}

/// An engine that triggers each plan on its own schedule.
pub trait Exporter {
    /// The files that run `plan` on its schedule.
    fn export(&self, plan: &Plan) -> Result<Exported, ExportError>;
}

/// What exporting a set of plans came to.
#[derive(Debug, Default)]
pub struct Export {
    pub files: Vec<GeneratedFile>,
    pub warnings: Vec<String>,
    /// Plans left out, and why.
    pub skipped: Vec<ExportError>,
}

/// Exports every plan `exporter` can express; the others are skipped with
/// their reason, so a directory of plans exports what it can.
pub fn each_plan(plans: &[Plan], exporter: &impl Exporter) -> Export {
    let mut export = Export::default();
    for plan in plans {
        match exporter.export(plan) {
            Ok(plan_files) => {
                export.files.extend(plan_files.files);
                export.warnings.extend(plan_files.warnings);
            }
            Err(error) => export.skipped.push(error),
        }
    }
    export
}

/// The schedule an exported trigger follows, or why there is none.
fn schedule_of(plan: &Plan) -> Result<&crate::schedule::Schedule, ExportError> {
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
    })
}
