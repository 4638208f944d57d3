//! The softphone as the operator sees it (issue 5): which calls are up and in what phase, who is
//! calling (caller ID filled in by the store), the wrap-up after a call with its disposition, the
//! missed-call count, and the agent state that follows calls (Busy → Wrap-up → Available).
//!
//! Pure and sans-IO like the protocol crates: the SIP engine's reports come in as [`Signal`]s,
//! the operator's actions as method calls, time as unix milliseconds; what must happen outside
//! (look up a caller, save a call, change the agent state, ring) comes out as [`Effect`]s for
//! the desktop adapter to perform. So every rule here is tested without a network or a window.
//!
//! Invariant: every call that reached this desk is saved exactly once — an answered call at its
//! wrap-up (or when the wrap-up limit runs out), any other call when it ends.

pub mod provision;
pub mod types;

use std::collections::HashMap;

use okno_core::{AgentState, CallDirection, CallOutcome, CallQuality, Millis, Mutation};
pub use types::*;

/// What the SIP side reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Registering {
        account_id: String,
    },
    Registered {
        account_id: String,
    },
    RegistrationFailed {
        account_id: String,
        detail: String,
    },
    Unregistered {
        account_id: String,
    },
    Incoming {
        call_id: String,
        account_id: String,
        from_number: String,
        display_name: Option<String>,
        line: Option<String>,
        /// What the caller's Call-Info says (a website call): the page and the chat ticket.
        page: Option<String>,
        ticket_id: Option<String>,
        /// The hotline queue the call waited in (id, name as the desk's store knows it) and how
        /// long, when the hotline offers it.
        queue: Option<(String, String)>,
        waited_ms: Option<u64>,
    },
    Dialing {
        call_id: String,
        account_id: String,
        to_number: String,
    },
    Ringing {
        call_id: String,
    },
    Answered {
        call_id: String,
    },
    /// The hotline says a team lead joined the call (`mode`) or left it (`None`).
    Monitored {
        call_id: String,
        by: String,
        mode: Option<String>,
    },
    /// Held or resumed, by either side.
    Held {
        call_id: String,
        held: bool,
    },
    Quality {
        call_id: String,
        live: LiveQuality,
        record: CallQuality,
    },
    /// The far end agreed to call `to` for us (blind or attended transfer under way).
    Transferring {
        call_id: String,
        to: String,
    },
    /// `to` answered: the call ends next (with [`EndCause::Transferred`]).
    Transferred {
        call_id: String,
        to: String,
    },
    /// The transfer did not happen; the call stays.
    TransferFailed {
        call_id: String,
        to: String,
        status: Option<u16>,
    },
    Ended {
        call_id: String,
        cause: EndCause,
    },
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCause {
    /// Either side hung up an answered call.
    HungUp,
    /// The caller gave up before the operator answered.
    CallerCancelled,
    /// The operator declined a ringing call; `to_queue` when it goes on to the next operator.
    Declined { to_queue: bool },
    /// The operator cancelled an outgoing call before it was answered.
    LocalCancel,
    /// The far end refused an outgoing call with this SIP status.
    Refused { status: u16 },
    /// No answer from the network (timeouts, transport errors).
    Failed,
    /// The operator handed the answered call to someone else.
    Transferred,
}

/// What the adapter must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Find the customer of this ticket (a website caller's chat) if the store holds it, else
    /// the one with this number, and call [`Softphone::caller_identified`].
    LookupCaller {
        call_id: String,
        number: String,
        ticket_id: Option<String>,
    },
    SetAgentState(AgentState),
    /// Apply this mutation to the store (it goes to the server through the outbox).
    Save(Box<Mutation>),
    /// Play or stop the ringtone on the ring device, and say so on the desktop.
    Ring {
        on: bool,
    },
    Notify {
        call_id: String,
        title: String,
        body: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneError {
    #[error("no call {0}")]
    NoSuchCall(String),
    #[error("{0}")]
    NotNow(String),
    #[error("unknown disposition {0}")]
    UnknownDisposition(String),
}

/// Set by the admin (later from the server); defaults fit the demo center.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskConfig {
    /// How long the operator may spend in wrap-up before the desk returns to Available.
    pub wrap_up_limit_s: u32,
    pub dispositions: Vec<DispositionNode>,
    /// Hotline numbers (digits) to the queue (id, name) they feed.
    pub lines: HashMap<String, (String, String)>,
    /// The operator's own number, the `from` of outgoing calls.
    pub own_number: String,
    /// Where a transfer to an operator or a department (by id) rings: their extension or line.
    pub directory: HashMap<String, String>,
    /// Answered calls are recorded (both legs mixed), with pause and resume for card numbers.
    pub record_calls: bool,
}

