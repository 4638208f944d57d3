//! Sending operators' email replies: rows of `mail_outbox`, queued by the push that stored the
//! reply (same transaction, so a reply is never stored without being queued), sent over SMTP by
//! whichever instance claims them first (`FOR UPDATE SKIP LOCKED`).
//!
//! Each message's delivery state lives on the message (`email.delivery`: queued, sent, failed
//! with the mail server's reason) and reaches the desks through the changelog like any change.
//! A transient failure (4xx, a dropped connection) is retried with backoff; a permanent one (5xx)
//! or the last attempt fails the message. Invariant (with the table's): a row is `sending` in a
//! committed transaction before SMTP starts and never returns to `queued`, so a crash mid-send
//! leaves a `failed` message that says so, never a second copy in the customer's inbox.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use okno_core::email::{DeliveryState, EmailAddress, EmailDelivery, EmailView};
use okno_core::{AttachmentRef, Millis};
use okno_mail::thread::reply_subject;
use okno_mail::{OutgoingAttachment, OutgoingMail, compose};
use okno_sync::Op;
use serde_json::{Value, json};
use sqlx::PgConnection;
use sqlx::types::Json;

use super::config::{Mailbox, Security};
use crate::AppState;
use crate::changelog::{self, NewChange, queue_bucket};

/// Attempts before a transiently failing reply is given up.
pub const MAX_ATTEMPTS: i32 = 8;
/// A row `sending` for longer than this belongs to an instance that died mid-send.
const STALE_SENDING: Millis = 5 * 60_000;

