//! The calls on a started task: query, update, updateLayout and stop, after
//! the checks they share (failure faults, failover, finding the task).

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Ctx, Outcome, parse};
use crate::agora::Mode;
use crate::agora::request::{StopClientRequest, UpdateClientRequest, UpdateLayoutClientRequest};
use crate::sim::faults::Fault;
use crate::sim::files;
use crate::sim::reply::Reply;
use crate::sim::state::{Exit, State, Task, TaskLife, UidList};
use crate::sim::validate;

/// What stands between a call on a task and the task: a failure fault, or a
/// failover in progress.
fn interrupted(state: &mut State, ctx: &Ctx<'_>, sender: (&str, &str)) -> Result<(), Reply> {
    if let Some(reply) = state.faults.take_failure(ctx.call.endpoint) {
        return Err(reply);
    }
    if state.faults.in_failover(ctx.now) {
        return Err(ctx.not_found(sender.0, sender.1));
    }
    Ok(())
}

/// The task the path names, if it has not gone, is in the path's mode, and
/// belongs to the body's cname and uid (`sender`; query has no body).
fn find_task<'s>(
    tasks: &'s mut HashMap<String, Task>,
    ctx: &Ctx<'_>,
    mode: Mode,
    sender: Option<(&str, &str)>,
) -> Result<(&'s mut Task, TaskLife), Reply> {
    let call = ctx.call;
    let Some(task) = tasks
        .get_mut(&call.sid)
        .filter(|t| t.resource_id == call.resource_id && t.app_id == call.app_id)
    else {
        let (cname, uid) = sender.unwrap_or_default();
        return Err(ctx.not_found(cname, uid));
    };
    let life = task.life(ctx.now, ctx.timings().exiting);
    if life == TaskLife::Gone {
        let (cname, uid) = sender.unwrap_or((&task.cname, &task.uid));
        return Err(ctx.not_found(cname, uid));
    }
    if task.mode != mode {
        return Err(ctx.invalid(&format!(
            "mode `{}` does not match the recording's mode `{}`",
            call.mode,
            task.mode.url_segment()
        )));
    }
    if let Some((cname, uid)) = sender
        && (task.cname != cname || task.uid != uid)
    {
        return Err(Reply::code(
            StatusCode::BAD_REQUEST,
            432,
            "cname or uid does not match the recording",
        ));
    }
    Ok((task, life))
}

pub(super) fn query(state: &mut State, ctx: &Ctx<'_>) -> Outcome {
    let mode = ctx.mode()?;
    interrupted(state, ctx, ("", ""))?;
    let (task, life) = find_task(&mut state.tasks, ctx, mode, None)?;
    let ended_at = task.end().map_or(ctx.now, |(at, _)| at);
    let (status, at) = match life {
        TaskLife::Running => (task.running_status(ctx.now, ctx.timings()), ctx.now),
        TaskLife::Exiting(Exit::Died) => (20, ended_at),
        TaskLife::Exiting(Exit::Idle | Exit::MaxRecordingHour) => (8, ended_at),
        // A stopped task leaves at once; only stop still sees it (code 49).
        TaskLife::Exiting(Exit::Stopped) | TaskLife::Gone => {
            return Err(ctx.not_found(&task.cname, &task.uid));
        }
    };
    Ok(Reply::ok(json!({
        "cname": task.cname,
        "uid": task.uid,
        "resourceId": task.resource_id,
        "sid": task.sid,
        "serverResponse": files::query_response(task, ctx.shared, status, at),
    })))
}

pub(super) fn update(state: &mut State, ctx: &Ctx<'_>, body: Option<&Value>) -> Outcome {
    let mode = ctx.mode()?;
    let (envelope, raw) = parse::<UpdateClientRequest>(ctx, body)?;
    let request = &envelope.client_request;
    validate::update(mode, request, raw).map_err(|reason| ctx.invalid(&reason))?;
    let sender = (envelope.cname.as_str(), envelope.uid.as_str());
    interrupted(state, ctx, sender)?;
    let (task, life) = find_task(&mut state.tasks, ctx, mode, Some(sender))?;
    if life != TaskLife::Running {
        return Err(ctx.not_found(sender.0, sender.1));
    }
    if let Some(subscribe) = &request.stream_subscribe {
        if let Some(audio) = &subscribe.audio_uid_list {
            task.subscriptions.audio = UidList::from_pair(
                audio.subscribe_audio_uids.as_ref(),
                audio.un_subscribe_audio_uids.as_ref(),
            );
        }
        if let Some(video) = &subscribe.video_uid_list {
            task.subscriptions.video = UidList::from_pair(
                video.subscribe_video_uids.as_ref(),
                video.un_subscribe_video_uids.as_ref(),
            );
        }
    }
    if let Some(web) = &request.web_recording_config {
        task.onhold = web.onhold;
    }
    if let Some(publish) = &request.rtmp_publish_config {
        task.rtmp_urls = publish.outputs.iter().map(|o| o.rtmp_url.clone()).collect();
    }
    Ok(ctx.acknowledge(&envelope))
}

pub(super) fn update_layout(state: &mut State, ctx: &Ctx<'_>, body: Option<&Value>) -> Outcome {
    let mode = ctx.mode()?;
    if mode != Mode::Composite {
        return Err(ctx.invalid("updateLayout is only supported in mode mix"));
    }
    let (envelope, _) = parse::<UpdateLayoutClientRequest>(ctx, body)?;
    validate::update_layout(&envelope.client_request).map_err(|reason| ctx.invalid(&reason))?;
    let sender = (envelope.cname.as_str(), envelope.uid.as_str());
    interrupted(state, ctx, sender)?;
    let (_, life) = find_task(&mut state.tasks, ctx, mode, Some(sender))?;
    if life != TaskLife::Running {
        return Err(ctx.not_found(sender.0, sender.1));
    }
    // The layout changes nothing the API reports, so it is not kept.
    Ok(ctx.acknowledge(&envelope))
}

pub(super) fn stop(state: &mut State, ctx: &Ctx<'_>, body: Option<&Value>) -> Outcome {
    let mode = ctx.mode()?;
    let (envelope, _) = parse::<StopClientRequest>(ctx, body)?;
    let sender = (envelope.cname.as_str(), envelope.uid.as_str());
    interrupted(state, ctx, sender)?;
    let (task, life) = find_task(&mut state.tasks, ctx, mode, Some(sender))?;
    if life != TaskLife::Running {
        // Already exiting: a repeated stop, an idle timeout, a dead worker.
        return Err(Reply::code(
            StatusCode::BAD_REQUEST,
            49,
            "invalid operation",
        ));
    }
    task.stopped_at = Some(ctx.now);
    if !task.users_present || state.faults.take(|f| *f == Fault::NoRecordedData).is_some() {
        return Ok(Reply::code(
            StatusCode::PARTIAL_CONTENT,
            435,
            "no recorded data",
        ));
    }
    Ok(Reply::ok(json!({
        "cname": envelope.cname,
        "uid": envelope.uid,
        "resourceId": task.resource_id,
        "sid": task.sid,
        "serverResponse": files::stop_response(task, ctx.shared, ctx.now),
    })))
}
