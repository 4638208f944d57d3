//! The hotline's one task: it feeds the engine's events and the server's commands into the
//! [`Distributor`] with the wall-clock time, then carries out its actions on the engine.
//!
//! Legs, by their SIP call id:
//! - a **caller** leg is an incoming call; its id is also the queued call's id in okno-acd,
//!   except for a caller handed over by a stopping instance, who keeps the id that instance
//!   gave the call (`acd_id`; [`crate::handover`]);
//! - an **agent** leg is our call to a desk offering a queued call (or placing a callback);
//! - a **customer** leg is a callback's call to the customer, placed once the desk answered.
//!
//! The engine answers commands in order and reports each `Dial` with a `calling` event (or an
//! error), so legs being dialled wait in a FIFO until their call id is known; a dial withdrawn
//! meanwhile is hung up as soon as it has one.
//!
//! Invariants: every leg the hotline dials or answers is hung up when its partner ends or its
//! offer is withdrawn; every queued call's end reaches okno-acd exactly once.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use okno_acd::{Action, Distributor};
use okno_core::Millis;
use okno_phone::context::CallContext;
use okno_phone::engine::{CallDirection, PhoneCommand, PhoneEvent, PhoneHandle};
use okno_sip::Uri;
use okno_sip::message::CallInfo;
use tokio::sync::{mpsc, oneshot};

use crate::audio::{Legs, MonitorMode};
use crate::handover::{self, HandoverKey, Resumed};
use crate::{AgentLine, Command, HotlineConfig, HotlineError, HotlineStatus, Report};

/// While draining, waiting callers are sent to the next instance [`HAND_OVER_BATCH`] at a time,
/// one batch every [`HAND_OVER_PACE_MS`]: two hundred transfers at once (each a REFER, a new
/// INVITE, a NOTIFY and a BYE through the PBX) lose UDP datagrams to full buffers, and their
/// retransmissions cost seconds. Callers whose transfer failed are tried again after
/// [`HAND_OVER_RETRY_MS`] (the next instance may still be starting).
const HAND_OVER_BATCH: usize = 20;
const HAND_OVER_PACE_MS: Millis = 200;
const HAND_OVER_RETRY_MS: Millis = 3_000;

/// The short tone an operator hears when a supervisor joins, where the center says so: 0.2 s at
/// 1400 Hz, 8 kHz.
fn monitoring_beep() -> std::sync::Arc<[i16]> {
    (0..1600).map(|i| ((2.0 * std::f32::consts::PI * 1400.0 * i as f32 / 8000.0).sin() * 4000.0) as i16).collect()
}