/// Queue `message_id` (a reply just inserted in this transaction) for sending.
pub async fn enqueue(conn: &mut PgConnection, message_id: &str, at: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mail_outbox (message_id, mailbox, state, next_attempt_at, updated_at) \
         SELECT $1, COALESCE((SELECT m.email->>'mailbox' FROM messages m WHERE m.ticket_id = r.ticket_id \
           AND m.direction = 'inbound' AND m.email ? 'mailbox' ORDER BY m.created_at DESC LIMIT 1), ''), 'queued', $2, $2 \
         FROM messages r WHERE r.id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(message_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The delay before attempt `attempts + 1`: 30 s doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    Duration::from_secs(30 * 2u64.pow(exponent)).min(Duration::from_secs(3600))
}

/// Send due replies until the process ends. `wake` is notified by pushes that queued one.
pub async fn run(state: AppState, mailboxes: Arc<Vec<(Mailbox, String)>>, wake: Arc<tokio::sync::Notify>) {
    if let Err(e) = fail_interrupted(&state).await {
        tracing::warn!(error = %e, "cannot check the outbox for interrupted sends");
    }
    loop {
        match send_next(&state, &mailboxes).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = format!("{e:#}"), "outbox"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
    }
}

fn now() -> Millis {
    okno_core::unix_ms(SystemTime::now())
}

/// Rows left `sending` by a dead instance become failed: whether the mail server took the
/// message is unknown, and sending it again could deliver it twice.
async fn fail_interrupted(state: &AppState) -> anyhow::Result<()> {
    let stale: Vec<String> =
        sqlx::query_scalar("SELECT message_id FROM mail_outbox WHERE state = 'sending' AND updated_at < $1")
            .bind(now() - STALE_SENDING)
            .fetch_all(&state.pool)
            .await?;
    for id in stale {
        let reason = "the server stopped while sending; it was not sent again so the customer never gets it twice";
        finish(state, &id, DeliveryState::Failed, Some(reason), None).await?;
    }
    Ok(())
}

/// Claim and send one due reply; false when none is due.
async fn send_next(state: &AppState, mailboxes: &[(Mailbox, String)]) -> anyhow::Result<bool> {
    let at = now();
    let claimed: Option<(String, String, i32)> = sqlx::query_as(
        "UPDATE mail_outbox SET state = 'sending', attempts = attempts + 1, updated_at = $1 \
         WHERE message_id = (SELECT message_id FROM mail_outbox WHERE state = 'queued' AND next_attempt_at <= $1 \
           ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING message_id, mailbox, attempts",
    )
    .bind(at)
    .fetch_optional(&state.pool)
    .await?;
    let Some((message_id, mailbox_name, attempts)) = claimed else { return Ok(false) };
    let reply = match load(state, &message_id, &mailbox_name, mailboxes).await {
        Ok(reply) => reply,
        Err(why) => {
            finish(state, &message_id, DeliveryState::Failed, Some(&format!("{why:#}")), None).await?;
            return Ok(true);
        }
    };
    let (mailbox, mail) = reply;
    let outcome = send(mailbox, &mail).await;
    match outcome {
        Ok(()) => {
            tracing::info!(message = %message_id, to = ?mail.to, "reply sent");
            finish(state, &message_id, DeliveryState::Sent, None, Some(&mail)).await?;
        }
        Err(SendError { permanent, reason }) => {
            let give_up = permanent || attempts >= MAX_ATTEMPTS;
            tracing::warn!(message = %message_id, attempts, permanent, %reason, "reply not sent");
            if give_up {
                finish(state, &message_id, DeliveryState::Failed, Some(&reason), Some(&mail)).await?;
            } else {
                let next = at + i64::try_from(backoff(attempts).as_millis()).unwrap_or(i64::MAX);
                retry_later(state, &message_id, &reason, next, attempts).await?;
            }
        }
    }
    Ok(true)
}

struct SendError {
    permanent: bool,
    reason: String,
}

async fn send(mailbox: &Mailbox, mail: &OutgoingMail) -> Result<(), SendError> {
    let composed = compose(mail).map_err(|e| SendError { permanent: true, reason: e.to_string() })?;
    let smtp = &mailbox.smtp;
    let transient = |reason: String| SendError { permanent: false, reason };
    let builder = match smtp.security {
        Security::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
            .map_err(|e| SendError { permanent: true, reason: e.to_string() })?,
        Security::StartTlsIfOffered => {
            let parameters = TlsParameters::new(smtp.host.clone())
                .map_err(|e| SendError { permanent: true, reason: e.to_string() })?;
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host).tls(Tls::Opportunistic(parameters))
        }
    };
    let mut builder = builder.port(smtp.port).timeout(Some(Duration::from_secs(30)));
    if let Some(user) = &smtp.user {
        builder = builder.credentials(Credentials::new(user.clone(), mailbox.password.0.clone()));
    }
    let transport = builder.build();
    let from = composed.envelope_from.parse().map_err(|_| transient("bad envelope sender".into()))?;
    let to: Vec<lettre::Address> = composed.recipients.iter().filter_map(|r| r.parse().ok()).collect();
    let envelope = lettre::address::Envelope::new(Some(from), to)
        .map_err(|e| SendError { permanent: true, reason: e.to_string() })?;
    match transport.send_raw(&envelope, &composed.bytes).await {
        Ok(_) => Ok(()),
        Err(e) => Err(SendError { permanent: e.is_permanent(), reason: e.to_string() }),
    }
}

