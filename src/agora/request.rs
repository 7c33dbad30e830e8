//! The bodies recplan sends: `{cname, uid, clientRequest}` envelopes and each
//! endpoint's `clientRequest`, typed per Agora's reference.
//!
//! Plans embed these types directly, so `deny_unknown_fields` here is what
//! rejects a misspelt Agora field in a plan. Optional fields are left out of
//! the JSON when unset: Agora then applies its own defaults.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_with::skip_serializing_none;

use super::Secret;
use super::storage;

/// `{cname, uid, clientRequest}`: the shape of every POST body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub cname: String,
    pub uid: String,
    pub client_request: T,
}

/// `acquire`'s clientRequest.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AcquireClientRequest {
    /// 0 RTC recording, 1 web page recording, 2 individual with postponed
    /// transcoding. recplan sets it from the plan's mode.
    pub scene: Option<u8>,
    /// Hours the sid stays usable, [1, 720]; Agora's default is 72.
    pub resource_expired_hour: Option<u32>,
    /// Same schema as start's clientRequest; must agree with it.
    pub start_parameter: Option<Box<StartClientRequest>>,
    /// Resource IDs of other tasks to keep this one away from.
    pub exclude_resource_ids: Option<Vec<String>>,
    /// `CN`, `AP`, `EU` or `NA`: the area the recording service runs in
    /// (the reference's acquire field; match the storage's region).
    pub region: Option<String>,
    /// An integer in the acquire request of Agora's official Go SDK, absent
    /// from Agora's reference: what it means and which values it takes are
    /// unconfirmed, so recplan sends it as written and checks nothing.
    pub region_affinity: Option<i64>,
}

/// `start`'s clientRequest. Which blocks apply depends on the mode.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StartClientRequest {
    /// RTC token of the recorder's uid (individual and composite). Agora
    /// cannot renew it: it must outlive the recording.
    pub token: Option<Secret>,
    pub storage_config: Option<StorageConfig>,
    pub recording_config: Option<RecordingConfig>,
    pub recording_file_config: Option<RecordingFileConfig>,
    pub snapshot_config: Option<SnapshotConfig>,
    pub extension_service_config: Option<ExtensionServiceConfig>,
    pub apps_collection: Option<AppsCollection>,
    pub transcode_options: Option<TranscodeOptions>,
}

/// Where recorded files go.
#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StorageConfig {
    pub vendor: VendorCode,
    pub region: RegionRef,
    pub bucket: String,
    pub access_key: Secret,
    pub secret_key: Secret,
    /// Vendors 1, 2 and 3 only.
    pub sts_token: Option<Secret>,
    /// Unix seconds.
    pub sts_expiration: Option<u64>,
    /// Joined with `/`; each element `[a-zA-Z0-9]`, 128 characters in all.
    pub file_name_prefix: Option<Vec<String>>,
    pub extension_params: Option<ExtensionParams>,
}

/// Vendor-specific storage options. Agora marks `sse` and `tag` required
/// inside this block, yet its S3-compatible example sends only `endpoint`;
/// each is optional here (unconfirmed).
#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExtensionParams {
    /// Amazon S3 only: `kms` or `aes256`.
    pub sse: Option<String>,
    /// Amazon S3 and Alibaba only.
    pub tag: Option<String>,
    /// S3-compatible storage (vendor 11): the service's domain.
    pub endpoint: Option<String>,
}

/// A storage vendor's Agora code. Plans may give it by name (`aws_s3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(with = "CodeOrName")]
pub struct VendorCode(pub u32);

/// A storage region: Agora's index for the vendor, or a name (`us-east-1`)
/// that plan validation resolves to the index before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(with = "CodeOrName")]
pub enum RegionRef {
    Code(u32),
    Name(String),
}

/// The schema of a field that takes Agora's number or recplan's name for it.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema is used
enum CodeOrName {
    Code(u32),
    Name(String),
}

