//! The desk's sync: one tokio task that signs in (and refreshes the token), runs
//! okno-sync-client's [`Driver`] over its HTTP transport and live socket (the same code
//! `okno-sim` puts under faults), and tells the window. The window sees a
//! [`SyncStatus`] (the "sync" event and the `sync_status` command).
//!
//! Without a `server_url` (the demo, a desk not provisioned) nothing runs and the status says
//! "local only". The refresh token lives in the OS keychain when there is one, otherwise only
//! in memory; the password only in the environment variable the provisioning file names.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use okno_core::{AgentState, Role};
use okno_store::Store;
use okno_store::sync::Rejection;
use okno_sync::{Change, Config as EngineConfig, Input, Request};
use okno_sync_client::{Driver, Exchange, HttpTransport, Link, ListenConfig, Live, listen};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use ts_rs::TS;

use crate::now_ms;
use crate::secrets::{SecretStore, refresh_key};

/// How the desk stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// No server configured: everything stays on this desk.
    LocalOnly,
    Offline,
    Connecting,
    Online,
}

/// The first sync of an empty desk: changelog versions received out of the server's head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct FirstSync {
    #[ts(type = "number")]
    pub version: u64,
    /// 0 while unknown (before the live socket's hello).
    #[ts(type = "number")]
    pub head: u64,
}

/// A local write the server refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct RejectionView {
    /// Which write (`reply_ticket`, `assign_ticket`, ...).
    pub mutation: String,
    /// The server's code (`already_claimed`, `forbidden`, ...): the UI branches on it.
    pub code: String,
    pub reason: String,
    #[ts(type = "number")]
    pub seq: u64,
    /// When the server refused it.
    #[ts(type = "number")]
    pub at: okno_core::Millis,
}

impl From<Rejection> for RejectionView {
    fn from(r: Rejection) -> Self {
        RejectionView { mutation: r.name, code: r.code, reason: r.reason, seq: r.seq, at: r.at }
    }
}

/// What the status bar shows about sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SyncStatus {
    pub connection: Connection,
    /// Local writes the server has not acknowledged yet.
    pub unsent: u32,
    pub first_sync: Option<FirstSync>,
    pub last_rejection: Option<RejectionView>,
    /// Why the desk is not online (cannot sign in, server unreachable), for a tooltip.
    pub problem: Option<String>,
    /// Goes up whenever sync changed local data (a pulled batch, a write rolled back): the
    /// window reloads what it shows.
    #[ts(type = "number")]
    pub revision: u64,
}

type Listener = Box<dyn Fn(&SyncStatus) + Send + Sync>;
/// Shows a desktop notification (summary, body): the window's side of "new work".
type Notifier = Box<dyn Fn(&str, &str) + Send + Sync>;

/// Told the ticket id of a website chat whose visitor is typing.
type TypingListener = Box<dyn Fn(&str) + Send + Sync>;

/// The window's view of the driver: the current status and who to tell when it changes.
pub struct SyncService {
    status: Mutex<SyncStatus>,
    listener: Mutex<Option<Listener>>,
    notifier: Mutex<Option<Notifier>>,
    typing: Mutex<Option<TypingListener>>,
    /// The server and the current access token, once the driver runs: for downloads.
    server: Mutex<Option<ServerAccess>>,
}

/// A server API call that failed: the HTTP status when the server answered, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCallError {
    pub status: Option<u16>,
    pub message: String,
}

/// What a download from the server needs; the token never leaves this module.
#[derive(Clone)]
struct ServerAccess {
    base: String,
    http: reqwest::Client,
    access: watch::Receiver<Option<String>>,
}

impl std::fmt::Debug for SyncService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncService").field("status", &self.status()).finish_non_exhaustive()
    }
}