/// Everything the reply needs: its text and attachments, where it goes, and the thread.
async fn load<'a>(
    state: &AppState,
    message_id: &str,
    mailbox_name: &str,
    mailboxes: &'a [(Mailbox, String)],
) -> anyhow::Result<(&'a Mailbox, OutgoingMail)> {
    type Row = (String, String, String, Millis, Json<Vec<AttachmentRef>>, Option<Json<EmailView>>);
    let (ticket_id, body, author, created_at, Json(attachments), email): Row = sqlx::query_as(
        "SELECT ticket_id, body, author_name, created_at, attachments, email FROM messages WHERE id = $1",
    )
    .bind(message_id)
    .fetch_one(&state.pool)
    .await?;
    let (number, subject, queue_id): (i64, String, String) =
        sqlx::query_as("SELECT number, subject, queue_id FROM tickets WHERE id = $1")
            .bind(&ticket_id)
            .fetch_one(&state.pool)
            .await?;
    let mailbox = mailboxes
        .iter()
        .find(|(m, _)| m.name == mailbox_name)
        .or_else(|| mailboxes.iter().find(|(_, queue)| *queue == queue_id))
        // A mention on a chat or call ticket still reaches the contractor from the center's mail.
        .or_else(|| {
            mailboxes.first().filter(|_| email.as_ref().is_some_and(|Json(e)| e.kind.as_deref() == Some("mention")))
        })
        .map(|(m, _)| m)
        .ok_or_else(|| anyhow!("no mailbox sends for this ticket's queue ({queue_id})"))?;
    // Every mail the center sends is named by its message's id at the mailbox's domain, and
    // dated when the message was written.
    let domain = mailbox.address.split('@').nth(1).unwrap_or("okno.invalid");
    let own_message_id = format!("{message_id}@{domain}");
    let date = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(created_at).unwrap_or(0));
    let kind = email.as_ref().and_then(|Json(e)| e.kind.clone());
    if kind.as_deref() == Some("mention") {
        // An internal note to a contractor: masked as everything they see, and not in the
        // customer's thread; their answer threads back to this Message-ID (see work::mentions).
        let to: Vec<String> = email.map(|Json(e)| e.to.into_iter().map(|a| a.address).collect()).unwrap_or_default();
        let masked_subject = okno_core::pii::mask_text(&subject);
        let mail = OutgoingMail {
            message_id: own_message_id,
            from_address: mailbox.address.clone(),
            from_name: Some(author.clone()),
            to,
            cc: Vec::new(),
            subject: format!("[#{number}] {masked_subject}"),
            text: format!(
                "{author} mentioned you on ticket #{number} ({masked_subject}):\n\n{}\n\n-- \n\
                 Reply to this message to answer in the ticket's internal notes; the customer does not see them.\n\
                 Ответьте на это письмо, чтобы добавить внутреннюю заметку; клиент её не увидит.\n",
                okno_core::pii::mask_text(&body)
            ),
            in_reply_to: None,
            references: Vec::new(),
            attachments: Vec::new(),
            date,
            auto_submitted: Some("auto-generated".to_owned()),
        };
        return Ok((mailbox, mail));
    }
    if kind.as_deref() == Some("forward") {
        // A rule's copy to an outside address: not a reply in the customer's thread.
        let to: Vec<String> = email.map(|Json(e)| e.to.into_iter().map(|a| a.address).collect()).unwrap_or_default();
        let files = blobs(state, attachments).await?;
        let mail = OutgoingMail {
            message_id: own_message_id,
            from_address: mailbox.address.clone(),
            from_name: None,
            to,
            cc: Vec::new(),
            subject: format!("Fwd: {}", reply_subject(&subject, number).trim_start_matches("Re: ")),
            text: body,
            in_reply_to: None,
            references: Vec::new(),
            attachments: files,
            date,
            auto_submitted: Some("auto-generated".to_owned()),
        };
        return Ok((mailbox, mail));
    }
    let thread: Vec<(Json<EmailView>, String)> = sqlx::query_as(
        "SELECT email, direction FROM messages WHERE ticket_id = $1 AND email IS NOT NULL AND email ? 'message_id' \
           AND direction <> 'internal' ORDER BY created_at, id",
    )
    .bind(&ticket_id)
    .fetch_all(&state.pool)
    .await?;
    let last_inbound = thread.iter().rev().find(|(_, direction)| direction == "inbound").map(|(Json(e), _)| e);
    let recipient = match last_inbound.and_then(EmailView::answer_to) {
        Some(to) => to.address.clone(),
        None => customer_email(state, &ticket_id).await?.context("the customer has no email address to reply to")?,
    };
    let mut references: Vec<String> = thread.iter().filter_map(|(Json(e), _)| e.message_id.clone()).collect();
    // RFC 5322 suggests keeping the first and the latest; 20 keeps headers sane on long threads.
    if references.len() > 20 {
        references.drain(1..references.len() - 19);
    }
    let files = blobs(state, attachments).await?;
    let mail = OutgoingMail {
        message_id: own_message_id,
        from_address: mailbox.address.clone(),
        from_name: Some(author),
        cc: email.map(|Json(e)| e.cc.into_iter().map(|a| a.address).collect()).unwrap_or_default(),
        to: vec![recipient],
        subject: reply_subject(&subject, number),
        text: body,
        in_reply_to: last_inbound.and_then(|e| e.message_id.clone()),
        references,
        attachments: files,
        date,
        // RFC 3834: an auto-reply is "auto-replied"; the satisfaction question "auto-generated".
        auto_submitted: match kind.as_deref() {
            Some("auto_reply") => Some("auto-replied".to_owned()),
            Some("csat") => Some("auto-generated".to_owned()),
            _ => None,
        },
    };
    Ok((mailbox, mail))
}

