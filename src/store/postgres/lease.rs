//! Leases in PostgreSQL: a session-level advisory lock per session, keyed
//! (store namespace, session id), all held on one connection per store
//! that does nothing else.
//!
//! The server frees a session-level advisory lock when its connection
//! ends. A process killed in any way has its socket closed by the kernel,
//! so the server frees its leases at once; a machine that vanishes is
//! noticed by the server's TCP keepalives within about a minute (set on
//! the connection). There is no expiry to tune and no heartbeat to write,
//! and a lease cannot lapse under a process that is merely slow.
//!
//! One connection holds all of a store's leases, so a daemon driving a
//! hundred channels uses two connections, not a hundred and one. Commands
//! go to it through a queue, in order: a lease dropped and taken again is
//! unlocked before it is locked anew.
//!
//! If that connection breaks while the process lives (a server restart, a
//! network cut), the server has freed its leases. The task reconnects with
//! backoff and takes them again; one another process took meanwhile is
//! reported as an error, since two processes may then drive it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::Duration;

use tokio::sync::mpsc::{
    UnboundedReceiver, UnboundedSender, WeakUnboundedSender, unbounded_channel,
};
use tokio::time::{Instant, sleep_until};
use tokio_postgres::Client;

use super::super::{SessionId, StoreError};
use super::connection::{self, Settings, Worker};

/// The first wait before reconnecting, doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

enum Command {
    Take {
        id: i32,
        taken: SyncSender<Result<bool, StoreError>>,
    },
    Release {
        id: i32,
    },
    /// The connection numbered `link` ended.
    Ended {
        link: u64,
    },
}

/// A store's lease connection, shared by its clones.
#[derive(Clone)]
pub(in crate::store) struct Leases {
    commands: UnboundedSender<Command>,
    worker: Arc<Worker>,
}

/// An advisory lock held for one session: unlocked when dropped.
#[derive(Debug)]
pub(in crate::store) struct Advisory {
    id: i32,
    commands: UnboundedSender<Command>,
    /// Keeps the connection's runtime alive as long as the lock.
    _worker: Arc<Worker>,
}

impl Drop for Advisory {
    fn drop(&mut self) {
        // Queued, not awaited: a drop never blocks. If the task is gone, so
        // is its connection, and with it the lock.
        let _ = self.commands.send(Command::Release { id: self.id });
    }
}

impl Leases {
    /// Starts the task that holds the leases; it connects on the first
    /// lease taken, so a store only read (`recplan status`) uses one
    /// connection.
    pub fn start(worker: &Arc<Worker>, settings: Arc<Settings>, namespace: i32) -> Leases {
        let (commands, queue) = unbounded_channel();
        let task = Task {
            settings,
            namespace,
            commands: commands.downgrade(),
            client: None,
            link: 0,
            held: BTreeSet::new(),
            retry: RETRY_FIRST,
            retry_at: None,
        };
        worker.spawn(task.serve(queue));
        Leases {
            commands,
            worker: Arc::clone(worker),
        }
    }

    /// Locks session `id`, or `None` if another connection holds its lock.
    pub fn take(&self, id: SessionId) -> Result<Option<Advisory>, StoreError> {
        // A lock key is 32 bits; a store would need two billion sessions.
        let id = i32::try_from(id.0)
            .map_err(|_| StoreError::corrupt(format!("session id {id} is beyond lease keys")))?;
        let (taken, answer) = sync_channel(1);
        self.commands
            .send(Command::Take { id, taken })
            .map_err(|_| StoreError::WorkerStopped)?;
        if !answer.recv().map_err(|_| StoreError::WorkerStopped)?? {
            return Ok(None);
        }
        Ok(Some(Advisory {
            id,
            commands: self.commands.clone(),
            _worker: Arc::clone(&self.worker),
        }))
    }
}

/// The task that owns the lease connection.
struct Task {
    settings: Arc<Settings>,
    namespace: i32,
    /// Weak, so that the queue closes when the store and its leases are
    /// gone, which ends the task.
    commands: WeakUnboundedSender<Command>,
    client: Option<Client>,
    /// Numbers connections, so that a late `Ended` of an old one is ignored.
    link: u64,
    /// Ids locked on this connection, to take again after a reconnect.
    held: BTreeSet<i32>,
    retry: Duration,
    retry_at: Option<Instant>,
}

