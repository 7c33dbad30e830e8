//! What validation checks of single fields and single blocks, said in JSON
//! Schema: patterns, enums, ranges, list lengths and the keys a block needs
//! together. The numbers come from Agora's facts ([`crate::agora::facts`])
//! and the vendor table, as the validator's do. Rules that relate fields of
//! different blocks (the mode and what it allows, the vendor and its
//! regions, a step's offset and the duration) stay the validator's alone.

use serde_json::{Map, Value, json};

use crate::agora::facts;
use crate::agora::storage;

/// A uid as Agora takes it: 1 to 4294967295, no sign, no leading zero.
const UID: &str = "^(?:[1-9][0-9]{0,8}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}\
|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}\
|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5])$";
/// `45s`, `30m`, `1h30m`: hours, minutes, seconds, each at most once and
/// in that order, around optional blanks.
const DURATION: &str = r"^\s*(?:[0-9]+h(?:[0-9]+m)?(?:[0-9]+s)?|[0-9]+m(?:[0-9]+s)?|[0-9]+s)\s*$";
/// A duration with a digit other than 0 in it.
const POSITIVE_DURATION: &str =
    r"^(?=.*[1-9])\s*(?:[0-9]+h(?:[0-9]+m)?(?:[0-9]+s)?|[0-9]+m(?:[0-9]+s)?|[0-9]+s)\s*$";
/// `YYYY-MM-DD` as the validator reads it (one-digit months and days too).
const DATE: &str = r"^\s*[+-]?[0-9]{1,4}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12][0-9]|3[01])$";
/// A local date and time: `2026-12-01T09:30:00`, `2026-12-01T09:30` or
/// `20261201T093000`.
const LOCAL_TIME: &str = r"^\s*(?:[+-]?[0-9]{1,4}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12][0-9]|3[01])T(?:[01]?[0-9]|2[0-3]):[0-5]?[0-9](?::[0-5]?[0-9])?|[0-9]{8}T[0-9]{6})\s*$";

/// Adds the shared definitions and every constraint to `schema`, the
/// schema schemars derives from the plan's types.
pub fn apply(schema: &mut Value) {
    let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) else {
        return;
    };
    defs.extend(shared_definitions());
    for (block, field, constraint) in fields() {
        // Every rule names a field that exists: see the tests.
        let _ = constrain_field(schema, block, field, constraint);
    }
    for (block, constraint) in blocks() {
        if let Some(Value::Object(node)) = block_mut(schema, block) {
            node.extend(as_map(constraint));
        }
    }
    if let Some(mode) = schema
        .pointer_mut("/$defs/Mode/oneOf")
        .and_then(Value::as_array_mut)
    {
        mode.push(json!({"description": "Agora's name for composite.", "const": "mix"}));
    }
    add_aliases(schema);
    widen_text(schema);
}

fn shared_definitions() -> Map<String, Value> {
    as_map(json!({
        "Template": {
            "description": "A template (`{{vars.team}}`): judged once rendered.",
            "type": "string",
            "pattern": r"\{\{",
        },
        "Uid": {
            "description": "A uid, 1 to 4294967295: a quoted integer, or an integer.",
            "anyOf": [
                {"type": "string", "pattern": UID},
                {"type": "integer", "minimum": 1, "maximum": u32::MAX},
                {"$ref": "#/$defs/Template"},
            ],
        },
        "Duration": {
            "description": "`45s`, `30m`, `1h30m`.",
            "type": "string",
            "pattern": DURATION,
        },
        "PositiveDuration": {
            "description": "`45s`, `30m`, `1h30m`, not zero.",
            "type": "string",
            "pattern": POSITIVE_DURATION,
        },
        "Date": {"description": "`2026-12-24`.", "type": "string", "pattern": DATE},
        "LocalTime": {
            "description": "A local date and time: `2026-12-01T09:30:00`.",
            "type": "string",
            "pattern": LOCAL_TIME,
        },
        "VendorCode": {
            "description": "A storage vendor: Agora's code, or its name (`aws_s3`).",
            "anyOf": [
                {"enum": storage::vendors().iter().map(|v| v.code).collect::<Vec<_>>()},
                {"type": "string", "pattern": vendor_names()},
            ],
        },
    }))
}

