//! What the endpoint accepts and answers: signatures, sizes, notices it
//! does not keep, and what never shows in its logs or answers.

use recplan::agora::Secret;
use recplan::clock::Clock;
use recplan::ncs::{self, NcsState, signature};
use recplan::store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Ncs, RECORDED, REFUSED, SECRET, leave, notice, upload_details};
use crate::store::at;

#[tokio::test]
async fn bad_and_missing_signatures_are_refused_and_nothing_is_recorded() {
    let ncs = Ncs::start().await;
    let before = ncs.kinds().await;
    let body = leave("n-1", 0).to_string();
    let wrong_secret = signature::sign(&Secret::new("not-the-secret"), body.as_bytes());
    let other_body = signature::sign(&Secret::new(SECRET), leave("n-2", 0).to_string().as_bytes());
    for signature in [
        Some(wrong_secret.as_str()),
        Some(other_body.as_str()),
        Some("not hex"),
        Some(""),
        None,
    ] {
        let answer = ncs.post(body.clone(), signature).await;
        assert_eq!(
            answer,
            (StatusCode::UNAUTHORIZED, REFUSED.to_owned()),
            "{signature:?}"
        );
    }
    assert_eq!(ncs.kinds().await, before);
    assert_eq!(ncs.notices(), 0);
}

#[tokio::test]
async fn unknown_sids_other_events_and_other_products_are_answered_and_not_kept() {
    let ncs = Ncs::start().await;
    let before = ncs.kinds().await;
    let mut stranger = leave("n-1", 0);
    stranger["payload"]["sid"] = json!("sid-of-another-system");
    let progress = notice(
        "n-2",
        33,
        1,
        &json!({"msgName": "uploading_progress", "progress": 5000}),
    );
    let mut rtc = leave("n-3", 0);
    rtc["productId"] = json!(1);
    let answers = [
        (stranger, r#"{"result":"unknown sid"}"#),
        (progress, r#"{"result":"ignored"}"#),
        (rtc, r#"{"result":"ignored"}"#),
    ];
    for (body, expected) in answers {
        assert_eq!(ncs.send(&body).await, (StatusCode::OK, expected.to_owned()));
    }
    let malformed = json!({"productId": 3, "eventType": 41});
    assert_eq!(ncs.send(&malformed).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(ncs.kinds().await, before);
    assert_eq!(ncs.notices(), 0);
    assert_eq!(
        ncs.store
            .find_by_sid("sid-of-another-system")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused() {
    let ncs = Ncs::start().await;
    // A valid notice padded with whitespace to the limit, then one byte more.
    let padded = |id: &str, len: usize| {
        let mut body = leave(id, 0).to_string();
        body.push_str(&" ".repeat(len - body.len()));
        body
    };
    let over = padded("n-1", ncs::BODY_LIMIT + 1);
    let signature = signature::sign(&Secret::new(SECRET), over.as_bytes());
    assert_eq!(
        ncs.post(over, Some(&signature)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(ncs.notices(), 0);
    let at_limit = padded("n-2", ncs::BODY_LIMIT);
    let signature = signature::sign(&Secret::new(SECRET), at_limit.as_bytes());
    assert_eq!(ncs.post(at_limit, Some(&signature)).await.1, RECORDED);
}

#[tokio::test]
async fn the_state_needs_a_secret_and_never_shows_it() {
    let store = Store::open_in_memory().await.unwrap();
    let clock = Clock::anchored(at(0));
    assert!(NcsState::new(store.clone(), Secret::new(""), clock).is_err());
    let env =
        |value: &'static str| move |name: &str| (name == ncs::ENV_SECRET).then(|| value.to_owned());
    assert!(NcsState::from_env(store.clone(), clock, env("")).is_none());
    assert!(NcsState::from_env(store.clone(), clock, |_| None).is_none());
    let state = NcsState::from_env(store, clock, env(SECRET)).expect("configured");
    assert!(!format!("{state:?}").contains(SECRET));
}

const LOG_CHILD: &str = "RECPLAN_NCS_LOG_CHILD";

/// Every path through the endpoint logs without the secret, the signature
/// or the body. Tracing caches which log sites are enabled process-wide, so
/// the test reruns itself alone in a child process and reads its output.
#[test]
fn logs_and_answers_never_show_the_secret_or_the_body() {
    if std::env::var_os(LOG_CHILD).is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("recplan=trace")
            .with_ansi(false)
            .with_writer(std::io::stdout)
            .try_init();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(exercise_every_path());
        return;
    }
    let name = module_path!()
        .split_once("::")
        .map_or("", |(_, path)| path)
        .to_owned()
        + "::logs_and_answers_never_show_the_secret_or_the_body";
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(LOG_CHILD, "1")
        .output()
        .expect("the test binary runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    for logged in [
        "NCS notice recorded",
        "NCS callback refused",
        "NCS callback malformed",
    ] {
        assert!(text.contains(logged), "{logged} in {text}");
    }
    let signature = signature::sign(
        &Secret::new(SECRET),
        planted_notice().to_string().as_bytes(),
    );
    for leak in [SECRET, signature.as_str(), "planted-file-name"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
}

/// An upload notice naming a file that must show up nowhere but the store.
fn planted_notice() -> Value {
    notice(
        "n-planted",
        31,
        1,
        &upload_details("uploaded", &["planted-file-name.m3u8"]),
    )
}

/// Sends one callback down each path; every answer is checked for leaks
/// here, the logs by the parent.
async fn exercise_every_path() {
    let ncs = Ncs::start().await;
    let planted = planted_notice().to_string();
    let good = signature::sign(&Secret::new(SECRET), planted.as_bytes());
    let bad = signature::sign(&Secret::new("not-the-secret"), planted.as_bytes());
    let oversize = format!("{planted}{}", " ".repeat(ncs::BODY_LIMIT));
    let oversize_signature = signature::sign(&Secret::new(SECRET), oversize.as_bytes());
    let malformed = br#"{"planted-file-name": true}"#.to_vec();
    let malformed_signature = signature::sign(&Secret::new(SECRET), &malformed);
    let answers = [
        ncs.post(planted.clone(), Some(&good)).await,
        ncs.post(planted.clone(), Some(&good)).await,
        ncs.post(planted.clone(), Some(&bad)).await,
        ncs.post(planted.clone(), None).await,
        ncs.post(oversize, Some(&oversize_signature)).await,
        ncs.post(malformed, Some(&malformed_signature)).await,
    ];
    let statuses: Vec<StatusCode> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::BAD_REQUEST,
        ]
    );
    for (_, text) in &answers {
        for leak in [SECRET, good.as_str(), "planted-file-name"] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
    }
    assert_eq!(ncs.notices(), 1);
}
