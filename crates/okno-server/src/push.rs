//! `POST /v1/push`: each mutation applied authoritatively in its own PostgreSQL transaction.
//!
//! Per mutation, in one transaction: check and advance the client's sequence, authorize
//! against the ticket's queue, apply, append the changes to the changelog with the next
//! versions, commit; only then is the outcome put in the response. A mutation the server
//! refuses is rolled back entirely, and its sequence number and verdict are recorded in a second,
//! small transaction so the client can go on with the next one, and a retry of it (the answer was
//! lost) gets the same rejection rather than `duplicate`.
//!
//! Conflict rules:
//! - messages (and later calls, events) are append-only, inserted with the client's id; a
//!   repeat (`ON CONFLICT DO NOTHING`) is a duplicate;
//! - ticket fields are last-writer-wins in server order;
//! - assigning a ticket to oneself is a claim: a conditional update (`assignee_id IS NULL`)
//!   plus the `ticket_assignments_one_owner` partial unique index, so a ticket never has two
//!   owners; a losing claim is rejected `already_claimed`. This holds for every role: a team
//!   lead takes over an owned ticket by unassigning it first. Assigning to someone else (and
//!   unassigning someone else) is for team leads and admins, last-writer-wins.
//! - row locks are `FOR NO KEY UPDATE`, not `FOR UPDATE`: inserting a message takes a
//!   `KEY SHARE` lock on its ticket (the foreign key), and two replies to one ticket upgrading
//!   that to `FOR UPDATE` would deadlock each other;
//! - a transaction PostgreSQL aborts as a deadlock victim or serialization failure is retried
//!   (a few times) before the push answers 500;
//! - authorization: team leads and admins touch every queue; operators and contractors only the
//!   queues granted to them in `operator_queues` (the same rule decides what they pull).
//!
//! Nothing one mutation carries can stall a client: an item the server cannot read (a newer
//! desk's mutation, a damaged entry) is refused `malformed`, and one PostgreSQL refuses for its
//! data (a NUL character, a value out of range) is refused `cannot_apply`; both are recorded like
//! any refusal, so the client rolls it back, lists it, and its later writes go on. Only faults
//! of the server itself (the database unreachable) answer 5xx, which the client retries.
//!
//! A sequence is bound to the mutation id that used it (`client_mutations`): the same sequence
//! again with another id is not a retry but a client whose database went back in time (restored
//! from a backup, copied to another machine), refused `sequence_reused` so it starts a new
//! client id rather than have its new writes taken for duplicates and dropped.

use axum::Json;
use axum::extract::State;
use okno_core::{EventKind, Millis, Mutation};
use okno_sync::{Op, Outcome, PushResponse, PushResult, SUPPORTED_SCHEMA, codes};
use serde_json::{Value, json};
use sqlx::{Acquire, PgConnection};

use crate::AppState;
use crate::auth::Caller;
use crate::changelog::{self, NewChange, queue_bucket, ticket_change, user_bucket};
use crate::error::AppError;
use crate::metrics::inc;

/// Mutations in one push request; the engine sends 100.
pub const MAX_PUSH: usize = 1000;

/// A push as sent, each mutation still JSON: one the server cannot read is refused on its own
/// rather than failing the whole request.
#[derive(Debug, serde::Deserialize)]
pub struct RawPush {
    pub client_id: String,
    pub schema_version: u32,
    pub mutations: Vec<RawItem>,
}

#[derive(Debug, serde::Deserialize)]
pub struct RawItem {
    pub client_seq: u64,
    #[serde(default)]
    pub mutation_id: String,
    pub mutation: Value,
}

/// One pushed item, read.
pub struct Item {
    pub client_seq: u64,
    pub mutation_id: String,
    /// `Err(why)` when the server cannot read it.
    pub mutation: Result<Mutation, String>,
}

impl From<RawItem> for Item {
    fn from(raw: RawItem) -> Self {
        let mutation = serde_json::from_value::<Mutation>(raw.mutation).map_err(|e| e.to_string());
        Item { client_seq: raw.client_seq, mutation_id: raw.mutation_id, mutation }
    }
}

