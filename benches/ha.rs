//! Three `recplan daemon` processes on one PostgreSQL store against the
//! simulator with Agora's per-App-ID limit on: how close a burst of
//! sessions starting together comes to the quota's bound, how many 429s it
//! draws, and how soon the survivors take over the sessions of the daemon
//! killed with SIGKILL.
//!
//! Each run writes `RECPLAN_BENCH_SESSIONS` sessions (default 300) as plans
//! of 30 channels, every one starting at the same second, 15 s after the
//! run begins, and lasting 200 s, with one `update` step: plan k's at
//! 120 + 3k s, so that each plan's 30 steps fit in the quota's 3 s before
//! the next plan's are due. Three daemons (the real binary, its store
//! a schema of the run's own in the database `RECPLAN_BENCH_POSTGRES`
//! names) run them against the simulator in this process, which answers
//! 429 above 10 requests a second per App ID, as Agora's default quota
//! does. Once every session records (its confirming query answered), the
//! daemon driving most sessions is killed with SIGKILL; the run ends when
//! every recording is stopped.
//!
//! Reported per run, from what the simulator received:
//! - the makespan, from the scheduled start to the last `start` request,
//!   against the bound 2N/10 s (N acquires and N starts at 10 a second),
//!   and the first request's delay after the scheduled start;
//! - the 429s among all requests;
//! - takeover: for each session of the killed daemon, the time from the
//!   kill to the survivor's log line taking its lease (the session is
//!   resumed from there: its step and stop armed), and to the first request
//!   a survivor sent for its recording (its confirming query, a routine
//!   call that waits behind every other under the shared limit): median
//!   and worst;
//! - how late the steps went out after their offsets, for the sessions
//!   taken over (steps due after the kill) and for those never orphaned:
//!   a takeover done right costs its sessions nothing here;
//! - recordings started (2xx answers to `start`) per channel and stops per
//!   recording: one each is right;
//! - which calls drew the 429s, and how many queries went out before the
//!   last start (they take slots from the burst);
//! - the tightest 11 arrivals: the shortest time over which the simulator
//!   received 11 requests, 1 s or more when none was over the quota; what
//!   it exceeds 1 s by is what was left of the margin;
//! - the shared slots the daemons reserved, those left unused by reason
//!   and the time the quota stood idle while calls waited, summed from
//!   their `/metrics` once every session records.
//!
//! `RECPLAN_BENCH_RUNS` (default 3) sets the number of runs. Run with
//! `RECPLAN_BENCH_POSTGRES=postgres://… cargo bench --bench ha`; the
//! figures are recorded in docs/BENCHMARKS.md.

#[path = "daemon/percentile.rs"]
mod percentile;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, DurationRound as _, TimeDelta, Timelike as _, Utc};
use recplan::clock::Clock;
use recplan::sim::{self, RecordedRequest, SimConfig, SimHandle, Simulator};
use tokio::time::Instant;

use percentile::percentile;

/// The database the runs create their schemas in.
const POSTGRES_VAR: &str = "RECPLAN_BENCH_POSTGRES";
const DAEMONS: usize = 3;
const CHANNELS_PER_PLAN: usize = 30;
/// Long enough for the burst (60 s at 300 sessions), the confirming
/// queries (30 s more at 300), the kill, the takeover and the steps.
const DURATION_SECS: u64 = 200;
/// The first plan's step; plan k's is `STEP_SPACING` × k later.
const FIRST_STEP_SECS: u64 = 120;
/// The quota's time for one plan's steps: 30 at 10 a second.
const STEP_SPACING_SECS: u64 = 3;
/// From writing the plans to their start: enough for three daemons to
/// start, migrate the store and load the plans on a busy 2-core machine.
const LEAD: Duration = Duration::from_secs(15);
/// Agora's default quota per App ID, which the simulator enforces.
const QUOTA_PER_SECOND: u32 = 10;
/// How long a run may take past its occurrence's end before it is called off.
const OVERRUN: Duration = Duration::from_secs(120);

struct Setup {
    base: String,
    sessions: usize,
    runs: usize,
}

