//! Customer satisfaction after a closed contact: an email customer is asked by a link, a chat
//! visitor in the widget; the answer lands on the ticket (a `csat_received` event and a note),
//! and a bad mark reopens the ticket in the operations manager's queue with the customer's
//! comment as its preview, unassigned, tagged `csat-bad`.
//!
//! Links are signed and single-use: `/csat/{id}.{mac}` where `mac` is HMAC-SHA256 over the
//! request id with the deployment's own key (made once, kept in `deployment.csat_key`); a guessed
//! or altered link is refused, a second answer is thanked and ignored.
//! How the center asks ([`CsatSettings`]: the scale, email and chat, the manager's queue) is
//! set by admins and team leads in the window and kept in `deployment.csat_settings`; until the
//! first save, the config file's `[csat]` gives it. Every instance reads it where it asks or
//! takes an answer, so a change made on one holds on all at once. Only the public address stays
//! in the config file: it is a fact of the deployment, not a choice of the center.
//! Asking is a background task (`start`), not part of the status change: it finds email tickets
//! answered by a person and then resolved or closed, without a request yet (spam excluded), and
//! queues the question in the mail outbox in the same transaction as the request, once per
//! ticket (a partial unique index), whichever instance gets there first.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use hmac::{Hmac, Mac};
use okno_core::{EventKind, Millis, new_id};
use okno_rules::wire::{CsatView, Named};
use okno_rules::{CsatScale, CsatScore, CsatSettings};
use okno_sync::Op;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::{PgConnection, Postgres, Transaction};

use crate::AppState;
use crate::changelog::{self, NewChange, queue_bucket};
use crate::config_file::{ConfigError, error};

/// Where questions stop: tickets resolved longer ago than this are not asked any more.
const ASK_WITHIN: Millis = 7 * 24 * 3_600_000;
/// The longest comment kept.
const MAX_COMMENT_CHARS: usize = 2_000;

/// `[csat]` of the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsatConfig {
    /// The server's address as customers reach it (`https://support.shop.example`): links start with it.
    pub public_url: String,
    /// The operations manager's queue (id or name as written; an id after start).
    pub manager_queue: Option<String>,
    pub scale: CsatScale,
    /// Ask email customers by a link after their ticket is resolved.
    pub ask_by_email: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCsat {
    public_url: String,
    manager_queue: Option<String>,
    #[serde(default)]
    scale: CsatScale,
    #[serde(default = "yes")]
    ask_by_email: bool,
}

fn yes() -> bool {
    true
}

