//! The central server (ARCHITECTURE.md, "Data flow", steps 3-5): sign-in, authoritative
//! mutations on PostgreSQL, the changelog that desktops pull, and the live pokes that tell them
//! when to pull ([`live`]: WebSocket here, NATS between instances).
//!
//! [`app`] builds the whole HTTP API as an axum `Router` over an [`AppState`]; tests drive it
//! with `tower::ServiceExt::oneshot`, the binary serves it on a socket.
//!
//! Invariant: every committed change to a synced row is in `changelog` with a version, and
//! versions become visible in commit order (see [`changelog::append_and_commit`]).
//! Invariant: a contractor's pull never contains a clear phone number or email address.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod changelog;
pub mod chat;
pub mod config_file;
pub mod error;
pub mod hotline;
pub mod live;
pub mod login_limits;
pub mod mail;
pub mod metrics;
pub mod migrate;
pub mod pull;
pub mod push;
pub mod redact;
pub mod seed;
pub mod tickets;
pub mod tls;
pub mod wallboard;
pub mod work;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub use auth::Caller;
pub use error::AppError;
pub use live::Live;
pub use login_limits::{LoginLimiter, LoginLimits};
pub use metrics::Metrics;

/// Typed configuration, built once (from flags and environment) and passed in.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// Connections in the pool; each in-flight mutation holds one for its transaction.
    pub max_connections: u32,
    /// Failed sign-ins per name, per address and overall before 429.
    pub login_limits: LoginLimits,
    /// NATS for the fan-out between instances (`NATS_URL`); `None` runs a lone instance.
    pub nats_url: Option<String>,
    /// Events queued per WebSocket before the socket is dropped as too slow.
    pub live_queue: usize,
    /// Mailboxes to take mail from and send replies through (`--config`).
    pub mail: mail::config::MailConfig,
    /// The website's chat channels and their limits (`--config`).
    pub chat: chat::config::ChatConfig,
    /// Calls from the website (`[calls]` in `--config`): the gateway is started with the server.
    pub calls: Option<okno_gateway::GatewayConfig>,
    /// HTTPS and WSS on the listener ([`tls`]); plain HTTP when `None`.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// Satisfaction marks (`[csat]` in `--config`).
    pub csat: Option<work::csat::CsatConfig>,
    /// The call queue behind the center's number (`[hotline]` in `--config`).
    pub hotline: Option<hotline::HotlineSettings>,
}

impl Config {
    pub fn new(database_url: impl Into<String>) -> Self {
        Config {
            database_url: database_url.into(),
            max_connections: 16,
            login_limits: LoginLimits::default(),
            nats_url: None,
            live_queue: 256,
            mail: mail::config::MailConfig::default(),
            chat: chat::config::ChatConfig::default(),
            calls: None,
            tls: None,
            csat: None,
            hotline: None,
        }
    }
}

/// Shared by every request; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<LoginLimiter>,
    /// Argon2 password checks running at once (one per core).
    pub argon2: Arc<tokio::sync::Semaphore>,
    pub live: Arc<Live>,
    /// Woken when a push queued an email reply, so the outbox sends it now, not at its next poll.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// The largest file a desk may upload to attach to a reply (the mail config's limit).
    pub max_upload_bytes: usize,
    /// The website's chat channels (queues resolved by [`AppState::connect`]).
    pub chat: Arc<chat::Chat>,
    /// The WebRTC gateway for calls from the website, when configured.
    pub gateway: Option<Arc<okno_gateway::Gateway>>,
    /// The center's own email addresses (every mailbox [`mail::start`] runs, lowercased): rules
    /// may not forward there.
    pub own_addresses: Arc<std::sync::RwLock<Vec<String>>>,
    /// The compiled routing rules of this instance.
    pub rules: Arc<work::apply::RuleCache>,
    /// Satisfaction marks, when the center asks for them (its manager queue resolved to an id).
    pub csat: work::csat::Shared,
    /// The call queue, when this instance runs it, and the queues it serves.
    pub hotline: Option<(okno_hotline::Hotline, Arc<Vec<String>>)>,
    /// Where a team lead's command for a hotline call goes when this instance does not have
    /// the call (with NATS and a hotline).
    pub hotline_bus: Option<hotline::CommandBus>,
}

impl AppState {
    /// The center's own addresses now.
    pub fn own_addresses(&self) -> Vec<String> {
        self.own_addresses.read().map(|a| a.clone()).unwrap_or_default()
    }

    /// The state of a lone instance (no NATS); [`AppState::connect`] also joins the bus.
    pub fn new(pool: PgPool, config: &Config) -> Self {
        let metrics = Arc::new(Metrics::default());
        AppState {
            pool,
            live: Arc::new(Live::new(config.live_queue, metrics.clone())),
            metrics,
            limiter: Arc::new(LoginLimiter::new(config.login_limits)),
            argon2: Arc::new(tokio::sync::Semaphore::new(auth::argon2_slots())),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            max_upload_bytes: config.mail.max_attachment_bytes,
            chat: Arc::new(chat::Chat::new(config.chat.clone())),
            gateway: None,
            own_addresses: Arc::default(),
            rules: Arc::new(work::apply::RuleCache::default()),
            csat: config.csat.clone().map(Arc::new),
            hotline: None,
            hotline_bus: None,
        }
    }

