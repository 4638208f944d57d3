//! The one error shape every command returns to the UI: `{ code, message }`. The UI branches on
//! the code; the message is for people.

use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    NotFound,
    InvalidInput,
    Storage,
    /// Needs the server, which this desk has not reached (or is not set up to use).
    Unavailable,
    /// The server refuses this to the signed-in account (its role).
    Forbidden,
    /// Someone changed it on the server since it was read; reload and try again.
    Conflict,
    Internal,
}

/// Every command failure.
#[derive(Debug, Clone, Serialize, TS)]
pub struct UiError {
    pub code: ErrorCode,
    pub message: String,
}

impl From<okno_store::StoreError> for UiError {
    fn from(e: okno_store::StoreError) -> Self {
        use okno_store::StoreError as E;
        let code = match &e {
            E::NotFound { .. } => ErrorCode::NotFound,
            E::InvalidInput(_) => ErrorCode::InvalidInput,
            E::Sql(_) | E::Io { .. } | E::BadStoredValue(_) => ErrorCode::Storage,
            _ => ErrorCode::Internal,
        };
        tracing::warn!(?code, error = %e, "command failed");
        UiError { code, message: e.to_string() }
    }
}

impl UiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        UiError { code, message: message.into() }
    }
}

impl From<crate::sync::ServerCallError> for UiError {
    fn from(e: crate::sync::ServerCallError) -> Self {
        let code = match e.status {
            None => ErrorCode::Unavailable,
            Some(403) => ErrorCode::Forbidden,
            Some(404) => ErrorCode::NotFound,
            Some(409) => ErrorCode::Conflict,
            Some(400 | 422) => ErrorCode::InvalidInput,
            Some(_) => ErrorCode::Internal,
        };
        UiError::new(code, e.message)
    }
}
