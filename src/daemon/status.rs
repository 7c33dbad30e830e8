//! What the daemon's listener reports: plans and their next start, live
//! sessions, and counters, as JSON and in Prometheus' text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::PoisonError;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Event;
use crate::agora::ResilientClient;
use crate::plan::Diagnostic;
use crate::session::{Outcome, Progress, Stage};

/// Upper bounds of the step lateness histogram, in milliseconds.
const LATENESS_BUCKETS_MS: [u64; 9] = [1, 5, 10, 25, 50, 100, 250, 1000, 10_000];

/// The daemon's state as the outside sees it. Fed by the daemon's events
/// and the sessions' progress; read by the listener.
#[derive(Default)]
pub struct Status {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The plans are loaded and the schedule runs.
    loaded: bool,
    store_unavailable: Option<String>,
    stopping: bool,
    plans: BTreeMap<String, PlanView>,
    /// Files with no plan in force, and why.
    problems: BTreeMap<PathBuf, Problem>,
    /// Plan files following a calendar URL whose last fetch failed, with
    /// what validation said: the last good copy is in use.
    stale_calendars: BTreeMap<PathBuf, String>,
    sessions: BTreeMap<(String, String), SessionView>,
    counters: Counters,
    /// Occurrences and sessions by plan and outcome.
    occurrences: BTreeMap<(String, &'static str), u64>,
    sessions_ended: BTreeMap<(String, &'static str), u64>,
    lateness: Histogram,
}

#[derive(Default)]
struct Counters {
    sessions_started: u64,
    sessions_failed: u64,
    sessions_stopped: u64,
    occurrences_started: u64,
    occurrences_skipped: u64,
    plans_invalid: u64,
}

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENESS_BUCKETS_MS.len()],
    count: u64,
    sum_ms: u64,
}

/// A plan in force, for `/sessions` and the per-plan gauges.
#[derive(Clone, Debug, Serialize)]
pub struct PlanView {
    pub plan: String,
    pub path: PathBuf,
    pub next: Option<DateTime<Utc>>,
    /// Why the file's current version is not in force (the last valid one
    /// is), if it is not.
    pub problem: Option<String>,
    /// When the version in force was loaded.
    pub loaded_at: DateTime<Utc>,
}

/// A file with no plan in force: invalid, or refused for its name.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    pub path: PathBuf,
    pub plan: Option<String>,
    pub problem: String,
}

/// A live session, for `/sessions`.
#[derive(Clone, Debug, Serialize)]
pub struct SessionView {
    pub cname: String,
    pub uid: String,
    pub phase: Stage,
    pub message: String,
    pub resource_id: Option<String>,
    pub sid: Option<String>,
}

impl Status {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Counters cannot be left half-written: a poisoned lock is fine.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why the daemon is not doing its job, if it is not.
    pub fn not_ready(&self) -> Option<String> {
        let inner = self.lock();
        if inner.stopping {
            Some("shutting down".to_owned())
        } else if let Some(error) = &inner.store_unavailable {
            Some(format!("the state store is unavailable: {error}"))
        } else if !inner.loaded {
            Some("loading plans".to_owned())
        } else {
            None
        }
    }

