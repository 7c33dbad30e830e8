//! Handlebars templates in plan values.
//!
//! Templates fill string values only, in strict mode (a missing value is an
//! error, never an empty string) and without HTML escaping. The context is
//! built in one place, [`Context`], from the environment, the plan's vars,
//! the channel and the occurrence.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;

use chrono::{DateTime, TimeZone};
use handlebars::{
    Handlebars, RenderContext, RenderErrorReason, Renderable, Template, TemplateError,
};
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
/// daemon decide what templates see. Its `Debug` lists names only: values
/// include credentials and the App Certificate.
///
/// Cloning is cheap (clones share the variables): the daemon hands a copy
/// to every occurrence it launches, and a process's environment is a few
/// KB, which at 10,000 occurrences would be tens of MB.
#[derive(Clone, Default)]
pub struct Env(Arc<BTreeMap<String, String>>);

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Env").field(&self.0.keys()).finish()
    }
}

impl Env {
    pub fn from_process() -> Env {
        Env(Arc::new(std::env::vars().collect()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Env {
        Arc::make_mut(&mut self.0).insert(name.into(), value.into());
        self
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Env {
        Env(Arc::new(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ))
    }
}

/// What to do with a template naming an absent environment variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingEnv {
    /// An error: nothing may be sent with a value missing.
    Refuse,
    /// A warning: plans are often linted where secrets are absent.
    Warn,
    /// A warning for a secret field, which is only shown masked (`render`);
    /// an error for any other, since it shapes what would be sent.
    MaskSecrets,
}

impl MissingEnv {
    /// Whether an absent env value in the field at `path` is only a
    /// warning.
    pub fn tolerates(self, path: &str) -> bool {
        match self {
            MissingEnv::Refuse => false,
            MissingEnv::Warn => true,
            MissingEnv::MaskSecrets => is_secret_field(path),
        }
    }
}

/// Whether the field at `path` (`start.storageConfig.secretKey`) holds a
/// secret: one of Agora's secret fields, or the App Certificate.
fn is_secret_field(path: &str) -> bool {
    let field = path.rsplit('.').next().unwrap_or(path);
    path == "rtc_token.certificate" || crate::agora::SECRET_FIELDS.contains(&field)
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
///
/// Held as handlebars' own context, built once: rendering a string then
/// neither clones nor re-serializes the values (the whole environment
/// among them). Its `Debug` leaves the values out, for the same reason as
/// [`Env`]'s.
#[derive(Clone)]
pub struct Context {
    data: handlebars::Context,
    missing_env: MissingEnv,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("missing_env", &self.missing_env)
            .finish_non_exhaustive()
    }
}

/// One string rendered, and the absent env variables it named on the way
/// (only when linting: with [`MissingEnv::Refuse`] the first is an error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub text: Result<String, TemplateIssue>,
    pub absent_env: Vec<String>,
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
        Context {
            data: handlebars::Context::from(Value::Object(root)),
            missing_env,
        }
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
        self.insert("occurrence", occurrence);
        self
    }

    /// Sets `channel.cname` and `channel.uid`, replacing the previous
    /// channel's: one context serves every channel of an occurrence.
    pub fn set_channel(&mut self, cname: &str, uid: &str) {
        self.insert("channel", serde_json::json!({"cname": cname, "uid": uid}));
    }

    /// Removes `channel`, for rendering a channel's own name and uid (which
    /// can name neither themselves nor the previous channel's).
    pub fn clear_channel(&mut self) {
        if let Value::Object(root) = self.data.data_mut() {
            root.remove("channel");
        }
    }

    /// Sets a top-level value. The root is an object from [`Context::new`]
    /// on, so the `if let` always holds.
    fn insert(&mut self, key: &str, value: Value) {
        if let Value::Object(root) = self.data.data_mut() {
            root.insert(key.to_owned(), value);
        }
    }

    /// How absent env values are treated.
    pub fn missing_env(&self) -> MissingEnv {
        self.missing_env
    }

    /// Renders one string, noting the absent env variables it names. When
    /// linting (or masking), each is filled in with a marker and rendering goes on, so
    /// that one pass finds them all; the names noted before a failure are
    /// kept.
    pub fn render_noting_absent(&self, template: &str) -> Rendered {
        let mut absent_env = Vec::new();
        // Text without `{{` is returned as it is.
        if !template.contains("{{") {
            return Rendered {
                text: Ok(template.to_owned()),
                absent_env,
            };
        }
        let compiled = match compiled(template) {
            Ok(compiled) => compiled,
            Err(error) => {
                return Rendered {
                    text: Err(TemplateIssue::Syntax(error.to_string())),
                    absent_env,
                };
            }
        };
        // A copy of the values with markers filled in, made only once an
        // env variable turns out to be absent.
        let mut marked: Option<handlebars::Context> = None;
        // Each pass fills in one absent env variable; a template names
        // finitely many, and one already filled in ends the loop.
        let text = loop {
            let data = marked.as_ref().unwrap_or(&self.data);
            let error = match compiled.renders(registry(), data, &mut RenderContext::new(None)) {
                Ok(text) => break Ok(text),
                Err(error) => error,
            };
            match error.reason() {
                RenderErrorReason::MissingVariable(Some(path)) => {
                    let Some(name) = path.strip_prefix("env.") else {
                        break Err(TemplateIssue::Missing(path.clone()));
                    };
                    if self.missing_env == MissingEnv::Refuse
                        || absent_env.iter().any(|noted| noted == name)
                    {
                        break Err(TemplateIssue::MissingEnv(name.to_owned()));
                    }
                    mark_env(marked.get_or_insert_with(|| self.data.clone()), name);
                    absent_env.push(name.to_owned());
                }
                RenderErrorReason::MissingVariable(None) => {
                    break Err(TemplateIssue::Missing(template.to_owned()));
                }
                RenderErrorReason::TemplateError(e) => {
                    break Err(TemplateIssue::Syntax(e.to_string()));
                }
                other => break Err(TemplateIssue::Syntax(other.to_string())),
            }
        };
        Rendered { text, absent_env }
    }

    /// Renders every string inside `value`, reporting each failure, and
    /// each absent env variable (linting only), with its path below `path`.
    pub fn render_value(&self, value: &mut Value, path: &mut String, found: &mut Findings) {
        match value {
            Value::String(text) => {
                let rendered = self.render_noting_absent(text);
                found.absent_env.extend(
                    rendered
                        .absent_env
                        .into_iter()
                        .map(|name| (path.clone(), name)),
                );
                match rendered.text {
                    Ok(text_out) => *text = text_out,
                    Err(issue) => {
                        found.failures.push((path.clone(), issue));
                        *text = unknown();
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let len = path.len();
                    let _ = write!(path, "[{i}]");
                    self.render_value(item, path, found);
                    path.truncate(len);
                }
            }
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    self.render_value(item, path, found);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
}

/// What rendering a value found, by path: templates that failed, and
/// absent env variables (linting only).
#[derive(Debug, Default)]
pub struct Findings {
    pub failures: Vec<(String, TemplateIssue)>,
    pub absent_env: Vec<(String, String)>,
}

/// The value standing in for an absent env variable while linting.
pub fn absent_env_marker(name: &str) -> String {
    format!("{UNKNOWN}env.{name}{UNKNOWN}")
}

fn mark_env(data: &mut handlebars::Context, name: &str) {
    if let Some(Value::Object(env)) = data.data_mut().get_mut("env") {
        env.insert(name.to_owned(), Value::String(absent_env_marker(name)));
    }
}

/// How many compiled templates a thread keeps. Plans hold a few dozen
/// distinct strings; the bound only matters for a long-running daemon
/// whose plans keep changing.
const MAX_COMPILED: usize = 1024;

thread_local! {
    /// Compiled templates by their text. Compiling is most of the cost of
    /// rendering, and the same strings (`{{env.AGORA_RTC_TOKEN}}`, a
    /// channel name per channel) come back for every channel and plan.
    /// Per thread, so that validating plans in parallel takes no lock.
    static COMPILED: RefCell<HashMap<String, Rc<Template>>> = RefCell::default();
}

fn compiled(template: &str) -> Result<Rc<Template>, TemplateError> {
    COMPILED.with(|cache| {
        if let Some(found) = cache.borrow().get(template) {
            return Ok(Rc::clone(found));
        }
        let compiled = Rc::new(Template::compile(template)?);
        let mut cache = cache.borrow_mut();
        if cache.len() >= MAX_COMPILED {
            cache.clear();
        }
        cache.insert(template.to_owned(), Rc::clone(&compiled));
        Ok(compiled)
    })
}

/// One registry for the process: strict, no escaping, no partials. Templates
/// are compiled apart from it (see [`compiled`]) and rendered with its
/// settings.
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

    fn render(ctx: &Context, template: &str) -> Result<String, TemplateIssue> {
        ctx.render_noting_absent(template).text
    }

    #[test]
    fn debug_shows_no_environment_values() {
        let ctx = context(MissingEnv::Refuse);
        let env = Env::default().with("SECRET_NAME", "s3cr3t-value");
        for shown in [format!("{ctx:?}"), format!("{env:?}")] {
            assert!(
                !shown.contains("abc<&>") && !shown.contains("s3cr3t-value"),
                "{shown}"
            );
        }
        assert_eq!(format!("{env:?}"), r#"Env(["SECRET_NAME"])"#);
    }

    #[test]
    fn renders_without_escaping() {
        let mut ctx = context(MissingEnv::Refuse);
        ctx.set_channel("room", "42");
        assert_eq!(
            render(&ctx, "{{vars.team}}-{{channel.cname}}").unwrap(),
            "platform-room"
        );
        assert_eq!(render(&ctx, "{{env.TEAM_TOKEN}}").unwrap(), "abc<&>");
    }

    #[test]
    fn missing_values_are_errors_not_empty_strings() {
        let ctx = context(MissingEnv::Refuse);
        assert_eq!(
            render(&ctx, "{{vars.nope}}"),
            Err(TemplateIssue::Missing("vars.nope".to_owned()))
        );
        assert_eq!(
            render(&ctx, "{{env.NOPE}}"),
            Err(TemplateIssue::MissingEnv("NOPE".to_owned()))
        );
        assert!(matches!(
            render(&ctx, "{{#if}}"),
            Err(TemplateIssue::Syntax(_))
        ));
    }

    #[test]
    fn linting_marks_absent_env_values() {
        let ctx = context(MissingEnv::Warn);
        let rendered = render(&ctx, "x-{{env.A}}-{{env.B}}").unwrap();
        assert!(!is_known(&rendered));
        assert_eq!(
            ctx.render_noting_absent("x-{{env.A}}-{{env.B}}").absent_env,
            ["A", "B"]
        );
    }

    #[test]
    fn masking_tolerates_absent_values_of_secret_fields_only() {
        for secret in [
            "start.token",
            "start.storageConfig.secretKey",
            "steps[2].update.storageConfig.accessKey",
            "start.recordingConfig.salt",
            "rtc_token.certificate",
        ] {
            assert!(MissingEnv::MaskSecrets.tolerates(secret), "{secret}");
            assert!(!MissingEnv::Refuse.tolerates(secret), "{secret}");
        }
        for shaping in ["app_id", "channels[0].cname", "start.storageConfig.bucket"] {
            assert!(!MissingEnv::MaskSecrets.tolerates(shaping), "{shaping}");
            assert!(MissingEnv::Warn.tolerates(shaping), "{shaping}");
        }
    }

    #[test]
    fn a_channel_cleared_is_not_seen_by_the_next_one() {
        let mut ctx = context(MissingEnv::Refuse);
        ctx.set_channel("room", "42");
        assert_eq!(render(&ctx, "{{channel.uid}}").unwrap(), "42");
        ctx.clear_channel();
        assert_eq!(
            render(&ctx, "{{channel.uid}}"),
            Err(TemplateIssue::Missing("channel.uid".to_owned()))
        );
    }

    #[test]
    fn a_template_renders_the_same_from_the_cache() {
        let ctx = context(MissingEnv::Refuse);
        for _ in 0..3 {
            assert_eq!(render(&ctx, "t-{{vars.team}}").unwrap(), "t-platform");
            assert!(matches!(
                render(&ctx, "{{#each}}"),
                Err(TemplateIssue::Syntax(_))
            ));
        }
    }

    /// A path below an absent env value stays missing once the value is
    /// filled in: linting must report it, not go round filling it again.
    #[test]
    fn a_path_below_an_absent_env_value_is_reported_once() {
        let ctx = context(MissingEnv::Warn);
        let rendered = ctx.render_noting_absent("{{env.A.b}}");
        assert_eq!(
            rendered.text,
            Err(TemplateIssue::MissingEnv("A.b".to_owned()))
        );
        assert_eq!(rendered.absent_env, ["A.b"]);
    }
}
