//! Which live process drives a session. The driver holds an exclusive
//! lock on the session's lease file; the kernel drops the lock when the
//! process dies, however it dies, so recovery can tell a session whose
//! runner crashed (lock free) from one another process is running. Within
//! one process a set of held ids does the same (and is all a store in
//! memory has).

use std::collections::HashSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::{SessionId, StoreError};

/// Session ids leased in this process.
#[derive(Clone, Debug, Default)]
pub(super) struct Held(Arc<Mutex<HashSet<SessionId>>>);

/// Held while a process drives a session; dropping it lets others take over.
#[derive(Debug)]
pub struct Lease {
    id: SessionId,
    held: Held,
    // Only held for its lock; a store in memory has no file.
    _file: Option<File>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.held
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Takes the lease of session `id` under `dir`, or `None` if this or
/// another live process holds it.
pub(super) fn take(
    held: &Held,
    dir: Option<&Path>,
    id: SessionId,
) -> Result<Option<Lease>, StoreError> {
    let mut ids = held.0.lock().unwrap_or_else(PoisonError::into_inner);
    if ids.contains(&id) {
        return Ok(None);
    }
    let file = match dir {
        Some(dir) => match lock_file(dir, id)? {
            Some(file) => Some(file),
            None => return Ok(None),
        },
        None => None,
    };
    ids.insert(id);
    Ok(Some(Lease {
        id,
        held: held.clone(),
        _file: file,
    }))
}

fn lock_file(dir: &Path, id: SessionId) -> Result<Option<File>, StoreError> {
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
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
    }
}
