//! Any sequence of pushes and pops (sequence numbers, timestamps, arrival
//! times from the input): the jitter buffer never panics and never holds
//! more than its capacity.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use okno_media::jitter::{JitterBuffer, JitterConfig, Playout};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut jb: JitterBuffer<u32> = JitterBuffer::new(JitterConfig::default());
    let mut now_ms = 0u64;
    for chunk in data.chunks_exact(8) {
        now_ms += chunk[0] as u64;
        let now = t0 + Duration::from_millis(now_ms);
        if chunk[1] & 1 == 0 {
            let seq = u16::from_be_bytes([chunk[2], chunk[3]]);
            let ts = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            jb.push(now, seq, ts, ts);
        } else if let Playout::Frame(ts) = jb.pop(now) {
            std::hint::black_box(ts);
        }
        assert!(jb.buffered() <= Duration::from_millis(1000) + Duration::from_millis(20));
    }
});
