//! Wall time that tokio's paused clock drives in tests.
//!
//! Tokio's test clock moves only its `Instant`, so wall time is derived
//! from one anchor: the wall time at an instant plus the elapsed instant
//! time since.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// Maps between wall time and tokio instants.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    wall: DateTime<Utc>,
    instant: Instant,
}

impl Clock {
    /// A clock anchored at the system's wall time now.
    pub fn system() -> Clock {
        Clock::anchored(Utc::now())
    }

    /// A clock that reads `wall` now: tests start here and `advance`.
    pub fn anchored(wall: DateTime<Utc>) -> Clock {
        Clock {
            wall,
            instant: Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.wall_at(Instant::now())
    }

    /// The wall time at `instant`.
    pub fn wall_at(&self, instant: Instant) -> DateTime<Utc> {
        let elapsed = instant.saturating_duration_since(self.instant);
        self.wall + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
    }

    /// The tokio instant of a wall time; times before the anchor map to
    /// the anchor minus the difference where representable.
    pub fn instant_at(&self, wall: DateTime<Utc>) -> Instant {
        if let Ok(ahead) = (wall - self.wall).to_std() {
            self.instant + ahead
        } else {
            let behind = (self.wall - wall).to_std().unwrap_or(Duration::ZERO);
            self.instant.checked_sub(behind).unwrap_or(self.instant)
        }
    }
}
