//! The engine in virtual time: against scripted answers, and against a tiny in-memory server
//! over a lossy network. No test sleeps; a minute of retries takes microseconds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use okno_core::{Mutation, TicketStatus};
use serde_json::json;

use crate::engine::{Ack, Config, Engine, Input, Output, Request};
use crate::protocol::*;

fn status(seq: u64, ticket: &str, status: TicketStatus) -> PushItem {
    PushItem {
        client_seq: seq,
        mutation_id: format!("m{seq}"),
        mutation: Mutation::SetTicketStatus { ticket_id: ticket.into(), status, at: seq as i64 },
    }
}

fn claim(seq: u64, ticket: &str, me: &str) -> PushItem {
    PushItem {
        client_seq: seq,
        mutation_id: format!("m{seq}"),
        mutation: Mutation::AssignTicket { ticket_id: ticket.into(), assignee_id: Some(me.into()), at: seq as i64 },
    }
}

fn change(version: u64, id: &str) -> Change {
    Change {
        version,
        bucket: "queue:q1".into(),
        entity: "ticket".into(),
        id: id.into(),
        op: Op::Upsert,
        data: json!({ "v": version }),
    }
}

/// Every output until the engine asks to sleep; the timeout instant last.
fn drain(engine: &mut Engine, now: Instant) -> (Vec<Output>, Instant) {
    let mut outs = Vec::new();
    loop {
        match engine.poll_output(now) {
            Output::Timeout(at) => return (outs, at),
            other => outs.push(other),
        }
        assert!(outs.len() < 10_000, "the engine never asked to sleep");
    }
}

/// What the engine says of entries `seqs` acknowledged by [`applied`].
fn acks(seqs: &[u64]) -> Output {
    Output::Acked(seqs.iter().map(|&seq| Ack { seq, version: Some(seq) }).collect())
}

fn applied(seqs: &[u64]) -> PushResponse {
    PushResponse {
        results: seqs.iter().map(|&s| PushResult { client_seq: s, outcome: Outcome::Applied { version: s } }).collect(),
    }
}

#[test]
fn pushes_in_order_then_pulls_and_applies() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::new("c1"), 0);
    e.handle_input(t0, Input::Outbox(vec![status(1, "t1", TicketStatus::Open), status(2, "t1", TicketStatus::Closed)]));
    let (outs, _) = drain(&mut e, t0);
    let [Output::Transmit(Request::Push(push))] = outs.as_slice() else { panic!("{outs:?}") };
    assert_eq!(push.mutations.iter().map(|m| m.client_seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(push.schema_version, SCHEMA_VERSION);

    e.handle_input(t0, Input::PushResponse(applied(&[1, 2])));
    let (outs, _) = drain(&mut e, t0);
    assert_eq!(outs[0], acks(&[1, 2]));
    assert_eq!(outs[1], Output::Transmit(Request::Pull(PullRequest { cursor: 0, limit: 500 })));

    e.handle_input(
        t0,
        Input::PullResponse(PullResponse {
            changes: vec![change(1, "t1"), change(2, "t1")],
            cursor: 2,
            has_more: false,
            head: None,
        }),
    );
    let (outs, next) = drain(&mut e, t0);
    assert_eq!(outs, [Output::ApplyBatch { changes: vec![change(1, "t1"), change(2, "t1")], cursor: 2 }]);
    assert_eq!(next, t0 + Duration::from_secs(30), "then the periodic pull");
    assert!(e.is_idle());
    assert_eq!(e.cursor(), 2);
}

#[test]
fn pulled_changes_wait_until_every_pending_mutation_is_acknowledged() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::new("c1"), 5);
    let (outs, _) = drain(&mut e, t0);
    assert_eq!(outs, [Output::Transmit(Request::Pull(PullRequest { cursor: 5, limit: 500 }))]);

    // The operator writes while the pull is in flight.
    e.handle_input(t0, Input::Outbox(vec![status(1, "t1", TicketStatus::Pending)]));
    e.handle_input(
        t0,
        Input::PullResponse(PullResponse { changes: vec![change(6, "t1")], cursor: 6, has_more: false, head: None }),
    );
    let (outs, _) = drain(&mut e, t0);
    assert!(
        matches!(outs.as_slice(), [Output::Transmit(Request::Push(_))]),
        "no ApplyBatch while seq 1 is pending: {outs:?}"
    );

    e.handle_input(t0, Input::PushResponse(applied(&[1])));
    let (outs, _) = drain(&mut e, t0);
    assert_eq!(outs, [acks(&[1]), Output::Transmit(Request::Pull(PullRequest { cursor: 6, limit: 500 }))]);
    e.handle_input(
        t0,
        Input::PullResponse(PullResponse { changes: vec![change(7, "t1")], cursor: 7, has_more: false, head: None }),
    );
    let (outs, _) = drain(&mut e, t0);
    assert_eq!(outs, [Output::ApplyBatch { changes: vec![change(6, "t1"), change(7, "t1")], cursor: 7 }]);
}

