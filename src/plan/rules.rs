//! Agora's rules for request bodies, checked on the rendered bodies of one
//! session so that values coming from templates are judged as sent. The
//! numbers and character sets are Agora's facts ([`crate::agora::facts`]),
//! shared with the simulator's checker; a body these rules accept, the
//! simulator accepts too (`differential`'s property). One file per block,
//! as the simulator's checker is laid out: identity and acquire here, then
//! [`start`], RTC recording ([`rtc`]) and web page recording ([`web`]).

mod rtc;
mod start;
mod web;

#[cfg(test)]
mod differential;

use std::time::Duration;

use super::issues::Issues;
use super::model::{SessionSpec, StepAction};
use super::template::is_known;
use crate::agora::Mode;
use crate::agora::facts;
use crate::agora::request::{AcquireClientRequest, StartClientRequest};

/// Checks one session's bodies; channel-specific findings name `channels[i]`,
/// and step findings the step's index in the file, `step_sources[i]`.
pub fn check(
    spec: &SessionSpec,
    channel: usize,
    step_sources: &[usize],
    duration: Option<Duration>,
    issues: &mut Issues,
) {
    check_uid(&spec.uid, &format!("channels[{channel}].uid"), issues);
    if let Some(backup) = &spec.backup_uid {
        check_uid(backup, &format!("channels[{channel}].backup_uid"), issues);
        if backup == &spec.uid {
            issues
                .error(
                    format!("channels[{channel}].backup_uid"),
                    "the backup uid must differ from the uid",
                )
                .hint(
                    "a restarted recording joins with the backup uid while the old one may linger",
                );
        }
    }
    check_cname(
        &spec.cname,
        spec.mode,
        &format!("channels[{channel}].cname"),
        issues,
    );
    check_app_id(&spec.app_id, issues);
    check_acquire(&spec.acquire, duration, issues);
    start::check(&spec.start, spec.mode, duration, issues);
    for (step, i) in spec.steps.iter().zip(step_sources) {
        match &step.action {
            StepAction::Update(update) => {
                rtc::check_update(update, spec.mode, &format!("steps[{i}].update"), issues);
            }
            StepAction::UpdateLayout(layout) => {
                rtc::check_layout(layout, &format!("steps[{i}].updateLayout"), issues);
            }
        }
    }
}

/// The acquire `scene` a session needs: its mode's, except that individual
/// recording with postponed transcoding or audio mixing (`appsCollection`,
/// `transcodeOptions`) needs scene 2 (AGORA-API §3). recplan sends it, so a
/// plan never has to.
pub fn acquire_scene(mode: Mode, start: &StartClientRequest) -> u8 {
    let postponed = start.apps_collection.is_some() || start.transcode_options.is_some();
    if mode == Mode::Individual && postponed {
        facts::SCENE_POSTPONED
    } else {
        mode.acquire_scene()
    }
}

/// A plan's `acquire.scene` that is not the one the session needs.
pub fn scene_mismatch(written: u8, needed: u8, mode: Mode, issues: &mut Issues) {
    let message = if written == facts::SCENE_POSTPONED && mode == Mode::Individual {
        "scene 2 is for postponed transcoding, which needs start.appsCollection".to_owned()
    } else if needed == facts::SCENE_POSTPONED {
        format!(
            "postponed transcoding (appsCollection, transcodeOptions) needs scene 2, not {written}"
        )
    } else {
        format!("scene {written} does not fit {mode} recording")
    };
    issues
        .error("acquire.scene", message)
        .hint("leave `scene` out: recplan sets it from `mode` and `start`");
}

fn check_acquire(acquire: &AcquireClientRequest, duration: Option<Duration>, issues: &mut Issues) {
    if let Some(hours) = acquire.resource_expired_hour {
        in_range(
            hours,
            &facts::RESOURCE_EXPIRED_HOURS,
            "acquire.resourceExpiredHour",
            issues,
        );
        if let Some(duration) = duration
            && u64::from(hours) * 3600 < duration.as_secs()
        {
            issues
                .error(
                    "acquire.resourceExpiredHour",
                    format!("{hours} h is shorter than the occurrence"),
                )
                .hint(
                    "the sid stops working after resourceExpiredHour; make it cover the duration",
                );
        }
    }
    if let Some(region) = &acquire.region
        && is_known(region)
        && !facts::ACQUIRE_REGIONS.contains(&region.as_str())
    {
        issues
            .error(
                "acquire.region",
                format!("`{region}` is not one of Agora's areas"),
            )
            .hint("CN, AP, EU or NA: where the recording service runs; match the storage's region");
    }
}

fn check_uid(uid: &str, path: &str, issues: &mut Issues) {
    if is_known(uid) && !facts::is_uid(uid) {
        issues.error(path, format!("uid `{uid}` is not an integer from 1 to 4294967295")).hint("write the recorder's uid as a quoted integer, e.g. \"527841\"; it must not be used by anyone in the channel");
    }
}

fn check_cname(cname: &str, mode: Mode, path: &str, issues: &mut Issues) {
    if !is_known(cname) {
        return;
    }
    if cname.is_empty() {
        issues.error(path, "the channel name is empty");
        return;
    }
    if mode == Mode::Web {
        if cname.len() > facts::WEB_KEY_MAX {
            issues.error(
                path,
                format!(
                    "{} bytes is longer than a web recording key may be ({})",
                    cname.len(),
                    facts::WEB_KEY_MAX
                ),
            );
        }
        return;
    }
    if cname.len() >= facts::CNAME_LIMIT {
        issues
            .error(
                path,
                format!(
                    "channel name is {} bytes; Agora allows fewer than {}",
                    cname.len(),
                    facts::CNAME_LIMIT
                ),
            )
            .hint("shorten the name or the values its template uses");
    }
    if let Some(bad) = facts::cname_refused_char(cname) {
        issues
            .error(
                path,
                format!("channel name `{cname}` contains `{bad}`, which Agora does not allow"),
            )
            .hint(format!(
                "use letters, digits, and {:?}",
                facts::CNAME_PUNCTUATION
            ));
    }
}

fn check_app_id(app_id: &str, issues: &mut Issues) {
    if is_known(app_id) && !crate::token::is_hex_id(app_id) {
        issues
            .error("app_id", "an Agora App ID is 32 hexadecimal characters")
            .hint("copy it from Agora Console, or set AGORA_APP_ID");
    }
}

/// Reports `value` outside Agora's range; whether it was inside.
fn in_range<T>(
    value: T,
    allowed: &std::ops::RangeInclusive<T>,
    path: &str,
    issues: &mut Issues,
) -> bool
where
    T: PartialOrd + Copy + std::fmt::Display,
{
    let ok = allowed.contains(&value);
    if !ok {
        issues.error(
            path,
            format!(
                "{value} is outside [{}, {}]",
                allowed.start(),
                allowed.end()
            ),
        );
    }
    ok
}
