//! The team lead's live view: `GET /v1/wallboard?since=MS` answers, for team leads and admins
//! only (everyone else gets 403), each queue's waiting work and its call figures for today
//! (`since`, the window's local midnight) and for the last 15 minutes, and every agent's state.
//!
//! The figures come from raw records with okno-acd's arithmetic ([`okno_acd::figures`]), the
//! same the reports use. For the queues the hotline serves ([`crate::hotline`]) the records are
//! its stored queue events, so waiting calls, waits and abandonments are the hotline's own; for
//! other queues they are the calls desks record (inbound, by queue), counted once they ended or
//! were answered. Waiting chats are the website chats nobody has taken. Team leads change an
//! agent's state through the synced `set_agent_state` mutation (push refuses it from anyone
//! else) and move a waiting call to another queue with `POST /v1/wallboard/move`.

use axum::extract::{RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use okno_acd::wire::{AgentBoard, QueueBoard, WallboardView};
use okno_acd::{AcdEvent, AcdEventKind, figures, recorded_call_events, waiting_calls};
use okno_core::{AgentState, Millis, Role};
use serde::Deserialize;

use crate::{AppError, AppState, Caller};

/// The recent period the wallboard shows beside today.
const RECENT_MS: Millis = 15 * 60_000;
/// `since` further back than this is refused (a wallboard is about today).
const MAX_PERIOD_MS: Millis = 2 * 86_400_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/wallboard", get(board))
        .route("/v1/wallboard/move", post(move_call))
        .route("/v1/wallboard/monitor", post(monitor))
}

