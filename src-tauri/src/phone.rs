//! The softphone in the window: adapts the SIP engine (`okno_phone::engine`) and the desk's
//! state machine (`okno_softphone`) to the UI's phone commands and the "phone" event, and
//! performs the desk's effects on the store (caller ID, saving calls, agent state).
//!
//! Accounts come from settings (`sip_accounts`, without passwords) and from provisioning; a
//! password comes from the environment variable an account names, else from the OS keychain.
//! One engine runs, for the first enabled account that has a password.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use okno_core::{AgentState, Mutation};
use okno_phone::engine::{self, EngineConfig, PhoneCommand, PhoneEvent, PhoneHandle};
use okno_softphone::provision::Provision;
use okno_softphone::{
    CallHistoryEntry, DeskConfig, DispositionNode, Effect, EndCause, LiveQuality, PhoneCall, PhoneError, PhoneSnapshot,
    Signal, SipAccount, SipAccountInput, Softphone, TicketLink, TicketRef, TransferTarget,
};
use okno_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, UiError};
use crate::secrets;

type Result<T> = std::result::Result<T, UiError>;

const ACCOUNTS_KEY: &str = "sip_accounts";
const SEEN_KEY: &str = "calls_seen_until";

/// An account as settings keep it: the UI's fields plus where its password comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredAccount {
    #[serde(flatten)]
    account: SipAccount,
    /// Environment variable with the password (provisioning); else the keychain.
    #[serde(default)]
    password_env: Option<String>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
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

pub(crate) struct PhoneService {
    store: Store,
    desk: Mutex<Softphone>,
    running: Mutex<Option<Running>>,
    local_ends: Mutex<LocalEnds>,
    emit: Mutex<Option<Emitter>>,
    alert: Mutex<Option<Alert>>,
    /// The ring device's player, opened at the first incoming call.
    ringer: Mutex<Option<okno_audio::Ringer>>,
}

impl PhoneService {
    /// Loads the accounts (applying a provisioning file first), starts the engine of the first
    /// usable account, and keeps the desk's timers. Problems are logged and shown as account
    /// states; the window works without a phone.
    pub(crate) async fn start(store: Store, provision: Option<&std::path::Path>) -> anyhow::Result<Arc<Self>> {
        if let Some(path) = provision {
            apply_provisioning(&store, path).await?;
        }
        let service = Arc::new(PhoneService {
            store,
            desk: Mutex::new(Softphone::new(DeskConfig::demo())),
            running: Mutex::new(None),
            local_ends: Mutex::new(LocalEnds::default()),
            emit: Mutex::new(None),
            alert: Mutex::new(None),
            ringer: Mutex::new(None),
        });
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
    pub(crate) fn on_change(&self, emit: impl Fn(&PhoneSnapshot) + Send + Sync + 'static) {
        *self.emit.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(emit));
    }

