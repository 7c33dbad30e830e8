//! The rate limit every runner on one store shares (see
//! [`crate::agora::ratelimit`]): one row per App ID in `rate_windows`,
//! changed under the store's write lock (SQLite) or the row's lock
//! (PostgreSQL), so that two runners never both take the last slot.

use std::sync::Arc;
use std::time::Duration;

use crate::agora::ratelimit::{RateLimit, SharedError, SharedWindow, Window};

use super::{Backend, Store, StoreError};

/// What a change does to an App ID's window at an instant.
#[derive(Clone, Copy, Debug)]
pub(super) enum WindowChange {
    Take(RateLimit),
    Pause(Duration),
}

impl WindowChange {
    /// Applies the change to `window` at `now`: `Some(wait)` when a slot
    /// was wanted and none is free, the window then unchanged.
    pub fn apply(self, window: &mut Window, now: i64) -> Option<Duration> {
        match self {
            WindowChange::Take(limit) => window.take(now, &limit).err(),
            WindowChange::Pause(pause) => {
                window.pause(now, pause);
                None
            }
        }
    }
}

/// The grants column's text.
pub(super) fn grants_text(window: &Window) -> String {
    serde_json::Value::from(window.grants.clone()).to_string()
}

pub(super) fn window_from(grants: &str, paused_until: Option<i64>) -> Result<Window, StoreError> {
    let grants = serde_json::from_str(grants)
        .map_err(|error| StoreError::corrupt(format!("rate_windows.grants: {error}")))?;
    Ok(Window {
        grants,
        paused_until,
    })
}

impl Store {
    /// The window this store shares with every runner that opens it; none
    /// for a store in memory, which only its own process sees.
    pub fn rate_window(&self) -> Option<Arc<dyn SharedWindow>> {
        match &self.backend {
            Backend::Sqlite(db) if db.path().is_none() => None,
            _ => Some(Arc::new(self.clone())),
        }
    }

    fn change_window(
        &self,
        app_id: &str,
        change: WindowChange,
    ) -> Result<Option<Duration>, StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.change_window(app_id, change),
            Backend::Postgres(db) => db.change_window(app_id, change),
        }
    }
}

impl SharedWindow for Store {
    fn take(&self, app_id: &str, limit: &RateLimit) -> Result<Option<Duration>, SharedError> {
        Ok(self.change_window(app_id, WindowChange::Take(*limit))?)
    }

    fn pause(&self, app_id: &str, pause: Duration) -> Result<(), SharedError> {
        self.change_window(app_id, WindowChange::Pause(pause))?;
        Ok(())
    }
}
