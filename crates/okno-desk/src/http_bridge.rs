//! `--serve-http ADDR`: the same UI and the same commands over plain HTTP on loopback, with no
//! window. Used to run the UI in a browser against real data (UI work, and the benchmark that
//! compares Okno's memory with Chromium running the same UI). `POST /invoke/<command>` takes
//! the camelCase JSON arguments `invoke` would send; everything else is a file of the UI build.
//!
//! Loopback is not a wall: every web page the operator opens can send requests to it, and a
//! DNS-rebound name can even read the answers. So a command is run only when the request
//! - carries the run's token (`Authorization: Bearer ...`): random per run, or
//!   `OKNO_BRIDGE_TOKEN` from the environment, printed once in the URL's fragment, which the
//!   UI keeps in the tab and browsers never send on;
//! - names a loopback `Host` (a rebound `evil.example` is refused) and, when the browser sends
//!   an `Origin`, the bridge's own;
//! - is a `POST` of `application/json` (a form or `text/plain` post, which pages may send
//!   without asking, is refused) of at most [`MAX_BODY`] bytes.
//!
//! Release builds leave the bridge out unless built with the `http-bridge` feature.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::Desk;

/// The largest command body accepted (a reply with a file attached travels base64-encoded).
pub const MAX_BODY: usize = 32 * 1024 * 1024;
/// Where a run's token may be given instead of drawn at random (tests, scripts).
pub const TOKEN_ENV: &str = "OKNO_BRIDGE_TOKEN";

/// Why a request to run a command was refused, as the HTTP answer says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NotPost,
    BadHost,
    BadOrigin,
    NotJson,
    NoToken,
    TooLarge,
}

impl Refusal {
    fn status(self) -> u16 {
        match self {
            Refusal::NotPost => 405,
            Refusal::BadHost | Refusal::BadOrigin => 403,
            Refusal::NotJson => 415,
            Refusal::NoToken => 401,
            Refusal::TooLarge => 413,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::NotPost => "commands are POSTed",
            Refusal::BadHost => "the Host is not this machine's loopback address",
            Refusal::BadOrigin => "the request comes from another web page",
            Refusal::NotJson => "commands are application/json",
            Refusal::NoToken => "the bridge's token is missing or wrong",
            Refusal::TooLarge => "the request is too large",
        }
    }
}

/// What the checks look at, taken from the request.
struct Asked<'a> {
    post: bool,
    host: Option<&'a str>,
    origin: Option<&'a str>,
    content_type: Option<&'a str>,
    authorization: Option<&'a str>,
    length: Option<usize>,
}

/// The bridge's rules for running a command; `port` is the one it listens on.
fn check(asked: &Asked<'_>, port: u16, token: &str) -> Result<(), Refusal> {
    if !asked.post {
        return Err(Refusal::NotPost);
    }
    let host = asked.host.ok_or(Refusal::BadHost)?;
    let allowed = [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
        return Err(Refusal::BadHost);
    }
    if let Some(origin) = asked.origin
        && !origin.eq_ignore_ascii_case(&format!("http://{host}"))
    {
        return Err(Refusal::BadOrigin);
    }
    let json = asked.content_type.and_then(|c| c.split(';').next()).map(str::trim);
    if !json.is_some_and(|c| c.eq_ignore_ascii_case("application/json")) {
        return Err(Refusal::NotJson);
    }
    let given = asked.authorization.and_then(|a| a.strip_prefix("Bearer ")).unwrap_or_default();
    if !same_secret(given.as_bytes(), token.as_bytes()) {
        return Err(Refusal::NoToken);
    }
    if asked.length.is_some_and(|n| n > MAX_BODY) {
        return Err(Refusal::TooLarge);
    }
    Ok(())
}

