//! `GET /v1/live`: the WebSocket a desktop keeps open to hear about changes.
//!
//! The upgrade is authenticated like any call (`Authorization: Bearer`), and the socket's
//! entitlement is computed then, with the same rule as pull (a grant change takes effect on the
//! next connect; the pull itself always re-checks). One task per socket registers it with the
//! hub, sends `hello` with the head version, then forwards its queue, coalescing a backlog of
//! pokes to one per bucket. A socket that cannot take a message within [`SEND_TIMEOUT`] is
//! closed; so is one the hub dropped for a full queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use okno_sync::LiveEvent;

use super::Entitlement;
use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::pull::entitled_buckets;

/// A socket that cannot take one message in this time is closed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Pings keep proxies from closing idle sockets and find dead peers.
const PING_EVERY: Duration = Duration::from_secs(20);
/// Close code 1013, "try again later": the server dropped a socket that fell behind.
const CLOSE_TOO_SLOW: u16 = 1013;
/// Close code 1008, "policy violation": the socket's session ended (logout, revocation, a
/// disabled account, the session's age); checked at every ping.
const CLOSE_SIGNED_OUT: u16 = 1008;

#[tracing::instrument(name = "live", skip_all, fields(operator = %caller.id))]
pub(crate) async fn live(
    State(state): State<AppState>,
    caller: Caller,
    upgrade: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let entitlement = match entitled_buckets(&state.pool, &caller).await? {
        None => Entitlement::All,
        Some(buckets) => Entitlement::Buckets(buckets.into_iter().collect()),
    };
    // Desktops send only control frames and receive small ones: the 128 KiB default buffers
    // would be most of a socket's memory (see the live bench).
    let upgrade = upgrade.read_buffer_size(4 * 1024).write_buffer_size(0).max_message_size(64 * 1024);
    Ok(upgrade.on_upgrade(move |socket| run(state, caller, entitlement, socket)))
}

async fn run(state: AppState, caller: Caller, entitlement: Entitlement, mut socket: WebSocket) {
    let live = state.live.clone();
    let mut sub = live.hub.subscribe(&caller.id, entitlement);
    if sub.presence_changed {
        live.presence_changed();
    }
    // Registered first, head read second: every commit after this head is also in the queue.
    let head: Result<i64, _> =
        sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM changelog").fetch_one(&state.pool).await;
    let result = match head {
        Ok(head) => {
            let session = Session { pool: &state.pool, id: caller.session_id.as_deref() };
            serve(&mut socket, &mut sub.rx, u64::try_from(head).unwrap_or(0), session).await
        }
        Err(e) => Err(format!("cannot read the head version: {e}")),
    };
    if let Err(reason) = &result {
        tracing::debug!(reason, "live socket closed");
    }
    if live.hub.unsubscribe(sub.id) {
        live.presence_changed();
    }
}

/// The session a socket lives by.
struct Session<'a> {
    pool: &'a sqlx::PgPool,
    id: Option<&'a str>,
}

impl Session<'_> {
    async fn alive(&self) -> bool {
        match self.id {
            // A database error keeps the socket: a hiccup must not drop every desk at once.
            Some(id) => crate::auth::session_alive(self.pool, id).await.unwrap_or(true),
            None => true,
        }
    }
}

/// Forward the queue until the peer leaves (Ok) or the socket must be closed (Err).
async fn serve(
    socket: &mut WebSocket,
    rx: &mut tokio::sync::mpsc::Receiver<Arc<LiveEvent>>,
    head: u64,
    session: Session<'_>,
) -> Result<(), String> {
    send(socket, &LiveEvent::Hello { version: head }).await?;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            first = rx.recv() => {
                let Some(first) = first else {
                    // The hub dropped this socket: its queue overflowed.
                    let frame = CloseFrame { code: CLOSE_TOO_SLOW, reason: "too slow; reconnect and pull".into() };
                    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
                    return Err("dropped for falling behind".into());
                };
                let mut batch = vec![first];
                while batch.len() < 1024 && let Ok(next) = rx.try_recv() {
                    batch.push(next);
                }
                for event in coalesce(batch) {
                    send(socket, &event).await?;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Err(e)) => return Err(format!("receive failed: {e}")),
                // Pongs are answered by the WebSocket layer; clients send nothing else.
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if !session.alive().await {
                    let frame = CloseFrame { code: CLOSE_SIGNED_OUT, reason: "the session ended; sign in again".into() };
                    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
                    return Err("the session ended".into());
                }
                timed(socket.send(Message::Ping(Default::default()))).await?;
            }
        }
    }
}

async fn send(socket: &mut WebSocket, event: &LiveEvent) -> Result<(), String> {
    let text = serde_json::to_string(event).map_err(|e| e.to_string())?;
    timed(socket.send(Message::Text(text.into()))).await
}

async fn timed(send: impl Future<Output = Result<(), axum::Error>>) -> Result<(), String> {
    match tokio::time::timeout(SEND_TIMEOUT, send).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("send failed: {e}")),
        Err(_) => Err("send timed out".into()),
    }
}

/// Pokes of one bucket collapse into the last (highest) one, at the position of the first;
/// everything else keeps its order.
fn coalesce(batch: Vec<Arc<LiveEvent>>) -> Vec<LiveEvent> {
    let mut out: Vec<LiveEvent> = Vec::with_capacity(batch.len());
    let mut poke_at: HashMap<String, usize> = HashMap::new();
    for event in batch {
        if let LiveEvent::Poke { bucket, version } = &*event {
            if let Some(&i) = poke_at.get(bucket) {
                if let LiveEvent::Poke { version: v, .. } = &mut out[i] {
                    *v = (*v).max(*version);
                }
                continue;
            }
            poke_at.insert(bucket.clone(), out.len());
        }
        out.push((*event).clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backlog_of_pokes_collapses_per_bucket() {
        let poke = |b: &str, v| Arc::new(LiveEvent::Poke { bucket: b.into(), version: v });
        let presence = Arc::new(LiveEvent::Presence { online: vec!["anna".into()] });
        let batch = vec![poke("queue:q1", 3), poke("queue:q2", 4), presence.clone(), poke("queue:q1", 7)];
        assert_eq!(
            coalesce(batch),
            [
                LiveEvent::Poke { bucket: "queue:q1".into(), version: 7 },
                LiveEvent::Poke { bucket: "queue:q2".into(), version: 4 },
                (*presence).clone(),
            ]
        );
    }
}
