//! Web page recording's start and update bodies: the extension services
//! (`web_recorder_service`, `rtmp_publish_service`) and their parameters.

use super::{Check, ensure, range};
use crate::agora::facts::{self, RTMP_PUBLISH, WEB_RECORDER};
use crate::agora::request::{
    ExtensionService, RtmpOutput, ServiceParam, StartClientRequest, UpdateClientRequest,
};

pub(super) fn start(request: &StartClientRequest) -> Check {
    ensure!(
        request.recording_config.is_none() && request.snapshot_config.is_none(),
        "recordingConfig and snapshotConfig are not supported in web mode"
    );
    let Some(config) = &request.extension_service_config else {
        return Err("extensionServiceConfig is required in web mode".to_owned());
    };
    if let Some(policy) = &config.error_handle_policy {
        ensure!(
            policy == facts::SERVICES_ERROR_POLICY,
            "invalid extensionServiceConfig.errorHandlePolicy value `{policy}`, expected error_abort"
        );
    }
    let services = &config.extension_services;
    ensure!(
        services
            .iter()
            .filter(|s| s.service_name == WEB_RECORDER)
            .count()
            == 1,
        "extensionServiceConfig.extensionServices needs one {WEB_RECORDER}"
    );
    ensure!(
        services
            .iter()
            .filter(|s| s.service_name == RTMP_PUBLISH)
            .count()
            <= 1,
        "extensionServiceConfig.extensionServices allows one {RTMP_PUBLISH}"
    );
    services.iter().try_for_each(service)
}

fn service(service: &ExtensionService) -> Check {
    let name = service.service_name.as_str();
    if let Some(policy) = &service.error_handle_policy {
        ensure!(
            facts::SERVICE_ERROR_POLICIES.contains(&policy.as_str()),
            "invalid errorHandlePolicy value `{policy}` for {name}"
        );
    }
    match name {
        WEB_RECORDER => web_recorder(&service.service_param),
        RTMP_PUBLISH => rtmp_publish(&service.service_param),
        other => Err(format!(
            "invalid serviceName `{other}`, expected {WEB_RECORDER} or {RTMP_PUBLISH}"
        )),
    }
}

fn web_recorder(param: &ServiceParam) -> Check {
    let at = "web_recorder_service.serviceParam";
    ensure!(
        param.url.as_ref().is_some_and(|u| !u.is_empty()),
        "{at}.url is required"
    );
    let (Some(audio_profile), Some(width), Some(height), Some(hours)) = (
        param.audio_profile,
        param.video_width,
        param.video_height,
        param.max_recording_hour,
    ) else {
        return Err(format!(
            "{at}.audioProfile, videoWidth, videoHeight and maxRecordingHour are required"
        ));
    };
    range(
        &format!("{at}.audioProfile"),
        Some(audio_profile),
        &facts::AUDIO_PROFILES,
    )?;
    range(&format!("{at}.videoWidth"), Some(width), &facts::WEB_SIDE)?;
    range(&format!("{at}.videoHeight"), Some(height), &facts::WEB_SIDE)?;
    ensure!(
        u64::from(width) * u64::from(height) <= facts::CANVAS_MAX_PIXELS,
        "{at}: videoWidth x videoHeight must not exceed 1920 x 1080"
    );
    range(
        &format!("{at}.maxRecordingHour"),
        Some(hours),
        &facts::RESOURCE_EXPIRED_HOURS,
    )?;
    range(&format!("{at}.videoFps"), param.video_fps, &facts::WEB_FPS)?;
    range(
        &format!("{at}.maxVideoDuration"),
        param.max_video_duration,
        &facts::WEB_MAX_VIDEO_DURATION,
    )?;
    range(
        &format!("{at}.readyTimeout"),
        param.ready_timeout,
        &facts::WEB_READY_TIMEOUT,
    )?;
    ensure!(
        param.outputs.is_none(),
        "{at}.outputs is only for {RTMP_PUBLISH}"
    );
    Ok(())
}

fn rtmp_publish(param: &ServiceParam) -> Check {
    let at = "rtmp_publish_service.serviceParam";
    let outputs_only = ServiceParam {
        outputs: param.outputs.clone(),
        ..ServiceParam::default()
    };
    ensure!(*param == outputs_only, "{at} takes only outputs");
    match &param.outputs {
        Some(outputs) if outputs.len() == 1 => rtmp_urls(at, outputs),
        _ => Err(format!("{at}.outputs needs exactly one output")),
    }
}

fn rtmp_urls(at: &str, outputs: &[RtmpOutput]) -> Check {
    for output in outputs {
        let url = output.rtmp_url.as_str();
        ensure!(
            facts::RTMP_SCHEMES
                .iter()
                .any(|scheme| url.starts_with(scheme)),
            "invalid {at}.outputs rtmpUrl `{url}`, expected rtmp:// or rtmps://"
        );
    }
    Ok(())
}

pub(super) fn update(request: &UpdateClientRequest) -> Check {
    ensure!(
        request.stream_subscribe.is_none(),
        "streamSubscribe is not supported in web mode"
    );
    if let Some(publish) = &request.rtmp_publish_config {
        ensure!(
            publish.outputs.len() <= 1,
            "rtmpPublishConfig.outputs allows one output"
        );
        rtmp_urls("rtmpPublishConfig", &publish.outputs)?;
    }
    Ok(())
}
