//! `recplan schema` against `recplan validate`: a table of plan variants,
//! each judged by the real binary and by a JSON Schema validator given the
//! schema the binary prints. They agree on every row whose rule JSON Schema
//! can say; the rows it cannot are listed with the reason, and must still
//! disagree, so that a row the schema learns to judge moves up.

use serde_json::Value;

use crate::support::{recplan, root};

/// A valid composite plan with no template needing the environment; each
/// row edits it.
const BASE: &str = r#"app_id: 0123456789abcdef0123456789abcdef
mode: composite
vars:
  team: platform
schedule:
  cron: "0 9 * * MON-FRI"
  timezone: Europe/Berlin
  duration: 30m
channels:
  - cname: standup
    uid: "527841"
acquire:
  resourceExpiredHour: 24
start:
  token: rtc-token
  storageConfig:
    vendor: 1
    region: 0
    bucket: acme
    accessKey: access-key
    secretKey: secret-key
    fileNamePrefix: [standup]
  recordingConfig:
    channelType: 0
    maxIdleTime: 300
    transcodingConfig:
      width: 1280
      height: 720
      fps: 15
      bitrate: 1500
      mixedVideoLayout: 1
  recordingFileConfig:
    avFileType: [hls, mp4]
steps:
  - at: 10m
    updateLayout:
      mixedVideoLayout: 2
"#;

