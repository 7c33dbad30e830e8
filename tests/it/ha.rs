//! Several daemons on one store, the real binary against the simulator
//! with Agora's per-App-ID limit on: every occurrence started once, no
//! 429 whoever calls; and when the daemon driving most sessions is killed
//! with SIGKILL, the survivors send each session's next step within five
//! seconds, stop it at its end, and run the next occurrences.
//!
//! These run in real time (the processes have no clock to pause): an
//! occurrence every 15 s, 10 s long, about 40 s a test.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use recplan::sim::{self, RecordedRequest, SimConfig, SimHandle, Simulator};
use tokio::time::Instant;

use crate::store::Place;

/// Channels per occurrence: a burst of 16 calls, more than the 10 a second
/// Agora allows one App ID.
const CHANNELS: usize = 8;

/// How soon after a driver's death its sessions' next steps must be sent.
const TAKEOVER_WITHIN: Duration = Duration::from_secs(5);

fn plan() -> String {
    let channels: Vec<String> = (0..CHANNELS)
        .map(|n| format!("{{cname: ha-room-{n}, uid: \"99000{n}\"}}"))
        .collect();
    format!(
        r##"
name: ha
mode: individual
schedule: {{cron: "*/15 * * * * *", duration: 10s, starting_deadline: 1s, overlap: skip}}
channels: [{}]
start:
  token: tok
  storageConfig: {{vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}}
  recordingConfig: {{channelType: 0, maxIdleTime: 600, subscribeUidGroup: 0}}
steps:
  - at: 4s
    update: {{streamSubscribe: {{audioUidList: {{subscribeAudioUids: ["1001"]}}}}}}
  - at: 7s
    update: {{streamSubscribe: {{audioUidList: {{subscribeAudioUids: ["#allstream#"]}}}}}}
"##,
        channels.join(", ")
    )
}

/// `recplan daemon` on the plans in `dir`, with the store at `state`
/// (`--state URL` or `--state-dir DIR`); its log lines go to `lines`,
/// tagged with `index`.
fn daemon(
    handle: &SimHandle,
    dir: &Path,
    state: &[OsString],
    index: usize,
    lines: &mpsc::Sender<(usize, String)>,
) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_recplan"))
        .arg("daemon")
        .arg(dir.join("plans"))
        .args(state)
        .env("AGORA_API_BASE", handle.uri())
        .env("AGORA_APP_ID", sim::DEMO_APP_ID)
        .env("AGORA_CUSTOMER_ID", sim::DEMO_CUSTOMER_ID)
        .env("AGORA_CUSTOMER_SECRET", sim::DEMO_CUSTOMER_SECRET)
        .env("RECPLAN_LOG", "info")
        .env_remove("RECPLAN_STATE")
        .env_remove("RECPLAN_STATE_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send((index, line)).is_err() {
                return;
            }
        }
    });
    child
}

/// The daemons of a test, killed when it ends however it ends: a failed
/// assertion must not leave them running and the test waiting on them.
struct Daemons(Vec<Child>);

