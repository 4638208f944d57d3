//! Dialog state (RFC 3261 §12): identifiers, route set, sequence numbers and the
//! remote target, plus building in-dialog requests (§12.2.1.1) and checking
//! incoming ones (§12.2.2).

use crate::message::typed::Via;
use crate::message::{HeaderName, Method, NameAddr, ParseError, Request, Response};
use crate::uri::Uri;

/// Why a message was refused by a dialog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("response carries no To tag")]
    MissingTag,
    #[error("response does not create a dialog")]
    NotDialogCreating,
    #[error("message belongs to another dialog")]
    Mismatch,
    /// Lower CSeq than the last request: answer 500 (§12.2.2).
    #[error("CSeq {got} is lower than the last one seen ({last})")]
    OutOfOrder { got: u32, last: u32 },
}

/// Call-ID plus local and remote tags (§12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
}

/// One dialog as seen from our side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// Our address (From on requests we send), without tag.
    pub local: NameAddr,
    /// The peer's address (To on requests we send), without tag.
    pub remote: NameAddr,
    /// Last CSeq we used; the next request uses `local_seq + 1`.
    pub local_seq: u32,
    /// Highest CSeq received from the peer.
    pub remote_seq: Option<u32>,
    /// Where in-dialog requests go (the peer's Contact).
    pub remote_target: Uri,
    /// Route set, in the order our requests must carry it.
    pub route_set: Vec<NameAddr>,
}

fn without_tag(mut a: NameAddr) -> NameAddr {
    a.params.retain(|p| !p.name.eq_ignore_ascii_case("tag"));
    a
}

fn contact_uri(h: &crate::message::Headers) -> Result<Option<Uri>, ParseError> {
    Ok(h.contacts()?.into_iter().find_map(|c| c.addr().map(|a| a.uri.clone())))
}

impl Dialog {
    /// UAC side (§12.1.2): from the request we sent and a 101-299 response
    /// with a To tag.
    pub fn from_uac(req: &Request, resp: &Response) -> Result<Dialog, DialogError> {
        if !(101..300).contains(&resp.status) {
            return Err(DialogError::NotDialogCreating);
        }
        let to = resp.headers.to()?;
        let remote_tag = to.tag().ok_or(DialogError::MissingTag)?.to_owned();
        let from = req.headers.from()?;
        let local_tag = from.tag().ok_or(DialogError::MissingTag)?.to_owned();
        let mut route_set = resp.headers.record_routes()?;
        route_set.reverse();
        Ok(Dialog {
            id: DialogId { call_id: req.headers.call_id()?.to_owned(), local_tag, remote_tag },
            state: if resp.status < 200 { DialogState::Early } else { DialogState::Confirmed },
            local: without_tag(from),
            remote: without_tag(to),
            local_seq: req.headers.cseq()?.seq,
            remote_seq: None,
            remote_target: contact_uri(&resp.headers)?.unwrap_or_else(|| req.uri.clone()),
            route_set,
        })
    }

    /// UAS side (§12.1.1): from the request received and the To tag we chose.
    pub fn from_uas(req: &Request, local_tag: &str, confirmed: bool) -> Result<Dialog, DialogError> {
        let from = req.headers.from()?;
        let remote_tag = from.tag().ok_or(DialogError::MissingTag)?.to_owned();
        Ok(Dialog {
            id: DialogId { call_id: req.headers.call_id()?.to_owned(), local_tag: local_tag.to_owned(), remote_tag },
            state: if confirmed { DialogState::Confirmed } else { DialogState::Early },
            local: without_tag(req.headers.to()?),
            remote: without_tag(from),
            local_seq: 0,
            remote_seq: Some(req.headers.cseq()?.seq),
            remote_target: contact_uri(&req.headers)?.ok_or(ParseError::MissingHeader("Contact"))?,
            route_set: req.headers.record_routes()?,
        })
    }