#[tracing::instrument(name = "push", skip_all, fields(client = %req.client_id, operator = %caller.id, n = req.mutations.len()))]
pub(crate) async fn push(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<RawPush>,
) -> Result<Json<PushResponse>, AppError> {
    if !SUPPORTED_SCHEMA.contains(&req.schema_version) {
        return Err(AppError::UnsupportedSchema(req.schema_version));
    }
    if req.client_id.is_empty() || req.client_id.len() > 100 {
        return Err(AppError::BadRequest("client_id must be 1 to 100 characters".into()));
    }
    if req.mutations.len() > MAX_PUSH {
        return Err(AppError::BadRequest(format!("at most {MAX_PUSH} mutations per push")));
    }
    inc(&state.metrics.pushes);
    let mut results = Vec::with_capacity(req.mutations.len());
    let mut gap = false;
    // One connection for the whole push (each mutation still commits on its own): the pool's
    // acquire and health check once per request, not per mutation.
    let mut conn = state.pool.acquire().await?;
    for raw in req.mutations {
        let item = Item::from(raw);
        let outcome = if gap {
            rejected(codes::SEQUENCE_GAP, "an earlier mutation in this push was out of sequence".into())
        } else {
            let result = apply_with_retry(&mut conn, &caller, &req.client_id, &item).await?;
            if let Outcome::Applied { version } = result.outcome {
                // Committed: tell the sockets now, not after the whole push, so a batch of 100
                // does not hold back the first change's poke.
                state.live.committed(&result.committed, version);
                crate::chat::committed(&state.live, &result.committed);
                if result.committed.iter().any(|c| c.entity == "message") {
                    state.outbox_wake.notify_one();
                }
            }
            result.outcome
        };
        match &outcome {
            Outcome::Applied { .. } => inc(&state.metrics.mutations_applied),
            Outcome::Duplicate => inc(&state.metrics.mutations_duplicate),
            Outcome::Rejected { code, reason } => {
                gap |= code == codes::SEQUENCE_GAP;
                tracing::info!(client = %req.client_id, seq = item.client_seq, code, reason, "mutation rejected");
                inc(&state.metrics.mutations_rejected);
            }
        }
        results.push(PushResult { client_seq: item.client_seq, outcome });
    }
    Ok(Json(PushResponse { results }))
}

fn rejected(code: &str, reason: String) -> Outcome {
    Outcome::Rejected { code: code.to_owned(), reason }
}

enum SeqCheck {
    /// `seq` is the next one; `last_seq` is already advanced in this transaction.
    Next,
    Duplicate,
    Gap {
        last: i64,
    },
}

/// Advance the client's sequence to `seq` if it is the next one. The row stays locked until
/// the transaction ends, so two pushes from one client (a retry racing its original) apply
/// each sequence once.
async fn check_sequence(
    conn: &mut PgConnection,
    caller: &Caller,
    client_id: &str,
    seq: i64,
) -> Result<SeqCheck, AppError> {
    let advanced = sqlx::query(
        "UPDATE client_sequences SET last_seq = $3 WHERE client_id = $1 AND operator_id = $2 AND last_seq = $3 - 1",
    )
    .bind(client_id)
    .bind(&caller.id)
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    if advanced.rows_affected() == 1 {
        return Ok(SeqCheck::Next);
    }
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT operator_id, last_seq FROM client_sequences WHERE client_id = $1 FOR UPDATE")
            .bind(client_id)
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        None if seq == 1 => {
            let inserted = sqlx::query(
                "INSERT INTO client_sequences (client_id, operator_id, last_seq) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING",
            )
            .bind(client_id)
            .bind(&caller.id)
            .execute(&mut *conn)
            .await?;
            // Not inserted: a concurrent first push from this client got there first.
            Ok(if inserted.rows_affected() == 1 { SeqCheck::Next } else { SeqCheck::Duplicate })
        }
        None => Ok(SeqCheck::Gap { last: 0 }),
        Some((owner, _)) if owner != caller.id => {
            // Sequences are per client and per account: another account's pushes under this id
            // would make the owner's next mutations look like duplicates.
            Err(AppError::Forbidden("this client_id belongs to another account; use a client_id per account".into()))
        }
        Some((_, last)) if seq <= last => Ok(SeqCheck::Duplicate),
        Some((_, last)) if seq > last + 1 => Ok(SeqCheck::Gap { last }),
        Some(_) => {
            sqlx::query("UPDATE client_sequences SET last_seq = $2 WHERE client_id = $1")
                .bind(client_id)
                .bind(seq)
                .execute(&mut *conn)
                .await?;
            Ok(SeqCheck::Next)
        }
    }
}

