//! Several instances running the hotline (issue 19).
//!
//! - **The lease**: one instance at a time takes the PBX's calls, the one holding a PostgreSQL
//!   advisory lock on a connection of its own; the others try for it every [`LEASE_RETRY`].
//! - **Stopping** ([`stop`]): unregister, let the lease go, hand the waiting callers to the next
//!   instance (okno-hotline's `handover`, with a key derived from the deployment's), keep the
//!   conversations until they end.
//! - **Commands** ([`command`], [`CommandBus`]): a team lead's move or listen-in is carried out
//!   where the call is; an instance without it asks the others over NATS, and only the one that
//!   has it answers.
//! - **A dead instance's calls**: each instance holds a second lock for as long as it lives
//!   (its liveness); the instance holding the lease closes the records of calls whose instance
//!   no longer holds it ([`close_orphaned_calls`]): a waiting caller is recorded abandoned, a
//!   conversation ended. Their media went through the dead process, so the calls are gone; the
//!   records must say so, or the wallboard would show them waiting all day.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use okno_acd::{AcdEvent, AcdEventKind};
use okno_core::Millis;
use okno_hotline::Hotline;
use serde::Deserialize;
use sqlx::PgPool;

/// How often a standby instance tries for the hotline's lease.
pub const LEASE_RETRY: Duration = Duration::from_millis(500);

/// The advisory lock whose holder runs the hotline ("oknohotl").
const LEASE_KEY: i64 = 0x6f6b_6e6f_686f_746c;

pub(super) async fn try_lease(conn: &mut sqlx::PgConnection) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(LEASE_KEY).fetch_one(conn).await
}

/// Holds the lease until the hotline stands down, or tries for it until it is free. While it
/// is held, the calls that dead instances left open are closed, at once and every
/// [`RECOVERY_EVERY`].
pub(super) async fn keep_lease(
    mut conn: sqlx::PgConnection,
    hotline: Hotline,
    mut held: bool,
    pool: PgPool,
    me: String,
) {
    let mut stood_down = hotline.stood_down();
    let mut tick = tokio::time::interval(LEASE_RETRY);
    let mut next_recovery = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = async { drop(stood_down.wait_for(|s| *s).await) } => break,
            _ = tick.tick() => {
                if !held {
                    match try_lease(&mut conn).await {
                        Ok(true) => {
                            held = true;
                            tracing::info!("this instance runs the hotline now");
                            if hotline.activate().is_err() {
                                break;
                            }
                        }
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "the hotline's lease could not be asked for"),
                    }
                }
                if held && tokio::time::Instant::now() >= next_recovery {
                    next_recovery = tokio::time::Instant::now() + RECOVERY_EVERY;
                    if let Err(e) = close_orphaned_calls(&pool, &me, &hotline).await {
                        tracing::warn!(error = %e, "the calls of stopped instances were not checked");
                    }
                }
            }
        }
    }
    // Closing the connection lets the lock go: the next instance takes over.
    use sqlx::Connection;
    if let Err(e) = conn.close().await {
        tracing::debug!(error = %e, "the lease's connection closed with an error");
    }
}

/// The key the instances share for resume tokens: derived from the deployment's signing key,
/// so it is the same everywhere and used for nothing else.
pub(super) async fn handover_key(conn: &mut sqlx::PgConnection) -> anyhow::Result<okno_hotline::HandoverKey> {
    use hmac::{Hmac, Mac};
    let root = crate::work::csat::key(conn).await?;
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&root).expect("HMAC takes a key of any length");
    mac.update(b"okno hotline hand-over");
    Ok(okno_hotline::HandoverKey::new(&mac.finalize().into_bytes()))
}

/// An instance stopping: the hotline stops taking calls (the lease goes to the next instance),
/// hands its waiting callers over and waits for its conversations, at most `drain_limit`; then
/// whatever is left is hung up.
pub async fn stop(hotline: &Hotline, drain_limit: Duration) {
    if let Err(e) = hotline.stand_down().await {
        tracing::warn!(error = %e, "the hotline did not stand down");
    }
    match tokio::time::timeout(drain_limit, hotline.drain()).await {
        Ok(_) => tracing::info!("the hotline's calls are over or handed on"),
        Err(_) => tracing::warn!(?drain_limit, "the hotline's drain limit ran out: the calls left are hung up"),
    }
    // The last queue events (a conversation's end) are stored before the process goes.
    if tokio::time::timeout(Duration::from_secs(5), hotline.reports_taken()).await.is_err() {
        tracing::warn!("the hotline's last queue events may not be stored");
    }
}

