//! The control API on the daemon's listener, under `/api/v1`: the plans
//! with their next starts, the live sessions, history, a calendar and a
//! stream of updates to read; an occurrence now, a recording stopped, a
//! plan paused or resumed to act. Every call needs the bearer token
//! ([`auth`]); every action is recorded in the store with its caller's
//! address. Answers are JSON ([`views`]); errors are
//! `{"error": "...", "hint": "..."}`.

mod auth;
mod feed;
mod views;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, Request as HttpRequest, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

pub use auth::{Refusal, Token, authorize};
pub use feed::{Feed, Update};

use super::{Event, Launched, PlanState, Request};
use crate::calendar::{self, Window};
use crate::schedule::Tz;
use crate::session::{Context, Progress, stop_by_hand};
use crate::store::{Action, SessionId};
use views::{CalendarView, HistoryPage, HistoryView, PlanView, SessionView};

/// The most days a calendar request covers: six weeks, a month's grid.
const MAX_CALENDAR_DAYS: u16 = 42;
const DEFAULT_HISTORY: usize = 100;
const MAX_HISTORY: usize = 1000;
const ACTIONS_SHOWN: usize = 50;

/// The API's shared state. Cloning is cheap.
#[derive(Clone)]
pub struct Api {
    token: Option<Arc<Token>>,
    requests: mpsc::UnboundedSender<Request>,
    context: Context,
    feed: Feed,
    /// Files that do not load, with the first problem in each.
    problems: Arc<Mutex<BTreeMap<PathBuf, String>>>,
}

/// An answer other than success.
#[derive(Debug)]
pub struct ErrorAnswer {
    status: StatusCode,
    error: String,
    hint: String,
}

impl ErrorAnswer {
    fn new(status: StatusCode, error: impl Into<String>, hint: impl Into<String>) -> ErrorAnswer {
        ErrorAnswer {
            status,
            error: error.into(),
            hint: hint.into(),
        }
    }

    fn no_plan(name: &str) -> ErrorAnswer {
        ErrorAnswer::new(
            StatusCode::NOT_FOUND,
            format!("no plan named `{name}`"),
            "GET /api/v1/plans lists the plans the daemon runs",
        )
    }

    fn no_session(id: &str) -> ErrorAnswer {
        ErrorAnswer::new(
            StatusCode::NOT_FOUND,
            format!("no session {id}"),
            "GET /api/v1/sessions lists the live sessions and their ids",
        )
    }

    fn store(error: &crate::store::StoreError) -> ErrorAnswer {
        ErrorAnswer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("state store: {error}"),
            "see the daemon's log",
        )
    }

    fn daemon_gone() -> ErrorAnswer {
        ErrorAnswer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the daemon is shutting down",
            "try again once it has restarted",
        )
    }
}

impl IntoResponse for ErrorAnswer {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "hint": self.hint});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

type Answer = Result<Response, ErrorAnswer>;

impl Api {
    /// The API over a daemon that answers `requests` and shares `context`;
    /// off (403 on every call) without a `token`.
    pub fn new(
        token: Option<Token>,
        requests: mpsc::UnboundedSender<Request>,
        context: Context,
    ) -> Api {
        Api {
            token: token.map(Arc::new),
            requests,
            context,
            feed: Feed::default(),
            problems: Arc::default(),
        }
    }

    /// Takes note of a daemon event: for the plans' problems and the feed.
    pub fn observe_event(&self, event: &Event) {
        {
            let mut problems = self.problems.lock().unwrap_or_else(PoisonError::into_inner);
            match event {
                Event::Invalid {
                    path, diagnostics, ..
                } => {
                    problems.insert(path.clone(), feed::problem_of(diagnostics));
                }
                Event::Refused { plan, path, kept } => {
                    problems.insert(path.clone(), feed::refusal(plan, kept));
                }
                Event::Loaded { path, .. } | Event::Removed { path, .. } => {
                    problems.remove(path);
                }
                Event::Warned {
                    path, diagnostics, ..
                } => {
                    // The file loaded: what kept it out is over, and a
                    // calendar kept from an earlier fetch is its problem.
                    match super::status::stale_calendar(diagnostics) {
                        Some(stale) => problems.insert(path.clone(), stale),
                        None => problems.remove(path),
                    };
                }
                _ => {}
            }
        }
        if let Some(update) = Update::of_event(event) {
            self.feed.publish(update);
        }
    }

    pub fn observe_progress(&self, progress: &Progress) {
        if let Some(update) = Update::of_progress(progress) {
            self.feed.publish(update);
        }
    }

