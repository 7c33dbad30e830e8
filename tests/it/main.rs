//! recplan's integration tests: one binary, one module per area.

mod api;
mod cli;
mod client;
mod crash;
mod daemon;
mod everyday;
mod export;
mod ha;
mod help;
mod manpages;
mod model;
mod ncs;
mod operator;
mod recurrence;
mod resilience;
mod run;
mod schedule;
mod schema;
mod secrets;
mod signals;
mod sim;
mod store;
mod support;
mod token;
mod validate;
