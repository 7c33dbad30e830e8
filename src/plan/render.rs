//! One occurrence of a plan, rendered per channel into the exact bodies a
//! session sends, and checked against Agora's rules.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::PlanError;
use super::issues::Issues;
use super::model::{Occurrence, Plan, SessionSpec, Step, StepAction};
use super::rules;
use super::template::{self, Context, Env, MissingEnv, TemplateIssue};
use crate::agora::request::{RegionRef, StorageConfig};
use crate::agora::storage;
use crate::schedule::Tz;

impl Plan {
    /// Renders the occurrence starting at `start` for every channel.
    /// `duration` overrides the plan's (and is required when it has none).
    /// Absent environment values are errors here: this is what gets sent.
    pub fn occurrence(
        &self,
        start: DateTime<Tz>,
        env: &Env,
        duration: Option<Duration>,
    ) -> Result<Occurrence, PlanError> {
        let mut issues = Issues::default();
        let length = duration.or(self.timing.duration);
        if length.is_none() {
            issues
                .error(
                    "",
                    "the plan has no schedule.duration, and no duration was given",
                )
                .hint("pass `--duration 30m`, or add `schedule: {duration: 30m}` to the plan");
        }
        if let (Some(length), Some(_)) = (length, duration) {
            for (step, i) in self.steps.iter().zip(&self.step_sources) {
                if step.at >= length {
                    issues.error(
                        format!("steps[{i}].at"),
                        "the step falls after the end of this shorter occurrence",
                    );
                }
            }
        }
        let sessions = self.render_sessions(&start, env, MissingEnv::Refuse, &mut issues);
        match length {
            Some(duration) if !issues.has_errors() => Ok(Occurrence {
                plan: self.name.clone(),
                plan_path: self.source.path.clone(),
                plan_hash: self.content_hash.clone(),
                start: start.fixed_offset(),
                duration,
                sessions,
            }),
            _ => Err(PlanError::Invalid {
                diagnostics: issues.into_diagnostics(&self.source, &self.source.span_index()),
            }),
        }
    }

    /// The start templates are checked with: the next scheduled one, or now.
    pub(super) fn sample_start(&self, now: DateTime<Utc>) -> DateTime<Tz> {
        self.timing
            .schedule
            .as_ref()
            .and_then(|schedule| schedule.next_after(now))
            .unwrap_or_else(|| now.with_timezone(&self.timing.timezone))
    }

    pub(super) fn render_sessions(
        &self,
        start: &DateTime<Tz>,
        env: &Env,
        missing_env: MissingEnv,
        issues: &mut Issues,
    ) -> Vec<SessionSpec> {
        let base = Context::new(env, &self.vars, missing_env).with_occurrence(start);
        let app_id = self.app_id(&base, issues);
        let mut sessions: Vec<SessionSpec> = Vec::with_capacity(self.channels.len());
        for (i, channel) in self.channels.iter().enumerate() {
            let path = format!("channels[{i}]");
            let cname = render_text(&base, &channel.cname, &format!("{path}.cname"), issues);
            let uid = render_text(&base, &channel.uid, &format!("{path}.uid"), issues);
            let backup_uid = channel
                .backup_uid
                .as_ref()
                .map(|b| render_text(&base, b, &format!("{path}.backup_uid"), issues));
            let context = base.clone().with_channel(&cname, &uid);
            let mut acquire = render_body(&context, &self.acquire, "acquire", issues);
            let mut start = render_body(&context, &self.start, "start", issues);
            resolve_region(start.storage_config.as_mut(), "start.storageConfig", issues);
            let steps = self
                .steps
                .iter()
                .zip(&self.step_sources)
                .map(|(step, &j)| Step {
                    at: step.at,
                    action: render_step(&context, &step.action, j, issues),
                })
                .collect();
            let stop = render_body(&context, &self.stop, "stop", issues);
            if let Some(scene) = acquire.scene
                && !(scene == self.mode.acquire_scene()
                    || (scene == 2 && self.mode == crate::agora::Mode::Individual))
            {
                issues
                    .error(
                        "acquire.scene",
                        format!("scene {scene} does not fit {} recording", self.mode),
                    )
                    .hint("leave `scene` out: recplan sets it from `mode`");
            }
            acquire.scene = Some(acquire.scene.unwrap_or(self.mode.acquire_scene()));
            let spec = SessionSpec {
                app_id: app_id.clone(),
                mode: self.mode,
                cname,
                uid,
                backup_uid,
                on_failure: self.on_failure,
                acquire,
                start,
                steps,
                stop,
            };
            rules::check(&spec, i, &self.step_sources, self.timing.duration, issues);
            // Values that failed to render are all the same placeholder: they
            // were reported already and say nothing about duplicates. (Absent
            // env values are not: each name has its own marker.)
            let unrendered = template::unknown();
            let known = spec.cname != unrendered && spec.uid != unrendered;
            if let Some(first) = sessions
                .iter()
                .position(|s| known && s.cname == spec.cname && s.uid == spec.uid)
            {
                issues
                    .error(
                        format!("{path}.uid"),
                        format!(
                            "channel `{}` with uid {} is already recorded by channels[{first}]",
                            spec.cname, spec.uid
                        ),
                    )
                    .hint("give each recording of a channel its own uid");
            }
            sessions.push(spec);
        }
        sessions
    }