impl Serialize for VendorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for VendorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match CodeOrNameValue::deserialize(deserializer)? {
            CodeOrNameValue::Code(code) if storage::vendor_by_code(code).is_some() => {
                Ok(VendorCode(code))
            }
            CodeOrNameValue::Code(code) => Err(serde::de::Error::custom(format!(
                "unknown storage vendor code {code}; {}",
                vendor_choices()
            ))),
            CodeOrNameValue::Name(name) => {
                if let Some(vendor) = storage::vendor_by_name(&name) {
                    return Ok(VendorCode(vendor.code));
                }
                // Plan validation turns a trailing "did you mean" into the
                // finding's hint.
                let names = storage::vendors().iter().map(|v| v.name);
                let help = match crate::suggest::closest(&name, names) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => vendor_choices(),
                };
                Err(serde::de::Error::custom(format!(
                    "unknown storage vendor `{name}`; {help}"
                )))
            }
        }
    }
}

fn vendor_choices() -> String {
    let names: Vec<String> = storage::vendors()
        .iter()
        .map(|v| format!("{} ({})", v.code, v.name))
        .collect();
    format!("known vendors: {}", names.join(", "))
}

impl RegionRef {
    /// The index, once a name has been resolved.
    pub fn code(&self) -> Option<u32> {
        match self {
            RegionRef::Code(code) => Some(*code),
            RegionRef::Name(_) => None,
        }
    }
}

impl Serialize for RegionRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RegionRef::Code(code) => serializer.serialize_u32(*code),
            RegionRef::Name(name) => serializer.serialize_str(name),
        }
    }
}

impl<'de> Deserialize<'de> for RegionRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match CodeOrNameValue::deserialize(deserializer)? {
            CodeOrNameValue::Code(code) => RegionRef::Code(code),
            CodeOrNameValue::Name(name) => RegionRef::Name(name),
        })
    }
}

/// A scalar that is either a non-negative integer or a string.
enum CodeOrNameValue {
    Code(u32),
    Name(String),
}

impl<'de> Deserialize<'de> for CodeOrNameValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = CodeOrNameValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("Agora's number or a name")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                u32::try_from(v)
                    .map(CodeOrNameValue::Code)
                    .map_err(|_| E::custom(format!("{v} is out of range")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u32::try_from(v)
                    .map(CodeOrNameValue::Code)
                    .map_err(|_| E::custom(format!("{v} is out of range")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CodeOrNameValue::Name(v.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// What to record and how (individual and composite).
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecordingConfig {
    /// 0 communication, 1 live broadcast: must match the SDK's profile.
    pub channel_type: Option<u8>,
    /// 0 audio, 1 video, 2 both.
    pub stream_types: Option<u8>,
    /// Individual only: `default`, `standard` or `original`.
    pub stream_mode: Option<String>,
    pub decryption_mode: Option<u8>,
    pub secret: Option<Secret>,
    pub salt: Option<Secret>,
    /// Seconds with nobody in the channel before Agora stops, [5, 2592000].
    pub max_idle_time: Option<u32>,
    pub video_stream_type: Option<u8>,
    /// Composite only: 0, 1 or 2.
    pub audio_profile: Option<u8>,
    pub subscribe_audio_uids: Option<Vec<String>>,
    pub subscribe_video_uids: Option<Vec<String>>,
    /// Agora's current tables spell it `unsubscribeAudioUids`, its release
    /// notes, guides, Chinese reference and Go client `unSubscribe…`; recplan
    /// sends the latter and accepts both.
    #[serde(alias = "unsubscribeAudioUids")]
    pub un_subscribe_audio_uids: Option<Vec<String>>,
    #[serde(alias = "unsubscribeVideoUids")]
    pub un_subscribe_video_uids: Option<Vec<String>>,
    /// Individual mode: 0..5 by the number of subscribed uids.
    pub subscribe_uid_group: Option<u8>,
    /// Composite only.
    pub transcoding_config: Option<TranscodingConfig>,
}

/// The composite canvas and its initial layout.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TranscodingConfig {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<u32>,
    /// Kbps, at most 6500.
    pub bitrate: Option<u32>,
    /// 0 floating, 1 best fit, 2 vertical, 3 custom (`layoutConfig`).
    pub mixed_video_layout: Option<u8>,
    pub max_resolution_uid: Option<String>,
    pub background_color: Option<String>,
    pub background_image: Option<String>,
    pub default_user_background_image: Option<String>,
    pub layout_config: Option<Vec<LayoutRegion>>,
    pub background_config: Option<Vec<UserBackground>>,
}

/// One region of a custom layout. Agora spells these fields in snake_case.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LayoutRegion {
    pub uid: Option<String>,
    pub x_axis: f64,
    pub y_axis: f64,
    pub width: f64,
    pub height: f64,
    pub alpha: Option<f64>,
    /// 0 crop, 1 fit.
    pub render_mode: Option<u8>,
}

/// A user's background image in the composite.
#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBackground {
    pub uid: String,
    pub image_url: String,
    pub render_mode: Option<u8>,
}

/// Which files to write: `["hls"]` or `["hls", "mp4"]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecordingFileConfig {
    pub av_file_type: Vec<AvFileType>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AvFileType {
    Hls,
    Mp4,
}

/// Screenshots (individual mode only).
#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotConfig {
    /// Seconds, [5, 3600].
    pub capture_interval: Option<u32>,
    /// `["jpg"]`, the only value.
    pub file_type: Vec<String>,
}

/// Web page recording and CDN push (web mode, required there).
#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExtensionServiceConfig {
    pub error_handle_policy: Option<String>,
    pub extension_services: Vec<ExtensionService>,
}

