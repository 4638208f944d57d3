use std::path::PathBuf;

/// Why the store could not do what was asked. The UI maps these to error codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{path} is not an SQLite database (the file is damaged or of another kind); it was left untouched")]
    NotSqlite { path: PathBuf },
    #[error(
        "{path} is an SQLite database of another program (application id {application_id:#x}); it was left untouched"
    )]
    ForeignDatabase { path: PathBuf, application_id: i64 },
    #[error(
        "{path} was written by a newer Okno (schema {found}, this build knows up to {supported}); it was left untouched"
    )]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    #[error("{path} failed its integrity check: {detail}; it was left untouched")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "migrating {path} to schema {version} failed: {source}; the database was rolled back and a backup kept at {backup}"
    )]
    Migration { path: PathBuf, version: i64, backup: PathBuf, source: sqlx::Error },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("stored value is invalid: {0}")]
    BadStoredValue(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

impl From<okno_core::UnknownVariant> for StoreError {
    fn from(e: okno_core::UnknownVariant) -> Self {
        StoreError::BadStoredValue(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::BadStoredValue(e.to_string())
    }
}
