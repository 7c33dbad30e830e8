//! Secrets stay secret: unique values planted in every secret the runner
//! handles (customer secret, storage keys, RTC token), then every output
//! and every file it writes searched for them, with logging at its most
//! verbose.

use std::path::Path;
use std::process::Command;

use recplan::agora::Secret;
use recplan::sim::{self, SimConfig, Simulator};

pub(crate) const CUSTOMER_SECRET: &str = "CUSTsecret-e81f2a77c0";
pub(crate) const ACCESS_KEY: &str = "AKIAplanted9c41d";
pub(crate) const SECRET_KEY: &str = "s3SECRETplanted-0b7e55";
pub(crate) const RTC_TOKEN: &str = "007eJxPLANTEDtoken-5f1d";
const PLANTED: [&str; 4] = [CUSTOMER_SECRET, ACCESS_KEY, SECRET_KEY, RTC_TOKEN];

const PLAN: &str = r#"
name: secrets
mode: composite
schedule: {duration: 8s}
channels: [{cname: vault, uid: "31337"}]
start:
  token: "{{env.RTC_TOKEN}}"
  storageConfig:
    vendor: 1
    region: 0
    bucket: b
    accessKey: "{{env.S3_ACCESS_KEY}}"
    secretKey: "{{env.S3_SECRET_KEY}}"
  recordingConfig: {channelType: 0, maxIdleTime: 30}
steps:
  - at: 6s
    updateLayout: {mixedVideoLayout: 1}
"#;

fn recplan(
    base: &str,
    state: &Path,
    customer_secret: &str,
    args: &[&str],
) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_recplan"))
        .args(args)
        .env("RECPLAN_LOG", "trace")
        .env("RECPLAN_STATE_DIR", state)
        .env("AGORA_API_BASE", base)
        .env("AGORA_APP_ID", sim::DEMO_APP_ID)
        .env("AGORA_CUSTOMER_ID", sim::DEMO_CUSTOMER_ID)
        .env("AGORA_CUSTOMER_SECRET", customer_secret)
        .env("S3_ACCESS_KEY", ACCESS_KEY)
        .env("S3_SECRET_KEY", SECRET_KEY)
        .env("RTC_TOKEN", RTC_TOKEN)
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

pub(crate) fn assert_no_secret(what: &str, bytes: &[u8]) {
    use base64::Engine as _;
    // The Authorization header carries the secret in base64.
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{CUSTOMER_SECRET}", sim::DEMO_CUSTOMER_ID));
    for secret in PLANTED.iter().copied().chain([basic.as_str()]) {
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "{what} contains {secret}");
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_output_logs_errors_or_state_files() {
    let config = SimConfig {
        customer_secret: Secret::new(CUSTOMER_SECRET),
        ..SimConfig::default()
    };
    let handle = Simulator::start(config).await.unwrap();
    let base = handle.uri();
    let dir = tempfile::tempdir().unwrap();
    let (plan, state) = (dir.path().join("secrets.yaml"), dir.path().join("state"));
    std::fs::write(&plan, PLAN).unwrap();
    let plan = plan.to_str().unwrap().to_owned();

    let outputs = tokio::task::spawn_blocking(move || {
        let mut outputs = Vec::new();
        for args in [
            vec!["run", plan.as_str(), "--now", "--json"],
            vec!["render", plan.as_str(), "--json"],
            vec!["render", plan.as_str()],
            vec!["validate", plan.as_str()],
            vec!["status", "--json"],
            vec!["recover"],
        ] {
            let (code, text) = recplan(&base, &state, CUSTOMER_SECRET, &args);
            outputs.push((format!("{args:?} (exit {code:?})"), text));
        }
        // A wrong secret: the refusal names no credential either.
        let (code, text) = recplan(
            &base,
            &state,
            "wrong-secret-unique-77",
            &["run", plan.as_str(), "--now"],
        );
        assert_ne!(code, Some(0));
        assert!(!text.contains("wrong-secret-unique-77"), "{text}");
        outputs.push(("run with a wrong secret".to_owned(), text));
        (outputs, state)
    })
    .await
    .unwrap();
    let (outputs, state) = outputs;
    assert!(
        outputs[0].1.contains("\"outcome\": \"completed\""),
        "{}",
        outputs[0].1
    );
    assert!(
        outputs[0].1.contains("TRACE") || outputs[0].1.contains("DEBUG"),
        "logging was verbose"
    );
    for (what, text) in &outputs {
        assert_no_secret(what, text.as_bytes());
    }
    // The simulator did receive them: the search would have found them.
    let start = handle
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/start"))
        .unwrap();
    assert_eq!(
        start.body.unwrap()["clientRequest"]["storageConfig"]["secretKey"],
        SECRET_KEY
    );
    let files = files_under(&state);
    assert!(files.iter().any(|f| f.ends_with("recplan.db")), "{files:?}");
    for file in files {
        assert_no_secret(&file.display().to_string(), &std::fs::read(&file).unwrap());
    }
}