/// The file a call's recording goes to, inside the recordings directory: the call id with
/// anything a file system might object to replaced.
pub fn recording_file_name(call_id: &str) -> String {
    let safe: String =
        call_id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    format!("{safe}.wav")
}

impl DeskConfig {
    /// The demo center's tree (the same ids as the UI's fixture) and its hotline.
    pub fn demo() -> Self {
        let node = |id: &str, label: &str, children: Vec<DispositionNode>| DispositionNode {
            id: id.into(),
            label: label.into(),
            children,
        };
        let leaves = |group: &str, items: &[(&str, &str)]| -> Vec<DispositionNode> {
            items.iter().map(|(id, label)| node(&format!("{group}.{id}"), label, Vec::new())).collect()
        };
        let dispositions = vec![
            node(
                "customer",
                "Покупатель",
                leaves(
                    "customer",
                    &[
                        ("delivery", "Статус доставки"),
                        ("refund", "Возврат и обмен"),
                        ("payment", "Оплата и чеки"),
                        ("warranty", "Гарантия и ремонт"),
                        ("complaint", "Жалоба"),
                        ("consult", "Консультация по товару"),
                    ],
                ),
            ),
            node(
                "b2b",
                "Юрлицо (B2B)",
                leaves(
                    "b2b",
                    &[("invoice", "Счёт и закрывающие документы"), ("bulk", "Оптовый заказ"), ("contract", "Договор")],
                ),
            ),
            node(
                "courier",
                "Курьер / партнёр",
                leaves("courier", &[("address", "Уточнение адреса"), ("failed", "Не дозвонился до клиента")]),
            ),
            node(
                "other",
                "Другое",
                leaves(
                    "other",
                    &[("wrong", "Ошиблись номером"), ("silent", "Тишина / сорвался"), ("spam", "Реклама, спам")],
                ),
            ),
        ];
        let mut lines = HashMap::new();
        lines.insert("78005553535".to_owned(), ("q-hotline".to_owned(), "Горячая линия 8-800".to_owned()));
        // The demo PBX's plan: operators at 10NN, departments at 2N00.
        let mut directory: HashMap<String, String> =
            (1..=40).map(|n| (format!("op-{n:02}"), format!("10{n:02}"))).collect();
        for (n, dep) in ["dep-support", "dep-sales", "dep-billing", "dep-delivery"].iter().enumerate() {
            directory.insert((*dep).to_owned(), format!("2{}00", n + 1));
        }
        DeskConfig {
            wrap_up_limit_s: 120,
            dispositions,
            lines,
            own_number: String::new(),
            directory,
            record_calls: true,
        }
    }

    /// The number a transfer target rings.
    pub fn transfer_number(&self, target: &TransferTarget) -> Result<String, PhoneError> {
        let number = match target {
            TransferTarget::Number { number } => number.clone(),
            TransferTarget::Operator { id } | TransferTarget::Department { id } => self
                .directory
                .get(id)
                .cloned()
                .ok_or_else(|| PhoneError::NotNow(format!("no extension is configured for {id}")))?,
        };
        let number: String = number.chars().filter(|c| c.is_ascii_alphanumeric() || "+*#".contains(*c)).collect();
        if number.is_empty() {
            return Err(PhoneError::NotNow("no number to transfer to".into()));
        }
        Ok(number)
    }
}

#[derive(Debug, Clone)]
struct LiveCall {
    view: PhoneCall,
    queue_id: Option<String>,
    record: Option<CallQuality>,
    /// Set when the call was handed on: where to.
    transferred_to: Option<String>,
    /// Recording pauses, the last one open while paused.
    pauses: Vec<(Millis, Option<Millis>)>,
}

#[derive(Debug, Clone)]
struct PendingWrapUp {
    view: WrapUpView,
    call: LiveCall,
    ended_at: Millis,
    deadline: Millis,
}

