use std::path::PathBuf;

use chrono::Utc;

use super::{exit, print_diagnostics};
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
            Ok(validated) => {
                print_diagnostics(&validated.warnings);
                println!("ok: {} ({})", file.display(), validated.plan.name());
            }
            Err(error) => {
                invalid += 1;
                print_diagnostics(&error.diagnostics());
            }
        }
    }
    if invalid > 0 {
        eprintln!("{invalid} of {} plan(s) invalid", files.len());
        exit::INVALID_PLAN
    } else {
        exit::OK
    }
}
