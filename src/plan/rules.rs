//! Agora's rules for request bodies, checked on the rendered bodies of one
//! session so that values coming from templates are judged as sent.
//! Ranges and combinations are from the reference's start, update,
//! updateLayout and limits sections.

use std::time::Duration;

use super::issues::Issues;
use super::model::{SessionSpec, StepAction};
use super::template::is_known;
use crate::agora::Mode;
use crate::agora::request::{
    AvFileType, ExtensionServiceConfig, RecordingConfig, StartClientRequest, StorageConfig,
    TranscodingConfig, UpdateClientRequest, UpdateLayoutClientRequest,
};

/// Frame rates Agora's composite transcoder accepts (others become 15).
const COMPOSITE_FPS: &[u32] = &[1, 7, 10, 15, 24, 30, 60];
/// Characters Agora allows in an RTC channel name, besides ASCII letters and digits.
const CNAME_PUNCTUATION: &str = " !#$%&()+-:;<=.>?@[]^_{}|~,";
const MAX_LIST: usize = 32;
const MAX_REGIONS: usize = 17;

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
    if let Some(hours) = spec.acquire.resource_expired_hour {
        in_range(
            u64::from(hours),
            1,
            720,
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
    check_start(&spec.start, spec.mode, duration, issues);
    for (step, i) in spec.steps.iter().zip(step_sources) {
        match &step.action {
            StepAction::Update(update) => {
                check_update(update, spec.mode, &format!("steps[{i}].update"), issues);
            }
            StepAction::UpdateLayout(layout) => {
                check_layout(layout, &format!("steps[{i}].updateLayout"), issues);
            }
        }
    }
}

fn check_uid(uid: &str, path: &str, issues: &mut Issues) {
    if !is_known(uid) {
        return;
    }
    let valid = !uid.starts_with('0')
        && uid.bytes().all(|b| b.is_ascii_digit())
        && uid.parse::<u32>().is_ok_and(|n| n >= 1);
    if !valid {
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
        if cname.len() > 1024 {
            issues.error(
                path,
                format!(
                    "{} bytes is longer than a web recording key may be (1024)",
                    cname.len()
                ),
            );
        }
        return;
    }
    if cname.len() >= 64 {
        issues
            .error(
                path,
                format!(
                    "channel name is {} bytes; Agora allows fewer than 64",
                    cname.len()
                ),
            )
            .hint("shorten the name or the values its template uses");
    }
    if let Some(bad) = cname
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !CNAME_PUNCTUATION.contains(*c))
    {
        issues
            .error(
                path,
                format!("channel name `{cname}` contains `{bad}`, which Agora does not allow"),
            )
            .hint(format!("use letters, digits, and {CNAME_PUNCTUATION:?}"));
    }
}

fn check_app_id(app_id: &str, issues: &mut Issues) {
    if is_known(app_id) && !(app_id.len() == 32 && app_id.bytes().all(|b| b.is_ascii_hexdigit())) {
        issues
            .error("app_id", "an Agora App ID is 32 hexadecimal characters")
            .hint("copy it from Agora Console, or set AGORA_APP_ID");
    }
}

fn in_range(value: u64, min: u64, max: u64, path: &str, issues: &mut Issues) -> bool {
    let ok = (min..=max).contains(&value);
    if !ok {
        issues.error(path, format!("{value} is outside [{min}, {max}]"));
    }
    ok
}

