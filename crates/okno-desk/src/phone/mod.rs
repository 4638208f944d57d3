//! The softphone in the window: adapts the SIP engine (`okno_phone::engine`) and the desk's
//! state machine (`okno_softphone`) to the UI's phone commands and the "phone" event, and
//! performs the desk's effects on the store (caller ID, saving calls, agent state).
//!
//! Accounts come from settings (`sip_accounts`, without passwords) and from provisioning; a
//! password comes from the environment variable an account names, else from the OS keychain.
//! One engine runs per enabled account; a call's commands go to the engine that has the call,
//! and dialling uses the chosen account (else the first registered one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use okno_core::{AgentState, Mutation};
use okno_phone::bridge::Bridge;
use okno_phone::context::CallContext;
use okno_phone::engine::{self, EndReason, PhoneCommand, PhoneEvent, PhoneHandle};
use okno_phone::recording::CallRecorder;
use okno_softphone::{
    CallHistoryEntry, DeskConfig, DispositionNode, Effect, EndCause, LiveQuality, PhoneCall, PhoneError, PhoneSnapshot,
    Signal, SipAccount, SipAccountInput, Softphone, TicketLink, TicketRef, TransferTarget,
};
use okno_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, UiError};
use crate::now_ms;
use crate::secrets::{SecretStore, sip_key};

mod accounts;
mod devices;

use accounts::{apply_provisioning, engine_config, save_accounts, stored_accounts};
use devices::DeviceMedia;

type Result<T> = std::result::Result<T, UiError>;

const ACCOUNTS_KEY: &str = "sip_accounts";
const SEEN_KEY: &str = "calls_seen_until";
/// Whether answered calls are recorded ("true"/"false"; provisioning's `[desk] record_calls`).
const RECORD_KEY: &str = "record_calls";
/// Seconds of wrap-up before the desk is Available again (provisioning's `[desk]`).
const WRAP_UP_KEY: &str = "wrap_up_limit_s";

/// An account as settings keep it: the UI's fields plus where its password comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredAccount {
    #[serde(flatten)]
    account: SipAccount,
    /// Environment variable with the password (provisioning); else the keychain.
    #[serde(default)]
    password_env: Option<String>,
}

fn invalid(message: impl Into<String>) -> UiError {
    UiError { code: ErrorCode::InvalidInput, message: message.into() }
}

impl From<PhoneError> for UiError {
    fn from(e: PhoneError) -> Self {
        let code = match e {
            PhoneError::NoSuchCall(_) => ErrorCode::NotFound,
            _ => ErrorCode::InvalidInput,
        };
        UiError { code, message: e.to_string() }
    }
}

/// The number on a call card: the user part of a SIP URI (the number of a tel: URI), as
/// okno-sip parses it; the text itself if it does not parse.
fn user_part(uri: &str) -> String {
    let text = uri.trim().trim_start_matches('<').trim_end_matches('>');
    match okno_sip::uri::Uri::parse(text) {
        Ok(okno_sip::uri::Uri::Sip(sip)) => sip.user.unwrap_or_default(),
        Ok(okno_sip::uri::Uri::Tel(tel)) => tel.number,
        _ => text.to_owned(),
    }
}

struct Running {
    handle: PhoneHandle,
    account: SipAccount,
}

/// Calls the operator declined, and whether to the next operator: the engine's `ended` says
/// only that we refused it.
#[derive(Default)]
struct LocalEnds {
    declined: HashMap<String, bool>,
}

/// Where snapshots go: the window's "phone" event.
type Emitter = Box<dyn Fn(&PhoneSnapshot) + Send + Sync>;
/// What the window does when a call comes in (come to the front, ask for attention).
type Alert = Box<dyn Fn(&str, &str) + Send + Sync>;

pub struct PhoneService {
    store: Store,
    /// Where SIP passwords live (the OS keychain in the app).
    secrets: Arc<dyn SecretStore>,
    desk: Mutex<Softphone>,
    /// One engine per enabled account that could start.
    running: Mutex<Vec<Running>>,
    local_ends: Mutex<LocalEnds>,
    emit: Mutex<Option<Emitter>>,
    alert: Mutex<Option<Alert>>,
    /// The ring device's player, opened at the first incoming call.
    ringer: Mutex<Option<okno_audio::Ringer>>,
    /// The sound devices the operator chose (settings `audio_input`, `audio_output`,
    /// `audio_ring`); shared with the engine's [`DeviceMedia`].
    devices: Arc<Mutex<DeviceChoices>>,
    recordings: Recordings,
    /// The three-way call bridged on this desk, if one is up; shared with [`DeviceMedia`].
    conference: Arc<Mutex<Option<Arc<Bridge>>>>,
}

