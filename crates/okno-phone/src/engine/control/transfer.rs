//! Call transfer, in all three roles of RFC 5589:
//!
//! - transferor: we send REFER in an answered call (blind: `Refer-To` the target; attended:
//!   `Refer-To` the party of our consult call, with a Replaces for that call) and hang up when
//!   the peer's NOTIFY reports that the target answered;
//! - transferee: a REFER from the peer makes us place the call it names, and we report its
//!   progress back by NOTIFY (`message/sipfrag`, RFC 3515 §2.4.5);
//! - target: an INVITE with Replaces (RFC 3891) takes over one of our answered calls: it is
//!   answered at once and the replaced call is hung up.
//!
//! Only the Replaces header of a Refer-To URI is honoured; other headers a referrer puts there
//! are dropped, so a REFER cannot make us send arbitrary headers.

use std::time::Instant;

use okno_sip::message::typed::NameAddr;
use okno_sip::message::{HeaderName, Method, Request, Response};
use okno_sip::transaction::TransactionKey;
use okno_sip::uri::Uri;

use super::CallControl;
use super::{EndReason, ErrorCode, PhoneEvent};

/// How long the transferee's implicit subscription is offered for (seconds).
const SUBSCRIPTION_S: u32 = 60;

/// Percent-escapes a value for the headers part of a SIP URI (RFC 3261 §25.1 `hvalue`):
/// everything but unreserved characters.
fn escape_header_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The call a Refer-To asks for: the URI without its headers, and the INVITE headers we honour
/// from them (Replaces only).
fn split_refer_to(target: &NameAddr) -> (Uri, Vec<(HeaderName, String)>) {
    let mut uri = target.uri.clone();
    let mut extra = Vec::new();
    if let Uri::Sip(sip) = &mut uri {
        for (name, value) in std::mem::take(&mut sip.headers) {
            if name.eq_ignore_ascii_case("replaces") {
                let decoded = String::from_utf8_lossy(&okno_sip::percent_decode(&value)).into_owned();
                extra.push((HeaderName::Replaces, decoded));
            }
        }
    }
    (uri, extra)
}

/// The status of a `message/sipfrag` body's status line (`SIP/2.0 200 OK`).
fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().next()?.trim();
    let mut parts = line.split_whitespace();
    if !parts.next()?.eq_ignore_ascii_case("SIP/2.0") {
        return None;
    }
    parts.next()?.parse().ok().filter(|s| (100..700).contains(s))
}

/// The status line a transferee reports for a referred call that ended unanswered, by the
/// engine's end cause.
pub(super) fn failure_frag(cause: EndReason) -> &'static str {
    match cause.status() {
        Some(486) => "486 Busy Here",
        Some(480) => "480 Temporarily Unavailable",
        Some(404) => "404 Not Found",
        Some(603) => "603 Decline",
        Some(s) if s >= 600 => "600 Busy Everywhere",
        Some(s) if s >= 500 => "503 Service Unavailable",
        Some(_) => "480 Temporarily Unavailable",
        None if cause == EndReason::Timeout => "408 Request Timeout",
        None => "487 Request Terminated",
    }
}

impl CallControl {
    pub(super) fn blind_transfer(&mut self, now: Instant, id: &str, to: &Uri) {
        self.send_refer(now, id, format!("<{to}>"), to.to_string());
    }

    pub(super) fn attended_transfer(&mut self, now: Instant, id: &str, consult_id: &str) {
        let Some(consult) = self.calls.get(consult_id) else { return self.unknown_call(consult_id) };
        if consult.answered.is_none() || consult.bye.is_some() {
            return self.error(ErrorCode::TransferFailed, Some(consult_id), "the consult call is not answered");
        }
        let (Some(their_tag), Some(our_tag)) = (consult.remote.tag(), consult.local.tag()) else {
            return self.error(ErrorCode::TransferFailed, Some(consult_id), "the consult call has no dialog tags");
        };
        // Replaces names the dialog as the target sees it: its tag is To, ours is From
        // (RFC 3891 §3).
        let replaces = format!("{consult_id};to-tag={their_tag};from-tag={our_tag}");
        let mut target = consult.remote.uri.clone();
        let shown = target.to_string();
        let Uri::Sip(sip) = &mut target else {
            return self.error(ErrorCode::TransferFailed, Some(consult_id), "the consult call is not to a sip: URI");
        };
        sip.headers = vec![("Replaces".to_owned(), escape_header_value(&replaces))];
        self.send_refer(now, id, format!("<{target}>"), shown);
    }