fn now_ms() -> Millis {
    okno_core::unix_ms(SystemTime::now())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Leg {
    /// Who calls, as the desk that is offered the call shows them: the caller's display name
    /// (or URI), and the INVITE's Call-Info (a website call's page and chat), passed on to the
    /// desk's INVITE so it opens the right customer card.
    Caller {
        /// The call's id in okno-acd (this leg's SIP call id unless it was handed over).
        acd_id: String,
        queued: bool,
        /// The URI the caller dialled (the hotline's number): where a hand-over sends them.
        dialled: String,
        from: String,
        display_name: Option<String>,
        call_info: Vec<CallInfo>,
    },
    Agent {
        call_id: String,
        agent_id: String,
        answered: bool,
        withdrawn: bool,
        callback: Option<String>,
    },
    Customer {
        call_id: String,
        agent_leg: String,
    },
    /// A team lead joining the call `call_id` (listen, whisper or barge; their keys 1-3 switch).
    Supervisor {
        call_id: String,
        mode: MonitorMode,
        /// The team lead's name, as the operator's desk is told it.
        by: String,
    },
}

pub(crate) struct Driver {
    engine: PhoneHandle,
    acd: Distributor,
    legs: Legs,
    prompts: crate::Prompts,
    numbers: HashMap<String, String>,
    agents: HashMap<String, AgentLine>,
    supervisors: HashMap<String, AgentLine>,
    announce_monitoring: bool,
    by_sip: HashMap<String, Leg>,
    dialing: VecDeque<Leg>,
    reports: mpsc::UnboundedSender<Report>,
    handover: Option<HandoverKey>,
    /// Handed-over callers: their okno-acd id to their leg's SIP call id.
    resumed: HashMap<String, String>,
    registered: bool,
    /// Waiting for the registrar to drop our binding.
    standing_down: Vec<oneshot::Sender<()>>,
    /// Set by a drain: answered once no leg is left, then the driver stops.
    draining: Option<Vec<oneshot::Sender<()>>>,
    next_hand_over: Millis,
}

impl Driver {
    pub(crate) fn new(
        config: HotlineConfig,
        engine: PhoneHandle,
        acd: Distributor,
        legs: Legs,
        reports: mpsc::UnboundedSender<Report>,
    ) -> Driver {
        Driver {
            engine,
            acd,
            legs,
            prompts: config.prompts,
            numbers: config.numbers.into_iter().collect(),
            agents: config.agents.into_iter().map(|a| (a.id.clone(), a)).collect(),
            supervisors: config.supervisors.into_iter().map(|a| (a.id.clone(), a)).collect(),
            announce_monitoring: config.announce_monitoring,
            by_sip: HashMap::new(),
            dialing: VecDeque::new(),
            reports,
            handover: config.handover,
            resumed: HashMap::new(),
            registered: false,
            standing_down: Vec::new(),
            draining: None,
            next_hand_over: 0,
        }
    }

    pub(crate) async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<PhoneEvent>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        loop {
            let hand_over = self.draining.is_some().then_some(self.next_hand_over);
            let next = self.acd.next_timeout().into_iter().chain(hand_over).min();
            let sleep = next.map(|at| Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)));
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.on_phone(event),
                    None => break,
                },
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                () = tokio::time::sleep(sleep.unwrap_or(Duration::from_secs(3600))) => {}
            }
            self.acd.handle_timeout(now_ms());
            self.carry_out();
            if self.draining.is_some() {
                self.hand_over(now_ms());
                if self.by_sip.is_empty() && self.dialing.is_empty() {
                    for done in self.draining.take().unwrap_or_default() {
                        let _ = done.send(());
                    }
                    tracing::info!("hotline drained: no call left");
                    break;
                }
            }
        }
        let _ = self.engine.send(PhoneCommand::Shutdown);
        tracing::info!("hotline stopped");
    }

    fn send(&self, command: PhoneCommand) {
        if let Err(e) = self.engine.send(command) {
            tracing::warn!(error = %e, "hotline command not sent");
        }
    }

    fn report(&self, report: Report) {
        // The server may have stopped listening (shutting down): the calls still go on.
        let _ = self.reports.send(report);
    }

    fn on_command(&mut self, command: Command) {
        let now = now_ms();
        match command {
            Command::AgentState { agent_id, state } => {
                if let Err(e) = self.acd.agent_state(&agent_id, state, now) {
                    tracing::debug!(error = %e, "agent state ignored");
                }
            }
            Command::MoveCall { call_id, queue_id, reply } => {
                let result = self.acd.move_call(&call_id, &queue_id, now).map_err(|e| match e {
                    okno_acd::distributor::AcdError::UnknownCall(call) => HotlineError::NoSuchCall(call),
                    e => HotlineError::Refused(e.to_string()),
                });
                let _ = reply.send(result);
            }
            Command::Monitor { call_id, supervisor_id, shown_as, mode, reply } => {
                let _ = reply.send(self.monitor(call_id, &supervisor_id, shown_as, mode));
            }
            Command::Status(reply) => {
                let queues: Vec<String> =
                    self.numbers.values().cloned().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
                let waiting = queues
                    .iter()
                    .flat_map(|q| self.acd.waiting(q).map(move |(c, at)| (q.clone(), c.to_owned(), at)))
                    .collect();
                let mut agents: Vec<_> = self.acd.agents().cloned().collect();
                agents.sort_by(|a, b| a.id.cmp(&b.id));
                let _ = reply.send(HotlineStatus { waiting, agents, legs: self.legs.len() });
            }
            Command::Activate => {
                tracing::info!("hotline active: registering");
                self.send(PhoneCommand::Register);
            }
            Command::StandDown(reply) => {
                if self.registered {
                    self.standing_down.push(reply);
                    self.send(PhoneCommand::Unregister);
                } else {
                    let _ = reply.send(());
                }
            }
            Command::Drain(reply) => {
                tracing::info!(legs = self.by_sip.len(), "hotline draining");
                self.draining.get_or_insert_with(Vec::new).push(reply);
                // The next instance registers within the server's lease retry: the first
                // hand-over waits a moment for it.
                self.next_hand_over = now + 1_000;
            }
        }
    }

    fn on_phone(&mut self, event: PhoneEvent) {
        let now = now_ms();
        match event {
            PhoneEvent::Incoming { call_id, from, to, display_name, call_info } => {
                let dialled = Uri::parse(&to).ok();
                let number = dialled.as_ref().and_then(|u| u.as_sip()).and_then(|s| s.user.clone());
                let Some(queue) = number.and_then(|n| self.numbers.get(&n).cloned()) else {
                    tracing::info!(%to, "a call to a number the hotline does not serve");
                    self.send(PhoneCommand::Reject { call_id, status: 404 });
                    return;
                };
                let mut display_name = display_name.filter(|n| !n.trim().is_empty());
                let resumed = self.resumed_call(dialled.as_ref(), now);
                let greet = resumed.is_none();
                let (acd_id, queued) = match resumed {
                    Some(call) => {
                        tracing::info!(
                            call_id = call.call_id,
                            "a caller handed over by another instance keeps their place"
                        );
                        display_name = display_name.or(call.display_name.clone());
                        let resumed =
                            self.acd.call_resumed(&call.call_id, &call.queue_id, &call.caller, call.arrived_at, now);
                        if resumed.is_ok() {
                            self.resumed.insert(call.call_id.clone(), call_id.clone());
                        }
                        (call.call_id, resumed)
                    }
                    None => (call_id.clone(), self.acd.call_arrived(&call_id, &queue, &from, now)),
                };
                let caller = Leg::Caller { acd_id, queued: queued.is_ok(), dialled: to, from, display_name, call_info };
                self.by_sip.insert(call_id.clone(), caller);
                // A handed-over caller heard the greeting already: straight to the music.
                let leg = self.legs.leg(&call_id);
                if greet {
                    leg.play(self.prompts.greeting.clone());
                }
                self.send(PhoneCommand::Answer { call_id: call_id.clone() });
                if let Err(e) = queued {
                    tracing::warn!(error = %e, "a call could not be queued");
                    self.send(PhoneCommand::Hangup { call_id });
                }
            }
            PhoneEvent::Calling { call_id, .. } => {
                let Some(leg) = self.dialing.pop_front() else {
                    tracing::warn!(call_id, "a call the hotline did not dial");
                    self.send(PhoneCommand::Hangup { call_id });
                    return;
                };
                if matches!(leg, Leg::Agent { withdrawn: true, .. }) {
                    self.send(PhoneCommand::Hangup { call_id: call_id.clone() });
                }
                self.by_sip.insert(call_id, leg);
            }
            PhoneEvent::Error { call_id: None, message, .. } => {
                // A dial the engine refused at once: the oldest one waiting for its call id.
                if let Some(leg) = self.dialing.pop_front() {
                    tracing::warn!(message, ?leg, "the hotline could not dial");
                    self.leg_failed(leg, now);
                }
            }
            PhoneEvent::Answered { call_id, direction: CallDirection::Outbound } => self.answered(&call_id, now),
            // Keys come with media, which runs once the supervisor's phone answered.
            PhoneEvent::Dtmf { call_id, key } if matches!(self.by_sip.get(&call_id), Some(Leg::Supervisor { .. })) => {
                let Some(mode) = MonitorMode::from_key(&key) else { return };
                if let Some(Leg::Supervisor { call_id: call, mode: current, by }) = self.by_sip.get_mut(&call_id) {
                    *current = mode;
                    let (call, by) = (call.clone(), by.clone());
                    if let Some(agent_leg) = self.connected_agent_leg(&call) {
                        self.legs.monitor(&call_id, &self.caller_sip(&call), &agent_leg, mode);
                        self.tell_operator(&agent_leg, &by, Some(mode));
                        tracing::info!(call_id = call, ?mode, "the supervisor switched");
                    }
                }
            }
            // okno-acd takes a 1 as a callback request only from a caller it offered one to.
            PhoneEvent::Dtmf { call_id, key } => {
                if key == "1"
                    && let Err(e) = self.acd.callback_requested(&self.acd_id(&call_id), now)
                {
                    tracing::debug!(error = %e, "callback request ignored");
                }
            }
            // Dropped or refused by the engine (a 400 where one can be sent); the calls go on.
            PhoneEvent::Malformed { from, error, responded } => {
                tracing::warn!(from, error, responded, "malformed SIP at the hotline");
            }
            PhoneEvent::Registered { .. } => self.registered = true,
            PhoneEvent::Unregistered | PhoneEvent::RegistrationFailed { .. } => {
                self.registered = false;
                for done in self.standing_down.drain(..) {
                    let _ = done.send(());
                }
            }
            // The next instance has the caller: the engine hangs this leg up next, which is
            // then no abandonment.
            PhoneEvent::Transferred { call_id, .. } => {
                if let Some(Leg::Caller { acd_id, queued, .. }) = self.by_sip.get_mut(&call_id) {
                    *queued = false;
                    let acd_id = acd_id.clone();
                    self.legs.remove(&call_id);
                    match self.acd.handed_over(&acd_id, now) {
                        Ok(()) => tracing::info!(call_id = acd_id, "a waiting caller was handed to the next instance"),
                        Err(e) => tracing::warn!(error = %e, "a hand-over the queue did not expect"),
                    }
                }
            }
            PhoneEvent::TransferFailed { call_id, status, .. } => {
                let acd_id = self.acd_id(&call_id);
                tracing::info!(call_id = acd_id, ?status, "a hand-over did not happen: the caller waits here");
                let _ = self.acd.hand_over_failed(&acd_id, now);
            }
            PhoneEvent::Ended { call_id, cause, .. } => {
                self.legs.remove(&call_id);
                let Some(leg) = self.by_sip.remove(&call_id) else { return };
                tracing::debug!(call_id, %cause, ?leg, "hotline leg ended");
                self.leg_ended(&call_id, leg, now);
            }
            _ => {}
        }
    }

    /// A desk (or a callback's customer) answered our call.
    fn answered(&mut self, sip: &str, now: Millis) {
        match self.by_sip.get_mut(sip) {
            Some(Leg::Agent { call_id, agent_id, answered, callback, .. }) => {
                *answered = true;
                let (call_id, agent_id, callback) = (call_id.clone(), agent_id.clone(), callback.clone());
                if let Some(number) = callback {
                    // The desk is ready: now ring the customer who asked to be called back.
                    match Uri::parse(&number) {
                        Ok(to) => {
                            self.dialing.push_back(Leg::Customer { call_id, agent_leg: sip.to_owned() });
                            self.send(PhoneCommand::Dial { to, display_name: None, call_info: Vec::new() });
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, number, "a callback number that cannot be dialled");
                            self.send(PhoneCommand::Hangup { call_id: sip.to_owned() });
                        }
                    }
                    return;
                }
                if let Err(e) = self.acd.offer_answered(&call_id, &agent_id, now) {
                    // The offer was withdrawn meanwhile (the caller hung up, another desk...).
                    tracing::debug!(error = %e, "a late answer is hung up");
                    self.send(PhoneCommand::Hangup { call_id: sip.to_owned() });
                }
            }
            Some(Leg::Customer { agent_leg, .. }) => {
                let agent_leg = agent_leg.clone();
                self.legs.bridge(sip, &agent_leg);
            }
            Some(Leg::Supervisor { call_id, mode, by }) => {
                let (call_id, mode, by) = (call_id.clone(), *mode, by.clone());
                match self.connected_agent_leg(&call_id) {
                    Some(agent_leg) => {
                        self.legs.monitor(sip, &self.caller_sip(&call_id), &agent_leg, mode);
                        if self.announce_monitoring {
                            self.legs.leg(&agent_leg).play([monitoring_beep()]);
                        }
                        self.tell_operator(&agent_leg, &by, Some(mode));
                        tracing::info!(%call_id, ?mode, "a supervisor joined the call");
                    }
                    // The call ended while the supervisor's desk rang.
                    None => self.send(PhoneCommand::Hangup { call_id: sip.to_owned() }),
                }
            }
            _ => {}
        }
    }

    /// A team lead asks to join a connected call: their desk is rung; once it answers they hear
    /// both sides, and are heard as `mode` says.
    fn monitor(
        &mut self,
        call_id: String,
        supervisor_id: &str,
        shown_as: String,
        mode: MonitorMode,
    ) -> Result<(), HotlineError> {
        let line = self
            .supervisors
            .get(supervisor_id)
            .ok_or_else(|| HotlineError::Refused(format!("{supervisor_id} has no supervisor line on the hotline")))?;
        if self.connected_agent_leg(&call_id).is_none() {
            // Not connected here: waiting, over, or carried by another instance.
            return Err(HotlineError::NoSuchCall(call_id));
        }
        let to = line.uri.clone();
        let name = format!("{} · {call_id}", mode.as_str());
        self.dialing.push_back(Leg::Supervisor { call_id, mode, by: shown_as });
        self.send(PhoneCommand::Dial { to, display_name: Some(name), call_info: Vec::new() });
        Ok(())
    }

    /// Where the center's policy tells operators (`announce_monitoring`), their desk learns
    /// who listens and how, and when they leave; elsewhere it learns nothing.
    fn tell_operator(&self, agent_leg: &str, by: &str, mode: Option<MonitorMode>) {
        if self.announce_monitoring {
            self.send(PhoneCommand::TellMonitoring {
                call_id: agent_leg.to_owned(),
                by: by.to_owned(),
                mode: mode.map(|m| m.as_str().to_owned()),
            });
        }
    }

    /// The agent leg talking with the caller of `call`.
    fn connected_agent_leg(&self, call: &str) -> Option<String> {
        self.by_sip.iter().find_map(|(sip, leg)| match leg {
            Leg::Agent { call_id, answered: true, callback: None, .. } if call_id == call => Some(sip.clone()),
            _ => None,
        })
    }

    fn supervisor_legs_of(&self, call: &str) -> Vec<String> {
        self.by_sip
            .iter()
            .filter_map(|(sip, leg)| match leg {
                Leg::Supervisor { call_id, .. } if call_id == call => Some(sip.clone()),
                _ => None,
            })
            .collect()
    }

    fn leg_ended(&mut self, sip: &str, leg: Leg, now: Millis) {
        let call = match &leg {
            Leg::Caller { acd_id, .. } => Some(acd_id.clone()),
            Leg::Agent { call_id, answered: true, .. } => Some(call_id.clone()),
            _ => None,
        };
        for supervisor in call.map(|c| self.supervisor_legs_of(&c)).unwrap_or_default() {
            self.send(PhoneCommand::Hangup { call_id: supervisor });
        }
        match leg {
            Leg::Caller { queued: false, acd_id, .. } => {
                self.resumed.remove(&acd_id);
            }
            Leg::Caller { queued: true, acd_id, .. } => {
                self.resumed.remove(&acd_id);
                // A desk still ringing is hung up by the CancelOffer this produces; a desk
                // talking with the caller, here.
                let connected = self.connected_agent_leg(&acd_id);
                if let Err(e) = self.acd.caller_hung_up(&acd_id, now) {
                    tracing::debug!(error = %e, "caller's end");
                }
                if let Some(agent_leg) = connected {
                    self.send(PhoneCommand::Hangup { call_id: agent_leg });
                }
            }
            Leg::Agent { call_id, agent_id, answered, withdrawn, callback } => {
                if callback.is_some() {
                    let _ = self.acd.call_ended(&call_id, now);
                    if let Some(customer) = self.customer_leg_of(sip) {
                        self.send(PhoneCommand::Hangup { call_id: customer });
                    }
                } else if answered {
                    // Over from the desk's side: the conversation ends, the caller is hung up.
                    let _ = self.acd.call_ended(&call_id, now);
                    self.send(PhoneCommand::Hangup { call_id: self.caller_sip(&call_id) });
                } else if !withdrawn && let Err(e) = self.acd.offer_refused(&call_id, &agent_id, now) {
                    tracing::debug!(error = %e, "a refusal of an offer no longer open");
                }
            }
            Leg::Customer { agent_leg, .. } => self.send(PhoneCommand::Hangup { call_id: agent_leg }),
            Leg::Supervisor { call_id, by, .. } => {
                tracing::info!(call_id, "the supervisor left the call");
                if let Some(agent_leg) = self.connected_agent_leg(&call_id) {
                    self.tell_operator(&agent_leg, &by, None);
                }
            }
        }
    }

    /// A dial that never left: as if the desk refused.
    fn leg_failed(&mut self, leg: Leg, now: Millis) {
        match leg {
            Leg::Agent { call_id, agent_id, withdrawn: false, callback: None, .. } => {
                let _ = self.acd.offer_refused(&call_id, &agent_id, now);
            }
            Leg::Agent { call_id, callback: Some(_), .. } => {
                let _ = self.acd.call_ended(&call_id, now);
            }
            Leg::Customer { agent_leg, .. } => self.send(PhoneCommand::Hangup { call_id: agent_leg }),
            _ => {}
        }
    }

    fn customer_leg_of(&self, agent: &str) -> Option<String> {
        self.by_sip.iter().find_map(|(sip, leg)| match leg {
            Leg::Customer { agent_leg, .. } if agent_leg == agent => Some(sip.clone()),
            _ => None,
        })
    }

    fn dial_agent(
        &mut self,
        call_id: String,
        agent_id: String,
        display_name: String,
        callback: Option<String>,
        call_info: Vec<CallInfo>,
    ) {
        let Some(line) = self.agents.get(&agent_id) else {
            tracing::warn!(agent_id, "an offer to an agent without a desk address");
            return;
        };
        let to = line.uri.clone();
        self.dialing.push_back(Leg::Agent { call_id, agent_id, answered: false, withdrawn: false, callback });
        self.send(PhoneCommand::Dial { to, display_name: Some(display_name), call_info });
    }

    fn carry_out(&mut self) {
        while let Some(event) = self.acd.poll_event() {
            self.report(Report::Event(event));
        }
        while let Some(action) = self.acd.poll_action() {
            tracing::debug!(?action, "hotline");
            match action {
                Action::Offer { call_id, agent_id, queue_id, waited_ms } => {
                    let (caller, context) = match self.by_sip.get(&self.caller_sip(&call_id)) {
                        Some(Leg::Caller { from, display_name, call_info, .. }) => (
                            display_name.clone().unwrap_or_else(|| caller_name(from)),
                            CallContext::from_call_info(call_info).from_caller(),
                        ),
                        _ => (String::new(), CallContext::default()),
                    };
                    let name = format!("{queue_id} · {caller} · {}s", waited_ms / 1000);
                    // The desk shows the queue and the wait from these (the name is for phones
                    // that only show a name); the caller's page and ticket go along.
                    let context = CallContext { queue_id: Some(queue_id), waited_ms: Some(waited_ms), ..context };
                    self.dial_agent(call_id, agent_id, name, None, context.to_call_info());
                }
                Action::CancelOffer { call_id, agent_id } => self.withdraw(&call_id, &agent_id),
                Action::Bridge { call_id, agent_id } => {
                    if let Some(agent_leg) = self.connected_agent_leg(&call_id) {
                        self.legs.bridge(&self.caller_sip(&call_id), &agent_leg);
                        tracing::info!(call_id, agent_id, "caller and desk bridged");
                    }
                }
                Action::Announce { call_id, position, .. } => {
                    let said = self.prompts.position_announcement(position);
                    if !said.is_empty() {
                        self.legs.leg(&self.caller_sip(&call_id)).play(said);
                    }
                }
                Action::OfferCallback { call_id } => {
                    self.legs.leg(&self.caller_sip(&call_id)).play(self.prompts.callback_offer.clone());
                }
                Action::EndCallerLeg { call_id } => {
                    self.send(PhoneCommand::Hangup { call_id: self.caller_sip(&call_id) })
                }
                Action::PlaceCallback { call_id, agent_id, number } => {
                    let name = format!("callback · {number}");
                    self.dial_agent(call_id, agent_id, name, Some(number), Vec::new());
                }
                Action::AgentNotResponding { agent_id } => {
                    tracing::info!(agent_id, "a desk let an offer ring out");
                    self.report(Report::AgentNotResponding { agent_id });
                }
            }
            while let Some(event) = self.acd.poll_event() {
                self.report(Report::Event(event));
            }
        }
    }

    fn withdraw(&mut self, call: &str, agent: &str) {
        let matches = |leg: &Leg| matches!(leg, Leg::Agent { call_id, agent_id, answered: false, .. } if call_id == call && agent_id == agent);
        for leg in self.dialing.iter_mut().filter(|l| matches(l)) {
            if let Leg::Agent { withdrawn, .. } = leg {
                *withdrawn = true;
            }
        }
        let ringing: Vec<String> =
            self.by_sip.iter().filter(|(_, leg)| matches(leg)).map(|(sip, _)| sip.clone()).collect();
        for sip in ringing {
            if let Some(Leg::Agent { withdrawn, .. }) = self.by_sip.get_mut(&sip) {
                *withdrawn = true;
            }
            self.send(PhoneCommand::Hangup { call_id: sip });
        }
    }
}

