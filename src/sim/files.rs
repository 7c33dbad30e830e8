//! The files a simulated recording produces, named as Agora names them
//! (`manage-files`: `<sid>_<cname>.m3u8`, `<sid>_<cname>_<index>.mp4`,
//! `<sid>_<cname>__uid_s_<uid>__uid_e_<audio|video>.m3u8`), and the
//! `serverResponse` objects query and stop report them in.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::Shared;
use super::state::{Output, Task};
use crate::agora::Mode;

/// The most MP4 files a recording lists.
const MAX_MP4_FILES: u32 = 1000;

/// One file, as a `fileList` entry describes it.
struct File {
    name: String,
    track_type: &'static str,
    uid: String,
    mixed_all_user: bool,
    slice_start_ms: i64,
}

/// Every file `task` has written by `until`: empty when nobody was in the
/// channel.
fn files(task: &Task, shared: &Shared, until: Instant) -> Vec<File> {
    if !task.users_present {
        return Vec::new();
    }
    let timings = &shared.config.timings;
    let ready = task.ready_at(timings);
    let start_ms = shared.wall_ms(ready);
    let mixed_track = match task.stream_types {
        0 => "audio",
        1 => "video",
        _ => "audio_and_video",
    };
    let base = format!("{}_{}", task.sid, cname_in_file_name(task));
    let mut list = Vec::new();
    if task.mode == Mode::Individual {
        for uid in &shared.config.channel_uids {
            let tracks = [
                (
                    "audio",
                    task.stream_types != 1 && task.subscriptions.audio(uid),
                ),
                (
                    "video",
                    task.stream_types != 0 && task.subscriptions.video(uid),
                ),
            ];
            for (track, recorded) in tracks {
                if recorded {
                    list.push(File {
                        name: format!("{base}__uid_s_{uid}__uid_e_{track}.m3u8"),
                        track_type: track,
                        uid: uid.clone(),
                        mixed_all_user: false,
                        slice_start_ms: start_ms,
                    });
                }
            }
        }
        return list;
    }
    let mixed = |name: String, slice_start_ms: i64| File {
        name,
        track_type: mixed_track,
        uid: "0".to_owned(),
        mixed_all_user: true,
        slice_start_ms,
    };
    list.push(mixed(format!("{base}.m3u8"), start_ms));
    if task.output == Output::HlsAndMp4 {
        // One MP4 per `mp4_roll` of recording, numbered from 0.
        let recorded = until.saturating_duration_since(ready);
        let roll = timings.mp4_roll;
        let rolled = recorded
            .as_nanos()
            .checked_div(roll.as_nanos())
            .unwrap_or(0);
        // Capped so that a tiny configured roll cannot make a huge answer;
        // 720 hours (Agora's longest recording) in 2-hour files is 360.
        let count = u32::try_from(rolled)
            .unwrap_or(u32::MAX)
            .min(MAX_MP4_FILES - 1)
            + 1;
        for index in 0..count {
            let offset = roll.checked_mul(index).unwrap_or(Duration::MAX).as_millis();
            let offset = i64::try_from(offset).unwrap_or(i64::MAX);
            list.push(mixed(
                format!("{base}_{index}.mp4"),
                start_ms.saturating_add(offset),
            ));
        }
    }
    list
}

/// Web page recording replaces special characters of the cname with `-`.
fn cname_in_file_name(task: &Task) -> String {
    if task.mode != Mode::Web {
        return task.cname.clone();
    }
    task.cname
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `fileListMode` and `fileList`: a bare M3U8 name for composite HLS only,
/// an array of entries otherwise.
fn file_list_fields(task: &Task, files: &[File], into: &mut serde_json::Map<String, Value>) {
    if task.mode == Mode::Composite && task.output == Output::Hls {
        let name = files.first().map_or("", |f| f.name.as_str());
        into.insert("fileListMode".to_owned(), json!("string"));
        into.insert("fileList".to_owned(), json!(name));
        return;
    }
    let entries: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({
                "fileName": f.name,
                "trackType": f.track_type,
                "uid": f.uid,
                "mixedAllUser": f.mixed_all_user,
                "isPlayable": true,
                "sliceStartTime": f.slice_start_ms,
            })
        })
        .collect();
    into.insert("fileListMode".to_owned(), json!("json"));
    into.insert("fileList".to_owned(), Value::Array(entries));
}

/// The web recorder's payload; web mode spells `filename` in lowercase.
fn web_recorder_payload(task: &Task, files: &[File], state: &str) -> Value {
    let list: Vec<Value> = files
        .iter()
        .map(|f| json!({ "filename": f.name, "sliceStartTime": f.slice_start_ms }))
        .collect();
    json!({ "fileList": list, "onhold": task.onhold, "state": state })
}

/// query's `serverResponse` for `status`, observed at `at` (for an ended
/// task, the moment it ended).
pub(super) fn query_response(task: &Task, shared: &Shared, status: u8, at: Instant) -> Value {
    let timings = &shared.config.timings;
    let listed = if at >= task.first_slice_at(timings) {
        files(task, shared, at)
    } else {
        Vec::new()
    };
    let slice_start = listed.first().map_or(0, |f| f.slice_start_ms);
    if task.mode == Mode::Web {
        let ended = matches!(status, 8 | 20);
        let recorder_state = match status {
            _ if ended => "exit",
            0..=3 => "init",
            _ => "inProgress",
        };
        let mut services = vec![json!({
            "serviceName": "web_recorder_service",
            "payload": web_recorder_payload(task, &listed, recorder_state),
        })];
        if !task.rtmp_urls.is_empty() {
            let rtmp_status = match status {
                _ if ended => "disconnected",
                _ if task.onhold => "onhold",
                0..=3 => "connecting",
                _ => "publishing",
            };
            let outputs: Vec<Value> = task
                .rtmp_urls
                .iter()
                .map(|url| json!({ "rtmpUrl": url, "status": rtmp_status }))
                .collect();
            services.push(json!({
                "serviceName": "rtmp_publish_service",
                "payload": { "outputs": outputs },
            }));
        }
        return json!({ "status": status, "extensionServiceState": services });
    }
    let mut response = serde_json::Map::new();
    response.insert("status".to_owned(), json!(status));
    if task.output != Output::Snapshots {
        file_list_fields(task, &listed, &mut response);
    }
    response.insert("sliceStartTime".to_owned(), json!(slice_start));
    Value::Object(response)
}

/// stop's `serverResponse`: everything recorded up to `at`, all uploaded.
pub(super) fn stop_response(task: &Task, shared: &Shared, at: Instant) -> Value {
    let recorded = files(task, shared, at);
    if task.mode == Mode::Web {
        return json!({
            "extensionServiceState": [
                {
                    "serviceName": "upload_service",
                    "payload": { "uploadingStatus": "uploaded" },
                },
                {
                    "serviceName": "web_recorder_service",
                    "payload": web_recorder_payload(task, &recorded, "exit"),
                },
            ],
        });
    }
    let mut response = serde_json::Map::new();
    if task.output != Output::Snapshots {
        file_list_fields(task, &recorded, &mut response);
    }
    response.insert("uploadingStatus".to_owned(), json!("uploaded"));
    Value::Object(response)
}
