//! The service behind the gateway: acquire and start, and the calls on a
//! running task (query, update, updateLayout, stop), each with its checks in
//! the order the reference implies and its effect on the state.

mod task;

use std::fmt::Write as _;
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use rand::RngCore as _;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::faults::{Endpoint, Fault};
use super::reply::Reply;
use super::routes::Call;
use super::state::{Exit, Output, Resource, State, Subscriptions, Task, later};
use super::{Shared, Timings, validate};
use crate::agora::Mode;
use crate::agora::request::{
    AcquireClientRequest, AvFileType, Envelope, ServiceParam, StartClientRequest,
};

/// An endpoint's answer: `Err` for the early returns of a failed check.
type Outcome = Result<Reply, Reply>;

/// The request being served.
struct Ctx<'a> {
    shared: &'a Shared,
    call: &'a Call,
    now: Instant,
}

impl Ctx<'_> {
    fn timings(&self) -> &Timings {
        &self.shared.config.timings
    }

    fn invalid(&self, reason: &str) -> Reply {
        Reply::invalid(self.call.endpoint, reason)
    }

    fn not_found(&self, cname: &str, uid: &str) -> Reply {
        let call = self.call;
        Reply::worker_not_found(call.endpoint, &call.resource_id, &call.sid, cname, uid)
    }

    /// The `{mode}` path segment.
    fn mode(&self) -> Result<Mode, Reply> {
        let segment = &self.call.mode;
        Mode::from_url_segment(segment).ok_or_else(|| {
            self.invalid(&format!(
                "invalid mode `{segment}`, expected individual, mix or web"
            ))
        })
    }

    /// `{cname, uid, resourceId, sid}`, what update and updateLayout return.
    fn acknowledge<T>(&self, envelope: &Envelope<T>) -> Reply {
        Reply::ok(json!({
            "cname": envelope.cname,
            "uid": envelope.uid,
            "resourceId": self.call.resource_id,
            "sid": self.call.sid,
        }))
    }
}

pub(super) fn handle(shared: &Shared, call: &Call, body: Option<&Value>) -> Reply {
    let ctx = Ctx {
        shared,
        call,
        now: Instant::now(),
    };
    let mut state = shared.lock();
    let outcome = if shared.config.app_ids.contains(&call.app_id) {
        match call.endpoint {
            Endpoint::Acquire => acquire(&mut state, &ctx, body),
            Endpoint::Start => start(&mut state, &ctx, body),
            Endpoint::Query => task::query(&mut state, &ctx),
            Endpoint::Update => task::update(&mut state, &ctx, body),
            Endpoint::UpdateLayout => task::update_layout(&mut state, &ctx, body),
            Endpoint::Stop => task::stop(&mut state, &ctx, body),
        }
    } else {
        Err(Reply::code(StatusCode::BAD_REQUEST, 400, "invalid_appid"))
    };
    match outcome {
        Ok(reply)
            if state
                .faults
                .take(|f| *f == Fault::Malformed(call.endpoint))
                .is_some() =>
        {
            reply.malformed()
        }
        Ok(reply) | Err(reply) => reply,
    }
}

/// Parses `{cname, uid, clientRequest}` with the typed request `T`, checking
/// the envelope's own fields first so that the reason names them; returns the
/// clientRequest as sent too.
fn parse<'b, T: DeserializeOwned>(
    ctx: &Ctx<'_>,
    body: Option<&'b Value>,
) -> Result<(Envelope<T>, &'b Value), Reply> {
    let Some(Value::Object(map)) = body else {
        return Err(ctx.invalid("the body must be a JSON object"));
    };
    if let Some(key) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "cname" | "uid" | "clientRequest"))
    {
        return Err(ctx.invalid(&format!(
            "unknown field `{key}`, expected `cname`, `uid` or `clientRequest`"
        )));
    }
    let string = |name: &str| match map.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ctx.invalid(&format!("{name} must be a string"))),
        None => Err(ctx.invalid(&format!("missing field `{name}`"))),
    };
    let cname = string("cname")?;
    let uid = string("uid")?;
    if !crate::agora::facts::is_uid(&uid) {
        return Err(ctx.invalid(&format!(
            "invalid uid `{uid}`, expected an integer string in 1..4294967295"
        )));
    }
    let raw = map
        .get("clientRequest")
        .ok_or_else(|| ctx.invalid("missing field `clientRequest`"))?;
    let client_request =
        T::deserialize(raw).map_err(|e| ctx.invalid(&format!("clientRequest: {e}")))?;
    let envelope = Envelope {
        cname,
        uid,
        client_request,
    };
    Ok((envelope, raw))
}

