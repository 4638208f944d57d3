//! The store's side of syncing with the central server: this desktop's client id and pull
//! cursor, applying a pulled batch, and settling outbox entries the server acknowledged or
//! refused. What to send and when is okno-sync's engine; the desktop's driver calls these as the
//! engine's outputs say.
//!
//! Rolling back: [`Store::apply`] keeps an "undo" beside each outbox entry (the ticket's or the
//! operator's fields before the write, the message or call it inserted). A refused entry puts
//! those back, unless a later pending entry touches the same row: then the fields are handed on
//! to that entry's undo instead, so the later write stays visible and, should it be refused too,
//! its undo goes back to before both. Pulled rows settle everything else: the engine pulls after
//! every refusal.
//!
//! Invariant: a pulled batch and its cursor are written in one transaction, and never while the
//! outbox holds an entry (the batch would overwrite an optimistic effect the server has not seen).

use okno_core::{Millis, Mutation};
use okno_sync::{Change, Op};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{Acquire, Sqlite, SqliteConnection, Transaction};

use crate::{Store, StoreError};

const CURSOR_KEY: &str = "sync_cursor";
const CLIENT_ID_KEY: &str = "sync_client_id";

/// One pending outbox entry as the protocol sends it: `seq` is its `client_seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub seq: u64,
    pub mutation_id: String,
    pub mutation: Mutation,
}

/// A mutation the server refused, as recorded for the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub seq: u64,
    /// The mutation's name (`reply_ticket`, `assign_ticket`, ...).
    pub name: String,
    pub code: String,
    pub reason: String,
    pub at: Millis,
}

/// What [`Store::apply_server_changes`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Written with its cursor; `skipped` changes were of unknown entities or malformed.
    Applied { applied: usize, skipped: usize },
    /// Nothing written: a local write is in the outbox. Push it and pull again.
    HeldBack,
}

/// How to take one outbox entry's local effect back.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Undo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ticket: Option<TicketBefore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operator: Option<OperatorBefore>,
    /// A message the entry inserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    /// A call the entry inserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    call_id: Option<String>,
}

/// The ticket fields any mutation may change, as they were before it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TicketBefore {
    id: String,
    status: String,
    assignee_id: Option<String>,
    tags: String,
    updated_at: i64,
    preview: String,
    message_count: i64,
    first_response_at: Option<i64>,
    sla_due_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OperatorBefore {
    id: String,
    state: String,
    state_since: i64,
}

type TicketFields = (String, Option<String>, String, i64, String, i64, Option<i64>, Option<i64>);

async fn ticket_before(conn: &mut SqliteConnection, id: &str) -> Result<Option<TicketBefore>, StoreError> {
    let row: Option<TicketFields> = sqlx::query_as(
        "SELECT status, assignee_id, tags, updated_at, preview, message_count, first_response_at, sla_due_at \
         FROM tickets WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(status, assignee_id, tags, updated_at, preview, message_count, first_response_at, sla_due_at)| {
        TicketBefore {
            id: id.to_owned(),
            status,
            assignee_id,
            tags,
            updated_at,
            preview,
            message_count,
            first_response_at,
            sla_due_at,
        }
    }))
}

/// The undo of `mutation`, read in the write's own transaction before it changes anything.
pub(crate) async fn undo_for(tx: &mut Transaction<'_, Sqlite>, mutation: &Mutation) -> Result<String, StoreError> {
    let mut undo = Undo::default();
    match mutation {
        Mutation::ReplyTicket { ticket_id, message_id, .. } => {
            undo.ticket = ticket_before(tx, ticket_id).await?;
            undo.message_id = Some(message_id.clone());
        }
        Mutation::SetTicketStatus { ticket_id, .. }
        | Mutation::AssignTicket { ticket_id, .. }
        | Mutation::SetTicketTags { ticket_id, .. } => undo.ticket = ticket_before(tx, ticket_id).await?,
        Mutation::SetAgentState { operator_id, .. } => {
            let row: Option<(String, i64)> = sqlx::query_as("SELECT state, state_since FROM operators WHERE id = ?")
                .bind(operator_id)
                .fetch_optional(&mut **tx)
                .await?;
            undo.operator =
                row.map(|(state, state_since)| OperatorBefore { id: operator_id.clone(), state, state_since });
        }
        Mutation::SaveCall { call_id, .. } => {
            // Saving a call is append-only: only a call this entry inserts is its to take back.
            let known: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM calls WHERE id = ?").bind(call_id).fetch_optional(&mut **tx).await?;
            if known.is_none() {
                undo.call_id = Some(call_id.clone());
            }
        }
    }
    Ok(serde_json::to_string(&undo)?)
}

