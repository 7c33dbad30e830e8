//! Recurrence rules and calendar series: RFC 5545's own examples, DST in
//! three zones, exceptions from .ics files, and the invariants of `next`.
//!
//! Expected instants are worked out by hand from RFC 5545 §3.8.5.3 and the
//! zones' transitions: Europe/Berlin 2026-03-29 02:00→03:00 and 2026-10-25
//! 03:00→02:00; America/New_York 2026-03-08 02:00→03:00 and 2026-11-01
//! 02:00→01:00 (1997: 1997-10-26 02:00→01:00); Australia/Sydney 2026-04-05
//! 03:00→02:00 and 2026-10-04 02:00→03:00.

mod plans;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use recplan::schedule::{IcsQuery, Recurrence, Series, Tz, parse_timezone};

fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("bad test instant {rfc3339}: {e}"))
        .to_utc()
}

fn zone(name: &str) -> Tz {
    parse_timezone(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One row: the first starts of `rule` from `dtstart` in `tz`.
struct Row {
    rule: &'static str,
    dtstart: &'static str,
    tz: &'static str,
    exdates: &'static [&'static str],
    starts: &'static [&'static str],
}

fn check(rows: &[Row]) {
    let mut failures = Vec::new();
    for row in rows {
        let exdates: Vec<String> = row.exdates.iter().map(|e| (*e).to_owned()).collect();
        let series = match Series::from_rule(row.rule, row.dtstart, &exdates, zone(row.tz)) {
            Ok(series) => series,
            Err(e) => {
                failures.push(format!("`{}`: {e}", row.rule));
                continue;
            }
        };
        // Strictly after one second before dtstart: the first start is
        // dtstart's own when the rule yields it.
        let after = series
            .next_after(DateTime::<Utc>::MIN_UTC)
            .map_or(DateTime::<Utc>::MIN_UTC, |first| {
                first.to_utc() - chrono::Duration::seconds(1)
            });
        let got: Vec<String> = series
            .starts_after(after)
            .take(row.starts.len() + 1)
            .map(|s| s.to_rfc3339())
            .collect();
        let expected: Vec<String> = row.starts.iter().map(|s| (*s).to_owned()).collect();
        if got.get(..expected.len()) != Some(&expected[..]) {
            failures.push(format!(
                "`{}` from {} in {}:\n  expected {expected:?}\n  got      {got:?}",
                row.rule, row.dtstart, row.tz
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const NY: &str = "America/New_York";

#[test]
fn rfc_5545_examples() {
    check(&[
        // Daily for 10 occurrences.
        Row {
            rule: "FREQ=DAILY;COUNT=10",
            dtstart: "1997-09-02T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1997-09-02T09:00:00-04:00",
                "1997-09-03T09:00:00-04:00",
                "1997-09-04T09:00:00-04:00",
                "1997-09-05T09:00:00-04:00",
                "1997-09-06T09:00:00-04:00",
                "1997-09-07T09:00:00-04:00",
                "1997-09-08T09:00:00-04:00",
                "1997-09-09T09:00:00-04:00",
                "1997-09-10T09:00:00-04:00",
                "1997-09-11T09:00:00-04:00",
            ],
        },
        // Every 10 days, 5 occurrences.
        Row {
            rule: "FREQ=DAILY;INTERVAL=10;COUNT=5",
            dtstart: "1997-09-02T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1997-09-02T09:00:00-04:00",
                "1997-09-12T09:00:00-04:00",
                "1997-09-22T09:00:00-04:00",
                "1997-10-02T09:00:00-04:00",
                "1997-10-12T09:00:00-04:00",
            ],
        },
        // Weekly for 10 occurrences, across the end of DST: still 09:00.
        Row {
            rule: "FREQ=WEEKLY;COUNT=10",
            dtstart: "1997-09-02T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1997-09-02T09:00:00-04:00",
                "1997-09-09T09:00:00-04:00",
                "1997-09-16T09:00:00-04:00",
                "1997-09-23T09:00:00-04:00",
                "1997-09-30T09:00:00-04:00",
                "1997-10-07T09:00:00-04:00",
                "1997-10-14T09:00:00-04:00",
                "1997-10-21T09:00:00-04:00",
                "1997-10-28T09:00:00-05:00",
                "1997-11-04T09:00:00-05:00",
            ],
        },
        // Every other week on Tuesday and Thursday, for 8 occurrences.
        Row {
            rule: "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU,TH;COUNT=8",
            dtstart: "1997-09-02T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1997-09-02T09:00:00-04:00",
                "1997-09-04T09:00:00-04:00",
                "1997-09-16T09:00:00-04:00",
                "1997-09-18T09:00:00-04:00",
                "1997-09-30T09:00:00-04:00",
                "1997-10-02T09:00:00-04:00",
                "1997-10-14T09:00:00-04:00",
                "1997-10-16T09:00:00-04:00",
            ],
        },
        // Every other week on Monday, Wednesday and Friday until 24 December.
        Row {
            rule: "FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR",
            dtstart: "1997-09-01T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1997-09-01T09:00:00-04:00",
                "1997-09-03T09:00:00-04:00",
                "1997-09-05T09:00:00-04:00",
                "1997-09-15T09:00:00-04:00",
                "1997-09-17T09:00:00-04:00",
                "1997-09-19T09:00:00-04:00",
                "1997-09-29T09:00:00-04:00",
                "1997-10-01T09:00:00-04:00",
                "1997-10-03T09:00:00-04:00",
                "1997-10-13T09:00:00-04:00",
                "1997-10-15T09:00:00-04:00",
                "1997-10-17T09:00:00-04:00",
                "1997-10-27T09:00:00-05:00",
                "1997-10-29T09:00:00-05:00",
                "1997-10-31T09:00:00-05:00",
                "1997-11-10T09:00:00-05:00",
                "1997-11-12T09:00:00-05:00",
                "1997-11-14T09:00:00-05:00",
                "1997-11-24T09:00:00-05:00",
                "1997-11-26T09:00:00-05:00",
                "1997-11-28T09:00:00-05:00",
                "1997-12-08T09:00:00-05:00",
                "1997-12-10T09:00:00-05:00",
                "1997-12-12T09:00:00-05:00",
                "1997-12-22T09:00:00-05:00",
            ],
        },
        // Monthly on the first Friday for 10 occurrences.
        Row {
            rule: "FREQ=MONTHLY;COUNT=10;BYDAY=1FR",
            dtstart: "1997-09-05T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1997-09-05T09:00:00-04:00",
                "1997-10-03T09:00:00-04:00",
                "1997-11-07T09:00:00-05:00",
                "1997-12-05T09:00:00-05:00",
                "1998-01-02T09:00:00-05:00",
                "1998-02-06T09:00:00-05:00",
                "1998-03-06T09:00:00-05:00",
                "1998-04-03T09:00:00-05:00",
                "1998-05-01T09:00:00-04:00",
                "1998-06-05T09:00:00-04:00",
            ],
        },
        // Monthly on the second-to-last Monday, for 6 months.
        Row {
            rule: "FREQ=MONTHLY;COUNT=6;BYDAY=-2MO",
            dtstart: "1997-09-22T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1997-09-22T09:00:00-04:00",
                "1997-10-20T09:00:00-04:00",
                "1997-11-17T09:00:00-05:00",
                "1997-12-22T09:00:00-05:00",
                "1998-01-19T09:00:00-05:00",
                "1998-02-16T09:00:00-05:00",
            ],
        },
        // Monthly on the third-to-the-last day of the month.
        Row {
            rule: "FREQ=MONTHLY;BYMONTHDAY=-3",
            dtstart: "1997-09-28T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1997-09-28T09:00:00-04:00",
                "1997-10-29T09:00:00-05:00",
                "1997-11-28T09:00:00-05:00",
                "1997-12-29T09:00:00-05:00",
                "1998-01-29T09:00:00-05:00",
                "1998-02-26T09:00:00-05:00",
            ],
        },
        // The third instance of Tuesday, Wednesday or Thursday, 3 months.
        Row {
            rule: "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
            dtstart: "1997-09-04T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1997-09-04T09:00:00-04:00",
                "1997-10-07T09:00:00-04:00",
                "1997-11-06T09:00:00-05:00",
            ],
        },
        // The last work day of the month.
        Row {
            rule: "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            dtstart: "1997-09-29T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1997-09-30T09:00:00-04:00",
                "1997-10-31T09:00:00-05:00",
                "1997-11-28T09:00:00-05:00",
                "1997-12-31T09:00:00-05:00",
                "1998-01-30T09:00:00-05:00",
                "1998-02-27T09:00:00-05:00",
                "1998-03-31T09:00:00-05:00",
                "1998-04-30T09:00:00-04:00",
            ],
        },
        // Every Friday the 13th, leaving out dtstart as the RFC does.
        Row {
            rule: "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
            dtstart: "1998-02-13T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1998-02-13T09:00:00-05:00",
                "1998-03-13T09:00:00-05:00",
                "1998-11-13T09:00:00-05:00",
                "1999-08-13T09:00:00-04:00",
                "2000-10-13T09:00:00-04:00",
            ],
        },
        // Yearly in June and July for 10 occurrences.
        Row {
            rule: "FREQ=YEARLY;COUNT=10;BYMONTH=6,7",
            dtstart: "1997-06-10T09:00:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "1997-06-10T09:00:00-04:00",
                "1997-07-10T09:00:00-04:00",
                "1998-06-10T09:00:00-04:00",
                "1998-07-10T09:00:00-04:00",
                "1999-06-10T09:00:00-04:00",
                "1999-07-10T09:00:00-04:00",
                "2000-06-10T09:00:00-04:00",
                "2000-07-10T09:00:00-04:00",
                "2001-06-10T09:00:00-04:00",
                "2001-07-10T09:00:00-04:00",
            ],
        },
    ]);
}

