use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::connect::{self, Signal, Signals};
use super::exit;
use crate::clock::Clock;
use crate::daemon::notify::Notifier;
use crate::daemon::status::Status;
use crate::daemon::{Control, Daemon, Options, http};
use crate::plan::{Env, parse_duration};
use crate::session::Context;

/// Runs every plan on its schedule until SIGTERM or SIGINT, then stops
/// what it started.
///
/// SIGHUP, or a change to a plan file, reloads the plans: a changed plan
/// affects future occurrences only. A plan that fails to load is reported
/// and skipped; the others run. Under systemd (`Type=notify`) it reports
/// readiness and feeds the watchdog.
///
/// Example: recplan daemon /etc/recplan/plans
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan files, or directories of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// On SIGTERM, leave recordings running and recorded for the next
    /// start to resume, instead of stopping them.
    #[arg(long)]
    detach: bool,
    /// How long shutdown waits for stop calls to be answered.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    stop_grace: Duration,
    /// Serve /healthz, /readyz, /metrics (Prometheus) and /sessions here.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Log as JSON lines (for journald and log shippers).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    state: connect::StateArgs,
    /// Run against the built-in simulator instead of Agora.
    #[arg(long)]
    sim: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn run(args: &Args) -> u8 {
    raise_open_files_limit();
    let Some(runtime) = connect::runtime() else {
        return exit::FAILED;
    };
    runtime.block_on(run_async(args))
}

/// Each running session holds its lease file open, and each request in
/// flight a socket: thousands of recordings at once need more than the
/// 1,024 descriptors a process gets by default. The soft limit is raised to
/// the hard one, which only an administrator (`LimitNOFILE=`) can raise.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open files limit"),
    }
}

async fn run_async(args: &Args) -> u8 {
    let mut env = Env::from_process();
    let simulator = match connect::simulator(args.sim, &mut env).await {
        Ok(simulator) => simulator,
        Err(code) => return code,
    };
    let app_id = env.get("AGORA_APP_ID").unwrap_or_default().to_owned();
    let client = match connect::api_client(&env, simulator.as_ref(), &app_id) {
        Ok(client) => client,
        Err(message) => {
            errln!("error: {message}");
            return exit::FAILED;
        }
    };
    let store = match args.state.open(args.sim) {
        Ok(store) => store,
        Err(message) => {
            errln!("error: {message}");
            return exit::FAILED;
        }
    };
    let listener = match args.listen {
        Some(address) => match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                errln!("error: cannot listen on {address}: {error}");
                return exit::FAILED;
            }
        },
        None => None,
    };
    let options = Options {
        paths: args.paths.clone(),
        stop_grace: args.stop_grace,
    };
    let (events, events_rx) = mpsc::unbounded_channel();
    let (progress, progress_rx) = mpsc::unbounded_channel();
    let status = Arc::new(Status::default());
    let lookup = |name: &str| env.get(name).map(str::to_owned);
    let notifier = Notifier::from_env(lookup);
    // Agora's notification callbacks land on the same listener when an NCS
    // secret is configured.
    let notices = crate::ncs::NcsState::from_env(store.clone(), Clock::system(), lookup);
    if notices.is_some() && listener.is_none() {
        errln!(
            "warning: AGORA_NCS_SECRET is set but there is no --listen address to receive notifications on"
        );
    }
    let context = Context {
        client: client.clone(),
        store,
        clock: Clock::system(),
        env: env.clone(),
        progress,
    };
    let daemon = Daemon::new(options, context, events);
    let (control, control_rx) = mpsc::unbounded_channel();

    tokio::spawn(observe(
        events_rx,
        progress_rx,
        Arc::clone(&status),
        notifier,
    ));
    let _watcher = watch_files(&args.paths, control.clone());
    tokio::spawn(crate::daemon::calendars::refresh(control.clone()));
    if let Some(interval) = Notifier::watchdog_interval(lookup) {
        tokio::spawn(feed_watchdog(Notifier::from_env(lookup), interval));
    }
    tokio::spawn(forward_signals(control, args.detach));
    let (served, serving) = tokio::sync::oneshot::channel::<()>();
    if let Some(listener) = listener {
        let mut routes = http::router(Arc::clone(&status), client).merge(
            crate::daemon::calendars::router(args.paths.clone(), env.clone()),
        );
        if let Some(notices) = notices {
            routes = routes.nest(crate::ncs::PATH, crate::ncs::router(notices));
        }
        tokio::spawn(async move {
            let stopped = async {
                let _ = serving.await;
            };
            if let Err(error) = axum::serve(listener, routes)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(%error, "the listener failed");
            }
        });
    }
    let summary = daemon.run(control_rx).await;
    Notifier::from_env(lookup).notify("STOPPING=1");
    let _ = served.send(());
    tracing::info!(
        occurrences = summary.occurrences,
        failed = summary.failed,
        "daemon stopped"
    );
    exit::OK
}

/// Feeds the daemon's events and the sessions' progress to the log, the
/// listener's status and systemd (ready once the plans are loaded).
async fn observe(
    mut events: mpsc::UnboundedReceiver<crate::daemon::Event>,
    mut progress: mpsc::UnboundedReceiver<crate::session::Progress>,
    status: Arc<Status>,
    notifier: Notifier,
) {
    loop {
        tokio::select! {
            Some(event) = events.recv() => {
                // Status first: whoever systemd lets in on READY must find
                // /readyz ready.
                status.observe_event(&event);
                if matches!(event, crate::daemon::Event::Ready) {
                    notifier.notify("READY=1");
                }
            }
            Some(event) = progress.recv() => {
                tracing::info!(cname = %event.cname, uid = %event.uid, phase = ?event.phase, "{}", event.message);
                status.observe_progress(&event);
            }
            else => return,
        }
    }
}

async fn feed_watchdog(watchdog: Notifier, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    // A missed tick is not worth two pings.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        watchdog.notify("WATCHDOG=1");
    }
}

/// SIGHUP reloads; SIGTERM and Ctrl-C shut down (or detach, with
/// `--detach`).
async fn forward_signals(control: mpsc::UnboundedSender<Control>, detach: bool) {
    let Ok(mut signals) = Signals::new() else {
        return;
    };
    loop {
        let message = match signals.next().await {
            Signal::Reload => Control::Reload,
            Signal::Stop if detach => Control::Detach,
            Signal::Stop => Control::Shutdown,
        };
        if control.send(message).is_err() {
            return;
        }
    }
}

/// Reloads when a plan file changes, after changes settle for half a
/// second (editors write files in several steps).
fn watch_files(
    paths: &[PathBuf],
    control: mpsc::UnboundedSender<Control>,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    let (notify_change, mut changes) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = notify_change.send(());
        }
    })
    .map_err(|error| tracing::warn!(%error, "cannot watch plan files; reload with SIGHUP"))
    .ok()?;
    for path in paths {
        if let Err(error) = watcher.watch(path, notify::RecursiveMode::NonRecursive) {
            tracing::warn!(path = %path.display(), %error, "cannot watch; reload with SIGHUP");
        }
    }
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            // Debounce: wait until no change has come for 500 ms.
            while let Ok(Some(())) =
                tokio::time::timeout(Duration::from_millis(500), changes.recv()).await
            {}
            if control.send(Control::Reload).is_err() {
                return;
            }
        }
    });
    Some(watcher)
}
