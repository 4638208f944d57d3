//! The fan-out between server instances over NATS (core pub/sub, no JetStream).
//!
//! Every instance of a deployment publishes to and subscribes to one subject,
//! `okno.live.<deployment id>` (the id is in the database, so instances that share a database
//! share a subject without configuration). A message carries its sender's instance id; an
//! instance ignores its own, since it delivered them locally already.
//!
//! Publishing goes through a bounded queue and one task: a commit never waits on NATS. Delivery
//! is at most once; a poke lost here (NATS down, queue full) is made up by the desktops' timed
//! pull. Presence is sent as this instance's whole snapshot, on every change and every
//! [`HEARTBEAT`], so it heals after any loss.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use okno_sync::LiveEvent;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::Live;

/// How often an instance re-sends its presence snapshot.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// Messages waiting for the publisher task before new ones are dropped.
const QUEUE: usize = 4096;

/// What travels on the subject, besides the sender's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "bus", rename_all = "snake_case")]
pub enum Body {
    /// A poke or agent state to deliver to every instance's sockets.
    Event { event: LiveEvent },
    /// The sender's connected operators (its whole snapshot).
    Presence { online: Vec<String> },
    /// The sender is shutting down: forget its presence now.
    Gone,
    /// A frame for the website visitors of a chat (ticket), wherever their sockets are.
    Visitor { ticket_id: String, frame: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    from: String,
    #[serde(flatten)]
    body: Body,
}

/// The subject of a deployment.
pub fn subject(deployment: &str) -> String {
    format!("okno.live.{deployment}")
}

/// Connect to NATS at `url`, subscribe to `subject`, and start the tasks that carry `live`'s
/// events out and the other instances' in. Fails if NATS does not answer: a server configured
/// for several instances must not silently run as a lone one. Later outages are survived
/// (async-nats reconnects; pokes are lost meanwhile). The client is returned for the other
/// traffic between instances (the hotline's commands).
pub async fn start(live: Arc<Live>, url: &str, subject: String) -> anyhow::Result<async_nats::Client> {
    let client = async_nats::ConnectOptions::new()
        .name("okno-server")
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to NATS at {url} (NATS_URL)"))?;
    let mut subscriber =
        client.subscribe(subject.clone()).await.with_context(|| format!("cannot subscribe to {subject}"))?;
    // The subscription must be registered before this instance announces anything.
    client.flush().await.context("NATS did not confirm the subscription")?;
    let (tx, mut rx) = mpsc::channel::<Body>(QUEUE);
    if live.bus.set(tx).is_err() {
        anyhow::bail!("the NATS bus is already started");
    }
    tracing::info!(url, subject, instance = %live.instance, "live fan-out over NATS");

    let publisher = client.clone();
    let me = live.instance.clone();
    let out_subject = subject.clone();
    tokio::spawn(async move {
        while let Some(body) = rx.recv().await {
            let payload = match serde_json::to_vec(&Envelope { from: me.clone(), body }) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode a bus message");
                    continue;
                }
            };
            if let Err(e) = publisher.publish(out_subject.clone(), payload.into()).await {
                tracing::warn!(error = %e, "cannot publish to NATS; the event is lost");
            }
        }
    });

    let inbound = live.clone();
    tokio::spawn(async move {
        while let Some(message) = subscriber.next().await {
            let envelope: Envelope = match serde_json::from_slice(&message.payload) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring an undecodable bus message");
                    continue;
                }
            };
            if envelope.from == inbound.instance {
                continue;
            }
            match envelope.body {
                Body::Event { event } => inbound.deliver(event),
                Body::Presence { online } => inbound.hub.remote_presence(&envelope.from, Some(online), Instant::now()),
                Body::Gone => inbound.hub.remote_presence(&envelope.from, None, Instant::now()),
                Body::Visitor { ticket_id, frame } => {
                    inbound.visitors.deliver(&ticket_id, frame.into(), None);
                }
            }
        }
        tracing::warn!("the NATS subscription ended; no more events from other instances");
    });

    let heartbeat = Arc::downgrade(&live);
    let returned = client.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT);
        loop {
            tick.tick().await;
            let Some(live) = heartbeat.upgrade() else { return };
            live.presence_changed();
            live.hub.expire_presence(Instant::now());
        }
    });
    Ok(returned)
}

impl Live {
    /// Say goodbye on the bus (before a graceful shutdown), so leads elsewhere see this
    /// instance's desktops go at once rather than after the presence TTL.
    pub fn leaving(&self) {
        self.to_bus(Body::Gone);
    }
}
