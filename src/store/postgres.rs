//! The PostgreSQL database: the same tables as SQLite's in a schema of a
//! shared database, for runners on several machines. What it says in SQL
//! is in [`super::queries`]; here is how it connects and how it runs a
//! statement ([`Database`]).
//!
//! One connection serves every call of a store and its clones, one at a
//! time (as SQLite's one connection does); it is made again if it broke.
//! Statements are prepared once per connection ([`statements`]). Every
//! transaction is READ COMMITTED whatever the server's default: each
//! statement sees what other runners committed before it, and row locks
//! order the writers. The leases have a connection of their own
//! ([`lease`]).

mod connection;
pub(super) mod lease;
mod schema;
mod statements;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use super::database::{Cell, Connection, Database, Dialect, Record, Value};
use super::{Driving, SessionId, StoreError};
use connection::Settings;
pub(super) use lease::Advisory;
use lease::Leases;
use statements::Connected;

/// A PostgreSQL store. Cloning is cheap: clones share its connections.
#[derive(Clone)]
pub(super) struct Postgres {
    connections: Arc<Connections>,
    leases: Leases,
}

impl Postgres {
    /// Connects to `url` and migrates its schema to this build's. The
    /// connections run as tasks of the runtime this is called on.
    pub async fn connect(url: &str) -> Result<Postgres, StoreError> {
        let settings = Settings::parse(url)?;
        let connections = Arc::new(Connections {
            settings,
            slot: tokio::sync::Mutex::new(None),
        });
        super::schema::migrate(&*connections).await?;
        let namespace = schema::namespace(&*connections).await?;
        tracing::debug!(postgres = %connections.settings.target(), "state store connected");
        let leases = Leases::start(&connections.settings, namespace);
        Ok(Postgres {
            connections,
            leases,
        })
    }

    /// Where the store is, without the password.
    pub fn target(&self) -> &str {
        self.connections.settings.target()
    }

    /// The store's connection, for a call to run on.
    pub fn connections(&self) -> &Connections {
        &self.connections
    }

    /// Locks session `id` for this store's process, or `None` if another
    /// process holds it.
    pub async fn lease(&self, id: SessionId) -> Result<Option<Advisory>, StoreError> {
        self.leases.take(id).await
    }

    /// Who holds session `id`'s lock: see [`lease::holder`].
    pub async fn holder(&self, id: SessionId) -> Result<Driving, StoreError> {
        lease::holder(self.connections(), id).await
    }
}

/// The store's connection to the database, made when first needed.
pub(super) struct Connections {
    settings: Settings,
    /// `None` until the first call, and between a broken connection and
    /// the next call.
    slot: tokio::sync::Mutex<Option<Connected>>,
}

impl Database for Connections {
    type Connection<'a> = PostgresConnection<'a>;

    async fn connection(&self) -> Result<PostgresConnection<'_>, StoreError> {
        let mut slot = self.slot.lock().await;
        if slot
            .as_ref()
            .is_none_or(|connected| connected.client.is_closed())
        {
            *slot = Some(Connected::new(
                connection::connect(&self.settings, || {}).await?,
            ));
        }
        Ok(PostgresConnection {
            slot,
            target: self.settings.target(),
            open: false,
        })
    }

    async fn transaction(&self) -> Result<PostgresConnection<'_>, StoreError> {
        let mut connection = self.connection().await?;
        connection
            .connected()?
            .client
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await?;
        connection.open = true;
        Ok(connection)
    }
}

/// The store's connection, held until dropped.
pub(super) struct PostgresConnection<'a> {
    slot: tokio::sync::MutexGuard<'a, Option<Connected>>,
    target: &'a str,
    /// Whether this began a transaction that is not finished. Dropped so,
    /// the connection is dropped too, which makes the server roll it back.
    open: bool,
}

impl Drop for PostgresConnection<'_> {
    fn drop(&mut self) {
        if self.open {
            self.slot.take();
        }
    }
}