impl Setup {
    /// `None` when no database is named.
    fn from_env() -> Option<Setup> {
        let base = std::env::var(POSTGRES_VAR).ok().filter(|v| !v.is_empty())?;
        let number = |name: &str, default: usize| {
            std::env::var(name).map_or(default, |v| {
                v.replace(['_', ','], "")
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
            })
        };
        Some(Setup {
            base,
            sessions: number("RECPLAN_BENCH_SESSIONS", 300).max(1),
            runs: number("RECPLAN_BENCH_RUNS", 3).max(1),
        })
    }
}

/// A schema of one run's own in the benchmark's database, dropped after.
struct Schema {
    base: String,
    name: String,
    /// The base URL with the schema as its search path.
    url: String,
}

impl Schema {
    fn create(base: &str, run: usize) -> Schema {
        let name = format!("recplan_bench_ha_{}_{run}", std::process::id());
        let separator = if base.contains('?') { '&' } else { '?' };
        let schema = Schema {
            url: format!("{base}{separator}options=-csearch_path%3D{name}"),
            base: base.to_owned(),
            name,
        };
        schema
            .admin(&format!(
                "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}",
                schema.name
            ))
            .unwrap_or_else(|error| panic!("{POSTGRES_VAR}: {error}"));
        schema
    }

