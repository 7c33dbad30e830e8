//! Which failures are worth repeating, and how long to wait before each
//! repetition: the retry policy of Agora's best practices (§9.3), as data.

use std::iter;
use std::time::Duration;

use rand::Rng as _;

use super::domains::Area;
use crate::agora::{ApiError, Endpoint};

/// What a failed call's error means for repeating it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    /// 429: over the quota. Wait and repeat; not a failure of the call.
    RateLimited,
    /// No answer (connect, timeout, broken connection): the request may or
    /// may not have reached Agora.
    Transport,
    /// 206 code 65: the request reached Agora, its answer timed out.
    NotCompleted,
    /// 500 code 502 "Failed to allocate worker" on start: this resource
    /// got no worker. Agora's error table says acquire again and start;
    /// the same start on the same resource cannot help.
    NoWorker,
    /// 5xx, e.g. 500 code 62 on start, 504 code 62 elsewhere.
    ServerError,
    /// 404 "failed to find worker": gone, or failing over. Repeating blindly
    /// cannot tell which; see `ResilientClient::confirm_gone`.
    WorkerNotFound,
    /// Anything else (4xx, 201 code 7, 206 code 435, a bad 200 body):
    /// repeating the same request cannot help.
    Final,
}

impl ErrorClass {
    /// The class of `error`.
    pub fn of(error: &ApiError) -> ErrorClass {
        if error.is_rate_limited() {
            ErrorClass::RateLimited
        } else if error.is_transport() {
            ErrorClass::Transport
        } else if error.is_request_not_completed() {
            ErrorClass::NotCompleted
        } else if error.status() == Some(500) && error.code() == Some(502) {
            ErrorClass::NoWorker
        } else if error
            .status()
            .is_some_and(|status| (500..600).contains(&status))
        {
            ErrorClass::ServerError
        } else if error.is_not_found_worker() {
            ErrorClass::WorkerNotFound
        } else {
            ErrorClass::Final
        }
    }

    /// A short label for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Transport => "transport",
            ErrorClass::NotCompleted => "not_completed",
            ErrorClass::NoWorker => "no_worker",
            ErrorClass::ServerError => "server_error",
            ErrorClass::WorkerNotFound => "worker_not_found",
            ErrorClass::Final => "final",
        }
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The delays before each retry, per error class. Each class has its own
/// count: a call that times out once and then gets 206 code 65 is on its
/// first retry of each. The defaults are Agora's (§9.3); tests shorten them
/// or leave them to tokio's paused clock.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// No answer: 1, 3, 6 s. The first retry goes to the same domain, the
    /// second to the other global one, the third to a regional one (Agora's
    /// domains only; see `domain_candidates`).
    pub transport: Vec<Duration>,
    /// 206 code 65, on any endpoint: the same request after 3 s, then 6 s.
    pub not_completed: Vec<Duration>,
    /// 5xx on start: the same request after 3, 6, 9 s. Then the session
    /// decides about a new acquire and start.
    pub start_server_error: Vec<Duration>,
    /// 5xx on acquire (500 internal_error, 501 no_worker_manager_available,
    /// 504 allocate_timeout): Agora says only "retry with backoff"; start's
    /// 3, 6, 9 s is used.
    pub acquire_server_error: Vec<Duration>,
    /// 5xx (504 code 62) on query, update, updateLayout and stop: 5, 10, 15,
    /// 30 s.
    pub task_server_error: Vec<Duration>,
    /// `confirm_gone`'s queries after a 404 "failed to find worker": 5, 10,
    /// 15 s, then the last again until `gone_window` has passed.
    pub gone_checks: Vec<Duration>,
    /// How long a failover may hide a task: 90 s, Agora's bound on a
    /// migration.
    pub gone_window: Duration,
    /// 429s one call accepts before giving up (the limiter makes even one
    /// rare; this only bounds a server that keeps refusing).
    pub max_rate_limited: u32,
    /// Each delay is scaled by a random factor in `1 ± jitter` (at most
    /// 0.9), so that sessions failing together do not retry together.
    /// `confirm_gone`'s checks and 429 pauses are not jittered.
    pub jitter: f64,
    /// Where regional fallback domains are taken from; `None` infers it
    /// from the base (see `domain_candidates`).
    pub area: Option<Area>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            transport: seconds(&[1, 3, 6]),
            not_completed: seconds(&[3, 6]),
            start_server_error: seconds(&[3, 6, 9]),
            acquire_server_error: seconds(&[3, 6, 9]),
            task_server_error: seconds(&[5, 10, 15, 30]),
            gone_checks: seconds(&[5, 10, 15]),
            gone_window: Duration::from_secs(90),
            max_rate_limited: 10,
            jitter: 0.2,
            area: None,
        }
    }
}