    /// What to do about an incoming call besides the call card (the window's side).
    pub(crate) fn on_incoming(&self, alert: impl Fn(&str, &str) + Send + Sync + 'static) {
        *self.alert.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(alert));
    }

    fn changed(&self) {
        let snapshot = self.snapshot();
        if let Some(emit) = self.emit.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            emit(&snapshot);
        }
    }

    pub(crate) fn snapshot(&self) -> PhoneSnapshot {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).snapshot()
    }

    async fn stored_accounts(&self) -> Result<Vec<StoredAccount>> {
        stored_accounts(&self.store).await
    }

    /// (Re)starts the engine for the first enabled account with a password.
    async fn restart(self: &Arc<Self>) {
        if let Some(old) = self.running.lock().unwrap_or_else(|e| e.into_inner()).take() {
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
        let Some(chosen) = accounts.into_iter().find(|a| a.account.enabled) else {
            self.changed();
            return;
        };
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
            None => match secrets::password(&id) {
                Ok(p) => p,
                Err(e) => return failed(self, e),
            },
        };
        let config = match engine_config(&chosen.account, password) {
            Ok(c) => c,
            Err(e) => return failed(self, e),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let media: Box<dyn engine::MediaIo> = Box::new(DeviceMedia);
        match engine::spawn(config, media, tx).await {
            Ok((handle, _task)) => {
                *self.running.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(Running { handle, account: chosen.account.clone() });
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
            PhoneEvent::Incoming { call_id, from, to, display_name } => Signal::Incoming {
                call_id,
                account_id: account_id.into(),
                from_number: user_part(&from),
                display_name,
                line: Some(user_part(&to)),
            },
            PhoneEvent::Calling { call_id, to } => {
                Signal::Dialing { call_id, account_id: account_id.into(), to_number: user_part(&to) }
            }
            PhoneEvent::Ringing { call_id, .. } => Signal::Ringing { call_id },
            PhoneEvent::Answered { call_id, .. } => Signal::Answered { call_id },
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
            PhoneEvent::Ended { call_id, cause, answered, .. } => {
                let cause = {
                    let mut local = self.local_ends.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(to_queue) = local.declined.remove(&call_id) {
                        EndCause::Declined { to_queue }
                    } else if answered {
                        EndCause::HungUp
                    } else if cause == "local_cancel" {
                        EndCause::LocalCancel
                    } else if cause == "local_reject" {
                        EndCause::Declined { to_queue: false }
                    } else if cause == "cancelled" {
                        EndCause::CallerCancelled
                    } else if let Some(status) = cause.strip_prefix("status_").and_then(|s| s.parse().ok()) {
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

    async fn perform(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::LookupCaller { call_id, number } => match self.store.caller_match(&number).await {
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
            match okno_audio::Ringer::open(okno_audio::DeviceChoice::Default, okno_audio::StreamOptions::default()) {
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

    fn engine(&self) -> Result<PhoneHandle> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|r| r.handle.clone())
            .ok_or_else(|| invalid("no SIP account is running: add one in the phone settings"))
    }

    fn send(&self, command: PhoneCommand) -> Result<()> {
        self.engine()?.send(command).map_err(|e| UiError { code: ErrorCode::Internal, message: e.to_string() })
    }

    pub(crate) async fn dial(&self, number: String, _account_id: Option<String>) -> Result<PhoneCall> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).check_dial()?;
        let number: String = number.chars().filter(|c| c.is_ascii_alphanumeric() || "+*#".contains(*c)).collect();
        if number.is_empty() {
            return Err(invalid("no number to dial"));
        }
        let domain = {
            let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            running.as_ref().map(|r| r.account.domain.clone()).unwrap_or_default()
        };
        let to = okno_sip::uri::Uri::parse(&format!("sip:{number}@{domain}")).map_err(|e| invalid(e.to_string()))?;
        let handle = self.engine()?;
        handle.send(PhoneCommand::Dial { to }).map_err(|e| invalid(e.to_string()))?;
        // The engine reports the new call at once; wait briefly so the UI gets its view.
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            let snapshot = self.snapshot();
            if let Some(call) = snapshot.calls.into_iter().find(|c| c.remote_number == number) {
                return Ok(call);
            }
        }
        Err(UiError { code: ErrorCode::Internal, message: "the call did not start".into() })
    }

    fn require(&self, call_id: &str) -> Result<PhoneCall> {
        Ok(self.desk.lock().unwrap_or_else(|e| e.into_inner()).call(call_id)?.clone())
    }

    pub(crate) fn answer(&self, call_id: String) -> Result<()> {
        self.require(&call_id)?;
        self.send(PhoneCommand::Answer { call_id })
    }

    pub(crate) fn reject(&self, call_id: String, to_queue: bool) -> Result<()> {
        self.require(&call_id)?;
        self.local_ends.lock().unwrap_or_else(|e| e.into_inner()).declined.insert(call_id.clone(), to_queue);
        // 480 lets the PBX's queue try the next operator; 486 says this desk is busy.
        self.send(PhoneCommand::Reject { call_id, status: if to_queue { 480 } else { 486 } })
    }

    pub(crate) fn hangup(&self, call_id: String) -> Result<()> {
        self.require(&call_id)?;
        self.send(PhoneCommand::Hangup { call_id })
    }

    pub(crate) fn hold(&self, call_id: String, hold: bool) -> Result<()> {
        self.require(&call_id)?;
        self.send(PhoneCommand::Hold { call_id, hold })
    }

    pub(crate) fn mute(&self, call_id: String, muted: bool) -> Result<()> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).set_muted(&call_id, muted)?;
        self.send(PhoneCommand::Mute { call_id, muted })?;
        self.changed();
        Ok(())
    }

    pub(crate) fn dtmf(&self, call_id: String, digits: String) -> Result<()> {
        self.require(&call_id)?;
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || "*#ABCD".contains(c)) {
            return Err(invalid(format!("{digits:?} are not DTMF keys (0-9, *, #, A-D)")));
        }
        self.send(PhoneCommand::Dtmf { call_id, keys: digits })
    }

    pub(crate) fn set_note(&self, call_id: String, note: String) -> Result<()> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).set_note(&call_id, &note)?;
        self.changed();
        Ok(())
    }

    pub(crate) async fn wrap_up(
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

    pub(crate) fn dispositions(&self) -> Vec<DispositionNode> {
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).dispositions().to_vec()
    }

    pub(crate) fn not_yet<T>(&self, what: &'static str) -> Result<T> {
        Err(PhoneError::NotSupported(what).into())
    }

    pub(crate) fn transfer(
        &self,
        _call_id: String,
        _target: TransferTarget,
        _attended: bool,
    ) -> Result<Option<PhoneCall>> {
        self.not_yet("call transfer from the window")
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

    pub(crate) async fn history(&self, limit: u32) -> Result<Vec<CallHistoryEntry>> {
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
    pub(crate) async fn mark_seen(&self) -> Result<()> {
        self.store.set_setting(SEEN_KEY, &now_ms().to_string()).await?;
        self.desk.lock().unwrap_or_else(|e| e.into_inner()).mark_seen();
        self.changed();
        Ok(())
    }

    pub(crate) async fn list_accounts(&self) -> Result<Vec<SipAccount>> {
        Ok(self.stored_accounts().await?.into_iter().map(|a| a.account).collect())
    }

    pub(crate) async fn save_account(self: &Arc<Self>, input: SipAccountInput) -> Result<SipAccount> {
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
            secrets::store_password(&id, password).map_err(invalid)?;
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

    pub(crate) async fn delete_account(self: &Arc<Self>, id: String) -> Result<()> {
        let mut accounts = self.stored_accounts().await?;
        accounts.retain(|a| a.account.id != id);
        save_accounts(&self.store, &accounts).await?;
        if let Err(e) = secrets::forget_password(&id) {
            tracing::warn!(account = %id, error = %e, "the keychain entry was not removed");
        }
        self.restart().await;
        Ok(())
    }
}

/// The headless engine config for an account: listen on the local address that reaches the registrar.
fn engine_config(account: &SipAccount, password: Option<String>) -> std::result::Result<EngineConfig, String> {
    let registrar: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&account.registrar)
        .map_err(|e| format!("cannot resolve the registrar {}: {e}", account.registrar))?
        .next()
        .ok_or_else(|| format!("the registrar {} has no address", account.registrar))?;
    // Unspecified: the engine advertises the address of the interface that routes to the registrar.
    let any = if registrar.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let mut config = EngineConfig::new(SocketAddr::new(any, 0));
    config.account = Some(
        okno_sip::uri::Uri::parse(&format!("sip:{}@{}", account.user, account.domain)).map_err(|e| e.to_string())?,
    );
    config.registrar = Some(registrar);
    config.password = password;
    Ok(config)
}

/// The sound devices the system has; calls use the defaults (no choice is stored yet). No sound
/// system is an empty list, not an error: the operator can still take calls, silent.
fn audio_devices() -> okno_softphone::AudioDevices {
    let devices = okno_audio::list_devices(okno_audio::Backend::Auto).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "no sound devices listed");
        Vec::new()
    });
    let pick = |want: fn(&okno_audio::DeviceInfo) -> bool| {
        devices
            .iter()
            .filter(|d| want(d))
            .map(|d| okno_softphone::AudioDevice { name: d.name.clone(), is_default: d.is_default })
            .collect()
    };
    okno_softphone::AudioDevices { inputs: pick(|d| d.input), outputs: pick(|d| d.output), ..Default::default() }
}

