//! The bodies Agora answers with on success, parsed leniently.
//!
//! Lenient per field: in a 2xx answer, a field whose value does not parse
//! (a string where a flag belongs, an object where a number does) is left
//! at its default and logged at debug level, never failing the answer;
//! each file entry is kept or dropped on its own. Only the identifiers a
//! call cannot do without (`resourceId`, `sid`) are required.
//!
//! Agora's documents disagree on several shapes (§17 of the reference):
//! wherever they do, every documented shape is accepted and normalized, and
//! fields recplan does not use are ignored, so a new field on Agora's side
//! never breaks a recording in progress. Serializing these types writes the
//! normalized form (`fileList` always an array), which parses back the same.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_with::skip_serializing_none;

/// `acquire`'s answer: the resource that `start` consumes.
///
/// In every response, `cname` and `uid` echo the request (empty when Agora
/// leaves them out, as some of its examples do) and a numeric `uid` is taken
/// as its decimal string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcquireResponse {
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub cname: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub uid: String,
    /// Valid for five minutes, for one `start`.
    pub resource_id: String,
}

/// `start`'s answer. A 200 here does not mean the recording runs: `query`
/// tells.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartResponse {
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub cname: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub uid: String,
    pub resource_id: String,
    /// The recording's id, needed by every later call.
    pub sid: String,
}

/// `update`'s and `updateLayout`'s answer: the ids, echoed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateResponse {
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub cname: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub uid: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub resource_id: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub sid: String,
}

/// `query`'s answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryResponse {
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub cname: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub uid: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub resource_id: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub sid: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub server_response: QueryServerResponse,
}

impl QueryResponse {
    /// The recording's state, when Agora reported one.
    pub fn status(&self) -> Option<RecordingStatus> {
        self.server_response.status
    }

    /// The files recorded so far, whatever the mode's shape.
    pub fn files(&self) -> &[RecordedFile] {
        self.server_response.files()
    }

    /// The upload state, wherever the mode puts it.
    pub fn uploading_status(&self) -> Option<&UploadingStatus> {
        self.server_response.uploading_status()
    }
}

/// `stop`'s answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopResponse {
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub cname: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub uid: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub resource_id: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub sid: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub server_response: StopServerResponse,
}

impl StopResponse {
    /// The files recorded, whatever the mode's shape.
    pub fn files(&self) -> &[RecordedFile] {
        self.server_response.files()
    }

    /// The upload state, wherever the mode puts it.
    pub fn uploading_status(&self) -> Option<&UploadingStatus> {
        self.server_response.uploading_status()
    }
}

/// `query`'s `serverResponse`.
pub type QueryServerResponse = ServerResponse;

/// `stop`'s `serverResponse`.
pub type StopServerResponse = ServerResponse;

/// `serverResponse` of `query` and `stop`: the union of every mode's shape,
/// each field absent where the mode does not report it. Individual and
/// composite report files at the top level; web reports them inside
/// `extensionServiceState`. [`files`](Self::files) and
/// [`uploading_status`](Self::uploading_status) look in both places.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerResponse {
    /// `query` only.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub status: Option<RecordingStatus>,
    /// Informational: `file_list` is parsed by its JSON shape either way.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub file_list_mode: Option<FileListMode>,
    /// Normalized: a `"string"`-mode playlist name becomes one entry with
    /// only `file_name` set.
    #[serde(
        default,
        deserialize_with = "lenient::file_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub file_list: Vec<RecordedFile>,
    /// Unix milliseconds (individual mode).
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub slice_start_time: Option<u64>,
    /// `stop` only (individual and composite).
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub uploading_status: Option<UploadingStatus>,
    /// Web mode only.
    #[serde(
        default,
        deserialize_with = "lenient::each",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub extension_service_state: Vec<ExtensionServiceState>,
}

impl ServerResponse {
    /// The recorded files: the top-level `fileList`, or else the first
    /// extension service's (web mode's `web_recorder_service`).
    pub fn files(&self) -> &[RecordedFile] {
        if !self.file_list.is_empty() {
            return &self.file_list;
        }
        self.extension_service_state
            .iter()
            .map(|service| service.payload.file_list.as_slice())
            .find(|files| !files.is_empty())
            .unwrap_or_default()
    }

    /// The top-level `uploadingStatus`, or else the one in web mode's
    /// `upload_service` payload.
    pub fn uploading_status(&self) -> Option<&UploadingStatus> {
        self.uploading_status.as_ref().or_else(|| {
            self.extension_service_state
                .iter()
                .find_map(|service| service.payload.uploading_status.as_ref())
        })
    }