fn acquire(state: &mut State, ctx: &Ctx<'_>, body: Option<&Value>) -> Outcome {
    let (envelope, _) = parse::<AcquireClientRequest>(ctx, body)?;
    let request = &envelope.client_request;
    validate::acquire(request).map_err(|reason| ctx.invalid(&reason))?;
    let scene = request.scene.unwrap_or(0);
    if !validate::is_channel_name(&envelope.cname, scene) {
        return Err(Reply::code(
            StatusCode::BAD_REQUEST,
            401,
            "invalid_channel_name",
        ));
    }
    let (now, timings) = (ctx.now, ctx.timings());
    state.prune(now, timings);
    let app_id = &ctx.call.app_id;
    if state.running_count(app_id, now, timings.exiting)
        >= ctx.shared.config.max_concurrent_tasks.get()
    {
        return Err(Reply::code(
            StatusCode::BAD_REQUEST,
            406,
            "vendor_over_load",
        ));
    }
    if let Some(reply) = state.faults.take_failure(Endpoint::Acquire) {
        return Err(reply);
    }
    let resource_id = new_resource_id();
    state.resources.insert(
        resource_id.clone(),
        Resource {
            app_id: app_id.clone(),
            cname: envelope.cname.clone(),
            uid: envelope.uid.clone(),
            scene,
            expired_hour: request.resource_expired_hour.unwrap_or(72),
            acquired_at: now,
            sid: None,
        },
    );
    Ok(Reply::ok(json!({
        "cname": envelope.cname,
        "uid": envelope.uid,
        "resourceId": resource_id,
    })))
}

fn start(state: &mut State, ctx: &Ctx<'_>, body: Option<&Value>) -> Outcome {
    let mode = ctx.mode()?;
    let (envelope, raw) = parse::<StartClientRequest>(ctx, body)?;
    let call = ctx.call;
    let Some(resource) = state.resources.get(&call.resource_id) else {
        return Err(Reply::code(
            StatusCode::BAD_REQUEST,
            1001,
            "resourceId cannot be parsed",
        ));
    };
    if resource.app_id != call.app_id
        || resource.cname != envelope.cname
        || resource.uid != envelope.uid
    {
        return Err(Reply::code(
            StatusCode::BAD_REQUEST,
            432,
            "appid, cname or uid does not match the resourceId",
        ));
    }
    if let Some(sid) = &resource.sid {
        return Err(already_started(
            &resource.cname,
            &resource.uid,
            &call.resource_id,
            sid,
        ));
    }
    if ctx.now >= later(resource.acquired_at, ctx.timings().resource_ttl) {
        return Err(Reply::code(
            StatusCode::BAD_REQUEST,
            433,
            "resourceId expired",
        ));
    }
    let (scene, expired_hour) = (resource.scene, resource.expired_hour);
    validate::scene_fits(scene, mode)
        .and_then(|()| validate::start(mode, scene, &envelope.client_request, raw))
        .map_err(|reason| ctx.invalid(&reason))?;
    let exiting = ctx.timings().exiting;
    if state.has_running(
        &call.app_id,
        &envelope.cname,
        &envelope.uid,
        ctx.now,
        exiting,
    ) {
        return Err(Reply::code(StatusCode::BAD_REQUEST, 53, "task conflict"));
    }
    if let Some(reply) = state.faults.take_failure(Endpoint::Start) {
        return Err(reply);
    }
    let task = new_task(state, ctx, mode, &envelope, expired_hour);
    let sid = task.sid.clone();
    state.tasks.insert(sid.clone(), task);
    if let Some(resource) = state.resources.get_mut(&call.resource_id) {
        resource.sid = Some(sid.clone());
    }
    if state.faults.take(|f| *f == Fault::AlreadyStarted).is_some() {
        return Ok(already_started(
            &envelope.cname,
            &envelope.uid,
            &call.resource_id,
            &sid,
        ));
    }
    Ok(Reply::ok(json!({
        "cname": envelope.cname,
        "uid": envelope.uid,
        "resourceId": call.resource_id,
        "sid": sid,
    })))
}