/// The desk's state. See the module docs.
#[derive(Debug)]
pub struct Softphone {
    config: DeskConfig,
    accounts: Vec<AccountStatus>,
    calls: Vec<LiveCall>,
    wrap_up: Option<PendingWrapUp>,
    missed_unseen: u32,
    busy: bool,
    /// The next outgoing call is a consult leg of this call (an attended transfer).
    consult_for: Option<String>,
}

fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

impl Softphone {
    pub fn new(config: DeskConfig) -> Self {
        Softphone {
            config,
            accounts: Vec::new(),
            calls: Vec::new(),
            wrap_up: None,
            missed_unseen: 0,
            busy: false,
            consult_for: None,
        }
    }

    /// Sets the accounts shown in the status bar (from settings); their states start unregistered.
    pub fn set_accounts(&mut self, now: Millis, accounts: &[SipAccount]) {
        let old = std::mem::take(&mut self.accounts);
        self.accounts = accounts
            .iter()
            .filter(|a| a.enabled)
            .map(|a| {
                old.iter().find(|o| o.account_id == a.id).cloned().unwrap_or(AccountStatus {
                    account_id: a.id.clone(),
                    label: a.label.clone(),
                    state: RegistrationState::Unregistered,
                    detail: None,
                    since: now,
                })
            })
            .collect();
    }

    /// Missed calls the operator has not looked at, as counted before this desk started.
    pub fn set_missed_unseen(&mut self, count: u32) {
        self.missed_unseen = count;
    }

    pub fn snapshot(&self) -> PhoneSnapshot {
        PhoneSnapshot {
            accounts: self.accounts.clone(),
            calls: self.calls.iter().map(|c| c.view.clone()).collect(),
            wrap_up: self.wrap_up.as_ref().map(|w| w.view.clone()),
            missed_unseen: self.missed_unseen,
        }
    }

    pub fn dispositions(&self) -> &[DispositionNode] {
        &self.config.dispositions
    }

    pub fn call(&self, call_id: &str) -> Result<&PhoneCall, PhoneError> {
        self.calls.iter().find(|c| c.view.id == call_id).map(|c| &c.view).ok_or(PhoneError::NoSuchCall(call_id.into()))
    }

    fn call_mut(&mut self, call_id: &str) -> Result<&mut LiveCall, PhoneError> {
        self.calls.iter_mut().find(|c| c.view.id == call_id).ok_or(PhoneError::NoSuchCall(call_id.into()))
    }

    /// An operator places a call only with no call up and no wrap-up pending.
    pub fn check_dial(&self) -> Result<(), PhoneError> {
        if self.calls.iter().any(|c| c.view.phase != CallPhase::Ended) {
            return Err(PhoneError::NotNow("a call is already up: hang it up or transfer it first".into()));
        }
        if self.wrap_up.is_some() {
            return Err(PhoneError::NotNow("finish the wrap-up of the last call first".into()));
        }
        if !self.accounts.iter().any(|a| a.state == RegistrationState::Registered) {
            return Err(PhoneError::NotNow("no SIP account is registered".into()));
        }
        Ok(())
    }

    pub fn config(&self) -> &DeskConfig {
        &self.config
    }

    /// A transfer needs an answered call with no transfer under way.
    pub fn check_transfer(&self, call_id: &str) -> Result<(), PhoneError> {
        let call = self.call(call_id)?;
        if !matches!(call.phase, CallPhase::Active | CallPhase::Held) {
            return Err(PhoneError::NotNow("only a connected call can be transferred".into()));
        }
        if call.transfer.as_ref().is_some_and(|t| t.phase == TransferPhase::Asking) {
            return Err(PhoneError::NotNow("this call is already being transferred".into()));
        }
        Ok(())
    }

    /// An attended transfer starts: the next outgoing call is the consult leg of `call_id`.
    /// Only one consult leg at a time.
    pub fn begin_consult(&mut self, call_id: &str) -> Result<(), PhoneError> {
        self.check_transfer(call_id)?;
        if self.calls.iter().any(|c| c.view.consult_for.is_some()) {
            return Err(PhoneError::NotNow("a consult call is already up".into()));
        }
        self.consult_for = Some(call_id.to_owned());
        Ok(())
    }

    /// The consult leg could not be placed after all.
    pub fn abandon_consult(&mut self) {
        self.consult_for = None;
    }

