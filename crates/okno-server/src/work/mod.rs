//! The center's work rules on the server (issue 18): the routing rule set, reply templates, SLA
//! policies, satisfaction marks and merging/splitting tickets;
//! the rules, templates and policies edited by admins and team leads over `/v1/work/...`, compiled by okno-rules,
//! and applied as mail and chats come in ([`apply`]) and as tickets change ([`sla`]).
//!
//! Invariants:
//! - What is stored always compiled when it was stored: a save that does not compile is refused
//!   with the rule (or policy, or template) and the reason, and nothing changes.
//! - The rule set is saved whole with the version it was edited from; a save over a newer
//!   version is a conflict, so one admin never silently undoes another.
//! - Every change is in the audit log with who made it.

pub mod apply;
pub mod csat;
pub mod mentions;
pub mod merge;
pub mod sla;
pub mod templates;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use okno_core::{Millis, Role};
use okno_rules::wire::{
    DryRunReport, DryRunRequest, DryRunTicket, Named, QueuePolicy, Recomputed, RuleSetView, SaveRules, SlaPolicies,
};
use okno_rules::{RuleSet, SlaPolicy, SlaPolicySpec};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{AppError, AppState, Caller, audit};

/// Tickets a dry run may replay.
const MAX_DRY_RUN: i64 = 1_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/work/rules", get(get_rules).put(save_rules))
        .route("/v1/work/rules/dry-run", post(dry_run))
        .route("/v1/work/people", get(people))
        .route("/v1/work/templates", get(templates::list))
        .route("/v1/work/templates/{id}", put(templates::save).delete(templates::delete))
        .route("/v1/work/templates/{id}/render", post(templates::render))
        .route("/v1/work/sla-policies", get(list_policies))
        .route("/v1/work/sla-policies/{id}", put(save_policy))
        .route("/v1/work/queues/{id}/sla-policy", put(set_queue_policy))
        .route("/v1/work/csat", get(csat::get_settings).put(csat::save_settings))
        .route("/csat/{token}", get(csat::form).post(csat::answer))
        .route("/v1/tickets/merge", post(merge::merge))
        .route("/v1/tickets/split", post(merge::split))
        .route("/v1/tickets/{id}/followers", get(mentions::followers))
        .route("/v1/tickets/{id}/follow", put(mentions::follow))
}

/// Admins and team leads shape the center's work; the server refuses everyone else.
fn lead(caller: &Caller) -> Result<(), AppError> {
    match caller.role {
        Role::Admin | Role::TeamLead => Ok(()),
        _ => Err(AppError::Forbidden("only admins and team leads change the center's rules".into())),
    }
}

fn now() -> Millis {
    okno_core::unix_ms(std::time::SystemTime::now())
}

/// `GET /v1/work/people`: who a note can `@mention` (any signed-in account may ask: names and
/// roles only, no contact details).
async fn people(State(state): State<AppState>, _caller: Caller) -> Result<Json<okno_rules::wire::People>, AppError> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, name, role FROM operators WHERE disabled_at IS NULL ORDER BY name")
            .fetch_all(&state.pool)
            .await?;
    let people = rows
        .into_iter()
        .filter_map(|(id, name, role)| Some(okno_rules::wire::Person { id, name, role: role.parse().ok()? }))
        .collect();
    Ok(Json(okno_rules::wire::People { people }))
}

