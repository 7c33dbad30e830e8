//! Leases, in each backend: of runners racing for one occurrence exactly
//! one drives it, and a runner that dies, however it dies, frees its
//! sessions for another to resume.
//!
//! Processes are stood in for by store handles opened separately (each
//! with its own lease file handles or its own connections), and, where a
//! real death matters, by this test binary re-run as a child that is
//! killed with SIGKILL.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use recplan::store::{Begin, Lease, Phase, SessionId, Store};
use tokio::sync::Barrier;

use super::place::open_at;
use super::{Place, at, new_session, record_all, script};

/// Set in the child: the store to take a lease in.
const CHILD_STATE: &str = "RECPLAN_STORE_TEST_LEASE_STATE";
const CHILD_TEST: &str = "store::lease::lease_child";

/// How long a freed lease may take to be seen free. SQLite's is free once
/// the holder's files are closed; PostgreSQL's once the server has seen
/// the holder's connection close, which takes it a moment after the kill.
const FREED_WITHIN: Duration = Duration::from_secs(10);

/// Not a test: the holder process, which begins a session, records it as
/// recording, takes its lease and reports the id, then waits until its
/// parent kills it (or closes its stdin, should the parent die first).
#[tokio::test]
#[ignore = "the lease tests run it in a child process"]
async fn lease_child() {
    let Some(state) = std::env::var_os(CHILD_STATE) else {
        return;
    };
    let store = open_at(&state).await;
    let new = new_session("lease", "room", 0);
    let Begin::Created(id) = store.begin(&new, at(0)).await.unwrap() else {
        panic!("begun twice");
    };
    record_all(&store, id, &script(&new)[..4]).await;
    let _lease = store
        .lease(id)
        .await
        .unwrap()
        .expect("a fresh session's lease is free");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "leased {id}").unwrap();
    stdout.flush().unwrap();
    let mut rest = String::new();
    let _ = std::io::stdin().read_line(&mut rest);
}

/// Takes the lease of `id` in `store`, retrying until [`FREED_WITHIN`].
pub(super) async fn lease_when_freed(store: &Store, id: SessionId) -> Option<Lease> {
    let deadline = Instant::now() + FREED_WITHIN;
    loop {
        if let Some(lease) = store.lease(id).await.unwrap() {
            return Some(lease);
        }
        if Instant::now() >= deadline {
            return None;
        }
        // Polling: nothing tells a waiter that another process's lease
        // was freed.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_each_backend!(place racing_runners_drive_an_occurrence_exactly_once);
async fn racing_runners_drive_an_occurrence_exactly_once(place: &Place) {
    const RUNNERS: usize = 4;
    const OCCURRENCES: usize = 8;
    let mut runners: Vec<Store> = Vec::with_capacity(RUNNERS);
    for _ in 0..RUNNERS {
        runners.push(place.open().await);
    }
    let barrier = Arc::new(Barrier::new(RUNNERS));
    let mut tasks = tokio::task::JoinSet::new();
    for store in runners.clone() {
        let barrier = Arc::clone(&barrier);
        tasks.spawn(async move {
            let mut leases = Vec::new();
            let mut outcomes = Vec::new();
            for n in 0..OCCURRENCES {
                let new = new_session("race", &format!("room-{n}"), 0);
                barrier.wait().await;
                // What run_occurrence does: begin, then lease what is new
                // or still active.
                let begun = store.begin(&new, at(0)).await.unwrap();
                let lease = store.lease(begun.id()).await.unwrap();
                outcomes.push((matches!(begun, Begin::Created(_)), lease.is_some()));
                // Held until every runner has tried every occurrence, as a
                // live runner holds it.
                leases.push(lease);
            }
            barrier.wait().await;
            outcomes
        });
    }
    // Per runner, per occurrence: (created it, drives it).
    let outcomes: Vec<Vec<(bool, bool)>> = tasks.join_all().await;
    for n in 0..OCCURRENCES {
        let created = outcomes.iter().filter(|o| o[n].0).count();
        let driving = outcomes.iter().filter(|o| o[n].1).count();
        assert_eq!((created, driving), (1, 1), "occurrence {n}: {outcomes:?}");
    }
    assert_eq!(
        runners[0].history(None, None).await.unwrap().len(),
        OCCURRENCES
    );
}

on_each_backend!(place a_lease_is_held_once_and_freed_when_dropped);
async fn a_lease_is_held_once_and_freed_when_dropped(place: &Place) {
    let (mine, theirs) = (place.open().await, place.open().await);
    let id = mine
        .begin(&new_session("lease", "room", 0), at(0))
        .await
        .unwrap()
        .id();
    let lease = mine.lease(id).await.unwrap().expect("free at first");
    assert!(
        mine.lease(id).await.unwrap().is_none(),
        "not twice in one process"
    );
    assert!(
        mine.clone().lease(id).await.unwrap().is_none(),
        "nor by a clone of the store"
    );
    assert!(
        theirs.lease(id).await.unwrap().is_none(),
        "nor by another process"
    );
    drop(lease);
    let again = lease_when_freed(&theirs, id)
        .await
        .expect("freed when dropped");
    assert!(
        mine.lease(id).await.unwrap().is_none(),
        "now the other holds it"
    );
    drop(again);
    assert!(
        lease_when_freed(&mine, id).await.is_some(),
        "and the first may take it back"
    );
}

on_each_backend!(place a_killed_runners_session_is_taken_over_and_resumed);
async fn a_killed_runners_session_is_taken_over_and_resumed(place: &Place) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            CHILD_TEST,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_STATE, place.location())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let id = stdout
        .lines()
        .map_while(Result::ok)
        // After the harness's "test … " on the same line.
        .find_map(|line| line.split_once("leased ").map(|(_, id)| id.to_owned()))
        .expect("the child took the lease")
        .parse()
        .map(SessionId)
        .unwrap();

    let store = place.open().await;
    assert!(
        store.lease(id).await.unwrap().is_none(),
        "a live runner's session is left alone"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // Recovery: the active session whose lease is free, where it stood.
    let stored = store
        .active()
        .await
        .unwrap()
        .pop()
        .expect("the session is active");
    assert_eq!((stored.id, stored.phase), (id, Phase::Recording));
    let _lease = lease_when_freed(&store, id)
        .await
        .expect("the dead runner's lease is freed");
    let new = new_session("lease", "room", 0);
    let done = record_all(&store, id, &script(&new)[4..]).await;
    assert_eq!(done.phase, Phase::Completed);
    assert!(store.active().await.unwrap().is_empty());
}
