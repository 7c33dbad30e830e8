//! RTC recording's blocks (individual and composite): recordingConfig and
//! its subscription lists, the composite canvas and layout, and update's
//! subscription changes.

use super::{check_uid, in_range, is_known};
use crate::agora::Mode;
use crate::agora::facts;
use crate::agora::request::{
    LayoutRegion, RecordingConfig, TranscodingConfig, UpdateClientRequest,
    UpdateLayoutClientRequest, UserBackground,
};
use crate::plan::issues::Issues;

pub(super) fn check_recording(config: &RecordingConfig, mode: Mode, issues: &mut Issues) {
    let path = "start.recordingConfig";
    match config.channel_type {
        None => {
            issues.error(path, "recordingConfig needs channelType").hint("0 for communication, 1 for live broadcast: it must match the app's channel profile");
        }
        Some(channel_type) if !facts::CHANNEL_TYPES.contains(&channel_type) => {
            issues.error(
                format!("{path}.channelType"),
                "channelType is 0 (communication) or 1 (live broadcast)",
            );
        }
        Some(_) => {}
    }
    if let Some(types) = config.stream_types
        && !facts::STREAM_TYPES.contains(&types)
    {
        issues.error(
            format!("{path}.streamTypes"),
            "streamTypes is 0 (audio), 1 (video) or 2 (both)",
        );
    }
    if let Some(idle) = config.max_idle_time {
        in_range(
            idle,
            &facts::MAX_IDLE_TIME,
            &format!("{path}.maxIdleTime"),
            issues,
        );
    }
    if let Some(kind) = config.video_stream_type {
        in_range(
            kind,
            &facts::VIDEO_STREAM_TYPES,
            &format!("{path}.videoStreamType"),
            issues,
        );
    }
    check_stream_mode(config, mode, issues);
    if let Some(decryption) = config.decryption_mode {
        if !facts::DECRYPTION_MODES.contains(&decryption) {
            issues.error(format!("{path}.decryptionMode"), "decryptionMode is 0 to 8");
        } else if decryption != 0 && config.secret.is_none() {
            issues.error(path, "decryptionMode needs `secret`");
        }
        if facts::SALTED_DECRYPTION.contains(&decryption) && config.salt.is_none() {
            issues.error(path, "decryptionMode 7 and 8 need `salt`");
        }
    }
    if let Some(profile) = config.audio_profile {
        if mode != Mode::Composite {
            issues.error(
                format!("{path}.audioProfile"),
                "audioProfile is for composite recording",
            );
        } else if !facts::AUDIO_PROFILES.contains(&profile) {
            issues.error(format!("{path}.audioProfile"), "audioProfile is 0, 1 or 2");
        }
    }
    check_lists(
        [
            (
                &config.subscribe_audio_uids,
                &config.un_subscribe_audio_uids,
                "subscribeAudioUids",
                "unSubscribeAudioUids",
            ),
            (
                &config.subscribe_video_uids,
                &config.un_subscribe_video_uids,
                "subscribeVideoUids",
                "unSubscribeVideoUids",
            ),
        ],
        path,
        issues,
    );
    match (mode, config.subscribe_uid_group) {
        (Mode::Individual, None) => {
            issues
                .error(path, "individual recording needs subscribeUidGroup")
                .hint("0: 1-2 uids, 1: 3-7, 2: 8-12, 3: 13-17, 4: 18-32, 5: 33-49");
        }
        (Mode::Individual, Some(group)) if !facts::SUBSCRIBE_UID_GROUPS.contains(&group) => {
            issues.error(
                format!("{path}.subscribeUidGroup"),
                "subscribeUidGroup is 0 to 5",
            );
        }
        (Mode::Composite | Mode::Web, Some(_)) => {
            issues.error(
                format!("{path}.subscribeUidGroup"),
                "subscribeUidGroup is for individual recording",
            );
        }
        _ => {}
    }
    match (&config.transcoding_config, mode) {
        (Some(transcoding), Mode::Composite) => check_transcoding(transcoding, issues),
        (Some(_), _) => {
            issues
                .error(
                    format!("{path}.transcodingConfig"),
                    "transcodingConfig is for composite recording",
                )
                .hint("remove it, or use `mode: composite`");
        }
        (None, _) => {}
    }
}

fn check_stream_mode(config: &RecordingConfig, mode: Mode, issues: &mut Issues) {
    let Some(stream_mode) = &config.stream_mode else {
        return;
    };
    let path = "start.recordingConfig.streamMode";
    if mode != Mode::Individual {
        issues.error(path, "streamMode is for individual recording");
    } else if !facts::STREAM_MODES.contains(&stream_mode.as_str()) {
        issues.error(path, "streamMode is default, standard or original");
    } else if stream_mode == "original" && config.stream_types != Some(facts::STREAM_TYPES_AUDIO) {
        issues
            .error(path, "streamMode original records audio only")
            .hint("set `streamTypes: 0` with it");
    }
}

