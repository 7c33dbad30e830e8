//! The daemon's workers besides the scheduler: each an async function
//! that [`serve`](super::serve) runs as a named task.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::notify::Notifier;
use super::status::Status;
use super::{Control, Ended, Error, Event};
use crate::session::Progress;

/// A worker's task.
pub type Task = Pin<Box<dyn Future<Output = Ended> + Send>>;

/// Where the observer passes events and progress on to.
pub struct Taps {
    pub events: Option<mpsc::UnboundedSender<Event>>,
    pub progress: Option<mpsc::UnboundedSender<Progress>>,
}

/// Feeds the scheduler's events to the log, and them and the sessions'
/// progress (which the sessions log themselves) to the listener's status,
/// systemd (ready once the plans are loaded, stopping as soon as shutdown
/// begins) and `taps`. Ends when the scheduler has.
pub async fn observe(
    mut events: mpsc::UnboundedReceiver<Event>,
    mut progress: mpsc::UnboundedReceiver<Progress>,
    status: Arc<Status>,
    notifier: Notifier,
    taps: Taps,
) -> Ended {
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { return Ok(None) };
                // Status first: whoever systemd lets in on READY, or reads
                // the log, must find /readyz and /sessions saying so.
                status.observe_event(&event);
                event.log();
                match event {
                    Event::Ready { .. } => notifier.notify("READY=1"),
                    Event::Stopping => notifier.notify("STOPPING=1"),
                    _ => {}
                }
                if let Some(tap) = &taps.events {
                    let _ = tap.send(event);
                }
            }
            Some(event) = progress.recv() => {
                // The session logged it already.
                status.observe_progress(&event);
                if let Some(tap) = &taps.progress {
                    let _ = tap.send(event);
                }
            }
        }
    }
}

/// Serves `routes` until `stopping` turns true.
pub async fn listen(
    socket: tokio::net::TcpListener,
    routes: axum::Router,
    mut stopping: watch::Receiver<bool>,
) -> Ended {
    let stopped = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    // The control API records each caller's address.
    let routes = routes.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(socket, routes)
        .with_graceful_shutdown(stopped)
        .await
        .map_err(Error::Listener)?;
    Ok(None)
}

pub async fn feed_watchdog(watchdog: Notifier, interval: Duration) -> Ended {
    let mut ticks = tokio::time::interval(interval);
    // A missed tick is not worth two pings.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        watchdog.notify("WATCHDOG=1");
    }
}

/// The files' watcher and what it reports: set up before the scheduler
/// starts, so that no change after readiness goes unseen. None (reported)
/// without one: the plans then reload on SIGHUP only.
pub fn watch(
    paths: &[PathBuf],
) -> Option<(
    notify::RecommendedWatcher,
    mpsc::UnboundedReceiver<Option<Vec<PathBuf>>>,
)> {
    use notify::Watcher as _;
    let (notify_change, changes) = mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        match event {
            Ok(event) if event.kind.is_access() => {}
            // No paths, or an error: only listing everything again tells.
            Ok(event) if event.need_rescan() || event.paths.is_empty() => {
                let _ = notify_change.send(None);
            }
            Ok(event) => {
                let _ = notify_change.send(Some(event.paths));
            }
            Err(_) => {
                let _ = notify_change.send(None);
            }
        }
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(%error, "cannot watch plan files; reload with SIGHUP");
            return None;
        }
    };
    for path in paths {
        if let Err(error) = watcher.watch(path, notify::RecursiveMode::NonRecursive) {
            tracing::warn!(path = %path.display(), %error, "cannot watch; reload with SIGHUP");
        }
    }
    Some((watcher, changes))
}

/// Reloads when plan files change, after changes settle for half a second
/// (editors write files in several steps): only the files the watcher
/// named, or everything when it could not say.
pub async fn forward_changes(
    watcher: notify::RecommendedWatcher,
    mut changes: mpsc::UnboundedReceiver<Option<Vec<PathBuf>>>,
    control: mpsc::UnboundedSender<Control>,
) -> Ended {
    while let Some(first) = changes.recv().await {
        // Debounce: gather what changes until none has come for 500 ms.
        let mut seen = first;
        while let Ok(Some(more)) =
            tokio::time::timeout(Duration::from_millis(500), changes.recv()).await
        {
            seen = seen.zip(more).map(|(mut all, more)| {
                all.extend(more);
                all
            });
        }
        let message = seen.map_or(Control::Reload, Control::Changed);
        if control.send(message).is_err() {
            break;
        }
    }
    drop(watcher);
    Ok(None)
}