impl SyncService {
    fn new(connection: Connection) -> Arc<Self> {
        Arc::new(SyncService {
            status: Mutex::new(SyncStatus {
                connection,
                unsent: 0,
                first_sync: None,
                last_rejection: None,
                problem: None,
                revision: 0,
            }),
            listener: Mutex::new(None),
            notifier: Mutex::new(None),
            typing: Mutex::new(None),
            server: Mutex::new(None),
        })
    }

    /// Put a file on the server to attach to a reply; answers how the reply names it.
    pub async fn upload_blob(
        &self,
        name: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> Result<okno_core::AttachmentRef, String> {
        let access = self.server.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(server) = access else {
            return Err("files go out through the server, and this desk is not connected to one".into());
        };
        let token = server.access.borrow().clone().ok_or("not signed in to the server yet")?;
        let mut url =
            reqwest::Url::parse(&format!("{}{}", server.base, okno_sync::UPLOAD_PATH)).map_err(|e| e.to_string())?;
        url.query_pairs_mut().append_pair("name", name);
        let response = server
            .http
            .post(url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, mime)
            .body(bytes)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        if !status.is_success() {
            let message =
                response.json::<serde_json::Value>().await.ok().and_then(|v| v["message"].as_str().map(str::to_owned));
            return Err(message.unwrap_or_else(|| format!("the server answered {status}")));
        }
        response.json().await.map_err(|e| format!("unreadable upload answer: {e}"))
    }

    /// An attachment's bytes from the server, by the hex SHA-256 the message names it by.
    pub async fn download_blob(&self, sha256: &str) -> Result<Vec<u8>, String> {
        let access = self.server.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(server) = access else {
            return Err("attachments download from the server, and this desk is not connected to one".into());
        };
        let token = server.access.borrow().clone().ok_or("not signed in to the server yet")?;
        let response = server
            .http
            .get(format!("{}{}", server.base, okno_sync::blob_path(sha256)))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("the server answered {}", response.status()));
        }
        Ok(response.bytes().await.map_err(|e| e.without_url().to_string())?.to_vec())
    }

    /// Tell the server the operator is typing in website chat `ticket_id` (its visitor sees it).
    /// Best effort: offline, it is simply not shown.
    pub async fn operator_typing(&self, ticket_id: &str) -> Result<(), String> {
        let access = self.server.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(server) = access else { return Ok(()) };
        let Some(token) = server.access.borrow().clone() else { return Ok(()) };
        let response = server
            .http
            .post(format!("{}{}", server.base, okno_sync::TYPING_PATH))
            .bearer_auth(token)
            .json(&serde_json::json!({ "ticket_id": ticket_id }))
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("the server answered {}", response.status()));
        }
        Ok(())
    }

    /// A call to the server's API as the signed-in operator (the work rules and templates,
    /// which live on the server only). `Err` carries the server's status (none when the server
    /// was not reached) and its message.
    pub async fn server_call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, ServerCallError> {
        let unreachable = |message: String| ServerCallError { status: None, message };
        let access = self.server.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(server) = access else {
            return Err(unreachable(
                "the center's rules live on the server, and this desk is not connected to one".into(),
            ));
        };
        let token =
            server.access.borrow().clone().ok_or_else(|| unreachable("not signed in to the server yet".into()))?;
        let mut request = server
            .http
            .request(method, format!("{}{path}", server.base))
            .bearer_auth(token)
            .timeout(std::time::Duration::from_secs(30));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| unreachable(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let message =
                response.json::<serde_json::Value>().await.ok().and_then(|v| v["message"].as_str().map(str::to_owned));
            return Err(ServerCallError {
                status: Some(status.as_u16()),
                message: message.unwrap_or_else(|| format!("the server answered {status}")),
            });
        }
        response.json().await.map_err(|e| unreachable(format!("unreadable answer from the server: {e}")))
    }

    pub fn status(&self) -> SyncStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Called with every changed status (the Tauri "sync" event).
    pub fn on_change(&self, f: impl Fn(&SyncStatus) + Send + Sync + 'static) {
        *self.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
        notify_listener(self);
    }

    /// Called to show a notification when the server assigns work to this operator.
    pub fn on_new_work(&self, f: impl Fn(&str, &str) + Send + Sync + 'static) {
        *self.notifier.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    /// Called with a chat's ticket id while its website visitor types (the Tauri
    /// "visitor-typing" event; the window shows it for a few seconds).
    pub fn on_visitor_typing(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        *self.typing.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    fn visitor_typing(&self, ticket_id: &str) {
        if let Some(tell) = self.typing.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            tell(ticket_id);
        }
    }

    /// New work for the operator: a chime on the default output and the window's notification.
    fn new_work(&self, summary: &str, body: &str) {
        crate::sounds::chime();
        if let Some(notify) = self.notifier.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            notify(summary, body);
        }
    }

    fn update(&self, change: impl FnOnce(&mut SyncStatus)) {
        let changed = {
            let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
            let before = status.clone();
            change(&mut status);
            *status != before
        };
        if changed {
            notify_listener(self);
        }
    }
}