    fn send_refer(&mut self, now: Instant, id: &str, refer_to: String, shown: String) {
        let Some(call) = self.calls.get(id) else { return self.unknown_call(id) };
        if call.answered.is_none() || call.bye.is_some() {
            return self.error(ErrorCode::TransferFailed, Some(id), "only an answered call can be transferred");
        }
        if call.transfer_to.is_some() {
            return self.error(ErrorCode::TransferFailed, Some(id), "a transfer of this call is under way");
        }
        let Some((mut req, peer)) = self.dialog_request(id, Method::Refer) else { return };
        req.headers.push(HeaderName::Contact, &self.contact);
        req.headers.push(HeaderName::ReferTo, refer_to);
        req.headers.push(HeaderName::ReferredBy, format!("<{}>", self.our_uri));
        let key = self.ua.send_request(now, peer, req);
        tracing::info!(call_id = id, to = %shown, "transfer asked (REFER)");
        if let Some(call) = self.calls.get_mut(id) {
            call.refer = Some(key);
            call.transfer_to = Some(shown);
        }
    }

    /// The final answer to our REFER: 2xx means the peer is calling the target.
    pub(super) fn on_refer_response(&mut self, id: &str, status: u16) {
        let Some(call) = self.calls.get_mut(id) else { return };
        call.refer = None;
        // A NOTIFY may have overtaken the answer and settled the transfer already.
        let Some(to) = call.transfer_to.clone() else { return };
        if status / 100 == 2 {
            self.emit(PhoneEvent::Transferring { call_id: id.to_owned(), to });
        } else {
            call.transfer_to = None;
            self.emit(PhoneEvent::TransferFailed { call_id: id.to_owned(), to, status: Some(status) });
        }
    }

