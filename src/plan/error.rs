//! What is wrong with a plan, and where.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::Location;

/// The longest source line a diagnostic echoes, in bytes.
const MAX_SHOWN_LINE: usize = 500;

/// How bad a diagnostic is: errors make a plan invalid, warnings don't.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One finding about a plan file: position, field path, message and hint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based; 0 when the position is unknown.
    pub line: u64,
    pub column: u64,
    /// Dotted field path, e.g. `start.storageConfig.fileNamePrefix[1]`.
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
    /// The source line the position is on, for display.
    #[serde(skip)]
    pub source_line: Option<String>,
}

impl Diagnostic {
    pub fn error(file: &Path, path: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_owned(),
            line: 0,
            column: 0,
            path: path.into(),
            message: message.into(),
            hint: None,
            source_line: None,
        }
    }

    pub fn warning(file: &Path, path: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, path, message)
        }
    }

    #[must_use]
    pub fn at(mut self, location: Location) -> Diagnostic {
        self.line = location.line();
        self.column = location.column();
        self
    }

    #[must_use]
    pub fn with_hint(mut self, hint: Option<String>) -> Diagnostic {
        self.hint = hint;
        self
    }

    /// Keeps the line the position is on for display, unless it is too
    /// long to be worth echoing (minified or hostile input).
    #[must_use]
    pub fn with_source_line(self, text: &str) -> Diagnostic {
        self.with_source_line_in(&text.lines().collect::<Vec<_>>())
    }

    /// [`Diagnostic::with_source_line`] with the text already split into
    /// lines, so that placing many findings in one file stays linear.
    #[must_use]
    pub fn with_source_line_in(mut self, lines: &[&str]) -> Diagnostic {
        let index = usize::try_from(self.line).unwrap_or(0);
        self.source_line = index
            .checked_sub(1)
            .and_then(|i| lines.get(i))
            .filter(|line| line.len() <= MAX_SHOWN_LINE)
            .map(|line| (*line).to_owned());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {severity}: ",
            self.file.display(),
            self.line,
            self.column
        )?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(line) = &self.source_line {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_pad = " ".repeat(usize::try_from(self.column.saturating_sub(1)).unwrap_or(0));
            write!(f, "\n{pad} |\n{number} | {line}\n{pad} | {caret_pad}^")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// Why a plan could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {size} bytes is larger than a plan may be ({limit} bytes)")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{path}: not a text file (plans are UTF-8 YAML)")]
    NotText { path: PathBuf },
    #[error("{path}: no plan files (*.yaml, *.yml) in this directory")]
    NoPlans { path: PathBuf },
    #[error("{}", Diagnostics(.diagnostics))]
    Invalid { diagnostics: Vec<Diagnostic> },
}

impl PlanError {
    /// The findings to show: the diagnostics of an invalid plan, or one
    /// error naming the file for anything else.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            PlanError::Invalid { diagnostics } => diagnostics.clone(),
            PlanError::Read { path, .. }
            | PlanError::TooLarge { path, .. }
            | PlanError::NotText { path }
            | PlanError::NoPlans { path } => {
                let message = self.to_string();
                let message = message
                    .strip_prefix(&format!("{}: ", path.display()))
                    .unwrap_or(&message);
                vec![Diagnostic::error(path, "", message)]
            }
        }
    }
}

/// Formats diagnostics one after another, blank line between.
struct Diagnostics<'a>(&'a [Diagnostic]);

impl fmt::Display for Diagnostics<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}
