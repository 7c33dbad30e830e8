//! The everyday commands, through the real binary: `init`, `history`,
//! `calendar`, `completions` and `man`, and the examples in `--help`.
//! Every run starts from an environment without AGORA_*, S3_* and
//! RECPLAN_* variables.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, TimeDelta, Utc};
use recplan::agora::{Mode, Recording};
use recplan::store::{Begin, NewSession, Store, Transition};
use serde_json::Value;

use crate::support::root;

mod calendar;

/// What a run printed and how it ended.
#[derive(Debug)]
pub(super) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary from the crate root with `args` and `env` only added to
/// a scrubbed environment.
pub(super) fn recplan<S: AsRef<OsStr>>(args: &[S], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recplan"));
    command.current_dir(root()).args(args);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if ["AGORA_", "S3_", "RECPLAN_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(name.as_ref());
        }
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("the recplan binary runs");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

pub(super) fn path_arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

// ---- init ----

#[test]
fn init_writes_a_plan_that_validates_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    for mode in ["individual", "composite", "web"] {
        let printed = recplan(&["init", "--mode", mode], &[]);
        assert_eq!(printed.code, 0, "{mode}: {printed:?}");
        assert!(
            printed
                .stdout
                .starts_with("# yaml-language-server: $schema=./recplan.schema.json\n"),
            "{mode}: {}",
            printed.stdout
        );
        assert!(printed.stdout.contains(&format!("\nmode: {mode} ")));
        let file = dir.path().join(format!("{mode}-starter.yaml"));
        std::fs::write(&file, &printed.stdout).unwrap();
        // Without any environment: only the absent values are warned about.
        let checked = recplan(&["validate", path_arg(&file)], &[]);
        assert_eq!(checked.code, 0, "{mode}: {checked:?}");
        assert_eq!(
            checked.stdout,
            format!("ok: {} ({mode}-starter)\n", file.display())
        );
        for line in checked.stderr.lines().filter(|l| l.contains(": warning: ")) {
            assert!(
                line.contains("is not set"),
                "{mode}: a warning not about the environment: {line}"
            );
        }
        assert!(!checked.stderr.contains(": error: "), "{}", checked.stderr);
    }
}

#[test]
fn init_names_the_plan_and_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.yaml");
    let run = recplan(
        &[
            "init",
            "--mode",
            "web",
            "--name",
            "team-dashboard",
            "--output",
            path_arg(&file),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("wrote "), "{}", run.stdout);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\nname: team-dashboard\n"), "{text}");
    let checked = recplan(&["validate", path_arg(&file)], &[]);
    assert_eq!(checked.code, 0, "{checked:?}");
    assert!(checked.stdout.contains("(team-dashboard)"), "{checked:?}");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.yaml");
    std::fs::write(&file, "# my own plan\n").unwrap();
    let refused = recplan(&["init", "--output", path_arg(&file)], &[]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("exists; pass --force"),
        "{refused:?}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# my own plan\n");

    let forced = recplan(&["init", "--output", path_arg(&file), "--force"], &[]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("mode: composite")
    );
}

#[test]
fn init_refuses_a_name_validate_would_refuse() {
    let run = recplan(&["init", "--name", "Weekly Standup"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("is not a plan name"), "{run:?}");
}

// ---- history ----

/// 2026-11-27T09:00:00Z plus `minutes`.
fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
        .unwrap()
        .to_utc()
        + TimeDelta::minutes(minutes)
}

fn session(plan: &str, cname: &str, uid: &str, start: i64) -> NewSession {
    NewSession {
        plan: plan.to_owned(),
        plan_path: format!("plans/{plan}.yaml").into(),
        plan_hash: "0f1e2d".to_owned(),
        mode: Mode::Composite,
        app_id: "0123456789abcdef0123456789abcdef".to_owned(),
        cname: cname.to_owned(),
        uid: uid.to_owned(),
        backup_uid: Some(format!("{uid}9")),
        scheduled_start: at(start),
        scheduled_end: at(start + 30),
        step_count: 1,
    }
}

/// Acquire and start `uid` for `new`, as the runner records them.
fn start(new: &NewSession, uid: &str, sid: &str) -> Vec<Transition> {
    let resource_id = format!("resource-{sid}");
    vec![
        Transition::AcquireIntent {
            uid: uid.to_owned(),
        },
        Transition::Acquired {
            resource_id: resource_id.clone(),
        },
        Transition::StartIntent {
            resource_id: resource_id.clone(),
            uid: uid.to_owned(),
        },
        Transition::Started {
            recording: Recording {
                mode: new.mode,
                resource_id,
                sid: sid.to_owned(),
                cname: new.cname.clone(),
                uid: uid.to_owned(),
            },
        },
    ]
}

