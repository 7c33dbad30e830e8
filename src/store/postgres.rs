//! The PostgreSQL backend: the same two tables as SQLite's in a schema of
//! a shared database, for runners on several machines. Its SQL is here;
//! the rows' meaning is in [`super::row`].
//!
//! Every write is one READ COMMITTED transaction. `begin` inserts with
//! `ON CONFLICT DO NOTHING`, which waits for a concurrent insert of the
//! same occurrence to commit, so of two runners exactly one creates the
//! session. `record` locks the session's row (`FOR UPDATE`) before reading
//! it, so concurrent transitions of one session apply one after the other;
//! `record_batch` does the same for each of its transitions, each in a
//! savepoint of its own.
//!
//! One connection serves every call of a store and its clones, one at a
//! time (as SQLite's one connection does); it is made again if it broke.
//! The writes are prepared once per connection ([`statements`]). The
//! leases have a connection of their own ([`lease`]).

mod connection;
mod control;
pub(super) mod lease;
mod schema;
mod statements;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, IsolationLevel, Row, Transaction};

use super::batch::{Change, Entry, Written};
use super::notice::Noting;
use super::rate::{self, WindowChange};
use super::row::{
    self, Begun, COLUMNS, Columns, EVENT_COLUMNS, Selection, State, event_from, session_from,
};
use super::{Begin, Event, Noted, OccurrenceKey, SessionId, StoreError, StoredSession};
use connection::{Settings, Worker};
pub(super) use lease::Advisory;
use lease::Leases;
use statements::{Connected, Statements};

/// A call's work on the connection.
type Job<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// A PostgreSQL store. Cloning is cheap: clones share its connections.
#[derive(Clone)]
pub(super) struct Postgres {
    shared: Arc<Shared>,
}

struct Shared {
    worker: Arc<Worker>,
    settings: Arc<Settings>,
    /// `None` only between a broken connection and the next call.
    connection: tokio::sync::Mutex<Option<Connected>>,
    leases: Leases,
}

impl Postgres {
    /// Connects to `url` and migrates its schema to this build's.
    pub fn connect(url: &str) -> Result<Postgres, StoreError> {
        let settings = Arc::new(Settings::parse(url)?);
        let worker = Worker::start()?;
        let (client, namespace) = worker.block({
            let settings = Arc::clone(&settings);
            async move {
                let mut client = connection::connect(&settings, || {}).await?;
                schema::migrate(&mut client, settings.target()).await?;
                let namespace = schema::namespace(&client).await?;
                Ok((client, namespace))
            }
        })?;
        tracing::debug!(postgres = %settings.target(), "state store connected");
        let leases = Leases::start(&worker, Arc::clone(&settings), namespace);
        Ok(Postgres {
            shared: Arc::new(Shared {
                worker,
                settings,
                connection: tokio::sync::Mutex::new(Some(Connected::new(client))),
                leases,
            }),
        })
    }

    /// Where the store is, without the password.
    pub fn target(&self) -> &str {
        self.shared.settings.target()
    }

