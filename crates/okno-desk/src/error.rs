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
