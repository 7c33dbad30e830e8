//! The figures of one run, and the table they are printed as.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::observe::Observed;
use super::percentile::percentile;
use super::proc::Sample;
use super::{MIDDLE_SECS, STEPS_AT_SECS, Setup};

/// The figures of one run.
pub struct Report {
    pub before: Sample,
    pub loaded: Sample,
    pub started: Sample,
    pub middle: Sample,
    pub end: Sample,
    pub peak_kb: u64,
    /// The simulator's peak RSS (kB) and CPU, when it ran apart.
    pub sim: Option<(u64, Duration)>,
    pub observed: Observed,
    pub completed: usize,
    /// Sessions by outcome, and the commonest errors they reported.
    pub outcomes: Vec<(String, usize)>,
    pub errors: Vec<(String, usize)>,
    /// Calls by endpoint and status, and retries by endpoint and class.
    pub calls: Vec<(String, u64)>,
    pub retries: Vec<(String, u64)>,
    pub limiter_max: [Duration; 3],
}

/// `error` without what differs from session to session (the temporary
/// directory, ids: runs of three digits or more), so that alike errors
/// count together.
pub fn generic(error: &str, dir: &Path) -> String {
    let error = error.replace(&*dir.to_string_lossy(), "<tmp>");
    let mut out = String::with_capacity(error.len());
    let mut digits = String::new();
    for c in error.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        out.push_str(if digits.len() >= 3 { "#" } else { &digits });
        digits.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// Counts, commonest first.
pub fn commonest(counts: HashMap<String, usize>) -> Vec<(String, usize)> {
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

fn lateness(sorted: &[u64]) -> String {
    format!(
        "min {} ms, p50 {} ms, p99 {} ms, max {} ms over {} steps",
        sorted.first().copied().unwrap_or_default(),
        percentile(sorted, 0.50),
        percentile(sorted, 0.99),
        sorted.last().copied().unwrap_or_default(),
        sorted.len()
    )
}

#[allow(clippy::cast_precision_loss)]
fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

pub fn print(setup: &Setup, r: &Report) {
    let row = |name: &str, wall: Option<Duration>, cpu: Option<Duration>, rss_kb: u64| {
        let secs = |d: Option<Duration>| {
            d.map_or_else(String::new, |d| format!("{:.2} s", d.as_secs_f64()))
        };
        println!(
            "{name:<34} {:>10} {:>10} {:>9.1} MB",
            secs(wall),
            secs(cpu),
            mb(rss_kb)
        );
    };
    let phase = |name: &str, from: &Sample, to: &Sample| {
        row(
            name,
            Some(to.at - from.at),
            Some(to.cpu.saturating_sub(from.cpu)),
            to.rss_kb,
        );
    };
    println!(
        "{:<34} {:>10} {:>10} {:>12}",
        "", "wall", "cpu", "RSS at end"
    );
    row("before the plans load", None, None, r.before.rss_kb);
    phase(&format!("load {} plans", setup.plans), &r.before, &r.loaded);
    phase("idle until the start", &r.loaded, &r.started);
    phase(&format!("start to +{MIDDLE_SECS} s"), &r.started, &r.middle);
    phase(
        &format!("+{MIDDLE_SECS} s to the end, shutdown"),
        &r.middle,
        &r.end,
    );
    row("whole process, peak RSS", None, Some(r.end.cpu), r.peak_kb);
    if let Some((peak_kb, cpu)) = r.sim {
        row("simulator's process, peak RSS", None, Some(cpu), peak_kb);
    }

    let o = &r.observed;
    println!("step lateness, all steps: {}", lateness(&o.late_ms));
    println!(
        "step lateness, sessions recording by the offset: {}",
        lateness(&o.ready_late_ms)
    );
    println!(
        "step answered after its offset: {}",
        lateness(&o.answered_ms)
    );
    println!(
        "sessions completed {}/{}, steps answered ok {}/{}",
        r.completed,
        setup.sessions,
        o.steps_ok,
        setup.sessions * STEPS_AT_SECS.len()
    );
    println!(
        "after the scheduled start: last occurrence launched +{:.2} s, last session \
         recording +{:.2} s, last session ended +{:.2} s",
        o.last_launched.as_secs_f64(),
        o.last_recording.as_secs_f64(),
        o.last_ended.as_secs_f64()
    );
    let outcomes: Vec<String> = r.outcomes.iter().map(|(o, n)| format!("{o} {n}")).collect();
    println!("session outcomes: {}", outcomes.join(", "));
    for (error, n) in r.errors.iter().take(3) {
        println!("  {n} × {error}");
    }
    let all: u64 = r.calls.iter().map(|(_, n)| n).sum();
    let unusual: Vec<String> = r
        .calls
        .iter()
        .filter(|(call, _)| !call.ends_with(" 200"))
        .chain(r.retries.iter().filter(|(_, n)| *n > 0))
        .map(|(what, n)| format!("{what}: {n}"))
        .collect();
    println!(
        "API calls {all}; not 200, and retries: [{}]",
        unusual.join(", ")
    );
    let [urgent, normal, routine] = r.limiter_max.map(|d| d.as_secs_f64() * 1000.0);
    println!(
        "longest limiter wait: urgent {urgent:.1} ms, normal {normal:.1} ms, routine {routine:.1} ms"
    );
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    println!(
        "targets: peak RSS under 200 MB {}; step lateness p99 under 50 ms {}",
        verdict(r.peak_kb < 200 * 1024),
        verdict(percentile(&o.late_ms, 0.99) < 50)
    );
}
