//! The checks Agora's reference documents for request bodies, beyond what the
//! typed requests already enforce (field names and JSON types). Each returns
//! the reason of a 400 code 2 answer, naming the field and the problem.

mod rtc;
mod web;

pub(crate) use rtc::update_layout;

use std::ops::RangeInclusive;

use serde_json::Value;

use crate::agora::Mode;
use crate::agora::facts::{self, is_uid};
use crate::agora::request::{
    AcquireClientRequest, AvFileType, RecordingFileConfig, RegionRef, StartClientRequest,
    StorageConfig, UpdateClientRequest,
};
use crate::agora::storage;

/// The reason a body is rejected, or nothing.
pub(super) type Check = Result<(), String>;

/// Returns `Err(format!(...))` unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($reason:tt)+) => {
        if !$cond {
            return Err(format!($($reason)+));
        }
    };
}
use ensure;

/// Checks an optional number against Agora's inclusive range.
fn range<T: PartialOrd + Copy + std::fmt::Display>(
    name: &str,
    value: Option<T>,
    allowed: &RangeInclusive<T>,
) -> Check {
    match value {
        Some(v) if !allowed.contains(&v) => Err(format!(
            "invalid {name} value {v}, expected [{}, {}]",
            allowed.start(),
            allowed.end()
        )),
        _ => Ok(()),
    }
}

/// Whether `cname` is a channel name acquire accepts for `scene`: for web
/// page recording any key up to 1024 bytes, else an RTC channel name (under
/// 64 bytes, Agora's character set).
pub(crate) fn is_channel_name(cname: &str, scene: u8) -> bool {
    if scene == facts::SCENE_WEB {
        return !cname.is_empty() && cname.len() <= facts::WEB_KEY_MAX;
    }
    !cname.is_empty()
        && cname.len() < facts::CNAME_LIMIT
        && facts::cname_refused_char(cname).is_none()
}

pub(crate) fn acquire(request: &AcquireClientRequest) -> Check {
    range(
        "scene",
        request.scene,
        &(facts::SCENE_RTC..=facts::SCENE_POSTPONED),
    )?;
    range(
        "resourceExpiredHour",
        request.resource_expired_hour,
        &facts::RESOURCE_EXPIRED_HOURS,
    )?;
    if let Some(region) = &request.region {
        ensure!(
            facts::ACQUIRE_REGIONS.contains(&region.as_str()),
            "invalid region value `{region}`, expected CN, AP, EU or NA"
        );
    }
    Ok(())
}

/// Web page recording needs a scene 1 resource; RTC recording scene 0, or 2
/// for individual recording with postponed transcoding.
pub(crate) fn scene_fits(scene: u8, mode: Mode) -> Check {
    match (mode, scene) {
        (Mode::Web, facts::SCENE_WEB)
        | (Mode::Individual, facts::SCENE_RTC | facts::SCENE_POSTPONED)
        | (Mode::Composite, facts::SCENE_RTC) => Ok(()),
        (Mode::Web, _) => Err(format!(
            "mode web needs a resource acquired with scene 1, this one has scene {scene}"
        )),
        (_, _) => Err(format!(
            "mode {} cannot use a resource acquired with scene {scene}",
            mode.url_segment()
        )),
    }
}

pub(crate) fn start(mode: Mode, scene: u8, request: &StartClientRequest, raw: &Value) -> Check {
    let Some(storage) = &request.storage_config else {
        return Err("storageConfig is required".to_owned());
    };
    storage_config(storage, raw.get("storageConfig"))?;
    if let Some(files) = &request.recording_file_config {
        file_types(mode, files)?;
    }
    postponed(scene, request)?;
    match mode {
        Mode::Web => web::start(request),
        Mode::Individual | Mode::Composite => rtc::start(mode, request),
    }
}

fn file_types(mode: Mode, files: &RecordingFileConfig) -> Check {
    let types = files.av_file_type.as_slice();
    let mp4 = types.contains(&AvFileType::Mp4);
    ensure!(
        matches!(
            types,
            [AvFileType::Hls]
                | [AvFileType::Hls, AvFileType::Mp4]
                | [AvFileType::Mp4, AvFileType::Hls]
        ),
        "invalid recordingFileConfig.avFileType value, expected [\"hls\"] or [\"hls\",\"mp4\"]"
    );
    ensure!(
        !mp4 || mode != Mode::Individual,
        "recordingFileConfig.avFileType mp4 is not supported in individual mode"
    );
    Ok(())
}