/// Compares in time that does not depend on where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The run's token: from [`TOKEN_ENV`] (at least 16 characters) or 32 random bytes in hex.
pub fn run_token() -> anyhow::Result<String> {
    if let Ok(given) = std::env::var(TOKEN_ENV) {
        if given.len() < 16 || !given.bytes().all(|c| c.is_ascii_graphic()) {
            bail!("{TOKEN_ENV} must be at least 16 printable characters");
        }
        return Ok(given);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random source for the bridge's token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Serve until the process ends; commands run on `runtime` (the desk's services live there).
pub fn serve(addr: SocketAddr, desk: Desk, ui_dir: PathBuf, runtime: &tokio::runtime::Handle) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("--serve-http only listens on a loopback address (127.0.0.1 or [::1]), not {addr}");
    }
    let token = run_token()?;
    let server = tiny_http::Server::http(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let port = server.server_addr().to_ip().map_or(addr.port(), |a| a.port());
    let desk = Arc::new(desk);
    if std::env::var_os(TOKEN_ENV).is_some() {
        println!("okno-desktop: serving the UI on http://{addr}/?backend=http#token=(from {TOKEN_ENV})");
    } else {
        println!("okno-desktop: serving the UI on http://{addr}/?backend=http#token={token}");
    }
    for mut request in server.incoming_requests() {
        let url = request.url().split('?').next().unwrap_or("/").to_owned();
        let response = if let Some(command) = url.strip_prefix("/invoke/") {
            let field = |name: &'static str| {
                request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_owned())
            };
            let (host, origin, content_type, authorization) =
                (field("Host"), field("Origin"), field("Content-Type"), field("Authorization"));
            let asked = Asked {
                post: *request.method() == tiny_http::Method::Post,
                host: host.as_deref(),
                origin: origin.as_deref(),
                content_type: content_type.as_deref(),
                authorization: authorization.as_deref(),
                length: request.body_length(),
            };
            match check(&asked, port, &token) {
                Err(refused) => {
                    tracing::warn!(command, ?refused, origin = origin.as_deref(), "the HTTP bridge refused a command");
                    refusal(refused)
                }
                Ok(()) => {
                    let mut body = Vec::new();
                    let read = request.as_reader().take(MAX_BODY as u64 + 1).read_to_end(&mut body);
                    if read.is_err() {
                        refusal(Refusal::NotJson)
                    } else if body.len() > MAX_BODY {
                        refusal(Refusal::TooLarge)
                    } else {
                        let args: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let result = runtime.block_on(desk.dispatch(command, &args));
                        let (status, json) = match result {
                            Ok(v) => (200, v),
                            Err(e) => (400, serde_json::to_value(e).unwrap_or(Value::Null)),
                        };
                        json_response(status, &json)
                    }
                }
            }
        } else {
            match static_file(&ui_dir, &url) {
                Some((bytes, mime)) => tiny_http::Response::from_data(bytes).with_header(header("Content-Type", mime)),
                None => tiny_http::Response::from_string("not found").with_status_code(404),
            }
        };
        let _ = request.respond(response);
    }
    Ok(())
}

fn json_response(status: u16, json: &Value) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    tiny_http::Response::from_string(json.to_string())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
}

fn refusal(refused: Refusal) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    json_response(refused.status(), &serde_json::json!({ "code": "refused", "message": refused.message() }))
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header names and values are valid")
}

/// A file under the UI build, never outside it.
fn static_file(root: &Path, url: &str) -> Option<(Vec<u8>, &'static str)> {
    let relative = if url == "/" { "index.html" } else { url.trim_start_matches('/') };
    let path = Path::new(relative);
    if path.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let bytes = std::fs::read(root.join(path)).ok()?;
    let mime = match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    };
    Some((bytes, mime))
}

/// The UI build next to the sources (`ui/dist`), for running from a checkout.
pub fn default_ui_dir() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist");
    dir.canonicalize().with_context(|| format!("no UI build at {}: run `npm run build` in ui/", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123";

    fn good() -> Asked<'static> {
        Asked {
            post: true,
            host: Some("127.0.0.1:8765"),
            origin: Some("http://127.0.0.1:8765"),
            content_type: Some("application/json"),
            authorization: Some("Bearer 0123456789abcdef0123"),
            length: Some(20),
        }
    }

    #[test]
    fn the_windows_own_requests_pass() {
        assert_eq!(check(&good(), 8765, TOKEN), Ok(()));
        // Not every client sends an Origin (curl, the tests' HTTP client).
        assert_eq!(check(&Asked { origin: None, host: Some("localhost:8765"), ..good() }, 8765, TOKEN), Ok(()));
        let charset = Asked { content_type: Some("application/json; charset=utf-8"), ..good() };
        assert_eq!(check(&charset, 8765, TOKEN), Ok(()));
    }

    #[test]
    fn what_another_page_or_program_could_send_is_refused() {
        let cases = [
            (Asked { post: false, ..good() }, Refusal::NotPost),
            (
                Asked { host: Some("evil.example:8765"), origin: Some("http://evil.example:8765"), ..good() },
                Refusal::BadHost,
            ),
            (Asked { host: None, ..good() }, Refusal::BadHost),
            (Asked { host: Some("127.0.0.1:9999"), ..good() }, Refusal::BadHost),
            (Asked { origin: Some("https://shop.example"), ..good() }, Refusal::BadOrigin),
            (Asked { origin: Some("null"), ..good() }, Refusal::BadOrigin),
            (Asked { content_type: Some("text/plain"), ..good() }, Refusal::NotJson),
            (Asked { content_type: None, ..good() }, Refusal::NotJson),
            (Asked { authorization: None, ..good() }, Refusal::NoToken),
            (Asked { authorization: Some("Bearer 0123456789abcdef012"), ..good() }, Refusal::NoToken),
            (Asked { authorization: Some("0123456789abcdef0123"), ..good() }, Refusal::NoToken),
            (Asked { length: Some(MAX_BODY + 1), ..good() }, Refusal::TooLarge),
        ];
        for (asked, refused) in cases {
            assert_eq!(check(&asked, 8765, TOKEN), Err(refused), "host {:?} origin {:?}", asked.host, asked.origin);
        }
    }

    #[test]
    fn paths_outside_the_ui_build_are_refused() {
        let root = std::env::temp_dir();
        assert!(static_file(&root, "/../etc/passwd").is_none());
        assert!(static_file(&root, "/assets/../../x").is_none());
    }
}
