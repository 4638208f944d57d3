//! Running the saved rule set on a message as it comes in, inside the message's own
//! transaction: the ticket's queue (for a new ticket), priority, tags, assignee and status are
//! written with the message, every rule that fired is a `rule_fired` report event and a line on
//! the ticket's thread (an internal note by "Rules"), and auto-replies and forwards are queued
//! in the mail outbox by the same commit. So a message is never stored without its rules having
//! run, and a rule's effect never exists without the message that caused it.
//!
//! Guards that belong to the server, not to a rule: machine mail (auto-replies, bounces, the
//! center's own mail) runs no rules; an auto-reply goes to a sender at most once per template
//! and hour (RFC 3834); a rule assigns only a ticket nobody owns; a queue move applies to the
//! message that opens a ticket (moving a ticket other desks already hold is a person's call).

use std::sync::Arc;

use okno_core::{Channel, CustomerTier, EventKind, Millis, Priority, new_id};
use okno_rules::{Action, Assignment, Facts, Known, Outcome, RuleSet};
use serde_json::{Value, json};
use sqlx::{PgConnection, Postgres, Transaction};
use tokio::sync::Mutex;

/// The author of the thread lines that say what the rules did.
pub const RULES_AUTHOR: &str = "Rules";
/// One auto-reply per sender and template in this window.
const AUTO_REPLY_WINDOW: Millis = 3_600_000;

/// The compiled rule set of this instance, rebuilt when another instance saved a new version.
#[derive(Debug, Default)]
pub struct RuleCache {
    compiled: Mutex<Option<(i64, Arc<RuleSet>)>>,
}

impl RuleCache {
    /// The current rule set (read in `conn`'s transaction, so the version matches what it sees).
    pub async fn current(
        &self,
        conn: &mut PgConnection,
        own_addresses: &[String],
    ) -> Result<Arc<RuleSet>, sqlx::Error> {
        let version: i64 =
            sqlx::query_scalar("SELECT version FROM rule_sets WHERE id = 1").fetch_one(&mut *conn).await?;
        let mut cached = self.compiled.lock().await;
        if let Some((v, set)) = cached.as_ref()
            && *v == version
        {
            return Ok(set.clone());
        }
        let (rules, known) = stored_rules(conn, own_addresses).await?;
        let set = match RuleSet::compile(&rules, &known) {
            Ok(set) => Arc::new(set),
            Err(e) => {
                // Saved sets compiled when saved; a queue or template removed since makes this one
                // fail. Messages still come in, with no rules, and the log says why.
                tracing::error!(error = %e, version, "the saved rule set no longer compiles; running no rules");
                Arc::new(RuleSet::empty())
            }
        };
        *cached = Some((version, set.clone()));
        Ok(set)
    }
}

/// The saved rules and what they may refer to.
pub async fn stored_rules(
    conn: &mut PgConnection,
    own_addresses: &[String],
) -> Result<(Vec<okno_rules::Rule>, Known), sqlx::Error> {
    let rules: Value = sqlx::query_scalar("SELECT rules FROM rule_sets WHERE id = 1").fetch_one(&mut *conn).await?;
    let rules = serde_json::from_value(rules).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok((rules, known(conn, own_addresses).await?))
}

/// Every id a rule may name, from the database and the mail config.
pub async fn known(conn: &mut PgConnection, own_addresses: &[String]) -> Result<Known, sqlx::Error> {
    let queues = sqlx::query_scalar("SELECT id FROM queues").fetch_all(&mut *conn).await?;
    let operators =
        sqlx::query_scalar("SELECT id FROM operators WHERE disabled_at IS NULL").fetch_all(&mut *conn).await?;
    let templates = sqlx::query_scalar("SELECT id FROM templates WHERE owner_id IS NULL").fetch_all(&mut *conn).await?;
    let mailboxes = sqlx::query_scalar("SELECT DISTINCT name FROM mailbox_state").fetch_all(&mut *conn).await?;
    Ok(Known {
        queues,
        operators,
        templates,
        mailboxes,
        own_addresses: own_addresses.iter().map(|a| a.to_lowercase()).collect(),
    })
}

