//! A plan whose schedule is a calendar file beside it: the daemon reads
//! the file again when it changes, with no signal, and the plan's
//! occurrences follow it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use recplan::daemon::{Control, Event};

use super::{at, drain, start, started};

/// A daily series at `time` (HHMMSS, Berlin) from 2026-11-27, 15 minutes
/// long, as a calendar app exports it (CRLF lines).
fn series(time: &str) -> String {
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//recplan tests//EN",
        "BEGIN:VEVENT",
        "UID:standup-1@example.com",
        "SUMMARY:Standup",
        &format!("DTSTART;TZID=Europe/Berlin:20261127T{time}"),
        "DURATION:PT15M",
        "RRULE:FREQ=DAILY",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    .join("\r\n")
}

const PLAN: &str = r#"
name: cal
mode: individual
schedule:
  ics: team.ics
channels: [{cname: "cal", uid: "4242"}]
start:
  token: tok
  storageConfig: {vendor: 1, region: 0, bucket: b, accessKey: ak, secretKey: sk}
  recordingConfig: {channelType: 0, maxIdleTime: 600, subscribeUidGroup: 0}
"#;

/// Rewrites `path` with `text` and moves its modification time on, so
/// that the change shows even within the file system's clock granularity.
fn rewrite(path: &Path, text: &str) {
    let before = std::fs::metadata(path).unwrap().modified().unwrap();
    std::fs::write(path, text).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(before.max(SystemTime::now()) + Duration::from_secs(10))
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_changed_calendar_file_moves_the_plans_occurrences() {
    let dir = tempfile::tempdir().unwrap();
    let calendar = dir.path().join("team.ics");
    std::fs::write(&calendar, series("090000")).unwrap();
    std::fs::write(dir.path().join("cal.yaml"), PLAN).unwrap();
    let mut running = start(dir.path(), at("2026-11-27T07:00:00Z")).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    // 09:00 in Berlin is 08:00Z; the meeting moves an hour later.
    rewrite(&calendar, &series("100000"));
    // Calendar files are looked at every minute.
    tokio::time::sleep(Duration::from_secs(3 * 3600)).await;
    running.control.send(Control::Shutdown).unwrap();
    running.daemon.await.unwrap().unwrap();
    let events = drain(&mut running.events);
    let loaded: Vec<_> = (events.iter())
        .filter_map(|event| match event {
            Event::Loaded { plan, next, .. } if plan == "cal" => *next,
            _ => None,
        })
        .collect();
    assert_eq!(
        loaded,
        [at("2026-11-27T08:00:00Z"), at("2026-11-27T09:00:00Z")],
        "{events:#?}"
    );
    assert_eq!(
        started(&events),
        [("cal".to_owned(), at("2026-11-27T09:00:00Z"), false)]
    );
}