impl Task {
    async fn serve(mut self, mut queue: UnboundedReceiver<Command>) {
        loop {
            let command = match self.retry_at {
                Some(at) => tokio::select! {
                    command = queue.recv() => command,
                    () = sleep_until(at) => {
                        self.retry_at = None;
                        // A failure schedules the next try.
                        let _ = self.connected().await;
                        continue;
                    }
                },
                None => queue.recv().await,
            };
            match command {
                None => return,
                Some(Command::Take { id, taken }) => {
                    let _ = taken.send(self.take(id).await);
                }
                Some(Command::Release { id }) => self.release(id).await,
                Some(Command::Ended { link }) if link == self.link => {
                    self.client = None;
                    if !self.held.is_empty() {
                        tracing::error!(postgres = %self.settings.target(), leases = self.held.len(), "the lease connection ended, freeing this process's leases; taking them again");
                        self.retry_at = Some(Instant::now());
                    }
                }
                Some(Command::Ended { .. }) => {}
            }
        }
    }

    async fn take(&mut self, id: i32) -> Result<bool, StoreError> {
        let namespace = self.namespace;
        let client = self.connected().await?;
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&namespace, &id])
            .await?;
        let taken: bool = row.try_get(0)?;
        if taken {
            self.held.insert(id);
        }
        Ok(taken)
    }

    async fn release(&mut self, id: i32) {
        self.held.remove(&id);
        // Without a connection there is no lock to release.
        let Some(client) = self.client.as_ref().filter(|client| !client.is_closed()) else {
            return;
        };
        if let Err(error) = client
            .execute("SELECT pg_advisory_unlock($1, $2)", &[&self.namespace, &id])
            .await
        {
            // The lock dies with the connection, which this error likely
            // means; if not, it is freed when the process exits.
            tracing::warn!(session = id, error = %super::describe(&error), "cannot release a lease");
        }
    }

    /// The connection, made anew if there is none; on a new one, the
    /// leases the old one held are taken again. While leases wait to be
    /// taken again, a failure schedules another try.
    async fn connected(&mut self) -> Result<&Client, StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            match self.reconnect().await {
                Ok(client) => {
                    self.retry = RETRY_FIRST;
                    self.retry_at = None;
                    self.client = Some(client);
                }
                Err(error) => {
                    if !self.held.is_empty() {
                        self.retry_later(&error);
                    }
                    return Err(error);
                }
            }
        }
        match &self.client {
            Some(client) => Ok(client),
            None => Err(StoreError::WorkerStopped),
        }
    }

    async fn reconnect(&mut self) -> Result<Client, StoreError> {
        self.link += 1;
        let (link, commands) = (self.link, self.commands.clone());
        let client = connection::connect(&self.settings, move || {
            if let Some(commands) = commands.upgrade() {
                let _ = commands.send(Command::Ended { link });
            }
        })
        .await?;
        self.retake(&client).await?;
        Ok(client)
    }

    async fn retake(&mut self, client: &Client) -> Result<(), StoreError> {
        if self.held.is_empty() {
            return Ok(());
        }
        let mut lost = Vec::new();
        for &id in &self.held {
            let row = client
                .query_one(
                    "SELECT pg_try_advisory_lock($1, $2)",
                    &[&self.namespace, &id],
                )
                .await?;
            if !row.try_get::<_, bool>(0)? {
                lost.push(id);
            }
        }
        for id in &lost {
            self.held.remove(id);
            tracing::error!(
                session = id,
                "another process took this session's lease while the lease connection was down: both may drive it"
            );
        }
        tracing::info!(
            leases = self.held.len(),
            lost = lost.len(),
            "lease connection restored"
        );
        Ok(())
    }

    fn retry_later(&mut self, error: &StoreError) {
        tracing::warn!(%error, retry_in = ?self.retry, "cannot reconnect the lease connection");
        self.retry_at = Some(Instant::now() + self.retry);
        self.retry = (self.retry * 2).min(RETRY_MAX);
    }
}
