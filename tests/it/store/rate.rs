//! The rate limit runners on one store share: separate handles, as
//! separate processes, draw from one window per App ID.

use std::num::NonZeroU32;
use std::time::Duration;

use recplan::agora::ratelimit::{DEPARTURE_TOLERANCE, RESERVE_AHEAD, WAITING_HOLDS};
use recplan::agora::{Asker, Priority, RateLimit, Slot};

use super::Place;

const URGENT: Asker = Asker {
    runner: 1,
    priority: Priority::Urgent,
    then: Some(Priority::Urgent),
    gives_back: None,
};

on_each_backend!(place runners_on_one_store_share_one_window_per_app_id);
async fn runners_on_one_store_share_one_window_per_app_id(place: &Place) {
    let limit = RateLimit::per_second(NonZeroU32::new(3).unwrap());
    let (first, second) = (place.open().await, place.open().await);
    let (first, second) = (first.rate_window().unwrap(), second.rate_window().unwrap());
    let reserved = |slot: Slot| match slot {
        Slot::Reserved(reservation) => reservation,
        Slot::Wait(wait) => panic!("no slot: wait {wait:?}"),
    };
    let one = reserved(first.take("app-a", &limit, URGENT).await.unwrap());
    let two = reserved(second.take("app-a", &limit, URGENT).await.unwrap());
    let three = reserved(first.take("app-a", &limit, URGENT).await.unwrap());
    // Ahead of the store's clock, in the order taken.
    assert!(one.at > one.now, "{one:?}");
    assert!(
        one.at <= two.at && two.at <= three.at,
        "{one:?} {two:?} {three:?}"
    );
    let Slot::Wait(wait) = second.take("app-a", &limit, URGENT).await.unwrap() else {
        panic!("the window is full");
    };
    assert!(
        wait <= limit.window + limit.margin + DEPARTURE_TOLERANCE,
        "{wait:?}"
    );
    // Another App ID has a window of its own.
    reserved(second.take("app-b", &limit, URGENT).await.unwrap());
    // A 429's pause holds every runner.
    first.pause("app-b", Duration::from_secs(30)).await.unwrap();
    let Slot::Wait(wait) = second.take("app-b", &limit, URGENT).await.unwrap() else {
        panic!("paused");
    };
    assert!(wait > Duration::from_secs(29), "{wait:?}");
}

on_each_backend!(place a_runner_waiting_for_a_start_holds_back_another_runners_queries);
async fn a_runner_waiting_for_a_start_holds_back_another_runners_queries(place: &Place) {
    let limit = RateLimit::per_second(NonZeroU32::new(10).unwrap());
    let (first, second) = (place.open().await, place.open().await);
    let (first, second) = (first.rate_window().unwrap(), second.rate_window().unwrap());
    let query = Asker::new(1, Priority::Routine);
    let start = Asker::new(2, Priority::Urgent);
    assert!(matches!(
        first.take("app-a", &limit, query).await.unwrap(),
        Slot::Reserved(_)
    ));
    assert!(matches!(
        second.take("app-a", &limit, start).await.unwrap(),
        Slot::Reserved(_)
    ));
    // Slots are free, but the second runner said it still waits for
    // another start: for 200 ms after its slot, it is taken at its word.
    let Slot::Wait(wait) = first.take("app-a", &limit, query).await.unwrap() else {
        panic!("a query went before a start");
    };
    assert!(wait <= RESERVE_AHEAD + WAITING_HOLDS, "{wait:?}");
    // Once it says its last start is served, it holds nobody back.
    let last = Asker {
        then: None,
        ..start
    };
    assert!(matches!(
        second.take("app-a", &limit, last).await.unwrap(),
        Slot::Reserved(_)
    ));
    assert!(matches!(
        first.take("app-a", &limit, query).await.unwrap(),
        Slot::Reserved(_)
    ));
}

#[tokio::test]
async fn a_store_in_memory_shares_nothing() {
    assert!(
        recplan::store::Store::open_in_memory()
            .await
            .unwrap()
            .rate_window()
            .is_none()
    );
}