async fn restore_ticket(conn: &mut SqliteConnection, t: &TicketBefore) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE tickets SET status = ?, assignee_id = ?, tags = ?, updated_at = ?, preview = ?, message_count = ?, \
           first_response_at = ?, sla_due_at = ? WHERE id = ?",
    )
    .bind(&t.status)
    .bind(&t.assignee_id)
    .bind(&t.tags)
    .bind(t.updated_at)
    .bind(&t.preview)
    .bind(t.message_count)
    .bind(t.first_response_at)
    .bind(t.sla_due_at)
    .bind(&t.id)
    .execute(&mut *conn)
    .await?;
    let tags: Vec<String> = serde_json::from_str(&t.tags).unwrap_or_default();
    set_ticket_tags(conn, &t.id, &tags).await
}

async fn set_ticket_tags(conn: &mut SqliteConnection, ticket_id: &str, tags: &[String]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM ticket_tags WHERE ticket_id = ?").bind(ticket_id).execute(&mut *conn).await?;
    for tag in tags {
        sqlx::query("INSERT OR IGNORE INTO ticket_tags (ticket_id, tag) VALUES (?, ?)")
            .bind(ticket_id)
            .bind(tag)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// This desktop's id towards the server for `operator_id`, made once per (local database,
    /// operator): sequences are per client and account on the server, so another operator
    /// signing in on this desk gets a client id of their own. (An id made before ids were per
    /// operator goes to the first operator who asks.)
    pub async fn sync_client_id(&self, operator_id: &str) -> Result<String, StoreError> {
        let key = format!("{CLIENT_ID_KEY}:{operator_id}");
        if let Some(id) = self.setting(&key).await? {
            return Ok(id);
        }
        let mut tx = self.write.begin().await?;
        let legacy: Option<String> = sqlx::query_scalar("DELETE FROM settings WHERE key = ? RETURNING value")
            .bind(CLIENT_ID_KEY)
            .fetch_optional(&mut *tx)
            .await?;
        let id = legacy.unwrap_or_else(okno_core::new_id);
        sqlx::query("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)")
            .bind(&key)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // Re-read: another caller may have written first.
        Ok(self.setting(&key).await?.unwrap_or(id))
    }

    /// The server saw this database's sequences with other writes (`sequence_reused`: it was
    /// restored from a backup or copied): starts a new client id for `operator_id` and numbers
    /// the pending outbox from 1 under it, in order, so those writes reach the server instead of
    /// being taken for duplicates. Returns the new id.
    pub async fn restart_client(&self, operator_id: &str) -> Result<String, StoreError> {
        let id = okno_core::new_id();
        let mut tx = self.write.begin().await?;
        let first: Option<i64> = sqlx::query_scalar("SELECT min(seq) FROM outbox").fetch_one(&mut *tx).await?;
        if let Some(first) = first {
            // Through negative numbers: shifting in place could collide with a row not yet moved.
            sqlx::query("UPDATE outbox SET seq = -seq").execute(&mut *tx).await?;
            sqlx::query("UPDATE outbox SET seq = -seq - ?").bind(first - 1).execute(&mut *tx).await?;
        }
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(max(seq), 0) FROM outbox").fetch_one(&mut *tx).await?;
        sqlx::query("UPDATE sqlite_sequence SET seq = ? WHERE name = 'outbox'").bind(last).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(format!("{CLIENT_ID_KEY}:{operator_id}"))
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(
            operator = operator_id,
            pending = last,
            "the server has seen this database's writes before: new client id"
        );
        Ok(id)
    }

    /// Pull everything again from the start (the server was restored from a backup): the rows
    /// pulled then overwrite what is here. Rows the server no longer has stay until deleted.
    pub async fn reset_sync_cursor(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM settings WHERE key = ?").bind(CURSOR_KEY).execute(&self.write).await?;
        Ok(())
    }

    /// The changelog version this store has applied (0 before the first sync).
    pub async fn sync_cursor(&self) -> Result<u64, StoreError> {
        Ok(self.setting(CURSOR_KEY).await?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Outbox entries waiting for the server, oldest first.
    pub async fn outbox_entries(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT seq, mutation_id, body FROM outbox ORDER BY seq LIMIT ?")
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await?;
        rows.into_iter()
            .map(|(seq, mutation_id, body)| {
                Ok(OutboxEntry { seq: seq as u64, mutation_id, mutation: serde_json::from_str(&body)? })
            })
            .collect()
    }

    /// How many local writes have not reached the server yet.
    pub async fn unsent(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&self.read).await?;
        Ok(n as u64)
    }

    /// Resolves after the next local write to the outbox (or at once if one happened since the
    /// last call): the sync driver's wake-up.
    pub async fn outbox_written(&self) {
        self.outbox_wake.notified().await;
    }

    /// The signed-in account, as the server names it: becomes "me" on this desktop.
    ///
    /// When another account than the last one signs in on this database, everything pulled
    /// for the last one goes first (tickets, messages, customers, calls, orders, report events,
    /// other operators, the cursor): it was theirs to see, under their rights, and a contractor
    /// signing in after a team lead must not find the lead's unmasked tickets here. Their
    /// unsent writes are not sent under the new account: each is listed among the refused
    /// writes with the code `operator_changed`. Returns how many such writes there were when
    /// another account's data was forgotten, `None` when the account is the last one (or the
    /// first on this database).
    pub async fn set_me(&self, id: &str, name: &str, role: okno_core::Role) -> Result<Option<u64>, StoreError> {
        let mut tx = self.write.begin().await?;
        let previous: Option<String> =
            sqlx::query_scalar("SELECT id FROM operators WHERE is_me = 1").fetch_optional(&mut *tx).await?;
        let mut forgotten = None;
        if let Some(previous) = previous.filter(|p| p != id) {
            forgotten = Some(forget_account(&mut tx, &previous, id).await?);
        }
        sqlx::query("UPDATE operators SET is_me = 0 WHERE id <> ?").bind(id).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO operators (id, name, role, state, state_since, is_me) VALUES (?, ?, ?, 'offline', 0, 1) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, is_me = 1",
        )
        .bind(id)
        .bind(name)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(forgotten)
    }

    /// Write a complete pulled batch and the cursor after it, in one transaction. Unknown
    /// entities and malformed rows are skipped with a warning: one bad row must not stop sync.
    pub async fn apply_server_changes(&self, changes: &[Change], cursor: u64) -> Result<BatchOutcome, StoreError> {
        let mut tx = self.write.begin().await?;
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&mut *tx).await?;
        if pending > 0 {
            return Ok(BatchOutcome::HeldBack);
        }
        let (mut applied, mut skipped) = (0, 0);
        for change in changes {
            // A savepoint per change: a row that fails leaves nothing half-written.
            let mut sp = tx.begin().await?;
            match apply_change(&mut sp, change).await {
                Ok(true) => {
                    sp.commit().await?;
                    applied += 1;
                }
                Ok(false) => {
                    sp.rollback().await?;
                    tracing::warn!(entity = %change.entity, id = %change.id, version = change.version, "unknown entity skipped");
                    skipped += 1;
                }
                Err(e) => {
                    sp.rollback().await?;
                    tracing::warn!(entity = %change.entity, id = %change.id, version = change.version, error = %e, "pulled row skipped");
                    skipped += 1;
                }
            }
        }
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(CURSOR_KEY)
        .bind(cursor.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BatchOutcome::Applied { applied, skipped })
    }

    /// The server refused entry `seq`: delete it, take its local effect back and record why.
    /// `None` if the entry is already gone (settled before).
    pub async fn reject_outbox(
        &self,
        seq: u64,
        code: &str,
        reason: &str,
        at: Millis,
    ) -> Result<Option<Rejection>, StoreError> {
        let seq = seq as i64;
        let mut tx = self.write.begin().await?;
        let row: Option<(String, String, String)> =
            sqlx::query_as("SELECT mutation_id, name, undo FROM outbox WHERE seq = ?")
                .bind(seq)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((mutation_id, name, undo)) = row else { return Ok(None) };
        let undo: Undo = serde_json::from_str(&undo).unwrap_or_default();
        let later: Vec<(i64, String)> = sqlx::query_as("SELECT seq, undo FROM outbox WHERE seq > ? ORDER BY seq")
            .bind(seq)
            .fetch_all(&mut *tx)
            .await?;
        let mut later: Vec<(i64, Undo)> =
            later.into_iter().map(|(s, u)| (s, serde_json::from_str(&u).unwrap_or_default())).collect();
        if let Some(message_id) = &undo.message_id {
            sqlx::query("DELETE FROM messages WHERE id = ?").bind(message_id).execute(&mut *tx).await?;
        }
        if let Some(call_id) = &undo.call_id {
            sqlx::query("DELETE FROM calls WHERE id = ?").bind(call_id).execute(&mut *tx).await?;
        }
        if let Some(ticket) = undo.ticket {
            let next = later.iter_mut().find(|(_, u)| u.ticket.as_ref().is_some_and(|t| t.id == ticket.id));
            match next {
                Some((next_seq, next_undo)) => {
                    next_undo.ticket = Some(ticket);
                    sqlx::query("UPDATE outbox SET undo = ? WHERE seq = ?")
                        .bind(serde_json::to_string(next_undo)?)
                        .bind(*next_seq)
                        .execute(&mut *tx)
                        .await?;
                }
                None => restore_ticket(&mut tx, &ticket).await?,
            }
        }
        if let Some(op) = undo.operator {
            let next = later.iter_mut().find(|(_, u)| u.operator.as_ref().is_some_and(|o| o.id == op.id));
            match next {
                Some((next_seq, next_undo)) => {
                    next_undo.operator = Some(op);
                    sqlx::query("UPDATE outbox SET undo = ? WHERE seq = ?")
                        .bind(serde_json::to_string(next_undo)?)
                        .bind(*next_seq)
                        .execute(&mut *tx)
                        .await?;
                }
                None => {
                    sqlx::query("UPDATE operators SET state = ?, state_since = ? WHERE id = ?")
                        .bind(&op.state)
                        .bind(op.state_since)
                        .bind(&op.id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        sqlx::query("DELETE FROM outbox WHERE seq = ?").bind(seq).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT OR REPLACE INTO sync_rejections (seq, mutation_id, name, code, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(seq)
        .bind(&mutation_id)
        .bind(&name)
        .bind(code)
        .bind(reason)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(seq, name = %name, code, reason, "local write refused by the server and rolled back");
        Ok(Some(Rejection { seq: seq as u64, name, code: code.to_owned(), reason: reason.to_owned(), at }))
    }

    /// The most recent refusal, for a window that opens after it happened.
    pub async fn last_rejection(&self) -> Result<Option<Rejection>, StoreError> {
        Ok(self.rejections(1).await?.into_iter().next())
    }

    /// The writes the server refused, newest first: the window's list of what did not reach it.
    pub async fn rejections(&self, limit: u32) -> Result<Vec<Rejection>, StoreError> {
        let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
            "SELECT seq, name, code, reason, at FROM sync_rejections ORDER BY at DESC, seq DESC LIMIT ?",
        )
        .bind(i64::from(limit.min(1000)))
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, name, code, reason, at)| Rejection { seq: seq as u64, name, code, reason, at })
            .collect())
    }
}

/// Another account signs in: drop what `previous` pulled and move its unsent writes to the
/// refused list (see [`Store::set_me`]). Returns how many writes were not sent.
async fn forget_account(tx: &mut Transaction<'_, Sqlite>, previous: &str, next: &str) -> Result<u64, StoreError> {
    let now = okno_core::unix_ms(std::time::SystemTime::now());
    let reason = format!("not sent: {next} signed in on this desk before it reached the server");
    let moved = sqlx::query(
        "INSERT OR REPLACE INTO sync_rejections (seq, mutation_id, name, code, reason, at) \
         SELECT seq, mutation_id, name, 'operator_changed', ?, ? FROM outbox",
    )
    .bind(&reason)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    // Children before parents (foreign keys); the FTS tables follow by their triggers.
    for statement in [
        "DELETE FROM outbox",
        "DELETE FROM sent_journal",
        "DELETE FROM messages",
        "DELETE FROM ticket_tags",
        "DELETE FROM calls",
        "DELETE FROM tickets",
        "DELETE FROM orders",
        "DELETE FROM customer_identities",
        "DELETE FROM customers",
        "DELETE FROM events",
        "DELETE FROM notices",
    ] {
        sqlx::query(statement).execute(&mut **tx).await?;
    }
    sqlx::query("DELETE FROM operators WHERE id <> ?").bind(next).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM settings WHERE key = ?").bind(CURSOR_KEY).execute(&mut **tx).await?;
    tracing::warn!(previous, next, unsent = moved, "another account signed in on this desk: its data was removed");
    Ok(moved)
}

/// `Ok(false)` for an entity this build does not know.
async fn apply_change(conn: &mut SqliteConnection, change: &Change) -> Result<bool, StoreError> {
    let id = change.id.as_str();
    if change.op == Op::Delete {
        return delete(conn, &change.entity, id).await;
    }
    let d = Row(&change.data);
    match change.entity.as_str() {
        "ticket" => upsert_ticket(conn, id, d).await?,
        "message" => upsert_message(conn, id, d).await?,
        "customer" => upsert_customer(conn, id, d).await?,
        "call" => upsert_call(conn, id, d).await?,
        okno_sync::TICKET_DUE => {
            // Only the badge and the sort follow; a ticket this desk does not hold stays unknown.
            sqlx::query("UPDATE tickets SET sla_due_at = ?, first_response_due_at = ? WHERE id = ?")
                .bind(d.opt_int("sla_due_at"))
                .bind(d.opt_int("first_response_due_at"))
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        okno_sync::NOTICE => {
            // Only the signed-in account's own; a team lead's pull never carries others'.
            sqlx::query(
                "INSERT INTO notices (id, kind, ticket_id, number, by_name, excerpt, at) VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(d.text("kind")?)
            .bind(d.text("ticket_id")?)
            .bind(d.int("number")?)
            .bind(d.opt_text("by").unwrap_or_default())
            .bind(d.opt_text("excerpt").unwrap_or_default())
            .bind(d.int("at")?)
            .execute(&mut *conn)
            .await?;
        }
        "operator" => {
            sqlx::query(
                "INSERT INTO operators (id, name, role, state, state_since) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, state = excluded.state, \
                   state_since = excluded.state_since",
            )
            .bind(id)
            .bind(d.text("name")?)
            .bind(d.text("role")?)
            .bind(d.text("state")?)
            .bind(d.int("state_since")?)
            .execute(&mut *conn)
            .await?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

async fn delete(conn: &mut SqliteConnection, entity: &str, id: &str) -> Result<bool, StoreError> {
    match entity {
        "message" => {
            sqlx::query("DELETE FROM messages WHERE id = ?").bind(id).execute(&mut *conn).await?;
        }
        "call" => {
            sqlx::query("DELETE FROM calls WHERE id = ?").bind(id).execute(&mut *conn).await?;
        }
        "ticket" => {
            sqlx::query("UPDATE calls SET ticket_id = NULL WHERE ticket_id = ?").bind(id).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM messages WHERE ticket_id = ?").bind(id).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM ticket_tags WHERE ticket_id = ?").bind(id).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM tickets WHERE id = ?").bind(id).execute(&mut *conn).await?;
        }
        // Customers and operators are referenced from everywhere; the server never deletes them.
        _ => return Ok(false),
    }
    Ok(true)
}

/// A pulled row's JSON object with typed field access.
#[derive(Clone, Copy)]
struct Row<'a>(&'a Value);

impl Row<'_> {
    fn missing(&self, field: &str) -> StoreError {
        StoreError::BadStoredValue(format!("pulled row without a valid {field:?}"))
    }
    fn text(&self, field: &str) -> Result<&str, StoreError> {
        self.0.get(field).and_then(Value::as_str).ok_or_else(|| self.missing(field))
    }
    fn opt_text(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(Value::as_str)
    }
    fn int(&self, field: &str) -> Result<i64, StoreError> {
        self.0.get(field).and_then(Value::as_i64).ok_or_else(|| self.missing(field))
    }
    fn opt_int(&self, field: &str) -> Option<i64> {
        self.0.get(field).and_then(Value::as_i64)
    }
    /// A JSON array column (tags, attachments), as the text SQLite keeps.
    fn json_text(&self, field: &str) -> String {
        self.0.get(field).filter(|v| v.is_array()).map_or_else(|| "[]".to_owned(), Value::to_string)
    }
}

/// Queues, departments and other operators are not in the changelog (yet): a row naming one
/// this desktop has not seen gets a placeholder, named by its id, so foreign keys hold.
async fn ensure_queue(conn: &mut SqliteConnection, queue_id: &str, channel: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT OR IGNORE INTO departments (id, name) VALUES ('server', 'Server')").execute(&mut *conn).await?;
    sqlx::query("INSERT OR IGNORE INTO queues (id, name, channel, department_id) VALUES (?, ?, ?, 'server')")
        .bind(queue_id)
        .bind(queue_id)
        .bind(channel)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn ensure_operator(conn: &mut SqliteConnection, id: Option<&str>, name: Option<&str>) -> Result<(), StoreError> {
    if let Some(id) = id {
        sqlx::query(
            "INSERT OR IGNORE INTO operators (id, name, role, state, state_since) VALUES (?, ?, 'operator', 'offline', 0)",
        )
        .bind(id)
        .bind(name.unwrap_or(id))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn ensure_customer(conn: &mut SqliteConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT OR IGNORE INTO customers (id, name, tier, created_at) VALUES (?, 'Unknown customer', 'standard', 0)",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn upsert_ticket(conn: &mut SqliteConnection, id: &str, d: Row<'_>) -> Result<(), StoreError> {
    let (queue_id, channel, customer_id) = (d.text("queue_id")?, d.text("channel")?, d.text("customer_id")?);
    ensure_queue(conn, queue_id, channel).await?;
    ensure_customer(conn, customer_id).await?;
    ensure_operator(conn, d.opt_text("assignee_id"), None).await?;
    let tags = d.json_text("tags");
    // A ticket that gained messages since this desktop last saw it is unread again.
    sqlx::query(
        "INSERT INTO tickets (id, number, subject, customer_id, channel, status, priority, queue_id, assignee_id, tags, \
           created_at, updated_at, sla_due_at, first_response_due_at, first_response_at, unread, preview, message_count, \
           visitor_read_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 1, ?16, ?17, ?18) \
         ON CONFLICT (id) DO UPDATE SET number = excluded.number, subject = excluded.subject, \
           customer_id = excluded.customer_id, channel = excluded.channel, status = excluded.status, \
           priority = excluded.priority, queue_id = excluded.queue_id, assignee_id = excluded.assignee_id, \
           tags = excluded.tags, created_at = excluded.created_at, updated_at = excluded.updated_at, \
           sla_due_at = excluded.sla_due_at, first_response_due_at = excluded.first_response_due_at, \
           first_response_at = excluded.first_response_at, preview = excluded.preview, \
           unread = CASE WHEN excluded.message_count > tickets.message_count THEN 1 ELSE tickets.unread END, \
           message_count = excluded.message_count, visitor_read_at = excluded.visitor_read_at",
    )
    .bind(id)
    .bind(d.int("number")?)
    .bind(d.text("subject")?)
    .bind(customer_id)
    .bind(channel)
    .bind(d.text("status")?)
    .bind(d.text("priority")?)
    .bind(queue_id)
    .bind(d.opt_text("assignee_id"))
    .bind(&tags)
    .bind(d.int("created_at")?)
    .bind(d.int("updated_at")?)
    .bind(d.opt_int("sla_due_at"))
    .bind(d.opt_int("first_response_due_at"))
    .bind(d.opt_int("first_response_at"))
    .bind(d.opt_text("preview").unwrap_or(""))
    .bind(d.opt_int("message_count").unwrap_or(0))
    .bind(d.opt_int("visitor_read_at"))
    .execute(&mut *conn)
    .await?;
    let tags: Vec<String> = serde_json::from_str(&tags).unwrap_or_default();
    set_ticket_tags(conn, id, &tags).await
}

async fn upsert_message(conn: &mut SqliteConnection, id: &str, d: Row<'_>) -> Result<(), StoreError> {
    let ticket_id = d.text("ticket_id")?;
    let known: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM tickets WHERE id = ?").bind(ticket_id).fetch_optional(&mut *conn).await?;
    if known.is_none() {
        return Err(StoreError::NotFound { what: "ticket", id: ticket_id.to_owned() });
    }
    let author = d.text("author_name")?;
    ensure_operator(conn, d.opt_text("operator_id"), Some(author)).await?;
    sqlx::query(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, operator_id, subject, body, attachments, created_at, email) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET ticket_id = excluded.ticket_id, channel = excluded.channel, \
           direction = excluded.direction, author_name = excluded.author_name, operator_id = excluded.operator_id, \
           subject = excluded.subject, body = excluded.body, attachments = excluded.attachments, \
           created_at = excluded.created_at, email = excluded.email",
    )
    .bind(id)
    .bind(ticket_id)
    .bind(d.text("channel")?)
    .bind(d.text("direction")?)
    .bind(author)
    .bind(d.opt_text("operator_id"))
    .bind(d.opt_text("subject"))
    .bind(d.text("body")?)
    .bind(d.json_text("attachments"))
    .bind(d.int("created_at")?)
    .bind(d.0.get("email").filter(|v| v.is_object()).map(Value::to_string))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What caller-ID matching compares: digits only for phones, lower case for emails (the
/// server's rule).
fn normalized(kind: &str, value: &str) -> String {
    match kind {
        "phone" => value.chars().filter(char::is_ascii_digit).collect(),
        "email" => value.trim().to_lowercase(),
        _ => value.trim().to_owned(),
    }
}

async fn upsert_customer(conn: &mut SqliteConnection, id: &str, d: Row<'_>) -> Result<(), StoreError> {
    let identities: Vec<(&str, &str)> = d
        .0
        .get("identities")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|i| Some((i.get("kind")?.as_str()?, i.get("value")?.as_str()?))).collect())
        .unwrap_or_default();
    let contacts: Vec<&str> = identities.iter().map(|(_, v)| *v).collect();
    sqlx::query(
        "INSERT INTO customers (id, name, company, tier, tags, created_at, contacts_text) VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, company = excluded.company, tier = excluded.tier, \
           tags = excluded.tags, created_at = excluded.created_at, contacts_text = excluded.contacts_text",
    )
    .bind(id)
    .bind(d.text("name")?)
    .bind(d.opt_text("company"))
    .bind(d.text("tier")?)
    .bind(d.json_text("tags"))
    .bind(d.int("created_at")?)
    .bind(contacts.join(" "))
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM customer_identities WHERE customer_id = ?").bind(id).execute(&mut *conn).await?;
    for (kind, value) in identities {
        sqlx::query(
            "INSERT OR IGNORE INTO customer_identities (customer_id, kind, value, normalized) VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(kind)
        .bind(value)
        .bind(normalized(kind, value))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn upsert_call(conn: &mut SqliteConnection, id: &str, d: Row<'_>) -> Result<(), StoreError> {
    ensure_operator(conn, d.opt_text("operator_id"), None).await?;
    // References this desktop cannot resolve are dropped rather than invented: a call without
    // its ticket is still history.
    sqlx::query(
        "INSERT INTO calls (id, customer_id, ticket_id, queue_id, operator_id, direction, from_number, to_number, \
           started_at, answered_at, ended_at, outcome, disposition, notes, recording_ref) \
         VALUES (?1, (SELECT id FROM customers WHERE id = ?2), (SELECT id FROM tickets WHERE id = ?3), \
           (SELECT id FROM queues WHERE id = ?4), ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
         ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, ticket_id = excluded.ticket_id, \
           queue_id = excluded.queue_id, operator_id = excluded.operator_id, direction = excluded.direction, \
           from_number = excluded.from_number, to_number = excluded.to_number, started_at = excluded.started_at, \
           answered_at = excluded.answered_at, ended_at = excluded.ended_at, outcome = excluded.outcome, \
           disposition = excluded.disposition, notes = excluded.notes, recording_ref = excluded.recording_ref",
    )
    .bind(id)
    .bind(d.opt_text("customer_id"))
    .bind(d.opt_text("ticket_id"))
    .bind(d.opt_text("queue_id"))
    .bind(d.opt_text("operator_id"))
    .bind(d.text("direction")?)
    .bind(d.text("from_number")?)
    .bind(d.text("to_number")?)
    .bind(d.int("started_at")?)
    .bind(d.opt_int("answered_at"))
    .bind(d.opt_int("ended_at"))
    .bind(d.text("outcome")?)
    .bind(d.opt_text("disposition"))
    .bind(d.opt_text("notes").unwrap_or(""))
    .bind(d.opt_text("recording_ref"))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
