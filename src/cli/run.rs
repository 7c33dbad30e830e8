use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, SecondsFormat, SubsecRound as _, Utc};
use tokio::sync::{mpsc, watch};

use super::connect::{self, Signal, Signals};
use super::{exit, load_plan, parse_time};
use crate::clock::Clock;
use crate::plan::{Env, MissingEnv, Plan, format_duration, parse_duration};
use crate::session::{
    Context, OccurrenceReport, Outcome, Progress, SessionReport, recoverable, run_occurrence,
};
use crate::store::{Driver, Driving, OccurrenceKey, Store, StoreError, StoredSession};

/// Runs one occurrence of a plan for every channel: acquire, start, steps
/// at their offsets, monitoring, stop.
///
/// With neither --now nor --at it runs the occurrence that is due (the
/// latest scheduled start within the plan's starting_deadline): what cron,
/// systemd timers and Kubernetes CronJobs invoke.
///
/// Progress goes to stderr: time elapsed and left in whole seconds, and
/// each step as it is sent, with its lateness. The summary goes to stdout
/// (`--json`: times to the millisecond).
///
/// Ctrl-C or SIGTERM stops every started recording before exiting (exit
/// 130). A second Ctrl-C exits at once, naming each session that may still
/// be recording (session id, resourceId, sid) and the `recplan stop ID` and
/// `recplan recover` commands that finish the job: exit 1, or 130 if
/// nothing was left running.
///
/// Example: recplan run plans/demo.yaml --now --sim
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file (YAML).
    plan: PathBuf,
    /// Start the occurrence now.
    #[arg(long, conflicts_with = "at")]
    now: bool,
    /// Run the occurrence starting at this time (RFC 3339); a time already
    /// past runs the remainder of that occurrence.
    #[arg(long, value_parser = parse_time)]
    at: Option<DateTime<FixedOffset>>,
    /// Length of the occurrence, overriding the plan's duration.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    state: connect::StateArgs,
    /// Run against the built-in simulator, started in-process with demo
    /// credentials, instead of Agora.
    #[arg(long)]
    sim: bool,
}

pub fn run(args: &Args) -> u8 {
    let Some(runtime) = connect::runtime() else {
        return exit::FAILED;
    };
    runtime.block_on(run_async(args))
}

