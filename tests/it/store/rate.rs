//! The rate limit runners on one store share: separate handles, as
//! separate processes, draw from one window per App ID.

use std::num::NonZeroU32;
use std::time::Duration;

use recplan::agora::RateLimit;

use super::Place;

on_each_backend!(place runners_on_one_store_share_one_window_per_app_id);
fn runners_on_one_store_share_one_window_per_app_id(place: &Place) {
    let limit = RateLimit::per_second(NonZeroU32::new(3).unwrap());
    let (first, second) = (place.open(), place.open());
    let (first, second) = (first.rate_window().unwrap(), second.rate_window().unwrap());
    assert_eq!(first.take("app-a", &limit).unwrap(), None);
    assert_eq!(second.take("app-a", &limit).unwrap(), None);
    assert_eq!(first.take("app-a", &limit).unwrap(), None);
    let wait = second
        .take("app-a", &limit)
        .unwrap()
        .expect("the window is full");
    assert!(wait <= limit.window + limit.margin, "{wait:?}");
    // Another App ID has a window of its own.
    assert_eq!(second.take("app-b", &limit).unwrap(), None);
    // A 429's pause holds every runner.
    first.pause("app-b", Duration::from_secs(30)).unwrap();
    let wait = second.take("app-b", &limit).unwrap().expect("paused");
    assert!(wait > Duration::from_secs(29), "{wait:?}");
}

#[test]
fn a_store_in_memory_shares_nothing() {
    assert!(
        recplan::store::Store::open_in_memory()
            .unwrap()
            .rate_window()
            .is_none()
    );
}