/// `(block, field, schema)`: the field's whole schema; `RawPlan` is the
/// root. A field that may be null stays nullable.
fn fields() -> Vec<(&'static str, &'static str, Value)> {
    let uid = || json!({"$ref": "#/$defs/Uid"});
    let duration = || json!({"$ref": "#/$defs/Duration"});
    let hex32 = || templated(json!({"type": "string", "pattern": "^[0-9A-Fa-f]{32}$"}));
    let color = || templated(json!({"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$"}));
    let layouts = || range(&facts::MIXED_VIDEO_LAYOUTS);
    let regions = || {
        json!({
            "type": "array",
            "items": {"$ref": "#/$defs/LayoutRegion"},
            "minItems": facts::LAYOUT_REGIONS.start(),
            "maxItems": facts::LAYOUT_REGIONS.end(),
        })
    };
    let subscribe = || {
        json!({
            "type": "array",
            "items": {"anyOf": [{"$ref": "#/$defs/Uid"}, {"const": facts::ALL_STREAMS}]},
            "maxItems": facts::MAX_UID_LIST,
        })
    };
    let unsubscribe = || json!({"type": "array", "items": {"$ref": "#/$defs/Uid"}, "maxItems": facts::MAX_UID_LIST});
    let fraction = || json!({"type": "number", "minimum": 0, "maximum": 1});
    let non_empty = || json!({"type": "string", "minLength": 1});
    let secret = || json!({"$ref": "#/$defs/Secret", "minLength": 1});
    vec![
        (
            "RawPlan",
            "name",
            json!({"anyOf": [{"type": "string", "pattern": "^[a-z0-9-]{1,64}$"}, {"type": "integer"}]}),
        ),
        ("RawPlan", "app_id", hex32()),
        ("RawPlan", "min_recording", duration()),
        (
            "RawPlan",
            "channels",
            json!({"type": "array", "items": {"$ref": "#/$defs/RawChannel"}, "minItems": 1}),
        ),
        (
            "RawPlan",
            "start",
            json!({"$ref": "#/$defs/StartClientRequest", "required": ["storageConfig"]}),
        ),
        ("RawSchedule", "timezone", json!({"enum": timezones()})),
        (
            "RawSchedule",
            "duration",
            json!({"$ref": "#/$defs/PositiveDuration"}),
        ),
        ("RawSchedule", "starting_deadline", duration()),
        ("RawSchedule", "refresh", duration()),
        (
            "RawSchedule",
            "dtstart",
            json!({"$ref": "#/$defs/LocalTime"}),
        ),
        (
            "RawSchedule",
            "exdates",
            json!({"type": "array", "items": {"$ref": "#/$defs/LocalTime"}}),
        ),
        (
            "RawSchedule",
            "skip_dates",
            json!({"type": "array", "items": {"$ref": "#/$defs/Date"}}),
        ),
        ("RawChannel", "cname", non_empty()),
        ("RawChannel", "uid", uid()),
        ("RawChannel", "backup_uid", uid()),
        ("RawRtcToken", "lifetime", duration()),
        ("RawRtcToken", "certificate", hex32()),
        ("RawStep", "at", duration()),
        (
            "AcquireClientRequest",
            "scene",
            json!({"enum": [facts::SCENE_RTC, facts::SCENE_WEB, facts::SCENE_POSTPONED]}),
        ),
        (
            "AcquireClientRequest",
            "resourceExpiredHour",
            range(&facts::RESOURCE_EXPIRED_HOURS),
        ),
        (
            "AcquireClientRequest",
            "region",
            templated(json!({"enum": facts::ACQUIRE_REGIONS})),
        ),
        ("StorageConfig", "bucket", non_empty()),
        ("StorageConfig", "accessKey", secret()),
        ("StorageConfig", "secretKey", secret()),
        (
            "StorageConfig",
            "fileNamePrefix",
            json!({"type": "array", "items": templated(json!({"anyOf": [
                {"type": "string", "pattern": "^[a-zA-Z0-9]+$"},
                {"type": "integer", "minimum": 0},
            ]}))}),
        ),
        (
            "ExtensionParams",
            "sse",
            templated(json!({"enum": facts::SSE_VALUES})),
        ),
        (
            "RecordingConfig",
            "channelType",
            range(&facts::CHANNEL_TYPES),
        ),
        (
            "RecordingConfig",
            "streamTypes",
            range(&facts::STREAM_TYPES),
        ),
        (
            "RecordingConfig",
            "streamMode",
            templated(json!({"enum": facts::STREAM_MODES})),
        ),
        (
            "RecordingConfig",
            "decryptionMode",
            range(&facts::DECRYPTION_MODES),
        ),
        (
            "RecordingConfig",
            "maxIdleTime",
            range(&facts::MAX_IDLE_TIME),
        ),
        (
            "RecordingConfig",
            "videoStreamType",
            range(&facts::VIDEO_STREAM_TYPES),
        ),
        (
            "RecordingConfig",
            "audioProfile",
            range(&facts::AUDIO_PROFILES),
        ),
        (
            "RecordingConfig",
            "subscribeUidGroup",
            range(&facts::SUBSCRIBE_UID_GROUPS),
        ),
        ("RecordingConfig", "subscribeAudioUids", subscribe()),
        ("RecordingConfig", "subscribeVideoUids", subscribe()),
        ("RecordingConfig", "unSubscribeAudioUids", unsubscribe()),
        ("RecordingConfig", "unSubscribeVideoUids", unsubscribe()),
        ("AudioUidList", "subscribeAudioUids", subscribe()),
        ("AudioUidList", "unSubscribeAudioUids", unsubscribe()),
        ("VideoUidList", "subscribeVideoUids", subscribe()),
        ("VideoUidList", "unSubscribeVideoUids", unsubscribe()),
        (
            "TranscodingConfig",
            "width",
            json!({"type": "integer", "minimum": 1, "maximum": facts::CANVAS_MAX_SIDE}),
        ),
        (
            "TranscodingConfig",
            "height",
            json!({"type": "integer", "minimum": 1, "maximum": facts::CANVAS_MAX_SIDE}),
        ),
        (
            "TranscodingConfig",
            "fps",
            json!({"enum": facts::COMPOSITE_FPS}),
        ),
        (
            "TranscodingConfig",
            "bitrate",
            range(&facts::COMPOSITE_BITRATE),
        ),
        ("TranscodingConfig", "mixedVideoLayout", layouts()),
        ("TranscodingConfig", "maxResolutionUid", uid()),
        ("TranscodingConfig", "backgroundColor", color()),
        ("TranscodingConfig", "layoutConfig", regions()),
        ("UpdateLayoutClientRequest", "mixedVideoLayout", layouts()),
        ("UpdateLayoutClientRequest", "maxResolutionUid", uid()),
        ("UpdateLayoutClientRequest", "backgroundColor", color()),
        ("UpdateLayoutClientRequest", "layoutConfig", regions()),
        ("LayoutRegion", "uid", uid()),
        ("LayoutRegion", "x_axis", fraction()),
        ("LayoutRegion", "y_axis", fraction()),
        ("LayoutRegion", "width", fraction()),
        ("LayoutRegion", "height", fraction()),
        ("LayoutRegion", "alpha", fraction()),
        ("LayoutRegion", "render_mode", range(&facts::RENDER_MODES)),
        ("UserBackground", "uid", uid()),
        ("UserBackground", "image_url", non_empty()),
        ("UserBackground", "render_mode", range(&facts::RENDER_MODES)),
        (
            "RecordingFileConfig",
            "avFileType",
            json!({"enum": [["hls"], ["hls", "mp4"]]}),
        ),
        (
            "SnapshotConfig",
            "captureInterval",
            range(&facts::CAPTURE_INTERVAL),
        ),
        (
            "SnapshotConfig",
            "fileType",
            json!({"const": [facts::SNAPSHOT_FILE_TYPE]}),
        ),
        (
            "ExtensionServiceConfig",
            "errorHandlePolicy",
            templated(json!({"const": facts::SERVICES_ERROR_POLICY})),
        ),
        (
            "ExtensionService",
            "serviceName",
            templated(json!({"enum": [facts::WEB_RECORDER, facts::RTMP_PUBLISH]})),
        ),
        (
            "ExtensionService",
            "errorHandlePolicy",
            templated(json!({"enum": facts::SERVICE_ERROR_POLICIES})),
        ),
        ("ServiceParam", "url", non_empty()),
        (
            "ServiceParam",
            "audioProfile",
            range(&facts::AUDIO_PROFILES),
        ),
        ("ServiceParam", "videoWidth", range(&facts::WEB_SIDE)),
        ("ServiceParam", "videoHeight", range(&facts::WEB_SIDE)),
        (
            "ServiceParam",
            "maxRecordingHour",
            range(&facts::RESOURCE_EXPIRED_HOURS),
        ),
        ("ServiceParam", "videoFps", range(&facts::WEB_FPS)),
        (
            "ServiceParam",
            "maxVideoDuration",
            range(&facts::WEB_MAX_VIDEO_DURATION),
        ),
        (
            "ServiceParam",
            "readyTimeout",
            range(&facts::WEB_READY_TIMEOUT),
        ),
        (
            "RtmpOutput",
            "rtmpUrl",
            templated(json!({"type": "string", "pattern": "^rtmps?://"})),
        ),
        (
            "RtmpPublishConfig",
            "outputs",
            json!({"type": "array", "items": {"$ref": "#/$defs/RtmpOutput"}, "maxItems": 1}),
        ),
        (
            "AppsCollection",
            "combinationPolicy",
            templated(json!({"enum": facts::COMBINATION_POLICIES})),
        ),
        (
            "TransConfig",
            "transMode",
            templated(
                json!({"enum": facts::TRANS_MODES.iter().map(|(mode, _)| *mode).collect::<Vec<_>>()}),
            ),
        ),
        (
            "Container",
            "format",
            templated(
                json!({"enum": facts::TRANS_MODES.iter().flat_map(|(_, formats)| formats.iter()).collect::<Vec<_>>()}),
            ),
        ),
        (
            "TranscodeAudio",
            "sampleRate",
            templated(text_or_number(facts::SAMPLE_RATES)),
        ),
        (
            "TranscodeAudio",
            "channels",
            templated(text_or_number(facts::AUDIO_CHANNELS)),
        ),
        (
            "TranscodeAudio",
            "bitrate",
            templated(json!({"anyOf": [
                {"type": "string", "pattern": r"^\+?[0-9]{1,10}$"},
                {"type": "integer", "minimum": 0, "maximum": u32::MAX},
            ]})),
        ),
    ]
}