/// A call's audio through the sound devices: the default input and output, followed when they
/// change or are unplugged (`okno-audio`). A device that is missing never fails the call: the
/// streams carry on silent and say so in the log.
struct DeviceMedia;

impl engine::MediaIo for DeviceMedia {
    fn open(
        &mut self,
        call_id: &str,
        _number: u32,
        rate: u32,
    ) -> (Box<dyn okno_phone::media::AudioSource>, Box<dyn okno_phone::media::AudioSink>) {
        use okno_audio::{CaptureStream, DeviceChoice, FrameRate, PlaybackStream, StreamOptions};
        let streams = FrameRate::try_from(rate).and_then(|rate| {
            let mic = CaptureStream::open(DeviceChoice::Default, rate, StreamOptions::default())?;
            let headset = PlaybackStream::open(DeviceChoice::Default, rate, StreamOptions::default())?;
            Ok((mic, headset))
        });
        match streams {
            Ok((mic, headset)) => (Box::new(Microphone(mic)), Box::new(Headset(headset))),
            Err(e) => {
                tracing::warn!(call_id, error = %e, "no sound devices for this call: it carries on silent");
                (Box::new(okno_phone::media::Silence), Box::new(okno_phone::media::Discard))
            }
        }
    }
}

struct Microphone(okno_audio::CaptureStream);