impl CsatConfig {
    pub fn from_file(raw: RawCsat) -> Result<CsatConfig, ConfigError> {
        let url = url::Url::parse(raw.public_url.trim())
            .map_err(|e| error("csat.public_url", format!("{:?} is not an address: {e}", raw.public_url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(error("csat.public_url", "must start with https:// (or http:// for a trial)"));
        }
        Ok(CsatConfig {
            public_url: url.as_str().trim_end_matches('/').to_owned(),
            manager_queue: raw.manager_queue.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()),
            scale: raw.scale,
            ask_by_email: raw.ask_by_email,
        })
    }
}

/// Since when email customers are asked, when a lead turned it on from the window: a ticket
/// resolved before that is not asked (turning asking on does not survey last week's customers).
/// Kept beside the settings in the same column, never sent to the window.
async fn asking_by_email_since(conn: &mut PgConnection) -> Result<Option<Millis>, sqlx::Error> {
    Ok(sqlx::query_scalar("SELECT (csat_settings->>'email_since')::bigint FROM deployment")
        .fetch_optional(&mut *conn)
        .await?
        .flatten())
}

/// The settings in force: as saved from the window, or else as the config file gives them.
pub async fn settings(conn: &mut PgConnection, file: Option<&CsatConfig>) -> Result<CsatSettings, sqlx::Error> {
    let stored: Option<Value> =
        sqlx::query_scalar("SELECT csat_settings FROM deployment").fetch_optional(&mut *conn).await?.flatten();
    if let Some(settings) = stored.and_then(|v| serde_json::from_value::<CsatSettings>(v).ok()) {
        return Ok(settings);
    }
    Ok(match file {
        Some(file) => CsatSettings {
            scale: file.scale,
            ask_by_email: file.ask_by_email,
            ask_in_chat: true,
            manager_queue_id: file.manager_queue.clone(),
        },
        None => CsatSettings { ask_by_email: false, ..CsatSettings::default() },
    })
}

async fn view(state: &AppState, conn: &mut PgConnection) -> Result<CsatView, sqlx::Error> {
    let settings = settings(conn, state.csat.as_deref()).await?;
    let queues: Vec<(String, String)> =
        sqlx::query_as("SELECT id, name FROM queues ORDER BY name").fetch_all(&mut *conn).await?;
    Ok(CsatView {
        settings,
        public_url: state.csat.as_ref().map(|c| c.public_url.clone()),
        queues: queues.into_iter().map(|(id, name)| Named { id, name }).collect(),
    })
}

/// `GET /v1/work/csat`: how the center asks (admins and team leads).
pub async fn get_settings(
    State(state): State<AppState>,
    caller: crate::Caller,
) -> Result<axum::Json<CsatView>, crate::AppError> {
    super::lead(&caller)?;
    let mut conn = state.pool.acquire().await?;
    Ok(axum::Json(view(&state, &mut conn).await?))
}

/// `PUT /v1/work/csat`: change how the center asks; refused when it could not work (an unknown
/// queue, email questions without the server's public address).
pub async fn save_settings(
    State(state): State<AppState>,
    caller: crate::Caller,
    axum::Json(settings): axum::Json<CsatSettings>,
) -> Result<axum::Json<CsatView>, crate::AppError> {
    super::lead(&caller)?;
    let invalid = |message: String| crate::AppError::Invalid { message, detail: Value::Null };
    if settings.ask_by_email && state.csat.is_none() {
        return Err(invalid(
            "email customers cannot be asked: the server's config has no [csat] public_url for the links".into(),
        ));
    }
    let mut tx = state.pool.begin().await?;
    if let Some(queue) = &settings.manager_queue_id {
        let known: Option<String> =
            sqlx::query_scalar("SELECT id FROM queues WHERE id = $1").bind(queue).fetch_optional(&mut *tx).await?;
        if known.is_none() {
            return Err(invalid(format!("no queue has the id {queue:?}")));
        }
    }
    let before = self::settings(&mut tx, state.csat.as_deref()).await?;
    let email_since = match (before.ask_by_email, settings.ask_by_email) {
        (false, true) => Some(okno_core::unix_ms(std::time::SystemTime::now())),
        (true, true) => asking_by_email_since(&mut tx).await?,
        (_, false) => None,
    };
    let stored = serde_json::to_value(&settings).map_err(anyhow::Error::from)?;
    let mut kept = stored.clone();
    kept["email_since"] = json!(email_since);
    sqlx::query("UPDATE deployment SET csat_settings = $1").bind(&kept).execute(&mut *tx).await?;
    tx.commit().await?;
    crate::audit::record_or_log(
        &state.pool,
        crate::audit::Entry {
            action: crate::audit::Action::CsatSettingsChanged,
            actor: Some(&caller.id),
            subject: Some("csat"),
            address: None,
            client_at: None,
            detail: stored,
        },
    )
    .await;
    tracing::info!(by = %caller.name, ?settings, "satisfaction settings saved");
    let mut conn = state.pool.acquire().await?;
    Ok(axum::Json(view(&state, &mut conn).await?))
}

/// The deployment's signing key, made on first use.
pub(crate) async fn key(conn: &mut PgConnection) -> Result<Vec<u8>, sqlx::Error> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| sqlx::Error::Protocol(format!("no randomness: {e}")))?;
    sqlx::query("UPDATE deployment SET csat_key = $1 WHERE csat_key IS NULL")
        .bind(hex::encode(fresh))
        .execute(&mut *conn)
        .await?;
    let stored: String = sqlx::query_scalar("SELECT csat_key FROM deployment").fetch_one(&mut *conn).await?;
    hex::decode(stored).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn mac(key: &[u8], id: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// The link's last segment for request `id`.
pub fn token(key: &[u8], id: &str) -> String {
    format!("{id}.{}", mac(key, id))
}

/// The request id a link names, when its signature holds.
pub fn verify(key: &[u8], token: &str) -> Option<String> {
    let (id, given) = token.rsplit_once('.')?;
    let want = mac(key, id);
    // Compared in constant time: the link is the only secret between the customer and us.
    let same = want.len() == given.len() && want.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    same.then(|| id.to_owned())
}

/// Ask until the process ends: every few seconds, the resolved email tickets not asked yet.
pub fn start(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    // Without the public address there are no links to send, whatever the settings say.
    let config = state.csat.clone()?;
    let state = state.clone();
    Some(tokio::spawn(async move {
        loop {
            match ask_pending(&state, &config).await {
                Ok(0) => tokio::time::sleep(Duration::from_secs(2)).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot ask for satisfaction marks");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    }))
}

/// Queue the question for up to 50 tickets, when the center asks by email; returns how many.
pub async fn ask_pending(state: &AppState, config: &CsatConfig) -> Result<usize, sqlx::Error> {
    let now = okno_core::unix_ms(std::time::SystemTime::now());
    let mut conn = state.pool.acquire().await?;
    let settings = settings(&mut conn, Some(config)).await?;
    if !settings.ask_by_email {
        return Ok(0);
    }
    let since = asking_by_email_since(&mut conn).await?.unwrap_or(0).max(now - ASK_WITHIN);
    drop(conn);
    let due: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT t.id, t.number, t.queue_id FROM tickets t \
         WHERE t.channel = 'email' AND t.status IN ('resolved', 'closed') AND t.first_response_at IS NOT NULL \
           AND t.resolved_at > $1 AND NOT (t.tags ? 'spam') \
           AND NOT EXISTS (SELECT 1 FROM csat_requests r WHERE r.ticket_id = t.id) \
         ORDER BY t.resolved_at LIMIT 50",
    )
    .bind(since)
    .fetch_all(&state.pool)
    .await?;
    let mut asked = 0;
    for (ticket_id, number, queue_id) in due {
        let mut tx = state.pool.begin().await?;
        let id = new_id();
        let inserted = sqlx::query(
            "INSERT INTO csat_requests (id, ticket_id, channel, created_at, scale) VALUES ($1, $2, 'email', $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(&ticket_id)
        .bind(now)
        .bind(scale_name(settings.scale))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            continue;
        }
        let link = format!("{}/csat/{}", config.public_url, token(&key(&mut tx).await?, &id));
        let body = format!(
            "Оцените, пожалуйста, как мы ответили на ваше обращение №{number}:\n{link}\n\n\
             Please rate how we handled your request #{number}:\n{link}\n"
        );
        let mut email = okno_core::email::EmailView::pending_reply(&[]);
        email.kind = Some("csat".into());
        let message: Value = sqlx::query_scalar(
            "INSERT INTO messages (id, ticket_id, channel, direction, author_name, body, email, created_at) \
             VALUES ($1, $2, 'email', 'outbound', 'Okno', $3, $4, $5) RETURNING to_jsonb(messages.*)",
        )
        .bind(&id)
        .bind(&ticket_id)
        .bind(&body)
        .bind(serde_json::to_value(&email).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        crate::mail::outbox::enqueue(&mut tx, &id, now).await?;
        let change =
            NewChange { bucket: queue_bucket(&queue_id), entity: "message", id, op: Op::Upsert, data: message };
        let version = changelog::append_and_commit(tx, std::slice::from_ref(&change)).await?;
        state.live.committed(&[change], version);
        asked += 1;
    }
    if asked > 0 {
        state.outbox_wake.notify_one();
    }
    Ok(asked)
}

/// Store a mark on `ticket_id` (from a link or the widget); a bad one reopens the ticket for the
/// operations manager. Returns the changes for the desks.
pub async fn record(
    tx: &mut Transaction<'_, Postgres>,
    manager_queue: Option<&str>,
    ticket_id: &str,
    score: CsatScore,
    comment: &str,
    channel: &str,
    now: Millis,
) -> Result<Vec<NewChange>, sqlx::Error> {
    let comment: String = comment.trim().chars().take(MAX_COMMENT_CHARS).collect();
    let (old_queue, customer_id, tags): (String, String, Value) =
        sqlx::query_as("SELECT queue_id, customer_id, tags FROM tickets WHERE id = $1 FOR NO KEY UPDATE")
            .bind(ticket_id)
            .fetch_one(&mut **tx)
            .await?;
    crate::tickets::record_event(
        tx,
        &format!("{ticket_id}/csat/{now}"),
        now,
        EventKind::CsatReceived,
        ticket_id,
        &old_queue,
        json!({ "score": score.as_str(), "percent": score.percent(), "comment": comment, "channel": channel }),
    )
    .await?;
    let mut changes = Vec::new();
    let queue = if score.is_bad() { manager_queue.unwrap_or(&old_queue) } else { &old_queue };
    if score.is_bad() {
        let mut tags: Vec<String> = serde_json::from_value(tags).unwrap_or_default();
        tags.push("csat-bad".into());
        let tags = okno_core::normalize_tags(&tags).unwrap_or(tags);
        let preview: String = if comment.is_empty() {
            format!("CSAT: {}", score.as_str())
        } else {
            format!("CSAT {}: {comment}", score.as_str())
        };
        sqlx::query("UPDATE ticket_assignments SET released_at = $2 WHERE ticket_id = $1 AND released_at IS NULL")
            .bind(ticket_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "UPDATE tickets SET queue_id = $2, status = 'open', assignee_id = NULL, tags = $3, \
               preview = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(ticket_id)
        .bind(queue)
        .bind(json!(tags))
        .bind(preview.chars().take(140).collect::<String>())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        crate::tickets::record_event(
            tx,
            &format!("{ticket_id}/csat/{now}/reopened"),
            now,
            EventKind::TicketStatusChanged,
            ticket_id,
            queue,
            json!({ "to": "open", "reason": "csat_bad", "from_queue": old_queue }),
        )
        .await?;
    }
    let mut note = format!("The customer rated the contact: {}.", score.as_str());
    if !comment.is_empty() {
        note.push_str(&format!("\n«{comment}»"));
    }
    if score.is_bad() {
        note.push_str("\nReopened for the operations manager.");
    }
    let note_id = new_id();
    sqlx::query(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, body, created_at) \
         SELECT $1, $2, channel, 'internal', 'Okno', $3, $4 FROM tickets WHERE id = $2",
    )
    .bind(&note_id)
    .bind(ticket_id)
    .bind(&note)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let bucket = queue_bucket(queue);
    if queue != old_queue {
        // The desks of the old queue drop the ticket; those of the new one get all of it.
        changes.push(NewChange {
            bucket: queue_bucket(&old_queue),
            entity: "ticket",
            id: ticket_id.to_owned(),
            op: Op::Delete,
            data: Value::Null,
        });
        changes.push(NewChange {
            bucket: bucket.clone(),
            entity: "customer",
            id: customer_id.clone(),
            op: Op::Upsert,
            data: crate::admin::customer_row(tx, &customer_id).await?,
        });
        let messages: Vec<(String, Value)> = sqlx::query_as(
            "SELECT id, to_jsonb(m.*) FROM messages m WHERE ticket_id = $1 AND id <> $2 ORDER BY created_at, id",
        )
        .bind(ticket_id)
        .bind(&note_id)
        .fetch_all(&mut **tx)
        .await?;
        changes.extend(messages.into_iter().map(|(id, data)| NewChange {
            bucket: bucket.clone(),
            entity: "message",
            id,
            op: Op::Upsert,
            data,
        }));
    }
    let note_row: Value = sqlx::query_scalar("SELECT to_jsonb(m.*) FROM messages m WHERE id = $1")
        .bind(&note_id)
        .fetch_one(&mut **tx)
        .await?;
    changes.push(NewChange { bucket: bucket.clone(), entity: "message", id: note_id, op: Op::Upsert, data: note_row });
    // A desk stores messages only under a ticket it has: the ticket goes before them (after
    // the old queue's delete and the customer).
    let ticket = super::sla::refresh(tx, &[ticket_id.to_owned()]).await?;
    let at = changes.iter().position(|c| c.entity == "message").unwrap_or(changes.len());
    changes.splice(at..at, ticket);
    Ok(changes)
}

fn page(title: &str, inner: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>body{{font:16px system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d2433}}\
         button{{font-size:1rem;padding:.6rem 1.1rem;margin:.25rem .35rem .25rem 0;border-radius:8px;border:1px solid #b8c0cc;background:#fff;cursor:pointer}}\
         button:focus-visible{{outline:3px solid #2f6fed}}textarea{{width:100%;min-height:5rem;font:inherit;margin:.5rem 0}}\
         .en{{color:#5b6475}}</style></head><body>{inner}</body></html>"
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(html),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn label(score: CsatScore) -> &'static str {
    match score {
        CsatScore::Good => "Хорошо · Good",
        CsatScore::Normal => "Нормально · Okay",
        CsatScore::Bad => "Плохо · Bad",
        CsatScore::Stars1 => "★",
        CsatScore::Stars2 => "★★",
        CsatScore::Stars3 => "★★★",
        CsatScore::Stars4 => "★★★★",
        CsatScore::Stars5 => "★★★★★",
    }
}

/// What a link names: a question asked and not yet known to be answered.
struct Asked {
    id: String,
    ticket_id: String,
    number: i64,
    answered: bool,
    /// The scale the question was asked on.
    scale: CsatScale,
}

fn scale_name(scale: CsatScale) -> &'static str {
    match scale {
        CsatScale::Three => "three",
        CsatScale::Five => "five",
    }
}

/// The question a link names; `None` for a bad link.
async fn request(state: &AppState, token: &str) -> Result<Option<Asked>, crate::AppError> {
    let mut conn = state.pool.acquire().await?;
    let Some(id) = verify(&key(&mut conn).await?, token) else { return Ok(None) };
    let row: Option<(String, String, i64, bool, Option<String>)> = sqlx::query_as(
        "SELECT r.id, r.ticket_id, t.number, r.answered_at IS NOT NULL, r.scale FROM csat_requests r \
         JOIN tickets t ON t.id = r.ticket_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, ticket_id, number, answered, scale)) = row else { return Ok(None) };
    let scale = match scale.as_deref() {
        Some("five") => CsatScale::Five,
        Some(_) => CsatScale::Three,
        None => settings(&mut conn, state.csat.as_deref()).await?.scale,
    };
    Ok(Some(Asked { id, ticket_id, number, answered, scale }))
}

fn not_found() -> Response {
    let mut response = page("Okno", "<p>Ссылка недействительна.</p><p class=\"en\">This link is not valid.</p>");
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

fn thanks() -> Response {
    page("Спасибо · Thank you", "<h1>Спасибо за оценку!</h1><p class=\"en\">Thank you for your answer.</p>")
}

/// `GET /csat/{token}`: the question.
pub async fn form(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, crate::AppError> {
    if state.csat.is_none() {
        return Ok(not_found());
    }
    let Some(Asked { number, answered, scale, .. }) = request(&state, &token).await? else { return Ok(not_found()) };
    if answered {
        return Ok(thanks());
    }
    let buttons: String = CsatScore::choices(scale)
        .iter()
        .map(|s| {
            format!(
                "<button type=\"submit\" name=\"score\" value=\"{}\" data-score=\"{}\">{}</button>",
                s.as_str(),
                s.as_str(),
                label(*s)
            )
        })
        .collect();
    let inner = format!(
        "<h1>Как мы ответили на обращение №{number}?</h1><p class=\"en\">How did we handle request #{number}?</p>\
         <form method=\"post\" action=\"{}\"><label for=\"comment\">Комментарий · Comment</label>\
         <textarea id=\"comment\" name=\"comment\" maxlength=\"{MAX_COMMENT_CHARS}\"></textarea><div>{buttons}</div></form>",
        escape(&format!("/csat/{token}"))
    );
    Ok(page("Оценка · Rating", &inner))
}

/// `POST /csat/{token}` (a form: `score`, `comment`): the answer, once.
pub async fn answer(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, crate::AppError> {
    let Some(config) = state.csat.clone() else { return Ok(not_found()) };
    let form = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !form.starts_with("application/x-www-form-urlencoded") {
        return Err(crate::AppError::UnsupportedMediaType("a form (application/x-www-form-urlencoded)".into()));
    }
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let Some(Asked { id, ticket_id, scale, .. }) = request(&state, &token).await? else { return Ok(not_found()) };
    let score = CsatScore::parse(field("score"), scale).map_err(|e| crate::AppError::BadRequest(e.to_string()))?;
    let now = okno_core::unix_ms(std::time::SystemTime::now());
    let mut tx = state.pool.begin().await?;
    let settings = settings(&mut tx, Some(&config)).await?;
    let first = sqlx::query(
        "UPDATE csat_requests SET answered_at = $2, score = $3, comment = $4 WHERE id = $1 AND answered_at IS NULL",
    )
    .bind(&id)
    .bind(now)
    .bind(score.as_str())
    .bind(field("comment").chars().take(MAX_COMMENT_CHARS).collect::<String>())
    .execute(&mut *tx)
    .await?;
    if first.rows_affected() == 0 {
        return Ok(thanks());
    }
    let changes =
        record(&mut tx, settings.manager_queue_id.as_deref(), &ticket_id, score, field("comment"), "email", now)
            .await?;
    let version = changelog::append_and_commit(tx, &changes).await?;
    state.live.committed(&changes, version);
    tracing::info!(ticket = %ticket_id, score = score.as_str(), "satisfaction mark received");
    Ok(thanks())
}

/// Resolve `manager_queue` (an id or a name) to a queue id at start.
pub async fn resolve(pool: &sqlx::PgPool, config: &mut CsatConfig) -> anyhow::Result<()> {
    if let Some(queue) = &config.manager_queue {
        let id: Option<String> =
            sqlx::query_scalar("SELECT id FROM queues WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1")
                .bind(queue)
                .fetch_optional(pool)
                .await?;
        config.manager_queue =
            Some(id.ok_or_else(|| anyhow::anyhow!("csat.manager_queue: no queue has the id or name {queue:?}"))?);
    }
    Ok(())
}

/// The config a test or the binary hands to [`AppState`].
pub type Shared = Option<Arc<CsatConfig>>;

#[cfg(test)]
mod tests {
    #[test]
    fn a_link_is_accepted_only_as_signed() {
        let key = b"0123456789abcdef0123456789abcdef";
        let token = super::token(key, "0193-request");
        assert_eq!(super::verify(key, &token).as_deref(), Some("0193-request"));
        assert_eq!(super::verify(b"another key", &token), None);
        assert_eq!(super::verify(key, &token.replace("0193", "0194")), None, "another request's id");
        assert_eq!(super::verify(key, "0193-request"), None, "no signature");
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('0') { '1' } else { '0' });
        assert_eq!(super::verify(key, &tampered), None);
    }
}
