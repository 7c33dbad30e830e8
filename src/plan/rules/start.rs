//! start's body as a whole: storage, the files written, screenshots and
//! postponed transcoding; the mode's own blocks are [`super::rtc`]'s and
//! [`super::web`]'s.

use std::time::Duration;

use super::{in_range, is_known};
use crate::agora::Mode;
use crate::agora::facts;
use crate::agora::request::{
    AvFileType, RecordingConfig, SnapshotConfig, StartClientRequest, StorageConfig,
    TranscodeOptions,
};
use crate::plan::issues::Issues;

pub(super) fn check(
    start: &StartClientRequest,
    mode: Mode,
    duration: Option<Duration>,
    issues: &mut Issues,
) {
    match &start.storage_config {
        Some(storage) => check_storage(storage, "start.storageConfig", issues),
        None => issues.error("start", "start needs a storageConfig").hint("storageConfig says where Agora uploads the files: vendor, region, bucket, accessKey, secretKey"),
    }
    if mode == Mode::Web {
        if start.token.is_some() {
            issues.warn("start.token", "web page recording does not use a token");
        }
        if start.recording_config.is_some() {
            issues.error("start.recordingConfig", "recordingConfig is for individual and composite recording").hint("web page recording takes storageConfig, recordingFileConfig and extensionServiceConfig");
        }
        match &start.extension_service_config {
            Some(config) => super::web::check_extension_services(config, duration, issues),
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
            Some(config) => super::rtc::check_recording(config, mode, issues),
            None => issues
                .error("start", "start needs a recordingConfig")
                .hint("at least `recordingConfig: {channelType: 0}` (1 for live broadcast)"),
        }
    }
    if let Some(snapshot) = &start.snapshot_config {
        check_snapshot(snapshot, start.recording_config.as_ref(), mode, issues);
    }
    check_file_types(start, mode, issues);
    check_postponed(start, mode, issues);
}

fn check_snapshot(
    snapshot: &SnapshotConfig,
    recording: Option<&RecordingConfig>,
    mode: Mode,
    issues: &mut Issues,
) {
    let path = "start.snapshotConfig";
    if mode != Mode::Individual {
        issues.error(
            path,
            "screenshots (snapshotConfig) are for individual recording only",
        );
    }
    if let Some(interval) = snapshot.capture_interval {
        in_range(
            interval,
            &facts::CAPTURE_INTERVAL,
            &format!("{path}.captureInterval"),
            issues,
        );
    }
    if snapshot.file_type != [facts::SNAPSHOT_FILE_TYPE] {
        issues.error(format!("{path}.fileType"), "fileType must be [\"jpg\"]");
    }
    let Some(recording) = recording else { return };
    if recording.stream_types == Some(facts::STREAM_TYPES_AUDIO) {
        issues
            .error(
                path,
                "screenshots need video: streamTypes is 0 (audio only)",
            )
            .hint("set recordingConfig.streamTypes to 1 (video) or 2 (both)");
    }
    if recording.subscribe_audio_uids.is_some() && recording.subscribe_video_uids.is_none() {
        issues
            .error(
                path,
                "with subscribeAudioUids, screenshots need subscribeVideoUids",
            )
            .hint("list the uids to capture in recordingConfig.subscribeVideoUids");
    }
}

fn check_file_types(start: &StartClientRequest, mode: Mode, issues: &mut Issues) {
    let Some(files) = &start.recording_file_config else {
        return;
    };
    let path = "start.recordingFileConfig.avFileType";
    let types = &files.av_file_type;
    let valid = types == &[AvFileType::Hls] || types == &[AvFileType::Hls, AvFileType::Mp4];
    if !valid {
        issues
            .error(path, "avFileType must be [\"hls\"] or [\"hls\", \"mp4\"]")
            .hint("MP4 is written alongside HLS, never alone");
    } else if types.contains(&AvFileType::Mp4) && mode == Mode::Individual {
        issues
            .error(path, "individual recording writes HLS only")
            .hint("use [\"hls\"], or composite or web mode for MP4");
    }
}

/// Postponed transcoding and audio mixing: individual recording on a scene
/// 2 resource, which [`super::acquire_scene`] asks for.
fn check_postponed(start: &StartClientRequest, mode: Mode, issues: &mut Issues) {
    if start.apps_collection.is_none() && start.transcode_options.is_none() {
        return;
    }
    if mode != Mode::Individual {
        issues
            .error(
                "start.appsCollection",
                format!("postponed transcoding is for individual recording, not {mode}"),
            )
            .hint("remove appsCollection and transcodeOptions, or use `mode: individual`");
        return;
    }
    match &start.apps_collection {
        None => {
            issues
                .error("start", "transcodeOptions needs appsCollection")
                .hint("add `appsCollection: {combinationPolicy: postpone_transcoding}`");
        }
        Some(apps) if !facts::COMBINATION_POLICIES.contains(&apps.combination_policy.as_str()) => {
            issues.error(
                "start.appsCollection.combinationPolicy",
                format!(
                    "`{}` is not a combination policy: default or postpone_transcoding",
                    apps.combination_policy
                ),
            );
        }
        Some(_) => {}
    }
    if let Some(options) = &start.transcode_options {
        check_transcode_options(options, issues);
    }
}

