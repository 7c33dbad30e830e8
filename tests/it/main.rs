//! recplan's integration tests: one binary, one module per area.

mod cli;
mod client;
mod resilience;
mod run;
mod schedule;
mod signals;
mod sim;
mod support;
mod validate;