#[test]
fn wall_time_across_dst() {
    check(&[
        // Berlin: a weekly 09:30 stays 09:30.
        Row {
            rule: "FREQ=WEEKLY;BYDAY=TU",
            dtstart: "2026-03-24T09:30:00",
            tz: "Europe/Berlin",
            exdates: &[],
            starts: &["2026-03-24T09:30:00+01:00", "2026-03-31T09:30:00+02:00"],
        },
        // Berlin: 02:30 in the spring gap moves forward by the gap's hour.
        Row {
            rule: "FREQ=DAILY",
            dtstart: "2026-03-28T02:30:00",
            tz: "Europe/Berlin",
            exdates: &[],
            starts: &[
                "2026-03-28T02:30:00+01:00",
                "2026-03-29T03:30:00+02:00",
                "2026-03-30T02:30:00+02:00",
            ],
        },
        // Berlin: the repeated 02:30 in autumn is taken once, the first.
        Row {
            rule: "FREQ=DAILY",
            dtstart: "2026-10-24T02:30:00",
            tz: "Europe/Berlin",
            exdates: &[],
            starts: &[
                "2026-10-24T02:30:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-26T02:30:00+01:00",
            ],
        },
        // New York, spring and autumn.
        Row {
            rule: "FREQ=DAILY",
            dtstart: "2026-03-07T02:30:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "2026-03-07T02:30:00-05:00",
                "2026-03-08T03:30:00-04:00",
                "2026-03-09T02:30:00-04:00",
            ],
        },
        Row {
            rule: "FREQ=DAILY",
            dtstart: "2026-10-31T01:30:00",
            tz: NY,
            exdates: &[],
            starts: &[
                "2026-10-31T01:30:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-02T01:30:00-05:00",
            ],
        },
        // Sydney: April ends DST, October starts it.
        Row {
            rule: "FREQ=WEEKLY;BYDAY=MO",
            dtstart: "2026-03-30T09:00:00",
            tz: "Australia/Sydney",
            exdates: &[],
            starts: &["2026-03-30T09:00:00+11:00", "2026-04-06T09:00:00+10:00"],
        },
        Row {
            rule: "FREQ=DAILY",
            dtstart: "2026-10-03T02:30:00",
            tz: "Australia/Sydney",
            exdates: &[],
            starts: &[
                "2026-10-03T02:30:00+10:00",
                "2026-10-04T03:30:00+11:00",
                "2026-10-05T02:30:00+11:00",
            ],
        },
    ]);
}

