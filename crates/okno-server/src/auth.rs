//! Sign-in, token refresh and the `Authorization: Bearer` extractor.
//!
//! Tokens are 32 random bytes (hex), opaque to clients. PostgreSQL stores only their SHA-256,
//! so a copy of the database holds no usable token. An access token lives 15 minutes; the
//! refresh token (30 days) is rotated on every use.
//!
//! Every pair belongs to a *session* that starts at sign-in: refreshing keeps it, and it ends
//! at logout, when an admin disables the account or revokes its sessions, or [`MAX_SESSION`]
//! after sign-in, whatever the refreshes. A live socket lives as long as its session.
//! Sign-in attempts are limited per name, per address and overall ([`crate::login_limits`]);
//! the Argon2 checks run at most one per core at a time ([`argon2_slots`]) so a flood cannot
//! take the machine.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use okno_core::Role;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::error::AppError;
use crate::metrics::inc;
use crate::{AppState, audit};

pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// A session's absolute lifetime: a desk signs in again (from the keychain) after it.
pub const MAX_SESSION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest account name and password accepted, in bytes.
pub const MAX_NAME: usize = 200;
pub const MAX_PASSWORD: usize = 1024;
/// How long a sign-in may wait for an Argon2 slot before it is told to retry.
const ARGON2_WAIT: Duration = Duration::from_secs(5);

/// Password checks that may run at once: the machine's cores.
pub fn argon2_slots() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// The signed-in account behind a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The session of the token the request carried (not sent to clients).
    #[serde(skip)]
    pub session_id: Option<String>,
}

impl Caller {
    /// Team leads and admins see and touch every queue; others only their granted queues.
    pub fn sees_all_queues(&self) -> bool {
        matches!(self.role, Role::TeamLead | Role::Admin)
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub name: String,
    pub password: String,
    /// The client's clock (ms since the epoch), for the audit log.
    #[serde(default)]
    pub client_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub operator: Caller,
}

/// Argon2id PHC string for a new password.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hash: {e}"))?
        .to_string())
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash to verify against when the name is unknown, so both cases take the same time.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("okno-dummy-password").unwrap_or_default())
}

fn new_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new access and refresh token for `caller` in a new session (after sign-in, or by an admin
/// tool).
pub async fn issue_tokens(pool: &PgPool, caller: Caller) -> Result<TokenResponse, AppError> {
    let session = new_token()?;
    issue_in_session(pool, caller, &session, None).await
}

/// A new pair in `session`, which started at `started_epoch` (Unix seconds; `None`: now).
async fn issue_in_session(
    pool: &PgPool,
    mut caller: Caller,
    session: &str,
    started_epoch: Option<f64>,
) -> Result<TokenResponse, AppError> {
    let access_token = new_token()?;
    let refresh_token = new_token()?;
    sqlx::query(
        "INSERT INTO auth_tokens (token_hash, operator_id, kind, expires_at, session_id, session_started_at) VALUES \
         ($1, $3, 'access', now() + make_interval(secs => $4), $6, COALESCE(to_timestamp($7), now())), \
         ($2, $3, 'refresh', \
          LEAST(now() + make_interval(secs => $5), COALESCE(to_timestamp($7), now()) + make_interval(secs => $8)), \
          $6, COALESCE(to_timestamp($7), now()))",
    )
    .bind(token_hash(&access_token))
    .bind(token_hash(&refresh_token))
    .bind(&caller.id)
    .bind(ACCESS_TTL.as_secs_f64())
    .bind(REFRESH_TTL.as_secs_f64())
    .bind(session)
    .bind(started_epoch)
    .bind(MAX_SESSION.as_secs_f64())
    .execute(pool)
    .await?;
    // Expired tokens are garbage; sweep a few on each sign-in rather than run a timer.
    sqlx::query("DELETE FROM auth_tokens WHERE token_hash IN (SELECT token_hash FROM auth_tokens WHERE expires_at < now() LIMIT 100)")
        .execute(pool)
        .await?;
    caller.session_id = Some(session.to_owned());
    Ok(TokenResponse { access_token, refresh_token, expires_in: ACCESS_TTL.as_secs(), operator: caller })
}

fn parse_role(role: &str) -> Result<Role, AppError> {
    role.parse().map_err(|e| AppError::Internal(anyhow::anyhow!("bad role in the database: {e}")))
}

/// The client's address: the TCP peer (behind a reverse proxy, the proxy's; the limits then
/// act per proxy, which is the safe side).
fn client_address(parts_extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    parts_extensions.get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())
}

