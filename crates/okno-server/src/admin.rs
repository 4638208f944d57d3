//! Setting up accounts, queues and grants, and taking in new customers and tickets.
//!
//! Used by tests, the bench and (later) the intake of calls, emails and chats; not exposed over
//! HTTP yet. Ticket intake writes the ticket and its customer to the changelog, in the queue's
//! bucket, so every entitled desktop receives both.

use anyhow::Context;
use okno_core::{AgentState, Channel, CustomerTier, EventKind, Identity, IdentityKind, Millis, Priority, Role};
use okno_sync::Op;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::auth::hash_password;
use crate::changelog::{self, NewChange, queue_bucket};

pub async fn create_department(pool: &PgPool, id: &str, name: &str) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO departments (id, name) VALUES ($1, $2)").bind(id).bind(name).execute(pool).await?;
    Ok(())
}

pub async fn create_queue(
    pool: &PgPool,
    id: &str,
    name: &str,
    channel: Channel,
    department_id: &str,
) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO queues (id, name, channel, department_id) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(name)
        .bind(channel.as_str())
        .bind(department_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// A new account; without a password it cannot sign in.
pub async fn create_operator(
    pool: &PgPool,
    id: &str,
    name: &str,
    role: Role,
    password: Option<&str>,
) -> anyhow::Result<()> {
    let hash = match password {
        Some(p) => {
            let p = p.to_owned();
            Some(tokio::task::spawn_blocking(move || hash_password(&p)).await.context("hashing panicked")??)
        }
        None => None,
    };
    let mut tx = pool.begin().await?;
    let data: Value = sqlx::query_scalar(
        "INSERT INTO operators (id, name, role, state, state_since, password_hash) VALUES ($1, $2, $3, 'offline', 0, $4) \
         RETURNING jsonb_build_object('id', id, 'name', name, 'role', role, 'state', state, 'state_since', state_since)",
    )
    .bind(id)
    .bind(name)
    .bind(role.as_str())
    .bind(hash)
    .fetch_one(&mut *tx)
    .await?;
    changelog::append_and_commit(tx, &[changelog::operator_change(id, data)]).await?;
    Ok(())
}

/// Sets operator `id`'s availability at `at` (only when it is `only_from`, if given). Returns
/// the row as desks sync it and the state it replaced; `None` when there is no such operator, or
/// its state was not `only_from`. The caller records the report event and the change.
pub async fn set_state(
    conn: &mut sqlx::PgConnection,
    id: &str,
    state: AgentState,
    at: Millis,
    only_from: Option<AgentState>,
) -> sqlx::Result<Option<(Value, String)>> {
    sqlx::query_as(
        "WITH old AS (SELECT state FROM operators WHERE id = $1 FOR NO KEY UPDATE) \
         UPDATE operators SET state = $2, state_since = $3 FROM old \
         WHERE operators.id = $1 AND ($4::text IS NULL OR old.state = $4) \
         RETURNING jsonb_build_object('id', operators.id, 'name', operators.name, 'role', operators.role, \
           'state', operators.state, 'state_since', operators.state_since), old.state",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(at)
    .bind(only_from.map(AgentState::as_str))
    .fetch_optional(conn)
    .await
}

/// Sets (or with `None` clears) the email address of the account named `name`: where a mention
/// reaches a contractor who works without the desk. Returns whether the account exists.
pub async fn set_email(pool: &PgPool, name: &str, email: Option<&str>) -> anyhow::Result<bool> {
    if let Some(address) = email
        && okno_core::reply_cc(&[address.to_owned()]).is_err()
    {
        anyhow::bail!("{address:?} is not an email address");
    }
    let done = sqlx::query("UPDATE operators SET email = $2 WHERE name = $1 OR id = $1")
        .bind(name)
        .bind(email.map(str::trim))
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Disables (or enables again) the account named `name`; disabling also ends its sessions, so
/// its desks and live sockets are signed out. Returns whether the account exists.
pub async fn set_disabled(pool: &PgPool, name: &str, disabled: bool) -> anyhow::Result<bool> {
    let id: Option<String> = sqlx::query_scalar(
        "UPDATE operators SET disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, now()) END WHERE name = $1 RETURNING id",
    )
    .bind(name)
    .bind(disabled)
    .fetch_optional(pool)
    .await?;
    let Some(id) = id else { return Ok(false) };
    if disabled {
        crate::auth::end_sessions(pool, crate::auth::SessionsOf::Operator(&id)).await?;
    }
    tracing::info!(operator = %id, disabled, "account state changed by an admin");
    let action = if disabled { crate::audit::Action::AccountDisabled } else { crate::audit::Action::AccountEnabled };
    crate::audit::record(pool, admin_entry(action, name, serde_json::json!({ "operator": id }))).await?;
    Ok(true)
}

/// Ends every session of the account named `name` (a lost laptop); `None` if there is none.
pub async fn revoke_sessions(pool: &PgPool, name: &str) -> anyhow::Result<Option<u64>> {
    let id: Option<String> =
        sqlx::query_scalar("SELECT id FROM operators WHERE name = $1").bind(name).fetch_optional(pool).await?;
    let Some(id) = id else { return Ok(None) };
    let ended = crate::auth::end_sessions(pool, crate::auth::SessionsOf::Operator(&id)).await?;
    tracing::info!(operator = %id, tokens = ended, "sessions revoked by an admin");
    let detail = serde_json::json!({ "operator": id, "tokens": ended });
    crate::audit::record(pool, admin_entry(crate::audit::Action::SessionsRevoked, name, detail)).await?;
    Ok(Some(ended))
}

/// An entry for the admin command line (no signed-in actor: whoever runs `okno-server` on the
/// server's machine).
fn admin_entry<'a>(action: crate::audit::Action, name: &'a str, detail: serde_json::Value) -> crate::audit::Entry<'a> {
    crate::audit::Entry { action, actor: None, subject: Some(name), address: None, client_at: None, detail }
}

pub async fn grant_queue(pool: &PgPool, operator_id: &str, queue_id: &str) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO operator_queues (operator_id, queue_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(operator_id)
        .bind(queue_id)
        .execute(pool)
        .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub id: String,
    pub name: String,
    pub company: Option<String>,
    pub tier: CustomerTier,
    pub identities: Vec<Identity>,
    pub created_at: Millis,
}

/// What caller-ID and email matching compare: digits only for phones, lower case for emails.
pub(crate) fn normalized(identity: &Identity) -> String {
    match identity.kind {
        IdentityKind::Phone => identity.value.chars().filter(char::is_ascii_digit).collect(),
        IdentityKind::Email => identity.value.trim().to_lowercase(),
        _ => identity.value.trim().to_owned(),
    }
}

pub async fn create_customer(pool: &PgPool, c: &NewCustomer) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO customers (id, name, company, tier, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.company)
        .bind(c.tier.as_str())
        .bind(c.created_at)
        .execute(&mut *tx)
        .await?;
    for identity in &c.identities {
        sqlx::query(
            "INSERT INTO customer_identities (customer_id, kind, value, normalized) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&c.id)
        .bind(identity.kind.as_str())
        .bind(&identity.value)
        .bind(normalized(identity))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A customer as desks receive it: the row with its identities.
pub(crate) async fn customer_row(conn: &mut sqlx::PgConnection, customer_id: &str) -> Result<Value, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT to_jsonb(c.*) || jsonb_build_object('identities', COALESCE( \
           (SELECT jsonb_agg(jsonb_build_object('kind', i.kind, 'value', i.value) ORDER BY i.kind, i.value) \
            FROM customer_identities i WHERE i.customer_id = c.id), '[]'::jsonb)) \
         FROM customers c WHERE c.id = $1",
    )
    .bind(customer_id)
    .fetch_one(conn)
    .await
}

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub id: String,
    pub number: i64,
    pub subject: String,
    pub customer_id: String,
    pub channel: Channel,
    pub priority: Priority,
    pub queue_id: String,
    pub created_at: Millis,
}

