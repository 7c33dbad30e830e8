//! Getting a recording going: acquire, then start at once (a resource ID
//! lives five minutes), each written to the store before and after. When
//! the plan has recplan mint the RTC token, each recording gets one here,
//! for the uid it starts with: a restart joins with another uid, and a
//! token names its uid.

use tokio::time::Instant;

use super::report::{Outcome, Stage};
use super::runner::Session;
use super::state::{GiveUp, StartDecision, StartFailure, after_start_failure};
use crate::agora::request::AcquireClientRequest;
use crate::agora::{ApiError, Endpoint, ErrorClass, Recording, Secret, Started, call};
use crate::store::Transition;
use crate::token::TokenError;

/// Why one try gave no recording to drive.
pub(super) struct Failed {
    pub(super) failure: StartFailure,
    /// For the report.
    pub(super) reason: String,
    /// Whether the start may have taken effect: an ambiguous failure leaves
    /// its intent in the store for recovery to check.
    pub(super) ambiguous: bool,
}

impl Failed {
    fn api(endpoint: Endpoint, error: &ApiError) -> Failed {
        let class = ErrorClass::of(error);
        let failure = match endpoint {
            Endpoint::Acquire => StartFailure::Acquire(class),
            _ => StartFailure::Start(class),
        };
        Failed {
            failure,
            reason: format!("{endpoint}: {error}"),
            ambiguous: endpoint == Endpoint::Start
                && matches!(class, ErrorClass::Transport | ErrorClass::NotCompleted),
        }
    }

    fn unminted(error: &TokenError) -> Failed {
        Failed {
            failure: StartFailure::Unminted,
            reason: format!("start: cannot mint the RTC token: {error}"),
            ambiguous: false,
        }
    }
}

impl Session {
    /// Gets a recording going with the current uid, trying again within
    /// the occurrence as [`after_start_failure`] decides (capped backoff, a
    /// new resource where the error class says so) until less than
    /// `min_recording` would remain. Every try is reported. `None` when the
    /// session got no recording: the report and the store say why (a start
    /// whose fate is unknown leaves its intent in the store for recovery).
    ///
    /// Callers box its future: it runs once or twice in a session's life,
    /// and unboxed it would size the task the session sleeps in.
    pub(super) async fn start_recording(&mut self) -> Option<Recording> {
        let mut resource: Option<(String, Instant)> = None;
        let mut tries: u32 = 0;
        loop {
            tries = tries.saturating_add(1);
            self.state.attempts = self.state.attempts.saturating_add(1);
            self.report.attempts = self.state.attempts;
            let result = match resource.as_ref() {
                Some((resource_id, _)) => {
                    let resource_id = resource_id.clone();
                    self.start_on(&resource_id).await
                }
                None => match self.acquire().await {
                    Ok(resource_id) => {
                        resource = Some((resource_id.clone(), Instant::now()));
                        self.start_on(&resource_id).await
                    }
                    Err(failed) => Err(failed),
                },
            };
            let failed = match result {
                Ok(recording) => return Some(recording),
                Err(failed) => failed,
            };
            let decision = after_start_failure(
                failed.failure,
                tries,
                Instant::now(),
                resource.as_ref().map(|(_, at)| *at),
                self.window.end,
                self.spec.min_recording,
            );
            let after = match decision {
                StartDecision::StartAgain { after } => after,
                StartDecision::AcquireAgain { after } => {
                    resource = None;
                    after
                }
                StartDecision::GiveUp(why) => {
                    self.give_up_starting(&failed, why).await;
                    return None;
                }
            };
            let message = format!(
                "attempt {} failed ({}); trying again in {} s",
                self.state.attempts,
                failed.reason,
                after.as_secs()
            );
            tracing::warn!(cname = %self.spec.cname, attempt = self.state.attempts, reason = %failed.reason, "could not start; trying again");
            self.emit(Stage::Acquiring, &message, None);
            if !self.wait_until(Instant::now() + after).await {
                self.end(Outcome::Interrupted, "stopped before a recording started")
                    .await;
                return None;
            }
        }
    }

    /// Acquires a resource for the current uid, with a token minted for it
    /// first when the plan asks for one.
    async fn acquire(&mut self) -> Result<String, Failed> {
        self.emit(
            Stage::Acquiring,
            &format!("acquire (attempt {})", self.state.attempts),
            None,
        );
        // Minted before anything is sent, so that a token that cannot be
        // made costs no resource.
        self.mint_token()
            .map_err(|error| Failed::unminted(&error))?;
        self.journal_or_report(&Transition::AcquireIntent {
            uid: self.state.uid.clone(),
        })
        .await;
        let acquire = self.acquire_request();
        let call = call::Acquire {
            cname: &self.spec.cname,
            uid: &self.state.uid,
            request: &acquire,
        };
        match self.client.send(&call).await {
            Ok(acquired) => {
                self.journal_or_report(&Transition::Acquired {
                    resource_id: acquired.resource_id.clone(),
                })
                .await;
                Ok(acquired.resource_id)
            }
            Err(error) => {
                self.fail_call(Endpoint::Acquire, &error);
                Err(Failed::api(Endpoint::Acquire, &error))
            }
        }
    }

    /// Ends the tries: the report says why; the store too, unless the last
    /// start's fate is unknown (its intent stays for recovery to check).
    async fn give_up_starting(&mut self, failed: &Failed, why: GiveUp) {
        let because = match why {
            GiveUp::TooLate => "less than min_recording of the occurrence is left",
            GiveUp::Final => "Agora refused",
            GiveUp::SidUnknown => "a start took effect under an unknown sid",
        };
        let reason = format!(
            "could not start after {} attempt(s): {because}; last: {}",
            self.state.attempts, failed.reason
        );
        if !failed.ambiguous {
            self.journal_or_report(&Transition::Failed {
                reason: reason.clone(),
            })
            .await;
        }
        self.report.outcome = Some(Outcome::Failed);
        self.emit(Stage::Failed, &reason, None);
    }

