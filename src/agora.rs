//! Agora Cloud Recording's REST API: the request and response bodies, with
//! Agora's own field names, and the client that sends them.
//!
//! Field names here are Agora's, verbatim (camelCase, and snake_case where
//! Agora uses it, as in `layoutConfig` items and `async_stop`), so Agora's
//! documentation applies to plans and to these types as written.

mod endpoint;
pub mod facts;
mod mode;
pub mod request;
mod secret;
pub mod storage;

pub use endpoint::Endpoint;
pub use mode::Mode;
pub use secret::{SECRET_FIELDS, Secret, mask_secrets};

pub mod call;
pub mod client;
pub mod error;
pub mod ratelimit;
pub mod response;
pub mod retry;

pub use call::Call;
pub use client::{ApiBase, Client, ClientConfig, Credentials, MAX_IN_FLIGHT, Recording};
pub use error::{ApiError, ConfigError};
pub use ratelimit::{
    Asker, Priority, RateLimit, RateLimiter, Reservation, SharedSlots, SharedWindow, Slot,
    WaitStats, Window,
};
pub use retry::{Area, ErrorClass, Presence, ResilientClient, RetryPolicy, Started};
