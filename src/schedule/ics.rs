//! A meeting series from an iCalendar file (RFC 5545), as calendar apps
//! export it: one VEVENT with its RRULE, RDATE and EXDATE, and further
//! VEVENTs with the same UID and a RECURRENCE-ID for the instances that
//! were moved (also RANGE=THISANDFUTURE) or cancelled (STATUS:CANCELLED).
//!
//! The `icalendar` crate reads the file; this module picks the series and
//! gives every finding the file's own line (before unfolding).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use icalendar::parser::{Component, Property, read_calendar, unfold};
use rrule::RRuleSet;

use super::rule::parse_rule;
use super::series::{Change, Series, wall_instant};

/// How a plan asks for a series.
#[derive(Clone, Copy, Debug, Default)]
pub struct IcsQuery<'a> {
    /// The series' SUMMARY or UID; may be left out when the file has one.
    pub event: Option<&'a str>,
    /// The plan's `timezone`: where floating times are read and starts
    /// shown. Without it, the event's own zone.
    pub timezone: Option<Tz>,
    /// Whether instances keep their own lengths (the plan sets none).
    pub own_lengths: bool,
}

/// The chosen series and what a plan takes from it by default.
#[derive(Clone, Debug)]
pub struct IcsEvent {
    pub series: Series,
    /// The event's length (DTEND − DTSTART, or DURATION).
    pub length: Option<Duration>,
    /// The zone the event is written in.
    pub zone: Tz,
}

/// A problem in an .ics file, at its line when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcsError {
    /// 1-based line in the file as written (folded).
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for IcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for IcsError {}

impl Series {
    /// The series `query` names in the iCalendar text `text`.
    pub fn from_ics(text: &str, query: IcsQuery<'_>) -> Result<IcsEvent, IcsError> {
        let unfolded = unfold(text);
        let lines = Lines::new(text, &unfolded);
        let calendar = read_calendar(&unfolded).map_err(|error| lines.parse_error(&error))?;
        let reader = Reader {
            lines: &lines,
            zones: zones(&calendar.components),
            floating: query.timezone.unwrap_or(Tz::UTC),
        };
        let events: Vec<&Component<'_>> = calendar
            .components
            .iter()
            .filter(|c| c.name == "VEVENT")
            .collect();
        let master = choose(&events, query.event, &lines)?;
        let uid = text_of(master, "UID");
        let overrides = events.iter().copied().filter(|event| {
            event.find_prop("RECURRENCE-ID").is_some() && text_of(event, "UID") == uid
        });
        reader.series(master, overrides, query)
    }
}

/// Reads values with the file's zones and line numbers at hand.
struct Reader<'a> {
    lines: &'a Lines,
    zones: HashMap<String, Tz>,
    floating: Tz,
}

/// A date-time value read from the file.
struct When {
    wall: NaiveDateTime,
    zone: Tz,
}

impl When {
    fn instant(&self) -> DateTime<Tz> {
        wall_instant(self.zone, self.wall).unwrap_or_else(|moved| moved)
    }
}

