//! Why a command failed, and the exit code that says so. Decided and
//! printed here, for every command: an unreadable path is a wrong command
//! line (2), an invalid plan is 3, a failed run 1.

use std::path::PathBuf;

use super::exit;
use crate::plan::{Diagnostic, PlanError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path named on the command line cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Plans are invalid: nothing was sent.
    #[error("invalid plan")]
    InvalidPlan { diagnostics: Vec<Diagnostic> },

    #[error(transparent)]
    Daemon(#[from] crate::daemon::Error),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Read { .. } | Error::Daemon(crate::daemon::Error::Unreadable { .. }) => {
                exit::USAGE
            }
            Error::InvalidPlan { .. } | Error::Daemon(crate::daemon::Error::NoPlans { .. }) => {
                exit::INVALID_PLAN
            }
            Error::Daemon(_) => exit::FAILED,
        }
    }

    /// Prints the error on stderr: the diagnostics of invalid plans, one
    /// `error:` line for anything else.
    pub fn report(&self) {
        match self {
            Error::InvalidPlan { diagnostics } => super::print_diagnostics(diagnostics),
            Error::Daemon(error @ crate::daemon::Error::NoPlans { diagnostics, .. }) => {
                super::print_diagnostics(diagnostics);
                errln!("error: {error}");
            }
            other => errln!("error: {other}"),
        }
    }
}

impl From<PlanError> for Error {
    fn from(error: PlanError) -> Error {
        match error {
            PlanError::Read { path, source } => Error::Read { path, source },
            other => Error::InvalidPlan {
                diagnostics: other.diagnostics(),
            },
        }
    }
}

/// Reports `error` and hands back its exit code.
pub fn fail(error: impl Into<Error>) -> u8 {
    let error = error.into();
    error.report();
    error.exit_code()
}
