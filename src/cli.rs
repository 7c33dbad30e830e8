//! The command line: argument parsing, output, and exit codes. Each
//! subcommand lives in its own file and calls into the library.

/// `eprintln!` that never panics: see [`err`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `println!` for results that ends quietly on a closed pipe: see [`out`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod calendar;
mod completions;
mod connect;
mod daemon;
mod error;
mod export;
mod history;
mod init;
mod json_log;
mod next;
mod render;
mod run;
mod sim;
mod state;
mod table;
mod validate;

use std::fmt;
use std::io::{self, Write as _};
use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, FixedOffset, Utc};
use clap::{Parser, Subcommand};

use crate::plan::{Diagnostic, PlanError};

/// Exit codes, as documented in the README.
pub mod exit {
    /// Everything was recorded and stopped, or the command succeeded.
    pub const OK: u8 = 0;
    /// A run failed: a recording could not be started, kept or stopped.
    pub const FAILED: u8 = 1;
    /// The command line was wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// A plan is invalid: nothing was sent.
    pub const INVALID_PLAN: u8 = 3;
    /// `run` without `--now`/`--at`: no occurrence is due.
    pub const NOTHING_DUE: u8 = 4;
    /// Interrupted by Ctrl-C or SIGTERM; every started recording was stopped.
    /// A second Ctrl-C that leaves a recording possibly running is a failed
    /// run ([`FAILED`]), and says how to stop it.
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug, Parser)]
#[command(name = "recplan", version, about = "Declarative recording plans for Agora Cloud Recording", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Validate(validate::Args),
    Render(render::Args),
    Next(next::Args),
    Run(run::Args),
    Daemon(daemon::Args),
    Recover(state::RecoverArgs),
    Status(state::StatusArgs),
    Stop(state::StopArgs),
    History(history::Args),
    Calendar(calendar::Args),
    Export(export::Args),
    Init(init::Args),
    Sim(sim::Args),
    Completions(completions::CompletionsArgs),
    Man(completions::ManArgs),
    /// Prints the plan format's JSON Schema.
    ///
    /// Example: recplan schema > recplan.schema.json
    Schema,
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    // The daemon logs its work; one-shot commands only problems.
    match &cli.command {
        Command::Daemon(args) => init_tracing("info", args.log_format == daemon::LogFormat::Json),
        _ => init_tracing("warn", false),
    }
    let code = match cli.command {
        Command::Validate(args) => validate::run(&args).unwrap_or_else(error::fail),
        Command::Render(args) => render::run(&args),
        Command::Next(args) => next::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Daemon(args) => daemon::run(&args).unwrap_or_else(error::fail),
        Command::Recover(args) => state::recover_command(&args),
        Command::Status(args) => state::status_command(&args),
        Command::Stop(args) => state::stop_command(&args),
        Command::History(args) => history::run(&args),
        Command::Calendar(args) => calendar::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Sim(args) => sim::run(&args),
        Command::Completions(args) => completions::completions(&args),
        Command::Man(args) => completions::man(&args),
        Command::Schema => {
            let schema = serde_json::to_string_pretty(&crate::plan::schema()).unwrap_or_default();
            match out(format_args!("{schema}\n")) {
                Ok(()) => exit::OK,
                Err(stop) => stop.exit_code(exit::OK),
            }
        }
    };
    ExitCode::from(code)
}

/// Logs go to stderr, filtered by `RECPLAN_LOG` (default `level`). Colour
/// only on a terminal, and never with `NO_COLOR`; in JSON every line is one
/// object with the event's fields (`event`, `sid`, ...) and those of the
/// session it concerns (`plan`, `channel`, `uid`, `session`) at the top
/// level.
fn init_tracing(level: &str, json: bool) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("RECPLAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!json && !no_color && std::io::stderr().is_terminal());
    let _ = if json {
        builder
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(json_log::FlatJson)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// Parses a TIME argument: RFC 3339 with an offset.
fn parse_time(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text).map_err(|e| {
        format!("`{text}` is not an RFC 3339 time ({e}); e.g. 2026-11-27T09:00:00+01:00")
    })
}

/// Loads and validates one plan. Commands that send requests refuse
/// absent environment values (`MissingEnv::Refuse`); `render`, which shows
/// secrets masked, refuses only those outside secret fields; `next`, which
/// only reads the schedule, tolerates them. Prints errors; `Err` is the exit code.
fn load_plan(
    path: &Path,
    env: &crate::plan::Env,
    missing_env: crate::plan::MissingEnv,
) -> Result<crate::plan::Plan, u8> {
    let options = crate::plan::Options {
        env: env.clone(),
        missing_env,
        now: Utc::now(),
    };
    match crate::plan::load(path, &options) {
        Ok(validated) => {
            if missing_env != crate::plan::MissingEnv::Warn {
                print_diagnostics(&validated.warnings);
            }
            Ok(validated.plan)
        }
        Err(error) => Err(report_plan_error(error)),
    }
}

/// Every plan of `files` that loads, each failure reported as it comes;
/// the exit code is the last failure's, or 0.
fn load_plans(
    files: &[std::path::PathBuf],
    env: &crate::plan::Env,
    missing_env: crate::plan::MissingEnv,
) -> (Vec<crate::plan::Plan>, u8) {
    let mut code = exit::OK;
    let mut plans = Vec::with_capacity(files.len());
    for file in files {
        match load_plan(file, env, missing_env) {
            Ok(plan) => plans.push(plan),
            Err(failed) => code = failed,
        }
    }
    (plans, code)
}

/// Reports a plan that could not be loaded; the exit code says whether it
/// was unreadable (2) or invalid (3).
fn report_plan_error(error: PlanError) -> u8 {
    error::fail(error)
}

fn print_diagnostics(diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        err(format_args!("{diagnostic}\n\n"));
    }
}

/// Why a command stopped writing its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// The reader went away (`recplan validate plans/ | head -1`): it has
    /// seen all it wanted, so the command ends quietly.
    Closed,
    /// Writing failed otherwise (a full disk); already reported on stderr.
    Failed,
}

impl Stop {
    /// The exit code to end with, given the code of the work done so far.
    fn exit_code(self, so_far: u8) -> u8 {
        match self {
            Stop::Closed => so_far,
            Stop::Failed => exit::FAILED,
        }
    }
}

/// Writes a command's results to stdout. `print!` and `println!` panic
/// when the pipe they write to is closed (exit code 101 and a panic
/// message); this hands back a [`Stop`] instead, so the command can end
/// quietly. Every write is flushed, so a closed pipe shows up here rather
/// than when the process exits.
fn out(text: fmt::Arguments<'_>) -> Result<(), Stop> {
    let mut stdout = io::stdout().lock();
    match stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Err(Stop::Closed),
        Err(error) => {
            err(format_args!(
                "error: cannot write to standard output: {error}\n"
            ));
            Err(Stop::Failed)
        }
    }
}

/// Writes diagnostics and messages to stderr. A failure is ignored, not a
/// panic as with `eprintln!`: stderr is where it would be reported, and
/// stdout and the exit code still tell the outcome (`2>&1 | head` closes
/// both).
fn err(text: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(text);
}
