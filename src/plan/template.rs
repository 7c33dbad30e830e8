//! Handlebars templates in plan values.
//!
//! Templates fill string values only, in strict mode (a missing value is an
//! error, never an empty string) and without HTML escaping. The context is
//! built in one place, [`Context`], from the environment, the plan's vars,
//! the channel and the occurrence.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone};
use handlebars::{Handlebars, RenderErrorReason};
use serde_json::{Map, Value};

/// Marks a value that depends on an environment variable absent while
/// linting: rules skip such values instead of judging a placeholder.
const UNKNOWN: char = '\u{1}';

/// Whether a rendered value is real, rather than a stand-in for an absent
/// environment variable.
pub fn is_known(value: &str) -> bool {
    !value.contains(UNKNOWN)
}

/// A stand-in for a value that could not be rendered, so that one broken
/// template is reported once rather than again by every rule that reads it.
pub fn unknown() -> String {
    format!("{UNKNOWN}unrendered{UNKNOWN}")
}

/// A snapshot of environment variables, passed in so that tests and the
/// daemon decide what templates see.
#[derive(Clone, Debug, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    pub fn from_process() -> Env {
        Env(std::env::vars().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Env {
        self.0.insert(name.into(), value.into());
        self
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Env {
        Env(iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect())
    }
}

/// What to do with a template naming an absent environment variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingEnv {
    /// An error: nothing may be sent with a value missing.
    Refuse,
    /// A warning: plans are often linted where secrets are absent.
    Warn,
}

/// A template that could not be rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateIssue {
    /// `{{env.NAME}}` with NAME unset.
    MissingEnv(String),
    /// Any other value the template names that does not exist.
    Missing(String),
    /// The template itself is malformed.
    Syntax(String),
}

/// The values templates may name.
#[derive(Clone, Debug)]
pub struct Context {
    root: Map<String, Value>,
    missing_env: MissingEnv,
}

impl Context {
    pub fn new(env: &Env, vars: &Map<String, Value>, missing_env: MissingEnv) -> Context {
        let env: Map<String, Value> = env
            .0
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut root = Map::new();
        root.insert("env".to_owned(), Value::Object(env));
        root.insert("vars".to_owned(), Value::Object(vars.clone()));
        Context { root, missing_env }
    }

    /// Adds `occurrence.date` (`20261127`), `occurrence.time` (`0900`) and
    /// `occurrence.start` (RFC 3339), in the start's own timezone.
    #[must_use]
    pub fn with_occurrence<Tz: TimeZone>(mut self, start: &DateTime<Tz>) -> Context
    where
        Tz::Offset: std::fmt::Display,
    {
        let occurrence = serde_json::json!({
            "date": start.format("%Y%m%d").to_string(),
            "time": start.format("%H%M").to_string(),
            "start": start.to_rfc3339(),
        });
        self.root.insert("occurrence".to_owned(), occurrence);
        self
    }

    #[must_use]
    pub fn with_channel(mut self, cname: &str, uid: &str) -> Context {
        self.root.insert(
            "channel".to_owned(),
            serde_json::json!({"cname": cname, "uid": uid}),
        );
        self
    }

    /// Renders one string. Text without `{{` is returned as it is.
    pub fn render(&self, template: &str) -> Result<String, TemplateIssue> {
        if !template.contains("{{") {
            return Ok(template.to_owned());
        }
        let mut root = self.root.clone();
        // Each pass fills in one absent env variable with a marker, when
        // linting; a template names finitely many.
        loop {
            match registry().render_template(template, &root) {
                Ok(text) => return Ok(text),
                Err(error) => match error.reason() {
                    RenderErrorReason::MissingVariable(Some(path)) => {
                        let Some(name) = path.strip_prefix("env.") else {
                            return Err(TemplateIssue::Missing(path.clone()));
                        };
                        if self.missing_env == MissingEnv::Refuse || env_is_marked(&root, name) {
                            return Err(TemplateIssue::MissingEnv(name.to_owned()));
                        }
                        mark_env(&mut root, name);
                    }
                    RenderErrorReason::MissingVariable(None) => {
                        return Err(TemplateIssue::Missing(template.to_owned()));
                    }
                    RenderErrorReason::TemplateError(e) => {
                        return Err(TemplateIssue::Syntax(e.to_string()));
                    }
                    other => return Err(TemplateIssue::Syntax(other.to_string())),
                },
            }
        }
    }