#[test]
fn pages_are_fetched_until_has_more_is_false_then_applied_once() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::new("c1"), 0);
    let _ = drain(&mut e, t0);
    e.handle_input(
        t0,
        Input::PullResponse(PullResponse { changes: vec![change(1, "a")], cursor: 1, has_more: true, head: None }),
    );
    let (outs, _) = drain(&mut e, t0);
    assert_eq!(outs, [Output::Transmit(Request::Pull(PullRequest { cursor: 1, limit: 500 }))]);
    // The second page skips versions in buckets we do not see: the cursor jumps.
    e.handle_input(
        t0,
        Input::PullResponse(PullResponse { changes: vec![change(4, "b")], cursor: 9, has_more: false, head: None }),
    );
    let (outs, _) = drain(&mut e, t0);
    assert_eq!(outs, [Output::ApplyBatch { changes: vec![change(1, "a"), change(4, "b")], cursor: 9 }]);
}

#[test]
fn failures_back_off_exponentially_up_to_the_cap_and_reset_on_success() {
    let mut config = Config::new("c1");
    config.backoff_min = Duration::from_millis(500);
    config.backoff_max = Duration::from_secs(4);
    let mut e = Engine::new(config, 0);
    let mut now = Instant::now();
    let mut delays = Vec::new();
    for _ in 0..6 {
        let (outs, _) = drain(&mut e, now);
        assert!(matches!(outs.as_slice(), [Output::Transmit(Request::Pull(_))]), "{outs:?}");
        e.handle_input(now, Input::NetworkError);
        let (outs, retry_at) = drain(&mut e, now);
        assert!(outs.is_empty());
        delays.push(retry_at - now);
        // Polling early does nothing.
        let (outs, _) = drain(&mut e, retry_at - Duration::from_millis(1));
        assert!(outs.is_empty());
        now = retry_at;
    }
    let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [500, 1000, 2000, 4000, 4000, 4000]);

    let (outs, _) = drain(&mut e, now);
    assert!(matches!(outs.as_slice(), [Output::Transmit(Request::Pull(_))]));
    e.handle_input(now, Input::PullResponse(PullResponse { changes: vec![], cursor: 0, has_more: true, head: None }));
    let (outs, _) = drain(&mut e, now);
    assert!(matches!(outs.as_slice(), [Output::Transmit(Request::Pull(_))]));
    e.handle_input(now, Input::NetworkError);
    let (_, retry_at) = drain(&mut e, now);
    assert_eq!(retry_at - now, Duration::from_millis(500), "a success resets the backoff");
}

#[test]
fn an_unanswered_request_times_out_and_is_resent() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::new("c1"), 0);
    e.handle_input(t0, Input::Outbox(vec![status(1, "t1", TicketStatus::Open)]));
    let (outs, deadline) = drain(&mut e, t0);
    assert_eq!(outs.len(), 1);
    assert_eq!(deadline, t0 + Duration::from_secs(30));
    let (outs, retry_at) = drain(&mut e, deadline);
    assert!(outs.is_empty());
    assert_eq!(retry_at, deadline + Duration::from_millis(500));
    let (outs, _) = drain(&mut e, retry_at);
    let [Output::Transmit(Request::Push(push))] = outs.as_slice() else { panic!("{outs:?}") };
    assert_eq!(push.mutations[0].client_seq, 1, "the same entry again: the server dedupes by sequence");
    // The late answer to the first attempt arrives now; it is as good as the second one.
    e.handle_input(retry_at, Input::PushResponse(applied(&[1])));
    let (outs, _) = drain(&mut e, retry_at);
    assert_eq!(outs[0], acks(&[1]));
    // The answer to the resend comes after: ignored, nothing acked twice.
    e.handle_input(retry_at, Input::PushResponse(applied(&[1])));
    let (outs, _) = drain(&mut e, retry_at);
    assert!(outs.iter().all(|o| !matches!(o, Output::Acked(_))), "{outs:?}");
}

