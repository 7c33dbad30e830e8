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

/// The feed of every occurrence in `calendar`, stamped `now`.
pub fn feed(calendar: &Calendar, now: DateTime<Utc>) -> String {
    // Channels by plan and start: the slots are ordered by channel.
    let mut occurrences = Occurrences::new();
    for slot in &calendar.slots {
        let entry = occurrences
            .entry((slot.start, slot.plan))
            .or_insert_with(|| (slot.end, Vec::new()));
        entry.1.push(format!("{} (uid {})", slot.cname, slot.uid));
    }
    let mut feed = icalendar::Calendar::new();
    feed.name("recplan recordings");
    for ((start, plan), (end, channels)) in occurrences {
        let plan = &calendar.plans[plan];
        let mut description = format!("Channels: {}", channels.join(", "));
        let _ = write!(description, "\nPlan: {}", plan.path.display());
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
