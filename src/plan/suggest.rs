//! Did-you-mean hints for misspelt keys and names in parser messages.

use crate::suggest::closest;

/// A hint for serde's "unknown field `x`, expected one of a, b" (and
/// "unknown variant") messages: the closest expected name, else the list.
pub fn unknown_name_hint(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field ")
        .or_else(|| message.strip_prefix("unknown variant "))?;
    let (name, expected) = rest.split_once(", expected ")?;
    let name = name.trim_matches('`');
    let expected = expected.strip_prefix("one of ").unwrap_or(expected);
    let choices: Vec<&str> = expected
        .split(", ")
        .flat_map(|part| part.split(" or "))
        .map(|c| c.trim().trim_matches('`'))
        .filter(|c| !c.is_empty())
        .collect();
    Some(match closest(name, choices.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("expected one of: {}", choices.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_field() {
        let hint = unknown_name_hint("unknown field `hieght`, expected one of width, height");
        assert_eq!(hint.as_deref(), Some("did you mean `height`?"));
        let hint = unknown_name_hint("unknown field `zzz`, expected `a` or `b`");
        assert_eq!(hint.as_deref(), Some("expected one of: a, b"));
        assert_eq!(unknown_name_hint("invalid u32"), None);
    }
}
