//! Where a plan's `ics` comes from: a file beside the plan, or a URL (a
//! calendar's secret iCal address) fetched over HTTPS.
//!
//! Fetched calendars are kept for the process: validation reads the kept
//! copy, and the daemon refreshes it ([`refresh`]), keeping the last good
//! copy when a fetch fails and saying so with every validation.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use super::timing::DEFAULT_REFRESH;

/// The largest calendar recplan reads: a team calendar with years of
/// history is a few megabytes.
pub const MAX_ICS_BYTES: usize = 10 * 1024 * 1024;

/// How long connecting, and the whole fetch, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// A plan's `ics` value, resolved.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    File(PathBuf),
    Url(String),
}

impl Location {
    /// Reads `ics` as written in the plan at `plan_path`.
    pub fn of(ics: &str, plan_path: &Path) -> Result<Location, String> {
        let ics = ics.trim();
        if let Some((scheme, _)) = ics.split_once("://") {
            let url = reqwest::Url::parse(ics).map_err(|e| format!("`{ics}` is not a URL: {e}"))?;
            let host = url.host_str().unwrap_or("").trim_matches(['[', ']']);
            let loopback =
                host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            return match scheme.to_ascii_lowercase().as_str() {
                "https" => Ok(Location::Url(ics.to_owned())),
                "http" if loopback => Ok(Location::Url(ics.to_owned())),
                "webcal" => Err("use the https:// form of a webcal:// address".to_owned()),
                _ => Err(format!(
                    "`{scheme}` URLs are not fetched: use https (or http to loopback)"
                )),
            };
        }
        let dir = plan_path.parent().unwrap_or(Path::new("."));
        Ok(Location::File(dir.join(ics)))
    }
}

/// A calendar's text, and what to say about the copy.
#[derive(Clone, Debug)]
pub struct IcsText {
    pub text: Arc<str>,
    /// Set when a URL's latest fetch failed and an older copy is used.
    pub stale: Option<String>,
}

/// What is kept of a URL: the last good copy and the latest failure.
#[derive(Clone, Debug)]
struct Kept {
    text: Option<Arc<str>>,
    fetched_at: Option<DateTime<Utc>>,
    /// When a fetch was last tried, and how often plans want one.
    tried_at: DateTime<Utc>,
    refresh: Duration,
    failure: Option<String>,
    /// The plans that follow it.
    plans: BTreeSet<PathBuf>,
}

/// Calendars read so far: URLs with their copies, files with the
/// modification time they were read at.
#[derive(Default)]
struct Registry {
    urls: HashMap<String, Kept>,
    files: HashMap<PathBuf, (Option<SystemTime>, BTreeSet<PathBuf>)>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with_registry<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    let mut guard = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    f(guard.get_or_insert_with(Registry::default))
}

