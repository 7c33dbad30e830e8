use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use super::connect::{self, Signal, Signals};
use super::error::Error;
use super::exit;
use crate::clock::Clock;
use crate::daemon::api::{Api, Token};
use crate::daemon::{Config, Control, Listener};
use crate::plan::{Env, parse_duration};
use crate::session::Context;

/// Runs every plan on its schedule until SIGTERM or SIGINT, then stops
/// what it started.
///
/// SIGHUP, or a change to a plan file, reloads the plans: a changed plan
/// affects future occurrences only. A plan that fails to load is reported
/// and its last valid version stays in force; the others run. Plan names
/// are unique: of two files with one name, the first runs and the second
/// is refused. It starts only with work to do: a path that cannot be read
/// exits 2, no valid plan exits 3 (see --allow-empty). Under systemd
/// (`Type=notify`) it reports readiness and stopping, and feeds the
/// watchdog. A state store unavailable for longer than --store-grace stops
/// it with exit code 1.
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
    /// Serve /healthz, /readyz, /metrics (Prometheus) and /sessions here;
    /// with an API token also the control API (/api/v1) and the console (/).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// The control API's bearer token, from a file only its owner may read
    /// (mode 0600); or set RECPLAN_API_TOKEN. With a token, `--listen` also
    /// serves the control API (/api/v1) and the web console (/).
    #[arg(long, value_name = "FILE")]
    api_token_file: Option<PathBuf>,
    /// Start even when no valid plan is found: for a directory that will be
    /// filled later.
    #[arg(long)]
    allow_empty: bool,
    /// How long the state store may be unavailable before the daemon stops
    /// what it started and exits (for its service manager to restart it).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    store_grace: Duration,
    /// Log as JSON lines (for journald and log shippers): one object per
    /// line, with `event`, `plan`, `channel`, `uid` and `sid` as fields.
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

pub fn run(args: &Args) -> Result<u8, Error> {
    raise_open_files_limit();
    let Some(runtime) = connect::runtime() else {
        return Ok(exit::FAILED);
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

async fn run_async(args: &Args) -> Result<u8, Error> {
    let mut env = Env::from_process();
    let simulator = match connect::simulator(args.sim, &mut env).await {
        Ok(simulator) => simulator,
        Err(code) => return Ok(code),
    };
    if let Some(handle) = &simulator {
        tracing::info!(event = "simulator", uri = %handle.uri(), "simulator listening");
    }
    let app_id = env.get("AGORA_APP_ID").unwrap_or_default().to_owned();
    let client = match connect::api_client(&env, simulator.as_ref(), &app_id) {
        Ok(client) => client,
        Err(message) => {
            errln!("error: {message}");
            return Ok(exit::FAILED);
        }
    };
    let store = match args.state.open(args.sim).await {
        Ok(store) => store,
        Err(message) => {
            errln!("error: {message}");
            return Ok(exit::FAILED);
        }
    };
    let token =
        match Token::configured(env.get("RECPLAN_API_TOKEN"), args.api_token_file.as_deref()) {
            Ok(token) => token,
            Err(message) => {
                errln!("error: {message}");
                return Ok(exit::USAGE);
            }
        };
    if token.is_some() && args.listen.is_none() {
        tracing::warn!("an API token is set but there is no --listen address to serve the API on");
    }
    // The control API shares the sessions' stop signals, and asks the
    // scheduler through `requests`.
    let context_stops = crate::session::Stops::default();
    let (requests, requests_rx) = mpsc::unbounded_channel();
    let (api_progress, _) = mpsc::unbounded_channel();
    let api = Api::new(
        token,
        requests,
        Context {
            client: client.clone(),
            store: store.clone(),
            clock: Clock::system(),
            env: env.clone(),
            progress: api_progress,
            stops: context_stops.clone(),
        },
    );
    let lookup = |name: &str| env.get(name).map(str::to_owned);
    // Agora's notification callbacks land on the same listener when an NCS
    // secret is configured.
    let notices = crate::ncs::NcsState::from_env(store.clone(), Clock::system(), lookup);
    if notices.is_some() && args.listen.is_none() {
        tracing::warn!(
            "AGORA_NCS_SECRET is set but there is no --listen address to receive notifications on"
        );
    }
    let mut listener = None;
    if let Some(address) = args.listen {
        let socket = match tokio::net::TcpListener::bind(address).await {
            Ok(socket) => socket,
            Err(error) => {
                errln!("error: cannot listen on {address}: {error}");
                return Ok(exit::FAILED);
            }
        };
        let mut routes = crate::daemon::calendars::router(args.paths.clone(), env.clone());
        if let Some(notices) = notices {
            routes = routes.nest(crate::ncs::PATH, crate::ncs::router(notices));
        }
        let routes = routes
            .merge(api.clone().router())
            .merge(crate::console::router());
        listener = Some(Listener {
            socket,
            routes,
            requests: Some(requests_rx),
        });
    }
    let (events_tap, events) = mpsc::unbounded_channel();
    let (progress_tap, progress_seen) = mpsc::unbounded_channel();
    tokio::spawn(feed_api(api, events, progress_seen));
    let config = Config {
        stop_grace: args.stop_grace,
        allow_empty: args.allow_empty,
        store_grace: args.store_grace,
        events: Some(events_tap),
        progress: Some(progress_tap),
        ..Config::new(args.paths.clone())
    };
    // The daemon sends progress through its own channel.
    let (progress, _) = mpsc::unbounded_channel();
    let context = Context {
        client,
        store,
        clock: Clock::system(),
        env: env.clone(),
        progress,
        stops: context_stops,
    };
    let (control, control_rx) = mpsc::unbounded_channel();
    tokio::spawn(forward_signals(control, args.detach));
    let summary = crate::daemon::serve(config, context, listener, control_rx).await?;
    tracing::info!(
        event = "stopped",
        occurrences = summary.occurrences,
        failed = summary.failed,
        "daemon stopped"
    );
    Ok(exit::OK)
}

/// Passes the daemon's events and the sessions' progress on to the
/// control API, for its plans' problems and its events stream.
async fn feed_api(
    api: Api,
    mut events: mpsc::UnboundedReceiver<crate::daemon::Event>,
    mut progress: mpsc::UnboundedReceiver<crate::session::Progress>,
) {
    loop {
        tokio::select! {
            Some(event) = events.recv() => api.observe_event(&event),
            Some(update) = progress.recv() => api.observe_progress(&update),
            else => return,
        }
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
