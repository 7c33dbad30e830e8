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
//! used within [`DEPARTURE_TOLERANCE`] of its instant is not used, and is
//! given back with the runner's next ask so that another request may go
//! in its place; [`SharedSlots`] counts them. When the window is full, its
//! answer says how long until a slot frees, early enough to reserve it as
//! it does; a 429's pause is written there too, so that every runner holds
//! back.

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

/// How long before a slot frees a runner told to wait comes back: time
/// for its next ask to reach the window while the slot is still ahead,
/// so that it is reserved at the instant it frees, not a round trip later
/// (every slot a window later is anchored on it).
pub const COME_BACK_BEFORE: Duration = Duration::from_millis(125);

/// The longest a 429 holds the calls, whatever its `Retry-After` says: the
/// quota is per second, and every stop held back bills a recording.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(60);

/// How many shared slots in a row a runner gives back because the clocks'
/// offset is too uncertain before it uses the next anyway, leaving when it
/// cannot be early: a store whose round trips stay slow (a distant server)
/// then costs a little of the quota's margin, never every call.
pub const UNCERTAIN_IN_A_ROW: u32 = 3;

/// The shortest wait a runner held back by a better priority is told:
/// it asks again no more often than this while the word holds.
pub const REFUSED_FOR_AT_LEAST: Duration = Duration::from_millis(50);

/// How long a runner's word holds the others' worse calls back after its
/// slot's instant, when it still has calls waiting: time to hand the slot
/// over and ask for the next, which says again what it waits for.
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

/// Who asks a shared window for a slot: a runner (one [`RateLimiter`]),
/// the best priority it has calls waiting in, the best it will still have
/// waiting once the slot is handed over, and a slot it reserved earlier
/// and did not use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asker {
    pub runner: u64,
    pub priority: Priority,
    /// `None`: nothing; its word is withdrawn with this slot.
    pub then: Option<Priority>,
    /// Released, so that another request may go in its place.
    pub gives_back: Option<i64>,
}

impl Asker {
    /// A runner asking with `priority`, and as much waiting after.
    pub fn new(runner: u64, priority: Priority) -> Asker {
        Asker {
            runner,
            priority,
            then: Some(priority),
            gives_back: None,
        }
    }
}

impl Window {
    /// Reserves a slot for `asker` unless another runner waits with a
    /// better priority: across runners as within one, urgent calls go
    /// before acquires and acquires before routine queries. The slot is
    /// the first instant from `now` + [`RESERVE_AHEAD`] at which `limit`
    /// allows a request (no earlier than any reserved before, so that the
    /// instants stay in order), if it is within [`RESERVE_WITHIN`].
    ///
    /// Otherwise the answer is how long until asking again: until a slot
    /// is [`COME_BACK_BEFORE`] ahead, or, held back, until the better word
    /// lapses or a slot is that close (not sooner than
    /// [`REFUSED_FOR_AT_LEAST`]), whichever comes first, so that a word
    /// withdrawn early leaves no slot idle. A runner told to wait notes
    /// its priority until [`WAITING_HOLDS`] past its return; one served
    /// notes what it will still wait for (an acquire counts as waiting
    /// for its start) until [`WAITING_HOLDS`] past its slot.
    pub fn reserve(
        &mut self,
        now: i64,
        limit: &RateLimit,
        asker: Asker,
    ) -> Result<Reservation, Duration> {
        if let Some(unused) = asker.gives_back
            && let Some(index) = self.grants.iter().position(|&at| at == unused)
        {
            self.grants.remove(index);
        }
        self.waiting
            .retain(|w| w.until > now && w.runner != asker.runner);
        let better = self
            .waiting
            .iter()
            .filter(|w| w.priority < asker.priority)
            .map(|w| w.until)
            .max();
        let free = self.first_free(now, limit);
        let back = |at: i64| at - micros(COME_BACK_BEFORE);
        let (word, answer) = match (better, free) {
            (Some(until), free) => {
                let slot_near = back(free.at).max(now + micros(REFUSED_FOR_AT_LEAST));
                let again = until.min(slot_near);
                (Some((asker.priority, again)), Err(again))
            }
            (None, free) if free.at > now + micros(RESERVE_WITHIN) => {
                let again = back(free.at);
                (Some((asker.priority, again)), Err(again))
            }
            (None, free) => {
                self.grants.push(free.at);
                let waits_for = match asker.priority {
                    Priority::Normal => Some(
                        asker
                            .then
                            .map_or(Priority::Normal, |p| p.min(Priority::Normal)),
                    ),
                    _ => asker.then,
                };
                (
                    waits_for.map(|priority| (priority, free.at)),
                    Ok(Reservation {
                        at: free.at,
                        now,
                        idle: free.idle,
                    }),
                )
            }
        };
        if let Some((priority, from)) = word {
            self.waiting.push(Waiting {
                runner: asker.runner,
                priority,
                until: from + micros(WAITING_HOLDS),
            });
        }
        answer.map_err(|again| duration_of(again - now))
    }

