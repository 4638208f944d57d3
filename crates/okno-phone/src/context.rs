//! What an Okno call tells the desk it rings about itself, beyond the caller's number and
//! name: the web page a website visitor calls from and their chat ticket. The WebRTC gateway
//! writes it into the INVITE's Call-Info (RFC 3261 §20.9), the desk reads it back for the
//! screen pop; this module is the one place that knows the spelling.
//!
//! Trust: any SIP caller can send Call-Info. The desk shows the page as text and opens only a
//! ticket its own store already holds for this operator, so a forged entry can point at nothing
//! the operator could not already see.

use okno_sip::message::CallInfo;

/// The purpose of the entry that names a chat ticket.
pub const TICKET_PURPOSE: &str = "okno-ticket";
const TICKET_URN: &str = "urn:okno:ticket:";

/// The screen-pop context of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// An `http`/`https` page.
    pub page: Option<String>,
    pub ticket_id: Option<String>,
}

impl CallContext {
    /// The Call-Info entries for this context; a page or ticket id that cannot travel safely
    /// in a header (not http(s), spaces, quotes, too long) is left out.
    pub fn to_call_info(&self) -> Vec<CallInfo> {
        let page = self.page.as_deref().filter(|p| is_web_page(p)).and_then(|p| CallInfo::new(p, Some("info")).ok());
        let ticket = self
            .ticket_id
            .as_deref()
            .filter(|id| !id.is_empty() && id.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c)))
            .and_then(|id| CallInfo::new(format!("{TICKET_URN}{id}"), Some(TICKET_PURPOSE)).ok());
        page.into_iter().chain(ticket).collect()
    }

    /// Reads the context back from an INVITE's entries; others are ignored.
    pub fn from_call_info(entries: &[CallInfo]) -> CallContext {
        let page =
            entries.iter().find(|e| e.purpose() == Some("info") && is_web_page(e.uri())).map(|e| e.uri().to_owned());
        let ticket_id = entries
            .iter()
            .filter(|e| e.purpose() == Some(TICKET_PURPOSE))
            .find_map(|e| e.uri().strip_prefix(TICKET_URN))
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        CallContext { page, ticket_id }
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
        let context =
            CallContext { page: Some("https://shop.example/cart?item=5512".into()), ticket_id: Some("t-01J9".into()) };
        let entries = context.to_call_info();
        assert_eq!(entries.len(), 2);
        assert_eq!(CallContext::from_call_info(&entries), context);
    }

    #[test]
    fn what_cannot_travel_safely_is_left_out() {
        let context =
            CallContext { page: Some("javascript:alert(1)".into()), ticket_id: Some("t-1>;purpose=info".into()) };
        assert!(context.to_call_info().is_empty());
        let spaced = CallContext { page: Some("https://shop/a b".into()), ticket_id: None };
        assert!(spaced.to_call_info().is_empty());
    }

    #[test]
    fn other_entries_are_ignored() {
        let entries = [
            CallInfo::new("http://www.example.com/alice/photo.jpg", Some("icon")).unwrap(),
            CallInfo::new("urn:okno:ticket:t-9", Some("info")).unwrap(),
            CallInfo::new("ftp://files.example/", Some("info")).unwrap(),
        ];
        assert_eq!(CallContext::from_call_info(&entries), CallContext::default());
    }
}