    /// The peer transfers us: answer 202, report "100 Trying", place the call it asks for.
    pub(super) fn on_refer(&mut self, now: Instant, key: &TransactionKey, req: &Request) {
        let respond = |control: &mut CallControl, status: u16| {
            let _ = control.ua.send_response(now, key, &Response::for_request(req, status, None));
        };
        let id = match self.dialog_call(req) {
            Ok(id) => id,
            Err(status) => return respond(self, status),
        };
        let Some(call) = self.calls.get(&id) else { return respond(self, 481) };
        if call.answered.is_none() || call.bye.is_some() {
            return respond(self, 403);
        }
        let refer_seq = req.headers.cseq().map(|c| c.seq).unwrap_or(0);
        let target = match req.headers.get(&HeaderName::ReferTo).map(NameAddr::parse) {
            Some(Ok(t)) => t,
            _ => return respond(self, 400),
        };
        if self.shutdown_by.is_some() {
            return respond(self, 503);
        }
        if let Some(allowed) = &self.config.refer_hosts {
            let host = match &target.uri {
                Uri::Sip(sip) => sip.host.to_string(),
                _ => String::new(),
            };
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&host)) {
                tracing::warn!(call_id = id, target = %target.uri, "refused a REFER to a host outside the allowed ones");
                return respond(self, 403);
            }
        }
        respond(self, 202);
        self.send_notify(now, &id, refer_seq, "100 Trying", false);
        let (uri, extra) = split_refer_to(&target);
        let to = uri.to_string();
        tracing::info!(call_id = id, %to, replaces = !extra.is_empty(), "referred (REFER)");
        match self.place_call(now, uri, None, extra) {
            Some(new_call_id) => {
                if let Some(new) = self.calls.get_mut(&new_call_id) {
                    new.referred_by = Some((id.clone(), refer_seq));
                }
                self.emit(PhoneEvent::Referred { call_id: id, to, new_call_id });
            }
            None => self.send_notify(now, &id, refer_seq, "503 Service Unavailable", true),
        }
    }

    /// The transferee's report on the call we asked it to make.
    pub(super) fn on_notify(&mut self, now: Instant, key: &TransactionKey, req: &Request) {
        let respond = |control: &mut CallControl, status: u16| {
            let _ = control.ua.send_response(now, key, &Response::for_request(req, status, None));
        };
        let id = match self.dialog_call(req) {
            Ok(id) => id,
            Err(status) => return respond(self, status),
        };
        let is_refer = req.headers.event().ok().flatten().is_some_and(|e| e.value.eq_ignore_ascii_case("refer"));
        if !is_refer {
            return respond(self, 489); // Bad Event: we subscribe to nothing else
        }
        respond(self, 200);
        let Some(status) = sipfrag_status(&req.body) else { return };
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(to) = call.transfer_to.clone() else { return };
        if status < 200 {
            return;
        }
        call.transfer_to = None;
        if status < 300 {
            call.end_cause = Some(EndReason::Transferred);
            self.emit(PhoneEvent::Transferred { call_id: id.clone(), to });
            self.send_bye(now, &id);
        } else {
            self.emit(PhoneEvent::TransferFailed { call_id: id, to, status: Some(status) });
        }
    }

    /// Transferee: tells the referrer how the call it asked for is going.
    pub(super) fn notify_referrer(&mut self, now: Instant, call_id: &str, frag: &str) {
        let Some((referrer, refer_seq)) = self.calls.get_mut(call_id).and_then(|c| c.referred_by.take()) else {
            return;
        };
        self.send_notify(now, &referrer, refer_seq, frag, true);
    }

    fn send_notify(&mut self, now: Instant, id: &str, refer_seq: u32, frag: &str, last: bool) {
        let Some((mut req, peer)) = self.dialog_request(id, Method::Notify) else { return };
        req.headers.push(HeaderName::Contact, &self.contact);
        req.headers.push(HeaderName::Event, format!("refer;id={refer_seq}"));
        let state =
            if last { "terminated;reason=noresource".to_owned() } else { format!("active;expires={SUBSCRIPTION_S}") };
        req.headers.push(HeaderName::SubscriptionState, state);
        req.headers.push(HeaderName::ContentType, "message/sipfrag;version=2.0");
        req.body = format!("SIP/2.0 {frag}\r\n").into_bytes();
        // The answer needs no handling: the transfer goes on whatever the referrer says.
        self.ua.send_request(now, peer, req);
    }

    /// For a new INVITE: the answered call its Replaces names (`Ok(None)` without one), or the
    /// status to refuse it with.
    pub(super) fn replaced_call(&self, req: &Request) -> Result<Option<String>, u16> {
        let Some(replaces) = req.headers.replaces().map_err(|_| 400u16)? else { return Ok(None) };
        let found = self.calls.iter().find(|(id, c)| {
            **id == replaces.call_id
                && c.local.tag() == Some(replaces.to_tag.as_str())
                && c.remote.tag() == Some(replaces.from_tag.as_str())
        });
        match found {
            // Only confirmed dialogs are taken over; early ones are not ours to replace here.
            Some((id, c)) if c.answered.is_some() && c.bye.is_none() && !replaces.early_only => Ok(Some(id.clone())),
            Some(_) => Err(486),
            None => Err(481),
        }
    }

    /// An INVITE with Replaces is in as `call_id`: answer it without ringing and hang up the
    /// call it replaces.
    pub(super) fn take_over(&mut self, now: Instant, call_id: &str, replaced: &str, from: String) {
        tracing::info!(call_id, replaced, "call taken over (Replaces)");
        self.emit(PhoneEvent::Replaced { call_id: call_id.to_owned(), replaces: replaced.to_owned(), from });
        self.answer(now, call_id);
        if let Some(old) = self.calls.get_mut(replaced) {
            old.end_cause = Some(EndReason::Replaced);
        }
        self.send_bye(now, replaced);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_survives_the_round_trip_through_a_refer_to_uri() {
        let replaces = "a84b4c76e66710@pc33;to-tag=1928301774;from-tag=a6c85cf";
        let mut uri = Uri::parse("sip:2001@example.com").unwrap();
        if let Uri::Sip(s) = &mut uri {
            s.headers = vec![("Replaces".into(), escape_header_value(replaces))];
        }
        let text = format!("<{uri}>");
        assert!(!text[1..text.len() - 1].contains(';'), "escaped: {text}");
        let parsed = NameAddr::parse(&text).unwrap();
        let (target, extra) = split_refer_to(&parsed);
        assert_eq!(target.to_string(), "sip:2001@example.com");
        assert_eq!(extra, vec![(HeaderName::Replaces, replaces.to_owned())]);
    }

    #[test]
    fn other_refer_to_headers_are_dropped() {
        let parsed = NameAddr::parse("<sip:2001@example.com?Subject=hi&Priority=urgent>").unwrap();
        let (target, extra) = split_refer_to(&parsed);
        assert_eq!(target.to_string(), "sip:2001@example.com");
        assert!(extra.is_empty());
    }

    #[test]
    fn sipfrag_status_lines() {
        assert_eq!(sipfrag_status(b"SIP/2.0 200 OK\r\n"), Some(200));
        assert_eq!(sipfrag_status(b"SIP/2.0 100 Trying"), Some(100));
        assert_eq!(sipfrag_status(b"SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n"), Some(486));
        assert_eq!(sipfrag_status(b"HTTP/1.1 200 OK"), None);
        assert_eq!(sipfrag_status(b"SIP/2.0 abc"), None);
        assert_eq!(sipfrag_status(&[0xff, 0xfe]), None);
    }

    #[test]
    fn failures_are_reported_with_a_final_status() {
        assert_eq!(failure_frag(EndReason::Status(486)), "486 Busy Here");
        assert_eq!(failure_frag(EndReason::Status(503)), "503 Service Unavailable");
        assert_eq!(failure_frag(EndReason::Timeout), "408 Request Timeout");
        assert_eq!(failure_frag(EndReason::LocalCancel), "487 Request Terminated");
    }
}
