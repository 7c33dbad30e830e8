//! The daemon's scheduler: it owns the plans and the timer for the next
//! start; each occurrence runs as its own task (the same
//! [`run_occurrence`] as `recplan run`) in a `JoinSet`. Reload, shutdown,
//! the store's health and finished occurrences all arrive at one
//! `select!`, so there is one shutdown path.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use super::plans::PlanSet;
mod requests;

use super::request::{self, Launched, Request};
use super::{Config, Control, Error, Event, MISSED_REASON, Summary};
use crate::plan::raw::Overlap;
use crate::session::{
    Context, OccurrenceReport, recoverable, run_occurrence, until_driven_elsewhere_end,
};
use crate::store::{Begin, NewSession, Outcome, StoreError, StoreErrorKind, Transition};

/// How often an unavailable store is asked again.
const STORE_PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// The identity of one occurrence: plan and scheduled start.
type OccurrenceKey = (String, DateTime<Utc>);

/// Since when the store has failed, and how.
struct Outage {
    since: Instant,
    error: StoreError,
    /// When to ask the store again.
    probe: Instant,
}

/// Runs plans until told to shut down; each occurrence's report goes out
/// with its [`Event::Finished`].
pub struct Scheduler {
    config: Config,
    context: Context,
    plans: PlanSet,
    running: JoinSet<(OccurrenceKey, OccurrenceReport)>,
    /// By plan, then start: a plan's running occurrences are a range.
    stops: BTreeMap<OccurrenceKey, watch::Sender<bool>>,
    /// Occurrences due while the store was unavailable, launched once it is
    /// back (late, within their starting deadline).
    pending: Vec<(PathBuf, DateTime<Utc>)>,
    outage: Option<Outage>,
    events: mpsc::UnboundedSender<Event>,
    summary: Summary,
    /// What the control API asks; none without one.
    requests: Option<mpsc::UnboundedReceiver<Request>>,
    /// Plans paused through the control API, by name: kept in the store.
    paused: BTreeSet<String>,
}

impl Scheduler {
    /// Loads the plans. Refuses to start without work: a path that cannot
    /// be read, or no valid plan at all (unless `allow_empty`).
    pub async fn start(
        config: Config,
        context: Context,
        events: mpsc::UnboundedSender<Event>,
    ) -> Result<Scheduler, Error> {
        let mut scheduler = Scheduler {
            plans: PlanSet::new(config.paths.clone()),
            config,
            context,
            running: JoinSet::new(),
            stops: BTreeMap::new(),
            pending: Vec::new(),
            outage: None,
            events,
            summary: Summary::default(),
            requests: None,
            paused: BTreeSet::new(),
        };
        scheduler.load_paused().await;
        let loaded = scheduler.reload(None);
        if let Some((path, error)) = loaded.unreadable.into_iter().next() {
            return Err(Error::Unreadable {
                path,
                source: error,
            });
        }
        if scheduler.plans.is_empty() && !scheduler.config.allow_empty {
            return Err(Error::NoPlans {
                diagnostics: loaded.diagnostics,
                empty: loaded.empty,
            });
        }
        Ok(scheduler)
    }

    /// Takes requests from the control API too.
    #[must_use]
    pub fn with_requests(
        mut self,
        requests: Option<mpsc::UnboundedReceiver<Request>>,
    ) -> Scheduler {
        self.requests = requests;
        self
    }