fn stop(files: &[&str], upload: &str) -> Vec<Transition> {
    vec![
        Transition::StopIntent,
        Transition::Stopped {
            files: files.iter().map(|f| (*f).to_owned()).collect(),
            uploading_status: Some(upload.to_owned()),
            outcome: recplan::store::Outcome::Completed,
        },
    ]
}

/// Begins `new` at its start and records `transitions` a minute apart.
async fn record(store: &Store, new: &NewSession, transitions: &[Transition]) {
    let begun = new.scheduled_start;
    let Begin::Created(id) = store.begin(new, begun).await.unwrap() else {
        panic!("{} begun twice", new.cname);
    };
    for (minute, transition) in (1..).zip(transitions) {
        store
            .record(id, begun + TimeDelta::minutes(minute), transition)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", transition.kind()));
    }
}

/// A state store with four occurrences over three days: one recorded
/// plainly, one restarted after its recording died, one whose acquire
/// failed, and one still recording.
pub(super) async fn history_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let plain = session("weekly-standup", "standup-platform", "527841", 0);
    let mut transitions = start(&plain, "527841", "sid-1");
    transitions.extend(stop(
        &[
            "sid-1_standup-platform.m3u8",
            "sid-1_standup-platform_0.mp4",
        ],
        "uploaded",
    ));
    record(&store, &plain, &transitions).await;

    let restarted = session("weekly-standup", "standup-platform", "527841", 24 * 60);
    let mut transitions = start(&restarted, "527841", "sid-2");
    transitions.push(Transition::Lost {
        reason: "the recording exited (404 on query)".to_owned(),
    });
    transitions.extend(start(&restarted, "5278419", "sid-3"));
    transitions.extend(stop(&["sid-3_standup-platform.m3u8"], "backuped"));
    record(&store, &restarted, &transitions).await;

    let failed = session("classrooms", "north-room-101", "900101", 24 * 60 + 30);
    record(
        &store,
        &failed,
        &[
            Transition::AcquireIntent {
                uid: "900101".to_owned(),
            },
            Transition::Failed {
                reason: "acquire: 401 Unauthorized".to_owned(),
            },
        ],
    )
    .await;

    let running = session("classrooms", "north-room-102", "900102", 2 * 24 * 60);
    record(&store, &running, &start(&running, "900102", "sid-4")).await;
    dir
}

#[tokio::test]
async fn history_lists_outcomes_restarts_uploads_and_files() {
    let dir = history_store().await;
    let state_dir = path_arg(dir.path());
    let text = recplan(&["history", "--state-dir", state_dir], &[]);
    assert_eq!(text.code, 0, "{text:?}");
    insta::assert_snapshot!("history_text", text.stdout);

    let json = recplan(&["history", "--json", "--state-dir", state_dir], &[]);
    assert_eq!(json.code, 0, "{json:?}");
    let parsed: Value = serde_json::from_str(&json.stdout).expect("history --json prints JSON");
    assert_eq!(parsed[1]["restarts"], 1);
    assert_eq!(parsed[1]["starts"], 2);
    insta::assert_snapshot!("history_json", json.stdout);
}

#[tokio::test]
async fn history_filters_by_plan_and_since() {
    let dir = history_store().await;
    let state_dir = path_arg(dir.path());
    let ids = |args: &[&str]| -> Vec<i64> {
        let mut full = vec!["history", "--json", "--state-dir", state_dir];
        full.extend_from_slice(args);
        let run = recplan(&full, &[]);
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        let parsed: Value = serde_json::from_str(&run.stdout).unwrap();
        parsed
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&[]), [1, 2, 3, 4]);
    assert_eq!(ids(&["--plan", "classrooms"]), [3, 4]);
    assert_eq!(ids(&["--since", "2026-11-28"]), [2, 3, 4]);
    // A time, with an offset: 10:00+01:00 is 09:00Z, the second's start.
    assert_eq!(ids(&["--since", "2026-11-28T10:00:00+01:00"]), [2, 3, 4]);
    assert_eq!(ids(&["--since", "2026-11-28T10:00:01+01:00"]), [3, 4]);
    assert_eq!(
        ids(&["--plan", "weekly-standup", "--since", "2026-11-29"]),
        Vec::<i64>::new()
    );
    let text = recplan(
        &["history", "--plan", "nope", "--state-dir", state_dir],
        &[],
    );
    assert_eq!(text.stdout, "no occurrences recorded\n");

    let bad = recplan(&["history", "--since", "yesterday"], &[]);
    assert_eq!(bad.code, 2, "{bad:?}");
}

// ---- calendar ----

