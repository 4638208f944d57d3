//! Reply templates on the server: who sees which (a queue's templates its operators, personal
//! ones their owner, everyone's everyone), who may edit them (admins and team leads the shared
//! ones; anyone but a contractor their own), and rendering with a ticket's values.

use axum::Json;
use axum::extract::{Path, State};
use okno_core::{Millis, Role};
use okno_rules::wire::{RenderedTemplate, TemplateList};
use okno_rules::{Template, TemplateVars};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;

use crate::{AppError, AppState, Caller};

pub async fn load(conn: &mut PgConnection, id: &str) -> Result<Template, sqlx::Error> {
    let spec: Value =
        sqlx::query_scalar("SELECT spec FROM templates WHERE id = $1").bind(id).fetch_one(&mut *conn).await?;
    serde_json::from_value(spec).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The values a template can use for `ticket_id`, sent by `operator` (if a person sends it).
pub async fn vars(
    conn: &mut PgConnection,
    ticket_id: &str,
    operator: Option<&str>,
) -> Result<TemplateVars, sqlx::Error> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT t.number, t.subject, c.name FROM tickets t JOIN customers c ON c.id = t.customer_id WHERE t.id = $1",
    )
    .bind(ticket_id)
    .fetch_optional(&mut *conn)
    .await?;
    let operator_name: Option<String> = match operator {
        Some(id) => {
            sqlx::query_scalar("SELECT name FROM operators WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?
        }
        None => None,
    };
    Ok(TemplateVars {
        customer_name: row.as_ref().map(|r| r.2.clone()),
        ticket_number: row.as_ref().map(|r| r.0),
        ticket_subject: row.map(|r| r.1),
        operator_name,
        // Orders live in the CRM card on the desks: a desk's render request brings the latest
        // (an auto-reply from the rules has none to fill in).
        ..TemplateVars::default()
    })
}

/// `GET /v1/work/templates`: the templates the caller may use.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<TemplateList>, AppError> {
    let specs: Vec<Value> = sqlx::query_scalar(
        "SELECT spec FROM templates t WHERE (t.owner_id IS NULL OR t.owner_id = $1) AND (t.queue_id IS NULL OR $2 \
           OR EXISTS (SELECT 1 FROM operator_queues g WHERE g.operator_id = $1 AND g.queue_id = t.queue_id)) \
         ORDER BY spec->>'name'",
    )
    .bind(&caller.id)
    .bind(caller.sees_all_queues())
    .fetch_all(&state.pool)
    .await?;
    let templates = specs.into_iter().filter_map(|s| serde_json::from_value(s).ok()).collect();
    Ok(Json(TemplateList { templates, variables: TemplateList::variables() }))
}

fn may_edit(caller: &Caller, template: &Template) -> Result<(), AppError> {
    match (caller.role, &template.owner_id) {
        (Role::Contractor, _) => Err(AppError::Forbidden("contractors cannot edit templates".into())),
        (_, Some(owner)) if *owner == caller.id => Ok(()),
        (_, Some(_)) => Err(AppError::Forbidden("a personal template belongs to its owner".into())),
        (Role::Admin | Role::TeamLead, None) => Ok(()),
        (_, None) => Err(AppError::Forbidden("only admins and team leads edit shared templates".into())),
    }
}

