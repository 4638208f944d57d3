//! One call's dialog state as call control keeps it, and the SDP helpers its rules share.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use okno_sip::message::Request;
use okno_sip::message::typed::NameAddr;
use okno_sip::sdp::{self, Direction};
use okno_sip::transaction::TransactionKey;
use okno_sip::uri::{Host, Uri};

use super::EndReason;

pub(super) fn target_addr(uri: &Uri) -> Option<SocketAddr> {
    match uri {
        Uri::Sip(s) => match &s.host {
            Host::Ipv4(ip) => Some(SocketAddr::new(IpAddr::V4(*ip), s.port.unwrap_or(5060))),
            Host::Ipv6(ip) => Some(SocketAddr::new(IpAddr::V6(*ip), s.port.unwrap_or(5060))),
            Host::Domain(_) => None,
        },
        _ => None,
    }
}

pub(super) fn sends(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::SendOnly)
}

pub(super) fn receives(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::RecvOnly)
}

/// The direction of the first active audio stream of a description.
pub(super) fn audio_direction(s: &sdp::Session) -> Option<Direction> {
    s.media.iter().find(|m| m.kind == "audio" && m.port != 0).map(|m| m.direction(s.direction()))
}

/// Our offer of an outgoing call as far as SRTP needs it: its audio stream with the crypto
/// lines we sent (the rest of the description does not matter for pairing keys).
pub(super) fn call_offer(call: Option<&Call>) -> sdp::Session {
    let mut s = sdp::Session::parse(b"v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n")
        .expect("a constant, valid description");
    if let Some(call) = call {
        for c in &call.crypto {
            s.media[0].attributes.push(sdp::Attribute::value("crypto", c.to_string()));
        }
    }
    s
}

/// Where a dialog's requests go (RFC 3261 §12.2.1.1): to the first proxy of the route set, which
/// loose-routes them on (every proxy that record-routes today does: `;lr`), else to the remote
/// target itself; `fallback` when neither names an IP address.
pub(super) fn next_hop(route_set: &[NameAddr], remote_target: &Uri, fallback: SocketAddr) -> SocketAddr {
    match route_set.first() {
        Some(route) => target_addr(&route.uri),
        None => target_addr(remote_target),
    }
    .unwrap_or(fallback)
}

/// One call's dialog state, as much as the engine needs.
pub(super) struct Call {
    pub(super) outgoing: bool,
    /// Where in-dialog requests go: the first proxy of `route_set`, or the peer's Contact.
    pub(super) peer: SocketAddr,
    /// The proxies that asked to stay in the dialog's path (Record-Route), in the order our
    /// requests pass them: each in-dialog request carries them as Route headers.
    pub(super) route_set: Vec<NameAddr>,
    pub(super) remote_target: Uri,
    pub(super) local: NameAddr,
    pub(super) remote: NameAddr,
    pub(super) local_cseq: u32,
    pub(super) invite: Option<TransactionKey>,
    /// The INVITE we received (incoming calls), answered later.
    pub(super) invite_request: Option<Request>,
    /// Incoming: the peer's offer and our answer, prepared when the INVITE came in.
    pub(super) offer: Option<sdp::Session>,
    pub(super) answer: Option<sdp::Session>,
    pub(super) started: Instant,
    pub(super) answered: Option<Instant>,
    /// Outgoing: a provisional response came, so a CANCEL may be sent (RFC 3261 §9.1).
    pub(super) provisional: bool,
    /// Outgoing: hung up before the answer; the CANCEL is sent once `provisional`.
    pub(super) cancelling: bool,
    pub(super) cancel_sent: bool,
    pub(super) bye: Option<TransactionKey>,
    /// Our pending re-INVITE and what it is for.
    pub(super) reinvite: Option<(TransactionKey, Reinvite)>,
    /// Which call of this engine (1, 2, ...), for the `MediaIo`.
    pub(super) number: u32,
    /// Reserved at INVITE time so the SDP can name the port.
    pub(super) rtp_port: u16,
    /// The media runs (started once both descriptions were known).
    pub(super) media: bool,
    /// `o=` version of the last description we sent (RFC 3264 §8: +1 for each new one).
    pub(super) sdp_version: u64,
    /// The negotiated voice codec (encoding, clock rate); re-offers keep to it.
    pub(super) codec: Option<(String, u32)>,
    pub(super) local_hold: bool,
    /// The peer's last description says it receives (false: it holds the call).
    pub(super) peer_receives: bool,
    pub(super) muted: bool,
    /// Transferor: the transfer target asked of the peer, until its NOTIFY says how it went;
    /// and our REFER while it has no final answer.
    pub(super) transfer_to: Option<String>,
    pub(super) refer: Option<TransactionKey>,
    /// Transferee, on the call placed because of a REFER: the referring call and the REFER's
    /// CSeq (the subscription id), told of our progress by NOTIFY.
    pub(super) referred_by: Option<(String, u32)>,
    /// Why the call ends when our BYE is answered, if not `local_bye`.
    pub(super) end_cause: Option<EndReason>,
    /// Outgoing: our INVITE as first sent (without Via), to send again with credentials when
    /// the peer or a proxy challenges it; cleared once it was (one try: a second challenge is
    /// a wrong password).
    pub(super) unauthorized_invite: Option<Request>,
    /// Our `a=crypto` lines: offered (outgoing, until the answer) or in use. Re-offers and
    /// re-answers repeat the one in use, since the media task cannot change keys.
    pub(super) crypto: Vec<sdp::Crypto>,
    /// The agreed session timer (RFC 4028), if any.
    pub(super) session: Option<super::session::CallTimer>,
}

/// What our pending re-INVITE is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reinvite {
    /// The operator holds (true) or resumes (false) the call.
    Hold(bool),
    /// A session-timer refresh (RFC 4028): the description unchanged.
    Refresh,
}

impl Call {
    /// A call leg as it starts, in either direction: the dialog's parties, our INVITE transaction
    /// (sent or received) and the RTP ports bound for it; everything else begins empty.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        outgoing: bool,
        peer: SocketAddr,
        remote_target: Uri,
        local: NameAddr,
        remote: NameAddr,
        invite: TransactionKey,
        number: u32,
        rtp_port: u16,
        started: Instant,
    ) -> Call {
        Call {
            outgoing,
            peer,
            route_set: Vec::new(),
            remote_target,
            local,
            remote,
            local_cseq: 0,
            invite: Some(invite),
            invite_request: None,
            offer: None,
            answer: None,
            started,
            answered: None,
            provisional: false,
            cancelling: false,
            cancel_sent: false,
            bye: None,
            reinvite: None,
            number,
            rtp_port,
            media: false,
            sdp_version: 1,
            codec: None,
            local_hold: false,
            peer_receives: true,
            muted: false,
            transfer_to: None,
            refer: None,
            referred_by: None,
            end_cause: None,
            unauthorized_invite: None,
            crypto: Vec::new(),
            session: None,
        }
    }

    /// Whether our media should send: not held by either side.
    pub(super) fn sending(&self) -> bool {
        !self.local_hold && self.peer_receives
    }

    /// The direction we want in an offer or answer.
    pub(super) fn our_direction(&self) -> Direction {
        if self.local_hold { Direction::SendOnly } else { Direction::SendRecv }
    }
}
