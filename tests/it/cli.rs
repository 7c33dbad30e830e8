//! The real binary: exit codes, where output goes, and that secrets never
//! reach it. Every run starts from an environment without AGORA_*, S3_* and
//! RECPLAN_* variables and sets the ones it needs.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DurationRound, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::support::{APP_CERTIFICATE, APP_ID, root};

/// Planted values, unique enough to search output for.
const RTC_TOKEN: &str = "RTCTOKEN-9e2b7";
const ACCESS_KEY: &str = "S3ACCESS-a41f0";
const SECRET_KEY: &str = "S3SECRET-5d1c9";

/// A command line of the real binary, run from the crate root.
/// The real binary, with its own state directory that lives as long as the
/// value.
struct Recplan(
    Command,
    #[allow(dead_code, reason = "held so the directory outlives the command")] tempfile::TempDir,
);

/// What a run printed and how it ended.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Recplan {
    fn new<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> Recplan {
        let mut command = Command::new(env!("CARGO_BIN_EXE_recplan"));
        command.current_dir(root()).args(args);
        // Never the user's own state directory.
        let state = tempfile::tempdir().expect("a temporary state directory");
        command.env("XDG_STATE_HOME", state.path());
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if ["AGORA_", "S3_", "RECPLAN_"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
            {
                command.env_remove(name.as_ref());
            }
        }
        Recplan(command, state)
    }

    fn env(mut self, name: &str, value: &str) -> Recplan {
        self.0.env(name, value);
        self
    }

    /// Every variable the example plans use, secrets planted.
    fn with_secrets(self) -> Recplan {
        self.env("AGORA_APP_ID", APP_ID)
            .env("AGORA_RTC_TOKEN", RTC_TOKEN)
            .env("S3_ACCESS_KEY", ACCESS_KEY)
            .env("S3_SECRET_KEY", SECRET_KEY)
    }

    /// Runs with stdout (and, with `stderr`, stderr too) a pipe whose
    /// reading end is already closed, as `recplan … | head -1` leaves it once
    /// `head` has exited. Closed before the binary starts, so every write
    /// fails, however fast the binary is.
    fn run_into_closed_pipe(mut self, stderr: bool) -> Run {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        if stderr {
            self.0
                .stderr(writer.try_clone().expect("a second pipe end"));
        }
        self.0.stdout(writer);
        self.run()
    }

    fn run(mut self) -> Run {
        let output = self.0.output().expect("the recplan binary runs");
        Run {
            code: output.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        }
    }
}

#[test]
fn validate_accepts_the_example_plans() {
    let run = Recplan::new(["validate", "plans/"]).with_secrets().run();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "ok: plans/classrooms.yaml (classrooms)\n\
         ok: plans/dashboard-web.yaml (dashboard-web)\n\
         ok: plans/demo.yaml (demo)\n\
         ok: plans/weekly-standup.yaml (weekly-standup)\n"
    );
    assert_eq!(run.stderr, "4 plan(s) valid\n");
}

#[test]
fn validate_only_warns_about_absent_environment_values() {
    let run = Recplan::new(["validate", "plans/weekly-standup.yaml"]).run();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "ok: plans/weekly-standup.yaml (weekly-standup)\n"
    );
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.contains(": warning: "))
        .collect();
    // app_id is not in the file: its warning is placed at the top, not on
    // whichever key happens to come first.
    assert_eq!(
        warnings,
        [
            "plans/weekly-standup.yaml:1:1: warning: app_id: the plan has no `app_id`, and AGORA_APP_ID is not set",
            "plans/weekly-standup.yaml:19:3: warning: start.token: environment variable AGORA_RTC_TOKEN is not set",
            "plans/weekly-standup.yaml:24:5: warning: start.storageConfig.accessKey: environment variable S3_ACCESS_KEY is not set",
            "plans/weekly-standup.yaml:25:5: warning: start.storageConfig.secretKey: environment variable S3_SECRET_KEY is not set",
        ]
    );
}