/// Rules over the keys of one block: which go together, which exclude
/// each other.
fn blocks() -> Vec<(&'static str, Value)> {
    let exclusive = |pairs: &[(&str, &str)]| -> Value {
        pairs
            .iter()
            .map(|(a, b)| json!({"not": {"required": [a, b]}}))
            .collect()
    };
    let audio_lists = [
        ("subscribeAudioUids", "unSubscribeAudioUids"),
        ("subscribeAudioUids", "unsubscribeAudioUids"),
    ];
    let video_lists = [
        ("subscribeVideoUids", "unSubscribeVideoUids"),
        ("subscribeVideoUids", "unsubscribeVideoUids"),
    ];
    let both: Vec<(&str, &str)> = audio_lists.iter().chain(&video_lists).copied().collect();
    let web_recorder = json!({"properties": {"serviceName": {"const": facts::WEB_RECORDER}}});
    let rtmp_publish = json!({"properties": {"serviceName": {"const": facts::RTMP_PUBLISH}}});
    let salted: Vec<u8> = facts::SALTED_DECRYPTION.collect();
    let encrypted: Vec<u8> = (1..=*facts::DECRYPTION_MODES.end()).collect();
    let mut recording_rules = vec![
        json!({
            "if": {"properties": {"decryptionMode": {"enum": encrypted}}, "required": ["decryptionMode"]},
            "then": {"required": ["secret"]},
        }),
        json!({
            "if": {"properties": {"decryptionMode": {"enum": salted}}, "required": ["decryptionMode"]},
            "then": {"required": ["salt"]},
        }),
        json!({
            "if": {"properties": {"streamMode": {"const": "original"}}, "required": ["streamMode"]},
            "then": {"properties": {"streamTypes": {"const": facts::STREAM_TYPES_AUDIO}}, "required": ["streamTypes"]},
        }),
    ];
    if let Value::Array(lists) = exclusive(&both) {
        recording_rules.extend(lists);
    }
    vec![
        (
            "RawSchedule",
            json!({
                // At most one of cron, rrule and ics; the keys of each only with it.
                "allOf": exclusive(&[("cron", "rrule"), ("cron", "ics"), ("rrule", "ics")]),
                "dependentRequired": {
                    "rrule": ["dtstart"],
                    "dtstart": ["rrule"],
                    "exdates": ["rrule"],
                    "event": ["ics"],
                    "refresh": ["ics"],
                },
                "anyOf": [{"required": ["duration"]}, {"required": ["ics"]}],
            }),
        ),
        (
            "RawStep",
            json!({"oneOf": [{"required": ["update"]}, {"required": ["updateLayout"]}]}),
        ),
        ("UpdateClientRequest", json!({"minProperties": 1})),
        ("RecordingConfig", json!({"allOf": recording_rules})),
        ("AudioUidList", json!({"allOf": exclusive(&audio_lists)})),
        ("VideoUidList", json!({"allOf": exclusive(&video_lists)})),
        (
            "TranscodingConfig",
            // The layout left out is 0, so layoutConfig goes with 3 only.
            json!({
                "if": {"properties": {"mixedVideoLayout": {"const": facts::LAYOUT_CUSTOM}}, "required": ["mixedVideoLayout"]},
                "then": {"required": ["layoutConfig"]},
                "else": {"not": {"required": ["layoutConfig"]}},
            }),
        ),
        (
            "ExtensionServiceConfig",
            json!({"allOf": [{"properties": {"extensionServices": {"allOf": [
                {"contains": web_recorder, "minContains": 1, "maxContains": 1},
                {"contains": rtmp_publish, "minContains": 0, "maxContains": 1},
            ]}}}]}),
        ),
        (
            "ExtensionService",
            json!({"allOf": [
                {
                    "if": web_recorder,
                    "then": {"properties": {"serviceParam": {
                        "required": ["url", "audioProfile", "videoWidth", "videoHeight", "maxRecordingHour"],
                        "not": {"required": ["outputs"]},
                    }}},
                },
                {
                    "if": rtmp_publish,
                    "then": {"properties": {"serviceParam": {
                        "required": ["outputs"],
                        "propertyNames": {"const": "outputs"},
                        "properties": {"outputs": {"minItems": 1, "maxItems": 1}},
                    }}},
                },
            ]}),
        ),
    ]
}

