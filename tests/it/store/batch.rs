//! Transitions written together: what sessions record at the same moment
//! shares one transaction and one commit, every transition still lands in
//! order, and a refused one fails alone, in each backend.

use recplan::store::{Change, Phase, SessionId, Store, StoreError, Transition};
use tokio::task::JoinSet;

use super::{Place, at, new_session, resource_of, script};

/// Begins `count` sessions of plan `burst`, one per channel.
async fn begin_many(store: &Store, count: usize) -> Vec<SessionId> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let new = new_session("burst", &format!("room-{n}"), 0);
        ids.push(store.begin(&new, at(0)).await.unwrap().id());
    }
    ids
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

async fn kinds(store: &Store, id: SessionId) -> Vec<String> {
    store
        .events(id)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.kind)
        .collect()
}

on_each_backend!(many_sessions_recording_at_once_all_land_in_order);
async fn many_sessions_recording_at_once_all_land_in_order(store: &Store) {
    const SESSIONS: usize = 500;
    let mut sessions = Vec::with_capacity(SESSIONS);
    for n in 0..SESSIONS {
        let new = new_session("burst", &format!("room-{n}"), 0);
        sessions.push((store.begin(&new, at(0)).await.unwrap().id(), new));
    }
    {
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
    }
    for (id, new) in &sessions {
        let expected: Vec<_> = std::iter::once("begun")
            .chain(script(new).iter().map(Transition::kind))
            .collect();
        assert_eq!(kinds(store, *id).await, expected, "{}", new.cname);
        let events = store.events(*id).await.unwrap();
        assert!(events.windows(2).all(|pair| pair[0].at < pair[1].at));
        let stored = store.get(*id).await.unwrap().unwrap();
        assert_eq!(stored.phase, Phase::Completed, "{}", new.cname);
        assert_eq!(stored.files, [format!("{}.m3u8", new.cname)]);
    }
}

on_each_backend!(place transitions_queued_at_once_share_a_commit_and_a_refused_one_fails_alone);
async fn transitions_queued_at_once_share_a_commit_and_a_refused_one_fails_alone(place: &Place) {
    const SESSIONS: usize = 100;
    let store = place.open().await;
    let ids = begin_many(&store, SESSIONS).await;
    let unasked = store
        .begin(&new_session("burst", "unasked", 0), at(0))
        .await
        .unwrap()
        .id();
    let before = store.commits();
    let (answers, refused) = async {
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
    }
    .await;
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
    assert_eq!(kinds(&store, unasked).await, ["begun"]);
    for id in ids {
        assert_eq!(
            kinds(&store, id).await,
            ["begun", "acquire_intent", "acquired"]
        );
    }
}

on_each_backend!(a_batch_writes_each_change_that_follows_and_leaves_out_the_rest);
async fn a_batch_writes_each_change_that_follows_and_leaves_out_the_rest(store: &Store) {
    let [first, refused, other] = begin_many(store, 3).await[..] else {
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
        .await
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
    assert_eq!(
        kinds(store, first).await,
        ["begun", "acquire_intent", "acquired"]
    );
    assert_eq!(kinds(store, refused).await, ["begun"]);
    assert_eq!(kinds(store, other).await, ["begun", "acquire_intent"]);
    assert_eq!(
        store
            .get(first)
            .await
            .unwrap()
            .unwrap()
            .resource_id
            .as_deref(),
        Some("resource-room-0-527841")
    );
}

on_each_backend!(a_transition_queued_outside_any_runtime_is_written_all_the_same);
async fn a_transition_queued_outside_any_runtime_is_written_all_the_same(store: &Store) {
    let [id] = begin_many(store, 1).await[..] else {
        unreachable!("one session");
    };
    // Queued on a thread of no runtime; awaited on one.
    let queued = std::thread::scope(|scope| {
        scope
            .spawn(|| store.record_queued(id, at(1), &acquire_intent()))
            .join()
            .unwrap()
    });
    let session = queued.await.unwrap();
    assert_eq!(session.phase, Phase::Acquiring);
    assert_eq!(store.get(id).await.unwrap(), Some(session));
}
