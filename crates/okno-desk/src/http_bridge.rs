//! `--serve-http ADDR`: the same UI and the same commands over plain HTTP on loopback, with no
//! window. Used to run the UI in a browser against real data (UI work, and the benchmark that
//! compares Okno's memory with Chromium running the same UI). `POST /invoke/<command>` takes
//! the camelCase JSON arguments `invoke` would send; everything else is a file of the UI build.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::Desk;

/// Serve until the process ends; commands run on `runtime` (the desk's services live there).
pub fn serve(addr: SocketAddr, desk: Desk, ui_dir: PathBuf, runtime: &tokio::runtime::Handle) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("--serve-http only listens on a loopback address (127.0.0.1 or [::1]), not {addr}");
    }
    let server = tiny_http::Server::http(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let desk = Arc::new(desk);
    println!("okno-desktop: serving the UI on http://{addr}/?backend=http");
    for mut request in server.incoming_requests() {
        let url = request.url().split('?').next().unwrap_or("/").to_owned();
        let response = if let Some(command) = url.strip_prefix("/invoke/") {
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            let args: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let result = runtime.block_on(desk.dispatch(command, &args));
            let (status, json) = match result {
                Ok(v) => (200, v),
                Err(e) => (400, serde_json::to_value(e).unwrap_or(Value::Null)),
            };
            tiny_http::Response::from_string(json.to_string())
                .with_status_code(status)
                .with_header(header("Content-Type", "application/json"))
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

    #[test]
    fn paths_outside_the_ui_build_are_refused() {
        let root = std::env::temp_dir();
        assert!(static_file(&root, "/../etc/passwd").is_none());
        assert!(static_file(&root, "/assets/../../x").is_none());
    }
}