/// What the rules need to know of a customer found by the sender's identity.
#[derive(Debug, Clone)]
pub struct Sender {
    pub tier: CustomerTier,
    pub tags: Vec<String>,
}

impl Default for Sender {
    /// Someone the center has not met: a standard customer without tags.
    fn default() -> Self {
        Sender { tier: CustomerTier::Standard, tags: Vec::new() }
    }
}

/// The tier and tags of the customer an email address belongs to (a new sender is standard).
pub async fn sender_by_email(conn: &mut PgConnection, address: &str) -> Result<Sender, sqlx::Error> {
    let row: Option<(String, Value)> = sqlx::query_as(
        "SELECT c.tier, c.tags FROM customer_identities i JOIN customers c ON c.id = i.customer_id \
         WHERE i.kind = 'email' AND i.normalized = $1 ORDER BY c.created_at LIMIT 1",
    )
    .bind(address.trim().to_lowercase())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some((tier, tags)) => Sender {
            tier: tier.parse().unwrap_or(CustomerTier::Standard),
            tags: serde_json::from_value(tags).unwrap_or_default(),
        },
        None => Sender::default(),
    })
}

/// Whether the queue's calendar says the center is open at `at` (no policy: always).
pub async fn queue_open(conn: &mut PgConnection, queue_id: &str, at: Millis) -> Result<bool, sqlx::Error> {
    Ok(match super::sla::queue_policy(conn, queue_id).await? {
        Some(policy) => policy.calendar.is_open(at),
        None => true,
    })
}

/// The message as the rules see it, owned (the facts borrow from it).
#[derive(Debug, Clone)]
pub struct Message {
    pub channel: Channel,
    pub queue_id: String,
    pub mailbox: Option<String>,
    pub sender: Option<String>,
    pub subject: String,
    pub body: String,
    pub sender_info: Sender,
    pub ticket_tags: Vec<String>,
    pub open: bool,
    pub first: bool,
}

/// Where a message is and what it says, for [`Message::gather`].
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    pub channel: Channel,
    /// The queue it arrives in: its ticket's, or where a new ticket would open.
    pub queue_id: &'a str,
    /// The open ticket it joins, if any (its tags count; it is not a first message).
    pub joins: Option<&'a str>,
    pub mailbox: Option<&'a str>,
    /// The sender's email address, to find their customer by.
    pub sender: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub at: Millis,
}

impl Message {
    /// The message as the rules see it, with what the database knows: the ticket's tags, the
    /// sender's tier and tags, and whether the queue's calendar is open. One place for mail and
    /// chat alike.
    pub async fn gather(conn: &mut PgConnection, arrival: Arrival<'_>) -> Result<Message, sqlx::Error> {
        let ticket_tags: Vec<String> = match arrival.joins {
            Some(id) => {
                let tags: Value =
                    sqlx::query_scalar("SELECT tags FROM tickets WHERE id = $1").bind(id).fetch_one(&mut *conn).await?;
                serde_json::from_value(tags).unwrap_or_default()
            }
            None => Vec::new(),
        };
        let sender_info = match arrival.sender {
            Some(address) => sender_by_email(conn, address).await?,
            None => Sender::default(),
        };
        Ok(Message {
            channel: arrival.channel,
            queue_id: arrival.queue_id.to_owned(),
            mailbox: arrival.mailbox.map(str::to_owned),
            sender: arrival.sender.map(str::to_owned),
            subject: arrival.subject.to_owned(),
            body: arrival.body.to_owned(),
            sender_info,
            ticket_tags,
            open: queue_open(conn, arrival.queue_id, arrival.at).await?,
            first: arrival.joins.is_none(),
        })
    }

