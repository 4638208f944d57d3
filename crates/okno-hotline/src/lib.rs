//! The hotline (issue 19): callers dial the center's number, the PBX (or Kamailio) routes it
//! here, and the hotline queues them. It is a back-to-back user agent: it answers the caller
//! at once (greeting, music on hold, position prompts), rings an operator's desk with a second
//! call when okno-acd's [`Distributor`] offers it, and bridges the two legs' audio when the
//! desk answers. Whatever hangs up, the other leg is ended.
//!
//! - The decisions (who is offered, ring timeouts, callbacks, the report events) are all
//!   okno-acd's; this crate only carries them out ([`driver`]).
//! - The SIP and RTP are okno-phone's engine, the one the desks and the WebRTC gateway run:
//!   one engine for every leg, registered at the PBX as the hotline's account.
//! - The audio between legs and the prompts are [`audio`].
//!
//! okno-server starts it from `[hotline]` in its config, stores every [`Report`] as a raw
//! report event (the wallboard's figures come from them) and feeds the operators' states in.
//!
//! Several instances may run it: one is active (registered, so the PBX routes the number to
//! it), the others wait in standby ([`HotlineConfig::standby`], [`Hotline::activate`]). An
//! instance that stops [`Hotline::stand_down`]s (the number goes to the next one), then
//! [`Hotline::drain`]s: its waiting callers are sent to the next instance with their place kept
//! ([`handover`]) and its conversations go on until they end.

pub mod audio;
mod driver;
pub mod handover;

use std::net::SocketAddr;

pub use audio::{DEFAULT_MUSIC_HZ, MonitorMode, Prompts};
use okno_acd::{AcdEvent, Agent, Distributor, QueueSpec};
use okno_core::{AgentState, Millis};
use okno_phone::engine::{self, EngineConfig};
use okno_sip::Uri;
use tokio::sync::{mpsc, oneshot, watch};

pub use handover::HandoverKey;

/// An operator as the hotline reaches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLine {
    /// The operator's id on the server (their state comes from there).
    pub id: String,
    /// Their desk's SIP address, reached through the registrar.
    pub uri: Uri,
    pub skills: Vec<String>,
}

/// How long [`Hotline::stand_down`] waits for the registrar to drop the binding.
pub const STAND_DOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// What the hotline is told once, at [`Hotline::start`].
#[derive(Clone)]
pub struct HotlineConfig {
    /// The hotline's SIP address (port 0: any); its RTP is on the same IP.
    pub sip_listen: SocketAddr,
    /// The PBX: the hotline registers there and rings desks through it.
    pub registrar: Option<SocketAddr>,
    pub account: Option<Uri>,
    /// A secret: `Debug` never shows it.
    pub password: Option<String>,
    /// Hosts besides the registrar that may deliver calls (the PBX's trunk); others get 403.
    pub trunks: Vec<std::net::IpAddr>,
    /// `pcmu,pcma` or one of them: the legs are bridged as 8 kHz audio.
    pub codecs: String,
    /// First RTP port (0: from the process id).
    pub rtp_port: u16,
    /// Legs at once (callers waiting and talking, desks ringing); more are refused 486.
    pub max_legs: usize,
    /// The numbers dialled (the user part of the request's To) and the queue each enters.
    pub numbers: Vec<(String, String)>,
    pub queues: Vec<QueueSpec>,
    pub agents: Vec<AgentLine>,
    /// Team leads who may join live calls, and their desks.
    pub supervisors: Vec<AgentLine>,
    /// The operator hears a short beep when a supervisor joins, and their desk shows who
    /// listens and how (the center's policy); without it the operator is not told.
    pub announce_monitoring: bool,
    pub prompts: Prompts,
    /// Start without registering: the hotline takes the PBX's calls once [`Hotline::activate`]d.
    pub standby: bool,
    /// The key the deployment's instances share to hand waiting callers over when one stops
    /// ([`handover`]); without it a stopping instance keeps its callers until they are served.
    pub handover: Option<HandoverKey>,
}

impl HotlineConfig {
    /// A hotline at `sip_listen` whose `numbers` enter `queues`: no registrar, no agents or
    /// supervisors, PCMU and PCMA, the built-in music, 400 legs; set the rest field by field.
    pub fn new(sip_listen: SocketAddr, numbers: Vec<(String, String)>, queues: Vec<QueueSpec>) -> HotlineConfig {
        HotlineConfig {
            sip_listen,
            registrar: None,
            account: None,
            password: None,
            trunks: Vec::new(),
            codecs: "pcmu,pcma".into(),
            rtp_port: 0,
            max_legs: 400,
            numbers,
            queues,
            agents: Vec::new(),
            supervisors: Vec::new(),
            announce_monitoring: false,
            prompts: Prompts::built_in(),
            standby: false,
            handover: None,
        }
    }
}

