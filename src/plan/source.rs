//! Reading a plan file and remembering where every value sits in it.
//!
//! YAML is parsed here and nowhere else. Errors found after parsing name a
//! field path (`start.storageConfig.bucket`); [`SpanIndex`] turns that path
//! back into the line and column it came from.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, Location, Options, Spanned};

use super::error::{Diagnostic, PlanError};
use super::wording;

/// Plans are a few kilobytes; anything past this is not a plan, and reading
/// it whole would only cost memory.
pub const MAX_PLAN_BYTES: u64 = 1024 * 1024;

/// A plan file's path and text.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    /// Reads `path`, refusing files over [`MAX_PLAN_BYTES`] and non-UTF-8 text.
    pub fn read(path: &Path) -> Result<Source, PlanError> {
        let io_error = |source| PlanError::Read {
            path: path.to_owned(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io_error)?.len();
        if size > MAX_PLAN_BYTES {
            return Err(PlanError::TooLarge {
                path: path.to_owned(),
                size,
                limit: MAX_PLAN_BYTES,
            });
        }
        let bytes = std::fs::read(path).map_err(io_error)?;
        let text = String::from_utf8(bytes).map_err(|_| PlanError::NotText {
            path: path.to_owned(),
        })?;
        Ok(Source {
            path: path.to_owned(),
            text,
        })
    }

    pub fn from_text(path: impl Into<PathBuf>, text: impl Into<String>) -> Source {
        Source {
            path: path.into(),
            text: text.into(),
        }
    }

    /// Whether the text holds no YAML content: only blank lines, comments
    /// and document markers.
    pub fn is_blank(&self) -> bool {
        self.text.lines().all(|line| {
            let line = line.trim();
            let line = line
                .strip_prefix("---")
                .or_else(|| line.strip_prefix("..."))
                .map_or(line, str::trim_start);
            line.is_empty() || line.starts_with('#')
        })
    }

    /// Deserializes the whole document as `T`, with the parser's budgets
    /// bounding alias expansion and nesting.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_saphyr::Error> {
        serde_saphyr::from_str_with_options(&self.text, parse_options())
    }

    /// Whether the text is well-formed YAML, whatever its shape.
    pub fn is_yaml(&self) -> bool {
        self.parse::<Spanned<Node>>().is_ok()
    }

    /// The position of every key and value in the document.
    pub fn span_index(&self) -> SpanIndex {
        let mut index = SpanIndex::default();
        if let Ok(root) = self.parse::<Spanned<Node>>() {
            index.insert(String::new(), root.referenced, root.referenced);
            index.walk("", &root.value);
        }
        index
    }
}

/// How deep collections may nest. The deepest plan field is about ten levels
/// down; each level of a document being deserialized costs tens of KB of
/// stack in a debug build, and a plan may be loaded on a 2 MB thread.
const MAX_DEPTH: usize = 32;

/// Limits that keep a hostile document (alias bombs, deep nesting, huge
/// collections) cheap to reject.
fn parse_options() -> Options {
    let mut budget = Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_nodes = 100_000;
    budget.max_total_scalar_bytes = usize::try_from(MAX_PLAN_BYTES).unwrap_or(usize::MAX);
    let mut options = Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 100_000;
    options.with_snippet = false;
    options
}

/// Where one value is: its key (or, for sequence items, the item itself) and
/// the value.
#[derive(Clone, Copy, Debug)]
pub struct Position {
    pub key: Location,
    pub value: Location,
}

/// Field path → position, for every key and sequence item in a document.
#[derive(Debug, Default)]
pub struct SpanIndex {
    positions: HashMap<String, Position>,
}

impl SpanIndex {
    fn insert(&mut self, path: String, key: Location, value: Location) {
        self.positions.insert(path, Position { key, value });
    }

