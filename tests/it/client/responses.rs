//! Agora's response bodies, typed from its documentation's examples, parsed
//! into recplan's normalized types.

use recplan::agora::response::{
    AcquireResponse, FileListMode, QueryResponse, RTMP_PUBLISH_SERVICE, RecordingStatus,
    StartResponse, StopResponse, UploadingStatus, WEB_RECORDER_SERVICE,
};

use super::fixture;

const SID: &str = "38f8e3cfdc474cd56fc1ceba380d7e1a";

fn query(name: &str) -> QueryResponse {
    serde_json::from_str(&fixture(name)).unwrap()
}

fn stop(name: &str) -> StopResponse {
    serde_json::from_str(&fixture(name)).unwrap()
}

fn names(files: &[recplan::agora::response::RecordedFile]) -> Vec<&str> {
    files.iter().map(|file| file.file_name.as_str()).collect()
}

#[test]
fn acquire_and_start() {
    let acquired: AcquireResponse = serde_json::from_str(&fixture("acquire.json")).unwrap();
    assert_eq!(acquired.cname, "standup-platform");
    assert_eq!(acquired.uid, "527841");
    assert_eq!(
        acquired.resource_id,
        "JyvK8nXHuV1BE64GDkAaBGEscvtHW7v8BrQoRPCHxmeVxwY22"
    );
    let started: StartResponse = serde_json::from_str(&fixture("start.json")).unwrap();
    assert_eq!(started.sid, SID);
}

#[test]
fn composite_string_file_list_is_one_playlist() {
    let response = query("query_composite_string.json");
    assert_eq!(response.status(), Some(RecordingStatus::InProgress));
    assert!(response.status().unwrap().is_healthy());
    assert_eq!(
        response.server_response.file_list_mode,
        Some(FileListMode::String)
    );
    assert_eq!(
        names(response.files()),
        ["38f8e3cfdc474cd56fc1ceba380d7e1a_standup-platform.m3u8"]
    );
    assert_eq!(response.files()[0].track_type, None);
    assert_eq!(
        response.server_response.slice_start_time,
        Some(1_606_357_122_528)
    );
    assert_eq!(response.uploading_status(), None);
}

#[test]
fn composite_json_file_list_has_playlist_and_mp4() {
    let response = query("query_composite_json.json");
    assert_eq!(
        response.server_response.file_list_mode,
        Some(FileListMode::Json)
    );
    assert_eq!(
        names(response.files()),
        [
            "38f8e3cfdc474cd56fc1ceba380d7e1a_standup-platform.m3u8",
            "38f8e3cfdc474cd56fc1ceba380d7e1a_standup-platform_0.mp4",
        ]
    );
    let mp4 = &response.files()[1];
    assert_eq!(mp4.uid.as_deref(), Some("0"));
    assert_eq!(mp4.track_type.as_deref(), Some("audio_and_video"));
    assert_eq!(mp4.mixed_all_user, Some(true));
    assert_eq!(mp4.is_playable, Some(true));
    assert_eq!(mp4.slice_start_time, Some(1_606_357_122_528));
}

#[test]
fn individual_json_file_list_has_one_file_per_track() {
    let response = query("query_individual_json.json");
    assert_eq!(response.status(), Some(RecordingStatus::InProgress));
    assert_eq!(response.sid, SID);
    // Absent from this example: defaults, not errors.
    assert_eq!(response.cname, "");
    let files = response.files();
    assert_eq!(
        names(files),
        [
            "38f8e3cfdc474cd56fc1ceba380d7e1a_room1__uid_s_123__uid_e_audio.m3u8",
            "38f8e3cfdc474cd56fc1ceba380d7e1a_room1__uid_s_456__uid_e_video.m3u8",
        ]
    );
    assert_eq!(files[0].uid.as_deref(), Some("123"));
    assert_eq!(files[0].track_type.as_deref(), Some("audio"));
    assert_eq!(files[1].uid.as_deref(), Some("456"));
    assert_eq!(files[1].mixed_all_user, Some(false));
}

#[test]
fn snapshot_query_takes_numbers_as_strings() {
    let response = query("query_individual_snapshot.json");
    assert_eq!(response.status(), Some(RecordingStatus::AllComponentsReady));
    assert_eq!(response.uid, "527841");
    assert_eq!(
        response.server_response.slice_start_time,
        Some(1_562_724_971_626)
    );
    assert!(response.files().is_empty());
}

#[test]
fn web_query_reads_files_from_the_web_recorder() {
    let response = query("query_web.json");
    assert_eq!(response.status(), Some(RecordingStatus::InProgress));
    assert_eq!(
        names(response.files()),
        ["38f8e3cfdc474cd56fc1ceba380d7e1a_https-example-com-board.m3u8"]
    );
    assert_eq!(
        response.files()[0].slice_start_time,
        Some(1_700_000_000_123)
    );
    let recorder = response
        .server_response
        .service(WEB_RECORDER_SERVICE)
        .unwrap();
    assert_eq!(recorder.payload.state.as_deref(), Some("inProgress"));
    assert_eq!(recorder.payload.onhold, Some(false));
    let rtmp = response
        .server_response
        .service(RTMP_PUBLISH_SERVICE)
        .unwrap();
    assert_eq!(
        rtmp.payload.outputs[0].rtmp_url,
        "rtmp://live.example.com/app/stream"
    );
    assert_eq!(
        rtmp.payload.outputs[0].status.as_deref(),
        Some("publishing")
    );
}

