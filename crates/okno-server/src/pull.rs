//! `POST /v1/pull`: changes after a cursor, only from the buckets the account is entitled to,
//! as the projection its role may see.
//!
//! Entitlement is decided here from the account, never from filters a client sends: team
//! leads and admins get every bucket; operators and contractors get `queue:<id>` for each
//! queue granted to them in `operator_queues`, and their own `user:<id>`.

use axum::Json;
use axum::extract::State;
use okno_sync::{Change, Op, PullRequest, PullResponse};
use serde_json::Value;

use crate::AppState;
use crate::auth::Caller;
use crate::changelog::{queue_bucket, user_bucket};
use crate::error::AppError;
use crate::metrics::inc;
use crate::redact::project;

pub const MAX_PULL: u32 = 1000;

#[tracing::instrument(name = "pull", skip_all, fields(operator = %caller.id, cursor = req.cursor))]
pub(crate) async fn pull(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<PullRequest>,
) -> Result<Json<PullResponse>, AppError> {
    inc(&state.metrics.pulls);
    let limit = i64::from(req.limit.clamp(1, MAX_PULL));
    let cursor = i64::try_from(req.cursor).map_err(|_| AppError::BadRequest("cursor out of range".into()))?;
    // One snapshot for the rows and the head version, so `head` covers exactly what was read.
    let mut tx = state.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?;
    type Row = (i64, String, String, String, String, Value);
    let mut rows: Vec<Row> = match entitled_buckets(&mut *tx, &caller).await? {
        None => {
            // Every bucket, except the notices meant for someone else (a colleague's @mention).
            sqlx::query_as(
                "SELECT version, bucket, entity, entity_id, op, data FROM changelog \
                 WHERE version > $1 AND NOT (entity = $3 AND bucket <> $4) ORDER BY version LIMIT $2",
            )
            .bind(cursor)
            .bind(limit + 1)
            .bind(crate::work::mentions::NOTICE)
            .bind(user_bucket(&caller.id))
            .fetch_all(&mut *tx)
            .await?
        }
        Some(buckets) => {
            sqlx::query_as(
                "SELECT version, bucket, entity, entity_id, op, data FROM changelog \
                 WHERE version > $1 AND bucket = ANY($3) ORDER BY version LIMIT $2",
            )
            .bind(cursor)
            .bind(limit + 1)
            .bind(&buckets)
            .fetch_all(&mut *tx)
            .await?
        }
    };
    // The highest visible version: every lower one is visible too, or was rolled back for good
    // (see `changelog::append_and_commit`). Not the sequence's last value: that includes uncommitted ones.
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM changelog").fetch_one(&mut *tx).await?;
    tx.commit().await?;

    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let last = rows.last().map_or(cursor, |r| r.0);
    // Without more rows, every version up to `head` is either here or not ours: skip past them.
    let next = if has_more { last } else { last.max(head).max(cursor) };
    let changes: Vec<Change> = rows
        .into_iter()
        .map(|(version, bucket, entity, id, op, data)| Change {
            version: u64::try_from(version).unwrap_or(0),
            data: project(caller.role, &entity, data),
            op: if op == "delete" { Op::Delete } else { Op::Upsert },
            bucket,
            entity,
            id,
        })
        .collect();
    state.metrics.changes_pulled.fetch_add(changes.len() as u64, std::sync::atomic::Ordering::Relaxed);
    Ok(Json(PullResponse {
        changes,
        cursor: u64::try_from(next).unwrap_or(0),
        has_more,
        head: Some(u64::try_from(head).unwrap_or(0)),
    }))
}

/// The buckets `caller` may pull and be poked about; `None` means every bucket (team leads and
/// admins), except that pull leaves out the notices in other accounts' buckets (a poke about
/// one costs a lead an empty pull, nothing more). The one place this rule lives: pull and the
/// live socket both ask here.
pub(crate) async fn entitled_buckets<'e>(
    db: impl sqlx::PgExecutor<'e>,
    caller: &Caller,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    if caller.sees_all_queues() {
        return Ok(None);
    }
    let queues: Vec<String> = sqlx::query_scalar("SELECT queue_id FROM operator_queues WHERE operator_id = $1")
        .bind(&caller.id)
        .fetch_all(db)
        .await?;
    let mut buckets: Vec<String> = queues.iter().map(|q| queue_bucket(q)).collect();
    buckets.push(user_bucket(&caller.id));
    Ok(Some(buckets))
}
