//! One occurrence of a plan, rendered per channel into the exact bodies a
//! session sends, and checked against Agora's rules.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::PlanError;
use super::issues::Issues;
use super::model::{Occurrence, Plan, SessionSpec, Step, StepAction};
use super::template::{self, Context, Env, Findings, MissingEnv, TemplateIssue};
use super::{minting, rules};
use crate::agora::client::ENV_APP_ID;
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
        self.rendered(start, env, duration, MissingEnv::Refuse)
    }

    /// The occurrence as [`Plan::occurrence`] renders it, for showing only:
    /// absent environment values of secret fields, which are shown masked
    /// anyway, stand in as markers; any other absent value is still an
    /// error.
    pub fn preview(
        &self,
        start: DateTime<Tz>,
        env: &Env,
        duration: Option<Duration>,
    ) -> Result<Occurrence, PlanError> {
        self.rendered(start, env, duration, MissingEnv::MaskSecrets)
    }

    fn rendered(
        &self,
        start: DateTime<Tz>,
        env: &Env,
        duration: Option<Duration>,
        missing_env: MissingEnv,
    ) -> Result<Occurrence, PlanError> {
        let mut issues = Issues::default();
        let own_length = (self.timing.schedule.as_ref()).and_then(|s| s.length_at(start.to_utc()));
        let length = duration.or(own_length).or(self.timing.duration);
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
        if let (Some(length), Some(token)) = (length, &self.rtc_token) {
            minting::covers(token.lifetime, length, &mut issues);
        }
        let sessions = self.render_sessions(&start, env, missing_env, &mut issues);
        match length {
            Some(duration) if !issues.has_errors() => Ok(Occurrence {
                plan: self.name.clone(),
                plan_path: self.source.path.clone(),
                plan_hash: self.content_hash.clone(),
                start: start.fixed_offset(),
                duration,
                sessions: sessions.into_iter().map(Arc::new).collect(),
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
        let mut context = Context::new(env, &self.vars, missing_env).with_occurrence(start);
        let app_id = self.app_id(&context, env, missing_env, issues);
        let minting = self.minting(&context, env, missing_env, issues);
        let mut sessions: Vec<SessionSpec> = Vec::with_capacity(self.channels.len());
        // The first channel recording each (cname, uid), to find repeats in
        // one pass however many channels a plan has.
        let mut recorded: HashMap<(String, String), usize> = HashMap::new();
        for (i, channel) in self.channels.iter().enumerate() {
            let path = format!("channels[{i}]");
            context.clear_channel();
            let cname = render_text(&context, &channel.cname, &format!("{path}.cname"), issues);
            let uid = render_text(&context, &channel.uid, &format!("{path}.uid"), issues);
            let backup_uid = channel
                .backup_uid
                .as_ref()
                .map(|b| render_text(&context, b, &format!("{path}.backup_uid"), issues));
            context.set_channel(&cname, &uid);
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
            let scene = rules::acquire_scene(self.mode, &start);
            if let Some(written) = acquire.scene
                && written != scene
            {
                rules::scene_mismatch(written, scene, self.mode, issues);
            }
            acquire.scene = Some(scene);
            let spec = SessionSpec {
                app_id: app_id.clone(),
                mode: self.mode,
                cname,
                uid,
                backup_uid,
                on_failure: self.on_failure,
                min_recording: self.min_recording,
                acquire,
                start,
                steps,
                stop,
                rtc_token: minting.clone(),
            };
            rules::check(&spec, i, &self.step_sources, self.timing.duration, issues);
            // Values that failed to render are all the same placeholder: they
            // were reported already and say nothing about duplicates. (Absent
            // env values are not: each name has its own marker.)
            let unrendered = template::unknown();
            if spec.cname != unrendered && spec.uid != unrendered {
                match recorded.entry((spec.cname.clone(), spec.uid.clone())) {
                    Entry::Occupied(first) => {
                        issues
                            .error(
                                format!("{path}.uid"),
                                format!(
                                    "channel `{}` with uid {} is already recorded by channels[{}]",
                                    spec.cname,
                                    spec.uid,
                                    first.get()
                                ),
                            )
                            .hint("give each recording of a channel its own uid");
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(i);
                    }
                }
            }
            sessions.push(spec);
        }
        sessions
    }

    /// The App ID: the plan's `app_id`, else `$AGORA_APP_ID`. When neither
    /// is there, the finding says so at the top of the file, since there is
    /// no line in it to point at.
    fn app_id(
        &self,
        context: &Context,
        env: &Env,
        missing_env: MissingEnv,
        issues: &mut Issues,
    ) -> String {
        if let Some(template) = &self.app_id {
            return render_text(context, template, "app_id", issues);
        }
        if let Some(app_id) = env.get(ENV_APP_ID) {
            return app_id.to_owned();
        }
        let message = format!("the plan has no `app_id`, and {ENV_APP_ID} is not set");
        match missing_env {
            MissingEnv::Warn => {
                issues.warn("app_id", message).at_top().hint(format!(
                    "set {ENV_APP_ID} where recplan runs, or add `app_id:` to the plan; `validate --require-env` makes this an error"
                ));
                template::absent_env_marker(ENV_APP_ID)
            }
            MissingEnv::Refuse | MissingEnv::MaskSecrets => {
                issues.error("app_id", message).at_top().hint(format!(
                    "export {ENV_APP_ID}, or add `app_id:` to the plan; nothing is sent without it"
                ));
                template::unknown()
            }
        }
    }
}

pub(super) fn render_text(
    context: &Context,
    template: &str,
    path: &str,
    issues: &mut Issues,
) -> String {
    let rendered = context.render_noting_absent(template);
    match rendered.text {
        Ok(text) => {
            for name in rendered.absent_env {
                absent(context.missing_env(), &name, path, issues);
            }
            text
        }
        Err(issue) => {
            report(issue, path, issues);
            template::unknown()
        }
    }
}

/// An absent env value that rendering filled in with a marker: a warning
/// where `missing_env` tolerates it, else the error sending would meet.
fn absent(missing_env: MissingEnv, name: &str, path: &str, issues: &mut Issues) {
    if !missing_env.tolerates(path) {
        report(TemplateIssue::MissingEnv(name.to_owned()), path, issues);
    } else if missing_env == MissingEnv::MaskSecrets {
        issues
            .warn(
                path,
                format!("environment variable {name} is not set; shown as ***"),
            )
            .hint(format!(
                "`run` and `daemon` send nothing until {name} is set"
            ));
    } else {
        issues
            .warn(path, format!("environment variable {name} is not set"))
            .hint("set it where recplan runs; `validate --require-env` makes this an error");
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
    // Most bodies hold no template at all; searching their JSON text for
    // `{{` is far cheaper than the round trip through a `Value`.
    if !serde_json::to_string(body).is_ok_and(|json| json.contains("{{")) {
        return body.clone();
    }
    let Ok(mut value) = serde_json::to_value(body) else {
        return body.clone();
    };
    let mut found = Findings::default();
    context.render_value(&mut value, &mut path.to_owned(), &mut found);
    for (at, issue) in found.failures {
        report(issue, &at, issues);
    }
    for (at, name) in found.absent_env {
        absent(context.missing_env(), &name, &at, issues);
    }
    serde_json::from_value(value).unwrap_or_else(|_| body.clone())
}

fn render_step(
    context: &Context,
    action: &StepAction,
    index: usize,
    issues: &mut Issues,
) -> StepAction {
    match action {
        StepAction::Update(template) => {
            let path = format!("steps[{index}].update");
            let mut update = render_body(context, template.as_ref(), &path, issues);
            resolve_region(
                update.storage_config.as_mut(),
                &format!("{path}.storageConfig"),
                issues,
            );
            StepAction::Update(shared(template, update))
        }
        StepAction::UpdateLayout(template) => {
            let path = format!("steps[{index}].updateLayout");
            let layout = render_body(context, template.as_ref(), &path, issues);
            StepAction::UpdateLayout(shared(template, layout))
        }
    }
}

/// The template itself when rendering changed nothing, else the rendered
/// body: a daemon keeps a plan's step bodies once, not once per session.
fn shared<T: PartialEq>(template: &Arc<T>, rendered: T) -> Arc<T> {
    if rendered == **template {
        Arc::clone(template)
    } else {
        Arc::new(rendered)
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
                let hint = match crate::suggest::closest(name, names.iter().map(String::as_str)) {
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
