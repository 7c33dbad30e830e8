//! Who drives a session, as another process asks: the lease's holder,
//! by process id and host, or nobody once it is released, and asking
//! never takes the lease.

use std::time::{Duration, Instant};

use recplan::store::{Begin, Driver, Driving};

use super::{Place, at, new_session, record_all, script};

fn a_session_is_driven_until_its_lease_is_released(place: &Place) {
    let runner = place.open();
    let new = new_session("driven", "room", 0);
    let Begin::Created(id) = runner.begin(&new, at(0)).unwrap() else {
        panic!("begun twice");
    };
    record_all(&runner, id, &script(&new)[..4]);
    let asker = place.open();
    assert_eq!(asker.driving(id).unwrap(), Driving::Nobody, "never leased");

    let lease = runner.lease(id).unwrap().expect("a fresh lease is free");
    assert_eq!(
        runner.driving(id).unwrap(),
        Driving::By(Some(Driver::this_process())),
        "the holder knows itself"
    );
    // SQLite's lease file names it; PostgreSQL's lease connection does.
    assert_eq!(
        asker.driving(id).unwrap(),
        Driving::By(Some(Driver::this_process()))
    );
    // Asking left the lease where it was: its holder still has it, and
    // nobody else can take it.
    assert!(asker.lease(id).unwrap().is_none());

    drop(lease);
    // PostgreSQL's lock is released by the lease connection's task, a
    // moment after the drop: asked again until then, within a bound.
    let deadline = Instant::now() + Duration::from_secs(10);
    while asker.driving(id).unwrap() != Driving::Nobody {
        assert!(Instant::now() < deadline, "still driven after release");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(asker.lease(id).unwrap().is_some(), "free to take over");
}

on_each_backend!(place a_session_is_driven_until_its_lease_is_released);
