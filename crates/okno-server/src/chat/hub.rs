//! This instance's visitor sockets, by the chat (ticket) they show. A visitor with the widget
//! open in three tabs has three sockets on one ticket; each gets every frame.
//!
//! Invariant: a frame for a ticket reaches only the sockets registered under that ticket, and a
//! socket is registered under the ticket its visitor token owns (see [`super::socket`]).
//! Delivery never waits: a socket whose queue is full loses the frame and catches up from the
//! history it gets on reconnect.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

/// Frames queued per visitor socket before new ones are dropped.
const QUEUE: usize = 64;

type Sockets = HashMap<String, Vec<(u64, mpsc::Sender<std::sync::Arc<str>>)>>;

#[derive(Default)]
pub struct VisitorHub {
    next_id: AtomicU64,
    sockets: Mutex<Sockets>,
}

impl std::fmt::Debug for VisitorHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisitorHub").field("sockets", &self.open()).finish()
    }
}

impl VisitorHub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Sockets> {
        self.sockets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register a socket under `ticket_id`; frames for that ticket arrive on the receiver.
    pub fn register(&self, ticket_id: &str) -> (u64, mpsc::Receiver<std::sync::Arc<str>>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(QUEUE);
        self.lock().entry(ticket_id.to_owned()).or_default().push((id, tx));
        (id, rx)
    }

    pub fn unregister(&self, ticket_id: &str, id: u64) {
        let mut sockets = self.lock();
        if let Some(list) = sockets.get_mut(ticket_id) {
            list.retain(|(i, _)| *i != id);
            if list.is_empty() {
                sockets.remove(ticket_id);
            }
        }
    }

    /// Hand `frame` to every socket of `ticket_id` here but `except`; returns how many took it.
    pub fn deliver(&self, ticket_id: &str, frame: std::sync::Arc<str>, except: Option<u64>) -> usize {
        let sockets = self.lock();
        let Some(list) = sockets.get(ticket_id) else { return 0 };
        list.iter().filter(|(id, tx)| Some(*id) != except && tx.try_send(frame.clone()).is_ok()).count()
    }

    /// Visitor sockets open on this instance.
    pub fn open(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reaches_every_tab_of_its_chat_and_no_other_chat() {
        let hub = VisitorHub::default();
        let (a1, mut rx_a1) = hub.register("t-a");
        let (a2, mut rxa2) = hub.register("t-a");
        let (_b, mut rx_b) = hub.register("t-b");
        assert_eq!(hub.deliver("t-a", "hello".into(), None), 2);
        assert_eq!(rx_a1.try_recv().as_deref(), Ok("hello"));
        assert_eq!(rxa2.try_recv().as_deref(), Ok("hello"));
        assert!(rx_b.try_recv().is_err(), "another visitor's chat got the frame");
        hub.unregister("t-a", a1);
        assert_eq!(hub.deliver("t-a", "again".into(), None), 1);
        assert_eq!(hub.deliver("t-a", "not to myself".into(), Some(a2)), 0);
        assert_eq!(hub.open(), 2);
    }
}