    /// The state of the extension service named `name` (web mode).
    pub fn service(&self, name: &str) -> Option<&ExtensionServiceState> {
        self.extension_service_state
            .iter()
            .find(|service| service.service_name == name)
    }
}

/// One recorded playlist or MP4 file.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedFile {
    /// Web mode's payload spells it `filename`, everything else `fileName`.
    /// Empty if Agora left it out: one odd entry must not fail a `stop`
    /// that succeeded.
    #[serde(default, alias = "filename", deserialize_with = "lenient::or_default")]
    pub file_name: String,
    /// `audio`, `video` or `audio_and_video`.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub track_type: Option<String>,
    /// The recorded user; `"0"` in composite mode.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub uid: Option<String>,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub mixed_all_user: Option<bool>,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub is_playable: Option<bool>,
    /// When the file starts. UNCONFIRMED unit: Agora's current text says
    /// seconds, every example (13 digits) is milliseconds; recplan treats it
    /// as Unix milliseconds.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub slice_start_time: Option<u64>,
}

/// One entry of web mode's `extensionServiceState`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionServiceState {
    /// [`WEB_RECORDER_SERVICE`], [`UPLOAD_SERVICE`] or
    /// [`RTMP_PUBLISH_SERVICE`].
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub service_name: String,
    /// One of Agora's examples spells it `playload`.
    #[serde(default, alias = "playload", deserialize_with = "lenient::or_default")]
    pub payload: ServicePayload,
}

/// The web page recorder.
pub const WEB_RECORDER_SERVICE: &str = "web_recorder_service";
/// The uploader (reported by `stop` in web mode).
pub const UPLOAD_SERVICE: &str = "upload_service";
/// CDN push.
pub const RTMP_PUBLISH_SERVICE: &str = "rtmp_publish_service";

/// The union of the services' payloads; each service fills its own fields.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePayload {
    /// `web_recorder_service`.
    #[serde(
        default,
        deserialize_with = "lenient::file_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub file_list: Vec<RecordedFile>,
    /// `web_recorder_service`: whether recording is paused.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub onhold: Option<bool>,
    /// `web_recorder_service`: `init`, `inProgress` or `exit`.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub state: Option<String>,
    /// `upload_service`.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub uploading_status: Option<UploadingStatus>,
    /// `rtmp_publish_service`.
    #[serde(
        default,
        deserialize_with = "lenient::each",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub outputs: Vec<RtmpOutputState>,
}

/// One CDN push target's state.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RtmpOutputState {
    /// The push target.
    #[serde(default)]
    pub rtmp_url: String,
    /// `connecting`, `publishing`, `onhold` or `disconnected`.
    pub status: Option<String>,
}

/// How Agora shaped `fileList`: one playlist name (`string`, composite with
/// HLS only) or an array of files (`json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileListMode {
    /// `fileList` is one M3U8 name.
    String,
    /// `fileList` is an array of files.
    Json,
    /// A value Agora has not documented; the list is parsed by its shape.
    #[serde(other)]
    Unknown,
}

/// `serverResponse.status`: the recording's life cycle.
///
/// Agora documents it as a number; it is also accepted as a numeric string.
/// Values outside the documented set are kept as [`Other`](Self::Other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordingStatus {
    /// 0
    NotStarted,
    /// 1
    Initialized,
    /// 2
    ComponentsStarting,
    /// 3
    SomeComponentsReady,
    /// 4
    AllComponentsReady,
    /// 5: the first file is uploaded; the steady state.
    InProgress,
    /// 6
    StopRequested,
    /// 7
    AllComponentsStopped,
    /// 8
    Exited,
    /// 20
    ExitedAbnormally,
    /// A value Agora has not documented.
    Other(u32),
}

impl RecordingStatus {
    /// The status for Agora's number.
    pub fn from_code(code: u32) -> RecordingStatus {
        match code {
            0 => RecordingStatus::NotStarted,
            1 => RecordingStatus::Initialized,
            2 => RecordingStatus::ComponentsStarting,
            3 => RecordingStatus::SomeComponentsReady,
            4 => RecordingStatus::AllComponentsReady,
            5 => RecordingStatus::InProgress,
            6 => RecordingStatus::StopRequested,
            7 => RecordingStatus::AllComponentsStopped,
            8 => RecordingStatus::Exited,
            20 => RecordingStatus::ExitedAbnormally,
            other => RecordingStatus::Other(other),
        }
    }

