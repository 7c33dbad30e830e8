//! RTC recording's bodies (individual and composite): recordingConfig and its
//! subscription lists, screenshots, the composite canvas and layout, and
//! update's subscription changes.

use super::{Check, ensure, is_uid, range};
use crate::agora::Mode;
use crate::agora::facts;
use crate::agora::request::{
    LayoutRegion, RecordingConfig, SnapshotConfig, StartClientRequest, TranscodingConfig,
    UpdateClientRequest, UpdateLayoutClientRequest, UserBackground,
};

pub(super) fn start(mode: Mode, request: &StartClientRequest) -> Check {
    ensure!(
        request.extension_service_config.is_none(),
        "extensionServiceConfig is only for web mode"
    );
    let Some(config) = &request.recording_config else {
        return Err("recordingConfig is required".to_owned());
    };
    recording_config(mode, config)?;
    if mode == Mode::Composite {
        ensure!(
            request.snapshot_config.is_none(),
            "snapshotConfig is only for individual mode"
        );
        return config
            .transcoding_config
            .as_ref()
            .map_or(Ok(()), transcoding);
    }
    ensure!(
        config.transcoding_config.is_none(),
        "recordingConfig.transcodingConfig is only for mix mode"
    );
    ensure!(
        config.subscribe_uid_group.is_some(),
        "recordingConfig.subscribeUidGroup is required in individual mode"
    );
    request
        .snapshot_config
        .as_ref()
        .map_or(Ok(()), |s| snapshot(s, config))
}

fn recording_config(mode: Mode, config: &RecordingConfig) -> Check {
    range(
        "recordingConfig.channelType",
        config.channel_type,
        &facts::CHANNEL_TYPES,
    )?;
    range(
        "recordingConfig.streamTypes",
        config.stream_types,
        &facts::STREAM_TYPES,
    )?;
    if let Some(stream_mode) = &config.stream_mode {
        ensure!(
            mode == Mode::Individual,
            "recordingConfig.streamMode is only for individual mode"
        );
        ensure!(
            facts::STREAM_MODES.contains(&stream_mode.as_str()),
            "invalid recordingConfig.streamMode value `{stream_mode}`"
        );
        ensure!(
            stream_mode != "original" || config.stream_types == Some(facts::STREAM_TYPES_AUDIO),
            "recordingConfig.streamMode original needs streamTypes 0"
        );
    }
    range(
        "recordingConfig.decryptionMode",
        config.decryption_mode,
        &facts::DECRYPTION_MODES,
    )?;
    let decryption = config.decryption_mode.unwrap_or(0);
    ensure!(
        decryption == 0 || config.secret.is_some(),
        "recordingConfig.secret is required with decryptionMode {decryption}"
    );
    ensure!(
        !facts::SALTED_DECRYPTION.contains(&decryption) || config.salt.is_some(),
        "recordingConfig.salt is required with decryptionMode {decryption}"
    );
    range(
        "recordingConfig.maxIdleTime",
        config.max_idle_time,
        &facts::MAX_IDLE_TIME,
    )?;
    range(
        "recordingConfig.videoStreamType",
        config.video_stream_type,
        &facts::VIDEO_STREAM_TYPES,
    )?;
    range(
        "recordingConfig.audioProfile",
        config.audio_profile,
        &facts::AUDIO_PROFILES,
    )?;
    range(
        "recordingConfig.subscribeUidGroup",
        config.subscribe_uid_group,
        &facts::SUBSCRIBE_UID_GROUPS,
    )?;
    uid_lists(
        "recordingConfig",
        "Audio",
        config.subscribe_audio_uids.as_ref(),
        config.un_subscribe_audio_uids.as_ref(),
    )?;
    uid_lists(
        "recordingConfig",
        "Video",
        config.subscribe_video_uids.as_ref(),
        config.un_subscribe_video_uids.as_ref(),
    )
}

/// A subscribe list and its unSubscribe counterpart: not both, at most 32
/// uids each, `#allstream#` only in the subscribe list.
fn uid_lists(
    at: &str,
    kind: &str,
    subscribe: Option<&Vec<String>>,
    unsubscribe: Option<&Vec<String>>,
) -> Check {
    ensure!(
        subscribe.is_none() || unsubscribe.is_none(),
        "{at}.subscribe{kind}Uids and unSubscribe{kind}Uids cannot both be set"
    );
    for (name, list, all_allowed) in [
        ("subscribe", subscribe, true),
        ("unSubscribe", unsubscribe, false),
    ] {
        let Some(list) = list else { continue };
        ensure!(
            list.len() <= facts::MAX_UID_LIST,
            "{at}.{name}{kind}Uids has {} uids, at most {} are allowed",
            list.len(),
            facts::MAX_UID_LIST
        );
        if let Some(bad) = list
            .iter()
            .find(|u| !(is_uid(u) || (all_allowed && *u == facts::ALL_STREAMS)))
        {
            return Err(format!("invalid uid `{bad}` in {at}.{name}{kind}Uids"));
        }
    }
    Ok(())
}