#[test]
fn negative_month_days_set_positions_and_exdates() {
    check(&[
        Row {
            rule: "FREQ=MONTHLY;BYMONTHDAY=-1",
            dtstart: "2026-01-31T10:00:00",
            tz: "UTC",
            exdates: &[],
            starts: &[
                "2026-01-31T10:00:00+00:00",
                "2026-02-28T10:00:00+00:00",
                "2026-03-31T10:00:00+00:00",
                "2026-04-30T10:00:00+00:00",
            ],
        },
        // The last weekday of each month.
        Row {
            rule: "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            dtstart: "2026-11-02T17:00:00",
            tz: "Europe/Berlin",
            exdates: &[],
            starts: &[
                "2026-11-30T17:00:00+01:00",
                "2026-12-31T17:00:00+01:00",
                "2027-01-29T17:00:00+01:00",
                "2027-02-26T17:00:00+01:00",
            ],
        },
        // The first Monday of the month, with one left out.
        Row {
            rule: "FREQ=MONTHLY;BYDAY=1MO",
            dtstart: "2026-12-07T09:00:00",
            tz: "Europe/Berlin",
            exdates: &["2027-01-04T09:00:00"],
            starts: &["2026-12-07T09:00:00+01:00", "2027-02-01T09:00:00+01:00"],
        },
        // UNTIL as a local date counts through the end of that day.
        Row {
            rule: "FREQ=DAILY;UNTIL=20261203",
            dtstart: "2026-12-01T23:30:00",
            tz: "Europe/Berlin",
            exdates: &[],
            starts: &[
                "2026-12-01T23:30:00+01:00",
                "2026-12-02T23:30:00+01:00",
                "2026-12-03T23:30:00+01:00",
            ],
        },
    ]);
}

