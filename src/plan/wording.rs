//! The parser's errors in people's words: what was expected, with the
//! range the schema gives, what was found, and where a quote was opened.

use serde_saphyr::Error;
use serde_saphyr::budget::BudgetBreach;

use super::schema;

/// The message for `error` about the field at `path` of `text`, when the
/// parser's own would speak of Rust types or internal counters.
pub fn message(error: &Error, text: &str, path: &str) -> Option<String> {
    let found = error.location().and_then(|l| token(text, l));
    let found = match found {
        Some("[") => ", found a list".to_owned(),
        Some("{") => ", found a block of fields".to_owned(),
        Some(token) => format!(", found `{token}`"),
        None => String::new(),
    };
    match error {
        Error::InvalidScalar { ty, .. } => Some(format!("expected {}{found}", expected(ty, path))),
        Error::Unexpected { expected: what, .. } => {
            Some(format!("expected {}{found}", expected(what, path)))
        }
        Error::Budget { breach, .. } => Some(budget(breach)),
        Error::AliasReplayLimitExceeded {
            max_total_replayed_events,
            ..
        } => Some(format!(
            "the plan's aliases expand to more than {} YAML events (limit)",
            thousands(*max_total_replayed_events)
        )),
        _ => None,
    }
}

/// What a Rust type or a parser state reads as.
fn expected(what: &str, path: &str) -> String {
    let bounds = schema::range(path).map_or_else(String::new, |(low, high)| {
        format!(" from {} to {}", number(low), number(high))
    });
    match what {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" if bounds.is_empty() => {
            "a whole number, 0 or more".to_owned()
        }
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
        | "isize" => format!("a whole number{bounds}"),
        "f32" | "f64" => format!("a number{bounds}"),
        "bool" | "boolean" => "true or false".to_owned(),
        "string scalar" | "string" | "char" => "text".to_owned(),
        "mapping start" => "a block of `key: value` fields".to_owned(),
        "sequence start" => "a list (`[a, b]`, or lines starting with `- `)".to_owned(),
        other => other.to_owned(),
    }
}

fn budget(breach: &BudgetBreach) -> String {
    match breach {
        BudgetBreach::Nodes { nodes } => format!(
            "the plan has more than {} YAML nodes (limit)",
            thousands(nodes.saturating_sub(1))
        ),
        BudgetBreach::ScalarBytes { total_scalar_bytes } => format!(
            "the plan's values add up to more than {} bytes (limit)",
            thousands(total_scalar_bytes.saturating_sub(1))
        ),
        BudgetBreach::Aliases { aliases } => format!(
            "the plan uses more than {} aliases (limit)",
            thousands(aliases.saturating_sub(1))
        ),
        BudgetBreach::Anchors { anchors } => format!(
            "the plan defines more than {} anchors (limit)",
            thousands(anchors.saturating_sub(1))
        ),
        BudgetBreach::Documents { .. } => "a plan file holds one YAML document".to_owned(),
        _ => "the plan is larger or more deeply nested than a plan can be (limit)".to_owned(),
    }
}

/// The text of the value a location points at, if it is short and on one
/// line.
fn token(text: &str, location: serde_saphyr::Location) -> Option<&str> {
    let span = location.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    let token = text.get(start..start + len)?.trim();
    (!token.is_empty() && token.len() <= 40 && !token.contains('\n')).then_some(token)
}

/// Where the quoted value that ends just before byte `offset` was opened,
/// if on an earlier line: the parser reports content after a closing
/// quote, which is usually a quote left open lines before.
pub fn opening_quote(text: &str, offset: usize) -> Option<(u64, u64)> {
    let before = text.get(..offset)?;
    let quote = before
        .chars()
        .next_back()
        .filter(|c| matches!(c, '"' | '\''))?;
    let inner = &before[..before.len() - 1];
    let mut open = None;
    let mut chars = inner.char_indices().rev().peekable();
    while let Some((i, c)) = chars.next() {
        if c != quote {
            continue;
        }
        let escaped = match quote {
            '"' => inner[..i].ends_with('\\'),
            _ => chars.peek().is_some_and(|&(_, p)| p == '\''),
        };
        if escaped {
            if quote == '\'' {
                chars.next();
            }
            continue;
        }
        open = Some(i);
        break;
    }
    let open = open?;
    let line = text[..open].matches('\n').count() + 1;
    let line_start = text[..open].rfind('\n').map_or(0, |i| i + 1);
    let error_line = before.matches('\n').count() + 1;
    let column = text[line_start..open].chars().count() + 1;
    (line < error_line).then_some((line as u64, column as u64))
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation)]
        let whole = value as i64;
        whole.to_string()
    } else {
        value.to_string()
    }
}

/// `100000` as `100,000`.
fn thousands(value: usize) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_left_open_is_found_lines_before_the_error() {
        let text = "channels:\n  - cname: \"abc\n    uid: \"1\"\n";
        let offset = text.find("1\"").unwrap();
        assert_eq!(opening_quote(text, offset), Some((2, 12)));
    }

    #[test]
    fn a_quote_closed_on_its_line_is_not_blamed() {
        let text = "a: \"x\"y\n";
        assert_eq!(opening_quote(text, 6), None);
    }

    #[test]
    fn counts_read_with_separators() {
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_048_576), "1,048,576");
    }
}