/// Take in a ticket: the row, a `ticket_created` event, and changelog entries for the customer
/// (with identities) and the ticket, both in the queue's bucket. Returns the last version.
pub async fn create_ticket(pool: &PgPool, t: &NewTicket) -> anyhow::Result<u64> {
    let mut tx = pool.begin().await?;
    let ticket: Value = sqlx::query_scalar(
        "INSERT INTO tickets (id, number, subject, customer_id, channel, status, priority, queue_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'new', $6, $7, $8, $8) RETURNING to_jsonb(tickets.*)",
    )
    .bind(&t.id)
    .bind(t.number)
    .bind(&t.subject)
    .bind(&t.customer_id)
    .bind(t.channel.as_str())
    .bind(t.priority.as_str())
    .bind(&t.queue_id)
    .bind(t.created_at)
    .fetch_one(&mut *tx)
    .await?;
    // A ticket numbered here moves the sequence the server numbers its own tickets from (mail
    // intake) past it, so the two never hand out one number twice.
    sqlx::query("SELECT setval('ticket_number', GREATEST($1, (SELECT last_value FROM ticket_number)))")
        .bind(t.number)
        .execute(&mut *tx)
        .await?;
    let customer = customer_row(&mut tx, &t.customer_id).await?;
    sqlx::query(
        "INSERT INTO events (id, at, kind, ticket_id, queue_id, customer_id, data) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(format!("{}/created", t.id))
    .bind(t.created_at)
    .bind(EventKind::TicketCreated.as_str())
    .bind(&t.id)
    .bind(&t.queue_id)
    .bind(&t.customer_id)
    .bind(json!({ "channel": t.channel }))
    .execute(&mut *tx)
    .await?;
    let bucket = queue_bucket(&t.queue_id);
    let changes = [
        NewChange {
            bucket: bucket.clone(),
            entity: "customer",
            id: t.customer_id.clone(),
            op: Op::Upsert,
            data: customer,
        },
        NewChange { bucket, entity: "ticket", id: t.id.clone(), op: Op::Upsert, data: ticket },
    ];
    Ok(changelog::append_and_commit(tx, &changes).await?)
}