impl PostgresConnection<'_> {
    fn connected(&mut self) -> Result<&mut Connected, StoreError> {
        // Filled by `Connections::connection`, emptied only by a drop.
        self.slot
            .as_mut()
            .ok_or_else(|| StoreError::corrupt("the state database's connection is gone"))
    }
}

impl Connection for PostgresConnection<'_> {
    const DIALECT: Dialect = Dialect {
        started_sid: "((detail::jsonb) -> 'recording' ->> 'sid')",
        lock_row: " FOR UPDATE",
        now_micros: "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
        // Those whose advisory lock (see [`lease`]) no connection holds, in
        // this database.
        unleased: "SELECT id FROM sessions s WHERE finished_at IS NULL AND NOT EXISTS (
                SELECT FROM pg_locks l
                WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                    AND l.database = (SELECT oid FROM pg_database
                        WHERE datname = current_database())
                    AND l.classid = 'sessions'::regclass::oid
                    AND l.objid::bigint = s.id)
            ORDER BY id",
    };

    const MIGRATIONS: &'static [&'static str] = schema::MIGRATIONS;

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let Connected { client, statements } = self.connected()?;
        let statement = statements.get(client, sql).await?;
        Ok(client.execute(&statement, &parameters(params)).await?)
    }

    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Record>, StoreError> {
        let Connected { client, statements } = self.connected()?;
        let statement = statements.get(client, sql).await?;
        let rows = client.query(&statement, &parameters(params)).await?;
        rows.iter().map(record).collect()
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.connected()?.client.batch_execute(sql).await?)
    }

    /// Until the transaction is finished: a failed statement leaves it
    /// open (if aborted), for a rollback to a savepoint.
    fn in_transaction(&self) -> bool {
        self.open
    }

    async fn finish<T>(mut self, outcome: Result<T, StoreError>) -> Result<T, StoreError> {
        let end = if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        let ended = self.connected()?.client.batch_execute(end).await;
        // Left open, the connection is dropped (see `Drop`).
        self.open = ended.is_err();
        match (outcome, ended) {
            (Ok(_), Err(error)) => Err(error.into()),
            (outcome, _) => outcome,
        }
    }

    async fn schema_version(&mut self) -> Result<u32, StoreError> {
        let target = self.target;
        schema::version(&self.connected()?.client, target).await
    }

    async fn set_schema_version(&mut self, version: u32) -> Result<(), StoreError> {
        schema::set_version(&self.connected()?.client, version).await
    }
}

/// The parameters as tokio-postgres binds them.
fn parameters(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|value| -> &(dyn ToSql + Sync) {
            match value {
                Value::Text(text) => text,
                Value::Integer(number) => number,
                Value::Flag(flag) => flag,
                Value::Instant(at) => at,
            }
        })
        .collect()
}

/// A row, read by each column's type; instants as UTC.
fn record(row: &Row) -> Result<Record, StoreError> {
    let cells = row
        .columns()
        .iter()
        .enumerate()
        .map(|(index, column)| {
            let cell = match *column.type_() {
                Type::TEXT | Type::VARCHAR => {
                    row.try_get::<_, Option<String>>(index)?.map(Cell::Text)
                }
                Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Cell::Integer),
                Type::INT4 => row
                    .try_get::<_, Option<i32>>(index)?
                    .map(|number| Cell::Integer(number.into())),
                Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map(Cell::Flag),
                Type::TIMESTAMPTZ => row
                    .try_get::<_, Option<DateTime<Utc>>>(index)?
                    .map(Cell::Instant),
                ref other => {
                    return Err(StoreError::corrupt(format!(
                        "column {} is of a type recplan never writes: {other}",
                        column.name()
                    )));
                }
            };
            Ok(cell.unwrap_or(Cell::Null))
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Record(cells))
}

/// A tokio-postgres error with its causes: its own text is only the kind
/// ("db error"), while the server's message is in its source.
pub(super) fn describe(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