impl Reader<'_> {
    fn series<'c>(
        &self,
        master: &Component<'_>,
        overrides: impl Iterator<Item = &'c Component<'c>>,
        query: IcsQuery<'_>,
    ) -> Result<IcsEvent, IcsError> {
        let dtstart_prop = self.required(master, "DTSTART")?;
        let dtstart = self.when(dtstart_prop)?;
        let zone = dtstart.zone;
        let to_set = |instant: DateTime<Tz>| instant.with_timezone(&rrule::Tz::Tz(zone));
        let start = dtstart.instant();
        let length = self.length(master, start)?;

        let mut rules = Vec::new();
        for property in props(master, "RRULE") {
            let rule = parse_rule(property.val.as_str(), zone)
                .and_then(|rule| rule.validate(to_set(start)).map_err(|e| e.to_string()))
                .map_err(|message| self.error(property, format!("invalid RRULE: {message}")))?;
            rules.push(rule);
        }
        let mut rdates = vec![to_set(start)];
        for property in props(master, "RDATE") {
            for when in self.list(property)? {
                rdates.push(to_set(when.instant()));
            }
        }
        let mut exdates = Vec::new();
        for property in props(master, "EXDATE") {
            for when in self.list(property)? {
                exdates.push(to_set(when.instant()));
            }
        }

        let (mut changes, mut ranges) = (BTreeMap::new(), BTreeMap::new());
        for event in overrides {
            let id_prop = self.required(event, "RECURRENCE-ID")?;
            let original = self.when(id_prop)?.instant();
            rdates.push(to_set(original));
            let change = if is_cancelled(event) {
                Change::Cancelled
            } else {
                let moved = match event.find_prop("DTSTART") {
                    Some(property) => self.when(property)?.instant(),
                    None => original,
                };
                let own = self.length(event, moved)?.or(length);
                Change::Moved {
                    by: moved.to_utc() - original.to_utc(),
                    length: own.filter(|_| query.own_lengths),
                }
            };
            let this_and_future = param(id_prop, "RANGE")
                .is_some_and(|range| range.eq_ignore_ascii_case("THISANDFUTURE"));
            let into = if this_and_future {
                &mut ranges
            } else {
                &mut changes
            };
            into.insert(original.to_utc(), change);
        }

        let mut set = RRuleSet::new(to_set(start));
        // A cancelled series has no instances left.
        if !is_cancelled(master) {
            set = set
                .set_rrules(rules)
                .set_rdates(rdates)
                .set_exdates(exdates);
        }
        let summary = text_of(master, "SUMMARY").unwrap_or("the event");
        Ok(IcsEvent {
            series: Series {
                tz: query.timezone.unwrap_or(zone),
                label: format!("`{summary}` from the calendar"),
                set,
                length: length.filter(|_| query.own_lengths),
                changes,
                ranges,
            },
            length,
            zone,
        })
    }

    /// The length DTEND or DURATION gives an event starting at `start`.
    fn length(
        &self,
        event: &Component<'_>,
        start: DateTime<Tz>,
    ) -> Result<Option<Duration>, IcsError> {
        let length = if let Some(property) = event.find_prop("DTEND") {
            let end = self.when(property)?.instant();
            (end.to_utc() - start.to_utc()).to_std().ok()
        } else if let Some(property) = event.find_prop("DURATION") {
            let length = parse_duration(property.val.as_str()).ok_or_else(|| {
                self.error(
                    property,
                    format!("`{}` is not a DURATION", property.val.as_str()),
                )
            })?;
            Some(length)
        } else {
            None
        };
        Ok(length.filter(|length| !length.is_zero()))
    }

    fn required<'p>(
        &self,
        event: &'p Component<'p>,
        name: &str,
    ) -> Result<&'p Property<'p>, IcsError> {
        event.find_prop(name).ok_or_else(|| IcsError {
            line: event.properties.first().and_then(|p| self.lines.line_of(p)),
            message: format!("the event has no {name}"),
            hint: None,
        })
    }

    /// A DATE-TIME value with its TZID, in UTC (`Z`) or floating.
    fn when(&self, property: &Property<'_>) -> Result<When, IcsError> {
        let mut whens = self.list(property)?;
        match whens.len() {
            1 => Ok(whens.remove(0)),
            _ => Err(self.error(property, "expected a single date and time".to_owned())),
        }
    }

    /// A comma-separated list of DATE-TIME values (RDATE, EXDATE); a
    /// PERIOD counts by its start.
    fn list(&self, property: &Property<'_>) -> Result<Vec<When>, IcsError> {
        let all_day = param(property, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
        let zone = match param(property, "TZID") {
            Some(tzid) => Some(self.zone(property, tzid)?),
            None => None,
        };
        let mut whens = Vec::new();
        for value in property.val.as_str().split(',') {
            let value = value.split('/').next().unwrap_or(value).trim();
            if all_day || NaiveDate::parse_from_str(value, "%Y%m%d").is_ok() {
                return Err(IcsError {
                    line: self.lines.line_of(property),
                    message: format!(
                        "{} is an all-day date: there is no time to record",
                        property.name.as_str()
                    ),
                    hint: Some("give the event a start time in the calendar".to_owned()),
                });
            }
            let (text, utc) = match value.strip_suffix(['Z', 'z']) {
                Some(text) => (text, true),
                None => (value, false),
            };
            let wall = NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S")
                .map_err(|_| self.error(property, format!("`{value}` is not a date and time")))?;
            let zone = if utc {
                Tz::UTC
            } else {
                zone.unwrap_or(self.floating)
            };
            whens.push(When { wall, zone });
        }
        Ok(whens)
    }

    fn zone(&self, property: &Property<'_>, tzid: &str) -> Result<Tz, IcsError> {
        self.zones
            .get(tzid)
            .copied()
            .or_else(|| iana_zone(tzid))
            .ok_or_else(|| IcsError {
                line: self.lines.line_of(property),
                message: format!("unknown TZID `{tzid}`"),
                hint: Some(
                    "recplan knows IANA names (Europe/Berlin), Windows names (W. Europe \
                     Standard Time) and VTIMEZONEs with X-LIC-LOCATION"
                        .to_owned(),
                ),
            })
    }

    fn error(&self, property: &Property<'_>, message: String) -> IcsError {
        IcsError {
            line: self.lines.line_of(property),
            message,
            hint: None,
        }
    }
}

