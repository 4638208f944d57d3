//! What the call queue's decisions cost, without media: 200 callers already waiting while 20
//! calls a second arrive for ten minutes of virtual time, 400 agents answering after 3 s and
//! talking 6-14 s (time compressed so the queue neither empties nor runs away). Prints the time per input (call arrival, answer, hang-up, agent state,
//! timeout) with the distributor's own work only: the part of the 200 ms offer-latency goal
//! that is not SIP and the desk.
//!
//! Run: `cargo bench -p okno-acd --bench acd`. Prints figures; asserts nothing about time.

use std::time::Instant;

use okno_acd::{Action, Distributor, QueueSpec};
use okno_core::AgentState;
use okno_core::rng::Rng;

fn main() {
    println!("cargo bench -p okno-acd --bench acd");
    let mut rng = Rng::new(7);
    let mut d = Distributor::new(vec![QueueSpec {
        id: "hotline".into(),
        skill: None,
        ring_timeout_ms: 15_000,
        callback_after_ms: Some(300_000),
        announce_every_ms: 30_000,
        wrap_up_ms: 5_000,
    }]);
    for n in 0..200 {
        d.call_arrived(&format!("early-{n}"), "hotline", "+7900", 0).unwrap();
    }
    let mut samples: Vec<f64> = Vec::new();
    let mut timed = |d: &mut Distributor, f: &mut dyn FnMut(&mut Distributor)| {
        let started = Instant::now();
        f(d);
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    };
    for a in (0..400).map(|n| format!("agent-{n}")) {
        timed(&mut d, &mut |d| {
            d.agent_joined(&a, Vec::new(), 0);
            d.agent_state(&a, AgentState::Available, 0).unwrap();
        });
    }
    let mut hangups: Vec<(i64, String)> = Vec::new();
    let mut answered = 0u64;
    let mut arrived = 200u64;
    // 20 calls a second: one every 50 ms of virtual time, for ten minutes.
    for tick in 0..(10 * 60 * 20) {
        let now = i64::from(tick) * 50;
        let id = format!("call-{tick}");
        arrived += 1;
        timed(&mut d, &mut |d| d.call_arrived(&id, "hotline", "+7901", now).unwrap());
        hangups.sort_by_key(|h| std::cmp::Reverse(h.0));
        while hangups.last().is_some_and(|h| h.0 <= now) {
            let Some((_, id)) = hangups.pop() else { break };
            timed(&mut d, &mut |d| {
                let _ = d.call_ended(&id, now);
            });
        }
        if d.next_timeout().is_some_and(|t| t <= now) {
            timed(&mut d, &mut |d| d.handle_timeout(now));
        }
        while let Some(action) = d.poll_action() {
            if let Action::Offer { call_id, agent_id, .. } = action {
                let talk = 6_000 + i64::try_from(rng.below(8_000)).unwrap_or(0);
                timed(&mut d, &mut |d| d.offer_answered(&call_id, &agent_id, now + 3_000).unwrap());
                answered += 1;
                hangups.push((now + 3_000 + talk, call_id));
            }
        }
        while d.poll_event().is_some() {}
    }
    samples.sort_by(f64::total_cmp);
    let p = |q: f64| samples[((q * (samples.len() - 1) as f64).round() as usize).min(samples.len() - 1)];
    let waiting = d.waiting("hotline").count();
    println!(
        "{} inputs ({arrived} calls arrived, {answered} answered, {waiting} still waiting at the end): \
         per input p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        samples.len(),
        p(0.5),
        p(0.99),
        samples.last().copied().unwrap_or(0.0)
    );
}
