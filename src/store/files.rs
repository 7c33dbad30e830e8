//! Where the state lives and who may read it: the directory is its owner's
//! alone (0700), and so are the database and its WAL siblings (0600). The
//! store holds no secrets, but it does hold App IDs, channel names and sids,
//! enough to stop someone's recordings.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::StoreError;

/// The database's file name inside the state directory.
pub const DB_FILE: &str = "recplan.db";

/// The state directory: `RECPLAN_STATE_DIR`, else `$XDG_STATE_HOME/recplan`,
/// else `$HOME/.local/state/recplan`. `var` looks a variable up (pass
/// `std::env::var_os`); empty values count as unset, and a relative
/// `XDG_STATE_HOME` is ignored as the XDG spec requires.
pub fn default_dir(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, StoreError> {
    let set = |name: &str| var(name).filter(|value| !value.is_empty());
    if let Some(dir) = set("RECPLAN_STATE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(state) = set("XDG_STATE_HOME").map(PathBuf::from)
        && state.is_absolute()
    {
        return Ok(state.join("recplan"));
    }
    match set("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/recplan")),
        None => Err(StoreError::NoStateDir),
    }
}

/// Creates `dir` (and missing parents) as 0700. An existing directory is
/// tightened to 0700 only if it already holds recplan's database: a
/// directory someone else made (say `RECPLAN_STATE_DIR=/tmp`) is left as
/// it is.
pub(crate) fn prepare_dir(dir: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: dir.to_owned(),
        source,
    };
    if dir.is_dir() {
        if dir.join(DB_FILE).exists() {
            restrict(dir, 0o700).map_err(io)?;
        }
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io)?;
    // The umask may have taken bits away, never added them; set the mode
    // outright so that it is exactly 0700.
    restrict(dir, 0o700).map_err(io)
}

/// Locks `dir` itself (an exclusive `flock` on the directory), waiting for
/// another process that holds it; unlocked when the returned file closes.
pub(crate) fn lock_dir(dir: &Path) -> Result<fs::File, StoreError> {
    let io = |source| StoreError::Io {
        path: dir.to_owned(),
        source,
    };
    let file = fs::File::open(dir).map_err(io)?;
    file.lock().map_err(io)?;
    Ok(file)
}

/// Creates the database file as 0600 before SQLite opens it, so that it is
/// never readable by others, not even for an instant; an existing one is
/// tightened. SQLite gives the -wal and -shm files it creates the main
/// file's mode.
pub(crate) fn prepare_db(path: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(io)?;
    restrict(path, 0o600).map_err(io)
}

/// Tightens the WAL siblings if they exist: ones left by an older build or
/// a looser umask keep their mode across opens otherwise.
pub(crate) fn restrict_siblings(path: &Path) -> Result<(), StoreError> {
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let sibling = PathBuf::from(name);
        if sibling.exists() {
            restrict(&sibling, 0o600).map_err(|source| StoreError::Io {
                path: sibling.clone(),
                source,
            })?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = fs::metadata(path)?.permissions().mode() & 0o777;
    if current == mode {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
