//! Sessions through their transitions: the state each one leaves, the
//! history it appends, the ones refused, and what `active()` shows, in
//! each backend.

use recplan::agora::{Mode, Recording};
use recplan::store::{
    Begin, NewSession, OccurrenceKey, Phase, SessionId, Store, StoreError, StoredSession,
    Transition,
};
use serde_json::json;

use super::{at, new_session, record_all, recording_of, resource_of, run, script};

on_each_backend!(an_occurrence_is_begun_at_most_once);
async fn an_occurrence_is_begun_at_most_once(store: &Store) {
    let new = new_session("standup", "room", 0);
    let Begin::Created(id) = store.begin(&new, at(0)).await.unwrap() else {
        panic!("a fresh occurrence is created");
    };
    assert_eq!(
        store.begin(&new, at(1)).await.unwrap(),
        Begin::AlreadyExists(id, Phase::Pending)
    );
    record_all(store, id, &script(&new)[..4]).await;
    assert_eq!(
        store.begin(&new, at(9)).await.unwrap(),
        Begin::AlreadyExists(id, Phase::Recording),
        "a second runner learns the occurrence is being recorded"
    );
    // Starts are kept to the millisecond: finer differences are the same
    // occurrence.
    let mut jittered = new.clone();
    jittered.scheduled_start += chrono::TimeDelta::microseconds(300);
    assert_eq!(store.begin(&jittered, at(9)).await.unwrap().id(), id);
    // Each part of the identity makes a different occurrence.
    let mut others = vec![
        new_session("other-plan", "room", 0),
        new_session("standup", "other-room", 0),
        new_session("standup", "room", 60 * 24),
    ];
    let mut other_uid = new.clone();
    "999".clone_into(&mut other_uid.uid);
    others.push(other_uid);
    for other in &others {
        assert!(
            matches!(store.begin(other, at(0)).await.unwrap(), Begin::Created(created) if created != id)
        );
    }
    assert_eq!(
        store.events(id).await.unwrap().len(),
        1 + 4,
        "a refused begin appends nothing"
    );
}

on_each_backend!(each_transition_sets_the_state_and_appends_its_event);
async fn each_transition_sets_the_state_and_appends_its_event(store: &Store) {
    let new = new_session("standup", "room", 0);
    let id = store.begin(&new, at(0)).await.unwrap().id();
    let expected = [
        (Phase::Acquiring, true),
        (Phase::Acquired, true),
        (Phase::Starting, true),
        (Phase::Recording, true),
        (Phase::Recording, true),
        (Phase::Recording, true),
        (Phase::Stopping, true),
        (Phase::Completed, false),
    ];
    for (minute, (transition, (phase, active))) in (1..).zip(script(&new).iter().zip(expected)) {
        let session = store.record(id, at(minute), transition).await.unwrap();
        assert_eq!(session.phase, phase, "after {}", transition.kind());
        assert_eq!(session.is_active(), active, "after {}", transition.kind());
        assert_eq!(session.updated_at, at(minute));
        assert_eq!(
            store.get(id).await.unwrap().as_ref(),
            Some(&session),
            "as stored"
        );
        let events = store.events(id).await.unwrap();
        assert_eq!(events.len(), 1 + usize::try_from(minute).unwrap());
        let last = events.last().unwrap();
        assert_eq!(
            (last.kind.as_str(), last.at),
            (transition.kind(), at(minute))
        );
        let mut written = serde_json::to_value(transition).unwrap();
        written.as_object_mut().unwrap().remove("kind");
        assert_eq!(last.detail, written, "{} detail", transition.kind());
    }
    let session = store.get(id).await.unwrap().unwrap();
    assert_eq!(session.resource_id.as_deref(), Some("resource-room-527841"));
    assert_eq!(session.sid.as_deref(), Some("sid-room"));
    assert_eq!(session.steps_done, [0]);
    assert_eq!(session.step_in_flight, None);
    assert!(session.stop_requested);
    assert_eq!(session.files, ["room.m3u8"]);
    assert_eq!(session.uploading_status.as_deref(), Some("uploaded"));
    assert_eq!((session.starts, session.finished_at), (1, Some(at(8))));
    assert_eq!(
        session.recording(),
        Some(recording_of(&new, "527841", "sid-room"))
    );
    let events = store.events(id).await.unwrap();
    assert_eq!(events[0].kind, "begun");
    assert_eq!(
        events[6].detail,
        json!({"index": 0, "outcome": "ok", "late_ms": 12})
    );
}

