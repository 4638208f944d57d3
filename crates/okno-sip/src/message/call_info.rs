//! Call-Info (RFC 3261 §20.9): URIs that tell the callee more about the caller or the call,
//! each with a purpose (`info`, `icon`, `card`, or an extension token).
//!
//! Okno's website calls use it for the desk's screen pop: the page the visitor calls from
//! (`purpose=info`) and the visitor's chat ticket (`purpose=okno-ticket`). The URI is kept as
//! text, not parsed: it may be any absolute URI (http, https, urn, ...). What this module
//! guarantees is that a value it builds or accepts cannot break out of its header: no
//! whitespace, controls, quotes or angle brackets inside the URI, and a bounded length.

use std::fmt;

use super::ParseError;
use super::headers::{HeaderName, Headers};
use super::typed::parse_params;
use crate::syntax::{is_token, split_list, trim_lws};
use crate::uri::find_param;

/// The longest URI accepted in one entry, in bytes (a long shop URL with its query fits).
pub const MAX_CALL_INFO_URI: usize = 2048;

/// One Call-Info entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    uri: String,
    purpose: Option<String>,
}

fn err(reason: &'static str) -> ParseError {
    ParseError::InvalidHeader { name: "Call-Info", reason }
}

fn check_uri(uri: &str) -> Result<(), ParseError> {
    if uri.is_empty() || uri.len() > MAX_CALL_INFO_URI {
        return Err(err("the URI is empty or too long"));
    }
    // An absolute URI starts with a scheme and its colon (RFC 3986 §3.1).
    let scheme = uri.split(':').next().unwrap_or_default();
    if scheme.len() == uri.len()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(err("the URI has no scheme"));
    }
    if uri.bytes().any(|c| c <= b' ' || c >= 0x7f || matches!(c, b'<' | b'>' | b'"')) {
        return Err(err("the URI holds a character it may not"));
    }
    Ok(())
}

impl CallInfo {
    /// An entry for `uri` (an absolute URI, percent-encoded) with an optional purpose token.
    pub fn new(uri: impl Into<String>, purpose: Option<&str>) -> Result<CallInfo, ParseError> {
        let uri = uri.into();
        check_uri(&uri)?;
        if let Some(p) = purpose
            && !is_token(p)
        {
            return Err(err("the purpose is not a token"));
        }
        Ok(CallInfo { uri, purpose: purpose.map(str::to_ascii_lowercase) })
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Lowercase, as purposes compare case-insensitively.
    pub fn purpose(&self) -> Option<&str> {
        self.purpose.as_deref()
    }

    /// Parses one entry: `<uri> *(;param)`.
    pub fn parse(s: &str) -> Result<CallInfo, ParseError> {
        let s = trim_lws(s);
        let rest = s.strip_prefix('<').ok_or(err("expected '<'"))?;
        let end = rest.find('>').ok_or(err("unterminated '<'"))?;
        let params = parse_params(&rest[end + 1..]).map_err(err)?;
        let purpose = find_param(&params, "purpose").and_then(|p| p.value.as_deref());
        CallInfo::new(&rest[..end], purpose)
    }
}

impl fmt::Display for CallInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.uri)?;
        if let Some(p) = &self.purpose {
            write!(f, ";purpose={p}")?;
        }
        Ok(())
    }
}

impl Headers {
    /// Every Call-Info entry, in order. One malformed entry makes it an error: a caller who
    /// wants the rest can still read the raw values.
    pub fn call_info(&self) -> Result<Vec<CallInfo>, ParseError> {
        self.get_all(&HeaderName::CallInfo).flat_map(split_list).map(CallInfo::parse).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_print_back() {
        let mut h = Headers::default();
        h.push(
            HeaderName::CallInfo,
            "<https://shop.example/cart?a=1,2>;purpose=info, <urn:okno:ticket:t-1> ;Purpose=OKNO-Ticket",
        );
        h.push(HeaderName::CallInfo, "<http://www.example.com/alice/photo.jpg>;purpose=icon;x=y");
        let all = h.call_info().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].uri(), "https://shop.example/cart?a=1,2");
        assert_eq!(all[0].purpose(), Some("info"));
        assert_eq!(all[1].purpose(), Some("okno-ticket"));
        assert_eq!(all[2].to_string(), "<http://www.example.com/alice/photo.jpg>;purpose=icon");
        assert_eq!(CallInfo::parse(&all[0].to_string()).unwrap(), all[0]);
    }

    #[test]
    fn values_that_would_break_the_header_are_refused() {
        let refused = [
            ("https://shop/a b", "space"),
            ("https://shop/\r\nX-Evil: 1", "line break"),
            ("https://shop/>;purpose=card", "angle bracket"),
            ("https://shop/\"", "quote"),
            ("shop/cart", "no scheme"),
            ("", "empty"),
            ("https://shop/ü", "non-ASCII"),
        ];
        for (uri, why) in refused {
            assert!(CallInfo::new(uri, Some("info")).is_err(), "{why}: {uri:?} accepted");
        }
        assert!(CallInfo::new(format!("https://shop/{}", "a".repeat(MAX_CALL_INFO_URI)), None).is_err(), "too long");
        assert!(CallInfo::new("https://shop/", Some("in fo")).is_err(), "a purpose with a space");
        assert!(CallInfo::parse("https://shop/").is_err(), "no angle brackets");
        assert!(CallInfo::parse("<https://shop/").is_err(), "unterminated");
    }
}
