//! Calls from the website: the visitor's browser speaks WebRTC (ICE, DTLS-SRTP, Opus) to this
//! gateway, which places an ordinary SIP call to the center (the hotline's queue or a desk) and
//! carries the audio across. The desk's softphone answers it like any call, with hold, transfer
//! and recording, because on its side it *is* any call.
//!
//! Two legs per call:
//! - the browser's: a `webrtc` peer connection (the user's choice of crate) answering the
//!   widget's offer; one Opus track each way;
//! - the center's: okno-phone's engine as a SIP user agent (the same engine the desks run), one
//!   engine for all calls, its audio supplied per call through [`okno_phone::engine::MediaIo`].
//!
//! Between them the audio is PCM at 16 kHz: the browser's Opus is decoded into a short queue the
//! engine's 20 ms tick reads ([`bridge`]), and what the engine receives is encoded to Opus and
//! written to the browser's track. Decoding and encoding again (instead of relaying RTP) costs a
//! little CPU (docs/BENCHMARKS.md) and buys independence: the desk may negotiate PCMU, SRTP with
//! SDES, its own ptime, and the browser's leg never sees SIP.
//!
//! Signalling with the browser is not here: okno-server carries the offer and answer over the
//! widget's WebSocket and calls [`Gateway::call`]. The offer is complete (the widget waits for
//! ICE gathering), so the answer is too: no trickle ICE.

pub mod bridge;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use okno_phone::context::CallContext;
use okno_phone::engine::{self, EngineConfig, Party, PhoneCommand, PhoneEvent, PhoneHandle};
use okno_sip::Uri;
use tokio::sync::{mpsc, oneshot, watch};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionState, RTCSessionDescription,
};

/// How long the browser's offer may take to answer (ICE gathering included).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// A STUN or TURN server, as the browser and the gateway both use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: Option<String>,
    /// A secret: `Debug` of [`GatewayConfig`] never shows it.
    pub credential: Option<String>,
}

#[derive(Clone)]
pub struct GatewayConfig {
    /// Where the gateway's SIP user agent listens (port 0: any); its IP is also where its RTP
    /// and its WebRTC candidates are bound.
    pub sip_listen: SocketAddr,
    /// Where website calls go: the hotline's number at the PBX, or a desk's SIP URI.
    pub target: Uri,
    /// The PBX or registrar to send calls through (`None`: straight to `target`'s host).
    pub registrar: Option<SocketAddr>,
    /// The gateway's account at the registrar, and its password (calls are placed as it).
    pub account: Option<Uri>,
    pub password: Option<String>,
    /// Codecs offered toward the desk, in preference order (`opus,pcmu`).
    pub codecs: String,
    pub ice_servers: Vec<IceServer>,
    /// Only relayed candidates (through TURN): the visitor's address never reaches the center.
    pub relay_only: bool,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("sip_listen", &self.sip_listen)
            .field("target", &self.target.to_string())
            .field("registrar", &self.registrar)
            .field("account", &self.account.as_ref().map(ToString::to_string))
            .field("codecs", &self.codecs)
            .field("ice_servers", &self.ice_servers.iter().map(|s| &s.urls).collect::<Vec<_>>())
            .field("relay_only", &self.relay_only)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    #[error("the gateway's SIP side cannot start: {0}")]
    Engine(#[from] okno_phone::engine::EngineError),
    #[error("the browser's offer cannot be answered: {0}")]
    Offer(String),
    #[error("the call cannot be placed: {0}")]
    Dial(String),
    #[error("the gateway has stopped")]
    Stopped,
}

/// How a website call goes, as the widget shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    /// The center's side was called.
    Calling,
    Ringing,
    Answered,
    /// The desk holds the call; back to `Answered` when it resumes.
    Held,
    /// Over, with the SIP side's reason (`remote_bye`, `status_486`, ...).
    Ended {
        reason: String,
    },
}

/// Who calls, for the operator's screen: the From display name of the SIP call, and the page
/// and chat ticket the desk's screen pop opens (sent as Call-Info).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub display_name: String,
    pub context: CallContext,
}