#[test]
fn due_and_latest_starts() {
    let series = Series::from_rule(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH",
        "2026-12-01T09:30:00",
        &["2026-12-15T09:30:00".to_owned()],
        zone("Europe/Berlin"),
    )
    .unwrap();
    let latest = |at: &str| series.latest_at_or_before(utc(at)).map(|s| s.to_rfc3339());
    assert_eq!(latest("2026-12-01T08:29:59Z"), None);
    assert_eq!(
        latest("2026-12-01T08:30:00Z").as_deref(),
        Some("2026-12-01T09:30:00+01:00")
    );
    assert_eq!(
        latest("2026-12-10T00:00:00Z").as_deref(),
        Some("2026-12-03T09:30:00+01:00")
    );
    // 15 December is excluded: the 17th follows the 3rd.
    assert_eq!(
        latest("2026-12-16T12:00:00Z").as_deref(),
        Some("2026-12-03T09:30:00+01:00")
    );
    assert_eq!(
        latest("2026-12-17T12:00:00Z").as_deref(),
        Some("2026-12-17T09:30:00+01:00")
    );
}

#[test]
fn rule_errors_say_what_is_wrong() {
    let berlin = zone("Europe/Berlin");
    let error = |rule: &str, dtstart: &str, exdates: &[&str]| {
        let exdates: Vec<String> = exdates.iter().map(|e| (*e).to_owned()).collect();
        Series::from_rule(rule, dtstart, &exdates, berlin)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    assert!(error("FREQ=FORTNIGHTLY", "2026-12-01T09:30:00", &[]).contains("FORTNIGHTLY"));
    assert!(error("FREQ=WEEKLY;BYDAY=XX", "2026-12-01T09:30:00", &[]).contains("XX"));
    assert_eq!(
        error("FREQ=WEEKLY", "2026-12-01T09:30:00+01:00", &[]),
        "`2026-12-01T09:30:00+01:00` is not a local date and time"
    );
    assert_eq!(
        error("FREQ=DAILY", "2026-03-29T02:30:00", &[]),
        "2026-03-29T02:30:00 does not exist in Europe/Berlin: the clocks skip it"
    );
    assert_eq!(
        error(
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            "2026-01-01T09:00:00",
            &[]
        ),
        "the rrule never fires: no date matches it"
    );
    assert_eq!(
        error(
            "FREQ=WEEKLY",
            "2026-12-01T09:30:00",
            &["2026-12-02T09:30:00"]
        ),
        "2026-12-02T09:30:00 is not an occurrence of the rule"
    );
}

/// A calendar fixture's series.
fn ics(file: &str, event: Option<&str>, timezone: Option<&str>) -> Series {
    let path = format!("{}/tests/fixtures/ics/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let query = IcsQuery {
        event,
        timezone: timezone.map(zone),
        own_lengths: true,
    };
    Series::from_ics(&text, query)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .series
}

fn starts(series: &Series, after: &str, n: usize) -> Vec<String> {
    series
        .starts_after(utc(after))
        .take(n)
        .map(|s| s.to_rfc3339())
        .collect()
}

#[test]
fn a_google_series_with_moved_cancelled_and_excluded_instances() {
    let series = ics("google-design-review.ics", Some("Design review"), None);
    assert_eq!(
        starts(&series, "2027-01-01T00:00:00Z", 6),
        [
            "2027-01-05T10:00:00+01:00",
            // The 12 January instance moved to the 14th, 15:00-16:30.
            "2027-01-14T15:00:00+01:00",
            "2027-01-19T10:00:00+01:00",
            // 26 January is an EXDATE, 2 February cancelled.
            "2027-02-09T10:00:00+01:00",
            "2027-02-16T10:00:00+01:00",
            "2027-02-23T10:00:00+01:00",
        ]
    );
    let moved = utc("2027-01-14T14:00:00Z");
    assert_eq!(
        series.length_at(moved),
        Some(std::time::Duration::from_secs(5400))
    );
    assert_eq!(
        series.length_at(utc("2027-01-19T09:00:00Z")),
        Some(std::time::Duration::from_secs(3600))
    );
    let due = series.latest_at_or_before(utc("2027-01-14T14:02:00Z"));
    assert_eq!(
        due.map(|s| s.to_rfc3339()).as_deref(),
        Some("2027-01-14T15:00:00+01:00")
    );
}

#[test]
fn the_other_series_in_the_same_file_by_uid() {
    let series = ics(
        "google-design-review.ics",
        Some("standup-7c1f@example.com"),
        None,
    );
    assert_eq!(
        starts(&series, "2027-01-01T00:00:00Z", 3),
        [
            "2027-01-04T09:15:00+01:00",
            "2027-01-05T09:15:00+01:00",
            "2027-01-06T09:15:00+01:00",
        ]
    );
}

#[test]
fn an_outlook_series_with_windows_zones_and_this_and_future() {
    let series = ics("outlook-all-hands.ics", None, Some("America/New_York"));
    assert_eq!(
        starts(&series, "2027-01-01T00:00:00Z", 5),
        [
            // First Monday of the month, 11:00 in New York...
            "2027-01-04T11:00:00-05:00",
            "2027-02-01T11:00:00-05:00",
            // ...from March on moved to 14:00 (RANGE=THISANDFUTURE).
            "2027-03-01T14:00:00-05:00",
            "2027-04-05T14:00:00-04:00",
            "2027-05-03T14:00:00-04:00",
        ]
    );
}

#[test]
fn rdates_add_instances_and_floating_times_read_in_the_plan_zone() {
    let series = ics("apple-retro.ics", None, Some("Australia/Sydney"));
    assert_eq!(
        starts(&series, "2027-03-01T00:00:00Z", 4),
        [
            "2027-03-12T16:00:00+11:00",
            "2027-03-26T16:00:00+11:00",
            // An extra retro, added by RDATE.
            "2027-04-01T16:00:00+11:00",
            "2027-04-09T16:00:00+10:00",
        ]
    );
}

#[test]
fn ics_errors_name_the_line() {
    let error = |text: &str, event: Option<&str>| {
        Series::from_ics(
            text,
            IcsQuery {
                event,
                ..IcsQuery::default()
            },
        )
        .map(|_| ())
        .unwrap_err()
    };
    let all_day = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Offsite\r\n\
                   DTSTART;VALUE=DATE:20270105\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let found = error(all_day, None);
    assert_eq!(found.line, Some(6));
    assert_eq!(
        found.message,
        "DTSTART is an all-day date: there is no time to record"
    );

    let folded = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDESCRIPTION:a long\r\n  \
                  text\r\nSUMMARY:Sync\r\nDTSTART;TZID=Mars/Olympus:20270105T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let found = error(folded, None);
    assert_eq!(found.line, Some(8), "{found}");
    assert_eq!(found.message, "unknown TZID `Mars/Olympus`");

    let rule = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20270105T100000Z\r\n\
                RRULE:FREQ=WEEKLY;BYDAY=XX\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let found = error(rule, None);
    assert_eq!(found.line, Some(5));
    assert!(found.message.starts_with("invalid RRULE"), "{found}");

    let path = format!(
        "{}/tests/fixtures/ics/google-design-review.ics",
        env!("CARGO_MANIFEST_DIR")
    );
    let two = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        error(&two, None).message,
        "the calendar has 2 events; say which"
    );
    let missing = error(&two, Some("Design reveiw"));
    assert_eq!(
        missing.message,
        "the calendar has no event called `Design reveiw`"
    );
    assert!(missing.hint.unwrap().contains("`Design review`"));
}

