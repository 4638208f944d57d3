//! The call queue's state machine: calls wait in their queue in arrival order and are offered to
//! the longest-idle available agent with the queue's skill; an offer not answered within the
//! queue's ring timeout goes to the next agent and the silent desk is marked not responding; a
//! long wait offers the caller a callback, which is placed when an agent is free.
//!
//! # Driving contract
//!
//! The driver (the server's SIP back-to-back agent, or a test stepping virtual time) owns the
//! calls' signalling and media and the clock:
//!
//! 1. Feed every fact with its time: a call entering a queue ([`Distributor::call_arrived`]), a
//!    desk answering or refusing an offer, the caller hanging up, a DTMF choice, an agent's
//!    state from their desk, a team lead moving a call.
//! 2. After any input, and when [`Distributor::next_timeout`] passes, call
//!    [`Distributor::handle_timeout`]; then drain [`Distributor::poll_action`] and carry each
//!    action out (ring a desk, stop ringing, bridge, play a prompt, dial a callback), and drain
//!    [`Distributor::poll_event`] into the report events.
//! 3. A desk's answer that arrives after its offer was withdrawn is refused
//!    ([`AcdError::NotOffered`]): the driver ends that desk's leg.
//!
//! Invariants: a call is offered to at most one agent at a time and an agent holds at most one
//! offer or call; every call that arrives ends in exactly one of answered, abandoned or callback
//! requested (a callback then ends in placed); the queue order is arrival order, kept across
//! failed offers and moves between queues.

use std::collections::{HashMap, VecDeque};

use okno_core::{AgentState, Millis};
use serde::{Deserialize, Serialize};

/// Milliseconds from `since` to `now`; never negative (a desk's clock may be behind).
pub(crate) fn elapsed(now: Millis, since: Millis) -> u64 {
    u64::try_from(now.saturating_sub(since)).unwrap_or(0)
}

/// One queue's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSpec {
    pub id: String,
    /// Only agents with this skill take the queue's calls (`None`: any agent).
    pub skill: Option<String>,
    /// How long a desk rings before the call goes to the next agent.
    pub ring_timeout_ms: u64,
    /// A caller waiting this long is offered a callback (`None`: never).
    pub callback_after_ms: Option<u64>,
    /// How often a waiting caller hears their position.
    pub announce_every_ms: u64,
    /// After-call work before the agent is offered the next call.
    pub wrap_up_ms: u64,
}

/// An agent as the queue sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub id: String,
    pub skills: Vec<String>,
    pub state: AgentState,
    /// Since when the agent has been free (longest idle is offered first).
    pub idle_since: Millis,
    /// Their desk let an offer ring out: no offers until the desk sets a state again.
    pub not_responding: bool,
    /// The call offered to or connected with them.
    pub call: Option<String>,
    /// In after-call work until then.
    pub wrap_up_until: Option<Millis>,
}