impl okno_phone::media::AudioSource for Microphone {
    fn read_frame(&mut self, frame: &mut [i16]) {
        // The call takes one frame per 20 ms tick; frames the device delivered beyond a couple
        // would only add delay, so the oldest go.
        while self.0.frames_waiting() > 2 {
            let _ = self.0.try_read_frame(frame);
        }
        if self.0.try_read_frame(frame).is_none() {
            frame.fill(0);
        }
    }
}

struct Headset(okno_audio::PlaybackStream);

impl okno_phone::media::AudioSink for Headset {
    fn write_frame(&mut self, frame: &[i16]) {
        self.0.write_frame(frame);
    }
}

async fn stored_accounts(store: &Store) -> Result<Vec<StoredAccount>> {
    match store.setting(ACCOUNTS_KEY).await? {
        Some(text) => serde_json::from_str(&text).map_err(|e| UiError {
            code: ErrorCode::Storage,
            message: format!("the saved SIP accounts cannot be read: {e}"),
        }),
        None => Ok(Vec::new()),
    }
}

async fn save_accounts(store: &Store, accounts: &[StoredAccount]) -> Result<()> {
    let text =
        serde_json::to_string(accounts).map_err(|e| UiError { code: ErrorCode::Internal, message: e.to_string() })?;
    store.set_setting(ACCOUNTS_KEY, &text).await?;
    Ok(())
}

/// Applies a provisioning file: its accounts replace same-id ones in settings; a plain-text
/// password moves to the keychain and the file is rewritten without it.
async fn apply_provisioning(store: &Store, path: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let provision = Provision::parse(&text).with_context(|| format!("in {}", path.display()))?;
    let mut accounts = stored_accounts(store).await.map_err(|e| anyhow::anyhow!(e.message))?;
    let mut moved = false;
    for p in &provision.sip_accounts {
        if let Some(password) = &p.password {
            secrets::store_password(&p.id, password).map_err(|e| {
                anyhow::anyhow!("{}: cannot move the password of {:?} to the keychain: {e}", path.display(), p.id)
            })?;
            moved = true;
        }
        let stored = StoredAccount { account: p.account(), password_env: p.password_env.clone() };
        match accounts.iter().position(|a| a.account.id == p.id) {
            Some(i) => accounts[i] = stored,
            None => accounts.push(stored),
        }
    }
    save_accounts(store, &accounts).await.map_err(|e| anyhow::anyhow!(e.message))?;
    if moved {
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("password =") && !l.trim_start().starts_with("password="))
            .collect();
        std::fs::write(path, kept.join("\n") + "\n").with_context(|| format!("cannot rewrite {}", path.display()))?;
    }
    tracing::info!(accounts = provision.sip_accounts.len(), file = %path.display(), "provisioned");
    Ok(())
}

