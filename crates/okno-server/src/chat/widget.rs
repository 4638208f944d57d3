//! The widget's files: `GET /widget.js`, the one script a site embeds
//! (`<script src="https://okno.example/widget.js" data-channel="shop" async></script>`), and
//! `GET /widget/demo?channel=ID`, a page with nothing else on it to try a channel (and what the
//! browser tests open).
//!
//! The script is plain JavaScript with no framework and no build step (it is what the site's
//! visitors download on every page, so it stays small: docs/BENCHMARKS.md has its size).

use axum::extract::RawQuery;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

pub const WIDGET_JS: &str = include_str!("../../widget/widget.js");

pub(crate) async fn script() -> Response {
    let mut response = WIDGET_JS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

pub(crate) async fn demo(RawQuery(query): RawQuery) -> Html<String> {
    let param = |key: &str| {
        url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    // Only a channel id's characters reach the page: nothing to escape, nothing injected.
    let clean = |v: String| v.chars().filter(|c| c.is_ascii_alphanumeric() || "-_".contains(*c)).take(64).collect();
    let channel: String = param("channel").map(clean).unwrap_or_default();
    let lang: String = param("lang").map(clean).unwrap_or_default();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Okno chat: {channel}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body style=\"font-family: sans-serif; margin: 2rem\"><h1>A shop page</h1>\
         <p>The chat button is in the corner. This page embeds the widget as a site would:</p>\
         <pre>&lt;script src=\"/widget.js\" data-channel=\"{channel}\" async&gt;&lt;/script&gt;</pre>\
         <script src=\"/widget.js\" data-channel=\"{channel}\" data-lang=\"{lang}\" async></script></body></html>"
    ))
}
