//! The calendar as JSON (`calendar --json`): every plan, every recording
//! and every overlap, times as RFC 3339 in the calendar's timezone.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::Serialize;

use super::{Calendar, Conflict, Slot, self_overlap_note};
use crate::plan::format_duration;
use crate::plan::raw::Overlap;

#[derive(Debug, Serialize)]
pub struct CalendarJson {
    pub timezone: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub plans: Vec<PlanJson>,
    pub slots: Vec<SlotJson>,
    /// Two recordings of one channel and uid at once.
    pub overlaps: Vec<OverlapJson>,
}

#[derive(Debug, Serialize)]
pub struct PlanJson {
    pub name: String,
    pub path: PathBuf,
    pub schedule: Option<String>,
    pub duration: Option<String>,
    pub paused: bool,
    pub overlap: Overlap,
    /// The first occurrence still running when the next starts.
    pub overlaps_itself: Option<SelfOverlapJson>,
    /// Why its channels are shown as written rather than rendered.
    pub unrendered: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SelfOverlapJson {
    pub start: DateTime<FixedOffset>,
    pub next: DateTime<FixedOffset>,
    pub note: String,
}

#[derive(Debug, Serialize)]
pub struct SlotJson {
    pub plan: String,
    pub cname: String,
    pub uid: String,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    /// Part of an overlap: the same channel and uid recorded twice at once.
    pub conflict: bool,
    /// Starts while its plan's previous occurrence still runs.
    pub overlaps_previous: bool,
}

#[derive(Debug, Serialize)]
pub struct OverlapJson {
    pub cname: String,
    pub uid: String,
    pub first: Occurrence,
    pub second: Occurrence,
}

#[derive(Debug, Serialize)]
pub struct Occurrence {
    pub plan: String,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
}

impl CalendarJson {
    pub fn of(calendar: &Calendar) -> CalendarJson {
        let tz = calendar.window.tz();
        let local = |at: DateTime<Utc>| at.with_timezone(&tz).fixed_offset();
        let plan_name = |slot: &Slot| calendar.plans[slot.plan].name.clone();
        let occurrence = |slot: &Slot| Occurrence {
            plan: plan_name(slot),
            start: local(slot.start),
            end: local(slot.end),
        };
        let plans = calendar
            .plans
            .iter()
            .map(|plan| PlanJson {
                name: plan.name.clone(),
                path: plan.path.clone(),
                schedule: plan.schedule.clone(),
                duration: plan.duration.map(format_duration),
                paused: plan.paused,
                overlap: plan.overlap,
                overlaps_itself: plan.overlaps_itself.as_ref().map(|found| SelfOverlapJson {
                    start: local(found.start),
                    next: local(found.next),
                    note: self_overlap_note(calendar, plan).unwrap_or_default(),
                }),
                unrendered: plan.unrendered.clone(),
            })
            .collect();
        let slots = (calendar.slots.iter().enumerate())
            .map(|(index, slot)| SlotJson {
                plan: plan_name(slot),
                cname: slot.cname.clone(),
                uid: slot.uid.clone(),
                start: local(slot.start),
                end: local(slot.end),
                conflict: calendar.is_conflicted(index),
                overlaps_previous: slot.overlaps_previous,
            })
            .collect();
        let overlaps = (calendar.conflicts.iter())
            .map(|&Conflict { first, second }| {
                let (first, second) = (&calendar.slots[first], &calendar.slots[second]);
                OverlapJson {
                    cname: first.cname.clone(),
                    uid: first.uid.clone(),
                    first: occurrence(first),
                    second: occurrence(second),
                }
            })
            .collect();
        CalendarJson {
            timezone: tz.name().to_owned(),
            from: calendar.window.dates().first().copied(),
            to: calendar.window.dates().last().copied(),
            plans,
            slots,
            overlaps,
        }
    }
}
