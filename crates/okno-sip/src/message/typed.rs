//! Typed views of the headers a user agent needs (RFC 3261 §20 and extensions).
//!
//! Values are parsed on demand from the stored header text; the parser runs the
//! same functions once at parse time for the core headers so that malformed
//! messages are rejected up front (RFC 4475 §3.1.2).

use std::fmt;

use super::headers::{HeaderName, Headers};
use super::{Method, ParseError};
use crate::syntax::{is_token, is_token_char, parse_quoted, split_list, trim_lws, trim_start_lws, write_quoted};
use crate::uri::{Host, Param, Uri, find_param, parse_host_port};

fn err(name: &'static str, reason: &'static str) -> ParseError {
    ParseError::InvalidHeader { name, reason }
}

/// Splits a leading token off `s`.
fn take_token(s: &str) -> Option<(&str, &str)> {
    let n = s.bytes().take_while(|&c| is_token_char(c)).count();
    (n > 0).then(|| s.split_at(n))
}

/// Parses `*( SEMI generic-param )` (RFC 3261 §25.1) after the main value.
pub(crate) fn parse_params(mut s: &str) -> Result<Vec<Param>, &'static str> {
    let mut out = Vec::new();
    loop {
        s = trim_start_lws(s);
        if s.is_empty() {
            return Ok(out);
        }
        s = trim_start_lws(s.strip_prefix(';').ok_or("expected ';' before parameter")?);
        let (name, rest) = take_token(s).ok_or("empty parameter name")?;
        s = trim_start_lws(rest);
        let value = if let Some(r) = s.strip_prefix('=') {
            let r = trim_start_lws(r);
            if r.starts_with('"') {
                let (_, rest) = parse_quoted(r).ok_or("unterminated quoted string")?;
                let raw = &r[..r.len() - rest.len()];
                s = rest;
                Some(raw)
            } else {
                // gen-value = token / host / quoted-string; IPv6 references add [ ] :.
                let m = r.bytes().take_while(|&c| is_token_char(c) || matches!(c, b'[' | b']' | b':')).count();
                if m == 0 {
                    return Err("empty parameter value");
                }
                s = &r[m..];
                Some(&r[..m])
            }
        } else {
            None
        };
        out.push(Param { name: name.to_owned(), value: value.map(str::to_owned) });
    }
}

fn write_params(f: &mut fmt::Formatter<'_>, params: &[Param]) -> fmt::Result {
    for p in params {
        write!(f, ";{p}")?;
    }
    Ok(())
}

/// Transport named in a Via header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Sctp,
    Ws,
    Wss,
    Other(String),
}

impl Transport {
    pub fn parse(s: &str) -> Transport {
        const KNOWN: [(&str, Transport); 6] = [
            ("UDP", Transport::Udp),
            ("TCP", Transport::Tcp),
            ("TLS", Transport::Tls),
            ("SCTP", Transport::Sctp),
            ("WS", Transport::Ws),
            ("WSS", Transport::Wss),
        ];
        for (name, t) in KNOWN {
            if s.eq_ignore_ascii_case(name) {
                return t;
            }
        }
        Transport::Other(s.to_owned())
    }

    /// Reliable transports skip retransmissions (RFC 3261 §17).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(s) => s,
        }
    }
}

/// The RFC 3261 branch magic cookie.
pub const BRANCH_MAGIC: &str = "z9hG4bK";

/// One Via value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub protocol: String,
    pub version: String,
    pub transport: Transport,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Vec<Param>,
}

impl Via {
    pub fn new(transport: Transport, host: Host, port: Option<u16>, branch: &str) -> Via {
        Via {
            protocol: "SIP".into(),
            version: "2.0".into(),
            transport,
            host,
            port,
            params: vec![Param::new("branch", Some(branch))],
        }
    }