#[test]
fn validate_quiet_prints_errors_only() {
    let run = Recplan::new(["validate", "--quiet", "plans/"]).run();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
    let run = Recplan::new([
        "validate",
        "-q",
        "plans/demo.yaml",
        "tests/fixtures/plans/invalid/uid-zero.yaml",
    ])
    .run();
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    assert!(run.stderr.contains("uid-zero.yaml:"), "{}", run.stderr);
    assert!(
        run.stderr.ends_with("1 of 2 plan(s) invalid\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn validate_reports_an_invalid_plan_as_file_line_column() {
    let file = "tests/fixtures/plans/invalid/uid-zero.yaml";
    let run = Recplan::new(["validate", file]).with_secrets().run();
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with(&format!(
            "{file}:6:5: error: channels[0].uid: uid `0` is not an integer from 1 to 4294967295\n"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("= hint: "), "{}", run.stderr);
    assert!(
        run.stderr.ends_with("1 of 1 plan(s) invalid\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn validate_checks_every_file_and_fails_if_any_is_invalid() {
    let run = Recplan::new([
        "validate",
        "plans/",
        "tests/fixtures/plans/invalid/cron-invalid.yaml",
    ])
    .with_secrets()
    .run();
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("tests/fixtures/plans/invalid/cron-invalid.yaml:3:3: error: schedule.cron:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.ends_with("1 of 5 plan(s) invalid\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn validate_require_env_makes_absent_values_errors() {
    let file = "tests/fixtures/plans/valid/env-templates.yaml";
    let lenient = Recplan::new(["validate", file])
        .env("AGORA_APP_ID", APP_ID)
        .env("RECPLAN_TEST_SECRET", "set")
        .run();
    assert_eq!(lenient.code, 0, "{lenient:?}");
    assert!(
        lenient.stderr.contains(&format!(
            "{file}:12:5: warning: start.storageConfig.accessKey: environment variable RECPLAN_TEST_KEY is not set"
        )),
        "{}",
        lenient.stderr
    );

    let strict = Recplan::new(["validate", "--require-env", file])
        .env("AGORA_APP_ID", APP_ID)
        .env("RECPLAN_TEST_SECRET", "set")
        .run();
    assert_eq!(strict.code, 3, "{strict:?}");
    assert!(
        strict.stderr.contains(&format!(
            "{file}:12:5: error: start.storageConfig.accessKey: environment variable RECPLAN_TEST_KEY is not set"
        )),
        "{}",
        strict.stderr
    );
    assert!(
        !strict.stderr.contains("RECPLAN_TEST_SECRET"),
        "{}",
        strict.stderr
    );
}

#[test]
fn validate_rejects_a_directory_without_plans() {
    let dir = tempfile::tempdir().unwrap();
    let run = Recplan::new([OsStr::new("validate"), dir.path().as_os_str()]).run();
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .contains("no plan files (*.yaml, *.yml) in this directory"),
        "{}",
        run.stderr
    );
}

#[test]
fn validate_format_json_gives_each_finding_its_place_field_and_hint() {
    let invalid = "tests/fixtures/plans/invalid/uid-zero.yaml";
    let run = Recplan::new(["validate", "--format", "json", "plans/demo.yaml", invalid])
        .with_secrets()
        .run();
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.stderr, "", "one document on stdout, nothing else");
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_eq!(
        (report["valid"].clone(), report["invalid"].clone()),
        (json!(1), json!(1))
    );
    let plans = report["plans"].as_array().unwrap();
    assert_eq!(
        plans[0],
        json!({"file": "plans/demo.yaml", "name": "demo", "valid": true, "diagnostics": []})
    );
    assert_eq!(
        (plans[1]["file"].as_str(), plans[1]["valid"].as_bool()),
        (Some(invalid), Some(false))
    );
    let finding = &plans[1]["diagnostics"][0];
    assert_eq!(
        (
            &finding["severity"],
            &finding["file"],
            &finding["line"],
            &finding["column"],
            &finding["field"],
            &finding["message"],
        ),
        (
            &json!("error"),
            &json!(invalid),
            &json!(6),
            &json!(5),
            &json!("channels[0].uid"),
            &json!("uid `0` is not an integer from 1 to 4294967295"),
        )
    );
    assert!(
        finding["hint"]
            .as_str()
            .is_some_and(|h| h.contains("quoted integer")),
        "{finding}"
    );
}

#[test]
fn validate_format_json_keeps_warnings_unless_quiet() {
    let warned = Recplan::new(["validate", "--format", "json", "plans/weekly-standup.yaml"]).run();
    assert_eq!(warned.code, 0, "{warned:?}");
    let report: Value = serde_json::from_str(&warned.stdout).expect("JSON");
    let fields: Vec<&str> = report["plans"][0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "app_id",
            "start.token",
            "start.storageConfig.accessKey",
            "start.storageConfig.secretKey"
        ]
    );
    let quiet = Recplan::new([
        "validate",
        "-q",
        "--format",
        "json",
        "plans/weekly-standup.yaml",
    ])
    .run();
    assert_eq!(quiet.code, 0, "{quiet:?}");
    let report: Value = serde_json::from_str(&quiet.stdout).expect("JSON");
    assert_eq!(report["plans"][0]["diagnostics"], json!([]));
}

#[test]
fn validate_format_sarif_annotates_each_finding() {
    let invalid = "tests/fixtures/plans/invalid/uid-zero.yaml";
    let run = Recplan::new(["validate", "--format", "sarif", "plans/", invalid])
        .with_secrets()
        .run();
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.stderr, "");
    let log: Value = serde_json::from_str(&run.stdout).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    let sarif_run = &log["runs"][0];
    assert_eq!(sarif_run["tool"]["driver"]["name"], "recplan");
    let results = sarif_run["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{results:?}");
    let result = &results[0];
    assert_eq!(result["ruleId"], "channels.uid");
    assert_eq!(result["level"], "error");
    let text = result["message"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("channels[0].uid: uid `0` is not an integer"),
        "{text}"
    );
    assert!(
        text.contains("\nhint: write the recorder's uid as a quoted integer"),
        "{text}"
    );
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], invalid);
    assert_eq!(
        location["region"],
        json!({"startLine": 6, "startColumn": 5})
    );
    // Every result's rule is declared.
    let rules: Vec<&Value> = sarif_run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| &rule["id"])
        .collect();
    assert_eq!(rules, [&json!("channels.uid")]);
}