    fn admin(&self, sql: &str) -> Result<(), postgres::Error> {
        postgres::Client::connect(&self.base, postgres::NoTls)?.batch_execute(sql)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self.admin(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

fn cname(index: usize) -> String {
    format!("ha-{index:04}")
}

/// One plan: `channels` of the run's sessions, starting at `start`'s
/// second (UTC) once a year.
fn plan_text(plan: usize, channels: std::ops::Range<usize>, start: DateTime<Utc>) -> String {
    let cron = format!(
        "{} {} {} {} {} *",
        start.second(),
        start.minute(),
        start.hour(),
        start.format("%-d"),
        start.format("%-m")
    );
    let channels: Vec<String> = channels
        .map(|n| format!("{{cname: {}, uid: \"{}\"}}", cname(n), 200_000 + n))
        .collect();
    format!(
        r##"name: ha-{plan:02}
mode: individual
schedule:
  cron: "{cron}"
  timezone: UTC
  duration: {DURATION_SECS}s
channels: [{}]
start:
  token: tok
  storageConfig: {{vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}}
  recordingConfig: {{channelType: 0, maxIdleTime: 600, subscribeUidGroup: 0}}
steps:
  - at: {}s
    update: {{streamSubscribe: {{audioUidList: {{subscribeAudioUids: ["#allstream#"]}}}}}}
"##,
        channels.join(", "),
        step_at(plan).as_secs()
    )
}

/// When plan `plan`'s step is due, from the occurrence's start.
fn step_at(plan: usize) -> Duration {
    let plan = u64::try_from(plan).expect("plans fit");
    Duration::from_secs(FIRST_STEP_SECS + STEP_SPACING_SECS * plan)
}

/// A daemon's log line, as JSON, and when it was read.
struct Line {
    daemon: usize,
    at: Instant,
    fields: serde_json::Value,
}

impl Line {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name)?.as_str()
    }
}

/// `recplan daemon` on the plans in `plans` with its store at `url`; its
/// log lines go to `lines`.
fn daemon(
    sim: &SimHandle,
    plans: &Path,
    url: &str,
    listen: SocketAddr,
    index: usize,
    lines: &mpsc::Sender<Line>,
) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_recplan"))
        .arg("daemon")
        .arg(plans)
        .args(["--state", url, "--log-format", "json"])
        .args(["--listen", &listen.to_string()])
        .env("AGORA_API_BASE", sim.uri())
        .env("AGORA_APP_ID", sim::DEMO_APP_ID)
        .env("AGORA_CUSTOMER_ID", sim::DEMO_CUSTOMER_ID)
        .env("AGORA_CUSTOMER_SECRET", sim::DEMO_CUSTOMER_SECRET)
        .env("RECPLAN_LOG", "info")
        .env_remove("RECPLAN_STATE")
        .env_remove("RECPLAN_STATE_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("recplan daemon starts");
    let stderr = child.stderr.take().expect("piped");
    let lines = lines.clone();
    std::thread::spawn(move || {
        for text in BufReader::new(stderr).lines().map_while(Result::ok) {
            let fields = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
            let line = Line {
                daemon: index,
                at: Instant::now(),
                fields,
            };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    child
}

/// The daemons' log lines as they come, the last few kept to explain a
/// run that goes wrong.
struct Log {
    lines: mpsc::Receiver<Line>,
    tail: Vec<String>,
}

impl Log {
    const TAIL: usize = 40;

    /// The next line, if one comes by `until`.
    fn next(&mut self, until: Instant) -> Option<Line> {
        let left = until.checked_duration_since(Instant::now())?;
        let line = self.lines.recv_timeout(left).ok()?;
        if self.tail.len() == Self::TAIL {
            self.tail.remove(0);
        }
        self.tail.push(format!("{}: {}", line.daemon, line.fields));
        Some(line)
    }

    fn tail(&self) -> String {
        self.tail.join("\n")
    }
}

/// The run's daemons, killed however the run ends.
struct Daemons(Vec<Child>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The figures of one run.
struct Figures {
    sessions: usize,
    requests: usize,
    makespan: Duration,
    /// From the scheduled start to the first request: the daemons' own
    /// work before the quota is used.
    first_request: Duration,
    bound: Duration,
    rate_limited: usize,
    /// The 429s by endpoint.
    rate_limited_by: BTreeMap<String, usize>,
    /// Queries received before the last start: routine calls that took
    /// slots from the burst.
    queries_in_burst: usize,
    /// The shortest time in which 11 requests arrived.
    tightest: Duration,
    /// Sessions each daemon drove when the busiest was killed.
    drove: [usize; DAEMONS],
    /// The daemons' shared-slot counters, summed, once every session
    /// records.
    slots: SlotFigures,
    orphans: usize,
    /// From the kill to each orphan's lease taken, and to its first
    /// request from a survivor (ms, sorted).
    leased_ms: Vec<u64>,
    called_ms: Vec<u64>,
    /// How late each step arrived after its offset (ms, sorted): of the
    /// sessions taken over whose step was due after the kill, and of the
    /// sessions never orphaned.
    late_taken_ms: Vec<u64>,
    late_kept_ms: Vec<u64>,
    /// Recordings whose step never went out.
    steps_missing: usize,
    /// Channels whose recording was started (2xx) more than once,
    /// recordings stopped (200) once, and recordings stopped more than once.
    started_twice: usize,
    stopped_once: usize,
    stopped_twice: usize,
}

/// What the daemons' `/metrics` say of their shared slots.
#[derive(Default)]
struct SlotFigures {
    reserved: f64,
    late: f64,
    uncertain: f64,
    unclaimed: f64,
    waits: f64,
    idle_seconds: f64,
}

impl SlotFigures {
    /// Adds one daemon's `/metrics` text.
    fn add(&mut self, metrics: &str) {
        for line in metrics.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let value: f64 = value.parse().unwrap_or(0.0);
            let field = match name {
                "recplan_rate_limit_shared_slots_total" => &mut self.reserved,
                r#"recplan_rate_limit_shared_slots_unused_total{reason="late"}"# => &mut self.late,
                r#"recplan_rate_limit_shared_slots_unused_total{reason="uncertain"}"# => {
                    &mut self.uncertain
                }
                r#"recplan_rate_limit_shared_slots_unused_total{reason="unclaimed"}"# => {
                    &mut self.unclaimed
                }
                "recplan_rate_limit_shared_waits_total" => &mut self.waits,
                "recplan_rate_limit_shared_idle_seconds_total" => &mut self.idle_seconds,
                _ => continue,
            };
            *field += value;
        }
    }
}

/// A free port on the loopback interface.
fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// The `/metrics` text of the daemon listening on `address`.
fn metrics(address: SocketAddr) -> String {
    let fetch = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    };
    fetch().unwrap_or_else(|error| panic!("/metrics of the daemon on {address}: {error}"))
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn run(setup: &Setup, number: usize, runtime: &tokio::runtime::Runtime) -> Figures {
    let schema = Schema::create(&setup.base, number);
    let config = SimConfig {
        max_concurrent_tasks: NonZeroUsize::new(setup.sessions + 1).expect("not zero"),
        ..SimConfig::default()
    };
    assert_eq!(
        config.rate_limit.map(std::num::NonZeroU32::get),
        Some(QUOTA_PER_SECOND),
        "the simulator enforces Agora's quota"
    );
    let sim = runtime
        .block_on(Simulator::start(config))
        .expect("the simulator starts");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let clock = Clock::system();
    let start = (Utc::now() + LEAD)
        .duration_round_up(TimeDelta::seconds(1))
        .expect("a representable second");
    let start_at = clock.instant_at(start);
    for (plan, first) in (0..setup.sessions).step_by(CHANNELS_PER_PLAN).enumerate() {
        let channels = first..(first + CHANNELS_PER_PLAN).min(setup.sessions);
        std::fs::write(
            dir.path().join(format!("ha-{plan:02}.yaml")),
            plan_text(plan, channels, start),
        )
        .expect("plan written");
    }

    let (sender, lines) = mpsc::channel();
    let listen: Vec<SocketAddr> = (0..DAEMONS).map(|_| free_address()).collect();
    let mut daemons = Daemons(
        listen
            .iter()
            .enumerate()
            .map(|(index, at)| daemon(&sim, dir.path(), &schema.url, *at, index, &sender))
            .collect(),
    );
    drop(sender);
    let mut log = Log {
        lines,
        tail: Vec::new(),
    };

    // Who drives each session, and its sid, once every session records.
    let bound = Duration::from_secs_f64(
        2.0 * f64::from(u32::try_from(setup.sessions).expect("sessions fit"))
            / f64::from(QUOTA_PER_SECOND),
    );
    let mut drivers: HashMap<String, (usize, String)> = HashMap::new();
    let mut ready = 0;
    let all_recording_by = start_at + 2 * bound + Duration::from_secs(60);
    while drivers.len() < setup.sessions {
        let Some(line) = log.next(all_recording_by) else {
            panic!(
                "{} of {} sessions recording, {ready} daemon(s) ready; last lines:\n{}",
                drivers.len(),
                setup.sessions,
                log.tail()
            );
        };
        match line.field("event") {
            Some("ready") => ready += 1,
            Some("recording") => {
                if let (Some(channel), Some(sid)) = (line.field("channel"), line.field("sid")) {
                    drivers
                        .entry(channel.to_owned())
                        .or_insert_with(|| (line.daemon, sid.to_owned()));
                }
            }
            _ => {}
        }
    }
    let mut drove = [0; DAEMONS];
    for (daemon, _) in drivers.values() {
        drove[*daemon] += 1;
    }
    let mut slots = SlotFigures::default();
    for address in &listen {
        slots.add(&metrics(*address));
    }
    let victim = (0..DAEMONS).max_by_key(|&d| drove[d]).expect("daemons");
    daemons.0[victim].kill().expect("SIGKILL");
    let killed_at = Instant::now();
    daemons.0[victim]
        .wait()
        .expect("the killed daemon is reaped");

    // Until every recording is stopped: when each orphan's lease was taken.
    let mut leased: HashMap<String, Instant> = HashMap::new();
    let end_by = start_at + Duration::from_secs(DURATION_SECS) + OVERRUN;
    let mut checked = Instant::now();
    loop {
        if let Some(line) = log.next(Instant::now() + Duration::from_millis(200))
            && line.daemon != victim
            && line
                .field("message")
                .is_some_and(|m| m.starts_with("taking over"))
            && let Some(cname) = line.field("cname")
        {
            leased.entry(cname.to_owned()).or_insert(line.at);
        }
        if checked.elapsed() >= Duration::from_secs(1) {
            checked = Instant::now();
            let stops = sim
                .requests()
                .iter()
                .filter(|r| r.path.ends_with("/stop") && r.status.is_some_and(|s| s == 200))
                .count();
            if stops >= setup.sessions {
                break;
            }
            assert!(
                Instant::now() < end_by,
                "{stops} of {} recordings stopped by {OVERRUN:?} after the end; last lines:\n{}",
                setup.sessions,
                log.tail()
            );
        }
    }
    for (index, child) in daemons.0.iter().enumerate() {
        if index != victim {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
    }
    for child in &mut daemons.0 {
        let _ = child.wait();
    }

    let requests = sim.requests();
    runtime.block_on(async { drop(sim) });
    Figures {
        slots,
        ..figures(
            setup, &requests, &drivers, victim, drove, &leased, start_at, killed_at, bound,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn figures(
    setup: &Setup,
    requests: &[RecordedRequest],
    drivers: &HashMap<String, (usize, String)>,
    victim: usize,
    drove: [usize; DAEMONS],
    leased: &HashMap<String, Instant>,
    start_at: Instant,
    killed_at: Instant,
    bound: Duration,
) -> Figures {
    let is = |r: &RecordedRequest, endpoint: &str| r.path.ends_with(&format!("/{endpoint}"));
    let mut starts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut last_start = start_at;
    for request in requests.iter().filter(|r| is(r, "start")) {
        last_start = last_start.max(request.at);
        if request.status.is_some_and(|s| s.is_success()) {
            let cname = request.body.as_ref().and_then(|b| b["cname"].as_str());
            *starts.entry(cname.unwrap_or_default()).or_default() += 1;
        }
    }
    let mut rate_limited_by: BTreeMap<String, usize> = BTreeMap::new();
    for request in requests
        .iter()
        .filter(|r| r.status.is_some_and(|s| s == 429))
    {
        let endpoint = request.path.rsplit('/').next().unwrap_or_default();
        *rate_limited_by.entry(endpoint.to_owned()).or_default() += 1;
    }
    let mut stops: HashMap<&str, usize> = HashMap::new();
    for request in requests
        .iter()
        .filter(|r| is(r, "stop") && r.status.is_some_and(|s| s == 200))
    {
        if let Some(sid) = sid_of(request) {
            *stops.entry(sid).or_default() += 1;
        }
    }

    let mut leased_ms = Vec::new();
    let mut called_ms = Vec::new();
    let orphans: Vec<(&String, &String)> = drivers
        .iter()
        .filter(|(_, (daemon, _))| *daemon == victim)
        .map(|(cname, (_, sid))| (cname, sid))
        .collect();
    for (cname, sid) in &orphans {
        if let Some(at) = leased.get(*cname) {
            leased_ms.push(ms(at.saturating_duration_since(killed_at)));
        }
        if let Some(first) = requests
            .iter()
            .find(|r| r.at > killed_at && sid_of(r) == Some(sid.as_str()))
        {
            called_ms.push(ms(first.at - killed_at));
        }
    }
    leased_ms.sort_unstable();
    called_ms.sort_unstable();

    let mut late_taken_ms = Vec::new();
    let mut late_kept_ms = Vec::new();
    let mut steps_missing = 0;
    for (cname, (daemon, sid)) in drivers {
        let Some(index) = cname
            .strip_prefix("ha-")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let due = start_at + step_at(index / CHANNELS_PER_PLAN);
        let Some(step) = requests
            .iter()
            .find(|r| is(r, "update") && sid_of(r) == Some(sid.as_str()))
        else {
            steps_missing += 1;
            continue;
        };
        let late = ms(step.at.saturating_duration_since(due));
        if *daemon != victim {
            late_kept_ms.push(late);
        } else if due > killed_at {
            late_taken_ms.push(late);
        }
    }
    late_taken_ms.sort_unstable();
    late_kept_ms.sort_unstable();
    Figures {
        sessions: setup.sessions,
        requests: requests.len(),
        makespan: last_start.saturating_duration_since(start_at),
        first_request: requests
            .iter()
            .map(|r| r.at)
            .min()
            .map_or(Duration::ZERO, |first| {
                first.saturating_duration_since(start_at)
            }),
        bound,
        rate_limited: rate_limited_by.values().sum(),
        rate_limited_by,
        queries_in_burst: requests
            .iter()
            .filter(|r| is(r, "query") && r.at <= last_start)
            .count(),
        tightest: tightest(requests, QUOTA_PER_SECOND as usize + 1),
        drove,
        slots: SlotFigures::default(),
        orphans: orphans.len(),
        leased_ms,
        called_ms,
        late_taken_ms,
        late_kept_ms,
        steps_missing,
        started_twice: starts.values().filter(|&&n| n > 1).count(),
        stopped_once: stops.values().filter(|&&n| n == 1).count(),
        stopped_twice: stops.values().filter(|&&n| n > 1).count(),
    }
}

/// The shortest time in which `n` of `requests` arrived.
fn tightest(requests: &[RecordedRequest], n: usize) -> Duration {
    let mut arrivals: Vec<Instant> = requests.iter().map(|r| r.at).collect();
    arrivals.sort_unstable();
    arrivals
        .windows(n)
        .map(|w| w[n - 1] - w[0])
        .min()
        .unwrap_or(Duration::MAX)
}

/// The sid a request's path names, if any.
fn sid_of(request: &RecordedRequest) -> Option<&str> {
    let mut parts = request.path.split('/');
    parts.find(|part| *part == "sid")?;
    parts.next()
}

fn seconds(ms: u64) -> String {
    format!("{:.2} s", Duration::from_millis(ms).as_secs_f64())
}

/// Median and worst of sorted values, with how many there are.
fn spread(sorted: &[u64], of: usize) -> String {
    format!(
        "{} / {} ({} of {of})",
        seconds(percentile(sorted, 0.5)),
        seconds(sorted.last().copied().unwrap_or_default()),
        sorted.len()
    )
}

fn print(number: usize, f: &Figures) {
    println!(
        "run {number}: {} sessions, {} requests; makespan {:.2} s / bound {:.0} s = {:.3}; \
         first request after {:.3} s; 429s {} {:?}; queries during the burst {}; \
         tightest 11 arrivals {:.3} s",
        f.sessions,
        f.requests,
        f.makespan.as_secs_f64(),
        f.bound.as_secs_f64(),
        f.makespan.as_secs_f64() / f.bound.as_secs_f64(),
        f.first_request.as_secs_f64(),
        f.rate_limited,
        f.rate_limited_by,
        f.queries_in_burst,
        f.tightest.as_secs_f64()
    );
    let s = &f.slots;
    println!(
        "  shared slots reserved {}, unused {} (late {}, uncertain {}, unclaimed {}); \
         asks told to wait {}; quota idle while calls waited {:.2} s",
        s.reserved,
        s.late + s.uncertain + s.unclaimed,
        s.late,
        s.uncertain,
        s.unclaimed,
        s.waits,
        s.idle_seconds
    );
    println!(
        "  sessions per daemon {:?}; the busiest killed; kill → lease taken, median / worst: {}; \
         kill → first request for the recording: {}",
        f.drove,
        spread(&f.leased_ms, f.orphans),
        spread(&f.called_ms, f.orphans)
    );
    println!(
        "  steps late after their offsets, median / worst: taken over {}; never orphaned {}; \
         never sent {}",
        spread(&f.late_taken_ms, f.orphans),
        spread(&f.late_kept_ms, f.sessions - f.orphans),
        f.steps_missing
    );
    println!(
        "  channels recorded twice {}; recordings stopped once {} of {}, twice or more {}",
        f.started_twice, f.stopped_once, f.sessions, f.stopped_twice
    );
}

fn main() {
    let Some(setup) = Setup::from_env() else {
        eprintln!(
            "{POSTGRES_VAR} is not set: this benchmark runs three daemons on one PostgreSQL \
             store and needs a database to create its schemas in, e.g.\n  \
             {POSTGRES_VAR}=postgres://postgres@127.0.0.1:5432/bench cargo bench --bench ha"
        );
        return;
    };
    // The simulator's runtime; the daemons are processes of their own.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the runtime builds");
    println!(
        "{DAEMONS} daemons on one PostgreSQL store, {} sessions starting together \
         ({CHANNELS_PER_PLAN} channels a plan, {DURATION_SECS} s), simulator quota \
         {QUOTA_PER_SECOND} req/s per App ID, {} run(s), {} core(s)",
        setup.sessions,
        setup.runs,
        std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
    );
    let mut leased = Vec::new();
    let mut called = Vec::new();
    let mut late_taken = Vec::new();
    let mut late_kept = Vec::new();
    for number in 1..=setup.runs {
        let figures = run(&setup, number, &runtime);
        print(number, &figures);
        leased.extend(&figures.leased_ms);
        called.extend(&figures.called_ms);
        late_taken.extend(&figures.late_taken_ms);
        late_kept.extend(&figures.late_kept_ms);
    }
    for all in [&mut leased, &mut called, &mut late_taken, &mut late_kept] {
        all.sort_unstable();
    }
    println!(
        "all runs: kill → lease taken, median / worst: {}; kill → first request: {}; \
         steps late, taken over {}, never orphaned {}",
        spread(&leased, leased.len()),
        spread(&called, called.len()),
        spread(&late_taken, late_taken.len()),
        spread(&late_kept, late_kept.len())
    );
}