    pub fn parse(s: &str) -> Result<Via, ParseError> {
        const N: &str = "Via";
        let s = trim_lws(s);
        let (protocol, r) = take_token(s).ok_or(err(N, "missing protocol"))?;
        let r = trim_start_lws(trim_start_lws(r).strip_prefix('/').ok_or(err(N, "expected '/'"))?);
        let (version, r) = take_token(r).ok_or(err(N, "missing version"))?;
        let r = trim_start_lws(trim_start_lws(r).strip_prefix('/').ok_or(err(N, "expected '/'"))?);
        let (transport, r) = take_token(r).ok_or(err(N, "missing transport"))?;
        let sent = trim_start_lws(r);
        if sent.len() == r.len() {
            return Err(err(N, "expected whitespace before sent-by"));
        }
        let end = sent.find([';', ' ', '\t']).unwrap_or(sent.len());
        let (host, port) = parse_host_port(&sent[..end]).map_err(|_| err(N, "invalid sent-by"))?;
        let params = parse_params(&sent[end..]).map_err(|r| err(N, r))?;
        Ok(Via {
            protocol: protocol.to_owned(),
            version: version.to_owned(),
            transport: Transport::parse(transport),
            host,
            port,
            params,
        })
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    pub fn branch(&self) -> Option<&str> {
        self.param("branch").and_then(|p| p.value.as_deref())
    }

    pub fn received(&self) -> Option<&str> {
        self.param("received").and_then(|p| p.value.as_deref())
    }

    /// `None`: no rport; `Some(None)`: rport requested; `Some(Some(p))`: filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|p| p.value.as_deref().and_then(|v| v.parse().ok()))
    }

    /// Sets (or replaces) a parameter.
    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        match self.params.iter_mut().find(|p| p.name.eq_ignore_ascii_case(name)) {
            Some(p) => p.value = value,
            None => self.params.push(Param { name: name.to_owned(), value }),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{} {}", self.protocol, self.version, self.transport.as_str(), self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)
    }
}

/// `[display-name] <uri> *(;param)` or `addr-spec *(;param)`: From, To, Contact,
/// Route, Record-Route, Refer-To, Reply-To.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Vec<Param>,
}

impl NameAddr {
    pub fn new(uri: impl Into<Uri>) -> NameAddr {
        NameAddr { display: None, uri: uri.into(), params: Vec::new() }
    }

    pub fn with_tag(mut self, tag: &str) -> NameAddr {
        self.set_param("tag", Some(tag.to_owned()));
        self
    }

    pub fn parse(s: &str) -> Result<NameAddr, ParseError> {
        Self::parse_named("name-addr", s)
    }

    pub(crate) fn parse_named(n: &'static str, s: &str) -> Result<NameAddr, ParseError> {
        let s = trim_lws(s);
        let (display, uri_str, rest, angle) = if s.starts_with('"') {
            let (d, rest) = parse_quoted(s).ok_or(err(n, "unterminated quoted display name"))?;
            let rest = trim_start_lws(rest).strip_prefix('<').ok_or(err(n, "expected '<' after display name"))?;
            let end = rest.find('>').ok_or(err(n, "missing '>'"))?;
            (Some(d), &rest[..end], &rest[end + 1..], true)
        } else {
            match s.find(['<', ';', '"']) {
                Some(i) if s.as_bytes()[i] == b'<' => {
                    let disp = trim_lws(&s[..i]);
                    if !disp.bytes().all(|c| is_token_char(c) || c == b' ' || c == b'\t') {
                        return Err(err(n, "display name must be tokens or a quoted string"));
                    }
                    let rest = &s[i + 1..];
                    let end = rest.find('>').ok_or(err(n, "missing '>'"))?;
                    let display =
                        (!disp.is_empty()).then(|| disp.split_ascii_whitespace().collect::<Vec<_>>().join(" "));
                    (display, &rest[..end], &rest[end + 1..], true)
                }
                _ => {
                    let end = s.find([';', ' ', '\t']).unwrap_or(s.len());
                    (None, &s[..end], &s[end..], false)
                }
            }
        };
        let uri = Uri::parse(uri_str).map_err(|_| err(n, "invalid URI"))?;
        if !angle && matches!(&uri, Uri::Sip(u) if !u.headers.is_empty()) {
            // RFC 3261 §20: a URI with headers must be enclosed in <> (RFC 4475 regbadct).
            return Err(err(n, "URI with headers must be in angle brackets"));
        }
        let params = parse_params(rest).map_err(|r| err(n, r))?;
        Ok(NameAddr { display, uri, params })
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    pub fn tag(&self) -> Option<&str> {
        self.param("tag").and_then(|p| p.value.as_deref())
    }

    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        match self.params.iter_mut().find(|p| p.name.eq_ignore_ascii_case(name)) {
            Some(p) => p.value = value,
            None => self.params.push(Param { name: name.to_owned(), value }),
        }
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write_quoted(f, d)?;
            f.write_str(" ")?;
        }
        // Always name-addr form: unambiguous whatever the URI holds.
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

/// One Contact value: `*` (only in REGISTER) or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    Star,
    Addr(NameAddr),
}

