//! `recplan daemon`: every plan on its schedule, unattended.
//!
//! One task owns the plans and the timer for the next start; each
//! occurrence runs as its own task (the same [`run_occurrence`] as
//! `recplan run`) in a `JoinSet`. Reload, shutdown and finished
//! occurrences all arrive at one `select!`, so there is one shutdown path.

pub mod calendars;
pub mod http;
pub mod notify;
mod plans;
pub mod status;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::sleep_until;

pub use plans::PlanSet;

use crate::plan::Diagnostic;
use crate::plan::raw::Overlap;
use crate::session::{Context, OccurrenceReport, recoverable, run_occurrence};
use crate::store::{Begin, NewSession, Transition};

/// What the daemon is told from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Re-read the plans (SIGHUP, a changed file).
    Reload,
    /// Stop every started recording and exit (SIGTERM, SIGINT).
    Shutdown,
    /// Exit, leaving recordings running for the next start to resume.
    Detach,
}

/// What happened, for logs, metrics and tests.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Loaded {
        plan: String,
        path: PathBuf,
        next: Option<DateTime<Utc>>,
    },
    /// A plan's next start, after one began.
    Scheduled {
        plan: String,
        next: Option<DateTime<Utc>>,
    },
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
    /// The plans are loaded and the schedule runs.
    Ready,
    Removed {
        path: PathBuf,
    },
    Started {
        plan: String,
        start: DateTime<Utc>,
        late: bool,
    },
    Skipped {
        plan: String,
        start: DateTime<Utc>,
        reason: String,
    },
    Finished {
        plan: String,
        start: DateTime<Utc>,
        completed: bool,
        /// What each session did. The daemon keeps none of it: over months
        /// it would grow without end.
        #[serde(skip)]
        report: Arc<OccurrenceReport>,
    },
}

/// How many occurrences a daemon ran, and how many of them had a session
/// that did not complete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub occurrences: usize,
    pub failed: usize,
}

/// The identity of one occurrence: plan and scheduled start.
type OccurrenceKey = (String, DateTime<Utc>);

/// How the daemon runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub paths: Vec<PathBuf>,
    /// How long shutdown waits for stop calls to be answered.
    pub stop_grace: Duration,
}

/// Runs plans until told to shut down; each occurrence's report goes out
/// with its [`Event::Finished`].
pub struct Daemon {
    options: Options,
    context: Context,
    plans: PlanSet,
    running: JoinSet<(OccurrenceKey, OccurrenceReport)>,
    /// By plan, then start: a plan's running occurrences are a range.
    stops: BTreeMap<OccurrenceKey, watch::Sender<bool>>,
    events: mpsc::UnboundedSender<Event>,
    summary: Summary,
}

impl Daemon {
    pub fn new(options: Options, context: Context, events: mpsc::UnboundedSender<Event>) -> Daemon {
        Daemon {
            plans: PlanSet::default(),
            options,
            context,
            running: JoinSet::new(),
            stops: BTreeMap::new(),
            events,
            summary: Summary::default(),
        }
    }

