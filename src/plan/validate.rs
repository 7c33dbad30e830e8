//! Raw plan → validated [`Plan`], every finding at once.
//!
//! Structure (types, unknown keys) is checked by the parser; what it cannot
//! see (schedule, durations, step placement) is checked here; and every
//! Agora rule is checked on the bodies a sample occurrence renders to, so a
//! template that yields a bad value is caught before anything is sent.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::error::{Diagnostic, PlanError};
use super::issues::Issues;
use super::model::{Plan, Step, StepAction, Timing};
use super::raw::{RawPlan, RawStep, VarValue};
use super::source::{MAX_PLAN_BYTES, Source};
use super::template::{Env, MissingEnv};
use super::{duration, layout, lenient, minting, timing};
use crate::agora::Mode;
use crate::agora::request::UpdateLayoutClientRequest;

/// How much of an occurrence must remain for a start to be worth trying.
pub const DEFAULT_MIN_RECORDING: Duration = Duration::from_secs(60);

/// How a plan is checked.
#[derive(Clone, Debug)]
pub struct Options {
    /// The environment templates see.
    pub env: Env,
    /// Whether an absent `env` value is an error or a warning.
    pub missing_env: MissingEnv,
    /// "Now", for choosing the sample occurrence templates are checked with.
    pub now: DateTime<Utc>,
}

/// A valid plan and the warnings found on the way.
#[derive(Debug)]
pub struct Validated {
    pub plan: Plan,
    pub warnings: Vec<Diagnostic>,
}

/// Reads and validates the plan file at `path`.
pub fn load(path: &Path, options: &Options) -> Result<Validated, PlanError> {
    validate(Source::read(path)?, options)
}

/// Validates a plan's text.
pub fn validate(source: Source, options: &Options) -> Result<Validated, PlanError> {
    // Files are refused before reading; text from elsewhere is held to the
    // same limit, since parsing it twice (plan, then positions) is slow.
    let size = u64::try_from(source.text.len()).unwrap_or(u64::MAX);
    if size > MAX_PLAN_BYTES {
        return Err(PlanError::TooLarge {
            path: source.path,
            size,
            limit: MAX_PLAN_BYTES,
        });
    }
    if source.is_blank() {
        // The parser would say "unexpected end of input".
        let mut diagnostic = Diagnostic::error(&source.path, "", "the plan is empty").with_hint(
            Some("a plan needs at least `mode`, `channels` and `start`; `recplan schema` lists every field".to_owned()),
        );
        (diagnostic.line, diagnostic.column) = (1, 1);
        return Err(PlanError::Invalid {
            diagnostics: vec![diagnostic],
        });
    }
    let (raw, type_errors) = lenient::parse_all::<RawPlan>(&source);
    let Some(raw) = raw else {
        return Err(PlanError::Invalid {
            diagnostics: type_errors,
        });
    };
    let source = Arc::new(source);
    let mut issues = Issues::default();
    let plan = build(raw, &source, &mut issues);
    let sample = plan.sample_start(options.now);
    plan.render_sessions(&sample, &options.env, options.missing_env, &mut issues);
    // Placing findings takes a second parse; most plans have none to place.
    let mut diagnostics = if issues.is_empty() {
        Vec::new()
    } else {
        issues.into_diagnostics(&source, &source.span_index())
    };
    if !type_errors.is_empty() {
        // A value of the wrong type was left out: what validation says of
        // it, or of what is under it, would only repeat the type error.
        diagnostics.retain(|d| !type_errors.iter().any(|t| repeats(d, &t.path)));
        diagnostics.extend(type_errors);
        diagnostics.sort_by_key(|d| (d.line, d.column));
    }
    if diagnostics.iter().any(Diagnostic::is_error) {
        Err(PlanError::Invalid { diagnostics })
    } else {
        Ok(Validated {
            plan,
            warnings: diagnostics,
        })
    }
}

/// Whether `finding` is about the field at `path` (which had the wrong
/// type), a field under it, or its absence from the block above it.
fn repeats(finding: &Diagnostic, path: &str) -> bool {
    let under = |path: &str, within: &str| {
        path.strip_prefix(within)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    };
    let field = path.rsplit(['.', '[']).next().unwrap_or(path);
    under(&finding.path, path) || (under(path, &finding.path) && finding.message.contains(field))
}