#[test]
fn calendar_of_the_example_plans() {
    // No secrets set: channel names do not need them.
    let run = recplan(
        &["calendar", "plans/", "--from", "2026-11-30", "--days", "7"],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "");
    assert!(run.stdout.lines().all(|line| line.chars().count() <= 80));
    insta::assert_snapshot!("calendar_text", run.stdout);
}

/// `plans/weekly-standup.yaml` with another name and cron line.
fn standup_variant(dir: &Path, name: &str, cron: &str, extra: &str) {
    let text = std::fs::read_to_string(root().join("plans/weekly-standup.yaml")).unwrap();
    let text = text
        .replace("name: weekly-standup", &format!("name: {name}"))
        .replace(
            "cron: \"0 9 * * MON-FRI\"",
            &format!("cron: \"{cron}\"{extra}"),
        );
    std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
}

#[test]
fn calendar_flags_two_plans_recording_one_channel_and_uid_at_once() {
    let dir = tempfile::tempdir().unwrap();
    standup_variant(dir.path(), "weekly-standup", "0 9 * * MON-FRI", "");
    // Mondays 09:15 for 30 minutes: inside Monday's stand-up.
    standup_variant(dir.path(), "standup-review", "15 9 * * MON", "");
    let run = recplan(
        &["calendar", path_arg(dir.path()), "--from", "2026-11-30"],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(
            "  standup-platform uid 527841: weekly-standup 2026-11-30 08:00-08:30 and\n    standup-review 08:15-08:45\n"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("overlaps: 1 (!)"), "{}", run.stdout);
    // Each plan's name over its channel's row, the overlap marked `!`.
    assert!(
        run.stdout
            .contains("\nstandup-review\n  standup-platform 527841 !08:15 "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\nweekly-standup\n  standup-platform 527841 !08:00 "),
        "{}",
        run.stdout
    );

    let svg = recplan(
        &[
            "calendar",
            path_arg(dir.path()),
            "--from",
            "2026-11-30",
            "--format",
            "svg",
        ],
        &[],
    );
    assert_eq!(svg.code, 0, "{svg:?}");
    assert_eq!(
        svg.stdout.matches("<rect class=\"recording\" x=").count(),
        5 + 1,
        "{}",
        svg.stdout
    );
    let red = svg.stdout.lines().filter(|line| {
        line.starts_with("<rect class=\"recording\"") && line.contains("fill=\"#e15759\"")
    });
    assert_eq!(red.count(), 2, "both in red");
}

#[test]
fn calendar_flags_a_plan_overlapping_itself_only_when_it_allows_overlap() {
    let dir = tempfile::tempdir().unwrap();
    // Three starts 20 minutes apart, 30 minutes each: each occurrence
    // runs into the next. Hours apart, so the two plans never meet.
    standup_variant(
        dir.path(),
        "allowing",
        "0,20,40 9 * * MON",
        "\n  overlap: allow",
    );
    standup_variant(
        dir.path(),
        "skipping",
        "0,20,40 14 * * MON",
        "\n  overlap: skip",
    );
    let run = recplan(
        &[
            "calendar",
            path_arg(dir.path()),
            "--from",
            "2026-11-30",
            "--days",
            "1",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("overlaps: 2 (!)"), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "\nallowing  (overlaps itself, see below)\n  standup-platform 527841 !08:00+2\n"
        ),
        "{}",
        run.stdout
    );
    // Marked as starting while the previous one runs, but no overlap:
    // the later starts are skipped.
    assert!(
        run.stdout.contains(
            "\nskipping  (overlaps itself, see below)\n  standup-platform 527841 ~13:00+2\n"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(": skipping 2026"), "{}", run.stdout);
}

#[test]
fn calendar_shows_a_channel_named_after_an_unset_variable_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("plans/classrooms.yaml")).unwrap();
    let text = text.replace("\"{{vars.school}}-room-101\"", "\"{{env.ROOM_NAME}}\"");
    let file = dir.path().join("rooms.yaml");
    std::fs::write(&file, text).unwrap();
    let args = [
        "calendar",
        path_arg(&file),
        "--from",
        "2026-11-30",
        "--days",
        "1",
    ];

    let unset = recplan(&args, &[]);
    assert_eq!(unset.code, 0, "{unset:?}");
    assert!(
        unset.stdout.contains("{{env.ROOM_NAME}}"),
        "{}",
        unset.stdout
    );
    assert!(unset.stdout.contains("north-room-102"), "{}", unset.stdout);
    assert!(
        unset.stderr.starts_with(&format!(
            "warning: {}: channels shown as written in the plan: `{{{{env.ROOM_NAME}}}}` uid `900101` names ROOM_NAME, not set here",
            file.display()
        )),
        "{}",
        unset.stderr
    );

    let set = recplan(&args, &[("ROOM_NAME", "aula")]);
    assert_eq!(set.code, 0, "{set:?}");
    assert!(
        set.stdout.contains("\nclassrooms\n  aula "),
        "{}",
        set.stdout
    );
    assert_eq!(set.stderr, "");
}

#[test]
fn calendar_days_start_where_a_dst_jump_skips_midnight() {
    use recplan::calendar::Window;
    use recplan::schedule::Tz;
    // Chile moves its clocks from 00:00 to 01:00 on 2026-09-06: that day
    // begins at 04:00Z (midnight at -04), and the next at 03:00Z (-03).
    let first = chrono::NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
    let window = Window::new(Tz::America__Santiago, first, 1).unwrap();
    let utc = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
    assert_eq!(window.start(), utc("2026-09-06T04:00:00Z"));
    assert_eq!(window.end(), utc("2026-09-07T03:00:00Z"));
    assert_eq!(window.day_of(utc("2026-09-06T03:59:59Z")), None);
    assert_eq!(window.day_of(utc("2026-09-06T04:00:00Z")), Some(0));
    assert_eq!(window.day_of(utc("2026-09-07T03:00:00Z")), None);
}

#[test]
fn calendar_svg_draws_a_rect_per_occurrence() {
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
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.ends_with("</svg>\n"));
    // Five stand-ups, five mornings of three classrooms, one dashboard.
    assert_eq!(
        svg.matches("<rect class=\"recording\"").count(),
        5 + 5 * 3 + 1
    );
    assert_eq!(
        svg.matches("<rect class=\"recording\"").count(),
        svg.matches("</rect>").count()
    );
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    assert!(
        !svg.lines()
            .any(|line| line.starts_with("<rect class=\"recording\"") && line.contains("#e15759")),
        "no overlaps among the examples"
    );
}

