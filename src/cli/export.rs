use std::path::PathBuf;

use super::{exit, load_plan, out};
use crate::export::{self, GeneratedFile, KubernetesOptions, SystemdOptions};
use crate::plan::{Env, MissingEnv};

/// Writes systemd timer units or Kubernetes CronJobs that run
/// `recplan run PLAN` on each plan's schedule, or an iCalendar feed of the
/// plans' upcoming recordings.
///
/// Without --out the files are printed, each after a `# file:` line.
///
/// Examples:
///
///   recplan export systemd plans/standup.yaml --out /etc/systemd/system
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
    /// Example: recplan export systemd plans/ --out /etc/systemd/system
    Systemd {
        #[arg(required = true)]
        plans: Vec<PathBuf>,
        /// The recplan binary the service runs; default this one.
        #[arg(long)]
        recplan: Option<PathBuf>,
        /// An EnvironmentFile= with the credentials.
        #[arg(long)]
        environment_file: Option<PathBuf>,
        /// Directory to write the files to.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A ConfigMap with the plan and a batch/v1 CronJob per plan.
    ///
    /// Example: recplan export kubernetes plans/ --namespace media | kubectl apply -f -
    Kubernetes {
        #[arg(required = true)]
        plans: Vec<PathBuf>,
        /// Container image with recplan as its entrypoint.
        #[arg(long, default_value = "recplan:latest")]
        image: String,
        /// Secret with AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET and the
        /// plan's env values.
        #[arg(long, default_value = "recplan-credentials")]
        secret: String,
        #[arg(long)]
        namespace: Option<String>,
        /// Directory to write the files to.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// An iCalendar feed: one event per plan and upcoming occurrence,
    /// with its channels, for the team's calendar.
    ///
    /// Example: recplan export ics plans/ --days 60 > recordings.ics
    Ics {
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
    let files = match crate::plan::discover(paths) {
        Ok(files) => files,
        Err(error) => {
            super::report_plan_error(&error);
            return exit::INVALID_PLAN;
        }
    };
    let env = Env::from_process();
    let mut generated: Vec<GeneratedFile> = Vec::new();
    for file in &files {
        // Secrets are read where the unit runs, not here.
        let plan = match load_plan(file, &env, MissingEnv::Warn) {
            Ok(plan) => plan,
            Err(code) => return code,
        };
        let result = match &args.engine {
            Engine::Systemd {
                recplan,
                environment_file,
                ..
            } => {
                let recplan = recplan
                    .clone()
                    .or_else(|| std::env::current_exe().ok())
                    .unwrap_or_else(|| PathBuf::from("recplan"));
                export::units(
                    &plan,
                    &SystemdOptions {
                        recplan,
                        environment_file: environment_file.clone(),
                    },
                )
            }
            Engine::Kubernetes {
                image,
                secret,
                namespace,
                ..
            } => export::cron_job(
                &plan,
                &KubernetesOptions {
                    image: image.clone(),
                    secret: secret.clone(),
                    namespace: namespace.clone(),
                },
            )
            .map(|file| vec![file]),
            Engine::Ics { .. } => return exit::FAILED,
        };
        match result {
            Ok(files) => generated.extend(files),
            Err(error) => {
                errln!("error: {error}");
                return exit::FAILED;
            }
        }
    }
    match out {
        Some(dir) => {
            if let Err(error) = std::fs::create_dir_all(dir) {
                errln!("error: cannot create {}: {error}", dir.display());
                return exit::FAILED;
            }
            for file in &generated {
                let path = dir.join(&file.name);
                if let Err(error) = std::fs::write(&path, &file.contents) {
                    errln!("error: cannot write {}: {error}", path.display());
                    return exit::FAILED;
                }
                let _ = outln!("wrote {}", path.display());
            }
        }
        None => {
            for file in &generated {
                let _ = outln!("# file: {}\n{}", file.name, file.contents);
            }
        }
    }
    exit::OK
}

/// Prints the feed of `paths`' occurrences over `days` days from today.
fn ics(paths: &[PathBuf], days: u16) -> u8 {
    let files = match crate::plan::discover(paths) {
        Ok(files) => files,
        Err(error) => {
            super::report_plan_error(&error);
            return exit::INVALID_PLAN;
        }
    };
    let env = Env::from_process();
    let mut plans = Vec::with_capacity(files.len());
    for file in &files {
        match load_plan(file, &env, MissingEnv::Warn) {
            Ok(plan) => plans.push(plan),
            Err(code) => return code,
        }
    }
    let now = chrono::Utc::now();
    let Some(window) =
        crate::calendar::Window::new(crate::schedule::Tz::UTC, now.date_naive(), days)
    else {
        errln!("error: the feed would end past the dates recplan can hold");
        return exit::FAILED;
    };
    let calendar = crate::calendar::build(&plans, window, &env);
    match out(format_args!("{}", export::feed(&calendar, now))) {
        Ok(()) => exit::OK,
        Err(stop) => stop.exit_code(exit::OK),
    }
}
