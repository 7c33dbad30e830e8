//! The client sessions use: [`Client`]'s calls, paced by a shared
//! [`RateLimiter`] and repeated by error class per Agora's retry policy
//! (§9.3). Each call retries on its own, with the same parameters; what to
//! do once retries are used up (a new acquire and start, a new uid) is the
//! session's decision, so the final error is returned as it came.
//!
//! Two answers need the session's judgement rather than a retry, and get
//! their own shape here: a start that Agora calls "already started" after a
//! lost answer ([`Started::Earlier`]), and a task that Agora cannot find,
//! which may be failing over ([`ResilientClient::confirm_gone`]).

mod domains;
mod policy;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::sleep;

pub use domains::{Area, base_index, domain_candidates, transport_bases};
pub use policy::{ErrorClass, RetryPolicy};
pub use stats::{CallCount, RetryCount};

use super::call::{self, Call};
use super::ratelimit::{Priority, RateLimiter};
use super::response::QueryResponse;
use super::{ApiBase, ApiError, Client, Endpoint, Recording};
use stats::RetryStats;

/// What a start came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Started {
    /// Agora answered this call with the recording's sid.
    New(Recording),
    /// A repeated start was refused with 201 code 7 "already started": an
    /// earlier attempt of this same call, whose answer was lost, took
    /// effect. The recording runs; starting it again would only fail.
    /// `recording` is there when the 201 body carried the sid (UNCONFIRMED
    /// that Agora's does; without it the recording cannot be addressed and
    /// ends by itself after `maxIdleTime`).
    Earlier { recording: Option<Recording> },
}

impl Started {
    /// The recording, when its sid is known.
    pub fn recording(&self) -> Option<&Recording> {
        match self {
            Started::New(recording) => Some(recording),
            Started::Earlier { recording } => recording.as_ref(),
        }
    }
}

/// What [`ResilientClient::confirm_gone`] found.
#[derive(Clone, Debug, PartialEq)]
pub enum Presence {
    /// Query answered again: the task came back from a failover (or an
    /// exiting task still answers; its status tells).
    Back(Box<QueryResponse>),
    /// Every query through the failover window answered 404 "failed to find
    /// worker": the task is gone.
    Gone,
}

/// Agora's calls with pacing and retries. Cloning is cheap: clones share
/// the connection pool, the limiter and the counts.
#[derive(Clone, Debug)]
pub struct ResilientClient {
    /// One client per base to try (see [`domain_candidates`]); the first is
    /// the configured one.
    clients: Arc<[Client]>,
    limiter: RateLimiter,
    policy: Arc<RetryPolicy>,
    stats: RetryStats,
}

/// A call's result and whether an earlier attempt of it may have taken
/// effect at Agora.
struct Attempted<T> {
    result: Result<T, ApiError>,
    maybe_took_effect: bool,
}

/// Retries used so far by one call, per class.
#[derive(Default)]
struct Tally {
    rate_limited: u32,
    transport: usize,
    not_completed: usize,
    server_error: usize,
}

impl ResilientClient {
    /// Wraps `client`; `limiter` should be the process's one, shared by
    /// every client, since Agora's quota is per App ID.
    pub fn new(client: Client, limiter: RateLimiter, policy: RetryPolicy) -> ResilientClient {
        let bases = domain_candidates(&client.config().base, policy.area);
        let fallbacks: Vec<Client> = bases
            .into_iter()
            .skip(1)
            .map(|base| client.with_base(base))
            .collect();
        ResilientClient {
            clients: std::iter::once(client).chain(fallbacks).collect(),
            limiter,
            policy: Arc::new(policy),
            stats: RetryStats::default(),
        }
    }

    /// The same client for another App ID, sharing the limiter (which keeps
    /// one window per App ID) and the counts.
    #[must_use]
    pub fn with_app_id(&self, app_id: impl Into<String>) -> ResilientClient {
        let app_id = app_id.into();
        // Most sessions use the configured App ID: they share its clients
        // rather than each holding copies of every base's configuration.
        if app_id == self.app_id() {
            return self.clone();
        }
        ResilientClient {
            clients: self
                .clients
                .iter()
                .map(|client| client.with_app_id(app_id.as_str()))
                .collect(),
            ..self.clone()
        }
    }

    /// The client for the configured base.
    pub fn client(&self) -> &Client {
        &self.clients[0]
    }

    /// The bases calls may go to, the configured one first: just that one
    /// unless it is one of Agora's own domains.
    pub fn bases(&self) -> impl Iterator<Item = &ApiBase> {
        self.clients.iter().map(|client| &client.config().base)
    }

    /// The shared limiter, for its wait counts.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Retries so far, by endpoint, class and status.
    pub fn retry_counts(&self) -> Vec<RetryCount> {
        self.stats.snapshot()
    }

    /// Every attempt's answer so far, by endpoint and HTTP status.
    pub fn call_counts(&self) -> Vec<CallCount> {
        self.stats.calls()
    }

    /// Sends `call`, retried with the same parameters. A query's 404 is
    /// returned at once: see [`confirm_gone`](Self::confirm_gone). A stop
    /// repeated after a lost answer may meet 400 code 49 (already exiting)
    /// or 404: the earlier stop took effect, and the session treats both
    /// as stopped. Updates set state, and each updateLayout replaces the
    /// whole layout, so repeating them is harmless.
    pub async fn send<C: Call + ?Sized>(&self, call: &C) -> Result<C::Answer, ApiError> {
        Box::pin(self.call(call)).await.result
    }

