//! One daemon holding many plans, with many sessions at once, on the real
//! clock: what it costs in memory and CPU, and how late steps go out.
//!
//! Writes `RECPLAN_BENCH_PLANS` plan files (default 10,000; one channel
//! each, distinct cname and uid) into a temporary directory. The first
//! `RECPLAN_BENCH_SESSIONS` of them (default 1,000) start at the same
//! second, 20 s after the benchmark begins, and last 60 s, with an
//! `update` at +20 s and +40 s; the rest are scheduled 12 hours away, so they are loaded and scheduled but
//! never fire. The real [`Daemon`] runs them on the runtime `recplan
//! daemon` builds (multi-thread, one worker per core, the daemon's loop on
//! the main thread), against the simulator with its rate limit off.
//!
//! The simulator stands in for Agora's servers, so it runs in a child
//! process and its memory and CPU are reported apart from the daemon's;
//! `RECPLAN_BENCH_SIM=in-process` runs it in the benchmark's own process.
//!
//! Step lateness is each step's `late_ms` from the sessions' progress: the
//! time between the step's offset and the moment its session woke to send
//! it, taken before the call reaches the rate limiter, so limiter queueing
//! is never in it. The limiter allows a million calls per second anyway,
//! and its longest waits are printed to show that nothing queued.
//!
//! `RECPLAN_BENCH_STORE=disk` (the default) keeps session state in SQLite
//! in the temporary directory, as the daemon does (every transition one
//! fsync'd commit); `memory` uses `Store::open_in_memory()` to show what
//! the disk costs. Run with `cargo bench --bench daemon`; the figures are
//! recorded in docs/BENCHMARKS.md.
//!
//! `RECPLAN_BENCH_MODE=reload` measures instead how long one changed plan
//! among `RECPLAN_BENCH_PLANS` takes to be in force after a reload (see
//! `daemon/reload.rs`).

// In a subdirectory, so that cargo does not take them for benchmarks.
#[path = "daemon/observe.rs"]
mod observe;
#[path = "daemon/percentile.rs"]
mod percentile;
#[path = "daemon/proc.rs"]
mod proc;
#[path = "daemon/reload.rs"]
mod reload;
#[path = "daemon/report.rs"]
mod report;

use std::fmt::Write as _;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, DurationRound, Timelike, Utc};
use recplan::agora::{Client, Priority, RateLimit, RateLimiter, ResilientClient, RetryPolicy};
use recplan::clock::Clock;
use recplan::daemon::{Config, Control};
use recplan::plan::Env;
use recplan::session::Context;
use recplan::sim;
use recplan::store::Store;
use tokio::sync::{mpsc, watch};
use tokio::time::sleep_until;

use observe::{Milestones, observe};
use proc::{Proc, Sim};
use report::Report;

/// Each occurrence's length, its steps' offsets, and when in between the
/// steady state is sampled.
const DURATION_SECS: u64 = 60;
const STEPS_AT_SECS: [u64; 2] = [20, 40];
const MIDDLE_SECS: u64 = 30;
/// The time between choosing the start and the start: enough to write and
/// load 10,000 plans on a busy 2-core machine.
const LEAD: Duration = Duration::from_secs(20);
/// How long the occurrence may overrun before the run is called off.
const OVERRUN: Duration = Duration::from_secs(15 * 60);

/// What to run, from the environment (cargo bench passes its own
/// arguments to the binary, so options do not go on the command line).
struct Setup {
    plans: usize,
    sessions: usize,
    on_disk: bool,
    sim_in_child: bool,
}

