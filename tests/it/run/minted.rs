//! Minted RTC tokens on the wire: each start body carries a token for its
//! own channel and uid, signed with the App Certificate and issued as the
//! recording starts, and a restarted recording gets one for its new uid.

use recplan::agora::Secret;
use recplan::session::{Outcome, run_occurrence};
use recplan::sim::{self, SimHandle};
use recplan::token::{self, PRIVILEGE_JOIN_CHANNEL, RtcToken};
use tokio::sync::watch;

use super::{context, now, run_and_kill_the_recording, setup_plan};
use crate::support::APP_CERTIFICATE;

const MINTED: &str = r#"
mode: composite
schedule: {duration: 10m}
channels:
  - {cname: room-a, uid: "527841"}
  - {cname: room-b, uid: "527842"}
rtc_token: {lifetime: 15m}
start:
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingConfig: {channelType: 0, maxIdleTime: 300}
"#;

/// The `(uid, token)` of every start body the simulator saw, in order.
fn started_tokens(handle: &SimHandle) -> Vec<(String, RtcToken)> {
    handle
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/start"))
        .map(|r| {
            let body = r.body.expect("start has a body");
            let token = body["clientRequest"]["token"]
                .as_str()
                .expect("a minted token in start")
                .to_owned();
            let decoded = token::decode(&token).expect("an AccessToken2");
            assert!(
                decoded.is_signed_with(&Secret::new(APP_CERTIFICATE)),
                "signed with the App Certificate"
            );
            assert_eq!(decoded.token.channel, body["cname"]);
            (
                body["uid"].as_str().unwrap_or_default().to_owned(),
                decoded.token,
            )
        })
        .collect()
}

fn unix(time: chrono::DateTime<chrono::Utc>) -> u32 {
    u32::try_from(time.timestamp()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn each_start_carries_a_token_for_its_channel_and_uid() {
    let (handle, occurrence, clock) = setup_plan(MINTED, now()).await;
    let (_shutdown_tx, shutdown) = watch::channel(false);
    let (context, _events) = context(&handle, clock).await;

    let report = run_occurrence(&context, &occurrence, shutdown).await;

    assert!(report.all_completed(), "{report:#?}");
    let mut tokens = started_tokens(&handle);
    tokens.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(tokens.len(), 2);
    for ((uid, token), cname) in tokens.iter().zip(["room-a", "room-b"]) {
        assert_eq!(token.uid, *uid);
        assert_eq!(token.channel, cname);
        assert_eq!(token.app_id, sim::DEMO_APP_ID);
        assert_eq!(
            token.issued_at,
            unix(now()),
            "issued as the occurrence starts"
        );
        assert_eq!(token.expire, 15 * 60);
        assert_eq!(
            token.privileges,
            std::collections::BTreeMap::from([(PRIVILEGE_JOIN_CHANNEL, 15 * 60)])
        );
    }
    assert_ne!(tokens[0].1.salt, 0);
}

#[tokio::test(start_paused = true)]
async fn a_restarted_recording_gets_a_token_for_its_backup_uid() {
    let plan = r#"
mode: individual
schedule: {duration: 5m}
channels: [{cname: class-1, uid: "900101", backup_uid: "900102"}]
rtc_token: {lifetime: 5m}
start:
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingConfig: {channelType: 1, maxIdleTime: 600, subscribeUidGroup: 0}
"#;
    let (handle, report, _) = run_and_kill_the_recording(plan).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, Some(Outcome::Completed), "{session:?}");
    assert_eq!(session.restarts, 1);
    let tokens = started_tokens(&handle);
    let uids: Vec<&str> = tokens.iter().map(|(uid, _)| uid.as_str()).collect();
    assert_eq!(uids, ["900101", "900102"]);
    let (first, second) = (&tokens[0].1, &tokens[1].1);
    assert_eq!(first.uid, "900101");
    assert_eq!(second.uid, "900102");
    // Minted when the restart was sent, after the loss was confirmed: its
    // lifetime runs from then, past the occurrence's end.
    assert!(
        second.issued_at > first.issued_at + 30,
        "{first:?} {second:?}"
    );
    assert_eq!(second.expire, 5 * 60);
}