/// A placed website call: the answer for the browser and how the call goes.
pub struct WebCall {
    pub id: u64,
    pub answer_sdp: String,
    pub states: watch::Receiver<CallState>,
}

/// One call's two legs, as the gateway keeps them.
struct Leg {
    peer: Arc<dyn PeerConnection>,
    /// Also where the leg's SIP call id is kept (`CallAudio::sip_call_id`): one copy.
    audio: Arc<bridge::CallAudio>,
    states: watch::Sender<CallState>,
}

#[derive(Default)]
struct Calls {
    next: u64,
    legs: HashMap<u64, Leg>,
    /// Dials sent to the engine whose `calling` event has not come yet, in order: the engine
    /// handles commands one at a time, so its events come in the same order.
    dialing: VecDeque<u64>,
    by_sip: HashMap<String, u64>,
}

/// The gateway: one SIP engine, many calls.
pub struct Gateway {
    config: GatewayConfig,
    engine: PhoneHandle,
    calls: Arc<Mutex<Calls>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Gateway {
    /// Start the SIP side (register if an account is configured). Inside a tokio runtime.
    pub async fn start(config: GatewayConfig) -> Result<Arc<Gateway>, GatewayError> {
        let mut engine_config = EngineConfig::new(config.sip_listen);
        engine_config.account = config.account.clone();
        engine_config.registrar = config.registrar;
        engine_config.password = config.password.clone();
        engine_config.codecs = engine::parse_codecs(&config.codecs)?;
        engine_config.user_agent = format!("okno-gateway/{}", env!("CARGO_PKG_VERSION"));
        engine_config.opus_complexity = Some(bridge::OPUS_COMPLEXITY);
        // The desk may transfer a visitor within the center (REFER), not send the gateway to
        // dial out anywhere: the target's host and the registrar's are the allowed ones.
        let mut refer_hosts = vec![];
        if let Uri::Sip(sip) = &config.target {
            refer_hosts.push(sip.host.to_string());
        }
        if let Some(registrar) = config.registrar {
            refer_hosts.push(registrar.ip().to_string());
        }
        engine_config.refer_hosts = Some(refer_hosts);
        let calls = Arc::new(Mutex::new(Calls::default()));
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let media = bridge::EngineAudio::new(calls_audio(&calls));
        let (engine, _task) = engine::spawn(engine_config, Box::new(media), events_tx).await?;
        tracing::info!(sip = %engine.local_addr(), target = %config.target, "website call gateway ready");
        let gateway = Arc::new(Gateway { config, engine, calls });
        let weak = Arc::downgrade(&gateway);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let Some(gateway) = weak.upgrade() else { return };
                gateway.on_engine_event(event).await;
            }
        });
        Ok(gateway)
    }

    /// Where the gateway's SIP side is (for a PBX's routing, and tests).
    pub fn sip_addr(&self) -> SocketAddr {
        self.engine.local_addr()
    }

    /// The ICE servers and policy the browser should use too.
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.config.ice_servers
    }

    pub fn relay_only(&self) -> bool {
        self.config.relay_only
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answer the browser's `offer_sdp` and call the center for it.
    pub async fn call(&self, offer_sdp: String, caller: &Caller) -> Result<WebCall, GatewayError> {
        let audio = Arc::new(bridge::CallAudio::new().map_err(|e| GatewayError::Offer(e.to_string()))?);
        let (gathered_tx, gathered_rx) = oneshot::channel();
        let (state_tx, states) = watch::channel(CallState::Calling);
        let id = {
            let mut calls = self.lock();
            calls.next += 1;
            calls.next
        };
        let handler = Arc::new(BrowserEvents {
            gathered: Mutex::new(Some(gathered_tx)),
            audio: audio.clone(),
            call: id,
            engine: self.engine.clone(),
        });
        let peer = self.peer(handler).await.map_err(|e| GatewayError::Offer(e.to_string()))?;
        let answer = async {
            peer.add_track(audio.browser_track()).await?;
            peer.set_remote_description(RTCSessionDescription::offer(offer_sdp)?).await?;
            let answer = peer.create_answer(None).await?;
            peer.set_local_description(answer).await?;
            Ok::<_, webrtc::error::Error>(())
        };
        if let Err(e) = answer.await {
            let _ = peer.close().await;
            return Err(GatewayError::Offer(e.to_string()));
        }
        if tokio::time::timeout(ANSWER_TIMEOUT, gathered_rx).await.is_err() {
            let _ = peer.close().await;
            return Err(GatewayError::Offer("ICE gathering did not finish".into()));
        }
        let Some(local) = peer.local_description().await else {
            let _ = peer.close().await;
            return Err(GatewayError::Offer("no local description".into()));
        };
        {
            let mut calls = self.lock();
            calls.legs.insert(id, Leg { peer: peer.clone(), audio, states: state_tx });
            calls.dialing.push_back(id);
        }
        let display_name = Some(sip_display_name(&caller.display_name)).filter(|n| !n.is_empty());
        let call_info = caller.context.to_call_info();
        if let Err(e) = self.engine.send(PhoneCommand::Dial { to: self.config.target.clone(), display_name, call_info })
        {
            self.forget(id).await;
            return Err(GatewayError::Dial(e.to_string()));
        }
        tracing::info!(call = id, "website call answered, calling the center");
        Ok(WebCall { id, answer_sdp: local.sdp, states })
    }

    /// The visitor hung up (or left the page): end both legs.
    pub async fn hangup(&self, id: u64) {
        let sip = self.lock().legs.get(&id).and_then(|l| l.audio.sip_call_id());
        match sip {
            Some(call_id) => {
                let _ = self.engine.send(PhoneCommand::Hangup { call_id });
            }
            None => self.forget(id).await,
        }
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.lock().legs.len()
    }

    async fn peer(&self, handler: Arc<BrowserEvents>) -> webrtc::error::Result<Arc<dyn PeerConnection>> {
        let mut media = MediaEngine::default();
        media.register_default_codecs()?;
        let ice_servers = self
            .config
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone().unwrap_or_default(),
                credential: s.credential.clone().unwrap_or_default(),
            })
            .collect();
        let policy = if self.config.relay_only { RTCIceTransportPolicy::Relay } else { RTCIceTransportPolicy::All };
        let configuration =
            RTCConfigurationBuilder::new().with_ice_servers(ice_servers).with_ice_transport_policy(policy).build();
        let ip: IpAddr = self.engine.local_addr().ip();
        let peer = PeerConnectionBuilder::new()
            .with_configuration(configuration)
            .with_media_engine(media)
            .with_handler(handler)
            .with_udp_addrs(vec![format!("{ip}:0")])
            .build()
            .await?;
        Ok(Arc::new(peer))
    }

    async fn forget(&self, id: u64) {
        let leg = {
            let mut calls = self.lock();
            calls.dialing.retain(|d| *d != id);
            let leg = calls.legs.remove(&id);
            if let Some(sip) = leg.as_ref().and_then(|l| l.audio.sip_call_id()) {
                calls.by_sip.remove(&sip);
            }
            leg
        };
        if let Some(leg) = leg {
            leg.audio.close();
            let _ = leg.peer.close().await;
        }
    }

    async fn on_engine_event(&self, event: PhoneEvent) {
        let (sip, state) = match event {
            PhoneEvent::Calling { call_id, to } => {
                // A call the engine places to follow a desk's transfer is not one of our dials.
                if to != self.config.target.to_string() {
                    return;
                }
                let mut calls = self.lock();
                if let Some(id) = calls.dialing.pop_front() {
                    calls.by_sip.insert(call_id.clone(), id);
                    if let Some(leg) = calls.legs.get(&id) {
                        leg.audio.bind_sip(&call_id);
                    }
                }
                return;
            }
            PhoneEvent::Referred { call_id, new_call_id, .. } => {
                // The desk transferred the visitor (REFER): the engine calls the new target, and
                // the browser's audio follows to that call; the old one's end is not the visitor's.
                let mut calls = self.lock();
                if let Some(id) = calls.by_sip.remove(&call_id) {
                    calls.by_sip.insert(new_call_id.clone(), id);
                    if let Some(leg) = calls.legs.get(&id) {
                        leg.audio.bind_sip(&new_call_id);
                        let _ = leg.states.send(CallState::Ringing);
                    }
                }
                tracing::info!(from = %call_id, to = %new_call_id, "website call transferred by the desk");
                return;
            }
            PhoneEvent::Ringing { call_id, .. } => (call_id, CallState::Ringing),
            PhoneEvent::Answered { call_id, .. } => (call_id, CallState::Answered),
            // The desk put the visitor on hold (a re-INVITE): the widget says so, as the
            // browser would otherwise just hear silence.
            PhoneEvent::Held { call_id, by: Party::Remote } => (call_id, CallState::Held),
            PhoneEvent::Resumed { call_id, by: Party::Remote } => (call_id, CallState::Answered),
            PhoneEvent::Ended { call_id, cause, .. } => (call_id, CallState::Ended { reason: cause.to_string() }),
            PhoneEvent::Error { call_id: None, message, .. } => {
                // A dial the engine refused outright: the oldest one waiting.
                let id = self.lock().dialing.front().copied();
                if let Some(id) = id {
                    tracing::warn!(call = id, message, "the center could not be called");
                    self.end(id, CallState::Ended { reason: "dial_failed".into() }).await;
                }
                return;
            }
            _ => return,
        };
        let Some(id) = self.lock().by_sip.get(&sip).copied() else { return };
        match state {
            CallState::Ended { .. } => self.end(id, state).await,
            other => {
                if let Some(leg) = self.lock().legs.get(&id) {
                    let _ = leg.states.send(other);
                }
            }
        }
    }

    async fn end(&self, id: u64, state: CallState) {
        if let Some(leg) = self.lock().legs.get(&id) {
            let _ = leg.states.send(state);
        }
        self.forget(id).await;
    }
}

