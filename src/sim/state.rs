//! The simulator's memory: acquired resources, recording tasks and the phase
//! each is in, the per-App-ID rate windows, the fault queue and the request
//! log.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::time::Instant;

use super::faults::FaultQueue;
use super::{RecordedRequest, Timings};
use crate::agora::Mode;
use crate::agora::request::RecordingConfig;

/// Ended tasks and unused resources are forgotten this long after they stop
/// mattering, so that a long-running simulator does not grow without bound.
const RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// `at + duration`, or a century on if that overflows: injected faults and
/// configured timings may be arbitrarily long, and must not panic a request.
pub(super) fn later(at: Instant, duration: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    at.checked_add(duration)
        .or_else(|| at.checked_add(CENTURY))
        .unwrap_or(at)
}

/// The length of the rate limit's sliding window.
const RATE_WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(super) struct State {
    /// By resource ID.
    pub(super) resources: HashMap<String, Resource>,
    /// By sid.
    pub(super) tasks: HashMap<String, Task>,
    pub(super) faults: FaultQueue,
    pub(super) log: Vec<RecordedRequest>,
    /// Arrival times of the requests admitted in the last second, per App ID.
    rate: HashMap<String, VecDeque<Instant>>,
}

/// What acquire handed out.
#[derive(Debug)]
pub(super) struct Resource {
    pub(super) app_id: String,
    pub(super) cname: String,
    pub(super) uid: String,
    pub(super) scene: u8,
    pub(super) expired_hour: u32,
    pub(super) acquired_at: Instant,
    /// Set by the start that used it: a resource serves one recording.
    pub(super) sid: Option<String>,
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Exit {
    /// By a stop request.
    Stopped,
    /// `maxIdleTime` passed with nobody in the channel.
    Idle,
    /// Web page recording reached `maxRecordingHour`.
    MaxRecordingHour,
    /// The worker died (a fault).
    Died,
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TaskLife {
    Running,
    /// Ended, still known for the exiting window.
    Exiting(Exit),
    Gone,
}

/// One recording.
#[derive(Debug)]
pub(super) struct Task {
    pub(super) app_id: String,
    pub(super) resource_id: String,
    pub(super) sid: String,
    pub(super) cname: String,
    pub(super) uid: String,
    pub(super) mode: Mode,
    pub(super) started_at: Instant,
    /// `resourceExpiredHour` after the start, the sid stops answering.
    pub(super) usable_until: Instant,
    /// Whether anyone publishes in the channel; false only by fault.
    pub(super) users_present: bool,
    /// `recordingConfig.streamTypes`: 0 audio, 1 video, 2 both.
    pub(super) stream_types: u8,
    pub(super) output: Output,
    pub(super) subscriptions: Subscriptions,
    /// Web: paused by `webRecordingConfig.onhold`.
    pub(super) onhold: bool,
    /// Web: CDN push targets.
    pub(super) rtmp_urls: Vec<String>,
    /// The earliest end the task will reach by itself, if any.
    pub(super) scheduled_end: Option<(Instant, Exit)>,
    pub(super) stopped_at: Option<Instant>,
    /// Never gets past status 3 (a fault).
    pub(super) stuck: bool,
}

impl Task {
    /// When and how the task ends (or ended): a stop, or its own end if that
    /// comes first.
    pub(super) fn end(&self) -> Option<(Instant, Exit)> {
        let stop = self.stopped_at.map(|at| (at, Exit::Stopped));
        match (stop, self.scheduled_end) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// When the task stops answering altogether: the end of its exiting
    /// window, or its sid's expiry if that comes first.
    pub(super) fn gone_at(&self, exiting: Duration) -> Instant {
        match self.end() {
            Some((at, _)) => later(at, exiting).min(self.usable_until),
            None => self.usable_until,
        }
    }

    pub(super) fn life(&self, now: Instant, exiting: Duration) -> TaskLife {
        if now >= self.gone_at(exiting) {
            return TaskLife::Gone;
        }
        match self.end() {
            Some((at, exit)) if now >= at => TaskLife::Exiting(exit),
            _ => TaskLife::Running,
        }
    }

    /// Makes the task end by itself at `at`, unless it ends earlier anyway.
    pub(super) fn schedule_end(&mut self, at: Instant, exit: Exit) {
        if self.scheduled_end.is_none_or(|(current, _)| at < current) {
            self.scheduled_end = Some((at, exit));
        }
    }

    /// When every component is ready (status 4) and recording begins.
    pub(super) fn ready_at(&self, timings: &Timings) -> Instant {
        later(self.started_at, timings.status_step.saturating_mul(4))
    }

    /// When the first slice is uploaded and files get listed.
    pub(super) fn first_slice_at(&self, timings: &Timings) -> Instant {
        later(self.started_at, timings.first_slice)
    }

    /// Query's `status` at `at` for a task still running then.
    pub(super) fn running_status(&self, at: Instant, timings: &Timings) -> u8 {
        let elapsed = at.saturating_duration_since(self.started_at);
        let step = timings.status_step.as_nanos();
        // A zero step (timings made infinitely fast) means ready at once.
        let climbed = elapsed.as_nanos().checked_div(step).map_or(4, |c| c.min(4));
        if self.stuck {
            u8::try_from(climbed.min(3)).unwrap_or(3)
        } else if climbed < 4 {
            u8::try_from(climbed).unwrap_or(4)
        } else if self.users_present && at >= self.first_slice_at(timings) {
            5
        } else {
            4
        }
    }
}

/// What a task writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Output {
    /// avFileType `["hls"]` (the default).
    Hls,
    /// avFileType `["hls", "mp4"]`.
    HlsAndMp4,
    /// Individual screenshots without recording (no recordingFileConfig).
    Snapshots,
}

/// A subscription list: the uids to record, or the uids not to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum UidList {
    Only(Vec<String>),
    Except(Vec<String>),
}

impl UidList {
    pub(super) fn from_pair(
        only: Option<&Vec<String>>,
        except: Option<&Vec<String>>,
    ) -> Option<Self> {
        match (only, except) {
            (Some(only), _) => Some(UidList::Only(only.clone())),
            (None, Some(except)) => Some(UidList::Except(except.clone())),
            (None, None) => None,
        }
    }