    fn walk(&mut self, path: &str, node: &Node) {
        match node {
            Node::Scalar => {}
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let child = format!("{path}[{i}]");
                    self.insert(child.clone(), item.referenced, item.referenced);
                    self.walk(&child, &item.value);
                }
            }
            Node::Map(entries) => {
                for (key, value) in entries {
                    let mut child = path.to_owned();
                    if !child.is_empty() {
                        child.push('.');
                    }
                    child.push_str(&key.value);
                    self.insert(child.clone(), key.referenced, value.referenced);
                    self.walk(&child, &value.value);
                }
            }
        }
    }

    /// The position of `path`, or of its nearest ancestor that exists (a
    /// missing field is reported at the block that lacks it).
    pub fn locate(&self, path: &str) -> Option<Position> {
        let mut path = path;
        loop {
            if let Some(position) = self.positions.get(path) {
                return Some(*position);
            }
            path = parent(path)?;
        }
    }

    /// The position of exactly `path`.
    pub fn get(&self, path: &str) -> Option<Position> {
        self.positions.get(path).copied()
    }

    /// Where the text of `path`'s value ends, descendants included: the
    /// byte after its last scalar.
    pub fn value_end(&self, path: &str) -> Option<u64> {
        self.positions
            .iter()
            .filter(|(p, _)| {
                p.strip_prefix(path)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
            .map(|(_, position)| end(position.value).max(end(position.key)))
            .max()
    }

    /// The deepest path whose key or value starts at or contains byte
    /// `offset`: how a parser error's position is named as a field.
    pub fn path_at(&self, offset: u64) -> Option<&str> {
        self.positions
            .iter()
            .filter(|(_, p)| covers(p.key, offset) || covers(p.value, offset))
            .max_by_key(|(path, _)| path.len())
            .map(|(path, _)| path.as_str())
    }
}

fn covers(location: Location, offset: u64) -> bool {
    offset >= start(location) && offset < start(location) + len(location).max(1)
}

/// The byte offset a location starts at.
pub fn start(location: Location) -> u64 {
    let span = location.span();
    span.byte_offset().unwrap_or(span.offset())
}

fn len(location: Location) -> u64 {
    let span = location.span();
    span.byte_len().unwrap_or(span.len())
}

fn end(location: Location) -> u64 {
    start(location) + len(location)
}

fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

/// Converts a parser error into a diagnostic at its position, naming the
/// field it happened in and suggesting the closest key for unknown ones.
pub fn parse_diagnostic(
    source: &Source,
    index: &SpanIndex,
    error: &serde_saphyr::Error,
) -> Diagnostic {
    let error = error.without_snippet();
    let location = error.location();
    let path = location
        .and_then(|l| l.span().byte_offset())
        .and_then(|offset| index.path_at(offset))
        .unwrap_or_default()
        .to_owned();
    let message = match error {
        // The parser's own text is "budget breached: Depth { depth: 33 }".
        serde_saphyr::Error::Budget {
            breach: BudgetBreach::Depth { .. },
            ..
        } => format!("the plan nests deeper than {MAX_DEPTH} levels"),
        error => wording::message(error, &source.text, &path)
            .unwrap_or_else(|| first_line(&error.to_string())),
    };
    if message.starts_with("invalid trailing content after")
        && let Some((line, column)) = location
            .and_then(|l| usize::try_from(start(l)).ok())
            .and_then(|offset| wording::opening_quote(&source.text, offset))
    {
        let mut diagnostic = Diagnostic::error(
            &source.path,
            "",
            "this quote is not closed on its line, so the value runs on to the next quote",
        )
        .with_hint(Some(
            "close the quote on the line it opens; quotes inside a value are doubled ('') or escaped (\\\")".to_owned(),
        ));
        (diagnostic.line, diagnostic.column) = (line, column);
        return diagnostic;
    }
    // Types with their own did-you-mean (a storage vendor's name) end
    // their message with it; it belongs in the hint.
    let (message, suggestion) = match message.split_once("; did you mean ") {
        Some((message, rest)) => (message.to_owned(), Some(format!("did you mean {rest}"))),
        None => (message, None),
    };
    let hint = suggestion
        .or_else(|| super::suggest::unknown_name_hint(&message))
        .or_else(|| generic_hint(&message, &path));
    let mut diagnostic = Diagnostic::error(&source.path, path, message);
    if let Some(location) = location {
        diagnostic = diagnostic.at(location);
    }
    diagnostic.with_hint(hint)
}

/// The parser appends its own "at line L, column C"; recplan prints the
/// position in front instead.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match line.rfind(" at line ") {
        Some(cut) => line[..cut].to_owned(),
        None => line.to_owned(),
    }
}

fn generic_hint(message: &str, path: &str) -> Option<String> {
    let mut hint = String::new();
    if (message.contains("expected mapping") || message.contains("expected a block of"))
        && path.is_empty()
    {
        let _ = write!(
            hint,
            "a plan is a mapping of keys: `mode: composite`, `channels: …`, `start: …`"
        );
    } else if message.contains("missing field") {
        let _ = write!(
            hint,
            "add the field; `recplan schema` lists every field a plan takes"
        );
    } else if message.starts_with("the plan nests deeper than") {
        let _ = write!(
            hint,
            "no plan field is more than about ten levels deep: look for indentation that keeps growing, or brackets left open"
        );
    } else if ["budget", "depth", "alias", "recursion"]
        .iter()
        .any(|word| message.contains(word))
    {
        let _ = write!(
            hint,
            "plans are small documents; deep nesting and alias expansion are limited"
        );
    } else {
        return None;
    }
    Some(hint)
}

/// Any YAML value, with positions: used only to build a [`SpanIndex`].
enum Node {
    Scalar,
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i128<E>(self, _: i128) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u128<E>(self, _: u128) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_bytes<E>(self, _: &[u8]) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                // Non-string keys are named by their text; plans only use strings.
                while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
                    let value = map.next_value()?;
                    let key = Spanned {
                        value: key.value.0,
                        referenced: key.referenced,
                        defined: key.defined,
                    };
                    entries.push((key, value));
                }
                Ok(Node::Map(entries))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A mapping key as text, whatever its YAML type.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
