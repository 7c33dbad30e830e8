//! Transitions written together: what sessions record at the same moment
//! shares one transaction and one commit, every transition still lands in
//! order, and a refused one fails alone, in each backend.

use recplan::store::{Change, Phase, SessionId, Store, StoreError, Transition};
use tokio::task::JoinSet;

use super::{Place, at, new_session, resource_of, script};

/// Begins `count` sessions of plan `burst`, one per channel.
fn begin_many(store: &Store, count: usize) -> Vec<SessionId> {
    (0..count)
        .map(|n| {
            let new = new_session("burst", &format!("room-{n}"), 0);
            store.begin(&new, at(0)).unwrap().id()
        })
        .collect()
}

fn acquire_intent() -> Transition {
    Transition::AcquireIntent {
        uid: new_session("burst", "room", 0).uid,
    }
}

/// Refused by a session that has recorded no acquire intent.
fn acquired() -> Transition {
    Transition::Acquired {
        resource_id: "resource-burst".to_owned(),
    }
}

fn kinds(store: &Store, id: SessionId) -> Vec<String> {
    store
        .events(id)
        .unwrap()
        .into_iter()
        .map(|event| event.kind)
        .collect()
}

on_each_backend!(many_sessions_recording_at_once_all_land_in_order);
fn many_sessions_recording_at_once_all_land_in_order(store: &Store) {
    const SESSIONS: usize = 500;
    let sessions: Vec<_> = (0..SESSIONS)
        .map(|n| new_session("burst", &format!("room-{n}"), 0))
        .map(|new| (store.begin(&new, at(0)).unwrap().id(), new))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut tasks = JoinSet::new();
        for (id, new) in &sessions {
            let (store, id, new) = (store.clone(), *id, new.clone());
            tasks.spawn(async move {
                for (minute, transition) in (1..).zip(&script(&new)) {
                    let session = store
                        .record_queued(id, at(minute), transition)
                        .await
                        .unwrap_or_else(|error| panic!("{}: {error}", transition.kind()));
                    assert_eq!((session.id, session.updated_at), (id, at(minute)));
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap();
        }
    });
    for (id, new) in &sessions {
        let expected: Vec<_> = std::iter::once("begun")
            .chain(script(new).iter().map(Transition::kind))
            .collect();
        assert_eq!(kinds(store, *id), expected, "{}", new.cname);
        let events = store.events(*id).unwrap();
        assert!(events.windows(2).all(|pair| pair[0].at < pair[1].at));
        let stored = store.get(*id).unwrap().unwrap();
        assert_eq!(stored.phase, Phase::Completed, "{}", new.cname);
        assert_eq!(stored.files, [format!("{}.m3u8", new.cname)]);
    }
}

on_each_backend!(place transitions_queued_at_once_share_a_commit_and_a_refused_one_fails_alone);
fn transitions_queued_at_once_share_a_commit_and_a_refused_one_fails_alone(place: &Place) {
    const SESSIONS: usize = 100;
    let store = place.open();
    let ids = begin_many(&store, SESSIONS);
    let unasked = store
        .begin(&new_session("burst", "unasked", 0), at(0))
        .unwrap()
        .id();
    let before = store.commits();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (answers, refused) = runtime.block_on(async {
        // Queued while nothing can be written: whatever the flusher took
        // first waits on the lock, and all the rest is queued behind it.
        let held = place.hold_writes();
        let intents: Vec<_> = ids
            .iter()
            .map(|id| store.record_queued(*id, at(1), &acquire_intent()))
            .collect();
        let refused = store.record_queued(unasked, at(1), &acquired());
        let results: Vec<_> = ids
            .iter()
            .map(|id| store.record_queued(*id, at(2), &acquired()))
            .collect();
        drop(held);
        let mut answers = Vec::new();
        for (queued, phase) in [(intents, Phase::Acquiring), (results, Phase::Acquired)] {
            for answer in queued {
                answers.push((answer.await, phase));
            }
        }
        (answers, refused.await)
    });
    let commits = store.commits() - before;
    assert!(
        commits <= 2,
        "{} transitions made {commits} commits",
        answers.len() + 1
    );
    for (answer, phase) in answers {
        assert_eq!(answer.unwrap().phase, phase);
    }
    assert!(
        matches!(&refused, Err(StoreError::Transition { id, .. }) if *id == unasked),
        "{refused:?}"
    );
    assert_eq!(kinds(&store, unasked), ["begun"]);
    for id in ids {
        assert_eq!(kinds(&store, id), ["begun", "acquire_intent", "acquired"]);
    }
}

on_each_backend!(a_batch_writes_each_change_that_follows_and_leaves_out_the_rest);
fn a_batch_writes_each_change_that_follows_and_leaves_out_the_rest(store: &Store) {
    let [first, refused, other] = begin_many(store, 3)[..] else {
        unreachable!("three sessions");
    };
    let gone = SessionId(999_999);
    let change = |id, minute, transition| Change {
        id,
        at: at(minute),
        transition,
    };
    let before = store.commits();
    let written = store
        .record_batch(&[
            change(first, 1, acquire_intent()),
            change(refused, 1, acquired()),
            change(gone, 1, acquire_intent()),
            change(other, 1, acquire_intent()),
            // Follows the first change, written in the same transaction.
            change(
                first,
                2,
                Transition::Acquired {
                    resource_id: resource_of(&new_session("burst", "room-0", 0)),
                },
            ),
        ])
        .unwrap();
    assert_eq!(store.commits(), before + 1, "one commit for the batch");
    let phases: Vec<_> = written
        .iter()
        .map(|result| result.as_ref().map(|session| (session.id, session.phase)))
        .collect();
    assert!(
        matches!(
            phases[..],
            [
                Ok((id_0, Phase::Acquiring)),
                Err(StoreError::Transition { id: id_1, .. }),
                Err(StoreError::NotFound(id_2)),
                Ok((id_3, Phase::Acquiring)),
                Ok((id_4, Phase::Acquired)),
            ] if id_0 == first && *id_1 == refused && *id_2 == gone && id_3 == other && id_4 == first
        ),
        "{phases:?}"
    );
    assert_eq!(kinds(store, first), ["begun", "acquire_intent", "acquired"]);
    assert_eq!(kinds(store, refused), ["begun"]);
    assert_eq!(kinds(store, other), ["begun", "acquire_intent"]);
    assert_eq!(
        store.get(first).unwrap().unwrap().resource_id.as_deref(),
        Some("resource-room-0-527841")
    );
}

on_each_backend!(a_transition_queued_outside_any_runtime_is_written_all_the_same);
fn a_transition_queued_outside_any_runtime_is_written_all_the_same(store: &Store) {
    let [id] = begin_many(store, 1)[..] else {
        unreachable!("one session");
    };
    let queued = store.record_queued(id, at(1), &acquire_intent());
    let session = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(queued)
        .unwrap();
    assert_eq!(session.phase, Phase::Acquiring);
    assert_eq!(store.get(id).unwrap(), Some(session));
}
