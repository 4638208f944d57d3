//! Session timers (RFC 4028): how long a call may go without a refresh before either side
//! may take it for dead, and who refreshes. A call whose other end vanished (a crashed phone, a
//! network gone with no BYE) would otherwise stay up on a desk, busy, forever.
//!
//! The negotiation is pure: [`as_uas`] reads a request (an INVITE or a refresh) and says what
//! the answer agrees to, [`as_uac`] reads the 2xx to our request; [`SessionTimer`] says when the
//! refresher refreshes and when the other side gives up. The caller (okno-phone's call control)
//! keeps the clock and sends the requests.
//!
//! Roles are per transaction: the side that sends a refresh is its UAC, so "refresher=uac" in
//! a peer's re-INVITE means the peer refreshes, and in the 2xx to ours means we do.

use std::time::Duration;

use crate::message::{HeaderName, Headers, ParseError, Request, Response};

/// The smallest interval RFC 4028 allows (§4, Min-SE).
pub const MIN_SE: u32 = 90;

/// Who sends the refreshes, relative to the transaction that agreed the timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    Uac,
    Uas,
}

impl Refresher {
    pub fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

/// An agreed session timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    /// Session-Expires, in seconds.
    pub interval: u32,
    pub refresher: Refresher,
}

impl SessionTimer {
    /// When the refresher sends its refresh, counted from the last one: half the interval (§10).
    pub fn refresh_after(&self) -> Duration {
        Duration::from_millis(u64::from(self.interval) * 500)
    }

    /// When the other side ends the call if no refresh came, counted from the last one: the
    /// interval less a third of it or 32 s, whichever is less (§10).
    pub fn expire_after(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval - (self.interval / 3).min(32)))
    }

    /// The headers of a 2xx that agrees to this timer (§9): Session-Expires with the refresher,
    /// and `Require: timer` when the UAC supports timers (it then knows the UAS does too).
    pub fn answer_headers(&self, uac_supports_timer: bool) -> Vec<(HeaderName, String)> {
        let mut headers =
            vec![(HeaderName::SessionExpires, format!("{};refresher={}", self.interval, self.refresher.as_str()))];
        if uac_supports_timer {
            headers.push((HeaderName::Require, "timer".to_owned()));
        }
        headers
    }
}

/// What a UAS agrees to for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UasTimer {
    /// The request asks for no session timer.
    None,
    Agreed(SessionTimer),
    /// The interval asked is below our minimum: answer 422 with `Min-SE: min_se` (§9).
    TooBrief {
        min_se: u32,
    },
}

/// Whether `timer` is in the Supported (or Require) headers.
pub fn supports_timer(headers: &Headers) -> bool {
    [HeaderName::Supported, HeaderName::Require]
        .iter()
        .flat_map(|name| headers.get_all(name))
        .flat_map(|v| v.split(','))
        .any(|option| option.trim().eq_ignore_ascii_case("timer"))
}

/// What a UAS agrees to for `request` with `min_se` as its own minimum (§9): the interval
/// asked, refreshed by whom the request says, or when it leaves that open, by the UAC if it
/// supports timers (it asked for one) and by us otherwise.
pub fn as_uas(request: &Request, min_se: u32) -> Result<UasTimer, ParseError> {
    let Some(asked) = request.headers.session_expires()? else { return Ok(UasTimer::None) };
    if asked.delta_seconds < min_se {
        return Ok(UasTimer::TooBrief { min_se });
    }
    let refresher = match asked.refresher.as_deref() {
        Some(r) if r.eq_ignore_ascii_case("uas") => Refresher::Uas,
        Some(r) if r.eq_ignore_ascii_case("uac") => Refresher::Uac,
        _ if supports_timer(&request.headers) => Refresher::Uac,
        _ => Refresher::Uas,
    };
    Ok(UasTimer::Agreed(SessionTimer { interval: asked.delta_seconds, refresher }))
}

/// What a 2xx to our request agreed (§7.2): its Session-Expires, refreshed by whom it says (the
/// UAC, us, when it does not say); `None` when the answer carries no timer.
pub fn as_uac(response: &Response) -> Option<SessionTimer> {
    let agreed = response.headers.session_expires().ok()??;
    let refresher = match agreed.refresher.as_deref() {
        Some(r) if r.eq_ignore_ascii_case("uas") => Refresher::Uas,
        _ => Refresher::Uac,
    };
    (agreed.delta_seconds > 0).then_some(SessionTimer { interval: agreed.delta_seconds, refresher })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn invite(extra: &str) -> Request {
        let text = format!(
            "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match Message::parse(text.as_bytes()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    #[test]
    fn a_uas_agrees_as_the_request_asks() {
        let agreed = |interval, refresher| Ok(UasTimer::Agreed(SessionTimer { interval, refresher }));
        let cases: &[(&str, Result<UasTimer, ParseError>)] = &[
            ("", Ok(UasTimer::None)),
            ("Session-Expires: 1800;refresher=uac\r\nSupported: timer\r\n", agreed(1800, Refresher::Uac)),
            ("Session-Expires: 1800;refresher=uas\r\n", agreed(1800, Refresher::Uas)),
            ("Session-Expires: 600\r\nSupported: 100rel, timer\r\n", agreed(600, Refresher::Uac)),
            ("Session-Expires: 600\r\n", agreed(600, Refresher::Uas)),
            ("x: 300\r\nk: timer\r\n", agreed(300, Refresher::Uac)),
            ("Session-Expires: 60\r\n", Ok(UasTimer::TooBrief { min_se: MIN_SE })),
        ];
        for (headers, expected) in cases {
            assert_eq!(&as_uas(&invite(headers), MIN_SE), expected, "{headers:?}");
        }
        assert!(as_uas(&invite("Session-Expires: soon\r\n"), MIN_SE).is_err());
    }

    #[test]
    fn a_uac_reads_the_answer() {
        let ok = |extra: &str| {
            let mut r = Response::for_request(&invite(""), 200, Some("t"));
            if !extra.is_empty() {
                r.headers.push(HeaderName::SessionExpires, extra);
            }
            r
        };
        assert_eq!(as_uac(&ok("")), None);
        assert_eq!(as_uac(&ok("900;refresher=uas")), Some(SessionTimer { interval: 900, refresher: Refresher::Uas }));
        assert_eq!(as_uac(&ok("900")), Some(SessionTimer { interval: 900, refresher: Refresher::Uac }));
        assert_eq!(as_uac(&ok("never")), None);
    }

    #[test]
    fn refresh_and_expiry_follow_section_10() {
        let t = SessionTimer { interval: 1800, refresher: Refresher::Uac };
        assert_eq!((t.refresh_after(), t.expire_after()), (Duration::from_secs(900), Duration::from_secs(1768)));
        let t = SessionTimer { interval: 90, refresher: Refresher::Uas };
        assert_eq!((t.refresh_after(), t.expire_after()), (Duration::from_secs(45), Duration::from_secs(60)));
        let t = SessionTimer { interval: 5, refresher: Refresher::Uas };
        assert_eq!((t.refresh_after(), t.expire_after()), (Duration::from_millis(2500), Duration::from_secs(4)));
        assert_eq!(
            t.answer_headers(true),
            [(HeaderName::SessionExpires, "5;refresher=uas".to_owned()), (HeaderName::Require, "timer".to_owned())]
        );
    }
}