/// Agora's current spelling of the unsubscribe lists, which recplan takes
/// as well as the one it sends.
fn add_aliases(schema: &mut Value) {
    for block in ["RecordingConfig", "AudioUidList", "VideoUidList"] {
        let Some(Value::Object(properties)) =
            block_mut(schema, block).and_then(|b| b.get_mut("properties"))
        else {
            continue;
        };
        let aliases: Vec<(String, Value)> = properties
            .iter()
            .filter_map(|(name, field)| {
                let alias = name.strip_prefix("unSubscribe")?;
                Some((format!("unsubscribe{alias}"), field.clone()))
            })
            .collect();
        properties.extend(aliases);
    }
}

/// recplan reads any YAML scalar into a text field (`bucket: 2026` is the
/// text "2026"), so a text field without a pattern or a list of values
/// takes numbers and booleans too.
fn widen_text(node: &mut Value) {
    match node {
        Value::Object(map) => {
            let constrained = ["pattern", "enum", "const"]
                .iter()
                .any(|k| map.contains_key(*k));
            if !constrained && let Some(kind) = map.get_mut("type") {
                if *kind == json!("string") {
                    *kind = json!(["string", "number", "boolean"]);
                } else if *kind == json!(["string", "null"]) {
                    *kind = json!(["string", "number", "boolean", "null"]);
                }
            }
            map.values_mut().for_each(widen_text);
        }
        Value::Array(items) => items.iter_mut().for_each(widen_text),
        _ => {}
    }
}