type ListPair<'a> = (
    &'a Option<Vec<String>>,
    &'a Option<Vec<String>>,
    &'a str,
    &'a str,
);

/// Subscription lists: at most 32 uids each, a media type takes a white
/// list or a black list, not both, and `#allstream#` is a white list's.
fn check_lists<'a>(pairs: impl IntoIterator<Item = ListPair<'a>>, path: &str, issues: &mut Issues) {
    for (allow, deny, allow_name, deny_name) in pairs {
        for (list, name, all_allowed) in [(allow, allow_name, true), (deny, deny_name, false)] {
            let Some(list) = list else { continue };
            if list.len() > facts::MAX_UID_LIST {
                issues.error(
                    format!("{path}.{name}"),
                    format!(
                        "{} uids; a list holds at most {}",
                        list.len(),
                        facts::MAX_UID_LIST
                    ),
                );
            }
            for (i, uid) in list.iter().enumerate() {
                let at = format!("{path}.{name}[{i}]");
                if uid != facts::ALL_STREAMS {
                    check_uid(uid, &at, issues);
                } else if !all_allowed {
                    issues
                        .error(at, format!("{} is for subscribe lists", facts::ALL_STREAMS))
                        .hint("to record nobody's stream of this kind, set streamTypes instead");
                }
            }
        }
        if allow.is_some() && deny.is_some() {
            issues
                .error(
                    format!("{path}.{deny_name}"),
                    format!("{allow_name} and {deny_name} cannot both be set"),
                )
                .hint("use one list per media type: subscribe to some, or to all but some");
        }
    }
}

fn check_transcoding(config: &TranscodingConfig, issues: &mut Issues) {
    let path = "start.recordingConfig.transcodingConfig";
    let (width, height) = (
        config.width.unwrap_or(facts::CANVAS_DEFAULT.0),
        config.height.unwrap_or(facts::CANVAS_DEFAULT.1),
    );
    if width == 0 || height == 0 {
        issues.error(format!("{path}.width"), "width and height must be positive");
    } else if !facts::canvas_fits(width, height) {
        issues.error(
            format!("{path}.width"),
            format!("{width}x{height} is larger than Agora composites (1920x1080)"),
        );
    }
    if let Some(fps) = config.fps
        && !facts::COMPOSITE_FPS.contains(&fps)
    {
        issues
            .error(format!("{path}.fps"), format!("{fps} fps is not supported"))
            .hint("use 1, 7, 10, 15, 24, 30 or 60");
    }
    if let Some(bitrate) = config.bitrate
        && !facts::COMPOSITE_BITRATE.contains(&bitrate)
    {
        issues.error(
            format!("{path}.bitrate"),
            format!("{bitrate} Kbps is outside [1, 6500]"),
        );
    }
    check_layout(&crate::plan::layout::of_transcoding(config), path, issues);
}

pub(super) fn check_layout(layout: &UpdateLayoutClientRequest, path: &str, issues: &mut Issues) {
    let kind = layout.mixed_video_layout.unwrap_or(0);
    if !facts::MIXED_VIDEO_LAYOUTS.contains(&kind) {
        issues.error(
            format!("{path}.mixedVideoLayout"),
            "mixedVideoLayout is 0 (floating), 1 (best fit), 2 (vertical) or 3 (custom)",
        );
        return;
    }
    if let Some(color) = &layout.background_color
        && is_known(color)
        && !facts::is_rgb(color)
    {
        issues.error(
            format!("{path}.backgroundColor"),
            format!("`{color}` is not a #RRGGBB colour"),
        );
    }
    if let Some(uid) = &layout.max_resolution_uid {
        check_uid(uid, &format!("{path}.maxResolutionUid"), issues);
    }
    match (kind, &layout.layout_config) {
        (facts::LAYOUT_CUSTOM, None) => {
            issues.error(format!("{path}.mixedVideoLayout"), "the custom layout (3) needs layoutConfig").hint("list the regions: `layoutConfig: [{x_axis: 0, y_axis: 0, width: 0.5, height: 1}]`");
        }
        (facts::LAYOUT_CUSTOM, Some(regions)) => {
            check_regions(regions, &format!("{path}.layoutConfig"), issues);
        }
        (_, Some(_)) => {
            issues
                .error(
                    format!("{path}.layoutConfig"),
                    format!("layoutConfig is only for the custom layout (3), not {kind}"),
                )
                .hint("set `mixedVideoLayout: 3`, or remove layoutConfig");
        }
        (_, None) => {}
    }
    for (i, background) in layout.background_config.iter().flatten().enumerate() {
        check_background(background, &format!("{path}.backgroundConfig[{i}]"), issues);
    }
}