    /// Run `rules` over this message; the tags the rules see are the customer's and the ticket's.
    pub fn evaluate(&self, rules: &RuleSet) -> Outcome {
        let tags: Vec<String> = self.sender_info.tags.iter().chain(&self.ticket_tags).cloned().collect();
        rules.evaluate(&Facts {
            channel: self.channel,
            queue_id: &self.queue_id,
            mailbox: self.mailbox.as_deref(),
            sender: self.sender.as_deref(),
            subject: &self.subject,
            body: &self.body,
            tier: self.sender_info.tier,
            tags: &tags,
            business_hours_open: self.open,
            first_message: self.first,
        })
    }
}

/// What applying an outcome changed, for the changelog.
#[derive(Debug, Default)]
pub struct Applied {
    /// The thread line saying what fired.
    pub note: Option<Value>,
    /// Messages the rules sent (an auto-reply, forwards), as rows for the desks: emails queued
    /// for the outbox, or an auto-reply posted into a chat.
    pub outgoing: Vec<Value>,
}

/// Where an auto-reply goes: to the sender of an email, into the visitor's chat, or nowhere.
#[derive(Debug, Clone, Copy)]
pub enum ReplyTo<'a> {
    Email(&'a str),
    Chat,
    Nobody,
}

/// Write `outcome` on `ticket_id` (the message `message_id` caused it) in `tx`.
pub async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    ticket_id: &str,
    message_id: &str,
    reply_to: ReplyTo<'_>,
    outcome: &Outcome,
    opened: bool,
    at: Millis,
) -> Result<Applied, sqlx::Error> {
    let mut applied = Applied::default();
    if outcome.fired.is_empty() {
        return Ok(applied);
    }
    let mut lines = Vec::new();
    if !opened && let Some(queue) = &outcome.queue_id {
        lines.push(format!("the ticket stays in its queue (rules move only new tickets, not to {queue})"));
    }
    let (queue_id, assignee, old_tags): (String, Option<String>, Value) =
        sqlx::query_as("SELECT queue_id, assignee_id, tags FROM tickets WHERE id = $1 FOR NO KEY UPDATE")
            .bind(ticket_id)
            .fetch_one(&mut **tx)
            .await?;
    let mut tags: Vec<String> = serde_json::from_value(old_tags).unwrap_or_default();
    tags.extend(outcome.add_tags.iter().cloned());
    if outcome.spam {
        tags.push("spam".to_owned());
    }
    let tags = okno_core::normalize_tags(&tags).unwrap_or(tags);
    let status = (outcome.close || outcome.spam).then_some("closed");
    let new_assignee = match (&outcome.assign, &assignee) {
        (Some(_), Some(owner)) => {
            lines.push(format!("kept the ticket with its owner ({owner})"));
            None
        }
        (Some(Assignment::Operator(id)), None) => Some(id.clone()),
        (Some(Assignment::RoundRobin), None) => {
            let next = next_in_turn(tx, &queue_id).await?;
            if next.is_none() {
                lines.push("round-robin found no available operator in the queue".to_owned());
            }
            next
        }
        (None, _) => None,
    };
    sqlx::query(
        "UPDATE tickets SET tags = $2, priority = COALESCE($3, priority), status = COALESCE($4, status), \
           assignee_id = COALESCE($5, assignee_id), updated_at = $6 WHERE id = $1",
    )
    .bind(ticket_id)
    .bind(json!(tags))
    .bind(outcome.priority.map(Priority::as_str))
    .bind(status)
    .bind(new_assignee.as_deref())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    if let Some(operator) = &new_assignee {
        sqlx::query("INSERT INTO ticket_assignments (ticket_id, operator_id, assigned_at) VALUES ($1, $2, $3)")
            .bind(ticket_id)
            .bind(operator)
            .bind(at)
            .execute(&mut **tx)
            .await?;
    }
    for (n, fired) in outcome.fired.iter().enumerate() {
        crate::tickets::record_event(
            tx,
            &format!("{message_id}/rule/{n}"),
            at,
            EventKind::RuleFired,
            ticket_id,
            &queue_id,
            json!({ "rule_id": fired.rule_id, "name": fired.name, "actions": fired.actions, "message_id": message_id }),
        )
        .await?;
        lines.push(format!("«{}»: {}", fired.name, describe(&fired.actions)));
    }
    if let Some(template_id) = &outcome.auto_reply {
        let within_the_hour = |to: &str| format!("no auto-reply to {to}: one was sent within the hour");
        let sent = match reply_to {
            ReplyTo::Email(to) => {
                auto_reply(tx, ticket_id, template_id, to, at).await?.ok_or_else(|| within_the_hour(to))
            }
            ReplyTo::Chat => {
                chat_auto_reply(tx, ticket_id, template_id, at).await?.ok_or_else(|| within_the_hour("this chat"))
            }
            ReplyTo::Nobody => Err("no auto-reply: the message has no sender to answer".to_owned()),
        };
        match sent {
            Ok(row) => applied.outgoing.push(row),
            Err(line) => lines.push(line),
        }
    }
    for to in &outcome.forward {
        applied.outgoing.push(forward(tx, ticket_id, message_id, to, at).await?);
    }
    applied.note = Some(note(tx, ticket_id, &lines, at).await?);
    Ok(applied)
}