    /// True when `req` (received) belongs to this dialog: same Call-ID, its To
    /// tag is ours and its From tag is the peer's.
    pub fn matches_request(&self, req: &Request) -> bool {
        let (Ok(cid), Ok(to), Ok(from)) = (req.headers.call_id(), req.headers.to(), req.headers.from()) else {
            return false;
        };
        cid == self.id.call_id && to.tag() == Some(&self.id.local_tag) && from.tag() == Some(&self.id.remote_tag)
    }

    /// Builds a request inside the dialog (§12.2.1.1). `via` carries a fresh
    /// branch; `contact` is required for target-refreshing requests.
    pub fn new_request(&mut self, method: Method, via: &Via, contact: Option<&NameAddr>) -> Request {
        let seq = if matches!(method, Method::Ack | Method::Cancel) {
            self.local_seq
        } else {
            self.local_seq = self.local_seq.wrapping_add(1);
            self.local_seq
        };
        let (ruri, routes): (Uri, Vec<String>) = match self.route_set.first() {
            Some(first) if !first.uri.as_sip().is_some_and(|u| u.is_loose_router()) => {
                // Strict router (RFC 2543): it goes in the Request-URI and the
                // remote target is appended as the last Route.
                let mut r: Vec<String> = self.route_set[1..].iter().map(ToString::to_string).collect();
                r.push(format!("<{}>", self.remote_target));
                (first.uri.clone(), r)
            }
            _ => (self.remote_target.clone(), self.route_set.iter().map(ToString::to_string).collect()),
        };
        let mut req = Request::new(method.clone(), ruri);
        req.headers.push(HeaderName::Via, via.to_string());
        req.headers.push(HeaderName::MaxForwards, "70");
        req.headers.push(HeaderName::From, self.local.clone().with_tag(&self.id.local_tag).to_string());
        req.headers.push(HeaderName::To, self.remote.clone().with_tag(&self.id.remote_tag).to_string());
        req.headers.push(HeaderName::CallId, self.id.call_id.clone());
        req.headers.push(HeaderName::CSeq, format!("{seq} {method}"));
        for r in routes {
            req.headers.push(HeaderName::Route, r);
        }
        if let Some(c) = contact {
            req.headers.push(HeaderName::Contact, c.to_string());
        }
        req
    }

    /// Checks and records an incoming in-dialog request (§12.2.2); target
    /// refresh requests update the remote target.
    pub fn handle_request(&mut self, req: &Request) -> Result<(), DialogError> {
        if !self.matches_request(req) {
            return Err(DialogError::Mismatch);
        }
        let seq = req.headers.cseq()?.seq;
        if req.method != Method::Ack && req.method != Method::Cancel {
            if let Some(last) = self.remote_seq
                && seq < last
            {
                return Err(DialogError::OutOfOrder { got: seq, last });
            }
            self.remote_seq = Some(seq);
        }
        if is_target_refresh(&req.method)
            && let Some(uri) = contact_uri(&req.headers)?
        {
            self.remote_target = uri;
        }
        Ok(())
    }

    /// Records a response to a request we sent in this dialog: 2xx confirms an
    /// early dialog and 2xx to a target refresh updates the remote target.
    pub fn handle_response(&mut self, method: &Method, resp: &Response) -> Result<(), DialogError> {
        if (200..300).contains(&resp.status) {
            if *method == Method::Invite {
                self.state = DialogState::Confirmed;
            }
            if is_target_refresh(method)
                && let Some(uri) = contact_uri(&resp.headers)?
            {
                self.remote_target = uri;
            }
        }
        Ok(())
    }
}

