//! Stop signals for the sessions this process drives, one per session:
//! the control API stops one recording without touching the others of its
//! occurrence.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use crate::store::SessionId;

/// The stop signal of every session this process drives, by id. Cloning is
/// cheap: clones share the signals.
#[derive(Clone, Debug, Default)]
pub struct Stops {
    senders: Arc<Mutex<HashMap<SessionId, watch::Sender<bool>>>>,
}

impl Stops {
    /// A stop signal for session `id` that also follows its occurrence's
    /// `shutdown`. Signals of sessions that ended are dropped here.
    pub(super) fn register(
        &self,
        id: SessionId,
        shutdown: &watch::Receiver<bool>,
    ) -> watch::Receiver<bool> {
        let (sender, receiver) = watch::channel(*shutdown.borrow());
        let mut shutdown = shutdown.clone();
        let forward = sender.clone();
        tokio::spawn(async move {
            tokio::select! {
                stopped = async { shutdown.wait_for(|stop| *stop).await.is_ok() } => {
                    if stopped {
                        let _ = forward.send(true);
                    }
                }
                () = forward.closed() => {}
            }
        });
        let mut senders = self.lock();
        senders.retain(|_, sender| !sender.is_closed());
        senders.insert(id, sender);
        receiver
    }

    /// Tells session `id` to stop its recording. False when this process
    /// does not drive it (any more).
    pub fn stop(&self, id: SessionId) -> bool {
        self.lock()
            .get(&id)
            .is_some_and(|sender| sender.send(true).is_ok())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, watch::Sender<bool>>> {
        // A map of senders cannot be left half-changed.
        self.senders.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_session_stops_alone_and_every_session_follows_its_occurrence() {
        let stops = Stops::default();
        let (occurrence, shutdown) = watch::channel(false);
        let first = stops.register(SessionId(1), &shutdown);
        let mut second = stops.register(SessionId(2), &shutdown);
        assert!(stops.stop(SessionId(1)));
        assert!(*first.borrow());
        assert!(!*second.borrow());
        occurrence.send(true).unwrap();
        second.wait_for(|stop| *stop).await.unwrap();
        drop(first);
        assert!(!stops.stop(SessionId(1)), "its session is gone");
        assert!(!stops.stop(SessionId(3)));
    }
}
