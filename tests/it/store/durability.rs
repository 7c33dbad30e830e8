//! What was committed survives the process dying at any instant, and
//! concurrent writers, in one process or several, keep the store whole, in
//! each backend.
//!
//! The crash tests re-run this test binary as a child that writes
//! transitions and then dies without unwinding: by `abort()`, or by SIGKILL
//! from the parent at an arbitrary moment.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use recplan::store::{Begin, Phase, SessionId};

use super::place::open_at;
use super::{Place, at, new_session, record_all, run, script};

/// Set in the child: the store to write to, a directory or a URL.
const CHILD_STATE: &str = "RECPLAN_STORE_TEST_CRASH_STATE";
/// Set in the child: `abort` or `until-killed`.
const CHILD_MODE: &str = "RECPLAN_STORE_TEST_CRASH_MODE";
/// The child's test, as the harness names it.
const CHILD_TEST: &str = "store::durability::crash_child";
/// Bounds the `until-killed` child, should its parent be gone.
const CHILD_MAX_SESSIONS: usize = 500;

/// Not a test: the child process of the crash tests, which run it. Without
/// their environment it does nothing.
#[tokio::test]
#[ignore = "the crash tests run it in a child process"]
async fn crash_child() {
    let (Some(state), Some(mode)) = (
        std::env::var_os(CHILD_STATE),
        std::env::var(CHILD_MODE).ok(),
    ) else {
        return;
    };
    let store = open_at(&state).await;
    let mut stdout = std::io::stdout().lock();
    match mode.as_str() {
        "abort" => {
            // One session to its end, one left recording.
            let done = new_session("crash", "done", 0);
            run(&store, &done, &script(&done)).await;
            let live = new_session("crash", "live", 0);
            run(&store, &live, &script(&live)[..4]).await;
            writeln!(stdout, "committed all").unwrap();
            std::process::abort();
        }
        "until-killed" => {
            for n in 0..CHILD_MAX_SESSIONS {
                let new = new_session("crash", &format!("room-{n}"), 0);
                let Begin::Created(id) = store.begin(&new, at(0)).await.unwrap() else {
                    panic!("begun twice");
                };
                writeln!(stdout, "committed {id} begun").unwrap();
                stdout.flush().unwrap();
                for (minute, transition) in (1..).zip(&script(&new)) {
                    store.record(id, at(minute), transition).await.unwrap();
                    // Reported only once committed: the parent holds the
                    // store to every line it reads.
                    writeln!(stdout, "committed {id} {}", transition.kind()).unwrap();
                    stdout.flush().unwrap();
                }
            }
        }
        other => panic!("unknown mode {other}"),
    }
}

fn spawn_child(place: &Place, mode: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            CHILD_TEST,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_STATE, place.location())
        .env(CHILD_MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

on_each_backend!(place every_transition_before_an_abort_is_there_after_it);
async fn every_transition_before_an_abort_is_there_after_it(place: &Place) {
    let output = spawn_child(place, "abort").wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("committed all"), "the child ran: {stdout}");
    assert!(!output.status.success(), "the child died");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            output.status.signal(),
            Some(6),
            "by SIGABRT, unwinding nothing"
        );
    }
    if let Place::Sqlite(dir) = place {
        let wal = dir.path().join("recplan.db-wal");
        assert!(wal.exists(), "the child never closed the database");
    }

    let store = place.open().await;
    let done = new_session("crash", "done", 0);
    let done = store
        .find(&done.key())
        .await
        .unwrap()
        .expect("the finished session");
    assert_eq!(done.phase, Phase::Completed);
    assert_eq!(
        store.events(done.id).await.unwrap().len(),
        1 + script(&new_session("crash", "done", 0)).len()
    );
    let live_new = new_session("crash", "live", 0);
    let live = store
        .find(&live_new.key())
        .await
        .unwrap()
        .expect("the live session");
    assert_eq!(store.active().await.unwrap(), std::slice::from_ref(&live));
    assert_eq!(
        live.recording().map(|r| r.sid),
        Some("sid-live".to_owned()),
        "the sid to stop survived"
    );
}

on_each_backend!(place a_kill_at_any_instant_loses_nothing_committed);
async fn a_kill_at_any_instant_loses_nothing_committed(place: &Place) {
    let mut child = spawn_child(place, "until-killed");
    let stdout = child.stdout.take().unwrap();
    let mut committed: Vec<(SessionId, String)> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let Some(rest) = line.strip_prefix("committed ") else {
            continue;
        };
        let (id, kind) = rest.split_once(' ').unwrap();
        committed.push((SessionId(id.parse().unwrap()), kind.to_owned()));
        // Mid-session (the 7th of a session's 9 writes), while the child
        // goes on writing: the kill lands wherever it is.
        if committed.len() == 3 * 9 + 7 {
            child.kill().unwrap();
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed: {status}");
    assert_eq!(committed.len(), 34, "the child wrote until killed");

    let store = place.open().await;
    if let Place::Sqlite(dir) = place {
        let integrity: String = rusqlite::Connection::open(dir.path().join("recplan.db"))
            .unwrap()
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }
    for (id, kind) in &committed {
        let events = store.events(*id).await.unwrap();
        assert!(
            events.iter().any(|event| &event.kind == kind),
            "session {id}: {kind} was reported committed but is missing"
        );
    }
    // Whatever the kill interrupted is either whole or absent: each
    // session's row matches its last event.
    for session in store.history(Some("crash"), None).await.unwrap() {
        let events = store.events(session.id).await.unwrap();
        let last = &events.last().unwrap().kind;
        let expected = match last.as_str() {
            "begun" => Phase::Pending,
            "acquire_intent" => Phase::Acquiring,
            "acquired" => Phase::Acquired,
            "start_intent" => Phase::Starting,
            "started" | "step_intent" | "step_done" => Phase::Recording,
            "stop_intent" => Phase::Stopping,
            "stopped" => Phase::Completed,
            other => panic!("unexpected event {other}"),
        };
        assert_eq!(session.phase, expected, "session {}", session.id);
    }
}

on_each_backend!(place concurrent_writers_in_one_process_and_across_connections);
async fn concurrent_writers_in_one_process_and_across_connections(place: &Place) {
    const WRITERS: usize = 4;
    const SESSIONS: usize = 6;
    let shared = place.open().await;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        // Half share one connection, half open their own, as a second
        // process would.
        let store = if writer % 2 == 0 {
            shared.clone()
        } else {
            place.open().await
        };
        writers.spawn(async move {
            let mut mine = Vec::new();
            for n in 0..SESSIONS {
                // Every writer races for the same occurrences.
                let new = new_session("race", &format!("room-{n}"), 0);
                if let Begin::Created(id) = store.begin(&new, at(0)).await.unwrap() {
                    record_all(&store, id, &script(&new)).await;
                    mine.push(id);
                }
                // And writes one of its own.
                let own = new_session("own", &format!("w{writer}-{n}"), 0);
                mine.push(run(&store, &own, &script(&own)).await.id);
            }
            mine
        });
    }
    let created: Vec<Vec<SessionId>> = writers.join_all().await;
    let all: Vec<SessionId> = created.into_iter().flatten().collect();
    assert_eq!(
        all.len(),
        SESSIONS + WRITERS * SESSIONS,
        "each raced occurrence created once"
    );
    let history = shared.history(None, None).await.unwrap();
    assert_eq!(history.len(), all.len());
    for session in history {
        assert_eq!(session.phase, Phase::Completed, "{}", session.cname);
        assert_eq!(shared.events(session.id).await.unwrap().len(), 1 + 8);
    }
    assert!(shared.active().await.unwrap().is_empty());
}
