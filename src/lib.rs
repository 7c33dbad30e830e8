//! recplan executes declarative recording plans against Agora Cloud Recording.
//!
//! Data flows one way through the crate:
//!
//! 1. [`plan`] loads a YAML plan file, keeps every value's position, and
//!    validates it into a [`plan::Plan`]: nothing downstream checks it again.
//! 2. [`schedule`] turns the plan's cron line and timezone into start instants.
//! 3. A plan plus one start instant is an occurrence; rendering it for a
//!    channel yields the exact Agora request bodies of one session.
//! 4. [`session`] drives one session through the Cloud Recording REST API
//!    with the [`agora`] client: acquire, start, steps, query, stop.
//! 5. [`sim`] is an in-process simulator of that API, used by the tests and
//!    by `recplan run --sim`.

pub mod agora;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod console;
pub mod daemon;
pub mod export;
pub mod ncs;
pub mod plan;
pub mod schedule;
pub mod session;
pub mod sim;
pub mod store;
mod suggest;
pub mod token;
