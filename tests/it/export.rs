//! `recplan export`: generated systemd units pass `systemd-analyze verify`
//! and fire when the plan's schedule does; generated CronJobs carry the
//! plan's schedule and policies.

mod dst;
mod kubernetes;

use std::process::Command;

fn recplan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_recplan"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

/// Writes plan `name` with `cron` in `zone` (and `schedule` lines of
/// `extra`) to `dir`.
fn write_plan(dir: &std::path::Path, name: &str, cron: &str, zone: &str, extra: &str) {
    std::fs::write(
        dir.join(format!("{name}.yaml")),
        format!(
            "mode: individual\napp_id: 0123456789abcdef0123456789abcdef\n\
             schedule:\n  cron: \"{cron}\"\n  timezone: {zone}\n  duration: 30m\n{extra}\
             channels:\n  - cname: c\n    uid: \"1\"\n\
             start:\n  storageConfig: {{vendor: 1, region: 0, bucket: b, accessKey: a, secretKey: s}}\n  \
             recordingConfig: {{channelType: 0, subscribeUidGroup: 0}}\n"
        ),
    )
    .unwrap();
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
    // Without credentials the services could not record.
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("warning: no --environment-file"),
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
    // Timer runs keep their state where the daemon and `status` look.
    for line in [
        "StateDirectory=recplan\n",
        "Environment=RECPLAN_STATE_DIR=%S/recplan\n",
        "User=recplan\n",
    ] {
        assert!(service.contains(line), "{line} in {service}");
    }
    assert!(!service.contains("EnvironmentFile="), "{service}");
}

/// `systemd-analyze security`'s overall exposure of `unit` (0 to 10).
fn exposure(unit: &std::path::Path) -> f64 {
    let output = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .output()
        .expect("systemd-analyze is installed (.ci/run installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let level = stdout
        .lines()
        .find_map(|line| {
            line.split_once("Overall exposure level for ")?
                .1
                .split_once(": ")
        })
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok());
    level.unwrap_or_else(|| {
        panic!(
            "no exposure level in: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn services_are_sandboxed_to_an_exposure_of_at_most_4() {
    let dir = tempfile::tempdir().unwrap();
    let run = recplan(&[
        "export",
        "systemd",
        "plans/weekly-standup.yaml",
        "--environment-file",
        "/etc/recplan/recplan.env",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0));
    let service = dir.path().join("recplan-weekly-standup.service");
    let text = std::fs::read_to_string(&service).unwrap();
    assert!(
        text.contains("EnvironmentFile=/etc/recplan/recplan.env\n"),
        "{text}"
    );
    let exported = exposure(&service);
    assert!(exported <= 4.0, "{exported}");
    let contrib_path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/recplan.service"
    ));
    let contrib = exposure(contrib_path);
    assert!(contrib <= 4.0, "contrib/recplan.service: {contrib}");
    // The daemon's example unit keeps the exported services' sandbox.
    let contrib_text = std::fs::read_to_string(contrib_path).unwrap();
    for line in recplan::export::SANDBOX.lines() {
        assert!(
            contrib_text.lines().any(|l| l == line),
            "{line} in contrib/recplan.service"
        );
    }
}

#[test]
fn nothing_to_export_is_exit_3() {
    let run = recplan(&["export", "kubernetes", "plans/demo.yaml"]);
    assert_eq!(run.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("warning: skipped demo: the plan has no schedule.cron"),
        "{stderr}"
    );
    assert!(stderr.contains("error: nothing to export"), "{stderr}");
    assert!(run.stdout.is_empty());
}

/// Regression: exporting the repository's own `plans/` failed as a whole
/// on the one plan without a schedule, and wrote nothing.
#[test]
fn a_directory_exports_every_plan_with_a_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let run = recplan(&[
        "export",
        "systemd",
        "plans",
        "--environment-file",
        "/etc/recplan/recplan.env",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr,
        "warning: skipped demo: the plan has no schedule.cron, so there is nothing to trigger\n"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "recplan-classrooms.service",
            "recplan-classrooms.timer",
            "recplan-dashboard-web.service",
            "recplan-dashboard-web.timer",
            "recplan-weekly-standup.service",
            "recplan-weekly-standup.timer"
        ]
    );
}

#[test]
fn an_invalid_plan_stops_the_export() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/plans/weekly-standup.yaml"),
        dir.path().join("weekly-standup.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.yaml"), "mode: sideways\n").unwrap();
    let run = recplan(&["export", "kubernetes", dir.path().to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&run.stderr).contains("broken.yaml:1:"));
    assert!(run.stdout.is_empty());
}

/// Regression: log lines carried colour escapes into the journal.
#[test]
fn logs_are_plain_text_off_a_terminal() {
    // A second long, without steps: a shorter run of a plan whose steps
    // fall past its end is refused before the simulator starts.
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("short.yaml");
    std::fs::write(
        &plan,
        "name: short\nmode: composite\nchannels: [{cname: room, uid: \"1001\"}]\nstart:\n  \
         storageConfig: {vendor: 1, region: 0, bucket: rec, accessKey: AK, secretKey: SK}\n  \
         recordingConfig: {channelType: 0}\n",
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_recplan"))
        .arg("run")
        .arg(&plan)
        .args(["--now", "--sim", "--duration", "1s"])
        .env("RECPLAN_LOG", "info")
        .env_remove("NO_COLOR")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains(" INFO "), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}
