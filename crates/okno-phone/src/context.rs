//! What an Okno call tells the desk it rings about itself, beyond the caller's number and
//! name: the web page a website visitor calls from and their chat ticket (written by the WebRTC
//! gateway), and the hotline queue the call waited in and for how long (written by the
//! hotline when it offers the call). They travel in the INVITE's Call-Info (RFC 3261 §20.9), the
//! desk reads them back for the screen pop; this module is the one place that knows the
//! spelling. Later in the call, the hotline tells the operator's desk that a team lead listens,
//! whispers or barges in (where the center's policy says operators are told) by an INFO
//! carrying a [`Monitoring`].
//!
//! Trust: any SIP caller can send Call-Info. The desk shows the page as text and opens only a
//! ticket its own store already holds for this operator, so a forged entry can point at nothing
//! the operator could not already see; a queue is shown only by the name the desk's own store
//! gives it, and the hotline passes on a caller's page and ticket only, never their queue or wait.

use okno_sip::message::CallInfo;

/// The purpose of the entry that names a chat ticket.
pub const TICKET_PURPOSE: &str = "okno-ticket";
const TICKET_URN: &str = "urn:okno:ticket:";
/// The purpose of the entry that names the hotline queue the call waited in.
pub const QUEUE_PURPOSE: &str = "okno-queue";
const QUEUE_URN: &str = "urn:okno:queue:";
/// The purpose of the entry that says how long the caller waited, in milliseconds.
pub const WAITED_PURPOSE: &str = "okno-waited";
const WAITED_URN: &str = "urn:okno:waited-ms:";

/// The screen-pop context of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// An `http`/`https` page.
    pub page: Option<String>,
    pub ticket_id: Option<String>,
    /// The hotline queue's id.
    pub queue_id: Option<String>,
    /// How long the caller waited in the queue before this desk was rung.
    pub waited_ms: Option<u64>,
}

/// An id that can stand in a URN as it is: letters, digits, `-`, `_`, `.`.
fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
}

impl CallContext {
    /// The Call-Info entries for this context; a page or ticket id that cannot travel safely
    /// in a header (not http(s), spaces, quotes, too long) is left out.
    pub fn to_call_info(&self) -> Vec<CallInfo> {
        let page = self.page.as_deref().filter(|p| is_web_page(p)).and_then(|p| CallInfo::new(p, Some("info")).ok());
        let urn = |prefix: &str, id: Option<&str>, purpose: &str| {
            id.filter(|id| is_plain_id(id)).and_then(|id| CallInfo::new(format!("{prefix}{id}"), Some(purpose)).ok())
        };
        let ticket = urn(TICKET_URN, self.ticket_id.as_deref(), TICKET_PURPOSE);
        let queue = urn(QUEUE_URN, self.queue_id.as_deref(), QUEUE_PURPOSE);
        let waited = self.waited_ms.map(|ms| ms.to_string());
        let waited = urn(WAITED_URN, waited.as_deref(), WAITED_PURPOSE);
        page.into_iter().chain(ticket).chain(queue).chain(waited).collect()
    }

    /// The caller's page and ticket only: what the hotline passes on from a caller's INVITE.
    pub fn from_caller(self) -> CallContext {
        CallContext { page: self.page, ticket_id: self.ticket_id, queue_id: None, waited_ms: None }
    }

    /// Reads the context back from an INVITE's entries; others are ignored.
    pub fn from_call_info(entries: &[CallInfo]) -> CallContext {
        let page =
            entries.iter().find(|e| e.purpose() == Some("info") && is_web_page(e.uri())).map(|e| e.uri().to_owned());
        let urn = |purpose: &str, prefix: &str| {
            entries
                .iter()
                .filter(|e| e.purpose() == Some(purpose))
                .find_map(|e| e.uri().strip_prefix(prefix))
                .filter(|id| is_plain_id(id))
                .map(str::to_owned)
        };
        CallContext {
            page,
            ticket_id: urn(TICKET_PURPOSE, TICKET_URN),
            queue_id: urn(QUEUE_PURPOSE, QUEUE_URN),
            waited_ms: urn(WAITED_PURPOSE, WAITED_URN).and_then(|ms| ms.parse().ok()),
        }
    }
}

/// The content type of the INFO that tells a desk about a team lead on its call.
pub const MONITORING_CONTENT_TYPE: &str = "application/x-okno-monitoring";
/// The ways a team lead joins a call, as the INFO spells them.
pub const MONITOR_MODES: [&str; 3] = ["listen", "whisper", "barge"];

