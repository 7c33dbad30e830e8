//! Client-side pacing of Agora calls, so that a burst of sessions stays under
//! Agora's quota (10 requests per second per App ID, §10) instead of
//! learning it from 429s.
//!
//! The limit is a sliding window, the shape Agora's gateway (and recplan's
//! simulator) counts: at most `calls` grants in any `window + margin`. A
//! token bucket with a burst of `calls` would not do: it allows `calls` at
//! once and then one more per refill, which is `2 × calls - 1` in one second.
//!
//! Calls wait in three queues, best priority first and first come, first
//! served within one; a task per App ID hands out the slots while anyone
//! waits and sleeps on a tokio timer until the next one frees up, so paused
//! time drives it in tests. Nothing polls.
//!
//! Agora counts per App ID, whoever calls: several runners on one state
//! store (daemons on one PostgreSQL, CronJob pods, a `run` beside a
//! daemon on one machine) share one window there ([`SharedWindow`]). Each
//! grant is then also reserved in the shared window, at an instant a
//! little ahead on the store's clock, and handed over at that instant:
//! what Agora counts is when requests arrive, so the window holds when
//! they leave, not when their slot was taken (the delay between the two
//! differs between processes by more than a margin). A slot that cannot be
//! used within [`DEPARTURE_TOLERANCE`] of its instant is not used. When the
//! window is full, its answer says how long until a slot frees; a 429's
//! pause is written there too, so that every runner holds back.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until};

use super::Endpoint;

/// How fast calls may go, per App ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls per window (Agora's default quota: 10).
    pub calls: NonZeroU32,
    /// The window Agora counts over: one second, sliding.
    pub window: Duration,
    /// Added to the window: Agora counts arrivals, recplan counts departures,
    /// and two requests' network delays differ by a little.
    pub margin: Duration,
    /// How long a 429 without `Retry-After` holds every call of its App ID
    /// (Agora documents no value; a window is what the quota is counted in).
    pub pause: Duration,
}

impl RateLimit {
    /// `calls` per second, with the default margin and pause.
    pub fn per_second(calls: NonZeroU32) -> RateLimit {
        RateLimit {
            calls,
            ..RateLimit::default()
        }
    }

    /// How long the last `calls` grants keep the next one waiting.
    fn span(&self) -> Duration {
        self.window + self.margin
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            calls: NonZeroU32::new(10).expect("10 is not zero"),
            window: Duration::from_secs(1),
            margin: Duration::from_millis(20),
            pause: Duration::from_secs(1),
        }
    }
}

/// How long after its reserved instant a request may leave in a shared
/// slot: the shared window's span is widened by as much, so that requests
/// `calls` slots apart arrive a window apart however late within it each
/// leaves. Later, the slot is given up.
pub const DEPARTURE_TOLERANCE: Duration = Duration::from_millis(10);

/// How far ahead of the store's clock a shared slot is reserved: time for
/// the answer to reach the runner and the runner to be ready at the
/// instant. A lead, not a cost: the window's pace is unchanged.
pub const RESERVE_AHEAD: Duration = Duration::from_millis(25);

/// The furthest ahead a shared slot is reserved: beyond, the runner asks
/// again later rather than hold a slot a runner with a better priority may
/// want by then.
pub const RESERVE_WITHIN: Duration = Duration::from_millis(250);

/// How long a runner's best waiting priority holds the others' worse
/// calls back after its slot's instant: time to hand the slot over and
/// ask for the next, which says again what it waits for.
pub const WAITING_HOLDS: Duration = Duration::from_millis(200);

/// The window of one App ID's grants as several runners share it, in
/// microseconds on the sharing place's clock: the instants reserved for
/// the last requests (some perhaps still ahead), oldest first; a 429's
/// pause; and what each runner asking lately waits for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub grants: Vec<i64>,
    pub paused_until: Option<i64>,
    pub waiting: Vec<Waiting>,
}

/// The best priority a runner has calls waiting in, as it said when it
/// last asked for a slot, until when that holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub runner: u64,
    pub priority: Priority,
    pub until: i64,
}

