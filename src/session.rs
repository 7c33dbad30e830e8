//! One recording of one channel for one occurrence: its timeline of calls
//! and the runner that sees it through.

mod timeline;

pub use timeline::{CONFIRM_AFTER, PlannedCall, query_interval, timeline};