    /// The env variables a template names that are absent (linting only).
    pub fn absent_env(&self, template: &str) -> Vec<String> {
        if self.missing_env == MissingEnv::Refuse {
            return Vec::new();
        }
        let strict = Context {
            missing_env: MissingEnv::Refuse,
            ..self.clone()
        };
        let mut absent = Vec::new();
        let mut probe = strict;
        while let Err(TemplateIssue::MissingEnv(name)) = probe.render(template) {
            mark_env(&mut probe.root, &name);
            absent.push(name);
        }
        absent
    }

    /// Renders every string inside `value`, reporting each failure with its
    /// path below `path`.
    pub fn render_value(
        &self,
        value: &mut Value,
        path: &str,
        issues: &mut Vec<(String, TemplateIssue)>,
    ) {
        match value {
            Value::String(text) => match self.render(text) {
                Ok(rendered) => *text = rendered,
                Err(issue) => {
                    issues.push((path.to_owned(), issue));
                    *text = unknown();
                }
            },
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.render_value(item, &format!("{path}[{i}]"), issues);
                }
            }
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    self.render_value(item, &child, issues);
                }
            }
            _ => {}
        }
    }
}

fn env_is_marked(root: &Map<String, Value>, name: &str) -> bool {
    root.get("env").and_then(|env| env.get(name)).is_some()
}

fn mark_env(root: &mut Map<String, Value>, name: &str) {
    if let Some(Value::Object(env)) = root.get_mut("env") {
        env.insert(
            name.to_owned(),
            Value::String(format!("{UNKNOWN}env.{name}{UNKNOWN}")),
        );
    }
}

/// One registry for the process: strict, no escaping, no partials.
fn registry() -> &'static Handlebars<'static> {
    static REGISTRY: std::sync::OnceLock<Handlebars<'static>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        registry
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(missing_env: MissingEnv) -> Context {
        let env = Env::default().with("TEAM_TOKEN", "abc<&>");
        let mut vars = Map::new();
        vars.insert("team".to_owned(), Value::String("platform".to_owned()));
        Context::new(&env, &vars, missing_env)
    }

    #[test]
    fn renders_without_escaping() {
        let ctx = context(MissingEnv::Refuse).with_channel("room", "42");
        assert_eq!(
            ctx.render("{{vars.team}}-{{channel.cname}}").unwrap(),
            "platform-room"
        );
        assert_eq!(ctx.render("{{env.TEAM_TOKEN}}").unwrap(), "abc<&>");
    }

    #[test]
    fn missing_values_are_errors_not_empty_strings() {
        let ctx = context(MissingEnv::Refuse);
        assert_eq!(
            ctx.render("{{vars.nope}}"),
            Err(TemplateIssue::Missing("vars.nope".to_owned()))
        );
        assert_eq!(
            ctx.render("{{env.NOPE}}"),
            Err(TemplateIssue::MissingEnv("NOPE".to_owned()))
        );
        assert!(matches!(
            ctx.render("{{#if}}"),
            Err(TemplateIssue::Syntax(_))
        ));
    }

    #[test]
    fn linting_marks_absent_env_values() {
        let ctx = context(MissingEnv::Warn);
        let rendered = ctx.render("x-{{env.A}}-{{env.B}}").unwrap();
        assert!(!is_known(&rendered));
        assert_eq!(
            ctx.absent_env("x-{{env.A}}-{{env.B}}"),
            vec!["A".to_owned(), "B".to_owned()]
        );
    }
}
