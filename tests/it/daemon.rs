//! The daemon on tokio's paused clock against the simulator: days of
//! schedules across a DST change, policies, reload and shutdown.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use recplan::agora::{
    ApiBase, Client, ClientConfig, Credentials, RateLimiter, ResilientClient, RetryPolicy, Secret,
};
use recplan::clock::Clock;
use recplan::daemon::{Config, Control, Event, Launched, Listener, Request, Summary};
use recplan::plan::Env;
use recplan::session::{Context, OccurrenceReport};
use recplan::sim::{self, SimConfig, SimHandle, Simulator};
use recplan::store::Store;
use tokio::sync::mpsc;

mod calendars;
mod replace;
mod truth;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn plan(name: &str, cron: &str, duration: &str, extra: &str) -> String {
    format!(
        r#"
name: {name}
mode: individual
schedule:
  cron: "{cron}"
  timezone: Europe/Berlin
  duration: {duration}
{extra}
channels: [{{cname: "{name}", uid: "4242"}}]
start:
  token: tok
  storageConfig: {{vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}}
  recordingConfig: {{channelType: 0, maxIdleTime: 600, subscribeUidGroup: 0}}
"#
    )
}

struct Running {
    handle: SimHandle,
    control: mpsc::UnboundedSender<Control>,
    requests: mpsc::UnboundedSender<Request>,
    events: mpsc::UnboundedReceiver<Event>,
    daemon: tokio::task::JoinHandle<Result<Summary, recplan::daemon::Error>>,
}

async fn start(dir: &Path, now: DateTime<Utc>) -> Running {
    start_with(dir, now, Store::open_in_memory().await.unwrap()).await
}

/// The daemon on the plans in `dir`, against a fresh simulator, with
/// `store`, through [`recplan::daemon::serve`] as `recplan daemon` runs it.
async fn start_with(dir: &Path, now: DateTime<Utc>, store: Store) -> Running {
    let handle = Simulator::start(SimConfig {
        rate_limit: None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = Client::new(ClientConfig {
        base: ApiBase::parse(&handle.uri()).unwrap(),
        app_id: sim::DEMO_APP_ID.to_owned(),
        credentials: Credentials::new(
            sim::DEMO_CUSTOMER_ID,
            Secret::new(sim::DEMO_CUSTOMER_SECRET),
        ),
        timeout: Duration::from_secs(30),
    })
    .unwrap();
    let (events_tx, events) = mpsc::unbounded_channel();
    let config = Config {
        events: Some(events_tx),
        ..Config::new(vec![dir.to_owned()])
    };
    let (progress, _) = mpsc::unbounded_channel();
    let env = Env::default().with("AGORA_APP_ID", sim::DEMO_APP_ID);
    let context = Context {
        client: ResilientClient::new(client, RateLimiter::default(), RetryPolicy::default()),
        store,
        clock: Clock::anchored(now),
        env,
        progress,
        stops: recplan::session::Stops::default(),
    };
    let (control, control_rx) = mpsc::unbounded_channel();
    // A listener, for the control API's requests.
    let (requests, requests_rx) = mpsc::unbounded_channel();
    let listener = Listener {
        socket: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        routes: axum::Router::new(),
        requests: Some(requests_rx),
    };
    let daemon = tokio::spawn(recplan::daemon::serve(
        config,
        context,
        Some(listener),
        control_rx,
    ));
    Running {
        handle,
        control,
        requests,
        events,
        daemon,
    }
}

fn drain(events: &mut mpsc::UnboundedReceiver<Event>) -> Vec<Event> {
    let mut all = Vec::new();
    while let Ok(event) = events.try_recv() {
        all.push(event);
    }
    all
}

/// The report of every occurrence that finished.
fn reports(events: &[Event]) -> Vec<Arc<OccurrenceReport>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Finished { report, .. } => Some(Arc::clone(report)),
            _ => None,
        })
        .collect()
}