/// Who asks a shared window for a slot: a runner (one [`RateLimiter`])
/// and the best priority it has calls waiting in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asker {
    pub runner: u64,
    pub priority: Priority,
}

impl Window {
    /// Reserves a slot for `asker` unless another runner waits with a
    /// better priority: across runners as within one, urgent calls go
    /// before acquires and acquires before routine queries. The slot is
    /// the first instant from `now` + [`RESERVE_AHEAD`] at which `limit`
    /// allows a request (no earlier than any reserved before, so that the
    /// instants stay in order), if it is within [`RESERVE_WITHIN`]; else
    /// the answer is how long until asking again. Either way `asker`'s
    /// priority is noted for [`WAITING_HOLDS`] past its slot or its wait.
    pub fn reserve(&mut self, now: i64, limit: &RateLimit, asker: Asker) -> Result<i64, Duration> {
        self.waiting
            .retain(|w| w.until > now && w.runner != asker.runner);
        let better = self
            .waiting
            .iter()
            .filter(|w| w.priority < asker.priority)
            .map(|w| w.until)
            .max();
        let slot = match better {
            Some(until) => Err(until),
            None => self.first_free(now, limit),
        };
        let until = slot.unwrap_or_else(|at| at) + micros(WAITING_HOLDS);
        self.waiting.push(Waiting {
            runner: asker.runner,
            priority: asker.priority,
            until,
        });
        match slot {
            Ok(at) => {
                self.grants.push(at);
                Ok(at)
            }
            Err(at) => Err(duration_of(at - now)),
        }
    }

    /// The instant a slot is free for a request, or when to ask again.
    fn first_free(&mut self, now: i64, limit: &RateLimit) -> Result<i64, i64> {
        let span = micros(limit.span() + DEPARTURE_TOLERANCE);
        self.grants.retain(|&at| at > now - span);
        self.grants.sort_unstable();
        let calls = limit_calls(limit);
        let mut at = now + micros(RESERVE_AHEAD);
        if let Some(excess) = self.grants.len().checked_sub(calls) {
            // `grants[excess]` is the grant whose expiry makes room.
            at = at.max(self.grants[excess] + span);
        }
        at = at
            .max(self.grants.last().copied().unwrap_or(at))
            .max(self.paused_until.unwrap_or(at));
        if at > now + micros(RESERVE_WITHIN) {
            return Err(at - micros(RESERVE_AHEAD));
        }
        Ok(at)
    }

    /// Holds every grant until `now + pause`; a later pause extends an
    /// earlier one, never shortens it.
    pub fn pause(&mut self, now: i64, pause: Duration) {
        let until = now + micros(pause);
        self.paused_until = Some(self.paused_until.map_or(until, |at| at.max(until)));
    }
}

/// A slot reserved in a shared window: its instant, and the window's clock
/// when it was reserved, both in microseconds on the sharing place's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub at: i64,
    pub now: i64,
}

/// A shared window's answer to a runner asking for a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Reserved(Reservation),
    /// None free soon: ask again after this long.
    Wait(Duration),
}

/// How far two clocks may drift apart, in millionths: NTP slews a clock
/// by at most 500 ppm.
const DRIFT_PPM: i64 = 500;

/// The sharing place's clock against this process's, in microseconds
/// (`place - local`), learnt from a reservation's round trip: the place
/// read its clock at some point between sending and answer, so the
/// offset is known to within half the round trip, plus the drift since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockOffset {
    offset: i64,
    uncertainty: i64,
    observed_at: i64,
}

impl ClockOffset {
    /// From a round trip sent at local `sent`, answered at local
    /// `answered`, in which the place's clock read `place_now`.
    pub fn observed(sent: i64, answered: i64, place_now: i64) -> ClockOffset {
        let round_trip = (answered - sent).max(0);
        let middle = sent + round_trip / 2;
        ClockOffset {
            offset: place_now - middle,
            uncertainty: round_trip - round_trip / 2,
            observed_at: answered,
        }
    }