fn block_mut<'a>(schema: &'a mut Value, block: &str) -> Option<&'a mut Value> {
    if block == "RawPlan" {
        Some(schema)
    } else {
        schema.get_mut("$defs")?.get_mut(block)
    }
}

/// Replaces the schema of `block.field`, keeping its description and
/// whether it may be null; whether the field was found.
fn constrain_field(schema: &mut Value, block: &str, field: &str, constraint: Value) -> bool {
    let Some(node) = block_mut(schema, block)
        .and_then(|b| b.get_mut("properties"))
        .and_then(|p| p.get_mut(field))
    else {
        return false;
    };
    let nullable = node
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|t| t.contains(&json!("null")))
        || node
            .get("anyOf")
            .and_then(Value::as_array)
            .is_some_and(|branches| branches.contains(&json!({"type": "null"})));
    let replaced = if nullable {
        json!({"anyOf": [constraint, {"type": "null"}]})
    } else {
        constraint
    };
    let mut field = Map::new();
    if let Some(description) = node.get("description") {
        field.insert("description".to_owned(), description.clone());
    }
    field.extend(as_map(replaced));
    *node = Value::Object(field);
    true
}

/// An integer in `range`.
fn range<T: serde::Serialize>(range: &std::ops::RangeInclusive<T>) -> Value {
    json!({"type": "integer", "minimum": range.start(), "maximum": range.end()})
}

