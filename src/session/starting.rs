//! Getting a recording going: acquire, then start at once (a resource ID
//! lives five minutes), each written to the store before and after.

use super::report::Phase;
use super::runner::Session;
use crate::agora::request::AcquireClientRequest;
use crate::agora::{ApiError, Endpoint, Recording, Started};
use crate::store::Transition;

/// Why a start gave no recording to drive.
pub(super) enum StartFailure {
    /// Agora refused, or did not answer.
    Refused(ApiError),
    /// A start took effect, but its sid is unknown.
    SidUnknown,
}

/// Fresh acquire + start pairs tried before giving up: Agora's advice for
/// a start that keeps failing on the server side is a new resource.
const START_ATTEMPTS: usize = 2;

impl Session {
    /// Acquires and starts a recording with the current uid. `None` when
    /// Agora refused (the reason is in the report and the store) or did not
    /// answer (the start intent stays in the store for recovery).
    pub(super) async fn start_recording(&mut self) -> Option<Recording> {
        for attempt in 1..=START_ATTEMPTS {
            self.emit(Phase::Acquiring, "acquire", None);
            self.journal_or_report(&Transition::AcquireIntent {
                uid: self.uid.clone(),
            });
            let acquire = self.acquire_request();
            let acquired = match self
                .client
                .acquire(&self.spec.cname, &self.uid, &acquire)
                .await
            {
                Ok(acquired) => acquired,
                Err(error) => {
                    self.fail_call(Endpoint::Acquire, &error);
                    self.journal_or_report(&Transition::Failed {
                        reason: format!("acquire: {error}"),
                    });
                    return None;
                }
            };
            self.journal_or_report(&Transition::Acquired {
                resource_id: acquired.resource_id.clone(),
            });
            match self.start_on(&acquired.resource_id).await {
                Ok(recording) => return Some(recording),
                Err(StartFailure::SidUnknown) => return None,
                Err(StartFailure::Refused(error))
                    if error.status().is_some_and(|s| s >= 500) && attempt < START_ATTEMPTS =>
                {
                    tracing::warn!(cname = %self.spec.cname, %error, "start failed on Agora's side; acquiring a new resource");
                }
                Err(StartFailure::Refused(error)) => {
                    // Only an answer from Agora settles it: after a timeout
                    // the start may have taken effect, so the intent stays
                    // for recovery to check.
                    if !error.is_transport() {
                        self.journal_or_report(&Transition::Failed {
                            reason: format!("start: {error}"),
                        });
                    }
                    return None;
                }
            }
        }
        None
    }

    /// Starts on an acquired resource.
    pub(super) async fn start_on(&mut self, resource_id: &str) -> Result<Recording, StartFailure> {
        self.report.resource_id = Some(resource_id.to_owned());
        self.emit(Phase::Starting, "start", None);
        self.journal_or_report(&Transition::StartIntent {
            resource_id: resource_id.to_owned(),
            uid: self.uid.clone(),
        });
        let started = self
            .client
            .start(
                self.spec.mode,
                resource_id,
                &self.spec.cname,
                &self.uid,
                &self.spec.start,
            )
            .await;
        match started {
            Ok(
                Started::New(recording)
                | Started::Earlier {
                    recording: Some(recording),
                },
            ) => {
                self.started(&recording);
                Ok(recording)
            }
            Ok(Started::Earlier { recording: None }) => {
                // The start took effect but Agora did not say under which
                // sid: nothing can address it. The intent stays in the store
                // as the record of it; Agora ends it after maxIdleTime.
                self.report.errors.push(
                    "start: an earlier attempt took effect (201, code 7) but its sid is unknown"
                        .to_owned(),
                );
                Err(StartFailure::SidUnknown)
            }
            Err(error) => {
                self.fail_call(Endpoint::Start, &error);
                Err(StartFailure::Refused(error))
            }
        }
    }

    pub(super) fn started(&mut self, recording: &Recording) {
        self.journal_or_report(&Transition::Started {
            recording: recording.clone(),
        });
        self.report.resource_id = Some(recording.resource_id.clone());
        self.report.sid = Some(recording.sid.clone());
        self.emit(
            Phase::Confirming,
            &format!("started, sid {}", recording.sid),
            Some(recording),
        );
    }

    /// The plan's acquire body, keeping this session away from the
    /// resources of recordings that died.
    fn acquire_request(&self) -> AcquireClientRequest {
        let mut acquire = self.spec.acquire.clone();
        if !self.excluded.is_empty() {
            let mut excluded = acquire.exclude_resource_ids.take().unwrap_or_default();
            excluded.extend(self.excluded.iter().cloned());
            acquire.exclude_resource_ids = Some(excluded);
        }
        acquire
    }
}
