//! The daemon's calendars: fetching `ics` URLs again every plan's
//! `refresh`, noticing changed calendar files (the plans that follow them
//! are then loaded again), and serving the plans' upcoming recordings at
//! `/calendar.ics`.
//!
//! A failed fetch keeps the last good copy (see
//! [`crate::plan::ics_source`]); the plans stay in force and validation
//! warns about the stale copy.

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use tokio::sync::mpsc;

use super::{Control, Ended};
use crate::calendar::{self, Window};
use crate::plan::{self, Env, MissingEnv, Options, ics_source};
use crate::schedule::Tz;

/// How often calendars are looked at: URLs are fetched only once their
/// plan's `refresh` has passed, files only read when they changed.
const TICK: Duration = Duration::from_secs(60);

/// How many days `/calendar.ics` covers.
const FEED_DAYS: u16 = 28;

/// Fetches due URLs and checks calendar files every [`TICK`]; has the
/// plans that follow a changed calendar loaded again.
pub async fn refresh(control: mpsc::UnboundedSender<Control>) -> Ended {
    let mut ticks = tokio::time::interval(TICK);
    // A late tick fetches what is due then; catching up would fetch twice.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let now = Utc::now();
        let mut plans = ics_source::changed_files();
        for url in ics_source::due(now) {
            if ics_source::refresh(&url, now).await {
                plans.extend(ics_source::plans_of(&url));
            }
        }
        if !plans.is_empty() && control.send(Control::Changed(plans)).is_err() {
            return Ok(None);
        }
    }
}

/// `/calendar.ics`: the feed of the plans under `paths`, read afresh.
pub fn router(paths: Vec<PathBuf>, env: Env) -> Router {
    Router::new().route(
        "/calendar.ics",
        get(move || {
            let (paths, env) = (paths.clone(), env.clone());
            async move {
                tokio::task::spawn_blocking(move || feed(&paths, &env))
                    .await
                    .unwrap_or_else(|_| {
                        (StatusCode::INTERNAL_SERVER_ERROR, "the feed failed\n").into_response()
                    })
            }
        }),
    )
}

fn feed(paths: &[PathBuf], env: &Env) -> Response {
    let now = Utc::now();
    let options = Options {
        env: env.clone(),
        missing_env: MissingEnv::Warn,
        now,
    };
    // Plans that do not load are left out, as the daemon leaves them out.
    let plans: Vec<plan::Plan> = plan::discover(paths)
        .unwrap_or_default()
        .iter()
        .filter_map(|file| plan::load(file, &options).ok())
        .map(|validated| validated.plan)
        .collect();
    let Some(window) = Window::new(Tz::UTC, now.date_naive(), FEED_DAYS) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let body = crate::export::feed(&calendar::build(&plans, window, env), now);
    (
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        body,
    )
        .into_response()
}
