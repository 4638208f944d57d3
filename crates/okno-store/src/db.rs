//! Opening the database file safely and bringing its schema up to date.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, Executor, Row, SqliteConnection};

use crate::StoreError;

/// `PRAGMA application_id` of an Okno store ("OKNO"): tells our files from other programs'.
pub const APPLICATION_ID: i64 = 0x4F4B_4E4F;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_sync.sql")),
    (3, include_str!("../migrations/0003_email.sql")),
    (4, include_str!("../migrations/0004_notices.sql")),
    (5, include_str!("../migrations/0005_visitor_read.sql")),
    (6, include_str!("../migrations/0006_sent_journal.sql")),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// A handle to the local store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) path: PathBuf,
    /// Readers run concurrently (WAL).
    pub(crate) read: SqlitePool,
    /// One connection: SQLite has one writer, and a single connection in this process means
    /// writes queue here instead of failing with SQLITE_BUSY.
    pub(crate) write: SqlitePool,
    /// Signalled after every write to the outbox (see `Store::outbox_written`).
    pub(crate) outbox_wake: std::sync::Arc<tokio::sync::Notify>,
}

impl Store {
    /// Open (or create) the store at `path`, refusing to touch a file that is not ours.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let path = path.to_path_buf();
        if path.exists() {
            check_existing(&path).await?;
        } else if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit the UI reported as saved survives a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-32000");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        migrate(&path, &write).await?;
        let read = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
        tracing::info!(path = %path.display(), schema = SCHEMA_VERSION, "store opened");
        Ok(Store { path, read, write, outbox_wake: Default::default() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Close every connection, checkpointing the WAL into the main file.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// Validate a file before any connection that could write to it is opened.
async fn check_existing(path: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io { path: path.to_path_buf(), source };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len == 0 {
        // An empty file is what SQLite itself creates before the first write.
        return Ok(());
    }
    let mut header = [0u8; 16];
    {
        use std::io::Read;
        let mut file = std::fs::File::open(path).map_err(io)?;
        if file.read_exact(&mut header).is_err() || &header != b"SQLite format 3\0" {
            return Err(StoreError::NotSqlite { path: path.to_path_buf() });
        }
    }
    // Read-only and immutable: no journal, no WAL files, no header change on a foreign file.
    let options = SqliteConnectOptions::new().filename(path).read_only(true).immutable(true);
    let corrupt = |e: sqlx::Error| StoreError::Corrupt { path: path.to_path_buf(), detail: e.to_string() };
    let mut conn = SqliteConnection::connect_with(&options).await.map_err(corrupt)?;
    let application_id: i64 =
        sqlx::query_scalar("PRAGMA application_id").fetch_one(&mut conn).await.map_err(corrupt)?;
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut conn).await.map_err(corrupt)?;
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sqlite_master").fetch_one(&mut conn).await.map_err(corrupt)?;
    // Reading the catalog parses every table's schema: a damaged header or catalog fails here.
    // A full `quick_check` would catch more but reads the whole file (3.7 s for the 780 MB large
    // demo), so it is not done on every start; damaged pages still fail their first read loudly.
    let _ = conn.close().await;
    if application_id != APPLICATION_ID && !(application_id == 0 && tables == 0) {
        return Err(StoreError::ForeignDatabase { path: path.to_path_buf(), application_id });
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema { path: path.to_path_buf(), found: version, supported: SCHEMA_VERSION });
    }
    Ok(())
}

/// Apply the migrations this file has not seen, each in its own transaction. Before touching
/// a store that already holds data, a copy is kept beside it.
async fn migrate(path: &Path, pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    let current: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *conn).await?;
    if current >= SCHEMA_VERSION {
        return Ok(());
    }
    let backup = path.with_extension(format!("db.before-v{SCHEMA_VERSION}"));
    if current > 0 {
        let _ = std::fs::remove_file(&backup);
        sqlx::query("VACUUM INTO ?").bind(backup.display().to_string()).execute(&mut *conn).await?;
        tracing::info!(backup = %backup.display(), from = current, "store backed up before migration");
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let result: Result<(), sqlx::Error> = async {
            let mut tx = conn.begin().await?;
            tx.execute(*sql).await?;
            tx.execute(AssertSqlSafe(format!("PRAGMA application_id = {APPLICATION_ID}"))).await?;
            tx.execute(AssertSqlSafe(format!("PRAGMA user_version = {version}"))).await?;
            tx.commit().await
        }
        .await;
        if let Err(source) = result {
            return Err(StoreError::Migration { path: path.to_path_buf(), version: *version, backup, source });
        }
        tracing::info!(version, "store migrated");
    }
    Ok(())
}

pub(crate) fn row_err(e: sqlx::Error) -> StoreError {
    StoreError::Sql(e)
}

pub(crate) fn get<'r, T>(row: &'r sqlx::sqlite::SqliteRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(row_err)
}
