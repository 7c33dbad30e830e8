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
//!
//! The lease connection names its process after its `application_name`
//! (`recplan pid@host`, or the URL's name for `recplan`), which
//! `pg_stat_activity` shows every user of the server: joined to
//! `pg_locks`, it tells any process who drives a session ([`holder`]), as
//! a SQLite lease file's contents do.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{
    UnboundedReceiver, UnboundedSender, WeakUnboundedSender, unbounded_channel,
};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until};
use tokio_postgres::Client;

use super::super::database::{Connection as _, Database, values};
use super::super::driver::{Driver, Driving};
use super::super::{SessionId, StoreError};
use super::connection::{self, Settings};

/// The first wait before reconnecting, doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The bytes of an `application_name` PostgreSQL keeps (NAMEDATALEN - 1).
const NAME_LIMIT: usize = 63;

/// The most of it `pid@host` takes, so that the default name's `recplan`
/// always fits before it: a host of 44 bytes or more is cut.
const DRIVER_LIMIT: usize = NAME_LIMIT - "recplan ".len();

/// The holder of a session's lock, if any connection holds it: the same
/// key as [`Task::take`]'s `pg_try_advisory_lock(namespace, id)`, which
/// PostgreSQL shows as `classid`, `objid` and `objsubid` 2, in this
/// database (another's `sessions` table may have the same oid).
const HOLDER: &str = "SELECT a.application_name FROM pg_locks l
    LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = 'sessions'::regclass::oid
        AND l.objid::bigint = $1";

enum Command {
    Take {
        id: i32,
        taken: oneshot::Sender<Result<bool, StoreError>>,
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
}

/// An advisory lock held for one session: unlocked when dropped.
#[derive(Debug)]
pub(in crate::store) struct Advisory {
    id: i32,
    commands: UnboundedSender<Command>,
}

impl Drop for Advisory {
    fn drop(&mut self) {
        // Queued, not awaited: a drop never blocks. If the task is gone, so
        // is its connection, and with it the lock.
        let _ = self.commands.send(Command::Release { id: self.id });
    }
}

impl Leases {
    /// Starts the task that holds the leases, on the current runtime; it
    /// connects on the first lease taken, so a store only read (`recplan
    /// status`) uses one connection. That connection's `application_name`
    /// names this process after the store's. The task, its connection and
    /// so its leases end with the runtime.
    pub fn start(settings: &Settings, namespace: i32) -> Leases {
        let name = application_name(settings.application_name(), &Driver::this_process());
        let (commands, queue) = unbounded_channel();
        let task = Task {
            settings: Arc::new(settings.named(&name)),
            namespace,
            commands: commands.downgrade(),
            client: None,
            link: 0,
            held: BTreeSet::new(),
            retry: RETRY_FIRST,
            retry_at: None,
        };
        tokio::spawn(task.serve(queue));
        Leases { commands }
    }