    /// How far off the offset may be at local `now`.
    pub fn uncertainty_at(&self, now: i64) -> i64 {
        self.uncertainty + (now - self.observed_at).max(0) * DRIFT_PPM / 1_000_000
    }

    /// The more certain of two at local `now`: a quick round trip pins the
    /// offset down for a while after a slow one.
    #[must_use]
    pub fn or_better(self, other: ClockOffset, now: i64) -> ClockOffset {
        if other.uncertainty_at(now) < self.uncertainty_at(now) {
            other
        } else {
            self
        }
    }

    /// When a request may use the slot reserved at place instant `at`, in
    /// local microseconds, learnt at local `now`: from the first local
    /// instant that cannot be before `at`, to the last that cannot be more
    /// than `tolerance` after it. `None` when the offset is too uncertain
    /// for any instant to be both.
    pub fn departure(&self, at: i64, now: i64, tolerance: Duration) -> Option<(i64, i64)> {
        let local = at - self.offset;
        let uncertainty = self.uncertainty_at(now);
        let (from, by) = (local + uncertainty, local - uncertainty + micros(tolerance));
        (from <= by).then_some((from, by))
    }
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// A positive number of microseconds as a duration; zero for a negative.
fn duration_of(micros: i64) -> Duration {
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

/// Where several runners keep one App ID's [`Window`]: the state store.
/// Each call is a database round trip or two, awaited.
pub trait SharedWindow: Send + Sync + std::fmt::Debug {
    /// Reserves a slot for `app_id` (see [`Window::reserve`]), or says
    /// how long until one may be.
    fn take<'a>(
        &'a self,
        app_id: &'a str,
        limit: &'a RateLimit,
        asker: Asker,
    ) -> SharedFuture<'a, Slot>;

    /// Holds every runner's calls for `app_id` for `pause`.
    fn pause<'a>(&'a self, app_id: &'a str, pause: Duration) -> SharedFuture<'a, ()>;
}

/// Why the shared window could not be reached.
pub type SharedError = Box<dyn std::error::Error + Send + Sync>;

/// A [`SharedWindow`] call's answer, to await.
pub type SharedFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, SharedError>> + Send + 'a>>;

/// Which queue a call waits in. A waiting call of a better priority always
/// goes first, so a long enough burst of urgent calls holds routine ones
/// back; bursts are finite (one start per session), queries can wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Calls that are late if they wait: start (its resource expires, and
    /// Agora wants it within seconds of acquire), stop (the recording runs,
    /// and is billed, until it arrives) and the plan's steps.
    Urgent,
    /// acquire: behind start, so that a burst of sessions starts each
    /// resource right after acquiring it instead of acquiring them all first.
    Normal,
    /// query: routine checks that lose nothing by waiting a second.
    Routine,
}

impl Priority {
    /// Best first.
    pub const ALL: [Priority; 3] = [Priority::Urgent, Priority::Normal, Priority::Routine];

    /// The priority of a call to `endpoint`.
    pub fn of(endpoint: Endpoint) -> Priority {
        match endpoint {
            Endpoint::Start | Endpoint::Stop | Endpoint::Update | Endpoint::UpdateLayout => {
                Priority::Urgent
            }
            Endpoint::Acquire => Priority::Normal,
            Endpoint::Query => Priority::Routine,
        }
    }

    /// Its place in [`Priority::ALL`].
    pub fn index(self) -> usize {
        match self {
            Priority::Urgent => 0,
            Priority::Normal => 1,
            Priority::Routine => 2,
        }
    }
}

/// Upper bounds of the wait histogram's buckets; a last bucket counts the
/// longer waits.
pub const WAIT_BUCKETS: [Duration; 6] = [
    Duration::ZERO,
    Duration::from_millis(10),
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(10),
    Duration::from_secs(60),
];

