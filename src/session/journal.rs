//! Writing a session's transitions to the state store: the intent before
//! each call, the result after it.

use crate::clock::Clock;
use crate::store::{SessionId, Store, StoredSession, Transition};

/// One session's entries in the store.
#[derive(Clone, Debug)]
pub struct Journal {
    store: Store,
    id: SessionId,
    clock: Clock,
}

impl Journal {
    pub fn new(store: Store, id: SessionId, clock: Clock) -> Journal {
        Journal { store, id, clock }
    }

    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The wall time entries are stamped with, which also dates a minted
    /// token: tests drive it with tokio's paused clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Records `transition`, and returns once it is durable. Sessions that
    /// record at the same moment share one commit ([`Store::record_queued`]),
    /// and none blocks a thread of the runtime while the disk is written.
    /// A failure is logged and returned as text for the report: the
    /// recording matters more than its bookkeeping, so the session carries
    /// on (and still stops what it started).
    pub async fn record(&self, transition: &Transition) -> Result<StoredSession, String> {
        self.store
            .record_queued(self.id, self.clock.now(), transition)
            .await
            .map_err(|error| {
                tracing::error!(session = %self.id, transition = transition.kind(), %error, "cannot write the state store");
                format!("state store: {error}")
            })
    }
}