#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExtensionService {
    /// `web_recorder_service` or `rtmp_publish_service`.
    pub service_name: String,
    pub error_handle_policy: Option<String>,
    pub service_param: ServiceParam,
}

/// The union of both services' parameters; which apply is checked per
/// `serviceName` when a plan is validated.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceParam {
    pub url: Option<String>,
    pub audio_profile: Option<u8>,
    pub video_width: Option<u32>,
    pub video_height: Option<u32>,
    pub max_recording_hour: Option<u32>,
    pub video_bitrate: Option<u32>,
    pub video_fps: Option<u32>,
    pub mobile: Option<bool>,
    pub max_video_duration: Option<u32>,
    pub onhold: Option<bool>,
    pub ready_timeout: Option<u32>,
    pub outputs: Option<Vec<RtmpOutput>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RtmpOutput {
    pub rtmp_url: String,
}

/// Individual recording with postponed transcoding (acquire scene 2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppsCollection {
    /// `default` or `postpone_transcoding`.
    pub combination_policy: String,
}

/// Postponed transcoding or audio mixing (acquire scene 2). Agora types every
/// value here as a string.
#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TranscodeOptions {
    pub trans_config: TransConfig,
    pub container: Option<Container>,
    pub audio: Option<TranscodeAudio>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransConfig {
    /// `postponeTranscoding` or `audioMix`.
    pub trans_mode: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Container {
    pub format: String,
}

#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TranscodeAudio {
    pub sample_rate: Option<String>,
    pub bitrate: Option<String>,
    pub channels: Option<String>,
}

/// `update`'s clientRequest.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateClientRequest {
    /// Individual and composite.
    pub stream_subscribe: Option<StreamSubscribe>,
    /// Web: pause (`onhold: true`) or resume.
    pub web_recording_config: Option<WebRecordingConfig>,
    /// Web: CDN push, one output.
    pub rtmp_publish_config: Option<RtmpPublishConfig>,
    /// A full storageConfig, to refresh an STS token.
    pub storage_config: Option<StorageConfig>,
}

#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StreamSubscribe {
    pub audio_uid_list: Option<AudioUidList>,
    pub video_uid_list: Option<VideoUidList>,
}

#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AudioUidList {
    pub subscribe_audio_uids: Option<Vec<String>>,
    #[serde(alias = "unsubscribeAudioUids")]
    pub un_subscribe_audio_uids: Option<Vec<String>>,
}

#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VideoUidList {
    pub subscribe_video_uids: Option<Vec<String>>,
    #[serde(alias = "unsubscribeVideoUids")]
    pub un_subscribe_video_uids: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebRecordingConfig {
    pub onhold: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RtmpPublishConfig {
    pub outputs: Vec<RtmpOutput>,
}

/// `updateLayout`'s clientRequest: the whole composite layout, flat. Each
/// call replaces the layout; omitted fields revert to Agora's defaults.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateLayoutClientRequest {
    pub mixed_video_layout: Option<u8>,
    pub max_resolution_uid: Option<String>,
    pub background_color: Option<String>,
    pub background_image: Option<String>,
    pub default_user_background_image: Option<String>,
    pub layout_config: Option<Vec<LayoutRegion>>,
    pub background_config: Option<Vec<UserBackground>>,
}

/// `stop`'s clientRequest.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopClientRequest {
    /// true: answer at once and upload in the background; false (Agora's
    /// default): answer once files are uploaded.
    pub async_stop: Option<bool>,
}
