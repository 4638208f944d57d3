//! Tickets the server opens itself (from mail, from the website's chat): the customer matched by
//! an identity (email address or phone digits) or created, the ticket numbered from the
//! `ticket_number` sequence, its due times from the queue's SLA policy, and the report
//! event — all in the caller's transaction, so a ticket never exists without its customer.

use okno_core::{Channel, EventKind, Identity, Millis, new_id};
use okno_sync::Op;
use serde_json::Value;
use sqlx::{PgConnection, Postgres, Transaction};

use crate::changelog::{NewChange, queue_bucket};

/// A ticket to open.
#[derive(Debug, Clone)]
pub struct Opening<'a> {
    pub queue_id: &'a str,
    pub channel: Channel,
    pub subject: &'a str,
    /// How the sender reached us; the customer is found by it.
    pub contact: Option<Identity>,
    /// The name a new customer gets.
    pub name: &'a str,
    pub now: Millis,
    /// What the `ticket_created` event records of where the ticket came from.
    pub source: Value,
}

#[derive(Debug, Clone)]
pub struct Opened {
    pub ticket_id: String,
    pub number: i64,
    pub customer_id: String,
    /// The customer's row for desks (new or known, it is sent with the ticket).
    pub customer: NewChange,
}

pub async fn open(tx: &mut Transaction<'_, Postgres>, o: &Opening<'_>) -> Result<Opened, sqlx::Error> {
    let normalized = o.contact.as_ref().map(crate::admin::normalized).filter(|n| !n.is_empty());
    let known: Option<(String, String)> = match (&o.contact, &normalized) {
        (Some(identity), Some(normalized)) => {
            sqlx::query_as(
                "SELECT c.id, c.tier FROM customer_identities i JOIN customers c ON c.id = i.customer_id \
                 WHERE i.kind = $1 AND i.normalized = $2 ORDER BY c.created_at LIMIT 1",
            )
            .bind(identity.kind.as_str())
            .bind(normalized)
            .fetch_optional(&mut **tx)
            .await?
        }
        _ => None,
    };
    let customer_id = match known {
        Some((id, _tier)) => id,
        None => {
            let id = new_id();
            sqlx::query("INSERT INTO customers (id, name, tier, created_at) VALUES ($1, $2, 'standard', $3)")
                .bind(&id)
                .bind(o.name)
                .bind(o.now)
                .execute(&mut **tx)
                .await?;
            if let (Some(identity), Some(normalized)) = (&o.contact, &normalized) {
                sqlx::query(
                    "INSERT INTO customer_identities (customer_id, kind, value, normalized) VALUES ($1, $2, $3, $4)",
                )
                .bind(&id)
                .bind(identity.kind.as_str())
                .bind(&identity.value)
                .bind(normalized)
                .execute(&mut **tx)
                .await?;
            }
            id
        }
    };
    let ticket_id = new_id();
    let number: i64 = sqlx::query_scalar(
        "INSERT INTO tickets (id, number, subject, customer_id, channel, status, priority, queue_id, created_at, updated_at) \
         VALUES ($1, nextval('ticket_number'), $2, $3, $4, 'new', 'normal', $5, $6, $6) RETURNING number",
    )
    .bind(&ticket_id)
    .bind(o.subject)
    .bind(&customer_id)
    .bind(o.channel.as_str())
    .bind(o.queue_id)
    .bind(o.now)
    .fetch_one(&mut **tx)
    .await?;
    // Due times from the queue's SLA policy (work::sla), as every later change recomputes them.
    crate::work::sla::refresh(tx, std::slice::from_ref(&ticket_id)).await?;
    sqlx::query(
        "INSERT INTO events (id, at, kind, ticket_id, queue_id, customer_id, data) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(format!("{ticket_id}/created"))
    .bind(o.now)
    .bind(EventKind::TicketCreated.as_str())
    .bind(&ticket_id)
    .bind(o.queue_id)
    .bind(&customer_id)
    .bind(&o.source)
    .execute(&mut **tx)
    .await?;
    let row = crate::admin::customer_row(tx, &customer_id).await?;
    let customer = NewChange {
        bucket: queue_bucket(o.queue_id),
        entity: "customer",
        id: customer_id.clone(),
        op: Op::Upsert,
        data: row,
    };
    Ok(Opened { ticket_id, number, customer_id, customer })
}

/// A report event on a ticket (`id` makes a repeat a no-op).
pub async fn record_event(
    tx: &mut Transaction<'_, Postgres>,
    id: &str,
    at: Millis,
    kind: EventKind,
    ticket_id: &str,
    queue_id: &str,
    data: Value,
) -> Result<(), sqlx::Error> {
    record_event_by(tx, id, at, kind, ticket_id, queue_id, None, data).await
}

/// [`record_event`], naming the account that acted (a note's author, a contractor answering).
#[allow(clippy::too_many_arguments)]
pub async fn record_event_by(
    conn: &mut PgConnection,
    id: &str,
    at: Millis,
    kind: EventKind,
    ticket_id: &str,
    queue_id: &str,
    operator_id: Option<&str>,
    data: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (id, at, kind, ticket_id, operator_id, queue_id, data) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(at)
    .bind(kind.as_str())
    .bind(ticket_id)
    .bind(operator_id)
    .bind(queue_id)
    .bind(data)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether `caller` works `queue_id` (team leads and admins work every queue).
pub async fn works_queue(conn: &mut PgConnection, caller: &crate::Caller, queue_id: &str) -> Result<bool, sqlx::Error> {
    if caller.sees_all_queues() {
        return Ok(true);
    }
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM operator_queues WHERE operator_id = $1 AND queue_id = $2)")
        .bind(&caller.id)
        .bind(queue_id)
        .fetch_one(conn)
        .await
}
