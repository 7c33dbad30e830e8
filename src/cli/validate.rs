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
/// Example: recplan validate plans/
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan files, or directories of them (*.yaml, *.yml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Treat unset environment variables named by templates as errors.
    #[arg(long)]
    require_env: bool,
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
    let total = results.len();
    let mut invalid = 0;
    for (file, result) in judge(results) {
        match result {
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
                print_diagnostics(&diagnostics);
            }
        }
    }
    err(format_args!("{}\n", summary(invalid, total)));
    Ok(code(invalid))
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
