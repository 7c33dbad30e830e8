//! Faults a test injects: each imitates a failure Agora documents, and applies
//! to the next request it fits (a failover, to a window of time).

use std::time::Duration;

use axum::http::StatusCode;
use tokio::time::Instant;

pub use crate::agora::Endpoint;

use super::reply::Reply;
use super::state::later;

/// A failure to imitate. Unless said otherwise a fault is used up by the
/// first request it applies to, once that request has passed authentication
/// and its own checks, and the failing request changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// start: 500 `{"code":502,"reason":"Failed to allocate worker"}`; the
    /// resource stays unused, so the same start may be retried.
    AllocateWorkerFailed,
    /// 500 `{"code":62,"reason":"request timeout"}` on start, 504 with the
    /// same body on query/update/updateLayout/stop, 500
    /// `{"code":504,"reason":"allocate_timeout"}` on acquire.
    RequestTimeout(Endpoint),
    /// 206 `{"code":65,"reason":"request not completed"}`: the backend timed
    /// out; the same request may be retried.
    RequestNotCompleted(Endpoint),
    /// start takes effect but answers 201 `{"code":7,"reason":"already
    /// started"}`, as when an earlier start had already succeeded.
    AlreadyStarted,
    /// stop ends the task but answers 206 `{"code":435,"reason":"no recorded
    /// data"}`.
    NoRecordedData,
    /// 429 `{"message":"API rate limit exceeded"}` whatever the rate.
    RateLimited,
    /// The next request to `endpoint` is answered `delay` late.
    Latency { endpoint: Endpoint, delay: Duration },
    /// The next recording started dies `after` its start: query shows status
    /// 20 during its exiting window, then every call answers 404.
    RecordingDies { after: Duration },
    /// Nobody is in the channel of the next recording started: it reaches
    /// status 4 but records nothing, stops by itself after `maxIdleTime`, and
    /// a stop before that answers 206 code 435.
    NobodyJoined,
    /// High-availability failover: from injection and for `duration`, query,
    /// update, updateLayout and stop answer 404 "failed to find worker" for
    /// every task; then the tasks are back, still recording.
    Failover { duration: Duration },
    /// An outage of Agora's service: from injection and for `duration`,
    /// every request that passes the gateway is answered 503
    /// `{"message":"Service Unavailable"}` and changes nothing.
    Outage { duration: Duration },
    /// Agora out of reach: from injection and for `duration`, nothing
    /// listens on the simulator's port, so connecting is refused, and a
    /// connection already open is reset at its next request. No request
    /// reaches the service; then the port listens again.
    Unreachable { duration: Duration },
    /// The next recording started never gets past status 3: it runs (and
    /// bills) but never reaches "all components ready".
    StuckStarting,
    /// The next successful answer to `endpoint` (query or stop) carries
    /// fields of the wrong type beside the right ones: `isPlayable` as a
    /// string, `sliceStartTime` as a word, a file entry that is a number.
    Malformed(Endpoint),
}

/// The faults waiting for a request.
#[derive(Debug, Default)]
pub(super) struct FaultQueue {
    queue: Vec<Fault>,
    failover_until: Option<Instant>,
    outage_until: Option<Instant>,
    unreachable_until: Option<Instant>,
}

impl FaultQueue {
    pub(super) fn push(&mut self, fault: Fault, now: Instant) {
        match fault {
            Fault::Failover { duration } => {
                let until = later(now, duration);
                self.failover_until = Some(self.failover_until.map_or(until, |u| u.max(until)));
            }
            Fault::Outage { duration } => {
                let until = later(now, duration);
                self.outage_until = Some(self.outage_until.map_or(until, |u| u.max(until)));
            }
            Fault::Unreachable { duration } => {
                let until = later(now, duration);
                self.unreachable_until =
                    Some(self.unreachable_until.map_or(until, |u| u.max(until)));
            }
            other => self.queue.push(other),
        }
    }

    pub(super) fn pending(&self) -> Vec<Fault> {
        self.queue.clone()
    }

    /// Removes and returns the first queued fault that `fits`.
    pub(super) fn take(&mut self, fits: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let index = self.queue.iter().position(fits)?;
        Some(self.queue.remove(index))
    }

    pub(super) fn take_rate_limited(&mut self) -> bool {
        self.take(|f| *f == Fault::RateLimited).is_some()
    }

    pub(super) fn take_latency(&mut self, endpoint: Endpoint) -> Option<Duration> {
        match self.take(|f| matches!(f, Fault::Latency { endpoint: e, .. } if *e == endpoint)) {
            Some(Fault::Latency { delay, .. }) => Some(delay),
            _ => None,
        }
    }

    /// The reply of the first fault that makes a call to `endpoint` fail
    /// without effect.
    pub(super) fn take_failure(&mut self, endpoint: Endpoint) -> Option<Reply> {
        let fault = self.take(|f| match f {
            Fault::AllocateWorkerFailed => endpoint == Endpoint::Start,
            Fault::RequestTimeout(e) | Fault::RequestNotCompleted(e) => *e == endpoint,
            _ => false,
        })?;
        Some(match fault {
            Fault::AllocateWorkerFailed => Reply::code(
                StatusCode::INTERNAL_SERVER_ERROR,
                502,
                "Failed to allocate worker",
            ),
            Fault::RequestTimeout(Endpoint::Acquire) => {
                Reply::code(StatusCode::INTERNAL_SERVER_ERROR, 504, "allocate_timeout")
            }
            Fault::RequestTimeout(Endpoint::Start) => {
                Reply::code(StatusCode::INTERNAL_SERVER_ERROR, 62, "request timeout")
            }
            Fault::RequestTimeout(_) => {
                Reply::code(StatusCode::GATEWAY_TIMEOUT, 62, "request timeout")
            }
            _ => Reply::code(StatusCode::PARTIAL_CONTENT, 65, "request not completed"),
        })
    }

    pub(super) fn in_failover(&self, now: Instant) -> bool {
        self.failover_until.is_some_and(|until| now < until)
    }

    pub(super) fn in_outage(&self, now: Instant) -> bool {
        self.outage_until.is_some_and(|until| now < until)
    }

    /// The end of the window of [`Fault::Unreachable`] under way at `now`.
    pub(super) fn unreachable_until(&self, now: Instant) -> Option<Instant> {
        self.unreachable_until.filter(|until| now < *until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_first_fitting_fault_and_leaves_the_rest() {
        let now = Instant::now();
        let mut faults = FaultQueue::default();
        faults.push(Fault::RequestNotCompleted(Endpoint::Query), now);
        faults.push(Fault::AllocateWorkerFailed, now);
        faults.push(Fault::RequestNotCompleted(Endpoint::Stop), now);

        assert!(faults.take_failure(Endpoint::Update).is_none());
        let reply = faults.take_failure(Endpoint::Start);
        assert_eq!(
            reply.map(|r| r.status),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert_eq!(
            faults.pending(),
            vec![
                Fault::RequestNotCompleted(Endpoint::Query),
                Fault::RequestNotCompleted(Endpoint::Stop),
            ]
        );
    }

    #[test]
    fn failover_is_a_window_not_a_queued_fault() {
        let now = Instant::now();
        let mut faults = FaultQueue::default();
        faults.push(
            Fault::Failover {
                duration: Duration::from_secs(30),
            },
            now,
        );
        assert!(faults.pending().is_empty());
        assert!(faults.in_failover(now + Duration::from_secs(29)));
        assert!(!faults.in_failover(now + Duration::from_secs(30)));
    }
}