    /// The first instant a request may be reserved at from `now`, and how
    /// long after the window last allowed one it is.
    fn first_free(&mut self, now: i64, limit: &RateLimit) -> Free {
        let span = micros(limit.span() + DEPARTURE_TOLERANCE);
        // Grants a span old no longer count, but are kept a span more: the
        // one `calls` before the next slot is where its idle time starts.
        self.grants.retain(|&at| at > now - 2 * span);
        self.grants.sort_unstable();
        let calls = limit_calls(limit);
        let anchor = self
            .grants
            .len()
            .checked_sub(calls)
            .map(|excess| self.grants[excess] + span);
        let allowed = [anchor, self.grants.last().copied(), self.paused_until]
            .into_iter()
            .flatten()
            .max();
        let earliest = now + micros(RESERVE_AHEAD);
        let at = allowed.map_or(earliest, |allowed| allowed.max(earliest));
        Free {
            at,
            idle: anchor.and(allowed).map_or(0, |allowed| at - allowed),
        }
    }

    /// Holds every grant until `now + pause`; a later pause extends an
    /// earlier one, never shortens it.
    pub fn pause(&mut self, now: i64, pause: Duration) {
        let until = now + micros(pause);
        self.paused_until = Some(self.paused_until.map_or(until, |at| at.max(until)));
    }
}

/// The first instant a shared window allows a request.
struct Free {
    at: i64,
    /// How long after the window allowed a request the instant is: time
    /// the quota went unused, which every slot `calls` later inherits.
    /// Counted from the grant `calls` before only: none within two spans
    /// is a quiet spell, not waste.
    idle: i64,
}

/// A slot reserved in a shared window: its instant, and the window's clock
/// when it was reserved, both in microseconds on the sharing place's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub at: i64,
    pub now: i64,
    /// How long after the window allowed a request the slot is, in
    /// microseconds: quota unused, counted from the slot `calls` before.
    pub idle: i64,
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
    /// than `tolerance` after it. `Err` with the first when the offset is
    /// too uncertain for any instant to be both.
    pub fn departure(&self, at: i64, now: i64, tolerance: Duration) -> Result<(i64, i64), i64> {
        let local = at - self.offset;
        let uncertainty = self.uncertainty_at(now);
        let (from, by) = (local + uncertainty, local - uncertainty + micros(tolerance));
        if from <= by {
            Ok((from, by))
        } else {
            Err(from)
        }
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
    /// The slots taken in a shared window.
    pub shared: SharedSlots,
}

