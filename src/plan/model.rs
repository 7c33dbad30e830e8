//! The validated plan and what one occurrence of it renders to.
//!
//! A [`Plan`] is only made by [`super::validate`]; its fields are private so
//! nothing downstream checks them again. [`Plan::occurrence`] renders the
//! templates for one start instant and yields a [`SessionSpec`] per channel:
//! the exact request bodies of one recording.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::Serialize;

use super::raw::{OnFailure, Overlap, RawChannel};
use super::source::Source;
use crate::agora::call::RecordingRequest as _;
use crate::agora::request::{
    AcquireClientRequest, StartClientRequest, StopClientRequest, UpdateClientRequest,
    UpdateLayoutClientRequest,
};
use crate::agora::{Endpoint, Mode, Secret};
use crate::schedule::{Recurrence, Tz};
use crate::token::Minting;

/// A plan that passed validation.
#[derive(Clone, Debug)]
pub struct Plan {
    pub(super) name: String,
    pub(super) source: Arc<Source>,
    pub(super) content_hash: String,
    pub(super) app_id: Option<String>,
    pub(super) mode: Mode,
    pub(super) vars: serde_json::Map<String, serde_json::Value>,
    pub(super) timing: Timing,
    pub(super) on_failure: OnFailure,
    pub(super) min_recording: Duration,
    pub(super) channels: Vec<RawChannel>,
    pub(super) acquire: AcquireClientRequest,
    pub(super) start: StartClientRequest,
    pub(super) steps: Vec<Step>,
    /// The index in the file of each of `steps` (which are sorted by
    /// offset), so that findings about a step point at the step as written.
    pub(super) step_sources: Vec<usize>,
    pub(super) stop: StopClientRequest,
    pub(super) rtc_token: Option<TokenPlan>,
}

/// A plan's `rtc_token`, checked: the certificate is rendered with each
/// occurrence, since it usually comes from the environment.
#[derive(Clone, Debug)]
pub(super) struct TokenPlan {
    /// The `certificate` template; None for `$AGORA_APP_CERTIFICATE`.
    pub certificate: Option<Secret>,
    pub lifetime: Duration,
}

/// When a plan's occurrences start and how long they last.
#[derive(Clone, Debug)]
pub struct Timing {
    pub schedule: Option<Recurrence>,
    pub timezone: Tz,
    /// None for a plan without a schedule: `run` then takes `--duration`.
    pub duration: Option<Duration>,
    pub starting_deadline: Duration,
    pub overlap: Overlap,
    pub skip_dates: Vec<NaiveDate>,
    pub paused: bool,
    /// The calendar an `ics` schedule follows.
    pub calendar: Option<super::timing::CalendarUse>,
}

/// One call at an offset from the occurrence's start.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    #[serde(serialize_with = "serialize_offset")]
    pub at: Duration,
    pub action: StepAction,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
///
/// Bodies are shared: one without templates renders to itself, so every
/// occurrence's sessions hold the plan's own rather than a copy each.
pub enum StepAction {
    Update(Arc<UpdateClientRequest>),
    /// The full layout in force from this step on: fields a step leaves out
    /// are carried over, since Agora resets whatever a call omits.
    UpdateLayout(Arc<UpdateLayoutClientRequest>),
}

impl StepAction {
    /// The endpoint the step calls.
    pub fn endpoint(&self) -> Endpoint {
        match self {
            StepAction::Update(update) => update.endpoint(),
            StepAction::UpdateLayout(layout) => layout.endpoint(),
        }
    }
}

fn serialize_offset<S: serde::Serializer>(at: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::duration::format(*at))
}

impl Plan {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> &Path {
        &self.source.path
    }

    /// The plan file as read, for shipping it elsewhere (a ConfigMap).
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// A digest of the file's text, to tell which version of a plan a
    /// stored session came from.
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    pub fn on_failure(&self) -> OnFailure {
        self.on_failure
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The next `n` starts strictly after `after`, honouring `paused` and
    /// `skip_dates`.
    pub fn next_starts(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Tz>> {
        let Some(schedule) = &self.timing.schedule else {
            return Vec::new();
        };
        if self.timing.paused {
            return Vec::new();
        }
        schedule
            .starts_after(after)
            .filter(|start| !self.is_skipped(start))
            .take(n)
            .collect()
    }

    /// The occurrence due at `now`: the latest start not after `now` that is
    /// within `starting_deadline` and not skipped.
    pub fn due_start(&self, now: DateTime<Utc>) -> Option<DateTime<Tz>> {
        let schedule = self.timing.schedule.as_ref()?;
        if self.timing.paused {
            return None;
        }
        let start = schedule.latest_at_or_before(now)?;
        let late = now.signed_duration_since(start).to_std().ok()?;
        (late <= self.timing.starting_deadline && !self.is_skipped(&start)).then_some(start)
    }

    /// The latest scheduled start before `now` that is past its starting
    /// deadline (but within a day): an occurrence that was missed, if nobody
    /// ran it.
    pub fn missed_start(&self, now: DateTime<Utc>) -> Option<DateTime<Tz>> {
        let schedule = self.timing.schedule.as_ref()?;
        if self.timing.paused {
            return None;
        }
        let start = schedule.latest_at_or_before(now)?;
        let late = now.signed_duration_since(start).to_std().ok()?;
        let recent = late <= std::time::Duration::from_secs(86_400);
        (late > self.timing.starting_deadline && recent && !self.is_skipped(&start))
            .then_some(start)
    }

    fn is_skipped(&self, start: &DateTime<Tz>) -> bool {
        self.timing.skip_dates.contains(&start.date_naive())
    }

    /// A start instant in the plan's timezone.
    pub fn localize(&self, instant: DateTime<Utc>) -> DateTime<Tz> {
        instant.with_timezone(&self.timing.timezone)
    }
}

/// One occurrence of a plan, rendered: what `run` executes.
#[derive(Clone, Debug, Serialize)]
pub struct Occurrence {
    pub plan: String,
    pub plan_path: PathBuf,
    /// The plan file's digest, to tell which version a stored session
    /// came from.
    pub plan_hash: String,
    pub start: DateTime<FixedOffset>,
    #[serde(serialize_with = "serialize_offset")]
    pub duration: Duration,
    /// Shared with the sessions that run them.
    pub sessions: Vec<Arc<SessionSpec>>,
}

impl Occurrence {
    pub fn end(&self) -> DateTime<FixedOffset> {
        self.start + chrono::Duration::from_std(self.duration).unwrap_or(chrono::Duration::MAX)
    }
}

/// Everything one recording of one channel sends, rendered and checked.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSpec {
    pub app_id: String,
    pub mode: Mode,
    pub cname: String,
    pub uid: String,
    pub backup_uid: Option<String>,
    pub on_failure: OnFailure,
    /// Starts are tried while at least this much of the occurrence remains.
    #[serde(serialize_with = "serialize_offset")]
    pub min_recording: Duration,
    pub acquire: AcquireClientRequest,
    pub start: StartClientRequest,
    pub steps: Vec<Step>,
    pub stop: StopClientRequest,
    /// Set when recplan mints the recorder's RTC token: `start.token` is
    /// then empty here, and the session fills it (and
    /// `acquire.startParameter.token`) with a token for the uid it starts
    /// with, issued as it starts. Never serialized: it holds the App
    /// Certificate.
    #[serde(skip)]
    pub rtc_token: Option<Minting>,
}
