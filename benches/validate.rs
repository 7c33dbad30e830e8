//! How many typical plans `validate` gets through per second.
//!
//! Validates 10,000 variants of `plans/weekly-standup.yaml` (each with its own
//! name and team, so templates render different values) from memory, on one
//! thread and then on two (or one, on a single core), and times the two
//! parsing passes a plan goes through on its own. A last run gives every
//! plan templates of its own, so that compiled templates are reused only
//! for the environment values all plans share. Then half of the plans
//! swap their cron line for an RFC 5545 rule (`rrule` + `dtstart`), first
//! with rules repeated across plans, then with a rule of each plan's own,
//! so that none is parsed only once. Run with
//! `cargo bench --bench validate`; the figures are recorded in
//! docs/BENCHMARKS.md.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use recplan::plan::raw::RawPlan;
use recplan::plan::{Env, MissingEnv, Options, Source, validate};

const PLANS: usize = 10_000;
const TEMPLATE: &str = include_str!("../plans/weekly-standup.yaml");

/// The plans to validate. With `own_templates`, each plan's channel name
/// and file name prefix are templates no other plan has, so that compiled
/// templates are not reused across plans (the environment ones still are).
fn plans(own_templates: bool) -> Vec<Source> {
    (0..PLANS)
        .map(|i| {
            let mut text = TEMPLATE
                .replacen("name: weekly-standup", &format!("name: standup-{i}"), 1)
                .replacen("team: platform", &format!("team: team{i}"), 1);
            if own_templates {
                text = text
                    .replacen(
                        "standup-{{vars.team}}",
                        &format!("s{i}-{{{{vars.team}}}}"),
                        1,
                    )
                    .replacen(
                        "\"{{vars.team}}\"",
                        &format!("\"p{i}{{{{vars.team}}}}\""),
                        1,
                    );
            }
            assert_ne!(text, TEMPLATE);
            Source::from_text(format!("plans/standup-{i}.yaml"), text)
        })
        .collect()
}

/// [`plans`] with every other plan's cron line replaced by a recurrence
/// rule; with `own_rules`, no two rules alike.
fn mixed_plans(own_rules: bool) -> Vec<Source> {
    plans(false)
        .into_iter()
        .enumerate()
        .map(|(i, source)| {
            if i % 2 == 0 {
                return source;
            }
            let interval = 1 + i % 3;
            let (day, minute) = if own_rules {
                (1 + i % 28, (i / 28) % 60)
            } else {
                (5, i % 60)
            };
            let rule = format!(
                "rrule: \"FREQ=WEEKLY;INTERVAL={interval};BYDAY=MO,WE\"\n  \
                 dtstart: \"2026-01-{day:02}T09:{minute:02}:00\""
            );
            let text = source.text.replacen("cron: \"0 9 * * MON-FRI\"", &rule, 1);
            assert_ne!(text, source.text);
            Source::from_text(source.path, text)
        })
        .collect()
}

/// Validates `sources` on `threads` threads, one share each.
fn validate_parallel(sources: &[Source], options: &Options, threads: usize) {
    let chunk = sources.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for part in sources.chunks(chunk) {
            scope.spawn(move || validate_all(part, options));
        }
    });
}

fn options() -> Options {
    Options {
        env: Env::default()
            .with("AGORA_APP_ID", "0123456789abcdef0123456789abcdef")
            .with("AGORA_RTC_TOKEN", "rtc-token")
            .with("S3_ACCESS_KEY", "access-key")
            .with("S3_SECRET_KEY", "secret-key"),
        missing_env: MissingEnv::Refuse,
        now: DateTime::parse_from_rfc3339("2026-11-27T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    }
}

/// Validates every plan in `chunk`, panicking on an invalid one.
fn validate_all(chunk: &[Source], options: &Options) {
    for source in chunk {
        if let Err(error) = validate(source.clone(), options) {
            panic!("{}: {error}", source.path.display());
        }
    }
}

/// Runs `work` once and reports the rate over `PLANS` plans.
fn report(label: &str, work: impl FnOnce()) -> Duration {
    let started = Instant::now();
    work();
    let elapsed = started.elapsed();
    #[allow(clippy::cast_precision_loss)]
    let rate = PLANS as f64 / elapsed.as_secs_f64();
    println!(
        "{label:<42} {:>8.1} ms  {rate:>9.0} plans/s",
        elapsed.as_secs_f64() * 1000.0
    );
    elapsed
}

fn main() {
    let sources = plans(false);
    let options = options();
    // The target is for 2 cores: more threads would flatter bigger machines.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    validate_all(&sources[..100], &options); // warm-up: registries, timezone data

    println!("{PLANS} plans (plans/weekly-standup.yaml, varied), {threads} core(s)");
    report("validate, 1 thread", || validate_all(&sources, &options));
    let parallel = report(&format!("validate, {threads} threads"), || {
        validate_parallel(&sources, &options, threads);
    });
    report("  of which: parse as RawPlan", || {
        for source in &sources {
            source.parse::<RawPlan>().unwrap();
        }
    });
    report("  of which: position index", || {
        for source in &sources {
            std::hint::black_box(source.span_index());
        }
    });
    let own = plans(true);
    report(
        &format!("validate, {threads} threads, unshared templates"),
        || {
            validate_parallel(&own, &options, threads);
        },
    );
    let mixed = mixed_plans(false);
    let mixed_parallel = report(&format!("cron + rrule, {threads} threads"), || {
        validate_parallel(&mixed, &options, threads);
    });
    let own_rules = mixed_plans(true);
    let own_parallel = report(
        &format!("cron + rrule, {threads} threads, own rules"),
        || {
            validate_parallel(&own_rules, &options, threads);
        },
    );
    let verdict = if parallel.max(mixed_parallel).max(own_parallel) < Duration::from_secs(1) {
        "under"
    } else {
        "OVER"
    };
    println!("target: {PLANS} plans in under 1 s on {threads} core(s): {verdict}");
}
