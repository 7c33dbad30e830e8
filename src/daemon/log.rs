//! How the daemon's events read in the log: one line each, with `event`,
//! `plan` and the rest as fields of their own, so that a log shipper can
//! filter on them (`--log-format json` puts them at the top level).

use super::Event;

impl Event {
    /// Writes this event to the log.
    pub fn log(&self) {
        match self {
            Event::Loaded {
                plan, path, next, ..
            } => {
                tracing::info!(event = "loaded", plan, path = %path.display(), next = next.map(|n| n.to_rfc3339()).as_deref(), "plan loaded");
            }
            Event::Scheduled { plan, next } => {
                tracing::info!(
                    event = "scheduled",
                    plan,
                    next = next.map(|n| n.to_rfc3339()).as_deref(),
                    "next start"
                );
            }
            Event::Invalid {
                path,
                kept,
                diagnostics,
            } => {
                for diagnostic in diagnostics {
                    tracing::error!(event = "invalid", plan = kept.as_deref(), path = %path.display(), "{diagnostic}");
                }
                if let Some(plan) = kept {
                    tracing::warn!(event = "kept", plan, path = %path.display(), "the file is invalid: the last valid version of the plan stays in force");
                }
            }
            Event::Warned {
                plan, diagnostics, ..
            } => {
                for diagnostic in diagnostics {
                    tracing::warn!(event = "warning", plan, "{diagnostic}");
                }
            }
            Event::Refused { plan, path, kept } => {
                tracing::error!(event = "refused", plan, path = %path.display(), kept = %kept.display(), "plan name already used by another file: this file is refused");
            }
            Event::Removed { plan, path } => {
                tracing::info!(event = "removed", plan = plan.as_deref(), path = %path.display(), "plan removed");
            }
            Event::Reloaded {
                loaded,
                invalid,
                removed,
                unchanged,
            } => {
                if loaded + invalid + removed == 0 {
                    tracing::info!(
                        event = "reloaded",
                        unchanged,
                        "plans reloaded: nothing changed"
                    );
                } else {
                    tracing::info!(
                        event = "reloaded",
                        loaded,
                        invalid,
                        removed,
                        unchanged,
                        "plans reloaded"
                    );
                }
            }
            Event::Ready { plans } => tracing::info!(event = "ready", plans, "ready"),
            Event::StoreUnavailable { error } => {
                tracing::error!(
                    event = "store_unavailable",
                    error,
                    "the state store is unavailable: nothing new is started until it is back"
                );
            }
            Event::StoreRecovered => {
                tracing::info!(event = "store_recovered", "the state store is back");
            }
            Event::Stopping => tracing::info!(event = "stopping", "shutting down"),
            Event::Started { plan, start, late } => {
                tracing::info!(event = "started", plan, start = %start.to_rfc3339(), late, "occurrence started");
            }
            Event::Skipped {
                plan,
                start,
                reason,
            } => {
                tracing::warn!(event = "skipped", plan, start = %start.to_rfc3339(), reason, "occurrence skipped");
            }
            Event::Missed { plan, start } => {
                tracing::error!(event = "missed", plan, start = %start.to_rfc3339(), "occurrence missed");
            }
            Event::Finished {
                plan,
                start,
                completed,
                ..
            } => {
                tracing::info!(event = "finished", plan, start = %start.to_rfc3339(), completed, "occurrence finished");
            }
        }
    }
}
