//! Session timers in call control (RFC 4028, negotiated by `okno_sip::session_timer`): a call
//! whose other end vanished without a BYE is ended instead of keeping a desk busy forever.
//!
//! - Our INVITEs ask for `EngineConfig::session_expires`; the 2xx says what was agreed.
//! - A peer's INVITE, re-INVITE or UPDATE that asks for one is agreed to (or refused 422 when
//!   below `EngineConfig::min_se`); its 2xx carries the agreement.
//! - The refresher refreshes at half the interval; we refresh with a re-INVITE offering the
//!   description in use (same version: nothing changes, RFC 3264 §8). A refresh answered 408 or
//!   481, or not at all, ends the call (§10); one refused otherwise (491 glare) is tried again in
//!   two seconds.
//! - When the peer refreshes and does not, the call is ended with a BYE at the interval less a
//!   third (at most 32 s) after the last refresh: cause `session_expired`.
//!
//! Every answered re-INVITE or UPDATE, either way, counts as a refresh.

use super::*;
use okno_sip::session_timer::{self, Refresher, SessionTimer, UasTimer};

/// A refresh refused for another reason than a dead dialog is tried again after this.
const RETRY_REFRESH: Duration = Duration::from_secs(2);

/// A call's agreed session timer and what is due next.
#[derive(Debug, Clone, Copy)]
pub(super) struct CallTimer {
    pub(super) timer: SessionTimer,
    /// We send the refreshes (else the peer does, and we watch for them).
    pub(super) we_refresh: bool,
    /// When we refresh, or when the call expires without the peer's refresh.
    pub(super) due: Instant,
}

impl CallTimer {
    fn new(timer: SessionTimer, we_refresh: bool, now: Instant) -> CallTimer {
        let wait = if we_refresh { timer.refresh_after() } else { timer.expire_after() };
        CallTimer { timer, we_refresh, due: now + wait }
    }
}

/// What a request the peer sent (we are its UAS) asked, once found acceptable.
pub(super) enum PeerAsked {
    Nothing,
    Agreed { timer: SessionTimer, uac_supports: bool },
}

/// What `req` asked, for an INVITE already checked by [`CallControl::session_asked`] when it
/// came in (the answer is sent later, from the stored request).
pub(super) fn peer_asked(req: &Request, min_se: u32) -> PeerAsked {
    match session_timer::as_uas(req, min_se) {
        Ok(UasTimer::Agreed(timer)) => agreed(req, timer),
        _ => PeerAsked::Nothing,
    }
}

fn agreed(req: &Request, timer: SessionTimer) -> PeerAsked {
    PeerAsked::Agreed { timer, uac_supports: session_timer::supports_timer(&req.headers) }
}

impl CallControl {
    /// Headers our INVITEs carry to ask for a session timer.
    pub(super) fn session_request_headers(&self) -> Vec<(HeaderName, String)> {
        match self.config.session_expires {
            Some(interval) => vec![
                (HeaderName::Supported, "timer".to_owned()),
                (HeaderName::SessionExpires, interval.to_string()),
                (HeaderName::MinSe, self.config.min_se.to_string()),
            ],
            None => Vec::new(),
        }
    }

    /// What a peer's INVITE, re-INVITE or UPDATE asks; `Err(422)` (with Min-SE) already sent.
    pub(super) fn session_asked(&mut self, now: Instant, key: &TransactionKey, req: &Request) -> Result<PeerAsked, ()> {
        match session_timer::as_uas(req, self.config.min_se) {
            Ok(UasTimer::Agreed(timer)) => Ok(agreed(req, timer)),
            Ok(UasTimer::None) => Ok(PeerAsked::Nothing),
            Ok(UasTimer::TooBrief { min_se }) => {
                let mut resp = Response::for_request(req, 422, None);
                resp.headers.push(HeaderName::MinSe, min_se.to_string());
                let _ = self.ua.send_response(now, key, &resp);
                Err(())
            }
            Err(e) => {
                tracing::info!(error = %e, "a malformed Session-Expires");
                let _ = self.ua.send_response(now, key, &Response::for_request(req, 400, None));
                Err(())
            }
        }
    }

    /// The peer's answered request agreed `asked`: the 2xx gets its headers, and the call's
    /// timer restarts. A request that asked nothing still counts as a refresh of a running timer.
    pub(super) fn agree_with_peer(&mut self, now: Instant, id: &str, asked: &PeerAsked, ok: &mut Response) {
        let Some(call) = self.calls.get_mut(id) else { return };
        match asked {
            PeerAsked::Agreed { timer, uac_supports } => {
                for (name, value) in timer.answer_headers(*uac_supports) {
                    ok.headers.push(name, value);
                }
                call.session = Some(CallTimer::new(*timer, timer.refresher == Refresher::Uas, now));
            }
            PeerAsked::Nothing => {
                if let Some(t) = call.session {
                    call.session = Some(CallTimer::new(t.timer, t.we_refresh, now));
                }
            }
        }
    }

