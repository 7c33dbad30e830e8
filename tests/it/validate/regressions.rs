//! Regression tests, each named after the bug it pins down.

use std::time::{Duration, Instant};

use recplan::plan::{Env, MissingEnv, PlanError, Severity, Source, validate};

use crate::support::{APP_ID, fixture_text, full_env, invalid, options};

/// Regression: steps are sorted by `at`, and findings about a step's body
/// named the step by its sorted position, pointing at another step's lines.
#[test]
fn a_step_finding_points_at_that_step_when_steps_are_out_of_order() {
    let steps = "steps:\n  - at: 20m\n    update:\n      streamSubscribe:\n        audioUidList: {subscribeAudioUids: [\"2001\"]}\n  - at: 10m\n    update:\n      webRecordingConfig: {onhold: true}\n";
    let text = fixture_text("valid/composite.yaml") + steps;
    let source = Source::from_text("steps.yaml", text);
    let diagnostics = invalid(validate(source, &options(full_env(), MissingEnv::Refuse)));
    let found: Vec<(u64, &str)> = diagnostics
        .iter()
        .map(|d| (d.line, d.path.as_str()))
        .collect();
    assert_eq!(found, [(23, "steps[1].update.webRecordingConfig")]);
}

/// Regression: two channels whose names failed to render were both the
/// same placeholder, and were reported as recording the same channel.
#[test]
fn channels_that_fail_to_render_are_not_reported_as_duplicates() {
    let text = fixture_text("valid/composite.yaml").replacen(
        "  - cname: room\n    uid: \"1001\"\n",
        "  - cname: \"{{vars.a}}\"\n    uid: \"1001\"\n  - cname: \"{{vars.b}}\"\n    uid: \"1001\"\n",
        1,
    );
    let source = Source::from_text("unrendered.yaml", text);
    let diagnostics = invalid(validate(source, &options(full_env(), MissingEnv::Refuse)));
    let found: Vec<(u64, &str)> = diagnostics
        .iter()
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (5, "the template names `vars.a`, which does not exist"),
            (7, "the template names `vars.b`, which does not exist"),
        ]
    );
}

/// Regression: the same for steps that fall after the end of an occurrence
/// rendered with a shorter `--duration`.
#[test]
fn a_step_past_a_shorter_occurrence_is_named_as_written() {
    let steps = "steps:\n  - at: 20m\n    update:\n      streamSubscribe:\n        audioUidList: {subscribeAudioUids: [\"2001\"]}\n  - at: 5m\n    update:\n      streamSubscribe:\n        audioUidList: {subscribeAudioUids: [\"2002\"]}\n";
    let text = fixture_text("valid/composite.yaml") + steps;
    let source = Source::from_text("steps.yaml", text);
    let validated = validate(source, &options(full_env(), MissingEnv::Refuse)).unwrap();
    let start = crate::support::now().with_timezone(&recplan::schedule::Tz::UTC);
    let shorter = Some(std::time::Duration::from_secs(600));
    let Err(PlanError::Invalid { diagnostics }) =
        validated.plan.occurrence(start, &full_env(), shorter)
    else {
        panic!("the 20m step does not fit in a 10m occurrence");
    };
    let found: Vec<(u64, &str)> = diagnostics
        .iter()
        .map(|d| (d.line, d.path.as_str()))
        .collect();
    assert_eq!(found, [(17, "steps[0].at")]);
}