/// `PUT /v1/work/templates/{id}`.
pub async fn save(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(template): Json<Template>,
) -> Result<Json<Value>, AppError> {
    if template.id != id {
        return Err(AppError::BadRequest("the template's id differs from the address".into()));
    }
    template
        .check()
        .map_err(|e| AppError::Invalid { message: e.to_string(), detail: json!({ "field": "template" }) })?;
    may_edit(&caller, &template)?;
    let mut tx = state.pool.begin().await?;
    if let Some(existing) = sqlx::query_scalar::<_, Value>("SELECT spec FROM templates WHERE id = $1 FOR UPDATE")
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?
    {
        let existing: Template = serde_json::from_value(existing).map_err(anyhow::Error::from)?;
        may_edit(&caller, &existing)?;
    }
    if let Some(queue) = &template.queue_id {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM queues WHERE id = $1)")
            .bind(queue)
            .fetch_one(&mut *tx)
            .await?;
        if !exists {
            return Err(AppError::Invalid {
                message: format!("there is no queue {queue:?}"),
                detail: json!({ "field": "queue_id" }),
            });
        }
    }
    // A file is sent with every use: it must be on the server (uploaded) when the template is saved.
    for file in &template.attachments {
        let stored: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = $1)")
            .bind(&file.sha256)
            .fetch_one(&mut *tx)
            .await?;
        if !stored {
            return Err(AppError::Invalid {
                message: format!("the file {:?} is not on the server; attach it again", file.name),
                detail: json!({ "field": "attachments" }),
            });
        }
    }
    sqlx::query(
        "INSERT INTO templates (id, spec, queue_id, owner_id, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET spec = $2, queue_id = $3, owner_id = $4, updated_at = $5",
    )
    .bind(&id)
    .bind(serde_json::to_value(&template).map_err(anyhow::Error::from)?)
    .bind(&template.queue_id)
    .bind(&template.owner_id)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(json!({ "id": id })))
}

/// `DELETE /v1/work/templates/{id}`; refused while a rule auto-replies with it.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let mut tx = state.pool.begin().await?;
    let existing: Template = serde_json::from_value(
        sqlx::query_scalar::<_, Value>("SELECT spec FROM templates WHERE id = $1 FOR UPDATE")
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no template {id:?}")))?,
    )
    .map_err(anyhow::Error::from)?;
    may_edit(&caller, &existing)?;
    let in_use: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM rule_sets, jsonb_array_elements(rules) r, jsonb_array_elements(r->'then') a \
         WHERE a->>'template_id' = $1)",
    )
    .bind(&id)
    .fetch_one(&mut *tx)
    .await?;
    if in_use {
        return Err(AppError::Conflict("a rule auto-replies with this template; change the rule first".into()));
    }
    sqlx::query("DELETE FROM templates WHERE id = $1").bind(&id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Json(json!({ "deleted": id })))
}

#[derive(Debug, Deserialize)]
pub struct RenderRequest {
    pub ticket_id: String,
    /// The customer's latest order from the desk's card, for `{{order.*}}`.
    #[serde(default)]
    pub order: Option<okno_rules::wire::OrderVars>,
}

/// `POST /v1/work/templates/{id}/render`: the template filled in for a ticket, with the
/// variables that had no value, for the reply box.
pub async fn render(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<RenderRequest>,
) -> Result<Json<RenderedTemplate>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let visible: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM templates t WHERE t.id = $1 AND (t.owner_id IS NULL OR t.owner_id = $2)) \
           AND EXISTS (SELECT 1 FROM tickets k WHERE k.id = $3 AND ($4 OR EXISTS \
             (SELECT 1 FROM operator_queues g WHERE g.operator_id = $2 AND g.queue_id = k.queue_id)))",
    )
    .bind(&id)
    .bind(&caller.id)
    .bind(&request.ticket_id)
    .bind(caller.sees_all_queues())
    .fetch_one(&mut *conn)
    .await?;
    if !visible {
        return Err(AppError::NotFound("no such template or ticket for this account".into()));
    }
    let template = load(&mut conn, &id).await?;
    let mut vars = vars(&mut conn, &request.ticket_id, Some(&caller.id)).await?;
    if let Some(order) = request.order {
        // Text the operator's own card shows, going into their own reply: nothing to check it against.
        let clip = |s: String| Some(s.chars().take(100).collect::<String>()).filter(|s| !s.trim().is_empty());
        (vars.order_number, vars.order_status, vars.order_total) =
            (clip(order.number), clip(order.status), clip(order.total));
    }
    if caller.role == Role::Contractor {
        // A contractor's desk shows masked names; the reply they send must not unmask them.
        vars.customer_name = vars.customer_name.map(|n| okno_core::pii::mask_text(&n));
    }
    let body = template.render_body(&vars);
    let subject = template.render_subject(&vars);
    Ok(Json(RenderedTemplate { body, subject, attachments: template.attachments }))
}

fn now() -> Millis {
    okno_core::unix_ms(std::time::SystemTime::now())
}