/// The phone's commands by name with camelCase JSON arguments, for the window (`phone_invoke`)
/// and the HTTP bridge alike. `None` when `command` is not a phone command.
pub(crate) async fn dispatch(
    phone: Option<&Arc<PhoneService>>,
    command: &str,
    args: &serde_json::Value,
) -> Option<Result<serde_json::Value>> {
    use serde_json::Value;
    fn arg<T: serde::de::DeserializeOwned>(args: &Value, name: &str) -> Result<T> {
        serde_json::from_value(args.get(name).cloned().unwrap_or(Value::Null))
            .map_err(|e| invalid(format!("argument {name}: {e}")))
    }
    fn json<T: Serialize>(value: T) -> Result<Value> {
        serde_json::to_value(value).map_err(|e| UiError { code: ErrorCode::Internal, message: e.to_string() })
    }
    const NAMES: &[&str] = &[
        "phone_snapshot",
        "phone_dial",
        "phone_answer",
        "phone_reject",
        "phone_hangup",
        "phone_hold",
        "phone_mute",
        "phone_dtmf",
        "phone_transfer",
        "phone_complete_transfer",
        "phone_conference",
        "phone_recording",
        "phone_set_note",
        "phone_create_customer",
        "phone_wrap_up",
        "list_dispositions",
        "call_history",
        "mark_calls_seen",
        "list_sip_accounts",
        "save_sip_account",
        "delete_sip_account",
        "sip_codecs",
        "audio_devices",
        "set_audio_devices",
    ];
    if !NAMES.contains(&command) {
        return None;
    }
    let Some(p) = phone else {
        return Some(Err(UiError { code: ErrorCode::Internal, message: "the phone service did not start".into() }));
    };
    let run = async {
        match command {
            "phone_snapshot" => json(p.snapshot()),
            "phone_dial" => json(p.dial(arg(args, "number")?, arg(args, "accountId")?).await?),
            "phone_answer" => json(p.answer(arg(args, "callId")?)?),
            "phone_reject" => json(p.reject(arg(args, "callId")?, arg(args, "toQueue")?)?),
            "phone_hangup" => json(p.hangup(arg(args, "callId")?)?),
            "phone_hold" => json(p.hold(arg(args, "callId")?, arg(args, "hold")?)?),
            "phone_mute" => json(p.mute(arg(args, "callId")?, arg(args, "muted")?)?),
            "phone_dtmf" => json(p.dtmf(arg(args, "callId")?, arg(args, "digits")?)?),
            "phone_transfer" => json(p.transfer(arg(args, "callId")?, arg(args, "target")?, arg(args, "attended")?)?),
            "phone_complete_transfer" => p.not_yet("attended transfer"),
            "phone_conference" => p.not_yet("conference calls"),
            "phone_recording" => p.not_yet("call recording"),
            "phone_create_customer" => p.not_yet("creating a customer from a call"),
            "phone_set_note" => json(p.set_note(arg(args, "callId")?, arg(args, "note")?)?),
            "phone_wrap_up" => json(
                p.wrap_up(
                    arg(args, "callId")?,
                    arg(args, "dispositionId")?,
                    arg(args, "comment")?,
                    arg(args, "ticket")?,
                )
                .await?,
            ),
            "list_dispositions" => json(p.dispositions()),
            "call_history" => json(p.history(arg(args, "limit")?).await?),
            "mark_calls_seen" => json(p.mark_seen().await?),
            "list_sip_accounts" => json(p.list_accounts().await?),
            "save_sip_account" => json(p.save_account(arg(args, "input")?).await?),
            "delete_sip_account" => json(p.delete_account(arg(args, "id")?).await?),
            "sip_codecs" => json(["PCMU", "PCMA"]),
            "audio_devices" => json(audio_devices()),
            "set_audio_devices" => p.not_yet("choosing sound devices in the window"),
            _ => unreachable!("listed in NAMES"),
        }
    };
    Some(run.await)
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
}
