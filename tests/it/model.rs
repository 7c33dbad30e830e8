//! The session under random faults: each case runs one occurrence against
//! the simulator over real HTTP on 127.0.0.1, on tokio's paused clock, with
//! a fault schedule drawn from a seed (an outage from the start, 503s or
//! refused connections, and faults injected at random moments: 5xx, 500
//! code 502, 206 code 65, 201 code 7, 404 failover windows, 429, dead
//! recordings, recordings stuck below status 4, malformed fields, refused
//! connections, lost answers). After each case, `recover`
//! runs as an operator would, and the invariants are checked against what
//! the simulator saw:
//!
//! 1. never two live recordings for one channel and uid;
//! 2. every recording started is stopped (a stop request for its sid, and it
//!    has ended);
//! 3. each step is answered at most once per recording and never sent
//!    before its offset;
//! 4. an occurrence whose API was available for at least `min_recording`
//!    of it (outside its outage and windows of refused connections, plus
//!    [`SLACK`] for the backoff and retries under way when one ends) got a
//!    recording.
//!
//! `RECPLAN_MODEL_CASES` sets the number of cases (default below);
//! `RECPLAN_MODEL_SEED` replays one case. A failure prints the line that
//! replays it.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use recplan::agora::{RateLimiter, ResilientClient, RetryPolicy};
use recplan::clock::Clock;
use recplan::plan::{MissingEnv, Options, Source, validate};
use recplan::session::{Context, OccurrenceReport, recover, run_occurrence};
use recplan::sim::{Endpoint, Fault, SimConfig, SimHandle, Simulator};
use recplan::store::Store;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::run::{client, env, now};

/// Cases per `cargo test` run: each is a whole occurrence over real HTTP
/// (12 requests on average), about 9 ms of a core in the test profile with
/// its dependencies optimized (`Cargo.toml`) and a store in memory copied
/// from one migrated image. On two cores shared with other builds:
/// 10,000 in 50 s (93 s of CPU), 2,000 in 8 s; with unoptimized
/// dependencies 10,000 took 139 to 195 s. CI runs 10,000
/// (`.ci/run`); more or fewer with `RECPLAN_MODEL_CASES`.
const DEFAULT_CASES: u64 = 400;
/// Margin for the API being available: when an outage ends, the session
/// may be in its longest backoff (30 s), inside one call's own retries
/// (18 s) or waiting out a lost answer (the client's 30 s timeout), and a
/// 502 costs a second more. A recording must have run when the API was
/// available for `min_recording` plus this.
const SLACK: Duration = Duration::from_secs(90);
const MIN_RECORDING: Duration = Duration::from_secs(60);

/// One case's schedule, as drawn from its seed.
#[derive(Debug)]
struct Case {
    duration: Duration,
    steps: Vec<Duration>,
    /// Agora unavailable from the start for this long: 503 for every call,
    /// or (`refused`) nothing listening.
    outage: Duration,
    refused: bool,
    /// Faults and when they are injected, from the occurrence's start.
    faults: Vec<(Duration, Fault)>,
}

impl Case {
    fn draw(seed: u64) -> Case {
        let mut rng = StdRng::seed_from_u64(seed);
        let duration = Duration::from_secs(rng.random_range(90..=480));
        let mut steps: Vec<Duration> = (0..3)
            .map(|_| Duration::from_secs(rng.random_range(1..duration.as_secs())))
            .collect();
        steps.sort();
        let outage = if rng.random_bool(0.4) {
            Duration::from_secs(rng.random_range(1..duration.as_secs()))
        } else {
            Duration::ZERO
        };
        let refused = rng.random_bool(0.5);
        let mut faults: Vec<(Duration, Fault)> = (0..rng.random_range(0..=6))
            .map(|_| {
                let at = Duration::from_secs(rng.random_range(0..duration.as_secs()));
                (at, fault(&mut rng, duration))
            })
            .collect();
        // Overlapping failovers would make one window longer than Agora's
        // bound: one per case.
        let mut failovers = 0;
        faults.retain(|(_, fault)| {
            failovers += usize::from(matches!(fault, Fault::Failover { .. }));
            !matches!(fault, Fault::Failover { .. }) || failovers == 1
        });
        Case {
            duration,
            steps,
            outage,
            refused,
            faults,
        }
    }

