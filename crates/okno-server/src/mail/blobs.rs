//! `GET /v1/blobs/{sha256}`: an attachment or inline image, for an account that may see a
//! message carrying it (the same queue grants that decide what it pulls). Served as a download
//! (`Content-Disposition: attachment`, `nosniff`): a file from a stranger never renders as a
//! page in the desk's origin.
//!
//! `POST /v1/blobs?name=NAME`: a file an operator attaches to a reply, stored by content (the
//! same file twice is one row) up to the mail config's attachment limit; contractors may not.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use okno_core::{AttachmentRef, Role};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;

pub(crate) async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Response, AppError> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::BadRequest("a blob is named by the hex SHA-256 of its content".into()));
    }
    let sha256 = sha256.to_ascii_lowercase();
    let described: Option<Value> = sqlx::query_scalar(
        "SELECT a FROM messages m JOIN tickets t ON t.id = m.ticket_id, jsonb_array_elements(m.attachments) a \
         WHERE m.attachments @> $1 AND a->>'sha256' = $2 AND ($3 OR EXISTS \
           (SELECT 1 FROM operator_queues g WHERE g.operator_id = $4 AND g.queue_id = t.queue_id)) LIMIT 1",
    )
    .bind(json!([{ "sha256": sha256 }]))
    .bind(&sha256)
    .bind(caller.sees_all_queues())
    .bind(&caller.id)
    .fetch_optional(&state.pool)
    .await?;
    // Not found and not allowed look the same: a hash is not proof of anything.
    let described =
        described.ok_or_else(|| AppError::Forbidden("no attachment with this name that you may see".into()))?;
    let data: Vec<u8> =
        sqlx::query_scalar("SELECT data FROM blobs WHERE sha256 = $1").bind(&sha256).fetch_one(&state.pool).await?;
    let mime = described.get("mime").and_then(Value::as_str).unwrap_or("application/octet-stream");
    let name = described.get("name").and_then(Value::as_str).unwrap_or("attachment");
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' }).collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", percent_encode(name));
    let mut response = data.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(crate) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<AttachmentRef>, AppError> {
    if caller.role == Role::Contractor {
        return Err(AppError::Forbidden("contractors do not send files from the center".into()));
    }
    if body.is_empty() {
        return Err(AppError::BadRequest("the file is empty".into()));
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|m| m.contains('/') && m.len() <= 200)
        .unwrap_or("application/octet-stream")
        .to_owned();
    let attachment = store(&state.pool, query.as_deref(), mime, &body).await?;
    tracing::info!(operator = %caller.id, sha256 = %attachment.sha256, size = attachment.size, "file uploaded for a reply");
    Ok(axum::Json(attachment))
}

/// Store an uploaded file by content, named by the request's `?name=` (checked as a reply's
/// attachment is); answers how a message names it.
pub(crate) async fn store(
    pool: &sqlx::PgPool,
    query: Option<&str>,
    mime: String,
    body: &[u8],
) -> Result<AttachmentRef, AppError> {
    let name = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "name")
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    let attachment = AttachmentRef { name, mime, size: body.len() as u64, sha256: hex::encode(Sha256::digest(body)) };
    okno_core::reply_attachments(std::slice::from_ref(&attachment)).map_err(|e| AppError::BadRequest(e.to_string()))?;
    sqlx::query("INSERT INTO blobs (sha256, size, data, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(&attachment.sha256)
        .bind(body.len() as i64)
        .bind(body)
        .bind(okno_core::unix_ms(std::time::SystemTime::now()))
        .execute(pool)
        .await?;
    Ok(attachment)
}