/// A team lead's command for a hotline call, as it travels between instances.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum CallCommand {
    Move { call_id: String, queue_id: String },
    Monitor { call_id: String, supervisor_id: String, shown_as: String, mode: String },
}

impl CallCommand {
    fn call_id(&self) -> &str {
        match self {
            CallCommand::Move { call_id, .. } | CallCommand::Monitor { call_id, .. } => call_id,
        }
    }
}

/// How long an instance waits for the one that has a call to answer a relayed command.
pub const RELAY_WAIT: Duration = Duration::from_secs(2);

/// The NATS side of the hotline's commands: every instance running the hotline listens on the
/// deployment's subject.
#[derive(Debug, Clone)]
pub struct CommandBus {
    client: async_nats::Client,
    subject: String,
}

#[derive(serde::Serialize, Deserialize)]
struct CommandAnswer {
    error: Option<String>,
}

impl CommandBus {
    pub fn new(client: async_nats::Client, deployment: &str) -> CommandBus {
        CommandBus { client, subject: format!("okno.hotline.{deployment}") }
    }

    /// Ask the other instances; `NoSuchCall` when none has the call.
    async fn ask(&self, command: &CallCommand) -> Result<(), okno_hotline::HotlineError> {
        use okno_hotline::HotlineError;
        let payload = serde_json::to_vec(command).map_err(|e| HotlineError::Refused(e.to_string()))?;
        let asked = tokio::time::timeout(RELAY_WAIT, self.client.request(self.subject.clone(), payload.into()));
        match asked.await {
            Ok(Ok(message)) => match serde_json::from_slice::<CommandAnswer>(&message.payload) {
                Ok(CommandAnswer { error: None }) => Ok(()),
                Ok(CommandAnswer { error: Some(error) }) => Err(HotlineError::Refused(error)),
                Err(e) => Err(HotlineError::Refused(format!("an undecodable answer from another instance: {e}"))),
            },
            Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                Err(HotlineError::NoSuchCall(command.call_id().to_owned()))
            }
            Ok(Err(e)) => Err(HotlineError::Refused(format!("the other instances could not be asked: {e}"))),
            Err(_) => Err(HotlineError::NoSuchCall(command.call_id().to_owned())),
        }
    }

    /// Answer the other instances' commands for the calls `hotline` carries; a command for a
    /// call that is not here gets no answer from this instance.
    pub async fn answer(&self, hotline: Hotline) -> anyhow::Result<()> {
        use futures_util::StreamExt;
        let mut requests = self.client.subscribe(self.subject.clone()).await?;
        self.client.flush().await?;
        let client = self.client.clone();
        tokio::spawn(async move {
            while let Some(message) = requests.next().await {
                let Some(reply) = message.reply else { continue };
                let command: CallCommand = match serde_json::from_slice(&message.payload) {
                    Ok(command) => command,
                    Err(e) => {
                        tracing::warn!(error = %e, "an undecodable hotline command from another instance");
                        continue;
                    }
                };
                let answer = match carry_out(&hotline, &command).await {
                    Err(okno_hotline::HotlineError::NoSuchCall(_)) => continue,
                    Ok(()) => CommandAnswer { error: None },
                    Err(e) => CommandAnswer { error: Some(e.to_string()) },
                };
                tracing::info!(?command, error = ?answer.error, "a hotline command relayed from another instance");
                let payload = serde_json::to_vec(&answer).unwrap_or_default();
                if let Err(e) = client.publish(reply, payload.into()).await {
                    tracing::warn!(error = %e, "a relayed hotline command's answer was not sent");
                }
            }
        });
        Ok(())
    }
}

async fn carry_out(hotline: &Hotline, command: &CallCommand) -> Result<(), okno_hotline::HotlineError> {
    match command {
        CallCommand::Move { call_id, queue_id } => hotline.move_call(call_id, queue_id).await,
        CallCommand::Monitor { call_id, supervisor_id, shown_as, mode } => {
            let mode: okno_hotline::MonitorMode = mode.parse().map_err(okno_hotline::HotlineError::Refused)?;
            hotline.monitor(call_id, supervisor_id, shown_as, mode).await
        }
    }
}

/// Carry out a team lead's `command` where its call is: here, else on the instance that has it
/// (asked over `bus`). `NoSuchCall` when no instance has it.
pub async fn command(
    hotline: &Hotline,
    bus: Option<&CommandBus>,
    command: CallCommand,
) -> Result<(), okno_hotline::HotlineError> {
    match (carry_out(hotline, &command).await, bus) {
        (Err(okno_hotline::HotlineError::NoSuchCall(_)), Some(bus)) => bus.ask(&command).await,
        (result, _) => result,
    }
}

