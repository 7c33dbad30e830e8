//! What a verified notice leaves in the store: observations in the
//! session's history, each once, and the upload's final word.

use reqwest::StatusCode;
use serde_json::json;

use super::{DUPLICATE, Ncs, RECORDED, SID, leave, notice, upload_details};
use crate::store::at;
use recplan::store::{Phase, Transition};

#[tokio::test]
async fn exit_failover_and_leave_are_recorded_as_observations() {
    let ncs = Ncs::start().await;
    let cases = [
        (
            notice(
                "n-11",
                11,
                5,
                &json!({"msgName": "session_exit", "exitStatus": 1}),
            ),
            "ncs_session_exit",
            json!({"exitStatus": 1, "exit": "abnormal"}),
        ),
        (
            notice(
                "n-12",
                12,
                6,
                &json!({"msgName": "session_failover", "newUid": 389_044_211}),
            ),
            "ncs_session_failover",
            json!({"newUid": "389044211"}),
        ),
        (
            leave("n-41", 7),
            "ncs_recorder_leave",
            json!({"leaveCode": 16, "leaveReasons": ["leave_channel"]}),
        ),
    ];
    for (body, kind, fields) in cases {
        assert_eq!(ncs.send(&body).await, (StatusCode::OK, RECORDED.to_owned()));
        assert_eq!(ncs.kinds().await.last().map(String::as_str), Some(kind));
        let detail = ncs.last_detail().await;
        for (name, value) in fields.as_object().unwrap() {
            assert_eq!(&detail[name], value, "{kind}: {name}");
        }
        assert_eq!(detail["noticeId"], body["noticeId"]);
        assert_eq!(detail["sid"], SID);
        assert_eq!(
            detail["details"], body["payload"]["details"],
            "kept verbatim"
        );
    }
    let session = ncs.store.get(ncs.session).await.unwrap().unwrap();
    assert_eq!(
        session.phase,
        Phase::Recording,
        "notices are not transitions"
    );
    assert_eq!(session.upload_notified, None);
}

#[tokio::test]
async fn a_replayed_notice_is_recorded_once() {
    let ncs = Ncs::start().await;
    let body = leave("n-1", 3);
    assert_eq!(ncs.send(&body).await.1, RECORDED);
    assert_eq!(
        ncs.send(&body).await,
        (StatusCode::OK, DUPLICATE.to_owned())
    );
    let leaves = ncs
        .kinds()
        .await
        .iter()
        .filter(|kind| *kind == "ncs_recorder_leave")
        .count();
    assert_eq!((leaves, ncs.notices()), (1, 1));
}

#[tokio::test]
async fn a_resend_under_a_new_id_is_recorded_once_but_a_failover_task_is_not_a_resend() {
    let ncs = Ncs::start().await;
    assert_eq!(ncs.send(&leave("n-1", 3)).await.1, RECORDED);
    // NCS's redundant servers: same event, same sequence, new id.
    assert_eq!(ncs.send(&leave("n-2", 3)).await.1, DUPLICATE);
    // A later event of the same type is another notice.
    assert_eq!(ncs.send(&leave("n-3", 4)).await.1, RECORDED);
    // The failover task reports under its new uid with its own counter.
    let mut failover = leave("n-4", 3);
    failover["payload"]["uid"] = json!("389044211");
    assert_eq!(ncs.send(&failover).await.1, RECORDED);
    let leaves = ncs
        .kinds()
        .await
        .iter()
        .filter(|kind| *kind == "ncs_recorder_leave")
        .count();
    assert_eq!((leaves, ncs.notices()), (3, 3));
}

