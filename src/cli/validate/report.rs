//! `validate`'s machine-readable reports: recplan's own JSON, and SARIF
//! 2.1.0 for code-scanning annotations in CI. Both are built from the same
//! verdicts the text output prints, as one document on stdout.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::plan::{Diagnostic, Severity};

/// One file's verdict: its plan's name when it is valid, and what was
/// found in it (warnings only, when it is valid).
pub struct Verdict<'a> {
    pub file: &'a Path,
    pub name: Option<&'a str>,
    pub diagnostics: &'a [Diagnostic],
}

/// `{"plans": [{file, name, valid, diagnostics}], "valid": N, "invalid": N}`;
/// each diagnostic with its `severity`, `file`, `line`, `column`, `field`,
/// `message` and `hint` (null when there is none).
pub fn json(verdicts: &[Verdict<'_>]) -> Value {
    let plans: Vec<Value> = verdicts
        .iter()
        .map(|verdict| {
            json!({
                "file": verdict.file.display().to_string(),
                "name": verdict.name,
                "valid": verdict.name.is_some(),
                "diagnostics": verdict.diagnostics.iter().map(diagnostic).collect::<Vec<_>>(),
            })
        })
        .collect();
    let valid = verdicts.iter().filter(|v| v.name.is_some()).count();
    json!({
        "plans": plans,
        "valid": valid,
        "invalid": verdicts.len() - valid,
    })
}

fn diagnostic(diagnostic: &Diagnostic) -> Value {
    json!({
        "severity": diagnostic.severity,
        "file": diagnostic.file.display().to_string(),
        "line": diagnostic.line,
        "column": diagnostic.column,
        "field": diagnostic.path,
        "message": diagnostic.message,
        "hint": diagnostic.hint,
    })
}

/// The SARIF rule a finding belongs to: its field with the list indices
/// left out (`channels.uid`), so that one kind of mistake is one rule
/// however many channels make it; `plan` for the file as a whole.
fn rule_id(diagnostic: &Diagnostic) -> String {
    let mut rule = String::with_capacity(diagnostic.path.len());
    let mut in_index = false;
    for c in diagnostic.path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => rule.push(c),
            _ => {}
        }
    }
    if rule.is_empty() {
        "plan".to_owned()
    } else {
        rule
    }
}

/// A SARIF 2.1.0 log with one run: every finding as a result with its
/// rule, level, message (the hint appended) and position.
pub fn sarif(verdicts: &[Verdict<'_>]) -> Value {
    let findings = verdicts.iter().flat_map(|v| v.diagnostics);
    let mut rules: Vec<String> = findings.clone().map(rule_id).collect();
    rules.sort();
    rules.dedup();
    let results: Vec<Value> = findings.map(result).collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "recplan",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|id| json!({
                    "id": id,
                    "shortDescription": {"text": rule_description(id)},
                })).collect::<Vec<_>>(),
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn rule_description(id: &str) -> String {
    if id == "plan" {
        "The plan file as a whole".to_owned()
    } else {
        format!("The plan field `{id}`")
    }
}

fn result(diagnostic: &Diagnostic) -> Value {
    let mut text = if diagnostic.path.is_empty() {
        diagnostic.message.clone()
    } else {
        format!("{}: {}", diagnostic.path, diagnostic.message)
    };
    if let Some(hint) = &diagnostic.hint {
        text.push_str("\nhint: ");
        text.push_str(hint);
    }
    let mut location = json!({"artifactLocation": artifact(&diagnostic.file)});
    // SARIF lines start at 1: a finding without a position names the file only.
    if diagnostic.line > 0 {
        location["region"] = json!({
            "startLine": diagnostic.line,
            "startColumn": diagnostic.column.max(1),
        });
    }
    json!({
        "ruleId": rule_id(diagnostic),
        "level": match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        "message": {"text": text},
        "locations": [{"physicalLocation": location}],
        "properties": {"field": diagnostic.path, "hint": diagnostic.hint},
    })
}

/// A relative path as a URI reference against the checkout (`%SRCROOT%`),
/// as code-scanning expects; an absolute one as a `file://` URI.
fn artifact(file: &Path) -> Value {
    let mut uri = String::new();
    for byte in file.to_string_lossy().replace('\\', "/").bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            let _ = write!(uri, "%{byte:02X}");
        }
    }
    let uri = uri.strip_prefix("./").map(str::to_owned).unwrap_or(uri);
    if uri.starts_with('/') {
        json!({"uri": format!("file://{uri}")})
    } else {
        json!({"uri": uri, "uriBaseId": "%SRCROOT%"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_a_field_without_its_indices() {
        let at = |path: &str| rule_id(&Diagnostic::error(Path::new("p.yaml"), path, "m"));
        assert_eq!(at("channels[3].uid"), "channels.uid");
        assert_eq!(
            at("steps[0].updateLayout.layoutConfig[12].x_axis"),
            "steps.updateLayout.layoutConfig.x_axis"
        );
        assert_eq!(at(""), "plan");
    }

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(
            artifact(Path::new("./plans/my plan.yaml")),
            json!({"uri": "plans/my%20plan.yaml", "uriBaseId": "%SRCROOT%"})
        );
        assert_eq!(
            artifact(Path::new("/etc/recplan/a.yaml")),
            json!({"uri": "file:///etc/recplan/a.yaml"})
        );
    }
}