    /// Runs `job` on the connection, once earlier calls are done, and
    /// waits for its answer.
    fn run<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Connected) -> Job<'c, T> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        self.shared.worker.block(async move {
            let mut slot = shared.connection.lock().await;
            let connected = match slot.take() {
                Some(connected) if !connected.client.is_closed() => slot.insert(connected),
                _ => slot.insert(Connected::new(
                    connection::connect(&shared.settings, || {}).await?,
                )),
            };
            job(connected).await
        })
    }

    /// Begins a session; for a new one, `before_commit` runs with its id
    /// inside the inserting transaction, before other processes can see it
    /// (on a blocking thread, so that it may itself use the store: take
    /// the session's lease, say).
    pub fn begin<T: Send + 'static>(
        &self,
        begun: &Begun,
        before_commit: impl FnOnce(SessionId) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<(Begin, Option<T>), StoreError> {
        let begun = begun.clone();
        self.run(move |Connected { client, statements }| {
            Box::pin(async move {
                let tx = transaction(client).await?;
                let insert = statements
                    .get(
                        &tx,
                        "INSERT INTO sessions (plan, plan_path, plan_hash, mode, app_id, cname,
                             uid, backup_uid, scheduled_start, scheduled_end, step_count, phase,
                             current_uid, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $7, $13, $13)
                         ON CONFLICT (plan, cname, uid, scheduled_start) DO NOTHING
                         RETURNING id",
                    )
                    .await?;
                let inserted = tx
                    .query_opt(
                        &insert,
                        &[
                            &begun.plan,
                            &begun.plan_path,
                            &begun.plan_hash,
                            &begun.mode,
                            &begun.app_id,
                            &begun.cname,
                            &begun.uid,
                            &begun.backup_uid,
                            &begun.scheduled_start,
                            &begun.scheduled_end,
                            &begun.step_count,
                            &begun.phase,
                            &begun.at,
                        ],
                    )
                    .await?;
                let Some(inserted) = inserted else {
                    // The conflicting insert has committed: ON CONFLICT
                    // waited for it, and this statement sees it.
                    let key = Selection::Key(OccurrenceKey {
                        plan: begun.plan,
                        cname: begun.cname,
                        uid: begun.uid,
                        scheduled_start: begun.scheduled_start,
                    });
                    let existing = select_in(&tx, &key)
                        .await?
                        .pop()
                        .ok_or_else(|| StoreError::corrupt("a conflicting session vanished"))?;
                    return Ok((Begin::AlreadyExists(existing.id, existing.phase), None));
                };
                let id = SessionId(inserted.try_get(0)?);
                let begun_event = statements
                    .get(
                        &tx,
                        "INSERT INTO events (session, at, kind, detail)
                         VALUES ($1, $2, 'begun', '{}')",
                    )
                    .await?;
                tx.execute(&begun_event, &[&id.0, &begun.at]).await?;
                let done = tokio::task::spawn_blocking(move || before_commit(id))
                    .await
                    .map_err(|_| StoreError::WorkerStopped)??;
                tx.commit().await?;
                Ok((Begin::Created(id), Some(done)))
            })
        })
    }

    pub fn record(&self, entry: &Entry) -> Result<StoredSession, StoreError> {
        let entry = entry.clone();
        self.run(move |Connected { client, statements }| {
            Box::pin(async move {
                let tx = transaction(client).await?;
                let next = write_transition(&tx, statements, &entry).await?;
                tx.commit().await?;
                Ok(next)
            })
        })
    }

    /// Records `entries` in one transaction, each in a savepoint: see
    /// [`super::Store::record_batch`].
    pub fn record_batch(&self, entries: &[Entry]) -> Result<Written, StoreError> {
        let entries = entries.to_vec();
        self.run(move |Connected { client, statements }| {
            Box::pin(async move {
                let mut tx = transaction(client).await?;
                let mut written = Vec::with_capacity(entries.len());
                for entry in &entries {
                    let savepoint = tx.savepoint("transition").await?;
                    match write_transition(&savepoint, statements, entry).await {
                        Ok(next) => {
                            savepoint.commit().await?;
                            written.push(Ok(next));
                        }
                        Err(error) => {
                            savepoint.rollback().await?;
                            written.push(Err(error));
                        }
                    }
                }
                tx.commit().await?;
                Ok(written)
            })
        })
    }

    pub fn select(&self, selection: &Selection) -> Result<Vec<StoredSession>, StoreError> {
        let selection = selection.clone();
        self.run(move |connected| {
            Box::pin(async move { select_in(&connected.client, &selection).await })
        })
    }

    /// The ids of active sessions whose advisory lock (see [`lease`]) no
    /// connection holds.
    pub fn unleased(&self) -> Result<Vec<SessionId>, StoreError> {
        self.run(move |connected| {
            Box::pin(async move {
                let rows = connected
                    .client
                    .query(
                        "SELECT id FROM sessions s WHERE finished_at IS NULL AND NOT EXISTS (
                             SELECT FROM pg_locks l
                             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                                 AND l.classid = 'sessions'::regclass::oid
                                 AND l.objid::bigint = s.id)
                         ORDER BY id",
                        &[],
                    )
                    .await?;
                rows.iter()
                    .map(|row| Ok(SessionId(row.try_get(0)?)))
                    .collect()
            })
        })
    }

    /// Changes `app_id`'s shared rate window with its row locked, at the
    /// server's clock, which every runner shares whatever its own says.
    pub fn change_window(
        &self,
        app_id: &str,
        change: WindowChange,
    ) -> Result<Option<Duration>, StoreError> {
        let app_id = app_id.to_owned();
        self.run(move |Connected { client, statements }| {
            Box::pin(async move {
                let tx = transaction(client).await?;
                let create = statements
                    .get(
                        &tx,
                        "INSERT INTO rate_windows (app_id) VALUES ($1) ON CONFLICT DO NOTHING",
                    )
                    .await?;
                tx.execute(&create, &[&app_id]).await?;
                let select = statements
                    .get(
                        &tx,
                        "SELECT grants, paused_until,
                             (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
                         FROM rate_windows WHERE app_id = $1 FOR UPDATE",
                    )
                    .await?;
                let row = tx.query_one(&select, &[&app_id]).await?;
                let mut window = rate::window_from(row.try_get(0)?, row.try_get(1)?)?;
                let now: i64 = row.try_get(2)?;
                if let Some(wait) = change.apply(&mut window, now) {
                    return Ok(Some(wait));
                }
                let update = statements
                    .get(
                        &tx,
                        "UPDATE rate_windows SET grants = $2, paused_until = $3 WHERE app_id = $1",
                    )
                    .await?;
                tx.execute(
                    &update,
                    &[&app_id, &rate::grants_text(&window), &window.paused_until],
                )
                .await?;
                tx.commit().await?;
                Ok(None)
            })
        })
    }

    /// Records a notice against the session of its sid, in one
    /// transaction: see [`super::Store::record_notice`].
    pub fn record_notice(&self, noting: &Noting) -> Result<Noted, StoreError> {
        let noting = noting.clone();
        self.run(move |Connected { client, statements }| {
            Box::pin(async move {
                let notice = &noting.notice;
                let tx = transaction(client).await?;
                let Some(session) = select_in(&tx, &Selection::Sid(notice.sid.clone()))
                    .await?
                    .pop()
                else {
                    return Ok(Noted::UnknownSid);
                };
                // No conflict target: a clash on either key (the id, or
                // sid, uid, event type and sequence) makes the notice a
                // duplicate. A concurrent insert of the same notice is
                // waited for, then found.
                let insert = statements
                    .get(
                        &tx,
                        "INSERT INTO notices (notice_id, session, sid, uid, event_type, sequence,
                             received_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT DO NOTHING",
                    )
                    .await?;
                let inserted = tx
                    .execute(
                        &insert,
                        &[
                            &notice.notice_id,
                            &session.id.0,
                            &notice.sid,
                            &notice.uid,
                            &i64::from(notice.event_type),
                            &notice.sequence,
                            &noting.at,
                        ],
                    )
                    .await?;
                if inserted == 0 {
                    return Ok(Noted::Duplicate {
                        session: session.id,
                    });
                }
                let insert_event = statements
                    .get(
                        &tx,
                        "INSERT INTO events (session, at, kind, detail) VALUES ($1, $2, $3, $4)
                         RETURNING id",
                    )
                    .await?;
                let event: i64 = tx
                    .query_one(
                        &insert_event,
                        &[
                            &session.id.0,
                            &noting.at,
                            &notice.kind,
                            &notice.detail.to_string(),
                        ],
                    )
                    .await?
                    .try_get(0)?;
                if let Some(upload) = &notice.upload {
                    // `updated_at` stays the last transition's time.
                    let update = statements
                        .get(
                            &tx,
                            "UPDATE sessions SET upload_notified = $2,
                                 upload_notified_files = coalesce($3, upload_notified_files),
                                 upload_notified_at = $4
                             WHERE id = $1",
                        )
                        .await?;
                    tx.execute(
                        &update,
                        &[&session.id.0, &upload.status, &noting.files, &noting.at],
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(Noted::Recorded {
                    session: session.id,
                    event,
                })
            })
        })
    }

    pub fn events(&self, id: SessionId) -> Result<Vec<Event>, StoreError> {
        self.run(move |connected| {
            Box::pin(async move {
                let rows = connected
                    .client
                    .query(
                        &format!(
                            "SELECT {EVENT_COLUMNS} FROM events WHERE session = $1 ORDER BY id"
                        ),
                        &[&id.0],
                    )
                    .await?;
                rows.iter().map(|row| event_from(row, id)).collect()
            })
        })
    }

    /// Locks session `id` for this store's process, or `None` if another
    /// process holds it.
    pub fn lease(&self, id: SessionId) -> Result<Option<Advisory>, StoreError> {
        self.shared.leases.take(id)
    }
}

/// READ COMMITTED whatever the server's default: each statement sees what
/// other runners committed before it, and row locks order the writers.
async fn transaction(client: &mut Client) -> Result<Transaction<'_>, StoreError> {
    Ok(client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await?)
}

async fn select_in(
    client: &impl GenericClient,
    selection: &Selection,
) -> Result<Vec<StoredSession>, StoreError> {
    let limit;
    let (clause, params): (&str, Vec<&(dyn ToSql + Sync)>) = match selection {
        Selection::Id(id) => ("WHERE id = $1", vec![&id.0]),
        // As SQLite's: the WHERE clause matches index `events_by_sid`.
        Selection::Sid(sid) => (
            "WHERE id = (SELECT session FROM events
                 WHERE kind = 'started' AND ((detail::jsonb) -> 'recording' ->> 'sid') = $1
                 ORDER BY id DESC LIMIT 1)",
            vec![sid],
        ),
        Selection::Key(key) => (
            "WHERE plan = $1 AND cname = $2 AND uid = $3 AND scheduled_start = $4",
            vec![&key.plan, &key.cname, &key.uid, &key.scheduled_start],
        ),
        Selection::Active => ("WHERE finished_at IS NULL ORDER BY id", vec![]),
        Selection::Recent(count) => {
            limit = *count;
            (
                "ORDER BY scheduled_start DESC, id DESC LIMIT $1",
                vec![&limit],
            )
        }
        Selection::History { plan, since } => (
            "WHERE ($1::text IS NULL OR plan = $1) AND ($2::timestamptz IS NULL OR scheduled_start >= $2)
             ORDER BY scheduled_start, id",
            vec![plan, since],
        ),
    };
    let rows = client
        .query(&format!("SELECT {COLUMNS} FROM sessions {clause}"), &params)
        .await?;
    rows.iter().map(session_from).collect()
}