    /// Completing an attended transfer needs the consult leg answered.
    pub fn check_complete(&self, call_id: &str, consult_id: &str) -> Result<(), PhoneError> {
        self.check_transfer(call_id)?;
        let leg = self.call(consult_id)?;
        if leg.consult_for.as_deref() != Some(call_id) {
            return Err(PhoneError::NotNow("that call is not a consult call of this one".into()));
        }
        if !matches!(leg.phase, CallPhase::Active | CallPhase::Held) {
            return Err(PhoneError::NotNow("the consult call is not connected yet".into()));
        }
        Ok(())
    }

    /// Joins the held customer and the consult leg into a three-way call (the audio is bridged
    /// on the desk). Both legs must be connected.
    pub fn conference(&mut self, call_id: &str, consult_id: &str) -> Result<(), PhoneError> {
        self.check_complete(call_id, consult_id)?;
        self.call_mut(call_id)?.view.conferenced_with = Some(consult_id.to_owned());
        self.call_mut(consult_id)?.view.conferenced_with = Some(call_id.to_owned());
        Ok(())
    }

    /// The operator pauses the recording (a card number is about to be said) or resumes it.
    pub fn set_recording_paused(&mut self, now: Millis, call_id: &str, paused: bool) -> Result<(), PhoneError> {
        let call = self.call_mut(call_id)?;
        match (call.view.recording, paused) {
            (RecordingState::Off, _) => Err(PhoneError::NotNow("this call is not recorded".into())),
            (RecordingState::On, true) => {
                call.view.recording = RecordingState::Paused;
                call.pauses.push((now, None));
                Ok(())
            }
            (RecordingState::Paused, false) => {
                call.view.recording = RecordingState::On;
                if let Some((_, to @ None)) = call.pauses.last_mut() {
                    *to = Some(now);
                }
                Ok(())
            }
            _ => Ok(()), // already as asked
        }
    }

    /// The store's answer to [`Effect::LookupCaller`]: the screen pop.
    pub fn caller_identified(&mut self, call_id: &str, customer: Option<(String, String, Vec<TicketRef>)>) {
        if let Ok(call) = self.call_mut(call_id)
            && let Some((id, name, tickets)) = customer
        {
            call.view.customer_id = Some(id);
            call.view.customer_name = Some(name);
            call.view.open_tickets = tickets;
        }
    }

    pub fn set_muted(&mut self, call_id: &str, muted: bool) -> Result<(), PhoneError> {
        self.call_mut(call_id)?.view.muted = muted;
        Ok(())
    }

    pub fn set_note(&mut self, call_id: &str, note: &str) -> Result<(), PhoneError> {
        if let Some(w) = self.wrap_up.as_mut().filter(|w| w.view.call_id == call_id) {
            w.call.view.note = note.to_owned();
            return Ok(());
        }
        self.call_mut(call_id)?.view.note = note.to_owned();
        Ok(())
    }

    /// A customer created for an unknown caller: the call and its wrap-up now belong to them.
    pub fn link_customer(&mut self, call_id: &str, customer_id: &str, name: &str) -> Result<(), PhoneError> {
        if let Some(w) = self.wrap_up.as_mut().filter(|w| w.view.call_id == call_id) {
            w.view.customer_id = Some(customer_id.into());
            w.view.customer_name = Some(name.into());
            w.call.view.customer_id = Some(customer_id.into());
            return Ok(());
        }
        let call = self.call_mut(call_id)?;
        call.view.customer_id = Some(customer_id.into());
        call.view.customer_name = Some(name.into());
        Ok(())
    }

    /// Missed calls seen, all at once.
    pub fn mark_seen(&mut self) {
        self.missed_unseen = 0;
    }

    fn set_account(&mut self, now: Millis, account_id: &str, state: RegistrationState, detail: Option<String>) {
        if let Some(a) = self.accounts.iter_mut().find(|a| a.account_id == account_id)
            && (a.state != state || a.detail != detail)
        {
            a.state = state;
            a.detail = detail;
            a.since = now;
        }
    }