impl RetryPolicy {
    /// The delays before the retries of a call to `endpoint` that failed
    /// with `class`; empty for the classes never repeated here.
    pub fn delays(&self, endpoint: Endpoint, class: ErrorClass) -> &[Duration] {
        match class {
            ErrorClass::Transport => &self.transport,
            ErrorClass::NotCompleted => &self.not_completed,
            ErrorClass::ServerError => match endpoint {
                Endpoint::Acquire => &self.acquire_server_error,
                Endpoint::Start => &self.start_server_error,
                Endpoint::Query | Endpoint::Update | Endpoint::UpdateLayout | Endpoint::Stop => {
                    &self.task_server_error
                }
            },
            ErrorClass::RateLimited
            | ErrorClass::NoWorker
            | ErrorClass::WorkerNotFound
            | ErrorClass::Final => &[],
        }
    }

    /// The waits before each of `confirm_gone`'s queries: `gone_checks`,
    /// then its last again, until they add up to `gone_window`.
    pub fn gone_schedule(&self) -> Vec<Duration> {
        let Some(last) = self.gone_checks.last().copied().filter(|d| !d.is_zero()) else {
            return self.gone_checks.clone();
        };
        let mut schedule = Vec::new();
        let mut total = Duration::ZERO;
        for delay in self.gone_checks.iter().copied().chain(iter::repeat(last)) {
            if total >= self.gone_window {
                break;
            }
            schedule.push(delay);
            total += delay;
        }
        schedule
    }

    /// `delay` scaled by a random factor in `1 ± jitter`.
    pub fn jittered(&self, delay: Duration) -> Duration {
        if self.jitter.is_nan() || self.jitter <= 0.0 {
            return delay;
        }
        let jitter = self.jitter.min(0.9);
        delay.mul_f64(rand::rng().random_range(1.0 - jitter..=1.0 + jitter))
    }
}

fn seconds(values: &[u64]) -> Vec<Duration> {
    values.iter().copied().map(Duration::from_secs).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_wait_by_endpoint() {
        let policy = RetryPolicy::default();
        let delays = |endpoint| policy.delays(endpoint, ErrorClass::ServerError);
        assert_eq!(delays(Endpoint::Start), seconds(&[3, 6, 9]));
        assert_eq!(delays(Endpoint::Stop), seconds(&[5, 10, 15, 30]));
        assert_eq!(delays(Endpoint::UpdateLayout), seconds(&[5, 10, 15, 30]));
        assert!(
            policy
                .delays(Endpoint::Query, ErrorClass::WorkerNotFound)
                .is_empty()
        );
        assert!(
            policy
                .delays(Endpoint::Start, ErrorClass::NoWorker)
                .is_empty()
        );
    }

    #[test]
    fn failed_to_allocate_worker_is_its_own_class() {
        let error = |status, body: &str| {
            ErrorClass::of(&ApiError::rejected(
                Endpoint::Start,
                status,
                None,
                body.as_bytes(),
            ))
        };
        let cases = [
            (
                500,
                r#"{"code":502,"reason":"Failed to allocate worker"}"#,
                ErrorClass::NoWorker,
            ),
            (
                500,
                r#"{"code":62,"reason":"request timeout"}"#,
                ErrorClass::ServerError,
            ),
            (504, r#"{"code":502}"#, ErrorClass::ServerError),
            (
                206,
                r#"{"code":65,"reason":"request not completed"}"#,
                ErrorClass::NotCompleted,
            ),
            (
                429,
                r#"{"message":"API rate limit exceeded"}"#,
                ErrorClass::RateLimited,
            ),
            (
                201,
                r#"{"code":7,"reason":"already started"}"#,
                ErrorClass::Final,
            ),
        ];
        for (status, body, expected) in cases {
            assert_eq!(error(status, body), expected, "{status} {body}");
        }
    }

    #[test]
    fn gone_checks_cover_the_failover_window() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.gone_schedule(),
            seconds(&[5, 10, 15, 15, 15, 15, 15])
        );
        let short = RetryPolicy {
            gone_window: Duration::from_secs(20),
            ..RetryPolicy::default()
        };
        assert_eq!(short.gone_schedule(), seconds(&[5, 10, 15]));
        let none = RetryPolicy {
            gone_checks: Vec::new(),
            ..RetryPolicy::default()
        };
        assert!(none.gone_schedule().is_empty());
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let policy = RetryPolicy::default();
        for _ in 0..1000 {
            let delay = policy.jittered(Duration::from_secs(10));
            assert!(delay >= Duration::from_secs(8) && delay <= Duration::from_secs(12));
        }
        let exact = RetryPolicy {
            jitter: f64::NAN,
            ..RetryPolicy::default()
        };
        assert_eq!(
            exact.jittered(Duration::from_secs(3)),
            Duration::from_secs(3)
        );
    }
}
