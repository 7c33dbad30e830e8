//! Any bytes as a plan file: validation reports, it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recplan::plan::{Env, MissingEnv, Options, Source, validate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let now = chrono::DateTime::from_timestamp(1_795_770_000, 0).unwrap_or_default();
    let options = Options { env: Env::default(), missing_env: MissingEnv::Warn, now };
    let _ = validate(Source::from_text("fuzz.yaml", text), &options);
});
