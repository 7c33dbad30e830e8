//! recplan's integration tests: one binary, one module per area.

mod cli;
mod client;
mod schedule;
mod sim;
mod support;
mod validate;