impl Contact {
    pub fn parse(s: &str) -> Result<Contact, ParseError> {
        if trim_lws(s) == "*" {
            return Ok(Contact::Star);
        }
        NameAddr::parse_named("Contact", s).map(Contact::Addr)
    }

    pub fn addr(&self) -> Option<&NameAddr> {
        match self {
            Contact::Addr(a) => Some(a),
            Contact::Star => None,
        }
    }

    /// The `expires` parameter; `Err` when present but not a 32-bit number.
    pub fn expires(&self) -> Option<Result<u32, ParseError>> {
        let p = self.addr()?.param("expires")?;
        Some(parse_u32(p.value.as_deref().unwrap_or(""), "Contact"))
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Star => f.write_str("*"),
            Contact::Addr(a) => a.fmt(f),
        }
    }
}

/// CSeq: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(s: &str) -> Result<CSeq, ParseError> {
        const N: &str = "CSeq";
        let s = trim_lws(s);
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        let seq = parse_u32(&s[..n], N)?;
        let m = trim_start_lws(&s[n..]);
        if m.len() == s.len() - n {
            return Err(err(N, "expected whitespace after sequence number"));
        }
        if !is_token(m) {
            return Err(err(N, "invalid method"));
        }
        Ok(CSeq { seq, method: Method::from_token(m) })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

pub(crate) fn parse_u32(s: &str, name: &'static str) -> Result<u32, ParseError> {
    let s = trim_lws(s);
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(err(name, "expected a number"));
    }
    // Leading zeros are legal (RFC 4475 wsinv); overflow is not (scalar02).
    let digits = s.trim_start_matches('0');
    if digits.len() > 10 {
        return Err(err(name, "number out of range"));
    }
    if digits.is_empty() {
        return Ok(0);
    }
    digits.parse().map_err(|_| err(name, "number out of range"))
}

/// `type/subtype *(;param)`: Content-Type, Accept values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    pub mtype: String,
    pub subtype: String,
    pub params: Vec<Param>,
}

impl MediaType {
    pub fn new(mtype: &str, subtype: &str) -> MediaType {
        MediaType { mtype: mtype.into(), subtype: subtype.into(), params: Vec::new() }
    }

    pub fn parse(s: &str) -> Result<MediaType, ParseError> {
        const N: &str = "Content-Type";
        let s = trim_lws(s);
        let (t, r) = take_token(s).ok_or(err(N, "missing type"))?;
        let r = trim_start_lws(trim_start_lws(r).strip_prefix('/').ok_or(err(N, "expected '/'"))?);
        let (st, r) = take_token(r).ok_or(err(N, "missing subtype"))?;
        let params = parse_params(r).map_err(|r| err(N, r))?;
        Ok(MediaType { mtype: t.to_owned(), subtype: st.to_owned(), params })
    }

    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.mtype, self.subtype)?;
        write_params(f, &self.params)
    }
}

/// A token with parameters: Event, Session-Expires, Subscription-State, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenParams {
    pub value: String,
    pub params: Vec<Param>,
}

impl TokenParams {
    pub fn parse(name: &'static str, s: &str) -> Result<TokenParams, ParseError> {
        let s = trim_lws(s);
        let (t, r) = take_token(s).ok_or(err(name, "missing value"))?;
        let params = parse_params(r).map_err(|r| err(name, r))?;
        Ok(TokenParams { value: t.to_owned(), params })
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }
}

