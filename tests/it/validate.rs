//! Plan validation through the library: one small plan per rule, each
//! finding placed at its line, column and field; the limits just inside
//! every rule; several findings in one pass; and the rendered text of the
//! findings as snapshots.
//!
//! The plans are in `tests/fixtures/plans/`: `valid/` holds one minimal
//! plan per mode, `invalid/` one plan per broken rule.

mod hostile;
mod props;
mod regressions;

use recplan::agora::request::RegionRef;
use recplan::plan::{Diagnostic, MissingEnv, PlanError, Severity, Source, validate};

use crate::support::{
    errors, fixture, fixture_text, full_env, invalid, load_fixture, now, options, root,
};

/// One broken rule: the fixture `invalid/{file}.yaml` must yield exactly one
/// error, at `line`:`column`, naming `path`, its message containing
/// `message` and its hint containing `hint` (when given).
struct Case {
    file: &'static str,
    line: u64,
    column: u64,
    path: &'static str,
    message: &'static str,
    hint: Option<&'static str>,
}

const fn case(
    file: &'static str,
    (line, column): (u64, u64),
    path: &'static str,
    message: &'static str,
) -> Case {
    Case {
        file,
        line,
        column,
        path,
        message,
        hint: None,
    }
}

impl Case {
    const fn hint(self, hint: &'static str) -> Case {
        Case {
            hint: Some(hint),
            ..self
        }
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    case("uid-zero", (6, 5), "channels[0].uid", "uid `0` is not an integer from 1 to 4294967295"),
    case("uid-letters", (6, 5), "channels[0].uid", "uid `abc` is not an integer from 1 to 4294967295"),
    case("uid-too-large", (6, 5), "channels[0].uid", "uid `4294967296` is not an integer from 1 to 4294967295"),
    case("cname-charset", (5, 5), "channels[0].cname", "channel name `room/1` contains `/`"),
    case("cname-too-long", (5, 5), "channels[0].cname", "channel name is 64 bytes; Agora allows fewer than 64"),
    case("duplicate-channel", (8, 5), "channels[1].uid", "channel `room` with uid 1001 is already recorded by channels[0]"),
    case("mode-unknown", (1, 7), "mode", "unknown variant `compsite`").hint("did you mean `composite`?"),
    case("vendor-name-unknown", (9, 13), "start.storageConfig.vendor", "unknown storage vendor `aws_s4`").hint("did you mean `aws_s3`?"),
    case("vendor-code-unknown", (9, 13), "start.storageConfig.vendor", "unknown storage vendor code 9"),
    case("region-index-invalid", (10, 5), "start.storageConfig.region", "26 is not a region index of Amazon S3").hint("7 eu-central-1"),
    case("region-name-misspelt", (10, 5), "start.storageConfig.region", "`eu-centrl-1` is not a region of Amazon S3").hint("did you mean `eu-central-1`?"),
    case("prefix-dash", (14, 29), "start.storageConfig.fileNamePrefix[1]", "`my-team` may contain only letters and digits"),
    case("prefix-too-long", (16, 5), "start.storageConfig.fileNamePrefix", "the joined prefix is 129 characters; Agora allows 128"),
    case("canvas-too-large", (16, 25), "start.recordingConfig.transcodingConfig.width", "1920x1200 is larger than Agora composites (1920x1080)"),
    case("fps-unsupported", (16, 51), "start.recordingConfig.transcodingConfig.fps", "16 fps is not supported").hint("1, 7, 10, 15, 24, 30 or 60"),
    case("bitrate-too-high", (16, 60), "start.recordingConfig.transcodingConfig.bitrate", "9000 Kbps is outside [1, 6500]"),
    case("layout-unknown", (16, 75), "start.recordingConfig.transcodingConfig.mixedVideoLayout", "mixedVideoLayout is 0 (floating), 1 (best fit), 2 (vertical) or 3 (custom)"),
    case("layout-custom-without-regions", (16, 75), "start.recordingConfig.transcodingConfig.mixedVideoLayout", "the custom layout (3) needs layoutConfig"),
    case("layout-config-not-custom", (18, 7), "start.recordingConfig.transcodingConfig.layoutConfig", "layoutConfig is only for the custom layout (3), not 1"),
    case("layout-too-many-regions", (18, 7), "start.recordingConfig.transcodingConfig.layoutConfig", "18 regions; a composite holds at most 17"),
    case("layout-region-off-canvas", (20, 11), "start.recordingConfig.transcodingConfig.layoutConfig[1]", "the region extends past the canvas"),
    case("subscribe-list-too-long", (16, 5), "start.recordingConfig.subscribeVideoUids", "33 uids; a list holds at most 32"),
    case("subscribe-allow-and-deny", (17, 5), "start.recordingConfig.unSubscribeAudioUids", "subscribeAudioUids and unSubscribeAudioUids cannot both be set"),
    case("individual-without-uid-group", (14, 3), "start.recordingConfig", "individual recording needs subscribeUidGroup"),
    case("uid-group-in-composite", (16, 5), "start.recordingConfig.subscribeUidGroup", "subscribeUidGroup is for individual recording"),
    case("max-idle-too-short", (16, 5), "start.recordingConfig.maxIdleTime", "3 is outside [5, 2592000]"),
    case("max-idle-too-long", (16, 5), "start.recordingConfig.maxIdleTime", "2592001 is outside [5, 2592000]"),
    case("mp4-alone", (17, 5), "start.recordingFileConfig.avFileType", r#"avFileType must be ["hls"] or ["hls", "mp4"]"#),
    case("mp4-in-individual", (18, 5), "start.recordingFileConfig.avFileType", "individual recording writes HLS only"),
    case("snapshot-in-composite", (16, 3), "start.snapshotConfig", "screenshots (snapshotConfig) are for individual recording only"),
    case("web-without-extension-services", (7, 1), "start", "web page recording needs extensionServiceConfig"),
    case("extension-services-in-composite", (16, 3), "start.extensionServiceConfig", "extensionServiceConfig is for web page recording, not composite"),
    case("update-layout-in-individual", (19, 5), "steps[0].updateLayout", "updateLayout is for composite recording, not individual"),
    case("web-config-in-composite", (19, 7), "steps[0].update.webRecordingConfig", "webRecordingConfig is for web page recording, not composite"),
    case("step-after-end", (21, 5), "steps[1].at", "step at 30m is not inside the occurrence (30m long)"),
    case("cron-invalid", (3, 3), "schedule.cron", "invalid hour field `25`: 25 is outside 0-23"),
    case("timezone-misspelt", (4, 3), "schedule.timezone", "unknown timezone `Europe/Berln`").hint("did you mean `Europe/Berlin`?"),
    case("duration-zero", (3, 3), "schedule.duration", "the duration must be positive"),
    case("duration-without-unit", (3, 3), "schedule.duration", "`30` needs a unit: s, m or h"),
    case("top-level-key-misspelt", (4, 1), "chanels", "unknown field `chanels`").hint("did you mean `channels`?"),
    case("agora-key-misspelt", (9, 5), "start.storageConfig.vendr", "unknown field `vendr`").hint("did you mean `vendor`?"),
    case("token-and-fixed-token", (7, 1), "rtc_token", "`rtc_token` mints the token, yet `start.token` gives one too").hint("remove `start.token` to have recplan mint the token"),
    case("token-and-start-parameter-token", (10, 1), "rtc_token", "`rtc_token` mints the token, yet `acquire.startParameter.token` gives one too"),
    case("token-in-web", (7, 1), "rtc_token", "web page recording does not use a token"),
    case("token-lifetime-over-24h", (8, 3), "rtc_token.lifetime", "24h1s is longer than Agora lets a token live (24h)"),
    case("token-lifetime-too-short", (8, 3), "rtc_token.lifetime", "a token living 29m59s ends before the occurrence does (30m long)").hint("Agora cannot renew a cloud recording's token"),
    case("token-certificate-not-hex", (9, 3), "rtc_token.certificate", "the certificate is not 32 hexadecimal characters"),
    case("template-var-missing", (5, 5), "channels[0].cname", "the template names `vars.nope`, which does not exist"),
    case("layout-custom-no-regions", (18, 7), "start.recordingConfig.transcodingConfig.layoutConfig", "the custom layout lists no region").hint("1 to 17 regions"),
    case("postponed-with-scene-0", (8, 3), "acquire.scene", "postponed transcoding (appsCollection, transcodeOptions) needs scene 2, not 0"),
    case("postponed-in-composite", (16, 3), "start.appsCollection", "postponed transcoding is for individual recording, not composite"),
    case("acquire-region-unknown", (8, 3), "acquire.region", "`XX` is not one of Agora's areas").hint("CN, AP, EU or NA"),
    case("unsubscribe-allstream", (17, 28), "start.recordingConfig.unSubscribeAudioUids[0]", "#allstream# is for subscribe lists"),
];

/// What is wrong with `diagnostics` for `case`, if anything.
fn mismatch(case: &Case, diagnostics: &[Diagnostic]) -> Option<String> {
    let errors = errors(diagnostics);
    let [error] = errors.as_slice() else {
        return Some(format!(
            "expected one error, got {}: {errors:#?}",
            errors.len()
        ));
    };
    let hint = error.hint.as_deref().unwrap_or_default();
    let right = (error.line, error.column) == (case.line, case.column)
        && error.path == case.path
        && error.message.contains(case.message)
        && case.hint.is_none_or(|wanted| hint.contains(wanted));
    (!right).then(|| {
        format!(
            "expected {}:{} `{}` {:?} (hint {:?}),\n     got {}:{} `{}` {:?} (hint {hint:?})",
            case.line,
            case.column,
            case.path,
            case.message,
            case.hint,
            error.line,
            error.column,
            error.path,
            error.message
        )
    })
}

#[test]
fn each_broken_rule_is_reported_at_its_field() {
    let mut failures = Vec::new();
    for case in CASES {
        let name = format!("invalid/{}.yaml", case.file);
        let problem = match load_fixture(&name) {
            Ok(_) => Some("validated, but should not have".to_owned()),
            Err(PlanError::Invalid { diagnostics }) => mismatch(case, &diagnostics),
            Err(other) => Some(format!("failed to load: {other}")),
        };
        if let Some(problem) = problem {
            failures.push(format!("{name}: {problem}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn every_invalid_fixture_has_a_case() {
    let dir = fixture("invalid");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let covered = |file: &String| {
        file == "many-errors.yaml" || CASES.iter().any(|c| format!("{}.yaml", c.file) == *file)
    };
    let uncovered: Vec<&String> = files.iter().filter(|f| !covered(f)).collect();
    assert!(
        uncovered.is_empty(),
        "fixtures without a case: {uncovered:?}"
    );
    assert_eq!(files.len(), CASES.len() + 1);
}

#[test]
fn valid_fixtures_validate_without_findings() {
    for name in [
        "composite",
        "individual",
        "web",
        "region-name",
        "env-templates",
        "minted-token",
    ] {
        let validated = load_fixture(&format!("valid/{name}.yaml"))
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(validated.warnings, [], "{name}");
        assert_eq!(validated.plan.name(), name);
    }
}

/// Validates `valid/{base}.yaml` with `from` replaced by `to`.
fn variant(base: &str, from: &str, to: &str) -> Result<recplan::plan::Validated, PlanError> {
    let text = fixture_text(&format!("valid/{base}.yaml"));
    assert!(text.contains(from), "{base}.yaml has no `{from}`");
    let source = Source::from_text(format!("{base}-variant.yaml"), text.replacen(from, to, 1));
    validate(source, &options(full_env(), MissingEnv::Refuse))
}

#[test]
fn values_at_the_limits_are_accepted() {
    let regions = |n: usize| {
        let region = "{x_axis: 0.0, y_axis: 0.0, width: 0.1, height: 0.1}";
        format!(
            "channelType: 0\n    transcodingConfig:\n      mixedVideoLayout: 3\n      layoutConfig: [{}]",
            vec![region; n].join(", ")
        )
    };
    let uids = |n: u32| {
        let list: Vec<String> = (0..n).map(|i| format!("\"{}\"", 2000 + i)).collect();
        format!(
            "channelType: 0\n    subscribeVideoUids: [{}]",
            list.join(", ")
        )
    };
    let prefix = format!(
        "secretKey: SK\n    fileNamePrefix: [\"{}\", \"{}\"]",
        "a".repeat(64),
        "b".repeat(63)
    );
    let cases = [
        ("composite", "uid: \"1001\"", "uid: \"1\"".to_owned()),
        ("composite", "uid: \"1001\"", "uid: \"4294967295\"".to_owned()),
        ("composite", "cname: room", format!("cname: {}", "c".repeat(63))),
        ("composite", "cname: room", "cname: \"a-b_c:d !#$%&()+;<=.>?@[]^{}|~,\"".to_owned()),
        ("web", "cname: page", format!("cname: {}", "w".repeat(1024))),
        ("composite", "channelType: 0", "channelType: 0\n    maxIdleTime: 5".to_owned()),
        ("composite", "channelType: 0", "channelType: 0\n    maxIdleTime: 2592000".to_owned()),
        ("composite", "channelType: 0", "channelType: 0\n    transcodingConfig: {width: 1920, height: 1080, fps: 60, bitrate: 6500}".to_owned()),
        ("composite", "channelType: 0", regions(17)),
        ("composite", "channelType: 0", uids(32)),
        ("composite", "secretKey: SK", prefix),
        ("composite", "duration: 30m", "duration: 1s".to_owned()),
    ];
    for (base, from, to) in cases {
        if let Err(error) = variant(base, from, &to) {
            panic!("{base} with `{to}`:\n{error}");
        }
    }
}

#[test]
fn web_recording_keys_may_be_long_but_not_over_1024_bytes() {
    let too_long = invalid(variant(
        "web",
        "cname: page",
        &format!("cname: {}", "w".repeat(1025)),
    ));
    assert_eq!(too_long.len(), 1, "{too_long:#?}");
    assert_eq!(too_long[0].path, "channels[0].cname");
    assert_eq!(
        too_long[0].message,
        "1025 bytes is longer than a web recording key may be (1024)"
    );
    let composite = invalid(variant(
        "composite",
        "cname: room",
        &format!("cname: {}", "w".repeat(1024)),
    ));
    assert_eq!(
        composite[0].message,
        "channel name is 1024 bytes; Agora allows fewer than 64"
    );
}

#[test]
fn region_names_become_the_vendors_index() {
    let validated = load_fixture("valid/region-name.yaml").unwrap();
    let start = now().with_timezone(&recplan::schedule::Tz::UTC);
    let occurrence = validated.plan.occurrence(start, &full_env(), None).unwrap();
    let storage = occurrence.sessions[0]
        .start
        .storage_config
        .as_ref()
        .unwrap();
    assert_eq!(storage.region, RegionRef::Code(7));
    let body = serde_json::to_value(&occurrence.sessions[0].start).unwrap();
    assert_eq!(body["storageConfig"]["region"], 7);
    assert_eq!(body["storageConfig"]["vendor"], 1);
}

#[test]
fn an_absent_env_value_warns_when_linting_and_is_an_error_otherwise() {
    let env = full_env()
        .with("RECPLAN_TEST_KEY", "")
        .with("RECPLAN_TEST_SECRET", "");
    // An empty value is still a value: only unset variables count as
    // absent. Agora refuses empty keys, so the finding is about the value.
    let path = fixture("valid/env-templates.yaml");
    let Err(PlanError::Invalid { diagnostics }) =
        recplan::plan::load(&path, &options(env, MissingEnv::Refuse))
    else {
        panic!("empty storage keys are refused");
    };
    let found: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(found, ["accessKey is empty", "secretKey is empty"]);

    let unset = recplan::plan::Env::default().with("AGORA_APP_ID", crate::support::APP_ID);
    let linted = recplan::plan::load(&path, &options(unset.clone(), MissingEnv::Warn))
        .expect("absent env values only warn when linting");
    let found: Vec<(Severity, u64, &str, &str)> = linted
        .warnings
        .iter()
        .map(|d| (d.severity, d.line, d.path.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                Severity::Warning,
                12,
                "start.storageConfig.accessKey",
                "environment variable RECPLAN_TEST_KEY is not set"
            ),
            (
                Severity::Warning,
                13,
                "start.storageConfig.secretKey",
                "environment variable RECPLAN_TEST_SECRET is not set"
            ),
        ]
    );

    let refused = invalid(recplan::plan::load(
        &path,
        &options(unset, MissingEnv::Refuse),
    ));
    let found: Vec<(Severity, u64, &str)> = refused
        .iter()
        .map(|d| (d.severity, d.line, d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                Severity::Error,
                12,
                "environment variable RECPLAN_TEST_KEY is not set"
            ),
            (
                Severity::Error,
                13,
                "environment variable RECPLAN_TEST_SECRET is not set"
            ),
        ]
    );
}

#[test]
fn every_finding_of_a_file_is_reported_in_one_pass_in_line_order() {
    let diagnostics = invalid(load_fixture("invalid/many-errors.yaml"));
    let found: Vec<(u64, &str)> = diagnostics
        .iter()
        .map(|d| (d.line, d.path.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (4, "schedule.timezone"),
            (8, "channels[0].uid"),
            (16, "start.storageConfig.fileNamePrefix[0]"),
            (19, "start.recordingConfig.maxIdleTime"),
            (21, "steps[0].at"),
        ]
    );
    assert!(diagnostics.iter().all(Diagnostic::is_error));
}

#[test]
fn every_example_plan_validates() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root().join("plans")).unwrap() {
        let path = entry.unwrap().path();
        let validated = recplan::plan::load(&path, &options(full_env(), MissingEnv::Refuse))
            .unwrap_or_else(|error| panic!("{}:\n{error}", path.display()));
        assert_eq!(validated.warnings, [], "{}", path.display());
        names.push(validated.plan.name().to_owned());
    }
    names.sort();
    assert_eq!(
        names,
        ["classrooms", "dashboard-web", "demo", "weekly-standup"]
    );
}

/// The findings of `invalid/{name}.yaml` as `validate` prints them, with
/// the checkout's location replaced by `[ROOT]`.
fn rendered(name: &str) -> String {
    invalid(load_fixture(&format!("invalid/{name}.yaml")))
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    let root = root().display().to_string();
    let escaped: String = root
        .chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect();
    settings.add_filter(&escaped, "[ROOT]");
    settings
}

#[test]
fn findings_read_well() {
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("many_errors", rendered("many-errors"));
        insta::assert_snapshot!("unknown_key", rendered("top-level-key-misspelt"));
        insta::assert_snapshot!("region_index", rendered("region-index-invalid"));
        insta::assert_snapshot!("template_var", rendered("template-var-missing"));
    });
}

