//! The commands that read and act on the state store: `recover`,
//! `status` and `stop`.

use tokio::sync::{mpsc, watch};

use std::fmt::Write as _;

use serde::Serialize;

use super::connect;
use super::exit;
use super::table::Table;
use crate::clock::Clock;
use crate::plan::Env;
use crate::session::{Context, SessionReport, recover, stop_by_hand};
use crate::store::{Driving, Phase, SessionId, Store, StoreError, StoredSession};

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

/// Lists sessions from the state store, oldest first: the latest finished
/// ones and every active one, with the process driving it (pid@host).
///
/// An active session whose driver died (killed, crashed, its machine gone)
/// is shown as orphaned: `recplan recover` resumes or stops it. Reading
/// never creates the state directory: one without a store is an error
/// (exit 2).
///
/// Example: recplan status --json
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    state: connect::StateArgs,
    /// How many finished sessions to list besides the active ones.
    #[arg(long, default_value_t = 10)]
    recent: usize,
    /// Print `{"active": [...], "recent": [...]}` as JSON, for scripts:
    /// every stored field, plus `state`, `driver` and `orphaned`.
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

/// The state store, which must exist: reading never creates one. `Err` is
/// the exit code, the reason reported: 2 for a directory without a store,
/// as for any path that cannot be read.
pub(super) async fn open_existing_store(state: &connect::StateArgs) -> Result<Store, u8> {
    match state.open_existing().await {
        Ok(connect::Existing::Open(store)) => Ok(store),
        Ok(connect::Existing::Missing(dir)) => {
            errln!(
                "error: no state store in {}: nothing has run with it yet (`run`, `daemon` and `recover` keep their state there; --state-dir, RECPLAN_STATE_DIR or --state name another)",
                dir.display()
            );
            Err(exit::USAGE)
        }
        Err(message) => {
            errln!("error: {message}");
            Err(exit::FAILED)
        }
    }
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
        let store = match args.state.open_existing().await {
            Ok(connect::Existing::Open(store)) => store,
            Ok(connect::Existing::Missing(_)) => {
                print_reports(&[], args.json);
                return exit::OK;
            }
            Err(message) => {
                errln!("error: {message}");
                return exit::FAILED;
            }
        };
        let (context, mut events) = match context(store) {
            Ok(pair) => pair,
            Err(code) => return code,
        };
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                errln!(
                    "{}/{}: {:?}: {}",
                    event.cname,
                    event.uid,
                    event.stage,
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
    let Some(runtime) = connect::runtime() else {
        return exit::FAILED;
    };
    runtime.block_on(status(args))
}

async fn status(args: &StatusArgs) -> u8 {
    let store = match open_existing_store(&args.state).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let listed =
        async { Ok::<_, StoreError>((store.active().await?, store.recent(args.recent).await?)) };
    let (active, mut recent) = match listed.await {
        Ok(listed) => listed,
        Err(error) => {
            errln!("error: state store: {error}");
            return exit::FAILED;
        }
    };
    recent.retain(|s| !s.is_active());
    // Oldest first, as `history` lists them.
    recent.reverse();
    let listed = async {
        let mut listed = Vec::with_capacity(active.len());
        for session in active {
            listed.push(Listed::of(&store, session).await?);
        }
        Ok::<_, StoreError>(listed)
    };
    let active = match listed.await {
        Ok(active) => active,
        Err(error) => {
            errln!("error: state store: {error}");
            return exit::FAILED;
        }
    };
    let recent: Vec<Listed> = recent.into_iter().map(Listed::finished).collect();
    let text = if args.json {
        let json = serde_json::json!({"active": active, "recent": recent});
        serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
    } else {
        status_table(&active, &recent)
    };
    match super::out(format_args!("{text}")) {
        Ok(()) => exit::OK,
        Err(stop) => stop.exit_code(exit::OK),
    }
}

/// A session as `status` lists it: as stored, plus where it stands and who
/// drives it.
#[derive(Serialize)]
struct Listed {
    #[serde(flatten)]
    session: StoredSession,
    /// The phase, `orphaned` for an active session nobody drives, or how a
    /// finished one ended.
    state: String,
    /// `pid@host` of the process driving it, if a live one does and the
    /// store names it.
    driver: Option<String>,
    /// Not over, and nobody drives it: `recplan recover` takes it over.
    orphaned: bool,
}

impl Listed {
    async fn of(store: &Store, session: StoredSession) -> Result<Listed, StoreError> {
        let driving = store.driving(session.id).await?;
        let orphaned = driving == Driving::Nobody;
        let state = if orphaned {
            "orphaned".to_owned()
        } else if session.phase == Phase::Failed {
            "failed, may still run".to_owned()
        } else {
            session.phase.as_str().to_owned()
        };
        let driver = match driving {
            Driving::By(Some(driver)) => Some(driver.to_string()),
            Driving::By(None) | Driving::Nobody => None,
        };
        Ok(Listed {
            session,
            state,
            driver,
            orphaned,
        })
    }

    fn finished(session: StoredSession) -> Listed {
        Listed {
            state: super::history::outcome(&session),
            session,
            driver: None,
            orphaned: false,
        }
    }

    fn cells(&self) -> Vec<String> {
        let s = &self.session;
        let driver = match (&self.driver, self.orphaned, s.is_active()) {
            (Some(driver), _, _) => driver.clone(),
            (None, true, _) => "none (died)".to_owned(),
            (None, false, true) => "live".to_owned(),
            (None, false, false) => "-".to_owned(),
        };
        let state = if self.orphaned {
            "orphaned — run `recplan recover`".to_owned()
        } else {
            self.state.clone()
        };
        vec![
            s.id.to_string(),
            s.plan.clone(),
            s.cname.clone(),
            s.current_uid.clone(),
            s.scheduled_start.format("%Y-%m-%d %H:%M:%S").to_string(),
            s.scheduled_end.format("%H:%M:%S").to_string(),
            state,
            driver,
            s.sid.clone().unwrap_or_else(|| "-".to_owned()),
            s.upload_status().unwrap_or("-").to_owned(),
        ]
    }
}

/// Finished and active sessions together, oldest first, under one header;
/// a footer counts them.
fn status_table(active: &[Listed], recent: &[Listed]) -> String {
    let mut table = Table::new(&[
        "ID",
        "PLAN",
        "CHANNEL",
        "UID",
        "START (UTC)",
        "END",
        "STATE",
        "DRIVER",
        "SID",
        "UPLOAD",
    ])
    .right_aligned(&[0]);
    let mut listed: Vec<&Listed> = recent.iter().chain(active).collect();
    listed.sort_by_key(|listed| (listed.session.scheduled_start, listed.session.id));
    for listed in listed {
        table.row(listed.cells());
    }
    let orphaned = active.iter().filter(|listed| listed.orphaned).count();
    let mut text = table.render();
    let _ = write!(
        text,
        "\n{} active, {} finished session(s) listed",
        active.len(),
        recent.len()
    );
    if orphaned > 0 {
        let _ = write!(
            text,
            "; {orphaned} orphaned (their driver died): `recplan recover` resumes or stops them"
        );
    }
    text.push_str(".\n");
    text
}

pub fn stop_command(args: &StopArgs) -> u8 {
    let Some(runtime) = connect::runtime() else {
        return exit::FAILED;
    };
    runtime.block_on(async {
        let (context, _events) = match open_existing_store(&args.state).await.and_then(context) {
            Ok(pair) => pair,
            Err(code) => return code,
        };
        let targets = match (args.session, args.all) {
            (Some(id), _) => match context.store.get(id).await {
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
            (None, _) => match context.store.active().await {
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
                    let driver = match context.store.driving(id).await {
                        Ok(Driving::By(Some(driver))) => format!(" ({driver})"),
                        _ => String::new(),
                    };
                    errln!("session {id} is driven by a live recplan process{driver}: stop that process (SIGTERM), which stops what it started");
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