/// `GET /v1/work/rules`: the rule set, its version, and what rules may refer to.
async fn get_rules(State(state): State<AppState>, caller: Caller) -> Result<Json<RuleSetView>, AppError> {
    lead(&caller)?;
    let mut conn = state.pool.acquire().await?;
    let version: i64 = sqlx::query_scalar("SELECT version FROM rule_sets WHERE id = 1").fetch_one(&mut *conn).await?;
    let (rules, _) = apply::stored_rules(&mut conn, &state.own_addresses()).await?;
    let named = |rows: Vec<(String, String)>| rows.into_iter().map(|(id, name)| Named { id, name }).collect();
    let queues = sqlx::query_as("SELECT id, name FROM queues ORDER BY name").fetch_all(&mut *conn).await?;
    let operators = sqlx::query_as(
        "SELECT id, name FROM operators WHERE disabled_at IS NULL AND role <> 'contractor' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let templates = sqlx::query_as("SELECT id, spec->>'name' FROM templates WHERE owner_id IS NULL ORDER BY 2")
        .fetch_all(&mut *conn)
        .await?;
    let mailboxes =
        sqlx::query_scalar("SELECT DISTINCT name FROM mailbox_state ORDER BY name").fetch_all(&mut *conn).await?;
    Ok(Json(RuleSetView {
        version,
        rules,
        queues: named(queues),
        operators: named(operators),
        templates: named(templates),
        mailboxes,
    }))
}

fn refused(e: okno_rules::RuleError) -> AppError {
    AppError::Invalid {
        message: e.to_string(),
        detail: json!({ "position": e.position, "name": e.name, "reason": e.problem.to_string() }),
    }
}

/// `PUT /v1/work/rules`: replace the rule set.
async fn save_rules(
    State(state): State<AppState>,
    caller: Caller,
    Json(save): Json<SaveRules>,
) -> Result<Json<Value>, AppError> {
    lead(&caller)?;
    let mut tx = state.pool.begin().await?;
    let current: i64 =
        sqlx::query_scalar("SELECT version FROM rule_sets WHERE id = 1 FOR UPDATE").fetch_one(&mut *tx).await?;
    if current != save.version {
        return Err(AppError::Conflict(format!(
            "the rules were changed by someone else (version {current}, you edited {}); reload them",
            save.version
        )));
    }
    let known = apply::known(&mut tx, &state.own_addresses()).await?;
    RuleSet::compile(&save.rules, &known).map_err(refused)?;
    let version = current + 1;
    sqlx::query("UPDATE rule_sets SET version = $1, rules = $2, updated_at = $3, updated_by = $4 WHERE id = 1")
        .bind(version)
        .bind(serde_json::to_value(&save.rules).map_err(anyhow::Error::from)?)
        .bind(now())
        .bind(&caller.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    audit::record_or_log(
        &state.pool,
        audit::Entry {
            action: audit::Action::RulesChanged,
            actor: Some(&caller.id),
            subject: Some("rules"),
            address: None,
            client_at: None,
            detail: json!({ "version": version, "rules": save.rules.len() }),
        },
    )
    .await;
    tracing::info!(version, rules = save.rules.len(), by = %caller.name, "rule set saved");
    Ok(Json(json!({ "version": version })))
}

type ReplayedRow =
    (String, i64, String, String, String, Value, Option<String>, Option<String>, String, String, Value, Millis, bool);

/// `POST /v1/work/rules/dry-run`: what `rules` would have done to the latest tickets, changing
/// nothing: each ticket's first message, and its latest reply from the customer where there is
/// one (rules on replies fire on those).
async fn dry_run(
    State(state): State<AppState>,
    caller: Caller,
    Json(run): Json<DryRunRequest>,
) -> Result<Json<DryRunReport>, AppError> {
    lead(&caller)?;
    let mut conn = state.pool.acquire().await?;
    let known = apply::known(&mut conn, &state.own_addresses()).await?;
    let set = RuleSet::compile(&run.rules, &known).map_err(refused)?;
    let rows: Vec<ReplayedRow> = sqlx::query_as(
        "SELECT t.id, t.number, t.subject, t.channel, t.queue_id, t.tags, m.email->>'mailbox', \
           COALESCE(m.email->'reply_to'->>'address', m.email->'from'->>'address'), COALESCE(m.body, ''), c.tier, c.tags, \
           COALESCE(m.created_at, t.created_at), COALESCE(m.n = 1, true) \
         FROM (SELECT * FROM tickets ORDER BY created_at DESC LIMIT $1) t JOIN customers c ON c.id = t.customer_id \
         LEFT JOIN LATERAL (SELECT x.* FROM (SELECT m.*, row_number() OVER (ORDER BY m.created_at, m.id) AS n, \
             count(*) OVER () AS total FROM messages m WHERE m.ticket_id = t.id AND m.direction = 'inbound') x \
           WHERE x.n = 1 OR x.n = x.total) m ON true \
         ORDER BY t.created_at DESC, t.id, m.n",
    )
    .bind(run.last.clamp(1, MAX_DRY_RUN))
    .fetch_all(&mut *conn)
    .await?;
    let mut results: Vec<DryRunTicket> = Vec::new();
    let mut calendars: std::collections::HashMap<String, Option<okno_rules::Calendar>> = Default::default();
    for (id, number, subject, channel, queue_id, ticket_tags, mailbox, sender, body, tier, customer_tags, at, first) in
        rows
    {
        // One policy read per queue, not per ticket.
        if !calendars.contains_key(&queue_id) {
            let policy = sla::queue_policy(&mut conn, &queue_id).await?;
            calendars.insert(queue_id.clone(), policy.map(|p| p.calendar));
        }
        let open = calendars[&queue_id].as_ref().is_none_or(|c| c.is_open(at));
        let message = apply::Message {
            channel: channel.parse().unwrap_or(okno_core::Channel::Email),
            queue_id,
            mailbox,
            sender,
            subject: subject.clone(),
            body,
            sender_info: apply::Sender {
                tier: tier.parse().unwrap_or(okno_core::CustomerTier::Standard),
                tags: serde_json::from_value(customer_tags).unwrap_or_default(),
            },
            ticket_tags: serde_json::from_value(ticket_tags).unwrap_or_default(),
            open,
            first,
        };
        let outcome = message.evaluate(&set);
        results.push(DryRunTicket { ticket_id: id, number, subject, reply: !first, outcome });
    }
    Ok(Json(dry_run_report(results)))
}

/// The report's counts over its replayed messages (a ticket counts once, whichever of its
/// messages a rule fired on).
fn dry_run_report(tickets: Vec<DryRunTicket>) -> DryRunReport {
    let ids = |fired_only: bool| {
        tickets
            .iter()
            .filter(|x| !fired_only || !x.outcome.fired.is_empty())
            .map(|x| x.ticket_id.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len() as u32
    };
    let (matched, replayed) = (ids(true), ids(false));
    let replies = tickets.iter().filter(|x| x.reply).count() as u32;
    DryRunReport { tickets, matched, replayed, replies }
}

/// `GET /v1/work/sla-policies`: the policies and which queue runs on which.
async fn list_policies(State(state): State<AppState>, caller: Caller) -> Result<Json<SlaPolicies>, AppError> {
    lead(&caller)?;
    let specs: Vec<Value> =
        sqlx::query_scalar("SELECT spec FROM sla_policies ORDER BY spec->>'name'").fetch_all(&state.pool).await?;
    let policies = specs.into_iter().filter_map(|s| serde_json::from_value(s).ok()).collect();
    let queues: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, name, sla_policy_id FROM queues ORDER BY name").fetch_all(&state.pool).await?;
    let queues = queues.into_iter().map(|(id, name, sla_policy_id)| QueuePolicy { id, name, sla_policy_id }).collect();
    Ok(Json(SlaPolicies { policies, queues }))
}

/// `PUT /v1/work/sla-policies/{id}`: save a policy; the open tickets of its queues get new due
/// times at once.
async fn save_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(spec): Json<SlaPolicySpec>,
) -> Result<Json<Recomputed>, AppError> {
    lead(&caller)?;
    if spec.id != id {
        return Err(AppError::BadRequest("the policy's id differs from the address".into()));
    }
    SlaPolicy::compile(&spec)
        .map_err(|e| AppError::Invalid { message: e.to_string(), detail: json!({ "policy": id }) })?;
    sqlx::query(
        "INSERT INTO sla_policies (id, spec, updated_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET spec = $2, updated_at = $3",
    )
    .bind(&id)
    .bind(serde_json::to_value(&spec).map_err(anyhow::Error::from)?)
    .bind(now())
    .execute(&state.pool)
    .await?;
    let queues: Vec<String> =
        sqlx::query_scalar("SELECT id FROM queues WHERE sla_policy_id = $1").bind(&id).fetch_all(&state.pool).await?;
    let recomputed = recompute(&state, &queues).await?;
    audit_policy(&state, &caller, &id, json!({ "queues": queues, "recomputed": recomputed })).await;
    Ok(Json(Recomputed { recomputed }))
}

#[derive(Debug, Deserialize)]
struct QueuePolicyChange {
    sla_policy_id: Option<String>,
}

/// `PUT /v1/work/queues/{id}/sla-policy`: put a queue on a policy (or back on its own minutes).
async fn set_queue_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(queue_id): Path<String>,
    Json(body): Json<QueuePolicyChange>,
) -> Result<Json<Recomputed>, AppError> {
    lead(&caller)?;
    let updated = sqlx::query(
        "UPDATE queues SET sla_policy_id = $2 WHERE id = $1 AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM sla_policies WHERE id = $2))",
    )
    .bind(&queue_id)
    .bind(&body.sla_policy_id)
    .execute(&state.pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::NotFound("no such queue or policy".into()));
    }
    let recomputed = recompute(&state, std::slice::from_ref(&queue_id)).await?;
    audit_policy(
        &state,
        &caller,
        &queue_id,
        json!({ "queue": queue_id, "policy": body.sla_policy_id, "recomputed": recomputed }),
    )
    .await;
    Ok(Json(Recomputed { recomputed }))
}

async fn recompute(state: &AppState, queues: &[String]) -> Result<u64, AppError> {
    let started = std::time::Instant::now();
    let tickets = {
        let mut conn = state.pool.acquire().await?;
        sla::open_tickets(&mut conn, queues).await?
    };
    let done = sla::refresh_all(state, &tickets).await?;
    tracing::info!(tickets = done, ms = started.elapsed().as_millis() as u64, "SLA due times recomputed");
    Ok(done as u64)
}

async fn audit_policy(state: &AppState, caller: &Caller, subject: &str, detail: Value) {
    audit::record_or_log(
        &state.pool,
        audit::Entry {
            action: audit::Action::SlaPolicyChanged,
            actor: Some(&caller.id),
            subject: Some(subject),
            address: None,
            client_at: None,
            detail,
        },
    )
    .await;
}
