//! Sign-in, token refresh and the `Authorization: Bearer` extractor.
//!
//! Tokens are 32 random bytes (hex), opaque to clients. PostgreSQL stores only their SHA-256,
//! so a copy of the database holds no usable token. An access token lives 15 minutes; the
//! refresh token (30 days) is rotated on every use.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use okno_core::Role;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::AppState;
use crate::error::AppError;
use crate::metrics::inc;

pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The signed-in account behind a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub id: String,
    pub name: String,
    pub role: Role,
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

/// Failed sign-ins per account name in a sliding window; in memory, per instance.
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        LoginLimiter { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    /// `Err(seconds to wait)` when `name` has too many recent failures.
    pub fn check(&self, name: &str, now: Instant) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(list) = map.get_mut(name) else { return Ok(()) };
        while list.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            list.pop_front();
        }
        if list.len() >= self.max_failures {
            let oldest = list.front().copied().unwrap_or(now);
            let wait = self.window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        if list.is_empty() {
            map.remove(name);
        }
        Ok(())
    }

    pub fn record_failure(&self, name: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Bound memory under a spray of random names: forget everything rather than grow.
        if map.len() > 100_000 {
            map.clear();
        }
        map.entry(name.to_owned()).or_default().push_back(now);
    }

    pub fn clear(&self, name: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
    }
}

/// A new access and refresh token for `caller` (after sign-in, or by an admin tool).
pub async fn issue_tokens(pool: &PgPool, caller: Caller) -> Result<TokenResponse, AppError> {
    let access_token = new_token()?;
    let refresh_token = new_token()?;
    sqlx::query(
        "INSERT INTO auth_tokens (token_hash, operator_id, kind, expires_at) VALUES \
         ($1, $3, 'access', now() + make_interval(secs => $4)), ($2, $3, 'refresh', now() + make_interval(secs => $5))",
    )
    .bind(token_hash(&access_token))
    .bind(token_hash(&refresh_token))
    .bind(&caller.id)
    .bind(ACCESS_TTL.as_secs_f64())
    .bind(REFRESH_TTL.as_secs_f64())
    .execute(pool)
    .await?;
    // Expired tokens are garbage; sweep a few on each sign-in rather than run a timer.
    sqlx::query("DELETE FROM auth_tokens WHERE token_hash IN (SELECT token_hash FROM auth_tokens WHERE expires_at < now() LIMIT 100)")
        .execute(pool)
        .await?;
    Ok(TokenResponse { access_token, refresh_token, expires_in: ACCESS_TTL.as_secs(), operator: caller })
}

fn parse_role(role: &str) -> Result<Role, AppError> {
    role.parse().map_err(|e| AppError::Internal(anyhow::anyhow!("bad role in the database: {e}")))
}

pub(crate) async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenResponse>, AppError> {
    let now = Instant::now();
    if let Err(wait) = state.limiter.check(&req.name, now) {
        inc(&state.metrics.logins_failed);
        return Err(AppError::RateLimited(wait));
    }
    let row: Option<(String, String, String, Option<String>)> =
        sqlx::query_as("SELECT id, name, role, password_hash FROM operators WHERE name = $1")
            .bind(&req.name)
            .fetch_optional(&state.pool)
            .await?;
    let phc = row.as_ref().and_then(|r| r.3.clone()).unwrap_or_else(|| dummy_hash().to_owned());
    let password = req.password;
    // Argon2 takes tens of milliseconds of CPU on purpose: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .map_err(|e| anyhow::anyhow!("password check panicked: {e}"))?;
    match row {
        Some((id, name, role, Some(_))) if ok => {
            state.limiter.clear(&req.name);
            inc(&state.metrics.logins_ok);
            let caller = Caller { id, name, role: parse_role(&role)? };
            tracing::info!(operator = %caller.id, "signed in");
            Ok(Json(issue_tokens(&state.pool, caller).await?))
        }
        _ => {
            state.limiter.record_failure(&req.name, now);
            inc(&state.metrics.logins_failed);
            Err(AppError::Unauthorized)
        }
    }
}

pub(crate) async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Json<TokenResponse>, AppError> {
    // Deleting the token is the check: a refresh token works once.
    let row: Option<(String, String, String)> = sqlx::query_as(
        "WITH used AS (DELETE FROM auth_tokens WHERE token_hash = $1 AND kind = 'refresh' AND expires_at > now() \
         RETURNING operator_id) SELECT o.id, o.name, o.role FROM used JOIN operators o ON o.id = used.operator_id",
    )
    .bind(token_hash(&req.refresh_token))
    .fetch_optional(&state.pool)
    .await?;
    let Some((id, name, role)) = row else { return Err(AppError::Unauthorized) };
    let caller = Caller { id, name, role: parse_role(&role)? };
    Ok(Json(issue_tokens(&state.pool, caller).await?))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Err(AppError::Unauthorized);
        };
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT o.id, o.name, o.role FROM auth_tokens t JOIN operators o ON o.id = t.operator_id \
             WHERE t.token_hash = $1 AND t.kind = 'access' AND t.expires_at > now()",
        )
        .bind(token_hash(token.trim()))
        .fetch_optional(&state.pool)
        .await?;
        let Some((id, name, role)) = row else { return Err(AppError::Unauthorized) };
        Ok(Caller { id, name, role: parse_role(&role)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_after_max_failures_within_the_window() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(limiter.check("anna", t0 + Duration::from_secs(i)), Ok(()));
            limiter.record_failure("anna", t0 + Duration::from_secs(i));
        }
        assert_eq!(limiter.check("anna", t0 + Duration::from_secs(10)), Err(50));
        assert_eq!(limiter.check("boris", t0 + Duration::from_secs(10)), Ok(()), "per name");
        assert_eq!(limiter.check("anna", t0 + Duration::from_secs(60)), Ok(()), "the oldest failure expired");
    }

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let phc = hash_password("s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &phc));
        assert!(!verify_password("S3cret", &phc));
        assert!(!verify_password("s3cret", "not a hash"));
    }
}