/// What became of the slots a runner asked a shared window for: where the
/// quota shared by several runners goes to waste. A slot left unused is
/// given back with the next ask; idle time delays every slot after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharedSlots {
    /// Slots reserved.
    pub reserved: u64,
    /// Reserved, then unused because the runner was awake too late to
    /// send within [`DEPARTURE_TOLERANCE`] of the instant.
    pub late: u64,
    /// Reserved, then unused because the clocks' offset was too uncertain
    /// for any instant to be sure to be on time (at most
    /// [`UNCERTAIN_IN_A_ROW`] in a row).
    pub uncertain: u64,
    /// Reserved, then unused because no call was left to send (it gave
    /// up meanwhile) or a 429's pause held it.
    pub unclaimed: u64,
    /// Asks answered with a wait: the window full, or a better priority
    /// waiting elsewhere.
    pub waits: u64,
    /// How long the slots reserved had stood free, after the slot
    /// `calls` before them and while their call waited: quota lost, which
    /// delays every slot after.
    pub idle: Duration,
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
    /// A shared slot reserved and left unused, to give back with the next
    /// ask.
    unused: Option<i64>,
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
        let pause = retry_after
            .unwrap_or(self.shared.limit.pause)
            .min(LONGEST_PAUSE);
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
    /// `Err` with the first that cannot be early if no instant is sure to
    /// be both late enough and early enough.
    fn departure(
        &self,
        reservation: Reservation,
        sent: Instant,
        answered: Instant,
    ) -> Result<(Instant, Instant), Instant> {
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
        let instant = |local: i64| self.epoch + duration_of(local);
        clock
            .departure(reservation.at, answered, DEPARTURE_TOLERANCE)
            .map(|(from, by)| (instant(from), instant(by)))
            .map_err(instant)
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

    /// Since when the best waiting call has waited.
    fn best_waiting_since(&self) -> Option<Instant> {
        self.queues
            .iter()
            .find_map(|queue| queue.front().map(|w| w.since))
    }

    /// The best priority a call will still wait in once the best waiting
    /// call has its slot.
    fn best_waiting_after_one(&self) -> Option<Priority> {
        let mut served = false;
        Priority::ALL
            .into_iter()
            .zip(&self.queues)
            .find(|(_, queue)| {
                let left = queue.len() - usize::from(!served && !queue.is_empty());
                served |= !queue.is_empty();
                left > 0
            })
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
    /// window says (only its pause when a shared window paces the calls):
    /// `None` when nobody waits, else `Ok` or when to look again.
    fn next_turn(
        &mut self,
        now: Instant,
        limit: &RateLimit,
        shared: bool,
    ) -> Option<Result<(), Instant>> {
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
        // A runner waiting on its own copy of a shared window would ask it
        // late, and say nothing meanwhile of what it waits for.
        let free_at = if shared {
            self.paused_until
        } else {
            self.free_at(limit)
        };
        Some(match free_at.filter(|at| *at > now) {
            Some(at) => Err(at),
            None => Ok(()),
        })
    }

    /// Hands the slot taken at `now` to the best waiting call; false if
    /// nobody took it.
    fn grant_next(&mut self, now: Instant, limit: &RateLimit, stats: &mut WaitStats) -> bool {
        // A 429 since the slot was reserved holds it back too.
        if self.paused_until.is_some_and(|until| until > now) {
            return false;
        }
        for queue in &mut self.queues {
            while let Some(waiter) = queue.pop_front() {
                // A caller that left between the check and now costs
                // nothing.
                if waiter.grant.send(()).is_ok() {
                    self.grant(now, limit);
                    stats.waits[waiter.priority.index()].record(now - waiter.since);
                    return true;
                }
            }
        }
        false
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
        let mut uncertain_in_a_row = 0;
        loop {
            let (turn, best, then, since) = {
                let mut state = self.shared.lock();
                let Some(bucket) = state.buckets.get_mut(&self.app_id) else {
                    return;
                };
                let shared = !unreachable && self.shared.window().is_some();
                let turn = bucket.next_turn(Instant::now(), &limit, shared);
                if turn.is_none() {
                    bucket.dispatching = false;
                    self.finished = true;
                }
                (
                    turn,
                    bucket.best_waiting(),
                    bucket.best_waiting_after_one(),
                    bucket.best_waiting_since(),
                )
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
            let mut reserved = None;
            if let (Some(window), Some(priority)) = (self.shared.window(), best) {
                let app_id = self.app_id.clone();
                let asker = Asker {
                    runner: self.shared.runner,
                    priority,
                    then,
                    gives_back: self.take_unused(),
                };
                let sent = Instant::now();
                let taken = window.take(&app_id, &limit, asker).await;
                let answered = Instant::now();
                match taken {
                    Ok(Slot::Reserved(reservation)) => {
                        unreachable = false;
                        // Idle time before the call waited is not waste.
                        let waited = since.map_or(Duration::ZERO, |since| answered - since);
                        self.count(|slots| {
                            slots.reserved += 1;
                            slots.idle += duration_of(reservation.idle).min(waited);
                        });
                        let (from, by) = match self.shared.departure(reservation, sent, answered) {
                            Ok(departure) => departure,
                            Err(from) if uncertain_in_a_row >= UNCERTAIN_IN_A_ROW => {
                                (from, from + DEPARTURE_TOLERANCE)
                            }
                            Err(_) => {
                                tracing::debug!(
                                    ?reservation,
                                    "the clocks' offset is too uncertain to use a shared slot"
                                );
                                uncertain_in_a_row += 1;
                                self.unused(reservation, |slots| slots.uncertain += 1);
                                continue;
                            }
                        };
                        uncertain_in_a_row = 0;
                        sleep_until(from).await;
                        if Instant::now() > by {
                            tracing::debug!(
                                ?reservation,
                                "woke too late for a shared slot; giving it up"
                            );
                            self.unused(reservation, |slots| slots.late += 1);
                            continue;
                        }
                        reserved = Some(reservation);
                    }
                    Ok(Slot::Wait(wait)) => {
                        unreachable = false;
                        self.count(|slots| slots.waits += 1);
                        sleep_until(Instant::now() + wait).await;
                        continue;
                    }
                    // Without the shared window this process paces alone,
                    // rather than not call Agora at all. A turn judged by
                    // the shared window is judged again by its own first.
                    Err(error) => {
                        if !std::mem::replace(&mut unreachable, true) {
                            tracing::warn!(%error, "the shared rate limit is out of reach; pacing this process alone");
                            continue;
                        }
                    }
                }
            }
            let mut state = self.shared.lock();
            let State { buckets, stats, .. } = &mut *state;
            if let Some(bucket) = buckets.get_mut(&self.app_id)
                && !bucket.grant_next(Instant::now(), &limit, stats)
                && let Some(reservation) = reserved
            {
                stats.shared.unclaimed += 1;
                bucket.unused = Some(reservation.at);
            }
        }
    }

    fn count(&self, change: impl FnOnce(&mut SharedSlots)) {
        change(&mut self.shared.lock().stats.shared);
    }

    /// Counts `reservation` as unused and keeps it to give back.
    fn unused(&self, reservation: Reservation, reason: impl FnOnce(&mut SharedSlots)) {
        let mut state = self.shared.lock();
        reason(&mut state.stats.shared);
        if let Some(bucket) = state.buckets.get_mut(&self.app_id) {
            bucket.unused = Some(reservation.at);
        }
    }

    fn take_unused(&self) -> Option<i64> {
        self.shared
            .lock()
            .buckets
            .get_mut(&self.app_id)
            .and_then(|bucket| bucket.unused.take())
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

    /// A shared window that answers after `round_trip`: a slot 25 ms ahead
    /// on a clock of its own, or, once `fails_after` slots were given, an
    /// error.
    #[derive(Debug)]
    struct Distant {
        round_trip: Duration,
        fails_after: Option<usize>,
        given: std::sync::atomic::AtomicUsize,
        epoch: Instant,
    }

    impl Distant {
        fn new(round_trip: Duration, fails_after: Option<usize>) -> Arc<Distant> {
            Arc::new(Distant {
                round_trip,
                fails_after,
                given: std::sync::atomic::AtomicUsize::new(0),
                epoch: Instant::now(),
            })
        }
    }

    impl SharedWindow for Distant {
        fn take<'a>(&'a self, _: &'a str, _: &'a RateLimit, _: Asker) -> SharedFuture<'a, Slot> {
            Box::pin(async move {
                tokio::time::sleep(self.round_trip / 2).await;
                // Its clock reads 7 s ahead of ours.
                let now = micros(self.epoch.elapsed()) + 7_000 * MS;
                tokio::time::sleep(self.round_trip / 2).await;
                let given = self
                    .given
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if self.fails_after.is_some_and(|after| given >= after) {
                    return Err("the store is down".into());
                }
                Ok(Slot::Reserved(Reservation {
                    at: now + micros(RESERVE_AHEAD),
                    now,
                    idle: 0,
                }))
            })
        }

        fn pause<'a>(&'a self, _: &'a str, _: Duration) -> SharedFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_distant_store_costs_given_back_slots_not_every_call() {
        // A 30 ms round trip: the clocks' offset is known to 15 ms only,
        // more than the 10 ms a departure may be late.
        let limiter = RateLimiter::new(limit(10));
        limiter.share(Some(Distant::new(Duration::from_millis(30), None)));
        for _ in 0..3 {
            tokio::time::timeout(
                Duration::from_secs(5),
                limiter.until_ready("app", Priority::Urgent),
            )
            .await
            .expect("the call goes");
        }
        let shared = limiter.stats().shared;
        assert_eq!(
            shared.uncertain,
            3 * u64::from(UNCERTAIN_IN_A_ROW),
            "{shared:?}"
        );
        assert_eq!(shared.reserved, 3 * u64::from(UNCERTAIN_IN_A_ROW + 1));
    }

    #[tokio::test(start_paused = true)]
    async fn when_the_shared_window_fails_the_process_window_still_paces() {
        // Two calls a second: the first two through the shared window, then
        // it fails, and the third waits for this process's own window.
        let limiter = RateLimiter::new(limit(2));
        limiter.share(Some(Distant::new(Duration::ZERO, Some(2))));
        let start = Instant::now();
        let mut granted = Vec::new();
        for _ in 0..3 {
            limiter.until_ready("app", Priority::Urgent).await;
            granted.push(start.elapsed());
        }
        assert!(granted[2] >= Duration::from_secs(1), "{granted:?}");
    }

    #[test]
    fn a_429_holds_the_calls_a_minute_at_most() {
        let limiter = RateLimiter::new(limit(10));
        assert_eq!(
            limiter.pause("app", Some(Duration::from_secs(u64::MAX / 2))),
            LONGEST_PAUSE
        );
        assert_eq!(
            limiter.pause("app", Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }

    fn limit(calls: u32) -> RateLimit {
        RateLimit::per_second(NonZeroU32::new(calls).unwrap())
    }

    fn asker(runner: u64, priority: Priority) -> Asker {
        Asker::new(runner, priority)
    }

    const ONE: Asker = Asker {
        runner: 1,
        priority: Priority::Urgent,
        then: Some(Priority::Urgent),
        gives_back: None,
    };

    /// The instant reserved, or how long to wait.
    fn slot(reserved: Result<Reservation, Duration>) -> Result<i64, Duration> {
        reserved.map(|reservation| reservation.at)
    }

    #[test]
    fn a_shared_window_reserves_slots_ahead_a_widened_span_apart() {
        let limit = limit(2);
        let mut window = Window::default();
        // 25 ms ahead, and never before a slot reserved earlier.
        assert_eq!(slot(window.reserve(0, &limit, ONE)), Ok(25 * MS));
        assert_eq!(slot(window.reserve(-5 * MS, &limit, ONE)), Ok(25 * MS));
        // Full until the first slot is a span (1 s + 20 ms margin + 10 ms
        // departure tolerance) old, at 1055 ms: too far ahead to hold now;
        // back 125 ms before it.
        assert_eq!(
            slot(window.reserve(100 * MS, &limit, ONE)),
            Err(Duration::from_millis(830))
        );
        assert_eq!(window.grants, [25 * MS, 25 * MS]);
        // Within 250 ms of it: reserved at the instant it frees.
        assert_eq!(slot(window.reserve(930 * MS, &limit, ONE)), Ok(1055 * MS));
        assert_eq!(slot(window.reserve(960 * MS, &limit, ONE)), Ok(1055 * MS));
        assert_eq!(
            slot(window.reserve(1000 * MS, &limit, ONE)),
            Err(Duration::from_millis(960))
        );
        // A slot's instant stops counting a span after it, and is dropped
        // a span later.
        assert_eq!(slot(window.reserve(2050 * MS, &limit, ONE)), Ok(2085 * MS));
        assert_eq!(
            window.grants,
            [25 * MS, 25 * MS, 1055 * MS, 1055 * MS, 2085 * MS]
        );
        assert_eq!(slot(window.reserve(3100 * MS, &limit, ONE)), Ok(3125 * MS));
        assert_eq!(window.grants, [1055 * MS, 1055 * MS, 2085 * MS, 3125 * MS]);
    }

    #[test]
    fn a_slot_reserved_after_the_window_allowed_one_counts_the_quota_idle() {
        let limit = limit(2);
        let mut window = Window::default();
        let reserved = |window: &mut Window, now: i64| {
            window.reserve(now, &limit, ONE).map(|r| (r.at, r.idle))
        };
        assert_eq!(reserved(&mut window, 0), Ok((25 * MS, 0)));
        assert_eq!(reserved(&mut window, 0), Ok((25 * MS, 0)));
        // The first slot freed at 1055 ms; asked at 1100 ms, the next is
        // 70 ms after the window allowed it.
        assert_eq!(reserved(&mut window, 1100 * MS), Ok((1125 * MS, 70 * MS)));
        // The second freed at 1055 ms too, and the slot before at 1125.
        assert_eq!(reserved(&mut window, 1100 * MS), Ok((1125 * MS, 0)));
        // Nothing `calls` back within two spans: a quiet spell, not idle.
        assert_eq!(reserved(&mut window, 5000 * MS), Ok((5025 * MS, 0)));
    }

    #[test]
    fn a_slot_given_back_makes_room_for_another() {
        let limit = limit(2);
        let mut window = Window::default();
        assert_eq!(slot(window.reserve(0, &limit, ONE)), Ok(25 * MS));
        assert_eq!(slot(window.reserve(10 * MS, &limit, ONE)), Ok(35 * MS));
        assert_eq!(
            slot(window.reserve(40 * MS, &limit, ONE)),
            Err(Duration::from_millis(890))
        );
        // Runner 2 woke too late for its slot at 35 ms and sent nothing.
        let late = Asker {
            gives_back: Some(35 * MS),
            ..asker(2, Priority::Urgent)
        };
        assert_eq!(slot(window.reserve(50 * MS, &limit, late)), Ok(75 * MS));
        assert_eq!(window.grants, [25 * MS, 75 * MS]);
        // An instant no longer in the window is nothing to give back.
        let stale = Asker {
            gives_back: Some(35 * MS),
            ..asker(2, Priority::Urgent)
        };
        assert_eq!(
            slot(window.reserve(60 * MS, &limit, stale)),
            Err(Duration::from_millis(870))
        );
    }

    #[test]
    fn a_runner_waiting_with_a_better_priority_holds_the_others_worse_calls() {
        use Priority::{Normal, Routine, Urgent};
        let limit = limit(1);
        let mut window = Window::default();
        assert_eq!(
            slot(window.reserve(0, &limit, asker(1, Routine))),
            Ok(25 * MS)
        );
        // Runner 2's start finds the window full: it waits until 125 ms
        // before the slot frees at 1055 ms, and says so.
        assert_eq!(
            slot(window.reserve(100 * MS, &limit, asker(2, Urgent))),
            Err(Duration::from_millis(830))
        );
        // So runner 1's next query waits for runner 2 (its word holds
        // until 1130 ms) even once the slot is free...
        assert_eq!(
            slot(window.reserve(1100 * MS, &limit, asker(1, Routine))),
            Err(Duration::from_millis(30))
        );
        // ...which takes it when it comes back,
        assert_eq!(
            slot(window.reserve(1110 * MS, &limit, asker(2, Urgent))),
            Ok(1135 * MS)
        );
        // and its own queries do not wait for what it said before.
        assert_eq!(
            slot(window.reserve(2300 * MS, &limit, asker(2, Routine))),
            Ok(2325 * MS)
        );
        // Runner 2's word lapsed at 2525 ms; runner 1's is kept.
        assert_eq!(
            slot(window.reserve(3370 * MS, &limit, asker(1, Normal))),
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
    fn a_runner_held_back_comes_back_when_a_slot_is_near_not_when_the_word_lapses() {
        use Priority::{Normal, Urgent};
        let limit = limit(2);
        let mut window = Window::default();
        assert_eq!(
            slot(window.reserve(0, &limit, asker(2, Normal))),
            Ok(25 * MS)
        );
        assert_eq!(
            slot(window.reserve(0, &limit, asker(2, Normal))),
            Ok(25 * MS)
        );
        // Runner 2's start: back at 930 ms, its word holding until 1130.
        assert_eq!(
            slot(window.reserve(100 * MS, &limit, asker(2, Urgent))),
            Err(Duration::from_millis(830))
        );
        // Runner 1's acquire is back at 930 ms too, in case the start has
        // gone by then (its word withdrawn)...
        assert_eq!(
            slot(window.reserve(100 * MS, &limit, asker(1, Normal))),
            Err(Duration::from_millis(830))
        );
        // ...and, held back again, no sooner than 50 ms later.
        assert_eq!(
            slot(window.reserve(1000 * MS, &limit, asker(1, Normal))),
            Err(Duration::from_millis(50))
        );
    }

    #[test]
    fn a_runner_withdraws_its_word_with_its_last_urgent_call_but_not_with_an_acquire() {
        use Priority::{Normal, Routine, Urgent};
        let limit = limit(10);
        let mut window = Window::default();
        let last = |runner, priority| Asker {
            then: None,
            ..asker(runner, priority)
        };
        // Runner 2's last start: nothing left waiting, nobody held back.
        assert_eq!(
            slot(window.reserve(0, &limit, last(2, Urgent))),
            Ok(25 * MS)
        );
        assert_eq!(window.waiting, []);
        assert_eq!(
            slot(window.reserve(10 * MS, &limit, asker(1, Routine))),
            Ok(35 * MS)
        );
        // Its last acquire: its start follows, so queries wait for it...
        assert_eq!(
            slot(window.reserve(40 * MS, &limit, last(2, Normal))),
            Ok(65 * MS)
        );
        assert_eq!(
            slot(window.reserve(50 * MS, &limit, asker(1, Routine))),
            Err(Duration::from_millis(50))
        );
        // ...but another runner's acquires do not.
        assert_eq!(
            slot(window.reserve(50 * MS, &limit, asker(3, Normal))),
            Ok(75 * MS)
        );
    }

    #[test]
    fn a_runner_that_stopped_asking_holds_nobody_back() {
        use Priority::{Routine, Urgent};
        let limit = limit(10);
        let mut window = Window::default();
        assert_eq!(
            slot(window.reserve(0, &limit, asker(2, Urgent))),
            Ok(25 * MS)
        );
        // Its word holds 200 ms past its slot.
        assert_eq!(
            slot(window.reserve(200 * MS, &limit, asker(1, Routine))),
            Err(Duration::from_millis(25))
        );
        assert_eq!(
            slot(window.reserve(225 * MS, &limit, asker(1, Routine))),
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
            slot(window.reserve(1500 * MS, &limit, ONE)),
            Err(Duration::from_millis(375))
        );
        assert_eq!(slot(window.reserve(1800 * MS, &limit, ONE)), Ok(2000 * MS));
        assert_eq!(slot(window.reserve(2000 * MS, &limit, ONE)), Ok(2025 * MS));
    }

    /// A bucket with `waiting[i]` calls waiting in priority `i`; the
    /// receivers keep them waiting.
    fn bucket_with(waiting: [usize; 3]) -> (Bucket, Vec<oneshot::Receiver<()>>) {
        let since = Instant::now();
        let mut bucket = Bucket::default();
        let mut receivers = Vec::new();
        for (priority, count) in Priority::ALL.into_iter().zip(waiting) {
            for _ in 0..count {
                let (grant, granted) = oneshot::channel();
                bucket.queues[priority.index()].push_back(Waiter {
                    since,
                    priority,
                    grant,
                });
                receivers.push(granted);
            }
        }
        (bucket, receivers)
    }

    #[test]
    fn a_runner_says_what_it_still_waits_for_once_its_best_call_goes() {
        use Priority::{Normal, Routine, Urgent};
        let cases = [
            ([1, 0, 0], None),
            ([2, 0, 0], Some(Urgent)),
            ([1, 3, 0], Some(Normal)),
            ([0, 1, 1], Some(Routine)),
            ([0, 0, 1], None),
        ];
        for (waiting, then) in cases {
            let (bucket, _receivers) = bucket_with(waiting);
            assert_eq!(bucket.best_waiting_after_one(), then, "{waiting:?}");
        }
    }

    #[test]
    fn a_runner_sharing_a_window_asks_it_rather_than_wait_on_its_own_copy() {
        let limit = limit(2);
        let now = Instant::now();
        let (mut bucket, _receivers) = bucket_with([0, 1, 0]);
        bucket.grant(now, &limit);
        bucket.grant(now, &limit);
        let free = now + limit.span();
        assert_eq!(bucket.next_turn(now, &limit, false), Some(Err(free)));
        assert_eq!(bucket.next_turn(now, &limit, true), Some(Ok(())));
        // A 429's pause holds it either way.
        bucket.paused_until = Some(now + Duration::from_secs(1));
        assert_eq!(
            bucket.next_turn(now, &limit, true),
            Some(Err(now + Duration::from_secs(1)))
        );
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
            Ok((13 * MS, 21 * MS))
        );
        // 10 s later the clocks may have drifted 5 ms apart.
        assert_eq!(clock.uncertainty_at(10_003 * MS), 6 * MS);
        // Then no instant is sure to be on time; the first that cannot be
        // early is 6 ms after our 10,012 ms.
        assert_eq!(
            clock.departure(10_060 * MS, 10_003 * MS, tolerance),
            Err(10_018 * MS)
        );
        // A round trip of 12 ms leaves no instant sure to be on time: its
        // 60 ms is our 16 ms, give or take 6.
        let slow = ClockOffset::observed(0, 12 * MS, 50 * MS);
        assert_eq!(slow.departure(60 * MS, 12 * MS, tolerance), Err(22 * MS));
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