    /// Starts on an acquired resource.
    pub(super) async fn start_on(&mut self, resource_id: &str) -> Result<Recording, Failed> {
        // Boxed: thousands of sessions may wait below for their turn to
        // start, and the request inline would double what each waits in.
        let start = match self.current_token() {
            Ok(None) => None,
            Ok(Some(token)) => {
                let mut start = Box::new(self.spec.start.clone());
                start.token = Some(token);
                Some(start)
            }
            Err(error) => return Err(Failed::unminted(&error)),
        };
        self.report.resource_id = Some(resource_id.to_owned());
        self.emit(Stage::Starting, "start", None);
        self.journal_or_report(&Transition::StartIntent {
            resource_id: resource_id.to_owned(),
            uid: self.state.uid.clone(),
        })
        .await;
        let started = self
            .client
            .start(&call::Start {
                mode: self.spec.mode,
                resource_id,
                cname: &self.spec.cname,
                uid: &self.state.uid,
                request: start.as_deref().unwrap_or(&self.spec.start),
            })
            .await;
        match started {
            Ok(
                Started::New(recording)
                | Started::Earlier {
                    recording: Some(recording),
                },
            ) => {
                self.started(&recording).await;
                Ok(recording)
            }
            Ok(Started::Earlier { recording: None }) => {
                // The start took effect but Agora did not say under which
                // sid: nothing can address it. The intent stays in the store
                // as the record of it; Agora ends it after maxIdleTime.
                let reason =
                    "start: an earlier attempt took effect (201, code 7) but its sid is unknown"
                        .to_owned();
                self.report.errors.push(reason.clone());
                Err(Failed {
                    failure: StartFailure::SidUnknown,
                    reason,
                    ambiguous: true,
                })
            }
            // 201 code 7 on a first attempt: the resource is this
            // session's own, so the recording that runs on it is too.
            Err(error) if error.is_already_started() && error.sid().is_some() => {
                let recording = Recording {
                    mode: self.spec.mode,
                    resource_id: resource_id.to_owned(),
                    sid: error.sid().unwrap_or_default().to_owned(),
                    cname: self.spec.cname.clone(),
                    uid: self.state.uid.clone(),
                };
                tracing::warn!(cname = %self.spec.cname, sid = %recording.sid, "start answered already started: taking the running recording");
                self.started(&recording).await;
                Ok(recording)
            }
            Err(error) => {
                self.fail_call(Endpoint::Start, &error);
                Err(Failed::api(Endpoint::Start, &error))
            }
        }
    }

    pub(super) async fn started(&mut self, recording: &Recording) {
        self.journal_or_report(&Transition::Started {
            recording: recording.clone(),
        })
        .await;
        self.report.resource_id = Some(recording.resource_id.clone());
        self.report.sid = Some(recording.sid.clone());
        self.state.confirmed = false;
        // The first recording's lateness, when a start had to be tried
        // again or began after the occurrence's start.
        if self.report.late_start_ms.is_none() && self.state.restarts == 0 {
            let late = Instant::now().saturating_duration_since(self.window.start);
            if late >= std::time::Duration::from_secs(1) {
                self.report.late_start_ms =
                    Some(u64::try_from(late.as_millis()).unwrap_or(u64::MAX));
            }
        }
        self.emit(
            Stage::Confirming,
            &format!("started, sid {}", recording.sid),
            Some(recording),
        );
    }

    /// The plan's acquire body, keeping this session away from the
    /// resources of recordings that died, and carrying the minted token in
    /// `startParameter`, which must agree with the start body.
    fn acquire_request(&self) -> AcquireClientRequest {
        let mut acquire = self.spec.acquire.clone();
        if let (Some(parameter), Some((_, token))) =
            (acquire.start_parameter.as_mut(), self.state.minted.as_ref())
        {
            parameter.token = Some(token.clone());
        }
        if !self.state.excluded.is_empty() {
            let mut excluded = acquire.exclude_resource_ids.take().unwrap_or_default();
            excluded.extend(self.state.excluded.iter().cloned());
            acquire.exclude_resource_ids = Some(excluded);
        }
        acquire
    }

    /// Mints a token for the current uid when the plan asks for minted
    /// tokens, for this recording's acquire and start. Issued now, so that
    /// its lifetime, which covers a whole occurrence, runs from this start.
    fn mint_token(&mut self) -> Result<(), TokenError> {
        self.state.minted = match &self.spec.rtc_token {
            Some(minting) => {
                let now = self.journal.now();
                let token =
                    minting.mint_at(&self.spec.app_id, &self.spec.cname, &self.state.uid, now)?;
                Some((self.state.uid.clone(), token))
            }
            None => None,
        };
        Ok(())
    }

    /// The token for the start about to be sent: the one minted for this
    /// recording, or a new one for a start asked again after a restart of
    /// recplan (which minted none yet) or under another uid.
    fn current_token(&mut self) -> Result<Option<Secret>, TokenError> {
        let stale = self
            .state
            .minted
            .as_ref()
            .is_none_or(|(uid, _)| *uid != self.state.uid);
        if self.spec.rtc_token.is_some() && stale {
            self.mint_token()?;
        }
        Ok(self.state.minted.as_ref().map(|(_, token)| token.clone()))
    }
}
