//! The state store: schema and files, the transition rules, what recovery
//! is shown, durability across a killed process, and leases.
//!
//! What holds for every backend runs against each: SQLite always, and
//! PostgreSQL when `RECPLAN_TEST_POSTGRES` names a database
//! (`postgres://user@host:port/db`) in which the tests may create schemas.
//! Without it the PostgreSQL variants are ignored, with that reason;
//! `.ci/run` runs them with `--include-ignored` against a server of its own.

/// Runs an async test function against each backend, on a tokio runtime
/// with two workers (callers on several threads at once), as the tests
/// `NAME::sqlite` and `NAME::postgres`.
/// `NAME(store: &Store)` gets a fresh store (SQLite in memory); `place
/// NAME(place: &Place)` gets a fresh place to open stores in, as separate
/// processes would (SQLite in a directory).
macro_rules! on_each_backend {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(&recplan::store::Store::open_in_memory().await.unwrap()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
            async fn postgres() {
                super::$name(&crate::store::Place::postgres().open().await).await;
            }
        }
    };
    (place $name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(&crate::store::Place::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
            async fn postgres() {
                super::$name(&crate::store::Place::postgres()).await;
            }
        }
    };
}

mod batch;
mod control;
mod driving;
mod durability;
mod files;
mod lease;
mod lifecycle;
mod notices;
mod place;
mod postgres;
mod rate;
mod schema;

pub use place::Place;

use chrono::{DateTime, TimeDelta, Utc};
use recplan::agora::{Mode, Recording};
use recplan::store::{Begin, NewSession, SessionId, Store, StoredSession, Transition};

/// 2026-11-27T09:00:00Z plus `minutes`: every test's clock.
pub fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
        .unwrap()
        .to_utc()
        + TimeDelta::minutes(minutes)
}

/// The session of `plan`'s channel `cname` in the occurrence starting
/// `start` minutes after [`at`]`(0)`, with two steps.
pub fn new_session(plan: &str, cname: &str, start: i64) -> NewSession {
    NewSession {
        plan: plan.to_owned(),
        plan_path: format!("plans/{plan}.yaml").into(),
        plan_hash: "sha256:0f1e2d".to_owned(),
        mode: Mode::Composite,
        app_id: "0123456789abcdef0123456789abcdef".to_owned(),
        cname: cname.to_owned(),
        uid: "527841".to_owned(),
        backup_uid: Some("527842".to_owned()),
        scheduled_start: at(start),
        scheduled_end: at(start + 30),
        step_count: 2,
    }
}

/// Identifiers as Agora would hand them out, distinct per channel.
pub fn resource_of(new: &NewSession) -> String {
    format!("resource-{}-{}", new.cname, new.uid)
}

pub fn recording_of(new: &NewSession, uid: &str, sid: &str) -> Recording {
    Recording {
        mode: new.mode,
        resource_id: format!("resource-{}-{uid}", new.cname),
        sid: sid.to_owned(),
        cname: new.cname.clone(),
        uid: uid.to_owned(),
    }
}

/// A whole session that goes to plan, each transition in order.
pub fn script(new: &NewSession) -> Vec<Transition> {
    vec![
        Transition::AcquireIntent {
            uid: new.uid.clone(),
        },
        Transition::Acquired {
            resource_id: resource_of(new),
        },
        Transition::StartIntent {
            resource_id: resource_of(new),
            uid: new.uid.clone(),
        },
        Transition::Started {
            recording: recording_of(new, &new.uid, &format!("sid-{}", new.cname)),
        },
        Transition::StepIntent { index: 0 },
        Transition::StepDone {
            index: 0,
            outcome: "ok".to_owned(),
            late_ms: Some(12),
        },
        Transition::StopIntent,
        Transition::Stopped {
            files: vec![format!("{}.m3u8", new.cname)],
            uploading_status: Some("uploaded".to_owned()),
            outcome: recplan::store::Outcome::Completed,
        },
    ]
}

/// Begins `new`, which must be new, and records `transitions` a minute
/// apart.
pub async fn run(store: &Store, new: &NewSession, transitions: &[Transition]) -> StoredSession {
    let Begin::Created(id) = store.begin(new, at(0)).await.unwrap() else {
        panic!("{} was begun before", new.cname);
    };
    record_all(store, id, transitions).await
}

pub async fn record_all(store: &Store, id: SessionId, transitions: &[Transition]) -> StoredSession {
    let mut session = store.get(id).await.unwrap().expect("the session exists");
    for (minute, transition) in (1..).zip(transitions) {
        session = store
            .record(id, at(minute), transition)
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", transition.kind()));
    }
    session
}

on_each_backend!(tasks_on_several_threads_share_one_store);
async fn tasks_on_several_threads_share_one_store(store: &Store) {
    let spawned = |cname: &str| {
        let (store, new) = (store.clone(), new_session("standup", cname, 0));
        tokio::spawn(async move { run(&store, &new, &script(&new)).await.id })
    };
    let (first, second) = (spawned("first"), spawned("second"));
    let ids = [first.await.unwrap(), second.await.unwrap()];
    for id in ids {
        assert_eq!(
            store.get(id).await.unwrap().unwrap().phase,
            recplan::store::Phase::Completed
        );
    }
}
