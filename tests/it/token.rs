//! Plans with `rtc_token`: where the App Certificate comes from, what
//! happens without it, the lifetime against an occurrence's length, and
//! that the certificate shows up nowhere a person or a log could read it.

use recplan::agora::Secret;
use recplan::plan::{Env, MissingEnv, PlanError, Source, validate};
use recplan::session::timeline;
use recplan::token;

use crate::support::{
    APP_CERTIFICATE, APP_ID, errors, fixture_text, full_env, invalid, now, options,
};

/// `valid/minted-token.yaml` with `from` replaced by `to`.
fn minted_plan(from: &str, to: &str) -> Source {
    let text = fixture_text("valid/minted-token.yaml");
    assert!(text.contains(from), "minted-token.yaml has no `{from}`");
    Source::from_text("minted.yaml", text.replacen(from, to, 1))
}

/// What minted-token.yaml needs, but no App Certificate.
fn env_without_certificate() -> Env {
    Env::default().with("AGORA_APP_ID", APP_ID)
}

#[test]
fn a_missing_certificate_warns_when_linting_and_stops_a_run() {
    let source = || minted_plan("lifetime: 30m", "lifetime: 30m");
    let env = env_without_certificate();
    let linted = validate(source(), &options(env.clone(), MissingEnv::Warn)).unwrap();
    let [warning] = linted.warnings.as_slice() else {
        panic!("{:#?}", linted.warnings);
    };
    assert_eq!((warning.line, warning.column), (7, 1));
    assert_eq!(warning.path, "rtc_token");
    assert_eq!(
        warning.message,
        "the plan has no `rtc_token.certificate`, and AGORA_APP_CERTIFICATE is not set"
    );

    let refused = invalid(validate(
        source(),
        &options(env.clone(), MissingEnv::Refuse),
    ));
    assert_eq!(errors(&refused).len(), 1, "{refused:#?}");
    assert_eq!(refused[0].path, "rtc_token");

    // A plan linted without the certificate cannot be run without it.
    let plan = linted.plan;
    let Err(PlanError::Invalid { diagnostics }) = plan.occurrence(plan.localize(now()), &env, None)
    else {
        panic!("rendered without a certificate");
    };
    assert!(
        diagnostics[0]
            .message
            .contains("AGORA_APP_CERTIFICATE is not set"),
        "{diagnostics:#?}"
    );
}

#[test]
fn a_certificate_template_in_the_plan_is_used_instead_of_the_default() {
    let own = "00112233445566778899aabbccddeeff";
    let source = minted_plan(
        "lifetime: 30m",
        "lifetime: 30m\n  certificate: \"{{env.ROOM_CERTIFICATE}}\"",
    );
    let env = full_env().with("ROOM_CERTIFICATE", own);
    let plan = validate(source, &options(env.clone(), MissingEnv::Refuse))
        .unwrap()
        .plan;
    let occurrence = plan.occurrence(plan.localize(now()), &env, None).unwrap();
    let minting = occurrence.sessions[0].rtc_token.clone().expect("minting");
    let minted = minting
        .mint(APP_ID, "room", "1001", 1_800_000_000, 7)
        .unwrap();
    let decoded = token::decode(minted.expose()).unwrap();
    assert!(decoded.is_signed_with(&Secret::new(own)));
    assert!(!decoded.is_signed_with(&Secret::new(APP_CERTIFICATE)));
    assert_eq!(decoded.token.expire, 30 * 60);
}

#[test]
fn the_lifetime_must_cover_an_occurrence_given_on_the_command_line() {
    // Without a schedule the length is only known when run.
    let source = minted_plan("schedule:\n  duration: 30m\n", "");
    let env = full_env();
    let plan = validate(source, &options(env.clone(), MissingEnv::Refuse))
        .unwrap()
        .plan;
    let start = plan.localize(now());
    let thirty = std::time::Duration::from_secs(30 * 60);
    assert!(plan.occurrence(start, &env, Some(thirty)).is_ok());
    let Err(PlanError::Invalid { diagnostics }) = plan.occurrence(
        start,
        &env,
        Some(thirty + std::time::Duration::from_secs(1)),
    ) else {
        panic!("a token shorter than the occurrence was accepted");
    };
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(diagnostics[0].path, "rtc_token.lifetime");
    assert_eq!(
        diagnostics[0].message,
        "a token living 30m ends before the occurrence does (30m1s long)"
    );
}

#[test]
fn the_certificate_is_never_shown() {
    let env = full_env();
    let validated = validate(
        minted_plan("lifetime: 30m", "lifetime: 30m"),
        &options(env.clone(), MissingEnv::Refuse),
    )
    .unwrap();
    let plan = &validated.plan;
    let occurrence = plan.occurrence(plan.localize(now()), &env, None).unwrap();
    let spec = &occurrence.sessions[0];
    let minting = spec.rtc_token.as_ref().expect("minting");
    let mut shown = vec![
        format!("{validated:?}"),
        format!("{occurrence:?}"),
        format!("{minting:?}"),
        format!("{:?}", options(env.clone(), MissingEnv::Refuse)),
        serde_json::to_string(&occurrence).unwrap(),
    ];
    for call in timeline(spec, occurrence.duration) {
        shown.push(format!("{call:?}"));
        shown.push(serde_json::to_string(&call).unwrap());
    }
    // A wrong certificate is reported without quoting it, whether from
    // the environment, through the plan's template, or written in the plan
    // (whose line is then not quoted either).
    let wrong = &APP_CERTIFICATE[..31];
    let from_env = validate(
        minted_plan("lifetime: 30m", "lifetime: 30m"),
        &options(
            env.clone().with("AGORA_APP_CERTIFICATE", wrong),
            MissingEnv::Refuse,
        ),
    );
    let from_template = validate(
        minted_plan(
            "lifetime: 30m",
            "lifetime: 30m\n  certificate: \"{{env.WRONG}}\"",
        ),
        &options(env.with("WRONG", wrong), MissingEnv::Refuse),
    );
    let written = validate(
        minted_plan(
            "lifetime: 30m",
            &format!("lifetime: 30m\n  certificate: \"{wrong}\""),
        ),
        &options(full_env(), MissingEnv::Refuse),
    );
    for result in [from_env, from_template, written] {
        let error = result.unwrap_err();
        shown.push(error.to_string());
        shown.push(format!("{error:?}"));
        let PlanError::Invalid { diagnostics } = error else {
            panic!("{error}");
        };
        assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
        assert!(
            diagnostics[0]
                .message
                .contains("is not 32 hexadecimal characters")
        );
        shown.extend(diagnostics.iter().map(|d| format!("{d}\n{d:?}")));
    }
    for text in &shown {
        assert!(
            !text.contains(wrong),
            "the certificate leaked into:\n{text}"
        );
    }
    // The render placeholder stands where the token goes, with a note.
    let start = &timeline(spec, occurrence.duration)[1];
    assert_eq!(
        start.body.as_ref().unwrap()["clientRequest"]["token"],
        "<minted at start>"
    );
    assert_eq!(
        start.note.as_deref(),
        Some("token minted for the starting uid as start is sent, valid 30m")
    );
}