fn check_start(
    start: &StartClientRequest,
    mode: Mode,
    duration: Option<Duration>,
    issues: &mut Issues,
) {
    match &start.storage_config {
        Some(storage) => check_storage(storage, "start.storageConfig", issues),
        None => issues.error("start", "start needs a storageConfig").hint("storageConfig says where Agora uploads the files: vendor, region, bucket, accessKey, secretKey"),
    }
    let web = mode == Mode::Web;
    if web {
        if start.token.is_some() {
            issues.warn("start.token", "web page recording does not use a token");
        }
        if start.recording_config.is_some() {
            issues.error("start.recordingConfig", "recordingConfig is for individual and composite recording").hint("web page recording takes storageConfig, recordingFileConfig and extensionServiceConfig");
        }
        match &start.extension_service_config {
            Some(config) => check_extension_services(config, duration, issues),
            None => issues.error("start", "web page recording needs extensionServiceConfig").hint("add a web_recorder_service with url, audioProfile, videoWidth, videoHeight, maxRecordingHour"),
        }
    } else {
        if start.extension_service_config.is_some() {
            issues
                .error(
                    "start.extensionServiceConfig",
                    format!("extensionServiceConfig is for web page recording, not {mode}"),
                )
                .hint("remove it, or use `mode: web`");
        }
        match &start.recording_config {
            Some(config) => check_recording(config, mode, issues),
            None => issues
                .error("start", "start needs a recordingConfig")
                .hint("at least `recordingConfig: {channelType: 0}` (1 for live broadcast)"),
        }
    }
    if start.snapshot_config.is_some() && mode != Mode::Individual {
        issues.error(
            "start.snapshotConfig",
            "screenshots (snapshotConfig) are for individual recording only",
        );
    }
    if let Some(snapshot) = &start.snapshot_config {
        if let Some(interval) = snapshot.capture_interval {
            in_range(
                u64::from(interval),
                5,
                3600,
                "start.snapshotConfig.captureInterval",
                issues,
            );
        }
        if snapshot.file_type != ["jpg"] {
            issues.error(
                "start.snapshotConfig.fileType",
                "fileType must be [\"jpg\"]",
            );
        }
    }
    if let Some(files) = &start.recording_file_config {
        let types = &files.av_file_type;
        let valid = types == &[AvFileType::Hls] || types == &[AvFileType::Hls, AvFileType::Mp4];
        if !valid {
            issues
                .error(
                    "start.recordingFileConfig.avFileType",
                    "avFileType must be [\"hls\"] or [\"hls\", \"mp4\"]",
                )
                .hint("MP4 is written alongside HLS, never alone");
        } else if types.contains(&AvFileType::Mp4) && mode == Mode::Individual {
            issues
                .error(
                    "start.recordingFileConfig.avFileType",
                    "individual recording writes HLS only",
                )
                .hint("use [\"hls\"], or composite or web mode for MP4");
        }
    }
}

fn check_storage(storage: &StorageConfig, path: &str, issues: &mut Issues) {
    if storage.bucket.is_empty() {
        issues.error(format!("{path}.bucket"), "the bucket is empty");
    }
    if storage.sts_token.is_some() && !matches!(storage.vendor.0, 1..=3) {
        issues.error(
            format!("{path}.stsToken"),
            "stsToken is for Amazon S3, Alibaba Cloud and Tencent Cloud only",
        );
    }
    if storage.vendor.0 == 11
        && storage
            .extension_params
            .as_ref()
            .and_then(|p| p.endpoint.as_ref())
            .is_none()
    {
        issues.error(
            path,
            "S3-compatible storage (vendor 11) needs extensionParams.endpoint",
        );
    }
    let Some(prefix) = &storage.file_name_prefix else {
        return;
    };
    if prefix.iter().any(|p| !is_known(p)) {
        return;
    }
    for (i, part) in prefix.iter().enumerate() {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
            issues
                .error(
                    format!("{path}.fileNamePrefix[{i}]"),
                    format!("`{part}` may contain only letters and digits"),
                )
                .hint("Agora allows [a-zA-Z0-9] in each element; elements are joined with `/`");
        }
    }
    let joined = prefix.join("/").len();
    if joined > 128 {
        issues
            .error(
                format!("{path}.fileNamePrefix"),
                format!("the joined prefix is {joined} characters; Agora allows 128"),
            )
            .hint("checked with a sample occurrence's values; shorten the elements");
    }
}

