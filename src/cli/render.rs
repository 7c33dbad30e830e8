use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};

use super::{exit, load_plan, out, parse_time};
use crate::agora::{Endpoint, mask_secrets};
use crate::plan::{Env, MissingEnv, Occurrence, format_duration, parse_duration};
use crate::session::{PlannedCall, timeline};

/// Shows an occurrence's timeline and the exact requests it would send,
/// secrets masked. Sends nothing.
///
/// Secrets (the RTC token, storage keys, the App Certificate) need not be
/// set: they are shown as `***` either way. Every other value a template
/// names must be, since it shapes the requests.
///
/// Example: recplan render plans/weekly-standup.yaml --at 2026-11-30T09:00:00+01:00
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file (YAML).
    plan: PathBuf,
    /// The occurrence starting at this time (RFC 3339); default the next
    /// scheduled start, or now for a plan without a schedule.
    #[arg(long, value_parser = parse_time)]
    at: Option<DateTime<FixedOffset>>,
    /// Length of the occurrence, overriding the plan's duration.
    #[arg(long, value_parser = parse_duration_arg)]
    duration: Option<Duration>,
    /// Prints JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

pub fn run(args: &Args) -> u8 {
    let env = Env::from_process();
    // Secrets are shown as `***`: they need not be set to be shown.
    let plan = match load_plan(&args.plan, &env, MissingEnv::MaskSecrets) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let now = Utc::now();
    let start = match args.at {
        Some(at) => plan.localize(at.with_timezone(&Utc)),
        None => plan
            .next_starts(now, 1)
            .into_iter()
            .next()
            .unwrap_or_else(|| plan.localize(now)),
    };
    let occurrence = match plan.preview(start, &env, args.duration) {
        Ok(occurrence) => occurrence,
        Err(error) => {
            return super::report_plan_error(error);
        }
    };
    let base =
        std::env::var("AGORA_API_BASE").unwrap_or_else(|_| "https://api.agora.io".to_owned());
    let rendered = RenderedOccurrence::new(&occurrence, base.trim_end_matches('/'));
    let text = if args.json {
        serde_json::to_string_pretty(&rendered).unwrap_or_default() + "\n"
    } else {
        rendered.text()
    };
    match out(format_args!("{text}")) {
        Ok(()) => exit::OK,
        Err(stop) => stop.exit_code(exit::OK),
    }
}

#[derive(serde::Serialize)]
struct RenderedOccurrence {
    plan: String,
    start: DateTime<FixedOffset>,
    end: DateTime<FixedOffset>,
    duration: String,
    sessions: Vec<RenderedSession>,
}

#[derive(serde::Serialize)]
struct RenderedSession {
    cname: String,
    uid: String,
    mode: String,
    calls: Vec<RenderedCall>,
}

#[derive(serde::Serialize)]
struct RenderedCall {
    at: String,
    method: &'static str,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl RenderedOccurrence {
    fn new(occurrence: &Occurrence, base: &str) -> RenderedOccurrence {
        let sessions = occurrence
            .sessions
            .iter()
            .map(|spec| RenderedSession {
                cname: spec.cname.clone(),
                uid: spec.uid.clone(),
                mode: spec.mode.to_string(),
                calls: timeline(spec, occurrence.duration)
                    .into_iter()
                    .map(|call| rendered_call(call, base, &spec.app_id, spec.mode))
                    .collect(),
            })
            .collect();
        RenderedOccurrence {
            plan: occurrence.plan.clone(),
            start: occurrence.start,
            end: occurrence.end(),
            duration: format_duration(occurrence.duration),
            sessions,
        }
    }

    fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "plan {}: {} to {} ({})",
            self.plan,
            self.start.to_rfc3339(),
            self.end.to_rfc3339(),
            self.duration
        );
        for session in &self.sessions {
            let _ = writeln!(
                out,
                "\nchannel {} uid {} ({})",
                session.cname, session.uid, session.mode
            );
            for call in &session.calls {
                let _ = writeln!(out, "  +{:<8} {:<4} {}", call.at, call.method, call.url);
                if let Some(note) = &call.note {
                    let _ = writeln!(out, "            ({note})");
                }
                if let Some(body) = &call.body {
                    let json = serde_json::to_string_pretty(body).unwrap_or_default();
                    for line in json.lines() {
                        let _ = writeln!(out, "            {line}");
                    }
                }
            }
        }
        out
    }
}

/// The call with its URL, resource ID and sid shown as placeholders (they
/// exist only once Agora answers), and secrets masked.
fn rendered_call(
    call: PlannedCall,
    base: &str,
    app_id: &str,
    mode: crate::agora::Mode,
) -> RenderedCall {
    let path = call.endpoint.path(app_id, mode, "<resourceId>", "<sid>");
    let body = call.body.map(|mut body| {
        mask_secrets(&mut body);
        body
    });
    RenderedCall {
        at: format_duration(call.at),
        method: call.endpoint.method(),
        url: format!("{base}{path}"),
        body: body.filter(|_| call.endpoint != Endpoint::Query),
        note: call.note,
    }
}