    /// The 2xx to our INVITE (`initial`) or re-INVITE (we are its UAC): what it agreed, from now.
    /// An answer to the INVITE without one means no timer (RFC 4028 §7.2); a re-INVITE's answer
    /// without one refreshes the timer running.
    pub(super) fn agree_with_answer(&mut self, now: Instant, id: &str, ok: &Response, initial: bool) {
        let Some(call) = self.calls.get_mut(id) else { return };
        call.session = match session_timer::as_uac(ok) {
            Some(timer) => Some(CallTimer::new(timer, timer.refresher == Refresher::Uac, now)),
            None if initial => None,
            None => call.session.map(|t| CallTimer::new(t.timer, t.we_refresh, now)),
        };
    }

    /// A peer's UPDATE inside a call (RFC 3311): a session refresh. One carrying an offer is
    /// refused 488: the media of a running call change by re-INVITE here.
    pub(super) fn on_update(&mut self, now: Instant, key: &TransactionKey, req: &Request) {
        let id = match self.dialog_call(req) {
            Ok(id) => id,
            Err(status) => {
                let _ = self.ua.send_response(now, key, &Response::for_request(req, status, None));
                return;
            }
        };
        let tag = self.calls.get(&id).and_then(|c| c.local.tag().map(str::to_owned));
        if !req.body.is_empty() {
            let _ = self.ua.send_response(now, key, &Response::for_request(req, 488, tag.as_deref()));
            return;
        }
        let Ok(asked) = self.session_asked(now, key, req) else { return };
        let mut ok = Response::for_request(req, 200, tag.as_deref());
        ok.headers.push(HeaderName::Contact, &self.contact);
        self.agree_with_peer(now, &id, &asked, &mut ok);
        let _ = self.ua.send_response(now, key, &ok);
    }

    /// The earliest session-timer deadline of the answered calls.
    pub(super) fn session_deadline(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter(|c| c.answered.is_some() && c.bye.is_none() && c.reinvite.is_none())
            .filter_map(|c| c.session.map(|t| t.due))
            .min()
    }

    /// Refreshes the calls we refresh and ends those whose peer stopped refreshing.
    pub(super) fn on_session_timers(&mut self, now: Instant) {
        let due: Vec<(String, bool)> = self
            .calls
            .iter()
            .filter(|(_, c)| c.answered.is_some() && c.bye.is_none() && c.reinvite.is_none())
            .filter_map(|(id, c)| c.session.filter(|t| t.due <= now).map(|t| (id.clone(), t.we_refresh)))
            .collect();
        for (id, we_refresh) in due {
            if we_refresh {
                self.refresh_session(now, &id);
            } else {
                tracing::info!(call_id = id, "the peer stopped refreshing the session: hanging up");
                if let Some(call) = self.calls.get_mut(&id) {
                    call.end_cause = Some(EndReason::SessionExpired);
                }
                self.send_bye(now, &id);
            }
        }
    }

    /// A refresh: a re-INVITE offering the description in use, unchanged.
    fn refresh_session(&mut self, now: Instant, id: &str) {
        let Some(call) = self.calls.get(id) else { return };
        let codecs = self.call_codecs(call);
        let mut offer =
            sdp::build_offer(&self.media_config(call.rtp_port, call.our_direction(), codecs, call.crypto.clone()));
        offer.origin.session_version = call.sdp_version;
        let headers = self.session_request_headers();
        let Some((mut req, peer)) = self.dialog_request(id, Method::Invite) else { return };
        req.headers.push(HeaderName::Contact, &self.contact);
        if let Some(t) = self.calls.get(id).and_then(|c| c.session) {
            // Keep what was agreed, with us as the refresher (§7.4).
            req.headers.push(HeaderName::Supported, "timer");
            req.headers.push(HeaderName::SessionExpires, format!("{};refresher=uac", t.timer.interval));
        } else {
            for (name, value) in headers {
                req.headers.push(name, value);
            }
        }
        req.headers.push(HeaderName::ContentType, "application/sdp");
        req.body = offer.to_bytes();
        tracing::debug!(call_id = id, "refreshing the session");
        let key = self.ua.send_request(now, peer, req);
        if let Some(call) = self.calls.get_mut(id) {
            call.reinvite = Some((key, Reinvite::Refresh));
        }
    }

    /// The final answer to our refresh.
    pub(super) fn on_refresh_response(&mut self, now: Instant, id: &str, resp: &Response) {
        let Some(call) = self.calls.get_mut(id) else { return };
        call.reinvite = None;
        match resp.status {
            200..=299 => {
                self.send_ack(id, resp);
                self.agree_with_answer(now, id, resp, false);
            }
            408 | 481 => {
                tracing::info!(call_id = id, status = resp.status, "the session refresh found no dialog: hanging up");
                call.end_cause = Some(EndReason::SessionExpired);
                self.send_bye(now, id);
            }
            _ => {
                if let Some(t) = call.session.as_mut() {
                    t.due = now + RETRY_REFRESH;
                }
            }
        }
    }
}
