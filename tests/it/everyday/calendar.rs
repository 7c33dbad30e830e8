//! `calendar` as a reader and CI see it: the text grid's width, every day
//! of a frequent plan, plans that overlap themselves, the SVG's labels,
//! legend and time axis, `--check` and `--json`.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::{path_arg, recplan, standup_variant};
use crate::support::root;

/// A directory with `weekly-standup` and `standup-review`, which records
/// the same channel and uid on Mondays 08:15-08:45 UTC, inside the
/// stand-up.
fn overlapping_plans() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    standup_variant(dir.path(), "weekly-standup", "0 9 * * MON-FRI", "");
    standup_variant(dir.path(), "standup-review", "15 9 * * MON", "");
    dir
}

fn calendar(dir: &Path, extra: &[&str]) -> super::Run {
    let mut args = vec!["calendar", path_arg(dir), "--from", "2026-11-30"];
    args.extend(extra);
    recplan(&args, &[])
}

#[test]
fn calendar_text_fits_80_columns_unless_given_a_width() {
    let two_weeks = ["calendar", "plans/", "--from", "2026-11-30", "--days", "14"];
    let narrow = recplan(&two_weeks, &[]);
    assert_eq!(narrow.code, 0, "{narrow:?}");
    assert!(
        narrow.stdout.lines().all(|line| line.chars().count() <= 80),
        "{}",
        narrow.stdout
    );
    let blocks = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("PLAN / CHANNEL"))
            .count()
    };
    assert_eq!(blocks(&narrow.stdout), 2, "a week per block");

    let wide = recplan(&[&two_weeks[..], &["--width", "132"]].concat(), &[]);
    assert_eq!(wide.code, 0, "{wide:?}");
    assert_eq!(blocks(&wide.stdout), 1, "two weeks on a line");
    let widest = wide.stdout.lines().map(|l| l.chars().count()).max();
    assert!(
        widest.is_some_and(|w| w > 80 && w <= 132),
        "{}",
        wide.stdout
    );

    let too_narrow = recplan(&[&two_weeks[..], &["--width", "20"]].concat(), &[]);
    assert_eq!(too_narrow.code, 2, "{too_narrow:?}");
}

#[test]
fn calendar_shows_every_day_of_a_plan_starting_every_ten_minutes() {
    // 30 minutes long, every 10 minutes, `overlap: skip` (the default):
    // 144 starts a day, each while the previous occurrence runs.
    let dir = tempfile::tempdir().unwrap();
    standup_variant(dir.path(), "frequent", "*/10 * * * *", "");
    let run = calendar(dir.path(), &["--days", "14"]);
    assert_eq!(run.code, 0, "{run:?}");
    let rows: Vec<&str> = (run.stdout.lines())
        .filter(|l| l.starts_with("  standup-platform"))
        .collect();
    assert_eq!(rows.len(), 2, "{}", run.stdout);
    for row in rows {
        assert_eq!(row.matches("~144x").count(), 7, "{row}");
    }
    assert!(
        run.stdout
            .contains("\nfrequent  (overlaps itself, see below)\n"),
        "{}",
        run.stdout
    );
    let flowing = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flowing.contains(
            "overlaps itself: the occurrence at 2026-11-29 23:50 lasts 30m but the next starts at 00:00; \
             with `overlap: skip` a start while one runs is skipped (~)"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("overlaps: none"), "{}", run.stdout);
}

