//! SLA due times on the server: computed from the queue's policy ([`okno_rules::SlaPolicy`]) and
//! the ticket's clocks whenever one of their inputs changes (the ticket opens, is answered,
//! waits on the customer, is resolved, changes priority; the policy or its calendar is edited;
//! a queue gets another policy), and written on the ticket so that every desk sorts and
//! badges by the same numbers.
//!
//! A queue without a policy keeps what it had before policies existed: first response in its
//! `premium_frt_minutes` / `standard_frt_minutes`, round the clock, no resolution target.
//! `sla_due_at` is the earlier of the targets not met yet ([`okno_rules::Due::next`]); when it
//! passes on an open ticket, [`record_breaches`] records an `sla_breached` report event.

use std::collections::HashMap;

use okno_core::{Channel, CustomerTier, Millis, Priority};
use okno_rules::{CalendarSpec, Due, Pause, SlaPolicy, SlaPolicySpec, SlaTarget, TicketClock};
use serde_json::Value;
use sqlx::PgConnection;

use crate::changelog::{NewChange, queue_bucket};

/// Tickets updated per statement in a bulk recompute.
const BATCH: usize = 10_000;
/// Batches of a bulk recompute in flight at once.
const PARALLEL_BATCHES: usize = 2;

/// The policy a queue runs on, compiled (`None`: the queue's legacy minutes apply).
pub async fn queue_policy(conn: &mut PgConnection, queue_id: &str) -> Result<Option<SlaPolicy>, sqlx::Error> {
    let spec: Option<Value> =
        sqlx::query_scalar("SELECT p.spec FROM queues q JOIN sla_policies p ON p.id = q.sla_policy_id WHERE q.id = $1")
            .bind(queue_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(spec.and_then(compile_stored))
}

fn compile_stored(spec: Value) -> Option<SlaPolicy> {
    let spec: SlaPolicySpec = serde_json::from_value(spec).ok()?;
    match SlaPolicy::compile(&spec) {
        Ok(policy) => Some(policy),
        Err(e) => {
            tracing::error!(policy = %spec.id, error = %e, "a saved SLA policy no longer compiles");
            None
        }
    }
}

fn legacy(premium: i32, standard: i32) -> Option<SlaPolicy> {
    let target = |tier, minutes: i32| SlaTarget {
        tier: Some(tier),
        channel: None,
        priority: None,
        first_response_minutes: u32::try_from(minutes.max(1)).unwrap_or(1),
        resolution_minutes: None,
    };
    SlaPolicy::compile(&SlaPolicySpec {
        id: String::new(),
        name: "queue".into(),
        calendar: CalendarSpec::always(),
        targets: vec![target(CustomerTier::Premium, premium), target(CustomerTier::Standard, standard)],
    })
    .ok()
}

type ClockRow =
    (String, String, Option<String>, i32, i32, String, String, String, Millis, Option<Millis>, Option<Millis>, Value);

/// The due times of `ticket_ids` as their policies and clocks give them now.
struct DueTimes {
    ids: Vec<String>,
    first: Vec<Option<Millis>>,
    resolution: Vec<Option<Millis>>,
    next: Vec<Option<Millis>>,
}

async fn due_times(conn: &mut PgConnection, ticket_ids: &[String]) -> Result<DueTimes, sqlx::Error> {
    let rows: Vec<ClockRow> = sqlx::query_as(
        "SELECT t.id, t.queue_id, q.sla_policy_id, q.premium_frt_minutes, q.standard_frt_minutes, c.tier, t.channel, \
           t.priority, t.created_at, t.first_response_at, t.resolved_at, t.sla_pauses \
         FROM tickets t JOIN queues q ON q.id = t.queue_id JOIN customers c ON c.id = t.customer_id \
         WHERE t.id = ANY($1)",
    )
    .bind(ticket_ids)
    .fetch_all(&mut *conn)
    .await?;
    let policy_ids: Vec<&str> = rows.iter().filter_map(|r| r.2.as_deref()).collect();
    let specs: Vec<(String, Value)> = sqlx::query_as("SELECT id, spec FROM sla_policies WHERE id = ANY($1)")
        .bind(&policy_ids)
        .fetch_all(&mut *conn)
        .await?;
    let policies: HashMap<String, Option<SlaPolicy>> =
        specs.into_iter().map(|(id, spec)| (id, compile_stored(spec))).collect();
    let mut legacy_policies: HashMap<(i32, i32), Option<SlaPolicy>> = HashMap::new();
    let mut due = DueTimes {
        ids: Vec::with_capacity(rows.len()),
        first: Vec::with_capacity(rows.len()),
        resolution: Vec::with_capacity(rows.len()),
        next: Vec::with_capacity(rows.len()),
    };
    for (id, _queue, policy_id, premium, standard, tier, channel, priority, created_at, responded, resolved, pauses) in
        rows
    {
        let policy = match &policy_id {
            Some(p) => policies.get(p).and_then(Option::as_ref),
            None => legacy_policies.entry((premium, standard)).or_insert_with(|| legacy(premium, standard)).as_ref(),
        };
        let clock = TicketClock {
            created_at,
            first_response_at: responded,
            resolved_at: resolved,
            pauses: serde_json::from_value::<Vec<Pause>>(pauses).unwrap_or_default(),
        };
        let times = policy.map_or(Due::default(), |p| {
            p.due(
                tier.parse().unwrap_or(CustomerTier::Standard),
                channel.parse().unwrap_or(Channel::Email),
                priority.parse().unwrap_or(Priority::Normal),
                &clock,
            )
        });
        due.ids.push(id);
        due.first.push(times.first_response);
        due.resolution.push(times.resolution);
        due.next.push(times.next);
    }
    Ok(due)
}

/// Recompute and store the due times of `ticket_ids`; returns their whole rows as changes for
/// the desks (for a mutation that changed the ticket anyway).
pub async fn refresh(conn: &mut PgConnection, ticket_ids: &[String]) -> Result<Vec<NewChange>, sqlx::Error> {
    if ticket_ids.is_empty() {
        return Ok(Vec::new());
    }
    let due = due_times(conn, ticket_ids).await?;
    let updated: Vec<(String, String, Value)> = sqlx::query_as(
        "UPDATE tickets t SET first_response_due_at = u.f, resolution_due_at = u.r, sla_due_at = u.n \
         FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(id, f, r, n) \
         WHERE t.id = u.id RETURNING t.id, t.queue_id, to_jsonb(t.*)",
    )
    .bind(&due.ids)
    .bind(&due.first)
    .bind(&due.resolution)
    .bind(&due.next)
    .fetch_all(&mut *conn)
    .await?;
    Ok(updated
        .into_iter()
        .map(|(id, queue_id, data)| NewChange {
            bucket: queue_bucket(&queue_id),
            entity: "ticket",
            id,
            op: okno_sync::Op::Upsert,
            data,
        })
        .collect())
}

/// Recompute `ticket_ids` after a policy or calendar change: only the tickets whose due times
/// moved are written, and the desks get a `ticket_due` change (the three due times) instead of
/// the whole row; at 100k tickets the rows, not the arithmetic, were the cost (13 s → see
/// docs/BENCHMARKS.md).
async fn recompute_changed(conn: &mut PgConnection, ticket_ids: &[String]) -> Result<Vec<NewChange>, sqlx::Error> {
    let due = due_times(conn, ticket_ids).await?;
    /// (ticket, queue, first response, resolution, next) due times as written.
    type Moved = (String, String, Option<Millis>, Option<Millis>, Option<Millis>);
    let updated: Vec<Moved> = sqlx::query_as(
        "UPDATE tickets t SET first_response_due_at = u.f, resolution_due_at = u.r, sla_due_at = u.n \
         FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(id, f, r, n) \
         WHERE t.id = u.id AND (t.first_response_due_at IS DISTINCT FROM u.f \
           OR t.resolution_due_at IS DISTINCT FROM u.r OR t.sla_due_at IS DISTINCT FROM u.n) \
         RETURNING t.id, t.queue_id, u.f, u.r, u.n",
    )
    .bind(&due.ids)
    .bind(&due.first)
    .bind(&due.resolution)
    .bind(&due.next)
    .fetch_all(&mut *conn)
    .await?;
    Ok(updated
        .into_iter()
        .map(|(id, queue_id, first, resolution, next)| NewChange {
            bucket: queue_bucket(&queue_id),
            entity: okno_sync::TICKET_DUE,
            data: serde_json::json!({
                "id": id,
                "first_response_due_at": first,
                "resolution_due_at": resolution,
                "sla_due_at": next,
            }),
            id,
            op: okno_sync::Op::Upsert,
        })
        .collect())
}

/// The open tickets of `queue_ids`, for a recompute after their policy changed.
pub async fn open_tickets(conn: &mut PgConnection, queue_ids: &[String]) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM tickets WHERE queue_id = ANY($1) AND status NOT IN ('resolved', 'closed')")
        .bind(queue_ids)
        .fetch_all(&mut *conn)
        .await
}