impl std::fmt::Debug for HotlineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotlineConfig")
            .field("sip_listen", &self.sip_listen)
            .field("registrar", &self.registrar)
            .field("account", &self.account.as_ref().map(ToString::to_string))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("trunks", &self.trunks)
            .field("codecs", &self.codecs)
            .field("numbers", &self.numbers)
            .field("queues", &self.queues.iter().map(|q| &q.id).collect::<Vec<_>>())
            .field("agents", &self.agents.iter().map(|a| &a.id).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HotlineError {
    #[error("the hotline's SIP side cannot start: {0}")]
    Engine(#[from] okno_phone::engine::EngineError),
    #[error("hotline configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Refused(String),
    /// The call is not here (it may be on another instance, or over).
    #[error("no call {0} here")]
    NoSuchCall(String),
    #[error("the hotline has stopped")]
    Stopped,
}

/// What the hotline tells the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A fact for the reports and the wallboard.
    Event(AcdEvent),
    /// The desk let an offer ring out: no more offers until its state is set again.
    AgentNotResponding { agent_id: String },
}

/// What the hotline reports, in the order it happened ([`Hotline::start`]). Once it is dropped,
/// after the hotline stopped and every report was taken, [`Hotline::reports_taken`] resolves:
/// a stopping server waits for that before it exits, so no queue event is lost with it.
#[derive(Debug)]
pub struct Reports {
    receiver: mpsc::UnboundedReceiver<Report>,
    taken: std::sync::Arc<watch::Sender<bool>>,
}

impl Reports {
    /// The next report; `None` once the hotline has stopped and all were taken.
    pub async fn recv(&mut self) -> Option<Report> {
        self.receiver.recv().await
    }

    /// The next report if one is there.
    pub fn try_recv(&mut self) -> Result<Report, mpsc::error::TryRecvError> {
        self.receiver.try_recv()
    }
}

impl Drop for Reports {
    fn drop(&mut self) {
        self.taken.send_replace(true);
    }
}

/// The hotline at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HotlineStatus {
    /// Calls waiting or ringing a desk: (queue, call id, arrived at).
    pub waiting: Vec<(String, String, Millis)>,
    pub agents: Vec<Agent>,
    /// Legs with audio (callers and desks).
    pub legs: usize,
}

pub(crate) enum Command {
    AgentState {
        agent_id: String,
        state: AgentState,
    },
    MoveCall {
        call_id: String,
        queue_id: String,
        reply: oneshot::Sender<Result<(), HotlineError>>,
    },
    Monitor {
        call_id: String,
        supervisor_id: String,
        shown_as: String,
        mode: MonitorMode,
        reply: oneshot::Sender<Result<(), HotlineError>>,
    },
    Status(oneshot::Sender<HotlineStatus>),
    Activate,
    StandDown(oneshot::Sender<()>),
    Drain(oneshot::Sender<()>),
}

/// The codecs of `list` (`pcmu,pcma`) for the hotline's legs: only 8 kHz ones, since the legs
/// are bridged as 8 kHz audio.
pub fn codecs(list: &str) -> Result<Vec<okno_sip::sdp::Codec>, HotlineError> {
    let codecs = engine::parse_codecs(list)?;
    if let Some(wide) = codecs.iter().find(|c| !c.is_telephone_event() && c.clock_rate != audio::RATE) {
        return Err(HotlineError::Config(format!(
            "codec {} is not 8 kHz: the hotline bridges its legs as 8 kHz audio (use pcmu, pcma)",
            wide.name
        )));
    }
    Ok(codecs)
}

/// A running hotline; dropping every clone stops it (calls up are hung up).
#[derive(Debug, Clone)]
pub struct Hotline {
    commands: mpsc::UnboundedSender<Command>,
    sip: SocketAddr,
    stood_down: std::sync::Arc<watch::Sender<bool>>,
    reports_taken: std::sync::Arc<watch::Sender<bool>>,
}

