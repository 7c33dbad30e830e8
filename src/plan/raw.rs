//! The plan file as written: a serde mirror of the YAML, with template
//! strings not yet rendered and nothing cross-checked. [`super::validate`]
//! turns it into a [`super::Plan`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::agora::request::{
    AcquireClientRequest, StartClientRequest, StopClientRequest, UpdateClientRequest,
    UpdateLayoutClientRequest,
};
use crate::agora::{Mode, Secret};

/// A recording plan. recplan's own keys are snake_case; the `acquire`,
/// `start`, `steps[].update`, `steps[].updateLayout` and `stop` blocks are
/// Agora's clientRequest bodies with Agora's field names.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "recplan plan")]
pub struct RawPlan {
    /// Plan name, `[a-z0-9-]`; defaults to the file stem.
    pub name: Option<String>,
    /// Agora App ID; defaults to `$AGORA_APP_ID`. May be a template.
    pub app_id: Option<String>,
    /// individual | composite | web.
    pub mode: Mode,
    /// Free values for templates: `{{vars.NAME}}`.
    #[serde(default)]
    pub vars: BTreeMap<String, VarValue>,
    /// When occurrences start and how long they last. Without one, the
    /// plan only runs with `run --now` or `--at`.
    pub schedule: Option<RawSchedule>,
    /// What to do when a recording dies mid-occurrence.
    pub on_failure: Option<OnFailure>,
    /// Keep trying to start a recording while at least this much of the
    /// occurrence remains: `1m` (the default), `30s`, `5m`.
    pub min_recording: Option<String>,
    /// One recording per channel per occurrence.
    pub channels: Vec<RawChannel>,
    /// Agora's acquire clientRequest; `scene` follows the mode.
    pub acquire: Option<AcquireClientRequest>,
    /// Has recplan mint each recorder's RTC token (AccessToken2) from the
    /// App Certificate, instead of a fixed `start.token`.
    pub rtc_token: Option<RawRtcToken>,
    /// Agora's start clientRequest.
    pub start: StartClientRequest,
    /// Calls at offsets from the start of the occurrence.
    #[serde(default)]
    pub steps: Vec<RawStep>,
    /// Agora's stop clientRequest.
    pub stop: Option<StopClientRequest>,
}

/// A `vars` value: text, a number or a boolean.
#[derive(Clone, Debug, Deserialize, JsonSchema, serde::Serialize)]
#[serde(untagged)]
pub enum VarValue {
    Bool(bool),
    Integer(i64),
    Float(f64),
    Text(String),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// Crontab line: 5 fields, or 6 with seconds first. Exactly one of
    /// `cron`, `rrule` and `ics`.
    pub cron: Option<String>,
    /// An RFC 5545 recurrence rule, evaluated in local wall time:
    /// `FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH`. Needs `dtstart`.
    pub rrule: Option<String>,
    /// The local date and time of the rule's first occurrence, in
    /// `timezone`: `2026-12-01T09:30:00`.
    pub dtstart: Option<String>,
    /// Local starts the rule leaves out: `["2026-12-22T09:30:00"]`.
    pub exdates: Option<Vec<String>>,
    /// An iCalendar file (a path relative to the plan, or an https URL)
    /// whose meeting series the plan follows.
    pub ics: Option<String>,
    /// The series' SUMMARY or UID; may be left out when the file has one.
    pub event: Option<String>,
    /// How often the daemon fetches an `ics` URL again; default `15m`.
    pub refresh: Option<String>,
    /// IANA timezone name; default UTC (with `ics`: the event's own).
    pub timezone: Option<String>,
    /// Length of each occurrence: `45s`, `30m`, `1h30m`. With `ics`,
    /// default the event's own.
    pub duration: Option<String>,
    /// How late an occurrence may still start; default `5m`.
    pub starting_deadline: Option<String>,
    /// When the previous occurrence still runs: skip (default), allow,
    /// stop_previous.
    pub overlap: Option<Overlap>,
    /// Dates (YYYY-MM-DD, in the plan's timezone) with no occurrence.
    pub skip_dates: Option<Vec<String>>,
    /// A paused plan has no occurrences.
    pub paused: Option<bool>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    #[default]
    Skip,
    Allow,
    StopPrevious,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    #[default]
    Restart,
    Stop,
    Ignore,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// Channel name (web mode: any session key). May be a template.
    pub cname: String,
    /// The recorder's own uid, 1..4294967295: `"527841"` or `527841`.
    pub uid: String,
    /// The uid a restarted recording uses.
    pub backup_uid: Option<String>,
}

/// How recplan mints the recorder's RTC token: for the channel and the uid
/// each recording starts with, when it starts.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRtcToken {
    /// How long each token is valid from its start call: `2h`. Agora cannot
    /// renew a recording's token, so it must cover `schedule.duration`; at
    /// most `24h`.
    pub lifetime: String,
    /// The App Certificate (32 hexadecimal characters); default
    /// `$AGORA_APP_CERTIFICATE`. Give it as a template such as
    /// `"{{env.NAME}}"` rather than in the file.
    pub certificate: Option<Secret>,
}

/// One call at an offset: exactly one of `update` and `updateLayout`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Offset from the start of the occurrence: `10m`, `1h30m`.
    pub at: String,
    /// Agora's update clientRequest.
    pub update: Option<UpdateClientRequest>,
    /// Agora's updateLayout clientRequest (composite only). Fields left out
    /// keep the layout in force; recplan always sends the full layout.
    #[serde(rename = "updateLayout")]
    pub update_layout: Option<UpdateLayoutClientRequest>,
}