/// What applying a mutation came to, before commit.
enum Verdict {
    Changes(Vec<NewChange>),
    Duplicate,
    Rejected { code: &'static str, reason: String },
}

fn refuse(code: &'static str, reason: impl Into<String>) -> Verdict {
    Verdict::Rejected { code, reason: reason.into() }
}

/// [`apply_item`], again when PostgreSQL aborted it for a deadlock or a serialization failure.
async fn apply_with_retry(
    conn: &mut PgConnection,
    caller: &Caller,
    client_id: &str,
    item: &Item,
) -> Result<ItemResult, AppError> {
    let mut attempt = 0;
    loop {
        match apply_item(conn, caller, client_id, item).await {
            Err(AppError::Db(e)) if attempt < 3 && is_transient(&e) => {
                attempt += 1;
                tracing::warn!(seq = item.client_seq, attempt, error = %e, "retrying the mutation");
            }
            other => return other,
        }
    }
}

fn is_transient(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "40P01" || c == "40001")
}

/// What one pushed mutation came to, and what it committed (for the live pokes).
#[derive(Debug)]
pub struct ItemResult {
    pub outcome: Outcome,
    /// Empty unless the outcome is `Applied`.
    pub committed: Vec<NewChange>,
}

impl From<Outcome> for ItemResult {
    fn from(outcome: Outcome) -> Self {
        ItemResult { outcome, committed: Vec::new() }
    }
}

/// Apply one pushed mutation in its own transaction and commit it.
pub async fn apply_item(
    conn: &mut PgConnection,
    caller: &Caller,
    client_id: &str,
    item: &Item,
) -> Result<ItemResult, AppError> {
    let seq = i64::try_from(item.client_seq).map_err(|_| AppError::BadRequest("client_seq out of range".into()))?;
    let mut tx = conn.begin().await?;
    match check_sequence(&mut tx, caller, client_id, seq).await? {
        SeqCheck::Next => {}
        // Dropping `tx` rolls back.
        SeqCheck::Duplicate => return Ok(earlier_verdict(&mut tx, client_id, seq, &item.mutation_id).await?.into()),
        SeqCheck::Gap { last } => {
            return Ok(rejected(codes::SEQUENCE_GAP, format!("expected client_seq {}, got {seq}", last + 1)).into());
        }
    }
    let verdict = match &item.mutation {
        Err(why) => refuse(codes::MALFORMED, format!("the server cannot read this mutation: {why}")),
        Ok(mutation) => {
            // A savepoint: a mutation PostgreSQL refuses for its data leaves the sequence's
            // transaction usable for recording the refusal.
            let mut sp = tx.begin().await?;
            match apply_mutation(&mut sp, caller, &item.mutation_id, mutation).await {
                Ok(v) => {
                    sp.commit().await?;
                    v
                }
                Err(e) => {
                    sp.rollback().await?;
                    match constraint_verdict(&e).or_else(|| data_verdict(&e)) {
                        Some(v) => v,
                        None => return Err(e.into()),
                    }
                }
            }
        }
    };
    match verdict {
        Verdict::Changes(changes) if !changes.is_empty() => {
            remember_mutation(&mut tx, client_id, seq, &item.mutation_id).await?;
            let version = changelog::append_and_commit(tx, &changes).await?;
            Ok(ItemResult { outcome: Outcome::Applied { version }, committed: changes })
        }
        Verdict::Changes(_) | Verdict::Duplicate => {
            remember_mutation(&mut tx, client_id, seq, &item.mutation_id).await?;
            tx.commit().await?;
            Ok(Outcome::Duplicate.into())
        }
        Verdict::Rejected { code, reason } => {
            tx.rollback().await?;
            // The refused mutation leaves no trace but its sequence number.
            let mut tx = conn.begin().await?;
            match check_sequence(&mut tx, caller, client_id, seq).await? {
                SeqCheck::Next => {
                    remember_mutation(&mut tx, client_id, seq, &item.mutation_id).await?;
                    sqlx::query("INSERT INTO client_rejections (client_id, seq, code, reason) VALUES ($1, $2, $3, $4)")
                        .bind(client_id)
                        .bind(seq)
                        .bind(code)
                        .bind(&reason)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(rejected(code, reason).into())
                }
                // A concurrent push of the same sequence decided first.
                SeqCheck::Duplicate => Ok(earlier_verdict(&mut tx, client_id, seq, &item.mutation_id).await?.into()),
                SeqCheck::Gap { last } => {
                    Ok(rejected(codes::SEQUENCE_GAP, format!("expected client_seq {}, got {seq}", last + 1)).into())
                }
            }
        }
    }
}