    fn admits(&self, uid: &str) -> bool {
        match self {
            UidList::Only(uids) => uids.iter().any(|u| u == uid || u == "#allstream#"),
            UidList::Except(uids) => !uids.iter().any(|u| u == uid),
        }
    }
}

/// Whose audio and video a task records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Subscriptions {
    pub(super) audio: Option<UidList>,
    pub(super) video: Option<UidList>,
}

impl Subscriptions {
    pub(super) fn from_config(config: Option<&RecordingConfig>) -> Self {
        config.map_or_else(Subscriptions::default, |c| Subscriptions {
            audio: UidList::from_pair(
                c.subscribe_audio_uids.as_ref(),
                c.un_subscribe_audio_uids.as_ref(),
            ),
            video: UidList::from_pair(
                c.subscribe_video_uids.as_ref(),
                c.un_subscribe_video_uids.as_ref(),
            ),
        })
    }

    pub(super) fn audio(&self, uid: &str) -> bool {
        Self::admits(self.audio.as_ref(), self.video.as_ref(), uid)
    }

    pub(super) fn video(&self, uid: &str) -> bool {
        Self::admits(self.video.as_ref(), self.audio.as_ref(), uid)
    }

    /// Agora: a subscription list set for one media type only means the
    /// other type is not subscribed at all.
    fn admits(list: Option<&UidList>, other: Option<&UidList>, uid: &str) -> bool {
        match (list, other) {
            (Some(list), _) => list.admits(uid),
            (None, Some(UidList::Only(_))) => false,
            (None, _) => true,
        }
    }
}

impl State {
    /// Admits a request for `app_id` under `limit` requests per second
    /// (sliding window); a rejected request does not count.
    pub(super) fn admit(&mut self, app_id: &str, limit: Option<NonZeroU32>, now: Instant) -> bool {
        let Some(limit) = limit else {
            return true;
        };
        self.rate.retain(|_, window| {
            while window
                .front()
                .is_some_and(|&t| now.saturating_duration_since(t) >= RATE_WINDOW)
            {
                window.pop_front();
            }
            !window.is_empty()
        });
        let window = self.rate.entry(app_id.to_owned()).or_default();
        if window.len() >= usize::try_from(limit.get()).unwrap_or(usize::MAX) {
            return false;
        }
        window.push_back(now);
        true
    }

    /// Logs an arriving request; returns its index for [`State::complete`].
    pub(super) fn record(&mut self, request: RecordedRequest) -> usize {
        self.log.push(request);
        self.log.len() - 1
    }

    pub(super) fn complete(&mut self, index: usize, status: StatusCode) {
        if let Some(request) = self.log.get_mut(index) {
            request.status = Some(status);
        }
    }

    /// Whether a task of `app_id` with this cname and uid is running.
    pub(super) fn has_running(
        &self,
        app_id: &str,
        cname: &str,
        uid: &str,
        now: Instant,
        exiting: Duration,
    ) -> bool {
        self.tasks.values().any(|t| {
            t.app_id == app_id
                && t.cname == cname
                && t.uid == uid
                && t.life(now, exiting) == TaskLife::Running
        })
    }

    pub(super) fn running_count(&self, app_id: &str, now: Instant, exiting: Duration) -> usize {
        self.tasks
            .values()
            .filter(|t| t.app_id == app_id && t.life(now, exiting) == TaskLife::Running)
            .count()
    }

    /// Makes a running task die now.
    pub(super) fn kill(&mut self, sid: &str, now: Instant, exiting: Duration) -> bool {
        match self.tasks.get_mut(sid) {
            Some(task) if task.life(now, exiting) == TaskLife::Running => {
                task.schedule_end(now, Exit::Died);
                true
            }
            _ => false,
        }
    }

    /// Forgets tasks long gone and resources long unusable.
    pub(super) fn prune(&mut self, now: Instant, timings: &Timings) {
        let old = |at: Instant| now.saturating_duration_since(at) > RETENTION;
        self.tasks.retain(|_, t| !old(t.gone_at(timings.exiting)));
        let tasks = &self.tasks;
        self.resources.retain(|_, r| match &r.sid {
            Some(sid) => tasks.contains_key(sid),
            None => !old(later(r.acquired_at, timings.resource_ttl)),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_list_for_one_media_type_unsubscribes_the_other() {
        let subs = Subscriptions {
            audio: Some(UidList::Only(uids(&["1001"]))),
            video: None,
        };
        assert!(subs.audio("1001"));
        assert!(!subs.audio("1002"));
        assert!(!subs.video("1001"));
        assert!(Subscriptions::default().video("1002"));
    }

    #[test]
    fn rate_window_slides() {
        let mut state = State::default();
        let limit = NonZeroU32::new(2);
        let t0 = Instant::now();
        assert!(state.admit("a", limit, t0));
        assert!(state.admit("a", limit, t0 + Duration::from_millis(500)));
        assert!(!state.admit("a", limit, t0 + Duration::from_millis(900)));
        assert!(state.admit("b", limit, t0 + Duration::from_millis(900)));
        assert!(state.admit("a", limit, t0 + Duration::from_secs(1)));
        assert!(!state.admit("a", limit, t0 + Duration::from_millis(1400)));
    }
}