    /// The main loop. Returns when `control` or `internal` says shutdown or
    /// detach (or `control`'s sender is gone, which counts as shutdown),
    /// or when the store has been unavailable for longer than allowed.
    pub async fn run(
        mut self,
        mut control: mpsc::UnboundedReceiver<Control>,
        mut internal: mpsc::UnboundedReceiver<Control>,
    ) -> Result<Summary, Error> {
        // Agora's limit is per App ID, whoever calls: one window for every
        // runner on the store.
        self.context
            .client
            .limiter()
            .share(self.context.store.rate_window());
        // Sessions a previous process left are resumed beside new ones, and
        // so are those whose driver dies later; leases keep the two from
        // driving the same session.
        let (recovery_stop, recovery_stopped) = watch::channel(false);
        let recovered = recoverable(&self.context, &recovery_stopped).await;
        let recovery = tokio::spawn(super::takeover::watch(
            self.context.clone(),
            recovered,
            recovery_stopped,
        ));
        self.start_overdue().await;
        self.emit(Event::Ready {
            plans: self.plans.len(),
        });
        let ended = loop {
            let next = self
                .plans
                .next_start()
                .map(|(_, at)| self.context.clock.instant_at(at));
            let probe = self.outage.as_ref().map(|outage| outage.probe);
            tokio::select! {
                message = control.recv() => match message {
                    Some(Control::Reload) => { self.reload(None); }
                    Some(Control::Changed(files)) => { self.reload(Some(&files)); }
                    Some(Control::Detach) => break Ended::Detach,
                    Some(Control::Shutdown) | None => break Ended::Shutdown,
                },
                Some(message) = internal.recv() => match message {
                    Control::Reload => { self.reload(None); }
                    Control::Changed(files) => { self.reload(Some(&files)); }
                    Control::Detach => break Ended::Detach,
                    Control::Shutdown => break Ended::Shutdown,
                },
                () = wait_until(next) => self.start_due().await,
                () = wait_until(probe) => self.launch_pending().await,
                Some(joined) = self.running.join_next(), if !self.running.is_empty() => {
                    self.finished(joined);
                }
                Some(request) = request::next(&mut self.requests) => self.answer(request).await,
            }
            if let Some(outage) = &self.outage
                && outage.since.elapsed() >= self.config.store_grace
            {
                break Ended::StoreUnavailable;
            }
        };
        self.emit(Event::Stopping);
        if matches!(ended, Ended::Detach) {
            // The tasks die with the runtime; the state store keeps what they
            // started for the next start to resume.
            self.running.detach_all();
            return Ok(self.summary);
        }
        let _ = recovery_stop.send(true);
        self.stop_all().await;
        match tokio::time::timeout(self.config.stop_grace, recovery).await {
            Ok(Ok(recovered)) if recovered > 0 => {
                tracing::info!(sessions = recovered, "recovered sessions ended");
            }
            Ok(_) => {}
            Err(_) => {
                tracing::error!("shutdown grace ran out while recovered sessions were stopping");
            }
        }
        match (ended, self.outage) {
            (Ended::StoreUnavailable, Some(outage)) => Err(Error::StoreUnavailable {
                after: self.config.store_grace,
                source: outage.error,
            }),
            _ => Ok(self.summary),
        }
    }

    /// Stops every occurrence this scheduler started and waits, up to the
    /// grace period, for the stops to be answered.
    async fn stop_all(&mut self) {
        for stop in self.stops.values() {
            let _ = stop.send(true);
        }
        let deadline = Instant::now() + self.config.stop_grace;
        while !self.running.is_empty() {
            match tokio::time::timeout_at(deadline, self.running.join_next()).await {
                Ok(Some(joined)) => self.finished(joined),
                Ok(None) => break,
                Err(_) => {
                    tracing::error!(
                        left = self.running.len(),
                        "shutdown grace ran out with stops unanswered"
                    );
                    break;
                }
            }
        }
    }

    fn reload(&mut self, changed: Option<&[PathBuf]>) -> super::plans::Reload {
        let now = self.context.clock.now();
        let mut events = Vec::new();
        let reload = self
            .plans
            .reload(changed, &self.context.env, now, &mut events);
        for event in events {
            self.emit(event);
        }
        reload
    }

    /// Occurrences that should be running now (due while the daemon was
    /// down, within their starting deadline): started late for the
    /// remainder. The ones past their deadline are recorded as missed.
    async fn start_overdue(&mut self) {
        let now = self.context.clock.now();
        let due = self.plans.due(now);
        self.launch_all(due, now).await;
        for (path, start) in self.plans.overdue(now) {
            if !self.is_paused(&path) {
                self.record_missed(&path, start).await;
            }
        }
    }