/// Checks what needs no rendering and builds the plan. Parts found wrong
/// are reported and left out, so that the rest is still checked; the plan
/// is only used if no error was found.
fn build(raw: RawPlan, source: &Arc<Source>, issues: &mut Issues) -> Plan {
    let name = plan_name(&raw, &source.path, issues);
    let timing = raw
        .schedule
        .as_ref()
        .map_or_else(timing::unscheduled, |schedule| {
            timing::check(schedule, &source.path, issues)
        });
    if raw.channels.is_empty() {
        issues
            .error("channels", "a plan needs at least one channel")
            .hint("add `- {cname: NAME, uid: \"1001\"}`");
    }
    let (step_sources, steps) = steps(
        &raw.steps,
        raw.mode,
        raw.start.recording_config.as_ref(),
        &timing,
        issues,
    );
    let rtc_token = minting::check(&raw, &timing, issues);
    let min_recording = raw
        .min_recording
        .as_deref()
        .and_then(|text| parse_duration(text, "min_recording", issues))
        .unwrap_or(DEFAULT_MIN_RECORDING);
    let vars = raw
        .vars
        .into_iter()
        .map(|(k, v)| {
            let value = match v {
                VarValue::Bool(b) => serde_json::Value::Bool(b),
                VarValue::Integer(i) => serde_json::Value::from(i),
                VarValue::Float(f) => serde_json::Value::from(f),
                VarValue::Text(t) => serde_json::Value::String(t),
            };
            (k, value)
        })
        .collect();
    Plan {
        name,
        content_hash: content_hash(source, &timing),
        source: Arc::clone(source),
        app_id: raw.app_id,
        mode: raw.mode,
        vars,
        timing,
        on_failure: raw.on_failure.unwrap_or_default(),
        min_recording,
        channels: raw.channels,
        acquire: raw.acquire.unwrap_or_default(),
        start: raw.start,
        steps,
        step_sources,
        stop: raw.stop.unwrap_or_default(),
        rtc_token,
    }
}

/// A digest of the plan's text and of the calendar it follows, if any.
fn content_hash(source: &Source, timing: &Timing) -> String {
    let mut digest = Sha256::new();
    digest.update(source.text.as_bytes());
    if let Some(calendar) = &timing.calendar {
        digest.update(calendar.text.as_bytes());
    }
    hex::encode(digest.finalize())
}

fn plan_name(raw: &RawPlan, path: &Path, issues: &mut Issues) -> String {
    let valid = |name: &str| {
        !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if let Some(name) = &raw.name {
        if !valid(name) {
            issues
                .error("name", format!("`{name}` is not a valid plan name"))
                .hint("use lowercase letters, digits and `-`, up to 64");
        }
        return name.clone();
    }
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plan")
        .to_ascii_lowercase();
    let name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if valid(&name) {
        name
    } else {
        "plan".to_owned()
    }
}

pub(super) fn parse_duration(text: &str, path: &str, issues: &mut Issues) -> Option<Duration> {
    duration::parse(text)
        .map_err(|message| {
            issues
                .error(path, message)
                .hint("durations look like `45s`, `30m`, `1h30m`");
        })
        .ok()
}

/// Parses step offsets, checks each step fits the mode and the occurrence,
/// and turns each layout step into the full layout in force from then on.
/// Returns the steps sorted by offset, each with its index in the file.
fn steps(
    raw: &[RawStep],
    mode: Mode,
    recording: Option<&crate::agora::request::RecordingConfig>,
    timing: &Timing,
    issues: &mut Issues,
) -> (Vec<usize>, Vec<Step>) {
    let mut parsed = Vec::with_capacity(raw.len());
    for (i, step) in raw.iter().enumerate() {
        let path = format!("steps[{i}]");
        let at = parse_duration(&step.at, &format!("{path}.at"), issues);
        if let (Some(at), Some(length)) = (at, timing.duration)
            && at >= length
        {
            issues
                .error(
                    format!("{path}.at"),
                    format!(
                        "step at {} is not inside the occurrence ({} long)",
                        duration::format(at),
                        duration::format(length)
                    ),
                )
                .hint("a step's `at` must be less than schedule.duration");
        }
        let action = match (&step.update, &step.update_layout) {
            (Some(update), None) => Some(StepAction::Update(Arc::new(update.clone()))),
            (None, Some(layout)) if mode == Mode::Composite => {
                Some(StepAction::UpdateLayout(Arc::new(layout.clone())))
            }
            (None, Some(_)) => {
                issues
                    .error(
                        format!("{path}.updateLayout"),
                        format!("updateLayout is for composite recording, not {mode}"),
                    )
                    .hint("remove the step, or use `mode: composite`");
                None
            }
            (Some(_), Some(_)) => {
                issues
                    .error(
                        path.clone(),
                        "a step has one call: `update` or `updateLayout`, not both",
                    )
                    .hint("split it into two steps");
                None
            }
            (None, None) => {
                issues
                    .error(path.clone(), "a step needs `update` or `updateLayout`")
                    .hint("e.g. `- {at: 10m, update: {streamSubscribe: …}}`");
                None
            }
        };
        parsed.push((i, at, action));
    }
    let mut steps: Vec<(usize, Step)> = parsed
        .into_iter()
        .filter_map(|(i, at, action)| {
            Some((
                i,
                Step {
                    at: at?,
                    action: action?,
                },
            ))
        })
        .collect();
    steps.sort_by_key(|(_, step)| step.at);
    let initial = recording
        .and_then(|r| r.transcoding_config.as_ref())
        .map(layout::of_transcoding)
        .unwrap_or_default();
    let mut current: UpdateLayoutClientRequest = initial;
    for (_, step) in &mut steps {
        if let StepAction::UpdateLayout(change) = &mut step.action {
            current = layout::apply(&current, change);
            *change = Arc::new(current.clone());
        }
    }
    steps.into_iter().unzip()
}