fn team_lead(caller: &Caller) -> Result<(), AppError> {
    if matches!(caller.role, Role::TeamLead | Role::Admin) {
        Ok(())
    } else {
        Err(AppError::Forbidden("the wallboard is for team leads and admins".into()))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveCall {
    pub call_id: String,
    pub queue_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    pub call_id: String,
    /// `listen`, `whisper` or `barge`.
    pub mode: String,
}

/// A team lead joins an operator's live hotline call: the hotline rings the lead's own desk (their
/// supervisor line); keys 1-3 there switch between listen, whisper and barge. Every such join is
/// in the audit log.
async fn monitor(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Monitor>,
) -> Result<Json<serde_json::Value>, AppError> {
    team_lead(&caller)?;
    let Some((hotline, _)) = &state.hotline else {
        return Err(AppError::NotFound("this server runs no hotline".into()));
    };
    let mode: okno_hotline::MonitorMode = body.mode.parse().map_err(AppError::BadRequest)?;
    let command = crate::hotline::CallCommand::Monitor {
        call_id: body.call_id.clone(),
        supervisor_id: caller.id.clone(),
        shown_as: caller.name.clone(),
        mode: mode.as_str().to_owned(),
    };
    crate::hotline::command(hotline, state.hotline_bus.as_ref(), command)
        .await
        .map_err(|e| AppError::Conflict(e.to_string()))?;
    let entry = crate::audit::Entry {
        action: crate::audit::Action::CallMonitored,
        actor: Some(&caller.id),
        subject: Some(&body.call_id),
        address: None,
        client_at: None,
        detail: serde_json::json!({ "mode": mode.as_str() }),
    };
    crate::audit::record_or_log(&state.pool, entry).await;
    Ok(Json(serde_json::json!({ "call_id": body.call_id, "mode": body.mode })))
}

/// A team lead moves a waiting hotline call to another queue the hotline serves.
async fn move_call(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<MoveCall>,
) -> Result<Json<serde_json::Value>, AppError> {
    team_lead(&caller)?;
    let Some((hotline, served)) = &state.hotline else {
        return Err(AppError::NotFound("this server runs no hotline".into()));
    };
    if !served.contains(&body.queue_id) {
        return Err(AppError::BadRequest(format!("the hotline serves no queue {:?}", body.queue_id)));
    }
    let command = crate::hotline::CallCommand::Move { call_id: body.call_id.clone(), queue_id: body.queue_id.clone() };
    crate::hotline::command(hotline, state.hotline_bus.as_ref(), command)
        .await
        .map_err(|e| AppError::Conflict(e.to_string()))?;
    tracing::info!(call_id = body.call_id, queue_id = body.queue_id, by = caller.id, "hotline call moved");
    Ok(Json(serde_json::json!({ "call_id": body.call_id, "queue_id": body.queue_id })))
}

/// `since=MS` of the query: the start of "today" in the team lead's time zone (the last 24
/// hours without it).
fn since_of(query: Option<&str>) -> Result<Option<Millis>, AppError> {
    let value = query.into_iter().flat_map(|q| q.split('&')).find_map(|pair| pair.strip_prefix("since="));
    value.map(|v| v.parse().map_err(|_| AppError::BadRequest("since must be Unix milliseconds".into()))).transpose()
}

async fn board(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<WallboardView>, AppError> {
    team_lead(&caller)?;
    let now = okno_core::unix_ms(std::time::SystemTime::now());
    let since = since_of(query.as_deref())?.unwrap_or(now - 86_400_000);
    if since > now || now - since > MAX_PERIOD_MS {
        return Err(AppError::BadRequest("since must be within the last two days".into()));
    }
    let mut conn = state.pool.acquire().await?;
    type CallRow = (String, String, Option<String>, Millis, Option<Millis>, Option<Millis>);
    let calls: Vec<CallRow> = sqlx::query_as(
        "SELECT id, queue_id, operator_id, started_at, answered_at, ended_at FROM calls \
         WHERE direction = 'inbound' AND queue_id IS NOT NULL AND started_at >= $1 ORDER BY started_at",
    )
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    let served: &[String] = state.hotline.as_ref().map_or(&[], |(_, served)| served.as_slice());
    let mut events: Vec<AcdEvent> = calls
        .iter()
        .filter(|(_, queue, ..)| !served.contains(queue))
        .flat_map(|(id, queue, agent, started, answered, ended)| {
            recorded_call_events(id, queue, agent.as_deref(), *started, *answered, *ended)
        })
        .collect();
    if !served.is_empty() {
        events.extend(crate::hotline::events_since(&mut conn, since).await?);
    }
    events.sort_by_key(|e| e.at);
    // From the records, not this instance's hotline: the calls may be carried by another one.
    let on_calls = okno_acd::agents_on_calls(&events);
    let chats: Vec<(String, i64, Millis)> = sqlx::query_as(
        "SELECT queue_id, count(*), min(created_at) FROM tickets \
         WHERE channel = 'chat' AND status IN ('new', 'open') AND assignee_id IS NULL AND merged_into IS NULL \
         GROUP BY queue_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let queue_rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, name, channel FROM queues ORDER BY name").fetch_all(&mut *conn).await?;
    let queues = queue_rows
        .into_iter()
        .filter_map(|(id, name, channel)| {
            let today = figures(&events, &id, since, now);
            let last_15_min = figures(&events, &id, now - RECENT_MS, now);
            let (waiting_chats, oldest_chat) =
                chats.iter().find(|c| c.0 == id).map_or((0, None), |c| (u64::try_from(c.1).unwrap_or(0), Some(c.2)));
            let chat_wait = oldest_chat.map_or(0, |at| u64::try_from(now - at).unwrap_or(0));
            Some(QueueBoard {
                channel: channel.parse().ok()?,
                calls_waiting: waiting_calls(&events, &id, now),
                waiting_calls: today.waiting,
                waiting_chats,
                longest_wait_ms: today.longest_wait_ms.max(chat_wait),
                today,
                last_15_min,
                id,
                name,
            })
        })
        .collect();
    type AgentRow = (String, String, String, String, Millis, i64);
    let agent_rows: Vec<AgentRow> = sqlx::query_as(
        "SELECT o.id, o.name, o.role, o.state, o.state_since, \
           (SELECT count(*) FROM calls c WHERE c.operator_id = o.id AND c.answered_at >= $1 \
              AND (c.queue_id IS NULL OR NOT c.queue_id = ANY($2))) \
           + (SELECT count(DISTINCT m.ticket_id) FROM messages m WHERE m.operator_id = o.id AND m.direction = 'outbound' \
              AND m.channel = 'chat' AND m.created_at >= $1) \
         FROM operators o WHERE o.disabled_at IS NULL AND o.role IN ('operator', 'team_lead', 'contractor') ORDER BY o.name",
    )
    .bind(since)
    .bind(served)
    .fetch_all(&mut *conn)
    .await?;
    // The hotline's calls count from its records (a desk that is a plain SIP phone records
    // none); a desk's own record of such a call is left out above, so none counts twice.
    let mut hotline_answered: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for e in events.iter().filter(|e| e.at >= since && served.contains(&e.queue_id)) {
        if let (AcdEventKind::Answered | AcdEventKind::CallbackPlaced, Some(agent)) = (e.kind, e.agent_id.as_deref()) {
            *hotline_answered.entry(agent).or_default() += 1;
        }
    }
    let agents = agent_rows
        .into_iter()
        .filter_map(|(id, name, role, agent_state, state_since, handled)| {
            Some(AgentBoard {
                name,
                role: role.parse().ok()?,
                state: agent_state.parse().ok()?,
                state_since,
                handled_today: u32::try_from(handled)
                    .unwrap_or(u32::MAX)
                    .saturating_add(hotline_answered.get(id.as_str()).copied().unwrap_or(0)),
                not_responding: agent_state == AgentState::NotResponding.as_str(),
                hotline_call: on_calls.get(&id).cloned(),
                id,
            })
        })
        .collect();
    Ok(Json(WallboardView { at: now, queues, agents }))
}
