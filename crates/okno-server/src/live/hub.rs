//! The sockets connected to this instance, and fan-out to them.
//!
//! Each socket has a bounded queue; [`Hub::deliver`] never waits on one. A socket whose queue is
//! full is unregistered on the spot (its writer drains what is queued, then closes the socket):
//! one slow desktop costs the server a queue's worth of memory, never a blocked commit.
//!
//! Presence is kept per instance: this instance's connected operators, plus the last snapshot
//! every other instance sent over the bus. The union is what team leads see; snapshots replace
//! each other, so a lost message heals with the next one, and an instance that stops sending
//! (killed) is forgotten after [`PRESENCE_TTL`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use okno_sync::LiveEvent;
use tokio::sync::mpsc;

use crate::metrics::{Metrics, inc};

/// How long another instance's presence snapshot counts without a fresh one.
pub const PRESENCE_TTL: Duration = Duration::from_secs(30);

/// Which pokes a socket receives; decided from the account when it connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entitlement {
    /// Team leads and admins: every bucket, plus presence and agent states.
    All,
    Buckets(HashSet<String>),
}

impl Entitlement {
    fn wants(&self, event: &LiveEvent) -> bool {
        match (self, event) {
            (Entitlement::All, _) => true,
            (Entitlement::Buckets(buckets), LiveEvent::Poke { bucket, .. })
            | (Entitlement::Buckets(buckets), LiveEvent::VisitorTyping { bucket, .. }) => buckets.contains(bucket),
            (Entitlement::Buckets(_), _) => false,
        }
    }
}

struct Socket {
    operator_id: String,
    entitlement: Entitlement,
    tx: mpsc::Sender<Arc<LiveEvent>>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    sockets: HashMap<u64, Socket>,
    /// Open sockets per operator on this instance.
    local: HashMap<String, usize>,
    /// Other instances' presence snapshots, by instance id.
    remote: HashMap<String, (BTreeSet<String>, Instant)>,
    /// The union last announced to team leads.
    online: BTreeSet<String>,
}

/// Registered sockets of this instance; shared by the WebSocket handlers and the bus.
pub struct Hub {
    inner: Mutex<Inner>,
    queue: usize,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("queue", &self.queue).finish_non_exhaustive()
    }
}

/// A registered socket: its id (to unregister) and its queue.
#[derive(Debug)]
pub struct Subscription {
    pub id: u64,
    pub rx: mpsc::Receiver<Arc<LiveEvent>>,
    /// This instance's connected operators changed (the first socket of `operator_id`).
    pub presence_changed: bool,
}

