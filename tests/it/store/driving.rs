//! Who drives a session, as another process asks: the lease's holder,
//! by process id and host, or nobody once it is released, and asking
//! never takes the lease.

use std::time::{Duration, Instant};

use recplan::store::{Begin, Driver, Driving};

use super::{Place, at, new_session, record_all, script};

async fn a_session_is_driven_until_its_lease_is_released(place: &Place) {
    let runner = place.open().await;
    let new = new_session("driven", "room", 0);
    let Begin::Created(id) = runner.begin(&new, at(0)).await.unwrap() else {
        panic!("begun twice");
    };
    record_all(&runner, id, &script(&new)[..4]).await;
    let asker = place.open().await;
    assert_eq!(
        asker.driving(id).await.unwrap(),
        Driving::Nobody,
        "never leased"
    );

    let lease = runner
        .lease(id)
        .await
        .unwrap()
        .expect("a fresh lease is free");
    assert_eq!(
        runner.driving(id).await.unwrap(),
        Driving::By(Some(Driver::this_process())),
        "the holder knows itself"
    );
    // SQLite's lease file names it; PostgreSQL's lease connection does.
    assert_eq!(
        asker.driving(id).await.unwrap(),
        Driving::By(Some(Driver::this_process()))
    );
    // Asking left the lease where it was: its holder still has it, and
    // nobody else can take it.
    assert!(asker.lease(id).await.unwrap().is_none());

    drop(lease);
    // PostgreSQL's lock is released by the lease connection's task, a
    // moment after the drop: asked again until then, within a bound.
    let deadline = Instant::now() + Duration::from_secs(10);
    while asker.driving(id).await.unwrap() != Driving::Nobody {
        assert!(Instant::now() < deadline, "still driven after release");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        asker.lease(id).await.unwrap().is_some(),
        "free to take over"
    );
}

on_each_backend!(place a_session_is_driven_until_its_lease_is_released);
