//! The rate limiter alone, on the paused clock: the sliding window, the
//! priority queues, 429 pauses, callers that give up, and App IDs.

use std::num::NonZeroU32;
use std::time::Duration;

use recplan::agora::{Endpoint, Priority, RateLimit, RateLimiter};
use tokio::time::Instant;

const APP: &str = "app";

fn limiter(calls: u32) -> RateLimiter {
    RateLimiter::new(RateLimit {
        margin: Duration::ZERO,
        ..RateLimit::per_second(NonZeroU32::new(calls).unwrap())
    })
}

/// Spawns a call that reports its label and the instant it got a slot,
/// and lets it join its queue before returning.
async fn spawn_call(
    limiter: &RateLimiter,
    priority: Priority,
    label: usize,
    done: &tokio::sync::mpsc::UnboundedSender<(usize, Instant)>,
) {
    let before = limiter.waiting(APP);
    let (caller, done) = (limiter.clone(), done.clone());
    tokio::spawn(async move {
        caller.until_ready(APP, priority).await;
        let _ = done.send((label, Instant::now()));
    });
    tokio::task::yield_now().await;
    assert_eq!(limiter.waiting(APP), before + 1, "call {label} is queued");
}

#[tokio::test(start_paused = true)]
async fn no_window_holds_more_than_the_limit() {
    let limiter = limiter(10);
    let start = Instant::now();
    let mut grants = Vec::new();
    for _ in 0..35 {
        limiter.until_ready(APP, Priority::Urgent).await;
        grants.push(Instant::now() - start);
    }
    for (i, at) in grants.iter().enumerate() {
        let in_window = grants
            .iter()
            .filter(|t| **t <= *at && at.saturating_sub(**t) < Duration::from_secs(1))
            .count();
        assert!(
            in_window <= 10,
            "{in_window} grants in the second up to call {i}"
        );
    }
    assert_eq!(grants[9], Duration::ZERO);
    assert_eq!(grants[10], Duration::from_secs(1));
    assert_eq!(grants[34], Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn better_priority_first_then_first_come() {
    let limiter = limiter(1);
    limiter.until_ready(APP, Priority::Urgent).await;
    let (done, mut order) = tokio::sync::mpsc::unbounded_channel();
    spawn_call(&limiter, Priority::Routine, 0, &done).await;
    spawn_call(&limiter, Priority::Normal, 1, &done).await;
    spawn_call(&limiter, Priority::Urgent, 2, &done).await;
    spawn_call(&limiter, Priority::Routine, 3, &done).await;
    spawn_call(&limiter, Priority::Urgent, 4, &done).await;
    drop(done);
    let start = Instant::now();
    let mut seen = Vec::new();
    while let Some((label, at)) = order.recv().await {
        seen.push((label, (at - start).as_secs()));
    }
    assert_eq!(seen, [(2, 1), (4, 2), (1, 3), (0, 4), (3, 5)]);
    let stats = limiter.stats();
    assert_eq!(stats.of(Priority::Urgent).calls, 3);
    assert_eq!(stats.of(Priority::Routine).max, Duration::from_secs(5));
    assert_eq!(stats.of(Priority::Routine).total, Duration::from_secs(9));
}

#[tokio::test(start_paused = true)]
async fn a_pause_holds_every_call_and_a_leaver_costs_no_slot() {
    let limiter = limiter(10);
    let start = Instant::now();
    assert_eq!(limiter.pause(APP, None), Duration::from_secs(1));
    assert_eq!(
        limiter.pause(APP, Some(Duration::from_millis(500))),
        Duration::from_millis(500),
        "a shorter pause is applied as asked but does not shorten the first"
    );
    let leaver = {
        let limiter = limiter.clone();
        tokio::spawn(async move { limiter.until_ready(APP, Priority::Urgent).await })
    };
    tokio::task::yield_now().await;
    leaver.abort();
    let waited = limiter.until_ready(APP, Priority::Routine).await;
    assert_eq!(waited, Duration::from_secs(1));
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
    let stats = limiter.stats();
    assert_eq!(stats.pauses, 2);
    assert_eq!(stats.of(Priority::Urgent).calls, 0);
    assert_eq!(stats.of(Priority::Routine).histogram[3], 1);
    assert_eq!(limiter.waiting(APP), 0);
}

#[tokio::test(start_paused = true)]
async fn app_ids_have_their_own_windows() {
    let limiter = limiter(1);
    limiter.until_ready("a", Priority::Urgent).await;
    let start = Instant::now();
    assert_eq!(
        limiter.until_ready("b", Priority::Urgent).await,
        Duration::ZERO
    );
    assert_eq!(
        limiter.until_ready("a", Priority::Urgent).await,
        Duration::from_secs(1)
    );
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
}

#[test]
fn priorities_follow_the_endpoint() {
    assert_eq!(Priority::of(Endpoint::Start), Priority::Urgent);
    assert_eq!(Priority::of(Endpoint::UpdateLayout), Priority::Urgent);
    assert_eq!(Priority::of(Endpoint::Stop), Priority::Urgent);
    assert_eq!(Priority::of(Endpoint::Acquire), Priority::Normal);
    assert_eq!(Priority::of(Endpoint::Query), Priority::Routine);
}