#[tokio::test]
async fn an_upload_notice_after_an_async_stop_completes_the_upload() {
    let ncs = Ncs::start().await;
    let id = ncs.session;
    ncs.store
        .record(id, at(30), &Transition::StopIntent)
        .await
        .unwrap();
    // An asynchronous stop answers before the upload: no files, no status.
    let stopped = Transition::Stopped {
        files: Vec::new(),
        uploading_status: None,
        outcome: recplan::store::Outcome::Completed,
    };
    let stopped = ncs.store.record(id, at(30), &stopped).await.unwrap();
    assert_eq!(stopped.upload_status(), None);

    let files = ["sid-room_room.m3u8", "sid-room_room_0.ts"];
    let body = notice("n-31", 31, 9, &upload_details("uploaded", &files));
    assert_eq!(ncs.send(&body).await, (StatusCode::OK, RECORDED.to_owned()));

    let session = ncs.store.get(id).await.unwrap().unwrap();
    let notified = session
        .upload_notified
        .clone()
        .expect("the upload is notified");
    assert_eq!(notified.status, "uploaded");
    assert_eq!(
        notified.files.as_deref(),
        Some(&files.map(String::from)[..])
    );
    assert!(notified.at >= at(60), "stamped by the endpoint's clock");
    assert_eq!(session.upload_status(), Some("uploaded"));
    assert_eq!(session.recorded_files(), files);
    // Observed, not transitioned: still stopped, at the same instants.
    assert_eq!(session.phase, Phase::Completed);
    assert_eq!(
        (session.updated_at, session.finished_at),
        (stopped.updated_at, stopped.finished_at)
    );
    assert_eq!(
        ncs.kinds().await.last().map(String::as_str),
        Some("ncs_uploaded")
    );
    let history = ncs.store.history(Some("standup"), None).await.unwrap();
    assert_eq!(
        history[0].upload_status(),
        Some("uploaded"),
        "history shows it"
    );
}

#[tokio::test]
async fn the_stop_answer_does_not_overwrite_an_earlier_upload_notice() {
    let ncs = Ncs::start().await;
    let id = ncs.session;
    let body = notice("n-32", 32, 9, &upload_details("backuped", &["backup.m3u8"]));
    assert_eq!(ncs.send(&body).await.1, RECORDED);
    ncs.store
        .record(id, at(30), &Transition::StopIntent)
        .await
        .unwrap();
    let stopped = Transition::Stopped {
        files: vec!["stop.m3u8".to_owned()],
        uploading_status: Some("uploaded".to_owned()),
        outcome: recplan::store::Outcome::Completed,
    };
    let session = ncs.store.record(id, at(31), &stopped).await.unwrap();
    assert_eq!(session.uploading_status.as_deref(), Some("uploaded"));
    assert_eq!(session.files, ["stop.m3u8"]);
    assert_eq!(
        session.upload_status(),
        Some("backuped"),
        "NCS has the final word"
    );
    assert_eq!(session.recorded_files(), ["backup.m3u8"]);
    // A web recording's notice lists no files: it keeps the listed ones.
    let web = notice("n-31", 31, 10, &json!({"msgName": "uploaded", "status": 0}));
    assert_eq!(ncs.send(&web).await.1, RECORDED);
    let session = ncs.store.get(id).await.unwrap().unwrap();
    assert_eq!(session.upload_status(), Some("uploaded"));
    assert_eq!(session.recorded_files(), ["backup.m3u8"]);
}

#[tokio::test]
async fn a_notice_about_a_lost_recording_still_finds_its_session() {
    let ncs = Ncs::start().await;
    let lost = Transition::Lost {
        reason: "query answered 404".to_owned(),
    };
    let session = ncs.store.record(ncs.session, at(10), &lost).await.unwrap();
    assert_eq!(session.sid, None, "the row forgets the dead sid");
    let body = notice(
        "n-11",
        11,
        2,
        &json!({"msgName": "session_exit", "exitStatus": 0}),
    );
    assert_eq!(ncs.send(&body).await.1, RECORDED);
    assert_eq!(
        ncs.kinds().await.last().map(String::as_str),
        Some("ncs_session_exit")
    );
    assert_eq!(
        ncs.store.find_by_sid(SID).await.unwrap().map(|s| s.id),
        Some(ncs.session)
    );
}