    /// Writes an occurrence nobody ran in time into the store as missed,
    /// so that `history` shows the gap; one already there is left alone.
    /// Only an occurrence recplan could have run counts: the plan must
    /// have run in the week before it, or it was not yet recplan's to run
    /// (a new plan, or a new install).
    async fn record_missed(&mut self, path: &Path, start: DateTime<Utc>) {
        let Some(plan) = self.plans.get(path) else {
            return;
        };
        let since = start - chrono::Duration::days(7);
        let in_charge = match self
            .context
            .store
            .history(Some(plan.name()), Some(since))
            .await
        {
            Ok(sessions) => sessions.iter().any(|s| s.scheduled_start < start),
            Err(error) => {
                self.store_failed(error);
                return;
            }
        };
        if !in_charge {
            return;
        }
        let Ok(occurrence) = plan.occurrence(plan.localize(start), &self.context.env, None) else {
            return;
        };
        let mut recorded = false;
        for spec in &occurrence.sessions {
            let new = NewSession::of(&occurrence, spec, &occurrence.plan_hash);
            let at = self.context.clock.now();
            if let Ok(Begin::Created(id)) = self.context.store.begin(&new, at).await {
                recorded = true;
                let missed = Transition::Ended {
                    outcome: Outcome::Missed,
                    reason: MISSED_REASON.to_owned(),
                };
                if let Err(error) = self.context.store.record(id, at, &missed).await {
                    tracing::error!(session = %id, %error, "cannot record a missed occurrence");
                }
            }
        }
        if recorded {
            self.emit(Event::Missed {
                plan: occurrence.plan,
                start,
            });
        }
    }

    async fn start_due(&mut self) {
        let now = self.context.clock.now();
        let mut due = Vec::new();
        while let Some((path, start)) = self.plans.next_start() {
            if start > now {
                break;
            }
            if let Some(event) = self.plans.advance(&path, start) {
                self.emit(event);
            }
            due.push((path, start));
        }
        self.launch_all(due, now).await;
    }

    /// Launches `due`, unless the store is unavailable: then they wait
    /// for it.
    async fn launch_all(&mut self, due: Vec<(PathBuf, DateTime<Utc>)>, now: DateTime<Utc>) {
        if due.is_empty() {
            return;
        }
        let Some(resumed) = self.resumed_starts().await else {
            self.pending.extend(due);
            return;
        };
        for (path, start) in due {
            if self.skip_paused(&path, start) {
                continue;
            }
            let late = now
                .signed_duration_since(start)
                .to_std()
                .unwrap_or_default()
                > Duration::from_secs(1);
            self.launch(&path, start, late, &resumed);
        }
    }

