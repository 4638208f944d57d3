//! Live: pokes, presence and agent states pushed to connected desktops (ARCHITECTURE.md, "Data
//! flow", step 5).
//!
//! - [`hub`]: this instance's sockets, their bounded queues, presence bookkeeping.
//! - [`ws`]: `GET /v1/live`, one task per socket.
//! - [`bus`]: the fan-out between instances over NATS (optional, `NATS_URL`).
//!
//! After a mutation commits, [`Live::committed`] turns its changes into data-free pokes (one
//! per bucket, with the commit's last version) and agent-state events, delivers them to this
//! instance's sockets at once, and hands them to the bus for the other instances, which deliver
//! them to theirs. Nothing here waits: a full bus queue or socket queue loses events, never
//! blocks a commit. Lost pokes are harmless by design: desktops also pull on a timer and after
//! every reconnect (the `hello` carries the head version).
//!
//! Invariant: a socket only receives pokes for buckets its account is entitled to pull, and only
//! team leads and admins receive presence and agent states.

pub mod bus;
pub mod hub;
pub mod ws;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use okno_core::AgentState;
use okno_sync::LiveEvent;
use tokio::sync::mpsc;

use crate::changelog::NewChange;
use crate::metrics::{Metrics, inc};
pub use hub::{Entitlement, Hub};

/// This instance's live state: the hub and, when NATS is configured, the way out to the bus.
#[derive(Debug)]
pub struct Live {
    pub hub: Hub,
    /// The website visitors' chat sockets on this instance.
    pub visitors: crate::chat::hub::VisitorHub,
    /// Random per process: the bus ignores its own messages by this id.
    pub instance: String,
    bus: OnceLock<mpsc::Sender<bus::Body>>,
    metrics: Arc<Metrics>,
}

impl Live {
    pub fn new(queue: usize, metrics: Arc<Metrics>) -> Self {
        let mut id = [0u8; 8];
        // Without OS randomness the id only needs to differ between instances; the pid does.
        if getrandom::fill(&mut id).is_err() {
            id[..4].copy_from_slice(&std::process::id().to_le_bytes());
        }
        Live {
            hub: Hub::new(queue, metrics.clone()),
            visitors: Default::default(),
            instance: hex::encode(id),
            bus: OnceLock::new(),
            metrics,
        }
    }

    /// A mutation committed `changes`, the last at `version`: tell every interested socket here
    /// and on the other instances.
    pub fn committed(&self, changes: &[NewChange], version: u64) {
        for event in events_for(changes, version) {
            self.to_bus(bus::Body::Event { event: event.clone() });
            self.deliver(event);
        }
    }

    /// A frame for the visitors of chat `ticket_id`, here and on the other instances.
    pub fn to_visitors(&self, ticket_id: &str, frame: Arc<str>) {
        self.to_bus(bus::Body::Visitor { ticket_id: ticket_id.to_owned(), frame: frame.to_string() });
        self.visitors.deliver(ticket_id, frame, None);
    }

    /// A website visitor types in chat `ticket_id`: tell the desks that may see `bucket`.
    pub fn typing(&self, bucket: &str, ticket_id: &str) {
        let event = LiveEvent::VisitorTyping { bucket: bucket.to_owned(), ticket_id: ticket_id.to_owned() };
        self.to_bus(bus::Body::Event { event: event.clone() });
        self.deliver(event);
    }

    /// Deliver to this instance's sockets only (events from the bus end here).
    pub fn deliver(&self, event: LiveEvent) {
        if self.hub.deliver(event) {
            self.presence_changed();
        }
    }

    /// This instance's connected operators changed: tell the other instances.
    pub fn presence_changed(&self) {
        self.to_bus(bus::Body::Presence { online: self.hub.local_presence() });
    }

    fn to_bus(&self, body: bus::Body) {
        if let Some(tx) = self.bus.get()
            && tx.try_send(body).is_err()
        {
            inc(&self.metrics.live_bus_dropped);
        }
    }
}

/// One poke per bucket with the commit's last version, and an agent-state event per operator
/// row whose state is in the change.
fn events_for(changes: &[NewChange], version: u64) -> Vec<LiveEvent> {
    let buckets: BTreeSet<&str> = changes.iter().map(|c| c.bucket.as_str()).collect();
    let mut events: Vec<LiveEvent> =
        buckets.into_iter().map(|bucket| LiveEvent::Poke { bucket: bucket.to_owned(), version }).collect();
    for change in changes.iter().filter(|c| c.entity == "operator") {
        let state = change.data.get("state").and_then(|s| s.as_str()).and_then(|s| s.parse::<AgentState>().ok());
        let since = change.data.get("state_since").and_then(|s| s.as_i64());
        if let (Some(state), Some(since)) = (state, since) {
            events.push(LiveEvent::AgentState { operator_id: change.id.clone(), state, since });
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use okno_sync::Op;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_commit_becomes_one_poke_per_bucket_and_agent_states() {
        let change = |bucket: &str, entity: &'static str, id: &str, data| NewChange {
            bucket: bucket.into(),
            entity,
            id: id.into(),
            op: Op::Upsert,
            data,
        };
        let changes = [
            change("queue:q1", "message", "m1", json!({})),
            change("queue:q1", "ticket", "t1", json!({})),
            change("user:anna", "operator", "anna", json!({ "state": "break", "state_since": 9 })),
        ];
        assert_eq!(
            events_for(&changes, 12),
            [
                LiveEvent::Poke { bucket: "queue:q1".into(), version: 12 },
                LiveEvent::Poke { bucket: "user:anna".into(), version: 12 },
                LiveEvent::AgentState { operator_id: "anna".into(), state: AgentState::Break, since: 9 },
            ]
        );
    }
}