fn started(events: &[Event]) -> Vec<(String, DateTime<Utc>, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Started { plan, start, late } => Some((plan.clone(), *start, *late)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn runs_every_plan_across_days_and_a_dst_change() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("morning.yaml"),
        plan("morning", "0 9 * * *", "10m", ""),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("gap.yaml"),
        plan("gap", "30 2 * * *", "5m", ""),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken.yaml"),
        "mode: composite\nchanels: []\n",
    )
    .unwrap();
    let mut running = start(dir.path(), at("2026-03-28T00:00:00Z")).await;

    tokio::time::sleep(Duration::from_secs(3 * 86_400)).await;
    running.control.send(Control::Shutdown).unwrap();
    let summary = running.daemon.await.unwrap().unwrap();
    let events = drain(&mut running.events);
    let reports = reports(&events);

    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Invalid { path, .. } if path.ends_with("broken.yaml"))),
        "{events:#?}"
    );
    let mut starts = started(&events);
    starts.sort_by_key(|(_, start, _)| *start);
    let expected = [
        ("gap", "2026-03-28T01:30:00Z"),
        ("morning", "2026-03-28T08:00:00Z"),
        // 02:30 does not exist on 29 March in Berlin: right after the jump.
        ("gap", "2026-03-29T01:00:00Z"),
        ("morning", "2026-03-29T07:00:00Z"),
        ("gap", "2026-03-30T00:30:00Z"),
        ("morning", "2026-03-30T07:00:00Z"),
    ];
    let expected: Vec<(String, DateTime<Utc>, bool)> = expected
        .iter()
        .map(|(p, t)| ((*p).to_owned(), at(t), false))
        .collect();
    assert_eq!(starts, expected);
    assert_eq!(reports.len(), 6);
    assert!(reports.iter().all(|r| r.all_completed()), "{reports:#?}");
    assert_eq!(
        summary,
        Summary {
            occurrences: 6,
            failed: 0
        }
    );
    let starts_sent = running
        .handle
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/start"))
        .count();
    assert_eq!(starts_sent, 6);
}

#[tokio::test(start_paused = true)]
async fn an_occurrence_missed_while_down_starts_late_within_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        plan("inside", "0 9 * * *", "30m", "  starting_deadline: 5m"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        plan("outside", "50 8 * * *", "30m", "  starting_deadline: 5m"),
    )
    .unwrap();
    // 09:02 Berlin: `inside` started 2 minutes ago; `outside` 12 minutes ago.
    let mut running = start(dir.path(), at("2026-11-27T08:02:00Z")).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    running.control.send(Control::Shutdown).unwrap();
    running.daemon.await.unwrap().unwrap();
    let events = drain(&mut running.events);
    assert_eq!(
        started(&events),
        [("inside".to_owned(), at("2026-11-27T08:00:00Z"), true)]
    );
    // The other was never recplan's to run: the store has no earlier
    // occurrence of it (a first install). Missed means missed.
    assert!(
        !events.iter().any(|e| matches!(e, Event::Missed { .. })),
        "{events:#?}"
    );
}

