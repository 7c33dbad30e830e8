//! The client's configuration: which API bases are accepted, what the
//! environment must provide, and that the customer secret never shows in
//! anything formatted.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use recplan::agora::{ApiBase, Client, ClientConfig, ConfigError, Secret};

use super::server::{Reply, TestServer};
use super::{CUSTOMER_ID, CUSTOMER_SECRET, Call, call, client, config, fixture};

#[test]
fn accepted_bases() {
    for (input, normalized) in [
        ("https://api.agora.io", "https://api.agora.io"),
        ("https://api.sd-rtn.com/", "https://api.sd-rtn.com"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://127.9.8.7:1", "http://127.9.8.7:1"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        (
            "http://LOCALHOST:9000/agora/",
            "http://localhost:9000/agora",
        ),
    ] {
        let base = ApiBase::parse(input).unwrap_or_else(|error| panic!("{input}: {error}"));
        assert_eq!(base.as_str(), normalized, "{input}");
    }
    assert_eq!(
        ApiBase::default(),
        ApiBase::parse("https://api.agora.io/").unwrap()
    );
    assert_eq!(ApiBase::default().to_string(), ApiBase::DEFAULT);
}

#[test]
fn refused_bases() {
    for (input, problem) in [
        ("http://api.agora.io", "loopback"),
        ("http://10.0.0.1:8080", "loopback"),
        ("http://127.0.0.1.nip.io", "loopback"),
        ("http://localhost.example.com", "loopback"),
        ("http://[::ffff:10.0.0.1]", "loopback"),
        ("ftp://127.0.0.1", "scheme"),
        ("api.agora.io", "relative URL"),
        ("https://api.agora.io/?region=eu", "query"),
    ] {
        let error = ApiBase::parse(input).expect_err(input).to_string();
        assert!(error.contains(problem), "{input}: {error}");
    }
    assert_eq!(
        ApiBase::parse("http://api.agora.io")
            .unwrap_err()
            .to_string(),
        "invalid Agora API base `http://api.agora.io/`: plain http:// is allowed only to a \
         loopback host (127.0.0.0/8, ::1, localhost); use https://"
    );
}

#[test]
fn a_password_in_the_base_is_refused_and_not_echoed() {
    let error = ApiBase::parse("https://id:hunter2pw@api.agora.io").unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("not in the URL"), "{shown}");
    assert!(!shown.contains("hunter2pw"), "{shown}");
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

const FULL_ENV: [(&str, &str); 3] = [
    ("AGORA_CUSTOMER_ID", CUSTOMER_ID),
    ("AGORA_CUSTOMER_SECRET", CUSTOMER_SECRET),
    ("AGORA_APP_ID", "appid"),
];

#[test]
fn from_env_defaults_the_base() {
    let config = ClientConfig::from_env(env(&FULL_ENV)).unwrap();
    assert_eq!(config.base, ApiBase::default());
    assert_eq!(config.app_id, "appid");
    assert_eq!(config.credentials.customer_id, CUSTOMER_ID);
    assert_eq!(config.credentials.customer_secret.expose(), CUSTOMER_SECRET);
    assert_eq!(config.timeout, ClientConfig::DEFAULT_TIMEOUT);

    let mut with_base = FULL_ENV.to_vec();
    with_base.push(("AGORA_API_BASE", "http://127.0.0.1:7777"));
    let config = ClientConfig::from_env(env(&with_base)).unwrap();
    assert_eq!(config.base.as_str(), "http://127.0.0.1:7777");
}

#[test]
fn from_env_names_every_missing_variable() {
    let error = ClientConfig::from_env(env(&[])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment variables not set: AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET, AGORA_APP_ID"
    );
    // Empty counts as unset.
    let error = ClientConfig::from_env(env(&[
        ("AGORA_CUSTOMER_ID", CUSTOMER_ID),
        ("AGORA_CUSTOMER_SECRET", ""),
        ("AGORA_APP_ID", "appid"),
    ]))
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment variable not set: AGORA_CUSTOMER_SECRET"
    );
}

#[test]
fn from_env_refuses_a_plain_http_remote_base() {
    let mut pairs = FULL_ENV.to_vec();
    pairs.push(("AGORA_API_BASE", "http://api.agora.io"));
    let error = ClientConfig::from_env(env(&pairs)).unwrap_err();
    assert!(
        matches!(error, ConfigError::InvalidBase { .. }),
        "{error:?}"
    );
}

/// Neither the secret nor the basic-auth value derived from it.
fn assert_no_secret(what: &str, shown: &str) {
    let basic = STANDARD.encode(format!("{CUSTOMER_ID}:{CUSTOMER_SECRET}"));
    assert!(
        !shown.contains(CUSTOMER_SECRET),
        "{what} shows the secret: {shown}"
    );
    assert!(
        !shown.contains(&basic),
        "{what} shows the auth header: {shown}"
    );
}

#[tokio::test]
async fn the_customer_secret_never_shows() {
    let server = TestServer::start(|seen| {
        if seen.path.ends_with("/acquire") {
            Reply::new(401, &fixture("error_unauthorized.json"))
        } else if seen.path.ends_with("/start") {
            Reply::new(200, "not json")
        } else {
            Reply::new(200, "{}").after(Duration::from_secs(30))
        }
    })
    .await;
    let config = ClientConfig {
        timeout: Duration::from_millis(200),
        ..config(&server.base)
    };
    let client = Client::new(config.clone()).unwrap();
    for (what, shown) in [
        ("Credentials", format!("{:?}", config.credentials)),
        ("ClientConfig", format!("{config:?}")),
        ("Client", format!("{client:?}")),
        (
            "Secret",
            format!(
                "{} {:?}",
                Secret::new(CUSTOMER_SECRET),
                Secret::new(CUSTOMER_SECRET)
            ),
        ),
    ] {
        assert!(
            shown.contains(CUSTOMER_ID) || what == "Secret",
            "{what}: {shown}"
        );
        assert_no_secret(what, &shown);
    }

    for which in [Call::Acquire, Call::Start, Call::Query] {
        let error = call(&client, which).await.unwrap_err();
        // The whole chain, as a report would print it.
        let mut shown = vec![format!("{error} {error:?}")];
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            shown.push(format!("{cause} {cause:?}"));
            source = cause.source();
        }
        let shown = shown.join(" ");
        assert_no_secret(&format!("{which:?} error"), &shown);
    }
    let error = ClientConfig::from_env(|name| {
        (name == "AGORA_CUSTOMER_SECRET").then(|| CUSTOMER_SECRET.to_owned())
    })
    .unwrap_err();
    assert_no_secret("ConfigError", &format!("{error} {error:?}"));

    // The secret was sent, so the searches above looked for the right thing.
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{CUSTOMER_ID}:{CUSTOMER_SECRET}"))
    );
    assert!(
        server
            .seen()
            .iter()
            .all(|seen| seen.header("authorization") == Some(&basic))
    );
}

#[tokio::test]
async fn a_client_for_another_app_id_shares_the_rest() {
    let server = TestServer::always(Reply::new(200, &fixture("query_web.json"))).await;
    let client = client(&server.base).with_app_id("otherapp");
    call(&client, Call::Query).await.unwrap();
    assert!(
        server.seen()[0]
            .path
            .starts_with("/v1/apps/otherapp/cloud_recording/")
    );
    assert_eq!(client.config().base.as_str(), server.base);
}