#[test]
fn calendar_text_of_overlapping_plans() {
    let dir = overlapping_plans();
    // Every 10 minutes from 09:00 to 09:50 on Tuesdays for 30 minutes,
    // with `overlap: allow`: each recording runs into the next two, and
    // the first into the stand-up.
    standup_variant(
        dir.path(),
        "every-ten",
        "*/10 9 * * TUE",
        "\n  overlap: allow",
    );
    let run = calendar(dir.path(), &["--days", "7"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = run
        .stdout
        .replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!("calendar_overlaps_text", text);
}

#[test]
fn calendar_svg_labels_rows_and_has_a_legend_and_a_time_axis() {
    let run = recplan(
        &[
            "calendar",
            "plans/",
            "--from",
            "2026-11-30",
            "--format",
            "svg",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let svg = run.stdout;
    let texts = |class: &str| -> Vec<String> {
        let opening = format!("<text class=\"{class}\"");
        (svg.lines())
            .filter(|line| line.starts_with(&opening))
            .map(|line| {
                let inner = &line[line.find('>').unwrap() + 1..];
                inner[..inner.find('<').unwrap_or(inner.len())].to_owned()
            })
            .collect()
    };
    assert_eq!(texts("legend").len(), 3, "{svg}");
    assert!(texts("legend")[1].contains("error 53"), "{svg}");
    assert_eq!(
        texts("plan"),
        ["classrooms", "dashboard-web", "weekly-standup"]
    );
    assert!(
        texts("channel").contains(&"north-room-102  uid 900102".to_owned()),
        "{svg}"
    );
    assert_eq!(texts("day")[0], "Mon 2026-11-30");
    assert!(
        texts("axis").iter().any(|hour| hour == "12:00"),
        "{:?}",
        texts("axis")
    );
    assert!(texts("start").contains(&"08:00".to_owned()), "{svg}");
}

#[test]
fn calendar_svg_gives_sixty_channels_rows_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("plans/classrooms.yaml")).unwrap();
    let mut channels = String::new();
    for i in 0..60 {
        let _ = writeln!(
            channels,
            "  - {{cname: \"room-{i:02}\", uid: \"{}\"}}",
            900_200 + i
        );
    }
    let start = text.find("  - {cname:").unwrap();
    let end = text.find("start:\n").unwrap();
    let text = format!("{}{channels}{}", &text[..start], &text[end..]);
    std::fs::write(dir.path().join("school.yaml"), text).unwrap();
    let run = calendar(dir.path(), &["--format", "svg"]);
    assert_eq!(run.code, 0, "{run:?}");
    let bars: Vec<&str> = (run.stdout.lines())
        .filter(|line| line.starts_with("<rect class=\"recording\""))
        .collect();
    assert_eq!(bars.len(), 60 * 5);
    assert!(
        bars.iter().all(|bar| bar.contains(" height=\"12\"")),
        "every bar as tall as with one channel"
    );
    let labelled = (run.stdout.lines())
        .filter(|line| line.starts_with("<text class=\"channel\""))
        .count();
    assert_eq!(labelled, 60);
}

#[test]
fn calendar_check_exits_1_naming_the_overlapping_recordings() {
    let dir = overlapping_plans();
    let run = calendar(dir.path(), &["--check"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(
            "error: standup-platform uid 527841: weekly-standup 2026-11-30 08:00-08:30 and standup-review 08:15-08:45: recorded twice at once"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .ends_with("error: 1 overlaps, 2026-11-30 to 2026-12-06\n")
    );

    let clean = recplan(
        &["calendar", "plans/", "--from", "2026-11-30", "--check"],
        &[],
    );
    assert_eq!(clean.code, 0, "{clean:?}");
    assert_eq!(
        clean.stdout,
        "no overlaps: 21 recordings of 4 plans, 2026-11-30 to 2026-12-06\n"
    );

    // Overlapping itself with `overlap: skip` loses starts, not
    // recordings: a warning.
    let skipping = tempfile::tempdir().unwrap();
    standup_variant(skipping.path(), "frequent", "*/20 9 * * MON", "");
    let warned = calendar(skipping.path(), &["--check"]);
    assert_eq!(warned.code, 0, "{warned:?}");
    assert!(
        warned.stderr.starts_with("warning: ")
            && warned.stderr.contains("frequent: overlaps itself"),
        "{}",
        warned.stderr
    );
}

#[test]
fn calendar_json_lists_plans_recordings_and_overlaps() {
    let dir = overlapping_plans();
    let run = calendar(dir.path(), &["--json", "--timezone", "Europe/Berlin"]);
    assert_eq!(run.code, 0, "{run:?}");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["timezone"], "Europe/Berlin");
    assert_eq!(json["from"], "2026-11-30");
    assert_eq!(json["to"], "2026-12-06");
    let names: Vec<&str> = (json["plans"].as_array().unwrap().iter())
        .map(|plan| plan["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["standup-review", "weekly-standup"]);
    assert_eq!(json["plans"][0]["overlap"], "skip");
    assert_eq!(json["plans"][0]["overlaps_itself"], Value::Null);
    let slots = json["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 6);
    assert_eq!(
        slots.iter().filter(|slot| slot["conflict"] == true).count(),
        2
    );
    assert_eq!(
        json["overlaps"],
        serde_json::json!([{
            "cname": "standup-platform",
            "uid": "527841",
            "first": {
                "plan": "weekly-standup",
                "start": "2026-11-30T09:00:00+01:00",
                "end": "2026-11-30T09:30:00+01:00"
            },
            "second": {
                "plan": "standup-review",
                "start": "2026-11-30T09:15:00+01:00",
                "end": "2026-11-30T09:45:00+01:00"
            }
        }])
    );
}
