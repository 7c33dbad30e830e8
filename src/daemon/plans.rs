//! The daemon's plans: one version of each in force, with its next start.
//! A file that fails to load leaves the version before it in force (and
//! says so); a file whose plan name another file already holds is refused
//! until that name is free; a deleted file's plan leaves.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Event;
use crate::plan::{Catalog, Diagnostic, Env, MissingEnv, Options, Plan, PlanError};

struct Entry {
    /// Shared with the occurrences being launched, which need it only to
    /// render themselves.
    plan: Arc<Plan>,
    next: Option<DateTime<Utc>>,
}

/// Plans in force by file, with their next start.
pub struct PlanSet {
    catalog: Catalog,
    entries: BTreeMap<PathBuf, Entry>,
    /// Which file holds each plan name.
    names: HashMap<String, PathBuf>,
    /// Valid plans refused because another file holds their name, waiting
    /// for it to be free.
    refused: BTreeMap<PathBuf, Arc<Plan>>,
    /// Every entry's next start, earliest first: the daemon asks for the
    /// earliest once per occurrence it launches, so with 10,000 plans
    /// starting at one minute a scan of every plan each time would cost
    /// 10,000 × 10,000 steps.
    queue: BTreeSet<(DateTime<Utc>, PathBuf)>,
}

/// What a reload found beyond its events: what startup judges.
#[derive(Debug, Default)]
pub struct Reload {
    pub unreadable: Vec<(PathBuf, io::Error)>,
    /// The errors of files that are not in force.
    pub diagnostics: Vec<Diagnostic>,
    pub empty: Vec<PathBuf>,
}

impl PlanSet {
    pub fn new(paths: Vec<PathBuf>) -> PlanSet {
        PlanSet {
            catalog: Catalog::new(paths),
            entries: BTreeMap::new(),
            names: HashMap::new(),
            refused: BTreeMap::new(),
            queue: BTreeSet::new(),
        }
    }

    /// Loads every plan file that is new or changed since the last reload:
    /// among `changed` if given (what the watcher saw), else under every
    /// path. A changed plan affects future occurrences only: its next start
    /// is computed afresh from `now`.
    pub fn reload(
        &mut self,
        changed: Option<&[PathBuf]>,
        env: &Env,
        now: DateTime<Utc>,
        events: &mut Vec<Event>,
    ) -> Reload {
        let options = Options {
            env: env.clone(),
            missing_env: MissingEnv::Refuse,
            now,
        };
        // A plan that follows a calendar changes when its calendar does.
        for file in changed.into_iter().flatten() {
            if self
                .entries
                .get(file)
                .is_some_and(|e| e.plan.timing().calendar.is_some())
            {
                self.catalog.forget(file);
            }
        }
        let scan = match changed.and_then(|files| self.catalog.rescan(files, &options)) {
            Some(scan) => scan,
            None => self.catalog.scan(&options),
        };
        let mut reload = Reload {
            empty: scan.empty,
            ..Reload::default()
        };
        let mut counts = Counts {
            unchanged: scan.unchanged,
            ..Counts::default()
        };
        for path in &scan.removed {
            counts.removed += 1;
            self.remove(path, now, events);
        }
        for (path, loaded) in scan.loaded {
            match loaded {
                Ok(validated) => {
                    // Even with nothing to say: a calendar fetched again
                    // after a failure is no longer stale.
                    events.push(Event::Warned {
                        plan: validated.plan.name().to_owned(),
                        path: path.clone(),
                        diagnostics: validated.warnings,
                    });
                    self.put(path, validated.plan, now, events, &mut counts);
                }
                Err(error) => {
                    counts.invalid += 1;
                    let diagnostics = error.diagnostics();
                    let kept = self.entries.get(&path).map(|e| e.plan.name().to_owned());
                    if kept.is_none() {
                        self.refused.remove(&path);
                        reload.diagnostics.extend(diagnostics.iter().cloned());
                    }
                    events.push(Event::Invalid {
                        path,
                        kept,
                        diagnostics,
                    });
                }
            }
        }
        for (path, error) in scan.unreadable {
            let diagnostics = PlanError::Read {
                path: path.clone(),
                source: io::Error::new(error.kind(), error.to_string()),
            }
            .diagnostics();
            events.push(Event::Invalid {
                path: path.clone(),
                kept: None,
                diagnostics,
            });
            reload.unreadable.push((path, error));
        }
        events.push(Event::Reloaded {
            loaded: counts.loaded,
            invalid: counts.invalid,
            removed: counts.removed,
            unchanged: counts.unchanged,
        });
        reload
    }