async fn run_async(args: &Args) -> u8 {
    let mut env = Env::from_process();
    // The plan is checked, and what is due found, before anything starts:
    // the simulator included.
    if args.sim {
        connect::simulated_env(&mut env);
    }
    let plan = match load_plan(&args.plan, &env, MissingEnv::Refuse) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let clock = Clock::system();
    let start = match choose_start(&plan, args, clock.now()) {
        Ok(start) => start,
        Err(code) => return code,
    };
    let occurrence = match plan.occurrence(start, &env, args.duration) {
        Ok(occurrence) => occurrence,
        Err(error) => {
            return super::report_plan_error(error);
        }
    };
    if occurrence.end().to_utc() <= clock.now() {
        errln!(
            "error: the occurrence {} ended at {}; nothing to record",
            to_second(occurrence.start.fixed_offset()),
            to_second(occurrence.end())
        );
        return exit::FAILED;
    }
    let simulator = match connect::simulator(args.sim, &mut env).await {
        Ok(simulator) => simulator,
        Err(code) => return code,
    };
    if let Some(handle) = &simulator {
        errln!("simulator listening on {}", handle.uri());
    }
    let app_id = occurrence
        .sessions
        .first()
        .map(|s| s.app_id.clone())
        .unwrap_or_default();
    let client = match connect::api_client(&env, simulator.as_ref(), &app_id) {
        Ok(client) => client,
        Err(message) => {
            errln!("error: {message}");
            return exit::FAILED;
        }
    };
    let store = match args.state.open(args.sim).await {
        Ok(store) => store,
        Err(message) => {
            errln!("error: {message}; nothing was sent");
            return exit::FAILED;
        }
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (progress, progress_rx) = mpsc::unbounded_channel();
    let window = (occurrence.start.to_utc(), occurrence.end().to_utc());
    let printer = tokio::spawn(print_progress(progress_rx, clock, window.0, window.1));
    let left_behind = LeftBehind {
        store: store.clone(),
        keys: occurrence
            .sessions
            .iter()
            .map(|spec| OccurrenceKey {
                plan: occurrence.plan.clone(),
                cname: spec.cname.clone(),
                uid: spec.uid.clone(),
                scheduled_start: occurrence.start.to_utc(),
            })
            .collect(),
        simulated: args.sim,
        state_flags: args.state.flags_for(&store),
    };
    let signals = tokio::spawn(watch_signals(shutdown_tx, left_behind));
    // One rate limit with every other runner on the store (a daemon, other
    // CronJob pods).
    client.limiter().share(store.rate_window());
    let context = Context {
        client,
        store,
        clock,
        env,
        progress,
        stops: crate::session::Stops::default(),
    };
    // Sessions a crashed run left behind are resumed or stopped beside
    // this occurrence.
    let recovery = recoverable(&context, &shutdown_rx).await;
    let (report, recovered) = tokio::join!(
        run_occurrence(&context, &occurrence, shutdown_rx.clone()),
        recovery.run()
    );
    drop(context);
    signals.abort();
    let _ = printer.await;
    let interrupted = *shutdown_rx.borrow();
    if !recovered.is_empty() {
        errln!(
            "recovered {} session(s) left by an earlier run",
            recovered.len()
        );
    }
    print_report(&report, args.json);
    if let Some(handle) = simulator {
        let _ = handle.shutdown().await;
    }
    exit_code(&report, interrupted)
}

/// An instant to the second, with its offset, for people.
fn to_second(at: DateTime<FixedOffset>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn exit_code(report: &OccurrenceReport, interrupted: bool) -> u8 {
    let left_running = report
        .sessions
        .iter()
        .any(crate::session::SessionReport::maybe_running);
    if report.all_completed() {
        exit::OK
    } else if interrupted && !left_running {
        exit::INTERRUPTED
    } else {
        exit::FAILED
    }
}

/// The start of the occurrence to run: `--now`, `--at`, or the one due.
fn choose_start(
    plan: &Plan,
    args: &Args,
    now: DateTime<Utc>,
) -> Result<DateTime<crate::schedule::Tz>, u8> {
    if args.now {
        // To the millisecond, as the store keeps instants.
        return Ok(plan.localize(now.trunc_subsecs(3)));
    }
    if let Some(at) = args.at {
        return Ok(plan.localize(at.to_utc()));
    }
    if let Some(start) = plan.due_start(now) {
        Ok(start)
    } else {
        let next = plan.next_starts(now, 1).into_iter().next();
        match next {
            Some(next) => errln!(
                "{}: no occurrence is due; the next starts at {}",
                args.plan.display(),
                next.to_rfc3339()
            ),
            None => errln!(
                "{}: no occurrence is due, and the plan schedules none (use --now or --at)",
                args.plan.display()
            ),
        }
        Err(exit::NOTHING_DUE)
    }
}

/// Prints each session's progress on stderr (stdout is kept for the
/// summary, so `--json` output stays parseable): time into the occurrence
/// and time left, channel, phase, and what comes next; a step as it is
/// sent, with its lateness.
async fn print_progress(
    mut progress: mpsc::UnboundedReceiver<Progress>,
    clock: Clock,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) {
    let width = clock_text(end - start, end, start).chars().count();
    while let Some(event) = progress.recv().await {
        let now = clock.now();
        let what = match &event.step {
            Some(step) => format!(
                "{}; {}",
                step_text(step),
                event
                    .message
                    .strip_prefix("recording; ")
                    .unwrap_or(&event.message)
            ),
            None => format!("{:?}: {}", event.stage, event.message),
        };
        errln!(
            "{:<width$}  {}/{}: {what}",
            clock_text(now - start, end, now),
            event.cname,
            event.uid,
        );
    }
}

/// `elapsed 15s, 25s left`, whole seconds: elapsed rounded down and what is
/// left up, so that the two add up to the occurrence's length; before the
/// start, `starts in 5s`.
fn clock_text(elapsed: chrono::TimeDelta, end: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = |span: chrono::TimeDelta, up: bool| {
        let whole = span.num_seconds().max(0);
        let part = span.subsec_nanos() > 0 && span > chrono::TimeDelta::zero();
        let whole = if up && part { whole + 1 } else { whole };
        format_duration(Duration::from_secs(whole.unsigned_abs()))
    };
    if elapsed < chrono::TimeDelta::zero() {
        return format!("starts in {}", seconds(-elapsed, true));
    }
    format!(
        "elapsed {}, {} left",
        seconds(elapsed, false),
        seconds(end - now, true)
    )
}

/// A step as sent: `+15s updateLayout sent (12 ms late)`.
fn step_text(step: &crate::session::StepReport) -> String {
    let late = step
        .late_ms
        .map(|ms| format!(" ({ms} ms late)"))
        .unwrap_or_default();
    if step.outcome == "ok" {
        format!("+{} {} sent{late}", step.at, step.endpoint)
    } else {
        format!(
            "+{} {} sent{late}, {}",
            step.at, step.endpoint, step.outcome
        )
    }
}

/// What a forced exit must name: this occurrence's sessions in the store,
/// and how to reach that store again.
struct LeftBehind {
    store: Store,
    keys: Vec<OccurrenceKey>,
    /// The simulator's recordings end with this process.
    simulated: bool,
    /// `--state-dir DIR`, for the commands printed.
    state_flags: String,
}

impl LeftBehind {
    /// This occurrence's sessions that this process still drives: what
    /// may keep recording once it exits.
    async fn sessions(&self) -> Result<Vec<StoredSession>, StoreError> {
        let this = Some(Driver::this_process());
        let mut left = Vec::new();
        for key in &self.keys {
            let Some(session) = self.store.find(key).await? else {
                continue;
            };
            if session.is_active()
                && self.store.driving(session.id).await? == Driving::By(this.clone())
            {
                left.push(session);
            }
        }
        Ok(left)
    }

    /// Says what was left and how to finish the job; the exit code: 130
    /// when nothing may still be recording, else 1 (a recording was not
    /// stopped).
    async fn report(&self) -> u8 {
        if self.simulated {
            errln!("exiting at once; the simulator's recordings end with it");
            return exit::INTERRUPTED;
        }
        let left = match self.sessions().await {
            Ok(left) => left,
            Err(error) => {
                errln!(
                    "exiting at once; recordings may still run, and the state store cannot say which ({error}): `recplan status{}` lists them",
                    self.state_flags
                );
                return exit::FAILED;
            }
        };
        if left.is_empty() {
            errln!("exiting at once; no recording was left running");
            return exit::INTERRUPTED;
        }
        errln!(
            "exiting at once with {} session(s) that may still be recording:",
            left.len()
        );
        for session in &left {
            errln!(
                "  session {}: {} uid {} ({}) resourceId {} sid {}",
                session.id,
                session.cname,
                session.current_uid,
                session.phase,
                session.resource_id.as_deref().unwrap_or("-"),
                session.sid.as_deref().unwrap_or("-"),
            );
        }
        errln!("stop them now:");
        for session in &left {
            errln!("  recplan stop {}{}", session.id, self.state_flags);
        }
        errln!(
            "or let them record to their end: recplan recover{}",
            self.state_flags
        );
        exit::FAILED
    }
}

/// First Ctrl-C or SIGTERM: stop every started recording. Second: exit at
/// once, naming what was left running and the commands that finish the
/// job.
async fn watch_signals(shutdown: watch::Sender<bool>, left_behind: LeftBehind) {
    let Ok(mut signals) = Signals::new() else {
        return;
    };
    while signals.next().await != Signal::Stop {}
    errln!("stopping every started recording (press Ctrl-C again to exit at once)");
    let _ = shutdown.send(true);
    while signals.next().await != Signal::Stop {}
    std::process::exit(i32::from(left_behind.report().await));
}

fn print_report(report: &OccurrenceReport, json: bool) {
    if json {
        let _ = outln!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
        return;
    }
    let _ = outln!(
        "plan {}: {} to {}",
        report.plan,
        to_second(report.start),
        to_second(report.end)
    );
    for session in &report.sessions {
        print_session(session);
    }
}

/// One session's outcome, ids, steps, files and errors, indented.
pub(super) fn print_session(session: &SessionReport) {
    let outcome = match session.outcome {
        None => "skipped".to_owned(),
        Some(Outcome::Failed) if session.failure_ignored => {
            "failed (on_failure: ignore)".to_owned()
        }
        Some(Outcome::Failed) => "FAILED".to_owned(),
        // With the real end: an interrupted session did not end on plan.
        Some(outcome) => match session.ended_at {
            Some(at) => format!("{outcome} at {}", to_second(at.fixed_offset())),
            None => outcome.to_string(),
        },
    };
    let _ = outln!("  {} uid {}: {outcome}", session.cname, session.uid);
    if let (Some(resource), Some(sid)) = (&session.resource_id, &session.sid) {
        let _ = outln!("    resourceId {resource}\n    sid {sid}");
    }
    if session.restarts > 0 {
        let _ = outln!("    restarted {} time(s)", session.restarts);
    }
    for step in &session.steps {
        let late = step
            .late_ms
            .map(|ms| format!(" ({ms} ms late)"))
            .unwrap_or_default();
        let _ = outln!(
            "    step +{} {}: {}{late}",
            step.at,
            step.endpoint,
            step.outcome
        );
    }
    for file in &session.files {
        let _ = outln!("    file {}", file.file_name);
    }
    if let Some(status) = &session.uploading_status {
        let _ = outln!("    upload: {status}");
    }
    for error in &session.errors {
        let _ = outln!("    error: {error}");
    }
}
