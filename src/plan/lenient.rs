//! Reading a plan past its type errors, so that one wrong value does not
//! hide the others, nor the problems validation would find in the rest.
//!
//! The parser stops at the first value of the wrong type. Each time, the
//! value (or the unknown key with its value) is blanked out of a working
//! copy of the text and the copy is read again. Blanking keeps every byte
//! offset, so the positions of the original text still name each finding.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde_saphyr::Error;

use super::error::Diagnostic;
use super::source::{Source, SpanIndex, parse_diagnostic, start};

/// How many type errors one file reports; each costs another parse.
const MAX_TYPE_ERRORS: usize = 10;

/// Documents larger than this stop at their first type error: plans are a
/// few kilobytes, and reading a large one again per error costs seconds.
const MAX_REREAD_BYTES: usize = 64 * 1024;

/// What stands in for a value of the wrong type: null for optional fields,
/// then an empty string for required text.
const STAND_INS: [&str; 2] = ["~", "''"];

/// The document as `T` with the type errors left out, if what remains
/// reads as `T`, and one diagnostic per type error.
pub fn parse_all<T: DeserializeOwned>(source: &Source) -> (Option<T>, Vec<Diagnostic>) {
    let mut error = match source.parse::<T>() {
        Ok(value) => return (Some(value), Vec::new()),
        Err(error) => error,
    };
    let index = source.span_index();
    let mut diagnostics = vec![diagnostic(source, &index, &error)];
    if source.text.len() > MAX_REREAD_BYTES {
        return (None, diagnostics);
    }
    let mut text = source.text.clone();
    // Each (path, stand-in) once: a blanked value read wrong again ends it.
    let mut tried: HashSet<(String, usize)> = HashSet::new();
    let mut target = target(&index, &error);
    while diagnostics.len() < MAX_TYPE_ERRORS {
        // Past a budget, the document is not worth reading again.
        let Some((path, on_key)) = target.filter(|_| !is_budget(&error)) else {
            break;
        };
        let Some(next) = blank_out(&text, &index, &path, on_key, &mut tried) else {
            break;
        };
        // A blanked region that breaks the YAML itself is not the plan's
        // fault: report what was found so far.
        if !Source::from_text(&source.path, next.clone()).is_yaml() {
            break;
        }
        text = next;
        error = match Source::from_text(&source.path, text.clone()).parse::<T>() {
            Ok(value) => return (Some(value), diagnostics),
            Err(again) => again,
        };
        // A required field blanked to null reads as missing: try the next
        // stand-in for it, without reporting it again.
        if let Error::SerdeMissingField { field, .. } = error.without_snippet() {
            if path.rsplit(['.', '[']).next() == Some(field) {
                target = Some((path, false));
                continue;
            }
            // A key misspelt and left out is missing now: its hint has
            // already named it.
            let named = format!("`{field}`");
            if !diagnostics
                .iter()
                .any(|d| d.hint.as_ref().is_some_and(|h| h.contains(&named)))
            {
                diagnostics.push(diagnostic(source, &index, &error));
            }
            break;
        }
        let found = diagnostic(source, &index, &error);
        if diagnostics.iter().any(|d| d.path == found.path) {
            // The same field again: its next stand-in, not a new finding.
            target = Some((path, on_key)).filter(|(p, _)| *p == found.path);
            continue;
        }
        diagnostics.push(found);
        target = self::target(&index, &error);
    }
    (None, diagnostics)
}

fn diagnostic(source: &Source, index: &SpanIndex, error: &Error) -> Diagnostic {
    parse_diagnostic(source, index, error).with_source_line(&source.text)
}

fn is_budget(error: &Error) -> bool {
    matches!(
        error.without_snippet(),
        Error::Budget { .. } | Error::AliasReplayLimitExceeded { .. }
    )
}

/// The field `error` is about, and whether it is about its key (an unknown
/// field) rather than its value.
fn target(index: &SpanIndex, error: &Error) -> Option<(String, bool)> {
    let offset = error.location()?.span().byte_offset()?;
    let path = index.path_at(offset)?.to_owned();
    if path.is_empty() {
        return None;
    }
    let position = index.get(&path)?;
    let (key, value) = (start(position.key), start(position.value));
    Some((path, key != value && offset < value))
}

/// The text with the value at `path` replaced by its next stand-in, or its
/// key and value removed when the key itself is wrong; `None` when there
/// is nothing left to try.
fn blank_out(
    text: &str,
    index: &SpanIndex,
    path: &str,
    on_key: bool,
    tried: &mut HashSet<(String, usize)>,
) -> Option<String> {
    let position = index.get(path)?;
    let end = usize::try_from(index.value_end(path)?).ok()?;
    let (from, stand_in) = if on_key {
        if !tried.insert((path.to_owned(), STAND_INS.len())) {
            return None;
        }
        (start(position.key), "")
    } else {
        let attempt = (0..STAND_INS.len()).find(|&i| tried.insert((path.to_owned(), i)))?;
        (start(position.value), STAND_INS[attempt])
    };
    let from = usize::try_from(from).ok()?;
    let end = close_brackets(text, from, end)?;
    Some(replace_keeping_offsets(text, from, end, stand_in))
}

/// Extends `end` past the closing brackets of flow collections opened
/// between `from` and `end`, so that blanking leaves them balanced.
fn close_brackets(text: &str, from: usize, end: usize) -> Option<usize> {
    let region = text.get(from..end)?;
    let mut open = region.chars().filter(|c| matches!(c, '[' | '{')).count();
    open = open.saturating_sub(region.chars().filter(|c| matches!(c, ']' | '}')).count());
    let mut extended = end;
    for (i, c) in text.get(end..)?.char_indices() {
        if open == 0 {
            break;
        }
        if matches!(c, ']' | '}') {
            open -= 1;
            extended = end + i + c.len_utf8();
        } else if !c.is_whitespace() {
            return None;
        }
    }
    (open == 0).then_some(extended)
}

/// `text` with `from..end` replaced by `stand_in` and spaces, line breaks
/// kept, so that every later byte stays where it was.
fn replace_keeping_offsets(text: &str, from: usize, end: usize, stand_in: &str) -> String {
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..from]);
    let mut written = 0;
    for c in text[from..end].chars() {
        if c == '\n' || c == '\r' {
            out.push(c);
            written += 1;
            continue;
        }
        for _ in 0..c.len_utf8() {
            out.push(
                stand_in
                    .as_bytes()
                    .get(written)
                    .map_or(' ', |&b| char::from(b)),
            );
            written += 1;
        }
    }
    out.push_str(&text[end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_keeps_every_offset() {
        let text = "a: {b: [1, 2]}\nc: 3\n";
        let out = replace_keeping_offsets(text, 3, 14, "~");
        assert_eq!(out, "a: ~          \nc: 3\n");
        assert_eq!(out.len(), text.len());
    }

    #[test]
    fn blanking_a_flow_collection_closes_its_brackets() {
        let text = "a: {b: [1, 2]}\n";
        // The last scalar, `2`, ends at byte 12; `]` and `}` follow.
        assert_eq!(close_brackets(text, 3, 12), Some(14));
    }
}
