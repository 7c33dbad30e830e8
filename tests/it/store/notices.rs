//! Notification callbacks as the store keeps them, and sessions leased as
//! they are begun, on every backend.

use recplan::store::{Begin, Noted, Notice, Phase, Transition, UploadReport};

use super::{Place, Store, at, new_session, record_all, run, script};

fn upload(id: &str, sequence: Option<i64>, files: Option<&[&str]>) -> Notice {
    Notice {
        notice_id: id.to_owned(),
        sid: "sid-room".to_owned(),
        uid: "527841".to_owned(),
        event_type: 31,
        sequence,
        kind: "ncs_uploaded",
        detail: serde_json::json!({ "notice": id }),
        upload: Some(UploadReport {
            status: "uploaded".to_owned(),
            files: files.map(|names| names.iter().map(|name| (*name).to_owned()).collect()),
        }),
    }
}

on_each_backend!(notices_are_recorded_once_against_the_session_of_their_sid);
async fn notices_are_recorded_once_against_the_session_of_their_sid(store: &Store) {
    let new = new_session("ncs", "room", 0);
    let transitions = script(&new);
    // Acquired and started, then the recording is lost: the row forgets
    // the sid, the started event keeps it.
    let started = run(store, &new, &transitions[..4]).await;
    assert_eq!(started.sid.as_deref(), Some("sid-room"));
    let lost = record_all(
        store,
        started.id,
        &[Transition::Lost {
            reason: "gone".to_owned(),
        }],
    )
    .await;
    assert_eq!((lost.phase, lost.sid), (Phase::Lost, None));
    let found = store
        .find_by_sid("sid-room")
        .await
        .unwrap()
        .expect("found by sid");
    assert_eq!(found.id, started.id);
    assert!(store.find_by_sid("sid-other").await.unwrap().is_none());

    let received = at(50);
    let first = store
        .record_notice(&upload("n-1", Some(7), Some(&["room.m3u8"])), received)
        .await
        .unwrap();
    let Noted::Recorded { session, event } = first else {
        panic!("{first:?}");
    };
    assert_eq!(session, started.id);
    let events = store.events(session).await.unwrap();
    let newest = events.last().unwrap();
    assert_eq!((newest.id, newest.kind.as_str()), (event, "ncs_uploaded"));
    assert_eq!(newest.detail, serde_json::json!({ "notice": "n-1" }));

    let duplicate = Noted::Duplicate { session };
    // The same id again, and the same notice resent under a new id.
    assert_eq!(
        store
            .record_notice(&upload("n-1", Some(7), None), at(51))
            .await
            .unwrap(),
        duplicate
    );
    assert_eq!(
        store
            .record_notice(&upload("n-2", Some(7), None), at(51))
            .await
            .unwrap(),
        duplicate
    );
    assert_eq!(store.events(session).await.unwrap().len(), events.len());

    // A later notice without files keeps the listed ones.
    let later = at(52);
    assert!(matches!(
        store
            .record_notice(&upload("n-3", Some(8), None), later)
            .await
            .unwrap(),
        Noted::Recorded { .. }
    ));
    let session = store.get(session).await.unwrap().unwrap();
    let notified = session.upload_notified.clone().expect("upload notified");
    assert_eq!(notified.at, later);
    assert_eq!(session.upload_status(), Some("uploaded"));
    assert_eq!(session.recorded_files(), ["room.m3u8"]);
    assert_eq!(session.updated_at, lost.updated_at, "not a transition");

    // Without a sequence only the id deduplicates.
    for id in ["n-4", "n-5"] {
        assert!(matches!(
            store
                .record_notice(&upload(id, None, None), later)
                .await
                .unwrap(),
            Noted::Recorded { .. }
        ));
    }
    let mut unknown = upload("n-6", Some(1), None);
    "sid-other".clone_into(&mut unknown.sid);
    assert_eq!(
        store.record_notice(&unknown, later).await.unwrap(),
        Noted::UnknownSid
    );
}

on_each_backend!(place a_session_begun_leased_is_leased_before_others_see_it);
async fn a_session_begun_leased_is_leased_before_others_see_it(place: &Place) {
    let (mine, theirs) = (place.open().await, place.open().await);
    let new = new_session("leased", "room", 0);
    let (begin, lease) = mine.begin_leased(&new, at(0)).await.unwrap();
    let Begin::Created(id) = begin else {
        panic!("{begin:?}");
    };
    let lease = lease.expect("a new session comes leased");
    assert!(
        theirs.lease(id).await.unwrap().is_none(),
        "held from the start"
    );
    assert!(
        mine.lease(id).await.unwrap().is_none(),
        "and once in the process"
    );

    let (again, none) = theirs.begin_leased(&new, at(1)).await.unwrap();
    assert_eq!(again, Begin::AlreadyExists(id, Phase::Pending));
    assert!(none.is_none(), "an existing session is not leased by begin");

    drop(lease);
    assert!(super::lease::lease_when_freed(&theirs, id).await.is_some());
}
