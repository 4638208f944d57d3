//! One error type for every handler: an HTTP status and a `{ code, message }` body the client
//! branches on (by code, never by message text).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error("missing, invalid or expired credentials")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("too many failed sign-in attempts; retry in {0} s")]
    RateLimited(u64),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The resource changed since the client read it.
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but refused by a rule of the domain; `detail` says where (a rule's position).
    #[error("{message}")]
    Invalid { message: String, detail: serde_json::Value },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("schema version {0} is not supported by this server; update the application")]
    UnsupportedSchema(u32),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::RateLimited(_) => "rate_limited",
            AppError::BadRequest(_) => "bad_request",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::Invalid { .. } => "invalid",
            AppError::UnsupportedMediaType(_) => "unsupported_type",
            AppError::UnsupportedSchema(_) => "unsupported_schema",
            AppError::Db(_) | AppError::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::UnsupportedSchema(_) => StatusCode::CONFLICT,
            AppError::Db(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut body = serde_json::json!({ "code": self.code(), "message": message });
        if let AppError::Invalid { detail, .. } = self {
            body["detail"] = detail;
        }
        (status, Json(body)).into_response()
    }
}