    /// Agora's number.
    pub fn code(self) -> u32 {
        match self {
            RecordingStatus::NotStarted => 0,
            RecordingStatus::Initialized => 1,
            RecordingStatus::ComponentsStarting => 2,
            RecordingStatus::SomeComponentsReady => 3,
            RecordingStatus::AllComponentsReady => 4,
            RecordingStatus::InProgress => 5,
            RecordingStatus::StopRequested => 6,
            RecordingStatus::AllComponentsStopped => 7,
            RecordingStatus::Exited => 8,
            RecordingStatus::ExitedAbnormally => 20,
            RecordingStatus::Other(code) => code,
        }
    }

    /// Agora's description of the status.
    pub fn description(self) -> &'static str {
        match self {
            RecordingStatus::NotStarted => "not started",
            RecordingStatus::Initialized => "initialization complete",
            RecordingStatus::ComponentsStarting => "components starting",
            RecordingStatus::SomeComponentsReady => "some components ready",
            RecordingStatus::AllComponentsReady => "all components ready",
            RecordingStatus::InProgress => "in progress",
            RecordingStatus::StopRequested => "stop requested",
            RecordingStatus::AllComponentsStopped => "all components stopped",
            RecordingStatus::Exited => "exited",
            RecordingStatus::ExitedAbnormally => "exited abnormally",
            RecordingStatus::Other(_) => "undocumented status",
        }
    }

    /// 4 or 5: what Agora's best practices call a working recording.
    pub fn is_healthy(self) -> bool {
        matches!(
            self,
            RecordingStatus::AllComponentsReady | RecordingStatus::InProgress
        )
    }

    /// 7, 8 or 20: the recording is over, whether or not stop was called.
    pub fn has_exited(self) -> bool {
        matches!(
            self,
            RecordingStatus::AllComponentsStopped
                | RecordingStatus::Exited
                | RecordingStatus::ExitedAbnormally
        )
    }
}

impl fmt::Display for RecordingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.code())
    }
}

impl Serialize for RecordingStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.code())
    }
}

impl<'de> Deserialize<'de> for RecordingStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = lenient::u64(deserializer)?;
        u32::try_from(code)
            .map(RecordingStatus::from_code)
            .map_err(|_| serde::de::Error::custom(format!("status {code} is out of range")))
    }
}

/// Where the recorded files are after `stop`. Strings Agora has not
/// documented are kept, not rejected.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UploadingStatus {
    /// Every file is in your storage.
    Uploaded,
    /// Every file is uploaded, at least one to Agora's backup, which
    /// forwards it to your storage later.
    Backuped,
    /// Files are in Agora's backup and not yet in your storage (documented
    /// in Agora's 2026 stop reference only).
    Stranded,
    /// Agora does not know. Older documents spell it `unknow`; both parse.
    Unknown,
    /// Any other string, verbatim.
    Other(String),
}

impl UploadingStatus {
    /// Agora's string.
    pub fn as_str(&self) -> &str {
        match self {
            UploadingStatus::Uploaded => "uploaded",
            UploadingStatus::Backuped => "backuped",
            UploadingStatus::Stranded => "stranded",
            UploadingStatus::Unknown => "unknown",
            UploadingStatus::Other(other) => other,
        }
    }
}

impl From<&str> for UploadingStatus {
    fn from(value: &str) -> Self {
        match value {
            "uploaded" => UploadingStatus::Uploaded,
            "backuped" => UploadingStatus::Backuped,
            "stranded" => UploadingStatus::Stranded,
            "unknown" | "unknow" => UploadingStatus::Unknown,
            other => UploadingStatus::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for UploadingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for UploadingStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for UploadingStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Ok(UploadingStatus::from(value.as_str()))
    }
}

/// Deserializers for values whose JSON type Agora's sources disagree on,
/// and for fields that must not fail the answer they are in.
mod lenient {
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    use super::RecordedFile;

    /// The field's value, or its default when it does not parse (logged).
    pub(super) fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned + Default,
    {
        let value = Value::deserialize(deserializer)?;
        Ok(parsed(&value).unwrap_or_default())
    }

    /// An array's entries that parse, each on its own; anything but an
    /// array is no entry.
    pub(super) fn each<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        Ok(match Value::deserialize(deserializer)? {
            Value::Array(items) => items.iter().filter_map(parsed).collect(),
            Value::Null => Vec::new(),
            other => {
                tracing::debug!(value = %other, "ignoring a field of Agora's answer: expected an array");
                Vec::new()
            }
        })
    }

