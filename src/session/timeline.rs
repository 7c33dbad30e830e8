//! The calls one session makes, at their offsets from the occurrence's
//! start: what `render` shows and what the runner follows.

use std::time::Duration;

use serde::Serialize;

use crate::agora::request::{AcquireClientRequest, Envelope, StartClientRequest};
use crate::agora::{Endpoint, Secret};
use crate::plan::{SessionSpec, StepAction};

/// Agora advises confirming a start with a query about 5 s later.
pub const CONFIRM_AFTER: Duration = Duration::from_secs(5);
/// Agora's advice for routine queries: about every 2 minutes.
const ROUTINE_QUERY: Duration = Duration::from_secs(120);

/// How often a running recording is queried: Agora's 2 minutes, or more
/// often when `maxIdleTime` is short, so that an idle stop is noticed
/// before the recording is gone for long.
pub fn query_interval(spec: &SessionSpec) -> Duration {
    let idle = spec
        .start
        .recording_config
        .as_ref()
        .and_then(|r| r.max_idle_time)
        .map(|s| Duration::from_secs(u64::from(s) / 2));
    idle.map_or(ROUTINE_QUERY, |half| {
        half.clamp(CONFIRM_AFTER, ROUTINE_QUERY)
    })
}

/// One call of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedCall {
    #[serde(serialize_with = "offset")]
    pub at: Duration,
    pub endpoint: Endpoint,
    /// `{cname, uid, clientRequest}`, or none for query.
    pub body: Option<serde_json::Value>,
    /// What the call is for, when that is not obvious.
    pub note: Option<String>,
}

fn offset<S: serde::Serializer>(at: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::plan::format_duration(*at))
}

/// The calls of one session in order: acquire and start at once, a query
/// to confirm, the steps at their offsets, and stop at the end. Routine
/// queries are summarised in the confirming query's note.
pub fn timeline(spec: &SessionSpec, duration: Duration) -> Vec<PlannedCall> {
    let envelope = |client_request: serde_json::Value| {
        serde_json::to_value(Envelope {
            cname: spec.cname.clone(),
            uid: spec.uid.clone(),
            client_request,
        })
        .ok()
    };
    let (acquire, start, minted) = with_minted_placeholder(spec);
    let mut calls = vec![
        PlannedCall {
            at: Duration::ZERO,
            endpoint: Endpoint::Acquire,
            body: envelope(json(&acquire)),
            note: None,
        },
        PlannedCall {
            at: Duration::ZERO,
            endpoint: Endpoint::Start,
            body: envelope(json(&start)),
            note: minted,
        },
        PlannedCall {
            at: CONFIRM_AFTER,
            endpoint: Endpoint::Query,
            body: None,
            note: Some(format!(
                "confirm status 4 or 5, then every {}",
                crate::plan::format_duration(query_interval(spec))
            )),
        },
    ];
    for step in &spec.steps {
        let body = match &step.action {
            StepAction::Update(update) => json(update),
            StepAction::UpdateLayout(layout) => json(layout),
        };
        calls.push(PlannedCall {
            at: step.at,
            endpoint: step.action.endpoint(),
            body: envelope(body),
            note: None,
        });
    }
    calls.push(PlannedCall {
        at: duration,
        endpoint: Endpoint::Stop,
        body: envelope(json(&spec.stop)),
        note: None,
    });
    calls
}

/// The acquire and start bodies as sent. A minted token exists only once
/// the session starts (it is issued then, for the uid it starts with), so
/// it stands here as a placeholder, which `render` masks like any token,
/// with a note saying so.
fn with_minted_placeholder(
    spec: &SessionSpec,
) -> (AcquireClientRequest, StartClientRequest, Option<String>) {
    let (mut acquire, mut start) = (spec.acquire.clone(), spec.start.clone());
    let Some(minting) = &spec.rtc_token else {
        return (acquire, start, None);
    };
    let placeholder = || Some(Secret::new("<minted at start>"));
    start.token = placeholder();
    if let Some(parameter) = acquire.start_parameter.as_mut() {
        parameter.token = placeholder();
    }
    let note = format!(
        "token minted for the starting uid as start is sent, valid {}",
        crate::plan::format_duration(minting.lifetime())
    );
    (acquire, start, Some(note))
}

fn json<T: Serialize>(body: &T) -> serde_json::Value {
    serde_json::to_value(body).unwrap_or(serde_json::Value::Null)
}
