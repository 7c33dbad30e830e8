//! `--help` of every command, found by walking `Commands:` from the top:
//! every argument says what it is, every plan an example names exists, and
//! no environment variable reads as if set to empty.

use crate::support::{recplan, root};

/// The long help of `recplan PATH... --help`.
fn help(path: &[String]) -> String {
    let mut args = path.to_vec();
    args.push("--help".to_owned());
    let output = recplan(&args);
    assert!(output.status.success(), "{path:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The subcommands a help text lists, `help` aside.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command's path below `recplan` (the top is the empty path) and
/// its long help.
fn every_help() -> Vec<(Vec<String>, String)> {
    let mut found = Vec::new();
    let mut pending = vec![Vec::new()];
    while let Some(path) = pending.pop() {
        let text = help(&path);
        for sub in subcommands(&text) {
            let mut below = path.clone();
            below.push(sub);
            pending.push(below);
        }
        found.push((path, text));
    }
    found
}

/// The arguments of a help text whose entry has no description: a line
/// naming an argument (`  -q, --quiet`, `      --json`, `  <PLAN>`) with
/// no description beside it (the short form) or indented below it.
fn undescribed(help: &str) -> Vec<String> {
    let lines: Vec<&str> = help.lines().collect();
    let mut in_arguments = false;
    let mut missing = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with(' ') {
            in_arguments = matches!(*line, "Arguments:" | "Options:");
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let names_an_argument = indent < 10 && line.trim_start().starts_with(['-', '<', '[']);
        if in_arguments && names_an_argument {
            let beside = line
                .trim()
                .split_once("  ")
                .is_some_and(|(_, d)| !d.trim().is_empty());
            let described = beside
                || lines.get(i + 1).is_some_and(|next| {
                    next.len() - next.trim_start().len() >= 10 && !next.trim().is_empty()
                });
            if !described {
                missing.push(line.trim().to_owned());
            }
        }
    }
    missing
}

#[test]
fn every_argument_of_every_command_has_a_description() {
    let helps = every_help();
    // The walk reaches nested commands such as `export systemd`.
    assert!(
        helps.len() >= 20,
        "{:?}",
        helps.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    assert!(
        helps
            .iter()
            .any(|(path, _)| path == &["export", "kubernetes"])
    );
    let missing: Vec<String> = helps
        .iter()
        .flat_map(|(path, text)| {
            undescribed(text)
                .into_iter()
                .map(move |argument| format!("recplan {}: {argument}", path.join(" ")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "arguments without a description: {missing:#?}"
    );
}

#[test]
fn an_argument_without_a_description_is_noticed() {
    let help = "Usage: x\n\nArguments:\n  <PLAN>\n          The plan\n\nOptions:\n      --json\n\n  -h, --help\n          Print help\n";
    assert_eq!(undescribed(help), ["--json"]);
    let short = "Usage: x\n\nOptions:\n  -n <N>\n  -h, --help  Print help\n";
    assert_eq!(undescribed(short), ["-n <N>"]);
}

#[test]
fn every_plan_an_example_names_exists() {
    let mut named = 0;
    for (path, text) in every_help() {
        for word in text.split_whitespace() {
            let word = word.trim_matches(|c: char| !c.is_ascii_graphic() || c == '`' || c == ',');
            let is_plan = std::path::Path::new(word)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
            if word.starts_with("plans/") && is_plan {
                named += 1;
                assert!(
                    root().join(word).is_file(),
                    "recplan {} --help names {word}, which does not exist",
                    path.join(" ")
                );
            }
        }
    }
    assert!(named >= 3, "the examples name {named} plans");
}

#[test]
fn environment_variables_are_named_without_a_value() {
    for (path, text) in every_help() {
        assert!(
            !text.contains("=]"),
            "recplan {} --help shows an environment value: {text}",
            path.join(" ")
        );
    }
    let status = help(&["status".to_owned()]);
    assert!(status.contains("[env: RECPLAN_STATE_DIR]"), "{status}");
}
