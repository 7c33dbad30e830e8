//! A plan's `rtc_token`: checked when the plan is validated, and turned
//! into a [`Minting`] (lifetime plus App Certificate) with each occurrence,
//! which the session mints the recorder's tokens with as it starts.

use std::time::Duration;

use super::duration;
use super::issues::Issues;
use super::model::{Plan, Timing, TokenPlan};
use super::raw::RawPlan;
use super::render::render_text;
use super::template::{self, Context, Env, MissingEnv};
use super::validate::parse_duration;
use crate::agora::{Mode, Secret};
use crate::token::{ENV_APP_CERTIFICATE, MAX_LIFETIME, Minting, is_hex_id};

/// Checks `rtc_token`: it replaces any fixed token, suits RTC recording
/// only, and its lifetime is what Agora allows and covers the occurrence,
/// since Agora cannot renew a recording's token. None when it is absent
/// or wrong (and reported).
pub(super) fn check(raw: &RawPlan, timing: &Timing, issues: &mut Issues) -> Option<TokenPlan> {
    let token = raw.rtc_token.as_ref()?;
    let mut valid = true;
    if raw.mode == Mode::Web {
        issues
            .error("rtc_token", "web page recording does not use a token")
            .hint("remove `rtc_token`: only individual and composite recording join a channel");
        valid = false;
    }
    let fixed = [
        (raw.start.token.is_some(), "start.token"),
        (
            raw.acquire
                .as_ref()
                .and_then(|a| a.start_parameter.as_ref())
                .is_some_and(|p| p.token.is_some()),
            "acquire.startParameter.token",
        ),
    ];
    for (set, field) in fixed {
        if set {
            issues
                .error(
                    "rtc_token",
                    format!("`rtc_token` mints the token, yet `{field}` gives one too"),
                )
                .hint(format!(
                    "remove `{field}` to have recplan mint the token, or `rtc_token` to send a fixed one"
                ));
            valid = false;
        }
    }
    let lifetime = parse_duration(&token.lifetime, "rtc_token.lifetime", issues)?;
    if lifetime.is_zero() {
        issues
            .error("rtc_token.lifetime", "the lifetime must be positive")
            .hint("at least schedule.duration, e.g. `2h`");
        return None;
    }
    if lifetime > MAX_LIFETIME {
        issues
            .error(
                "rtc_token.lifetime",
                format!(
                    "{} is longer than Agora lets a token live ({})",
                    duration::format(lifetime),
                    duration::format(MAX_LIFETIME)
                ),
            )
            .hint("at most `24h`");
        valid = false;
    }
    if let Some(length) = timing.duration {
        valid &= covers(lifetime, length, issues);
    }
    valid.then(|| TokenPlan {
        certificate: token.certificate.clone(),
        lifetime,
    })
}

/// Whether a token living `lifetime` outlives an occurrence of `length`;
/// reported if not. Checked with the plan's duration when validating, and
/// again with one given on the command line.
pub(super) fn covers(lifetime: Duration, length: Duration, issues: &mut Issues) -> bool {
    if lifetime >= length {
        return true;
    }
    issues
        .error(
            "rtc_token.lifetime",
            format!(
                "a token living {} ends before the occurrence does ({} long)",
                duration::format(lifetime),
                duration::format(length)
            ),
        )
        .hint("Agora cannot renew a cloud recording's token: make the lifetime at least the occurrence's duration");
    false
}

impl Plan {
    /// What `rtc_token` mints with: its lifetime and the App Certificate,
    /// from its `certificate` template or else `$AGORA_APP_CERTIFICATE`.
    /// Findings never quote the certificate.
    pub(super) fn minting(
        &self,
        context: &Context,
        env: &Env,
        missing_env: MissingEnv,
        issues: &mut Issues,
    ) -> Option<Minting> {
        let token = self.rtc_token.as_ref()?;
        let (certificate, path) = if let Some(template) = &token.certificate {
            let path = "rtc_token.certificate";
            (render_text(context, template.expose(), path, issues), path)
        } else if let Some(value) = env.get(ENV_APP_CERTIFICATE) {
            (value.to_owned(), "rtc_token")
        } else {
            let message = format!(
                "the plan has no `rtc_token.certificate`, and {ENV_APP_CERTIFICATE} is not set"
            );
            let marker = if missing_env.tolerates("rtc_token.certificate") {
                issues.warn("rtc_token", message).hint(format!(
                        "set {ENV_APP_CERTIFICATE} where recplan runs; `validate --require-env` makes this an error"
                    ));
                template::absent_env_marker(ENV_APP_CERTIFICATE)
            } else {
                issues.error("rtc_token", message).hint(format!(
                        "export {ENV_APP_CERTIFICATE}, or add `certificate: \"{{{{env.NAME}}}}\"` to rtc_token; nothing is sent without it"
                    ));
                template::unknown()
            };
            (marker, "rtc_token")
        };
        if template::is_known(&certificate) && !is_hex_id(&certificate) {
            let source = if path == "rtc_token" {
                ENV_APP_CERTIFICATE
            } else {
                "the certificate"
            };
            // The line may hold the certificate itself, written in the plan.
            issues
                .error(path, format!("{source} is not 32 hexadecimal characters"))
                .unquoted()
                .hint("an App Certificate is 32 hexadecimal characters: copy the primary certificate of the App ID's project from Agora Console");
        }
        Some(Minting::new(Secret::new(certificate), token.lifetime))
    }
}
