//! A schedule that overlaps itself: an occurrence still running when the
//! next one starts. With `overlap: allow` both record the same channel
//! with the same uid, which Agora refuses (code 53); otherwise the later
//! start is skipped or stops the earlier one.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::Diagnostic;
use super::duration::format as format_duration;
use super::model::Plan;
use super::raw::Overlap;

/// How many upcoming starts are looked at: enough for every pattern a
/// crontab repeats within a week at an hourly or finer grain, little
/// enough to check 10,000 plans quickly.
const STARTS_CHECKED: usize = 500;

/// Two consecutive starts closer together than an occurrence lasts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfOverlap<Tz: TimeZone> {
    pub start: DateTime<Tz>,
    pub next: DateTime<Tz>,
}

/// The first start among `starts` (in order) whose occurrence, lasting
/// `duration`, is still running at the next start.
pub fn self_overlap<Tz: TimeZone>(
    starts: &[DateTime<Tz>],
    duration: Duration,
) -> Option<SelfOverlap<Tz>> {
    let duration = chrono::Duration::from_std(duration).ok()?;
    starts.windows(2).find_map(|pair| {
        (pair[0].clone() + duration > pair[1]).then(|| SelfOverlap {
            start: pair[0].clone(),
            next: pair[1].clone(),
        })
    })
}

/// What `validate` says about a plan that overlaps itself after `now`:
/// an error with `overlap: allow`, a warning naming what happens
/// otherwise; nothing for a plan that does not.
pub fn self_overlap_diagnostic(plan: &Plan, now: DateTime<Utc>) -> Option<Diagnostic> {
    let duration = plan.timing().duration?;
    let starts = plan.next_starts(now, STARTS_CHECKED);
    let found = self_overlap(&starts, duration)?;
    let gap = (found.next - found.start).to_std().unwrap_or_default();
    let when = format!(
        "the occurrence at {} lasts {} but the next starts {} later, at {}",
        found.start.format("%Y-%m-%d %H:%M %Z"),
        format_duration(duration),
        format_duration(gap),
        found.next.format("%H:%M"),
    );
    let path = plan.path();
    let diagnostic = match plan.timing().overlap {
        Overlap::Allow => Diagnostic::error(
            path,
            "schedule.duration",
            format!(
                "{when}: with `overlap: allow` both would record the same channels with the same \
                 uids, which Agora refuses (code 53)"
            ),
        )
        .with_hint(Some(format!(
            "shorten `duration` to at most {}, or choose `overlap: skip` or `overlap: stop_previous`",
            format_duration(gap)
        ))),
        Overlap::Skip => Diagnostic::warning(
            path,
            "schedule.duration",
            format!(
                "{when}: the {} start is skipped, as is every start while an occurrence runs \
                 (overlap: skip)",
                found.next.format("%H:%M")
            ),
        )
        .with_hint(Some(format!(
            "shorten `duration` to at most {} to record every start",
            format_duration(gap)
        ))),
        Overlap::StopPrevious => Diagnostic::warning(
            path,
            "schedule.duration",
            format!(
                "{when}: the {} start stops the occurrence that began at {} early \
                 (overlap: stop_previous)",
                found.next.format("%H:%M"),
                found.start.format("%H:%M")
            ),
        )
        .with_hint(Some(format!(
            "shorten `duration` to at most {} to record each occurrence in full",
            format_duration(gap)
        ))),
    };
    let located = plan
        .source()
        .span_index()
        .locate("schedule.duration")
        .map_or(diagnostic.clone(), |position| diagnostic.at(position.value));
    Some(located.with_source_line(&plan.source().text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn an_occurrence_reaching_the_next_start_overlaps() {
        let starts = [
            at("2026-12-01T09:00:00Z"),
            at("2026-12-01T09:10:00Z"),
            at("2026-12-01T09:20:00Z"),
        ];
        assert_eq!(
            self_overlap(&starts, Duration::from_secs(3600)),
            Some(SelfOverlap {
                start: starts[0],
                next: starts[1]
            })
        );
    }

    #[test]
    fn ending_exactly_at_the_next_start_does_not_overlap() {
        let starts = [at("2026-12-01T09:00:00Z"), at("2026-12-01T09:10:00Z")];
        assert_eq!(self_overlap(&starts, Duration::from_secs(600)), None);
    }

    #[test]
    fn an_irregular_gap_is_found_later_in_the_series() {
        // Every day at 09:00 and 09:30, 45 minutes long: only the 09:00
        // occurrence reaches the next start.
        let starts = [
            at("2026-12-01T09:30:00Z"),
            at("2026-12-02T09:00:00Z"),
            at("2026-12-02T09:30:00Z"),
        ];
        assert_eq!(
            self_overlap(&starts, Duration::from_secs(45 * 60)),
            Some(SelfOverlap {
                start: starts[1],
                next: starts[2]
            })
        );
    }

    #[test]
    fn one_start_cannot_overlap() {
        assert_eq!(
            self_overlap(&[at("2026-12-01T09:00:00Z")], Duration::from_secs(86_400)),
            None
        );
    }
}