/// The recordings of the calls up now, by call id, and where they go (`None`: not recording).
#[derive(Clone)]
struct Recordings {
    dir: Option<std::path::PathBuf>,
    calls: Arc<Mutex<HashMap<String, Arc<CallRecorder>>>>,
}

impl Recordings {
    /// The call's recorder, created at its first audio and kept across device switches.
    fn for_call(&self, call_id: &str, rate: u32) -> Option<Arc<CallRecorder>> {
        let dir = self.dir.as_ref()?;
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = calls.get(call_id) {
            return Some(r.clone());
        }
        let path = dir.join(okno_softphone::recording_file_name(call_id));
        match CallRecorder::create(&path, rate) {
            Ok(r) => {
                calls.insert(call_id.to_owned(), r.clone());
                Some(r)
            }
            Err(e) => {
                tracing::warn!(call_id, error = %e, "cannot record this call");
                None
            }
        }
    }

    /// The call is over: its file is completed.
    fn end(&self, call_id: &str) {
        let recorder = self.calls.lock().unwrap_or_else(|e| e.into_inner()).remove(call_id);
        if let Some(r) = recorder {
            r.finish();
        }
    }
}

/// Device names; `None` follows the system default.
#[derive(Debug, Clone, Default)]
struct DeviceChoices {
    input: Option<String>,
    output: Option<String>,
    ring: Option<String>,
}

const DEVICE_KEYS: [&str; 3] = ["audio_input", "audio_output", "audio_ring"];

fn device_choice(name: &Option<String>) -> okno_audio::DeviceChoice {
    match name {
        Some(n) => okno_audio::DeviceChoice::Named(n.clone()),
        None => okno_audio::DeviceChoice::Default,
    }
}