#[test]
fn validate_format_is_text_unless_asked() {
    let run = Recplan::new(["validate", "plans/demo.yaml"])
        .with_secrets()
        .run();
    assert_eq!(run.stdout, "ok: plans/demo.yaml (demo)\n");
    let wrong = Recplan::new(["validate", "--format", "xml", "plans/demo.yaml"]).run();
    assert_eq!(wrong.code, 2, "{wrong:?}");
    assert!(
        wrong
            .stderr
            .contains("[possible values: text, json, sarif]"),
        "{}",
        wrong.stderr
    );
}

#[test]
fn render_never_prints_secrets() {
    for plan in [
        "plans/demo.yaml",
        "plans/weekly-standup.yaml",
        "plans/classrooms.yaml",
        "plans/dashboard-web.yaml",
    ] {
        for json in [false, true] {
            let mut args = vec!["render", plan, "--at", "2026-11-27T09:00:00Z"];
            if json {
                args.push("--json");
            }
            let run = Recplan::new(&args).with_secrets().run();
            assert_eq!(run.code, 0, "{args:?}: {run:?}");
            let output = format!("{}{}", run.stdout, run.stderr);
            for secret in [RTC_TOKEN, ACCESS_KEY, SECRET_KEY] {
                assert!(!output.contains(secret), "{args:?} printed {secret}");
            }
            assert!(output.contains("\"accessKey\": \"***\""), "{args:?}");
            assert!(output.contains("\"secretKey\": \"***\""), "{args:?}");
            // The App ID is not a secret: the URLs carry it.
            assert!(output.contains(APP_ID), "{args:?}");
        }
    }
}

