//! Counts of retries, per endpoint, error class and HTTP status, kept for
//! metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::policy::ErrorClass;
use crate::agora::Endpoint;

/// Retries of one kind so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryCount {
    pub endpoint: Endpoint,
    pub class: ErrorClass,
    /// The HTTP status that caused them; `None` when no answer came.
    pub status: Option<u16>,
    /// Calls repeated after this error.
    pub retries: u64,
    /// Calls that ended with this error after using up their retries.
    pub exhausted: u64,
}

type Key = (Endpoint, ErrorClass, Option<u16>);

/// Attempts by endpoint and HTTP status (`None`: no answer).
type CallKey = (Endpoint, Option<u16>);

/// Answers of one kind so far: every attempt, retried or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallCount {
    pub endpoint: Endpoint,
    /// The HTTP status; `None` when no answer came (connect, timeout).
    pub status: Option<u16>,
    pub calls: u64,
}

/// Shared by every clone of a client.
#[derive(Clone, Debug, Default)]
pub(super) struct RetryStats {
    counts: Arc<Mutex<HashMap<Key, (u64, u64)>>>,
    calls: Arc<Mutex<HashMap<CallKey, u64>>>,
}

impl RetryStats {
    pub(super) fn retried(&self, endpoint: Endpoint, class: ErrorClass, status: Option<u16>) {
        self.update((endpoint, class, status), |(retries, _)| *retries += 1);
    }

    pub(super) fn exhausted(&self, endpoint: Endpoint, class: ErrorClass, status: Option<u16>) {
        self.update((endpoint, class, status), |(_, exhausted)| *exhausted += 1);
    }

    /// Counts one attempt's answer.
    pub(super) fn answered(&self, endpoint: Endpoint, status: Option<u16>) {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        *calls.entry((endpoint, status)).or_default() += 1;
    }

    /// Every attempt so far, ordered by endpoint name and status.
    pub(super) fn calls(&self) -> Vec<CallCount> {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<CallCount> = calls
            .iter()
            .map(|(&(endpoint, status), &calls)| CallCount {
                endpoint,
                status,
                calls,
            })
            .collect();
        all.sort_by_key(|count| (count.endpoint.name(), count.status));
        all
    }

    fn update(&self, key: Key, change: impl FnOnce(&mut (u64, u64))) {
        // A counter cannot be left half-updated: poisoning is ignored.
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        change(counts.entry(key).or_default());
    }

    /// Every count, ordered by endpoint name, class and status.
    pub(super) fn snapshot(&self) -> Vec<RetryCount> {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<RetryCount> = counts
            .iter()
            .map(
                |(&(endpoint, class, status), &(retries, exhausted))| RetryCount {
                    endpoint,
                    class,
                    status,
                    retries,
                    exhausted,
                },
            )
            .collect();
        all.sort_by_key(|count| (count.endpoint.name(), count.class, count.status));
        all
    }
}