    fn plan(&self) -> String {
        let mut plan = format!(
            "mode: composite\nschedule: {{duration: {}s}}\non_failure: restart\n\
             channels:\n  - {{cname: room, uid: \"527841\", backup_uid: \"527842\"}}\n\
             start:\n  token: tok\n  storageConfig: {{vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}}\n\
             \x20 recordingConfig: {{channelType: 0, maxIdleTime: 300}}\n\
             steps:\n",
            self.duration.as_secs()
        );
        for (i, at) in self.steps.iter().enumerate() {
            let _ = writeln!(
                plan,
                "  - {{at: {}s, updateLayout: {{mixedVideoLayout: 1, backgroundColor: \"#00000{i}\"}}}}",
                at.as_secs()
            );
        }
        plan
    }
}

fn fault(rng: &mut StdRng, duration: Duration) -> Fault {
    const ENDPOINTS: [Endpoint; 5] = [
        Endpoint::Acquire,
        Endpoint::Start,
        Endpoint::Query,
        Endpoint::UpdateLayout,
        Endpoint::Stop,
    ];
    let endpoint = ENDPOINTS[rng.random_range(0..ENDPOINTS.len())];
    match rng.random_range(0..12) {
        0 => Fault::AllocateWorkerFailed,
        1 => Fault::RequestTimeout(endpoint),
        2 => Fault::RequestNotCompleted(endpoint),
        3 => Fault::AlreadyStarted,
        4 => Fault::RateLimited,
        5 => Fault::RecordingDies {
            after: Duration::from_secs(rng.random_range(1..duration.as_secs())),
        },
        6 => Fault::StuckStarting,
        7 => Fault::Malformed(if rng.random_bool(0.5) {
            Endpoint::Query
        } else {
            Endpoint::Stop
        }),
        // Agora bounds a migration by 90 s, and so do the checks after a
        // 404: windows stay inside it.
        8 => Fault::Failover {
            duration: Duration::from_secs(rng.random_range(5..=80)),
        },
        // A lost answer: it takes effect, but after the client gave up.
        9 => Fault::Latency {
            endpoint,
            delay: Duration::from_secs(35),
        },
        // Nothing listening for a while, as a failover window is long.
        10 => Fault::Unreachable {
            duration: Duration::from_secs(rng.random_range(1..=80)),
        },
        _ => Fault::Latency {
            endpoint,
            delay: Duration::from_secs(rng.random_range(1..5)),
        },
    }
}

