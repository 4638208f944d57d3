//! Fetching a mailbox over IMAP: one task per configured mailbox, on whichever instance holds
//! its lease in `mailbox_state` (a row lock-free lease: `lease_until` renewed while working, taken
//! over by another instance once it lapses).
//!
//! Per session: SELECT INBOX; a changed UIDVALIDITY resets the position (the Message-ID dedupe in
//! [`super::ingest`] keeps the re-fetched mail from becoming duplicates); `UID FETCH last+1:*`
//! in batches, each message committed by [`super::ingest::ingest`] BEFORE it is flagged `\Seen`
//! on the server; then IDLE until the server says something arrived (or, where IDLE is missing,
//! a poll every `poll_interval`), renewing the lease between waits.
//!
//! Invariant: nothing is flagged, moved or deleted on the mail server before the message is
//! committed; a crash before the commit fetches it again, after the commit skips it.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use async_imap::extensions::idle::IdleResponse;
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::config::{Endpoint, Mailbox, Security};
use super::ingest::{Ingested, IntakeMailbox, ingest};
use crate::AppState;

/// How long a lease lasts without renewal; renewed every third of it.
const LEASE: Duration = Duration::from_secs(30);
/// Messages fetched per UID FETCH.
const BATCH: u32 = 200;

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Io for T {}
type Session = async_imap::Session<Box<dyn Io>>;

/// What one mailbox's task needs.
#[derive(Debug, Clone)]
pub struct MailboxTask {
    pub config: Mailbox,
    pub intake: IntakeMailbox,
    pub max_attachment_bytes: usize,
    pub poll_interval: Duration,
}

