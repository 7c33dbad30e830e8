//! Findings collected while validating, by field path, before they are
//! placed in the file.

use super::error::{Diagnostic, Severity};
use super::source::{Source, SpanIndex};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

/// Every finding of one plan, in the order found, without repeats (the
/// same rule fails once per channel when a shared value is wrong).
#[derive(Debug, Default)]
pub struct Issues(Vec<Issue>);

impl Issues {
    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) -> Hint<'_> {
        self.push(Severity::Error, path.into(), message.into())
    }

    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) -> Hint<'_> {
        self.push(Severity::Warning, path.into(), message.into())
    }

    fn push(&mut self, severity: Severity, path: String, message: String) -> Hint<'_> {
        let issue = Issue {
            severity,
            path,
            message,
            hint: None,
        };
        let index = if let Some(existing) = self
            .0
            .iter()
            .position(|i| i.path == issue.path && i.message == issue.message)
        {
            existing
        } else {
            self.0.push(issue);
            self.0.len() - 1
        };
        Hint(&mut self.0[index])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|i| i.severity == Severity::Error)
    }

    /// Places each finding at its field's position in `source`.
    pub fn into_diagnostics(self, source: &Source, index: &SpanIndex) -> Vec<Diagnostic> {
        let mut diagnostics: Vec<Diagnostic> = self
            .0
            .into_iter()
            .map(|issue| {
                let mut diagnostic = match issue.severity {
                    Severity::Error => {
                        Diagnostic::error(&source.path, issue.path.clone(), issue.message)
                    }
                    Severity::Warning => {
                        Diagnostic::warning(&source.path, issue.path.clone(), issue.message)
                    }
                };
                if let Some(position) = index.locate(&issue.path) {
                    diagnostic = diagnostic.at(position.key).with_source_line(&source.text);
                }
                diagnostic.with_hint(issue.hint)
            })
            .collect();
        diagnostics.sort_by_key(|d| (d.line, d.column));
        diagnostics
    }
}

/// Lets a caller attach a hint to the finding just added.
pub struct Hint<'a>(&'a mut Issue);

impl Hint<'_> {
    pub fn hint(self, hint: impl Into<String>) {
        self.0.hint = Some(hint.into());
    }
}