    fn new_call(
        &self,
        id: String,
        account_id: String,
        direction: CallDirection,
        number: String,
        now: Millis,
    ) -> LiveCall {
        LiveCall {
            view: PhoneCall {
                id,
                account_id,
                direction,
                phase: if direction == CallDirection::Inbound { CallPhase::RingingIn } else { CallPhase::Dialing },
                remote_number: number,
                remote_name: None,
                page: None,
                customer_id: None,
                customer_name: None,
                open_tickets: Vec::new(),
                line: None,
                queue_name: None,
                waited_ms: None,
                started_at: now,
                answered_at: None,
                muted: false,
                recording: RecordingState::Off,
                quality: None,
                consult_for: None,
                conferenced_with: None,
                note: String::new(),
                transfer: None,
                monitored: None,
            },
            queue_id: None,
            record: None,
            transferred_to: None,
            pauses: Vec::new(),
        }
    }

    /// Feeds one report of the SIP side.
    pub fn handle(&mut self, now: Millis, signal: Signal) -> Vec<Effect> {
        let mut effects = Vec::new();
        match signal {
            Signal::Registering { account_id } => {
                self.set_account(now, &account_id, RegistrationState::Registering, None)
            }
            Signal::Registered { account_id } => {
                self.set_account(now, &account_id, RegistrationState::Registered, None)
            }
            Signal::RegistrationFailed { account_id, detail } => {
                self.set_account(now, &account_id, RegistrationState::Failed, Some(detail))
            }
            Signal::Unregistered { account_id } => {
                self.set_account(now, &account_id, RegistrationState::Unregistered, None)
            }
            Signal::Incoming {
                call_id,
                account_id,
                from_number,
                display_name,
                line,
                page,
                ticket_id,
                queue,
                waited_ms,
            } => {
                let mut call = self.new_call(call_id.clone(), account_id, CallDirection::Inbound, from_number, now);
                call.view.remote_name = display_name.filter(|n| !n.trim().is_empty());
                call.view.page = page;
                call.view.waited_ms = waited_ms;
                // The hotline's queue, else the one the dialled line feeds.
                let queue = queue.or_else(|| line.as_deref().and_then(|l| self.config.lines.get(&digits(l))).cloned());
                if let Some((queue_id, queue_name)) = queue {
                    call.queue_id = Some(queue_id);
                    call.view.queue_name = Some(queue_name);
                }
                call.view.line = line;
                let who = call.view.remote_name.clone().unwrap_or_else(|| call.view.remote_number.clone());
                let via = call.view.queue_name.clone().or_else(|| call.view.line.clone()).unwrap_or_default();
                effects.push(Effect::LookupCaller {
                    call_id: call_id.clone(),
                    number: call.view.remote_number.clone(),
                    ticket_id,
                });
                effects.push(Effect::Ring { on: true });
                effects.push(Effect::Notify { call_id, title: who, body: via });
                self.calls.push(call);
            }
            Signal::Dialing { call_id, account_id, to_number } => {
                let mut call =
                    self.new_call(call_id.clone(), account_id, CallDirection::Outbound, to_number.clone(), now);
                call.view.consult_for = self.consult_for.take();
                if call.view.consult_for.is_none() {
                    // A consult leg is to a colleague, not a customer: no screen pop.
                    effects.push(Effect::LookupCaller { call_id, number: to_number, ticket_id: None });
                }
                self.calls.push(call);
            }
            Signal::Ringing { call_id } => {
                if let Ok(c) = self.call_mut(&call_id)
                    && c.view.phase == CallPhase::Dialing
                {
                    c.view.phase = CallPhase::RingingOut;
                }
            }
            Signal::Answered { call_id } => {
                let was_ringing_in = self.call(&call_id).is_ok_and(|c| c.phase == CallPhase::RingingIn);
                let record_calls = self.config.record_calls;
                if let Ok(c) = self.call_mut(&call_id) {
                    c.view.phase = CallPhase::Active;
                    c.view.answered_at.get_or_insert(now);
                    if record_calls && c.view.recording == RecordingState::Off {
                        c.view.recording = RecordingState::On;
                    }
                    if was_ringing_in && !self.calls.iter().any(|c| c.view.phase == CallPhase::RingingIn) {
                        effects.push(Effect::Ring { on: false });
                    }
                    if !self.busy {
                        self.busy = true;
                        effects.push(Effect::SetAgentState(AgentState::Busy));
                    }
                }
            }
            Signal::Monitored { call_id, by, mode } => {
                // Only the hotline's calls: any other caller could claim a listener.
                if let Ok(c) = self.call_mut(&call_id)
                    && c.queue_id.is_some()
                {
                    c.view.monitored = mode.map(|mode| MonitoredBy { by, mode });
                }
            }
            Signal::Held { call_id, held } => {
                if let Ok(c) = self.call_mut(&call_id)
                    && matches!(c.view.phase, CallPhase::Active | CallPhase::Held)
                {
                    c.view.phase = if held { CallPhase::Held } else { CallPhase::Active };
                }
            }
            Signal::Quality { call_id, live, record } => {
                if let Ok(c) = self.call_mut(&call_id) {
                    c.view.quality = Some(live);
                    c.record = Some(record);
                }
            }
            Signal::Transferring { call_id, to } => {
                if let Ok(c) = self.call_mut(&call_id) {
                    c.view.transfer = Some(TransferView { to, phase: TransferPhase::Asking, status: None });
                }
            }
            Signal::Transferred { call_id, to } => {
                if let Ok(c) = self.call_mut(&call_id) {
                    c.transferred_to = Some(to);
                }
            }
            Signal::TransferFailed { call_id, to, status } => {
                if let Ok(c) = self.call_mut(&call_id) {
                    c.view.transfer = Some(TransferView { to, phase: TransferPhase::Failed, status });
                }
            }
            Signal::Ended { call_id, cause } => self.ended(now, &call_id, cause, &mut effects),
        }
        effects
    }