fn check_regions(regions: &[LayoutRegion], path: &str, issues: &mut Issues) {
    let (fewest, most) = (facts::LAYOUT_REGIONS.start(), facts::LAYOUT_REGIONS.end());
    if regions.is_empty() {
        issues
            .error(path, "the custom layout lists no region")
            .hint(format!("a custom layout has {fewest} to {most} regions"));
    } else if regions.len() > *most {
        issues.error(
            path,
            format!(
                "{} regions; a composite holds at most {most}",
                regions.len()
            ),
        );
    }
    for (i, region) in regions.iter().enumerate() {
        let at = format!("{path}[{i}]");
        for (name, value) in [
            ("x_axis", region.x_axis),
            ("y_axis", region.y_axis),
            ("width", region.width),
            ("height", region.height),
        ] {
            if !(0.0..=1.0).contains(&value) {
                issues
                    .error(format!("{at}.{name}"), format!("{value} is outside [0, 1]"))
                    .hint("positions and sizes are fractions of the canvas");
            }
        }
        if region.x_axis + region.width > 1.0 + 1e-6 || region.y_axis + region.height > 1.0 + 1e-6 {
            issues
                .error(at.clone(), "the region extends past the canvas")
                .hint("x_axis + width and y_axis + height must be at most 1");
        }
        if let Some(alpha) = region.alpha
            && !(0.0..=1.0).contains(&alpha)
        {
            issues.error(format!("{at}.alpha"), format!("{alpha} is outside [0, 1]"));
        }
        if let Some(mode) = region.render_mode {
            in_range(
                mode,
                &facts::RENDER_MODES,
                &format!("{at}.render_mode"),
                issues,
            );
        }
        if let Some(uid) = &region.uid {
            check_uid(uid, &format!("{at}.uid"), issues);
        }
    }
}

fn check_background(background: &UserBackground, at: &str, issues: &mut Issues) {
    check_uid(&background.uid, &format!("{at}.uid"), issues);
    if background.image_url.is_empty() {
        issues.error(format!("{at}.image_url"), "the image URL is empty");
    }
    if let Some(mode) = background.render_mode {
        in_range(
            mode,
            &facts::RENDER_MODES,
            &format!("{at}.render_mode"),
            issues,
        );
    }
}

pub(super) fn check_update(
    update: &UpdateClientRequest,
    mode: Mode,
    path: &str,
    issues: &mut Issues,
) {
    let web = mode == Mode::Web;
    if let Some(subscribe) = &update.stream_subscribe {
        if web {
            issues
                .error(
                    format!("{path}.streamSubscribe"),
                    "web page recording has no subscriptions",
                )
                .hint("web updates take webRecordingConfig or rtmpPublishConfig");
        }
        let audio = subscribe.audio_uid_list.clone().unwrap_or_default();
        let video = subscribe.video_uid_list.clone().unwrap_or_default();
        check_lists(
            [(
                &audio.subscribe_audio_uids,
                &audio.un_subscribe_audio_uids,
                "subscribeAudioUids",
                "unSubscribeAudioUids",
            )],
            &format!("{path}.streamSubscribe.audioUidList"),
            issues,
        );
        check_lists(
            [(
                &video.subscribe_video_uids,
                &video.un_subscribe_video_uids,
                "subscribeVideoUids",
                "unSubscribeVideoUids",
            )],
            &format!("{path}.streamSubscribe.videoUidList"),
            issues,
        );
    }
    if !web && update.web_recording_config.is_some() {
        issues.error(
            format!("{path}.webRecordingConfig"),
            format!("webRecordingConfig is for web page recording, not {mode}"),
        );
    }
    if let Some(rtmp) = &update.rtmp_publish_config {
        if !web {
            issues.error(
                format!("{path}.rtmpPublishConfig"),
                format!("rtmpPublishConfig is for web page recording, not {mode}"),
            );
        }
        if rtmp.outputs.len() > 1 {
            issues.error(
                format!("{path}.rtmpPublishConfig.outputs"),
                "Agora pushes to one CDN output",
            );
        }
        super::web::check_rtmp_urls(&rtmp.outputs, &format!("{path}.rtmpPublishConfig"), issues);
    }
    if let Some(storage) = &update.storage_config {
        super::start::check_storage(storage, &format!("{path}.storageConfig"), issues);
    }
    if update.stream_subscribe.is_none()
        && update.web_recording_config.is_none()
        && update.rtmp_publish_config.is_none()
        && update.storage_config.is_none()
    {
        issues
            .error(path, "the update changes nothing")
            .hint(if web {
                "set webRecordingConfig, rtmpPublishConfig or storageConfig"
            } else {
                "set streamSubscribe or storageConfig"
            });
    }
}
