//! The daemon's plans: loaded from files and directories, each with its
//! next start. A plan that fails to load is reported and left out; the
//! others run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Event;
use crate::plan::{self, Env, MissingEnv, Options, Plan};

struct Entry {
    /// Shared with the occurrences being launched, which need it only to
    /// render themselves.
    plan: Arc<Plan>,
    next: Option<DateTime<Utc>>,
}

/// Plans by path, with their next start.
#[derive(Default)]
pub struct PlanSet {
    entries: BTreeMap<PathBuf, Entry>,
    /// Every entry's next start, earliest first: the daemon asks for the
    /// earliest once per occurrence it launches, so with 10,000 plans
    /// starting at one minute a scan of every plan each time would cost
    /// 10,000 × 10,000 steps.
    queue: BTreeSet<(DateTime<Utc>, PathBuf)>,
}

impl PlanSet {
    /// Re-reads every plan under `paths`. A changed plan affects future
    /// occurrences only: its next start is computed afresh from `now`.
    pub fn reload(&mut self, paths: &[PathBuf], env: &Env, now: DateTime<Utc>) -> Vec<Event> {
        let mut events = Vec::new();
        let files = files_under(paths, &mut events);
        let options = Options {
            env: env.clone(),
            missing_env: MissingEnv::Refuse,
            now,
        };
        let mut fresh = BTreeMap::new();
        for file in files {
            match plan::load(&file, &options) {
                Ok(validated) => {
                    let plan = validated.plan;
                    let unchanged = self
                        .entries
                        .get(&file)
                        .filter(|e| e.plan.content_hash() == plan.content_hash());
                    let next = match unchanged {
                        Some(entry) => entry.next,
                        None => first_start(&plan, now),
                    };
                    if unchanged.is_none() {
                        events.push(Event::Loaded {
                            plan: plan.name().to_owned(),
                            path: file.clone(),
                            next,
                        });
                    }
                    fresh.insert(
                        file,
                        Entry {
                            plan: Arc::new(plan),
                            next,
                        },
                    );
                }
                Err(error) => events.push(Event::Invalid {
                    path: file,
                    diagnostics: error.diagnostics(),
                }),
            }
        }
        for path in self.entries.keys().filter(|p| !fresh.contains_key(*p)) {
            events.push(Event::Removed { path: path.clone() });
        }
        self.entries = fresh;
        self.queue = self
            .entries
            .iter()
            .filter_map(|(path, entry)| Some((entry.next?, path.clone())))
            .collect();
        events
    }

    pub fn get(&self, path: &Path) -> Option<&Arc<Plan>> {
        self.entries.get(path).map(|e| &e.plan)
    }

    /// The earliest next start of any plan.
    pub fn next_start(&self) -> Option<(PathBuf, DateTime<Utc>)> {
        self.queue.first().map(|(next, path)| (path.clone(), *next))
    }

    /// Moves `path`'s next start past `start`, and says what it now is.
    pub fn advance(&mut self, path: &Path, start: DateTime<Utc>) -> Option<Event> {
        let entry = self.entries.get_mut(path)?;
        if let Some(next) = entry.next {
            self.queue.remove(&(next, path.to_owned()));
        }
        entry.next = first_start(&entry.plan, start);
        if let Some(next) = entry.next {
            self.queue.insert((next, path.to_owned()));
        }
        Some(Event::Scheduled {
            plan: entry.plan.name().to_owned(),
            next: entry.next,
        })
    }

    /// Plans with an occurrence that started before `now` and is still
    /// within its starting deadline.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<(PathBuf, DateTime<Utc>)> {
        self.entries
            .iter()
            .filter_map(|(path, entry)| {
                let start = entry.plan.due_start(now)?.with_timezone(&Utc);
                (start < now).then(|| (path.clone(), start))
            })
            .collect()
    }

    /// Plans whose latest occurrence is past its starting deadline: missed
    /// unless someone ran it.
    pub fn missed(&self, now: DateTime<Utc>) -> Vec<(PathBuf, DateTime<Utc>)> {
        self.entries
            .iter()
            .filter_map(|(path, entry)| {
                Some((
                    path.clone(),
                    entry.plan.missed_start(now)?.with_timezone(&Utc),
                ))
            })
            .collect()
    }

    /// Every plan with its path and next start, by path.
    pub fn iter(&self) -> impl Iterator<Item = (&Path, &Arc<Plan>, Option<DateTime<Utc>>)> {
        self.entries
            .iter()
            .map(|(path, entry)| (path.as_path(), &entry.plan, entry.next))
    }

    /// The file of the plan named `name`.
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        self.entries
            .iter()
            .find(|(_, entry)| entry.plan.name() == name)
            .map(|(path, _)| path.clone())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn first_start(plan: &Plan, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    plan.next_starts(after, 1)
        .first()
        .map(|start| start.with_timezone(&Utc))
}

fn files_under(paths: &[PathBuf], events: &mut Vec<Event>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        match plan::discover(std::slice::from_ref(path)) {
            Ok(found) => files.extend(found),
            Err(error) => events.push(Event::Invalid {
                path: path.clone(),
                diagnostics: error.diagnostics(),
            }),
        }
    }
    files
}