proptest! {
    /// For any rule, `next` never goes back before `--after` and keeps
    /// increasing, and the due start is the one just before.
    #[test]
    fn next_is_after_and_strictly_increasing(
        freq in prop::sample::select(vec!["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]),
        interval in 1u16..4,
        by in prop::sample::select(vec![
            "", ";BYDAY=MO,WE", ";BYDAY=-1FR", ";BYMONTHDAY=-1", ";BYMONTHDAY=1,15",
            ";BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", ";BYMONTH=3,10", ";BYDAY=1SU",
        ]),
        hour in 0u32..24,
        minute in prop::sample::select(vec![0u32, 15, 30, 45]),
        tz in prop::sample::select(vec!["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC"]),
        after in 1_767_225_600i64..1_830_297_600,
    ) {
        let rule = format!("FREQ={freq};INTERVAL={interval}{by}");
        let dtstart = format!("2026-01-01T{hour:02}:{minute:02}:00");
        let Ok(series) = Series::from_rule(&rule, &dtstart, &[], zone(tz)) else {
            // Some draws name a skipped time or a rule the crate refuses.
            return Ok(());
        };
        let recurrence = Recurrence::Series(series);
        let after = DateTime::from_timestamp(after, 0).unwrap();
        let mut previous = after;
        for start in recurrence.starts_after(after).take(5) {
            let start = start.to_utc();
            prop_assert!(start > previous, "{rule} in {tz}: {start} after {previous}");
            let due = recurrence.latest_at_or_before(start).map(|s| s.to_utc());
            prop_assert_eq!(due, Some(start));
            previous = start;
        }
    }
}