#[test]
fn render_json_lists_every_call_at_its_offset() {
    let run = Recplan::new([
        "render",
        "plans/demo.yaml",
        "--at",
        "2026-11-27T09:00:00Z",
        "--json",
    ])
    .with_secrets()
    .run();
    assert_eq!(run.code, 0, "{run:?}");
    let rendered: Value = serde_json::from_str(&run.stdout).expect("render --json prints JSON");
    assert_eq!(rendered["plan"], "demo");
    assert_eq!(rendered["start"], "2026-11-27T09:00:00Z");
    assert_eq!(rendered["end"], "2026-11-27T09:00:40Z");
    assert_eq!(rendered["duration"], "40s");
    let sessions = rendered["sessions"].as_array().unwrap();
    let cnames: Vec<&str> = sessions
        .iter()
        .map(|s| s["cname"].as_str().unwrap())
        .collect();
    assert_eq!(cnames, ["demo-demo", "demo-demo-backstage"]);
    let base = format!("https://api.agora.io/v1/apps/{APP_ID}/cloud_recording");
    let started = format!("{base}/resourceid/<resourceId>/sid/<sid>/mode/mix");
    for session in sessions {
        let calls: Vec<(&str, &str, &str)> = session["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["at"].as_str().unwrap(),
                    c["method"].as_str().unwrap(),
                    c["url"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            calls,
            [
                ("0s", "POST", format!("{base}/acquire").as_str()),
                (
                    "0s",
                    "POST",
                    format!("{base}/resourceid/<resourceId>/mode/mix/start").as_str()
                ),
                ("5s", "GET", format!("{started}/query").as_str()),
                ("15s", "POST", format!("{started}/updateLayout").as_str()),
                ("25s", "POST", format!("{started}/update").as_str()),
                ("40s", "POST", format!("{started}/stop").as_str()),
            ]
        );
    }
    let calls = &sessions[0]["calls"];
    assert_eq!(
        calls[1]["body"]["clientRequest"]["storageConfig"],
        json!({
            "vendor": 1,
            "region": 0,
            "bucket": "demo-bucket",
            "accessKey": "***",
            "secretKey": "***",
            "fileNamePrefix": ["demo", "20261127"],
        })
    );
    assert_eq!(
        calls[3]["body"],
        json!({
            "cname": "demo-demo",
            "uid": "527841",
            "clientRequest": {"mixedVideoLayout": 2, "maxResolutionUid": "1001"},
        })
    );
    assert_eq!(calls[2].get("body"), None, "query has no body");
}

#[test]
fn render_refuses_an_invalid_plan() {
    let invalid = Recplan::new(["render", "tests/fixtures/plans/invalid/uid-zero.yaml"])
        .with_secrets()
        .run();
    assert_eq!(invalid.code, 3, "{invalid:?}");
    assert_eq!(invalid.stdout, "");
}

/// Regression: `render` refused to run without the secrets it only ever
/// shows as `***`.
#[test]
fn render_shows_unset_secrets_masked_and_refuses_other_unset_values() {
    let at = ["--at", "2026-11-27T09:00:00+01:00"];
    let secrets_unset = Recplan::new(["render", "plans/weekly-standup.yaml", at[0], at[1]])
        .env("AGORA_APP_ID", APP_ID)
        .run();
    assert_eq!(secrets_unset.code, 0, "{secrets_unset:?}");
    for field in ["token", "accessKey", "secretKey"] {
        assert!(
            secrets_unset
                .stdout
                .contains(&format!("\"{field}\": \"***\"")),
            "{field}: {}",
            secrets_unset.stdout
        );
    }
    assert!(
        secrets_unset.stderr.contains(
            "plans/weekly-standup.yaml:19:3: warning: start.token: environment variable AGORA_RTC_TOKEN is not set; shown as ***"
        ),
        "{}",
        secrets_unset.stderr
    );
    assert!(
        !secrets_unset.stderr.contains("error"),
        "{}",
        secrets_unset.stderr
    );

    // The App ID is in every URL: without it there is nothing to show.
    let no_app_id = Recplan::new(["render", "plans/weekly-standup.yaml", at[0], at[1]]).run();
    assert_eq!(no_app_id.code, 3, "{no_app_id:?}");
    assert_eq!(no_app_id.stdout, "");
    assert!(
        no_app_id.stderr.contains(
            "plans/weekly-standup.yaml:1:1: error: app_id: the plan has no `app_id`, and AGORA_APP_ID is not set"
        ),
        "{}",
        no_app_id.stderr
    );

    // A value that shapes a request is required even in a secret's company.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("plans/weekly-standup.yaml"))
        .unwrap()
        .replace(
            "bucket: acme-recordings",
            "bucket: \"{{env.RECPLAN_BUCKET}}\"",
        );
    let plan = dir.path().join("bucket.yaml");
    std::fs::write(&plan, text).unwrap();
    let run = Recplan::new([
        OsStr::new("render"),
        plan.as_os_str(),
        OsStr::new(at[0]),
        OsStr::new(at[1]),
    ])
    .env("AGORA_APP_ID", APP_ID)
    .run();
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(
            "bucket.yaml:23:5: error: start.storageConfig.bucket: environment variable RECPLAN_BUCKET is not set"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(SECRET_KEY));
}

#[test]
fn render_masks_a_minted_token_and_never_shows_the_certificate() {
    let render = |certificate: &str, extra: &[&str]| {
        let mut args = vec![
            "render",
            "tests/fixtures/plans/valid/minted-token.yaml",
            "--at",
            "2026-11-27T09:00:00+01:00",
        ];
        args.extend_from_slice(extra);
        Recplan::new(args)
            .env("AGORA_APP_ID", APP_ID)
            .env("AGORA_APP_CERTIFICATE", certificate)
            .run()
    };
    let wrong = &APP_CERTIFICATE[..31];
    let text = render(APP_CERTIFICATE, &[]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains(r#""token": "***""#), "{}", text.stdout);
    assert!(
        text.stdout
            .contains("(token minted for the starting uid as start is sent, valid 30m)"),
        "{}",
        text.stdout
    );
    let json = render(APP_CERTIFICATE, &["--json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let rendered: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(
        rendered["sessions"][0]["calls"][1]["body"]["clientRequest"]["token"],
        "***"
    );
    // Refused: an occurrence outliving the token, and a wrong certificate.
    let too_long = render(APP_CERTIFICATE, &["--duration", "31m"]);
    assert_eq!(too_long.code, 3, "{too_long:?}");
    assert!(
        too_long.stderr.contains(
            "minted-token.yaml:8:3: error: rtc_token.lifetime: a token living 30m ends before the occurrence does (31m long)"
        ),
        "{}",
        too_long.stderr
    );
    let malformed = render(wrong, &[]);
    assert_eq!(malformed.code, 3, "{malformed:?}");
    assert!(
        malformed
            .stderr
            .contains("error: rtc_token: AGORA_APP_CERTIFICATE is not 32 hexadecimal characters"),
        "{}",
        malformed.stderr
    );
    for run in [text, json, too_long, malformed] {
        assert!(!run.stdout.contains(wrong), "{run:?}");
        assert!(!run.stderr.contains(wrong), "{run:?}");
    }
}

#[test]
fn next_prints_start_times_with_the_plans_offset() {
    let expected =
        "2026-11-30T09:00:00+01:00\n2026-12-01T09:00:00+01:00\n2026-12-02T09:00:00+01:00\n";
    let args = [
        "next",
        "plans/weekly-standup.yaml",
        "-n",
        "3",
        "--after",
        "2026-11-27T10:00:00+01:00",
    ];
    let run = Recplan::new(args).with_secrets().run();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, expected);
    // `next` reads only the schedule: secrets need not be set.
    let bare = Recplan::new(args).run();
    assert_eq!(bare.code, 0, "{bare:?}");
    assert_eq!(bare.stdout, expected);
}

#[test]
fn schema_prints_json_schema_with_the_plan_keys() {
    let run = Recplan::new(["schema"]).run();
    assert_eq!(run.code, 0, "{run:?}");
    let schema: Value = serde_json::from_str(&run.stdout).expect("schema prints JSON");
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["properties"]["channels"]["type"], "array");
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(required, ["mode", "channels", "start"]);
}

#[test]
fn a_wrong_command_line_exits_2() {
    let run = Recplan::new(["validate"]).run();
    assert_eq!(run.code, 2, "{run:?}");
    let run = Recplan::new(["next", "plans/demo.yaml", "--after", "tomorrow"]).run();
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("not an RFC 3339 time"),
        "{}",
        run.stderr
    );
}

/// Regression: `recplan validate plans/ | head -1` panicked on the closed
/// pipe (exit code 101, "failed printing to stdout").
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let at = "2026-11-27T09:00:00Z";
    let quiet: [&[&str]; 6] = [
        &["validate", "plans/"],
        &["next", "plans/weekly-standup.yaml", "-n", "1000"],
        &["render", "plans/demo.yaml", "--at", at],
        &["render", "plans/demo.yaml", "--at", at, "--json"],
        &["schema"],
        &["--help"],
    ];
    for args in quiet {
        let run = Recplan::new(args)
            .with_secrets()
            .run_into_closed_pipe(false);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{args:?}");
    }
    // The exit code still tells what was checked before output stopped.
    let invalid = "tests/fixtures/plans/invalid/uid-zero.yaml";
    let args = ["validate", invalid, "plans/"];
    let run = Recplan::new(args)
        .with_secrets()
        .run_into_closed_pipe(false);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.starts_with(&format!("{invalid}:6:5: error: ")),
        "{run:?}"
    );
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    // Both closed (`2>&1 | head -1`): nothing to say anything on, and no
    // panic either.
    let run = Recplan::new(args).with_secrets().run_into_closed_pipe(true);
    assert_eq!(run.code, 3, "{run:?}");
}

