//! The rate limit every runner on one store shares (see
//! [`crate::agora::ratelimit`]): one row per App ID in `rate_windows`,
//! changed under the store's write lock (SQLite) or the row's lock
//! (PostgreSQL), so that two runners never both take the last slot.

use std::sync::Arc;
use std::time::Duration;

use crate::agora::ratelimit::{
    Asker, Priority, RateLimit, Reservation, SharedFuture, SharedWindow, Slot, Waiting, Window,
};

use chrono::Utc;

use super::database::{Connection, Database, values};
use super::{Store, StoreError};

/// What a change does to an App ID's window at an instant.
#[derive(Clone, Copy, Debug)]
pub(super) enum WindowChange {
    Take(RateLimit, Asker),
    Pause(Duration),
}

impl WindowChange {
    /// Applies the change to `window` at `now`: the slot a take reserved
    /// (none for a pause), or how long until one may be.
    pub fn apply(self, window: &mut Window, now: i64) -> Result<Option<Reservation>, Duration> {
        match self {
            WindowChange::Take(limit, asker) => window.reserve(now, &limit, asker).map(Some),
            WindowChange::Pause(pause) => {
                window.pause(now, pause);
                Ok(None)
            }
        }
    }
}

/// The grants column's text.
fn grants_text(window: &Window) -> String {
    serde_json::Value::from(window.grants.clone()).to_string()
}

/// The waiting column's text: `[runner, priority, until]` per runner,
/// the priority as its place in [`Priority::ALL`].
fn waiting_text(window: &Window) -> String {
    let rows: Vec<(u64, usize, i64)> = window
        .waiting
        .iter()
        .map(|w| (w.runner, w.priority.index(), w.until))
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned())
}

fn window_from(
    grants: &str,
    paused_until: Option<i64>,
    waiting: &str,
) -> Result<Window, StoreError> {
    let grants = serde_json::from_str(grants)
        .map_err(|error| StoreError::corrupt(format!("rate_windows.grants: {error}")))?;
    let rows: Vec<(u64, usize, i64)> = serde_json::from_str(waiting)
        .map_err(|error| StoreError::corrupt(format!("rate_windows.waiting: {error}")))?;
    let waiting = rows
        .into_iter()
        .map(|(runner, priority, until)| {
            let priority = *Priority::ALL.get(priority).ok_or_else(|| {
                StoreError::corrupt(format!("rate_windows.waiting: priority {priority}"))
            })?;
            Ok(Waiting {
                runner,
                priority,
                until,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Window {
        grants,
        paused_until,
        waiting,
    })
}

impl Store {
    /// The window this store shares with every runner that opens it; none
    /// for a store in memory, which only its own process sees.
    pub fn rate_window(&self) -> Option<Arc<dyn SharedWindow>> {
        if !self.backend.is_shared() {
            return None;
        }
        Some(Arc::new(self.clone()))
    }

    async fn change_window(
        &self,
        app_id: &str,
        change: WindowChange,
    ) -> Result<Result<Option<Reservation>, Duration>, StoreError> {
        let app_id = app_id.to_owned();
        on_database!(self, |db| change_window(db, &app_id, change))
    }
}

/// Changes `app_id`'s shared rate window with its row locked (PostgreSQL)
/// or under the write lock (SQLite), at the clock every runner on the store
/// shares (see [`super::database::Dialect::now_micros`]).
async fn change_window(
    db: &impl Database,
    app_id: &str,
    change: WindowChange,
) -> Result<Result<Option<Reservation>, Duration>, StoreError> {
    let mut tx = db.transaction().await?;
    let outcome = write_window(&mut tx, app_id, change).await;
    tx.finish(outcome).await
}

async fn write_window<C: Connection>(
    tx: &mut C,
    app_id: &str,
    change: WindowChange,
) -> Result<Result<Option<Reservation>, Duration>, StoreError> {
    tx.execute(
        "INSERT INTO rate_windows (app_id) VALUES ($1) ON CONFLICT DO NOTHING",
        &values![app_id],
    )
    .await?;
    let (now, lock) = (C::DIALECT.now_micros, C::DIALECT.lock_row);
    let rows = tx
        .query(
            &format!(
                "SELECT grants, paused_until, waiting, {now} FROM rate_windows \
                 WHERE app_id = $1{lock}"
            ),
            &values![app_id],
        )
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| StoreError::corrupt(format!("no rate window for {app_id}")))?;
    let mut window = window_from(&row.text(0)?, row.optional_integer(1)?, &row.text(2)?)?;
    let now = row
        .optional_integer(3)?
        .unwrap_or_else(|| Utc::now().timestamp_micros());
    // Written even when no slot is free: the asker's priority is noted.
    let outcome = change.apply(&mut window, now);
    tx.execute(
        "UPDATE rate_windows SET grants = $2, paused_until = $3, waiting = $4 WHERE app_id = $1",
        &values![
            app_id,
            grants_text(&window),
            window.paused_until,
            waiting_text(&window)
        ],
    )
    .await?;
    Ok(outcome)
}

impl SharedWindow for Store {
    fn take<'a>(
        &'a self,
        app_id: &'a str,
        limit: &'a RateLimit,
        asker: Asker,
    ) -> SharedFuture<'a, Slot> {
        Box::pin(async move {
            Ok(
                match self
                    .change_window(app_id, WindowChange::Take(*limit, asker))
                    .await?
                {
                    Ok(Some(reservation)) => Slot::Reserved(reservation),
                    Ok(None) => return Err("a take reserved nothing".into()),
                    Err(wait) => Slot::Wait(wait),
                },
            )
        })
    }

    fn pause<'a>(&'a self, app_id: &'a str, pause: Duration) -> SharedFuture<'a, ()> {
        Box::pin(async move {
            // A pause always applies: nothing to wait for.
            let _paused = self
                .change_window(app_id, WindowChange::Pause(pause))
                .await?;
            Ok(())
        })
    }
}