impl Setup {
    fn from_env() -> Setup {
        let number = |name: &str, default: usize| {
            std::env::var(name).map_or(default, |v| {
                v.replace(['_', ','], "")
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
            })
        };
        let choice = |name: &str, default: &str, other: &str| {
            let value = std::env::var(name).unwrap_or_else(|_| default.to_owned());
            assert!(
                value == default || value == other,
                "{name}={value}: expected {default} or {other}"
            );
            value == default
        };
        let plans = number("RECPLAN_BENCH_PLANS", 10_000);
        Setup {
            plans,
            sessions: number("RECPLAN_BENCH_SESSIONS", 1_000).clamp(1, plans),
            on_disk: choice("RECPLAN_BENCH_STORE", "disk", "memory"),
            sim_in_child: choice("RECPLAN_BENCH_SIM", "process", "in-process"),
        }
    }
}

/// A plan file: one channel, starting at `start`'s second (UTC) once a
/// year when it is one of the benchmark's sessions, else 12 hours away.
fn plan_text(index: usize, start: DateTime<Utc>, fires: bool) -> String {
    let (second, minute, hour) = (start.second(), start.minute(), start.hour());
    let cron = if fires {
        format!(
            "{second} {minute} {hour} {} {} *",
            start.format("%-d"),
            start.format("%-m")
        )
    } else {
        // Lines of their own, as a directory of real plans would have.
        format!("{} {} * * *", index % 60, (hour + 12) % 24)
    };
    let mut steps = String::new();
    for (n, at) in STEPS_AT_SECS.iter().enumerate() {
        // Alternate what is subscribed, so that each step changes something.
        let uids = if n % 2 == 0 {
            "\"#allstream#\""
        } else {
            "\"1001\""
        };
        let _ = write!(
            steps,
            "\n  - at: {at}s\n    update:\n      streamSubscribe:\n        \
             audioUidList: {{subscribeAudioUids: [{uids}]}}"
        );
    }
    format!(
        r#"name: bench-{index:05}
mode: individual
schedule:
  cron: "{cron}"
  timezone: UTC
  duration: {DURATION_SECS}s
channels: [{{cname: "bench-{index:05}", uid: "{uid}"}}]
start:
  token: tok
  storageConfig: {{vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}}
  recordingConfig: {{channelType: 0, maxIdleTime: 600, subscribeUidGroup: 0}}
steps:{steps}
"#,
        uid = 100_000 + index,
    )
}

fn write_plans(dir: &Path, setup: &Setup, start: DateTime<Utc>) {
    for index in 0..setup.plans {
        let text = plan_text(index, start, index < setup.sessions);
        std::fs::write(dir.join(format!("bench-{index:05}.yaml")), text).expect("plan written");
    }
}

fn client(base: &str) -> ResilientClient {
    let config = sim::client_config(base, sim::DEMO_APP_ID).expect("the simulator's URI is valid");
    let client = Client::new(config).expect("the client builds");
    // Far above anything 2 cores can send, so no call waits for a slot.
    let limit = RateLimit {
        margin: Duration::ZERO,
        ..RateLimit::per_second(NonZeroU32::new(1_000_000).expect("not zero"))
    };
    ResilientClient::new(client, RateLimiter::new(limit), RetryPolicy::default())
}