impl PhoneService {
    /// Loads the accounts (applying a provisioning file first), starts the engine of the first
    /// usable account, and keeps the desk's timers. Problems are logged and shown as account
    /// states; the window works without a phone.
    pub async fn start(
        store: Store,
        provision: Option<&std::path::Path>,
        data_dir: &std::path::Path,
        secrets: Arc<dyn SecretStore>,
    ) -> anyhow::Result<Arc<Self>> {
        if let Some(path) = provision {
            apply_provisioning(&store, path, &*secrets).await?;
        }
        let mut config = DeskConfig::demo();
        if let Some(limit) = store.setting(WRAP_UP_KEY).await?.and_then(|v| v.parse().ok()) {
            config.wrap_up_limit_s = limit;
        }
        if let Some(record) = store.setting(RECORD_KEY).await?.and_then(|v| v.parse().ok()) {
            config.record_calls = record;
        }
        let recordings = Recordings {
            dir: config.record_calls.then(|| data_dir.join("recordings")),
            calls: Arc::new(Mutex::new(HashMap::new())),
        };
        let service = Arc::new(PhoneService {
            store,
            secrets,
            desk: Mutex::new(Softphone::new(config)),
            running: Mutex::new(Vec::new()),
            local_ends: Mutex::new(LocalEnds::default()),
            emit: Mutex::new(None),
            alert: Mutex::new(None),
            ringer: Mutex::new(None),
            devices: Arc::new(Mutex::new(DeviceChoices::default())),
            recordings,
            conference: Arc::new(Mutex::new(None)),
        });
        if let Err(e) = service.load_device_choices().await {
            tracing::warn!(error = %e.message, "cannot read the chosen sound devices; using the defaults");
        }
        service.restart().await;
        let weak = Arc::downgrade(&service);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(service) = weak.upgrade() else { return };
                let effects = {
                    let mut desk = service.desk.lock().unwrap_or_else(|e| e.into_inner());
                    let now = now_ms();
                    if desk.poll_timeout().is_some_and(|t| t <= now) { desk.handle_timeout(now) } else { continue }
                };
                service.perform(effects).await;
                service.changed();
            }
        });
        Ok(service)
    }

    /// Where snapshots go (the Tauri event); set once the window exists.
    pub fn on_change(&self, emit: impl Fn(&PhoneSnapshot) + Send + Sync + 'static) {
        *self.emit.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(emit));
    }

    /// What to do about an incoming call besides the call card (the window's side).
    pub fn on_incoming(&self, alert: impl Fn(&str, &str) + Send + Sync + 'static) {
        *self.alert.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(alert));
    }

    fn changed(&self) {
        let snapshot = self.snapshot();
        if let Some(emit) = self.emit.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            emit(&snapshot);
        }
    }

    pub fn snapshot(&self) -> PhoneSnapshot {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).snapshot()
    }

    async fn stored_accounts(&self) -> Result<Vec<StoredAccount>> {
        stored_accounts(&self.store).await
    }

    /// (Re)starts the engine for the first enabled account with a password.
    async fn restart(self: &Arc<Self>) {
        for old in self.running.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = old.handle.send(PhoneCommand::Shutdown);
        }
        let accounts = match self.stored_accounts().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e.message, "cannot read the SIP accounts");
                return;
            }
        };
        let missed = self.missed_unseen().await.unwrap_or(0);
        {
            let mut desk = self.desk.lock().unwrap_or_else(|e| e.into_inner());
            let list: Vec<SipAccount> = accounts.iter().map(|a| a.account.clone()).collect();
            desk.set_accounts(now_ms(), &list);
            desk.set_missed_unseen(missed);
        }
        for chosen in accounts.into_iter().filter(|a| a.account.enabled) {
            self.start_account(chosen).await;
        }
        self.changed();
    }

    /// Starts the engine of one account; a problem shows as that account's state.
    async fn start_account(self: &Arc<Self>, chosen: StoredAccount) {
        let id = chosen.account.id.clone();
        let failed = |service: &Arc<Self>, detail: String| {
            tracing::warn!(account = %id, %detail, "SIP account not started");
            service
                .desk
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .handle(now_ms(), Signal::RegistrationFailed { account_id: id.clone(), detail });
            service.changed();
        };
        let password = match &chosen.password_env {
            Some(var) => match std::env::var(var) {
                Ok(p) => Some(p),
                Err(_) => return failed(self, format!("the environment variable {var} with the password is not set")),
            },
            None => match self.secrets.get(&sip_key(&id)) {
                Ok(p) => p,
                Err(e) => return failed(self, e),
            },
        };
        let config = match engine_config(&chosen.account, password) {
            Ok(c) => c,
            Err(e) => return failed(self, e),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let media: Box<dyn engine::MediaIo> = Box::new(DeviceMedia {
            devices: self.devices.clone(),
            recordings: self.recordings.clone(),
            conference: self.conference.clone(),
        });
        match engine::spawn(config, media, tx).await {
            Ok((handle, _task)) => {
                self.running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Running { handle, account: chosen.account.clone() });
                self.desk
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .handle(now_ms(), Signal::Registering { account_id: id.clone() });
                self.changed();
                let service = Arc::downgrade(self);
                let account_id = id.clone();
                tokio::spawn(async move {
                    while let Some(event) = rx.recv().await {
                        let Some(service) = service.upgrade() else { return };
                        service.on_engine_event(&account_id, event).await;
                    }
                });
            }
            Err(e) => failed(self, e.to_string()),
        }
    }

    async fn on_engine_event(&self, account_id: &str, event: PhoneEvent) {
        let signal = match event {
            PhoneEvent::Registered { .. } => Signal::Registered { account_id: account_id.into() },
            PhoneEvent::Unregistered => Signal::Unregistered { account_id: account_id.into() },
            PhoneEvent::RegistrationFailed { status } => Signal::RegistrationFailed {
                account_id: account_id.into(),
                detail: match status {
                    Some(401 | 403 | 407) => {
                        format!("the registrar refused the user or password ({})", status.unwrap_or(0))
                    }
                    Some(status) => format!("the registrar answered {status}"),
                    None => "the registrar does not answer".into(),
                },
            },
            PhoneEvent::Incoming { call_id, from, to, display_name, call_info } => {
                let context = CallContext::from_call_info(&call_info);
                // A queue is shown by the name this desk's store gives it, never by the caller's word.
                let queue = match context.queue_id {
                    Some(id) => self.store.queue_name(&id).await.ok().flatten().map(|name| (id, name)),
                    None => None,
                };
                Signal::Incoming {
                    call_id,
                    account_id: account_id.into(),
                    from_number: user_part(&from),
                    display_name,
                    line: Some(user_part(&to)),
                    page: context.page,
                    ticket_id: context.ticket_id,
                    queue,
                    waited_ms: context.waited_ms,
                }
            }
            PhoneEvent::Calling { call_id, to } => {
                Signal::Dialing { call_id, account_id: account_id.into(), to_number: user_part(&to) }
            }
            PhoneEvent::Ringing { call_id, .. } => Signal::Ringing { call_id },
            PhoneEvent::Answered { call_id, .. } => Signal::Answered { call_id },
            PhoneEvent::Monitored { call_id, by, mode } => Signal::Monitored { call_id, by, mode },
            PhoneEvent::Held { call_id, .. } => Signal::Held { call_id, held: true },
            PhoneEvent::Resumed { call_id, .. } => Signal::Held { call_id, held: false },
            PhoneEvent::Quality { call_id, stats } => Signal::Quality {
                call_id,
                live: LiveQuality {
                    mos: stats.mos,
                    loss_pct: stats.loss_percent,
                    jitter_ms: stats.jitter_ms,
                    rtt_ms: stats.rtt_ms.unwrap_or(0.0),
                },
                record: okno_core::CallQuality {
                    mos_centi: (stats.mos * 100.0).round() as u32,
                    loss_centi_pct: (stats.loss_percent * 100.0).round() as u32,
                    jitter_ms: stats.jitter_ms.round() as u32,
                    rtt_ms: stats.rtt_ms.map(|r| r.round() as u32),
                    packets_received: stats.packets_received,
                },
            },
            PhoneEvent::Transferring { call_id, to } => Signal::Transferring { call_id, to: user_part(&to) },
            PhoneEvent::Transferred { call_id, to } => Signal::Transferred { call_id, to: user_part(&to) },
            PhoneEvent::TransferFailed { call_id, to, status } => {
                Signal::TransferFailed { call_id, to: user_part(&to), status }
            }
            // A colleague's attended transfer to this desk: the call arrives already answered.
            PhoneEvent::Replaced { call_id, from, .. } => Signal::Incoming {
                call_id,
                account_id: account_id.into(),
                from_number: user_part(&from),
                display_name: None,
                line: None,
                page: None,
                ticket_id: None,
                queue: None,
                waited_ms: None,
            },
            PhoneEvent::Ended { call_id, cause, answered, .. } => {
                self.recordings.end(&call_id);
                self.leave_conference(&call_id);
                let cause = {
                    let mut local = self.local_ends.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(to_queue) = local.declined.remove(&call_id) {
                        EndCause::Declined { to_queue }
                    } else if cause == EndReason::Transferred {
                        EndCause::Transferred
                    } else if answered {
                        EndCause::HungUp
                    } else if cause == EndReason::LocalCancel {
                        EndCause::LocalCancel
                    } else if cause == EndReason::LocalReject {
                        EndCause::Declined { to_queue: false }
                    } else if cause == EndReason::Cancelled {
                        EndCause::CallerCancelled
                    } else if let Some(status) = cause.status() {
                        EndCause::Refused { status }
                    } else {
                        EndCause::Failed
                    }
                };
                Signal::Ended { call_id, cause }
            }
            PhoneEvent::Error { code, call_id, message } => {
                tracing::warn!(?code, ?call_id, %message, "the phone refused a command");
                return;
            }
            _ => return,
        };
        let effects = self.desk.lock().unwrap_or_else(|e| e.into_inner()).handle(now_ms(), signal);
        self.perform(effects).await;
        self.changed();
    }

    /// The screen pop's lookup: by the website caller's chat ticket when this desk holds it,
    /// else by number.
    async fn caller(
        &self,
        number: &str,
        ticket_id: Option<String>,
    ) -> std::result::Result<Option<okno_store::views::CallerMatch>, okno_store::StoreError> {
        if let Some(ticket) = ticket_id
            && let Some(found) = self.store.caller_by_ticket(&ticket).await?
        {
            return Ok(Some(found));
        }
        self.store.caller_match(number).await
    }

    async fn perform(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::LookupCaller { call_id, number, ticket_id } => match self.caller(&number, ticket_id).await {
                    Ok(found) => {
                        let found = found.map(|m| {
                            let tickets = m
                                .open_tickets
                                .into_iter()
                                .map(|t| TicketRef { id: t.id, subject: t.subject })
                                .collect();
                            (m.customer_id, m.name, tickets)
                        });
                        self.desk.lock().unwrap_or_else(|e| e.into_inner()).caller_identified(&call_id, found);
                    }
                    Err(e) => tracing::warn!(error = %e, "caller lookup failed"),
                },
                Effect::SetAgentState(state) => {
                    if let Err(e) = self.set_agent_state(state).await {
                        tracing::warn!(error = %e.message, "cannot change the agent state");
                    }
                }
                Effect::Save(mutation) => {
                    if let Err(e) = self.store.apply(*mutation).await {
                        tracing::error!(error = %e, "cannot save the call");
                    }
                }
                Effect::Ring { on } => self.ring(on),
                Effect::Notify { call_id, title, body } => {
                    // The screen pop above may have named the caller by now.
                    let matched = self
                        .desk
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .call(&call_id)
                        .ok()
                        .and_then(|c| c.customer_name.clone());
                    let title = matched.unwrap_or(title);
                    tracing::info!(call_id, title, body, "incoming call");
                    if let Some(alert) = self.alert.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                        alert(&title, &body);
                    }
                }
            }
        }
    }

    fn ring(&self, on: bool) {
        let mut ringer = self.ringer.lock().unwrap_or_else(|e| e.into_inner());
        if on && ringer.is_none() {
            let device = device_choice(&self.devices.lock().unwrap_or_else(|e| e.into_inner()).ring);
            match okno_audio::Ringer::open(device, okno_audio::StreamOptions::default()) {
                Ok(r) => *ringer = Some(r),
                Err(e) => tracing::warn!(error = %e, "no ring device: the call card still shows the call"),
            }
        }
        match (ringer.as_ref(), on) {
            (Some(r), true) => r.play(okno_audio::Tone::Ring),
            (Some(r), false) => r.stop(),
            (None, _) => {}
        }
    }

    async fn set_agent_state(&self, state: AgentState) -> Result<()> {
        let me = self.store.me().await?;
        self.store.apply(Mutation::SetAgentState { operator_id: me.id, state, at: now_ms() }).await?;
        Ok(())
    }

    /// The engine of `account_id`, or of the first registered account (else the first running).
    fn engine_for_account(&self, account_id: Option<&str>) -> Result<(PhoneHandle, SipAccount)> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let pick = |r: &&Running| account_id.is_none_or(|id| r.account.id == id);
        let registered = {
            let desk = self.desk.lock().unwrap_or_else(|e| e.into_inner());
            desk.snapshot()
                .accounts
                .into_iter()
                .filter(|a| a.state == okno_softphone::RegistrationState::Registered)
                .map(|a| a.account_id)
                .collect::<Vec<_>>()
        };
        running
            .iter()
            .filter(pick)
            .find(|r| account_id.is_some() || registered.contains(&r.account.id))
            .or_else(|| running.iter().find(pick))
            .map(|r| (r.handle.clone(), r.account.clone()))
            .ok_or_else(|| match account_id {
                Some(id) => invalid(format!("the SIP account {id} is not running")),
                None => invalid("no SIP account is running: add one in the phone settings"),
            })
    }

    /// Sends a command to the engine that has the call it names, or to every engine.
    fn send(&self, command: PhoneCommand) -> Result<()> {
        use PhoneCommand as C;
        let call_id = match &command {
            C::Answer { call_id }
            | C::Reject { call_id, .. }
            | C::Hangup { call_id }
            | C::Hold { call_id, .. }
            | C::Mute { call_id, .. }
            | C::Dtmf { call_id, .. }
            | C::Transfer { call_id, .. }
            | C::AttendedTransfer { call_id, .. } => Some(call_id.clone()),
            _ => None,
        };
        let internal = |e: engine::EngineError| UiError { code: ErrorCode::Internal, message: e.to_string() };
        match call_id {
            Some(id) => {
                let account = self.require(&id)?.account_id;
                self.engine_for_account(Some(&account))?.0.send(command).map_err(internal)
            }
            None => {
                let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
                if running.is_empty() {
                    return Err(invalid("no SIP account is running: add one in the phone settings"));
                }
                running.iter().try_for_each(|r| r.handle.send(command.clone()).map_err(internal))
            }
        }
    }

    /// Dials on `account_id` (else the first registered account).
    pub async fn dial(&self, number: String, account_id: Option<String>) -> Result<PhoneCall> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).check_dial()?;
        let number: String = number.chars().filter(|c| c.is_ascii_alphanumeric() || "+*#".contains(*c)).collect();
        if number.is_empty() {
            return Err(invalid("no number to dial"));
        }
        self.place(&number, account_id.as_deref()).await
    }

    /// `sip:NUMBER@DOMAIN` of an account.
    fn sip_uri(account: &SipAccount, number: &str) -> Result<okno_sip::uri::Uri> {
        okno_sip::uri::Uri::parse(&format!("sip:{number}@{}", account.domain)).map_err(|e| invalid(e.to_string()))
    }

    /// Dials on the account and returns the new call's view once the engine reports it.
    async fn place(&self, number: &str, account_id: Option<&str>) -> Result<PhoneCall> {
        let (engine, account) = self.engine_for_account(account_id)?;
        let to = Self::sip_uri(&account, number)?;
        let before: Vec<String> = self.snapshot().calls.into_iter().map(|c| c.id).collect();
        engine
            .send(PhoneCommand::Dial { to, display_name: None, call_info: Vec::new() })
            .map_err(|e| invalid(e.to_string()))?;
        // The engine reports the new call at once; wait briefly so the UI gets its view.
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            let snapshot = self.snapshot();
            if let Some(call) =
                snapshot.calls.into_iter().find(|c| c.remote_number == number && !before.contains(&c.id))
            {
                return Ok(call);
            }
        }
        Err(UiError { code: ErrorCode::Internal, message: "the call did not start".into() })
    }

    fn require(&self, call_id: &str) -> Result<PhoneCall> {
        Ok(self.desk.lock().unwrap_or_else(|e| e.into_inner()).call(call_id)?.clone())
    }

    pub fn answer(&self, call_id: String) -> Result<()> {
        self.require(&call_id)?;
        self.send(PhoneCommand::Answer { call_id })
    }

    /// Bridges the customer's call and the consult leg on this desk: both are taken off hold
    /// and each hears the operator and the other.
    pub fn conference(&self, call_id: String, consult_id: String) -> Result<()> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).conference(&call_id, &consult_id)?;
        *self.conference.lock().unwrap_or_else(|e| e.into_inner()) = Some(Bridge::new(&[&call_id, &consult_id]));
        let snapshot = self.snapshot();
        for id in [&call_id, &consult_id] {
            if snapshot.calls.iter().any(|c| &c.id == id && c.phase == okno_softphone::CallPhase::Held) {
                self.send(PhoneCommand::Hold { call_id: id.clone(), hold: false })?;
            }
        }
        self.send(PhoneCommand::ReopenAudio)?;
        self.changed();
        tracing::info!(call_id, consult_id, "conference");
        Ok(())
    }

    /// A call of the conference ended: the other one goes back to plain audio.
    fn leave_conference(&self, call_id: &str) {
        let mut conference = self.conference.lock().unwrap_or_else(|e| e.into_inner());
        if conference.as_ref().is_some_and(|b| b.contains(call_id)) {
            *conference = None;
            drop(conference);
            let _ = self.send(PhoneCommand::ReopenAudio);
        }
    }

    /// Pauses or resumes the call's recording: the file gets silence meanwhile, and the pause
    /// goes into the call's record.
    pub fn recording(&self, call_id: String, paused: bool) -> Result<()> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).set_recording_paused(now_ms(), &call_id, paused)?;
        if let Some(r) = self.recordings.calls.lock().unwrap_or_else(|e| e.into_inner()).get(&call_id) {
            r.set_paused(paused);
        }
        self.changed();
        Ok(())
    }

    /// The global answer key: the call that rings here, if one does.
    pub fn answer_ringing(&self) -> Result<()> {
        let ringing = self.snapshot().calls.into_iter().find(|c| c.phase == okno_softphone::CallPhase::RingingIn);
        match ringing {
            Some(call) => self.answer(call.id),
            None => Err(invalid("no call is ringing")),
        }
    }

    /// The global hang-up key: the call being talked on, else one being dialled.
    pub fn hangup_current(&self) -> Result<()> {
        use okno_softphone::CallPhase;
        let calls = self.snapshot().calls;
        let current = calls
            .iter()
            .find(|c| c.phase == CallPhase::Active)
            .or_else(|| calls.iter().find(|c| matches!(c.phase, CallPhase::Dialing | CallPhase::RingingOut)));
        match current {
            Some(call) => self.hangup(call.id.clone()),
            None => Err(invalid("no call to hang up")),
        }
    }

    pub fn reject(&self, call_id: String, to_queue: bool) -> Result<()> {
        self.require(&call_id)?;
        self.local_ends.lock().unwrap_or_else(|e| e.into_inner()).declined.insert(call_id.clone(), to_queue);
        // 480 lets the PBX's queue try the next operator; 486 says this desk is busy.
        self.send(PhoneCommand::Reject { call_id, status: if to_queue { 480 } else { 486 } })
    }

    pub fn hangup(&self, call_id: String) -> Result<()> {
        self.require(&call_id)?;
        self.send(PhoneCommand::Hangup { call_id })
    }

    pub fn hold(&self, call_id: String, hold: bool) -> Result<()> {
        self.require(&call_id)?;
        self.send(PhoneCommand::Hold { call_id, hold })
    }

    pub fn mute(&self, call_id: String, muted: bool) -> Result<()> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).set_muted(&call_id, muted)?;
        self.send(PhoneCommand::Mute { call_id, muted })?;
        self.changed();
        Ok(())
    }

    pub fn dtmf(&self, call_id: String, digits: String) -> Result<()> {
        self.require(&call_id)?;
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || "*#ABCD".contains(c)) {
            return Err(invalid(format!("{digits:?} are not DTMF keys (0-9, *, #, A-D)")));
        }
        self.send(PhoneCommand::Dtmf { call_id, keys: digits })
    }

    pub fn set_note(&self, call_id: String, note: String) -> Result<()> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).set_note(&call_id, &note)?;
        self.changed();
        Ok(())
    }

    pub async fn wrap_up(
        &self,
        call_id: String,
        disposition_id: String,
        comment: String,
        ticket: TicketLink,
    ) -> Result<()> {
        let effects = self.desk.lock().unwrap_or_else(|e| e.into_inner()).wrap_up(
            &call_id,
            &disposition_id,
            &comment,
            &ticket,
        )?;
        self.perform(effects).await;
        self.changed();
        Ok(())
    }

    pub fn dispositions(&self) -> Vec<DispositionNode> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).dispositions().to_vec()
    }

    /// Blind: the caller is asked to call the target (REFER) and this call ends once they
    /// answer. Attended: the call is held and the target called first; the operator completes
    /// the transfer with [`PhoneService::complete_transfer`]. Returns the consult call.
    pub async fn transfer(&self, call_id: String, target: TransferTarget, attended: bool) -> Result<Option<PhoneCall>> {
        let number = {
            let desk = self.desk.lock().unwrap_or_else(|e| e.into_inner());
            desk.check_transfer(&call_id)?;
            desk.config().transfer_number(&target)?
        };
        // The transfer goes out through the account the call came in on.
        let account = self.require(&call_id)?.account_id;
        let to = Self::sip_uri(&self.engine_for_account(Some(&account))?.1, &number)?;
        if !attended {
            self.send(PhoneCommand::Transfer { call_id, to })?;
            return Ok(None);
        }
        let held = self.require(&call_id)?.phase == okno_softphone::CallPhase::Held;
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).begin_consult(&call_id)?;
        if !held {
            self.send(PhoneCommand::Hold { call_id: call_id.clone(), hold: true })?;
        }
        match self.place(&number, Some(&account)).await {
            Ok(leg) => Ok(Some(leg)),
            Err(e) => {
                self.desk.lock().unwrap_or_else(|e| e.into_inner()).abandon_consult();
                Err(e)
            }
        }
    }

    /// Hands the held customer to the colleague on the consult call (REFER with Replaces).
    pub fn complete_transfer(&self, call_id: String, consult_id: String) -> Result<()> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).check_complete(&call_id, &consult_id)?;
        self.send(PhoneCommand::AttendedTransfer { call_id, consult_call_id: consult_id })
    }

    /// Missed calls that started before this are seen (one watermark, not a flag per call).
    async fn seen_until(&self) -> Result<i64> {
        Ok(self.store.setting(SEEN_KEY).await?.and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    async fn missed_unseen(&self) -> Result<u32> {
        let seen = self.seen_until().await?;
        let calls = self.store.recent_calls(200).await?;
        Ok(
            calls
                .iter()
                .filter(|c| c.call.outcome == okno_core::CallOutcome::Missed && c.call.started_at > seen)
                .count() as u32,
        )
    }

    pub async fn history(&self, limit: u32) -> Result<Vec<CallHistoryEntry>> {
        let seen = self.seen_until().await?;
        Ok(self
            .store
            .recent_calls(limit)
            .await?
            .into_iter()
            .map(|c| {
                let k = c.call;
                let remote = if k.direction == okno_core::CallDirection::Inbound { k.from_number } else { k.to_number };
                CallHistoryEntry {
                    seen: k.outcome != okno_core::CallOutcome::Missed || k.started_at <= seen,
                    duration_s: match (k.answered_at, k.ended_at) {
                        (Some(a), Some(e)) if e > a => ((e - a) / 1000) as u32,
                        _ => 0,
                    },
                    id: k.id,
                    direction: k.direction,
                    outcome: k.outcome,
                    remote_number: remote,
                    customer_id: k.customer_id,
                    customer_name: c.customer_name,
                    started_at: k.started_at,
                    disposition: k.disposition,
                }
            })
            .collect())
    }

    /// Every missed call so far is seen: one watermark, not a flag per call.
    pub async fn mark_seen(&self) -> Result<()> {
        self.store.set_setting(SEEN_KEY, &now_ms().to_string()).await?;
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).mark_seen();
        self.changed();
        Ok(())
    }

    pub async fn list_accounts(&self) -> Result<Vec<SipAccount>> {
        Ok(self.stored_accounts().await?.into_iter().map(|a| a.account).collect())
    }

    pub async fn save_account(self: &Arc<Self>, input: SipAccountInput) -> Result<SipAccount> {
        if input.user.trim().is_empty() || input.domain.trim().is_empty() {
            return Err(invalid("user and domain are required"));
        }
        let mut accounts = self.stored_accounts().await?;
        let id = input.id.clone().unwrap_or_else(okno_core::new_id);
        let previous = accounts.iter().position(|a| a.account.id == id);
        let password_env = previous.and_then(|i| accounts[i].password_env.clone());
        let mut has_password = previous.is_some_and(|i| accounts[i].account.has_password);
        if let Some(password) = input.password.as_deref().filter(|p| !p.is_empty()) {
            // Into the keychain or not at all: a refusal is the operator's message, nothing is kept.
            self.secrets.set(&sip_key(&id), password).map_err(invalid)?;
            has_password = true;
        }
        let account = SipAccount {
            id: id.clone(),
            label: if input.label.trim().is_empty() { format!("{}@{}", input.user, input.domain) } else { input.label },
            user: input.user,
            domain: input.domain.clone(),
            registrar: if input.registrar.trim().is_empty() {
                format!("{}:5060", input.domain)
            } else {
                input.registrar
            },
            transport: input.transport,
            outbound_proxy: input.outbound_proxy,
            codecs: input.codecs,
            enabled: input.enabled,
            has_password,
            ca_file: input.ca_file.map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()),
        };
        let stored = StoredAccount { account: account.clone(), password_env };
        match previous {
            Some(i) => accounts[i] = stored,
            None => accounts.push(stored),
        }
        save_accounts(&self.store, &accounts).await?;
        self.restart().await;
        Ok(account)
    }

    pub async fn delete_account(self: &Arc<Self>, id: String) -> Result<()> {
        let mut accounts = self.stored_accounts().await?;
        accounts.retain(|a| a.account.id != id);
        save_accounts(&self.store, &accounts).await?;
        if let Err(e) = self.secrets.delete(&sip_key(&id)) {
            tracing::warn!(account = %id, error = %e, "the keychain entry was not removed");
        }
        self.restart().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_from_the_user_part() {
        assert_eq!(user_part("sip:+79151234567@okno.test"), "+79151234567");
        assert_eq!(user_part("<sip:1001@127.0.0.1:5060;transport=udp>"), "1001");
        assert_eq!(user_part("tel:+78005553535"), "+78005553535");
    }

    fn account(codecs: &[&str], proxy: Option<&str>) -> SipAccount {
        SipAccount {
            id: "a".into(),
            label: "A".into(),
            user: "1001".into(),
            domain: "okno.test".into(),
            registrar: "127.0.0.1:5060".into(),
            transport: okno_softphone::SipTransport::Udp,
            outbound_proxy: proxy.map(str::to_owned),
            codecs: codecs.iter().map(|c| (*c).to_owned()).collect(),
            enabled: true,
            has_password: false,
            ca_file: None,
        }
    }

    #[test]
    fn an_account_s_codecs_and_outbound_proxy_reach_the_engine() {
        let c = engine_config(&account(&["opus", "PCMA"], None), None).unwrap();
        let names: Vec<&str> = c.codecs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["opus", "PCMA", "telephone-event"]);
        assert_eq!(c.registrar, Some("127.0.0.1:5060".parse().unwrap()));
        let c = engine_config(&account(&[], Some("sip:127.0.0.2:5070")), None).unwrap();
        assert_eq!(c.registrar, Some("127.0.0.2:5070".parse().unwrap()), "requests go through the proxy");
        assert_eq!(c.codecs.len(), 3, "no codecs named: the engine's defaults");
        let err = engine_config(&account(&["g729"], None), None).unwrap_err();
        assert!(err.contains("g729"), "{err}");
    }

    #[test]
    fn an_account_s_transport_reaches_the_engine() {
        use okno_softphone::SipTransport;
        let with = |transport| SipAccount { transport, ..account(&[], None) };
        assert_eq!(engine_config(&with(SipTransport::Udp), None).unwrap().transport, engine::Transport::Udp);
        assert_eq!(engine_config(&with(SipTransport::Tcp), None).unwrap().transport, engine::Transport::Tcp);
        let tls = engine_config(&with(SipTransport::Tls), None).unwrap();
        assert_eq!(tls.transport, engine::Transport::Tls);
        assert_eq!(tls.tls.as_ref().map(|t| t.server_name.as_str()), Some("127.0.0.1"), "the registrar's host");
        assert_eq!(tls.srtp, okno_sip::sdp::SrtpPolicy::Require, "SRTP required over TLS");
        assert_eq!(engine_config(&with(SipTransport::Ws), None).unwrap().transport, engine::Transport::Ws);
        let wss = engine_config(&with(SipTransport::Wss), None).unwrap();
        assert_eq!(wss.transport, engine::Transport::Wss);
        assert_eq!(wss.tls.as_ref().map(|t| t.server_name.as_str()), Some("127.0.0.1"), "verified like TLS");
        assert_eq!(wss.srtp, okno_sip::sdp::SrtpPolicy::Require, "SRTP required over WSS");
        // A CA of the center's own: read from the account's file; one that cannot be read or
        // holds no certificate is refused, naming the file.
        let missing = SipAccount { ca_file: Some("/nonexistent/pbx-ca.pem".into()), ..with(SipTransport::Tls) };
        let err = engine_config(&missing, None).unwrap_err();
        assert!(err.contains("/nonexistent/pbx-ca.pem"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let junk = SipAccount { ca_file: Some(junk.display().to_string()), ..with(SipTransport::Wss) };
        assert!(engine_config(&junk, None).is_err(), "a file without a certificate is refused");
    }
}