    /// The main loop. Returns when `control` says shutdown or detach (or
    /// its sender is gone, which counts as shutdown).
    pub async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) -> Summary {
        self.reload();
        // Sessions a previous process left are resumed beside new ones;
        // leases keep the two from driving the same session.
        let (recovery_stop, recovery_stopped) = watch::channel(false);
        let recovery = tokio::spawn(recoverable(&self.context, &recovery_stopped).run());
        self.start_missed();
        self.emit(Event::Ready);
        let detach = loop {
            let next = self
                .plans
                .next_start()
                .map(|(_, at)| self.context.clock.instant_at(at));
            tokio::select! {
                message = control.recv() => match message {
                    Some(Control::Reload) => self.reload(),
                    Some(Control::Detach) => break true,
                    Some(Control::Shutdown) | None => break false,
                },
                () = async { if let Some(at) = next { sleep_until(at).await } else { std::future::pending().await } } => {
                    self.start_due();
                }
                Some(joined) = self.running.join_next(), if !self.running.is_empty() => {
                    self.finished(joined);
                }
            }
        };
        if detach {
            // The tasks die with the runtime; the state store keeps what they
            // started for the next start to resume.
            self.running.detach_all();
            return self.summary;
        }
        let _ = recovery_stop.send(true);
        for stop in self.stops.values() {
            let _ = stop.send(true);
        }
        let deadline = tokio::time::Instant::now() + self.options.stop_grace;
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
        match tokio::time::timeout_at(deadline, recovery).await {
            Ok(Ok(recovered)) if !recovered.is_empty() => {
                tracing::info!(sessions = recovered.len(), "recovered sessions ended");
            }
            Ok(_) => {}
            Err(_) => {
                tracing::error!("shutdown grace ran out while recovered sessions were stopping");
            }
        }
        self.summary
    }

    fn reload(&mut self) {
        let now = self.context.clock.now();
        for event in self
            .plans
            .reload(&self.options.paths, &self.context.env, now)
        {
            self.emit(event);
        }
    }

    /// Occurrences that should be running now (missed while the daemon
    /// was down, within their starting deadline): started late for the
    /// remainder.
    fn start_missed(&mut self) {
        let now = self.context.clock.now();
        let due: Vec<(PathBuf, DateTime<Utc>)> = self.plans.due(now);
        let resumed = self.resumed_starts();
        for (path, start) in due {
            self.launch(&path, start, true, &resumed);
        }
        for (path, start) in self.plans.missed(now) {
            self.record_missed(&path, start);
        }
    }

    /// Writes an occurrence nobody ran in time into the store as missed, so
    /// that `history` shows the gap; one already there is left alone.
    fn record_missed(&mut self, path: &std::path::Path, start: DateTime<Utc>) {
        let Some(plan) = self.plans.get(path) else {
            return;
        };
        let Ok(occurrence) = plan.occurrence(plan.localize(start), &self.context.env, None) else {
            return;
        };
        let reason = "missed: recplan was not running within the plan's starting_deadline";
        let mut recorded = false;
        for spec in &occurrence.sessions {
            let new = NewSession::of(&occurrence, spec, &occurrence.plan_hash);
            let at = self.context.clock.now();
            if let Ok(Begin::Created(id)) = self.context.store.begin(&new, at) {
                recorded = true;
                if let Err(error) = self.context.store.record(
                    id,
                    at,
                    &Transition::Abandoned {
                        reason: reason.to_owned(),
                    },
                ) {
                    tracing::error!(session = %id, %error, "cannot record a missed occurrence");
                }
            }
        }
        if recorded {
            self.emit(Event::Skipped {
                plan: occurrence.plan,
                start,
                reason: reason.to_owned(),
            });
        }
    }

    fn start_due(&mut self) {
        let now = self.context.clock.now();
        let resumed = self.resumed_starts();
        while let Some((path, start)) = self.plans.next_start() {
            if start > now {
                break;
            }
            if let Some(event) = self.plans.advance(&path, start) {
                self.emit(event);
            }
            let late = now
                .signed_duration_since(start)
                .to_std()
                .unwrap_or_default()
                > Duration::from_secs(1);
            self.launch(&path, start, late, &resumed);
        }
    }

    /// The scheduled starts of every session in the store that is not over,
    /// by plan: occurrences resumed after a restart run too, though this
    /// daemon did not launch them. Read once per batch of launches (the
    /// sessions launched in between are in `stops`).
    fn resumed_starts(&self) -> HashMap<String, Vec<DateTime<Utc>>> {
        let mut starts: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
        match self.context.store.active() {
            Ok(active) => {
                for session in active {
                    starts
                        .entry(session.plan)
                        .or_default()
                        .push(session.scheduled_start);
                }
            }
            Err(error) => tracing::error!(%error, "cannot read the running sessions"),
        }
        starts
    }

    fn launch(
        &mut self,
        path: &std::path::Path,
        start: DateTime<Utc>,
        late: bool,
        resumed: &HashMap<String, Vec<DateTime<Utc>>>,
    ) {
        let Some(plan) = self.plans.get(path).cloned() else {
            return;
        };
        let key: OccurrenceKey = (plan.name().to_owned(), start);
        if self.stops.contains_key(&key) {
            return;
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
                        reason,
                    });
                    return;
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
                self.emit(Event::Skipped {
                    plan: key.0,
                    start,
                    reason: error.to_string(),
                });
                return;
            }
        };
        let (stop, stopped) = watch::channel(false);
        self.stops.insert(key.clone(), stop);
        self.emit(Event::Started {
            plan: key.0.clone(),
            start,
            late,
        });
        let context = self.context.clone();
        self.running.spawn(async move {
            let report = run_occurrence(&context, &occurrence, stopped).await;
            (key, report)
        });
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

    fn emit(&self, event: Event) {
        match &event {
            Event::Invalid { path, diagnostics } => {
                for diagnostic in diagnostics {
                    tracing::error!(path = %path.display(), "{diagnostic}");
                }
            }
            Event::Finished {
                plan,
                start,
                completed,
                ..
            } => tracing::info!(plan, %start, completed, "occurrence finished"),
            other => tracing::info!(event = ?other),
        }
        let _ = self.events.send(event);
    }
}
