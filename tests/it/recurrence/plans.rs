//! Plans with `rrule` and `ics` schedules: validation, the commands that
//! read schedules, the exporters, fetched calendars and the feed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use recplan::plan::{Diagnostic, MissingEnv, PlanError, Source, Validated, validate};

use crate::support::{full_env, now, options, root};

/// A valid composite plan with `schedule` as its schedule block.
fn plan_text(schedule: &str) -> String {
    format!(
        "mode: composite\nschedule:\n{schedule}channels:\n  - cname: room\n    uid: \"1001\"\n\
         start:\n  storageConfig:\n    vendor: 1\n    region: 0\n    bucket: rec\n    \
         accessKey: AK\n    secretKey: SK\n  recordingConfig:\n    channelType: 0\n"
    )
}

fn check(path: &Path, text: &str) -> Result<Validated, PlanError> {
    validate(
        Source::from_text(path, text.to_owned()),
        &options(full_env(), MissingEnv::Refuse),
    )
}

fn errors_of(result: Result<Validated, PlanError>) -> Vec<Diagnostic> {
    match result {
        Err(PlanError::Invalid { diagnostics }) => diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect(),
        other => panic!("expected an invalid plan, got {other:?}"),
    }
}

fn starts(validated: &Validated, after: &str, n: usize) -> Vec<String> {
    let after = DateTime::parse_from_rfc3339(after).unwrap().to_utc();
    validated
        .plan
        .next_starts(after, n)
        .iter()
        .map(DateTime::to_rfc3339)
        .collect()
}

const RRULE: &str = "  rrule: \"FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH\"\n  dtstart: \"2026-12-01T09:30:00\"\n  \
                     timezone: Europe/Berlin\n  duration: 45m\n  exdates: [\"2026-12-03T09:30:00\"]\n  \
                     skip_dates: [2026-12-15]\n";

#[test]
fn an_rrule_plan_has_its_starts_without_exdates_and_skip_dates() {
    let plan = check(Path::new("rrule.yaml"), &plan_text(RRULE)).unwrap();
    assert_eq!(
        starts(&plan, "2026-11-27T08:00:00Z", 3),
        [
            "2026-12-01T09:30:00+01:00",
            "2026-12-17T09:30:00+01:00",
            "2026-12-29T09:30:00+01:00"
        ]
    );
    let due = plan.plan.due_start(
        DateTime::parse_from_rfc3339("2026-12-01T08:33:00Z")
            .unwrap()
            .to_utc(),
    );
    assert_eq!(
        due.map(|d| d.to_rfc3339()).as_deref(),
        Some("2026-12-01T09:30:00+01:00")
    );
}

