//! Schedules: cron semantics, DST rules, backwards search, errors.
//!
//! Every expected instant below was worked out by hand from the rules in the
//! module docs and the zones' 2026 transitions:
//!
//! - Europe/Berlin: 2026-03-29 01:00Z, 02:00 CET -> 03:00 CEST;
//!   2026-10-25 01:00Z, 03:00 CEST -> 02:00 CET.
//! - America/New_York: 2026-03-08 07:00Z, 02:00 EST -> 03:00 EDT;
//!   2026-11-01 06:00Z, 02:00 EDT -> 01:00 EST.
//! - Australia/Lord_Howe: 2026-04-04 15:00Z, 02:00 +11 -> 01:30 +10:30
//!   (on 2026-04-05 local); 2026-10-03 15:30Z, 02:00 +10:30 -> 02:30 +11
//!   (on 2026-10-04 local).

use chrono::{DateTime, Offset, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use recplan::schedule::*;

fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("bad test instant {rfc3339}: {e}"))
        .to_utc()
}

fn schedule(cron: &str, tz: &str) -> Schedule {
    let tz = parse_timezone(tz).unwrap_or_else(|e| panic!("{tz}: {e}"));
    Schedule::new(cron, tz).unwrap_or_else(|e| panic!("{cron}: {e}"))
}

/// One table row: the first starts of `cron` in `tz` after `after`.
struct Case {
    cron: &'static str,
    tz: &'static str,
    after: &'static str,
    starts: &'static [&'static str],
}