impl Hotline {
    /// Start the SIP side (registering when an account is configured) and the queue. Inside a
    /// tokio runtime. Reports come on the returned receiver, in the order they happened.
    pub async fn start(config: HotlineConfig) -> Result<(Hotline, Reports), HotlineError> {
        let codecs = codecs(&config.codecs)?;
        for (number, queue) in &config.numbers {
            if !config.queues.iter().any(|q| &q.id == queue) {
                return Err(HotlineError::Config(format!(
                    "number {number} enters queue {queue:?}, which is not configured"
                )));
            }
        }
        let mut engine_config = EngineConfig::new(config.sip_listen);
        engine_config.account = config.account.clone();
        engine_config.registrar = config.registrar;
        engine_config.password = config.password.clone();
        engine_config.codecs = codecs;
        engine_config.rtp_port = config.rtp_port;
        engine_config.max_calls = config.max_legs;
        engine_config.trusted_peers = config.trunks.clone();
        engine_config.user_agent = format!("okno-hotline/{}", env!("CARGO_PKG_VERSION"));
        // Nobody transfers the hotline's legs elsewhere: a caller's REFER is refused.
        engine_config.refer_hosts = Some(Vec::new());
        engine_config.register_at_start = !config.standby;
        let legs = audio::Legs::new(config.prompts.music.clone());
        let (events_tx, events) = mpsc::unbounded_channel();
        let (engine, _task) = engine::spawn(engine_config, Box::new(legs.clone()), events_tx).await?;
        let sip = engine.local_addr();
        let mut acd = Distributor::new(config.queues.clone());
        let now = okno_core::unix_ms(std::time::SystemTime::now());
        for agent in &config.agents {
            acd.agent_joined(&agent.id, agent.skills.clone(), now);
        }
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let driver = driver::Driver::new(config, engine, acd, legs, reports_tx);
        tokio::spawn(driver.run(events, commands_rx));
        tracing::info!(%sip, "hotline ready");
        let stood_down = std::sync::Arc::new(watch::channel(false).0);
        let reports_taken = std::sync::Arc::new(watch::channel(false).0);
        let reports = Reports { receiver: reports, taken: reports_taken.clone() };
        Ok((Hotline { commands, sip, stood_down, reports_taken }, reports))
    }

    /// Where the hotline's SIP side is (for the PBX's routing, and tests).
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip
    }

    /// An operator's state from their desk or a team lead (unknown operators are ignored).
    pub fn agent_state(&self, agent_id: &str, state: AgentState) -> Result<(), HotlineError> {
        self.commands
            .send(Command::AgentState { agent_id: agent_id.to_owned(), state })
            .map_err(|_| HotlineError::Stopped)
    }

    /// A team lead moves a waiting call to another queue; it keeps its place by arrival.
    pub async fn move_call(&self, call_id: &str, queue_id: &str) -> Result<(), HotlineError> {
        let (call_id, queue_id) = (call_id.to_owned(), queue_id.to_owned());
        self.ask(|reply| Command::MoveCall { call_id, queue_id, reply }).await?
    }

    /// A team lead joins the connected call `call_id`: their desk (a supervisor line) is rung,
    /// and once answered they hear both sides and are heard as `mode` says; keys 1, 2 and 3 on
    /// their phone switch to listen, whisper and barge.
    /// `shown_as` is the team lead's name as the operator's desk shows it, where the center tells
    /// its operators (`announce_monitoring`).
    pub async fn monitor(
        &self,
        call_id: &str,
        supervisor_id: &str,
        shown_as: &str,
        mode: MonitorMode,
    ) -> Result<(), HotlineError> {
        let (call_id, supervisor_id, shown_as) = (call_id.to_owned(), supervisor_id.to_owned(), shown_as.to_owned());
        self.ask(|reply| Command::Monitor { call_id, supervisor_id, shown_as, mode, reply }).await?
    }

    /// Take the PBX's calls: register (a standby instance whose turn came).
    pub fn activate(&self) -> Result<(), HotlineError> {
        self.commands.send(Command::Activate).map_err(|_| HotlineError::Stopped)
    }

    /// Stop taking new calls: the registration is removed (the registrar answered, or there
    /// was none). Calls already here go on. [`Self::stood_down`] says it to whoever waits.
    pub async fn stand_down(&self) -> Result<(), HotlineError> {
        // A registrar that does not answer must not keep the next instance waiting.
        let result = tokio::time::timeout(STAND_DOWN_WAIT, self.ask(Command::StandDown)).await.unwrap_or(Ok(()));
        self.stood_down.send_replace(true);
        result
    }

    /// Becomes `true` once [`Self::stand_down`] has run (another instance may take over).
    pub fn stood_down(&self) -> watch::Receiver<bool> {
        self.stood_down.subscribe()
    }

    /// Hand the waiting callers to the instance that took over (each keeps their place; a caller
    /// whose phone cannot be transferred is served here), let the conversations end, then stop.
    /// Resolves when no call is left. Call [`Self::stand_down`] first.
    pub async fn drain(&self) -> Result<(), HotlineError> {
        self.ask(Command::Drain).await
    }

    /// Resolves once the [`Reports`] were dropped: every report taken (after a drain, or when
    /// the server stopped listening).
    pub async fn reports_taken(&self) {
        let _ = self.reports_taken.subscribe().wait_for(|taken| *taken).await;
    }

    pub async fn status(&self) -> Result<HotlineStatus, HotlineError> {
        self.ask(Command::Status).await
    }

    /// Sends the driver a command carrying a reply channel and waits for the reply.
    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, HotlineError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).map_err(|_| HotlineError::Stopped)?;
        answer.await.map_err(|_| HotlineError::Stopped)
    }
}