#[test]
fn validate_ends_with_a_summary_on_stderr() {
    let valid = Recplan::new(["validate", "plans/demo.yaml"])
        .with_secrets()
        .run();
    assert_eq!(
        (valid.code, valid.stderr.as_str()),
        (0, "1 plan(s) valid\n")
    );
    let invalid = Recplan::new([
        "validate",
        "tests/fixtures/plans/invalid/uid-zero.yaml",
        "tests/fixtures/plans/invalid/cron-invalid.yaml",
        "plans/",
    ])
    .with_secrets()
    .run();
    assert_eq!(invalid.code, 3, "{invalid:?}");
    assert_eq!(invalid.stdout.lines().count(), 4, "{}", invalid.stdout);
    assert!(
        invalid.stderr.ends_with("\n2 of 6 plan(s) invalid\n"),
        "{}",
        invalid.stderr
    );
}

/// A one-channel plan that names no environment value, ten seconds long,
/// written to `dir`; scheduled by `cron` when given.
fn short_plan(dir: &Path, cron: Option<&str>) -> PathBuf {
    let schedule = match cron {
        Some(cron) => format!("schedule: {{cron: \"{cron}\", duration: 10s}}\n"),
        None => String::new(),
    };
    let text = format!(
        "name: short\nmode: composite\n{schedule}channels:\n  - {{cname: room, uid: \"1001\"}}\n\
         start:\n  storageConfig: {{vendor: 1, region: 0, bucket: rec, accessKey: AK, secretKey: SK}}\n\
         \x20 recordingConfig: {{channelType: 0}}\n"
    );
    let path = dir.join("short.yaml");
    std::fs::write(&path, text).expect("the plan is written");
    path
}