    /// The routes, under `/api/v1`.
    pub fn router(self) -> Router {
        let routes = Router::new()
            .route("/plans", get(plans))
            .route("/plans/{name}/run", post(run))
            .route("/plans/{name}/pause", post(pause))
            .route("/plans/{name}/resume", post(resume))
            .route("/sessions", get(sessions))
            .route("/sessions/{id}/stop", post(stop))
            .route("/history", get(history))
            .route("/calendar", get(calendar))
            .route("/events", get(events))
            .fallback(|| async {
                ErrorAnswer::new(
                    StatusCode::NOT_FOUND,
                    "no such call",
                    "the calls are listed in the README's control API section",
                )
            })
            .layer(middleware::from_fn_with_state(self.clone(), guard))
            .with_state(self);
        Router::new().nest("/api/v1", routes)
    }

    async fn ask<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, ErrorAnswer> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(request(reply))
            .map_err(|_| ErrorAnswer::daemon_gone())?;
        answer.await.map_err(|_| ErrorAnswer::daemon_gone())
    }

    async fn plan_states(&self) -> Result<Vec<PlanState>, ErrorAnswer> {
        self.ask(Request::Plans).await
    }

    /// Records an action in the store; a store that refuses is logged, and
    /// the action stands.
    async fn record(&self, caller: &Caller, action: &str, target: &str, outcome: &str) {
        let action = Action {
            at: self.context.clock.now(),
            action: action.to_owned(),
            target: target.to_owned(),
            remote: caller.0.clone(),
            outcome: outcome.to_owned(),
        };
        tracing::info!(action = %action.action, target = %action.target, remote = %action.remote, outcome = %action.outcome, "control API");
        if let Err(error) = self.context.store.record_action(&action).await {
            tracing::error!(%error, "cannot record an action");
        }
    }
}

/// The caller's address, as the listener saw it.
#[derive(Clone, Debug)]
struct Caller(String);

/// Lets in only the bearer of the token, and notes the caller's address.
async fn guard(State(api): State<Api>, mut request: HttpRequest, next: Next) -> Response {
    if let Err(refusal) = authorize(api.token.as_deref(), request.headers()) {
        let (error, hint) = refusal.message();
        return ErrorAnswer::new(refusal.status(), error, hint).into_response();
    }
    let caller = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |info| info.0.to_string());
    request.extensions_mut().insert(Caller(caller));
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

async fn plans(State(api): State<Api>) -> Answer {
    let states = api.plan_states().await?;
    let problems = api
        .problems
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut views: Vec<PlanView> = states
        .iter()
        .map(|state| PlanView::of(state, problems.get(&state.path).cloned()))
        .collect();
    views.extend(
        problems
            .into_iter()
            .filter(|(path, _)| !states.iter().any(|state| &state.path == path))
            .map(|(path, problem)| PlanView::broken(path, problem)),
    );
    views.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.path.cmp(&b.path)));
    Ok(axum::Json(views).into_response())
}

async fn sessions(State(api): State<Api>) -> Answer {
    let active = api
        .context
        .store
        .active()
        .await
        .map_err(|e| ErrorAnswer::store(&e))?;
    let states = api.plan_states().await?;
    let views: Vec<SessionView> = active
        .iter()
        .map(|session| {
            let plan = states
                .iter()
                .find(|state| state.plan.name() == session.plan)
                .map(|state| state.plan.as_ref());
            SessionView::of(session, plan)
        })
        .collect();
    Ok(axum::Json(views).into_response())
}

async fn run(
    State(api): State<Api>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(name): Path<String>,
) -> Answer {
    let launched = api
        .ask(|reply| Request::Run {
            plan: name.clone(),
            reply,
        })
        .await?;
    match launched {
        None => Err(ErrorAnswer::no_plan(&name)),
        Some(Launched::Started {
            start,
            end,
            channels,
        }) => {
            api.record(&caller, "run", &name, "started").await;
            let sessions: Vec<_> = channels
                .iter()
                .map(|(cname, uid)| json!({"cname": cname, "uid": uid}))
                .collect();
            let body = json!({"plan": name, "start": start, "end": end, "sessions": sessions});
            Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
        }
        Some(Launched::Skipped(reason)) => {
            api.record(&caller, "run", &name, &format!("not started: {reason}"))
                .await;
            Err(ErrorAnswer::new(
                StatusCode::CONFLICT,
                format!("not started: {reason}"),
                "the plan's `overlap` decides what a run does while its occurrence is running; stop that one first, or set `overlap: allow` or `stop_previous`",
            ))
        }
    }
}

async fn pause(state: State<Api>, caller: axum::Extension<Caller>, name: Path<String>) -> Answer {
    set_paused(state, caller, name, true).await
}

async fn resume(state: State<Api>, caller: axum::Extension<Caller>, name: Path<String>) -> Answer {
    set_paused(state, caller, name, false).await
}