fn check_recording(config: &RecordingConfig, mode: Mode, issues: &mut Issues) {
    let path = "start.recordingConfig";
    if config.channel_type.is_none() {
        issues.error(path, "recordingConfig needs channelType").hint("0 for communication, 1 for live broadcast: it must match the app's channel profile");
    }
    if let Some(channel_type) = config.channel_type
        && channel_type > 1
    {
        issues.error(
            format!("{path}.channelType"),
            "channelType is 0 (communication) or 1 (live broadcast)",
        );
    }
    if let Some(types) = config.stream_types
        && types > 2
    {
        issues.error(
            format!("{path}.streamTypes"),
            "streamTypes is 0 (audio), 1 (video) or 2 (both)",
        );
    }
    if let Some(idle) = config.max_idle_time {
        in_range(
            u64::from(idle),
            5,
            2_592_000,
            &format!("{path}.maxIdleTime"),
            issues,
        );
    }
    if let Some(mode_name) = &config.stream_mode {
        if mode != Mode::Individual {
            issues.error(
                format!("{path}.streamMode"),
                "streamMode is for individual recording",
            );
        } else if !["default", "standard", "original"].contains(&mode_name.as_str()) {
            issues.error(
                format!("{path}.streamMode"),
                "streamMode is default, standard or original",
            );
        }
    }
    if let Some(decryption) = config.decryption_mode {
        if decryption > 8 {
            issues.error(format!("{path}.decryptionMode"), "decryptionMode is 0 to 8");
        } else if decryption != 0 && config.secret.is_none() {
            issues.error(path, "decryptionMode needs `secret`");
        }
        if matches!(decryption, 7 | 8) && config.salt.is_none() {
            issues.error(path, "decryptionMode 7 and 8 need `salt`");
        }
    }
    if let Some(profile) = config.audio_profile {
        if mode != Mode::Composite {
            issues.error(
                format!("{path}.audioProfile"),
                "audioProfile is for composite recording",
            );
        } else if profile > 2 {
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
        (Mode::Individual, Some(group)) if group > 5 => {
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

type ListPair<'a> = (
    &'a Option<Vec<String>>,
    &'a Option<Vec<String>>,
    &'a str,
    &'a str,
);

/// Subscription lists: at most 32 uids each, and a media type takes a
/// white list or a black list, not both.
fn check_lists<'a>(pairs: impl IntoIterator<Item = ListPair<'a>>, path: &str, issues: &mut Issues) {
    for (allow, deny, allow_name, deny_name) in pairs {
        for (list, name) in [(allow, allow_name), (deny, deny_name)] {
            if let Some(list) = list {
                if list.len() > MAX_LIST {
                    issues.error(
                        format!("{path}.{name}"),
                        format!("{} uids; a list holds at most {MAX_LIST}", list.len()),
                    );
                }
                for (i, uid) in list.iter().enumerate() {
                    if uid != "#allstream#" {
                        check_uid(uid, &format!("{path}.{name}[{i}]"), issues);
                    }
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
    let (width, height) = (config.width.unwrap_or(360), config.height.unwrap_or(640));
    if width > 1920 || height > 1920 || u64::from(width) * u64::from(height) > 1920 * 1080 {
        issues.error(
            format!("{path}.width"),
            format!("{width}x{height} is larger than Agora composites (1920x1080)"),
        );
    }
    if width == 0 || height == 0 {
        issues.error(format!("{path}.width"), "width and height must be positive");
    }
    if let Some(fps) = config.fps
        && !COMPOSITE_FPS.contains(&fps)
    {
        issues
            .error(format!("{path}.fps"), format!("{fps} fps is not supported"))
            .hint("use 1, 7, 10, 15, 24, 30 or 60");
    }
    if let Some(bitrate) = config.bitrate
        && !(1..=6500).contains(&bitrate)
    {
        issues.error(
            format!("{path}.bitrate"),
            format!("{bitrate} Kbps is outside [1, 6500]"),
        );
    }
    check_layout(&super::layout::of_transcoding(config), path, issues);
}

fn check_layout(layout: &UpdateLayoutClientRequest, path: &str, issues: &mut Issues) {
    let kind = layout.mixed_video_layout.unwrap_or(0);
    if kind > 3 {
        issues.error(
            format!("{path}.mixedVideoLayout"),
            "mixedVideoLayout is 0 (floating), 1 (best fit), 2 (vertical) or 3 (custom)",
        );
        return;
    }
    if let Some(color) = &layout.background_color
        && is_known(color)
        && !(color.len() == 7
            && color.starts_with('#')
            && color[1..].bytes().all(|b| b.is_ascii_hexdigit()))
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
        (3, None) => {
            issues.error(format!("{path}.mixedVideoLayout"), "the custom layout (3) needs layoutConfig").hint("list the regions: `layoutConfig: [{x_axis: 0, y_axis: 0, width: 0.5, height: 1}]`");
        }
        (3, Some(regions)) => check_regions(regions, &format!("{path}.layoutConfig"), issues),
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
}

fn check_regions(regions: &[crate::agora::request::LayoutRegion], path: &str, issues: &mut Issues) {
    if regions.len() > MAX_REGIONS {
        issues.error(
            path,
            format!(
                "{} regions; a composite holds at most {MAX_REGIONS}",
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
        if let Some(uid) = &region.uid {
            check_uid(uid, &format!("{at}.uid"), issues);
        }
    }
}

fn check_update(update: &UpdateClientRequest, mode: Mode, path: &str, issues: &mut Issues) {
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
    }
    if let Some(storage) = &update.storage_config {
        check_storage(storage, &format!("{path}.storageConfig"), issues);
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

fn check_extension_services(
    config: &ExtensionServiceConfig,
    duration: Option<Duration>,
    issues: &mut Issues,
) {
    let path = "start.extensionServiceConfig";
    if config
        .error_handle_policy
        .as_deref()
        .is_some_and(|p| p != "error_abort")
    {
        issues.error(
            format!("{path}.errorHandlePolicy"),
            "the only policy here is error_abort",
        );
    }
    if !config
        .extension_services
        .iter()
        .any(|s| s.service_name == "web_recorder_service")
    {
        issues.error(
            format!("{path}.extensionServices"),
            "web page recording needs a web_recorder_service",
        );
    }
    for (i, service) in config.extension_services.iter().enumerate() {
        let at = format!("{path}.extensionServices[{i}]");
        let param = &service.service_param;
        match service.service_name.as_str() {
            "web_recorder_service" => {
                let p = format!("{at}.serviceParam");
                for (name, missing) in [
                    ("url", param.url.is_none()),
                    ("audioProfile", param.audio_profile.is_none()),
                    ("videoWidth", param.video_width.is_none()),
                    ("videoHeight", param.video_height.is_none()),
                    ("maxRecordingHour", param.max_recording_hour.is_none()),
                ] {
                    if missing {
                        issues.error(p.clone(), format!("web_recorder_service needs {name}"));
                    }
                }
                if let (Some(w), Some(h)) = (param.video_width, param.video_height)
                    && (!(480..=1920).contains(&w)
                        || !(480..=1920).contains(&h)
                        || u64::from(w) * u64::from(h) > 1920 * 1080)
                {
                    issues.error(
                        format!("{p}.videoWidth"),
                        format!("{w}x{h}: each side must be 480 to 1920, at most 1920x1080 in all"),
                    );
                }
                if let Some(hours) = param.max_recording_hour
                    && in_range(
                        u64::from(hours),
                        1,
                        720,
                        &format!("{p}.maxRecordingHour"),
                        issues,
                    )
                    && let Some(duration) = duration
                    && u64::from(hours) * 3600 < duration.as_secs()
                {
                    issues
                        .error(
                            format!("{p}.maxRecordingHour"),
                            format!("{hours} h ends the recording before the occurrence ends"),
                        )
                        .hint("make maxRecordingHour cover schedule.duration");
                }
                if let Some(profile) = param.audio_profile
                    && profile > 2
                {
                    issues.error(format!("{p}.audioProfile"), "audioProfile is 0, 1 or 2");
                }
                if let Some(fps) = param.video_fps {
                    in_range(u64::from(fps), 5, 60, &format!("{p}.videoFps"), issues);
                }
                if let Some(minutes) = param.max_video_duration {
                    in_range(
                        u64::from(minutes),
                        30,
                        240,
                        &format!("{p}.maxVideoDuration"),
                        issues,
                    );
                }
                if let Some(timeout) = param.ready_timeout {
                    in_range(
                        u64::from(timeout),
                        0,
                        60,
                        &format!("{p}.readyTimeout"),
                        issues,
                    );
                }
            }
            "rtmp_publish_service" => {
                if param.outputs.as_ref().is_none_or(|o| o.len() != 1) {
                    issues.error(
                        format!("{at}.serviceParam.outputs"),
                        "rtmp_publish_service takes exactly one output",
                    );
                }
            }
            other => {
                issues
                    .error(
                        format!("{at}.serviceName"),
                        format!("unknown service `{other}`"),
                    )
                    .hint("web_recorder_service or rtmp_publish_service");
            }
        }
    }
}