async fn run(setup: &Setup, dir: &Path) -> Report {
    let me = Proc::open("self");
    let sim = Sim::start(setup.sim_in_child, setup.sessions + 1).await;
    let api = client(&sim.uri());
    let store = if setup.on_disk {
        Store::open(&dir.join("state"))
            .await
            .expect("the store opens")
    } else {
        Store::open_in_memory().await.expect("the store opens")
    };
    let plans = dir.join("plans");
    std::fs::create_dir(&plans).expect("plan directory");
    let start = (Utc::now() + LEAD)
        .duration_round_up(chrono::TimeDelta::seconds(1))
        .expect("a representable second");
    write_plans(&plans, setup, start);

    let clock = Clock::system();
    let start_at = clock.instant_at(start);
    let (events_tx, events) = mpsc::unbounded_channel();
    let (progress_tx, progress) = mpsc::unbounded_channel();
    let (milestones_tx, mut milestones) = watch::channel(Milestones::default());
    let observing = tokio::spawn(observe(
        dir.to_owned(),
        events,
        progress,
        start_at,
        milestones_tx,
    ));
    let context = Context {
        client: api.clone(),
        store,
        clock,
        // As `recplan daemon` has it: the process environment.
        env: Env::from_process().with("AGORA_APP_ID", sim::DEMO_APP_ID),
        // `serve` gives the sessions a channel of its own, and passes
        // their progress on to `config.progress`.
        progress: mpsc::unbounded_channel().0,
        stops: recplan::session::Stops::default(),
    };
    let config = Config {
        events: Some(events_tx),
        progress: Some(progress_tx),
        ..Config::new(vec![plans])
    };
    let (control, control_rx) = mpsc::unbounded_channel();
    let before = me.sample();

    let controller = async {
        let _ = milestones.wait_for(|m| m.ready).await;
        let loaded = me.sample();
        assert!(Utc::now() < start, "loading took past {start}: raise LEAD");
        sleep_until(start_at).await;
        let started = me.sample();
        sleep_until(start_at + Duration::from_secs(MIDDLE_SECS)).await;
        let middle = me.sample();
        let until = start_at + Duration::from_secs(DURATION_SECS) + OVERRUN;
        let all = setup.sessions;
        let finished = tokio::time::timeout_at(until, milestones.wait_for(|m| m.finished >= all));
        if finished.await.is_err() {
            eprintln!("the occurrence overran by {OVERRUN:?}: shutting down anyway");
        }
        control.send(Control::Shutdown).expect("the daemon listens");
        (loaded, started, middle)
    };
    let (served, (loaded, started, middle)) = tokio::join!(
        recplan::daemon::serve(config, context, None, control_rx),
        controller
    );
    served.expect("the daemon runs");
    let end = me.sample();
    let peak_kb = me.status_kb("VmHWM:");
    let sim_usage = sim.usage();
    sim.stop();
    let mut observed = observing.await.expect("the observer ends");
    observed.late_ms.sort_unstable();
    observed.ready_late_ms.sort_unstable();
    observed.answered_ms.sort_unstable();

    let waits = api.limiter().stats();
    Report {
        before,
        loaded,
        started,
        middle,
        end,
        peak_kb,
        sim: sim_usage,
        completed: observed.completed,
        outcomes: report::commonest(std::mem::take(&mut observed.outcomes)),
        errors: report::commonest(std::mem::take(&mut observed.errors)),
        observed,
        calls: api
            .call_counts()
            .iter()
            .map(|c| {
                let status = c
                    .status
                    .map_or_else(|| "none".to_owned(), |s| s.to_string());
                (format!("{} {status}", c.endpoint), c.calls)
            })
            .collect(),
        retries: api
            .retry_counts()
            .iter()
            .map(|r| (format!("{} {}", r.endpoint, r.class.name()), r.retries))
            .collect(),
        limiter_max: Priority::ALL.map(|p| waits.of(p).max),
    }
}

fn main() {
    if proc::serve_if_child() {
        return;
    }
    let setup = Setup::from_env();
    let dir = tempfile::tempdir().expect("a temporary directory");
    if std::env::var("RECPLAN_BENCH_MODE").as_deref() == Ok("reload") {
        let changes = std::env::var("RECPLAN_BENCH_CHANGES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200);
        reload::main(setup.plans, changes, dir.path());
        return;
    }
    // The runtime `recplan daemon` builds: multi-thread, one worker per core.
    let runtime = recplan::session::runtime().expect("the runtime builds");
    println!(
        "daemon: {} plans, {} sessions at one minute, {DURATION_SECS} s each with steps at \
         {STEPS_AT_SECS:?} s; store {}; simulator {}; {} core(s)",
        setup.plans,
        setup.sessions,
        if setup.on_disk {
            "SQLite on disk (synchronous=FULL)"
        } else {
            "SQLite in memory"
        },
        if setup.sim_in_child {
            "in a child process"
        } else {
            "in this process"
        },
        std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
    );
    let report = runtime.block_on(run(&setup, dir.path()));
    report::print(&setup, &report);
}