on_each_backend!(the_row_keeps_what_recovery_needs_between_intent_and_result);
async fn the_row_keeps_what_recovery_needs_between_intent_and_result(store: &Store) {
    let new = new_session("standup", "room", 0);
    let steps = script(&new);
    let starting = run(store, &new, &steps[..3]).await;
    assert_eq!(starting.phase, Phase::Starting);
    assert_eq!(starting.resource_id, Some(resource_of(&new)));
    assert_eq!(
        starting.recording(),
        None,
        "no sid yet: the start's fate is unknown"
    );
    let stepping = record_all(store, starting.id, &steps[3..5]).await;
    assert_eq!(stepping.step_in_flight, Some(0));
    assert!(stepping.steps_done.is_empty());
    let halting = record_all(store, starting.id, &steps[5..7]).await;
    assert_eq!(halting.phase, Phase::Stopping);
    assert!(halting.recording().is_some(), "the stop can be sent again");
}

on_each_backend!(a_restart_forgets_the_lost_recording_and_starts_with_the_backup_uid);
async fn a_restart_forgets_the_lost_recording_and_starts_with_the_backup_uid(store: &Store) {
    let new = new_session("standup", "room", 0);
    let first = run(store, &new, &script(&new)[..4]).await;
    let backup = "527842";
    let restarted = recording_of(&new, backup, "sid-second");
    let session = record_all(
        store,
        first.id,
        &[
            Transition::Lost {
                reason: "404 failed to find worker".to_owned(),
            },
            Transition::AcquireIntent {
                uid: backup.to_owned(),
            },
            Transition::Acquired {
                resource_id: restarted.resource_id.clone(),
            },
            Transition::StartIntent {
                resource_id: restarted.resource_id.clone(),
                uid: backup.to_owned(),
            },
            Transition::Started {
                recording: restarted.clone(),
            },
        ],
    )
    .await;
    assert_eq!(session.phase, Phase::Recording);
    assert_eq!(session.starts, 2);
    assert_eq!(session.current_uid, backup);
    assert_eq!(session.uid, new.uid, "the identity keeps the planned uid");
    assert_eq!(session.recording(), Some(restarted));
    assert_eq!(session.error.as_deref(), Some("404 failed to find worker"));
    let lost = &store.events(first.id).await.unwrap()[5];
    assert_eq!(lost.kind, "lost");
    // The first sid stays in the history.
    assert_eq!(
        store.events(first.id).await.unwrap()[4].detail["recording"]["sid"],
        "sid-room"
    );
}

/// Makes the transition a case refuses, for its session.
type MakeTransition = fn(&NewSession) -> Transition;

/// A recording of `new` whose start was not the one intended.
fn started_with(new: &NewSession, change: fn(&mut Recording)) -> Transition {
    let mut recording = recording_of(new, &new.uid, "sid-x");
    change(&mut recording);
    Transition::Started { recording }
}

on_each_backend!(transitions_that_do_not_follow_are_refused_and_change_nothing);
async fn transitions_that_do_not_follow_are_refused_and_change_nothing(store: &Store) {
    // (how many of the script's transitions come first, the refused one)
    let cases: Vec<(usize, MakeTransition)> = vec![
        (0, |_| Transition::Acquired {
            resource_id: "r".to_owned(),
        }),
        (0, |new| started_with(new, |_| {})),
        (2, |new| started_with(new, |_| {})),
        (3, |new| started_with(new, |r| r.resource_id.push('x'))),
        (3, |new| started_with(new, |r| r.cname.push('x'))),
        (3, |new| started_with(new, |r| r.uid.push('0'))),
        (3, |new| started_with(new, |r| r.mode = Mode::Web)),
        (3, |_| Transition::StepIntent { index: 0 }),
        (0, |_| Transition::StopIntent),
        (2, |_| Transition::Stopped {
            files: vec![],
            uploading_status: None,
            outcome: recplan::store::Outcome::Completed,
        }),
        (2, |_| Transition::Lost {
            reason: "gone".to_owned(),
        }),
        (4, |new| Transition::AcquireIntent {
            uid: new.uid.clone(),
        }),
        (4, |new| Transition::StartIntent {
            resource_id: resource_of(new),
            uid: new.uid.clone(),
        }),
        (4, |_| Transition::StepIntent { index: 2 }),
        (4, |_| Transition::StepDone {
            index: 7,
            outcome: "ok".to_owned(),
            late_ms: None,
        }),
        (7, |_| Transition::StepIntent { index: 1 }),
        (8, |_| Transition::Failed {
            reason: "late".to_owned(),
        }),
        (8, |_| Transition::StopIntent),
    ];
    for (case, (before, refused)) in cases.into_iter().enumerate() {
        let new = new_session("standup", &format!("room-{case}"), 0);
        let session = run(store, &new, &script(&new)[..before]).await;
        let events = store.events(session.id).await.unwrap().len();
        let refused = refused(&new);
        let error = store
            .record(session.id, at(99), &refused)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, StoreError::Transition { transition, .. } if *transition == refused.kind()),
            "case {case}: {error}"
        );
        assert_eq!(
            store.get(session.id).await.unwrap(),
            Some(session.clone()),
            "case {case}"
        );
        assert_eq!(
            store.events(session.id).await.unwrap().len(),
            events,
            "case {case}"
        );
    }
}