/// 201 code 7 "already started", with the running task's ids. ASSUMPTION
/// (UNCONFIRMED): Agora documents no body for this answer beyond the code;
/// echoing `cname`, `uid`, `resourceId` and `sid` as start's 200 does lets a
/// client that lost the first answer learn the sid it needs.
fn already_started(cname: &str, uid: &str, resource_id: &str, sid: &str) -> Reply {
    Reply::with_status(
        StatusCode::CREATED,
        json!({
            "cname": cname,
            "uid": uid,
            "resourceId": resource_id,
            "sid": sid,
            "code": 7,
            "reason": "already started",
        }),
    )
}

/// The task a successful start creates, with the faults aimed at it.
fn new_task(
    state: &mut State,
    ctx: &Ctx<'_>,
    mode: Mode,
    envelope: &Envelope<StartClientRequest>,
    expired_hour: u32,
) -> Task {
    let request = &envelope.client_request;
    let config = request.recording_config.as_ref();
    let recorder = service_param(request, "web_recorder_service");
    let now = ctx.now;
    let mut task = Task {
        app_id: ctx.call.app_id.clone(),
        resource_id: ctx.call.resource_id.clone(),
        sid: new_sid(),
        cname: envelope.cname.clone(),
        uid: envelope.uid.clone(),
        mode,
        started_at: now,
        usable_until: later(now, hours(expired_hour)),
        users_present: true,
        stream_types: config.and_then(|c| c.stream_types).unwrap_or(2),
        output: output(request),
        subscriptions: Subscriptions::from_config(config),
        onhold: recorder.and_then(|p| p.onhold).unwrap_or(false),
        rtmp_urls: service_param(request, "rtmp_publish_service")
            .and_then(|p| p.outputs.as_ref())
            .map(|outputs| outputs.iter().map(|o| o.rtmp_url.clone()).collect())
            .unwrap_or_default(),
        scheduled_end: None,
        stopped_at: None,
        stuck: false,
    };
    if let Some(max) = recorder.and_then(|p| p.max_recording_hour) {
        task.schedule_end(later(now, hours(max)), Exit::MaxRecordingHour);
    }
    if let Some(Fault::RecordingDies { after }) = state
        .faults
        .take(|f| matches!(f, Fault::RecordingDies { .. }))
    {
        task.schedule_end(later(now, after), Exit::Died);
    }
    if state.faults.take(|f| *f == Fault::StuckStarting).is_some() {
        task.stuck = true;
    }
    if state.faults.take(|f| *f == Fault::NobodyJoined).is_some() {
        task.users_present = false;
        // Web page recording has no channel to be idle in.
        if mode != Mode::Web {
            let idle = config.and_then(|c| c.max_idle_time).unwrap_or(30);
            let idle = Duration::from_secs(u64::from(idle));
            task.schedule_end(later(now, idle), Exit::Idle);
        }
    }
    task
}

/// What a start body asks to be written.
fn output(request: &StartClientRequest) -> Output {
    match &request.recording_file_config {
        Some(files) if files.av_file_type.contains(&AvFileType::Mp4) => Output::HlsAndMp4,
        None if request.snapshot_config.is_some() => Output::Snapshots,
        _ => Output::Hls,
    }
}

fn hours(h: u32) -> Duration {
    Duration::from_secs(u64::from(h) * 60 * 60)
}

fn service_param<'r>(request: &'r StartClientRequest, name: &str) -> Option<&'r ServiceParam> {
    let services = &request
        .extension_service_config
        .as_ref()?
        .extension_services;
    services
        .iter()
        .find(|s| s.service_name == name)
        .map(|s| &s.service_param)
}

/// A recording ID as Agora's look: 32 lowercase hex digits.
fn new_sid() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut sid = String::with_capacity(32);
    for b in bytes {
        let _ = write!(sid, "{b:02x}");
    }
    sid
}

/// A resource ID as Agora's look: a long opaque URL-safe string.
fn new_resource_id() -> String {
    let mut bytes = [0u8; 192];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