    /// Puts a valid plan from `path` in force, unless another file holds
    /// its name.
    fn put(
        &mut self,
        path: PathBuf,
        plan: Plan,
        now: DateTime<Utc>,
        events: &mut Vec<Event>,
        counts: &mut Counts,
    ) {
        let name = plan.name().to_owned();
        let holder = self.names.get(&name).filter(|holder| **holder != path);
        if let Some(kept) = holder.cloned() {
            // Renamed onto a name in use: its former name leaves.
            self.take_out(&path, now, events);
            self.refused.insert(path.clone(), Arc::new(plan));
            events.push(Event::Refused {
                plan: name,
                path,
                kept,
            });
            counts.invalid += 1;
            return;
        }
        self.refused.remove(&path);
        let unchanged = self
            .entries
            .get(&path)
            .filter(|e| e.plan.content_hash() == plan.content_hash() && e.plan.name() == name);
        if let Some(entry) = unchanged {
            // Touched, not changed: the schedule goes on as it was.
            let next = entry.next;
            counts.unchanged += 1;
            self.insert(path, Arc::new(plan), next);
            return;
        }
        if self
            .entries
            .get(&path)
            .is_some_and(|e| e.plan.name() != name)
        {
            self.take_out(&path, now, events);
        }
        counts.loaded += 1;
        let next = first_start(&plan, now);
        events.push(Event::Loaded {
            plan: name,
            path: path.clone(),
            next,
            at: now,
        });
        self.insert(path, Arc::new(plan), next);
    }

    fn insert(&mut self, path: PathBuf, plan: Arc<Plan>, next: Option<DateTime<Utc>>) {
        if let Some(old) = self.entries.get(&path)
            && let Some(at) = old.next
        {
            self.queue.remove(&(at, path.clone()));
        }
        if let Some(at) = next {
            self.queue.insert((at, path.clone()));
        }
        self.names.insert(plan.name().to_owned(), path.clone());
        self.entries.insert(path, Entry { plan, next });
    }

    /// A file gone: its plan leaves, and a plan refused for its name may
    /// take its place.
    fn remove(&mut self, path: &Path, now: DateTime<Utc>, events: &mut Vec<Event>) {
        self.refused.remove(path);
        // A file with no plan in force (refused, or invalid) leaves too:
        // its problem goes with it.
        if !self.take_out(path, now, events) {
            events.push(Event::Removed {
                plan: None,
                path: path.to_owned(),
            });
        }
    }

    /// Takes `path`'s plan out of force; whether it had one.
    fn take_out(&mut self, path: &Path, now: DateTime<Utc>, events: &mut Vec<Event>) -> bool {
        let Some(entry) = self.entries.remove(path) else {
            return false;
        };
        if let Some(at) = entry.next {
            self.queue.remove(&(at, path.to_owned()));
        }
        let name = entry.plan.name().to_owned();
        self.names.remove(&name);
        events.push(Event::Removed {
            plan: Some(name.clone()),
            path: path.to_owned(),
        });
        // The first file refused for this name takes it.
        let waiting = self
            .refused
            .iter()
            .find(|(_, plan)| plan.name() == name)
            .map(|(path, plan)| (path.clone(), Arc::clone(plan)));
        if let Some((waiting, plan)) = waiting {
            self.refused.remove(&waiting);
            let next = first_start(&plan, now);
            events.push(Event::Loaded {
                plan: name,
                path: waiting.clone(),
                next,
                at: now,
            });
            self.insert(waiting, plan, next);
        }
        true
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
    /// if recplan was in charge of it and nobody ran it.
    pub fn overdue(&self, now: DateTime<Utc>) -> Vec<(PathBuf, DateTime<Utc>)> {
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

#[derive(Default)]
struct Counts {
    loaded: usize,
    invalid: usize,
    removed: usize,
    unchanged: usize,
}

fn first_start(plan: &Plan, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    plan.next_starts(after, 1)
        .first()
        .map(|start| start.with_timezone(&Utc))
}
