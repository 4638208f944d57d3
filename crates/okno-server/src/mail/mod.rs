//! Email, the server's side: the mailboxes of `--config` ([`config`]), intake over IMAP
//! ([`intake`]) committing each message as a ticket or a reply ([`ingest`]), and the outbox that
//! sends operators' replies over SMTP ([`outbox`]). What a message means is decided in
//! `okno-mail`; this module talks to the mail servers and the database.

pub mod config;
pub mod ingest;
pub mod intake;
pub mod outbox;

use std::sync::Arc;

use anyhow::Context;

use crate::AppState;

/// This instance's mail tasks; [`MailTasks::stop`] ends them and hands its mailboxes over at once.
#[derive(Debug)]
pub struct MailTasks {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    instance: String,
}

impl MailTasks {
    /// Stop fetching and sending, and give up this instance's leases, so another instance takes
    /// the mailboxes over now instead of when the leases run out (a crash still waits for them).
    pub async fn stop(self, state: &AppState) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
        let released =
            sqlx::query("UPDATE mailbox_state SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1")
                .bind(&self.instance)
                .execute(&state.pool)
                .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "cannot release the mailbox leases; other instances wait for them to expire");
        }
    }
}

/// Resolve each mailbox's queue, then start one intake task per mailbox and the outbox sender.
/// A queue that does not exist is refused here, at start, with the mailbox's config key.
pub async fn start(state: &AppState, config: &config::MailConfig) -> anyhow::Result<MailTasks> {
    let mut resolved = Vec::new();
    for (i, mailbox) in config.mailboxes.iter().enumerate() {
        let queue_id: Option<String> =
            sqlx::query_scalar("SELECT id FROM queues WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1")
                .bind(&mailbox.queue)
                .fetch_optional(&state.pool)
                .await?;
        let queue_id =
            queue_id.with_context(|| format!("email[{i}].queue: no queue has the id or name {:?}", mailbox.queue))?;
        resolved.push((mailbox.clone(), queue_id));
    }
    let own_addresses: Vec<String> = config.mailboxes.iter().map(|m| m.address.clone()).collect();
    if let Ok(mut known) = state.own_addresses.write() {
        for address in &own_addresses {
            let address = address.to_lowercase();
            if !known.contains(&address) {
                known.push(address);
            }
        }
    }
    let instance = okno_core::new_id();
    let mut tasks = Vec::new();
    for (mailbox, queue_id) in &resolved {
        let task = intake::MailboxTask {
            intake: ingest::IntakeMailbox {
                name: mailbox.name.clone(),
                queue_id: queue_id.clone(),
                own_addresses: own_addresses.clone(),
                lease_owner: instance.clone(),
            },
            config: mailbox.clone(),
            max_attachment_bytes: config.max_attachment_bytes,
            poll_interval: config.poll_interval,
        };
        tracing::info!(mailbox = %mailbox.name, queue = %queue_id, imap = %format!("{}:{}", mailbox.imap.host, mailbox.imap.port), "watching mailbox");
        tasks.push(tokio::spawn(intake::run(state.clone(), Arc::new(task))));
    }
    if !resolved.is_empty() {
        tasks.push(tokio::spawn(outbox::run(state.clone(), Arc::new(resolved), state.outbox_wake.clone())));
    }
    Ok(MailTasks { tasks, instance })
}
pub mod blobs;