/// Runs `case` and returns the invariants it broke.
async fn run_case(case: &Case) -> Vec<String> {
    let handle = Simulator::start(SimConfig::default()).await.unwrap();
    let options = Options {
        env: env(),
        missing_env: MissingEnv::Refuse,
        now: now(),
    };
    let plan = match validate(Source::from_text("model.yaml", case.plan()), &options) {
        Ok(validated) => validated.plan,
        Err(error) => return vec![format!("the plan does not validate: {error:?}")],
    };
    let occurrence = plan.occurrence(plan.localize(now()), &env(), None).unwrap();
    let (progress, _events) = mpsc::unbounded_channel();
    let context = Context {
        client: ResilientClient::new(
            client(&handle),
            RateLimiter::default(),
            // Without jitter, so that a seed replays exactly.
            RetryPolicy {
                jitter: 0.0,
                ..RetryPolicy::default()
            },
        ),
        store: Store::open_in_memory().await.unwrap(),
        clock: Clock::anchored(now()),
        env: env(),
        progress,
        stops: recplan::session::Stops::default(),
    };
    let start = Instant::now();
    if !case.outage.is_zero() {
        let duration = case.outage;
        handle.inject(if case.refused {
            Fault::Unreachable { duration }
        } else {
            Fault::Outage { duration }
        });
    }
    let (_stop, shutdown) = watch::channel(false);
    let report = {
        let injecting = async {
            let mut faults = case.faults.clone();
            faults.sort_by_key(|(at, _)| *at);
            for (at, fault) in faults {
                tokio::time::sleep_until(start + at).await;
                handle.inject(fault);
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            report = run_occurrence(&context, &occurrence, shutdown.clone()) => report,
            () = injecting => unreachable!(),
        }
    };
    // What an operator (or the daemon) does after a run that left work:
    // once Agora answers again, `recover` finishes it.
    tokio::time::sleep(Duration::from_secs(200)).await;
    recover(&context, &shutdown).await;
    check(case, &handle, start, &report)
}

fn check(
    case: &Case,
    handle: &SimHandle,
    start: Instant,
    report: &OccurrenceReport,
) -> Vec<String> {
    let mut broken = Vec::new();
    let recordings = handle.recordings();
    let requests = handle.requests();
    // 1. Never two live recordings for one channel and uid.
    for (i, a) in recordings.iter().enumerate() {
        for b in &recordings[i + 1..] {
            if (a.cname.as_str(), a.uid.as_str()) != (b.cname.as_str(), b.uid.as_str()) {
                continue;
            }
            let (first, second) = if a.started_at <= b.started_at {
                (a, b)
            } else {
                (b, a)
            };
            if first.ended_at.is_none_or(|end| end > second.started_at) {
                broken.push(format!(
                    "two live recordings for {} uid {}: {} and {}",
                    a.cname, a.uid, first.sid, second.sid
                ));
            }
        }
    }
    // 2. Every recording started is stopped.
    let stopped: HashSet<&str> = requests
        .iter()
        .filter(|r| r.path.ends_with("/stop"))
        .filter_map(|r| r.path.split("/sid/").nth(1)?.split('/').next())
        .collect();
    for recording in &recordings {
        if recording.ended_at.is_none() || !stopped.contains(recording.sid.as_str()) {
            broken.push(format!(
                "recording {} (uid {}) was never stopped",
                recording.sid, recording.uid
            ));
        }
    }
    // 3. Each step answered at most once per recording, never early.
    let mut answered: HashMap<(String, String), usize> = HashMap::new();
    for request in requests
        .iter()
        .filter(|r| r.path.ends_with("/updateLayout"))
    {
        let color = request
            .body
            .as_ref()
            .and_then(|b| b["clientRequest"]["backgroundColor"].as_str())
            .unwrap_or_default()
            .to_owned();
        let index: usize = color
            .trim_start_matches("#00000")
            .parse()
            .unwrap_or(usize::MAX);
        let Some(offset) = case.steps.get(index) else {
            broken.push(format!("a step nobody planned: {color}"));
            continue;
        };
        if request.at < start + *offset {
            broken.push(format!(
                "step {index} sent {:?} before its offset",
                (start + *offset) - request.at
            ));
        }
        // 206 code 65 took no effect: only a 200 is an answered step.
        if request.status == Some(axum::http::StatusCode::OK) {
            let sid = request
                .path
                .split("/sid/")
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            *answered.entry((sid, color)).or_default() += 1;
        }
    }
    for ((sid, color), times) in answered {
        if times > 1 {
            broken.push(format!("step {color} answered {times} times for {sid}"));
        }
    }
    // 4. Available for min_recording (and the slack) outside the outage and
    // the windows of refused connections: a recording.
    let refused: Duration = case
        .faults
        .iter()
        .filter_map(|(_, fault)| match fault {
            Fault::Unreachable { duration } => Some(*duration),
            _ => None,
        })
        .sum();
    let available = case
        .duration
        .saturating_sub(case.outage)
        .saturating_sub(refused);
    if available >= MIN_RECORDING + SLACK && recordings.is_empty() {
        broken.push(format!(
            "no recording though the API was available for {available:?}: {:?}",
            report.sessions.first().map(|s| &s.errors)
        ));
    }
    broken
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn sessions_keep_their_promises_under_random_faults() {
    let seeds: Vec<u64> = if let Ok(seed) = std::env::var("RECPLAN_MODEL_SEED") {
        vec![seed.parse().expect("RECPLAN_MODEL_SEED is a number")]
    } else {
        let cases = std::env::var("RECPLAN_MODEL_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(DEFAULT_CASES);
        (0..cases).collect()
    };
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let failures: Vec<String> = std::thread::scope(|scope| {
        let running: Vec<_> = (0..workers)
            .map(|worker| {
                let seeds = &seeds;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for seed in seeds.iter().skip(worker).step_by(workers) {
                        let case = Case::draw(*seed);
                        let broken = runtime().block_on(run_case(&case));
                        if !broken.is_empty() {
                            failures.push(format!(
                                "RECPLAN_MODEL_SEED={seed} cargo test --locked --test it model::\n  {case:?}\n  {}",
                                broken.join("\n  ")
                            ));
                        }
                    }
                    failures
                })
            })
            .collect();
        running
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases broke an invariant; replay with:\n{}",
        failures.len(),
        seeds.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
