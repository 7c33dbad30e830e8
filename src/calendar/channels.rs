//! A plan's channels as the calendar names them: rendered where the
//! environment allows, as written in the plan where it does not.

use chrono::DateTime;

use super::{Slot, Span};
use crate::agora::client::ENV_APP_ID;
use crate::plan::raw::RawPlan;
use crate::plan::{Env, Plan, PlanError};
use crate::schedule::Tz;

/// Renders a plan's channels for the calendar, where secrets are often
/// absent. Rendering an occurrence needs every environment value the plan
/// names (the token, the storage keys), though a channel's cname and uid
/// rarely use any: so absent ones are filled with stand-ins, and only a
/// channel whose own cname or uid names one is shown as written.
pub(super) struct Channels<'a> {
    plan: &'a Plan,
    /// The caller's environment, with the stand-ins.
    env: Env,
    /// Each channel's cname and uid as the plan file spells them.
    as_written: Vec<(String, String)>,
    /// For each channel, the absent variables its cname or uid name.
    absent: Vec<Vec<String>>,
    /// Whether a cname or uid names the occurrence (`{{occurrence.date}}`),
    /// so that each occurrence has to be rendered on its own.
    per_occurrence: bool,
    /// The channels' names once rendered, when they are the same for every
    /// occurrence: a plan starting every minute for a year is rendered
    /// once, not half a million times.
    names: Option<Vec<(String, String, bool)>>,
}

/// What an absent environment variable is rendered as: 32 hex digits, so
/// that it passes as an App ID too (nothing else that only a stand-in
/// fills is checked).
const STAND_IN: &str = "00000000000000000000000000000000";

impl<'a> Channels<'a> {
    pub(super) fn of(plan: &'a Plan, env: &Env) -> Channels<'a> {
        let text = &plan.source().text;
        let mut names: Vec<String> = env_names(text)
            .into_iter()
            .filter(|name| env.get(name).is_none())
            .collect();
        // A plan without `app_id` takes it from here.
        if env.get(ENV_APP_ID).is_none() {
            names.push(ENV_APP_ID.to_owned());
        }
        let stand_ins = names
            .iter()
            .fold(env.clone(), |env, name| env.with(name, STAND_IN));
        let as_written = channels_as_written(plan);
        let absent = as_written
            .iter()
            .map(|(cname, uid)| {
                let used = env_names(&format!("{cname} {uid}"));
                names.iter().filter(|n| used.contains(n)).cloned().collect()
            })
            .collect();
        let per_occurrence = as_written
            .iter()
            .any(|(cname, uid)| cname.contains("occurrence") || uid.contains("occurrence"));
        Channels {
            plan,
            env: stand_ins,
            as_written,
            absent,
            per_occurrence,
            names: None,
        }
    }

    /// The slots of the occurrence at `start`; `unrendered` is set to the
    /// first reason a channel is shown as written.
    pub(super) fn render(
        &mut self,
        span: &Span,
        start: DateTime<Tz>,
        unrendered: &mut Option<String>,
    ) -> Vec<Slot> {
        if let Some(names) = &self.names {
            return names
                .iter()
                .map(|(cname, uid, rendered)| span.slot(cname, uid, *rendered))
                .collect();
        }
        let slots = self.render_afresh(span, start, unrendered);
        if !self.per_occurrence {
            self.names = Some(
                slots
                    .iter()
                    .map(|slot| (slot.cname.clone(), slot.uid.clone(), slot.rendered))
                    .collect(),
            );
        }
        slots
    }

    fn render_afresh(
        &self,
        span: &Span,
        start: DateTime<Tz>,
        unrendered: &mut Option<String>,
    ) -> Vec<Slot> {
        let occurrence = match self.plan.occurrence(start, &self.env, None) {
            Ok(occurrence) => occurrence,
            Err(error) => {
                unrendered.get_or_insert_with(|| first_problem(&error));
                return self
                    .as_written
                    .iter()
                    .map(|(cname, uid)| span.slot(cname, uid, false))
                    .collect();
            }
        };
        let mut slots = Vec::with_capacity(occurrence.sessions.len());
        // One session per channel, in the plan's order.
        for (i, session) in occurrence.sessions.iter().enumerate() {
            match (self.absent.get(i), self.as_written.get(i)) {
                (Some(absent), Some((cname, uid))) if !absent.is_empty() => {
                    unrendered.get_or_insert_with(|| {
                        let names = absent.join(", ");
                        format!("`{cname}` uid `{uid}` names {names}, not set here")
                    });
                    slots.push(span.slot(cname, uid, false));
                }
                _ => slots.push(span.slot(&session.cname, &session.uid, true)),
            }
        }
        slots
    }
}

/// The environment variables `text` names in templates (`{{env.NAME}}`).
/// A mention outside a template, in a comment say, only adds a stand-in
/// nobody uses.
fn env_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (at, _) in text.match_indices("env.") {
        let preceded_by_word = text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let name: String = text[at + 4..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !preceded_by_word && !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The first error of a failed rendering, as `field: message`.
fn first_problem(error: &PlanError) -> String {
    let diagnostics = error.diagnostics();
    diagnostics
        .iter()
        .find(|d| d.is_error())
        .or(diagnostics.first())
        .map_or_else(
            || error.to_string(),
            |d| {
                if d.path.is_empty() {
                    d.message.clone()
                } else {
                    format!("{}: {}", d.path, d.message)
                }
            },
        )
}

/// The channels' cname and uid as the plan file spells them, templates
/// unrendered. The plan was validated from this very text, so it parses.
fn channels_as_written(plan: &Plan) -> Vec<(String, String)> {
    plan.source()
        .parse::<RawPlan>()
        .map(|raw| {
            raw.channels
                .into_iter()
                .map(|channel| (channel.cname, channel.uid))
                .collect()
        })
        .unwrap_or_default()
}
