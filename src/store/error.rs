//! What can go wrong with the state store. In the daemon every one of these
//! is critical: a runner that cannot write down a `sid` must not start
//! recordings it may later be unable to stop.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Phase, SessionId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory or a file in it could not be created or
    /// restricted to its owner.
    #[error("state directory {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// No state directory could be derived from the environment.
    #[error(
        "no state directory: set RECPLAN_STATE_DIR (or XDG_STATE_HOME or HOME) to an absolute path"
    )]
    NoStateDir,

    /// SQLite refused the file: locked beyond the busy timeout, not a
    /// database, unreadable.
    #[error("cannot open the state database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// A schema migration failed; the database is left at `from`.
    #[error("cannot migrate the state database from schema {from} to {to}: {source}")]
    Migrate {
        from: u32,
        to: u32,
        #[source]
        source: rusqlite::Error,
    },

    /// The database was written by a newer recplan. Opening it anyway could
    /// misread sessions that still have recordings running.
    #[error(
        "the state database has schema {found}, newer than this recplan understands ({supported}); \
         use the recplan that wrote it, or a newer one"
    )]
    TooNew { found: u32, supported: u32 },

    /// The file is a SQLite database, but not recplan's.
    #[error("{} is not a recplan state database (application_id {found:#x})", path.display())]
    Foreign { path: PathBuf, found: i32 },

    /// A stored value does not parse: the file was edited or damaged.
    #[error("the state database is corrupt: {what}")]
    Corrupt { what: String },

    #[error("no session {0} in the state database")]
    NotFound(SessionId),

    /// A transition that does not follow from the session's state: a bug in
    /// the caller, refused so that the stored truth stays consistent.
    #[error("session {id} is {phase}: cannot record {transition} ({why})")]
    Transition {
        id: SessionId,
        phase: Phase,
        transition: &'static str,
        why: &'static str,
    },

    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// `--state` is not a PostgreSQL URL recplan can use. The URL itself is
    /// never repeated: it may carry a password.
    #[error("state URL: {why}")]
    Url { why: String },

    /// The PostgreSQL server could not be reached or refused the login.
    #[error(
        "cannot connect to the state database {target}: {}",
        super::postgres::describe(source)
    )]
    Connect {
        /// The URL less its password.
        target: String,
        #[source]
        source: tokio_postgres::Error,
    },

    /// A PostgreSQL schema migration failed; the schema is left at `from`.
    #[error(
        "cannot migrate the state database from schema {from} to {to}: {}",
        super::postgres::describe(source)
    )]
    MigratePostgres {
        from: u32,
        to: u32,
        #[source]
        source: tokio_postgres::Error,
    },

    /// The connection's schema holds tables named as recplan's that
    /// recplan did not create.
    #[error(
        "the state database {target} has sessions or events tables that are not recplan's; \
         give recplan a schema of its own (options=-csearch_path%3Drecplan in the URL)"
    )]
    ForeignSchema { target: String },

    /// The runtime a call ran on shut down before the call answered, or
    /// the task holding PostgreSQL's leases ended with its runtime.
    #[error("the state store stopped before answering: its runtime is shutting down")]
    Stopped,

    #[error("state database: {}", super::postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),

    /// The transaction a queued transition shared with others failed, for
    /// this reason: none of them was written.
    #[error(transparent)]
    Batch(Arc<StoreError>),

    /// What writes queued transitions stopped before it answered (it
    /// panicked, or its runtime shut down).
    #[error("the state store's writer stopped before answering")]
    WriterStopped,
}

impl StoreError {
    pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
        StoreError::Corrupt { what: what.into() }
    }

    /// This error as the failure of a migration from schema `from` to `to`.
    pub(super) fn in_migration(self, from: u32, to: u32) -> StoreError {
        match self {
            StoreError::Sqlite(source) => StoreError::Migrate { from, to, source },
            StoreError::Postgres(source) => StoreError::MigratePostgres { from, to, source },
            other => other,
        }
    }
}

/// What kind of failure a [`StoreError`] is, for deciding what to do
/// about it rather than what to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The store answered and said no: a transition that does not follow,
    /// a schema it will not touch, a URL it cannot use.
    Refused,
    /// A session that is not there.
    NotFound,
    /// The store could not be reached or written: it may come back.
    Unavailable,
    /// What the store holds does not parse.
    Corrupt,
}

impl StoreError {
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::NotFound(_) => StoreErrorKind::NotFound,
            StoreError::Corrupt { .. } | StoreError::Foreign { .. } => StoreErrorKind::Corrupt,
            StoreError::Transition { .. }
            | StoreError::TooNew { .. }
            | StoreError::Url { .. }
            | StoreError::ForeignSchema { .. }
            | StoreError::NoStateDir => StoreErrorKind::Refused,
            StoreError::Batch(inner) => inner.kind(),
            StoreError::Io { .. }
            | StoreError::Open { .. }
            | StoreError::Migrate { .. }
            | StoreError::Sqlite(_)
            | StoreError::Connect { .. }
            | StoreError::MigratePostgres { .. }
            | StoreError::Stopped
            | StoreError::Postgres(_)
            | StoreError::WriterStopped => StoreErrorKind::Unavailable,
        }
    }
}