    /// Connect, apply migrations, build the state, and join the NATS bus if configured.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        use anyhow::Context;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&config.database_url)
            .await
            .context("cannot connect to PostgreSQL (DATABASE_URL)")?;
        migrate::migrate(&pool).await?;
        let mut config = config.clone();
        chat::resolve_queues(&pool, &mut config.chat).await?;
        if let Some(csat) = &mut config.csat {
            work::csat::resolve(&pool, csat).await?;
        }
        let mut state = AppState::new(pool, &config);
        if let Some(calls) = &config.calls {
            state.gateway = Some(okno_gateway::Gateway::start(calls.clone()).await.context("[calls]")?);
        }
        if let Some(settings) = &config.hotline {
            let served = settings.config.queues.iter().map(|q| q.id.clone()).collect();
            state.hotline = Some((hotline::start(&state.pool, state.live.clone(), settings).await?, Arc::new(served)));
        }
        if let Some(url) = &config.nats_url {
            let deployment: String = sqlx::query_scalar("SELECT id FROM deployment")
                .fetch_one(&state.pool)
                .await
                .context("no deployment id")?;
            let client = live::bus::start(state.live.clone(), url, live::bus::subject(&deployment)).await?;
            if let Some((hotline, _)) = &state.hotline {
                let bus = hotline::CommandBus::new(client, &deployment);
                bus.answer(hotline.clone()).await.context("the hotline's commands over NATS")?;
                state.hotline_bus = Some(bus);
            }
        }
        Ok(state)
    }
}

/// Serve the API on `listener` until `shutdown` resolves; what `okno-server` runs.
pub async fn serve(
    config: &Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = AppState::connect(config).await?;
    let mail_tasks = mail::start(&state, &config.mail).await?;
    let csat_task = work::csat::start(&state);
    let breach_watch = work::sla::watch_breaches(&state);
    let mail_state = state.clone();
    let live = state.live.clone();
    let hotline = state.hotline.as_ref().map(|(h, _)| h.clone());
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    tracing::info!(url = %format!("{scheme}://{}", listener.local_addr()?), nats = config.nats_url.is_some(), "okno-server listening");
    // The peer address feeds the per-address sign-in limit.
    let service = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    match &config.tls {
        Some(tls) => {
            use axum::serve::ListenerExt;
            let listener = tls::TlsListener::new(listener, tls.clone())?.tap_io(|_| {});
            axum::serve(listener, service).with_graceful_shutdown(shutdown).await?;
        }
        None => axum::serve(listener, service).with_graceful_shutdown(shutdown).await?,
    }
    live.leaving();
    if let (Some(hotline), Some(settings)) = (hotline, &config.hotline) {
        hotline::stop(&hotline, settings.drain_limit).await;
    }
    mail_tasks.stop(&mail_state).await;
    if let Some(task) = csat_task {
        task.abort();
    }
    breach_watch.abort();
    // Give the bus task a moment to send the goodbye before the runtime stops.
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

/// `POST`: ends the caller's session.
pub const LOGOUT_PATH: &str = "/v1/logout";

/// The hand-written OpenAPI description of the HTTP API.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route(okno_sync::LOGIN_PATH, post(auth::login))
        .route(
            okno_sync::REFRESH_PATH,
            post(auth::refresh).layer(axum::extract::DefaultBodyLimit::max(auth::LOGIN_BODY_LIMIT)),
        )
        .route(LOGOUT_PATH, post(auth::logout))
        .route(okno_sync::PUSH_PATH, post(push::push))
        .route(okno_sync::PULL_PATH, post(pull::pull))
        .route(okno_sync::LIVE_PATH, get(live::ws::live))
        .route(okno_sync::BLOB_PATH, get(mail::blobs::download))
        .route(
            okno_sync::UPLOAD_PATH,
            post(mail::blobs::upload).layer(axum::extract::DefaultBodyLimit::max(state.max_upload_bytes)),
        )
        .route(okno_sync::TYPING_PATH, post(chat::operator_typing))
        .route("/widget.js", get(chat::widget::script))
        .route("/widget/demo", get(chat::widget::demo))
        .route(chat::SOCKET_PATH, get(chat::socket::widget_socket))
        .route(
            chat::FILES_PATH,
            post(chat::files::upload)
                .options(chat::files::preflight)
                .layer(axum::extract::DefaultBodyLimit::max(state.chat.config.limits.max_attachment_bytes)),
        )
        .route(chat::FILE_PATH, get(chat::files::download).options(chat::files::preflight))
        .merge(work::routes())
        .merge(wallboard::routes())
        .with_state(state)
}

async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> Result<&'static str, AppError> {
    sqlx::query("SELECT 1").execute(&state.pool).await?;
    Ok("ok")
}

async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}
