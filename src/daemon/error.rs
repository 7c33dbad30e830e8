//! Why the daemon did not start, or stopped on its own.

use std::path::PathBuf;
use std::time::Duration;

use crate::plan::Diagnostic;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path on the command line cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Nothing to run: every plan is invalid, or there is none.
    #[error("{}", no_plans(diagnostics, empty))]
    NoPlans {
        /// The invalid plans' errors.
        diagnostics: Vec<Diagnostic>,
        /// Directories without a plan file.
        empty: Vec<PathBuf>,
    },

    /// Critical: the state store was unavailable for longer than allowed.
    /// A runner that cannot write down a `sid` must not start recordings.
    #[error("the state store was unavailable for {}: {source}", crate::plan::format_duration(*after))]
    StoreUnavailable {
        after: Duration,
        #[source]
        source: StoreError,
    },

    /// The listener stopped serving: health can no longer be told.
    #[error("the listener failed: {0}")]
    Listener(#[source] std::io::Error),

    /// A worker panicked.
    #[error("the daemon's {worker} ended abnormally: {why}")]
    Worker { worker: String, why: String },
}

fn no_plans(diagnostics: &[Diagnostic], empty: &[PathBuf]) -> String {
    let invalid = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.file.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let mut why = Vec::new();
    if invalid > 0 {
        why.push(format!("{invalid} invalid plan file(s)"));
    }
    for dir in empty {
        why.push(format!("no plan files in {}", dir.display()));
    }
    format!(
        "no valid plan to run ({}); use --allow-empty to start without one",
        why.join(", ")
    )
}