    fn ended(&mut self, now: Millis, call_id: &str, cause: EndCause, effects: &mut Vec<Effect>) {
        let Some(index) = self.calls.iter().position(|c| c.view.id == call_id) else { return };
        let mut call = self.calls.remove(index);
        // The other side of a conference goes on as an ordinary call.
        if let Some(other) = call.view.conferenced_with.take()
            && let Ok(o) = self.call_mut(&other)
        {
            o.view.conferenced_with = None;
        }
        // A pause still open when the call ends lasted until the end.
        if let Some((_, to @ None)) = call.pauses.last_mut() {
            *to = Some(now);
        }
        if call.view.phase == CallPhase::RingingIn && !self.calls.iter().any(|c| c.view.phase == CallPhase::RingingIn) {
            effects.push(Effect::Ring { on: false });
        }
        if call.view.consult_for.is_some() {
            // A consult leg is saved as it ends and has no wrap-up of its own; if it was the
            // last answered call, the customer's pending wrap-up now has the operator's time.
            let outcome = if call.view.answered_at.is_some() { CallOutcome::Answered } else { CallOutcome::Failed };
            effects.push(Effect::Save(Box::new(self.record(&call, now, outcome))));
            if self.busy && self.wrap_up.is_some() && !self.calls.iter().any(|c| c.view.answered_at.is_some()) {
                self.busy = false;
                effects.push(Effect::SetAgentState(AgentState::WrapUp));
            }
            return;
        }
        if call.view.answered_at.is_some() {
            // Answered: the wrap-up saves it. A wrap-up still pending from an earlier call (a
            // second call answered meanwhile) is saved as it stands so nothing is lost.
            if let Some(previous) = self.wrap_up.take() {
                effects.push(Effect::Save(Box::new(self.record(
                    &previous.call,
                    previous.ended_at,
                    CallOutcome::Answered,
                ))));
            }
            self.wrap_up = Some(PendingWrapUp {
                view: WrapUpView {
                    call_id: call.view.id.clone(),
                    customer_id: call.view.customer_id.clone(),
                    started_at: call.view.started_at,
                    limit_s: self.config.wrap_up_limit_s,
                    open_tickets: call.view.open_tickets.clone(),
                    remote_number: call.view.remote_number.clone(),
                    customer_name: call.view.customer_name.clone(),
                },
                deadline: now + i64::from(self.config.wrap_up_limit_s) * 1000,
                ended_at: now,
                call,
            });
            if !self.calls.iter().any(|c| c.view.answered_at.is_some()) {
                self.busy = false;
                effects.push(Effect::SetAgentState(AgentState::WrapUp));
            }
            return;
        }
        let outcome = match (call.view.direction, cause) {
            (CallDirection::Inbound, EndCause::Declined { to_queue: false }) => CallOutcome::Busy,
            (CallDirection::Inbound, EndCause::Declined { to_queue: true }) => CallOutcome::Missed,
            (CallDirection::Inbound, _) => {
                self.missed_unseen += 1;
                CallOutcome::Missed
            }
            (CallDirection::Outbound, EndCause::Refused { status: 486 | 600 }) => CallOutcome::Busy,
            (CallDirection::Outbound, _) => CallOutcome::Failed,
        };
        effects.push(Effect::Save(Box::new(self.record(&call, now, outcome))));
    }