async fn set_paused(
    State(api): State<Api>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(name): Path<String>,
    paused: bool,
) -> Answer {
    let changed = api
        .ask(|reply| Request::Pause {
            plan: name.clone(),
            paused,
            reply,
        })
        .await?;
    let action = if paused { "pause" } else { "resume" };
    match changed {
        Ok(true) => {
            api.record(&caller, action, &name, "done").await;
            api.feed.publish(Update::PlanPaused {
                plan: name.clone(),
                paused,
            });
            Ok(axum::Json(json!({"name": name, "paused": paused})).into_response())
        }
        Ok(false) => Err(ErrorAnswer::no_plan(&name)),
        Err(error) => Err(ErrorAnswer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("state store: {error}"),
            "nothing changed; see the daemon's log",
        )),
    }
}

async fn stop(
    State(api): State<Api>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let session_id: SessionId = id.parse().map_err(|_| ErrorAnswer::no_session(&id))?;
    let stored = api
        .context
        .store
        .get(session_id)
        .await
        .map_err(|e| ErrorAnswer::store(&e))?
        .ok_or_else(|| ErrorAnswer::no_session(&id))?;
    if !stored.is_active() {
        return Err(ErrorAnswer::new(
            StatusCode::CONFLICT,
            format!("session {id} is over ({})", stored.phase.as_str()),
            "GET /api/v1/history shows how it ended",
        ));
    }
    if !api.context.stops.stop(session_id) {
        // Not driven here: stopped by hand, as `recplan stop` does, unless
        // another live process drives it.
        match api.context.store.lease(session_id).await {
            Ok(Some(lease)) => drop(lease),
            Ok(None) => {
                return Err(ErrorAnswer::new(
                    StatusCode::CONFLICT,
                    format!("session {id} is driven by another recplan process"),
                    "stop it where it runs: that process's API, or SIGTERM",
                ));
            }
            Err(error) => return Err(ErrorAnswer::store(&error)),
        }
        let context = api.context.clone();
        tokio::spawn(async move {
            if let Err(error) = stop_by_hand(&context, stored).await {
                tracing::error!(%error, "cannot stop a session by hand");
            }
        });
    }
    api.record(&caller, "stop", &id, "stopping").await;
    let body = json!({"id": session_id.0, "phase": "stopping"});
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    limit: Option<usize>,
    /// Only sessions in this phase (`stopped`, `failed`, ...).
    phase: Option<String>,
}

async fn history(State(api): State<Api>, Query(query): Query<HistoryQuery>) -> Answer {
    let limit = query.limit.unwrap_or(DEFAULT_HISTORY).min(MAX_HISTORY);
    let store = &api.context.store;
    let sessions = store
        .recent(limit)
        .await
        .map_err(|e| ErrorAnswer::store(&e))?;
    let actions = store
        .actions(ACTIONS_SHOWN)
        .await
        .map_err(|e| ErrorAnswer::store(&e))?;
    let sessions = sessions
        .iter()
        .filter(|s| {
            query
                .phase
                .as_deref()
                .is_none_or(|phase| s.phase.as_str() == phase)
        })
        .map(HistoryView::of)
        .collect();
    Ok(axum::Json(HistoryPage { sessions, actions }).into_response())
}

#[derive(Debug, Deserialize)]
struct CalendarQuery {
    /// The first day, in `tz`.
    from: NaiveDate,
    days: Option<u16>,
    /// The viewer's timezone (IANA); UTC by default.
    tz: Option<String>,
}

async fn calendar(State(api): State<Api>, Query(query): Query<CalendarQuery>) -> Answer {
    let tz: Tz = match query.tz.as_deref() {
        None => Tz::UTC,
        Some(name) => name.parse().map_err(|_| {
            ErrorAnswer::new(
                StatusCode::BAD_REQUEST,
                format!("unknown timezone `{name}`"),
                "an IANA name such as Europe/Berlin",
            )
        })?,
    };
    let days = query.days.unwrap_or(7).clamp(1, MAX_CALENDAR_DAYS);
    let window = Window::new(tz, query.from, days).ok_or_else(|| {
        ErrorAnswer::new(
            StatusCode::BAD_REQUEST,
            "those days are out of range",
            "`from` as YYYY-MM-DD",
        )
    })?;
    let states = api.plan_states().await?;
    let paused = states
        .iter()
        .map(|state| (state.plan.name().to_owned(), state.paused))
        .collect();
    let plans: Vec<_> = states
        .iter()
        .map(|state| state.plan.as_ref().clone())
        .collect();
    let built = calendar::build(&plans, window, &api.context.env);
    Ok(axum::Json(CalendarView::of(&built, &paused)).into_response())
}

async fn events(State(api): State<Api>) -> Response {
    api.feed.subscribe().into_response()
}