    /// Locks session `id`, or `None` if another connection holds its lock.
    pub async fn take(&self, id: SessionId) -> Result<Option<Advisory>, StoreError> {
        // A lock key is 32 bits; a store would need two billion sessions.
        let id = i32::try_from(id.0)
            .map_err(|_| StoreError::corrupt(format!("session id {id} is beyond lease keys")))?;
        let (taken, answer) = oneshot::channel();
        self.commands
            .send(Command::Take { id, taken })
            .map_err(|_| StoreError::Stopped)?;
        if !answer.await.map_err(|_| StoreError::Stopped)?? {
            return Ok(None);
        }
        Ok(Some(Advisory {
            id,
            commands: self.commands.clone(),
        }))
    }
}

/// The lease connection's `application_name`: `base pid@host`, `base` the
/// store's connections' name. As PostgreSQL would keep it (it rewrites
/// other bytes, each version its own way), printable ASCII only and cut to
/// its limit: the host first, to [`DRIVER_LIMIT`], then `base`, so that the
/// driver stays whole.
fn application_name(base: &str, driver: &Driver) -> String {
    let printable = |text: &str, keep: fn(&char) -> bool| -> String {
        text.chars()
            .map(|c| if keep(&c) { c } else { '?' })
            .collect()
    };
    // No space in it: the name's last space is where it starts.
    let mut driver = printable(&driver.to_string(), char::is_ascii_graphic);
    // ASCII only: any byte is a character boundary.
    driver.truncate(DRIVER_LIMIT);
    let mut base = printable(base, |c| *c == ' ' || c.is_ascii_graphic());
    base.truncate(NAME_LIMIT - 1 - driver.len());
    format!("{base} {driver}")
}

/// The driver an [`application_name`] names; `None` for a name that ends
/// in no `pid@host` (another program's connection holding the lock).
fn driver_named(application_name: &str) -> Option<Driver> {
    let (_, driver) = application_name.rsplit_once(' ')?;
    Driver::parse(driver)
}

/// Who holds session `id`'s lock, without taking it: nobody, or the
/// process its connection's `application_name` names (unnamed where it
/// names none).
pub(in crate::store) async fn holder(
    db: &impl Database,
    id: SessionId,
) -> Result<Driving, StoreError> {
    let rows = db.connection().await?.query(HOLDER, &values![id.0]).await?;
    match rows.first() {
        None => Ok(Driving::Nobody),
        Some(row) => Ok(Driving::By(
            row.optional_text(0)?.as_deref().and_then(driver_named),
        )),
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
                    // A taker that stopped waiting (its future dropped) has
                    // no `Advisory` to release the lock: released here.
                    if let Err(Ok(true)) = taken.send(self.take(id).await) {
                        self.release(id).await;
                    }
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
            None => Err(StoreError::Stopped),
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

#[cfg(test)]
mod tests {
    use super::{Driver, NAME_LIMIT, application_name, driver_named};

    fn driver(pid: u32, host: &str) -> Driver {
        Driver {
            pid,
            host: host.to_owned(),
        }
    }

    #[test]
    fn a_lease_connection_names_its_driver_after_the_store() {
        let named = application_name("recplan", &driver(4242, "rec-1.example"));
        assert_eq!(named, "recplan 4242@rec-1.example");
        assert_eq!(driver_named(&named), Some(driver(4242, "rec-1.example")));
        let named = application_name("billing recorder", &driver(7, "rec-2"));
        assert_eq!(named, "billing recorder 7@rec-2");
        assert_eq!(driver_named(&named), Some(driver(7, "rec-2")));
    }

    #[test]
    fn a_long_host_is_cut_to_fit_after_recplan() {
        let host = format!("{}.example", "rack-7-node".repeat(8));
        let named = application_name("recplan", &driver(u32::MAX, &host));
        assert_eq!(named.len(), NAME_LIMIT);
        // 63 bytes, less `recplan 4294967295@`.
        let kept = &host[..44];
        assert_eq!(named, format!("recplan 4294967295@{kept}"));
        assert_eq!(driver_named(&named), Some(driver(u32::MAX, kept)));
    }

    #[test]
    fn a_long_store_name_is_cut_before_the_driver_is() {
        let named = application_name(&"x".repeat(100), &driver(4242, "rec-1"));
        assert_eq!(named.len(), NAME_LIMIT);
        assert!(named.ends_with("x 4242@rec-1"), "{named}");
        assert_eq!(driver_named(&named), Some(driver(4242, "rec-1")));
    }

    #[test]
    fn names_beyond_ascii_are_kept_as_postgres_keeps_them() {
        let named = application_name("réunions", &driver(7, "sälen 1"));
        assert_eq!(named, "r?unions 7@s?len?1");
        assert_eq!(driver_named(&named), Some(driver(7, "s?len?1")));
    }

    #[test]
    fn other_names_name_no_driver() {
        for other in ["", "recplan", "psql", "recplan x@host", "4242@rec-1"] {
            assert_eq!(driver_named(other), None, "{other:?}");
        }
    }
}