/// Checks every row and reports all mismatches at once.
fn check(cases: &[Case]) {
    let mut failures = Vec::new();
    for case in cases {
        let got: Vec<String> = schedule(case.cron, case.tz)
            .starts_after(utc(case.after))
            .take(case.starts.len())
            .map(|start| start.to_rfc3339())
            .collect();
        if got != case.starts {
            failures.push(format!(
                "`{}` in {} after {}:\n  expected {:?}\n  got      {:?}",
                case.cron, case.tz, case.after, case.starts, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixed_time_jobs_across_dst() {
    check(&[
        // Spring forward: a skipped time starts right after the jump.
        Case {
            cron: "30 2 * * *",
            tz: "Europe/Berlin",
            after: "2026-03-28T12:00:00Z",
            starts: &["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
        },
        Case {
            cron: "30 2 * * *",
            tz: "America/New_York",
            after: "2026-03-07T12:00:00Z",
            starts: &["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"],
        },
        Case {
            cron: "15 2 * * *",
            tz: "Australia/Lord_Howe",
            after: "2026-10-03T00:00:00Z",
            starts: &["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"],
        },
        // Two skipped times, and a skipped time next to the jump's own
        // wall time, start once.
        Case {
            cron: "0,30 2 * * *",
            tz: "Europe/Berlin",
            after: "2026-03-28T12:00:00Z",
            starts: &["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"],
        },
        Case {
            cron: "0 2,3 * * *",
            tz: "Europe/Berlin",
            after: "2026-03-28T12:00:00Z",
            starts: &[
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T02:00:00+02:00",
                "2026-03-30T03:00:00+02:00",
            ],
        },
        // Fall back: a repeated time starts once, the first time.
        Case {
            cron: "30 2 * * *",
            tz: "Europe/Berlin",
            after: "2026-10-24T12:00:00Z",
            starts: &["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
        },
        Case {
            cron: "30 1 * * *",
            tz: "America/New_York",
            after: "2026-10-31T12:00:00Z",
            starts: &["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"],
        },
        Case {
            cron: "45 1 * * *",
            tz: "Australia/Lord_Howe",
            after: "2026-04-04T00:00:00Z",
            starts: &["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"],
        },
        // Starting from inside the second copy of the repeated hour.
        Case {
            cron: "30 1 * * *",
            tz: "America/New_York",
            after: "2026-11-01T06:10:00Z",
            starts: &["2026-11-02T01:30:00-05:00"],
        },
    ]);
}

#[test]
fn lists_are_fixed_time_jobs() {
    check(&[
        Case {
            cron: "30 1,2,3 * * *",
            tz: "America/New_York",
            after: "2026-11-01T04:00:00Z",
            starts: &[
                "2026-11-01T01:30:00-04:00",
                "2026-11-01T02:30:00-05:00",
                "2026-11-01T03:30:00-05:00",
                "2026-11-02T01:30:00-05:00",
            ],
        },
        Case {
            cron: "30 1,2,3 * * *",
            tz: "Europe/Berlin",
            after: "2026-10-24T22:00:00Z",
            starts: &[
                "2026-10-25T01:30:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-25T03:30:00+01:00",
                "2026-10-26T01:30:00+01:00",
            ],
        },
        Case {
            cron: "30 1,2,3 * * *",
            tz: "Europe/Berlin",
            after: "2026-03-28T22:00:00Z",
            starts: &[
                "2026-03-29T01:30:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-29T03:30:00+02:00",
                "2026-03-30T01:30:00+02:00",
            ],
        },
        Case {
            cron: "30 1,2 * * *",
            tz: "Australia/Lord_Howe",
            after: "2026-04-04T13:00:00Z",
            starts: &[
                "2026-04-05T01:30:00+11:00",
                "2026-04-05T02:30:00+10:30",
                "2026-04-06T01:30:00+10:30",
            ],
        },
        // A range is a list too.
        Case {
            cron: "30 1-3 * * *",
            tz: "America/New_York",
            after: "2026-11-01T05:00:00Z",
            starts: &["2026-11-01T01:30:00-04:00", "2026-11-01T02:30:00-05:00"],
        },
        Case {
            cron: "0,20,40 2 * * *",
            tz: "Australia/Lord_Howe",
            after: "2026-10-03T15:00:00Z",
            starts: &["2026-10-04T02:30:00+11:00", "2026-10-04T02:40:00+11:00"],
        },
    ]);
}

#[test]
fn wildcard_jobs_follow_elapsed_time() {
    check(&[
        // Both copies of New York's repeated hour.
        Case {
            cron: "*/15 * * * *",
            tz: "America/New_York",
            after: "2026-11-01T04:50:00Z",
            starts: &[
                "2026-11-01T01:00:00-04:00",
                "2026-11-01T01:15:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-01T01:45:00-04:00",
                "2026-11-01T01:00:00-05:00",
                "2026-11-01T01:15:00-05:00",
                "2026-11-01T01:30:00-05:00",
                "2026-11-01T01:45:00-05:00",
                "2026-11-01T02:00:00-05:00",
            ],
        },
        // Minute fixed, hour `*`: still a wildcard job.
        Case {
            cron: "30 * * * *",
            tz: "America/New_York",
            after: "2026-11-01T04:00:00Z",
            starts: &[
                "2026-11-01T00:30:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-01T01:30:00-05:00",
                "2026-11-01T02:30:00-05:00",
            ],
        },
        Case {
            cron: "*/30 * * * *",
            tz: "Europe/Berlin",
            after: "2026-10-24T23:45:00Z",
            starts: &[
                "2026-10-25T02:00:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-25T02:00:00+01:00",
                "2026-10-25T02:30:00+01:00",
                "2026-10-25T03:00:00+01:00",
            ],
        },
        Case {
            cron: "*/15 1 * * *",
            tz: "Australia/Lord_Howe",
            after: "2026-04-04T13:30:00Z",
            starts: &[
                "2026-04-05T01:00:00+11:00",
                "2026-04-05T01:15:00+11:00",
                "2026-04-05T01:30:00+11:00",
                "2026-04-05T01:45:00+11:00",
                "2026-04-05T01:30:00+10:30",
                "2026-04-05T01:45:00+10:30",
                "2026-04-06T01:00:00+10:30",
            ],
        },
        // Skipped times have no starts, and nothing moves to the jump.
        Case {
            cron: "30 * * * *",
            tz: "Europe/Berlin",
            after: "2026-03-29T00:00:00Z",
            starts: &["2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00"],
        },
        Case {
            cron: "30 * * * *",
            tz: "America/New_York",
            after: "2026-03-08T06:00:00Z",
            starts: &["2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00"],
        },
        Case {
            cron: "0 */1 * * *",
            tz: "Europe/Berlin",
            after: "2026-03-28T23:30:00Z",
            starts: &[
                "2026-03-29T01:00:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-29T04:00:00+02:00",
            ],
        },
        Case {
            cron: "*/15 2 * * *",
            tz: "America/New_York",
            after: "2026-03-08T06:00:00Z",
            starts: &["2026-03-09T02:00:00-04:00"],
        },
        Case {
            cron: "*/15 2 * * *",
            tz: "Australia/Lord_Howe",
            after: "2026-10-03T15:00:00Z",
            starts: &[
                "2026-10-04T02:30:00+11:00",
                "2026-10-04T02:45:00+11:00",
                "2026-10-05T02:00:00+11:00",
            ],
        },
    ]);
}

#[test]
fn job_kind_follows_minute_and_hour_fields() {
    let kinds = [
        ("30 2 * * *", JobKind::FixedTime),
        ("30 1,2,3 * * *", JobKind::FixedTime),
        ("0-59/15 9-17 * * *", JobKind::FixedTime),
        ("*/10 30 2 * * *", JobKind::FixedTime),
        ("@daily", JobKind::FixedTime),
        ("30 * * * *", JobKind::Wildcard),
        ("*/15 * * * *", JobKind::Wildcard),
        ("0 */3 * * *", JobKind::Wildcard),
        ("@hourly", JobKind::Wildcard),
    ];
    for (cron, kind) in kinds {
        assert_eq!(schedule(cron, "UTC").kind(), kind, "{cron}");
    }
}

#[test]
fn day_fields_and_names() {
    check(&[
        // Leap day.
        Case {
            cron: "0 12 29 2 *",
            tz: "UTC",
            after: "2026-01-01T00:00:00Z",
            starts: &["2028-02-29T12:00:00+00:00", "2032-02-29T12:00:00+00:00"],
        },
        // Both day fields restricted: either matches. 2026-03-13 is a
        // Friday and starts once; 2026-04-13 is a Monday.
        Case {
            cron: "0 9 13 * FRI",
            tz: "UTC",
            after: "2026-03-01T00:00:00Z",
            starts: &[
                "2026-03-06T09:00:00+00:00",
                "2026-03-13T09:00:00+00:00",
                "2026-03-20T09:00:00+00:00",
                "2026-03-27T09:00:00+00:00",
                "2026-04-03T09:00:00+00:00",
                "2026-04-10T09:00:00+00:00",
                "2026-04-13T09:00:00+00:00",
                "2026-04-17T09:00:00+00:00",
            ],
        },
        // A day field starting with `*` ANDs, as in Vixie cron: odd days
        // that are Sundays.
        Case {
            cron: "0 0 */2 * SUN",
            tz: "UTC",
            after: "2026-03-01T00:00:00Z",
            starts: &[
                "2026-03-15T00:00:00+00:00",
                "2026-03-29T00:00:00+00:00",
                "2026-04-05T00:00:00+00:00",
                "2026-04-19T00:00:00+00:00",
            ],
        },
        // Monday to Friday, from a Friday afternoon.
        Case {
            cron: "0 9 * * 1-5",
            tz: "UTC",
            after: "2026-03-06T12:00:00Z",
            starts: &[
                "2026-03-09T09:00:00+00:00",
                "2026-03-10T09:00:00+00:00",
                "2026-03-11T09:00:00+00:00",
                "2026-03-12T09:00:00+00:00",
                "2026-03-13T09:00:00+00:00",
                "2026-03-16T09:00:00+00:00",
            ],
        },
        // Names, in any case, and a weekday range ending on Sunday.
        Case {
            cron: "0 0 * * fri-SUN",
            tz: "UTC",
            after: "2026-03-01T00:00:00Z",
            starts: &[
                "2026-03-06T00:00:00+00:00",
                "2026-03-07T00:00:00+00:00",
                "2026-03-08T00:00:00+00:00",
                "2026-03-13T00:00:00+00:00",
            ],
        },
        Case {
            cron: "0 0 1 jan,Jul *",
            tz: "UTC",
            after: "2026-03-01T00:00:00Z",
            starts: &["2026-07-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"],
        },
    ]);
}

#[test]
fn last_nearest_and_nth_days() {
    check(&[
        // Last day of the month.
        Case {
            cron: "0 18 L * *",
            tz: "UTC",
            after: "2026-01-15T00:00:00Z",
            starts: &[
                "2026-01-31T18:00:00+00:00",
                "2026-02-28T18:00:00+00:00",
                "2026-03-31T18:00:00+00:00",
                "2026-04-30T18:00:00+00:00",
            ],
        },
        // Last weekday: 2026-01-31 and 2026-02-28 are Saturdays.
        Case {
            cron: "0 9 LW * *",
            tz: "UTC",
            after: "2026-01-01T00:00:00Z",
            starts: &[
                "2026-01-30T09:00:00+00:00",
                "2026-02-27T09:00:00+00:00",
                "2026-03-31T09:00:00+00:00",
            ],
        },
        // Nearest weekday: the 15th is a Thursday in January and a Sunday
        // in February and March.
        Case {
            cron: "0 9 15W * *",
            tz: "UTC",
            after: "2026-01-01T00:00:00Z",
            starts: &[
                "2026-01-15T09:00:00+00:00",
                "2026-02-16T09:00:00+00:00",
                "2026-03-16T09:00:00+00:00",
            ],
        },
        // 2026-08-01 is a Saturday: the nearest weekday stays in August.
        Case {
            cron: "0 9 1W * *",
            tz: "UTC",
            after: "2026-07-15T00:00:00Z",
            starts: &["2026-08-03T09:00:00+00:00", "2026-09-01T09:00:00+00:00"],
        },
        // Second Monday.
        Case {
            cron: "0 9 * * MON#2",
            tz: "UTC",
            after: "2026-01-01T00:00:00Z",
            starts: &[
                "2026-01-12T09:00:00+00:00",
                "2026-02-09T09:00:00+00:00",
                "2026-03-09T09:00:00+00:00",
            ],
        },
        // Last Friday, both spellings.
        Case {
            cron: "0 9 * * FRI#L",
            tz: "UTC",
            after: "2026-01-01T00:00:00Z",
            starts: &[
                "2026-01-30T09:00:00+00:00",
                "2026-02-27T09:00:00+00:00",
                "2026-03-27T09:00:00+00:00",
            ],
        },
        Case {
            cron: "0 9 * * 5L",
            tz: "UTC",
            after: "2026-01-01T00:00:00Z",
            starts: &["2026-01-30T09:00:00+00:00", "2026-02-27T09:00:00+00:00"],
        },
    ]);
}

#[test]
fn question_marks_seconds_and_nicknames() {
    check(&[
        // `?` is `*`.
        Case {
            cron: "0 9 ? * MON",
            tz: "UTC",
            after: "2026-03-01T00:00:00Z",
            starts: &["2026-03-02T09:00:00+00:00", "2026-03-09T09:00:00+00:00"],
        },
        // Six fields: seconds first.
        Case {
            cron: "30 */20 9 * * *",
            tz: "UTC",
            after: "2026-01-01T00:00:00Z",
            starts: &[
                "2026-01-01T09:00:30+00:00",
                "2026-01-01T09:20:30+00:00",
                "2026-01-01T09:40:30+00:00",
                "2026-01-02T09:00:30+00:00",
            ],
        },
        Case {
            cron: "15 30 9 * * *",
            tz: "UTC",
            after: "2026-01-01T09:30:15Z",
            starts: &["2026-01-02T09:30:15+00:00"],
        },
        Case {
            cron: "@weekly",
            tz: "UTC",
            after: "2026-03-01T00:00:00Z",
            starts: &["2026-03-08T00:00:00+00:00"],
        },
    ]);
}

#[test]
fn sunday_is_0_7_and_sun() {
    for cron in ["0 0 * * 0", "0 0 * * 7", "0 0 * * SUN"] {
        check(&[Case {
            cron,
            tz: "UTC",
            after: "2026-03-01T00:00:00Z",
            starts: &["2026-03-08T00:00:00+00:00", "2026-03-15T00:00:00+00:00"],
        }]);
    }
}

#[test]
fn next_after_is_strict_and_ignores_sub_seconds() {
    let s = schedule("0 9 * * *", "UTC");
    let next = |at: &str| s.next_after(utc(at)).map(|t| t.to_rfc3339());
    assert_eq!(
        next("2026-03-10T09:00:00Z").as_deref(),
        Some("2026-03-11T09:00:00+00:00")
    );
    assert_eq!(
        next("2026-03-10T08:59:59.999Z").as_deref(),
        Some("2026-03-10T09:00:00+00:00")
    );
    assert_eq!(
        next("2026-03-10T09:00:00.001Z").as_deref(),
        Some("2026-03-11T09:00:00+00:00")
    );
}

/// Rows of `(cron, tz, at, latest start at or before at)`.
const LATEST: &[(&str, &str, &str, &str)] = &[
    (
        "0 9 * * *",
        "UTC",
        "2026-03-10T09:00:00Z",
        "2026-03-10T09:00:00+00:00",
    ),
    (
        "0 9 * * *",
        "UTC",
        "2026-03-10T09:00:00.5Z",
        "2026-03-10T09:00:00+00:00",
    ),
    (
        "0 9 * * *",
        "UTC",
        "2026-03-10T08:59:59Z",
        "2026-03-09T09:00:00+00:00",
    ),
    (
        "0 12 29 2 *",
        "UTC",
        "2028-01-01T00:00:00Z",
        "2024-02-29T12:00:00+00:00",
    ),
    (
        "0 9 * * MON#2",
        "UTC",
        "2026-03-01T00:00:00Z",
        "2026-02-09T09:00:00+00:00",
    ),
    (
        "*/10 * * * * *",
        "UTC",
        "2026-03-10T09:00:09Z",
        "2026-03-10T09:00:00+00:00",
    ),
    // The moved start is due from the jump on.
    (
        "30 2 * * *",
        "Europe/Berlin",
        "2026-03-29T01:00:00Z",
        "2026-03-29T03:00:00+02:00",
    ),
    (
        "30 2 * * *",
        "Europe/Berlin",
        "2026-03-29T00:59:59Z",
        "2026-03-28T02:30:00+01:00",
    ),
    (
        "15 2 * * *",
        "Australia/Lord_Howe",
        "2026-10-03T15:30:00Z",
        "2026-10-04T02:30:00+11:00",
    ),
    (
        "15 2 * * *",
        "Australia/Lord_Howe",
        "2026-10-03T15:29:59Z",
        "2026-10-03T02:15:00+10:30",
    ),
    // In the second copy of a repeated hour, a fixed-time job's due start
    // is still its first-copy one.
    (
        "30 1,2,3 * * *",
        "America/New_York",
        "2026-11-01T06:45:00Z",
        "2026-11-01T01:30:00-04:00",
    ),
    (
        "30 2 * * *",
        "Europe/Berlin",
        "2026-10-25T01:45:00Z",
        "2026-10-25T02:30:00+02:00",
    ),
    (
        "45 1 * * *",
        "Australia/Lord_Howe",
        "2026-04-04T15:20:00Z",
        "2026-04-05T01:45:00+11:00",
    ),
    // A wildcard job's is in the second copy.
    (
        "*/15 * * * *",
        "America/New_York",
        "2026-11-01T06:40:00Z",
        "2026-11-01T01:30:00-05:00",
    ),
    (
        "*/15 1 * * *",
        "Australia/Lord_Howe",
        "2026-04-04T15:10:00Z",
        "2026-04-05T01:30:00+10:30",
    ),
    (
        "30 * * * *",
        "Europe/Berlin",
        "2026-03-29T01:29:00Z",
        "2026-03-29T01:30:00+01:00",
    ),
];

#[test]
fn latest_at_or_before_finds_the_due_start() {
    let mut failures = Vec::new();
    for &(cron, tz, at, expected) in LATEST {
        let got = schedule(cron, tz)
            .latest_at_or_before(utc(at))
            .map(|t| t.to_rfc3339());
        if got.as_deref() != Some(expected) {
            failures.push(format!(
                "`{cron}` in {tz} at {at}: expected {expected}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn extreme_instants_do_not_panic() {
    let s = schedule("30 1,2 * * *", "America/New_York");
    let w = schedule("*/15 * * * *", "Australia/Lord_Howe");
    for schedule in [&s, &w] {
        assert_eq!(schedule.next_after(DateTime::<Utc>::MAX_UTC), None);
        assert_eq!(schedule.latest_at_or_before(DateTime::<Utc>::MIN_UTC), None);
        let first = schedule.next_after(DateTime::<Utc>::MIN_UTC);
        assert!(first.is_some_and(|t| t.to_utc() < utc("0002-01-01T00:00:00Z")));
        let last = schedule.latest_at_or_before(DateTime::<Utc>::MAX_UTC);
        assert!(last.is_some_and(|t| t.to_utc() > utc("4999-01-01T00:00:00Z")));
    }
}

#[test]
fn accessors() {
    let s = schedule("  0 9 * * 1-5 ", "Europe/Berlin");
    assert_eq!(s.cron(), "0 9 * * 1-5");
    assert_eq!(s.timezone(), Tz::Europe__Berlin);
    assert_eq!(s.to_string(), "`0 9 * * 1-5` in Europe/Berlin");
}

fn parse_error(cron: &str) -> ScheduleError {
    match Schedule::new(cron, Tz::UTC) {
        Ok(s) => panic!("`{cron}` parsed as {s:?}"),
        Err(e) => e,
    }
}

fn field_error(cron: &str) -> Field {
    match parse_error(cron) {
        ScheduleError::InvalidField { field, .. } => field,
        other => panic!("`{cron}`: expected a field error, got {other:?}"),
    }
}

#[test]
fn empty_and_miscounted_lines_are_refused() {
    assert_eq!(parse_error(""), ScheduleError::Empty);
    assert_eq!(parse_error(" \t "), ScheduleError::Empty);
    assert_eq!(
        parse_error("0 0 * *"),
        ScheduleError::FieldCount { found: 4 }
    );
    assert_eq!(
        parse_error("hello world"),
        ScheduleError::FieldCount { found: 2 }
    );

    let seven = parse_error("0 0 0 * * * 2026");
    assert_eq!(seven, ScheduleError::FieldCount { found: 7 });
    assert_eq!(
        seven.hint().as_deref(),
        Some("recplan takes 5 fields (or 6 with seconds first); years are not supported")
    );
}

#[test]
fn bad_fields_name_the_field() {
    let cases = [
        ("60 * * * *", Field::Minute),
        ("* 24 * * *", Field::Hour),
        ("0 0 0 * *", Field::DayOfMonth),
        ("0 0 32 * *", Field::DayOfMonth),
        ("0 0 * 13 *", Field::Month),
        ("0 0 * * 8", Field::DayOfWeek),
        ("60 0 0 * * *", Field::Second),
        ("5-1 * * * *", Field::Minute),
        ("*/0 * * * *", Field::Minute),
        ("0/5 * * * *", Field::Minute),
        ("1,,2 * * * *", Field::Minute),
        ("a b c d e", Field::Minute),
        ("0 0 * * MONDAY", Field::DayOfWeek),
        // croner would read a weekday name in the month field as a number.
        ("0 0 * MON *", Field::Month),
        ("0 L * * *", Field::Hour),
        // A lone `L` in day-of-week would never match.
        ("0 0 * * L", Field::DayOfWeek),
        ("0 0 1 * +MON", Field::DayOfWeek),
        ("0 0 ? * ?5", Field::DayOfWeek),
        ("0 0 1#2 * *", Field::DayOfMonth),
        ("0 0 * * 1#6", Field::DayOfWeek),
        ("0 0 15W-20 * *", Field::DayOfMonth),
    ];
    for (cron, field) in cases {
        assert_eq!(field_error(cron), field, "{cron}");
    }
}

#[test]
fn field_errors_explain_the_field() {
    let error = parse_error("0 24 * * *");
    let message = error.to_string();
    assert_eq!(message, "invalid hour field `24`: 24 is outside 0-23");
    let message = parse_error("0 0 * * MON-8").to_string();
    assert_eq!(
        message,
        "invalid day-of-week field `MON-8`: 8 is outside 0-7"
    );
    assert!(error.hint().is_some_and(|hint| hint.contains("0-23")));
}

#[test]
fn nicknames() {
    assert!(matches!(
        parse_error("@reboot"),
        ScheduleError::UnknownNickname { name } if name == "reboot"
    ));
    assert!(matches!(
        parse_error("@often"),
        ScheduleError::UnknownNickname { .. }
    ));
    assert!(
        parse_error("@reboot")
            .hint()
            .is_some_and(|h| h.contains("5-field"))
    );
}

#[test]
fn patterns_that_never_fire_are_refused() {
    for cron in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 *"] {
        assert!(
            matches!(parse_error(cron), ScheduleError::NeverFires { .. }),
            "{cron}"
        );
    }
}

#[test]
fn error_messages_are_one_line() {
    let errors = [
        parse_error("0 0 * * MO\nN"),
        parse_error("@re\nboot"),
        parse_error("0\u{0} 0 * * *"),
        parse_timezone("Europe/\nBerlin").unwrap_err(),
    ];
    for error in errors {
        let message = error.to_string();
        assert!(
            !message.contains('\n') && !message.contains('\0'),
            "{message:?}"
        );
        assert!(error.hint().is_some_and(|hint| !hint.contains('\n')));
    }
}

#[test]
fn timezones_parse_and_suggest() {
    assert_eq!(
        parse_timezone("Europe/Berlin").ok(),
        Some(Tz::Europe__Berlin)
    );
    assert_eq!(parse_timezone("UTC").ok(), Some(Tz::UTC));

    let suggested = |name: &str| match parse_timezone(name) {
        Err(ScheduleError::UnknownTimezone { suggestions, .. }) => suggestions,
        other => panic!("{name}: expected an unknown-timezone error, got {other:?}"),
    };
    assert_eq!(suggested("Europe/Berln").first(), Some(&"Europe/Berlin"));
    assert_eq!(suggested("europe/berlin").first(), Some(&"Europe/Berlin"));
    assert_eq!(suggested("Berlin").first(), Some(&"Europe/Berlin"));
    assert_eq!(suggested("New York").first(), Some(&"America/New_York"));
    assert_eq!(
        suggested("Australia/LordHowe").first(),
        Some(&"Australia/Lord_Howe")
    );
    assert!(suggested("Xq/Zzzzzzzzz").is_empty());

    let error = parse_timezone("Europe/Berln").unwrap_err();
    assert_eq!(error.to_string(), "unknown timezone `Europe/Berln`");
    assert!(
        error
            .hint()
            .is_some_and(|h| h.starts_with("did you mean `Europe/Berlin`?")),
        "{:?}",
        error.hint()
    );
}

// Property tests.

/// Tokens that look like cron, to reach deep into the parser.
fn cron_like() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "*",
        "*/5",
        "*/0",
        "1-5",
        "5-1",
        "L",
        "LW",
        "W",
        "15W",
        "#",
        "1#2",
        "5#L",
        "5L",
        "?",
        "60",
        "0",
        "7",
        "8",
        "31",
        "MON",
        "jan",
        "SUN",
        "-",
        "/",
        ",",
        "1,2",
        "+MON",
        "@daily",
        "@",
        "99999999999999999999",
        "1-5/2",
        "*/2-3",
        "L-2",
        "0#0",
        "#L",
        "W15",
    ]);
    prop::collection::vec(token, 0..9).prop_map(|tokens| tokens.join(" "))
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(line in any::<String>()) {
        let _ = Schedule::new(&line, Tz::UTC);
    }

    #[test]
    fn cron_like_strings_never_panic(line in cron_like()) {
        if let Ok(s) = Schedule::new(&line, Tz::America__New_York) {
            // Whatever parses must also search without panicking.
            let at = utc("2026-11-01T05:30:00Z");
            let _ = s.next_after(at);
            let _ = s.latest_at_or_before(at);
        }
    }
}

/// A simple valid crontab line, as its minute and hour fields plus the rest.
fn simple_line() -> impl Strategy<Value = String> {
    let minute = prop_oneof![
        Just("*".to_string()),
        (1u32..=30).prop_map(|n| format!("*/{n}")),
        (0u32..60).prop_map(|n| n.to_string()),
        (0u32..60, 0u32..60).prop_map(|(a, b)| format!("{},{}", a.min(b), a.max(b))),
        (0u32..60, 0u32..60).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
    ];
    let hour = prop_oneof![
        Just("*".to_string()),
        (1u32..=12).prop_map(|n| format!("*/{n}")),
        (0u32..24).prop_map(|n| n.to_string()),
        (0u32..24, 0u32..24).prop_map(|(a, b)| format!("{},{}", a.min(b), a.max(b))),
        (0u32..24, 0u32..24).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
    ];
    let days = prop_oneof![
        Just("* * *".to_string()),
        (1u32..=28).prop_map(|d| format!("{d} * *")),
        Just("L * *".to_string()),
        (0u32..=7).prop_map(|d| format!("* * {d}")),
        Just("* * 1-5".to_string()),
        (1u32..=28, 0u32..=6).prop_map(|(d, w)| format!("{d} * {w}")),
        (1u32..=12).prop_map(|m| format!("* {m} *")),
    ];
    (minute, hour, days).prop_map(|(m, h, d)| format!("{m} {h} {d}"))
}

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        Tz::UTC,
        Tz::Europe__Berlin,
        Tz::America__New_York,
        Tz::Australia__Lord_Howe,
    ])
}

/// An instant in 2020-2030, at any second.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (1_577_836_800i64..1_893_456_000)
        .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or_else(|| panic!("bad timestamp {s}")))
}

/// DST transitions of the test zones in 2026, and a day either side.
fn near_transition() -> impl Strategy<Value = DateTime<Utc>> {
    let transitions = prop::sample::select(vec![
        "2026-03-29T01:00:00Z",
        "2026-10-25T01:00:00Z",
        "2026-03-08T07:00:00Z",
        "2026-11-01T06:00:00Z",
        "2026-04-04T15:00:00Z",
        "2026-10-03T15:30:00Z",
    ]);
    (transitions, -86_400i64..86_400).prop_map(|(t, offset)| utc(t) + TimeDelta::seconds(offset))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn starts_are_increasing_and_latest_inverts_next(
        line in simple_line(),
        tz in zone(),
        t in prop_oneof![instant(), near_transition()],
    ) {
        let s = Schedule::new(&line, tz).map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
        let starts: Vec<DateTime<Utc>> = s.starts_after(t).take(6).map(|x| x.to_utc()).collect();
        prop_assert_eq!(starts.len(), 6);
        prop_assert!(starts[0] > t);
        for pair in starts.windows(2) {
            prop_assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
        }
        for &start in &starts {
            let latest = s.latest_at_or_before(start).map(|x| x.to_utc());
            prop_assert_eq!(latest, Some(start));
        }
        // The start due at `t` is the one just before the next start.
        if let Some(due) = s.latest_at_or_before(t) {
            prop_assert!(due.to_utc() <= t);
            prop_assert_eq!(s.next_after(due.to_utc()).map(|x| x.to_utc()), Some(starts[0]));
        }
        let before_first = starts[0] - TimeDelta::seconds(1);
        let due = s.latest_at_or_before(before_first).map(|x| x.to_utc());
        prop_assert!(due.is_none_or(|d| d <= t));
    }
}

// Brute-force references for the DST rules, scanning minute by minute with
// chrono alone.

/// Whether wall time `minute:hour` is in the lists of a line's fields.
fn in_fields(minutes: &[u32], hours: &[u32], wall: chrono::NaiveDateTime) -> bool {
    use chrono::Timelike;
    minutes.contains(&wall.minute()) && hours.contains(&wall.hour())
}

fn expand(field: &str, max: u32) -> Vec<u32> {
    if field == "*" {
        return (0..=max).collect();
    }
    if let Some(step) = field.strip_prefix("*/") {
        let step: u32 = step.parse().unwrap_or_else(|_| panic!("{field}"));
        return (0..=max).step_by(step as usize).collect();
    }
    field
        .split(',')
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{field}")))
        .collect()
}

/// Whether `instant` (on a whole minute) is a start of a job with these
/// minute and hour lists, by the rules in the module docs.
fn reference_start(
    tz: Tz,
    minutes: &[u32],
    hours: &[u32],
    wildcard: bool,
    instant: DateTime<Utc>,
) -> bool {
    let wall = instant.with_timezone(&tz).naive_local();
    if wildcard {
        return in_fields(minutes, hours, wall);
    }
    // A wall time starts at its first instant...
    if in_fields(minutes, hours, wall)
        && tz.from_local_datetime(&wall).earliest().map(|e| e.to_utc()) == Some(instant)
    {
        return true;
    }
    // ...and the times a jump skips start right after it.
    let previous = instant - TimeDelta::seconds(1);
    let jump = instant.with_timezone(&tz).offset().fix().local_minus_utc()
        - previous.with_timezone(&tz).offset().fix().local_minus_utc();
    if jump > 0 {
        let gap_start = previous.with_timezone(&tz).naive_local() + TimeDelta::seconds(1);
        let mut skipped = gap_start;
        while skipped < wall {
            if in_fields(minutes, hours, skipped) {
                return true;
            }
            skipped += TimeDelta::minutes(1);
        }
    }
    false
}

fn dst_line() -> impl Strategy<Value = (String, String)> {
    let minute = prop_oneof![
        Just("*".to_string()),
        prop::sample::select(vec![5u32, 10, 15, 20, 30]).prop_map(|n| format!("*/{n}")),
        (0u32..60).prop_map(|n| n.to_string()),
        (0u32..60, 0u32..60).prop_map(|(a, b)| format!("{},{}", a.min(b), a.max(b))),
    ];
    let hour = prop_oneof![
        Just("*".to_string()),
        (0u32..5).prop_map(|n| n.to_string()),
        (0u32..5, 0u32..5).prop_map(|(a, b)| format!("{},{}", a.min(b), a.max(b))),
        (1u32..5).prop_map(|n| format!("*/{n}")),
    ];
    (minute, hour)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn dst_rules_match_a_minute_by_minute_scan(
        (minute, hour) in dst_line(),
        tz in prop::sample::select(vec![
            Tz::Europe__Berlin, Tz::America__New_York, Tz::Australia__Lord_Howe,
        ]),
        t in near_transition(),
    ) {
        let line = format!("{minute} {hour} * * *");
        let s = Schedule::new(&line, tz).map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
        let wildcard = minute.contains('*') || hour.contains('*');
        let (minutes, hours) = (expand(&minute, 59), expand(&hour, 23));
        // The first whole minute after `t`.
        let mut candidate = DateTime::from_timestamp((t.timestamp().div_euclid(60) + 1) * 60, 0)
            .unwrap_or_else(|| panic!("bad instant {t}"));
        let expected = loop {
            if reference_start(tz, &minutes, &hours, wildcard, candidate) {
                break candidate;
            }
            candidate += TimeDelta::minutes(1);
        };
        prop_assert_eq!(s.next_after(t).map(|x| x.to_utc()), Some(expected), "`{}` in {} after {}", line, tz, t);
        prop_assert_eq!(
            s.latest_at_or_before(expected).map(|x| x.to_utc()),
            Some(expected)
        );
    }
}