    fn record(&self, call: &LiveCall, ended_at: Millis, outcome: CallOutcome) -> Mutation {
        let (from_number, to_number) = match call.view.direction {
            CallDirection::Inbound => (call.view.remote_number.clone(), call.view.line.clone().unwrap_or_default()),
            CallDirection::Outbound => (self.config.own_number.clone(), call.view.remote_number.clone()),
        };
        Mutation::SaveCall {
            call_id: call.view.id.clone(),
            customer_id: call.view.customer_id.clone(),
            ticket_id: None,
            queue_id: call.queue_id.clone(),
            direction: call.view.direction,
            from_number,
            to_number,
            started_at: call.view.started_at,
            answered_at: call.view.answered_at,
            ended_at,
            outcome,
            disposition: None,
            notes: call.view.note.clone(),
            recording_ref: (call.view.recording != RecordingState::Off).then(|| recording_file_name(&call.view.id)),
            quality: call.record,
            transferred_to: call.transferred_to.clone(),
            recording_pauses: call
                .pauses
                .iter()
                .map(|&(from, to)| okno_core::RecordingPause { from, to: to.unwrap_or(ended_at) })
                .collect(),
        }
    }

    /// "Group / Leaf" for a disposition id of the tree.
    fn disposition_label(&self, id: &str) -> Option<String> {
        fn find(nodes: &[DispositionNode], id: &str, path: &mut Vec<String>) -> bool {
            for n in nodes {
                path.push(n.label.clone());
                if (n.id == id && n.children.is_empty()) || find(&n.children, id, path) {
                    return true;
                }
                path.pop();
            }
            false
        }
        let mut path = Vec::new();
        find(&self.config.dispositions, id, &mut path).then(|| path.join(" / "))
    }

    /// The operator finishes the wrap-up: the call is saved with its disposition and comment,
    /// and the desk is Available again.
    pub fn wrap_up(
        &mut self,
        call_id: &str,
        disposition_id: &str,
        comment: &str,
        ticket: &TicketLink,
    ) -> Result<Vec<Effect>, PhoneError> {
        let Some(pending) = self.wrap_up.as_ref().filter(|w| w.view.call_id == call_id) else {
            return Err(PhoneError::NoSuchCall(call_id.into()));
        };
        let label =
            self.disposition_label(disposition_id).ok_or(PhoneError::UnknownDisposition(disposition_id.into()))?;
        let ticket_id = match ticket {
            TicketLink::None => None,
            TicketLink::Existing { ticket_id } => Some(ticket_id.clone()),
        };
        let mut mutation = self.record(&pending.call, pending.ended_at, CallOutcome::Answered);
        if let Mutation::SaveCall { disposition, notes, ticket_id: t, .. } = &mut mutation {
            *disposition = Some(label);
            let comment = comment.trim();
            if !comment.is_empty() {
                if !notes.is_empty() {
                    notes.push_str("\n\n");
                }
                notes.push_str(comment);
            }
            *t = ticket_id;
        }
        self.wrap_up = None;
        let mut effects = vec![Effect::Save(Box::new(mutation))];
        if !self.busy {
            effects.push(Effect::SetAgentState(AgentState::Available));
        }
        Ok(effects)
    }

    /// When [`Softphone::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.wrap_up.as_ref().map(|w| w.deadline)
    }

    /// The wrap-up limit ran out: the call is saved without a disposition and the desk is
    /// Available again, so the queue does not wait on a forgotten wrap-up.
    pub fn handle_timeout(&mut self, now: Millis) -> Vec<Effect> {
        let Some(pending) = self.wrap_up.as_ref().filter(|w| w.deadline <= now) else { return Vec::new() };
        let mutation = self.record(&pending.call, pending.ended_at, CallOutcome::Answered);
        self.wrap_up = None;
        let mut effects = vec![Effect::Save(Box::new(mutation))];
        if !self.busy {
            effects.push(Effect::SetAgentState(AgentState::Available));
        }
        effects
    }
}

#[cfg(test)]
mod tests;