/// The available operator of `queue_id` whose last assignment is the oldest (never assigned
/// first); operator rows are locked so two messages at once take turns.
async fn next_in_turn(conn: &mut PgConnection, queue_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT o.id FROM operators o JOIN operator_queues g ON g.operator_id = o.id AND g.queue_id = $1 \
         WHERE o.state = 'available' AND o.disabled_at IS NULL AND o.role <> 'contractor' \
         ORDER BY (SELECT max(a.assigned_at) FROM ticket_assignments a WHERE a.operator_id = o.id) NULLS FIRST, o.id \
         LIMIT 1 FOR UPDATE OF o",
    )
    .bind(queue_id)
    .fetch_optional(&mut *conn)
    .await
}

fn describe(actions: &[Action]) -> String {
    let words: Vec<String> = actions
        .iter()
        .map(|a| match a {
            Action::SetQueue { queue_id } => format!("queue {queue_id}"),
            Action::SetPriority { priority } => format!("priority {priority}"),
            Action::AddTags { tags } => format!("tags {}", tags.join(", ")),
            Action::Assign { operator_id } => format!("assign {operator_id}"),
            Action::RoundRobin => "round-robin".to_owned(),
            Action::AutoReply { template_id } => format!("auto-reply {template_id}"),
            Action::Close => "close".to_owned(),
            Action::MarkSpam => "spam".to_owned(),
            Action::Forward { to } => format!("forward to {to}"),
        })
        .collect();
    words.join("; ")
}

/// The internal note that tells the thread what the rules did.
async fn note(
    tx: &mut Transaction<'_, Postgres>,
    ticket_id: &str,
    lines: &[String],
    at: Millis,
) -> Result<Value, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, body, created_at) \
         SELECT $1, $2, channel, 'internal', $3, $4, $5 FROM tickets WHERE id = $2 RETURNING to_jsonb(messages.*)",
    )
    .bind(new_id())
    .bind(ticket_id)
    .bind(RULES_AUTHOR)
    .bind(format!("Rules fired:\n{}", lines.join("\n")))
    .bind(at)
    .fetch_one(&mut **tx)
    .await
}

/// An outbound message from the template, queued for the outbox; `None` when this sender had
/// this auto-reply within the hour.
async fn auto_reply(
    tx: &mut Transaction<'_, Postgres>,
    ticket_id: &str,
    template_id: &str,
    to: &str,
    at: Millis,
) -> Result<Option<Value>, sqlx::Error> {
    if !first_auto_reply(tx, &to.trim().to_lowercase(), template_id, at).await? {
        return Ok(None);
    }
    let template = super::templates::load(tx, template_id).await?;
    let vars = super::templates::vars(tx, ticket_id, None).await?;
    let body = template.render_body(&vars).text;
    let email = okno_core::email::EmailView {
        kind: Some("auto_reply".into()),
        ..okno_core::email::EmailView::pending_reply(&[])
    };
    let files = serde_json::to_value(&template.attachments).unwrap_or_else(|_| json!([]));
    let row = outgoing(tx, ticket_id, "outbound", &template.name, &body, files, &email, at).await?;
    Ok(Some(row))
}