impl Driver {
    /// The SIP call id of the caller leg of okno-acd's call `acd_id`.
    fn caller_sip(&self, acd_id: &str) -> String {
        self.resumed.get(acd_id).cloned().unwrap_or_else(|| acd_id.to_owned())
    }

    /// okno-acd's id of the call whose caller leg is `sip`.
    fn acd_id(&self, sip: &str) -> String {
        match self.by_sip.get(sip) {
            Some(Leg::Caller { acd_id, .. }) => acd_id.clone(),
            _ => sip.to_owned(),
        }
    }

    /// The call a resume token in the dialled URI names, when this hotline shares the key and
    /// the token holds; a broken or stale one is logged and the caller queued as new.
    fn resumed_call(&self, dialled: Option<&Uri>, now: Millis) -> Option<Resumed> {
        let token = dialled?.as_sip()?.param(handover::RESUME_PARAM)?.value.clone()?;
        let Some(key) = &self.handover else {
            tracing::warn!("a handed-over caller, but this hotline has no hand-over key: queued as new");
            return None;
        };
        match handover::open(key, &token, now) {
            Ok(call) if self.acd.has_queue(&call.queue_id) => Some(call),
            Ok(call) => {
                tracing::warn!(
                    queue = call.queue_id,
                    "a handed-over caller for a queue not served here: queued as new"
                );
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "a resume token refused: the caller is queued as new");
                None
            }
        }
    }

    /// While draining: each caller who only waits is asked to call the hotline's number again,
    /// with a token that keeps their place, once the next instance has it.
    fn hand_over(&mut self, now: Millis) {
        if now < self.next_hand_over {
            return;
        }
        let Some(key) = self.handover.clone() else { return };
        let waiting = self.acd.calls_to_hand_over();
        let more = waiting.len() > HAND_OVER_BATCH;
        self.next_hand_over = now + if more { HAND_OVER_PACE_MS } else { HAND_OVER_RETRY_MS };
        for acd_id in waiting.into_iter().take(HAND_OVER_BATCH) {
            let sip = self.caller_sip(&acd_id);
            let Some(Leg::Caller { dialled, from, display_name, .. }) = self.by_sip.get(&sip) else { continue };
            let Some((queue_id, arrived_at)) = self.acd.waiting_call(&acd_id) else { continue };
            let call = Resumed {
                call_id: acd_id.clone(),
                queue_id,
                caller: from.clone(),
                display_name: display_name.clone(),
                arrived_at,
            };
            let Ok(Uri::Sip(mut to)) = Uri::parse(dialled) else { continue };
            to.params.retain(|p| !p.name.eq_ignore_ascii_case(handover::RESUME_PARAM));
            to.headers.clear();
            to.params.push(okno_sip::uri::Param::new(handover::RESUME_PARAM, Some(handover::seal(&key, &call, now))));
            if self.acd.hand_over_started(&acd_id).is_ok() {
                tracing::info!(call_id = acd_id, "handing a waiting caller to the next instance");
                self.send(PhoneCommand::Transfer { call_id: sip, to: Uri::Sip(to) });
            }
        }
    }
}

/// The caller's number as the desk shows it: the user part of their URI, else the URI.
fn caller_name(from: &str) -> String {
    match Uri::parse(from) {
        Ok(Uri::Sip(sip)) => sip.user.clone().unwrap_or_else(|| sip.host.to_string()),
        _ => from.to_owned(),
    }
}
