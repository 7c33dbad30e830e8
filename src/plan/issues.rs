//! Findings collected while validating, by field path, before they are
//! placed in the file.

use std::collections::HashMap;

use super::error::{Diagnostic, Severity};
use super::source::{Source, SpanIndex};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
    /// Placed at line 1, column 1 rather than at `path`: for a value the
    /// file leaves out and that has no block of its own to point at.
    pub at_top: bool,
    /// Placed at `path` without quoting its line: for a value that may be
    /// a secret written into the file.
    pub unquoted: bool,
}

/// Every finding of one plan, in the order found, without repeats (the
/// same rule fails once per channel when a shared value is wrong).
#[derive(Debug, Default)]
pub struct Issues {
    found: Vec<Issue>,
    /// Where each (path, message) is in `found`, so that a plan with
    /// thousands of channels is not checked for repeats quadratically.
    index: HashMap<(String, String), usize>,
}

impl Issues {
    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) -> Hint<'_> {
        self.push(Severity::Error, path.into(), message.into())
    }

    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) -> Hint<'_> {
        self.push(Severity::Warning, path.into(), message.into())
    }

    fn push(&mut self, severity: Severity, path: String, message: String) -> Hint<'_> {
        let next = self.found.len();
        let index = *self
            .index
            .entry((path.clone(), message.clone()))
            .or_insert(next);
        if index == next {
            self.found.push(Issue {
                severity,
                path,
                message,
                hint: None,
                at_top: false,
                unquoted: false,
            });
        }
        Hint(&mut self.found[index])
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    pub fn has_errors(&self) -> bool {
        self.found.iter().any(|i| i.severity == Severity::Error)
    }

    /// Places each finding at its field's position in `source`.
    pub fn into_diagnostics(self, source: &Source, index: &SpanIndex) -> Vec<Diagnostic> {
        let lines: Vec<&str> = source.text.lines().collect();
        let mut diagnostics: Vec<Diagnostic> = self
            .found
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
                if issue.at_top {
                    // No source line: the first line is not what it is about.
                    (diagnostic.line, diagnostic.column) = (1, 1);
                } else if let Some(position) = index.locate(&issue.path) {
                    diagnostic = diagnostic.at(position.key);
                    if !issue.unquoted {
                        diagnostic = diagnostic.with_source_line_in(&lines);
                    }
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
    /// Places the finding at the top of the file; see [`Issue::at_top`].
    #[must_use]
    pub fn at_top(self) -> Self {
        self.0.at_top = true;
        self
    }

    /// Leaves the finding's line unquoted; see [`Issue::unquoted`].
    #[must_use]
    pub fn unquoted(self) -> Self {
        self.0.unquoted = true;
        self
    }

    pub fn hint(self, hint: impl Into<String>) {
        self.0.hint = Some(hint.into());
    }
}