/// The template's answer posted into the chat, as the rules' own line the visitor sees at once;
/// `None` when this chat had this auto-reply within the hour (a rule that matches every message
/// answers the first only).
async fn chat_auto_reply(
    tx: &mut Transaction<'_, Postgres>,
    ticket_id: &str,
    template_id: &str,
    at: Millis,
) -> Result<Option<Value>, sqlx::Error> {
    if !first_auto_reply(tx, &format!("chat:{ticket_id}"), template_id, at).await? {
        return Ok(None);
    }
    let template = super::templates::load(tx, template_id).await?;
    let vars = super::templates::vars(tx, ticket_id, None).await?;
    let body = template.render_body(&vars).text;
    let row: Value = sqlx::query_scalar(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, body, created_at) \
         VALUES ($1, $2, 'chat', 'outbound', $3, $4, $5) RETURNING to_jsonb(messages.*)",
    )
    .bind(new_id())
    .bind(ticket_id)
    .bind(RULES_AUTHOR)
    .bind(&body)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Some(row))
}

/// Whether `address` (an email address, or `chat:<ticket>`) has not had `template_id` as an
/// auto-reply within the hour; if so it has now.
async fn first_auto_reply(
    tx: &mut Transaction<'_, Postgres>,
    address: &str,
    template_id: &str,
    at: Millis,
) -> Result<bool, sqlx::Error> {
    let recent: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM auto_replies WHERE address = $1 AND template_id = $2 AND at > $3)",
    )
    .bind(address)
    .bind(template_id)
    .bind(at - AUTO_REPLY_WINDOW)
    .fetch_one(&mut **tx)
    .await?;
    if recent {
        return Ok(false);
    }
    sqlx::query("INSERT INTO auto_replies (address, template_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(address)
        .bind(template_id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// A copy of message `message_id` to an outside address, queued for the outbox.
async fn forward(
    tx: &mut Transaction<'_, Postgres>,
    ticket_id: &str,
    message_id: &str,
    to: &str,
    at: Millis,
) -> Result<Value, sqlx::Error> {
    let (body, attachments): (String, Value) = sqlx::query_as("SELECT body, attachments FROM messages WHERE id = $1")
        .bind(message_id)
        .fetch_one(&mut **tx)
        .await?;
    let mut email = okno_core::email::EmailView::pending_reply(&[]);
    email.kind = Some("forward".into());
    email.to = vec![okno_core::email::EmailAddress::new(to)];
    let files: Vec<Value> = attachments
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| json!({ "name": a["name"], "mime": a["mime"], "size": a["size"], "sha256": a["sha256"] }))
        .collect();
    outgoing(tx, ticket_id, "internal", RULES_AUTHOR, &body, Value::Array(files), &email, at).await
}

#[allow(clippy::too_many_arguments)]
async fn outgoing(
    tx: &mut Transaction<'_, Postgres>,
    ticket_id: &str,
    direction: &str,
    author: &str,
    body: &str,
    attachments: Value,
    email: &okno_core::email::EmailView,
    at: Millis,
) -> Result<Value, sqlx::Error> {
    let id = new_id();
    let row: Value = sqlx::query_scalar(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, body, attachments, email, created_at) \
         VALUES ($1, $2, 'email', $3, $4, $5, $6, $7, $8) RETURNING to_jsonb(messages.*)",
    )
    .bind(&id)
    .bind(ticket_id)
    .bind(direction)
    .bind(author)
    .bind(body)
    .bind(attachments)
    .bind(serde_json::to_value(email).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    crate::mail::outbox::enqueue(tx, &id, at).await?;
    Ok(row)
}
