//! `recplan man`: every page has the sections a man page reader looks for,
//! a date that does not change from build to build, plain ASCII, and a
//! synopsis naming each option's value; `mandoc -T lint` finds nothing to
//! warn about.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::recplan;

/// Writes every page into a new directory; the pages, in the order written.
fn pages(dir: &Path, source_date_epoch: Option<&str>) -> Vec<PathBuf> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recplan"));
    command
        .args([
            std::ffi::OsStr::new("man"),
            "--out".as_ref(),
            dir.as_os_str(),
        ])
        .env_remove("SOURCE_DATE_EPOCH");
    if let Some(epoch) = source_date_epoch {
        command.env("SOURCE_DATE_EPOCH", epoch);
    }
    let output = command.output().expect("the recplan binary runs");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout
        .lines()
        .map(|line| PathBuf::from(line.strip_prefix("wrote ").expect("`wrote FILE`")))
        .collect()
}

#[test]
fn every_page_has_the_usual_sections_a_fixed_date_and_only_ascii() {
    let dir = tempfile::tempdir().unwrap();
    let written = pages(dir.path(), None);
    assert_eq!(written.len(), 20, "{written:?}");
    for page in &written {
        let text = std::fs::read_to_string(page).unwrap();
        let name = page.file_stem().unwrap().to_str().unwrap().to_uppercase();
        let title = format!(
            ".TH {name} 1 2026-12-04 \"recplan {}\" \"recplan Manual\"\n",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&title), "{}: {text}", page.display());
        for section in [
            ".SH NAME\n",
            ".SH SYNOPSIS\n",
            ".SH DESCRIPTION\n",
            ".SH \"EXIT STATUS\"\n",
            ".SH ENVIRONMENT\n",
            ".SH FILES\n",
            ".SH EXAMPLES\n",
            ".SH \"SEE ALSO\"\n",
        ] {
            assert!(text.contains(section), "{}: no {section}", page.display());
        }
        assert!(text.is_ascii(), "{}: not ASCII", page.display());
    }
    let man = std::fs::read_to_string(dir.path().join("recplan-man.1")).unwrap();
    assert!(man.contains("(recplan\\-run.1, ...)"), "{man}");
}

#[test]
fn source_date_epoch_dates_the_pages() {
    let dir = tempfile::tempdir().unwrap();
    let written = pages(dir.path(), Some("1767225600"));
    let text = std::fs::read_to_string(&written[0]).unwrap();
    assert!(text.contains(".TH RECPLAN 1 2026-01-01 "), "{text}");
}

#[test]
fn the_synopsis_names_each_options_value() {
    let dir = tempfile::tempdir().unwrap();
    pages(dir.path(), None);
    let run = std::fs::read_to_string(dir.path().join("recplan-run.1")).unwrap();
    let synopsis = run
        .split(".SH SYNOPSIS\n")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap();
    for option in [
        "[\\fB\\-\\-at\\fR \\fIAT\\fR]",
        "[\\fB\\-\\-duration\\fR \\fIDURATION\\fR]",
        "[\\fB\\-\\-state\\-dir\\fR \\fIDIR\\fR]",
        "[\\fB\\-\\-state\\fR \\fIURL\\fR]",
        "[\\fB\\-\\-now\\fR]",
        " \\fIPLAN\\fR",
    ] {
        assert!(synopsis.contains(option), "{option} not in {synopsis}");
    }
}

#[test]
fn the_validate_page() {
    let dir = tempfile::tempdir().unwrap();
    pages(dir.path(), None);
    let page = std::fs::read_to_string(dir.path().join("recplan-validate.1")).unwrap();
    insta::assert_snapshot!(page);
}

/// Without --out the overview page goes to stdout.
#[test]
fn man_prints_the_overview_page() {
    let output = recplan(["man"]);
    assert!(output.status.success(), "{output:?}");
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(page.contains(".TH RECPLAN 1 2026-12-04 "), "{page}");
    assert!(
        page.contains("recplan run plans/demo.yaml \\-\\-now \\-\\-sim"),
        "{page}"
    );
}

#[test]
#[ignore = "needs mandoc (apt-get install mandoc); .ci/run installs it and runs this"]
fn mandoc_lint_finds_nothing_to_warn_about() {
    let dir = tempfile::tempdir().unwrap();
    let written = pages(dir.path(), None);
    let lint = Command::new("mandoc")
        .args(["-T", "lint", "-W", "warning"])
        .args(&written)
        .output()
        .expect("mandoc runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    assert!(lint.status.success() && report.is_empty(), "{report}");
}
