use std::path::PathBuf;

use chrono::Utc;

use super::{err, exit, out, print_diagnostics};
use crate::plan::{self, Env, MissingEnv, Options};

/// Checks plan files without sending anything.
///
/// Every problem of a file is reported at once as FILE:LINE:COL with the
/// field and a hint. Exit code 0 when all plans are valid, 3 otherwise.
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
    /// Print errors only: no warnings (such as environment variables unset
    /// where plans are linted) and no `ok:` lines.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: &Args) -> u8 {
    let files = match plan::discover(&args.paths) {
        Ok(files) => files,
        Err(error) => {
            print_diagnostics(&error.diagnostics());
            return exit::INVALID_PLAN;
        }
    };
    let options = Options {
        env: Env::from_process(),
        missing_env: if args.require_env {
            MissingEnv::Refuse
        } else {
            MissingEnv::Warn
        },
        now: Utc::now(),
    };
    let mut invalid = 0;
    for file in &files {
        match plan::load(file, &options) {
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
                    return stop.exit_code(code(invalid));
                }
            }
            Err(error) => {
                invalid += 1;
                let mut diagnostics = error.diagnostics();
                if args.quiet {
                    diagnostics.retain(plan::Diagnostic::is_error);
                }
                print_diagnostics(&diagnostics);
            }
        }
    }
    if !args.quiet || invalid > 0 {
        err(format_args!("{}\n", summary(invalid, files.len())));
    }
    code(invalid)
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
