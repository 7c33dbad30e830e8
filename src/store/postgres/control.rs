//! The PostgreSQL side of [`crate::store::control`].

use chrono::{DateTime, Utc};

use super::Postgres;
use crate::store::StoreError;
use crate::store::control::Action;

impl Postgres {
    pub(in crate::store) fn set_paused(
        &self,
        plan: &str,
        paused: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let plan = plan.to_owned();
        self.run(move |connected| {
            Box::pin(async move {
                let client = &connected.client;
                if paused {
                    client
                        .execute(
                            "INSERT INTO paused_plans (plan, paused_at) VALUES ($1, $2)
                             ON CONFLICT (plan) DO NOTHING",
                            &[&plan, &at],
                        )
                        .await?;
                } else {
                    client
                        .execute("DELETE FROM paused_plans WHERE plan = $1", &[&plan])
                        .await?;
                }
                Ok(())
            })
        })
    }

    pub(in crate::store) fn paused_plans(&self) -> Result<Vec<String>, StoreError> {
        self.run(move |connected| {
            Box::pin(async move {
                let client = &connected.client;
                let rows = client
                    .query("SELECT plan FROM paused_plans ORDER BY plan", &[])
                    .await?;
                Ok(rows
                    .iter()
                    .map(|row| row.try_get(0))
                    .collect::<Result<_, _>>()?)
            })
        })
    }

    pub(in crate::store) fn record_action(&self, action: &Action) -> Result<(), StoreError> {
        let action = action.clone();
        self.run(move |connected| {
            Box::pin(async move {
                let client = &connected.client;
                client
                    .execute(
                        "INSERT INTO actions (at, action, target, remote, outcome)
                         VALUES ($1, $2, $3, $4, $5)",
                        &[
                            &action.at,
                            &action.action,
                            &action.target,
                            &action.remote,
                            &action.outcome,
                        ],
                    )
                    .await?;
                Ok(())
            })
        })
    }

    pub(in crate::store) fn actions(&self, limit: i64) -> Result<Vec<Action>, StoreError> {
        self.run(move |connected| {
            Box::pin(async move {
                let client = &connected.client;
                let rows = client
                    .query(
                        "SELECT at, action, target, remote, outcome FROM actions
                         ORDER BY id DESC LIMIT $1",
                        &[&limit],
                    )
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(Action {
                            at: row.try_get(0)?,
                            action: row.try_get(1)?,
                            target: row.try_get(2)?,
                            remote: row.try_get(3)?,
                            outcome: row.try_get(4)?,
                        })
                    })
                    .collect()
            })
        })
    }
}