/// Picks the series named `event` (SUMMARY or UID), or the only one.
fn choose<'c>(
    events: &[&'c Component<'c>],
    event: Option<&str>,
    lines: &Lines,
) -> Result<&'c Component<'c>, IcsError> {
    let masters: Vec<&Component<'_>> = events
        .iter()
        .copied()
        .filter(|e| e.find_prop("RECURRENCE-ID").is_none())
        .collect();
    let names = || {
        let mut names: Vec<String> = masters
            .iter()
            .filter_map(|e| text_of(e, "SUMMARY"))
            .map(|s| format!("`{s}`"))
            .collect();
        names.dedup();
        names.truncate(8);
        names.join(", ")
    };
    let chosen: Vec<&Component<'_>> = match event {
        Some(wanted) => masters
            .iter()
            .copied()
            .filter(|e| text_of(e, "SUMMARY") == Some(wanted) || text_of(e, "UID") == Some(wanted))
            .collect(),
        None => masters.clone(),
    };
    match (chosen.as_slice(), event) {
        ([only], _) => Ok(only),
        ([], None) => Err(IcsError {
            line: None,
            message: "the calendar has no event".to_owned(),
            hint: None,
        }),
        ([], Some(wanted)) => Err(IcsError {
            line: None,
            message: format!("the calendar has no event called `{wanted}`"),
            hint: Some(format!("its events: {}", names())),
        }),
        ([first, ..], None) => Err(IcsError {
            line: first.properties.first().and_then(|p| lines.line_of(p)),
            message: format!("the calendar has {} events; say which", chosen.len()),
            hint: Some(format!("set `event` to a SUMMARY or UID: {}", names())),
        }),
        ([first, ..], Some(wanted)) => Err(IcsError {
            line: first.properties.first().and_then(|p| lines.line_of(p)),
            message: format!("{} events are called `{wanted}`", chosen.len()),
            hint: Some("set `event` to the series' UID instead".to_owned()),
        }),
    }
}

/// TZIDs of the file's VTIMEZONEs that name their zone another way.
fn zones(components: &[Component<'_>]) -> HashMap<String, Tz> {
    components
        .iter()
        .filter(|c| c.name == "VTIMEZONE")
        .filter_map(|c| {
            let tzid = text_of(c, "TZID")?;
            let zone = iana_zone(tzid).or_else(|| iana_zone(text_of(c, "X-LIC-LOCATION")?))?;
            Some((tzid.to_owned(), zone))
        })
        .collect()
}

/// The IANA zone a TZID names: an IANA name, one behind a prefix such as
/// Thunderbird's `/mozilla.org/20070129_1/Europe/Berlin`, or a Windows
/// name as Outlook writes them.
fn iana_zone(tzid: &str) -> Option<Tz> {
    let tzid = tzid.trim_matches('"');
    if let Ok(zone) = tzid.parse() {
        return Some(zone);
    }
    let by_suffix = tzid
        .match_indices('/')
        .find_map(|(at, _)| tzid[at + 1..].parse().ok());
    by_suffix.or_else(|| {
        WINDOWS_ZONES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(tzid))
            .and_then(|(_, iana)| iana.parse().ok())
    })
}

