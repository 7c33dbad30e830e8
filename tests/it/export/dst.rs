//! Exported timers fire for every occurrence recplan computes, across
//! clock changes: years of them in several zones, against systemd's own
//! calendar (`systemd-analyze calendar`).

use std::process::Command;

use chrono::{DateTime, Duration, NaiveDateTime, SubsecRound, Utc};
use recplan::schedule::{Schedule, parse_timezone};

use super::{recplan, write_plan};

/// Lines whose times meet clock changes: fixed times in the spring-forward
/// gap and the repeated hour (also at midnight, and a half-hour shift), and
/// wildcard lines that pass through the repeated hour twice.
const CASES: [(&str, &str, &str); 10] = [
    ("berlin-night", "30 2 * * *", "Europe/Berlin"),
    ("berlin-standup", "0 9 * * MON-FRI", "Europe/Berlin"),
    ("new-york-sunday", "30 2 * * SUN", "America/New_York"),
    ("new-york-fold", "30 1 * * *", "America/New_York"),
    ("lord-howe", "15 2,1 * * *", "Australia/Lord_Howe"),
    ("santiago-midnight", "0 0 * * *", "America/Santiago"),
    ("havana-midnight", "30 0 * * *", "America/Havana"),
    ("jerusalem-friday", "30 2 * * 5", "Asia/Jerusalem"),
    ("london-wildcard", "*/30 1 * * *", "Europe/London"),
    ("sydney-wildcard", "*/20 2 * * *", "Australia/Sydney"),
];

/// How long the check looks ahead.
const YEARS: i64 = 2;

#[test]
fn systemd_timers_fire_for_every_occurrence_across_clock_changes() {
    let dir = tempfile::tempdir().unwrap();
    for (name, cron, zone) in CASES {
        write_plan(dir.path(), name, cron, zone, "");
    }
    let out = tempfile::tempdir().unwrap();
    let from = Utc::now().trunc_subsecs(0);
    let export = recplan(&[
        "export",
        "systemd",
        dir.path().to_str().unwrap(),
        "--environment-file",
        "/etc/recplan/recplan.env",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        export.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let until = from + Duration::days(365 * YEARS);
    let deadline = Duration::minutes(5);
    let mut only_by_extra_lines = 0;
    for (name, cron, zone) in CASES {
        let timer =
            std::fs::read_to_string(out.path().join(format!("recplan-{name}.timer"))).unwrap();
        let calendars: Vec<String> = timer
            .lines()
            .filter_map(|line| line.strip_prefix("OnCalendar="))
            .map(str::to_owned)
            .collect();
        let schedule = Schedule::new(cron, parse_timezone(zone).unwrap()).unwrap();
        let ours: Vec<DateTime<Utc>> = schedule
            .starts_after(from)
            .map(|start| start.to_utc())
            .take_while(|start| *start <= until)
            .collect();
        let iterations = ours.len() + 10;
        let each = systemd_elapses(&calendars, from, iterations);
        let fired: Vec<DateTime<Utc>> = each.iter().flatten().copied().collect();
        let plain = &each[0];
        for start in &ours {
            let covered_by = |elapses: &[DateTime<Utc>]| {
                elapses
                    .iter()
                    .any(|elapse| *elapse >= *start && *elapse - *start <= deadline)
            };
            assert!(
                covered_by(&fired),
                "{cron} in {zone}: nothing fires for {start} within {deadline}; {calendars:?}"
            );
            if !covered_by(plain) {
                only_by_extra_lines += 1;
            }
        }
    }
    // The plain lines alone lose occurrences: the check can fail.
    assert!(only_by_extra_lines >= 10, "{only_by_extra_lines}");
}

/// The elapses systemd computes for each of `expressions` after `from`,
/// `iterations` of each, in UTC.
fn systemd_elapses(
    expressions: &[String],
    from: DateTime<Utc>,
    iterations: usize,
) -> Vec<Vec<DateTime<Utc>>> {
    let output = Command::new("systemd-analyze")
        .env("TZ", "UTC")
        .arg("calendar")
        .arg(format!("--iterations={iterations}"))
        .arg(format!(
            "--base-time={}",
            from.format("%Y-%m-%d %H:%M:%S UTC")
        ))
        .args(expressions)
        .output()
        .expect("systemd-analyze is installed (.ci/run installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut each: Vec<Vec<DateTime<Utc>>> = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some((label, value)) = line.trim().split_once(": ") else {
            continue;
        };
        // Each expression's answer starts with its normalized form.
        if label == "Normalized form" {
            each.push(Vec::new());
        }
        if label != "Next elapse" && !label.starts_with("Iter.") {
            continue;
        }
        // "Mon 2026-11-30 08:00:00 UTC"
        let stamp = value
            .trim()
            .strip_suffix(" UTC")
            .and_then(|t| t.split_once(' '));
        if let Some((_, stamp)) = stamp {
            let elapse = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S").unwrap();
            if let Some(elapses) = each.last_mut() {
                elapses.push(elapse.and_utc());
            }
        }
    }
    assert_eq!(each.len(), expressions.len(), "{expressions:?}");
    each
}