fn notify_listener(service: &SyncService) {
    let status = service.status();
    if let Some(listener) = service.listener.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        listener(&status);
    }
}

/// Where and as whom to sync, from the provisioning file.
#[derive(Clone)]
struct ServerConfig {
    base: String,
    operator: String,
    password_env: Option<String>,
    /// The TLS trust for an `https://` server (public roots, plus the provisioned CA).
    tls: Arc<rustls::ClientConfig>,
}

/// An error with its causes ("error sending request: ...: invalid peer certificate:
/// UnknownIssuer"): the window's problem line must say why, not just that, a request failed.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}

fn server_config(provision: Option<&std::path::Path>) -> anyhow::Result<Option<ServerConfig>> {
    let Some(path) = provision else { return Ok(None) };
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let p = okno_softphone::provision::Provision::parse(&text).with_context(|| format!("in {}", path.display()))?;
    let (Some(url), Some(server)) = (p.server_url, p.server) else { return Ok(None) };
    let base = url.trim_end_matches('/').to_owned();
    if !base.starts_with("https://") && !base.starts_with("http://") {
        bail!("server_url {base:?}: give an https:// (or, on a trusted network, http://) address");
    }
    let ca = match &server.ca_file {
        Some(file) => {
            // Relative to the provisioning file, as an IT team ships the two side by side.
            let path = path.parent().unwrap_or(std::path::Path::new(".")).join(file);
            Some(std::fs::read(&path).with_context(|| format!("ca_file: cannot read {}", path.display()))?)
        }
        None => None,
    };
    let tls = okno_sync_client::tls_client(ca.as_deref()).context("ca_file")?;
    Ok(Some(ServerConfig { base, operator: server.operator, password_env: server.password_env, tls }))
}

/// Start syncing if the provisioning file names a server and an operator; otherwise the
/// returned service says "local only" forever. A demo desk never syncs: its generated data and
/// writes must not reach a real server.
pub fn start(
    store: Store,
    provision: Option<&std::path::Path>,
    demo: bool,
    secrets: Arc<dyn SecretStore>,
) -> Arc<SyncService> {
    let config = match server_config(provision) {
        Ok(Some(_)) if demo => {
            let problem = "a demo desk does not sync: start without --demo, on a new data directory, to use the server";
            tracing::warn!(problem, "sync is off");
            let service = SyncService::new(Connection::LocalOnly);
            service.update(|s| s.problem = Some(problem.to_owned()));
            return service;
        }
        Ok(Some(c)) => c,
        Ok(None) => return SyncService::new(Connection::LocalOnly),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "sync is off");
            let service = SyncService::new(Connection::LocalOnly);
            service.update(|s| s.problem = Some(format!("{e:#}")));
            return service;
        }
    };
    let service = SyncService::new(Connection::Connecting);
    tokio::spawn(run(service.clone(), store, config, secrets));
    service
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    operator: Operator,
}