#[test]
fn rejections_are_reported_in_order_between_acks() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::new("c1"), 0);
    e.handle_input(
        t0,
        Input::Outbox(vec![
            status(1, "t1", TicketStatus::Open),
            claim(2, "t1", "me"),
            status(3, "t1", TicketStatus::Closed),
        ]),
    );
    let _ = drain(&mut e, t0);
    let rejected = Outcome::Rejected { code: codes::ALREADY_CLAIMED.into(), reason: "taken by Anna".into() };
    e.handle_input(
        t0,
        Input::PushResponse(PushResponse {
            results: vec![
                PushResult { client_seq: 1, outcome: Outcome::Applied { version: 1 } },
                PushResult { client_seq: 2, outcome: rejected },
                PushResult { client_seq: 3, outcome: Outcome::Duplicate },
            ],
        }),
    );
    let (outs, _) = drain(&mut e, t0);
    assert_eq!(outs[0], acks(&[1]));
    assert_eq!(outs[1], Output::Rejected { seq: 2, code: "already_claimed".into(), reason: "taken by Anna".into() });
    assert_eq!(outs[2], Output::Acked(vec![Ack { seq: 3, version: None }]), "a duplicate's version is not told");
    assert!(matches!(outs[3], Output::Transmit(Request::Pull(_))));
    assert_eq!(e.pending(), 0);
}

#[test]
fn a_poke_beyond_the_cursor_starts_a_pull() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::new("c1"), 0);
    let _ = drain(&mut e, t0);
    e.handle_input(t0, Input::PullResponse(PullResponse { changes: vec![], cursor: 3, has_more: false, head: None }));
    let _ = drain(&mut e, t0);
    e.handle_input(t0, Input::Poke { version: 3 });
    let (outs, _) = drain(&mut e, t0);
    assert!(outs.is_empty(), "already have 3: {outs:?}");
    e.handle_input(t0, Input::Poke { version: 4 });
    let (outs, _) = drain(&mut e, t0);
    assert_eq!(outs, [Output::Transmit(Request::Pull(PullRequest { cursor: 3, limit: 500 }))]);
}

/// A tiny authoritative server: last-writer-wins status, first claim wins, a changelog.
#[derive(Default)]
struct FakeServer {
    last_seq: u64,
    log: Vec<Change>,
    owners: BTreeMap<String, String>,
}

impl FakeServer {
    fn push(&mut self, req: PushRequest) -> PushResponse {
        let mut results = Vec::new();
        for item in req.mutations {
            let seq = item.client_seq;
            let outcome = if seq <= self.last_seq {
                Outcome::Duplicate
            } else if seq > self.last_seq + 1 {
                Outcome::Rejected { code: codes::SEQUENCE_GAP.into(), reason: "gap".into() }
            } else {
                self.last_seq = seq;
                match item.mutation {
                    Mutation::SetTicketStatus { ticket_id, status, .. } => {
                        let version = self.log.len() as u64 + 1;
                        self.log.push(Change {
                            version,
                            bucket: "queue:q1".into(),
                            entity: "ticket".into(),
                            id: ticket_id,
                            op: Op::Upsert,
                            data: json!({ "status": status }),
                        });
                        Outcome::Applied { version }
                    }
                    Mutation::AssignTicket { ticket_id, assignee_id: Some(me), .. } => {
                        if let std::collections::btree_map::Entry::Vacant(slot) = self.owners.entry(ticket_id) {
                            slot.insert(me);
                            Outcome::Applied { version: self.log.len() as u64 }
                        } else {
                            Outcome::Rejected { code: codes::ALREADY_CLAIMED.into(), reason: "taken".into() }
                        }
                    }
                    other => panic!("not simulated: {other:?}"),
                }
            };
            results.push(PushResult { client_seq: seq, outcome });
        }
        PushResponse { results }
    }

    fn pull(&self, req: PullRequest) -> PullResponse {
        let changes: Vec<Change> =
            self.log.iter().filter(|c| c.version > req.cursor).take(req.limit as usize).cloned().collect();
        let cursor = changes.last().map_or(req.cursor, |c| c.version);
        let has_more = self.log.last().is_some_and(|c| c.version > cursor);
        PullResponse { changes, cursor, has_more, head: None }
    }
}

