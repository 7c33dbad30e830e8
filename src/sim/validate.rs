//! The checks Agora's reference documents for request bodies, beyond what the
//! typed requests already enforce (field names and JSON types). Each returns
//! the reason of a 400 code 2 answer, naming the field and the problem.

mod rtc;
mod web;

pub(super) use rtc::update_layout;

use serde_json::Value;

use crate::agora::Mode;
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
    min: T,
    max: T,
) -> Check {
    match value {
        Some(v) if v < min || v > max => {
            Err(format!("invalid {name} value {v}, expected [{min}, {max}]"))
        }
        _ => Ok(()),
    }
}

/// A uid as Agora takes it: a string holding an integer in 1..=2^32-1.
pub(super) fn is_uid(uid: &str) -> bool {
    !uid.is_empty()
        && !uid.starts_with('0')
        && uid.bytes().all(|b| b.is_ascii_digit())
        && uid.parse::<u64>().is_ok_and(|n| u32::try_from(n).is_ok())
}

/// The 89 characters Agora allows in an RTC channel name, besides ASCII
/// letters and digits.
const CNAME_PUNCTUATION: &str = " !#$%&()+-:;<=.>?@[]^_{}|~,";

/// Whether `cname` is a channel name acquire accepts for `scene`: for web
/// page recording any key up to 1024 bytes, else an RTC channel name (under
/// 64 bytes, Agora's character set).
pub(super) fn is_channel_name(cname: &str, scene: u8) -> bool {
    if scene == 1 {
        return !cname.is_empty() && cname.len() <= 1024;
    }
    !cname.is_empty()
        && cname.len() < 64
        && cname
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || CNAME_PUNCTUATION.contains(c))
}

pub(super) fn acquire(request: &AcquireClientRequest) -> Check {
    range("scene", request.scene, 0, 2)?;
    range("resourceExpiredHour", request.resource_expired_hour, 1, 720)?;
    if let Some(region) = &request.region {
        ensure!(
            ["CN", "AP", "EU", "NA"].contains(&region.as_str()),
            "invalid region value `{region}`, expected CN, AP, EU or NA"
        );
    }
    Ok(())
}

/// Web page recording needs a scene 1 resource; RTC recording scene 0, or 2
/// for individual recording with postponed transcoding.
pub(super) fn scene_fits(scene: u8, mode: Mode) -> Check {
    match (mode, scene) {
        (Mode::Web, 1) | (Mode::Individual, 0 | 2) | (Mode::Composite, 0) => Ok(()),
        (Mode::Web, _) => Err(format!(
            "mode web needs a resource acquired with scene 1, this one has scene {scene}"
        )),
        (_, _) => Err(format!(
            "mode {} cannot use a resource acquired with scene {scene}",
            mode.url_segment()
        )),
    }
}

pub(super) fn start(mode: Mode, scene: u8, request: &StartClientRequest, raw: &Value) -> Check {
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
    if scene == 2 {
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
            ["default", "postpone_transcoding"].contains(&policy),
            "invalid appsCollection.combinationPolicy value `{policy}`"
        );
    }
    if let Some(options) = &request.transcode_options {
        let trans_mode = options.trans_config.trans_mode.as_str();
        let formats: &[&str] = match trans_mode {
            "postponeTranscoding" => &["mp4"],
            "audioMix" => &["mp3", "m4a", "aac"],
            _ => {
                return Err(format!(
                    "invalid transcodeOptions.transConfig.transMode value `{trans_mode}`"
                ));
            }
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
                one_of(audio.sample_rate.as_ref(), &["48000", "32000", "16000"]),
                "invalid transcodeOptions.audio.sampleRate value"
            );
            ensure!(
                one_of(audio.channels.as_ref(), &["1", "2"]),
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

pub(super) fn update(mode: Mode, request: &UpdateClientRequest, raw: &Value) -> Check {
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
        config.sts_token.is_none() || matches!(code, 1..=3),
        "storageConfig.stsToken is only for vendors 1, 2 and 3"
    );
    if let Some(prefix) = &config.file_name_prefix {
        ensure!(
            prefix
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric())),
            "storageConfig.fileNamePrefix elements may only hold a-z, A-Z and 0-9"
        );
        ensure!(
            prefix.join("/").len() <= 128,
            "storageConfig.fileNamePrefix is longer than 128 characters"
        );
    }
    let params = config.extension_params.as_ref();
    if let Some(sse) = params.and_then(|p| p.sse.as_deref()) {
        ensure!(
            code == 1 && ["kms", "aes256"].contains(&sse),
            "invalid storageConfig.extensionParams.sse value `{sse}`"
        );
    }
    ensure!(
        params.and_then(|p| p.tag.as_ref()).is_none() || matches!(code, 1 | 2),
        "storageConfig.extensionParams.tag is only for vendors 1 and 2"
    );
    let endpoint = params.and_then(|p| p.endpoint.as_ref());
    ensure!(
        endpoint.is_some() == (code == 11),
        "storageConfig.extensionParams.endpoint is required for vendor 11 and only for it"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_canonical_integers_in_range() {
        for good in ["1", "527841", "4294967295"] {
            assert!(is_uid(good), "{good}");
        }
        for bad in ["", "0", "007", "4294967296", "-1", "12a", " 1", "+1"] {
            assert!(!is_uid(bad), "{bad}");
        }
    }

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
