//! Any bytes as an Agora response body: parsed or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recplan::agora::response::{AcquireResponse, QueryResponse, StartResponse, StopResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(query) = serde_json::from_slice::<QueryResponse>(data) {
        let _ = (query.status(), query.files(), query.uploading_status());
    }
    if let Ok(stop) = serde_json::from_slice::<StopResponse>(data) {
        let _ = (stop.files(), stop.uploading_status());
    }
    let _ = serde_json::from_slice::<AcquireResponse>(data);
    let _ = serde_json::from_slice::<StartResponse>(data);
});