/// Writes one transition in transaction `tx`: the session's new state and
/// its event, the session's row locked (`FOR UPDATE`) before it is read.
async fn write_transition(
    tx: &Transaction<'_>,
    statements: &mut Statements,
    entry: &Entry,
) -> Result<StoredSession, StoreError> {
    let Change { id, at, transition } = &entry.change;
    let select = statements
        .get(
            tx,
            &format!("SELECT {COLUMNS} FROM sessions WHERE id = $1 FOR UPDATE"),
        )
        .await?;
    let current = tx
        .query_opt(&select, &[&id.0])
        .await?
        .ok_or(StoreError::NotFound(*id))?;
    let next = super::transition::apply(&session_from(&current)?, transition, *at)?;
    write_state(tx, statements, &State::of(&next)?).await?;
    let event = statements
        .get(
            tx,
            "INSERT INTO events (session, at, kind, detail) VALUES ($1, $2, $3, $4)",
        )
        .await?;
    tx.execute(
        &event,
        &[
            &id.0,
            &row::stored_instant(*at),
            &transition.kind(),
            &entry.detail,
        ],
    )
    .await?;
    Ok(next)
}

async fn write_state(
    tx: &Transaction<'_>,
    statements: &mut Statements,
    state: &State,
) -> Result<(), StoreError> {
    let update = statements
        .get(
            tx,
            "UPDATE sessions SET phase = $2, resource_id = $3, sid = $4, current_uid = $5,
                 steps_done = $6, step_in_flight = $7, stop_requested = $8, files = $9,
                 uploading_status = $10, error = $11, starts = $12, updated_at = $13,
                 finished_at = $14
             WHERE id = $1",
        )
        .await?;
    tx.execute(
        &update,
        &[
            &state.id,
            &state.phase,
            &state.resource_id,
            &state.sid,
            &state.current_uid,
            &state.steps_done,
            &state.step_in_flight,
            &state.stop_requested,
            &state.files,
            &state.uploading_status,
            &state.error,
            &state.starts,
            &state.updated_at,
            &state.finished_at,
        ],
    )
    .await?;
    Ok(())
}

/// Instants are `timestamptz` here, read as UTC.
impl Columns for Row {
    fn text(&self, index: usize) -> Result<String, StoreError> {
        Ok(self.try_get(index)?)
    }

    fn optional_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(index)?)
    }

    fn integer(&self, index: usize) -> Result<i64, StoreError> {
        Ok(self.try_get(index)?)
    }

    fn optional_integer(&self, index: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(index)?)
    }

    fn flag(&self, index: usize) -> Result<bool, StoreError> {
        Ok(self.try_get(index)?)
    }

    fn instant(&self, index: usize) -> Result<DateTime<Utc>, StoreError> {
        Ok(self.try_get(index)?)
    }

    fn optional_instant(&self, index: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.try_get(index)?)
    }
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
