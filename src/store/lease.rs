//! Which live process drives a session. Whatever the backend, the lease
//! is something the operating system or the database server drops when
//! the holding process dies, however it dies, so recovery can tell a
//! session whose runner crashed (lease free) from one another process is
//! running:
//!
//! - SQLite: an exclusive lock on the session's lease file beside the
//!   database, which the kernel drops with the process's files.
//! - PostgreSQL: a session-level advisory lock on the store's lease
//!   connection, which the server drops with the connection
//!   ([`super::postgres::lease`]).
//!
//! Within one process a set of held ids does the same (and is all a store
//! in memory has).

use std::collections::HashSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::postgres::Advisory;
use super::{SessionId, StoreError};

/// Session ids leased in this process.
#[derive(Clone, Debug, Default)]
pub(super) struct Held(Arc<Mutex<HashSet<SessionId>>>);

/// What keeps other processes off a leased session.
#[derive(Debug)]
pub(super) enum Hold {
    /// Nothing beyond this process: a store in memory.
    Process,
    /// Only held for its lock.
    File { _file: File },
    /// Released when dropped.
    Advisory { _lock: Advisory },
}

/// Held while a process drives a session; dropping it lets others take over.
#[derive(Debug)]
pub struct Lease {
    id: SessionId,
    held: Held,
    /// Always `Some` until dropped.
    hold: Option<Hold>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        // The hold goes first: once the id leaves the set, a runner of this
        // process may take the lease again, and must find it free.
        drop(self.hold.take());
        self.held
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Takes the lease of session `id`, or `None` if this process holds it or
/// `acquire` finds another live process holding it. Other threads of this
/// process wait meanwhile, so one process never takes a lease twice.
pub(super) fn take(
    held: &Held,
    id: SessionId,
    acquire: impl FnOnce() -> Result<Option<Hold>, StoreError>,
) -> Result<Option<Lease>, StoreError> {
    let mut ids = held.0.lock().unwrap_or_else(PoisonError::into_inner);
    if ids.contains(&id) {
        return Ok(None);
    }
    let Some(keeper) = acquire()? else {
        return Ok(None);
    };
    ids.insert(id);
    Ok(Some(Lease {
        id,
        held: held.clone(),
        hold: Some(keeper),
    }))
}

/// Locks session `id`'s lease file under `dir`, or `None` if another live
/// process holds it.
pub(super) fn lock_file(dir: &Path, id: SessionId) -> Result<Option<Hold>, StoreError> {
    let leases = dir.join("leases");
    // Private like the rest of the state directory.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&leases)
        .map_err(|source| StoreError::Io {
            path: leases.clone(),
            source,
        })?;
    let path: PathBuf = leases.join(format!("{id}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Hold::File { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
    }
}