    fn app_id(&self, context: &Context, issues: &mut Issues) -> String {
        match &self.app_id {
            Some(template) => render_text(context, template, "app_id", issues),
            None => render_text(context, "{{env.AGORA_APP_ID}}", "app_id", issues),
        }
    }
}

fn render_text(context: &Context, template: &str, path: &str, issues: &mut Issues) -> String {
    match context.render(template) {
        Ok(text) => {
            for name in context.absent_env(template) {
                issues
                    .warn(path, format!("environment variable {name} is not set"))
                    .hint(
                        "set it where recplan runs; `validate --require-env` makes this an error",
                    );
            }
            text
        }
        Err(issue) => {
            report(issue, path, issues);
            template::unknown()
        }
    }
}

fn report(issue: TemplateIssue, path: &str, issues: &mut Issues) {
    match issue {
        TemplateIssue::MissingEnv(name) => issues
            .error(path, format!("environment variable {name} is not set"))
            .hint(format!("export {name} before running; nothing is sent while a value is missing")),
        TemplateIssue::Missing(name) => issues
            .error(path, format!("the template names `{name}`, which does not exist"))
            .hint("templates can use env.NAME, vars.NAME, channel.cname, channel.uid, occurrence.date, occurrence.time, occurrence.start"),
        TemplateIssue::Syntax(message) => issues
            .error(path, format!("malformed template: {message}"))
            .hint("templates look like `{{vars.team}}`"),
    }
}

/// Renders every string of an Agora body through the templates.
fn render_body<T: Serialize + DeserializeOwned + Clone>(
    context: &Context,
    body: &T,
    path: &str,
    issues: &mut Issues,
) -> T {
    let Ok(mut value) = serde_json::to_value(body) else {
        return body.clone();
    };
    let mut failures = Vec::new();
    context.render_value(&mut value, path, &mut failures);
    for (at, issue) in failures {
        report(issue, &at, issues);
    }
    for (at, name) in absent_env_paths(context, body, path) {
        issues
            .warn(at, format!("environment variable {name} is not set"))
            .hint("set it where recplan runs; `validate --require-env` makes this an error");
    }
    serde_json::from_value(value).unwrap_or_else(|_| body.clone())
}

/// Where a body's templates name absent environment values (linting only).
fn absent_env_paths<T: Serialize>(
    context: &Context,
    body: &T,
    path: &str,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    if let Ok(value) = serde_json::to_value(body) {
        collect_absent(context, &value, path, &mut found);
    }
    found
}

fn collect_absent(
    context: &Context,
    value: &serde_json::Value,
    path: &str,
    found: &mut Vec<(String, String)>,
) {
    match value {
        serde_json::Value::String(text) => {
            found.extend(
                context
                    .absent_env(text)
                    .into_iter()
                    .map(|name| (path.to_owned(), name)),
            );
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_absent(context, item, &format!("{path}[{i}]"), found);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                collect_absent(context, item, &format!("{path}.{key}"), found);
            }
        }
        _ => {}
    }
}

fn render_step(
    context: &Context,
    action: &StepAction,
    index: usize,
    issues: &mut Issues,
) -> StepAction {
    match action {
        StepAction::Update(update) => {
            let path = format!("steps[{index}].update");
            let mut update = render_body(context, update.as_ref(), &path, issues);
            resolve_region(
                update.storage_config.as_mut(),
                &format!("{path}.storageConfig"),
                issues,
            );
            StepAction::Update(Box::new(update))
        }
        StepAction::UpdateLayout(layout) => StepAction::UpdateLayout(render_body(
            context,
            layout,
            &format!("steps[{index}].updateLayout"),
            issues,
        )),
    }
}

/// Turns a region name into the vendor's index, and checks an index given
/// as a number exists for the vendor.
fn resolve_region(storage: Option<&mut StorageConfig>, path: &str, issues: &mut Issues) {
    let Some(storage) = storage else { return };
    let Some(vendor) = storage::vendor_by_code(storage.vendor.0) else {
        return;
    };
    let at = format!("{path}.region");
    match &storage.region {
        RegionRef::Name(name) => {
            if let Some(index) = vendor.region_by_name(name) {
                storage.region = RegionRef::Code(index);
            } else {
                let names: Vec<String> = vendor.region_names().collect();
                let hint = match super::suggest::closest(name, names.iter().map(String::as_str)) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None if names.is_empty() => {
                        format!("{} ignores the region: write `region: 0`", vendor.title)
                    }
                    None => format!("{} regions: {}", vendor.title, names.join(", ")),
                };
                issues
                    .error(at, format!("`{name}` is not a region of {}", vendor.title))
                    .hint(hint);
            }
        }
        RegionRef::Code(index) if !vendor.has_region(*index) => {
            let hint = if vendor.regions.is_empty() {
                format!("{} ignores the region: write `region: 0`", vendor.title)
            } else {
                let known: Vec<String> = vendor
                    .regions
                    .iter()
                    .map(|(i, n)| format!("{i} {}", n.replace('_', "-")))
                    .collect();
                format!("{} regions: {}", vendor.title, known.join(", "))
            };
            issues
                .error(
                    at,
                    format!("{index} is not a region index of {}", vendor.title),
                )
                .hint(hint);
        }
        RegionRef::Code(_) => {}
    }
}