    pub fn observe_event(&self, event: &Event) {
        let mut inner = self.lock();
        match event {
            Event::Loaded {
                plan,
                path,
                next,
                at,
            } => {
                inner.problems.remove(path);
                inner.plans.insert(
                    plan.clone(),
                    PlanView {
                        plan: plan.clone(),
                        path: path.clone(),
                        next: *next,
                        problem: None,
                        loaded_at: *at,
                    },
                );
            }
            Event::Scheduled { plan, next } => {
                if let Some(view) = inner.plans.get_mut(plan) {
                    view.next = *next;
                }
            }
            Event::Invalid {
                path,
                kept,
                diagnostics,
            } => {
                inner.counters.plans_invalid += 1;
                let first = diagnostics
                    .iter()
                    .find(|d| d.is_error())
                    .map_or_else(String::new, problem_line);
                match kept.as_ref().and_then(|plan| inner.plans.get_mut(plan)) {
                    Some(view) => {
                        view.problem =
                            Some(format!("{first} (the last valid version stays in force)"));
                    }
                    None => {
                        inner.problems.insert(
                            path.clone(),
                            Problem {
                                path: path.clone(),
                                plan: None,
                                problem: first,
                            },
                        );
                    }
                }
            }
            Event::Refused { plan, path, kept } => {
                inner.counters.plans_invalid += 1;
                inner.problems.insert(
                    path.clone(),
                    Problem {
                        path: path.clone(),
                        plan: Some(plan.clone()),
                        problem: format!(
                            "plan name `{plan}` is already used by {}: this file is refused",
                            kept.display()
                        ),
                    },
                );
            }
            Event::Removed { plan, path } => {
                inner.problems.remove(path);
                inner.stale_calendars.remove(path);
                if let Some(plan) = plan
                    && inner.plans.get(plan).is_some_and(|view| view.path == *path)
                {
                    inner.plans.remove(plan);
                }
            }
            Event::Ready { .. } => inner.loaded = true,
            Event::StoreUnavailable { error } => inner.store_unavailable = Some(error.clone()),
            Event::StoreRecovered => inner.store_unavailable = None,
            Event::Stopping => inner.stopping = true,
            Event::Started { plan, .. } => {
                inner.counters.occurrences_started += 1;
                count(&mut inner.occurrences, plan, "started");
            }
            Event::Skipped { plan, .. } => {
                inner.counters.occurrences_skipped += 1;
                count(&mut inner.occurrences, plan, "skipped");
            }
            Event::Missed { plan, .. } => count(&mut inner.occurrences, plan, "missed"),
            Event::Finished {
                plan,
                completed,
                report,
                ..
            } => {
                let outcome = if *completed { "completed" } else { "failed" };
                count(&mut inner.occurrences, plan, outcome);
                for session in &report.sessions {
                    count(
                        &mut inner.sessions_ended,
                        plan,
                        outcome_name(session.outcome),
                    );
                }
            }
            Event::Warned {
                path, diagnostics, ..
            } => {
                // The file's current version loaded: a version restored
                // after a broken edit is in force again, though unchanged
                // from the one kept (so not loaded anew).
                for view in inner.plans.values_mut().filter(|view| view.path == *path) {
                    view.problem = None;
                }
                match stale_calendar(diagnostics) {
                    Some(problem) => inner.stale_calendars.insert(path.clone(), problem),
                    None => inner.stale_calendars.remove(path),
                };
            }
            Event::Reloaded { .. } => {}
        }
    }

    pub fn observe_progress(&self, progress: &Progress) {
        let mut inner = self.lock();
        let key = (progress.cname.clone(), progress.uid.clone());
        match progress.stage {
            Stage::Confirming => inner.counters.sessions_started += 1,
            Stage::Failed => inner.counters.sessions_failed += 1,
            Stage::Stopped => inner.counters.sessions_stopped += 1,
            _ => {}
        }
        if let Some(step) = &progress.step
            && let Some(late) = step.late_ms
        {
            inner.lateness.observe(late);
        }
        if matches!(progress.stage, Stage::Stopped | Stage::Failed) {
            inner.sessions.remove(&key);
        } else {
            let view = SessionView {
                cname: progress.cname.clone(),
                uid: progress.uid.clone(),
                phase: progress.stage,
                message: progress.message.clone(),
                resource_id: progress.recording.as_ref().map(|r| r.resource_id.clone()),
                sid: progress.recording.as_ref().map(|r| r.sid.clone()),
            };
            inner.sessions.insert(key, view);
        }
    }

    /// Live sessions and plans, for `/sessions`.
    pub fn snapshot(&self) -> serde_json::Value {
        let inner = self.lock();
        serde_json::json!({
            "sessions": inner.sessions.values().collect::<Vec<_>>(),
            "plans": inner.plans_with_problems(),
            "problems": inner.problems.values().collect::<Vec<_>>(),
        })
    }