impl Agent {
    fn free(&self) -> bool {
        self.state == AgentState::Available
            && !self.not_responding
            && self.call.is_none()
            && self.wrap_up_until.is_none()
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Ring the agent's desk with the call (showing the queue and the wait).
    Offer { call_id: String, agent_id: String, queue_id: String, waited_ms: u64 },
    /// Stop ringing the agent's desk.
    CancelOffer { call_id: String, agent_id: String },
    /// Connect the caller with the agent who answered.
    Bridge { call_id: String, agent_id: String },
    /// Tell the caller their place and the expected wait.
    Announce { call_id: String, position: usize, expected_wait_ms: u64 },
    /// Offer the caller a callback (press 1).
    OfferCallback { call_id: String },
    /// The caller chose a callback: thank them and end their leg.
    EndCallerLeg { call_id: String },
    /// Ring the agent, then dial the caller back on `number`.
    PlaceCallback { call_id: String, agent_id: String, number: String },
    /// The agent's desk let an offer ring out: show them as not responding.
    AgentNotResponding { agent_id: String },
}

/// A fact for the reports, stored as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcdEvent {
    pub at: Millis,
    pub call_id: String,
    pub queue_id: String,
    pub kind: AcdEventKind,
    pub agent_id: Option<String>,
    /// The caller's wait until this event (answered, abandoned, callback requested).
    pub waited_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcdEventKind {
    Queued,
    Offered,
    /// An offer rang out or was refused.
    NotAnswered,
    Answered,
    Abandoned,
    /// A team lead moved the waiting call here (the event names the new queue).
    Moved,
    CallbackRequested,
    CallbackPlaced,
    /// The conversation ended (after answered or a placed callback).
    Ended,
    /// The instance that queued the call is stopping and sent the caller to another instance,
    /// which goes on with the same call: still waiting, its wait counted from its arrival.
    HandedOver,
}

impl AcdEventKind {
    pub const ALL: [AcdEventKind; 10] = [
        AcdEventKind::Queued,
        AcdEventKind::Offered,
        AcdEventKind::NotAnswered,
        AcdEventKind::Answered,
        AcdEventKind::Abandoned,
        AcdEventKind::Moved,
        AcdEventKind::CallbackRequested,
        AcdEventKind::CallbackPlaced,
        AcdEventKind::Ended,
        AcdEventKind::HandedOver,
    ];

    /// The stored text form (the same as on the wire).
    pub fn as_str(self) -> &'static str {
        match self {
            AcdEventKind::Queued => "queued",
            AcdEventKind::Offered => "offered",
            AcdEventKind::NotAnswered => "not_answered",
            AcdEventKind::Answered => "answered",
            AcdEventKind::Abandoned => "abandoned",
            AcdEventKind::Moved => "moved",
            AcdEventKind::CallbackRequested => "callback_requested",
            AcdEventKind::CallbackPlaced => "callback_placed",
            AcdEventKind::Ended => "ended",
            AcdEventKind::HandedOver => "handed_over",
        }
    }
}

impl std::str::FromStr for AcdEventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AcdEventKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("no queue event {s:?}"))
    }
}

/// An input the state machine cannot take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdError {
    UnknownQueue(String),
    UnknownCall(String),
    UnknownAgent(String),
    /// The desk answered a call that is not (or no longer) offered to it.
    NotOffered {
        call_id: String,
        agent_id: String,
    },
    DuplicateCall(String),
    /// The call is not simply waiting (it rings a desk, talks, or is being handed over).
    NotWaiting(String),
    /// The caller asked for a callback (pressed 1) that was never offered to them.
    CallbackNotOffered(String),
}

impl std::fmt::Display for AcdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AcdError::UnknownQueue(q) => write!(f, "no queue {q:?}"),
            AcdError::UnknownCall(c) => write!(f, "no call {c:?} in the queue"),
            AcdError::UnknownAgent(a) => write!(f, "no agent {a:?}"),
            AcdError::NotOffered { call_id, agent_id } => write!(f, "call {call_id:?} is not offered to {agent_id:?}"),
            AcdError::DuplicateCall(c) => write!(f, "call {c:?} is already queued"),
            AcdError::NotWaiting(c) => write!(f, "call {c:?} is not waiting"),
            AcdError::CallbackNotOffered(c) => write!(f, "call {c:?} was not offered a callback"),
        }
    }
}

impl std::error::Error for AcdError {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    Waiting,
    Ringing {
        agent: String,
        until: Millis,
    },
    Connected {
        agent: String,
    },
    /// The caller hung up after asking to be called back on this number.
    Callback {
        number: String,
    },
    /// Being sent to another instance: offered to nobody here meanwhile.
    HandingOver,
}

#[derive(Debug, Clone)]
struct Call {
    id: String,
    queue: String,
    caller: String,
    arrived_at: Millis,
    stage: Stage,
    /// Agents who refused or let it ring out: tried again only when nobody else is free.
    tried: Vec<String>,
    callback_offered: bool,
    next_announce: Millis,
    answered_at: Option<Millis>,
}

