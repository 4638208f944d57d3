//! Whatever a server (or something posing as one) answers to a desk's push or pull: decoding
//! it as the desk does never panics, and the sync engine fed it never panics, never moves its
//! cursor backwards, and acknowledges or refuses only writes it actually sent.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use okno_core::{Mutation, TicketStatus};
use okno_sync::{Config, Engine, Input, Output, PullResponse, PushItem, PushResponse, Request};

fuzz_target!(|data: &[u8]| {
    let push = serde_json::from_slice::<PushResponse>(data).ok();
    let pull = serde_json::from_slice::<PullResponse>(data).ok();
    let t0 = Instant::now();
    let mut engine = Engine::new(Config::new("fuzz"), 5);
    let sent: Vec<u64> = vec![1, 2];
    let outbox = sent
        .iter()
        .map(|seq| PushItem {
            client_seq: *seq,
            mutation_id: format!("m{seq}"),
            mutation: Mutation::SetTicketStatus { ticket_id: "t1".into(), status: TicketStatus::Open, at: 1 },
        })
        .collect();
    engine.handle_input(t0, Input::Outbox(outbox));
    engine.handle_input(t0, Input::Poke { version: 9 });
    let mut cursor = 5;
    let mut now = t0;
    for _ in 0..64 {
        match engine.poll_output(now) {
            Output::Transmit(Request::Push(_)) => {
                let input = push.clone().map_or(Input::NetworkError, Input::PushResponse);
                engine.handle_input(now, input);
            }
            Output::Transmit(Request::Pull(_)) => {
                let input = pull.clone().map_or(Input::NetworkError, Input::PullResponse);
                engine.handle_input(now, input);
            }
            Output::Acked(acks) => {
                assert!(acks.iter().all(|a| sent.contains(&a.seq)), "acknowledged a write never sent: {acks:?}")
            }
            Output::Rejected { seq, .. } => assert!(sent.contains(&seq), "refused a write never sent: {seq}"),
            Output::ApplyBatch { cursor: next, .. } => {
                assert!(next >= cursor, "the cursor went back from {cursor} to {next}");
                cursor = next;
            }
            Output::Timeout(at) => now = at.max(now + Duration::from_millis(1)),
        }
    }
    assert!(engine.cursor() >= 5, "the cursor went below where it started");
});