fn snapshot(snapshot: &SnapshotConfig, config: &RecordingConfig) -> Check {
    range(
        "snapshotConfig.captureInterval",
        snapshot.capture_interval,
        &facts::CAPTURE_INTERVAL,
    )?;
    ensure!(
        snapshot.file_type == [facts::SNAPSHOT_FILE_TYPE],
        "invalid snapshotConfig.fileType value, expected [\"jpg\"]"
    );
    ensure!(
        config.stream_types != Some(facts::STREAM_TYPES_AUDIO),
        "snapshotConfig needs recordingConfig.streamTypes 1 or 2"
    );
    ensure!(
        config.subscribe_audio_uids.is_none() || config.subscribe_video_uids.is_some(),
        "snapshotConfig with subscribeAudioUids needs subscribeVideoUids"
    );
    Ok(())
}

fn transcoding(config: &TranscodingConfig) -> Check {
    let (width, height) = (
        config.width.unwrap_or(facts::CANVAS_DEFAULT.0),
        config.height.unwrap_or(facts::CANVAS_DEFAULT.1),
    );
    ensure!(
        facts::canvas_fits(width, height),
        "invalid transcodingConfig resolution {width}x{height}, at most 1920x1080"
    );
    range(
        "transcodingConfig.bitrate",
        config.bitrate,
        &facts::COMPOSITE_BITRATE,
    )?;
    layout(
        "transcodingConfig.",
        &Canvas {
            mixed_video_layout: config.mixed_video_layout,
            max_resolution_uid: config.max_resolution_uid.as_ref(),
            background_color: config.background_color.as_ref(),
            layout_config: config.layout_config.as_ref(),
            background_config: config.background_config.as_ref(),
        },
    )
}

pub(crate) fn update_layout(request: &UpdateLayoutClientRequest) -> Check {
    layout(
        "",
        &Canvas {
            mixed_video_layout: request.mixed_video_layout,
            max_resolution_uid: request.max_resolution_uid.as_ref(),
            background_color: request.background_color.as_ref(),
            layout_config: request.layout_config.as_ref(),
            background_config: request.background_config.as_ref(),
        },
    )
}

/// The layout fields that start's transcodingConfig and updateLayout share.
struct Canvas<'a> {
    mixed_video_layout: Option<u8>,
    max_resolution_uid: Option<&'a String>,
    background_color: Option<&'a String>,
    layout_config: Option<&'a Vec<LayoutRegion>>,
    background_config: Option<&'a Vec<UserBackground>>,
}

fn layout(at: &str, layout: &Canvas<'_>) -> Check {
    range(
        &format!("{at}mixedVideoLayout"),
        layout.mixed_video_layout,
        &facts::MIXED_VIDEO_LAYOUTS,
    )?;
    let custom = layout.mixed_video_layout == Some(facts::LAYOUT_CUSTOM);
    match layout.layout_config {
        Some(regions) => {
            ensure!(custom, "{at}layoutConfig is only for mixedVideoLayout 3");
            ensure!(
                facts::LAYOUT_REGIONS.contains(&regions.len()),
                "{at}layoutConfig needs {} to {} regions",
                facts::LAYOUT_REGIONS.start(),
                facts::LAYOUT_REGIONS.end()
            );
            for region in regions {
                let unit = |v: f64| (0.0..=1.0).contains(&v);
                ensure!(
                    unit(region.x_axis)
                        && unit(region.y_axis)
                        && unit(region.width)
                        && unit(region.height)
                        && region.alpha.is_none_or(unit),
                    "{at}layoutConfig values must be in [0, 1]"
                );
                range(
                    &format!("{at}layoutConfig.render_mode"),
                    region.render_mode,
                    &facts::RENDER_MODES,
                )?;
                ensure!(
                    region.uid.as_deref().is_none_or(is_uid),
                    "invalid uid in {at}layoutConfig"
                );
            }
        }
        None => ensure!(
            !custom,
            "{at}layoutConfig is required with mixedVideoLayout 3"
        ),
    }
    if let Some(uid) = layout.max_resolution_uid {
        ensure!(is_uid(uid), "invalid {at}maxResolutionUid `{uid}`");
    }
    if let Some(color) = layout.background_color {
        ensure!(
            facts::is_rgb(color),
            "invalid {at}backgroundColor `{color}`, expected #RRGGBB"
        );
    }
    for background in layout.background_config.into_iter().flatten() {
        ensure!(
            is_uid(&background.uid),
            "invalid uid `{}` in {at}backgroundConfig",
            background.uid
        );
        ensure!(
            !background.image_url.is_empty(),
            "{at}backgroundConfig.image_url is empty"
        );
        range(
            &format!("{at}backgroundConfig.render_mode"),
            background.render_mode,
            &facts::RENDER_MODES,
        )?;
    }
    Ok(())
}

pub(super) fn update(request: &UpdateClientRequest) -> Check {
    ensure!(
        request.web_recording_config.is_none() && request.rtmp_publish_config.is_none(),
        "webRecordingConfig and rtmpPublishConfig are only for web mode"
    );
    let Some(subscribe) = &request.stream_subscribe else {
        return Ok(());
    };
    if let Some(audio) = &subscribe.audio_uid_list {
        uid_lists(
            "streamSubscribe.audioUidList",
            "Audio",
            audio.subscribe_audio_uids.as_ref(),
            audio.un_subscribe_audio_uids.as_ref(),
        )?;
    }
    if let Some(video) = &subscribe.video_uid_list {
        uid_lists(
            "streamSubscribe.videoUidList",
            "Video",
            video.subscribe_video_uids.as_ref(),
            video.un_subscribe_video_uids.as_ref(),
        )?;
    }
    Ok(())
}
