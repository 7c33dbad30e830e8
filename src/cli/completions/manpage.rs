//! One man page: clap_mangen's NAME, OPTIONS and SUBCOMMANDS, and recplan's
//! own SYNOPSIS (with each option's value), DESCRIPTION, EXIT STATUS,
//! ENVIRONMENT, FILES, EXAMPLES and SEE ALSO. The page is plain ASCII roff,
//! dated by the caller, so that it reads the same under any locale and is
//! the same on every build.

use std::fmt::Write as _;
use std::io;

use clap::Command;
use roff::{Inline, Roff, bold, italic, roman};

/// The date pages carry when `SOURCE_DATE_EPOCH` does not say otherwise:
/// this version's release.
pub const RELEASE_DATE: &str = "2026-12-04";

/// Exit codes and what they mean, as `cli::exit` and the README give them.
const EXIT_STATUS: &[(&str, &str)] = &[
    (
        "0",
        "Success: every channel recorded and stopped, or the command did its work.",
    ),
    (
        "1",
        "A run failed: a recording could not be started, kept running or stopped; or the daemon stopped on a critical error.",
    ),
    (
        "2",
        "The command line was wrong, or a path could not be read.",
    ),
    ("3", "A plan is invalid: nothing was sent."),
    ("4", "run without --now or --at: no occurrence is due."),
    (
        "130",
        "Interrupted by Ctrl-C or SIGTERM; every started recording was stopped.",
    ),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET",
        "Agora's RESTful API credentials (HTTP basic auth).",
    ),
    ("AGORA_APP_ID", "The App ID, for plans without app_id."),
    (
        "AGORA_APP_CERTIFICATE",
        "The App Certificate, for plans whose rtc_token names no certificate.",
    ),
    (
        "AGORA_API_BASE",
        "The API's address; default https://api.agora.io. Plain http:// only for loopback addresses.",
    ),
    (
        "AGORA_NCS_SECRET",
        "With it, the daemon takes Agora's notification callbacks at POST /ncs, signed with this secret.",
    ),
    ("RECPLAN_STATE_DIR", "The state directory (--state-dir)."),
    (
        "RECPLAN_STATE",
        "A PostgreSQL state store shared by several runners (--state).",
    ),
    (
        "RECPLAN_API_TOKEN",
        "Turns on the daemon's control API and web console.",
    ),
    ("RECPLAN_LOG", "The log filter, e.g. debug."),
    ("NO_COLOR", "When set, logs are never coloured."),
    (
        "SOURCE_DATE_EPOCH",
        "The date recplan man puts on the pages it writes (Unix seconds).",
    ),
];

const FILES: &[(&str, &str)] = &[
    (
        "*.yaml, *.yml",
        "Plan files. A directory given as a path is searched for them, not recursively.",
    ),
    (
        "$XDG_STATE_HOME/recplan",
        "The state directory (~/.local/state/recplan without XDG_STATE_HOME; RECPLAN_STATE_DIR overrides both), its owner's alone: recplan.db, the SQLite state store, and leases/, one lock per session a live process drives.",
    ),
    (
        "/etc/recplan/recplan.env",
        "The credentials of the systemd units export systemd writes (EnvironmentFile=).",
    ),
];

/// The examples of `recplan.1`, which has no description of its own.
const OVERVIEW_EXAMPLES: &[&str] = &[
    "recplan validate plans/",
    "recplan run plans/demo.yaml --now --sim",
    "recplan daemon /etc/recplan/plans --listen 127.0.0.1:9187",
];

/// The page of `command` (built, so that it knows its full name), dated
/// `date` (`YYYY-MM-DD`); `pages` names every page, for SEE ALSO.
pub fn render(command: &Command, date: &str, pages: &[String]) -> io::Result<String> {
    let name = page_name(command);
    let man = clap_mangen::Man::new(command.clone())
        .title(name.to_uppercase())
        .date(date)
        .source(format!("recplan {}", env!("CARGO_PKG_VERSION")))
        .manual("recplan Manual");
    let (description, mut examples) = split_examples(command);
    if name == "recplan" {
        examples = OVERVIEW_EXAMPLES.iter().map(|e| (*e).to_owned()).collect();
    }
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    let mut own = Roff::new();
    own.control("SH", ["SYNOPSIS"]).text(synopsis(command));
    own.control("SH", ["DESCRIPTION"]);
    paragraphs(&mut own, &description);
    own.to_writer(&mut page)?;
    if command.get_arguments().any(|arg| !arg.is_hide_set()) {
        man.render_options_section(&mut page)?;
    }
    if command.get_subcommands().any(|sub| !sub.is_hide_set()) {
        man.render_subcommands_section(&mut page)?;
    }
    let mut own = Roff::new();
    tagged(&mut own, "EXIT STATUS", EXIT_STATUS);
    tagged(&mut own, "ENVIRONMENT", ENVIRONMENT);
    tagged(&mut own, "FILES", FILES);
    if !examples.is_empty() {
        own.control("SH", ["EXAMPLES"]);
        for (i, example) in examples.iter().enumerate() {
            if i > 0 {
                own.control("PP", []);
            }
            own.text([roman(example.as_str())]);
        }
    }
    own.control("SH", ["SEE ALSO"]);
    let others: Vec<&String> = pages.iter().filter(|page| **page != name).collect();
    for (i, other) in others.iter().enumerate() {
        let separator = if i + 1 < others.len() { "," } else { "" };
        own.text([bold(other.as_str()), roman(format!("(1){separator}"))]);
    }
    own.to_writer(&mut page)?;
    Ok(tidy(&String::from_utf8_lossy(&page)))
}

