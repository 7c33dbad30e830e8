//! The commands that read and act on the state store: `recover`,
//! `status` and `stop`.

use tokio::sync::{mpsc, watch};

use super::connect;
use super::exit;
use crate::clock::Clock;
use crate::plan::Env;
use crate::session::{Context, SessionReport, recover, stop_by_hand};
use crate::store::{SessionId, Store, StoredSession};

/// Resumes sessions a crashed run or daemon left behind: those still inside
/// their occurrence go on (remaining steps at their offsets, stop at the
/// end), those past their end are stopped. Sessions a live process drives
/// are left alone. `run` and `daemon` do this by themselves when they start.
///
/// Example: recplan recover
#[derive(Debug, clap::Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    state: connect::StateArgs,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

/// Lists active and recent sessions from the state store.
///
/// Example: recplan status --json
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    state: connect::StateArgs,
    /// How many finished sessions to list besides the active ones.
    #[arg(long, default_value_t = 10)]
    recent: usize,
    /// Print `{"active": [...], "recent": [...]}` as JSON, for scripts.
    #[arg(long)]
    json: bool,
}

/// Stops sessions by hand: sends `stop` for their recordings and records
/// the result.
///
/// A session a live process drives is refused: stop that process (Ctrl-C,
/// SIGTERM), which stops what it started.
///
/// Example: recplan stop 42
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// The session id, as `recplan status` shows it.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    session: Option<SessionId>,
    /// Every active session.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    state: connect::StateArgs,
}

fn open(state: &connect::StateArgs) -> Result<Store, u8> {
    state.open(false).map_err(|message| {
        errln!("error: {message}");
        exit::FAILED
    })
}

/// The context sessions are resumed in: Agora from the environment.
fn context(
    store: Store,
) -> Result<(Context, mpsc::UnboundedReceiver<crate::session::Progress>), u8> {
    let env = Env::from_process();
    let app_id = env.get("AGORA_APP_ID").unwrap_or_default().to_owned();
    let client = connect::api_client(&env, None, &app_id).map_err(|message| {
        errln!("error: {message}");
        exit::FAILED
    })?;
    let (progress, events) = mpsc::unbounded_channel();
    client.limiter().share(store.rate_window());
    Ok((
        Context {
            client,
            store,
            clock: Clock::system(),
            env,
            progress,
            stops: crate::session::Stops::default(),
        },
        events,
    ))
}

pub fn recover_command(args: &RecoverArgs) -> u8 {
    let Some(runtime) = connect::runtime() else {
        return exit::FAILED;
    };
    runtime.block_on(async {
        let (context, mut events) = match open(&args.state).and_then(context) {
            Ok(pair) => pair,
            Err(code) => return code,
        };
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                errln!(
                    "{}/{}: {:?}: {}",
                    event.cname,
                    event.uid,
                    event.phase,
                    event.message
                );
            }
        });
        let (stop, shutdown) = watch::channel(false);
        tokio::spawn(async move {
            let Ok(mut signals) = connect::Signals::new() else {
                return;
            };
            while signals.next().await != connect::Signal::Stop {}
            let _ = stop.send(true);
        });
        let reports = recover(&context, &shutdown).await;
        print_reports(&reports, args.json);
        if reports.iter().all(SessionReport::succeeded) {
            exit::OK
        } else {
            exit::FAILED
        }
    })
}

fn print_reports(reports: &[SessionReport], json: bool) {
    if json {
        let _ = outln!(
            "{}",
            serde_json::to_string_pretty(reports).unwrap_or_default()
        );
    } else if reports.is_empty() {
        let _ = outln!("nothing to recover");
    } else {
        let _ = outln!("recovered {} session(s):", reports.len());
        for report in reports {
            super::run::print_session(report);
        }
    }
}

pub fn status_command(args: &StatusArgs) -> u8 {
    let store = match open(&args.state) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let listed = store
        .active()
        .and_then(|active| Ok((active, store.recent(args.recent)?)));
    let (active, recent) = match listed {
        Ok(listed) => listed,
        Err(error) => {
            errln!("error: state store: {error}");
            return exit::FAILED;
        }
    };
    let recent: Vec<StoredSession> = recent.into_iter().filter(|s| !s.is_active()).collect();
    if args.json {
        let json = serde_json::json!({"active": active, "recent": recent});
        let _ = outln!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
        return exit::OK;
    }
    let _ = outln!("active sessions: {}", active.len());
    for session in &active {
        print_stored(session);
    }
    let _ = outln!("recent sessions:");
    for session in &recent {
        print_stored(session);
    }
    exit::OK
}

fn print_stored(session: &StoredSession) {
    let _ = outln!(
        "  {:>5}  {:<10} {} {} uid {}  {} to {}  sid {}  upload {}",
        session.id.to_string(),
        session.phase.as_str(),
        session.plan,
        session.cname,
        session.current_uid,
        session.scheduled_start.to_rfc3339(),
        session.scheduled_end.format("%H:%M:%S"),
        session.sid.as_deref().unwrap_or("-"),
        session.upload_status().unwrap_or("-"),
    );
}

pub fn stop_command(args: &StopArgs) -> u8 {
    let Some(runtime) = connect::runtime() else {
        return exit::FAILED;
    };
    runtime.block_on(async {
        let (context, _events) = match open(&args.state).and_then(context) {
            Ok(pair) => pair,
            Err(code) => return code,
        };
        let targets = match (args.session, args.all) {
            (Some(id), _) => match context.store.get(id) {
                Ok(Some(session)) if session.is_active() => vec![session],
                Ok(Some(session)) => {
                    errln!("session {id} is already {}", session.phase.as_str());
                    return exit::OK;
                }
                Ok(None) => {
                    errln!("error: no session {id}; `recplan status` lists them");
                    return exit::FAILED;
                }
                Err(error) => {
                    errln!("error: state store: {error}");
                    return exit::FAILED;
                }
            },
            (None, _) => match context.store.active() {
                Ok(active) => active,
                Err(error) => {
                    errln!("error: state store: {error}");
                    return exit::FAILED;
                }
            },
        };
        let mut code = exit::OK;
        for stored in targets {
            let id = stored.id;
            match stop_by_hand(&context, stored).await {
                Ok(Some(report)) => {
                    let _ = outln!("session {id}:");
                    super::run::print_session(&report);
                    if report.maybe_running() {
                        code = exit::FAILED;
                    }
                }
                Ok(None) => {
                    errln!("session {id} is driven by a live recplan process: stop that process (SIGTERM) instead");
                    code = exit::FAILED;
                }
                Err(error) => {
                    errln!("error: session {id}: {error}");
                    code = exit::FAILED;
                }
            }
        }
        code
    })
}