/// A regression test for false "missed" rows: only an occurrence of a plan
/// recplan was already running counts as missed, in the store as in the
/// events.
#[tokio::test(start_paused = true)]
async fn an_occurrence_of_a_running_plan_missed_while_down_is_recorded_as_missed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.yaml");
    std::fs::write(
        &file,
        plan("outside", "50 8 * * *", "30m", "  starting_deadline: 5m"),
    )
    .unwrap();
    // Yesterday's occurrence ran: recplan was in charge of this plan.
    let store = Store::open_in_memory().await.unwrap();
    let env = Env::default().with("AGORA_APP_ID", sim::DEMO_APP_ID);
    let options = recplan::plan::Options {
        env: env.clone(),
        missing_env: recplan::plan::MissingEnv::Refuse,
        now: at("2026-11-26T07:00:00Z"),
    };
    let loaded = recplan::plan::load(&file, &options).unwrap().plan;
    let yesterday = loaded
        .occurrence(loaded.localize(at("2026-11-26T07:50:00Z")), &env, None)
        .unwrap();
    for spec in &yesterday.sessions {
        let new = recplan::store::NewSession::of(&yesterday, spec, &yesterday.plan_hash);
        store.begin(&new, at("2026-11-26T07:50:00Z")).await.unwrap();
    }
    let mut running = start_with(dir.path(), at("2026-11-27T08:02:00Z"), store.clone()).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    running.control.send(Control::Shutdown).unwrap();
    running.daemon.await.unwrap().unwrap();
    let events = drain(&mut running.events);
    let missed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Missed { plan, start } => Some((plan.clone(), *start)),
            _ => None,
        })
        .collect();
    assert_eq!(missed, [("outside".to_owned(), at("2026-11-27T07:50:00Z"))]);
    let today = store
        .history(Some("outside"), Some(at("2026-11-27T00:00:00Z")))
        .await
        .unwrap();
    assert_eq!(today.len(), 1);
    assert_eq!(
        today[0].error.as_deref(),
        Some(recplan::daemon::MISSED_REASON)
    );
}