/// `recplan-export-systemd` for `recplan export systemd`.
pub fn page_name(command: &Command) -> String {
    command
        .get_bin_name()
        .unwrap_or_else(|| command.get_name())
        .replace(' ', "-")
}

/// The command's long help without its examples, and the examples: the
/// lines after `Example:` or `Examples:` (or the rest of that line).
fn split_examples(command: &Command) -> (String, Vec<String>) {
    let about = command
        .get_long_about()
        .or_else(|| command.get_about())
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut description = Vec::new();
    let mut examples = Vec::new();
    let mut in_examples = false;
    for line in about.lines() {
        let rest = line
            .strip_prefix("Examples:")
            .or_else(|| line.strip_prefix("Example:"));
        if let Some(rest) = rest {
            in_examples = true;
            examples.extend(Some(rest.trim().to_owned()).filter(|r| !r.is_empty()));
        } else if in_examples {
            examples.extend(Some(line.trim().to_owned()).filter(|l| !l.is_empty()));
        } else {
            description.push(line);
        }
    }
    (description.join("\n").trim_end().to_owned(), examples)
}

fn paragraphs(roff: &mut Roff, text: &str) {
    for (i, paragraph) in text.split("\n\n").enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        roff.text([roman(paragraph.replace('\n', " "))]);
    }
}

fn tagged(roff: &mut Roff, section: &str, entries: &[(&str, &str)]) {
    roff.control("SH", [section]);
    for (tag, text) in entries {
        roff.control("TP", [])
            .text([bold(*tag)])
            .text([roman(*text)]);
    }
}

/// `recplan run [--now] [--at AT] ... PLAN`: every option with the value it
/// takes, in brackets unless required, then the positionals.
fn synopsis(command: &Command) -> Vec<Inline> {
    let mut line = vec![bold(
        command.get_bin_name().unwrap_or_else(|| command.get_name()),
    )];
    for arg in command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set() && !arg.is_positional())
    {
        let required = arg.is_required_set();
        line.push(roman(if required { " " } else { " [" }));
        match (arg.get_short(), arg.get_long()) {
            (Some(short), Some(long)) => {
                line.extend([
                    bold(format!("-{short}")),
                    roman("|"),
                    bold(format!("--{long}")),
                ]);
            }
            (Some(short), None) => line.push(bold(format!("-{short}"))),
            (None, Some(long)) => line.push(bold(format!("--{long}"))),
            (None, None) => {}
        }
        if arg.get_action().takes_values() {
            line.extend([roman(" "), italic(value_name(arg))]);
        }
        if !required {
            line.push(roman("]"));
        }
    }
    for arg in command.get_positionals().filter(|arg| !arg.is_hide_set()) {
        let required = arg.is_required_set();
        line.push(roman(if required { " " } else { " [" }));
        line.push(italic(value_name(arg)));
        if arg.get_num_args().is_some_and(|n| n.max_values() > 1) {
            line.push(roman("..."));
        }
        if !required {
            line.push(roman("]"));
        }
    }
    if command.get_subcommands().any(|sub| !sub.is_hide_set()) {
        line.extend([roman(" "), italic("COMMAND")]);
    }
    line
}

fn value_name(arg: &clap::Arg) -> String {
    arg.get_value_names()
        .and_then(|names| names.first())
        .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string)
}

/// The page as plain ASCII roff that `mandoc -T lint -W warning` passes:
/// the apostrophe preamble once (each section rendered brings its own),
/// the blank line clap_mangen sets between `.br`s before a list of
/// possible values as one `.sp`, no trailing blanks, `...` for an
/// ellipsis and roff's `\[uXXXX]` for any other character beyond ASCII.
fn tidy(page: &str) -> String {
    const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let body = page
        .replace(PREAMBLE, "")
        .replace("\n.br\n\n.br\n", "\n.sp\n");
    let mut out = String::with_capacity(page.len());
    out.push_str(PREAMBLE);
    for line in body.lines() {
        for c in line.trim_end().chars() {
            match c {
                '\u{2026}' => out.push_str("..."),
                c if c.is_ascii() => out.push(c),
                c => {
                    let _ = write!(out, "\\[u{:04X}]", u32::from(c));
                }
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_ascii_with_one_preamble() {
        let page = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.SH NAME\nman \u{2014} pages (a, \u{2026}) \n\
                    .ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.br\n\n.br\nx\n";
        assert_eq!(
            tidy(page),
            ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.SH NAME\nman \\[u2014] pages (a, ...)\n.sp\nx\n"
        );
    }

    #[test]
    fn examples_are_taken_out_of_the_description() {
        let command =
            Command::new("x").long_about("Does x.\n\nMore.\n\nExamples:\n\n  x a\n\n  x b");
        assert_eq!(
            split_examples(&command),
            (
                "Does x.\n\nMore.".to_owned(),
                vec!["x a".to_owned(), "x b".to_owned()]
            )
        );
        let command = Command::new("y").long_about("Does y.\n\nExample: y --now");
        assert_eq!(
            split_examples(&command),
            ("Does y.".to_owned(), vec!["y --now".to_owned()])
        );
    }
}