/// The queues, their calls and the agents.
#[derive(Debug, Default)]
pub struct Distributor {
    queues: HashMap<String, QueueSpec>,
    agents: HashMap<String, Agent>,
    /// Every live call, in arrival order.
    calls: VecDeque<Call>,
    actions: VecDeque<Action>,
    events: VecDeque<AcdEvent>,
    /// Average talk time of recent calls, for the expected wait (starts at 3 minutes).
    average_talk_ms: u64,
}

impl Distributor {
    pub fn new(queues: Vec<QueueSpec>) -> Self {
        Distributor {
            queues: queues.into_iter().map(|q| (q.id.clone(), q)).collect(),
            average_talk_ms: 180_000,
            ..Distributor::default()
        }
    }

    /// An agent signs in (or changes skills); their state comes with [`Self::agent_state`].
    pub fn agent_joined(&mut self, agent_id: &str, skills: Vec<String>, now: Millis) {
        let agent = self.agents.entry(agent_id.to_owned()).or_insert_with(|| Agent {
            id: agent_id.to_owned(),
            skills: Vec::new(),
            state: AgentState::Offline,
            idle_since: now,
            not_responding: false,
            call: None,
            wrap_up_until: None,
        });
        agent.skills = skills;
        self.dispatch(now);
    }

    /// The agent's state from their desk (or a team lead); any state clears "not responding".
    pub fn agent_state(&mut self, agent_id: &str, state: AgentState, now: Millis) -> Result<(), AcdError> {
        let agent = self.agents.get_mut(agent_id).ok_or_else(|| AcdError::UnknownAgent(agent_id.to_owned()))?;
        if state == AgentState::Available && (agent.state != AgentState::Available || agent.not_responding) {
            agent.idle_since = now;
        }
        agent.state = state;
        agent.not_responding = false;
        if state == AgentState::Available {
            agent.wrap_up_until = None;
        }
        // A desk that goes away while ringing loses the offer; a connected call is the media's.
        if state != AgentState::Available
            && let Some(call_id) = agent.call.clone()
            && let Some(call) = self.calls.iter_mut().find(|c| c.id == call_id)
            && matches!(call.stage, Stage::Ringing { .. })
        {
            agent.call = None;
            call.stage = Stage::Waiting;
            call.tried.push(agent_id.to_owned());
            self.actions.push_back(Action::CancelOffer { call_id: call_id.clone(), agent_id: agent_id.to_owned() });
            let queue = call.queue.clone();
            self.event(now, &call_id, &queue, AcdEventKind::NotAnswered, Some(agent_id), None);
        }
        self.dispatch(now);
        Ok(())
    }

    /// A call enters `queue_id` from `caller` (a number or URI, for a callback).
    pub fn call_arrived(&mut self, call_id: &str, queue_id: &str, caller: &str, now: Millis) -> Result<(), AcdError> {
        let queue = self.queues.get(queue_id).ok_or_else(|| AcdError::UnknownQueue(queue_id.to_owned()))?;
        if self.calls.iter().any(|c| c.id == call_id) {
            return Err(AcdError::DuplicateCall(call_id.to_owned()));
        }
        let next_announce = now + queue.announce_every_ms as Millis;
        self.calls.push_back(Call {
            id: call_id.to_owned(),
            queue: queue_id.to_owned(),
            caller: caller.to_owned(),
            arrived_at: now,
            stage: Stage::Waiting,
            tried: Vec::new(),
            callback_offered: false,
            next_announce,
            answered_at: None,
        });
        self.event(now, call_id, queue_id, AcdEventKind::Queued, None, None);
        self.dispatch(now);
        Ok(())
    }

    /// The agent's desk answered the offer.
    pub fn offer_answered(&mut self, call_id: &str, agent_id: &str, now: Millis) -> Result<(), AcdError> {
        let call = self.call_mut(call_id)?;
        if !matches!(&call.stage, Stage::Ringing { agent, .. } if agent == agent_id) {
            return Err(AcdError::NotOffered { call_id: call_id.to_owned(), agent_id: agent_id.to_owned() });
        }
        call.stage = Stage::Connected { agent: agent_id.to_owned() };
        call.answered_at = Some(now);
        let (queue, waited) = (call.queue.clone(), elapsed(now, call.arrived_at));
        self.actions.push_back(Action::Bridge { call_id: call_id.to_owned(), agent_id: agent_id.to_owned() });
        self.event(now, call_id, &queue, AcdEventKind::Answered, Some(agent_id), Some(waited));
        Ok(())
    }