/// A team lead on the operator's call: who, and how (`None`: they left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    pub by: String,
    pub mode: Option<String>,
}

impl Monitoring {
    /// The INFO body: `mode=listen` and `by=Lena` lines (`mode=none` when they left).
    pub fn to_body(&self) -> String {
        let by: String = self.by.chars().filter(|c| !c.is_control()).take(100).collect();
        format!("mode={}\r\nby={by}\r\n", self.mode.as_deref().unwrap_or("none"))
    }

    /// Reads an INFO's body back; `None` for another content type or a mode we do not know.
    pub fn from_info(content_type: &str, body: &str) -> Option<Monitoring> {
        if !content_type.trim().to_ascii_lowercase().starts_with(MONITORING_CONTENT_TYPE) {
            return None;
        }
        let field = |name: &str| {
            body.lines().filter_map(|l| l.split_once('=')).find(|(k, _)| k.trim() == name).map(|(_, v)| v.trim())
        };
        let mode = match field("mode")? {
            "none" => None,
            m if MONITOR_MODES.contains(&m) => Some(m.to_owned()),
            _ => return None,
        };
        let by: String = field("by").unwrap_or_default().chars().filter(|c| !c.is_control()).take(100).collect();
        Some(Monitoring { by, mode })
    }
}

fn is_web_page(uri: &str) -> bool {
    let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_travels_and_comes_back() {
        let context = CallContext {
            page: Some("https://shop.example/cart?item=5512".into()),
            ticket_id: Some("t-01J9".into()),
            ..CallContext::default()
        };
        let entries = context.to_call_info();
        assert_eq!(entries.len(), 2);
        assert_eq!(CallContext::from_call_info(&entries), context);
        let offered = CallContext { queue_id: Some("billing".into()), waited_ms: Some(12_345), ..context.clone() };
        let entries = offered.to_call_info();
        assert_eq!(entries.len(), 4);
        assert_eq!(CallContext::from_call_info(&entries), offered);
        assert_eq!(CallContext::from_call_info(&entries).from_caller(), context, "a caller's queue is not passed on");
    }

    #[test]
    fn what_cannot_travel_safely_is_left_out() {
        let context = CallContext {
            page: Some("javascript:alert(1)".into()),
            ticket_id: Some("t-1>;purpose=info".into()),
            queue_id: Some("q 1".into()),
            waited_ms: None,
        };
        assert!(context.to_call_info().is_empty());
        let spaced = CallContext { page: Some("https://shop/a b".into()), ..CallContext::default() };
        assert!(spaced.to_call_info().is_empty());
    }

    #[test]
    fn a_monitoring_notice_travels_and_nonsense_is_ignored() {
        let lena = Monitoring { by: "Лена Смирнова".into(), mode: Some("whisper".into()) };
        assert_eq!(Monitoring::from_info(MONITORING_CONTENT_TYPE, &lena.to_body()), Some(lena.clone()));
        let left = Monitoring { mode: None, ..lena.clone() };
        assert_eq!(Monitoring::from_info("Application/X-Okno-Monitoring", &left.to_body()), Some(left));
        assert_eq!(Monitoring::from_info("application/dtmf-relay", "Signal=5\r\n"), None);
        assert_eq!(Monitoring::from_info(MONITORING_CONTENT_TYPE, "mode=record\r\nby=x"), None);
        assert_eq!(Monitoring::from_info(MONITORING_CONTENT_TYPE, "by=x"), None, "no mode");
        let sneaky = Monitoring { by: "Lena\r\nmode=none".into(), mode: Some("listen".into()) };
        let read = Monitoring::from_info(MONITORING_CONTENT_TYPE, &sneaky.to_body()).unwrap();
        assert_eq!(read.mode.as_deref(), Some("listen"), "a name cannot add a line");
    }

    #[test]
    fn other_entries_are_ignored() {
        let entries = [
            CallInfo::new("http://www.example.com/alice/photo.jpg", Some("icon")).unwrap(),
            CallInfo::new("urn:okno:ticket:t-9", Some("info")).unwrap(),
            CallInfo::new("ftp://files.example/", Some("info")).unwrap(),
            CallInfo::new("urn:okno:waited-ms:soon", Some("okno-waited")).unwrap(),
        ];
        assert_eq!(CallContext::from_call_info(&entries), CallContext::default());
    }
}
