//! Group commit. Thousands of sessions may step at the same instant; a
//! transaction each would queue them behind one fsync after another, on
//! one connection. Instead [`Store::record_queued`] hands its transition to
//! a queue and waits for its answer. One flusher at a time, a task of the
//! caller's runtime, takes everything queued, writes it in one transaction
//! with a savepoint per transition (so that one refused by
//! [`super::transition::apply`] fails only its own caller), commits once,
//! and answers each caller; what arrives meanwhile waits for the next
//! round. [`Store::record_batch`] writes a batch directly.

use std::future::Future;
use std::mem;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::{SessionId, Store, StoreError, StoredSession, Transition};

/// A transition of one session at an instant, as [`Store::record_batch`]
/// takes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub id: SessionId,
    pub at: DateTime<Utc>,
    pub transition: Transition,
}

/// What each transition of a batch came to, in order; see
/// [`Store::record_batch`].
pub type Written = Vec<Result<StoredSession, StoreError>>;

/// A change as a backend writes it: with its event's detail as JSON text.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub change: Change,
    pub detail: String,
}

impl Entry {
    pub fn of(change: Change) -> Result<Entry, StoreError> {
        let detail = change.transition.detail()?.to_string();
        Ok(Entry { change, detail })
    }
}

/// The transitions waiting for the flusher, shared by a store's clones.
#[derive(Default)]
pub(super) struct Queue(Mutex<Waiting>);

#[derive(Default)]
struct Waiting {
    queued: Vec<Queued>,
    /// Whether a flusher runs: it takes what is queued until nothing is.
    flushing: bool,
}

struct Queued {
    entry: Entry,
    answer: oneshot::Sender<Result<StoredSession, StoreError>>,
}

impl Queue {
    /// Nothing panics while holding the lock, so a poisoned one is taken
    /// over rather than passed on.
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store {
    /// Records `transition` of session `id` at `at`, as [`Store::record`]
    /// does, together with whatever other transitions are queued with it:
    /// the future answers once the transaction that wrote it has committed
    /// (one fsync for the lot). The transition is queued when this is
    /// called, so calls are written in the order they were made; dropping
    /// the future does not take it back. The future borrows nothing, and
    /// may be spawned; called outside any runtime, the transition is
    /// written once the future is awaited in one.
    ///
    /// A refused transition fails only its own call. If the shared
    /// transaction fails, every call in it fails with
    /// [`StoreError::Batch`], and none of them was written.
    pub fn record_queued(
        &self,
        id: SessionId,
        at: DateTime<Utc>,
        transition: &Transition,
    ) -> impl Future<Output = Result<StoredSession, StoreError>> + Send + use<> {
        let change = Change {
            id,
            at,
            transition: transition.clone(),
        };
        let answered = Entry::of(change).map(|entry| self.queue(entry));
        let store = self.clone();
        async move {
            let answered = answered?;
            // Queued outside any runtime, it is written once awaited in one.
            store.flush_queued();
            answered.await.map_err(|_| StoreError::WriterStopped)?
        }
    }

    /// Records `changes` in one transaction with one commit, each in a
    /// savepoint of its own: each as [`Store::record`] would, in order, a
    /// later one seeing what an earlier one wrote. A change that is refused
    /// or fails is left out and the others are written: the inner results
    /// say which. The outer error means nothing was written.
    pub async fn record_batch(&self, changes: &[Change]) -> Result<Written, StoreError> {
        let entries = changes
            .iter()
            .cloned()
            .map(Entry::of)
            .collect::<Result<Vec<_>, _>>()?;
        self.write_batch(entries).await
    }

    async fn write_batch(&self, entries: Vec<Entry>) -> Result<Written, StoreError> {
        let written = on_database!(self, |db| super::queries::record_batch(db, &entries))?;
        self.committed();
        Ok(written)
    }

    /// Queues `entry`, starting a flusher unless one runs, and returns
    /// where its answer will come.
    fn queue(&self, entry: Entry) -> oneshot::Receiver<Result<StoredSession, StoreError>> {
        let (answer, answered) = oneshot::channel();
        self.queue.lock().queued.push(Queued { entry, answer });
        self.flush_queued();
        answered
    }

    /// Starts a flusher, a task of the current runtime, if transitions
    /// wait and none runs. Outside any runtime there is nothing to run it
    /// on: what was queued waits for the next call made in one.
    fn flush_queued(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let start = {
            let mut waiting = self.queue.lock();
            !waiting.queued.is_empty() && !mem::replace(&mut waiting.flushing, true)
        };
        if start {
            let flusher = Flusher {
                store: self.clone(),
                done: false,
            };
            // Its writes go where every call's do: SQLite's to the
            // blocking pool, PostgreSQL's to this runtime's connection.
            drop(runtime.spawn(flusher.run()));
        }
    }

    /// Writes one round of queued transitions and answers their callers.
    async fn flush(&self, batch: Vec<Queued>) {
        let (entries, answers): (Vec<Entry>, Vec<_>) = batch
            .into_iter()
            .map(|queued| (queued.entry, queued.answer))
            .unzip();
        // A caller that stopped waiting is no reason to stop: its
        // transition is written all the same.
        match self.write_batch(entries).await {
            Ok(written) => {
                for (answer, result) in answers.into_iter().zip(written) {
                    let _ = answer.send(result);
                }
            }
            Err(error) => match <[_; 1]>::try_from(answers) {
                // Alone in its round, a caller gets the error itself.
                Ok([answer]) => {
                    let _ = answer.send(Err(error));
                }
                Err(answers) => {
                    let error = Arc::new(error);
                    for answer in answers {
                        let _ = answer.send(Err(StoreError::Batch(Arc::clone(&error))));
                    }
                }
            },
        }
    }
}

/// The one flusher of a store's queue while it runs.
struct Flusher {
    store: Store,
    /// Set once it has handed the queue back empty.
    done: bool,
}

impl Flusher {
    async fn run(mut self) {
        loop {
            let batch = {
                let mut waiting = self.store.queue.lock();
                if waiting.queued.is_empty() {
                    waiting.flushing = false;
                    self.done = true;
                    return;
                }
                mem::take(&mut waiting.queued)
            };
            self.store.flush(batch).await;
        }
    }
}

impl Drop for Flusher {
    /// A flusher that panicked, or never ran (its runtime shut down first),
    /// lets the next call start another, and drops what was queued: its
    /// callers get [`StoreError::WriterStopped`] rather than wait forever.
    fn drop(&mut self) {
        if !self.done {
            let mut waiting = self.store.queue.lock();
            waiting.flushing = false;
            waiting.queued.clear();
        }
    }
}
