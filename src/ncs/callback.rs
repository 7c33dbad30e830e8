//! Reading a callback's body (AGORA-API.md §14) into a [`Notice`] for the
//! store. Lenient, because Agora adds fields and is loose with types: unknown
//! fields are ignored, numbers may come as strings and strings as numbers,
//! and a field of the wrong shape is treated as absent rather than failing
//! the whole notice. Only the envelope (`noticeId`, `productId`,
//! `eventType`) must be there.

use serde_json::{Map, Value, json};

use crate::store::{Notice, UploadReport};

/// `productId` of Cloud Recording; NCS may be set up for other products.
const CLOUD_RECORDING: i64 = 3;

/// The notices recplan records, by `eventType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// 11: the recording service left; `exitStatus` 0 normal, 1 abnormal.
    SessionExit,
    /// 12: the task moved to another worker under `newUid`.
    SessionFailover,
    /// 31: every file reached the third-party storage.
    Uploaded,
    /// 32: some files went to Agora's backup, to be uploaded later.
    Backuped,
    /// 41: the recorder left the channel; `leaveCode` says why.
    RecorderLeave,
}

impl Kind {
    fn of(event_type: i64) -> Option<Kind> {
        Some(match event_type {
            11 => Kind::SessionExit,
            12 => Kind::SessionFailover,
            31 => Kind::Uploaded,
            32 => Kind::Backuped,
            41 => Kind::RecorderLeave,
            _ => return None,
        })
    }

    fn event_type(self) -> u32 {
        match self {
            Kind::SessionExit => 11,
            Kind::SessionFailover => 12,
            Kind::Uploaded => 31,
            Kind::Backuped => 32,
            Kind::RecorderLeave => 41,
        }
    }

    /// The history event's kind: Agora's `msgName` under an `ncs_` prefix.
    fn event_kind(self) -> &'static str {
        match self {
            Kind::SessionExit => "ncs_session_exit",
            Kind::SessionFailover => "ncs_session_failover",
            Kind::Uploaded => "ncs_uploaded",
            Kind::Backuped => "ncs_backuped",
            Kind::RecorderLeave => "ncs_recorder_leave",
        }
    }
}

/// What a well-formed callback amounts to.
#[derive(Debug, PartialEq)]
pub(super) enum Reading {
    Notice(Box<Notice>),
    /// Well-formed, but not one to record.
    Ignored(Ignored),
}

/// Why a callback is not recorded. Answered 200 all the same: NCS would
/// otherwise resend it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum Ignored {
    #[error("product {0} is not cloud recording")]
    Product(i64),
    #[error("event type {0} is not one recplan records")]
    EventType(i64),
    #[error("the notice names no sid")]
    NoSid,
}

/// Why a callback's body was refused. Never quotes the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum Malformed {
    #[error("the body is not a JSON object")]
    NotJson,
    #[error("the notice has no {0}")]
    Missing(&'static str),
}

/// Reads a verified callback body.
pub(super) fn read(body: &[u8]) -> Result<Reading, Malformed> {
    let value: Value = serde_json::from_slice(body).map_err(|_| Malformed::NotJson)?;
    let envelope = value.as_object().ok_or(Malformed::NotJson)?;
    let notice_id = text(envelope.get("noticeId")).ok_or(Malformed::Missing("noticeId"))?;
    let product = int(envelope.get("productId")).ok_or(Malformed::Missing("productId"))?;
    let event_type = int(envelope.get("eventType")).ok_or(Malformed::Missing("eventType"))?;
    if product != CLOUD_RECORDING {
        return Ok(Reading::Ignored(Ignored::Product(product)));
    }
    let Some(kind) = Kind::of(event_type) else {
        return Ok(Reading::Ignored(Ignored::EventType(event_type)));
    };
    let empty = Map::new();
    let payload = envelope
        .get("payload")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let Some(sid) = text(payload.get("sid")).filter(|sid| !sid.is_empty()) else {
        return Ok(Reading::Ignored(Ignored::NoSid));
    };
    let uid = text(payload.get("uid")).unwrap_or_default();
    let sequence = int(payload.get("sequence"));
    let details = payload.get("details").and_then(Value::as_object);
    let detail_of = |name: &str| details.and_then(|details| details.get(name));

    let mut detail = json!({
        "noticeId": notice_id,
        "eventType": kind.event_type(),
        "sid": sid,
        "uid": uid,
        "cname": text(payload.get("cname")),
        "sequence": sequence,
        "sendts": int(payload.get("sendts")),
        "notifyMs": int(envelope.get("notifyMs")),
        "serviceType": int(payload.get("serviceType")),
    });
    let mut upload = None;
    let interpreted = match kind {
        Kind::Uploaded | Kind::Backuped => {
            let status = if kind == Kind::Uploaded {
                "uploaded"
            } else {
                "backuped"
            };
            let files = file_names(detail_of("fileList"));
            upload = Some(UploadReport {
                status: status.to_owned(),
                files: files.clone(),
            });
            json!({"status": status, "files": files})
        }
        Kind::SessionExit => {
            let exit_status = int(detail_of("exitStatus"));
            let exit = match exit_status {
                Some(0) => "normal",
                Some(1) => "abnormal",
                _ => "unknown",
            };
            json!({"exitStatus": exit_status, "exit": exit})
        }
        Kind::SessionFailover => json!({"newUid": text(detail_of("newUid"))}),
        Kind::RecorderLeave => {
            let code = int(detail_of("leaveCode"));
            json!({"leaveCode": code, "leaveReasons": code.map(leave_reasons)})
        }
    };
    if let (Some(fields), Value::Object(more)) = (detail.as_object_mut(), interpreted) {
        fields.extend(more);
        // Verbatim too: Agora adds fields, and the history is evidence.
        fields.insert(
            "details".to_owned(),
            details.map_or(Value::Null, |details| Value::Object(details.clone())),
        );
    }
    Ok(Reading::Notice(Box::new(Notice {
        notice_id,
        sid,
        uid,
        event_type: kind.event_type(),
        sequence,
        kind: kind.event_kind(),
        detail,
        upload,
    })))
}