/// A state store that cannot be read is critical: nothing new starts, and
/// once it has been unavailable for longer than the grace the daemon stops
/// what it started and ends with an error, for its service manager to
/// restart it.
#[tokio::test(start_paused = true)]
async fn a_store_unavailable_beyond_its_grace_stops_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let plans = dir.path().join("plans");
    std::fs::create_dir(&plans).unwrap();
    std::fs::write(plans.join("p.yaml"), plan("p", "0 9 * * *", "10m", "")).unwrap();
    let state = dir.path().join("state");
    let store = Store::open(&state).await.unwrap();
    let mut running = start_with(&plans, at("2026-11-27T07:58:00Z"), store).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    // The store's tables go: every read fails from now on.
    let db = rusqlite::Connection::open(state.join(recplan::store::DB_FILE)).unwrap();
    db.execute_batch("DROP TABLE events; DROP TABLE sessions;")
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(3600), &mut running.daemon)
        .await
        .expect("the daemon ends by itself")
        .unwrap();
    assert!(
        matches!(ended, Err(recplan::daemon::Error::StoreUnavailable { .. })),
        "{ended:?}"
    );
    let events = drain(&mut running.events);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::StoreUnavailable { .. })),
        "{events:#?}"
    );
    // 09:00 Berlin came while the store was down: nothing started.
    assert_eq!(started(&events), []);
    assert!(running.handle.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn overlap_skip_and_stop_previous() {
    let dir = tempfile::tempdir().unwrap();
    // Every 10 minutes, 15 minutes long: each occurrence overlaps the next.
    std::fs::write(
        dir.path().join("skip.yaml"),
        plan("skip", "*/10 * * * *", "15m", "  overlap: skip"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("stop.yaml"),
        plan("stop", "*/10 * * * *", "15m", "  overlap: stop_previous"),
    )
    .unwrap();
    // 10:05:30: the 10:00 occurrence is past its 5-minute starting deadline.
    let mut running = start(dir.path(), at("2026-11-27T10:05:30Z")).await;
    // Starts at 10:10, 10:20, 10:30 and 10:40.
    tokio::time::sleep(Duration::from_secs(41 * 60)).await;
    running.control.send(Control::Shutdown).unwrap();
    running.daemon.await.unwrap().unwrap();
    let events = drain(&mut running.events);
    let reports = reports(&events);
    let starts = started(&events);
    let skip: Vec<_> = starts
        .iter()
        .filter(|(p, ..)| p == "skip")
        .map(|(_, s, _)| *s)
        .collect();
    assert_eq!(
        skip,
        [at("2026-11-27T10:10:00Z"), at("2026-11-27T10:30:00Z")]
    );
    let skipped = events
        .iter()
        .filter(|e| matches!(e, Event::Skipped { plan, reason, .. } if plan == "skip" && reason.contains("overlap")))
        .count();
    assert_eq!(skipped, 2);
    let stop: Vec<_> = starts
        .iter()
        .filter(|(p, ..)| p == "stop")
        .map(|(_, s, _)| *s)
        .collect();
    assert_eq!(stop.len(), 4);
    // Every stop_previous occurrence but the last was interrupted by its successor.
    let interrupted = reports
        .iter()
        .filter(|r| r.plan == "stop")
        .filter(|r| {
            r.sessions
                .iter()
                .all(|s| s.outcome == Some(recplan::session::Outcome::Interrupted))
        })
        .count();
    assert_eq!(interrupted, 4, "three by successors, the last by shutdown");
}

/// What the control API asks: a paused plan's occurrences are skipped,
/// a run now starts one whatever the pause, and a second run while it
/// records follows the plan's `overlap`.
#[tokio::test(start_paused = true)]
async fn requests_pause_a_plan_and_run_it_now_following_its_overlap() {
    async fn ask<T>(
        running: &Running,
        request: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> Request,
    ) -> T {
        let (reply, answer) = tokio::sync::oneshot::channel();
        running.requests.send(request(reply)).unwrap();
        answer.await.unwrap()
    }
    let run = |plan: &str| {
        let plan = plan.to_owned();
        |reply| Request::Run { plan, reply }
    };
    let pause = |paused: bool| {
        move |reply| Request::Pause {
            plan: "p".to_owned(),
            paused,
            reply,
        }
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        plan("p", "*/10 * * * *", "15m", "  overlap: skip"),
    )
    .unwrap();
    let mut running = start(dir.path(), at("2026-11-27T10:05:30Z")).await;
    assert_eq!(ask(&running, pause(true)).await, Ok(true));
    tokio::time::sleep(Duration::from_secs(5 * 60)).await;
    // 10:10:30: the 10:10 occurrence was skipped.
    let launched = ask(&running, run("p")).await;
    assert!(
        matches!(&launched, Some(Launched::Started { channels, .. }) if channels == &[("p".to_owned(), "4242".to_owned())]),
        "{launched:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let again = ask(&running, run("p")).await;
    assert!(
        matches!(&again, Some(Launched::Skipped(reason)) if reason.contains("overlap: skip")),
        "{again:?}"
    );
    assert_eq!(ask(&running, run("nope")).await, None);
    let plans = ask(&running, Request::Plans).await;
    assert!(plans[0].paused);
    assert_eq!(plans[0].next, Some(at("2026-11-27T10:20:00Z")));
    assert_eq!(ask(&running, pause(false)).await, Ok(true));
    // 10:20 overlaps the run of 10:10:30; 10:30 starts.
    tokio::time::sleep(Duration::from_secs(20 * 60)).await;
    running.control.send(Control::Shutdown).unwrap();
    running.daemon.await.unwrap().unwrap();
    let events = drain(&mut running.events);
    let starts: Vec<DateTime<Utc>> = started(&events).into_iter().map(|(_, s, _)| s).collect();
    assert_eq!(
        starts,
        [at("2026-11-27T10:10:30Z"), at("2026-11-27T10:30:00Z")]
    );
    let skipped: Vec<(DateTime<Utc>, &str)> = events
        .iter()
        .filter_map(|e| match e {
            // The 10:00 occurrence was missed before the daemon started.
            Event::Skipped { start, reason, .. } if !reason.starts_with("missed") => {
                Some((*start, reason.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert_eq!(skipped[0], (at("2026-11-27T10:10:00Z"), "paused"));
    assert!(
        skipped[1].1.contains("overlap"),
        "the second run: {skipped:?}"
    );
    assert_eq!(skipped[2].0, at("2026-11-27T10:20:00Z"));
    assert!(skipped[2].1.contains("overlap"), "{skipped:?}");
}

#[tokio::test(start_paused = true)]
async fn reload_applies_changed_plans_to_future_occurrences() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, plan("p", "0 9 * * *", "10m", "")).unwrap();
    let mut running = start(dir.path(), at("2026-11-27T07:00:00Z")).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    std::fs::write(&file, plan("p", "30 8 * * *", "10m", "")).unwrap();
    running.control.send(Control::Reload).unwrap();
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
    running.control.send(Control::Shutdown).unwrap();
    running.daemon.await.unwrap().unwrap();
    let events = drain(&mut running.events);
    assert_eq!(
        started(&events),
        [("p".to_owned(), at("2026-11-27T07:30:00Z"), false)]
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_every_started_recording() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), plan("a", "0 9 * * *", "1h", "")).unwrap();
    std::fs::write(dir.path().join("b.yaml"), plan("b", "0 9 * * *", "1h", "")).unwrap();
    let running = start(dir.path(), at("2026-11-27T07:59:00Z")).await;
    tokio::time::sleep(Duration::from_secs(5 * 60)).await;
    running.control.send(Control::Shutdown).unwrap();
    let summary = running.daemon.await.unwrap().unwrap();
    assert_eq!(summary.occurrences, 2);
    let requests = running.handle.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/start"))
            .count(),
        2
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/stop"))
            .count(),
        2
    );
}

/// The real binary under a stand-in for systemd: it reports ready once the
/// plans are loaded, serves its listener, and on SIGTERM says it is
/// stopping and exits 0. Started with systemd's default soft limit of open
/// files, it raises that to the hard limit.
#[test]
fn the_binary_notifies_systemd_and_serves_health_and_metrics() {
    use std::io::{Read as _, Write as _};
    use std::os::unix::net::UnixDatagram;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let plans = dir.path().join("plans");
    std::fs::create_dir(&plans).unwrap();
    std::fs::write(plans.join("p.yaml"), plan("p", "0 9 * * *", "10m", "")).unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // `exec` keeps the pid, so the limits read below are the daemon's.
    let mut child = Command::new("sh")
        .args([
            "-c",
            "ulimit -Sn 1024 && exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_recplan"),
            "daemon",
            plans.to_str().unwrap(),
            "--sim",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("AGORA_NCS_SECRET", "ncs-secret-for-the-test")
        .env_remove("RECPLAN_STATE_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buffer = [0u8; 256];
    let received = socket.recv(&mut buffer).expect("READY=1 within 20 s");
    assert_eq!(&buffer[..received], b"READY=1");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let open_files: Vec<&str> = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(open_files[0], open_files[1], "soft limit raised: {limits}");

    let get = |path: &str| -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    assert!(get("/healthz").starts_with("HTTP/1.1 200"));
    assert!(get("/readyz").starts_with("HTTP/1.1 200"));
    let metrics = get("/metrics");
    assert!(metrics.contains("text/plain; version=0.0.4"), "{metrics}");
    assert!(
        metrics.contains("\nrecplan_sessions_active 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("recplan_plan_next_start_timestamp_seconds{plan=\"p\"}"),
        "{metrics}"
    );
    // Agora's notifications are served on the same listener, signature
    // checked.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = r#"{"noticeId":"n1","productId":3,"eventType":31,"payload":{"sid":"x"}}"#;
    write!(
        stream,
        "POST /ncs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAgora-Signature-V2: 00\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    let sessions = get("/sessions");
    assert!(
        sessions.contains("\"plans\":[{\"plan\":\"p\""),
        "{sessions}"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let received = socket.recv(&mut buffer).expect("STOPPING=1 within 20 s");
    assert_eq!(&buffer[..received], b"STOPPING=1");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// The example unit in contrib/ is one systemd accepts.
#[test]
fn the_example_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/recplan.service"
    ))
    .unwrap();
    let unit = unit.replace("/usr/local/bin/recplan", env!("CARGO_BIN_EXE_recplan"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recplan.service");
    std::fs::write(&path, unit).unwrap();
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze is installed (.ci/run installs it)");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