#[derive(Debug, Deserialize)]
struct Operator {
    id: String,
    name: String,
    role: Role,
}

/// The sign-in state; tokens never reach a log line (no Debug).
struct Auth {
    config: ServerConfig,
    http: reqwest::Client,
    access: watch::Sender<Option<String>>,
    /// Kept here too, so a desk without a keychain stays signed in while it runs.
    refresh: Option<String>,
    /// Where the refresh token is kept across restarts (the OS keychain in the app).
    secrets: Arc<dyn SecretStore>,
}

enum AuthError {
    /// The server said no (wrong password, no such operator): retrying will not help soon.
    Refused(String),
    /// The server could not be reached.
    Network(String),
}

impl Auth {
    async fn sign_in(&mut self) -> Result<Operator, AuthError> {
        let (base, operator) = (self.config.base.clone(), self.config.operator.clone());
        if self.refresh.is_none() {
            let secrets = self.secrets.clone();
            self.refresh = keychain(move || secrets.get(&refresh_key(&base, &operator))).await.ok().flatten();
        }
        if let Some(refresh) = self.refresh.take() {
            let body = serde_json::json!({ "refresh_token": refresh });
            match self.token_request(okno_sync::REFRESH_PATH, &body).await {
                Ok(op) => return Ok(op),
                Err(AuthError::Network(e)) => {
                    self.refresh = Some(refresh);
                    return Err(AuthError::Network(e));
                }
                Err(AuthError::Refused(_)) => tracing::info!("refresh token refused; signing in with the password"),
            }
        }
        let Some(var) = &self.config.password_env else {
            return Err(AuthError::Refused("no password_env in the provisioning file's [server]".into()));
        };
        let Ok(password) = std::env::var(var) else {
            return Err(AuthError::Refused(format!("the environment variable {var} (the server password) is not set")));
        };
        // The desk's own clock goes into the server's audit log beside the server's.
        let body = serde_json::json!({ "name": self.config.operator, "password": password, "client_at": now_ms() });
        self.token_request(okno_sync::LOGIN_PATH, &body).await
    }

    async fn token_request(&mut self, path: &str, body: &serde_json::Value) -> Result<Operator, AuthError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.config.base))
            .json(body)
            .send()
            .await
            .map_err(|e| AuthError::Network(error_chain(&e.without_url())))?;
        let status = resp.status();
        if status.is_server_error() {
            return Err(AuthError::Network(format!("server error {status}")));
        }
        if !status.is_success() {
            let message =
                resp.json::<serde_json::Value>().await.ok().and_then(|v| v["message"].as_str().map(str::to_owned));
            return Err(AuthError::Refused(message.unwrap_or_else(|| status.to_string())));
        }
        let tokens: TokenResponse =
            resp.json().await.map_err(|e| AuthError::Network(format!("unreadable sign-in answer: {e}")))?;
        let (base, operator, refresh) =
            (self.config.base.clone(), self.config.operator.clone(), tokens.refresh_token.clone());
        let secrets = self.secrets.clone();
        if let Err(e) = keychain(move || secrets.set(&refresh_key(&base, &operator), &refresh)).await {
            tracing::info!(error = %e, "refresh token kept in memory only");
        }
        self.refresh = Some(tokens.refresh_token);
        self.access.send_replace(Some(tokens.access_token));
        Ok(tokens.operator)
    }

    fn access(&self) -> Option<String> {
        self.access.borrow().clone()
    }
}

/// Run a keychain call off the async threads (the Secret Service answers over D-Bus).
async fn keychain<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(format!("the keychain call failed: {e}")))
}

fn engine_config() -> EngineConfig {
    // The client id is the store's, set by the driver.
    let mut config = EngineConfig::new("");
    config.request_timeout = Duration::from_secs(20);
    // An operator waits for the desk to come back, not a minute of backoff after the server did.
    config.backoff_max = Duration::from_secs(5);
    config
}

