//! What operators did through the control API: plans they paused, kept
//! across restarts, and every change they asked for (what, when, from
//! which address), for `history`. Two small tables of their own beside
//! the sessions' (both made by [`super::schema`]'s migrations): nothing
//! else reads or joins them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::database::{Connection as _, Database, values};
use super::{Store, StoreError};

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
    pub async fn set_paused(
        &self,
        plan: &str,
        paused: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let plan = plan.to_owned();
        on_database!(self, |db| set_paused(db, &plan, paused, at))
    }

    /// The plans paused through the control API, by name, sorted.
    pub async fn paused_plans(&self) -> Result<Vec<String>, StoreError> {
        on_database!(self, |db| paused_plans(db))
    }

    /// Records an operator's action.
    pub async fn record_action(&self, action: &Action) -> Result<(), StoreError> {
        let action = action.clone();
        on_database!(self, |db| record_action(db, &action))?;
        self.committed();
        Ok(())
    }

    /// The latest `limit` actions, newest first.
    pub async fn actions(&self, limit: usize) -> Result<Vec<Action>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        on_database!(self, |db| actions(db, limit))
    }
}

async fn set_paused(
    db: &impl Database,
    plan: &str,
    paused: bool,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut conn = db.connection().await?;
    if paused {
        conn.execute(
            "INSERT INTO paused_plans (plan, paused_at) VALUES ($1, $2)
             ON CONFLICT (plan) DO NOTHING",
            &values![plan, at],
        )
        .await?;
    } else {
        conn.execute("DELETE FROM paused_plans WHERE plan = $1", &values![plan])
            .await?;
    }
    Ok(())
}

async fn paused_plans(db: &impl Database) -> Result<Vec<String>, StoreError> {
    let rows = db
        .connection()
        .await?
        .query("SELECT plan FROM paused_plans ORDER BY plan", &[])
        .await?;
    rows.iter().map(|row| row.text(0)).collect()
}

async fn record_action(db: &impl Database, action: &Action) -> Result<(), StoreError> {
    db.connection()
        .await?
        .execute(
            "INSERT INTO actions (at, action, target, remote, outcome)
             VALUES ($1, $2, $3, $4, $5)",
            &values![
                action.at,
                action.action.as_str(),
                action.target.as_str(),
                action.remote.as_str(),
                action.outcome.as_str()
            ],
        )
        .await?;
    Ok(())
}

async fn actions(db: &impl Database, limit: i64) -> Result<Vec<Action>, StoreError> {
    let rows = db
        .connection()
        .await?
        .query(
            "SELECT at, action, target, remote, outcome FROM actions ORDER BY id DESC LIMIT $1",
            &values![limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Action {
                at: row.instant(0)?,
                action: row.text(1)?,
                target: row.text(2)?,
                remote: row.text(3)?,
                outcome: row.text(4)?,
            })
        })
        .collect()
}