/// The calendar at `location`: a file read now, a URL's kept copy (fetched
/// now if there is none yet), for the plan at `plan`. `refresh` is how
/// often the plan wants a URL fetched again.
pub fn read(location: &Location, refresh: Duration, plan: &Path) -> Result<IcsText, String> {
    match location {
        Location::File(path) => {
            let modified = modified(path);
            let text = read_file(path)?;
            with_registry(|registry| {
                let entry = registry.files.entry(path.clone()).or_default();
                entry.0 = modified;
                entry.1.insert(plan.to_owned());
            });
            Ok(IcsText {
                text: text.into(),
                stale: None,
            })
        }
        Location::Url(url) => {
            let known = with_registry(|registry| {
                let kept = registry.urls.get_mut(url)?;
                kept.refresh = kept.refresh.min(refresh);
                kept.plans.insert(plan.to_owned());
                Some(())
            });
            if known.is_none() {
                let fetched = fetch_blocking(url);
                keep(url, fetched, Utc::now(), refresh);
                with_registry(|registry| {
                    if let Some(kept) = registry.urls.get_mut(url) {
                        kept.plans.insert(plan.to_owned());
                    }
                });
            }
            with_registry(|registry| registry.urls.get(url).cloned())
                .ok_or_else(|| "the calendar was not fetched".to_owned())
                .and_then(|kept| describe(&kept))
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The plans that follow a calendar file changed since it was read.
pub fn changed_files() -> Vec<PathBuf> {
    let files: Vec<(PathBuf, Option<SystemTime>, BTreeSet<PathBuf>)> = with_registry(|registry| {
        registry
            .files
            .iter()
            .map(|(path, (seen, plans))| (path.clone(), *seen, plans.clone()))
            .collect()
    });
    files
        .into_iter()
        .filter(|(path, seen, _)| modified(path) != *seen)
        .flat_map(|(_, _, plans)| plans)
        .collect()
}

/// The plans that follow the calendar at `url`.
pub fn plans_of(url: &str) -> Vec<PathBuf> {
    with_registry(|registry| {
        registry
            .urls
            .get(url)
            .map(|kept| kept.plans.iter().cloned().collect())
            .unwrap_or_default()
    })
}

/// The URLs whose refresh interval has passed at `now`.
pub fn due(now: DateTime<Utc>) -> Vec<String> {
    with_registry(|registry| {
        registry
            .urls
            .iter()
            .filter(|(_, kept)| {
                let refresh =
                    chrono::TimeDelta::from_std(kept.refresh).unwrap_or(chrono::TimeDelta::MAX);
                kept.tried_at
                    .checked_add_signed(refresh)
                    .is_none_or(|at| at <= now)
            })
            .map(|(url, _)| url.clone())
            .collect()
    })
}

fn describe(kept: &Kept) -> Result<IcsText, String> {
    match (&kept.text, &kept.failure) {
        (Some(text), failure) => Ok(IcsText {
            text: Arc::clone(text),
            stale: failure.as_ref().map(|failure| {
                let at = kept
                    .fetched_at
                    .map_or_else(String::new, |at| format!(" fetched at {}", at.to_rfc3339()));
                format!("the calendar could not be fetched ({failure}); using the copy{at}")
            }),
        }),
        (None, Some(failure)) => Err(format!("the calendar could not be fetched: {failure}")),
        (None, None) => Err("the calendar was not fetched".to_owned()),
    }
}

/// Fetches `url` again; keeps the new copy, or the failure beside the old
/// one. Says whether what validation sees changed.
pub async fn refresh(url: &str, now: DateTime<Utc>) -> bool {
    let fetched = fetch(url).await;
    keep(url, fetched, now, DEFAULT_REFRESH)
}

fn keep(url: &str, fetched: Result<String, String>, now: DateTime<Utc>, refresh: Duration) -> bool {
    with_registry(|registry| {
        let entry = registry.urls.entry(url.to_owned()).or_insert(Kept {
            text: None,
            fetched_at: None,
            tried_at: now,
            refresh,
            failure: None,
            plans: BTreeSet::new(),
        });
        entry.tried_at = now;
        match fetched {
            Ok(text) => {
                let changed = entry.text.as_deref() != Some(text.as_str());
                let was_failing = entry.failure.take().is_some();
                entry.text = Some(text.into());
                entry.fetched_at = Some(now);
                changed || was_failing
            }
            Err(failure) => {
                let changed = entry.failure.as_ref() != Some(&failure);
                tracing::warn!(url = %redact(url), %failure, "calendar fetch failed; keeping the last good copy");
                entry.failure = Some(failure);
                changed
            }
        }
    })
}

/// A URL for logs: a secret iCal address carries its secret in the path.
pub fn redact(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(
        |_| "<calendar URL>".to_owned(),
        |url| format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or("")),
    )
}

fn read_file(path: &Path) -> Result<String, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if size > MAX_ICS_BYTES as u64 {
        return Err(format!(
            "{} is {size} bytes, more than the {MAX_ICS_BYTES} recplan reads",
            path.display()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// [`fetch`] from synchronous code, inside a runtime or not.
fn fetch_blocking(url: &str) -> Result<String, String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(fetch(&url))
    })
    .join()
    .map_err(|_| "the fetch failed".to_owned())?
}

/// GETs the calendar at `url`, within the size limit and timeouts.
async fn fetch(url: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .map_err(|e| e.to_string())?;
    let mut response = client.get(url).send().await.map_err(|e| without_url(&e))?;
    if !response.status().is_success() {
        return Err(format!("the server answered {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| without_url(&e))? {
        if body.len() + chunk.len() > MAX_ICS_BYTES {
            return Err(format!("the calendar is larger than {MAX_ICS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the calendar is not UTF-8 text".to_owned())
}

/// reqwest's message without the URL, which may hold a secret.
fn without_url(error: &reqwest::Error) -> String {
    let error = error.to_string();
    match error.split_once(" for url (") {
        Some((before, _)) => before.to_owned(),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_https_or_loopback() {
        let plan = Path::new("plans/a.yaml");
        assert!(matches!(
            Location::of("https://cal.example/x.ics", plan),
            Ok(Location::Url(_))
        ));
        assert!(matches!(
            Location::of("http://127.0.0.1:8080/x.ics", plan),
            Ok(Location::Url(_))
        ));
        assert!(matches!(
            Location::of("http://[::1]/x.ics", plan),
            Ok(Location::Url(_))
        ));
        assert!(Location::of("http://cal.example/x.ics", plan).is_err());
        assert!(Location::of("ftp://cal.example/x.ics", plan).is_err());
        assert_eq!(
            Location::of("team.ics", plan),
            Ok(Location::File(PathBuf::from("plans/team.ics")))
        );
    }

    #[test]
    fn secrets_in_urls_are_not_shown() {
        assert_eq!(
            redact("https://calendar.example/private-abc123/basic.ics"),
            "https://calendar.example/…"
        );
    }
}
