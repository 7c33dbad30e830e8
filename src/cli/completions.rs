//! `completions` and `man`: what packagers install beside the binary, both
//! generated from the same command-line definition as `--help`.

use std::path::{Path, PathBuf};

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

/// Writes man pages: recplan.1 and one per subcommand (recplan-run.1, …).
///
/// Without --out, prints recplan.1.
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
    // Building names the subcommands `recplan-run` and so on, which is
    // what their pages are called.
    command.build();
    let Some(dir) = &args.out else {
        let mut page = Vec::new();
        if let Err(error) = clap_mangen::Man::new(command).render(&mut page) {
            err(format_args!("error: cannot render the man page: {error}\n"));
            return exit::FAILED;
        }
        return match out(format_args!("{}", String::from_utf8_lossy(&page))) {
            Ok(()) => exit::OK,
            Err(stop) => stop.exit_code(exit::OK),
        };
    };
    if let Err(error) = std::fs::create_dir_all(dir) {
        err(format_args!(
            "error: cannot create {}: {error}\n",
            dir.display()
        ));
        return exit::FAILED;
    }
    let mut written = Vec::new();
    if let Err(error) = write_pages(&command, dir, &mut written) {
        err(format_args!(
            "error: cannot write man pages to {}: {error}\n",
            dir.display()
        ));
        return exit::FAILED;
    }
    for path in written {
        if let Err(stop) = out(format_args!("wrote {}\n", path.display())) {
            return stop.exit_code(exit::OK);
        }
    }
    exit::OK
}

/// The page of `command` and, depth first, of each subcommand shown in
/// `--help`, noting each file written.
fn write_pages(
    command: &clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    written.push(clap_mangen::Man::new(command.clone()).generate_to(dir)?);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}
