//! Live takeover: while the daemon runs, it resumes the sessions whose
//! driver died (a peer daemon killed, a CronJob pod evicted), not only
//! those it finds when it starts. Every [`POLL`] it asks the store which
//! active sessions no live process leases, takes their leases, and resumes
//! each where it stood: remaining steps at their offsets, the stop at its
//! end, never a second start of a running recording.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::session::{Context, Recovery, SessionReport, take_over};
use crate::store::{Lease, SessionId, StoredSession};

/// How often the store is asked for sessions without a driver: a death is
/// noticed within this, and the takeover done a moment later.
pub const POLL: Duration = Duration::from_secs(1);

/// How long a session this process took over and could not finish (a stop
/// Agora keeps refusing) is left before it is taken over again, so that a
/// stuck session is retried, not hammered.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Resumes `recovered` (what the daemon found when it started), then every
/// session whose driver dies, until `shutdown` turns true; then waits for
/// the sessions it resumed to stop. Returns how many it resumed.
pub async fn watch(
    context: Context,
    recovered: Recovery,
    mut shutdown: watch::Receiver<bool>,
) -> usize {
    let mut resumed = recovered.len();
    let mut tasks: JoinSet<Vec<SessionReport>> = JoinSet::new();
    tasks.spawn(recovered.run());
    let mut taken: HashMap<SessionId, Instant> = HashMap::new();
    let mut poll = tokio::time::interval(POLL);
    // After a slow store read, look again a whole period later rather than
    // at once.
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = poll.tick() => {
                for (stored, lease) in orphans(&context, &mut taken).await {
                    resumed += 1;
                    let (context, shutdown) = (context.clone(), shutdown.clone());
                    tasks.spawn(async move { vec![take_over(&context, stored, lease, shutdown).await] });
                }
            }
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => ended(joined),
            changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() {
                break;
            },
        }
    }
    while let Some(joined) = tasks.join_next().await {
        ended(joined);
    }
    resumed
}

/// The active sessions no live process drives, their leases taken, read
/// again under the lease: one its driver finished in between is left.
async fn orphans(
    context: &Context,
    taken: &mut HashMap<SessionId, Instant>,
) -> Vec<(StoredSession, Lease)> {
    let now = Instant::now();
    taken.retain(|_, at| now.duration_since(*at) < RETRY_AFTER);
    let ids = match context.store.unleased().await {
        Ok(ids) => ids,
        Err(error) => {
            tracing::error!(%error, "cannot look for sessions without a driver");
            return Vec::new();
        }
    };
    let mut orphans = Vec::new();
    for id in ids {
        if taken.contains_key(&id) {
            continue;
        }
        let lease = match context.store.lease(id).await {
            Ok(Some(lease)) => lease,
            Ok(None) => continue,
            Err(error) => {
                tracing::error!(session = %id, %error, "cannot take the session's lease");
                continue;
            }
        };
        match context.store.get(id).await {
            Ok(Some(stored)) if stored.is_active() => {
                tracing::warn!(session = %id, plan = %stored.plan, cname = %stored.cname, phase = stored.phase.as_str(), "taking over a session whose driver died");
                taken.insert(id, now);
                orphans.push((stored, lease));
            }
            Ok(_) => {}
            Err(error) => tracing::error!(session = %id, %error, "cannot read the session"),
        }
    }
    orphans
}

fn ended(joined: Result<Vec<SessionReport>, tokio::task::JoinError>) {
    if let Err(error) = joined {
        tracing::error!(%error, "a resumed session ended abnormally");
    }
}
