//! systemd's readiness and watchdog protocol (`Type=notify`): datagrams
//! to `$NOTIFY_SOCKET`. Without that variable every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// A connection to the service manager, if there is one.
pub struct Notifier {
    socket: Option<(UnixDatagram, String)>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` through `lookup`.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Notifier {
        let socket = lookup("NOTIFY_SOCKET")
            .and_then(|path| UnixDatagram::unbound().ok().map(|socket| (socket, path)));
        Notifier { socket }
    }

    /// Tells systemd something (`READY=1`, `STOPPING=1`, `WATCHDOG=1`,
    /// `STATUS=...`). Failures are logged, never fatal: the daemon's work
    /// matters more than its reports.
    pub fn notify(&self, state: &str) {
        let Some((socket, path)) = &self.socket else {
            return;
        };
        let sent = match path.strip_prefix('@') {
            // An abstract socket: Linux only.
            Some(name) => {
                use std::os::linux::net::SocketAddrExt as _;
                std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .and_then(|address| socket.send_to_addr(state.as_bytes(), &address))
            }
            None => socket.send_to(state.as_bytes(), path),
        };
        if let Err(error) = sent {
            tracing::warn!(%error, "cannot notify systemd");
        }
    }

    /// Half the watchdog interval systemd asks for (`WATCHDOG_USEC`), if
    /// it asks.
    pub fn watchdog_interval(lookup: impl Fn(&str) -> Option<String>) -> Option<Duration> {
        let micros: u64 = lookup("WATCHDOG_USEC")?.parse().ok()?;
        (micros > 0).then(|| Duration::from_micros(micros / 2))
    }
}