/// Windows zone names Outlook and Exchange write, with their IANA zone
/// (CLDR's windowsZones, territory 001), for the most used ones.
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("India Standard Time", "Asia/Calcutta"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
];

fn props<'p>(event: &'p Component<'p>, name: &'p str) -> impl Iterator<Item = &'p Property<'p>> {
    event.properties.iter().filter(move |p| p.name == name)
}

fn text_of<'p>(event: &'p Component<'_>, name: &str) -> Option<&'p str> {
    event.find_prop(name).map(|p| p.val.as_str().trim())
}

fn param<'p>(property: &'p Property<'_>, key: &str) -> Option<&'p str> {
    property
        .params
        .iter()
        .find(|p| p.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|p| p.val.as_ref())
        .map(|v| v.as_str().trim_matches('"'))
}

fn is_cancelled(event: &Component<'_>) -> bool {
    text_of(event, "STATUS").is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"))
}

/// An RFC 5545 DURATION such as `PT1H30M`, `P1D` or `P1W`.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim().strip_prefix('+').unwrap_or(text.trim());
    let mut rest = text.strip_prefix('P')?;
    let mut seconds: u64 = 0;
    let mut in_time = false;
    while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix('T') {
            in_time = true;
            rest = tail;
            continue;
        }
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let number: u64 = rest[..digits].parse().ok()?;
        let unit = match (rest[digits..].chars().next()?, in_time) {
            ('W', false) => 604_800,
            ('D', false) => 86_400,
            ('H', true) => 3_600,
            ('M', true) => 60,
            ('S', true) => 1,
            _ => return None,
        };
        seconds = seconds.checked_add(number.checked_mul(unit)?)?;
        rest = &rest[digits + 1..];
    }
    Some(Duration::from_secs(seconds))
}

/// Where each logical (unfolded) line starts in the file as written.
struct Lines {
    /// For logical line `i`, its 1-based line in the file.
    first_line: Vec<usize>,
    /// The unfolded text's address range, to place the crate's borrowed
    /// property names in it.
    unfolded: (usize, usize),
    /// Where each logical line starts in the unfolded text.
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str, unfolded: &str) -> Lines {
        let first_line = text
            .split('\n')
            .enumerate()
            .filter(|(i, line)| *i == 0 || !line.starts_with([' ', '\t']))
            .map(|(i, _)| i + 1)
            .collect();
        let starts = std::iter::once(0)
            .chain(unfolded.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        let base = unfolded.as_ptr() as usize;
        Lines {
            first_line,
            unfolded: (base, base + unfolded.len()),
            starts,
        }
    }

    /// The file line of a property the crate parsed: its name borrows from
    /// the unfolded text, so its address says where it was.
    fn line_of(&self, property: &Property<'_>) -> Option<usize> {
        let at = property.name.as_str().as_ptr() as usize;
        if !(self.unfolded.0..self.unfolded.1).contains(&at) {
            return None;
        }
        let offset = at - self.unfolded.0;
        let logical = self.starts.partition_point(|start| *start <= offset) - 1;
        self.first_line.get(logical).copied()
    }

    /// The crate's parse error, at the file's line.
    fn parse_error(&self, error: &str) -> IcsError {
        let logical = error
            .split("at line ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok());
        IcsError {
            line: logical.and_then(|n| self.first_line.get(n.checked_sub(1)?).copied()),
            message: "not a valid iCalendar file".to_owned(),
            hint: Some("export the calendar or event as .ics from the calendar app".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT1H30M"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("P1W"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("P1DT2S"), Some(Duration::from_secs(86_402)));
        assert_eq!(parse_duration("PT1D"), None);
        assert_eq!(parse_duration("1H"), None);
    }

    #[test]
    fn zones_by_other_names() {
        assert_eq!(iana_zone("Europe/Berlin"), Some(Tz::Europe__Berlin));
        assert_eq!(
            iana_zone("/mozilla.org/20070129_1/Europe/Berlin"),
            Some(Tz::Europe__Berlin)
        );
        assert_eq!(
            iana_zone("W. Europe Standard Time"),
            Some(Tz::Europe__Berlin)
        );
        assert_eq!(iana_zone("Mars/Olympus"), None);
    }
}
