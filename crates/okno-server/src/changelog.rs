//! Appending to the changelog (what restricted roles may pull of it is `redact`).

use okno_sync::Op;
use serde_json::Value;
use sqlx::{Postgres, Row, Transaction};

/// One change a transaction is about to commit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewChange {
    pub bucket: String,
    pub entity: &'static str,
    pub id: String,
    pub op: Op,
    pub data: Value,
}

pub fn queue_bucket(queue_id: &str) -> String {
    format!("queue:{queue_id}")
}

pub fn user_bucket(operator_id: &str) -> String {
    format!("user:{operator_id}")
}

/// An operator row as desks sync it (`operators::set_state`'s row): to the operator's own bucket.
pub fn operator_change(operator_id: &str, data: Value) -> NewChange {
    NewChange { bucket: user_bucket(operator_id), entity: "operator", id: operator_id.to_owned(), op: Op::Upsert, data }
}

/// A ticket row (`to_jsonb(tickets.*)`) written: to its queue's bucket.
pub fn ticket_change(queue_id: &str, ticket_id: &str, data: Value) -> NewChange {
    NewChange { bucket: queue_bucket(queue_id), entity: "ticket", id: ticket_id.to_owned(), op: Op::Upsert, data }
}

/// The advisory lock that orders versions: "oknovers". The SQL function
/// `okno_append_changelog` (migration 0001) spells the same number.
pub const VERSION_LOCK: i64 = 0x6F6B_6E6F_7665_7273;

/// Give `changes` the next versions, append them, and commit `tx`; returns the last version.
///
/// Versions must become visible in commit order: a pull that has seen version N must never
/// later find a committed N-1 (its cursor is already past it; the change would be lost for that
/// client). Numbers from a SEQUENCE alone do not give that: they are handed out at call time
/// and a slow transaction can commit N-1 after N. So the versions are taken under the
/// transaction-level advisory lock [`VERSION_LOCK`], which PostgreSQL releases only after the
/// commit is visible: the holder of N is visible before anyone can take N+1.
///
/// That lock is the one serial point of all writes, so it is held as briefly as possible: the
/// changes are staged first in a transaction-local setting (`okno.changes`), then ONE message
/// runs `okno_append_changelog()` (lock, versions, insert) and `COMMIT`, so no client round
/// trip happens while it is held. (Taking it in a statement of its own and committing in the
/// next round trip halved throughput: under load every waiter queued behind a holder waiting for
/// its client to send COMMIT.) The message ends with `BEGIN` so that sqlx's own commit of `tx`
/// closes an empty transaction and its bookkeeping stays right.
pub async fn append_and_commit(mut tx: Transaction<'_, Postgres>, changes: &[NewChange]) -> Result<u64, sqlx::Error> {
    let staged = serde_json::to_string(changes).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("SELECT set_config('okno.changes', $1, true)").bind(staged).execute(&mut *tx).await?;
    let rows = sqlx::raw_sql("SELECT okno_append_changelog(); COMMIT; BEGIN").fetch_all(&mut *tx).await?;
    let last: i64 = match rows.first() {
        Some(row) => row.try_get(0)?,
        None => return Err(sqlx::Error::RowNotFound),
    };
    tx.commit().await?;
    Ok(u64::try_from(last).unwrap_or(0))
}
