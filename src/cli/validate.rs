mod report;

use std::path::PathBuf;

use chrono::Utc;

use super::error::Error;
use super::{err, exit, out, print_diagnostics};
use crate::plan::{self, Catalog, Diagnostic, Env, MissingEnv, Options, PlanError, Validated};

/// Checks plan files without sending anything.
///
/// Every problem of a file is reported at once as FILE:LINE:COL with the
/// field and a hint. Plan names must be unique across everything checked.
/// A schedule whose occurrences reach the next start is an error with
/// `overlap: allow`, a warning otherwise. Exit code 0 when all plans are
/// valid, 3 otherwise, 2 when a path cannot be read.
///
/// With --format json or sarif, one document on stdout instead: recplan's
/// own JSON, or SARIF 2.1.0 for code-scanning annotations in CI.
///
/// Examples:
///
///   recplan validate plans/
///
///   recplan validate --format sarif plans/ > recplan.sarif
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan files, or directories of them (*.yaml, *.yml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Treat unset environment variables named by templates as errors.
    #[arg(long)]
    require_env: bool,
    /// Print errors only: no warnings (such as environment variables unset
    /// where plans are linted) and no `ok:` lines.
    #[arg(short, long)]
    quiet: bool,
    /// How findings are printed.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// `validate`'s output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// FILE:LINE:COL findings with hints on stderr, `ok:` lines on stdout.
    Text,
    /// One JSON document: each file's verdict and findings.
    Json,
    /// SARIF 2.1.0, for code-scanning annotations.
    Sarif,
}

pub fn run(args: &Args) -> Result<u8, Error> {
    let options = Options {
        env: Env::from_process(),
        missing_env: if args.require_env {
            MissingEnv::Refuse
        } else {
            MissingEnv::Warn
        },
        now: Utc::now(),
    };
    let scan = Catalog::new(args.paths.clone()).scan(&options);
    if let Some((path, source)) = scan.unreadable.into_iter().next() {
        return Err(Error::Read { path, source });
    }
    let mut results = Vec::with_capacity(scan.loaded.len());
    for (file, result) in scan.loaded {
        match result {
            Err(PlanError::Read { path, source }) => return Err(Error::Read { path, source }),
            result => results.push((file, result)),
        }
    }
    for dir in scan.empty {
        results.push((dir.clone(), Err(PlanError::NoPlans { path: dir })));
    }
    let verdicts = judge(results);
    if args.format != Format::Text {
        return Ok(print_report(&verdicts, args.format, args.quiet));
    }
    let total = verdicts.len();
    let mut invalid = 0;
    for (file, result) in verdicts {
        match result {
            Ok(_) if args.quiet => {}
            Ok(validated) => {
                print_diagnostics(&validated.warnings);
                let printed = out(format_args!(
                    "ok: {} ({})\n",
                    file.display(),
                    validated.plan.name()
                ));
                if let Err(stop) = printed {
                    // The reader has gone: nobody is left to tell about
                    // the rest. The code still says whether what was
                    // checked so far is valid.
                    return Ok(stop.exit_code(code(invalid)));
                }
            }
            Err(diagnostics) => {
                invalid += 1;
                let mut diagnostics = diagnostics;
                if args.quiet {
                    diagnostics.retain(Diagnostic::is_error);
                }
                print_diagnostics(&diagnostics);
            }
        }
    }
    if !args.quiet || invalid > 0 {
        err(format_args!("{}\n", summary(invalid, total)));
    }
    Ok(code(invalid))
}

/// Prints the verdicts as one JSON or SARIF document; with `quiet`,
/// without warnings.
fn print_report(
    verdicts: &[(PathBuf, Result<Validated, Vec<Diagnostic>>)],
    format: Format,
    quiet: bool,
) -> u8 {
    let kept = |diagnostics: &[Diagnostic]| -> Vec<Diagnostic> {
        let mut kept = diagnostics.to_vec();
        if quiet {
            kept.retain(Diagnostic::is_error);
        }
        kept
    };
    let findings: Vec<(Option<&str>, Vec<Diagnostic>)> = verdicts
        .iter()
        .map(|(_, result)| match result {
            Ok(validated) => (Some(validated.plan.name()), kept(&validated.warnings)),
            Err(diagnostics) => (None, kept(diagnostics)),
        })
        .collect();
    let report: Vec<report::Verdict<'_>> = verdicts
        .iter()
        .zip(&findings)
        .map(|((file, _), (name, diagnostics))| report::Verdict {
            file,
            name: *name,
            diagnostics,
        })
        .collect();
    let document = match format {
        Format::Sarif => report::sarif(&report),
        Format::Json | Format::Text => report::json(&report),
    };
    let invalid = report.iter().filter(|v| v.name.is_none()).count();
    let text = serde_json::to_string_pretty(&document).unwrap_or_default();
    match out(format_args!("{text}\n")) {
        Ok(()) => code(invalid),
        Err(stop) => stop.exit_code(code(invalid)),
    }
}

/// Each file's verdict, in order: a valid plan whose name an earlier file
/// has is invalid, with an error naming both files.
fn judge(
    results: Vec<(PathBuf, Result<Validated, PlanError>)>,
) -> Vec<(PathBuf, Result<Validated, Vec<Diagnostic>>)> {
    let clashes = plan::name_clashes(results.iter().filter_map(|(file, result)| {
        let validated = result.as_ref().ok()?;
        Some((file.as_path(), validated.plan.name()))
    }));
    results
        .into_iter()
        .map(|(file, result)| {
            let verdict = match result {
                Ok(validated) => match clashes.iter().find(|c| c.refused == file) {
                    Some(clash) => {
                        let mut diagnostics = validated.warnings;
                        diagnostics.push(clash.diagnostic());
                        Err(diagnostics)
                    }
                    None => Ok(validated),
                },
                Err(error) => Err(error.diagnostics()),
            };
            (file, verdict)
        })
        .collect()
}

fn code(invalid: usize) -> u8 {
    if invalid > 0 {
        exit::INVALID_PLAN
    } else {
        exit::OK
    }
}

/// The last line on stderr: how many plans were checked, and how many
/// failed. "plan(s)" as in the invalid case's line from before, which
/// scripts may match.
fn summary(invalid: usize, total: usize) -> String {
    if invalid == 0 {
        format!("{total} plan(s) valid")
    } else {
        format!("{invalid} of {total} plan(s) invalid")
    }
}
