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
    let (mut watched, mut listed) = runtime.block_on(measure(plans, changes, dir));
    for (how, took) in [
        ("the watcher's report (Control::Changed)", &mut watched),
        (
            "SIGHUP, every path listed again (Control::Reload)",
            &mut listed,
        ),
    ] {
        took.sort_unstable();
        // The value below which `percent` per cent of the figures lie.
        let at = |percent: usize| took[(took.len() - 1) * percent / 100];
        println!(
            "reload: one plan changed among {plans}, {changes} times, by {how}: \
             p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(at(50)),
            ms(at(99)),
            ms(at(100)),
        );
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// How long each change took to be in force: reported by the watcher, and
/// found by listing every path.
async fn measure(plans: usize, changes: usize, dir: &Path) -> (Vec<Duration>, Vec<Duration>) {
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
        store: Store::open_in_memory().await.expect("the store opens"),
        clock: Clock::system(),
        env: Env::from_process().with("AGORA_APP_ID", sim::DEMO_APP_ID),
        progress: mpsc::unbounded_channel().0,
        stops: recplan::session::Stops::default(),
    };
    let (control, control_rx) = mpsc::unbounded_channel();
    let daemon = tokio::spawn(recplan::daemon::serve(config, context, None, control_rx));
    wait(&mut events, |e| matches!(e, Event::Ready { .. })).await;
    let edited = files.join("bench-00000.yaml");
    let mut watched = Vec::with_capacity(changes);
    let mut listed = Vec::with_capacity(changes);
    for change in 0..2 * changes {
        // Another minute of the hour each time: a real change to the plan.
        let other = 60 + change % 60;
        let text = super::plan_text(other, start, false);
        let text = text.replacen(&format!("bench-{other:05}"), "bench-00000", 2);
        std::fs::write(&edited, text).expect("plan written");
        let began = Instant::now();
        let (message, took) = if change < changes {
            // What the watcher sends once the file settles.
            (Control::Changed(vec![edited.clone()]), &mut watched)
        } else {
            (Control::Reload, &mut listed)
        };
        control.send(message).expect("the daemon listens");
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
    (watched, listed)
}

async fn wait(events: &mut mpsc::UnboundedReceiver<Event>, wanted: impl Fn(&Event) -> bool) {
    while let Some(event) = events.recv().await {
        if wanted(&event) {
            return;
        }
    }
    panic!("the daemon ended first");
}