/// Recompute `ticket_ids` in batches, each batch committed with its changelog entries, two
/// batches at a time (PostgreSQL spends most of the time updating the rows' indexes, on its own
/// core); returns how many tickets' due times moved.
pub async fn refresh_all(state: &crate::AppState, ticket_ids: &[String]) -> Result<usize, sqlx::Error> {
    use futures_util::StreamExt;
    // Owned batches: a future borrowing a slice is not `Send` for every lifetime axum asks about.
    let owned: Vec<Vec<String>> = ticket_ids.chunks(BATCH).map(<[String]>::to_vec).collect();
    let batches = futures_util::stream::iter(owned)
        .map(|batch| async move {
            let mut tx = state.pool.begin().await?;
            let changes = recompute_changed(&mut tx, &batch).await?;
            let version = crate::changelog::append_and_commit(tx, &changes).await?;
            state.live.committed(&changes, version);
            Ok::<usize, sqlx::Error>(changes.len())
        })
        .buffer_unordered(PARALLEL_BATCHES)
        .collect::<Vec<_>>()
        .await;
    batches.into_iter().sum()
}

/// Record an `sla_breached` report event for every open ticket whose next target passed by
/// `now` (once per ticket and due time, whichever instance gets there first); returns how many
/// were new.
pub async fn record_breaches(pool: &sqlx::PgPool, now: Millis) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO events (id, at, kind, ticket_id, queue_id, customer_id, data) \
         SELECT t.id || '/breach/' || t.sla_due_at, $1, 'sla_breached', t.id, t.queue_id, t.customer_id, \
           jsonb_build_object('due_at', t.sla_due_at, 'late_ms', $1 - t.sla_due_at, 'target', \
             CASE WHEN t.first_response_at IS NULL AND t.first_response_due_at = t.sla_due_at THEN 'first_response' ELSE 'resolution' END) \
         FROM tickets t WHERE t.sla_due_at < $1 AND t.status NOT IN ('resolved', 'closed') \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Watch for breaches every half minute until the process ends.
pub fn watch_breaches(state: &crate::AppState) -> tokio::task::JoinHandle<()> {
    let pool = state.pool.clone();
    tokio::spawn(async move {
        loop {
            let now = okno_core::unix_ms(std::time::SystemTime::now());
            match record_breaches(&pool, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(tickets = n, "SLA targets breached"),
                Err(e) => tracing::warn!(error = %e, "cannot record SLA breaches"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        }
    })
}