impl Daemons {
    /// Whether every daemon has exited within `limit`.
    fn ended_within(&mut self, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if self
                .0
                .iter_mut()
                .all(|child| matches!(child.try_wait(), Ok(Some(_))))
            {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            // Polling real processes, bounded by the deadline.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The channel a log line is about, if it says its recording runs.
fn recording_channel(line: &str) -> Option<String> {
    if !line.contains("event=\"recording\"") {
        return None;
    }
    let at = line.find("ha-room-")?;
    let digits: String = line[at + "ha-room-".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some(format!("ha-room-{digits}"))
}

/// What the simulator saw of one recording, by sid.
#[derive(Debug, Default)]
struct Recorded {
    cname: String,
    updates: Vec<Instant>,
    stops: Vec<Instant>,
}

fn sid_of(request: &RecordedRequest) -> Option<String> {
    let mut parts = request.path.split('/');
    parts.find(|part| *part == "sid")?;
    parts.next().map(str::to_owned)
}

fn by_sid(requests: &[RecordedRequest]) -> BTreeMap<String, Recorded> {
    let mut sids: BTreeMap<String, Recorded> = BTreeMap::new();
    for request in requests {
        let Some(sid) = sid_of(request) else {
            continue;
        };
        let entry = sids.entry(sid).or_default();
        if let Some(cname) = request
            .body
            .as_ref()
            .and_then(|body| body["cname"].as_str())
        {
            cname.clone_into(&mut entry.cname);
        }
        if request.path.ends_with("/update") {
            entry.updates.push(request.at);
        } else if request.path.ends_with("/stop") {
            entry.stops.push(request.at);
        }
    }
    sids
}

fn ends_with(request: &RecordedRequest, endpoint: &str) -> bool {
    request.path.ends_with(&format!("/{endpoint}"))
}

/// Runs `daemons` daemons on the store at `state` and kills the one
/// driving most sessions once every channel records; checks what the
/// simulator saw.
async fn kill_the_busiest_of(daemons: usize, state: Vec<OsString>) {
    let handle = Simulator::start(SimConfig::default()).await.unwrap();
    assert!(SimConfig::default().rate_limit.is_some());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    std::fs::write(dir.path().join("plans/ha.yaml"), plan()).unwrap();
    tokio::task::spawn_blocking(move || {
        let (lines, seen) = mpsc::channel();
        let mut children = Daemons(
            (0..daemons)
                .map(|index| daemon(&handle, dir.path(), &state, index, &lines))
                .collect(),
        );

        // Who drives what, once every channel of an occurrence records.
        let mut driven: Vec<BTreeSet<String>> = vec![BTreeSet::new(); daemons];
        let mut log = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(40);
        while driven.iter().map(BTreeSet::len).sum::<usize>() < CHANNELS {
            let (index, line) = deadline
                .checked_duration_since(std::time::Instant::now())
                .and_then(|left| seen.recv_timeout(left).ok())
                .unwrap_or_else(|| {
                    panic!("not every channel recorded; logged:\n{}", log.join("\n"))
                });
            if let Some(cname) = recording_channel(&line) {
                driven[index].insert(cname);
            }
            log.push(format!("{index}: {line}"));
        }
        let victim = (0..daemons)
            .max_by_key(|&index| driven[index].len())
            .unwrap();
        children.0[victim].kill().unwrap();
        let killed_at = Instant::now();
        let killed_wall = std::time::SystemTime::now();
        children.0[victim].wait().unwrap();
        let orphaned = &driven[victim];
        assert!(!orphaned.is_empty());

        // Until the occurrence after next has stopped: the survivors took
        // over the orphans, and ran the next occurrence on their own.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let requests = handle.requests();
            let later_stops = requests
                .iter()
                .filter(|r| ends_with(r, "stop") && r.at > killed_at + Duration::from_secs(12))
                .count();
            if later_stops >= CHANNELS {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the next occurrence never stopped"
            );
            // Polling a real process's effect, bounded by the deadline.
            std::thread::sleep(Duration::from_millis(200));
        }
        for (index, child) in children.0.iter_mut().enumerate() {
            if index != victim {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
            }
        }
        let exited = children.ended_within(Duration::from_secs(30));
        while let Ok((index, line)) = seen.try_recv() {
            log.push(format!("{index}: {line}"));
        }
        let log = log.join("\n");
        assert!(exited, "a daemon outlived SIGTERM by 30 s; logged:\n{log}");

        let requests = handle.requests();
        let limited = requests
            .iter()
            .filter(|r| r.status.map(|s| s.as_u16()) == Some(429))
            .count();
        assert_eq!(limited, 0, "429s; logged:\n{log}");

        // One start per occurrence: a channel's starts are an occurrence
        // (15 s) apart.
        let mut starts: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
        for request in requests.iter().filter(|r| ends_with(r, "start")) {
            let cname = request.body.as_ref().and_then(|b| b["cname"].as_str());
            starts
                .entry(cname.unwrap_or_default().to_owned())
                .or_default()
                .push(request.at);
        }
        assert_eq!(starts.len(), CHANNELS, "{starts:?}");
        for (cname, at) in &starts {
            assert!(at.len() >= 2, "{cname} ran one occurrence: {at:?}");
            for pair in at.windows(2) {
                assert!(
                    pair[1] - pair[0] > Duration::from_secs(10),
                    "{cname} started twice in one occurrence; logged:\n{log}"
                );
            }
        }

        let sids = by_sid(&requests);
        for recorded in sids.values() {
            assert_eq!(recorded.stops.len(), 1, "{recorded:?}; logged:\n{log}");
        }
        // The orphans: each step once, the next within five seconds of the
        // death, the stop at the occurrence's end.
        for recorded in sids
            .values()
            .filter(|r| orphaned.contains(&r.cname) && r.stops.iter().all(|&at| at > killed_at))
        {
            if !recorded.updates.iter().any(|&at| at < killed_at)
                && recorded.stops[0] - killed_at > Duration::from_secs(10)
            {
                // A later occurrence's recording.
                continue;
            }
            assert_eq!(recorded.updates.len(), 2, "{recorded:?}; logged:\n{log}");
            let next = recorded
                .updates
                .iter()
                .find(|&&at| at > killed_at)
                .expect("a step after the death");
            assert!(
                *next - killed_at <= TAKEOVER_WITHIN,
                "{}'s next step came {:?} after the death; logged:\n{log}",
                recorded.cname,
                *next - killed_at
            );
            // The occurrence under way at the death began on the last
            // 15 s boundary and ends 10 s later.
            let since_epoch = killed_wall
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            let end = (since_epoch / 15.0).floor() * 15.0 + 10.0;
            let stopped = since_epoch + (recorded.stops[0] - killed_at).as_secs_f64();
            assert!(
                (end - 0.25..=end + 1.5).contains(&stopped),
                "{} stopped {:.3} s after its scheduled end",
                recorded.cname,
                stopped - end
            );
        }
    })
    .await
    .unwrap();
}

fn postgres() -> Place {
    Place::postgres()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs in real time, about 40 s: .ci/run runs it with the PostgreSQL ones"]
async fn two_daemons_on_one_sqlite_directory() {
    let dir = tempfile::tempdir().unwrap();
    kill_the_busiest_of(
        2,
        vec!["--state-dir".into(), dir.path().join("state").into()],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn two_daemons_on_one_postgres() {
    let place = postgres();
    kill_the_busiest_of(2, vec!["--state".into(), place.location()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn three_daemons_on_one_postgres() {
    let place = postgres();
    kill_the_busiest_of(3, vec!["--state".into(), place.location()]).await;
}
