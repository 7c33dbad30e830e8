//! Agora's facts about request bodies, in one table: the ranges, lists and
//! character sets of the reference (AGORA-API §§3–15). The plan rules
//! (`plan::rules`) and the simulator's checker (`sim::validate`) both read
//! them, so the two cannot disagree on a number; each still decides on its
//! own how to apply them. Storage vendors and their regions are the other
//! table, in [`storage`](super::storage).

use std::ops::RangeInclusive;

/// Characters Agora allows in an RTC channel name besides ASCII letters
/// and digits (89 characters in all).
pub const CNAME_PUNCTUATION: &str = " !#$%&()+-:;<=.>?@[]^_{}|~,";
/// An RTC channel name is shorter than this many bytes.
pub const CNAME_LIMIT: usize = 64;
/// A web page recording's `cname` is a key of at most this many bytes.
pub const WEB_KEY_MAX: usize = 1024;

/// Acquire `scene`: RTC recording, web page recording, and individual
/// recording with postponed transcoding or audio mixing.
pub const SCENE_RTC: u8 = 0;
pub const SCENE_WEB: u8 = 1;
pub const SCENE_POSTPONED: u8 = 2;
/// Acquire `region`: the area the recording service runs in.
pub const ACQUIRE_REGIONS: &[&str] = &["CN", "AP", "EU", "NA"];
/// Acquire `resourceExpiredHour`, and web recording's `maxRecordingHour`.
pub const RESOURCE_EXPIRED_HOURS: RangeInclusive<u32> = 1..=720;

/// A subscription list holds at most this many uids.
pub const MAX_UID_LIST: usize = 32;
/// Subscribes to every stream; a subscribe list's entry, never an
/// unsubscribe list's.
pub const ALL_STREAMS: &str = "#allstream#";
/// `recordingConfig` ranges.
pub const CHANNEL_TYPES: RangeInclusive<u8> = 0..=1;
pub const STREAM_TYPES: RangeInclusive<u8> = 0..=2;
/// `streamTypes` 0: audio only.
pub const STREAM_TYPES_AUDIO: u8 = 0;
pub const STREAM_MODES: &[&str] = &["default", "standard", "original"];
pub const DECRYPTION_MODES: RangeInclusive<u8> = 0..=8;
/// Decryption modes that also need a `salt`.
pub const SALTED_DECRYPTION: RangeInclusive<u8> = 7..=8;
pub const MAX_IDLE_TIME: RangeInclusive<u32> = 5..=2_592_000;
pub const VIDEO_STREAM_TYPES: RangeInclusive<u8> = 0..=1;
/// `audioProfile`, in composite recording and in web page recording.
pub const AUDIO_PROFILES: RangeInclusive<u8> = 0..=2;
pub const SUBSCRIBE_UID_GROUPS: RangeInclusive<u8> = 0..=5;
/// `snapshotConfig.captureInterval`, in seconds.
pub const CAPTURE_INTERVAL: RangeInclusive<u32> = 5..=3600;
pub const SNAPSHOT_FILE_TYPE: &str = "jpg";

/// The composite canvas: each side at most 1920, at most 1920×1080 pixels;
/// 360×640 when unset.
pub const CANVAS_MAX_SIDE: u32 = 1920;
pub const CANVAS_MAX_PIXELS: u64 = 1920 * 1080;
pub const CANVAS_DEFAULT: (u32, u32) = (360, 640);
/// Frame rates the composite transcoder takes.
pub const COMPOSITE_FPS: &[u32] = &[1, 7, 10, 15, 24, 30, 60];
/// Composite bitrate, Kbps.
pub const COMPOSITE_BITRATE: RangeInclusive<u32> = 1..=6500;
/// `mixedVideoLayout`: floating, best fit, vertical, custom.
pub const MIXED_VIDEO_LAYOUTS: RangeInclusive<u8> = 0..=3;
pub const LAYOUT_CUSTOM: u8 = 3;
/// A custom layout's `layoutConfig` holds 1 to 17 regions.
pub const LAYOUT_REGIONS: RangeInclusive<usize> = 1..=17;
/// `render_mode` of a layout region or a user's background: crop or fit.
pub const RENDER_MODES: RangeInclusive<u8> = 0..=1;

