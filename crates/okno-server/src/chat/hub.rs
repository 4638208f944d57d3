//! This instance's visitor sockets, by the chat (ticket) they show. A visitor with the widget
//! open in three tabs has three sockets on one ticket; each gets every frame. A socket whose
//! visitor has no chat yet waits under the visitor ([`visitor_key`]); when one tab's first
//! message opens the chat, [`VisitorHub::promote`] moves the visitor's other tabs to it, so
//! they show the message, the greeting and the operator's answers without reconnecting.
//!
//! Invariant: a frame for a ticket reaches only the sockets registered under that ticket, and a
//! socket is registered under the ticket its visitor token owns, or under its visitor while
//! there is none (see [`super::socket`]). A socket is in one list at a time, found by its id.
//! Delivery never waits: a socket whose queue is full loses the frame and catches up from the
//! history it gets on reconnect. Promotion is this instance's: a visitor's tab on another
//! instance joins the chat with its first frame after the chat opened or on reconnect.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

/// Frames queued per visitor socket before new ones are dropped.
const QUEUE: usize = 64;

type Sender = mpsc::Sender<std::sync::Arc<str>>;

#[derive(Default)]
struct Sockets {
    by_key: HashMap<String, Vec<(u64, Sender)>>,
    /// Where each socket is now (a ticket or a visitor key).
    key_of: HashMap<u64, String>,
}

/// The hub key of a visitor without a chat; no ticket id has this form.
pub fn visitor_key(visitor_id: &str) -> String {
    format!("visitor/{visitor_id}")
}

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

    /// Register a socket under `key` (a ticket id, or a [`visitor_key`]); frames for it arrive
    /// on the receiver.
    pub fn register(&self, key: &str) -> (u64, mpsc::Receiver<std::sync::Arc<str>>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(QUEUE);
        let mut sockets = self.lock();
        sockets.by_key.entry(key.to_owned()).or_default().push((id, tx));
        sockets.key_of.insert(id, key.to_owned());
        (id, rx)
    }

    /// Take socket `id` out, wherever it is now.
    pub fn unregister(&self, id: u64) {
        let mut sockets = self.lock();
        let Some(key) = sockets.key_of.remove(&id) else { return };
        if let Some(list) = sockets.by_key.get_mut(&key) {
            list.retain(|(i, _)| *i != id);
            if list.is_empty() {
                sockets.by_key.remove(&key);
            }
        }
    }

    /// Move every socket waiting under `from` to `to` (a visitor's tabs to the chat one of them
    /// just opened); returns how many moved.
    pub fn promote(&self, from: &str, to: &str) -> usize {
        let mut sockets = self.lock();
        let Some(moved) = sockets.by_key.remove(from) else { return 0 };
        for (id, _) in &moved {
            sockets.key_of.insert(*id, to.to_owned());
        }
        let count = moved.len();
        sockets.by_key.entry(to.to_owned()).or_default().extend(moved);
        count
    }

    /// Hand `frame` to every socket under `key` here but `except`; returns how many took it.
    pub fn deliver(&self, key: &str, frame: std::sync::Arc<str>, except: Option<u64>) -> usize {
        let sockets = self.lock();
        let Some(list) = sockets.by_key.get(key) else { return 0 };
        list.iter().filter(|(id, tx)| Some(*id) != except && tx.try_send(frame.clone()).is_ok()).count()
    }

    /// Visitor sockets open on this instance.
    pub fn open(&self) -> usize {
        self.lock().key_of.len()
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
        hub.unregister(a1);
        assert_eq!(hub.deliver("t-a", "again".into(), None), 1);
        assert_eq!(hub.deliver("t-a", "not to myself".into(), Some(a2)), 0);
        assert_eq!(hub.open(), 2);
    }

    #[test]
    fn a_visitors_waiting_tabs_move_to_the_chat_one_of_them_opened() {
        let hub = VisitorHub::default();
        let waiting = visitor_key("v1");
        let (tab1, _rx1) = hub.register(&waiting);
        let (_tab2, mut rx2) = hub.register(&waiting);
        let (_other, mut rx_other) = hub.register(&visitor_key("v2"));
        assert_eq!(hub.promote(&waiting, "t-new"), 2);
        assert_eq!(hub.promote(&waiting, "t-new"), 0, "nobody waits any more");
        assert_eq!(hub.deliver("t-new", "greeting".into(), Some(tab1)), 1);
        assert_eq!(rx2.try_recv().as_deref(), Ok("greeting"));
        assert!(rx_other.try_recv().is_err(), "another visitor's tab stays out");
        // A moved socket is still found by its id when it goes.
        hub.unregister(tab1);
        assert_eq!(hub.deliver("t-new", "again".into(), None), 1);
        assert_eq!(hub.open(), 2);
    }
}
