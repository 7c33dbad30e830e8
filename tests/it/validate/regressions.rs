//! Regression tests, each named after the bug it pins down.

use recplan::plan::{MissingEnv, PlanError, Source, validate};

use crate::support::{fixture_text, full_env, invalid, options};

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
