//! Helpers shared by the plan and command-line tests: fixture paths, a
//! fixed environment and a fixed "now".

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use recplan::plan::{Diagnostic, Env, MissingEnv, Options, PlanError, Validated};

/// A valid App ID (32 hex characters).
pub const APP_ID: &str = "0123456789abcdef0123456789abcdef";

/// An App Certificate (32 hex characters) for minted tokens, unlike any
/// other value in the tests, so that output can be searched for it.
pub const APP_CERTIFICATE: &str = "c3f1a9d27be84e05b6a1d0f9e2c4b7a8";

/// The crate root: where `plans/` and `tests/fixtures/` are.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A plan under `tests/fixtures/plans/`, e.g. `invalid/uid-zero.yaml`.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/plans").join(name)
}

/// The text of a plan fixture.
pub fn fixture_text(name: &str) -> String {
    let path = fixture(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every variable the example plans and fixtures name, with stand-in values.
pub fn full_env() -> Env {
    Env::default()
        .with("AGORA_APP_ID", APP_ID)
        .with("AGORA_APP_CERTIFICATE", APP_CERTIFICATE)
        .with("AGORA_RTC_TOKEN", "rtc-token")
        .with("S3_ACCESS_KEY", "access-key")
        .with("S3_SECRET_KEY", "secret-key")
        .with("RECPLAN_TEST_KEY", "test-key")
        .with("RECPLAN_TEST_SECRET", "test-secret")
}

/// 2026-11-27T08:00:00Z, a Friday: the "now" every validation runs at.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn options(env: Env, missing_env: MissingEnv) -> Options {
    Options {
        env,
        missing_env,
        now: now(),
    }
}

/// Validates a fixture with every variable set, as `render` would.
pub fn load_fixture(name: &str) -> Result<Validated, PlanError> {
    recplan::plan::load(&fixture(name), &options(full_env(), MissingEnv::Refuse))
}

/// The diagnostics of a plan that must be invalid.
pub fn invalid(result: Result<Validated, PlanError>) -> Vec<Diagnostic> {
    match result {
        Ok(validated) => panic!(
            "expected an invalid plan, got a valid one with warnings {:?}",
            validated.warnings
        ),
        Err(PlanError::Invalid { diagnostics }) => diagnostics,
        Err(other) => panic!("expected diagnostics, got {other:?}"),
    }
}

/// The errors among `diagnostics`, leaving warnings out.
pub fn errors(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics.iter().filter(|d| d.is_error()).collect()
}

/// The real binary run from the crate root with `args`, for tests that need
/// only its output (`cli`'s builder also isolates state and environment).
pub fn recplan<I, S>(args: I) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    std::process::Command::new(env!("CARGO_BIN_EXE_recplan"))
        .current_dir(root())
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("the recplan binary runs")
}