    /// A start, retried on the same resource. A 201 code 7 on a repetition
    /// is [`Started::Earlier`]; on the first attempt it is an error
    /// (someone else used the resource).
    pub async fn start(&self, start: &call::Start<'_>) -> Result<Started, ApiError> {
        let attempted = Box::pin(self.call(start)).await;
        match attempted.result {
            Ok(answer) => Ok(Started::New(start.recording(&answer.sid))),
            Err(error) if error.is_already_started() && attempted.maybe_took_effect => {
                let recording = error.sid().map(|sid| start.recording(sid));
                tracing::warn!(
                    cname = start.cname,
                    uid = start.uid,
                    sid = error.sid(),
                    "start repeated after a lost answer: Agora says already started, \
                     so the earlier attempt took effect"
                );
                Ok(Started::Earlier { recording })
            }
            Err(error) => Err(error),
        }
    }

    /// After a 404 "failed to find worker", queries the task again on
    /// [`RetryPolicy::gone_schedule`] (5, 10, 15 s, then every 15 s up to
    /// 90 s: a failover moves a task within that) until it answers. Another
    /// error ends the checks and is returned.
    pub async fn confirm_gone(&self, recording: &Recording) -> Result<Presence, ApiError> {
        for (check, delay) in self.policy.gone_schedule().into_iter().enumerate() {
            tracing::info!(
                sid = %recording.sid,
                check = check + 1,
                delay_ms = delay.as_millis(),
                "Agora cannot find the recording's worker; querying again in case it is failing over"
            );
            self.stats
                .retried(Endpoint::Query, ErrorClass::WorkerNotFound, Some(404));
            sleep(delay).await;
            match self.send(&call::Query(recording)).await {
                Ok(response) => return Ok(Presence::Back(Box::new(response))),
                Err(error) if error.is_not_found_worker() => {}
                Err(error) => return Err(error),
            }
        }
        Ok(Presence::Gone)
    }

    fn app_id(&self) -> &str {
        &self.client().config().app_id
    }

    /// Sends `call` until it succeeds, fails for good, or the error's class
    /// has no retry left; every attempt waits for a slot.
    ///
    /// Callers box its future (~1.5 KB with the request's): a session makes
    /// one call at a time and sleeps between, and would otherwise keep room
    /// for its largest call all its life, ~10 MB in a daemon with 10,000
    /// recordings at once.
    async fn call<C: Call + ?Sized>(&self, call: &C) -> Attempted<C::Answer> {
        let endpoint = call.endpoint();
        let priority = Priority::of(endpoint);
        let mut tally = Tally::default();
        let mut host = 0;
        let mut maybe_took_effect = false;
        let mut attempt: u32 = 0;
        loop {
            // Bounded by the policy's retries; saturating only to need no
            // overflow reasoning.
            attempt = attempt.saturating_add(1);
            self.limiter.until_ready(self.app_id(), priority).await;
            let error = match self.clients[host].send(call).await {
                Ok(value) => {
                    self.stats.answered(endpoint, Some(200));
                    return Attempted {
                        result: Ok(value),
                        maybe_took_effect,
                    };
                }
                Err(error) => error,
            };
            self.stats.answered(endpoint, error.status());
            let class = ErrorClass::of(&error);
            let Some(delay) = self.next_delay(endpoint, class, &error, &mut tally) else {
                if !matches!(
                    class,
                    ErrorClass::Final | ErrorClass::WorkerNotFound | ErrorClass::NoWorker
                ) {
                    self.stats.exhausted(endpoint, class, error.status());
                }
                return Attempted {
                    result: Err(error),
                    maybe_took_effect,
                };
            };
            // A 429 is refused at Agora's gateway: it never reaches the
            // service. Anything else may have.
            maybe_took_effect |= class != ErrorClass::RateLimited;
            if class == ErrorClass::Transport {
                host = base_index(tally.transport, self.clients.len());
            }
            tracing::warn!(
                %endpoint,
                attempt,
                class = class.name(),
                status = error.status(),
                code = error.code(),
                delay_ms = delay.as_millis(),
                base = %self.clients[host].config().base,
                %error,
                "retrying Agora call"
            );
            self.stats.retried(endpoint, class, error.status());
            // A 429's wait is the limiter's pause, shared by every call.
            if class != ErrorClass::RateLimited {
                sleep(delay).await;
            }
        }
    }

    /// The wait before repeating a call that failed with `error`, counting
    /// the retry; `None` when it is not to be repeated.
    fn next_delay(
        &self,
        endpoint: Endpoint,
        class: ErrorClass,
        error: &ApiError,
        tally: &mut Tally,
    ) -> Option<Duration> {
        let used = match class {
            ErrorClass::RateLimited => {
                if tally.rate_limited >= self.policy.max_rate_limited {
                    return None;
                }
                tally.rate_limited += 1;
                return Some(self.limiter.pause(self.app_id(), error.retry_after()));
            }
            ErrorClass::Transport => &mut tally.transport,
            ErrorClass::NotCompleted => &mut tally.not_completed,
            ErrorClass::ServerError => &mut tally.server_error,
            ErrorClass::NoWorker | ErrorClass::WorkerNotFound | ErrorClass::Final => return None,
        };
        let delay = *self.policy.delays(endpoint, class).get(*used)?;
        *used += 1;
        Some(self.policy.jittered(delay))
    }
}
