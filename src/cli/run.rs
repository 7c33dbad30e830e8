use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use tokio::sync::{mpsc, watch};

use super::connect::{self, Signal, Signals};
use super::{exit, load_plan, parse_time};
use crate::agora::Recording;
use crate::clock::Clock;
use crate::plan::{Env, MissingEnv, Plan, format_duration, parse_duration};
use crate::session::{
    Context, OccurrenceReport, Outcome, Phase, Progress, SessionReport, recoverable, run_occurrence,
};

/// Runs one occurrence of a plan for every channel: acquire, start, steps
/// at their offsets, monitoring, stop.
///
/// With neither --now nor --at it runs the occurrence that is due (the
/// latest scheduled start within the plan's starting_deadline): what cron,
/// systemd timers and Kubernetes CronJobs invoke. Ctrl-C or SIGTERM stops
/// every started recording before exiting.
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
    let simulator = match connect::simulator(args.sim, &mut env).await {
        Ok(simulator) => simulator,
        Err(code) => return code,
    };
    if let Some(handle) = &simulator {
        errln!("simulator listening on {}", handle.uri());
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
            occurrence.start.to_rfc3339(),
            occurrence.end().to_rfc3339()
        );
        return exit::FAILED;
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
    let store = match args.state.open(args.sim) {
        Ok(store) => store,
        Err(message) => {
            errln!("error: {message}; nothing was sent");
            return exit::FAILED;
        }
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (progress, progress_rx) = mpsc::unbounded_channel();
    let live = LiveRecordings::default();
    let window = (occurrence.start.to_utc(), occurrence.end().to_utc());
    let printer = tokio::spawn(print_progress(
        progress_rx,
        live.clone(),
        clock,
        window.0,
        window.1,
    ));
    let signals = tokio::spawn(watch_signals(shutdown_tx, live));
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
    let recovery = recoverable(&context, &shutdown_rx);
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
        return Ok(plan.localize(now));
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

/// Recordings started and not yet stopped, by channel and uid: what a
/// forced exit must name.
#[derive(Clone, Default)]
struct LiveRecordings(std::sync::Arc<std::sync::Mutex<HashMap<(String, String), Recording>>>);

impl LiveRecordings {
    fn update(&self, progress: &Progress) {
        let Ok(mut live) = self.0.lock() else { return };
        let key = (progress.cname.clone(), progress.uid.clone());
        match (&progress.recording, progress.phase) {
            (_, Phase::Stopped) | (None, _) => {
                if progress.phase == Phase::Stopped {
                    live.remove(&key);
                }
            }
            (Some(recording), _) => {
                live.insert(key, recording.clone());
            }
        }
    }

    fn snapshot(&self) -> Vec<Recording> {
        self.0
            .lock()
            .map(|live| live.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// Prints each session's progress on stderr (stdout is kept for the
/// summary, so `--json` output stays parseable): time into the occurrence,
/// time left, channel, phase, and what comes next.
async fn print_progress(
    mut progress: mpsc::UnboundedReceiver<Progress>,
    live: LiveRecordings,
    clock: Clock,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) {
    let whole_seconds = |span: chrono::TimeDelta| {
        format_duration(Duration::from_secs(
            span.to_std().unwrap_or_default().as_secs(),
        ))
    };
    while let Some(event) = progress.recv().await {
        live.update(&event);
        let now = clock.now();
        let (elapsed, left) = (whole_seconds(now - start), whole_seconds(end - now));
        errln!(
            "[+{elapsed:>6} -{left:>6}] {}/{}: {:?}: {}",
            event.cname,
            event.uid,
            event.phase,
            event.message
        );
    }
}

/// First Ctrl-C or SIGTERM: stop every started recording. Second: exit at
/// once, naming what was left running.
async fn watch_signals(shutdown: watch::Sender<bool>, live: LiveRecordings) {
    let Ok(mut signals) = Signals::new() else {
        return;
    };
    while signals.next().await != Signal::Stop {}
    errln!("stopping every started recording (press Ctrl-C again to exit at once)");
    let _ = shutdown.send(true);
    while signals.next().await != Signal::Stop {}
    let left = live.snapshot();
    if left.is_empty() {
        errln!("exiting; no recording was left running");
    } else {
        errln!(
            "exiting with {} recording(s) possibly still running; stop them with these ids:",
            left.len()
        );
        for recording in left {
            errln!(
                "  cname {} uid {} mode {} resourceId {} sid {}",
                recording.cname,
                recording.uid,
                recording.mode,
                recording.resource_id,
                recording.sid
            );
        }
    }
    std::process::exit(i32::from(exit::FAILED));
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
        report.start.to_rfc3339(),
        report.end.to_rfc3339()
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
            Some(at) => format!("{outcome} at {}", at.to_rfc3339()),
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
