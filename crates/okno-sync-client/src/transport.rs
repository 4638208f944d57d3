//! The wire under the sync engine: one push or pull as an HTTP request with the access token,
//! and the live WebSocket whose pokes tell the engine to pull.
//!
//! Failures are values, never panics or hangs: a request that times out, a refused token, an
//! answer that is not the protocol's JSON each come back as an [`Exchange`] the caller maps to
//! the engine's input (a network error makes the engine back off and retry).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use okno_sync::{Input, LIVE_PATH, LiveEvent, PullResponse, PushResponse, Request};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How one request ended.
#[derive(Debug)]
pub enum Exchange {
    /// The server's answer, as the engine's input.
    Answer(Input),
    /// 401: the access token is no longer good; sign in again and retry.
    Unauthorized,
    /// Not reached, not answered in time, an error status, or an unreadable answer; why.
    Failed(String),
}

impl Exchange {
    /// What the engine is told: its answer, or a network error for anything else.
    pub fn into_input(self) -> Input {
        match self {
            Exchange::Answer(input) => input,
            Exchange::Unauthorized | Exchange::Failed(_) => Input::NetworkError,
        }
    }
}

/// Push and pull over HTTP(S) to one server.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
}

impl HttpTransport {
    /// `base` is the server's address without a trailing slash (`https://okno.example:8443`);
    /// `timeout` bounds each request, answer included.
    pub fn new(http: reqwest::Client, base: impl Into<String>, timeout: Duration) -> HttpTransport {
        HttpTransport { http, base: base.into().trim_end_matches('/').to_owned(), timeout }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Send one request as the holder of `token`.
    pub async fn send(&self, request: &Request, token: Option<&str>) -> Exchange {
        let (path, body) = request.path_and_body();
        let Ok(body) = body else { return Exchange::Failed("unencodable request".into()) };
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = match req.timeout(self.timeout).send().await {
            Ok(r) => r,
            Err(e) => return Exchange::Failed(e.without_url().to_string()),
        };
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Exchange::Unauthorized;
        }
        if !resp.status().is_success() {
            tracing::warn!(status = %resp.status(), path, "sync request failed");
            return Exchange::Failed(resp.status().to_string());
        }
        let Ok(bytes) = resp.bytes().await else { return Exchange::Failed("connection closed".into()) };
        match decode(request, &bytes) {
            Ok(input) => Exchange::Answer(input),
            Err(e) => Exchange::Failed(format!("unreadable answer: {e}")),
        }
    }
}

/// The server's answer to `request`, as the engine's input.
pub fn decode(request: &Request, bytes: &[u8]) -> Result<Input, serde_json::Error> {
    match request {
        Request::Push(_) => serde_json::from_slice::<PushResponse>(bytes).map(Input::PushResponse),
        Request::Pull(_) => serde_json::from_slice::<PullResponse>(bytes).map(Input::PullResponse),
    }
}

/// What the live socket reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// Connected; the server's changelog head.
    Up { version: u64 },
    /// The changelog moved on to `version`: pull.
    Poke(u64),
    /// The socket closed after it had been up.
    Down,
    /// A website visitor types in this chat ticket.
    VisitorTyping(String),
}

/// How the live socket reconnects.
#[derive(Debug, Clone, Copy)]
pub struct ListenConfig {
    /// The first wait after a failure; doubles per failure up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig { min_backoff: Duration::from_millis(250), max_backoff: Duration::from_secs(5) }
    }
}

/// Keep a live socket to `base` open while `access` holds a token, forwarding its events;
/// reconnect after any failure with backoff. Ends when `events` is closed. `tls` is the trust
/// for a `wss://` server (plain `ws://` needs none).
pub async fn listen(
    base: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    mut access: watch::Receiver<Option<String>>,
    events: mpsc::Sender<Live>,
    config: ListenConfig,
) {
    let url = format!("{}{LIVE_PATH}", base.replacen("http", "ws", 1));
    let mut delay = config.min_backoff;
    loop {
        let token = access.borrow_and_update().clone();
        let Some(token) = token else {
            // Not signed in yet.
            if access.changed().await.is_err() {
                return;
            }
            continue;
        };
        let mut connected = false;
        if let Ok(mut req) = url.as_str().into_client_request()
            && let Ok(auth) = format!("Bearer {token}").parse()
        {
            req.headers_mut().insert("authorization", auth);
            let connector = tls.clone().map(tokio_tungstenite::Connector::Rustls);
            if let Ok((mut socket, _)) =
                tokio_tungstenite::connect_async_tls_with_config(req, None, false, connector).await
            {
                while let Some(Ok(msg)) = socket.next().await {
                    let Message::Text(text) = msg else { continue };
                    let Ok(event) = serde_json::from_str::<LiveEvent>(&text) else { continue };
                    let event = match event {
                        LiveEvent::Hello { version } => {
                            connected = true;
                            delay = config.min_backoff;
                            Live::Up { version }
                        }
                        LiveEvent::VisitorTyping { ticket_id, .. } => Live::VisitorTyping(ticket_id),
                        other => match other.poke_version() {
                            Some(v) => Live::Poke(v),
                            None => continue,
                        },
                    };
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
            }
        }
        if connected && events.send(Live::Down).await.is_err() {
            return;
        }
        if events.is_closed() {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(config.max_backoff);
    }
}