/// How long the calls of one priority waited for a slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WaitCounts {
    /// Calls that got a slot.
    pub calls: u64,
    /// Their waits, summed.
    pub total: Duration,
    /// The longest wait.
    pub max: Duration,
    /// `histogram[i]` counts waits of at most `WAIT_BUCKETS[i]` (and more
    /// than the bucket before); the last entry counts longer waits. Not
    /// cumulative: sum a prefix for a Prometheus `le` bucket.
    pub histogram: [u64; WAIT_BUCKETS.len() + 1],
}

impl WaitCounts {
    fn record(&mut self, wait: Duration) {
        self.calls += 1;
        self.total += wait;
        self.max = self.max.max(wait);
        let bucket = WAIT_BUCKETS
            .iter()
            .position(|bound| wait <= *bound)
            .unwrap_or(WAIT_BUCKETS.len());
        self.histogram[bucket] += 1;
    }
}

/// What the limiter has done so far, over all App IDs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WaitStats {
    /// Per priority, in [`Priority::ALL`] order.
    pub waits: [WaitCounts; 3],
    /// 429s reported through [`RateLimiter::pause`].
    pub pauses: u64,
}

impl WaitStats {
    /// The waits of `priority`'s calls.
    pub fn of(&self, priority: Priority) -> &WaitCounts {
        &self.waits[priority.index()]
    }
}

/// The pacing shared by every session of a process. Cloning is cheap: clones
/// share the queues and the counts.
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    limit: RateLimit,
    /// This runner, to the runners it shares a window with.
    runner: u64,
    /// Local instants are microseconds since this one to a [`ClockOffset`].
    epoch: Instant,
    state: Mutex<State>,
    /// Shared with other runners, once [`RateLimiter::share`] was called.
    window: Mutex<Option<Arc<dyn SharedWindow>>>,
}

#[derive(Default)]
struct State {
    buckets: HashMap<String, Bucket>,
    stats: WaitStats,
    /// The shared window's clock against this process's, once learnt.
    clock: Option<ClockOffset>,
}

/// One App ID's window and queues.
#[derive(Default)]
struct Bucket {
    /// When the last `calls` slots were granted, oldest first.
    granted: VecDeque<Instant>,
    /// No slot before this (a 429's `Retry-After`).
    paused_until: Option<Instant>,
    /// Waiting calls, one queue per priority, in [`Priority::ALL`] order.
    queues: [VecDeque<Waiter>; 3],
    /// Whether a task is handing out this bucket's slots.
    dispatching: bool,
}

struct Waiter {
    since: Instant,
    priority: Priority,
    grant: oneshot::Sender<()>,
}

/// What a caller does after looking at its bucket.
enum Turn {
    Go,
    Wait(oneshot::Receiver<()>),
}