on_each_backend!(active_shows_every_session_that_may_need_attention);
async fn active_shows_every_session_that_may_need_attention(store: &Store) {
    let failure = |reason: &str| Transition::Failed {
        reason: reason.to_owned(),
    };
    let mut expect_active = Vec::new();
    let mut expect_over = Vec::new();
    let cases: Vec<(&str, usize, Option<Transition>, bool)> = vec![
        ("pending", 0, None, true),
        ("acquiring", 1, None, true),
        ("starting", 3, None, true),
        ("recording", 4, None, true),
        ("stepping", 5, None, true),
        ("stopping", 7, None, true),
        ("stopped", 8, None, false),
        ("failed-to-acquire", 1, Some(failure("acquire: 401")), false),
        ("failed-to-start", 3, Some(failure("start: 400")), false),
        // A stop that failed leaves a recording that may still bill.
        ("failed-to-stop", 7, Some(failure("stop: 500")), true),
        ("failed-recording", 4, Some(failure("query: exited")), true),
        (
            "lost",
            4,
            Some(Transition::Lost {
                reason: "exited".to_owned(),
            }),
            true,
        ),
        (
            "abandoned",
            4,
            Some(Transition::Ended {
                outcome: recplan::store::Outcome::Abandoned,
                reason: "operator gave up".to_owned(),
            }),
            false,
        ),
    ];
    for (cname, prefix, last, active) in cases {
        let new = new_session("standup", cname, 0);
        let mut transitions = script(&new)[..prefix].to_vec();
        transitions.extend(last);
        let session = run(store, &new, &transitions).await;
        assert_eq!(session.is_active(), active, "{cname}");
        if active {
            expect_active.push(session);
        } else {
            expect_over.push(session);
        }
    }
    assert_eq!(store.active().await.unwrap(), expect_active);
    let failed_to_stop = &expect_active[7];
    assert_eq!(failed_to_stop.phase, Phase::Failed);
    assert!(failed_to_stop.recording().is_some(), "recovery can stop it");
    // Recovery stops it, and then it is over.
    let stopped = record_all(
        store,
        failed_to_stop.id,
        &[
            Transition::StopIntent,
            Transition::Stopped {
                files: vec![],
                uploading_status: Some("unknown".to_owned()),
                outcome: recplan::store::Outcome::Completed,
            },
        ],
    )
    .await;
    assert!(!stopped.is_active());
    assert!(!store.active().await.unwrap().contains(&stopped));
    assert!(expect_over.iter().all(|s| s.finished_at.is_some()));
}

on_each_backend!(find_recent_and_history_select_by_plan_and_start);
async fn find_recent_and_history_select_by_plan_and_start(store: &Store) {
    let mut sessions = Vec::new();
    for (plan, start) in [("a", 0), ("b", 10), ("a", 60), ("a", 120), ("b", 120)] {
        sessions.push(run(store, &new_session(plan, "room", start), &[]).await);
    }
    let ids = |found: Vec<StoredSession>| -> Vec<_> { found.into_iter().map(|s| s.id).collect() };
    let id = |index: usize| sessions[index].id;
    assert_eq!(ids(store.recent(3).await.unwrap()), [id(4), id(3), id(2)]);
    assert_eq!(ids(store.recent(0).await.unwrap()), []);
    assert_eq!(
        ids(store.history(None, None).await.unwrap()),
        [id(0), id(1), id(2), id(3), id(4)]
    );
    assert_eq!(
        ids(store.history(Some("a"), None).await.unwrap()),
        [id(0), id(2), id(3)]
    );
    assert_eq!(
        ids(store.history(Some("a"), Some(at(60))).await.unwrap()),
        [id(2), id(3)]
    );
    assert_eq!(
        ids(store.history(None, Some(at(61))).await.unwrap()),
        [id(3), id(4)]
    );
    assert_eq!(ids(store.history(Some("c"), None).await.unwrap()), []);
    let key = OccurrenceKey {
        plan: "b".to_owned(),
        cname: "room".to_owned(),
        uid: "527841".to_owned(),
        scheduled_start: at(10),
    };
    assert_eq!(store.find(&key).await.unwrap().map(|s| s.id), Some(id(1)));
    assert_eq!(store.find(&key).await.unwrap().unwrap().key(), key);
    let elsewhere = OccurrenceKey {
        scheduled_start: at(11),
        ..key
    };
    assert_eq!(store.find(&elsewhere).await.unwrap(), None);
    assert_eq!(store.get(SessionId(999)).await.unwrap(), None);
    assert!(matches!(
        store
            .record(SessionId(999), at(0), &Transition::StopIntent)
            .await,
        Err(StoreError::NotFound(_))
    ));
}