/// Session-Expires (RFC 4028).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionExpires {
    pub delta_seconds: u32,
    /// `uac` or `uas` when present.
    pub refresher: Option<String>,
}

/// Replaces (RFC 3891).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: String,
    pub to_tag: String,
    pub from_tag: String,
    pub early_only: bool,
}

fn validate_call_id(s: &str) -> Result<&str, ParseError> {
    let s = trim_lws(s);
    if s.is_empty() || s.bytes().any(|c| c <= b' ' || c == 0x7f) {
        return Err(err("Call-ID", "invalid Call-ID"));
    }
    Ok(s)
}

/// Typed accessors. Each returns `Err(ParseError::MissingHeader)` when a header
/// the caller asked for is absent, except `Option`-returning ones.
impl Headers {
    /// All Via values, top first.
    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        self.get_all(&HeaderName::Via).flat_map(split_list).map(Via::parse).collect()
    }

    /// The topmost Via, parsed without touching the others.
    pub fn top_via(&self) -> Result<Via, ParseError> {
        let line = self.get(&HeaderName::Via).ok_or(ParseError::MissingHeader("Via"))?;
        let first = split_list(line).next().unwrap_or_default();
        Via::parse(first)
    }

    pub fn from(&self) -> Result<NameAddr, ParseError> {
        let v = self.get(&HeaderName::From).ok_or(ParseError::MissingHeader("From"))?;
        NameAddr::parse_named("From", v)
    }

    pub fn to(&self) -> Result<NameAddr, ParseError> {
        let v = self.get(&HeaderName::To).ok_or(ParseError::MissingHeader("To"))?;
        NameAddr::parse_named("To", v)
    }

    pub fn call_id(&self) -> Result<&str, ParseError> {
        validate_call_id(self.get(&HeaderName::CallId).ok_or(ParseError::MissingHeader("Call-ID"))?)
    }

    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        CSeq::parse(self.get(&HeaderName::CSeq).ok_or(ParseError::MissingHeader("CSeq"))?)
    }

    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        match self.get(&HeaderName::MaxForwards) {
            None => Ok(None),
            Some(v) => {
                let n = parse_u32(v, "Max-Forwards")?;
                u8::try_from(n).map(Some).map_err(|_| err("Max-Forwards", "value above 255"))
            }
        }
    }

    /// All Contact values across lines.
    pub fn contacts(&self) -> Result<Vec<Contact>, ParseError> {
        self.get_all(&HeaderName::Contact).flat_map(split_list).map(Contact::parse).collect()
    }

    pub fn routes(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.get_all(&HeaderName::Route).flat_map(split_list).map(|v| NameAddr::parse_named("Route", v)).collect()
    }

    pub fn record_routes(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.get_all(&HeaderName::RecordRoute)
            .flat_map(split_list)
            .map(|v| NameAddr::parse_named("Record-Route", v))
            .collect()
    }

    pub fn content_type(&self) -> Result<Option<MediaType>, ParseError> {
        self.get(&HeaderName::ContentType).map(MediaType::parse).transpose()
    }

    /// The declared Content-Length, if any.
    pub fn content_length(&self) -> Result<Option<u32>, ParseError> {
        self.get(&HeaderName::ContentLength).map(|v| parse_u32(v, "Content-Length")).transpose()
    }

    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.get(&HeaderName::Expires).map(|v| parse_u32(v, "Expires")).transpose()
    }

    pub fn min_expires(&self) -> Result<Option<u32>, ParseError> {
        self.get(&HeaderName::MinExpires).map(|v| parse_u32(v, "Min-Expires")).transpose()
    }

    /// Option tags of a list header such as Supported, Require, Allow.
    pub fn tokens(&self, name: &HeaderName) -> Vec<&str> {
        let mut out = Vec::new();
        for h in self.iter().filter(|h| h.name == name) {
            out.extend(split_list(h.value).filter(|s| !s.is_empty()));
        }
        out
    }

    pub fn supported(&self) -> Vec<&str> {
        self.tokens(&HeaderName::Supported)
    }

    pub fn require(&self) -> Vec<&str> {
        self.tokens(&HeaderName::Require)
    }

    pub fn session_expires(&self) -> Result<Option<SessionExpires>, ParseError> {
        let Some(v) = self.get(&HeaderName::SessionExpires) else { return Ok(None) };
        let tp = TokenParams::parse("Session-Expires", v)?;
        Ok(Some(SessionExpires {
            delta_seconds: parse_u32(&tp.value, "Session-Expires")?,
            refresher: tp.param("refresher").and_then(|p| p.value.clone()),
        }))
    }

    pub fn refer_to(&self) -> Result<Option<NameAddr>, ParseError> {
        self.get(&HeaderName::ReferTo).map(|v| NameAddr::parse_named("Refer-To", v)).transpose()
    }

    pub fn replaces(&self) -> Result<Option<Replaces>, ParseError> {
        const N: &str = "Replaces";
        let Some(v) = self.get(&HeaderName::Replaces) else { return Ok(None) };
        let v = trim_lws(v);
        let end = v.find([';', ' ', '\t']).unwrap_or(v.len());
        let call_id = validate_call_id(&v[..end])?.to_owned();
        let params = parse_params(&v[end..]).map_err(|r| err(N, r))?;
        let get = |n: &str| find_param(&params, n).and_then(|p| p.value.clone()).ok_or(err(N, "missing tag"));
        Ok(Some(Replaces {
            call_id,
            to_tag: get("to-tag")?,
            from_tag: get("from-tag")?,
            early_only: find_param(&params, "early-only").is_some(),
        }))
    }

    pub fn event(&self) -> Result<Option<TokenParams>, ParseError> {
        self.get(&HeaderName::Event).map(|v| TokenParams::parse("Event", v)).transpose()
    }

    /// Raw WWW-Authenticate values; parse with [`crate::auth::Challenge::parse`].
    pub fn www_authenticate(&self) -> impl Iterator<Item = &str> {
        self.get_all(&HeaderName::WwwAuthenticate)
    }

    pub fn proxy_authenticate(&self) -> impl Iterator<Item = &str> {
        self.get_all(&HeaderName::ProxyAuthenticate)
    }

    pub fn authorization(&self) -> impl Iterator<Item = &str> {
        self.get_all(&HeaderName::Authorization)
    }

    pub fn proxy_authorization(&self) -> impl Iterator<Item = &str> {
        self.get_all(&HeaderName::ProxyAuthorization)
    }
}

