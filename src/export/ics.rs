//! Plans' upcoming occurrences as an iCalendar feed, so that recordings
//! appear in the team's calendar: one VEVENT per plan and occurrence, its
//! channels in the description. `recplan export ics` writes it; the daemon
//! serves it at `/calendar.ics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use icalendar::{Component as _, EventLike as _};

use crate::calendar::Calendar;

/// One occurrence's end and its channels, by start and plan.
type Occurrences = BTreeMap<(DateTime<Utc>, usize), (DateTime<Utc>, Vec<String>)>;

/// The most events one plan puts in the feed: an hourly plan's four weeks
/// fit, while a plan every minute (40,320 events in four weeks) would make
/// calendar apps give up on the whole feed. What is left out is said in the
/// last event listed and in the feed's description.
pub const MAX_EVENTS_PER_PLAN: usize = 1_000;

/// The feed of every occurrence in `calendar`, stamped `now`: each plan's
/// first [`MAX_EVENTS_PER_PLAN`].
pub fn feed(calendar: &Calendar, now: DateTime<Utc>) -> String {
    // Channels by plan and start: the slots are ordered by channel.
    let mut occurrences = Occurrences::new();
    for slot in &calendar.slots {
        let entry = occurrences
            .entry((slot.start, slot.plan))
            .or_insert_with(|| (slot.end, Vec::new()));
        entry.1.push(format!("{} (uid {})", slot.cname, slot.uid));
    }
    let mut per_plan = vec![0_usize; calendar.plans.len()];
    for (_, plan) in occurrences.keys() {
        per_plan[*plan] += 1;
    }
    let mut listed = vec![0_usize; calendar.plans.len()];
    let mut feed = icalendar::Calendar::new();
    feed.name("recplan recordings");
    let cut: Vec<String> = per_plan
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > MAX_EVENTS_PER_PLAN)
        .map(|(plan, count)| {
            format!(
                "{}: the first {MAX_EVENTS_PER_PLAN} of {count} recordings",
                calendar.plans[plan].name
            )
        })
        .collect();
    if !cut.is_empty() {
        feed.description(&format!("Listed in part: {}.", cut.join("; ")));
    }
    for ((start, plan_index), (end, channels)) in occurrences {
        listed[plan_index] += 1;
        if listed[plan_index] > MAX_EVENTS_PER_PLAN {
            continue;
        }
        let plan = &calendar.plans[plan_index];
        let mut description = format!("Channels: {}", channels.join(", "));
        let _ = write!(description, "\nPlan: {}", plan.path.display());
        let left_out = per_plan[plan_index] - MAX_EVENTS_PER_PLAN.min(per_plan[plan_index]);
        if listed[plan_index] == MAX_EVENTS_PER_PLAN && left_out > 0 {
            let _ = write!(
                description,
                "\n{left_out} later recordings of this plan are not listed: see `recplan calendar`."
            );
        }
        feed.push(
            icalendar::Event::new()
                .uid(&format!(
                    "{}-{}@recplan",
                    plan.name,
                    start.format("%Y%m%dT%H%M%SZ")
                ))
                .timestamp(now)
                .summary(&format!("Recording: {}", plan.name))
                .description(&description)
                .starts(start)
                .ends(end)
                .done(),
        );
    }
    feed.done().to_string()
}