impl RateLimiter {
    /// A limiter with no call made yet.
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            shared: Arc::new(Shared {
                limit,
                runner: rand::random(),
                epoch: Instant::now(),
                state: Mutex::new(State::default()),
                window: Mutex::new(None),
            }),
        }
    }

    /// Shares the limit with every runner that keeps its window in
    /// `window` (none: this process paces alone): from now on each grant
    /// is taken there too.
    pub fn share(&self, window: Option<Arc<dyn SharedWindow>>) {
        *self
            .shared
            .window
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = window;
    }

    /// The limit it enforces.
    pub fn limit(&self) -> RateLimit {
        self.shared.limit
    }

    /// Waits for a slot to call Agora for `app_id`, behind every waiting
    /// call of a better priority and every earlier one of the same; returns
    /// how long it waited. The slot counts from the moment it is granted, so
    /// send the request right away. Dropping the future gives up the place
    /// in the queue without using a slot.
    pub async fn until_ready(&self, app_id: &str, priority: Priority) -> Duration {
        let since = Instant::now();
        loop {
            match self.take_turn(app_id, priority, since) {
                Turn::Go => return since.elapsed(),
                Turn::Wait(grant) => {
                    if grant.await.is_ok() {
                        return since.elapsed();
                    }
                    // The dispatching task is gone (its runtime shut down)
                    // and dropped the queue: queue again under a new one.
                }
            }
        }
    }

    /// Holds every call for `app_id` after Agora answered 429: for
    /// `retry_after` when Agora said, else for the configured pause. Returns
    /// that pause. A later pause extends an earlier one, never shortens it.
    pub fn pause(&self, app_id: &str, retry_after: Option<Duration>) -> Duration {
        let pause = retry_after.unwrap_or(self.shared.limit.pause);
        let until = Instant::now() + pause;
        let mut state = self.shared.lock();
        state.stats.pauses += 1;
        let bucket = state.bucket(app_id);
        bucket.paused_until = Some(bucket.paused_until.map_or(until, |at| at.max(until)));
        drop(state);
        if let (Some(window), Ok(runtime)) =
            (self.shared.window(), tokio::runtime::Handle::try_current())
        {
            let app_id = app_id.to_owned();
            runtime.spawn(async move {
                if let Err(error) = window.pause(&app_id, pause).await {
                    tracing::warn!(%error, "cannot share a 429's pause with the other runners");
                }
            });
        }
        pause
    }

    /// The calls waiting for `app_id` now.
    pub fn waiting(&self, app_id: &str) -> usize {
        self.shared
            .lock()
            .buckets
            .get(app_id)
            .map_or(0, |bucket| bucket.queues.iter().map(VecDeque::len).sum())
    }

    /// Waits and pauses so far.
    pub fn stats(&self) -> WaitStats {
        self.shared.lock().stats.clone()
    }

    /// Takes a free slot at once if nobody waits, else joins the queue
    /// (starting the dispatching task if it is not running).
    fn take_turn(&self, app_id: &str, priority: Priority, since: Instant) -> Turn {
        let limit = self.shared.limit;
        let now = Instant::now();
        let mut state = self.shared.lock();
        let State { buckets, stats, .. } = &mut *state;
        let bucket = match buckets.get_mut(app_id) {
            Some(bucket) => bucket,
            None => buckets.entry(app_id.to_owned()).or_default(),
        };
        // A shared window is asked by the dispatching task only, off the
        // caller's path.
        if self.shared.window().is_none()
            && bucket.is_idle()
            && bucket.free_at(&limit).is_none_or(|at| at <= now)
        {
            bucket.grant(now, &limit);
            stats.waits[priority.index()].record(now - since);
            return Turn::Go;
        }
        let (grant, granted) = oneshot::channel();
        bucket.queues[priority.index()].push_back(Waiter {
            since,
            priority,
            grant,
        });
        if !bucket.dispatching {
            bucket.dispatching = true;
            tokio::spawn(
                Dispatcher {
                    shared: Arc::clone(&self.shared),
                    app_id: app_id.to_owned(),
                    finished: false,
                }
                .run(),
            );
        }
        Turn::Wait(granted)
    }
}

impl Default for RateLimiter {
    /// Agora's default quota.
    fn default() -> Self {
        RateLimiter::new(RateLimit::default())
    }
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &self.shared.limit)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The state; a panic elsewhere while holding the lock leaves it
    /// consistent (every update is a single step), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn window(&self) -> Option<Arc<dyn SharedWindow>> {
        self.window
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `at` in microseconds since the epoch.
    fn local(&self, at: Instant) -> i64 {
        micros(at.saturating_duration_since(self.epoch))
    }

    /// When to hand over the slot `reservation`, asked for at `sent` and
    /// answered at `answered`, and the last instant it may still be used;
    /// `None` if no instant is sure to be both late enough and early
    /// enough.
    fn departure(
        &self,
        reservation: Reservation,
        sent: Instant,
        answered: Instant,
    ) -> Option<(Instant, Instant)> {
        let (sent, answered) = (self.local(sent), self.local(answered));
        let observed = ClockOffset::observed(sent, answered, reservation.now);
        let clock = {
            let mut state = self.lock();
            let clock = state
                .clock
                .map_or(observed, |known| known.or_better(observed, answered));
            state.clock = Some(clock);
            clock
        };
        let (from, by) = clock.departure(reservation.at, answered, DEPARTURE_TOLERANCE)?;
        let instant = |local: i64| self.epoch + duration_of(local);
        Some((instant(from), instant(by)))
    }
}