/// The checks run at parse time on the core headers; they reject the RFC 4475
/// §3.1.2 messages and make later typed access infallible in practice.
pub(crate) fn validate_core(h: &Headers) -> Result<(), ParseError> {
    for hdr in h {
        match hdr.name {
            HeaderName::Via => {
                for v in split_list(hdr.value) {
                    Via::parse(v)?;
                }
            }
            HeaderName::From => {
                NameAddr::parse_named("From", hdr.value)?;
            }
            HeaderName::To => {
                NameAddr::parse_named("To", hdr.value)?;
            }
            HeaderName::CallId => {
                validate_call_id(hdr.value)?;
            }
            HeaderName::CSeq => {
                CSeq::parse(hdr.value)?;
            }
            HeaderName::MaxForwards => {
                let n = parse_u32(hdr.value, "Max-Forwards")?;
                if n > 255 {
                    return Err(err("Max-Forwards", "value above 255"));
                }
            }
            HeaderName::Contact => {
                for v in split_list(hdr.value) {
                    Contact::parse(v)?;
                }
            }
            HeaderName::Route | HeaderName::RecordRoute => {
                for v in split_list(hdr.value) {
                    NameAddr::parse_named("Route", v)?;
                }
            }
            HeaderName::ContentType => {
                MediaType::parse(hdr.value)?;
            }
            // RFC 3261 §20.17: the only time zone allowed is GMT (RFC 4475 baddate).
            HeaderName::Date if !trim_lws(hdr.value).ends_with(" GMT") => {
                return Err(err("Date", "time zone must be GMT"));
            }
            _ => {}
        }
    }
    Ok(())
}
