//! What the commands share: the API client (Agora or the built-in
//! simulator), the state store's options, and the signals that stop them.

use std::path::PathBuf;

use crate::agora::{Client, ClientConfig, RateLimiter, ResilientClient, RetryPolicy};
use crate::plan::Env;
use crate::sim::{self, SimConfig, SimHandle, Simulator};

/// With `--sim` (`wanted`), starts the in-process simulator and makes its
/// App ID the default; without it, none. The caller says where it
/// listens, as its output goes. `Err` is the exit code, the
/// reason already reported.
pub async fn simulator(wanted: bool, env: &mut Env) -> Result<Option<SimHandle>, u8> {
    if !wanted {
        return Ok(None);
    }
    simulated_env(env);
    Simulator::start(SimConfig::default())
        .await
        .map(Some)
        .map_err(|e| {
            errln!("error: cannot start the simulator: {e}");
            super::exit::FAILED
        })
}

/// The simulator's App ID stands in for an unset `AGORA_APP_ID`: set
/// before plans are loaded, so that they validate as they will run.
pub fn simulated_env(env: &mut Env) {
    if env.get("AGORA_APP_ID").is_none() {
        *env = env.clone().with("AGORA_APP_ID", sim::DEMO_APP_ID);
    }
}

/// A paced, retrying client for the simulator, or for Agora from the
/// environment. `app_id` stands in for an unset `AGORA_APP_ID` (plans may
/// carry their own).
pub fn api_client(
    env: &Env,
    simulator: Option<&SimHandle>,
    app_id: &str,
) -> Result<ResilientClient, String> {
    let config = match simulator {
        Some(handle) => sim::client_config(&handle.uri(), app_id).map_err(|e| e.to_string())?,
        None => ClientConfig::from_env(|name| {
            env.get(name)
                .map(str::to_owned)
                .or_else(|| (name == "AGORA_APP_ID").then(|| app_id.to_owned()))
        })
        .map_err(|e| e.to_string())?,
    };
    let client = Client::new(config).map_err(|e| e.to_string())?;
    Ok(ResilientClient::new(
        client,
        RateLimiter::default(),
        RetryPolicy::default(),
    ))
}

/// A signal that asks recplan to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C or SIGTERM.
    Stop,
    /// SIGHUP.
    Reload,
}

/// Delivers signals as they come.
pub struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                terminate: signal(SignalKind::terminate())?,
                hangup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    pub async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Signal::Stop,
                _ = self.terminate.recv() => Signal::Stop,
                _ = self.hangup.recv() => Signal::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop
        }
    }
}

/// Where the state store is: the options every command that reads or
/// writes it takes.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// Where session state is kept; default `$XDG_STATE_HOME/recplan`.
    #[arg(
        long,
        env = "RECPLAN_STATE_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    state_dir: Option<PathBuf>,
    /// The PostgreSQL state store, `postgres://user@host/db`; takes
    /// precedence over --state-dir.
    #[arg(
        long,
        env = "RECPLAN_STATE",
        hide_env_values = true,
        value_name = "URL"
    )]
    state: Option<String>,
}

impl StateArgs {
    /// The state store: the PostgreSQL database at `--state`
    /// (`$RECPLAN_STATE`), else SQLite in `--state-dir`
    /// (`$RECPLAN_STATE_DIR`), else in the default state directory. With the
    /// in-process simulator, whose recordings end with the process, it lives
    /// in memory unless a place is given.
    pub async fn open(&self, simulated: bool) -> Result<crate::store::Store, String> {
        use crate::store::Store;
        let opened = match (&self.state, &self.state_dir) {
            (Some(url), _) => Store::open_url(url).await,
            (None, _) if self.in_memory(simulated) => Store::open_in_memory().await,
            (None, Some(dir)) => Store::open(dir).await,
            (None, None) => match crate::store::default_dir(|name| std::env::var_os(name)) {
                Ok(dir) => Store::open(&dir).await,
                Err(error) => Err(error),
            },
        };
        opened.map_err(|e| format!("state store: {e}"))
    }

    /// The options that reach `store` again, for commands printed for
    /// people to run: `--state-dir DIR` for SQLite; nothing for
    /// PostgreSQL, whose URL may hold a password (the same `--state` or
    /// `RECPLAN_STATE` is needed).
    pub fn flags_for(&self, store: &crate::store::Store) -> String {
        match store.path().and_then(std::path::Path::parent) {
            Some(dir) if self.state.is_none() => format!(" --state-dir {}", shell_word(dir)),
            _ => String::new(),
        }
    }

    /// Whether [`StateArgs::open`] keeps the store in memory: with the
    /// simulator, when no place is given.
    pub fn in_memory(&self, simulated: bool) -> bool {
        simulated && self.state.is_none() && self.state_dir.is_none()
    }

    /// The state store for commands that only read it: the PostgreSQL
    /// database if one is named, else the SQLite store if its database
    /// exists. `Ok(None)` names the directory that holds none: asking
    /// never creates one.
    pub async fn open_existing(&self) -> Result<Existing, String> {
        use crate::store::{DB_FILE, Store};
        if self.state.is_some() {
            return self.open(false).await.map(Existing::Open);
        }
        let dir = match &self.state_dir {
            Some(dir) => dir.clone(),
            None => crate::store::default_dir(|name| std::env::var_os(name))
                .map_err(|e| format!("state store: {e}"))?,
        };
        if !dir.join(DB_FILE).is_file() {
            return Ok(Existing::Missing(dir));
        }
        Store::open(&dir)
            .await
            .map(Existing::Open)
            .map_err(|e| format!("state store: {e}"))
    }
}

/// `path` as one shell word: as it is when that is safe, else in single
/// quotes.
fn shell_word(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@%,".contains(c))
    {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// What [`StateArgs::open_existing`] found.
pub enum Existing {
    Open(crate::store::Store),
    /// The state directory holds no store (or does not exist).
    Missing(PathBuf),
}

/// The async runtime the long-running commands work in; `None` (reported)
/// if the system refuses one.
pub fn runtime() -> Option<tokio::runtime::Runtime> {
    crate::session::runtime()
        .map_err(|error| errln!("error: cannot start the async runtime: {error}"))
        .ok()
}