async fn run(service: Arc<SyncService>, store: Store, config: ServerConfig, secrets: Arc<dyn SecretStore>) {
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .use_preconfigured_tls((*config.tls).clone())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client: sync is off");
            return;
        }
    };
    let (access_tx, access_rx) = watch::channel(None);
    *service.server.lock().unwrap_or_else(|e| e.into_inner()) =
        Some(ServerAccess { base: config.base.clone(), http: http.clone(), access: access_rx.clone() });
    let mut auth = Auth { config: config.clone(), http: http.clone(), access: access_tx, refresh: None, secrets };
    if let Ok(Some(r)) = store.last_rejection().await {
        service.update(|s| s.last_rejection = Some(r.into()));
    }
    let first = store.sync_cursor().await.unwrap_or(0) == 0;
    if first {
        service.update(|s| s.first_sync = Some(FirstSync { version: 0, head: 0 }));
    }
    let (live_tx, mut live_rx) = mpsc::channel(64);
    tokio::spawn(listen(config.base.clone(), Some(config.tls.clone()), access_rx, live_tx, ListenConfig::default()));

    // Sign in, retrying with backoff: the server may be down when the desk starts.
    let mut delay = Duration::from_millis(500);
    let operator_id = loop {
        match auth.sign_in().await {
            Ok(op) => {
                tracing::info!(operator = %op.id, "signed in to the server");
                match store.set_me(&op.id, &op.name, op.role).await {
                    // Another account than last time: the store started over for it.
                    Ok(Some(_)) => {
                        let rejection = store.last_rejection().await.ok().flatten();
                        service.update(|s| {
                            s.last_rejection = rejection.map(Into::into);
                            s.first_sync = Some(FirstSync { version: 0, head: 0 });
                            s.revision += 1;
                        });
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "cannot record the signed-in operator"),
                }
                break op.id;
            }
            Err(AuthError::Refused(why)) | Err(AuthError::Network(why)) => {
                tracing::warn!(problem = %why, "cannot sign in to the server");
                service.update(|s| {
                    s.connection = Connection::Offline;
                    s.problem = Some(why);
                });
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    };
    let mut driver = match Driver::new(store.clone(), &operator_id, engine_config()).await {
        Ok(driver) => driver,
        Err(e) => {
            tracing::error!(error = %e, "no client id: sync is off");
            return;
        }
    };
    let transport = HttpTransport::new(http, config.base.clone(), Duration::from_secs(20));
    let mut link = DeskLink { service, auth, transport, head: 0, work: Vec::new() };
    loop {
        let wake = driver.drain(&mut link).await;
        if let Ok(n) = store.unsent().await {
            link.service.update(|s| s.unsent = n as u32);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = store.outbox_written() => driver.feed_outbox().await,
            Some(event) = live_rx.recv() => match event {
                Live::Up { version } => {
                    link.head = link.head.max(version);
                    driver.server_up(version).await;
                }
                Live::Poke(version) => {
                    link.head = link.head.max(version);
                    driver.poke(version);
                }
                Live::Down => link.service.update(|s| s.connection = Connection::Offline),
                Live::VisitorTyping(ticket_id) => link.service.visitor_typing(&ticket_id),
            },
        }
    }
}

/// The desk's side of the driver: requests carry the access token and sign in again on a 401;
/// the window hears what changed and is told of new work.
struct DeskLink {
    service: Arc<SyncService>,
    auth: Auth,
    transport: HttpTransport,
    /// The changelog head as the live socket last announced it (the first sync's progress).
    head: u64,
    /// New work found in the batch being written, announced once it is.
    work: Vec<(&'static str, String)>,
}

impl Link for DeskLink {
    /// One request, with the access token; on 401 sign in again and retry once.
    async fn exchange(&mut self, request: &Request) -> Input {
        for attempt in 0..2 {
            let token = self.auth.access();
            match self.transport.send(request, token.as_deref()).await {
                Exchange::Answer(input) => {
                    let first_sync = match &input {
                        Input::PullResponse(pull) => {
                            Some(FirstSync { version: pull.cursor, head: self.head.max(pull.cursor) })
                        }
                        _ => None,
                    };
                    self.service.update(|s| {
                        s.connection = Connection::Online;
                        s.problem = None;
                        if let (Some(first), Some(progress)) = (&mut s.first_sync, first_sync) {
                            *first = progress;
                        }
                    });
                    return input;
                }
                Exchange::Unauthorized if attempt == 0 => match self.auth.sign_in().await {
                    Ok(_) => continue,
                    Err(AuthError::Refused(why)) | Err(AuthError::Network(why)) => {
                        self.offline(why);
                        return Input::NetworkError;
                    }
                },
                Exchange::Unauthorized => {
                    self.offline("the server refused the sign-in token".into());
                    return Input::NetworkError;
                }
                Exchange::Failed(why) => {
                    self.offline(why);
                    return Input::NetworkError;
                }
            }
        }
        Input::NetworkError
    }

    fn rejected(&mut self, _seq: u64, _code: &str, recorded: Option<Rejection>) {
        if let Some(rejection) = recorded {
            self.service.update(|s| {
                s.last_rejection = Some(rejection.into());
                s.revision += 1;
            });
        }
    }

    fn restored(&mut self, head: u64) {
        self.head = head;
    }

    async fn before_batch(&mut self, store: &Store, changes: &[Change]) {
        self.work = new_work_in(store, changes).await;
    }

    fn batch_applied(&mut self, applied: usize, _skipped: usize, _cursor: u64) {
        let work = std::mem::take(&mut self.work);
        let first_sync = self.service.status().first_sync.is_some();
        if !first_sync && let Some((heading, subject)) = work.first() {
            let more = work.len() - 1;
            let body = if more == 0 { subject.clone() } else { format!("{subject} (+{more})") };
            self.service.new_work(heading, &body);
        }
        self.service.update(|s| {
            s.first_sync = None;
            if applied > 0 {
                s.revision += 1;
            }
        });
    }
}

impl DeskLink {
    fn offline(&self, why: String) {
        tracing::debug!(problem = %why, "sync request failed");
        self.service.update(|s| {
            s.connection = Connection::Offline;
            s.problem = Some(why);
        });
    }
}

/// New work in a pulled batch, to announce: tickets someone else (a team lead) assigned to
/// this desk's operator that were not theirs here before, and chats from the website that
/// this desk has not seen (a visitor waits on the other side), a visitor's new message in
/// a chat the operator owns, and the server's notices (a colleague's @mention, news on a
/// followed ticket). Returns (heading, subject or text).
async fn new_work_in(store: &Store, changes: &[okno_sync::Change]) -> Vec<(&'static str, String)> {
    let Ok(me) = store.me().await else { return Vec::new() };
    let mut work = Vec::new();
    for c in changes.iter().filter(|c| c.entity == "ticket") {
        let subject = || c.data["subject"].as_str().unwrap_or_default().to_owned();
        let known = store.ticket_row(&c.id).await.ok();
        let was_mine = known.as_ref().is_some_and(|t| t.assignee_id.as_deref() == Some(&me.id));
        if c.data["assignee_id"] == me.id.as_str() && !was_mine {
            work.push(("Assigned to you / Назначено вам", subject()));
        } else if c.data["channel"] == "chat" && known.is_none() {
            work.push(("New chat / Новый чат", subject()));
        }
    }
    // A visitor wrote again in a chat this operator owns (a new chat is announced above).
    let recent = now_ms() - 5 * 60_000;
    for m in changes.iter().filter(|c| {
        c.entity == "message"
            && c.data["channel"] == "chat"
            && c.data["direction"] == "inbound"
            && c.data["created_at"].as_i64().is_some_and(|at| at > recent)
    }) {
        let Some(ticket_id) = m.data["ticket_id"].as_str() else { continue };
        let in_batch = changes.iter().find(|c| c.entity == "ticket" && c.id == ticket_id);
        let new_chat = in_batch.is_some() && store.ticket_row(ticket_id).await.is_err();
        let assignee = match in_batch {
            Some(t) => t.data["assignee_id"].as_str().map(str::to_owned),
            None => store.ticket_row(ticket_id).await.ok().and_then(|t| t.assignee_id),
        };
        if !new_chat && assignee.as_deref() == Some(me.id.as_str()) {
            let text: String = m.data["body"].as_str().unwrap_or_default().chars().take(80).collect();
            work.push(("New message / Новое сообщение", text));
        }
    }
    // The hotline set this operator aside after a call rang out at the desk: no queue calls
    // reach them until they say they are available again.
    let set_aside = changes
        .iter()
        .any(|c| c.entity == "operator" && c.id == me.id && c.data["state"] == AgentState::NotResponding.as_str());
    if set_aside && me.state != AgentState::NotResponding {
        work.push((
            "Not responding / Не отвечает",
            "A queue call rang out at your desk: set yourself Available to take calls again. / \
             Звонок из очереди не был принят: выберите «На линии», чтобы снова получать звонки."
                .to_owned(),
        ));
    }
    // Notices come in this account's own bucket: a mention, or news on a followed ticket.
    for n in changes.iter().filter(|c| c.entity == "notice" && c.data["for"] == me.id.as_str()) {
        if n.data["at"].as_i64().is_none_or(|at| at <= recent) {
            continue;
        }
        let heading = match n.data["kind"].as_str() {
            Some("mention") => "Mentioned you / Вас упомянули",
            Some("answer") => "A contractor answered / Ответ подрядчика",
            _ => "News on a ticket you follow / Новое в заявке",
        };
        let excerpt: String = n.data["excerpt"].as_str().unwrap_or_default().chars().take(80).collect();
        let by = n.data["by"].as_str().unwrap_or_default();
        work.push((heading, format!("#{} {by}: {excerpt}", n.data["number"])));
    }
    work
}

#[cfg(test)]
mod tests {
    use okno_sync::Op;
    use serde_json::json;

    use super::*;

    fn my_state(state: AgentState, version: u64) -> Change {
        Change {
            version,
            bucket: "user:anna".into(),
            entity: "operator".into(),
            id: "anna".into(),
            op: Op::Upsert,
            data: json!({"id": "anna", "name": "Anna", "role": "operator", "state": state, "state_since": 5}),
        }
    }

    #[tokio::test]
    async fn the_operator_is_told_once_when_the_hotline_sets_them_not_responding() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("desk.db")).await.unwrap();
        store.set_me("anna", "Anna", Role::Operator).await.unwrap();
        store.apply_server_changes(&[my_state(AgentState::Available, 1)], 1).await.unwrap();

        let set_aside = [my_state(AgentState::NotResponding, 2)];
        let work = new_work_in(&store, &set_aside).await;
        assert_eq!(work.len(), 1, "{work:?}");
        assert!(work[0].0.starts_with("Not responding"), "{work:?}");
        assert!(work[0].1.contains("Available"), "it says how to take calls again: {work:?}");

        // Written and pulled again (another instance's replay): no second notification.
        store.apply_server_changes(&set_aside, 2).await.unwrap();
        assert!(new_work_in(&store, &[my_state(AgentState::NotResponding, 3)]).await.is_empty());
        // Another operator's state is not this desk's news.
        let mut boris = my_state(AgentState::NotResponding, 4);
        boris.id = "boris".into();
        store.apply_server_changes(&[my_state(AgentState::Break, 4)], 4).await.unwrap();
        assert!(new_work_in(&store, &[boris]).await.is_empty());
    }
}