/// `fileNamePrefix`, joined with `/`, is at most this long.
pub const FILE_NAME_PREFIX_MAX: usize = 128;
/// Vendors that take an `stsToken`: Amazon S3, Alibaba Cloud, Tencent Cloud.
pub const STS_VENDORS: RangeInclusive<u32> = 1..=3;
/// Vendors that take `extensionParams.tag`: Amazon S3, Alibaba Cloud.
pub const TAG_VENDORS: &[u32] = &[1, 2];
/// The vendor whose `extensionParams.sse` exists (Amazon S3), and its values.
pub const SSE_VENDOR: u32 = 1;
pub const SSE_VALUES: &[&str] = &["kms", "aes256"];
/// S3-compatible storage: needs `extensionParams.endpoint`, and is the
/// only vendor that takes it.
pub const ENDPOINT_VENDOR: u32 = 11;

/// Web page recording: the page's size, each side 480 to 1920, at most
/// 1920×1080 in all.
pub const WEB_SIDE: RangeInclusive<u32> = 480..=1920;
pub const WEB_FPS: RangeInclusive<u32> = 5..=60;
/// `maxVideoDuration`, minutes.
pub const WEB_MAX_VIDEO_DURATION: RangeInclusive<u32> = 30..=240;
/// `readyTimeout`, seconds.
pub const WEB_READY_TIMEOUT: RangeInclusive<u32> = 0..=60;
pub const WEB_RECORDER: &str = "web_recorder_service";
pub const RTMP_PUBLISH: &str = "rtmp_publish_service";
/// `extensionServiceConfig.errorHandlePolicy`.
pub const SERVICES_ERROR_POLICY: &str = "error_abort";
/// A service's own `errorHandlePolicy`.
pub const SERVICE_ERROR_POLICIES: &[&str] = &["error_abort", "error_ignore"];
pub const RTMP_SCHEMES: &[&str] = &["rtmp://", "rtmps://"];

/// Postponed transcoding (scene 2): `appsCollection.combinationPolicy`,
/// `transConfig.transMode` and the containers each mode writes, and the
/// audio options (all strings).
pub const COMBINATION_POLICIES: &[&str] = &["default", "postpone_transcoding"];
pub const TRANS_MODES: &[(&str, &[&str])] = &[
    ("postponeTranscoding", &["mp4"]),
    ("audioMix", &["mp3", "m4a", "aac"]),
];
pub const SAMPLE_RATES: &[&str] = &["48000", "32000", "16000"];
pub const AUDIO_CHANNELS: &[&str] = &["1", "2"];

/// A uid as Agora takes it: a string holding an integer in 1..=2^32-1,
/// written canonically (no sign, no leading zero).
pub fn is_uid(uid: &str) -> bool {
    !uid.is_empty()
        && !uid.starts_with('0')
        && uid.bytes().all(|b| b.is_ascii_digit())
        && uid.parse::<u64>().is_ok_and(|n| u32::try_from(n).is_ok())
}

/// The first character of an RTC channel name that Agora does not allow.
pub fn cname_refused_char(cname: &str) -> Option<char> {
    cname
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !CNAME_PUNCTUATION.contains(*c))
}

/// Whether `color` is `#RRGGBB`.
pub fn is_rgb(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a `fileNamePrefix` element is one Agora takes: letters and
/// digits only.
pub fn is_prefix_part(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether a canvas of `width`×`height` fits Agora's composite limits.
pub fn canvas_fits(width: u32, height: u32) -> bool {
    width > 0
        && height > 0
        && width <= CANVAS_MAX_SIDE
        && height <= CANVAS_MAX_SIDE
        && u64::from(width) * u64::from(height) <= CANVAS_MAX_PIXELS
}

/// The containers `trans_mode` writes, or `None` for an unknown mode.
pub fn trans_mode_formats(trans_mode: &str) -> Option<&'static [&'static str]> {
    TRANS_MODES
        .iter()
        .find(|(mode, _)| *mode == trans_mode)
        .map(|(_, formats)| *formats)
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
    fn the_channel_name_charset_has_89_characters() {
        assert_eq!(CNAME_PUNCTUATION.len() + 26 * 2 + 10, 89);
        assert_eq!(cname_refused_char("room-1 {a|b}"), None);
        assert_eq!(cname_refused_char("room/1"), Some('/'));
        assert_eq!(cname_refused_char("é"), Some('é'));
    }

    #[test]
    fn canvases_fit_in_1920_by_1080() {
        assert!(canvas_fits(1920, 1080) && canvas_fits(1080, 1920));
        assert!(!canvas_fits(1920, 1920) && !canvas_fits(0, 640) && !canvas_fits(2000, 100));
    }
}
