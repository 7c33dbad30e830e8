//! recplan's integration tests: one binary, one module per area.

mod cli;
mod client;
mod crash;
mod daemon;
mod export;
mod resilience;
mod run;
mod schedule;
mod signals;
mod sim;
mod store;
mod support;
mod token;
mod validate;
