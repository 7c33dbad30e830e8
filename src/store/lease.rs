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
//!
//! A lease file lives as long as its lease: the holder removes it before
//! unlocking it, and a taker that locked a file someone removed meanwhile
//! (it opened the file just before) finds that the path no longer names
//! what it locked and tries again. A file left by a process that died is
//! removed by [`sweep`] when a store is opened, or replaced by the next
//! taker of its session.

use std::collections::HashSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::future::Future;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::driver::{Driver, Driving};
use super::postgres::Advisory;
use super::{SessionId, StoreError};

/// Session ids leased in this process, or being leased.
#[derive(Clone, Debug, Default)]
pub(super) struct Held(Arc<Mutex<HashSet<SessionId>>>);

impl Held {
    /// `ids` without those leased, or being leased, in this process.
    pub(super) fn without(&self, mut ids: Vec<SessionId>) -> Vec<SessionId> {
        let held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        ids.retain(|id| !held.contains(id));
        ids
    }

    /// Whether session `id` is leased, or being leased, in this process:
    /// for the moment a lease is being taken, the taker counts as its
    /// holder, whether it gets it or not.
    pub(super) fn holds(&self, id: SessionId) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&id)
    }
}

/// What keeps other processes off a leased session.
#[derive(Debug)]
pub(super) enum Hold {
    /// Nothing beyond this process: a store in memory.
    Process,
    /// Held for its lock; the file is removed when released.
    File { _lock: LockFile },
    /// Released when dropped.
    Advisory { _lock: Advisory },
}

/// Held while a process drives a session; dropping it lets others take over.
#[derive(Debug)]
pub struct Lease {
    id: SessionId,
    held: Held,
    /// Always `Some` once taken, until dropped.
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
/// `acquire` finds another live process holding it. The id is marked held
/// while `acquire` runs, so that another task of this process taking it
/// meanwhile gets `None`: one process never takes a lease twice.
pub(super) async fn take(
    held: &Held,
    id: SessionId,
    acquire: impl Future<Output = Result<Option<Hold>, StoreError>>,
) -> Result<Option<Lease>, StoreError> {
    if !held
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id)
    {
        return Ok(None);
    }
    // Unmarked again unless the hold is taken, however this ends (an
    // error, or the caller dropping this future).
    let mut lease = Lease {
        id,
        held: held.clone(),
        hold: None,
    };
    lease.hold = acquire.await?;
    Ok(lease.hold.is_some().then_some(lease))
}

/// A locked lease file, removed (before it is unlocked) when dropped.
#[derive(Debug)]
pub(super) struct LockFile {
    file: File,
    path: PathBuf,
}

impl Drop for LockFile {
    fn drop(&mut self) {
        // Removed while still locked: a taker waiting on this file finds it
        // gone once it gets the lock, and makes a new one.
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), %error, "cannot remove a lease file");
        }
        let _ = self.file.unlock();
    }
}

impl LockFile {
    /// Writes this process's id and host into the file, for `status` and
    /// `stop` to name. The lock is what counts: without the name the lease
    /// holds all the same.
    fn name_holder(&self) {
        use std::io::Write as _;
        let named = self.file.set_len(0).and_then(|()| {
            (&self.file).write_all(format!("{}\n", Driver::this_process()).as_bytes())
        });
        if let Err(error) = named {
            tracing::debug!(path = %self.path.display(), %error, "cannot name the lease's holder");
        }
    }
}

/// Who holds session `id`'s lease file under `dir`, without taking it: a
/// shared lock the holder's exclusive one refuses, given back at once.
/// Creates nothing.
pub(super) fn holder(dir: &Path, id: SessionId) -> Result<Driving, StoreError> {
    let path = leases_dir(dir).join(format!("{id}.lock"));
    let io = |source| StoreError::Io {
        path: path.clone(),
        source,
    };
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Driving::Nobody),
        Err(source) => return Err(io(source)),
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            Ok(Driving::Nobody)
        }
        Err(TryLockError::WouldBlock) => {
            let named = std::fs::read_to_string(&path).unwrap_or_default();
            Ok(Driving::By(Driver::parse(&named)))
        }
        Err(TryLockError::Error(source)) => Err(io(source)),
    }
}

/// The directory of lease files beside the database in `dir`.
fn leases_dir(dir: &Path) -> PathBuf {
    dir.join("leases")
}

/// Locks session `id`'s lease file under `dir`, or `None` if another live
/// process holds it.
pub(super) fn lock_file(dir: &Path, id: SessionId) -> Result<Option<Hold>, StoreError> {
    let leases = leases_dir(dir);
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
    loop {
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
        match try_lock_current(file, &path)? {
            Locked::Yes(lock) => {
                lock.name_holder();
                return Ok(Some(Hold::File { _lock: lock }));
            }
            Locked::Held => return Ok(None),
            // Its holder removed it after we opened it: the lease is free.
            Locked::Removed => {}
        }
    }
}

enum Locked {
    Yes(LockFile),
    Held,
    Removed,
}

/// Locks `file`, opened at `path`, if no one holds it and `path` still
/// names it.
fn try_lock_current(file: File, path: &Path) -> Result<Locked, StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(Locked::Held),
        Err(TryLockError::Error(source)) => return Err(io(source)),
    }
    let locked = file.metadata().map_err(io)?;
    match std::fs::metadata(path) {
        Ok(named) if (named.dev(), named.ino()) == (locked.dev(), locked.ino()) => {
            Ok(Locked::Yes(LockFile {
                file,
                path: path.to_owned(),
            }))
        }
        Ok(_) => Ok(Locked::Removed),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Locked::Removed),
        Err(source) => Err(io(source)),
    }
}

/// Removes the lease files under `dir` that no live process holds (their
/// holders died), leaving those of sessions leased in this process; returns
/// how many it removed.
pub(super) fn sweep(dir: &Path, held: &Held) -> Result<usize, StoreError> {
    let leases = leases_dir(dir);
    let entries = match std::fs::read_dir(&leases) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(StoreError::Io {
                path: leases,
                source,
            });
        }
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(id) = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".lock"))
            .and_then(|id| id.parse().ok())
            .map(SessionId)
        else {
            continue;
        };
        if held
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&id)
        {
            continue;
        }
        // Never created here: a file gone meanwhile needs no sweeping.
        let Ok(file) = OpenOptions::new().write(true).open(&path) else {
            continue;
        };
        if let Locked::Yes(lock) = try_lock_current(file, &path)? {
            drop(lock);
            removed += 1;
        }
    }
    Ok(removed)
}
