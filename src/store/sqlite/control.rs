//! The SQLite side of [`crate::store::control`].

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::Sqlite;
use crate::store::StoreError;
use crate::store::control::Action;
use crate::store::model::{instant_text, parse_instant};

impl Sqlite {
    pub(in crate::store) fn set_paused(
        &self,
        plan: &str,
        paused: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        if paused {
            conn.execute(
                "INSERT INTO paused_plans (plan, paused_at) VALUES (?1, ?2)
                 ON CONFLICT (plan) DO NOTHING",
                params![plan, instant_text(at)],
            )?;
        } else {
            conn.execute("DELETE FROM paused_plans WHERE plan = ?1", [plan])?;
        }
        Ok(())
    }

    pub(in crate::store) fn paused_plans(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT plan FROM paused_plans ORDER BY plan")?;
        let plans = statement
            .query_map([], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(plans)
    }

    pub(in crate::store) fn record_action(&self, action: &Action) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO actions (at, action, target, remote, outcome) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                instant_text(action.at),
                action.action,
                action.target,
                action.remote,
                action.outcome
            ],
        )?;
        Ok(())
    }

    pub(in crate::store) fn actions(&self, limit: i64) -> Result<Vec<Action>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT at, action, target, remote, outcome FROM actions ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = statement
            .query_map([limit], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })?
            .collect::<Result<Vec<(String, String, String, String, String)>, _>>()?;
        rows.into_iter()
            .map(|(at, action, target, remote, outcome)| {
                Ok(Action {
                    at: parse_instant(&at)?,
                    action,
                    target,
                    remote,
                    outcome,
                })
            })
            .collect()
    }
}
