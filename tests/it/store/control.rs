//! What operators did through the control API, kept by every backend:
//! paused plans until resumed, and their actions newest first, read back by
//! another process.

use recplan::store::Action;

use super::{Place, at};

on_each_backend!(place paused_plans_and_actions_outlive_the_process);

async fn paused_plans_and_actions_outlive_the_process(place: &Place) {
    let store = place.open().await;
    assert!(store.paused_plans().await.unwrap().is_empty());
    store.set_paused("standup", true, at(0)).await.unwrap();
    store.set_paused("standup", true, at(1)).await.unwrap();
    store.set_paused("review", true, at(2)).await.unwrap();
    let action = |minutes: i64, what: &str, target: &str| Action {
        at: at(minutes),
        action: what.to_owned(),
        target: target.to_owned(),
        remote: "127.0.0.1:50000".to_owned(),
        outcome: "done".to_owned(),
    };
    for (minutes, what) in [(0, "pause"), (2, "pause"), (3, "resume")] {
        let target = if minutes == 2 { "review" } else { "standup" };
        store
            .record_action(&action(minutes, what, target))
            .await
            .unwrap();
    }
    store.set_paused("standup", false, at(3)).await.unwrap();
    drop(store);

    let again = place.open().await;
    assert_eq!(again.paused_plans().await.unwrap(), ["review"]);
    assert_eq!(
        again.actions(2).await.unwrap(),
        [action(3, "resume", "standup"), action(2, "pause", "review")]
    );
}