/// Regression: linting a body template that names a path below an absent
/// env value (`{{env.TOKENS.rtc}}`) looped forever, filling in the same
/// value again and again while memory grew.
#[test]
fn a_path_below_an_absent_env_value_is_reported_not_looped_on() {
    let text = fixture_text("valid/composite.yaml").replacen(
        "start:\n",
        "start:\n  token: \"{{env.TOKENS.rtc}}\"\n",
        1,
    );
    let source = Source::from_text("nested-env.yaml", text);
    let diagnostics = invalid(validate(source, &options(full_env(), MissingEnv::Warn)));
    let found: Vec<(Severity, u64, &str, &str)> = diagnostics
        .iter()
        .map(|d| (d.severity, d.line, d.path.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [(
            Severity::Error,
            8,
            "start.token",
            "environment variable TOKENS.rtc is not set"
        )]
    );
}

/// Regression: a plan without `app_id`, linted where AGORA_APP_ID is
/// unset, had its warning placed on whichever key came first.
#[test]
fn an_absent_app_id_is_reported_at_the_top_of_the_file() {
    let text = format!(
        "# a comment first\n{}",
        fixture_text("valid/composite.yaml")
    );
    for (missing_env, severity) in [
        (MissingEnv::Warn, Severity::Warning),
        (MissingEnv::Refuse, Severity::Error),
    ] {
        let source = Source::from_text("no-app-id.yaml", text.clone());
        let diagnostics = match validate(source, &options(Env::default(), missing_env)) {
            Ok(validated) => validated.warnings,
            Err(PlanError::Invalid { diagnostics }) => diagnostics,
            Err(other) => panic!("{other}"),
        };
        let [finding] = diagnostics.as_slice() else {
            panic!("expected one finding: {diagnostics:#?}");
        };
        assert_eq!(finding.severity, severity);
        assert_eq!((finding.line, finding.column), (1, 1));
        assert_eq!(finding.path, "app_id");
        assert_eq!(
            finding.message,
            "the plan has no `app_id`, and AGORA_APP_ID is not set"
        );
        assert_eq!(finding.source_line, None, "line 1 is not what it is about");
        assert!(
            finding
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("AGORA_APP_ID"))
        );
    }
    let with_env = Env::default().with("AGORA_APP_ID", APP_ID);
    let source = Source::from_text("no-app-id.yaml", text);
    let validated = validate(source, &options(with_env, MissingEnv::Refuse)).unwrap();
    assert_eq!(validated.warnings, []);
}

/// Regression: each channel was compared with every earlier one, and each
/// finding with every earlier finding, quadratic in the channels.
#[test]
fn thousands_of_repeated_channels_are_each_reported_once_quickly() {
    let n = 5_000;
    let channels: String = (0..n)
        .map(|_| "  - {cname: room, uid: \"1001\"}\n")
        .collect();
    let text = fixture_text("valid/composite.yaml").replacen(
        "  - cname: room\n    uid: \"1001\"\n",
        &channels,
        1,
    );
    let started = Instant::now();
    let diagnostics = invalid(validate(
        Source::from_text("repeats.yaml", text),
        &options(full_env(), MissingEnv::Refuse),
    ));
    let elapsed = started.elapsed();
    assert_eq!(diagnostics.len(), n - 1);
    assert!(diagnostics.iter().all(|d| d.message
        == "channel `room` with uid 1001 is already recorded by channels[0]"));
    assert_eq!(diagnostics[n - 2].path, format!("channels[{}].uid", n - 1));
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

/// Regression: a value of the wrong type stopped validation, hiding every
/// other problem, and was reported in Rust's words (`invalid u32`).
#[test]
fn a_type_error_is_reported_with_the_other_problems_in_words() {
    let text = fixture_text("valid/composite.yaml")
        .replacen(
            "duration: 30m",
            "duration: 30m\n  cron: \"0 9 * * FUNDAY\"\n  timezone: Mars/Base",
            1,
        )
        .replacen(
            "    channelType: 0",
            "    channelType: 0\n    maxIdleTime: lots",
            1,
        );
    let source = Source::from_text("types.yaml", text);
    let diagnostics = invalid(validate(source, &options(full_env(), MissingEnv::Refuse)));
    let found: Vec<(&str, &str)> = diagnostics
        .iter()
        .map(|d| (d.path.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found.iter().any(|(p, _)| *p == "schedule.cron"),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|(p, _)| *p == "schedule.timezone"),
        "{found:#?}"
    );
    assert!(found.contains(&(
        "start.recordingConfig.maxIdleTime",
        "expected a whole number from 5 to 2592000, found `lots`"
    )));
}

/// Regression: a quote left open was reported lines later, where the
/// value it swallowed happened to end.
#[test]
fn an_unclosed_quote_is_reported_where_it_opened() {
    let text = fixture_text("valid/composite.yaml").replacen("cname: room", "cname: \"room", 1);
    let opened = text.lines().position(|l| l.contains("\"room")).unwrap() + 1;
    let source = Source::from_text("quote.yaml", text);
    let diagnostics = invalid(validate(source, &options(full_env(), MissingEnv::Refuse)));
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(diagnostics[0].line, opened as u64, "{diagnostics:#?}");
    assert!(diagnostics[0].message.contains("quote is not closed"));
}
