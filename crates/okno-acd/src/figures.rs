//! A queue's wallboard figures from the raw events, the same arithmetic the reports use: the
//! wallboard is never a second opinion.
//!
//! Service level follows [`okno_core::metrics::service_level`]: calls answered within the
//! target over calls offered, not counting callers who gave up within the target (as the
//! reports count them). A call counts in the period it arrived in; a callback request counts as
//! handled, not abandoned, when it came within the target.

use std::collections::HashMap;

use okno_core::Millis;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::distributor::{AcdEvent, AcdEventKind, elapsed};
use crate::wire::WaitingCall;

/// Answered within this is "in service level" (the centers' 20 s).
pub const SERVICE_TARGET_MS: u64 = 20_000;

/// One queue over one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct QueueFigures {
    /// Calls that arrived in the period.
    #[ts(type = "number")]
    pub offered: u64,
    #[ts(type = "number")]
    pub answered: u64,
    #[ts(type = "number")]
    pub answered_in_target: u64,
    #[ts(type = "number")]
    pub abandoned: u64,
    /// Gave up within the target: not counted against the service level.
    #[ts(type = "number")]
    pub abandoned_in_target: u64,
    #[ts(type = "number")]
    pub callbacks: u64,
    /// In service level, 0..1 (`None` with nothing offered).
    pub service_level: Option<f64>,
    /// Abandoned over offered, 0..1.
    pub abandon_rate: Option<f64>,
    /// Mean wait of answered calls.
    #[ts(type = "number | null")]
    pub average_answer_ms: Option<u64>,
    /// Calls still waiting at `now`, and the longest of their waits.
    #[ts(type = "number")]
    pub waiting: u64,
    #[ts(type = "number")]
    pub longest_wait_ms: u64,
}

/// What the events up to `now` say of each call: when it arrived, its latest queue, and how its
/// wait ended (none yet: still waiting).
#[derive(Default)]
struct CallFacts {
    arrived_at: Millis,
    queue: String,
    outcome: Option<(AcdEventKind, u64)>,
}

fn call_facts(events: &[AcdEvent], now: Millis) -> HashMap<&str, CallFacts> {
    let mut calls: HashMap<&str, CallFacts> = HashMap::new();
    for e in events.iter().filter(|e| e.at <= now) {
        let facts = calls.entry(e.call_id.as_str()).or_default();
        match e.kind {
            AcdEventKind::Queued => {
                facts.arrived_at = e.at;
                facts.queue = e.queue_id.clone();
            }
            AcdEventKind::Moved => facts.queue = e.queue_id.clone(),
            AcdEventKind::Answered | AcdEventKind::Abandoned | AcdEventKind::CallbackRequested
                if facts.outcome.is_none() =>
            {
                facts.outcome = Some((e.kind, e.waited_ms.unwrap_or(0)));
            }
            _ => {}
        }
    }
    calls
}

/// The calls waiting in `queue_id` at `now`, longest wait first (what a team lead may move).
pub fn waiting_calls(events: &[AcdEvent], queue_id: &str, now: Millis) -> Vec<WaitingCall> {
    let mut waiting: Vec<WaitingCall> = call_facts(events, now)
        .into_iter()
        .filter(|(_, c)| c.queue == queue_id && c.outcome.is_none())
        .map(|(id, c)| WaitingCall {
            call_id: id.to_owned(),
            arrived_at: c.arrived_at,
            waited_ms: elapsed(now, c.arrived_at),
        })
        .collect();
    waiting.sort_by(|a, b| a.arrived_at.cmp(&b.arrived_at).then_with(|| a.call_id.cmp(&b.call_id)));
    waiting
}

