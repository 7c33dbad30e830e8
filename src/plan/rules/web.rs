//! Web page recording's start block: the extension services
//! (`web_recorder_service`, `rtmp_publish_service`) and their parameters,
//! and the CDN addresses that start and update push to.

use std::time::Duration;

use super::{in_range, is_known};
use crate::agora::facts::{self, RTMP_PUBLISH, WEB_RECORDER};
use crate::agora::request::{ExtensionServiceConfig, RtmpOutput, ServiceParam};
use crate::plan::issues::Issues;

pub(super) fn check_extension_services(
    config: &ExtensionServiceConfig,
    duration: Option<Duration>,
    issues: &mut Issues,
) {
    let path = "start.extensionServiceConfig";
    if config
        .error_handle_policy
        .as_deref()
        .is_some_and(|p| p != facts::SERVICES_ERROR_POLICY)
    {
        issues.error(
            format!("{path}.errorHandlePolicy"),
            "the only policy here is error_abort",
        );
    }
    let services = &config.extension_services;
    let count = |name: &str| services.iter().filter(|s| s.service_name == name).count();
    match count(WEB_RECORDER) {
        0 => {
            issues.error(
                format!("{path}.extensionServices"),
                format!("web page recording needs a {WEB_RECORDER}"),
            );
        }
        1 => {}
        n => {
            issues.error(
                format!("{path}.extensionServices"),
                format!("{n} of {WEB_RECORDER}; a recording renders one page"),
            );
        }
    }
    if count(RTMP_PUBLISH) > 1 {
        issues.error(
            format!("{path}.extensionServices"),
            format!("Agora runs one {RTMP_PUBLISH} per recording"),
        );
    }
    for (i, service) in services.iter().enumerate() {
        let at = format!("{path}.extensionServices[{i}]");
        if let Some(policy) = &service.error_handle_policy
            && !facts::SERVICE_ERROR_POLICIES.contains(&policy.as_str())
        {
            issues.error(
                format!("{at}.errorHandlePolicy"),
                format!("`{policy}` is not a policy: error_abort or error_ignore"),
            );
        }
        let param = &service.service_param;
        let at_param = format!("{at}.serviceParam");
        match service.service_name.as_str() {
            WEB_RECORDER => check_web_recorder(param, duration, &at_param, issues),
            RTMP_PUBLISH => {
                let outputs_only = ServiceParam {
                    outputs: param.outputs.clone(),
                    ..ServiceParam::default()
                };
                if *param != outputs_only {
                    issues.error(
                        at_param.clone(),
                        format!("{RTMP_PUBLISH} takes only outputs"),
                    );
                }
                match &param.outputs {
                    Some(outputs) if outputs.len() == 1 => {
                        check_rtmp_urls(outputs, &at_param, issues);
                    }
                    _ => {
                        issues.error(
                            format!("{at_param}.outputs"),
                            format!("{RTMP_PUBLISH} takes exactly one output"),
                        );
                    }
                }
            }
            other => {
                issues
                    .error(
                        format!("{at}.serviceName"),
                        format!("unknown service `{other}`"),
                    )
                    .hint(format!("{WEB_RECORDER} or {RTMP_PUBLISH}"));
            }
        }
    }
}

fn check_web_recorder(
    param: &ServiceParam,
    duration: Option<Duration>,
    at: &str,
    issues: &mut Issues,
) {
    for (name, missing) in [
        ("url", param.url.as_ref().is_none_or(String::is_empty)),
        ("audioProfile", param.audio_profile.is_none()),
        ("videoWidth", param.video_width.is_none()),
        ("videoHeight", param.video_height.is_none()),
        ("maxRecordingHour", param.max_recording_hour.is_none()),
    ] {
        if missing {
            issues.error(at, format!("{WEB_RECORDER} needs {name}"));
        }
    }
    if param.outputs.is_some() {
        issues.error(
            format!("{at}.outputs"),
            format!("outputs are for {RTMP_PUBLISH}"),
        );
    }
    if let (Some(w), Some(h)) = (param.video_width, param.video_height)
        && (!facts::WEB_SIDE.contains(&w)
            || !facts::WEB_SIDE.contains(&h)
            || u64::from(w) * u64::from(h) > facts::CANVAS_MAX_PIXELS)
    {
        issues.error(
            format!("{at}.videoWidth"),
            format!("{w}x{h}: each side must be 480 to 1920, at most 1920x1080 in all"),
        );
    }
    if let Some(hours) = param.max_recording_hour
        && in_range(
            hours,
            &facts::RESOURCE_EXPIRED_HOURS,
            &format!("{at}.maxRecordingHour"),
            issues,
        )
        && let Some(duration) = duration
        && u64::from(hours) * 3600 < duration.as_secs()
    {
        issues
            .error(
                format!("{at}.maxRecordingHour"),
                format!("{hours} h ends the recording before the occurrence ends"),
            )
            .hint("make maxRecordingHour cover schedule.duration");
    }
    if let Some(profile) = param.audio_profile
        && !facts::AUDIO_PROFILES.contains(&profile)
    {
        issues.error(format!("{at}.audioProfile"), "audioProfile is 0, 1 or 2");
    }
    for (name, value, allowed) in [
        ("videoFps", param.video_fps, &facts::WEB_FPS),
        (
            "maxVideoDuration",
            param.max_video_duration,
            &facts::WEB_MAX_VIDEO_DURATION,
        ),
        (
            "readyTimeout",
            param.ready_timeout,
            &facts::WEB_READY_TIMEOUT,
        ),
    ] {
        if let Some(value) = value {
            in_range(value, allowed, &format!("{at}.{name}"), issues);
        }
    }
}

/// Each CDN address is an `rtmp://` or `rtmps://` URL.
pub(super) fn check_rtmp_urls(outputs: &[RtmpOutput], at: &str, issues: &mut Issues) {
    for (i, output) in outputs.iter().enumerate() {
        let url = output.rtmp_url.as_str();
        if is_known(url)
            && !facts::RTMP_SCHEMES
                .iter()
                .any(|scheme| url.starts_with(scheme))
        {
            issues
                .error(
                    format!("{at}.outputs[{i}].rtmpUrl"),
                    format!("`{url}` is not an RTMP address"),
                )
                .hint("rtmp://host/app/stream or rtmps://…");
        }
    }
}
