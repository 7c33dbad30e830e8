//! How the scheduler answers the control API's [`Request`]s, and keeps
//! the plans it paused.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound as _, Utc};

use super::Scheduler;
use crate::daemon::{Event, Launched, PlanState, Request};

impl Scheduler {
    pub(super) async fn answer(&mut self, request: Request) {
        match request {
            Request::Plans(reply) => {
                let states = self
                    .plans
                    .iter()
                    .map(|(path, plan, next)| PlanState {
                        paused: self.paused.contains(plan.name()),
                        plan: Arc::clone(plan),
                        path: path.to_owned(),
                        next,
                    })
                    .collect();
                let _ = reply.send(states);
            }
            Request::Run { plan, reply } => {
                let launched = match self.plans.find(&plan) {
                    None => None,
                    Some(path) => Some(match self.resumed_starts().await {
                        None => Launched::Skipped("the state store is unavailable".to_owned()),
                        Some(resumed) => {
                            // Whole milliseconds, as the store keeps instants.
                            let now = self.context.clock.now().trunc_subsecs(3);
                            self.launch(&path, now, false, &resumed)
                        }
                    }),
                };
                let _ = reply.send(launched);
            }
            Request::Pause {
                plan,
                paused,
                reply,
            } => {
                if self.plans.find(&plan).is_none() {
                    let _ = reply.send(Ok(false));
                    return;
                }
                let now = self.context.clock.now();
                let stored = self
                    .context
                    .store
                    .set_paused(&plan, paused, now)
                    .await
                    .map_err(|error| error.to_string());
                if stored.is_ok() {
                    if paused {
                        self.paused.insert(plan);
                    } else {
                        self.paused.remove(&plan);
                    }
                }
                let _ = reply.send(stored.map(|()| true));
            }
        }
    }

    /// Reads the plans paused through the control API from the store.
    pub(super) async fn load_paused(&mut self) {
        match self.context.store.paused_plans().await {
            Ok(paused) => self.paused = paused.into_iter().collect(),
            Err(error) => tracing::error!(%error, "cannot read the paused plans"),
        }
    }

    pub(super) fn is_paused(&self, path: &Path) -> bool {
        self.plans
            .get(path)
            .is_some_and(|plan| self.paused.contains(plan.name()))
    }

    /// Whether `path`'s plan is paused, saying so for its occurrence at
    /// `start`.
    pub(super) fn skip_paused(&self, path: &Path, start: DateTime<Utc>) -> bool {
        let Some(plan) = self
            .plans
            .get(path)
            .filter(|p| self.paused.contains(p.name()))
        else {
            return false;
        };
        self.emit(Event::Skipped {
            plan: plan.name().to_owned(),
            start,
            reason: "paused".to_owned(),
        });
        true
    }
}