/// Deterministic pseudo-random numbers (okno-core's), so a failing seed can be replayed.
use okno_core::rng::Rng;

#[test]
fn converges_with_the_server_over_a_lossy_network() {
    for seed in 1..=20u64 {
        let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut server = FakeServer::default();
        let mut config = Config::new("c1");
        config.max_batch = 7;
        config.pull_limit = 5;
        let mut e = Engine::new(config, 0);
        let t0 = Instant::now();
        let mut now = t0;
        let mut outbox: Vec<PushItem> = Vec::new();
        let mut local: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        let mut done_seqs = Vec::new();
        let mut reply: Option<(Instant, Input)> = None;
        let mut next_seq = 1;
        let latency = Duration::from_millis(20);

        for _round in 0..100_000 {
            // The operator keeps working for the first minute.
            if now < t0 + Duration::from_secs(60) && rng.chance(10.0 / 100.0) {
                let ticket = format!("t{}", rng.below(5));
                let item = if rng.chance(20.0 / 100.0) {
                    claim(next_seq, &ticket, "me")
                } else {
                    status(next_seq, &ticket, TicketStatus::ALL[rng.below(5) as usize])
                };
                next_seq += 1;
                outbox.push(item);
                e.handle_input(now, Input::Outbox(outbox.clone()));
            }
            let (outs, timeout) = drain(&mut e, now);
            for out in outs {
                match out {
                    Output::Transmit(req) => {
                        assert!(reply.is_none(), "one request in flight at a time");
                        let lost_request = rng.chance(15.0 / 100.0);
                        let lost_reply = rng.chance(15.0 / 100.0);
                        let answer = match req {
                            Request::Push(p) if !lost_request => Input::PushResponse(server.push(p)),
                            Request::Pull(p) if !lost_request => Input::PullResponse(server.pull(p)),
                            _ => Input::NetworkError,
                        };
                        if !lost_reply {
                            reply = Some((now + latency, answer));
                        } // else: silence, the engine's request timeout fires
                    }
                    Output::Acked(acks) => {
                        let seqs = Ack::seqs(&acks);
                        outbox.retain(|m| !seqs.contains(&m.client_seq));
                        done_seqs.extend(seqs);
                    }
                    Output::Rejected { seq, code, .. } => {
                        assert_eq!(code, codes::ALREADY_CLAIMED);
                        outbox.retain(|m| m.client_seq != seq);
                        done_seqs.push(seq);
                    }
                    Output::ApplyBatch { changes, cursor } => {
                        assert!(outbox.is_empty(), "applied while mutations were pending");
                        let mut last = 0;
                        for c in changes {
                            assert!(c.version > last, "in version order");
                            last = c.version;
                            local.insert(c.id, c.data);
                        }
                        assert!(cursor >= last);
                    }
                    Output::Timeout(_) => unreachable!("drain keeps timeouts"),
                }
            }
            let working = now < t0 + Duration::from_secs(60);
            if !working && outbox.is_empty() && reply.is_none() && e.is_idle() {
                break;
            }
            let mut next = timeout;
            if let Some((at, _)) = &reply {
                next = next.min(*at);
            }
            if working {
                next = next.min(now + Duration::from_millis(100));
            }
            now = next.max(now);
            if reply.as_ref().is_some_and(|(at, _)| *at <= now) {
                let (_, input) = reply.take().expect("checked above");
                e.handle_input(now, input);
            }
        }
        assert!(e.is_idle(), "seed {seed}: did not converge");
        assert!(next_seq > 30 && server.log.len() > 10, "seed {seed}: the run exercised little ({next_seq} writes)");
        done_seqs.sort_unstable();
        assert_eq!(done_seqs, (1..next_seq).collect::<Vec<_>>(), "seed {seed}: each entry acked or rejected once");
        let mut expected = BTreeMap::new();
        for c in &server.log {
            expected.insert(c.id.clone(), c.data.clone());
        }
        assert_eq!(local, expected, "seed {seed}: local state equals the server's");
        assert!(now - t0 < Duration::from_secs(600), "seed {seed}: took {:?} of virtual time", now - t0);
    }
}
