//! Temporary stand-in until the scheduling module lands.
use chrono::{DateTime, Utc};
pub use chrono_tz::Tz;

#[derive(Clone, Debug)]
pub struct Schedule {
    cron: croner::Cron,
    tz: Tz,
    text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(String);

impl ScheduleError {
    pub fn hint(&self) -> Option<String> {
        None
    }
}

impl Schedule {
    pub fn new(cron: &str, tz: Tz) -> Result<Schedule, ScheduleError> {
        let parsed = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .dom_and_dow(false)
            .build()
            .parse(cron)
            .map_err(|e| ScheduleError(e.to_string()))?;
        Ok(Schedule {
            cron: parsed,
            tz,
            text: cron.to_owned(),
        })
    }
    pub fn timezone(&self) -> Tz {
        self.tz
    }
    pub fn cron(&self) -> &str {
        &self.text
    }
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.tz), false)
            .ok()
    }
    pub fn starts_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Tz>> + '_ {
        let mut cursor = after;
        std::iter::from_fn(move || {
            let next = self.next_after(cursor)?;
            cursor = next.with_timezone(&Utc);
            Some(next)
        })
    }
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Tz>> {
        self.cron
            .find_previous_occurrence(&at.with_timezone(&self.tz), true)
            .ok()
    }
}

pub fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse()
        .map_err(|_| ScheduleError(format!("unknown timezone `{name}`")))
}