/// The figures of `queue_id` for calls that arrived from `since` until `now`, from `events` in
/// the order they happened. A call's latest queue is where it counts (a moved call counts once).
pub fn figures(events: &[AcdEvent], queue_id: &str, since: Millis, now: Millis) -> QueueFigures {
    let calls = call_facts(events, now);
    let mut f = QueueFigures::default();
    let mut answer_wait_total = 0;
    let mut undecided = 0;
    for facts in calls.values().filter(|c| c.queue == queue_id && c.arrived_at >= since) {
        f.offered += 1;
        match facts.outcome {
            Some((AcdEventKind::Answered, waited)) => {
                f.answered += 1;
                answer_wait_total += waited;
                if waited <= SERVICE_TARGET_MS {
                    f.answered_in_target += 1;
                }
            }
            Some((AcdEventKind::Abandoned, waited)) => {
                f.abandoned += 1;
                if waited <= SERVICE_TARGET_MS {
                    f.abandoned_in_target += 1;
                }
            }
            Some((_, waited)) => {
                f.callbacks += 1;
                if waited <= SERVICE_TARGET_MS {
                    f.answered_in_target += 1;
                }
            }
            None => {
                f.waiting += 1;
                let waited = elapsed(now, facts.arrived_at);
                f.longest_wait_ms = f.longest_wait_ms.max(waited);
                // Still waiting past the target is already out of service level; within it,
                // not decided yet: out of both sides.
                if waited <= SERVICE_TARGET_MS {
                    undecided += 1;
                }
            }
        }
    }
    f.service_level =
        okno_core::metrics::service_level(f.answered_in_target, f.offered - undecided, f.abandoned_in_target);
    f.abandon_rate = (f.offered > 0).then(|| f.abandoned as f64 / f.offered as f64);
    f.average_answer_ms = (f.answered > 0).then(|| answer_wait_total / f.answered);
    f
}

/// The call each agent is on at the end of `events` (ringing their desk, talking, or a callback
/// placed through them), by agent id: what the wallboard shows on an agent's tile, from the raw
/// records, so any instance shows the calls of the one that carries them.
pub fn agents_on_calls(events: &[AcdEvent]) -> HashMap<String, String> {
    let mut on: HashMap<String, String> = HashMap::new();
    for e in events {
        match (e.kind, e.agent_id.as_deref()) {
            (AcdEventKind::Offered | AcdEventKind::Answered | AcdEventKind::CallbackPlaced, Some(agent)) => {
                on.insert(agent.to_owned(), e.call_id.clone());
            }
            (AcdEventKind::NotAnswered | AcdEventKind::Ended, Some(agent)) if on.get(agent) == Some(&e.call_id) => {
                on.remove(agent);
            }
            // The caller gave up while the desk rang, or the call went to another instance.
            (AcdEventKind::Abandoned | AcdEventKind::HandedOver | AcdEventKind::CallbackRequested, _) => {
                on.retain(|_, call| call != &e.call_id);
            }
            _ => {}
        }
    }
    on
}

/// A call the desks recorded on their own (before the ACD queued it): the events the ACD would
/// have written for it, so that such calls count in the same figures. Unanswered and ended is
/// abandoned; unanswered and not ended is still waiting.
pub fn recorded_call_events(
    call_id: &str,
    queue_id: &str,
    agent_id: Option<&str>,
    started_at: Millis,
    answered_at: Option<Millis>,
    ended_at: Option<Millis>,
) -> Vec<AcdEvent> {
    let event = |at: Millis, kind, agent: Option<&str>, waited: Option<u64>| AcdEvent {
        at,
        call_id: call_id.to_owned(),
        queue_id: queue_id.to_owned(),
        kind,
        agent_id: agent.map(str::to_owned),
        waited_ms: waited,
    };
    let waited = |at: Millis| elapsed(at, started_at);
    let mut events = vec![event(started_at, AcdEventKind::Queued, None, None)];
    match (answered_at, ended_at) {
        (Some(at), ended) => {
            events.push(event(at, AcdEventKind::Answered, agent_id, Some(waited(at))));
            if let Some(end) = ended {
                events.push(event(end, AcdEventKind::Ended, agent_id, None));
            }
        }
        (None, Some(end)) => events.push(event(end, AcdEventKind::Abandoned, None, Some(waited(end)))),
        (None, None) => {}
    }
    events
}