    /// The agent's desk refused the offer: the call goes to the next agent.
    pub fn offer_refused(&mut self, call_id: &str, agent_id: &str, now: Millis) -> Result<(), AcdError> {
        let call = self.call_mut(call_id)?;
        if !matches!(&call.stage, Stage::Ringing { agent, .. } if agent == agent_id) {
            return Err(AcdError::NotOffered { call_id: call_id.to_owned(), agent_id: agent_id.to_owned() });
        }
        call.stage = Stage::Waiting;
        call.tried.push(agent_id.to_owned());
        let queue = call.queue.clone();
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.call = None;
        }
        self.event(now, call_id, &queue, AcdEventKind::NotAnswered, Some(agent_id), None);
        self.dispatch(now);
        Ok(())
    }

    /// The caller hung up: abandoned while waiting or ringing, ended when connected.
    pub fn caller_hung_up(&mut self, call_id: &str, now: Millis) -> Result<(), AcdError> {
        self.end(call_id, now)
    }

    /// The agent (or the callback's customer) ended the conversation.
    pub fn call_ended(&mut self, call_id: &str, now: Millis) -> Result<(), AcdError> {
        self.end(call_id, now)
    }

    /// The caller pressed for a callback: their leg ends, their place in the queue stays. Only
    /// a caller who was offered one ([`Action::OfferCallback`]) may ask; a key pressed in a
    /// conversation is not a request.
    pub fn callback_requested(&mut self, call_id: &str, now: Millis) -> Result<(), AcdError> {
        let call = self.call_mut(call_id)?;
        let ringing = match &call.stage {
            Stage::Waiting => None,
            Stage::Ringing { agent, .. } => Some(agent.clone()),
            Stage::Connected { .. } | Stage::Callback { .. } | Stage::HandingOver => return Ok(()),
        };
        if !call.callback_offered {
            return Err(AcdError::CallbackNotOffered(call_id.to_owned()));
        }
        call.stage = Stage::Callback { number: call.caller.clone() };
        let (queue, waited) = (call.queue.clone(), elapsed(now, call.arrived_at));
        if let Some(agent_id) = ringing {
            self.withdraw(call_id, &agent_id);
        }
        self.actions.push_back(Action::EndCallerLeg { call_id: call_id.to_owned() });
        self.event(now, call_id, &queue, AcdEventKind::CallbackRequested, None, Some(waited));
        self.dispatch(now);
        Ok(())
    }

    /// A team lead moves a waiting call to another queue; it keeps its place by arrival time.
    pub fn move_call(&mut self, call_id: &str, queue_id: &str, now: Millis) -> Result<(), AcdError> {
        if !self.queues.contains_key(queue_id) {
            return Err(AcdError::UnknownQueue(queue_id.to_owned()));
        }
        let call = self.call_mut(call_id)?;
        let ringing = match &call.stage {
            Stage::Ringing { agent, .. } => Some(agent.clone()),
            _ => None,
        };
        if matches!(call.stage, Stage::Connected { .. }) {
            return Ok(());
        }
        if call.stage == Stage::HandingOver {
            return Err(AcdError::NotWaiting(call_id.to_owned()));
        }
        call.queue = queue_id.to_owned();
        call.tried.clear();
        if ringing.is_some() {
            call.stage = Stage::Waiting;
        }
        if let Some(agent_id) = ringing {
            self.withdraw(call_id, &agent_id);
        }
        self.event(now, call_id, queue_id, AcdEventKind::Moved, None, None);
        self.dispatch(now);
        Ok(())
    }

    /// A call that arrived at `arrived_at` on another instance (which recorded it queued, then
    /// handed it over) continues here: it takes its place by arrival, so a caller moved by a
    /// restart keeps their turn. No event: the call's record goes on under the same id.
    pub fn call_resumed(
        &mut self,
        call_id: &str,
        queue_id: &str,
        caller: &str,
        arrived_at: Millis,
        now: Millis,
    ) -> Result<(), AcdError> {
        let queue = self.queues.get(queue_id).ok_or_else(|| AcdError::UnknownQueue(queue_id.to_owned()))?;
        if self.calls.iter().any(|c| c.id == call_id) {
            return Err(AcdError::DuplicateCall(call_id.to_owned()));
        }
        let call = Call {
            id: call_id.to_owned(),
            queue: queue_id.to_owned(),
            caller: caller.to_owned(),
            arrived_at: arrived_at.min(now),
            stage: Stage::Waiting,
            tried: Vec::new(),
            callback_offered: false,
            next_announce: now + queue.announce_every_ms as Millis,
            answered_at: None,
        };
        let index = self.calls.iter().position(|c| c.arrived_at > call.arrived_at).unwrap_or(self.calls.len());
        self.calls.insert(index, call);
        self.dispatch(now);
        Ok(())
    }

    pub fn has_queue(&self, queue_id: &str) -> bool {
        self.queues.contains_key(queue_id)
    }

    /// A live call's queue and arrival.
    pub fn waiting_call(&self, call_id: &str) -> Option<(String, Millis)> {
        self.calls.iter().find(|c| c.id == call_id).map(|c| (c.queue.clone(), c.arrived_at))
    }

    /// The calls that may be handed to another instance now: waiting, offered to nobody.
    pub fn calls_to_hand_over(&self) -> Vec<String> {
        self.calls.iter().filter(|c| c.stage == Stage::Waiting).map(|c| c.id.clone()).collect()
    }

    /// The driver is sending a waiting call to another instance: nobody here is offered it
    /// until [`Self::hand_over_failed`] or [`Self::handed_over`].
    pub fn hand_over_started(&mut self, call_id: &str) -> Result<(), AcdError> {
        let call = self.call_mut(call_id)?;
        if call.stage != Stage::Waiting {
            return Err(AcdError::NotWaiting(call_id.to_owned()));
        }
        call.stage = Stage::HandingOver;
        Ok(())
    }

    /// The other instance did not take the call: it waits here again, in its place.
    pub fn hand_over_failed(&mut self, call_id: &str, now: Millis) -> Result<(), AcdError> {
        let call = self.call_mut(call_id)?;
        if call.stage == Stage::HandingOver {
            call.stage = Stage::Waiting;
        }
        self.dispatch(now);
        Ok(())
    }

    /// The other instance has the caller: the call leaves this queue, still waiting there.
    pub fn handed_over(&mut self, call_id: &str, now: Millis) -> Result<(), AcdError> {
        let index =
            self.calls.iter().position(|c| c.id == call_id).ok_or_else(|| AcdError::UnknownCall(call_id.to_owned()))?;
        let call = self.calls.remove(index).unwrap_or_else(|| unreachable!("the index was just found"));
        let waited = elapsed(now, call.arrived_at);
        self.event(now, call_id, &call.queue, AcdEventKind::HandedOver, None, Some(waited));
        Ok(())
    }

    /// Ring timeouts, wrap-up ends, position prompts and callback offers due by `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        for agent in self.agents.values_mut() {
            if agent.wrap_up_until.is_some_and(|until| until <= now) {
                agent.wrap_up_until = None;
                agent.idle_since = now;
            }
        }
        let expired: Vec<(String, String)> = self
            .calls
            .iter()
            .filter_map(|c| match &c.stage {
                Stage::Ringing { agent, until } if *until <= now => Some((c.id.clone(), agent.clone())),
                _ => None,
            })
            .collect();
        for (call_id, agent_id) in expired {
            self.withdraw(&call_id, &agent_id);
            if let Some(agent) = self.agents.get_mut(&agent_id) {
                agent.not_responding = true;
            }
            self.actions.push_back(Action::AgentNotResponding { agent_id: agent_id.clone() });
            if let Ok(call) = self.call_mut(&call_id) {
                call.stage = Stage::Waiting;
                call.tried.push(agent_id.clone());
                let queue = call.queue.clone();
                self.event(now, &call_id, &queue, AcdEventKind::NotAnswered, Some(&agent_id), None);
            }
        }
        self.dispatch(now);
        let staffed = self.agents.values().filter(|a| a.state != AgentState::Offline).count().max(1) as u64;
        let mut positions: HashMap<String, usize> = HashMap::new();
        let average_talk = self.average_talk_ms;
        for call in self.calls.iter_mut().filter(|c| c.stage == Stage::Waiting) {
            let position = positions.entry(call.queue.clone()).or_insert(0);
            *position += 1;
            let Some(queue) = self.queues.get(&call.queue) else { continue };
            if call.next_announce <= now {
                call.next_announce = now + queue.announce_every_ms.max(1) as Millis;
                self.actions.push_back(Action::Announce {
                    call_id: call.id.clone(),
                    position: *position,
                    expected_wait_ms: *position as u64 * average_talk / staffed,
                });
            }
            if !call.callback_offered
                && queue.callback_after_ms.is_some_and(|after| elapsed(now, call.arrived_at) >= after)
            {
                call.callback_offered = true;
                self.actions.push_back(Action::OfferCallback { call_id: call.id.clone() });
            }
        }
    }

    /// When [`Self::handle_timeout`] has something to do next.
    pub fn next_timeout(&self) -> Option<Millis> {
        let calls = self.calls.iter().flat_map(|c| {
            let queue = self.queues.get(&c.queue);
            let ring = match &c.stage {
                Stage::Ringing { until, .. } => Some(*until),
                _ => None,
            };
            let waiting = c.stage == Stage::Waiting;
            let announce = waiting.then_some(c.next_announce);
            let callback = queue
                .and_then(|q| q.callback_after_ms)
                .filter(|_| waiting && !c.callback_offered)
                .map(|after| c.arrived_at + after as Millis);
            [ring, announce, callback]
        });
        let wrap_ups = self.agents.values().map(|a| a.wrap_up_until);
        calls.chain(wrap_ups).flatten().min()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<AcdEvent> {
        self.events.pop_front()
    }

    /// The agents, for the wallboard.
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    /// The calls waiting (or ringing a desk) in `queue_id`, oldest first: (call id, arrived at).
    pub fn waiting(&self, queue_id: &str) -> impl Iterator<Item = (&str, Millis)> {
        self.calls
            .iter()
            .filter(move |c| c.queue == queue_id && matches!(c.stage, Stage::Waiting | Stage::Ringing { .. }))
            .map(|c| (c.id.as_str(), c.arrived_at))
    }

    fn call_mut(&mut self, call_id: &str) -> Result<&mut Call, AcdError> {
        self.calls.iter_mut().find(|c| c.id == call_id).ok_or_else(|| AcdError::UnknownCall(call_id.to_owned()))
    }

    /// Stop ringing `agent_id` with `call_id` (the caller's stage is the caller's business).
    fn withdraw(&mut self, call_id: &str, agent_id: &str) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.call = None;
        }
        self.actions.push_back(Action::CancelOffer { call_id: call_id.to_owned(), agent_id: agent_id.to_owned() });
    }

    fn end(&mut self, call_id: &str, now: Millis) -> Result<(), AcdError> {
        let index =
            self.calls.iter().position(|c| c.id == call_id).ok_or_else(|| AcdError::UnknownCall(call_id.to_owned()))?;
        let call = self.calls.remove(index).unwrap_or_else(|| unreachable!("the index was just found"));
        let waited = elapsed(now, call.arrived_at);
        match call.stage {
            Stage::Waiting | Stage::HandingOver => {
                self.event(now, call_id, &call.queue, AcdEventKind::Abandoned, None, Some(waited));
            }
            Stage::Ringing { agent, .. } => {
                self.withdraw(call_id, &agent);
                self.event(now, call_id, &call.queue, AcdEventKind::Abandoned, None, Some(waited));
            }
            Stage::Connected { agent } => {
                if let Some(at) = call.answered_at {
                    let talk = elapsed(now, at);
                    self.average_talk_ms = self.average_talk_ms.saturating_mul(7).saturating_add(talk) / 8;
                }
                let wrap_up = self.queues.get(&call.queue).map_or(0, |q| q.wrap_up_ms);
                if let Some(a) = self.agents.get_mut(&agent) {
                    a.call = None;
                    a.idle_since = now;
                    a.wrap_up_until = (wrap_up > 0).then_some(now + wrap_up as Millis);
                }
                self.event(now, call_id, &call.queue, AcdEventKind::Ended, Some(&agent), None);
            }
            // The callback's customer was never reached; it stays owed.
            Stage::Callback { .. } => {
                self.calls.insert(index, call);
                return Ok(());
            }
        }
        self.dispatch(now);
        Ok(())
    }

    fn event(
        &mut self,
        at: Millis,
        call_id: &str,
        queue_id: &str,
        kind: AcdEventKind,
        agent_id: Option<&str>,
        waited_ms: Option<u64>,
    ) {
        self.events.push_back(AcdEvent {
            at,
            call_id: call_id.to_owned(),
            queue_id: queue_id.to_owned(),
            kind,
            agent_id: agent_id.map(str::to_owned),
            waited_ms,
        });
    }

    /// Offer every waiting call, oldest first, to the longest-idle free agent who may take it.
    fn dispatch(&mut self, now: Millis) {
        // With nobody free (the usual state of a busy queue) there is nothing to walk.
        let mut free = self.agents.values().filter(|a| a.free()).count();
        for index in 0..self.calls.len() {
            if free == 0 {
                return;
            }
            let call = &self.calls[index];
            let callback = match &call.stage {
                Stage::Waiting => None,
                Stage::Callback { number } => Some(number.clone()),
                _ => continue,
            };
            let Some(queue) = self.queues.get(&call.queue) else { continue };
            let eligible = |a: &&Agent| a.free() && queue.skill.as_ref().is_none_or(|s| a.skills.contains(s));
            let pick = |untried: bool| {
                self.agents
                    .values()
                    .filter(eligible)
                    .filter(|a| !untried || !call.tried.contains(&a.id))
                    .min_by(|a, b| a.idle_since.cmp(&b.idle_since).then_with(|| a.id.cmp(&b.id)))
                    .map(|a| a.id.clone())
            };
            let Some(agent_id) = pick(true).or_else(|| pick(false)) else { continue };
            let (call_id, queue_id, ring_timeout) = (call.id.clone(), call.queue.clone(), queue.ring_timeout_ms);
            let waited = elapsed(now, call.arrived_at);
            if let Some(agent) = self.agents.get_mut(&agent_id) {
                agent.call = Some(call_id.clone());
            }
            free -= 1;
            let call = &mut self.calls[index];
            match callback {
                None => {
                    call.stage = Stage::Ringing { agent: agent_id.clone(), until: now + ring_timeout as Millis };
                    self.actions.push_back(Action::Offer {
                        call_id: call_id.clone(),
                        agent_id: agent_id.clone(),
                        queue_id: queue_id.clone(),
                        waited_ms: waited,
                    });
                    self.event(now, &call_id, &queue_id, AcdEventKind::Offered, Some(&agent_id), None);
                }
                Some(number) => {
                    call.stage = Stage::Connected { agent: agent_id.clone() };
                    call.answered_at = Some(now);
                    self.actions.push_back(Action::PlaceCallback {
                        call_id: call_id.clone(),
                        agent_id: agent_id.clone(),
                        number,
                    });
                    self.event(now, &call_id, &queue_id, AcdEventKind::CallbackPlaced, Some(&agent_id), Some(waited));
                }
            }
        }
    }
}