#[test]
fn schedule_errors_point_at_the_field() {
    // (schedule block, line, column, path, message)
    let cases: &[(&str, u64, u64, &str, &str)] = &[
        (
            "  rrule: \"FREQ=WEEKLY;BYDAY=TU,XX\"\n  dtstart: \"2026-12-01T09:30:00\"\n  duration: 30m\n",
            3,
            3,
            "schedule.rrule",
            "invalid rrule: `XX` is not a valid weekday",
        ),
        (
            "  rrule: FREQ=DAILY\n  duration: 30m\n",
            3,
            3,
            "schedule.rrule",
            "an `rrule` needs a `dtstart`",
        ),
        (
            "  rrule: FREQ=DAILY\n  dtstart: \"2026-12-01 09:30\"\n  duration: 30m\n",
            4,
            3,
            "schedule.dtstart",
            "`2026-12-01 09:30` is not a local date and time",
        ),
        (
            "  rrule: FREQ=DAILY\n  dtstart: \"2026-12-01T09:30:00\"\n  exdates: [\"2026-12-02T09:30:00\", \"2026-12-02T10:00:00\"]\n  duration: 30m\n",
            5,
            36,
            "schedule.exdates[1]",
            "2026-12-02T10:00:00 is not an occurrence of the rule",
        ),
        (
            "  cron: \"0 9 * * *\"\n  rrule: FREQ=DAILY\n  dtstart: \"2026-12-01T09:30:00\"\n  duration: 30m\n",
            4,
            3,
            "schedule.rrule",
            "`cron` and `rrule` both say when the plan starts",
        ),
        (
            "  cron: \"0 9 * * *\"\n  event: Standup\n  duration: 30m\n",
            4,
            3,
            "schedule.event",
            "`event` belongs to an `ics` schedule",
        ),
        (
            "  rrule: FREQ=DAILY\n  dtstart: \"2026-12-01T09:30:00\"\n",
            2,
            1,
            "schedule",
            "the schedule has no `duration`",
        ),
    ];
    let mut failures = Vec::new();
    for (schedule, line, column, path, message) in cases {
        let errors = errors_of(check(Path::new("p.yaml"), &plan_text(schedule)));
        let found = errors.iter().any(|e| {
            (e.line, e.column) == (*line, *column) && e.path == *path && e.message.contains(message)
        });
        if !found {
            failures.push(format!(
                "{schedule:?}: expected {line}:{column} {path} {message:?}, got {errors:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A directory with `team.ics` (the Google fixture) and a plan beside it.
fn calendar_dir(schedule: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("tests/fixtures/ics/google-design-review.ics"),
        dir.path().join("team.ics"),
    )
    .unwrap();
    let plan = dir.path().join("review.yaml");
    std::fs::write(&plan, plan_text(schedule)).unwrap();
    (dir, plan)
}

#[test]
fn an_ics_plan_follows_the_series_with_its_own_lengths() {
    let (_dir, path) = calendar_dir("  ics: team.ics\n  event: Design review\n");
    let validated = recplan::plan::load(&path, &options(full_env(), MissingEnv::Refuse)).unwrap();
    assert_eq!(
        starts(&validated, "2027-01-06T00:00:00Z", 3),
        [
            "2027-01-14T15:00:00+01:00",
            "2027-01-19T10:00:00+01:00",
            "2027-02-09T10:00:00+01:00"
        ]
    );
    let plan = &validated.plan;
    assert_eq!(plan.timing().timezone.name(), "Europe/Berlin");
    assert_eq!(plan.timing().duration, Some(Duration::from_secs(3600)));
    // The moved instance records for its own 90 minutes.
    let moved = plan.localize(
        DateTime::parse_from_rfc3339("2027-01-14T14:00:00Z")
            .unwrap()
            .to_utc(),
    );
    let occurrence = plan.occurrence(moved, &full_env(), None).unwrap();
    assert_eq!(occurrence.duration, Duration::from_secs(5400));
}

#[test]
fn ics_errors_name_the_calendar_file_and_line() {
    let (dir, path) = calendar_dir("  ics: team.ics\n");
    let errors = errors_of(recplan::plan::load(
        &path,
        &options(full_env(), MissingEnv::Refuse),
    ));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let team = dir.path().join("team.ics");
    assert_eq!(errors[0].path, "schedule.ics");
    assert_eq!(
        errors[0].message,
        format!(
            "{}:27: the calendar has 2 events; say which",
            team.display()
        )
    );

    std::fs::write(
        &path,
        plan_text("  ics: team.ics\n  event: Design reveiw\n"),
    )
    .unwrap();
    let errors = errors_of(recplan::plan::load(
        &path,
        &options(full_env(), MissingEnv::Refuse),
    ));
    assert_eq!(errors[0].path, "schedule.event");
    assert!(
        errors[0]
            .hint
            .as_deref()
            .unwrap_or_default()
            .contains("`Design review`")
    );

    std::fs::write(&path, plan_text("  ics: missing.ics\n")).unwrap();
    let errors = errors_of(recplan::plan::load(
        &path,
        &options(full_env(), MissingEnv::Refuse),
    ));
    assert!(errors[0].message.starts_with("cannot read"), "{errors:#?}");
}

/// The real binary, from the crate root, in a clean environment.
fn recplan(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_recplan"))
        .current_dir(root())
        .args(args)
        .env_remove("RECPLAN_STATE")
        .env("XDG_STATE_HOME", std::env::temp_dir())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn commands_read_rrule_and_ics_schedules() {
    let (dir, path) = calendar_dir("  ics: team.ics\n  event: Standup\n");
    let rule = dir.path().join("rule.yaml");
    std::fs::write(&rule, plan_text(RRULE)).unwrap();
    let (rule, path) = (rule.to_str().unwrap(), path.to_str().unwrap());

    let (code, stdout, stderr) = recplan(&[
        "next",
        rule,
        "-n",
        "2",
        "--after",
        "2026-12-01T09:30:00+01:00",
    ]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "2026-12-17T09:30:00+01:00\n2026-12-29T09:30:00+01:00\n"),
        "{stderr}"
    );
    let (code, stdout, stderr) = recplan(&["next", path, "--after", "2026-12-23T12:00:00Z"]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "2026-12-25T09:15:00+01:00\n"),
        "{stderr}"
    );

    // Skipped with a warning; with nothing left, exit 3.
    let (code, stdout, stderr) = recplan(&["export", "systemd", rule]);
    assert_eq!(code, 3, "{stdout}");
    assert!(
        stderr.contains(
            "cannot be expressed by cron, systemd timers or CronJobs, which know cron lines only; \
             run the plan with `recplan daemon` instead"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = recplan(&["export", "kubernetes", path]);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("`Standup` from the calendar cannot be expressed by cron"),
        "{stderr}"
    );
}

#[test]
fn export_ics_writes_one_event_per_plan_and_occurrence() {
    let dir = tempfile::tempdir().unwrap();
    let today = Utc::now().date_naive();
    let schedule = format!(
        "  rrule: \"FREQ=DAILY;COUNT=3\"\n  dtstart: \"{}T09:30:00\"\n  timezone: Europe/Berlin\n  duration: 45m\n",
        today.succ_opt().unwrap()
    );
    let text = plan_text(&schedule).replace(
        "  - cname: room\n    uid: \"1001\"\n",
        "  - cname: room\n    uid: \"1001\"\n  - cname: hall\n    uid: \"1002\"\n",
    );
    let plan = dir.path().join("standup.yaml");
    std::fs::write(&plan, text).unwrap();
    let (code, stdout, stderr) = recplan(&["export", "ics", plan.to_str().unwrap(), "--days", "7"]);
    assert_eq!(code, 0, "{stderr}");
    let feed = stdout.replace("\r\n ", "");
    assert!(feed.starts_with("BEGIN:VCALENDAR\r\n"), "{feed}");
    assert_eq!(feed.matches("BEGIN:VEVENT").count(), 3, "{feed}");
    assert_eq!(feed.matches("SUMMARY:Recording: standup").count(), 3);
    assert!(
        feed.contains("DESCRIPTION:Channels: hall (uid 1002)\\, room (uid 1001)\\nPlan: "),
        "{feed}"
    );
    let first = today.succ_opt().unwrap().format("%Y%m%d");
    assert!(
        feed.contains(&format!("UID:standup-{first}T083000Z@recplan")),
        "{feed}"
    );
    assert!(feed.contains(&format!("DTEND:{first}T091500Z")), "{feed}");
}

#[test]
fn export_ics_lists_a_plan_every_minute_in_part_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("minutely.yaml");
    std::fs::write(
        &plan,
        plan_text("  cron: \"* * * * *\"\n  timezone: UTC\n  duration: 30s\n"),
    )
    .unwrap();
    let (code, stdout, stderr) = recplan(&["export", "ics", plan.to_str().unwrap(), "--days", "1"]);
    assert_eq!(code, 0, "{stderr}");
    let feed = stdout.replace("\r\n ", "");
    assert_eq!(
        feed.matches("BEGIN:VEVENT").count(),
        recplan::export::MAX_EVENTS_PER_PLAN,
        "{stderr}"
    );
    // A day from now holds 1,440 or 1,441 starts, by where the minute is.
    assert!(
        feed.contains("DESCRIPTION:Listed in part: minutely: the first 1000 of 144"),
        "{}",
        &feed[..2000]
    );
    let last = feed.rfind("BEGIN:VEVENT").unwrap();
    assert!(
        feed[last..].contains("later recordings of this plan are not listed"),
        "{}",
        &feed[last..]
    );
}

/// Serves `body` (or a 500 when `None`) at every path on 127.0.0.1, with
/// the body switchable while it runs.
async fn calendar_server(
    body: Option<String>,
) -> (String, tokio::sync::watch::Sender<Option<String>>) {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let (set, current) = tokio::sync::watch::channel(body);
    let app = axum::Router::new().fallback(move || {
        let current = current.clone();
        async move {
            match current.borrow().clone() {
                Some(body) => body.into_response(),
                None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/private-5ecret/basic.ics"), set)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_calendar_keeps_its_last_good_copy() {
    let text = std::fs::read_to_string(root().join("tests/fixtures/ics/google-design-review.ics"))
        .unwrap();
    let (url, set) = calendar_server(Some(text.clone())).await;
    let plan = plan_text(&format!("  ics: \"{url}\"\n  event: Standup\n"));
    let first = tokio::task::spawn_blocking({
        let plan = plan.clone();
        move || check(Path::new("remote.yaml"), &plan)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    assert_eq!(
        starts(&first, "2026-12-23T12:00:00Z", 1),
        ["2026-12-25T09:15:00+01:00"]
    );

    // The server fails: the copy stays, and validation says so.
    set.send_replace(None);
    assert!(recplan::plan::ics_source::refresh(&url, now()).await);
    let stale = check(Path::new("remote.yaml"), &plan).unwrap();
    assert_eq!(
        starts(&stale, "2026-12-23T12:00:00Z", 1),
        ["2026-12-25T09:15:00+01:00"]
    );
    let warning = &stale.warnings[0];
    assert_eq!(warning.path, "schedule.ics");
    assert!(
        warning
            .message
            .contains("could not be fetched (the server answered 500"),
        "{warning}"
    );
    assert!(!warning.message.contains("5ecret"), "{warning}");

    // It answers again, with the stand-up moved to 09:45.
    set.send_replace(Some(
        text.replace("T091500", "T094500")
            .replace("T093000", "T100000"),
    ));
    assert!(recplan::plan::ics_source::refresh(&url, now()).await);
    let fresh = check(Path::new("remote.yaml"), &plan).unwrap();
    assert!(fresh.warnings.is_empty());
    assert_eq!(
        starts(&fresh, "2026-12-23T12:00:00Z", 1),
        ["2026-12-25T09:45:00+01:00"]
    );
    assert_ne!(fresh.plan.content_hash(), first.plan.content_hash());
}

#[test]
fn plain_http_is_only_for_loopback() {
    let errors = errors_of(check(
        Path::new("p.yaml"),
        &plan_text("  ics: \"http://calendar.example/team.ics\"\n"),
    ));
    assert_eq!(errors[0].path, "schedule.ics");
    assert!(
        errors[0]
            .message
            .contains("use https (or http to loopback)"),
        "{errors:#?}"
    );
}

#[tokio::test]
async fn the_daemon_serves_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let schedule = format!(
        "  rrule: \"FREQ=DAILY\"\n  dtstart: \"{}T09:30:00\"\n  duration: 30m\n",
        Utc::now().date_naive()
    );
    std::fs::write(dir.path().join("daily.yaml"), plan_text(&schedule)).unwrap();
    let routes = recplan::daemon::calendars::router(vec![dir.path().to_owned()], full_env());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes).await });
    let response = reqwest::get(format!("http://{address}/calendar.ics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    // 28 days from today; today's 09:30 may have passed or not.
    let events = body.matches("BEGIN:VEVENT").count();
    assert!((27..=28).contains(&events), "{events} events:\n{body}");
    assert!(body.contains("SUMMARY:Recording: daily"));
}
