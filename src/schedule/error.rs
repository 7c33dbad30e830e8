//! What can go wrong when reading a cron line or a timezone name.

use std::fmt;

/// A field of a crontab line, in the order the fields are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The optional leading seconds field of a 6-field line.
    Second,
    /// Minutes, 0-59.
    Minute,
    /// Hours, 0-23.
    Hour,
    /// Day of the month, 1-31.
    DayOfMonth,
    /// Month, 1-12 or JAN-DEC.
    Month,
    /// Day of the week, 0-7 or SUN-SAT.
    DayOfWeek,
}

impl Field {
    /// Every field of a 6-field line, in order.
    pub const ALL: [Field; 6] = [
        Field::Second,
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    /// The field's name as the error messages spell it.
    pub fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// The least and greatest value the field takes.
    pub(super) fn bounds(self) -> (u32, u32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    /// What the field accepts, in one sentence.
    pub fn accepts(self) -> &'static str {
        match self {
            Field::Second => {
                "the second field accepts 0-59, `*`, lists (0,30), ranges (0-29) \
                 and steps (*/10, 0-29/5)"
            }
            Field::Minute => {
                "the minute field accepts 0-59, `*`, lists (0,30), ranges (0-29) \
                 and steps (*/15, 0-29/5)"
            }
            Field::Hour => {
                "the hour field accepts 0-23, `*`, lists (9,17), ranges (9-17) \
                 and steps (*/2, 8-18/2)"
            }
            Field::DayOfMonth => {
                "the day-of-month field accepts 1-31, `*`, lists, ranges, steps, \
                 `L` (last day), `LW` (last weekday) and `15W` (weekday nearest the 15th)"
            }
            Field::Month => "the month field accepts 1-12 or JAN-DEC, `*`, lists, ranges and steps",
            Field::DayOfWeek => {
                "the day-of-week field accepts 0-7 (0 and 7 are Sunday) or SUN-SAT, `*`, \
                 lists, ranges, steps, `MON#2` (second Monday) and `FRI#L` or `5L` (last Friday)"
            }
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a cron line or a timezone name was refused.
///
/// Every message is one line, even when the input holds control characters:
/// user text is shown escaped. [`ScheduleError::hint`] says how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron line is empty or only whitespace.
    #[error("the cron line is empty")]
    Empty,

    /// The cron line does not have 5 or 6 fields.
    #[error("the cron line has {found} fields, expected 5 (or 6 with seconds first)")]
    FieldCount {
        /// How many whitespace-separated fields the line has.
        found: usize,
    },

    /// An `@name` line whose name is not a known nickname.
    #[error("unknown cron nickname `@{}`", name.escape_debug())]
    UnknownNickname {
        /// The name after the `@`.
        name: String,
    },

    /// One field of the line is malformed or out of range.
    #[error("invalid {field} field `{}`: {reason}", value.escape_debug())]
    InvalidField {
        /// The field at fault.
        field: Field,
        /// The field as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The line is well formed but no date ever matches it, like `0 0 30 2 *`.
    #[error("the cron line `{}` never fires: no date matches it", cron.escape_debug())]
    NeverFires {
        /// The cron line as written.
        cron: String,
    },

    /// The name is not an IANA timezone that recplan knows.
    #[error("unknown timezone `{}`", name.escape_debug())]
    UnknownTimezone {
        /// The name as written.
        name: String,
        /// The closest known names, best first; may be empty.
        suggestions: Vec<&'static str>,
    },
}

impl ScheduleError {
    /// A one-line suggestion for fixing the input, when there is one.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            ScheduleError::Empty => "write 5 fields: minute hour day-of-month month day-of-week, \
                 e.g. `0 9 * * MON-FRI`"
                .to_string(),
            ScheduleError::FieldCount { found: 7 } => {
                "recplan takes 5 fields (or 6 with seconds first); years are not supported"
                    .to_string()
            }
            ScheduleError::FieldCount { .. } => {
                "recplan takes 5 fields: minute hour day-of-month month day-of-week \
                 (or 6 with seconds first), e.g. `0 9 * * MON-FRI`"
                    .to_string()
            }
            ScheduleError::UnknownNickname { name } if name.eq_ignore_ascii_case("reboot") => {
                "`@reboot` has no start time; use a 5-field cron line".to_string()
            }
            ScheduleError::UnknownNickname { .. } => {
                "known nicknames: @yearly, @annually, @monthly, @weekly, @daily, \
                 @midnight, @hourly"
                    .to_string()
            }
            ScheduleError::InvalidField { field, .. } => field.accepts().to_string(),
            ScheduleError::NeverFires { .. } => "check the day of the month against the month: \
                 e.g. February has no 30th and April no 31st"
                .to_string(),
            ScheduleError::UnknownTimezone { suggestions, .. } => match suggestions.as_slice() {
                [] => "use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`"
                    .to_string(),
                [only] => format!("did you mean `{only}`?"),
                [best, rest @ ..] => {
                    let rest: Vec<String> = rest.iter().map(|name| format!("`{name}`")).collect();
                    format!("did you mean `{best}`? (or {})", rest.join(", "))
                }
            },
        };
        Some(hint)
    }
}
