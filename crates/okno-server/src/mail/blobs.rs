//! `GET /v1/blobs/{sha256}`: an attachment or inline image, for an account that may see a
//! message carrying it (the same queue grants that decide what it pulls). Served as a download
//! (`Content-Disposition: attachment`, `nosniff`): a file from a stranger never renders as a
//! page in the desk's origin.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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
