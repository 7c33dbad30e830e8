//! Reading IANA timezone names, with a did-you-mean for typos.

use chrono_tz::{TZ_VARIANTS, Tz};

use super::error::ScheduleError;

/// How many names a did-you-mean offers at most.
const MAX_SUGGESTIONS: usize = 3;

/// The least Jaro-Winkler similarity worth suggesting. Typos of a real name
/// score above 0.9; unrelated names of similar shape rarely reach 0.85.
const MIN_SIMILARITY: f64 = 0.85;

/// Parses an IANA timezone name such as `Europe/Berlin`.
///
/// Names are matched exactly, as the tz database spells them. On failure the
/// error carries the closest known names, so `Europe/Berln` suggests
/// `Europe/Berlin`, and `berlin` or `new york` suggest the zones they name.
pub fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse::<Tz>()
        .map_err(|_| ScheduleError::UnknownTimezone {
            name: name.to_string(),
            suggestions: suggestions(name),
        })
}

/// The known names closest to `name`, best first.
fn suggestions(name: &str) -> Vec<&'static str> {
    let wanted = name.trim().to_lowercase().replace(' ', "_");
    let mut scored: Vec<(f64, &'static str)> = TZ_VARIANTS
        .iter()
        .map(|tz| (similarity(&wanted, tz.name()), tz.name()))
        .filter(|&(score, _)| score >= MIN_SIMILARITY)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(_, name)| name)
        .collect()
}

/// Scores `wanted` (lower case) against a zone's full name and against its
/// last part, so a bare city name finds its zone.
fn similarity(wanted: &str, zone: &str) -> f64 {
    let zone = zone.to_lowercase();
    let city = zone.rsplit('/').next().unwrap_or(&zone);
    strsim::jaro_winkler(wanted, &zone).max(strsim::jaro_winkler(wanted, city))
}
