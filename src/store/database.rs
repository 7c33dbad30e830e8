//! What the store asks of a database, and no more: a connection that runs
//! a statement with parameters, inside or outside a write transaction, and
//! the few words of SQL in which SQLite and PostgreSQL differ. Everything
//! the store does with them (begin a session, record a transition, a
//! batch, a notice, select sessions, migrate) is written once over these,
//! in [`super::queries`] and its neighbours.
//!
//! Statements are written with PostgreSQL's placeholders (`$1`), which the
//! SQLite side rewrites as `?1`. Values cross as [`Value`]s, typed even
//! when NULL (PostgreSQL types every parameter), and come back as
//! [`Record`]s of [`Cell`]s: an instant is RFC 3339 text in SQLite and a
//! `timestamptz` in PostgreSQL, and [`Record`] reads either.

use chrono::{DateTime, Utc};

use super::StoreError;
use super::model::parse_instant;

/// A database the store runs on.
pub(super) trait Database {
    type Connection<'a>: Connection
    where
        Self: 'a;

    /// The connection, outside any transaction, once earlier calls are
    /// done with it.
    async fn connection(&self) -> Result<Self::Connection<'_>, StoreError>;

    /// The connection in a new write transaction: one that sees what
    /// others committed before it, and whose writes wait for others'
    /// (SQLite takes the write lock at once; PostgreSQL's statements lock
    /// the rows they change, see [`Dialect::lock_row`]).
    async fn transaction(&self) -> Result<Self::Connection<'_>, StoreError>;
}

/// One connection to a [`Database`], perhaps in a transaction.
pub(super) trait Connection {
    const DIALECT: Dialect;

    /// The schema migrations, in order (see [`super::schema`]).
    const MIGRATIONS: &'static [&'static str];

    /// Runs a statement; returns how many rows it changed.
    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;

    /// Runs a query; returns its rows.
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Record>, StoreError>;

    /// Runs statements without parameters: savepoints, migrations.
    async fn batch(&mut self, sql: &str) -> Result<(), StoreError>;

    /// Whether the transaction is still open: SQLite rolls a whole
    /// transaction back on some errors (a full disk), not just the
    /// statement.
    fn in_transaction(&self) -> bool;

    /// Commits the transaction if `outcome` is a success, else rolls it
    /// back, and returns `outcome` (or why the commit failed).
    async fn finish<T>(self, outcome: Result<T, StoreError>) -> Result<T, StoreError>;

    /// Under the migration lock, the number of migrations applied: 0 for a
    /// database without recplan's tables, an error for one that is not
    /// recplan's.
    async fn schema_version(&mut self) -> Result<u32, StoreError>;

    /// Marks the database as recplan's, at schema `version`.
    async fn set_schema_version(&mut self, version: u32) -> Result<(), StoreError>;
}

/// What SQL says differently in each database.
pub(super) struct Dialect {
    /// The sid of a started event's recording, worded exactly as index
    /// `events_by_sid` is, so that a lookup by sid uses it.
    pub started_sid: &'static str,
    /// Appended to a select of the row a transition changes: PostgreSQL
    /// locks it, so that concurrent transitions of one session apply one
    /// after the other. SQLite's write lock already orders them.
    pub lock_row: &'static str,
    /// The server's clock in microseconds since the epoch, which every
    /// runner on a PostgreSQL store shares whatever its own says. NULL in
    /// SQLite, whose SQL clock keeps only milliseconds: every process on
    /// the machine reads the same clock in-process.
    pub now_micros: &'static str,
    /// The ids of active sessions that may have no live driver, oldest
    /// first (see [`super::Store::unleased`]).
    pub unleased: &'static str,
}

/// A parameter. Typed even when NULL: PostgreSQL types each parameter of
/// a statement, and a NULL of the wrong type is refused.
#[derive(Clone, Debug)]
pub(super) enum Value {
    Text(Option<String>),
    Integer(Option<i64>),
    Flag(bool),
    Instant(Option<DateTime<Utc>>),
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(Some(text))
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(Some(text.to_owned()))
    }
}

impl From<Option<String>> for Value {
    fn from(text: Option<String>) -> Value {
        Value::Text(text)
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Value {
        Value::Integer(Some(number))
    }
}

impl From<Option<i64>> for Value {
    fn from(number: Option<i64>) -> Value {
        Value::Integer(number)
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Value {
        Value::Flag(flag)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(at: DateTime<Utc>) -> Value {
        Value::Instant(Some(at))
    }
}

impl From<Option<DateTime<Utc>>> for Value {
    fn from(at: Option<DateTime<Utc>>) -> Value {
        Value::Instant(at)
    }
}

/// Parameters, each converted to a [`Value`].
macro_rules! values {
    ($($value:expr),* $(,)?) => {
        [$($crate::store::database::Value::from($value)),*]
    };
}
pub(super) use values;

/// One column of a row as the database gave it.
#[derive(Clone, Debug)]
pub(super) enum Cell {
    Null,
    Integer(i64),
    Text(String),
    Flag(bool),
    Instant(DateTime<Utc>),
}

/// One row, read column by column (0-based, in the select's order). A
/// value of another type than asked for is [`StoreError::Corrupt`].
#[derive(Clone, Debug)]
pub(super) struct Record(pub Vec<Cell>);

impl Record {
    fn cell(&self, index: usize) -> Result<&Cell, StoreError> {
        self.0
            .get(index)
            .ok_or_else(|| StoreError::corrupt(format!("no column {index}")))
    }

    fn wrong(&self, index: usize, wanted: &str) -> StoreError {
        let found = self.0.get(index);
        StoreError::corrupt(format!("column {index} is not {wanted}: {found:?}"))
    }

    pub fn optional_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        match self.cell(index)? {
            Cell::Null => Ok(None),
            Cell::Text(text) => Ok(Some(text.clone())),
            _ => Err(self.wrong(index, "text")),
        }
    }

    pub fn text(&self, index: usize) -> Result<String, StoreError> {
        self.optional_text(index)?
            .ok_or_else(|| self.wrong(index, "text"))
    }

    pub fn optional_integer(&self, index: usize) -> Result<Option<i64>, StoreError> {
        match self.cell(index)? {
            Cell::Null => Ok(None),
            Cell::Integer(number) => Ok(Some(*number)),
            _ => Err(self.wrong(index, "an integer")),
        }
    }

    pub fn integer(&self, index: usize) -> Result<i64, StoreError> {
        self.optional_integer(index)?
            .ok_or_else(|| self.wrong(index, "an integer"))
    }

    /// A boolean, or SQLite's 0 or 1.
    pub fn flag(&self, index: usize) -> Result<bool, StoreError> {
        match self.cell(index)? {
            Cell::Flag(flag) => Ok(*flag),
            Cell::Integer(0) => Ok(false),
            Cell::Integer(1) => Ok(true),
            _ => Err(self.wrong(index, "a flag")),
        }
    }

    /// A `timestamptz`, or RFC 3339 text.
    pub fn optional_instant(&self, index: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self.cell(index)? {
            Cell::Null => Ok(None),
            Cell::Instant(at) => Ok(Some(*at)),
            Cell::Text(text) => parse_instant(text).map(Some),
            _ => Err(self.wrong(index, "an instant")),
        }
    }

    pub fn instant(&self, index: usize) -> Result<DateTime<Utc>, StoreError> {
        self.optional_instant(index)?
            .ok_or_else(|| self.wrong(index, "an instant"))
    }
}
