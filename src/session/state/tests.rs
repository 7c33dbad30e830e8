//! The decisions, table style, with literal inputs.

use super::*;
use crate::agora::request::{AcquireClientRequest, StartClientRequest, StopClientRequest};
use crate::agora::{Endpoint, Mode};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn spec(on_failure: OnFailure, backup_uid: Option<&str>) -> SessionSpec {
    SessionSpec {
        app_id: "app".to_owned(),
        mode: Mode::Composite,
        cname: "room".to_owned(),
        uid: "527841".to_owned(),
        backup_uid: backup_uid.map(str::to_owned),
        on_failure,
        min_recording: secs(60),
        acquire: AcquireClientRequest::default(),
        start: StartClientRequest::default(),
        steps: Vec::new(),
        stop: StopClientRequest::default(),
        rtc_token: None,
    }
}

#[test]
fn backoff_doubles_up_to_30_seconds() {
    let waits: Vec<u64> = (1..=8).map(|a| start_backoff(a).as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    assert_eq!(start_backoff(0), secs(1));
    assert_eq!(start_backoff(u32::MAX), secs(30));
}

#[test]
fn after_a_failed_start_by_error_class() {
    use ErrorClass as C;
    use StartDecision::{AcquireAgain, GiveUp as Stop, StartAgain};
    use StartFailure::{Acquire, SidUnknown, Start, Unminted};
    let t0 = Instant::now();
    let end = t0 + secs(30 * 60);
    let acquired = Some(t0);
    // (failure, attempt, now, acquired at, expected)
    let cases = [
        (
            Start(C::Transport),
            1,
            t0,
            acquired,
            StartAgain { after: secs(1) },
        ),
        (
            Start(C::NotCompleted),
            3,
            t0,
            acquired,
            StartAgain { after: secs(4) },
        ),
        // The resource is about to lapse: a new one.
        (
            Start(C::Transport),
            1,
            t0 + secs(239),
            acquired,
            AcquireAgain { after: secs(1) },
        ),
        (
            Start(C::ServerError),
            2,
            t0,
            acquired,
            AcquireAgain { after: secs(2) },
        ),
        (
            Start(C::NoWorker),
            1,
            t0,
            acquired,
            AcquireAgain { after: secs(1) },
        ),
        // 502 after an outage's backoff: a new resource at once.
        (
            Start(C::NoWorker),
            6,
            t0,
            acquired,
            AcquireAgain { after: secs(1) },
        ),
        (
            Start(C::RateLimited),
            1,
            t0,
            acquired,
            AcquireAgain { after: secs(1) },
        ),
        (
            Start(C::WorkerNotFound),
            1,
            t0,
            acquired,
            AcquireAgain { after: secs(1) },
        ),
        (
            Acquire(C::Transport),
            7,
            t0,
            None,
            AcquireAgain { after: secs(30) },
        ),
        (
            Acquire(C::ServerError),
            1,
            t0,
            None,
            AcquireAgain { after: secs(1) },
        ),
        (Acquire(C::Final), 1, t0, None, Stop(GiveUp::Final)),
        (Start(C::Final), 1, t0, acquired, Stop(GiveUp::Final)),
        (Unminted, 1, t0, None, Stop(GiveUp::Final)),
        (SidUnknown, 1, t0, acquired, Stop(GiveUp::SidUnknown)),
        // 60 s left after the wait is still worth it; less is not.
        (
            Acquire(C::Transport),
            1,
            end - secs(61),
            None,
            AcquireAgain { after: secs(1) },
        ),
        (
            Acquire(C::Transport),
            1,
            end - secs(60),
            None,
            Stop(GiveUp::TooLate),
        ),
        (
            Start(C::Transport),
            5,
            end - secs(70),
            acquired,
            Stop(GiveUp::TooLate),
        ),
    ];
    for (i, (failure, attempt, now, acquired_at, expected)) in cases.into_iter().enumerate() {
        let decided = after_start_failure(failure, attempt, now, acquired_at, end, secs(60));
        assert_eq!(decided, expected, "case {i}: {failure:?} attempt {attempt}");
    }
}

#[test]
fn worth_starting_needs_min_recording_left() {
    let t0 = Instant::now();
    let end = t0 + secs(120);
    assert!(worth_starting(t0, end, secs(60)));
    assert!(worth_starting(t0 + secs(60), end, secs(60)));
    assert!(!worth_starting(t0 + secs(61), end, secs(60)));
    assert!(!worth_starting(end, end, Duration::ZERO));
    assert!(worth_starting(end - secs(1), end, Duration::ZERO));
}

#[test]
fn the_restart_uid_takes_turns() {
    // (planned, backup, current, expected)
    let cases = [
        ("527841", Some("527842"), "527841", "527842"),
        ("527841", Some("527842"), "527842", "527841"),
        // A uid neither planned nor backup (a store from an older version).
        ("527841", Some("527842"), "9", "527842"),
        ("1", None, "1", "2147483649"),
        ("2147483649", None, "2147483649", "1"),
        ("1", None, "2147483649", "1"),
        ("2147483648", None, "2147483648", "2147483649"),
    ];
    for (planned, backup, current, expected) in cases {
        assert_eq!(
            restart_uid(planned, backup, current),
            expected,
            "{planned} {backup:?} {current}"
        );
    }
}

#[test]
fn after_a_lost_recording() {
    let t0 = Instant::now();
    let end = t0 + secs(600);
    let state = SessionState::new("527841");
    let restart = |uid: &str| LossDecision::Restart {
        uid: uid.to_owned(),
    };
    let end_with = |ignored| LossDecision::End { ignored };
    let not_restartable = SessionState {
        restartable: false,
        ..state.clone()
    };
    // (on_failure, backup, state, now, stopping, expected)
    let cases = [
        (
            OnFailure::Restart,
            Some("527842"),
            &state,
            t0,
            false,
            restart("527842"),
        ),
        (
            OnFailure::Restart,
            None,
            &state,
            t0,
            false,
            restart("2148011489"),
        ),
        (
            OnFailure::Restart,
            Some("527842"),
            &state,
            end - secs(59),
            false,
            end_with(false),
        ),
        (
            OnFailure::Restart,
            Some("527842"),
            &state,
            t0,
            true,
            end_with(false),
        ),
        (
            OnFailure::Restart,
            Some("527842"),
            &not_restartable,
            t0,
            false,
            end_with(false),
        ),
        (
            OnFailure::Stop,
            Some("527842"),
            &state,
            t0,
            false,
            end_with(false),
        ),
        (
            OnFailure::Ignore,
            Some("527842"),
            &state,
            t0,
            false,
            end_with(true),
        ),
    ];
    for (i, (on_failure, backup, state, now, stopping, expected)) in cases.into_iter().enumerate() {
        let decided = after_loss(
            &spec(on_failure, backup),
            state,
            now,
            end,
            secs(60),
            stopping,
        );
        assert_eq!(decided, expected, "case {i}");
    }
}

#[test]
fn confirmation_never_runs_past_the_end() {
    let t0 = Instant::now();
    assert_eq!(confirm_deadline(t0, t0 + secs(600)), t0 + secs(90));
    assert_eq!(confirm_deadline(t0, t0 + secs(40)), t0 + secs(40));
    let waits: Vec<u64> = std::iter::successors(Some(secs(5)), |w| Some(next_confirm_wait(*w)))
        .take(5)
        .map(|w| w.as_secs())
        .collect();
    assert_eq!(waits, [5, 10, 20, 20, 20]);
}

#[test]
fn query_statuses_read() {
    let cases = [
        (None, QueryReading::Starting),
        (Some(0), QueryReading::Starting),
        (Some(3), QueryReading::Starting),
        (Some(4), QueryReading::Healthy),
        (Some(5), QueryReading::Healthy),
        (Some(6), QueryReading::Starting),
        (Some(7), QueryReading::Exited),
        (Some(8), QueryReading::Exited),
        (Some(20), QueryReading::Exited),
        (Some(99), QueryReading::Starting),
    ];
    for (code, expected) in cases {
        assert_eq!(
            read_status(code.map(RecordingStatus::from_code)),
            expected,
            "{code:?}"
        );
    }
}

#[test]
fn stop_answers_read() {
    let rejected = |status, body: &str| {
        Err(ApiError::rejected(
            Endpoint::Stop,
            status,
            None,
            body.as_bytes(),
        ))
    };
    let answer: StopResponse = serde_json::from_str(
        r#"{"serverResponse":{"fileList":[{"fileName":"a.m3u8","isPlayable":"true"}],"uploadingStatus":"uploaded"}}"#,
    )
    .unwrap();
    assert_eq!(
        read_stop(&Ok(answer)),
        StopReading::Stopped {
            files: vec![RecordedFile {
                file_name: "a.m3u8".to_owned(),
                ..RecordedFile::default()
            }],
            uploading_status: Some("uploaded".to_owned()),
        }
    );
    let gone = [
        (400, r#"{"code":49,"reason":"already exiting"}"#),
        (404, r#"{"code":404,"reason":"failed to find worker"}"#),
        (206, r#"{"code":435,"reason":"no recorded data"}"#),
    ];
    for (status, body) in gone {
        assert!(
            matches!(read_stop(&rejected(status, body)), StopReading::Gone { .. }),
            "{body}"
        );
    }
    let open = [
        (504, r#"{"code":62,"reason":"request timeout"}"#),
        (206, r#"{"code":65,"reason":"request not completed"}"#),
        (400, r#"{"code":2,"reason":"invalid parameter"}"#),
    ];
    for (status, body) in open {
        assert!(
            matches!(
                read_stop(&rejected(status, body)),
                StopReading::NotAnswered { .. }
            ),
            "{body}"
        );
    }
}

#[test]
fn stored_state_counts_restarts_from_starts() {
    let state = SessionState::stored("527842", &[0, 2], 2, true);
    assert_eq!(state.uid, "527842");
    assert_eq!(state.steps_done.iter().copied().collect::<Vec<_>>(), [0, 2]);
    assert_eq!(state.restarts, 1);
    assert!(!state.confirmed);
    assert_eq!(SessionState::stored("1", &[], 0, false).restarts, 0);
}
