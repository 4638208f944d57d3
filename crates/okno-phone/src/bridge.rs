//! A three-way conference made on the operator's desk: two calls (the customer and, say, a
//! courier) each hear the operator *and* the other call. Each call keeps its own media task, its
//! own microphone capture and its own playback stream (the sound server mixes the two streams
//! into the operator's headset); the bridge only carries what each call received over to the
//! other call's outgoing audio.
//!
//! [`Bridge::tap_source`] and [`Bridge::tap_sink`] wrap a call's audio: the sink tap keeps the
//! last few frames that call received, and the other call's source tap adds them to the
//! microphone. The two media tasks tick on their own 20 ms clocks, so a short queue absorbs
//! their drift; older frames are dropped rather than let the delay grow.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::media::{AudioSink, AudioSource};

/// Frames kept per call before the oldest is dropped (60 ms at most of added delay).
const DEPTH: usize = 3;

/// The calls of one conference and what each last received.
#[derive(Default)]
pub struct Bridge {
    heard: Mutex<HashMap<String, VecDeque<Vec<i16>>>>,
}

impl Bridge {
    pub fn new(calls: &[&str]) -> Arc<Bridge> {
        let heard = calls.iter().map(|c| ((*c).to_owned(), VecDeque::new())).collect();
        Arc::new(Bridge { heard: Mutex::new(heard) })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, VecDeque<Vec<i16>>>> {
        self.heard.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn contains(&self, call_id: &str) -> bool {
        self.lock().contains_key(call_id)
    }

    /// What `call_id` sends: its microphone plus what the other calls received.
    pub fn tap_source(self: &Arc<Self>, call_id: &str, inner: Box<dyn AudioSource>) -> Box<dyn AudioSource> {
        Box::new(BridgeSource { call_id: call_id.to_owned(), inner, bridge: self.clone() })
    }

    /// What `call_id` receives goes to the headset as before and is kept for the other calls.
    pub fn tap_sink(self: &Arc<Self>, call_id: &str, inner: Box<dyn AudioSink>) -> Box<dyn AudioSink> {
        Box::new(BridgeSink { call_id: call_id.to_owned(), inner, bridge: self.clone() })
    }

    fn received(&self, call_id: &str, frame: &[i16]) {
        let mut heard = self.lock();
        if let Some(queue) = heard.get_mut(call_id) {
            if queue.len() >= DEPTH {
                queue.pop_front();
            }
            queue.push_back(frame.to_vec());
        }
    }

    /// Adds one frame from each of the other calls to `frame` (frames of another length, from a
    /// call on a codec with another rate, are left out).
    fn mix_others_into(&self, call_id: &str, frame: &mut [i16]) {
        let mut heard = self.lock();
        for (other, queue) in heard.iter_mut() {
            if other == call_id {
                continue;
            }
            let Some(theirs) = queue.pop_front() else { continue };
            if theirs.len() != frame.len() {
                continue;
            }
            for (s, t) in frame.iter_mut().zip(&theirs) {
                *s = (*s as i32 + *t as i32).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
            }
        }
    }
}

struct BridgeSource {
    call_id: String,
    inner: Box<dyn AudioSource>,
    bridge: Arc<Bridge>,
}

impl AudioSource for BridgeSource {
    fn read_frame(&mut self, frame: &mut [i16]) {
        self.inner.read_frame(frame);
        self.bridge.mix_others_into(&self.call_id, frame);
    }
}

struct BridgeSink {
    call_id: String,
    inner: Box<dyn AudioSink>,
    bridge: Arc<Bridge>,
}

impl AudioSink for BridgeSink {
    fn write_frame(&mut self, frame: &[i16]) {
        self.bridge.received(&self.call_id, frame);
        self.inner.write_frame(frame);
    }

    fn finish(&mut self) {
        self.inner.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{Discard, Silence};

    struct Constant(i16);

    impl AudioSource for Constant {
        fn read_frame(&mut self, frame: &mut [i16]) {
            frame.fill(self.0);
        }
    }

    #[test]
    fn each_call_hears_the_operator_and_the_other_call() {
        let bridge = Bridge::new(&["customer", "courier"]);
        let mut to_customer = bridge.tap_source("customer", Box::new(Constant(100)));
        let mut from_customer = bridge.tap_sink("customer", Box::new(Discard));
        let mut to_courier = bridge.tap_source("courier", Box::new(Constant(100)));
        let mut from_courier = bridge.tap_sink("courier", Box::new(Discard));
        from_customer.write_frame(&[2000; 160]);
        from_courier.write_frame(&[-700; 160]);
        let mut frame = [0i16; 160];
        to_courier.read_frame(&mut frame);
        assert!(frame.iter().all(|&s| s == 2100), "the courier hears the operator and the customer");
        to_customer.read_frame(&mut frame);
        assert!(frame.iter().all(|&s| s == -600), "the customer hears the operator and the courier");
        // Nothing new received: only the operator.
        to_customer.read_frame(&mut frame);
        assert!(frame.iter().all(|&s| s == 100));
        assert!(bridge.contains("courier") && !bridge.contains("someone else"));
    }

    #[test]
    fn a_call_that_runs_ahead_adds_no_delay_beyond_the_queue() {
        let bridge = Bridge::new(&["a", "b"]);
        let mut from_a = bridge.tap_sink("a", Box::new(Discard));
        let mut to_b = bridge.tap_source("b", Box::new(Silence));
        for n in 0..10 {
            from_a.write_frame(&[n; 160]);
        }
        let mut frame = [0i16; 160];
        to_b.read_frame(&mut frame);
        assert_eq!(frame[0], 10 - DEPTH as i16, "only the newest frames are kept");
        // Saturation instead of wrap-around.
        from_a.write_frame(&[i16::MAX; 160]);
        let mut loud = bridge.tap_source("b", Box::new(Constant(1000)));
        for _ in 0..DEPTH {
            loud.read_frame(&mut frame);
        }
        assert_eq!(frame[0], i16::MAX);
    }
}
