//! Embedded SQL migrations, applied at start.
//!
//! All of it runs in one transaction that first takes a transaction-level advisory lock, so two
//! instances starting together apply each migration once: the second waits, then finds the
//! `schema_migrations` rows the first committed. PostgreSQL DDL is transactional, so a failed
//! migration leaves nothing half-applied.

use anyhow::Context;
use sqlx::PgPool;

/// (version, name, SQL), in order. Never edit a released migration; add the next one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (2, "deployment", include_str!("../migrations/0002_deployment.sql")),
    (3, "client_rejections", include_str!("../migrations/0003_client_rejections.sql")),
    (4, "email", include_str!("../migrations/0004_email.sql")),
    (5, "chat", include_str!("../migrations/0005_chat.sql")),
    (6, "security", include_str!("../migrations/0006_security.sql")),
    (7, "audit", include_str!("../migrations/0007_audit.sql")),
    (8, "work_rules", include_str!("../migrations/0008_work_rules.sql")),
    (9, "csat", include_str!("../migrations/0009_csat.sql")),
    (10, "merge", include_str!("../migrations/0010_merge.sql")),
    (11, "ticket_clock", include_str!("../migrations/0011_ticket_clock.sql")),
    (12, "mentions", include_str!("../migrations/0012_mentions.sql")),
    (13, "acd_events", include_str!("../migrations/0013_acd_events.sql")),
    (14, "visitor_read", include_str!("../migrations/0014_visitor_read.sql")),
    (15, "csat_settings", include_str!("../migrations/0015_csat_settings.sql")),
    (16, "acd_instance", include_str!("../migrations/0016_acd_instance.sql")),
];

/// An arbitrary constant identifying "Okno schema migrations" among advisory locks.
const MIGRATION_LOCK: i64 = 0x6F6B_6E6F_6D69_6772; // "oknomigr"

/// The newest schema version this build knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Apply every migration the database lacks; returns how many were applied.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await.context("cannot begin the migration transaction")?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
           version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations").fetch_all(&mut *tx).await?;
    if let Some(newer) = applied.iter().find(|v| **v > latest()) {
        anyhow::bail!("the database has schema version {newer}, newer than this server knows ({})", latest());
    }
    let mut count = 0;
    for &(version, name, sql) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        sqlx::raw_sql(sql).execute(&mut *tx).await.with_context(|| format!("migration {version} ({name}) failed"))?;
        sqlx::query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)")
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, name, "applied migration");
        count += 1;
    }
    tx.commit().await?;
    Ok(count)
}