fn is_target_refresh(m: &Method) -> bool {
    matches!(m, Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::message::typed::Transport;
    use crate::uri::Host;

    fn req(s: &str) -> Request {
        match Message::parse(s.replace('\n', "\r\n").as_bytes()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    fn resp(s: &str) -> Response {
        match Message::parse(s.replace('\n', "\r\n").as_bytes()).unwrap() {
            Message::Response(r) => r,
            Message::Request(_) => unreachable!(),
        }
    }

    const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\nVia: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1\nFrom: Alice <sip:alice@atlanta.example.com>;tag=a1\nTo: <sip:bob@biloxi.example.com>\nCall-ID: c1\nCSeq: 10 INVITE\nContact: <sip:alice@192.0.2.1>\nRecord-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\nContent-Length: 0\n\n";
    const OK: &str = "SIP/2.0 200 OK\nVia: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1\nFrom: Alice <sip:alice@atlanta.example.com>;tag=a1\nTo: <sip:bob@biloxi.example.com>;tag=b1\nCall-ID: c1\nCSeq: 10 INVITE\nContact: <sip:bob@192.0.2.4>\nRecord-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\nContent-Length: 0\n\n";

    fn via() -> Via {
        Via::new(Transport::Udp, Host::Domain("pc33.atlanta.example.com".into()), None, "z9hG4bK2")
    }

    #[test]
    fn uac_dialog_and_in_dialog_request() {
        let mut d = Dialog::from_uac(&req(INVITE), &resp(OK)).unwrap();
        assert_eq!(d.id, DialogId { call_id: "c1".into(), local_tag: "a1".into(), remote_tag: "b1".into() });
        assert_eq!(d.state, DialogState::Confirmed);
        assert_eq!(d.route_set[0].uri.to_string(), "sip:p1.example.com;lr");
        let bye = d.new_request(Method::Bye, &via(), None);
        assert_eq!(bye.uri.to_string(), "sip:bob@192.0.2.4");
        assert_eq!(bye.headers.cseq().unwrap().seq, 11);
        let routes = bye.headers.routes().unwrap();
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].uri.to_string(), "sip:p1.example.com;lr");
        assert_eq!(bye.headers.to().unwrap().tag(), Some("b1"));
        assert_eq!(bye.headers.from().unwrap().tag(), Some("a1"));
        // The request we built parses back.
        assert!(Message::parse(&bye.to_bytes()).is_ok());
    }

    #[test]
    fn uas_dialog_checks_cseq_and_refreshes_target() {
        let mut invite = req(INVITE);
        let mut d = Dialog::from_uas(&invite, "b1", true).unwrap();
        assert_eq!(d.route_set[0].uri.to_string(), "sip:p2.example.com;lr");
        assert_eq!(d.remote_target.to_string(), "sip:alice@192.0.2.1");
        invite.headers.set(HeaderName::To, "<sip:bob@biloxi.example.com>;tag=b1");
        invite.headers.set(HeaderName::CSeq, "11 INVITE");
        invite.headers.set(HeaderName::Contact, "<sip:alice@192.0.2.99>");
        d.handle_request(&invite).unwrap();
        assert_eq!(d.remote_target.to_string(), "sip:alice@192.0.2.99");
        invite.headers.set(HeaderName::CSeq, "5 INVITE");
        assert_eq!(d.handle_request(&invite), Err(DialogError::OutOfOrder { got: 5, last: 11 }));
    }

    #[test]
    fn strict_router() {
        let mut d =
            Dialog::from_uac(&req(INVITE), &resp(&OK.replace("<sip:p1.example.com;lr>", "<sip:p1.example.com>")))
                .unwrap();
        let bye = d.new_request(Method::Bye, &via(), None);
        assert_eq!(bye.uri.to_string(), "sip:p1.example.com");
        let routes = bye.headers.routes().unwrap();
        assert_eq!(routes.last().unwrap().uri.to_string(), "sip:bob@192.0.2.4");
    }

    #[test]
    fn early_dialog_needs_tag() {
        let r180 = OK.replace("200 OK", "180 Ringing").replace(";tag=b1", "");
        assert_eq!(Dialog::from_uac(&req(INVITE), &resp(&r180)), Err(DialogError::MissingTag));
        let r180 = OK.replace("200 OK", "180 Ringing");
        let mut d = Dialog::from_uac(&req(INVITE), &resp(&r180)).unwrap();
        assert_eq!(d.state, DialogState::Early);
        d.handle_response(&Method::Invite, &resp(OK)).unwrap();
        assert_eq!(d.state, DialogState::Confirmed);
    }
}