#[test]
fn an_unknown_vendor_name_gets_a_did_you_mean_or_the_list() {
    let close = invalid(load_fixture("invalid/vendor-name-unknown.yaml"));
    assert_eq!(close[0].message, "unknown storage vendor `aws_s4`");
    assert_eq!(close[0].hint.as_deref(), Some("did you mean `aws_s3`?"));
    let far = invalid(variant("composite", "vendor: 1", "vendor: dropbox"));
    assert!(
        far[0]
            .message
            .starts_with("unknown storage vendor `dropbox`; known vendors: 0 (qiniu), 1 (aws_s3)"),
        "{}",
        far[0].message
    );
}

/// Postponed transcoding needs a scene 2 resource: recplan derives it, and
/// sends the Go SDK's `regionAffinity` as the plan writes it.
#[test]
fn postponed_transcoding_acquires_scene_2_with_region_affinity_as_written() {
    let validated = crate::support::load_fixture("valid/postponed.yaml").unwrap();
    let start = crate::support::now().with_timezone(&recplan::schedule::Tz::UTC);
    let occurrence = validated.plan.occurrence(start, &full_env(), None).unwrap();
    let acquire = serde_json::to_value(&occurrence.sessions[0].acquire).unwrap();
    assert_eq!(
        acquire,
        serde_json::json!({"scene": 2, "region": "EU", "regionAffinity": 2})
    );
}