    fn parsed<T: DeserializeOwned>(value: &Value) -> Option<T> {
        match T::deserialize(value) {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                tracing::debug!(%value, %error, "ignoring a value of Agora's answer that does not parse");
                None
            }
        }
    }

    /// A JSON number or a string, as found.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Number(u64),
        Text(String),
    }

    /// A non-negative integer given as a number or a numeric string.
    pub(super) fn u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        match Scalar::deserialize(deserializer)? {
            Scalar::Number(number) => Ok(number),
            Scalar::Text(text) => text.trim().parse().map_err(|_| {
                serde::de::Error::custom(format!("expected an integer, found {text:?}"))
            }),
        }
    }

    pub(super) fn opt_u64<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        Ok(
            match parsed::<Option<Scalar>>(&Value::deserialize(deserializer)?) {
                Some(Some(Scalar::Number(number))) => Some(number),
                Some(Some(Scalar::Text(text))) => text.trim().parse().ok(),
                _ => None,
            },
        )
    }

    /// A string that may arrive as a bare number (uids).
    pub(super) fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        Ok(opt_string(deserializer)?.unwrap_or_default())
    }

    pub(super) fn opt_string<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        Ok(
            match parsed::<Option<Scalar>>(&Value::deserialize(deserializer)?) {
                Some(Some(Scalar::Number(number))) => Some(number.to_string()),
                Some(Some(Scalar::Text(text))) => Some(text),
                _ => None,
            },
        )
    }

    pub(super) fn file_list<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<RecordedFile>, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::String(name) if name.is_empty() => Vec::new(),
            Value::String(name) => vec![RecordedFile {
                file_name: name,
                ..RecordedFile::default()
            }],
            // Each entry on its own: one odd file must not hide the others.
            Value::Array(files) => files.iter().filter_map(parsed).collect(),
            Value::Null => Vec::new(),
            other => {
                tracing::debug!(value = %other, "ignoring a fileList that is neither a name nor a list");
                Vec::new()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_that_does_not_parse_never_fails_the_answer() {
        // (body, status, file names, uploading status)
        type Case<'a> = (&'a str, Option<u32>, &'a [&'a str], Option<&'a str>);
        let cases: [Case; 6] = [
            (
                r#"{"serverResponse":{"status":5,"fileList":[{"fileName":"a.m3u8","isPlayable":"true"}]}}"#,
                Some(5),
                &["a.m3u8"],
                None,
            ),
            (
                r#"{"serverResponse":{"status":{"x":1},"fileList":[{"fileName":"a.m3u8"}]}}"#,
                None,
                &["a.m3u8"],
                None,
            ),
            // One entry that is no file at all: the others are kept.
            (
                r#"{"serverResponse":{"status":"4","fileList":[7,{"fileName":"b.mp4","sliceStartTime":"soon"}]}}"#,
                Some(4),
                &["b.mp4"],
                None,
            ),
            (
                r#"{"serverResponse":{"fileList":{"odd":true},"uploadingStatus":["uploaded"]}}"#,
                None,
                &[],
                None,
            ),
            (r#"{"cname":7,"serverResponse":"busy"}"#, None, &[], None),
            // `playload`, as one of Agora's examples spells it.
            (
                r#"{"serverResponse":{"extensionServiceState":[
                    {"serviceName":"web_recorder_service","playload":{"fileList":[{"filename":"w.mp4"}]}},
                    {"serviceName":"upload_service","payload":{"uploadingStatus":"uploaded","onhold":"no"}}]}}"#,
                None,
                &["w.mp4"],
                Some("uploaded"),
            ),
        ];
        for (body, status, files, uploading) in cases {
            let answer: QueryResponse = serde_json::from_str(body).expect(body);
            assert_eq!(answer.status().map(RecordingStatus::code), status, "{body}");
            let names: Vec<&str> = answer
                .files()
                .iter()
                .map(|f| f.file_name.as_str())
                .collect();
            assert_eq!(names, files, "{body}");
            assert_eq!(
                answer.uploading_status().map(UploadingStatus::as_str),
                uploading,
                "{body}"
            );
        }
    }

    #[test]
    fn the_ids_a_call_needs_stay_required() {
        assert!(serde_json::from_str::<StartResponse>(r#"{"resourceId":"r"}"#).is_err());
        assert!(serde_json::from_str::<AcquireResponse>(r#"{"cname":"c"}"#).is_err());
    }
}