#[test]
fn run_refuses_an_invalid_plan_before_sending_anything() {
    let file = "tests/fixtures/plans/invalid/uid-zero.yaml";
    let sim = Recplan::new(["run", file, "--now", "--sim"])
        .with_secrets()
        .run();
    assert_eq!(sim.code, 3, "{sim:?}");
    assert_eq!(sim.stdout, "", "no summary: nothing ran");
    assert!(
        sim.stderr
            .contains(&format!("{file}:6:5: error: channels[0].uid: ")),
        "{}",
        sim.stderr
    );
    assert!(!sim.stderr.contains("Acquiring"), "{}", sim.stderr);

    // Against an API base that notes every connection: none is made.
    let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
    listener.set_nonblocking(true).expect("non-blocking");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let real = Recplan::new(["run", file, "--now"])
        .with_secrets()
        .env("AGORA_API_BASE", &base)
        .env("AGORA_CUSTOMER_ID", "customer")
        .env("AGORA_CUSTOMER_SECRET", "secret")
        .run();
    assert_eq!(real.code, 3, "{real:?}");
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "something connected: {accepted:?}"
    );
}

#[test]
fn run_with_no_occurrence_due_exits_4_naming_the_next_start() {
    // Half an hour from now, every day: the latest start was almost a day
    // ago, far past the default starting_deadline of 5 minutes.
    let next = (Utc::now() + TimeDelta::minutes(30))
        .duration_trunc(TimeDelta::minutes(1))
        .expect("a minute boundary");
    let cron = next.format("%M %H * * *").to_string();
    let dir = tempfile::tempdir().unwrap();
    let plan = short_plan(dir.path(), Some(&cron));
    let run = Recplan::new([OsStr::new("run"), plan.as_os_str()])
        .with_secrets()
        .run();
    assert_eq!(run.code, 4, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(&format!(
            "no occurrence is due; the next starts at {}",
            next.to_rfc3339()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn a_run_that_cannot_start_exits_1_and_says_failed() {
    let dir = tempfile::tempdir().unwrap();
    let plan = short_plan(dir.path(), None);
    // Port 1 on loopback: nothing listens, so every call is refused at once.
    let run = Recplan::new([
        OsStr::new("run"),
        plan.as_os_str(),
        OsStr::new("--now"),
        OsStr::new("--duration"),
        OsStr::new("10s"),
    ])
    .with_secrets()
    .env("AGORA_API_BASE", "http://127.0.0.1:1")
    .env("AGORA_CUSTOMER_ID", "customer")
    .env("AGORA_CUSTOMER_SECRET", "secret")
    .run();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("room uid 1001: FAILED"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("could not start"), "{}", run.stderr);
}

#[test]
fn run_at_an_occurrence_already_over_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let plan = short_plan(dir.path(), None);
    let run = Recplan::new([
        OsStr::new("run"),
        plan.as_os_str(),
        OsStr::new("--at"),
        OsStr::new("2020-01-06T09:00:00Z"),
        OsStr::new("--duration"),
        OsStr::new("10s"),
    ])
    .with_secrets()
    .run();
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains(
            "the occurrence 2020-01-06T09:00:00+00:00 ended at 2020-01-06T09:00:10+00:00; nothing to record"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn run_takes_now_or_at_not_both() {
    let run = Recplan::new([
        "run",
        "plans/demo.yaml",
        "--now",
        "--at",
        "2026-11-27T09:00:00Z",
    ])
    .with_secrets()
    .run();
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
}

/// Regression: arguments without descriptions, examples naming a plan that
/// does not exist, and `[env: RECPLAN_STATE_DIR=]`, which reads as set to
/// empty.
#[test]
fn help_describes_every_argument_and_names_real_plans() {
    for command in [["next", "--help"], ["render", "--help"], ["run", "--help"]] {
        let run = Recplan::new(command).run();
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.contains("The plan file"), "{}", run.stdout);
        assert!(!run.stdout.contains("plans/standup.yaml"), "{}", run.stdout);
    }
    let run = Recplan::new(["status", "--help"]).run();
    assert!(
        run.stdout.contains("[env: RECPLAN_STATE_DIR]"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("RECPLAN_STATE_DIR="), "{}", run.stdout);
    let run = Recplan::new(["export", "kubernetes", "--help"]).run();
    assert!(run.stdout.contains("The namespace"), "{}", run.stdout);
}