/// Run one mailbox's intake until the process ends: take the lease, fetch, wait, repeat;
/// reconnect with backoff on any failure.
pub async fn run(state: AppState, task: Arc<MailboxTask>) {
    let name = task.config.name.clone();
    let mut backoff = Duration::from_secs(1);
    loop {
        match take_lease(&state, &task.intake).await {
            Ok(true) => {}
            Ok(false) => {
                tokio::time::sleep(LEASE / 3).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(mailbox = %name, error = %e, "cannot take the mailbox lease");
                tokio::time::sleep(backoff).await;
                continue;
            }
        }
        match session(&state, &task).await {
            Ok(()) => backoff = Duration::from_secs(1),
            Err(e) => {
                tracing::warn!(mailbox = %name, error = format!("{e:#}"), retry_in = ?backoff, "mail intake stopped; reconnecting");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// Take or renew the lease; false when another instance holds it.
async fn take_lease(state: &AppState, intake: &IntakeMailbox) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query(
        "INSERT INTO mailbox_state (name, lease_owner, lease_until) VALUES ($1, $2, now() + make_interval(secs => $3)) \
         ON CONFLICT (name) DO UPDATE SET lease_owner = $2, lease_until = now() + make_interval(secs => $3) \
         WHERE mailbox_state.lease_owner = $2 OR mailbox_state.lease_until IS NULL OR mailbox_state.lease_until < now()",
    )
    .bind(&intake.name)
    .bind(&intake.lease_owner)
    .bind(LEASE.as_secs_f64())
    .execute(&state.pool)
    .await?;
    Ok(taken.rows_affected() == 1)
}

async fn session(state: &AppState, task: &MailboxTask) -> anyhow::Result<()> {
    let name = &task.config.name;
    let mut session = connect(&task.config).await?;
    let idle_supported = session.capabilities().await?.has_str("IDLE");
    loop {
        if !take_lease(state, &task.intake).await? {
            tracing::info!(mailbox = %name, "another instance took the mailbox lease");
            let _ = session.logout().await;
            return Ok(());
        }
        let fetched = fetch_new(state, task, &mut session).await?;
        if fetched == Some(BATCH as usize) {
            continue;
        }
        if fetched.is_none() {
            return Ok(());
        }
        let wait = task.poll_interval.min(LEASE / 3);
        if idle_supported {
            let mut idle = session.idle();
            idle.init().await.context("IDLE")?;
            let (arrived, _stop) = idle.wait_with_timeout(wait);
            let response = arrived.await.context("IDLE")?;
            session = idle.done().await.context("IDLE DONE")?;
            if matches!(response, IdleResponse::NewData(_)) {
                tracing::debug!(mailbox = %name, "IDLE: new data");
            }
        } else {
            tokio::time::sleep(wait).await;
            session.noop().await.context("NOOP")?;
        }
    }
}

/// Fetch and commit everything past the position; returns how many messages were fetched, or
/// None when the lease was lost mid-batch.
async fn fetch_new(state: &AppState, task: &MailboxTask, session: &mut Session) -> anyhow::Result<Option<usize>> {
    let name = &task.config.name;
    let selected = session.select("INBOX").await.context("SELECT INBOX")?;
    let validity = selected.uid_validity.map(i64::from);
    let (stored_validity, last_uid): (Option<i64>, i64) =
        sqlx::query_as("SELECT uid_validity, last_uid FROM mailbox_state WHERE name = $1")
            .bind(name)
            .fetch_one(&state.pool)
            .await?;
    let mut last_uid = last_uid;
    if stored_validity != validity {
        if stored_validity.is_some() {
            tracing::warn!(mailbox = %name, old = ?stored_validity, new = ?validity, "UIDVALIDITY changed: re-reading the mailbox (deduped by Message-ID)");
        }
        sqlx::query("UPDATE mailbox_state SET uid_validity = $2, last_uid = 0 WHERE name = $1")
            .bind(name)
            .bind(validity)
            .execute(&state.pool)
            .await?;
        last_uid = 0;
    }
    if selected.exists == 0 {
        return Ok(Some(0));
    }
    let first = u32::try_from(last_uid + 1).unwrap_or(u32::MAX);
    let range = format!("{first}:{}", first.saturating_add(BATCH - 1));
    let fetched: Vec<_> = session
        .uid_fetch(&range, "(UID BODY.PEEK[])")
        .await
        .context("UID FETCH")?
        .try_collect()
        .await
        .context("UID FETCH")?;
    let mut committed_uids = Vec::new();
    let mut count = 0;
    for message in &fetched {
        let Some(uid) = message.uid else { continue };
        // `first:*` always answers the last message even when it is older than `first`.
        if i64::from(uid) <= last_uid {
            continue;
        }
        count += 1;
        let raw = message.body().unwrap_or_default();
        let mail = okno_mail::read(raw, task.max_attachment_bytes);
        let now = okno_core::unix_ms(std::time::SystemTime::now());
        let (outcome, changes, version) = ingest(state, &task.intake, Some(uid), &mail, now).await?;
        match &outcome {
            Ingested::LeaseLost => return Ok(None),
            Ingested::Duplicate => {
                tracing::debug!(mailbox = %name, uid, message_id = %mail.message_id, "already taken in")
            }
            other => {
                tracing::info!(mailbox = %name, uid, message_id = %mail.message_id, outcome = ?other, "mail taken in")
            }
        }
        if !changes.is_empty() {
            state.live.committed(&changes, version);
        }
        committed_uids.push(uid);
    }
    if !committed_uids.is_empty() {
        let set: Vec<String> = committed_uids.iter().map(u32::to_string).collect();
        // Cosmetic for people reading the mailbox elsewhere: the position, not the flag, is
        // what intake trusts, so a failure here loses nothing.
        match session.uid_store(set.join(","), "+FLAGS.SILENT (\\Seen)").await {
            Ok(stream) => {
                let _: Vec<_> = stream.try_collect().await.unwrap_or_default();
            }
            Err(e) => tracing::warn!(mailbox = %name, error = %e, "cannot flag fetched mail as seen"),
        }
    }
    Ok(Some(count))
}

async fn connect(mailbox: &Mailbox) -> anyhow::Result<Session> {
    let endpoint = &mailbox.imap;
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .with_context(|| format!("cannot connect to IMAP {}:{}", endpoint.host, endpoint.port))?;
    let client: async_imap::Client<Box<dyn Io>> = match endpoint.security {
        Security::Implicit => {
            let mut client = async_imap::Client::new(Box::new(tls(endpoint, tcp).await?) as Box<dyn Io>);
            greeting(&mut client).await?;
            client
        }
        Security::StartTlsIfOffered => {
            let mut plain = async_imap::Client::new(tcp);
            greeting(&mut plain).await?;
            // A server without STARTTLS answers BAD or NO and the session stays plain (the
            // test servers here; issue 17 makes TLS required where the config says so).
            let upgraded = plain.run_command_and_check_ok("STARTTLS", None).await.is_ok();
            let tcp = plain.into_inner();
            if upgraded {
                async_imap::Client::new(Box::new(tls(endpoint, tcp).await?) as Box<dyn Io>)
            } else {
                async_imap::Client::new(Box::new(tcp) as Box<dyn Io>)
            }
        }
    };
    let user = endpoint.user.as_deref().unwrap_or_default();
    client.login(user, &mailbox.password.0).await.map_err(|(e, _)| anyhow!("IMAP login as {user} refused: {e}"))
}

async fn greeting<T: Io>(client: &mut async_imap::Client<T>) -> anyhow::Result<()> {
    client.read_response().await?.ok_or_else(|| anyhow!("the IMAP server closed before its greeting"))?;
    Ok(())
}

async fn tls(endpoint: &Endpoint, tcp: TcpStream) -> anyhow::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(endpoint.host.clone())
        .map_err(|_| anyhow!("{:?} is not a TLS server name", endpoint.host))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector.connect(name, tcp).await.with_context(|| format!("TLS with {}", endpoint.host))
}