/// How both judges should see a row.
enum Expect {
    /// Both accept it.
    Valid,
    /// Both refuse it.
    Invalid,
    /// recplan refuses it and the schema cannot tell: the reason.
    Beyond(&'static str),
    /// recplan accepts it and the schema cannot: the reason.
    Stricter(&'static str),
}

use Expect::{Beyond, Invalid, Stricter, Valid};

/// Each row: a name, the edits (`from` → `to`, each found in the plan)
/// and the expectation.
type Row = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Expect,
);

const CROSS_FIELD: &str = "a rule relating two fields or blocks: left to the validator";
const MODE: &str = "what the mode allows is a rule across blocks: left to the validator";

const ROWS: &[Row] = &[
    ("base", &[], Valid),
    (
        "uid-unquoted",
        &[(r#"uid: "527841""#, "uid: 527841")],
        Valid,
    ),
    ("mode-mix", &[("mode: composite", "mode: mix")], Valid),
    (
        "duration-hours-minutes",
        &[("duration: 30m", "duration: 1h30m")],
        Valid,
    ),
    (
        "skip-dates",
        &[(
            "duration: 30m",
            "duration: 30m\n  skip_dates: [2026-12-24, 2026-12-25]",
        )],
        Valid,
    ),
    (
        "timezone-new-york",
        &[("Europe/Berlin", "America/New_York")],
        Valid,
    ),
    (
        "uid-template",
        &[
            ("team: platform", "team: platform\n  uid: \"1001\""),
            (r#"uid: "527841""#, r#"uid: "{{vars.uid}}""#),
        ],
        Valid,
    ),
    (
        "cname-template",
        &[("cname: standup", r#"cname: "standup-{{vars.team}}""#)],
        Valid,
    ),
    (
        "vendor-by-name",
        &[
            ("vendor: 1", "vendor: AWS_S3"),
            ("region: 0", "region: eu-central-1"),
        ],
        Valid,
    ),
    (
        "bucket-a-number",
        &[("bucket: acme", "bucket: 2026")],
        Valid,
    ),
    (
        "backup-uid",
        &[(
            r#"uid: "527841""#,
            "uid: \"527841\"\n    backup_uid: 527842",
        )],
        Valid,
    ),
    (
        "rrule",
        &[(
            r#"cron: "0 9 * * MON-FRI""#,
            "rrule: \"FREQ=WEEKLY;BYDAY=TU,TH\"\n  dtstart: \"2026-12-01T09:30:00\"",
        )],
        Valid,
    ),
    (
        "custom-layout",
        &[(
            "mixedVideoLayout: 1",
            "mixedVideoLayout: 3\n      layoutConfig:\n        - {uid: \"1001\", x_axis: 0, y_axis: 0, width: 0.5, height: 1}",
        )],
        Valid,
    ),
    (
        "unsubscribe-alias",
        &[(
            "maxIdleTime: 300",
            "maxIdleTime: 300\n    unsubscribeAudioUids: [\"1001\"]",
        )],
        Valid,
    ),
    (
        "update-step",
        &[(
            "    updateLayout:\n      mixedVideoLayout: 2",
            "    update:\n      streamSubscribe:\n        audioUidList: {subscribeAudioUids: [\"#allstream#\"]}",
        )],
        Valid,
    ),
    (
        "no-schedule",
        &[(
            "schedule:\n  cron: \"0 9 * * MON-FRI\"\n  timezone: Europe/Berlin\n  duration: 30m\n",
            "",
        )],
        Valid,
    ),
    (
        "duration-negative",
        &[("duration: 30m", "duration: -30m")],
        Invalid,
    ),
    (
        "duration-in-days",
        &[("duration: 30m", "duration: 1d")],
        Invalid,
    ),
    (
        "duration-without-unit",
        &[("duration: 30m", "duration: 30")],
        Invalid,
    ),
    (
        "duration-zero",
        &[("duration: 30m", "duration: 0m")],
        Invalid,
    ),
    (
        "duration-units-out-of-order",
        &[("duration: 30m", "duration: 30m1h")],
        Invalid,
    ),
    (
        "min-recording-bad",
        &[("mode: composite", "mode: composite\nmin_recording: 5x")],
        Invalid,
    ),
    (
        "step-at-in-words",
        &[("at: 10m", "at: 10 minutes")],
        Invalid,
    ),
    (
        "name-uppercase",
        &[("mode: composite", "name: BadName\nmode: composite")],
        Invalid,
    ),
    (
        "name-too-long",
        &[(
            "mode: composite",
            "name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nmode: composite",
        )],
        Invalid,
    ),
    (
        "uid-zero-quoted",
        &[(r#"uid: "527841""#, r#"uid: "0""#)],
        Invalid,
    ),
    ("uid-zero", &[(r#"uid: "527841""#, "uid: 0")], Invalid),
    (
        "uid-too-large-quoted",
        &[(r#"uid: "527841""#, r#"uid: "4294967296""#)],
        Invalid,
    ),
    (
        "uid-too-large",
        &[(r#"uid: "527841""#, "uid: 4294967296")],
        Invalid,
    ),
    (
        "uid-letters",
        &[(r#"uid: "527841""#, r#"uid: "12a""#)],
        Invalid,
    ),
    (
        "channels-empty",
        &[(
            "channels:\n  - cname: standup\n    uid: \"527841\"",
            "channels: []",
        )],
        Invalid,
    ),
    (
        "unknown-top-level-field",
        &[("mode: composite", "mode: composite\nnmae: x")],
        Invalid,
    ),
    (
        "unknown-agora-field",
        &[("maxIdleTime: 300", "maxIdleTme: 300")],
        Invalid,
    ),
    (
        "max-idle-too-short",
        &[("maxIdleTime: 300", "maxIdleTime: 3")],
        Invalid,
    ),
    (
        "channel-type-2",
        &[("channelType: 0", "channelType: 2")],
        Invalid,
    ),
    (
        "resource-hours-too-many",
        &[("resourceExpiredHour: 24", "resourceExpiredHour: 721")],
        Invalid,
    ),
    ("fps-unsupported", &[("fps: 15", "fps: 25")], Invalid),
    (
        "bitrate-too-high",
        &[("bitrate: 1500", "bitrate: 7000")],
        Invalid,
    ),
    (
        "mode-unknown",
        &[("mode: composite", "mode: hybrid")],
        Invalid,
    ),
    (
        "overlap-unknown",
        &[("duration: 30m", "duration: 30m\n  overlap: sometimes")],
        Invalid,
    ),
    (
        "on-failure-unknown",
        &[("mode: composite", "mode: composite\non_failure: retry")],
        Invalid,
    ),
    (
        "timezone-misspelt",
        &[("Europe/Berlin", "Europe/Berlinn")],
        Invalid,
    ),
    (
        "skip-date-month-13",
        &[("duration: 30m", "duration: 30m\n  skip_dates: [2026-13-01]")],
        Invalid,
    ),
    (
        "skip-date-dotted",
        &[("duration: 30m", "duration: 30m\n  skip_dates: [24.12.2026]")],
        Invalid,
    ),
    (
        "mp4-alone",
        &[("avFileType: [hls, mp4]", "avFileType: [mp4]")],
        Invalid,
    ),
    (
        "colour-by-name",
        &[(
            "mixedVideoLayout: 1",
            "mixedVideoLayout: 1\n      backgroundColor: red",
        )],
        Invalid,
    ),
    (
        "prefix-with-dash",
        &[("fileNamePrefix: [standup]", "fileNamePrefix: [stand-up]")],
        Invalid,
    ),
    (
        "acquire-region-unknown",
        &[(
            "resourceExpiredHour: 24",
            "resourceExpiredHour: 24\n  region: XX",
        )],
        Invalid,
    ),
    ("vendor-unknown", &[("vendor: 1", "vendor: 99")], Invalid),
    (
        "cron-and-rrule",
        &[(
            r#"cron: "0 9 * * MON-FRI""#,
            "cron: \"0 9 * * MON-FRI\"\n  rrule: FREQ=DAILY\n  dtstart: \"2026-12-01T09:30:00\"",
        )],
        Invalid,
    ),
    (
        "rrule-without-dtstart",
        &[(r#"cron: "0 9 * * MON-FRI""#, "rrule: FREQ=DAILY")],
        Invalid,
    ),
    (
        "schedule-without-duration",
        &[("  duration: 30m\n", "")],
        Invalid,
    ),
    (
        "step-with-both-calls",
        &[(
            "      mixedVideoLayout: 2",
            "      mixedVideoLayout: 2\n    update: {streamSubscribe: {}}",
        )],
        Invalid,
    ),
    (
        "step-with-no-call",
        &[("    updateLayout:\n      mixedVideoLayout: 2", "")],
        Invalid,
    ),
    (
        "layout-config-not-custom",
        &[(
            "mixedVideoLayout: 1",
            "mixedVideoLayout: 1\n      layoutConfig:\n        - {x_axis: 0, y_axis: 0, width: 0.5, height: 1}",
        )],
        Invalid,
    ),
    (
        "custom-layout-without-regions",
        &[("mixedVideoLayout: 1", "mixedVideoLayout: 3")],
        Invalid,
    ),
    (
        "app-id-not-hex",
        &[("app_id: 0123456789abcdef0123456789abcdef", "app_id: xyz")],
        Invalid,
    ),
    (
        "region-off-canvas-axis",
        &[(
            "mixedVideoLayout: 1",
            "mixedVideoLayout: 3\n      layoutConfig:\n        - {x_axis: 1.5, y_axis: 0, width: 0.5, height: 1}",
        )],
        Invalid,
    ),
    (
        "no-storage",
        &[(
            "  storageConfig:\n    vendor: 1\n    region: 0\n    bucket: acme\n    accessKey: access-key\n    secretKey: secret-key\n    fileNamePrefix: [standup]\n",
            "",
        )],
        Invalid,
    ),
    ("bucket-empty", &[("bucket: acme", "bucket: \"\"")], Invalid),
    (
        "decryption-without-secret",
        &[(
            "maxIdleTime: 300",
            "maxIdleTime: 300\n    decryptionMode: 1",
        )],
        Invalid,
    ),
    (
        "backup-uid-same-as-uid",
        &[(
            r#"uid: "527841""#,
            "uid: \"527841\"\n    backup_uid: \"527841\"",
        )],
        Beyond(CROSS_FIELD),
    ),
    (
        "step-after-the-end",
        &[("at: 10m", "at: 40m")],
        Beyond(CROSS_FIELD),
    ),
    (
        "resource-hours-shorter-than-duration",
        &[
            ("duration: 30m", "duration: 2h"),
            ("resourceExpiredHour: 24", "resourceExpiredHour: 1"),
        ],
        Beyond(CROSS_FIELD),
    ),
    (
        "region-not-the-vendors",
        &[("region: 0", "region: mars-north-1")],
        Beyond("which region names a vendor has depends on `vendor`: left to the validator"),
    ),
    (
        "canvas-too-many-pixels",
        &[
            ("width: 1280", "width: 1920"),
            ("height: 720", "height: 1920"),
        ],
        Beyond("a limit on width × height: JSON Schema bounds each number, not their product"),
    ),
    (
        "region-past-the-canvas",
        &[(
            "mixedVideoLayout: 1",
            "mixedVideoLayout: 3\n      layoutConfig:\n        - {x_axis: 0.75, y_axis: 0, width: 0.5, height: 1}",
        )],
        Beyond("a limit on x_axis + width: JSON Schema bounds each number, not their sum"),
    ),
    (
        "update-layout-in-individual",
        &[("mode: composite", "mode: individual")],
        Beyond(MODE),
    ),
    (
        "cname-charset",
        &[("cname: standup", "cname: stand/up")],
        Beyond(MODE),
    ),
    (
        "skip-date-february-30",
        &[("duration: 30m", "duration: 30m\n  skip_dates: [2026-02-30]")],
        Beyond("the days of each month (and leap years) are the calendar's, not a pattern's"),
    ),
    (
        "cron-minute-61",
        &[(r#"cron: "0 9 * * MON-FRI""#, r#"cron: "61 9 * * *""#)],
        Beyond(
            "crontab grammar (ranges, lists, steps and names per field) is left to the validator",
        ),
    ),
    (
        "template-rendering-to-uid-zero",
        &[
            ("team: platform", "team: platform\n  uid: \"0\""),
            (r#"uid: "527841""#, r#"uid: "{{vars.uid}}""#),
        ],
        Beyond("a template is judged once rendered; the schema sees its text"),
    ),
    (
        "uid-with-leading-zeros",
        &[(r#"uid: "527841""#, "uid: 007")],
        Beyond(
            "YAML's text `007` reaches a JSON Schema validator as the number 7; recplan reads the text",
        ),
    ),
    (
        "channel-type-quoted",
        &[("channelType: 0", r#"channelType: "0""#)],
        Stricter(
            "recplan reads a quoted number into a number field; the schema asks for the number, whose range it can check",
        ),
    ),
];

/// The plan text a row describes.
fn plan(edits: &[(&str, &str)]) -> String {
    edits.iter().fold(BASE.to_owned(), |text, (from, to)| {
        assert!(text.contains(from), "`{from}` is not in the plan");
        text.replacen(from, to, 1)
    })
}

/// Each file's verdict from one `recplan validate --format json` run.
fn validate(files: &[std::path::PathBuf]) -> Vec<bool> {
    let mut args = vec!["validate".as_ref(), "--format".as_ref(), "json".as_ref()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    let output = recplan(args);
    let report: Value = serde_json::from_slice(&output.stdout).expect("validate prints JSON");
    report["plans"]
        .as_array()
        .expect("a list of plans")
        .iter()
        .map(|plan| plan["valid"].as_bool().expect("a verdict"))
        .collect()
}

fn schema_validator() -> jsonschema::Validator {
    let output = recplan(["schema"]);
    let schema: Value = serde_json::from_slice(&output.stdout).expect("schema prints JSON");
    assert!(
        jsonschema::meta::is_valid(&schema),
        "the schema is not valid draft 2020-12"
    );
    jsonschema::draft202012::new(&schema).expect("the schema is valid JSON Schema")
}

#[test]
fn the_schema_judges_plans_as_validate_does_wherever_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = ROWS
        .iter()
        .map(|(name, edits, _)| {
            let file = dir.path().join(format!("{name}.yaml"));
            std::fs::write(&file, plan(edits)).unwrap();
            file
        })
        .collect();
    let by_recplan = validate(&files);
    assert_eq!(by_recplan.len(), ROWS.len());
    let validator = schema_validator();
    let mut wrong = Vec::new();
    for (((name, edits, expect), recplan_valid), file) in ROWS.iter().zip(by_recplan).zip(&files) {
        let instance: Value = serde_saphyr::from_str(&plan(edits))
            .unwrap_or_else(|e| panic!("{name}: not YAML: {e}"));
        let schema_valid = validator.is_valid(&instance);
        let (expected, reason) = match expect {
            Valid => ((true, true), ""),
            Invalid => ((false, false), ""),
            Beyond(reason) => ((false, true), *reason),
            Stricter(reason) => ((true, false), *reason),
        };
        if (recplan_valid, schema_valid) != expected {
            let errors: Vec<String> = validator
                .iter_errors(&instance)
                .map(|e| format!("{} at {}", e, e.instance_path))
                .collect();
            wrong.push(format!(
                "{name} ({}): recplan says {recplan_valid}, the schema {schema_valid}, expected {expected:?} {reason}; schema errors: {errors:?}",
                file.display()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The example plans and the valid fixtures (web, individual, postponed
/// transcoding, minted tokens, `env` templates) are valid to the schema.
#[test]
fn the_example_plans_and_valid_fixtures_are_valid_to_the_schema() {
    let validator = schema_validator();
    let mut plans: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["plans", "tests/fixtures/plans/valid"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            plans.push(entry.unwrap().path());
        }
    }
    assert!(plans.len() >= 11, "{plans:?}");
    for path in plans {
        let text = std::fs::read_to_string(&path).unwrap();
        let instance: Value = serde_saphyr::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}
