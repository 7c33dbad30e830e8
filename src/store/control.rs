//! What operators did through the control API: plans they paused, kept
//! across restarts, and every change they asked for (what, when, from
//! which address), for `history`. Two small tables of their own, created
//! when first used, beside the sessions' (which [`super::schema`]
//! migrates): nothing else reads or joins them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Backend, Store, StoreError};

/// One change asked for through the control API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    pub at: DateTime<Utc>,
    /// `run`, `stop`, `pause` or `resume`.
    pub action: String,
    /// The plan's name, or the session's id.
    pub target: String,
    /// The caller's address.
    pub remote: String,
    /// What came of it, in a few words: `accepted`, `skipped: ...`.
    pub outcome: String,
}

impl Store {
    /// Pauses (or resumes) `plan`'s schedule until told otherwise.
    pub fn set_paused(
        &self,
        plan: &str,
        paused: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.set_paused(plan, paused, at),
            Backend::Postgres(db) => db.set_paused(plan, paused, at),
        }
    }

    /// The plans paused through the control API, by name, sorted.
    pub fn paused_plans(&self) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.paused_plans(),
            Backend::Postgres(db) => db.paused_plans(),
        }
    }

    /// Records an operator's action.
    pub fn record_action(&self, action: &Action) -> Result<(), StoreError> {
        let written = match &self.backend {
            Backend::Sqlite(db) => db.record_action(action),
            Backend::Postgres(db) => db.record_action(action),
        };
        if written.is_ok() {
            self.committed();
        }
        written
    }

    /// The latest `limit` actions, newest first.
    pub fn actions(&self, limit: usize) -> Result<Vec<Action>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match &self.backend {
            Backend::Sqlite(db) => db.actions(limit),
            Backend::Postgres(db) => db.actions(limit),
        }
    }
}