/// How often the instance holding the lease looks for calls that dead instances left open.
pub const RECOVERY_EVERY: Duration = Duration::from_secs(15);

/// The first key of the liveness locks (the second is the instance id's hash): "okno".
const LIVENESS_SPACE: i32 = 0x6f6b_6e6f;

/// Calls older than this are not looked at (a day's records are what the wallboard shows).
const RECOVERY_WINDOW_MS: Millis = 24 * 3_600_000;

/// Take this instance's liveness lock and hold it until the process ends (its connection
/// closes with it, dead or alive).
pub(super) async fn hold_liveness(pool: &PgPool, me: &str) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?.detach();
    let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
        .bind(LIVENESS_SPACE)
        .bind(me)
        .fetch_one(&mut conn)
        .await?;
    if !held {
        tracing::warn!(instance = me, "another hotline holds this instance's liveness lock");
    }
    tokio::spawn(async move {
        let _conn = conn;
        std::future::pending::<()>().await;
    });
    Ok(())
}

/// Record the end of every call whose latest event was written by an instance that no longer
/// lives and that this hotline does not carry: abandoned when the caller waited (or a desk
/// rang), ended when they talked. The number of calls closed.
///
/// A call whose latest record is `handed_over` belongs to whichever instance took it, which
/// the records do not name; such a call is left as it is. So are owed callbacks.
pub async fn close_orphaned_calls(pool: &PgPool, me: &str, hotline: &Hotline) -> anyhow::Result<usize> {
    let now = okno_core::unix_ms(std::time::SystemTime::now());
    type Row = (String, String, String, Option<String>, Option<String>, Option<Millis>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT DISTINCT ON (e.call_id) e.call_id, e.queue_id, e.kind, e.instance, e.agent_id, \
           (SELECT min(q.at) FROM acd_events q WHERE q.call_id = e.call_id AND q.kind = 'queued') \
         FROM acd_events e \
         WHERE e.call_id IN (SELECT call_id FROM acd_events WHERE kind = 'queued' AND at >= $1) \
         ORDER BY e.call_id, e.at DESC, e.id DESC",
    )
    .bind(now - RECOVERY_WINDOW_MS)
    .fetch_all(pool)
    .await?;
    let open: Vec<Row> = rows
        .into_iter()
        .filter(|(_, _, kind, instance, _, _)| {
            let settled = ["ended", "abandoned", "handed_over", "callback_requested"].contains(&kind.as_str());
            !settled && instance.as_deref().is_some_and(|i| i != me)
        })
        .collect();
    if open.is_empty() {
        return Ok(0);
    }
    let status = hotline.status().await?;
    let mut here: HashSet<String> = status.waiting.into_iter().map(|(_, id, _)| id).collect();
    here.extend(status.agents.into_iter().filter_map(|a| a.call));
    let mut conn = pool.acquire().await?;
    let mut dead: HashMap<String, bool> = HashMap::new();
    for (_, _, _, instance, _, _) in &open {
        let Some(instance) = instance else { continue };
        if dead.contains_key(instance) {
            continue;
        }
        let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(LIVENESS_SPACE)
            .bind(instance)
            .fetch_one(&mut *conn)
            .await?;
        if free {
            sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2))")
                .bind(LIVENESS_SPACE)
                .bind(instance)
                .execute(&mut *conn)
                .await?;
        }
        dead.insert(instance.clone(), free);
    }
    let mut closed = 0;
    for (call_id, queue_id, kind, instance, agent_id, queued_at) in open {
        if here.contains(&call_id) || instance.is_none_or(|i| dead.get(&i) != Some(&true)) {
            continue;
        }
        let talked = kind == "answered" || kind == "callback_placed";
        let event = AcdEvent {
            at: now,
            call_id,
            queue_id,
            kind: if talked { AcdEventKind::Ended } else { AcdEventKind::Abandoned },
            agent_id: if talked { agent_id } else { None },
            waited_ms: if talked { None } else { queued_at.map(|at| u64::try_from(now - at).unwrap_or(0)) },
        };
        super::store_event(pool, &event, me).await?;
        tracing::warn!(
            call_id = event.call_id,
            kind = event.kind.as_str(),
            "closed a call a stopped instance left open"
        );
        closed += 1;
    }
    Ok(closed)
}