/// A string, or a number written out: Agora's ids come as either.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// An integer, or a string holding one.
fn int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// The names in an upload notice's `fileList`: entries' `fileName` (or
/// `filename`, as web notices spell it). An absent or empty list is `None`,
/// so that it cannot blank out the list the stop answer gave.
fn file_names(list: Option<&Value>) -> Option<Vec<String>> {
    let names: Vec<String> = match list? {
        Value::Array(entries) => entries
            .iter()
            .filter_map(|entry| {
                let entry = entry.as_object()?;
                text(entry.get("fileName").or_else(|| entry.get("filename")))
            })
            .collect(),
        // Older notices (3, 4) give the playlist's name as a plain string.
        Value::String(name) => vec![name.clone()],
        _ => Vec::new(),
    };
    (!names.is_empty()).then_some(names)
}

/// `leaveCode` is a bitmask; 0 alone means the recorder failed to start.
fn leave_reasons(code: i64) -> Vec<String> {
    const BITS: [(i64, &str); 4] = [
        (2, "sigint"),
        (4, "idle"),
        (8, "ignore"),
        (16, "leave_channel"),
    ];
    if code == 0 {
        return vec!["init_failed".to_owned()];
    }
    let mut reasons: Vec<String> = BITS
        .iter()
        .filter(|(bit, _)| code & bit != 0)
        .map(|(_, name)| (*name).to_owned())
        .collect();
    let known = BITS.iter().fold(0, |all, (bit, _)| all | bit);
    if code & !known != 0 {
        reasons.push(format!("unknown bits {:#x}", code & !known));
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(body: &Value) -> Notice {
        match read(body.to_string().as_bytes()) {
            Ok(Reading::Notice(notice)) => *notice,
            other => panic!("not a notice: {other:?}"),
        }
    }

    #[test]
    fn reads_an_upload_notice_with_its_files() {
        let read = notice(&json!({
            "noticeId": "n-1", "productId": 3, "eventType": 31, "notifyMs": 1_700_000_000_123_i64,
            "payload": {
                "cname": "room", "uid": "527841", "sid": "sid-1", "sequence": 7,
                "sendts": 1_700_000_000_100_i64, "serviceType": 2,
                "details": {"msgName": "uploaded", "status": 0, "fileList": [
                    {"fileName": "a.m3u8", "trackType": "audio_and_video", "uid": "0",
                     "mixedAllUser": true, "isPlayable": true, "sliceStartTime": 1},
                    {"fileName": "a.mp4"}
                ], "futureField": 1}
            },
            "futureTopLevel": {"x": 1}
        }));
        assert_eq!(read.kind, "ncs_uploaded");
        assert_eq!((read.sid.as_str(), read.uid.as_str()), ("sid-1", "527841"));
        assert_eq!(read.sequence, Some(7));
        let upload = read.upload.unwrap();
        assert_eq!(upload.status, "uploaded");
        assert_eq!(upload.files.unwrap(), ["a.m3u8", "a.mp4"]);
        assert_eq!(
            read.detail["details"]["futureField"], 1,
            "details kept verbatim"
        );
        assert_eq!(read.detail["notifyMs"], 1_700_000_000_123_i64);
    }

    #[test]
    fn types_are_read_leniently() {
        let read = notice(&json!({
            "noticeId": 12345, "productId": "3", "eventType": "41",
            "payload": {"uid": 527_841, "sid": "sid-1", "sequence": "x", "details": {"leaveCode": 6}}
        }));
        assert_eq!(read.notice_id, "12345");
        assert_eq!(read.uid, "527841");
        assert_eq!(
            read.sequence, None,
            "a sequence of the wrong type is absent"
        );
        assert_eq!(read.detail["leaveReasons"], json!(["sigint", "idle"]));
    }

    #[test]
    fn other_products_events_and_sidless_notices_are_ignored() {
        let cases = [
            (
                json!({"noticeId": "n", "productId": 1, "eventType": 31}),
                Ignored::Product(1),
            ),
            (
                json!({"noticeId": "n", "productId": 3, "eventType": 33}),
                Ignored::EventType(33),
            ),
            (
                json!({"noticeId": "n", "productId": 3, "eventType": 11}),
                Ignored::NoSid,
            ),
        ];
        for (body, ignored) in cases {
            assert_eq!(
                read(body.to_string().as_bytes()),
                Ok(Reading::Ignored(ignored))
            );
        }
    }

    #[test]
    fn a_body_without_its_envelope_is_malformed() {
        assert_eq!(read(b"not json"), Err(Malformed::NotJson));
        assert_eq!(read(b"[1]"), Err(Malformed::NotJson));
        assert_eq!(
            read(br#"{"productId": 3, "eventType": 31}"#),
            Err(Malformed::Missing("noticeId"))
        );
    }

    #[test]
    fn leave_codes_name_their_bits() {
        assert_eq!(leave_reasons(0), ["init_failed"]);
        assert_eq!(leave_reasons(16), ["leave_channel"]);
        assert_eq!(leave_reasons(4 | 32), ["idle", "unknown bits 0x20"]);
    }
}