impl State {
    fn bucket(&mut self, app_id: &str) -> &mut Bucket {
        self.buckets.entry(app_id.to_owned()).or_default()
    }
}

impl Bucket {
    fn is_idle(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty)
    }

    /// The best priority a call waits in.
    fn best_waiting(&self) -> Option<Priority> {
        Priority::ALL
            .into_iter()
            .zip(&self.queues)
            .find(|(_, queue)| !queue.is_empty())
            .map(|(priority, _)| priority)
    }

    /// When the next slot frees up; `None` if one is free whenever.
    fn free_at(&self, limit: &RateLimit) -> Option<Instant> {
        let full = self.granted.len() >= limit_calls(limit);
        let window = full
            .then(|| self.granted.front().map(|first| *first + limit.span()))
            .flatten();
        match (window, self.paused_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn grant(&mut self, now: Instant, limit: &RateLimit) {
        self.granted.push_back(now);
        while self.granted.len() > limit_calls(limit) {
            self.granted.pop_front();
        }
    }

    /// Whether a waiting call may go at `now` as far as this process's
    /// window says: `None` when nobody waits, else `Ok` or when to look
    /// again.
    fn next_turn(&mut self, now: Instant, limit: &RateLimit) -> Option<Result<(), Instant>> {
        // Callers that gave up are dropped here rather than when they
        // leave: they hold no slot, only a place.
        for queue in &mut self.queues {
            while queue.front().is_some_and(|w| w.grant.is_closed()) {
                queue.pop_front();
            }
        }
        if self.is_idle() {
            return None;
        }
        Some(match self.free_at(limit).filter(|at| *at > now) {
            Some(at) => Err(at),
            None => Ok(()),
        })
    }

    /// Hands the slot taken at `now` to the best waiting call.
    fn grant_next(&mut self, now: Instant, limit: &RateLimit, stats: &mut WaitStats) {
        // A 429 since the slot was reserved holds it back too.
        if self.paused_until.is_some_and(|until| until > now) {
            return;
        }
        for queue in &mut self.queues {
            while let Some(waiter) = queue.pop_front() {
                // A caller that left between the check and now costs
                // nothing.
                if waiter.grant.send(()).is_ok() {
                    self.grant(now, limit);
                    stats.waits[waiter.priority.index()].record(now - waiter.since);
                    return;
                }
            }
        }
    }
}

fn limit_calls(limit: &RateLimit) -> usize {
    usize::try_from(limit.calls.get()).unwrap_or(usize::MAX)
}

/// Hands out one App ID's slots while calls wait, then ends.
struct Dispatcher {
    shared: Arc<Shared>,
    app_id: String,
    finished: bool,
}

impl Dispatcher {
    async fn run(mut self) {
        let limit = self.shared.limit;
        let mut unreachable = false;
        loop {
            let (turn, best) = {
                let mut state = self.shared.lock();
                let Some(bucket) = state.buckets.get_mut(&self.app_id) else {
                    return;
                };
                let turn = bucket.next_turn(Instant::now(), &limit);
                if turn.is_none() {
                    bucket.dispatching = false;
                    self.finished = true;
                }
                (turn, bucket.best_waiting())
            };
            match turn {
                None => return,
                // Only time frees a slot: arrivals queue, a pause only
                // delays, so sleeping until `at` and looking again is exact.
                Some(Err(at)) => {
                    sleep_until(at).await;
                    continue;
                }
                Some(Ok(())) => {}
            }
            if let (Some(window), Some(priority)) = (self.shared.window(), best) {
                let app_id = self.app_id.clone();
                let asker = Asker {
                    runner: self.shared.runner,
                    priority,
                };
                let sent = Instant::now();
                let taken = window.take(&app_id, &limit, asker).await;
                let answered = Instant::now();
                match taken {
                    Ok(Slot::Reserved(reservation)) => {
                        unreachable = false;
                        let Some((from, by)) = self.shared.departure(reservation, sent, answered)
                        else {
                            tracing::debug!(
                                ?reservation,
                                "a shared slot came back too late to be used"
                            );
                            continue;
                        };
                        sleep_until(from).await;
                        if Instant::now() > by {
                            tracing::debug!(
                                ?reservation,
                                "woke too late for a shared slot; giving it up"
                            );
                            continue;
                        }
                    }
                    Ok(Slot::Wait(wait)) => {
                        unreachable = false;
                        sleep_until(Instant::now() + wait).await;
                        continue;
                    }
                    // Without the shared window this process paces alone,
                    // rather than not call Agora at all.
                    Err(error) => {
                        if !std::mem::replace(&mut unreachable, true) {
                            tracing::warn!(%error, "the shared rate limit is out of reach; pacing this process alone");
                        }
                    }
                }
            }
            let mut state = self.shared.lock();
            let State { buckets, stats, .. } = &mut *state;
            if let Some(bucket) = buckets.get_mut(&self.app_id) {
                bucket.grant_next(Instant::now(), &limit, stats);
            }
        }
    }
}

impl Drop for Dispatcher {
    /// Dropped without finishing: its runtime is shutting down. The waiting
    /// calls are released to queue again (see `until_ready`), so a limiter
    /// shared across runtimes never strands them.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut state = self.shared.lock();
        if let Some(bucket) = state.buckets.get_mut(&self.app_id) {
            bucket.dispatching = false;
            bucket.queues.iter_mut().for_each(VecDeque::clear);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1000;

    fn limit(calls: u32) -> RateLimit {
        RateLimit::per_second(NonZeroU32::new(calls).unwrap())
    }

    fn asker(runner: u64, priority: Priority) -> Asker {
        Asker { runner, priority }
    }

    const ONE: Asker = Asker {
        runner: 1,
        priority: Priority::Urgent,
    };

    #[test]
    fn a_shared_window_reserves_slots_ahead_a_widened_span_apart() {
        let limit = limit(2);
        let mut window = Window::default();
        // 25 ms ahead, and never before a slot reserved earlier.
        assert_eq!(window.reserve(0, &limit, ONE), Ok(25 * MS));
        assert_eq!(window.reserve(-5 * MS, &limit, ONE), Ok(25 * MS));
        // Full until the first slot is a span (1 s + 20 ms margin + 10 ms
        // departure tolerance) old: too far ahead to hold now.
        assert_eq!(
            window.reserve(100 * MS, &limit, ONE),
            Err(Duration::from_millis(930))
        );
        assert_eq!(window.grants, [25 * MS, 25 * MS]);
        // Within 250 ms of it: reserved at the instant it frees.
        assert_eq!(window.reserve(830 * MS, &limit, ONE), Ok(1055 * MS));
        assert_eq!(window.reserve(900 * MS, &limit, ONE), Ok(1055 * MS));
        assert_eq!(
            window.reserve(1000 * MS, &limit, ONE),
            Err(Duration::from_millis(1060))
        );
        // A slot's instant drops out a span after it.
        assert_eq!(window.reserve(2050 * MS, &limit, ONE), Ok(2085 * MS));
        assert_eq!(window.grants, [1055 * MS, 1055 * MS, 2085 * MS]);
    }

    #[test]
    fn a_runner_waiting_with_a_better_priority_holds_the_others_worse_calls() {
        use Priority::{Normal, Routine, Urgent};
        let limit = limit(1);
        let mut window = Window::default();
        assert_eq!(window.reserve(0, &limit, asker(1, Routine)), Ok(25 * MS));
        // Runner 2's start finds the window full: it waits, and says so.
        assert_eq!(
            window.reserve(100 * MS, &limit, asker(2, Urgent)),
            Err(Duration::from_millis(930))
        );
        // So runner 1's next query waits for runner 2 (back by 1030 ms)
        // even once the slot is free...
        assert_eq!(
            window.reserve(1100 * MS, &limit, asker(1, Routine)),
            Err(Duration::from_millis(130))
        );
        // ...which takes it when it comes back,
        assert_eq!(
            window.reserve(1150 * MS, &limit, asker(2, Urgent)),
            Ok(1175 * MS)
        );
        // and its own queries do not wait for what it said before.
        assert_eq!(
            window.reserve(2300 * MS, &limit, asker(2, Routine)),
            Ok(2325 * MS)
        );
        // Runner 2's word lapsed at 2525 ms; runner 1's is kept.
        assert_eq!(
            window.reserve(3370 * MS, &limit, asker(1, Normal)),
            Ok(3395 * MS)
        );
        assert_eq!(
            window.waiting,
            [Waiting {
                runner: 1,
                priority: Normal,
                until: 3595 * MS
            }]
        );
    }

    #[test]
    fn a_runner_that_stopped_asking_holds_nobody_back() {
        use Priority::{Routine, Urgent};
        let limit = limit(10);
        let mut window = Window::default();
        assert_eq!(window.reserve(0, &limit, asker(2, Urgent)), Ok(25 * MS));
        // Its word holds 200 ms past its slot.
        assert_eq!(
            window.reserve(200 * MS, &limit, asker(1, Routine)),
            Err(Duration::from_millis(25))
        );
        assert_eq!(
            window.reserve(225 * MS, &limit, asker(1, Routine)),
            Ok(250 * MS)
        );
    }

    #[test]
    fn a_shared_pause_holds_every_reservation_and_only_grows() {
        let limit = limit(10);
        let mut window = Window::default();
        window.pause(0, Duration::from_secs(2));
        window.pause(100 * MS, Duration::from_millis(500));
        assert_eq!(window.paused_until, Some(2000 * MS));
        assert_eq!(
            window.reserve(1500 * MS, &limit, ONE),
            Err(Duration::from_millis(475))
        );
        assert_eq!(window.reserve(1800 * MS, &limit, ONE), Ok(2000 * MS));
        assert_eq!(window.reserve(2000 * MS, &limit, ONE), Ok(2025 * MS));
    }

    #[test]
    fn a_slot_is_used_from_when_it_cannot_be_early_to_when_it_cannot_be_late() {
        let tolerance = Duration::from_millis(10);
        // Asked at 1 ms, answered at 3 ms; the place read 50 ms meanwhile:
        // its clock is 48 ms ahead, give or take 1 ms.
        let clock = ClockOffset::observed(MS, 3 * MS, 50 * MS);
        assert_eq!(clock.uncertainty_at(3 * MS), MS);
        // Its 60 ms is our 12 ms, give or take 1.
        assert_eq!(
            clock.departure(60 * MS, 3 * MS, tolerance),
            Some((13 * MS, 21 * MS))
        );
        // 10 s later the clocks may have drifted 5 ms apart.
        assert_eq!(clock.uncertainty_at(10_003 * MS), 6 * MS);
        assert_eq!(clock.departure(10_060 * MS, 10_003 * MS, tolerance), None);
        // A round trip of 12 ms leaves no instant sure to be on time.
        let slow = ClockOffset::observed(0, 12 * MS, 50 * MS);
        assert_eq!(slow.departure(60 * MS, 12 * MS, tolerance), None);
    }

    #[test]
    fn a_quick_round_trip_is_trusted_until_drift_makes_a_slow_one_better() {
        let quick = ClockOffset::observed(0, 2 * MS, 100 * MS);
        let slow = ClockOffset::observed(1000 * MS, 1008 * MS, 1100 * MS);
        assert_eq!(quick.or_better(slow, 1008 * MS), quick);
        assert_eq!(slow.or_better(quick, 1008 * MS), quick);
        // 10 s on, the quick one's 1 ms has grown to 6 ms: a new round trip
        // of 8 ms (4 ms either way) is better.
        let later = ClockOffset::observed(10_000 * MS, 10_008 * MS, 10_100 * MS);
        assert_eq!(quick.or_better(later, 10_008 * MS), later);
    }
}