/// A visitor's name as a SIP display name: printable, no quotes or backslashes, at most 60
/// characters (it comes from a web form; it must not be able to shape the INVITE).
pub fn sip_display_name(name: &str) -> String {
    name.chars().filter(|c| !c.is_control() && *c != '"' && *c != '\\').take(60).collect::<String>().trim().to_owned()
}

/// The audio of every call, by the SIP call id the engine opens media for.
fn calls_audio(calls: &Arc<Mutex<Calls>>) -> bridge::AudioLookup {
    let calls = Arc::downgrade(calls);
    Arc::new(move |sip_call_id: &str| {
        let calls = calls.upgrade()?;
        let calls = calls.lock().unwrap_or_else(|e| e.into_inner());
        let id = calls.by_sip.get(sip_call_id)?;
        calls.legs.get(id).map(|l| l.audio.clone())
    })
}

/// The browser leg's events: ICE gathering done, the visitor's track, the connection's end.
struct BrowserEvents {
    gathered: Mutex<Option<oneshot::Sender<()>>>,
    audio: Arc<bridge::CallAudio>,
    call: u64,
    engine: PhoneHandle,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for BrowserEvents {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete
            && let Some(tx) = self.gathered.lock().unwrap_or_else(|e| e.into_inner()).take()
        {
            let _ = tx.send(());
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(call = self.call, %state, "browser leg");
        if matches!(state, RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed) {
            // The visitor is gone: hang up the center's side too.
            if let Some(call_id) = self.audio.sip_call_id() {
                let _ = self.engine.send(PhoneCommand::Hangup { call_id });
            }
        }
    }

    async fn on_track(&self, track: Arc<dyn webrtc::media_stream::track_remote::TrackRemote>) {
        let audio = self.audio.clone();
        tokio::spawn(async move { audio.receive_from_browser(track).await });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_visitors_name_cannot_shape_the_invite() {
        assert_eq!(super::sip_display_name("Olga \"VIP\"\r\nX-Evil: 1"), "Olga VIPX-Evil: 1");
        assert_eq!(super::sip_display_name(" Иван \\ "), "Иван");
        assert_eq!(super::sip_display_name(&"a".repeat(100)).len(), 60);
    }
}
