//! A visitor's files: `POST /v1/widget/{channel}/files?name=NAME` (the body is the file, its
//! type in `Content-Type`) and `GET /v1/widget/{channel}/files/{sha256}`, both with the visitor's
//! token in `X-Okno-Visitor`. The widget runs on the shop's pages, another origin than this
//! server, so these answer CORS preflights for the channel's allowed origins.
//!
//! Refused before anything is stored: a type outside `attachment_types` (415), a file over
//! `max_attachment_mb` (413, by the body limit on the route), an unknown token (401). A file
//! whose first bytes contradict its declared picture type is refused too: the desk shows
//! pictures inline, so an HTML page labelled `image/png` must not get that far.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::socket::allowed_channel;
use super::store;
use crate::AppState;
use crate::error::AppError;

pub const TOKEN_HEADER: &str = "x-okno-visitor";

/// CORS headers for a response to the widget on `headers`' Origin (already checked).
fn cors(headers: &HeaderMap, response: &mut Response) {
    let origin = headers.get(header::ORIGIN).cloned().unwrap_or(HeaderValue::from_static("*"));
    let out = response.headers_mut();
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    out.insert(header::VARY, HeaderValue::from_static("Origin"));
}

pub(crate) async fn preflight(
    State(state): State<AppState>,
    Path(path): Path<Vec<String>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let channel = path.first().map(String::as_str).unwrap_or_default();
    allowed_channel(&state, channel, &headers)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    cors(&headers, &mut response);
    let out = response.headers_mut();
    out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
    out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type, x-okno-visitor"));
    out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    Ok(response)
}

async fn visitor(state: &AppState, channel: &str, headers: &HeaderMap) -> Result<store::Visitor, AppError> {
    let token = headers.get(TOKEN_HEADER).and_then(|t| t.to_str().ok()).unwrap_or_default();
    if token.len() != 64 {
        return Err(AppError::Unauthorized);
    }
    let now = okno_core::unix_ms(std::time::SystemTime::now());
    store::find_visitor(&state.pool, channel, token, None, now).await?.ok_or(AppError::Unauthorized)
}

pub(crate) async fn upload(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let channel = allowed_channel(&state, &channel, &headers)?.id.clone();
    let visitor = visitor(&state, &channel, &headers).await?;
    if body.is_empty() {
        return Err(AppError::BadRequest("the file is empty".into()));
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|m| m.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default();
    let limits = &state.chat.config.limits;
    if !limits.attachment_types.contains(&mime) {
        return Err(AppError::UnsupportedMediaType(format!(
            "files of type {mime:?} are not accepted here; accepted: {}",
            limits.attachment_types.join(", ")
        )));
    }
    if !content_matches(&mime, &body) {
        return Err(AppError::UnsupportedMediaType(format!("the file is not a {mime} file")));
    }
    let attachment = crate::mail::blobs::store(&state.pool, query.as_deref(), mime, &body).await?;
    store::record_upload(&state.pool, &visitor.id, &attachment.sha256).await?;
    tracing::info!(visitor = %visitor.id, sha256 = %attachment.sha256, size = attachment.size, "visitor uploaded a file");
    let mut response = axum::Json(attachment).into_response();
    cors(&headers, &mut response);
    Ok(response)
}

/// Pictures must start like pictures; other allowed types are served as downloads only.
fn content_matches(mime: &str, body: &[u8]) -> bool {
    match mime {
        "image/png" => body.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => body.starts_with(b"\xff\xd8\xff"),
        "image/gif" => body.starts_with(b"GIF87a") || body.starts_with(b"GIF89a"),
        "image/webp" => body.len() > 12 && body.starts_with(b"RIFF") && &body[8..12] == b"WEBP",
        "application/pdf" => body.starts_with(b"%PDF-"),
        _ => true,
    }
}

pub(crate) async fn download(
    State(state): State<AppState>,
    Path((channel, sha256)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let channel = allowed_channel(&state, &channel, &headers)?.id.clone();
    let visitor = visitor(&state, &channel, &headers).await?;
    let sha256 = sha256.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::BadRequest("a file is named by the hex SHA-256 of its content".into()));
    }
    let (described, data) = store::visitor_file(&state.pool, &visitor.id, &sha256)
        .await?
        .ok_or_else(|| AppError::Forbidden("no file with this name in your chats".into()))?;
    let mime = described.get("mime").and_then(Value::as_str).unwrap_or("application/octet-stream");
    let mut response = data.into_response();
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    cors(&headers, &mut response);
    Ok(response)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_page_labelled_as_a_picture_is_not_a_picture() {
        assert!(super::content_matches("image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
        assert!(!super::content_matches("image/png", b"<html><script>alert(1)</script>"));
        assert!(!super::content_matches("application/pdf", b"MZ\x90\0"));
        assert!(super::content_matches("text/plain", b"any text"));
    }
}
