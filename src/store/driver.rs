//! Who drives a session, as any process can tell: the lease's holder, by
//! process id and host, or nobody. For `status`, which names the driver
//! and calls a session that is not over and that nobody drives orphaned,
//! and for `stop`, which names the process to stop instead.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::{Backend, SessionId, Store, StoreError, lease};

/// A process that drives sessions: its id and the host it runs on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Driver {
    pub pid: u32,
    pub host: String,
}

impl Driver {
    /// This process.
    pub fn this_process() -> Driver {
        Driver {
            pid: std::process::id(),
            host: host_name(),
        }
    }

    /// Reads `pid@host`, as [`Driver`]'s `Display` writes it.
    pub(super) fn parse(text: &str) -> Option<Driver> {
        let (pid, host) = text.trim().split_once('@')?;
        Some(Driver {
            pid: pid.parse().ok()?,
            host: host.to_owned(),
        })
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.pid, self.host)
    }
}

/// The machine's name as the kernel has it; `localhost` where it cannot
/// be read.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Whether a live process holds a session's lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Driving {
    /// A live process holds it: this one, or the one named, when the
    /// backend keeps its name (SQLite's lease files and PostgreSQL's
    /// lease connections do; a holder of some other kind is unnamed).
    By(Option<Driver>),
    /// Nobody does: a session that is not over was left by a process that
    /// died, for `recover` (or a daemon) to take over.
    Nobody,
}

impl Store {
    /// Who drives session `id` now. Reads only: the lease is never taken,
    /// so asking cannot keep a driver from taking over.
    pub async fn driving(&self, id: SessionId) -> Result<Driving, StoreError> {
        if self.leased.holds(id) {
            return Ok(Driving::By(Some(Driver::this_process())));
        }
        match &self.backend {
            Backend::Sqlite(db) => match db.path().and_then(Path::parent) {
                Some(dir) => lease::holder(dir, id),
                None => Ok(Driving::Nobody),
            },
            Backend::Postgres(db) => db.holder(id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Driver;

    #[test]
    fn a_driver_reads_back_as_written() {
        let driver = Driver {
            pid: 4242,
            host: "rec-1.example".to_owned(),
        };
        assert_eq!(driver.to_string(), "4242@rec-1.example");
        assert_eq!(Driver::parse("4242@rec-1.example\n"), Some(driver));
        assert_eq!(Driver::parse(""), None);
        assert_eq!(Driver::parse("x@host"), None);
    }
}
