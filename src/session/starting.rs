//! Getting a recording going: acquire, then start at once (a resource ID
//! lives five minutes), each written to the store before and after. When
//! the plan has recplan mint the RTC token, each recording gets one here,
//! for the uid it starts with: a restart joins with another uid, and a
//! token names its uid.

use super::report::Phase;
use super::runner::Session;
use crate::agora::request::AcquireClientRequest;
use crate::agora::{ApiError, Endpoint, Recording, Secret, Started};
use crate::store::Transition;
use crate::token::TokenError;

/// Why a start gave no recording to drive.
pub(super) enum StartFailure {
    /// Agora refused, or did not answer.
    Refused(ApiError),
    /// A start took effect, but its sid is unknown.
    SidUnknown,
    /// No start was sent: the token could not be minted.
    Unminted(TokenError),
}

/// Fresh acquire + start pairs tried before giving up: Agora's advice for
/// a start that keeps failing on the server side is a new resource.
const START_ATTEMPTS: usize = 2;

impl Session {
    /// Acquires and starts a recording with the current uid. `None` when
    /// Agora refused (the reason is in the report and the store) or did not
    /// answer (the start intent stays in the store for recovery).
    ///
    /// Callers box its future: it runs once or twice in a session's life,
    /// and unboxed it would size the task the session sleeps in.
    pub(super) async fn start_recording(&mut self) -> Option<Recording> {
        for attempt in 1..=START_ATTEMPTS {
            self.emit(Phase::Acquiring, "acquire", None);
            // Minted before anything is sent, so that a token that cannot
            // be made costs no resource.
            if let Err(error) = self.mint_token() {
                self.cannot_mint(&error).await;
                return None;
            }
            self.journal_or_report(&Transition::AcquireIntent {
                uid: self.uid.clone(),
            })
            .await;
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
                    })
                    .await;
                    return None;
                }
            };
            self.journal_or_report(&Transition::Acquired {
                resource_id: acquired.resource_id.clone(),
            })
            .await;
            match self.start_on(&acquired.resource_id).await {
                Ok(recording) => return Some(recording),
                Err(StartFailure::SidUnknown) => return None,
                Err(StartFailure::Unminted(error)) => {
                    self.cannot_mint(&error).await;
                    return None;
                }
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
                        })
                        .await;
                    }
                    return None;
                }
            }
        }
        None
    }

    /// Starts on an acquired resource.
    pub(super) async fn start_on(&mut self, resource_id: &str) -> Result<Recording, StartFailure> {
        // Boxed: thousands of sessions may wait below for their turn to
        // start, and the request inline would double what each waits in.
        let start = match self.current_token() {
            Ok(None) => None,
            Ok(Some(token)) => {
                let mut start = Box::new(self.spec.start.clone());
                start.token = Some(token);
                Some(start)
            }
            Err(error) => return Err(StartFailure::Unminted(error)),
        };
        self.report.resource_id = Some(resource_id.to_owned());
        self.emit(Phase::Starting, "start", None);
        self.journal_or_report(&Transition::StartIntent {
            resource_id: resource_id.to_owned(),
            uid: self.uid.clone(),
        })
        .await;
        let started = self
            .client
            .start(
                self.spec.mode,
                resource_id,
                &self.spec.cname,
                &self.uid,
                start.as_deref().unwrap_or(&self.spec.start),
            )
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

    pub(super) async fn started(&mut self, recording: &Recording) {
        self.journal_or_report(&Transition::Started {
            recording: recording.clone(),
        })
        .await;
        self.report.resource_id = Some(recording.resource_id.clone());
        self.report.sid = Some(recording.sid.clone());
        self.emit(
            Phase::Confirming,
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
            (acquire.start_parameter.as_mut(), self.minted.as_ref())
        {
            parameter.token = Some(token.clone());
        }
        if !self.excluded.is_empty() {
            let mut excluded = acquire.exclude_resource_ids.take().unwrap_or_default();
            excluded.extend(self.excluded.iter().cloned());
            acquire.exclude_resource_ids = Some(excluded);
        }
        acquire
    }

    /// Mints a token for the current uid when the plan asks for minted
    /// tokens, for this recording's acquire and start. Issued now, so that
    /// its lifetime, which covers a whole occurrence, runs from this start.
    fn mint_token(&mut self) -> Result<(), TokenError> {
        self.minted = match &self.spec.rtc_token {
            Some(minting) => {
                let now = self.journal.now();
                let token = minting.mint_at(&self.spec.app_id, &self.spec.cname, &self.uid, now)?;
                Some((self.uid.clone(), token))
            }
            None => None,
        };
        Ok(())
    }

    /// The token for the start about to be sent: the one minted for this
    /// recording, or a new one for a start asked again after a restart of
    /// recplan (which minted none yet) or under another uid.
    fn current_token(&mut self) -> Result<Option<Secret>, TokenError> {
        let stale = self.minted.as_ref().is_none_or(|(uid, _)| *uid != self.uid);
        if self.spec.rtc_token.is_some() && stale {
            self.mint_token()?;
        }
        Ok(self.minted.as_ref().map(|(_, token)| token.clone()))
    }

    /// Ends a start for want of a token; nothing was sent for it.
    async fn cannot_mint(&mut self, error: &TokenError) {
        let reason = format!("start: cannot mint the RTC token: {error}");
        self.report.errors.push(reason.clone());
        self.journal_or_report(&Transition::Failed { reason }).await;
    }
}