#[test]
fn calendar_reports_an_invalid_plan_and_shows_the_rest() {
    let run = recplan(
        &[
            "calendar",
            "plans/weekly-standup.yaml",
            "tests/fixtures/plans/invalid/cron-invalid.yaml",
            "--from",
            "2026-11-30",
        ],
        &[],
    );
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("cron-invalid.yaml:3:3: error:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("weekly-standup\n  standup-platform"),
        "{}",
        run.stdout
    );
}

// ---- completions, man, help ----

#[test]
fn completions_for_every_shell() {
    let bash = recplan(&["completions", "bash"], &[]);
    assert_eq!(bash.code, 0, "{bash:?}");
    assert!(bash.stdout.contains("_recplan()"), "{}", bash.stdout);
    assert!(
        bash.stdout.contains("complete -F _recplan"),
        "{}",
        bash.stdout
    );
    assert!(
        bash.stdout.contains("calendar"),
        "subcommands are completed"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let run = recplan(&["completions", shell], &[]);
        assert_eq!(run.code, 0, "{shell}: {run:?}");
        assert!(run.stdout.contains("recplan"), "{shell}");
    }
}

#[test]
fn man_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let run = recplan(&["man", "--out", path_arg(&out)], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    for page in [
        "recplan.1",
        "recplan-validate.1",
        "recplan-calendar.1",
        "recplan-history.1",
        "recplan-export.1",
        "recplan-export-systemd.1",
    ] {
        let text =
            std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH "), "{page} is a man page");
        assert!(run.stdout.contains(page), "{page} is reported");
    }
    assert!(!out.join("recplan-help.1").exists());

    let printed = recplan(&["man"], &[]);
    assert_eq!(printed.code, 0, "{printed:?}");
    assert!(
        printed.stdout.contains(".TH RECPLAN 1"),
        "{}",
        printed.stdout
    );
}

#[test]
fn every_commands_help_has_an_example() {
    let top = recplan(&["--help"], &[]);
    let commands: Vec<&str> = top
        .stdout
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        // A command's line is indented by two; its wrapped help by more.
        .filter_map(|line| {
            line.strip_prefix("  ")
                .filter(|rest| !rest.starts_with(' '))
        })
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(
        commands.contains(&"calendar") && commands.len() > 15,
        "{commands:?}"
    );
    let mut lines: Vec<Vec<&str>> = commands.iter().map(|c| vec![*c]).collect();
    lines.push(vec!["export", "systemd"]);
    lines.push(vec!["export", "kubernetes"]);
    for mut args in lines {
        args.push("--help");
        let run = recplan(&args, &[]);
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        assert!(
            run.stdout.contains("Example:") || run.stdout.contains("Examples:"),
            "{args:?} has no example:\n{}",
            run.stdout
        );
    }
}
