//! One plan changed among many: how long from the reload signal until the
//! daemon has the new version in force (its `Loaded` event), with
//! `RECPLAN_BENCH_PLANS` plans loaded (default 10,000) and
//! `RECPLAN_BENCH_CHANGES` changes (default 200). Only the changed file is
//! read and validated; the others are only listed and stat'ed.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use recplan::clock::Clock;
use recplan::daemon::{Config, Control, Event};
use recplan::plan::Env;
use recplan::session::Context;
use recplan::sim;
use recplan::store::Store;
use tokio::sync::mpsc;

/// Runs the measurement and prints its figures.
pub fn main(plans: usize, changes: usize, dir: &Path) {
    let runtime = recplan::session::runtime().expect("the runtime builds");
    let mut took = runtime.block_on(measure(plans, changes, dir));
    took.sort_unstable();
    // The value below which `percent` per cent of the figures lie.
    let at = |percent: usize| took[(took.len() - 1) * percent / 100];
    println!(
        "reload: one plan changed among {plans}, {changes} times: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(at(50)),
        ms(at(99)),
        ms(at(100)),
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

async fn measure(plans: usize, changes: usize, dir: &Path) -> Vec<Duration> {
    let files = dir.join("plans");
    std::fs::create_dir(&files).expect("plan directory");
    let start = Utc::now();
    for index in 0..plans {
        let text = super::plan_text(index, start, false);
        std::fs::write(files.join(format!("bench-{index:05}.yaml")), text).expect("plan written");
    }
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let config = Config {
        events: Some(events_tx),
        ..Config::new(vec![files.clone()])
    };
    let context = Context {
        // Nothing is due: no call is sent.
        client: super::client("http://127.0.0.1:9"),
        store: Store::open_in_memory().expect("the store opens"),
        clock: Clock::system(),
        env: Env::from_process().with("AGORA_APP_ID", sim::DEMO_APP_ID),
        progress: mpsc::unbounded_channel().0,
    };
    let (control, control_rx) = mpsc::unbounded_channel();
    let daemon = tokio::spawn(recplan::daemon::serve(config, context, None, control_rx));
    wait(&mut events, |e| matches!(e, Event::Ready { .. })).await;
    let edited = files.join("bench-00000.yaml");
    let mut took = Vec::with_capacity(changes);
    for change in 0..changes {
        // Another minute of the hour each time: a real change to the plan.
        let text = super::plan_text(60 + change % 60, start, false);
        let text = text.replacen(&format!("bench-{:05}", 60 + change % 60), "bench-00000", 2);
        std::fs::write(&edited, text).expect("plan written");
        let began = Instant::now();
        control.send(Control::Reload).expect("the daemon listens");
        wait(
            &mut events,
            |e| matches!(e, Event::Loaded { plan, .. } if plan == "bench-00000"),
        )
        .await;
        took.push(began.elapsed());
    }
    control.send(Control::Shutdown).expect("the daemon listens");
    daemon
        .await
        .expect("the daemon ends")
        .expect("the daemon runs");
    took
}

async fn wait(events: &mut mpsc::UnboundedReceiver<Event>, wanted: impl Fn(&Event) -> bool) {
    while let Some(event) = events.recv().await {
        if wanted(&event) {
            return;
        }
    }
    panic!("the daemon ended first");
}