fn check_transcode_options(options: &TranscodeOptions, issues: &mut Issues) {
    let path = "start.transcodeOptions";
    let trans_mode = options.trans_config.trans_mode.as_str();
    let Some(formats) = facts::trans_mode_formats(trans_mode) else {
        issues
            .error(
                format!("{path}.transConfig.transMode"),
                format!("`{trans_mode}` is not a transMode"),
            )
            .hint("postponeTranscoding or audioMix");
        return;
    };
    if let Some(container) = &options.container
        && !formats.contains(&container.format.as_str())
    {
        issues.error(
            format!("{path}.container.format"),
            format!(
                "{trans_mode} writes {}, not `{}`",
                formats.join(", "),
                container.format
            ),
        );
    }
    let Some(audio) = &options.audio else { return };
    for (name, value, allowed) in [
        ("sampleRate", &audio.sample_rate, facts::SAMPLE_RATES),
        ("channels", &audio.channels, facts::AUDIO_CHANNELS),
    ] {
        if let Some(value) = value
            && !allowed.contains(&value.as_str())
        {
            issues.error(
                format!("{path}.audio.{name}"),
                format!("`{value}` is not one of {}", allowed.join(", ")),
            );
        }
    }
    if let Some(bitrate) = &audio.bitrate
        && bitrate.parse::<u32>().is_err()
    {
        issues.error(
            format!("{path}.audio.bitrate"),
            format!("`{bitrate}` is not a number of bits per second, e.g. \"48000\""),
        );
    }
}

pub(super) fn check_storage(storage: &StorageConfig, path: &str, issues: &mut Issues) {
    let vendor = storage.vendor.0;
    if storage.bucket.is_empty() {
        issues.error(format!("{path}.bucket"), "the bucket is empty");
    }
    for (name, key) in [
        ("accessKey", &storage.access_key),
        ("secretKey", &storage.secret_key),
    ] {
        if key.expose().is_empty() {
            issues.error(format!("{path}.{name}"), format!("{name} is empty"));
        }
    }
    if storage.sts_token.is_some() && !facts::STS_VENDORS.contains(&vendor) {
        issues.error(
            format!("{path}.stsToken"),
            "stsToken is for Amazon S3, Alibaba Cloud and Tencent Cloud only",
        );
    }
    check_extension_params(storage, path, issues);
    let Some(prefix) = &storage.file_name_prefix else {
        return;
    };
    if prefix.iter().any(|p| !is_known(p)) {
        return;
    }
    for (i, part) in prefix.iter().enumerate() {
        if !facts::is_prefix_part(part) {
            issues
                .error(
                    format!("{path}.fileNamePrefix[{i}]"),
                    format!("`{part}` may contain only letters and digits"),
                )
                .hint("Agora allows [a-zA-Z0-9] in each element; elements are joined with `/`");
        }
    }
    let joined = prefix.join("/").len();
    if joined > facts::FILE_NAME_PREFIX_MAX {
        issues
            .error(
                format!("{path}.fileNamePrefix"),
                format!(
                    "the joined prefix is {joined} characters; Agora allows {}",
                    facts::FILE_NAME_PREFIX_MAX
                ),
            )
            .hint("checked with a sample occurrence's values; shorten the elements");
    }
}

fn check_extension_params(storage: &StorageConfig, path: &str, issues: &mut Issues) {
    let vendor = storage.vendor.0;
    let params = storage.extension_params.as_ref();
    let endpoint = params.and_then(|p| p.endpoint.as_ref());
    if vendor == facts::ENDPOINT_VENDOR && endpoint.is_none() {
        issues.error(
            path,
            "S3-compatible storage (vendor 11) needs extensionParams.endpoint",
        );
    }
    if vendor != facts::ENDPOINT_VENDOR && endpoint.is_some() {
        issues.error(
            format!("{path}.extensionParams.endpoint"),
            "endpoint is for S3-compatible storage (vendor 11) only",
        );
    }
    if let Some(sse) = params.and_then(|p| p.sse.as_deref())
        && (vendor != facts::SSE_VENDOR || !facts::SSE_VALUES.contains(&sse))
    {
        issues
            .error(
                format!("{path}.extensionParams.sse"),
                format!("`{sse}` is not a server-side encryption Agora offers here"),
            )
            .hint("Amazon S3 (vendor 1) only: kms or aes256");
    }
    if params.and_then(|p| p.tag.as_ref()).is_some() && !facts::TAG_VENDORS.contains(&vendor) {
        issues.error(
            format!("{path}.extensionParams.tag"),
            "tag is for Amazon S3 and Alibaba Cloud only",
        );
    }
}
