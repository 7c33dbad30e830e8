//! Plans as units of engines users already run: systemd timers and
//! Kubernetes CronJobs that invoke one-shot `recplan run PLAN`.
//!
//! Both engines only trigger: `recplan run` without `--now` picks the
//! occurrence that is due (within the plan's `starting_deadline`), so the
//! plan stays the one source of truth for timing, including DST.

mod kubernetes;
mod systemd;

pub use kubernetes::{KubernetesOptions, cron_job};
pub use systemd::{SystemdOptions, on_calendar, units};

/// Why a plan cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{plan}: the plan has no schedule.cron, so there is nothing to trigger")]
    NoSchedule { plan: String },
    #[error("{plan}: `{cron}` cannot be expressed for {engine}: {reason}")]
    Unsupported {
        plan: String,
        cron: String,
        engine: &'static str,
        reason: String,
    },
}

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub name: String,
    pub contents: String,
}