/// Binds `seq` of `client_id` to the mutation that used it.
async fn remember_mutation(
    conn: &mut PgConnection,
    client_id: &str,
    seq: i64,
    mutation_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO client_mutations (client_id, seq, mutation_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(client_id)
    .bind(seq)
    .bind(mutation_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The answer to a sequence already decided: the same rejection if it was refused (so a retry
/// whose first answer was lost still rolls back), else `duplicate` (it was applied); but
/// `sequence_reused` when the sequence was used by another mutation.
async fn earlier_verdict(
    conn: &mut PgConnection,
    client_id: &str,
    seq: i64,
    mutation_id: &str,
) -> Result<Outcome, sqlx::Error> {
    let used_by: Option<String> =
        sqlx::query_scalar("SELECT mutation_id FROM client_mutations WHERE client_id = $1 AND seq = $2")
            .bind(client_id)
            .bind(seq)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(used_by) = used_by
        && used_by != mutation_id
    {
        return Ok(Outcome::Rejected {
            code: codes::SEQUENCE_REUSED.to_owned(),
            reason: format!(
                "client_seq {seq} was used by another mutation: this database is older than what the server has \
                 seen from it (restored or copied); push under a new client id"
            ),
        });
    }
    let refused: Option<(String, String)> =
        sqlx::query_as("SELECT code, reason FROM client_rejections WHERE client_id = $1 AND seq = $2")
            .bind(client_id)
            .bind(seq)
            .fetch_optional(conn)
            .await?;
    Ok(match refused {
        Some((code, reason)) => Outcome::Rejected { code, reason },
        None => Outcome::Duplicate,
    })
}

/// PostgreSQL errors about the mutation's data (SQLSTATE class 22: a NUL character, a number
/// out of range, text in the wrong encoding): the same data fails every time, so it is a
/// refusal, not a fault to retry.
fn data_verdict(e: &sqlx::Error) -> Option<Verdict> {
    let db = e.as_database_error()?;
    let code = db.code()?;
    code.starts_with("22")
        .then(|| refuse(codes::CANNOT_APPLY, format!("the server cannot store this mutation: {}", db.message())))
}

/// Constraint violations that are verdicts on the mutation rather than server faults.
fn constraint_verdict(e: &sqlx::Error) -> Option<Verdict> {
    let db = e.as_database_error()?;
    match (db.code().as_deref(), db.constraint()) {
        (Some("23505"), Some("ticket_assignments_one_owner")) => {
            Some(refuse(codes::ALREADY_CLAIMED, "the ticket already has an owner"))
        }
        (Some("23503"), _) => Some(refuse(codes::NOT_FOUND, "a referenced row does not exist")),
        _ => None,
    }
}

struct TicketAccess {
    queue_id: String,
    assignee_id: Option<String>,
}

/// The ticket's queue and owner, if it exists and `caller` may touch it.
async fn ticket_access(
    conn: &mut PgConnection,
    caller: &Caller,
    ticket_id: &str,
) -> Result<Result<TicketAccess, Verdict>, sqlx::Error> {
    let row: Option<(String, Option<String>, bool)> = sqlx::query_as(
        "SELECT t.queue_id, t.assignee_id, \
           EXISTS (SELECT 1 FROM operator_queues g WHERE g.operator_id = $2 AND g.queue_id = t.queue_id) \
         FROM tickets t WHERE t.id = $1",
    )
    .bind(ticket_id)
    .bind(&caller.id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None => Err(refuse(codes::NOT_FOUND, format!("no ticket {ticket_id}"))),
        Some((_, _, granted)) if !granted && !caller.sees_all_queues() => {
            Err(refuse(codes::FORBIDDEN, "the ticket's queue is not granted to this account"))
        }
        Some((queue_id, assignee_id, _)) => Ok(TicketAccess { queue_id, assignee_id }),
    })
}

struct EventRow<'a> {
    kind: EventKind,
    at: Millis,
    ticket_id: Option<&'a str>,
    operator_id: Option<&'a str>,
    data: Value,
}

/// A report event derived from mutation `mutation_id`; `n` numbers the events of one mutation,
/// so the id is stable and a replay cannot record it twice.
async fn record(conn: &mut PgConnection, mutation_id: &str, n: u32, e: EventRow<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (id, at, kind, ticket_id, operator_id, queue_id, customer_id, data) \
         VALUES ($1, $2, $3, $4, $5, (SELECT queue_id FROM tickets WHERE id = $4), \
                 (SELECT customer_id FROM tickets WHERE id = $4), $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(format!("{mutation_id}/{n}"))
    .bind(e.at)
    .bind(e.kind.as_str())
    .bind(e.ticket_id)
    .bind(e.operator_id)
    .bind(e.data)
    .execute(conn)
    .await?;
    Ok(())
}

async fn apply_mutation(
    conn: &mut PgConnection,
    caller: &Caller,
    mutation_id: &str,
    mutation: &Mutation,
) -> Result<Verdict, sqlx::Error> {
    let me = caller.id.as_str();
    if let Err(why) = mutation.validate() {
        return Ok(refuse(codes::INVALID, why.to_string()));
    }
    match mutation {
        // The two hot mutations fold the authorization, the row update and the report events
        // into one statement each; the slower diagnosis runs only when nothing matched.
        Mutation::ReplyTicket { ticket_id, message_id, body, internal, at, cc, attachments } => {
            // A file must be on the server before a reply names it (uploaded to /v1/blobs).
            if !attachments.is_empty() {
                let hashes: Vec<&str> = attachments.iter().map(|a| a.sha256.as_str()).collect();
                let known: i64 = sqlx::query_scalar("SELECT count(DISTINCT sha256) FROM blobs WHERE sha256 = ANY($1)")
                    .bind(&hashes)
                    .fetch_one(&mut *conn)
                    .await?;
                let distinct = hashes.iter().collect::<std::collections::HashSet<_>>().len() as i64;
                if known != distinct {
                    return Ok(refuse(codes::INVALID, "an attachment was not uploaded to the server"));
                }
            }
            let files = serde_json::to_value(attachments).unwrap_or_else(|_| json!([]));
            // Checked by `validate` above: trimmed and normalised here as they are stored.
            let body = body.trim();
            let pending = okno_core::email::EmailView::pending_reply(&okno_core::reply_cc(cc).unwrap_or_default());
            let direction = if *internal { "internal" } else { "outbound" };
            let message: Option<(Value, String)> = sqlx::query_as(
                "INSERT INTO messages (id, ticket_id, channel, direction, author_name, operator_id, subject, body, created_at, attachments, email) \
                 SELECT $1, t.id, t.channel, $2, $3, $4, NULL, $5, $6, $10, \
                   CASE WHEN t.channel = 'email' AND $2 = 'outbound' THEN $9::jsonb END \
                 FROM tickets t WHERE t.id = $7 AND ($8 OR EXISTS \
                   (SELECT 1 FROM operator_queues g WHERE g.operator_id = $4 AND g.queue_id = t.queue_id)) \
                 ON CONFLICT (id) DO NOTHING \
                 RETURNING to_jsonb(messages.*), (SELECT queue_id FROM tickets WHERE id = $7)",
            )
            .bind(message_id)
            .bind(direction)
            .bind(&caller.name)
            .bind(me)
            .bind(body)
            .bind(*at)
            .bind(ticket_id)
            .bind(caller.sees_all_queues())
            .bind(serde_json::to_value(&pending).unwrap_or(Value::Null))
            .bind(files)
            .fetch_optional(&mut *conn)
            .await?;
            let Some((message, queue_id)) = message else {
                // No such ticket, not this account's queue, or the message is already stored.
                return Ok(match ticket_access(conn, caller, ticket_id).await? {
                    Err(v) => v,
                    Ok(_) => Verdict::Duplicate,
                });
            };
            if !message["email"].is_null() {
                // Sent by the outbox after this commits; see mail::outbox.
                crate::mail::outbox::enqueue(conn, message_id, *at).await?;
            }
            let preview: String = body.chars().take(140).collect();
            let kind = if *internal { EventKind::NoteAdded } else { EventKind::MessageSent };
            let ticket: Value = sqlx::query_scalar(
                "WITH old AS (SELECT first_response_at FROM tickets WHERE id = $1 FOR NO KEY UPDATE), \
                 upd AS (UPDATE tickets SET preview = $2, message_count = message_count + 1, updated_at = $3, \
                   status = CASE WHEN status = 'new' THEN 'open' ELSE status END, \
                   first_response_at = CASE WHEN $4 AND old.first_response_at IS NULL THEN $3 ELSE tickets.first_response_at END, \
                   sla_due_at = CASE WHEN $4 AND old.first_response_at IS NULL THEN NULL ELSE tickets.sla_due_at END \
                   FROM old WHERE tickets.id = $1 \
                   RETURNING tickets.*, ($4 AND old.first_response_at IS NULL) AS first_reply), \
                 ev AS (INSERT INTO events (id, at, kind, ticket_id, operator_id, queue_id, customer_id, data) \
                   SELECT $5 || e.n, $3, e.kind, upd.id, $6, upd.queue_id, upd.customer_id, jsonb_build_object('message_id', $7::text) \
                   FROM upd, (VALUES ('/0', $8), ('/1', 'first_response')) AS e(n, kind) \
                   WHERE e.n = '/0' OR upd.first_reply \
                   ON CONFLICT (id) DO NOTHING) \
                 SELECT to_jsonb(upd.*) - 'first_reply' FROM upd",
            )
            .bind(ticket_id)
            .bind(&preview)
            .bind(*at)
            .bind(!*internal)
            .bind(mutation_id)
            .bind(me)
            .bind(message_id)
            .bind(kind.as_str())
            .fetch_one(&mut *conn)
            .await?;
            // The first reply stops the first-response clock; the resolution one comes due next.
            let ticket = if ticket["first_response_at"] == json!(at) && !*internal {
                crate::work::sla::refresh(conn, std::slice::from_ref(ticket_id)).await?.pop().map_or(ticket, |c| c.data)
            } else {
                ticket
            };
            let mentioned = if *internal {
                crate::work::mentions::on_note(conn, me, &caller.name, ticket_id, &queue_id, message_id, body, *at)
                    .await?
            } else {
                crate::work::mentions::Mentioned::default()
            };
            let mut changes = vec![
                NewChange {
                    bucket: queue_bucket(&queue_id),
                    entity: "message",
                    id: message_id.clone(),
                    op: Op::Upsert,
                    data: mentioned.note.unwrap_or(message),
                },
                ticket_change(&queue_id, ticket_id, ticket),
            ];
            changes.extend(mentioned.changes);
            Ok(Verdict::Changes(changes))
        }
        Mutation::SetTicketStatus { ticket_id, status, at } => {
            let row: Option<(Value, String)> = sqlx::query_as(
                "WITH old AS (SELECT status FROM tickets t WHERE t.id = $1 AND ($6 OR EXISTS \
                   (SELECT 1 FROM operator_queues g WHERE g.operator_id = $5 AND g.queue_id = t.queue_id)) FOR NO KEY UPDATE), \
                 upd AS (UPDATE tickets SET status = $2, updated_at = $3 \
                   FROM old WHERE tickets.id = $1 \
                   RETURNING tickets.*, old.status AS from_status), \
                 ev AS (INSERT INTO events (id, at, kind, ticket_id, operator_id, queue_id, customer_id, data) \
                   SELECT $4, $3, 'ticket_status_changed', upd.id, $5, upd.queue_id, upd.customer_id, \
                     jsonb_build_object('from', upd.from_status, 'to', $2::text) FROM upd ON CONFLICT (id) DO NOTHING) \
                 SELECT to_jsonb(upd.*) - 'from_status', upd.queue_id FROM upd",
            )
            .bind(ticket_id)
            .bind(status.as_str())
            .bind(*at)
            .bind(format!("{mutation_id}/0"))
            .bind(me)
            .bind(caller.sees_all_queues())
            .fetch_optional(&mut *conn)
            .await?;
            let Some((ticket, queue_id)) = row else {
                return Ok(match ticket_access(conn, caller, ticket_id).await? {
                    Err(v) => v,
                    Ok(_) => refuse(codes::FORBIDDEN, "the ticket's queue is not granted to this account"),
                });
            };
            // Waiting on the customer pauses the resolution clock, resolving stops it (the
            // `tickets_clock` trigger keeps the pauses); the due times follow.
            let ticket = crate::work::sla::refresh(conn, std::slice::from_ref(ticket_id))
                .await?
                .pop()
                .map_or(ticket, |c| c.data);
            Ok(Verdict::Changes(vec![ticket_change(&queue_id, ticket_id, ticket)]))
        }
        Mutation::AssignTicket { ticket_id, assignee_id, at } => {
            let access = match ticket_access(conn, caller, ticket_id).await? {
                Ok(a) => a,
                Err(v) => return Ok(v),
            };
            let lead = caller.sees_all_queues();
            let ticket: Option<(Value, Option<String>)> = match assignee_id.as_deref() {
                // A claim, for every role: only an unowned (or already own) ticket. The WHERE is
                // re-checked after waiting on a concurrent claim's row lock, so one claim wins.
                Some(target) if target == me => {
                    sqlx::query_as(
                        "WITH old AS (SELECT assignee_id FROM tickets WHERE id = $1 FOR NO KEY UPDATE) \
                         UPDATE tickets SET assignee_id = $2, updated_at = $3, \
                           status = CASE WHEN status = 'new' THEN 'open' ELSE status END \
                         FROM old WHERE tickets.id = $1 AND (old.assignee_id IS NULL OR old.assignee_id = $2) \
                         RETURNING to_jsonb(tickets.*), old.assignee_id",
                    )
                    .bind(ticket_id)
                    .bind(me)
                    .bind(*at)
                    .fetch_optional(&mut *conn)
                    .await?
                }
                Some(_) if !lead => return Ok(refuse(codes::FORBIDDEN, "only a team lead assigns tickets to others")),
                None if !lead && access.assignee_id.as_deref() != Some(me) => {
                    return Ok(refuse(codes::FORBIDDEN, "only the owner or a team lead can unassign the ticket"));
                }
                target => {
                    sqlx::query_as(
                        "WITH old AS (SELECT assignee_id FROM tickets WHERE id = $1 FOR NO KEY UPDATE) \
                         UPDATE tickets SET assignee_id = $2, updated_at = $3, \
                           status = CASE WHEN status = 'new' AND $2 IS NOT NULL THEN 'open' ELSE status END \
                         FROM old WHERE tickets.id = $1 \
                         RETURNING to_jsonb(tickets.*), old.assignee_id",
                    )
                    .bind(ticket_id)
                    .bind(target)
                    .bind(*at)
                    .fetch_optional(&mut *conn)
                    .await?
                }
            };
            let Some((ticket, previous)) = ticket else {
                return Ok(refuse(codes::ALREADY_CLAIMED, "the ticket was taken by someone else"));
            };
            if previous != *assignee_id {
                if previous.is_some() {
                    sqlx::query(
                        "UPDATE ticket_assignments SET released_at = $2 WHERE ticket_id = $1 AND released_at IS NULL",
                    )
                    .bind(ticket_id)
                    .bind(*at)
                    .execute(&mut *conn)
                    .await?;
                }
                if let Some(target) = assignee_id {
                    sqlx::query(
                        "INSERT INTO ticket_assignments (ticket_id, operator_id, assigned_at) VALUES ($1, $2, $3)",
                    )
                    .bind(ticket_id)
                    .bind(target)
                    .bind(*at)
                    .execute(&mut *conn)
                    .await?;
                }
            }
            let data = json!({ "assignee_id": assignee_id, "from": previous });
            let ev = EventRow {
                kind: EventKind::TicketAssigned,
                at: *at,
                ticket_id: Some(ticket_id),
                operator_id: Some(me),
                data,
            };
            record(conn, mutation_id, 0, ev).await?;
            Ok(Verdict::Changes(vec![ticket_change(&access.queue_id, ticket_id, ticket)]))
        }
        Mutation::SetTicketTags { ticket_id, tags, at } => {
            let tags = match okno_core::normalize_tags(tags) {
                Ok(t) => t,
                Err(why) => return Ok(refuse(codes::INVALID, why.to_string())),
            };
            let access = match ticket_access(conn, caller, ticket_id).await? {
                Ok(a) => a,
                Err(v) => return Ok(v),
            };
            let ticket: Value = sqlx::query_scalar(
                "UPDATE tickets SET tags = $2, updated_at = $3 WHERE id = $1 RETURNING to_jsonb(tickets.*)",
            )
            .bind(ticket_id)
            .bind(json!(tags))
            .bind(*at)
            .fetch_one(&mut *conn)
            .await?;
            let data = json!({ "tags": tags });
            let ev = EventRow {
                kind: EventKind::TicketTagsChanged,
                at: *at,
                ticket_id: Some(ticket_id),
                operator_id: Some(me),
                data,
            };
            record(conn, mutation_id, 0, ev).await?;
            Ok(Verdict::Changes(vec![ticket_change(&access.queue_id, ticket_id, ticket)]))
        }
        Mutation::SetAgentState { operator_id, state, at } => {
            if operator_id != me && !caller.sees_all_queues() {
                return Ok(refuse(codes::FORBIDDEN, "only a team lead sets another operator's state"));
            }
            let Some((operator, from)) = crate::admin::set_state(conn, operator_id, *state, *at, None).await? else {
                return Ok(refuse(codes::NOT_FOUND, format!("no operator {operator_id}")));
            };
            let data = json!({ "from": from, "to": state });
            let ev = EventRow {
                kind: EventKind::AgentStateChanged,
                at: *at,
                ticket_id: None,
                operator_id: Some(operator_id),
                data,
            };
            record(conn, mutation_id, 0, ev).await?;
            Ok(Verdict::Changes(vec![changelog::operator_change(operator_id, operator)]))
        }
        Mutation::SaveCall {
            call_id,
            customer_id,
            ticket_id,
            queue_id,
            direction,
            from_number,
            to_number,
            started_at,
            answered_at,
            ended_at,
            outcome,
            disposition,
            notes,
            recording_ref,
            ..
        } => {
            // A call linked to a ticket lives in the ticket's queue bucket; otherwise in the
            // operator's own, so it reaches their other desks and their team lead's reports.
            let bucket = match ticket_id {
                Some(t) => match ticket_access(conn, caller, t).await? {
                    Ok(access) => queue_bucket(&access.queue_id),
                    Err(refused) => return Ok(refused),
                },
                None => user_bucket(me),
            };
            if let Some(c) = customer_id {
                let known: Option<i32> = sqlx::query_scalar("SELECT 1 FROM customers WHERE id = $1")
                    .bind(c)
                    .fetch_optional(&mut *conn)
                    .await?;
                if known.is_none() {
                    return Ok(refuse(codes::NOT_FOUND, format!("no customer {c}")));
                }
            }
            let row: Option<Value> = sqlx::query_scalar(
                "INSERT INTO calls (id, customer_id, ticket_id, queue_id, operator_id, direction, from_number, to_number, \
                   started_at, answered_at, ended_at, outcome, disposition, notes, recording_ref) \
                 VALUES ($1, $2, $3, (SELECT id FROM queues WHERE id = $4), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT (id) DO NOTHING RETURNING to_jsonb(calls.*)",
            )
            .bind(call_id)
            .bind(customer_id.as_deref())
            .bind(ticket_id.as_deref())
            .bind(queue_id.as_deref())
            .bind(me)
            .bind(direction.as_str())
            .bind(from_number)
            .bind(to_number)
            .bind(*started_at)
            .bind(*answered_at)
            .bind(*ended_at)
            .bind(outcome.as_str())
            .bind(disposition.as_deref())
            .bind(notes)
            .bind(recording_ref.as_deref())
            .fetch_optional(&mut *conn)
            .await?;
            // Append-only: the call was saved before (by another mutation id); nothing changes.
            let Some(call) = row else { return Ok(Verdict::Changes(Vec::new())) };
            let data = serde_json::to_value(mutation.call_ended_facts()).unwrap_or_default();
            let ev = EventRow {
                kind: EventKind::CallEnded,
                at: *ended_at,
                ticket_id: ticket_id.as_deref(),
                operator_id: Some(me),
                data,
            };
            record(conn, mutation_id, 0, ev).await?;
            Ok(Verdict::Changes(vec![NewChange {
                bucket,
                entity: "call",
                id: call_id.clone(),
                op: Op::Upsert,
                data: call,
            }]))
        }
    }
}