#[test]
fn web_stop_reads_upload_and_recorder_services() {
    let response = stop("stop_web.json");
    assert_eq!(
        response.uploading_status(),
        Some(&UploadingStatus::Uploaded)
    );
    assert_eq!(
        names(response.files()),
        [
            "38f8e3cfdc474cd56fc1ceba380d7e1a_https-example-com-board.m3u8",
            "38f8e3cfdc474cd56fc1ceba380d7e1a_https-example-com-board_0.mp4",
        ]
    );
    let recorder = response
        .server_response
        .service(WEB_RECORDER_SERVICE)
        .unwrap();
    assert_eq!(recorder.payload.state.as_deref(), Some("exit"));
}

#[test]
fn composite_stop_backuped() {
    let response = stop("stop_composite_backuped.json");
    assert_eq!(
        response.uploading_status(),
        Some(&UploadingStatus::Backuped)
    );
    assert_eq!(
        names(response.files()),
        ["38f8e3cfdc474cd56fc1ceba380d7e1a_standup-platform.m3u8"]
    );
}

#[test]
fn individual_stop_uploaded() {
    let response = stop("stop_individual_uploaded.json");
    assert_eq!(
        response.uploading_status(),
        Some(&UploadingStatus::Uploaded)
    );
    assert_eq!(response.files()[0].uid.as_deref(), Some("123"));
}

#[test]
fn undocumented_uploading_status_is_kept() {
    let response = stop("stop_snapshot_undocumented_status.json");
    let status = response.uploading_status().unwrap();
    assert_eq!(
        status,
        &UploadingStatus::Other("parked-somewhere".to_owned())
    );
    assert_eq!(status.as_str(), "parked-somewhere");
    assert!(response.files().is_empty());
}

#[test]
fn uploading_status_strings() {
    for (text, status) in [
        ("uploaded", UploadingStatus::Uploaded),
        ("backuped", UploadingStatus::Backuped),
        ("stranded", UploadingStatus::Stranded),
        ("unknown", UploadingStatus::Unknown),
        ("unknow", UploadingStatus::Unknown),
    ] {
        assert_eq!(UploadingStatus::from(text), status, "{text}");
    }
}

#[test]
fn recording_status_codes_names_and_classes() {
    let table = [
        (0, "not started", false, false),
        (1, "initialization complete", false, false),
        (2, "components starting", false, false),
        (3, "some components ready", false, false),
        (4, "all components ready", true, false),
        (5, "in progress", true, false),
        (6, "stop requested", false, false),
        (7, "all components stopped", false, true),
        (8, "exited", false, true),
        (20, "exited abnormally", false, true),
        (42, "undocumented status", false, false),
    ];
    for (code, name, healthy, exited) in table {
        let status = RecordingStatus::from_code(code);
        assert_eq!(status.code(), code);
        assert_eq!(status.to_string(), format!("{name} ({code})"));
        assert_eq!(status.is_healthy(), healthy, "{code}");
        assert_eq!(status.has_exited(), exited, "{code}");
    }
    assert_eq!(RecordingStatus::from_code(42), RecordingStatus::Other(42));
}

#[test]
fn non_numeric_status_is_left_out_not_an_error() {
    // Lenient per field: the answer stands, without a status.
    let body = r#"{"resourceId": "r", "sid": "s", "serverResponse": {"status": "five"}}"#;
    let response: QueryResponse = serde_json::from_str(body).unwrap();
    assert_eq!(response.status(), None);
    assert_eq!(response.sid, "s");
}

#[test]
fn empty_string_file_list_means_no_file_yet() {
    let body = r#"{"resourceId": "r", "sid": "s",
        "serverResponse": {"status": 4, "fileListMode": "string", "fileList": ""}}"#;
    let response: QueryResponse = serde_json::from_str(body).unwrap();
    assert!(response.files().is_empty());
}

#[test]
fn serialized_form_parses_back_the_same() {
    for name in [
        "query_composite_string.json",
        "query_web.json",
        "query_individual_snapshot.json",
    ] {
        let response = query(name);
        let json = serde_json::to_string(&response).unwrap();
        assert_eq!(
            serde_json::from_str::<QueryResponse>(&json).unwrap(),
            response
        );
    }
    let response = stop("stop_web.json");
    let json = serde_json::to_string(&response).unwrap();
    assert_eq!(
        serde_json::from_str::<StopResponse>(&json).unwrap(),
        response
    );
}
