//! How the PostgreSQL connections are made. Each runs as a task of the
//! runtime that made it, the caller's: the store's calls are awaited there
//! as any other I/O is.

use std::time::Duration;

use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};

use super::super::StoreError;

/// How long connecting may take before the store gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TCP keepalives, on both ends of every connection, unless the URL sets
/// its own: a server that vanishes is noticed by recplan, and a recplan
/// whose machine vanishes is noticed by the server (which then frees its
/// leases), within about a minute instead of the systems' two hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;

/// Set on every connection, each only where the server knows it.
/// `lock_timeout` bounds a wait on another writer as SQLite's busy timeout
/// does; `idle_session_timeout` must not close the lease connection, which
/// is idle by design.
const SESSION_SETTINGS: &str = "
    SELECT set_config(wanted.name, wanted.setting, false)
    FROM (VALUES ('lock_timeout', '5s'),
                 ('idle_session_timeout', '0'),
                 ('tcp_keepalives_idle', '30'),
                 ('tcp_keepalives_interval', '10'),
                 ('tcp_keepalives_count', '3')) AS wanted (name, setting)
    WHERE wanted.name IN (SELECT name FROM pg_settings)";

/// How to reach the database: the URL's settings, with recplan's defaults
/// where it sets none, and a description of it that holds no password.
pub(in crate::store) struct Settings {
    config: Config,
    target: String,
}

impl Settings {
    pub fn parse(url: &str) -> Result<Settings, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Url {
                why: "a state URL starts with postgres:// or postgresql://".to_owned(),
            });
        }
        // The error names the part that is wrong, never the URL, which
        // may carry a password.
        let mut config: Config = url.parse().map_err(|error| StoreError::Url {
            why: super::describe(&error),
        })?;
        if config.get_application_name().is_none() {
            config.application_name("recplan");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if !sets_parameter(url, "keepalives") {
            config
                .keepalives(true)
                .keepalives_idle(KEEPALIVE_IDLE)
                .keepalives_interval(KEEPALIVE_INTERVAL)
                .keepalives_retries(KEEPALIVE_RETRIES);
        }
        let target = target(&config);
        Ok(Settings { config, target })
    }

    /// The connections' `application_name`: the URL's, or `recplan`.
    pub fn application_name(&self) -> &str {
        self.config.get_application_name().unwrap_or_default()
    }

    /// The same, with connections named `application_name`.
    pub fn named(&self, application_name: &str) -> Settings {
        let mut config = self.config.clone();
        config.application_name(application_name);
        Settings {
            config,
            target: self.target.clone(),
        }
    }

    /// `postgres://user@host:port/dbname`: the URL less its password and
    /// parameters, for messages and logs.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// Whether the URL's query sets a parameter whose name starts with
/// `prefix`.
fn sets_parameter(url: &str, prefix: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query.split('&').any(|pair| {
            pair.split('=')
                .next()
                .is_some_and(|key| key.starts_with(prefix))
        })
    })
}

fn target(config: &Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let port = ports.get(index).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    format!(
        "postgres://{}@{}/{}",
        config.get_user().unwrap_or_default(),
        hosts.join(","),
        config.get_dbname().unwrap_or_default()
    )
}

/// Connects, and runs the connection as a task of the current runtime
/// until it ends, then calls `ended`.
pub(in crate::store) async fn connect(
    settings: &Settings,
    ended: impl FnOnce() + Send + 'static,
) -> Result<Client, StoreError> {
    let (client, connection) =
        settings
            .config
            .connect(NoTls)
            .await
            .map_err(|source| StoreError::Connect {
                target: settings.target.clone(),
                source,
            })?;
    let target = settings.target.clone();
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(postgres = %target, error = %super::describe(&error), "a connection to the state database ended");
        }
        ended();
    });
    client.batch_execute(SESSION_SETTINGS).await?;
    Ok(client)
}