impl Hub {
    /// `queue` is each socket's bound, in events.
    pub fn new(queue: usize, metrics: Arc<Metrics>) -> Self {
        Hub { inner: Mutex::new(Inner::default()), queue: queue.max(1), metrics }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register a socket. A team lead's queue starts with the current presence.
    pub fn subscribe(&self, operator_id: &str, entitlement: Entitlement) -> Subscription {
        let (tx, rx) = mpsc::channel(self.queue);
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        let count = inner.local.entry(operator_id.to_owned()).or_default();
        *count += 1;
        let presence_changed = *count == 1;
        let lead = entitlement == Entitlement::All;
        inner.sockets.insert(id, Socket { operator_id: operator_id.to_owned(), entitlement, tx: tx.clone() });
        self.metrics.live_sockets.store(inner.sockets.len() as u64, Ordering::Relaxed);
        if presence_changed {
            // Every lead, this one included, gets the new union.
            self.announce_presence(&mut inner);
        } else if lead {
            let online = inner.online.iter().cloned().collect();
            // A fresh queue has room for one event.
            let _ = tx.try_send(Arc::new(LiveEvent::Presence { online }));
        }
        Subscription { id, rx, presence_changed }
    }

    /// Forget a socket; returns whether this instance's connected operators changed.
    pub fn unsubscribe(&self, id: u64) -> bool {
        let mut inner = self.lock();
        let changed = Self::remove(&mut inner, id);
        self.metrics.live_sockets.store(inner.sockets.len() as u64, Ordering::Relaxed);
        if changed {
            self.announce_presence(&mut inner);
        }
        changed
    }

    fn remove(inner: &mut Inner, id: u64) -> bool {
        let Some(socket) = inner.sockets.remove(&id) else { return false };
        let Some(count) = inner.local.get_mut(&socket.operator_id) else { return false };
        *count -= 1;
        if *count == 0 {
            inner.local.remove(&socket.operator_id);
            return true;
        }
        false
    }

    /// Queue `event` for every socket that wants it; drop the sockets that cannot keep up.
    /// Returns whether that changed this instance's connected operators.
    pub fn deliver(&self, event: LiveEvent) -> bool {
        let mut inner = self.lock();
        let presence_changed = self.deliver_locked(&mut inner, event);
        if presence_changed {
            self.announce_presence(&mut inner);
        }
        presence_changed
    }

    /// Returns whether dropping slow sockets changed this instance's presence.
    fn deliver_locked(&self, inner: &mut Inner, event: LiveEvent) -> bool {
        let event = Arc::new(event);
        let mut slow = Vec::new();
        for (id, socket) in &inner.sockets {
            if !socket.entitlement.wants(&event) {
                continue;
            }
            match socket.tx.try_send(event.clone()) {
                Ok(()) => inc(&self.metrics.live_events_sent),
                // Typing is worth nothing late: a full queue skips it rather than closing.
                Err(_) if matches!(*event, LiveEvent::VisitorTyping { .. }) => {}
                Err(_) => slow.push(*id),
            }
        }
        let mut changed = false;
        for id in slow {
            tracing::info!(socket = id, "live socket cannot keep up; closing it");
            inc(&self.metrics.live_sockets_dropped);
            changed |= Self::remove(inner, id);
        }
        if changed {
            self.metrics.live_sockets.store(inner.sockets.len() as u64, Ordering::Relaxed);
        }
        changed
    }

    /// This instance's connected operators, sorted: the snapshot sent to other instances.
    pub fn local_presence(&self) -> Vec<String> {
        let inner = self.lock();
        let mut ops: Vec<String> = inner.local.keys().cloned().collect();
        ops.sort();
        ops
    }

    /// Another instance's snapshot arrived (or `None`: it said it is going away).
    pub fn remote_presence(&self, instance: &str, online: Option<Vec<String>>, now: Instant) {
        let mut inner = self.lock();
        match online {
            Some(list) => {
                inner.remote.insert(instance.to_owned(), (list.into_iter().collect(), now));
            }
            None => {
                inner.remote.remove(instance);
            }
        }
        self.announce_presence(&mut inner);
    }

    /// Forget instances not heard from within [`PRESENCE_TTL`].
    pub fn expire_presence(&self, now: Instant) {
        let mut inner = self.lock();
        let before = inner.remote.len();
        inner.remote.retain(|_, (_, seen)| now.duration_since(*seen) < PRESENCE_TTL);
        if inner.remote.len() != before {
            self.announce_presence(&mut inner);
        }
    }

    /// Tell team leads the union of every instance's presence, if it changed.
    fn announce_presence(&self, inner: &mut Inner) {
        // Dropping a slow lead changes presence again; a few rounds settle it.
        for _ in 0..4 {
            let mut online: BTreeSet<String> = inner.local.keys().cloned().collect();
            for (ops, _) in inner.remote.values() {
                online.extend(ops.iter().cloned());
            }
            if online == inner.online {
                return;
            }
            inner.online = online.clone();
            let event = LiveEvent::Presence { online: online.into_iter().collect() };
            if !self.deliver_locked(inner, event) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(queue: usize) -> Hub {
        Hub::new(queue, Arc::new(Metrics::default()))
    }

    fn buckets(list: &[&str]) -> Entitlement {
        Entitlement::Buckets(list.iter().map(|b| (*b).to_owned()).collect())
    }

    fn poke(bucket: &str, version: u64) -> LiveEvent {
        LiveEvent::Poke { bucket: bucket.into(), version }
    }

    fn drain(sub: &mut Subscription) -> Vec<LiveEvent> {
        let mut out = Vec::new();
        while let Ok(ev) = sub.rx.try_recv() {
            out.push((*ev).clone());
        }
        out
    }

    #[test]
    fn pokes_reach_only_entitled_sockets_and_leads_get_presence() {
        let hub = hub(16);
        let mut lead = hub.subscribe("lena", Entitlement::All);
        let mut anna = hub.subscribe("anna", buckets(&["queue:q1", "user:anna"]));
        let mut kate = hub.subscribe("kate", buckets(&["queue:q2", "user:kate"]));
        hub.deliver(poke("queue:q1", 5));
        let state = LiveEvent::AgentState { operator_id: "anna".into(), state: okno_core::AgentState::Break, since: 1 };
        hub.deliver(state.clone());
        assert_eq!(drain(&mut anna), [poke("queue:q1", 5)]);
        assert_eq!(drain(&mut kate), [], "q1 is not kate's; agent states are for leads");
        let lead_events = drain(&mut lead);
        assert_eq!(lead_events.first(), Some(&LiveEvent::Presence { online: vec!["lena".into()] }));
        assert!(
            lead_events.contains(&LiveEvent::Presence { online: vec!["anna".into(), "kate".into(), "lena".into()] })
        );
        assert!(lead_events.ends_with(&[poke("queue:q1", 5), state]));

        assert!(hub.unsubscribe(kate.id));
        assert_eq!(drain(&mut lead), [LiveEvent::Presence { online: vec!["anna".into(), "lena".into()] }]);
        // Another instance's desktops count too, until that instance goes quiet.
        let t0 = Instant::now();
        hub.remote_presence("other", Some(vec!["boris".into()]), t0);
        assert_eq!(
            drain(&mut lead),
            [LiveEvent::Presence { online: vec!["anna".into(), "boris".into(), "lena".into()] }]
        );
        hub.expire_presence(t0 + PRESENCE_TTL);
        assert_eq!(drain(&mut lead), [LiveEvent::Presence { online: vec!["anna".into(), "lena".into()] }]);
    }

    #[test]
    fn a_socket_that_does_not_keep_up_is_dropped_and_the_others_still_get_everything() {
        let hub = hub(4);
        let mut slow = hub.subscribe("anna", buckets(&["queue:q1"]));
        let mut fast = hub.subscribe("boris", buckets(&["queue:q1"]));
        for v in 1..=10 {
            hub.deliver(poke("queue:q1", v));
            drain(&mut fast).iter().for_each(|e| assert_eq!(e, &poke("queue:q1", v)));
        }
        // The slow one got what fit in its queue, then its queue was closed.
        assert_eq!(drain(&mut slow).len(), 4);
        assert_eq!(slow.rx.try_recv().err(), Some(mpsc::error::TryRecvError::Disconnected));
        assert_eq!(hub.local_presence(), ["boris"]);
        assert!(!hub.unsubscribe(slow.id), "already gone");
    }
}
