use std::path::{Path, PathBuf};

use chrono::Utc;

use super::{exit, load_plans};
use crate::export::{
    self, DaemonOptions, Export, GeneratedFile, KubernetesOptions, SystemdOptions,
};
use crate::plan::{Env, MissingEnv, Plan};

/// Writes systemd timer units or Kubernetes CronJobs that run
/// `recplan run PLAN` on each plan's schedule, a Kubernetes Deployment
/// of `recplan daemon`, or an iCalendar feed of upcoming recordings.
///
/// Plans without a schedule, or with one the engine cannot express, are
/// skipped with a warning; the exit code is 3 when nothing could be
/// exported. Without --out the files are printed, each after a `# file:`
/// line.
///
/// Examples:
///
///   recplan export systemd plans/ --environment-file /etc/recplan/recplan.env --out /etc/systemd/system
///
///   recplan export kubernetes plans/ --image registry.example.com/recplan:1 | kubectl apply -f -
///
///   recplan export ics plans/ --days 60 > recordings.ics
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    engine: Engine,
}

#[derive(Debug, clap::Subcommand)]
enum Engine {
    /// A .service and a .timer per plan.
    ///
    /// Example: recplan export systemd plans/ --environment-file /etc/recplan/recplan.env --out /etc/systemd/system
    Systemd {
        /// Plan files, or directories of them.
        #[arg(required = true)]
        plans: Vec<PathBuf>,
        /// The recplan binary the service runs; default this one.
        #[arg(long)]
        recplan: Option<PathBuf>,
        /// An EnvironmentFile= with the credentials (AGORA_CUSTOMER_ID,
        /// AGORA_CUSTOMER_SECRET, the plans' env values).
        #[arg(long)]
        environment_file: Option<PathBuf>,
        /// Directory to write the files to.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A ConfigMap with the plan and a batch/v1 CronJob per plan, or with
    /// --daemon a Deployment of `recplan daemon` for all of them.
    ///
    /// Example: recplan export kubernetes plans/ --namespace media | kubectl apply -f -
    Kubernetes {
        /// Plan files, or directories of them.
        #[arg(required = true)]
        plans: Vec<PathBuf>,
        /// Container image with recplan as its entrypoint.
        #[arg(long, default_value = "recplan:latest")]
        image: String,
        /// Secret with AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET, the
        /// plans' env values and, for recovery across pods, RECPLAN_STATE.
        #[arg(long, default_value = "recplan-credentials")]
        secret: String,
        /// The namespace the manifests are placed in; default: the one
        /// `kubectl` applies them to.
        #[arg(long)]
        namespace: Option<String>,
        /// A Deployment of `recplan daemon` sharing a PostgreSQL store,
        /// instead of CronJobs.
        #[arg(long)]
        daemon: bool,
        /// How many daemons the Deployment runs.
        #[arg(long, requires = "daemon", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
        replicas: u32,
        /// The Secret whose RECPLAN_STATE key holds the daemons' PostgreSQL
        /// URL; default the --secret.
        #[arg(long, requires = "daemon")]
        state_secret: Option<String>,
        /// Directory to write the files to.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// An iCalendar feed: one event per plan and upcoming occurrence,
    /// with its channels, for the team's calendar; at most 1,000 events a
    /// plan, the feed saying what it left out.
    ///
    /// Example: recplan export ics plans/ --days 60 > recordings.ics
    Ics {
        /// Plan files, or directories of them.
        #[arg(required = true)]
        plans: Vec<PathBuf>,
        /// How many days from today (UTC) the feed covers.
        #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(u16).range(1..=366))]
        days: u16,
    },
}

pub fn run(args: &Args) -> u8 {
    let (paths, out) = match &args.engine {
        Engine::Systemd { plans, out, .. } | Engine::Kubernetes { plans, out, .. } => (plans, out),
        Engine::Ics { plans, days } => return ics(plans, *days),
    };
    let plans = match load_all(paths) {
        Ok(plans) => plans,
        Err(code) => return code,
    };
    let now = Utc::now();
    let export = match &args.engine {
        Engine::Systemd {
            recplan,
            environment_file,
            ..
        } => {
            if environment_file.is_none() {
                errln!(
                    "warning: no --environment-file: the services get no AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET or the plans' env values unless the units are given them another way"
                );
            }
            let recplan = recplan
                .clone()
                .or_else(|| std::env::current_exe().ok())
                .unwrap_or_else(|| PathBuf::from("recplan"));
            let options = SystemdOptions {
                recplan,
                environment_file: environment_file.clone(),
                now,
            };
            export::each_plan(&plans, &options)
        }
        Engine::Kubernetes {
            image,
            secret,
            namespace,
            daemon: true,
            replicas,
            state_secret,
            ..
        } => {
            let options = DaemonOptions {
                image: image.clone(),
                secret: secret.clone(),
                state_secret: state_secret.clone().unwrap_or_else(|| secret.clone()),
                namespace: namespace.clone(),
                replicas: *replicas,
            };
            match export::deployment(&plans, &options) {
                Ok(file) => Export {
                    files: vec![file],
                    ..Export::default()
                },
                Err(error) => {
                    errln!("error: {error}");
                    return exit::INVALID_PLAN;
                }
            }
        }
        Engine::Kubernetes {
            image,
            secret,
            namespace,
            ..
        } => {
            let options = KubernetesOptions {
                image: image.clone(),
                secret: secret.clone(),
                namespace: namespace.clone(),
                now,
            };
            export::each_plan(&plans, &options)
        }
        Engine::Ics { .. } => unreachable!("the feed returned above"),
    };
    for warning in &export.warnings {
        errln!("warning: {warning}");
    }
    for skipped in &export.skipped {
        errln!("warning: skipped {skipped}");
    }
    if export.files.is_empty() {
        errln!("error: nothing to export");
        return exit::INVALID_PLAN;
    }
    write(&export.files, out.as_deref())
}

/// Every plan under `paths`, validated; all their errors are reported
/// before giving up, and nothing is exported if one is invalid.
fn load_all(paths: &[PathBuf]) -> Result<Vec<Plan>, u8> {
    // An unreadable path is a wrong command line, as everywhere.
    let files = crate::plan::discover(paths).map_err(super::report_plan_error)?;
    let env = Env::from_process();
    // Secrets are read where the units run, not here.
    let (plans, code) = load_plans(&files, &env, MissingEnv::Warn);
    if code != exit::OK {
        return Err(exit::INVALID_PLAN);
    }
    Ok(plans)
}

fn write(files: &[GeneratedFile], out: Option<&Path>) -> u8 {
    let Some(dir) = out else {
        for file in files {
            if let Err(stop) =
                super::out(format_args!("# file: {}\n{}\n", file.name, file.contents))
            {
                return stop.exit_code(exit::OK);
            }
        }
        return exit::OK;
    };
    if let Err(error) = std::fs::create_dir_all(dir) {
        errln!("error: cannot create {}: {error}", dir.display());
        return exit::FAILED;
    }
    for file in files {
        let path = dir.join(&file.name);
        if let Err(error) = std::fs::write(&path, &file.contents) {
            errln!("error: cannot write {}: {error}", path.display());
            return exit::FAILED;
        }
        let _ = outln!("wrote {}", path.display());
    }
    exit::OK
}

/// Prints the feed of `paths`' occurrences over `days` days from today.
fn ics(paths: &[PathBuf], days: u16) -> u8 {
    let plans = match load_all(paths) {
        Ok(plans) => plans,
        Err(code) => return code,
    };
    let now = Utc::now();
    let Some(window) =
        crate::calendar::Window::new(crate::schedule::Tz::UTC, now.date_naive(), days)
    else {
        errln!("error: the feed would end past the dates recplan can hold");
        return exit::FAILED;
    };
    let calendar = crate::calendar::build(&plans, window, &Env::from_process());
    match super::out(format_args!("{}", export::feed(&calendar, now))) {
        Ok(()) => exit::OK,
        Err(stop) => stop.exit_code(exit::OK),
    }
}
