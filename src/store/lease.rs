//! Which live process drives a session. The driver holds an exclusive
//! lock on the session's lease file; the kernel drops the lock when the
//! process dies, however it dies, so recovery can tell a session whose
//! runner crashed (lock free) from one another process is running.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::{SessionId, StoreError};

/// Held while a process drives a session; dropping it lets others take over.
#[derive(Debug)]
pub struct Lease {
    // Only held for its lock; a store in memory has no file.
    _file: Option<File>,
}

/// Takes the lease of session `id` under `dir`, or `None` if a live
/// process holds it.
pub(super) fn take(dir: Option<&Path>, id: SessionId) -> Result<Option<Lease>, StoreError> {
    let Some(dir) = dir else {
        return Ok(Some(Lease { _file: None }));
    };
    let leases = dir.join("leases");
    std::fs::create_dir_all(&leases).map_err(|source| StoreError::Io {
        path: leases.clone(),
        source,
    })?;
    let path: PathBuf = leases.join(format!("{id}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Lease { _file: Some(file) })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
    }
}