    /// Asks the store again; launches what waited for it, or records as
    /// missed what waited past its starting deadline.
    async fn launch_pending(&mut self) {
        let now = self.context.clock.now();
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            // Nothing waits: only the store's health is in question.
            let _ = self.resumed_starts().await;
            return;
        }
        let (due, missed): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(path, start)| {
            self.plans.get(path).is_some_and(|plan| {
                now.signed_duration_since(*start)
                    .to_std()
                    .is_ok_and(|late| late <= plan.timing().starting_deadline)
            })
        });
        self.launch_all(due, now).await;
        // Past their deadline while the store was down: recplan was running
        // and could not run them.
        for (path, start) in missed {
            if let Some(plan) = self.plans.get(&path) {
                let plan = plan.name().to_owned();
                self.emit(Event::Missed { plan, start });
            }
        }
    }

    /// The scheduled starts of every session in the store that is not over,
    /// by plan: occurrences resumed after a restart run too, though this
    /// daemon did not launch them. Read once per batch of launches (the
    /// sessions launched in between are in `stops`). None while the store
    /// cannot be read.
    async fn resumed_starts(&mut self) -> Option<HashMap<String, Vec<DateTime<Utc>>>> {
        match self.context.store.active().await {
            Ok(active) => {
                if self.outage.take().is_some() {
                    self.emit(Event::StoreRecovered);
                }
                let mut starts: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
                let now = self.context.clock.now();
                // One past its scheduled end is being stopped, or its driver
                // died and it is about to be: it holds no later one back.
                for session in active.into_iter().filter(|s| s.scheduled_end > now) {
                    starts
                        .entry(session.begun.plan)
                        .or_default()
                        .push(session.begun.scheduled_start);
                }
                Some(starts)
            }
            Err(error) => {
                self.store_failed(error);
                None
            }
        }
    }

    fn store_failed(&mut self, error: StoreError) {
        if error.kind() != StoreErrorKind::Unavailable && error.kind() != StoreErrorKind::Corrupt {
            tracing::error!(%error, "the state store refused a read");
            return;
        }
        if self.outage.is_none() {
            self.emit(Event::StoreUnavailable {
                error: error.to_string(),
            });
        }
        let now = Instant::now();
        let since = self.outage.as_ref().map_or(now, |o| o.since);
        self.outage = Some(Outage {
            since,
            error,
            probe: now + STORE_PROBE_INTERVAL,
        });
    }

    /// Starts the occurrence of `path`'s plan at `start`, unless the plan's
    /// `overlap` says otherwise.
    pub(super) fn launch(
        &mut self,
        path: &Path,
        start: DateTime<Utc>,
        late: bool,
        resumed: &HashMap<String, Vec<DateTime<Utc>>>,
    ) -> Launched {
        let Some(plan) = self.plans.get(path).cloned() else {
            return Launched::Skipped("the plan is gone".to_owned());
        };
        let key: OccurrenceKey = (plan.name().to_owned(), start);
        if self.stops.contains_key(&key) {
            return Launched::Skipped("this occurrence is already running".to_owned());
        }
        let name = plan.name().to_owned();
        let previous: Vec<OccurrenceKey> = self
            .stops
            .range((name.clone(), DateTime::<Utc>::MIN_UTC)..=(name, DateTime::<Utc>::MAX_UTC))
            .map(|(key, _)| key.clone())
            .collect();
        let resumed = resumed
            .get(plan.name())
            .is_some_and(|starts| starts.iter().any(|&other| other != start));
        if !previous.is_empty() || resumed {
            match plan.timing().overlap {
                Overlap::Skip => {
                    let reason =
                        "the previous occurrence is still running (overlap: skip)".to_owned();
                    self.emit(Event::Skipped {
                        plan: key.0,
                        start,
                        reason: reason.clone(),
                    });
                    return Launched::Skipped(reason);
                }
                Overlap::StopPrevious => {
                    for key in &previous {
                        if let Some(stop) = self.stops.get(key) {
                            let _ = stop.send(true);
                        }
                    }
                }
                Overlap::Allow => {}
            }
        }
        let occurrence = match plan.occurrence(plan.localize(start), &self.context.env, None) {
            Ok(occurrence) => occurrence,
            Err(error) => {
                let reason = error.to_string();
                self.emit(Event::Skipped {
                    plan: key.0,
                    start,
                    reason: reason.clone(),
                });
                return Launched::Skipped(reason);
            }
        };
        let launched = Launched::started(&occurrence);
        let (stop, stopped) = watch::channel(false);
        self.stops.insert(key.clone(), stop);
        self.emit(Event::Started {
            plan: key.0.clone(),
            start,
            late,
        });
        let context = self.context.clone();
        self.running.spawn(async move {
            let report = run_occurrence(&context, &occurrence, stopped.clone()).await;
            until_driven_elsewhere_end(&context, &report, stopped).await;
            (key, report)
        });
        launched
    }

    fn finished(
        &mut self,
        joined: Result<(OccurrenceKey, OccurrenceReport), tokio::task::JoinError>,
    ) {
        match joined {
            Ok((key, report)) => {
                self.stops.remove(&key);
                let completed = report.all_completed();
                self.summary.occurrences += 1;
                self.summary.failed += usize::from(!completed);
                self.emit(Event::Finished {
                    plan: key.0,
                    start: key.1,
                    completed,
                    report: Arc::new(report),
                });
            }
            Err(error) => tracing::error!(%error, "an occurrence task ended abnormally"),
        }
    }

    pub(super) fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }
}

/// Why the main loop ended.
enum Ended {
    Shutdown,
    Detach,
    StoreUnavailable,
}

/// Sleeps until `at`, or forever without one.
async fn wait_until(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