async fn blobs(state: &AppState, attachments: Vec<AttachmentRef>) -> Result<Vec<OutgoingAttachment>, sqlx::Error> {
    let mut files = Vec::new();
    for a in attachments {
        let data: Vec<u8> = sqlx::query_scalar("SELECT data FROM blobs WHERE sha256 = $1")
            .bind(&a.sha256)
            .fetch_one(&state.pool)
            .await?;
        files.push(OutgoingAttachment { name: a.name, content_type: a.mime, data });
    }
    Ok(files)
}

async fn customer_email(state: &AppState, ticket_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT i.value FROM tickets t JOIN customer_identities i ON i.customer_id = t.customer_id \
         WHERE t.id = $1 AND i.kind = 'email' ORDER BY i.value LIMIT 1",
    )
    .bind(ticket_id)
    .fetch_optional(&state.pool)
    .await
}

/// Record the final state on the row and the message (with the addresses it went to, when it
/// was written), and tell the desks.
async fn finish(
    state: &AppState,
    message_id: &str,
    outcome: DeliveryState,
    reason: Option<&str>,
    mail: Option<&OutgoingMail>,
) -> anyhow::Result<()> {
    let at = now();
    let delivery = EmailDelivery { state: outcome, reason: reason.map(str::to_owned), at: Some(at) };
    let mut tx = state.pool.begin().await?;
    sqlx::query("UPDATE mail_outbox SET state = $2, last_error = $3, updated_at = $4 WHERE message_id = $1")
        .bind(message_id)
        .bind(outcome.as_str())
        .bind(reason)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    let mut patch = json!({ "delivery": delivery });
    if let Some(mail) = mail {
        patch["message_id"] = json!(mail.message_id);
        patch["from"] = json!(EmailAddress { address: mail.from_address.clone(), name: mail.from_name.clone() });
        patch["to"] = json!(mail.to.iter().map(EmailAddress::new).collect::<Vec<_>>());
    }
    publish(state, tx, message_id, patch).await
}

async fn retry_later(
    state: &AppState,
    message_id: &str,
    reason: &str,
    next: Millis,
    attempts: i32,
) -> anyhow::Result<()> {
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "UPDATE mail_outbox SET state = 'queued', last_error = $2, next_attempt_at = $3, updated_at = $4 WHERE message_id = $1",
    )
    .bind(message_id)
    .bind(reason)
    .bind(next)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    let delivery = EmailDelivery {
        state: DeliveryState::Queued,
        reason: Some(format!("{reason} (attempt {attempts})")),
        at: None,
    };
    publish(state, tx, message_id, json!({ "delivery": delivery })).await
}

/// Merge `patch` into the message's `email` and commit it with its changelog entry.
async fn publish(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    message_id: &str,
    patch: Value,
) -> anyhow::Result<()> {
    let (message, queue_id): (Value, String) = sqlx::query_as(
        "UPDATE messages m SET email = COALESCE(m.email, '{}'::jsonb) || $2 FROM tickets t \
         WHERE m.id = $1 AND t.id = m.ticket_id RETURNING to_jsonb(m.*), t.queue_id",
    )
    .bind(message_id)
    .bind(patch)
    .fetch_one(&mut *tx)
    .await?;
    let change = NewChange {
        bucket: queue_bucket(&queue_id),
        entity: "message",
        id: message_id.to_owned(),
        op: Op::Upsert,
        data: message,
    };
    let version = changelog::append_and_commit(tx, std::slice::from_ref(&change)).await?;
    state.live.committed(&[change], version);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_half_a_minute_to_an_hour() {
        let waits: Vec<u64> = (1..=9).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