/// Scene 2: individual recording with postponed transcoding or audio mixing.
fn postponed(scene: u8, request: &StartClientRequest) -> Check {
    if scene == facts::SCENE_POSTPONED {
        ensure!(
            request.apps_collection.is_some(),
            "appsCollection is required with scene 2"
        );
    } else {
        ensure!(
            request.apps_collection.is_none() && request.transcode_options.is_none(),
            "appsCollection and transcodeOptions need a resource acquired with scene 2"
        );
    }
    if let Some(apps) = &request.apps_collection {
        let policy = apps.combination_policy.as_str();
        ensure!(
            facts::COMBINATION_POLICIES.contains(&policy),
            "invalid appsCollection.combinationPolicy value `{policy}`"
        );
    }
    if let Some(options) = &request.transcode_options {
        let trans_mode = options.trans_config.trans_mode.as_str();
        let Some(formats) = facts::trans_mode_formats(trans_mode) else {
            return Err(format!(
                "invalid transcodeOptions.transConfig.transMode value `{trans_mode}`"
            ));
        };
        if let Some(container) = &options.container {
            ensure!(
                formats.contains(&container.format.as_str()),
                "invalid transcodeOptions.container.format value `{}` for {trans_mode}",
                container.format
            );
        }
        if let Some(audio) = &options.audio {
            let one_of = |value: Option<&String>, allowed: &[&str]| {
                value.is_none_or(|v| allowed.contains(&v.as_str()))
            };
            ensure!(
                one_of(audio.sample_rate.as_ref(), facts::SAMPLE_RATES),
                "invalid transcodeOptions.audio.sampleRate value"
            );
            ensure!(
                one_of(audio.channels.as_ref(), facts::AUDIO_CHANNELS),
                "invalid transcodeOptions.audio.channels value"
            );
            ensure!(
                audio
                    .bitrate
                    .as_ref()
                    .is_none_or(|b| b.parse::<u32>().is_ok()),
                "invalid transcodeOptions.audio.bitrate value"
            );
        }
    }
    Ok(())
}

pub(crate) fn update(mode: Mode, request: &UpdateClientRequest, raw: &Value) -> Check {
    if let Some(storage) = &request.storage_config {
        storage_config(storage, raw.get("storageConfig"))?;
    }
    match mode {
        Mode::Web => web::update(request),
        Mode::Individual | Mode::Composite => rtc::update(request),
    }
}

/// `raw` is the storageConfig as sent: the typed request also takes vendor
/// and region names (recplan's plans use them), which Agora does not.
fn storage_config(config: &StorageConfig, raw: Option<&Value>) -> Check {
    let field = |name: &str| raw.and_then(|r| r.get(name));
    ensure!(
        field("vendor").is_some_and(Value::is_u64),
        "storageConfig.vendor must be a number"
    );
    let RegionRef::Code(region) = config.region else {
        return Err("storageConfig.region must be a number".to_owned());
    };
    let code = config.vendor.0;
    let Some(vendor) = storage::vendor_by_code(code) else {
        return Err(format!("invalid storageConfig.vendor value {code}"));
    };
    ensure!(
        vendor.has_region(region),
        "invalid storageConfig.region value {region} for vendor {code}"
    );
    ensure!(!config.bucket.is_empty(), "storageConfig.bucket is empty");
    ensure!(
        !config.access_key.expose().is_empty() && !config.secret_key.expose().is_empty(),
        "storageConfig.accessKey and secretKey must not be empty"
    );
    ensure!(
        config.sts_token.is_none() || facts::STS_VENDORS.contains(&code),
        "storageConfig.stsToken is only for vendors 1, 2 and 3"
    );
    if let Some(prefix) = &config.file_name_prefix {
        ensure!(
            prefix.iter().all(|p| facts::is_prefix_part(p)),
            "storageConfig.fileNamePrefix elements may only hold a-z, A-Z and 0-9"
        );
        ensure!(
            prefix.join("/").len() <= facts::FILE_NAME_PREFIX_MAX,
            "storageConfig.fileNamePrefix is longer than 128 characters"
        );
    }
    let params = config.extension_params.as_ref();
    if let Some(sse) = params.and_then(|p| p.sse.as_deref()) {
        ensure!(
            code == facts::SSE_VENDOR && facts::SSE_VALUES.contains(&sse),
            "invalid storageConfig.extensionParams.sse value `{sse}`"
        );
    }
    ensure!(
        params.and_then(|p| p.tag.as_ref()).is_none() || facts::TAG_VENDORS.contains(&code),
        "storageConfig.extensionParams.tag is only for vendors 1 and 2"
    );
    let endpoint = params.and_then(|p| p.endpoint.as_ref());
    ensure!(
        endpoint.is_some() == (code == facts::ENDPOINT_VENDOR),
        "storageConfig.extensionParams.endpoint is required for vendor 11 and only for it"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtc_channel_names_follow_agoras_charset_and_length() {
        assert!(is_channel_name("room-1 {a|b}", 0));
        assert!(!is_channel_name("room/1", 0));
        assert!(!is_channel_name("é", 0));
        assert!(!is_channel_name(&"a".repeat(64), 0));
        assert!(is_channel_name(&"a".repeat(63), 0));
        assert!(is_channel_name("https://x/y?z=é", 1));
        assert!(!is_channel_name(&"a".repeat(1025), 1));
    }
}