    /// Every metric in Prometheus' text exposition format.
    pub fn prometheus(&self, client: &ResilientClient) -> String {
        let inner = self.lock();
        let mut out = String::new();
        let c = &inner.counters;
        gauge(
            &mut out,
            "recplan_sessions_active",
            "Sessions started and not yet stopped.",
            inner.sessions.len() as u64,
        );
        counter(
            &mut out,
            "recplan_sessions_started_total",
            "Recordings started (restarts included).",
            c.sessions_started,
        );
        counter(
            &mut out,
            "recplan_sessions_failed_total",
            "Sessions that ended failed.",
            c.sessions_failed,
        );
        counter(
            &mut out,
            "recplan_sessions_stopped_total",
            "Sessions stopped.",
            c.sessions_stopped,
        );
        counter(
            &mut out,
            "recplan_occurrences_started_total",
            "Occurrences started.",
            c.occurrences_started,
        );
        counter(
            &mut out,
            "recplan_occurrences_skipped_total",
            "Occurrences skipped by overlap or a render error.",
            c.occurrences_skipped,
        );
        counter(
            &mut out,
            "recplan_plans_invalid_total",
            "Plan loads that failed.",
            c.plans_invalid,
        );

        header(
            &mut out,
            "recplan_api_calls_total",
            "Agora calls by endpoint and HTTP status (none: no answer).",
            "counter",
        );
        for call in client.call_counts() {
            let status = call
                .status
                .map_or_else(|| "none".to_owned(), |s| s.to_string());
            let _ = writeln!(
                out,
                "recplan_api_calls_total{{endpoint=\"{}\",status=\"{status}\"}} {}",
                call.endpoint, call.calls
            );
        }
        header(
            &mut out,
            "recplan_api_retries_total",
            "Agora calls repeated, by endpoint and error class.",
            "counter",
        );
        for retry in client.retry_counts() {
            let _ = writeln!(
                out,
                "recplan_api_retries_total{{endpoint=\"{}\",class=\"{}\"}} {}",
                retry.endpoint,
                retry.class.name(),
                retry.retries
            );
        }
        let waits = client.limiter().stats();
        header(
            &mut out,
            "recplan_rate_limit_wait_seconds_total",
            "Time calls waited for the rate limiter, by priority.",
            "counter",
        );
        for priority in crate::agora::Priority::ALL {
            let counts = waits.of(priority);
            let _ = writeln!(
                out,
                "recplan_rate_limit_wait_seconds_total{{priority=\"{priority:?}\"}} {:.3}",
                counts.total.as_secs_f64()
            );
        }
        counter(
            &mut out,
            "recplan_rate_limited_total",
            "429 answers from Agora.",
            waits.pauses,
        );
        let slots = &waits.shared;
        counter(
            &mut out,
            "recplan_rate_limit_shared_slots_total",
            "Slots reserved in the rate limit shared with the other runners on the store.",
            slots.reserved,
        );
        header(
            &mut out,
            "recplan_rate_limit_shared_slots_unused_total",
            "Shared slots reserved and left unused (given back), by reason.",
            "counter",
        );
        for (reason, count) in [
            ("late", slots.late),
            ("uncertain", slots.uncertain),
            ("unclaimed", slots.unclaimed),
        ] {
            let _ = writeln!(
                out,
                "recplan_rate_limit_shared_slots_unused_total{{reason=\"{reason}\"}} {count}"
            );
        }
        counter(
            &mut out,
            "recplan_rate_limit_shared_waits_total",
            "Asks for a shared slot answered with a wait (window full, or a better priority waiting elsewhere).",
            slots.waits,
        );
        header(
            &mut out,
            "recplan_rate_limit_shared_idle_seconds_total",
            "Time the shared quota stood unused while calls waited, before the slots this runner reserved.",
            "counter",
        );
        let _ = writeln!(
            out,
            "recplan_rate_limit_shared_idle_seconds_total {:.3}",
            slots.idle.as_secs_f64()
        );

        header(
            &mut out,
            "recplan_step_lateness_seconds",
            "How late steps were sent after their offset.",
            "histogram",
        );
        let mut cumulative = 0;
        for (bound, count) in LATENESS_BUCKETS_MS.iter().zip(inner.lateness.buckets) {
            cumulative += count;
            let le = bound_seconds(*bound);
            let _ = writeln!(
                out,
                "recplan_step_lateness_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "recplan_step_lateness_seconds_bucket{{le=\"+Inf\"}} {}",
            inner.lateness.count
        );
        let _ = writeln!(
            out,
            "recplan_step_lateness_seconds_sum {}",
            bound_seconds(inner.lateness.sum_ms)
        );
        let _ = writeln!(
            out,
            "recplan_step_lateness_seconds_count {}",
            inner.lateness.count
        );

        per_plan(&mut out, &inner);
        out
    }
}

/// The gauges and counters labelled by plan.
fn per_plan(out: &mut String, inner: &Inner) {
    plan_gauge(
        out,
        inner,
        "recplan_plan_next_start_timestamp_seconds",
        "Next scheduled start per plan (Unix time).",
        |plan| plan.next.map(|next| next.timestamp()),
    );
    plan_gauge(
        out,
        inner,
        "recplan_plan_config_valid",
        "1 if the plan file's current version is in force, 0 if the last valid one is.",
        |plan| Some(i64::from(plan.problem.is_none())),
    );
    plan_gauge(
        out,
        inner,
        "recplan_plan_config_last_reload_success_timestamp_seconds",
        "When the plan's version in force was loaded (Unix time).",
        |plan| Some(plan.loaded_at.timestamp()),
    );
    plan_gauge(
        out,
        inner,
        "recplan_plan_calendar_stale",
        "1 if the plan's calendar URL could not be fetched and an earlier copy is in use.",
        |plan| Some(i64::from(inner.stale_calendars.contains_key(&plan.path))),
    );
    gauge(
        out,
        "recplan_plan_files_refused",
        "Plan files not in force: invalid with no valid version before, or a plan name already used.",
        inner.problems.len() as u64,
    );
    labelled(
        out,
        "recplan_occurrences_total",
        "Occurrences by plan and outcome: started, then completed, failed, skipped or missed.",
        &inner.occurrences,
    );
    labelled(
        out,
        "recplan_sessions_ended_total",
        "Sessions of finished occurrences by plan and outcome.",
        &inner.sessions_ended,
    );
}

/// A gauge with a line per plan that has a value.
fn plan_gauge(
    out: &mut String,
    inner: &Inner,
    name: &str,
    help: &str,
    value: impl Fn(&PlanView) -> Option<i64>,
) {
    header(out, name, help, "gauge");
    for plan in inner.plans.values() {
        if let Some(value) = value(plan) {
            let _ = writeln!(out, "{name}{{plan=\"{}\"}} {value}", plan.plan);
        }
    }
}

fn labelled(
    out: &mut String,
    name: &str,
    help: &str,
    values: &BTreeMap<(String, &'static str), u64>,
) {
    header(out, name, help, "counter");
    for ((plan, outcome), value) in values {
        let _ = writeln!(
            out,
            "{name}{{plan=\"{plan}\",outcome=\"{outcome}\"}} {value}"
        );
    }
}

fn count(values: &mut BTreeMap<(String, &'static str), u64>, plan: &str, outcome: &'static str) {
    *values.entry((plan.to_owned(), outcome)).or_default() += 1;
}

/// A session's outcome as a metric's label: the shared word, `skipped`
/// when another runner ran it.
fn outcome_name(outcome: Option<Outcome>) -> &'static str {
    outcome.map_or("skipped", Outcome::as_str)
}

/// A diagnostic in one line, for `/sessions`.
impl Inner {
    /// The plans in force for `/sessions`, a stale calendar as the problem
    /// of a plan that has no other.
    fn plans_with_problems(&self) -> Vec<PlanView> {
        (self.plans.values())
            .map(|view| {
                let mut view = view.clone();
                if view.problem.is_none() {
                    view.problem = self.stale_calendars.get(&view.path).cloned();
                }
                view
            })
            .collect()
    }
}

/// What validation says of a calendar URL whose last fetch failed: a
/// warning on `schedule.ics` (an unusable calendar is an error instead).
pub(super) fn stale_calendar(diagnostics: &[Diagnostic]) -> Option<String> {
    (diagnostics.iter())
        .find(|d| d.path == "schedule.ics" && !d.is_error())
        .map(|d| d.message.clone())
}

fn problem_line(diagnostic: &Diagnostic) -> String {
    let mut line = format!(
        "{}:{}:{}: ",
        diagnostic.file.display(),
        diagnostic.line,
        diagnostic.column
    );
    if !diagnostic.path.is_empty() {
        let _ = write!(line, "{}: ", diagnostic.path);
    }
    line.push_str(&diagnostic.message);
    line
}

impl Histogram {
    fn observe(&mut self, ms: u64) {
        if let Some(bucket) = LATENESS_BUCKETS_MS.iter().position(|bound| ms <= *bound) {
            self.buckets[bucket] += 1;
        }
        self.count += 1;
        self.sum_ms = self.sum_ms.saturating_add(ms);
    }
}

fn bound_seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, help, "counter");
    let _ = writeln!(out, "{name} {value}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, help, "gauge");
    let _ = writeln!(out, "{name} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_while_the_daemon_does_its_job() {
        let status = Status::default();
        assert_eq!(status.not_ready().as_deref(), Some("loading plans"));
        status.observe_event(&Event::Ready { plans: 1 });
        assert_eq!(status.not_ready(), None);
        status.observe_event(&Event::StoreUnavailable {
            error: "disk I/O error".into(),
        });
        assert_eq!(
            status.not_ready().as_deref(),
            Some("the state store is unavailable: disk I/O error")
        );
        status.observe_event(&Event::StoreRecovered);
        assert_eq!(status.not_ready(), None);
        status.observe_event(&Event::Stopping);
        assert_eq!(status.not_ready().as_deref(), Some("shutting down"));
    }

    fn client() -> ResilientClient {
        use crate::agora::{ApiBase, Client, ClientConfig, Credentials, Secret};
        let client = Client::new(ClientConfig {
            base: ApiBase::parse("http://127.0.0.1:9").unwrap(),
            app_id: "0123456789abcdef0123456789abcdef".to_owned(),
            credentials: Credentials::new("customer", Secret::new("secret")),
            timeout: std::time::Duration::from_secs(1),
        })
        .unwrap();
        ResilientClient::new(
            client,
            crate::agora::RateLimiter::default(),
            crate::agora::RetryPolicy::default(),
        )
    }

    #[test]
    fn a_stale_calendar_is_the_plans_problem_until_fetched_again() {
        let status = Status::default();
        let path = PathBuf::from("plans/review.yaml");
        status.observe_event(&Event::Loaded {
            plan: "review".into(),
            path: path.clone(),
            next: None,
            at: DateTime::UNIX_EPOCH,
        });
        let stale = "the calendar could not be fetched (HTTP 503); using the copy fetched at \
                     2026-12-01T09:00:00+00:00";
        let warned = |diagnostics: Vec<Diagnostic>| Event::Warned {
            plan: "review".into(),
            path: path.clone(),
            diagnostics,
        };
        status.observe_event(&warned(vec![Diagnostic::warning(
            &path,
            "schedule.ics",
            stale,
        )]));
        assert_eq!(status.snapshot()["plans"][0]["problem"], stale);
        let metrics = status.prometheus(&client());
        assert!(
            metrics.contains("recplan_plan_calendar_stale{plan=\"review\"} 1\n"),
            "{metrics}"
        );
        assert!(
            metrics.contains("recplan_plan_config_valid{plan=\"review\"} 1\n"),
            "the file itself is fine: {metrics}"
        );

        status.observe_event(&warned(Vec::new()));
        assert_eq!(
            status.snapshot()["plans"][0]["problem"],
            serde_json::Value::Null
        );
        let metrics = status.prometheus(&client());
        assert!(
            metrics.contains("recplan_plan_calendar_stale{plan=\"review\"} 0\n"),
            "{metrics}"
        );
    }

    #[test]
    fn a_file_put_back_as_it_was_after_a_broken_edit_is_in_force_again() {
        let status = Status::default();
        let path = PathBuf::from("plans/review.yaml");
        status.observe_event(&Event::Loaded {
            plan: "review".into(),
            path: path.clone(),
            next: None,
            at: DateTime::UNIX_EPOCH,
        });
        status.observe_event(&Event::Invalid {
            path: path.clone(),
            kept: Some("review".into()),
            diagnostics: vec![Diagnostic::error(&path, "name", "not a name")],
        });
        assert!(status.snapshot()["plans"][0]["problem"].is_string());
        // Unchanged from the version kept, so not loaded anew: only warned.
        status.observe_event(&Event::Warned {
            plan: "review".into(),
            path,
            diagnostics: Vec::new(),
        });
        assert_eq!(
            status.snapshot()["plans"][0]["problem"],
            serde_json::Value::Null
        );
    }
}
