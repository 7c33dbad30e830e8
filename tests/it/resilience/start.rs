//! A start repeated after a lost answer must never start twice: Agora's
//! 201 code 7 then means the first attempt took effect.

use std::time::Duration;

use recplan::agora::{Mode, Started, call};
use recplan::sim::{self, Fault};

use super::{CNAME, UID, record, requests_to, resilient, simulator, start_request};

#[tokio::test(start_paused = true)]
async fn already_started_after_a_timeout_is_the_earlier_start() {
    let sim = simulator().await;
    let api = resilient(&sim);
    let acquired = super::acquire(&api).await;
    // The first start gets no answer within the client's 5 s; its
    // repetition finds the task running (the fault starts it and answers
    // as Agora does for a start that already took effect).
    sim.inject(Fault::Latency {
        endpoint: sim::Endpoint::Start,
        delay: Duration::from_secs(60),
    });
    sim.inject(Fault::AlreadyStarted);
    let started = super::start_on(&api, &acquired.resource_id)
        .await
        .expect("an earlier start is not an error");

    let Started::Earlier {
        recording: Some(recording),
    } = started
    else {
        panic!("expected an earlier start with its sid, got {started:?}");
    };
    assert_eq!(requests_to(&sim, "start").len(), 2);
    assert_eq!(recording.resource_id, acquired.resource_id);
    assert_eq!(
        (recording.cname.as_str(), recording.uid.as_str()),
        (CNAME, UID)
    );
    // The sid from the 201 body addresses the running task.
    let queried = api.send(&call::Query(&recording)).await.unwrap();
    assert_eq!(queried.sid, recording.sid);
}

#[tokio::test(start_paused = true)]
async fn already_started_on_a_first_attempt_is_an_error_with_the_sid() {
    let sim = simulator().await;
    let api = resilient(&sim);
    let recording = record(&api).await;
    let error = api
        .start(&call::Start {
            mode: Mode::Composite,
            resource_id: &recording.resource_id,
            cname: CNAME,
            uid: UID,
            request: &start_request(),
        })
        .await
        .unwrap_err();

    assert_eq!((error.status(), error.code()), (Some(201), Some(7)));
    assert_eq!(error.sid(), Some(recording.sid.as_str()));
    assert_eq!(requests_to(&sim, "start").len(), 2, "no repetition");
}
