//! Recording plans: loading, templating and validation.
//!
//! A plan goes through three stages, each a type: [`raw::RawPlan`] mirrors
//! the YAML; [`Plan`] is what validation makes of it; [`Occurrence`] is one
//! start of it rendered per channel into [`SessionSpec`]s, the exact bodies
//! sent to Agora.

mod catalog;
mod duration;
mod error;
pub mod ics_source;
mod issues;
mod layout;
mod lenient;
mod minting;
mod model;
pub mod overlap;
pub mod raw;
mod render;
mod rules;
mod schema;
mod source;
mod suggest;
mod template;
mod timing;
mod validate;
mod wording;

use std::path::{Path, PathBuf};

pub use catalog::{Catalog, NameClash, Scan, name_clashes};
pub use duration::{format as format_duration, parse as parse_duration};
pub use error::{Diagnostic, PlanError, Severity};
pub use model::{Occurrence, Plan, SessionSpec, Step, StepAction, Timing};
pub use schema::schema;
pub use source::{MAX_PLAN_BYTES, Source};
pub use template::{Env, MissingEnv};
pub use timing::{CalendarUse, DEFAULT_REFRESH};
pub use validate::{DEFAULT_MIN_RECORDING, Options, Validated, load, validate};

/// The plan files `paths` name: files as given, directories searched
/// (not recursively) for `*.yaml` and `*.yml`, in name order.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PlanError> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| PlanError::Read {
                path: path.clone(),
                source,
            })?;
            let mut plans: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|p| p.is_file() && is_plan_file(p))
                .collect();
            if plans.is_empty() {
                return Err(PlanError::NoPlans { path: path.clone() });
            }
            plans.sort();
            found.extend(plans);
        } else {
            found.push(path.clone());
        }
    }
    Ok(found)
}

fn is_plan_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}
