//! `completions` and `man`: what packagers install beside the binary, both
//! generated from the same command-line definition as `--help`.

mod manpage;

use std::path::PathBuf;

use clap::CommandFactory as _;
use clap_complete::Shell;

use super::{Cli, err, exit, out};

/// Prints a shell completion script.
///
/// Example: recplan completions bash > /etc/bash_completion.d/recplan
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

/// Writes man pages: recplan.1 and one per subcommand (recplan-run.1, ...).
///
/// Without --out, prints recplan.1. Pages are dated by SOURCE_DATE_EPOCH
/// when it is set, else by this version's release.
///
/// Examples:
///
///   recplan man --out /usr/local/share/man/man1
///
///   recplan man | man -l -
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Directory to write the pages to (created if missing).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn completions(args: &CompletionsArgs) -> u8 {
    // Generated into memory first: the generator panics on a failed write,
    // and `out` turns a closed pipe into a quiet exit instead.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "recplan", &mut script);
    match out(format_args!("{}", String::from_utf8_lossy(&script))) {
        Ok(()) => exit::OK,
        Err(stop) => stop.exit_code(exit::OK),
    }
}

pub fn man(args: &ManArgs) -> u8 {
    let mut command = Cli::command().disable_help_subcommand(true);
    // Building names the subcommands `recplan run` and so on, whose pages
    // are recplan-run.1 and so on.
    command.build();
    let mut commands = Vec::new();
    every_command(&command, &mut commands);
    let names: Vec<String> = commands.iter().map(|c| manpage::page_name(c)).collect();
    let date = page_date(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref());
    let Some(dir) = &args.out else {
        return match manpage::render(&command, &date, &names) {
            Ok(page) => match out(format_args!("{page}")) {
                Ok(()) => exit::OK,
                Err(stop) => stop.exit_code(exit::OK),
            },
            Err(error) => {
                err(format_args!("error: cannot render the man page: {error}\n"));
                exit::FAILED
            }
        };
    };
    if let Err(error) = std::fs::create_dir_all(dir) {
        err(format_args!(
            "error: cannot create {}: {error}\n",
            dir.display()
        ));
        return exit::FAILED;
    }
    for (command, name) in commands.iter().zip(&names) {
        let path = dir.join(format!("{name}.1"));
        let written =
            manpage::render(command, &date, &names).and_then(|page| std::fs::write(&path, page));
        if let Err(error) = written {
            err(format_args!(
                "error: cannot write {}: {error}\n",
                path.display()
            ));
            return exit::FAILED;
        }
        if let Err(stop) = out(format_args!("wrote {}\n", path.display())) {
            return stop.exit_code(exit::OK);
        }
    }
    exit::OK
}

/// `command` and, depth first, each subcommand shown in `--help`.
fn every_command<'a>(command: &'a clap::Command, found: &mut Vec<&'a clap::Command>) {
    found.push(command);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        every_command(sub, found);
    }
}

/// The date pages carry: `SOURCE_DATE_EPOCH`'s (as reproducible builds
/// set it), else this version's release date; never today's, so that
/// pages built twice are the same.
fn page_date(source_date_epoch: Option<&str>) -> String {
    source_date_epoch
        .and_then(|epoch| epoch.trim().parse::<i64>().ok())
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
        .map_or_else(
            || manpage::RELEASE_DATE.to_owned(),
            |date| date.format("%Y-%m-%d").to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_dated_by_source_date_epoch_or_the_release() {
        assert_eq!(page_date(Some("1700000000")), "2023-11-14");
        assert_eq!(page_date(None), manpage::RELEASE_DATE);
        assert_eq!(page_date(Some("soon")), manpage::RELEASE_DATE);
    }
}