/// `schema`, or a template to be judged once rendered.
fn templated(schema: Value) -> Value {
    let branches = vec![schema, json!({"$ref": "#/$defs/Template"})];
    Value::Object(Map::from_iter([(
        "anyOf".to_owned(),
        Value::Array(branches),
    )]))
}

/// One of `values`, quoted or (being numbers) not.
fn text_or_number(values: &[&str]) -> Value {
    let numbers = values.iter().filter_map(|v| v.parse::<u64>().ok());
    let all: Vec<Value> = values
        .iter()
        .map(|v| json!(v))
        .chain(numbers.map(|n| json!(n)))
        .collect();
    json!({"enum": all})
}

fn timezones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect()
}

/// The vendors' names and titles as [`storage::vendor_by_name`] matches
/// them: in any case, `-` or `_`, blanks around.
fn vendor_names() -> String {
    let mut names: Vec<String> = storage::vendors()
        .iter()
        .flat_map(|vendor| [vendor.name, vendor.title])
        .map(|name| {
            name.trim()
                .to_ascii_lowercase()
                .replace('_', "-")
                .chars()
                .map(|c| match c {
                    'a'..='z' => format!("[{c}{}]", c.to_ascii_uppercase()),
                    '-' => "[-_]".to_owned(),
                    c if c.is_alphanumeric() || c == ' ' => c.to_string(),
                    c => format!("\\{c}"),
                })
                .collect()
        })
        .collect();
    // A title that is the name again (`Qiniu`) adds nothing.
    names.dedup();
    format!(r"^\s*(?:{})\s*$", names.join("|"))
}

fn as_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_a_field_of_the_derived_schema() {
        let derived =
            serde_json::to_value(schemars::schema_for!(crate::plan::raw::RawPlan)).unwrap();
        for (block, field, constraint) in fields() {
            assert!(
                constrain_field(&mut derived.clone(), block, field, constraint),
                "{block}.{field}"
            );
        }
        for (block, _) in blocks() {
            assert!(block_mut(&mut derived.clone(), block).is_some(), "{block}");
        }
    }

    #[test]
    fn vendor_names_match_in_any_case_and_either_dash() {
        let pattern = vendor_names();
        assert!(pattern.contains("[aA][wW][sS][-_][sS]3"), "{pattern}");
    }
}