pub(crate) async fn login(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Json<TokenResponse>, AppError> {
    let address = client_address(request.extensions());
    let body = axum::body::to_bytes(request.into_body(), LOGIN_BODY_LIMIT)
        .await
        .map_err(|_| AppError::BadRequest(format!("a sign-in is at most {LOGIN_BODY_LIMIT} bytes")))?;
    let req: LoginRequest =
        serde_json::from_slice(&body).map_err(|e| AppError::BadRequest(format!("not a sign-in: {e}")))?;
    if req.name.is_empty() || req.name.len() > MAX_NAME || req.password.len() > MAX_PASSWORD {
        return Err(AppError::BadRequest(format!(
            "the name is 1 to {MAX_NAME} bytes and the password at most {MAX_PASSWORD}"
        )));
    }
    let now = Instant::now();
    if let Err(limited) = state.limiter.check(&req.name, address, now) {
        inc(&state.metrics.logins_failed);
        tracing::info!(?limited, ?address, "sign-in refused by the limits");
        return Err(AppError::RateLimited(limited.wait_seconds()));
    }
    let row: Option<(String, String, String, Option<String>, bool)> =
        sqlx::query_as("SELECT id, name, role, password_hash, disabled_at IS NOT NULL FROM operators WHERE name = $1")
            .bind(&req.name)
            .fetch_optional(&state.pool)
            .await?;
    let phc = row.as_ref().and_then(|r| r.3.clone()).unwrap_or_else(|| dummy_hash().to_owned());
    let password = req.password;
    // Argon2 takes tens of milliseconds of CPU on purpose: keep it off the async workers, and
    // at most one check per core at a time.
    let Ok(Ok(_slot)) = tokio::time::timeout(ARGON2_WAIT, state.argon2.clone().acquire_owned()).await else {
        return Err(AppError::RateLimited(1));
    };
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .map_err(|e| anyhow::anyhow!("password check panicked: {e}"))?;
    match row {
        Some((id, name, role, Some(_), false)) if ok => {
            state.limiter.clear(&req.name);
            inc(&state.metrics.logins_ok);
            let caller = Caller { id, name, role: parse_role(&role)?, session_id: None };
            tracing::info!(operator = %caller.id, ?address, "signed in");
            let entry = audit::Entry {
                action: audit::Action::SignIn,
                actor: Some(&caller.id),
                subject: Some(&caller.name),
                address: address.map(|a| a.to_string()),
                client_at: req.client_at,
                detail: serde_json::json!({ "role": caller.role.as_str() }),
            };
            audit::record_or_log(&state.pool, entry).await;
            Ok(Json(issue_tokens(&state.pool, caller).await?))
        }
        _ => {
            state.limiter.record_failure(&req.name, address, now);
            inc(&state.metrics.logins_failed);
            tracing::info!(?address, "sign-in failed");
            let why = match &row {
                None => "unknown name",
                Some((.., true)) => "account disabled",
                Some((_, _, _, None, _)) => "no password set",
                Some(_) => "wrong password",
            };
            let entry = audit::Entry {
                action: audit::Action::SignInFailed,
                actor: None,
                subject: Some(&req.name),
                address: address.map(|a| a.to_string()),
                client_at: req.client_at,
                detail: serde_json::json!({ "why": why }),
            };
            audit::record_or_log(&state.pool, entry).await;
            Err(AppError::Unauthorized)
        }
    }
}

/// The largest sign-in or refresh request body.
pub const LOGIN_BODY_LIMIT: usize = 4096;

pub(crate) async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Json<TokenResponse>, AppError> {
    // Deleting the token is the check: a refresh token works once. A disabled account's or an
    // expired session's token is deleted too, and refused.
    type Row = (String, String, String, Option<String>, f64, bool);
    let row: Option<Row> = sqlx::query_as(
        "WITH used AS (DELETE FROM auth_tokens WHERE token_hash = $1 AND kind = 'refresh' AND expires_at > now() \
         RETURNING operator_id, session_id, session_started_at) \
         SELECT o.id, o.name, o.role, used.session_id, EXTRACT(EPOCH FROM used.session_started_at)::float8, \
           o.disabled_at IS NULL AND used.session_started_at + make_interval(secs => $2) > now() \
         FROM used JOIN operators o ON o.id = used.operator_id",
    )
    .bind(token_hash(&req.refresh_token))
    .bind(MAX_SESSION.as_secs_f64())
    .fetch_optional(&state.pool)
    .await?;
    let Some((id, name, role, Some(session), started, true)) = row else { return Err(AppError::Unauthorized) };
    let caller = Caller { id, name, role: parse_role(&role)?, session_id: None };
    Ok(Json(issue_in_session(&state.pool, caller, &session, Some(started)).await?))
}

/// `POST /v1/logout`: ends the caller's session (its access and refresh tokens, its sockets).
pub(crate) async fn logout(State(state): State<AppState>, caller: Caller) -> Result<axum::http::StatusCode, AppError> {
    if let Some(session) = &caller.session_id {
        end_sessions(&state.pool, SessionsOf::Session(session)).await?;
    }
    tracing::info!(operator = %caller.id, "signed out");
    let entry = audit::Entry {
        action: audit::Action::SignOut,
        actor: Some(&caller.id),
        subject: Some(&caller.name),
        address: None,
        client_at: None,
        detail: serde_json::json!({}),
    };
    audit::record_or_log(&state.pool, entry).await;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Whose sessions [`end_sessions`] ends.
pub enum SessionsOf<'a> {
    Session(&'a str),
    Operator(&'a str),
}

/// Deletes the tokens of a session or of every session of an operator; returns how many.
pub async fn end_sessions(pool: &PgPool, of: SessionsOf<'_>) -> Result<u64, sqlx::Error> {
    let (sql, key) = match of {
        SessionsOf::Session(s) => ("DELETE FROM auth_tokens WHERE session_id = $1", s),
        SessionsOf::Operator(o) => ("DELETE FROM auth_tokens WHERE operator_id = $1", o),
    };
    Ok(sqlx::query(sql).bind(key).execute(pool).await?.rows_affected())
}

/// Whether `session` still has a token and its account is enabled (a live socket's check).
pub async fn session_alive(pool: &PgPool, session: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM auth_tokens t JOIN operators o ON o.id = t.operator_id \
         WHERE t.session_id = $1 AND t.expires_at > now() AND o.disabled_at IS NULL)",
    )
    .bind(session)
    .fetch_one(pool)
    .await
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Err(AppError::Unauthorized);
        };
        let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT o.id, o.name, o.role, t.session_id FROM auth_tokens t JOIN operators o ON o.id = t.operator_id \
             WHERE t.token_hash = $1 AND t.kind = 'access' AND t.expires_at > now() AND o.disabled_at IS NULL",
        )
        .bind(token_hash(token.trim()))
        .fetch_optional(&state.pool)
        .await?;
        let Some((id, name, role, session_id)) = row else { return Err(AppError::Unauthorized) };
        Ok(Caller { id, name, role: parse_role(&role)?, session_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let phc = hash_password("s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &phc));
        assert!(!verify_password("S3cret", &phc));
        assert!(!verify_password("s3cret", "not a hash"));
    }
}
