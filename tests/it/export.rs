//! `recplan export`: generated systemd units pass `systemd-analyze verify`
//! and fire when the plan's schedule does; generated CronJobs carry the
//! plan's schedule and policies.

use std::process::Command;

use chrono::{DateTime, NaiveDateTime, Utc};
use recplan::export::on_calendar;
use recplan::schedule::{Schedule, parse_timezone};

fn recplan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_recplan"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let run = recplan(&[
        "export",
        "systemd",
        "plans/weekly-standup.yaml",
        "plans/classrooms.yaml",
        "plans/dashboard-web.yaml",
        "--out",
        out,
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut units: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path().to_str().unwrap().to_owned())
        .collect();
    units.sort();
    assert_eq!(units.len(), 6, "{units:?}");
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze is installed (.ci/run installs it)");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{stderr}");
    let timer = std::fs::read_to_string(dir.path().join("recplan-classrooms.timer")).unwrap();
    assert!(
        timer.contains("OnCalendar=Mon..Fri *-*-* 08:30:00 America/New_York\n"),
        "{timer}"
    );
    let service = std::fs::read_to_string(dir.path().join("recplan-classrooms.service")).unwrap();
    assert!(service.contains(" run "), "{service}");
    assert!(service.contains("KillSignal=SIGTERM\n"), "{service}");
}

/// The next elapses systemd computes for `expressions` (any of them), in UTC.
fn systemd_elapses(expressions: &[String], iterations: usize) -> Vec<DateTime<Utc>> {
    let output = Command::new("systemd-analyze")
        .env("TZ", "UTC")
        .arg("calendar")
        .arg(format!("--iterations={iterations}"))
        .args(expressions)
        .output()
        .expect("systemd-analyze is installed (.ci/run installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut elapses: Vec<DateTime<Utc>> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (label, value) = line.trim().split_once(": ")?;
            if label != "Next elapse" && !label.starts_with("Iter.") {
                return None;
            }
            // "Mon 2026-11-30 08:00:00 UTC"
            let text = value.trim().strip_suffix(" UTC")?;
            let (_, stamp) = text.split_once(' ')?;
            Some(
                NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S")
                    .ok()?
                    .and_utc(),
            )
        })
        .collect();
    elapses.sort();
    elapses.dedup();
    elapses.truncate(iterations);
    elapses
}

#[test]
fn systemd_fires_when_the_plan_does() {
    let cases = [
        ("0 9 * * MON-FRI", "Europe/Berlin"),
        ("30 8 * * 1-5", "America/New_York"),
        ("0 9 13 * FRI", "Europe/Berlin"),
        ("0 12 L * *", "Asia/Tokyo"),
        ("15 7 1,15 * *", "UTC"),
        ("0 0 * * 0", "Australia/Lord_Howe"),
        ("0 18 * JAN,FEB,MAR SAT", "Europe/London"),
    ];
    for (cron, zone) in cases {
        let schedule = Schedule::new(cron, parse_timezone(zone).unwrap()).unwrap();
        let expressions = on_calendar(&schedule).unwrap();
        // A boundary may pass between the two computations: try twice.
        let matched = (0..2).any(|_| {
            let now = Utc::now();
            let ours: Vec<DateTime<Utc>> = schedule
                .starts_after(now)
                .take(5)
                .map(|t| t.with_timezone(&Utc))
                .collect();
            ours == systemd_elapses(&expressions, 5)
        });
        assert!(matched, "{cron} in {zone}: {expressions:?}");
    }
}

#[test]
fn kubernetes_cron_jobs_carry_the_schedule_and_policies() {
    let run = recplan(&[
        "export",
        "kubernetes",
        "plans/weekly-standup.yaml",
        "--image",
        "registry.example.com/recplan:1",
        "--secret",
        "agora",
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8(run.stdout).unwrap();
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
    assert_eq!(documents.len(), 2);
    let (config_map, cron_job) = (&documents[0], &documents[1]);
    assert_eq!(config_map["kind"], "ConfigMap");
    let plan_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/plans/weekly-standup.yaml"
    ))
    .unwrap();
    assert_eq!(
        config_map["data"]["weekly-standup.yaml"],
        plan_text.as_str()
    );
    assert_eq!(cron_job["apiVersion"], "batch/v1");
    let spec = &cron_job["spec"];
    assert_eq!(spec["schedule"], "0 9 * * 1-5");
    assert_eq!(spec["timeZone"], "Europe/Berlin");
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    assert_eq!(spec["startingDeadlineSeconds"], 300);
    let job = &spec["jobTemplate"]["spec"];
    assert_eq!(job["backoffLimit"], 0);
    let container = &job["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/recplan:1");
    assert_eq!(
        container["args"],
        serde_json::json!(["run", "/etc/recplan/plans/weekly-standup.yaml"])
    );
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], "agora");
}

#[test]
fn a_plan_without_a_schedule_is_refused() {
    let run = recplan(&["export", "kubernetes", "plans/demo.yaml"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("no schedule.cron"));
}
