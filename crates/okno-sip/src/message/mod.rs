//! SIP message parsing and serialization (RFC 3261 §7, §20, §25).
//!
//! [`Parser::parse_datagram`] handles one UDP datagram: a missing Content-Length
//! means "the rest of the datagram", a longer datagram is cut at Content-Length
//! and the extra octets are ignored (§18.3). [`Parser::parse_stream`] frames
//! messages on TCP/TLS, where Content-Length is mandatory and a short buffer means
//! "wait for more".
//!
//! Headers are stored as text (name + value with line folding collapsed) in
//! arrival order; unknown headers are kept verbatim. Typed views are in
//! [`typed`]. Serialization writes canonical long-form names and always a
//! Content-Length that matches the body.

pub mod call_info;
pub mod headers;
pub mod typed;

use std::borrow::Cow;
use std::fmt;

pub use call_info::CallInfo;
pub use headers::{Header, HeaderName, Headers};
pub use typed::{CSeq, Contact, MediaType, NameAddr, Replaces, SessionExpires, TokenParams, Transport, Via};

use crate::syntax::{is_token, is_token_char, is_wsp, trim_lws};
use crate::uri::Uri;

/// Why a message was rejected. A UA answers a request that fails with any of
/// these (except `Incomplete`) with `400 Bad Request`, or `505` for
/// [`ParseError::UnsupportedVersion`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("message of {size} bytes exceeds the limit of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("more than {max} header lines")]
    TooManyHeaders { max: usize },
    #[error("message head is not valid UTF-8")]
    NotUtf8,
    #[error("message is incomplete: no empty line after the headers")]
    Incomplete,
    #[error("invalid start line: {0}")]
    InvalidStartLine(&'static str),
    #[error("unsupported SIP version {0}")]
    UnsupportedVersion(String),
    #[error("invalid header line: {0}")]
    InvalidHeaderLine(&'static str),
    #[error("invalid {name} header: {reason}")]
    InvalidHeader { name: &'static str, reason: &'static str },
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("more than one {0} header")]
    DuplicateHeader(&'static str),
    #[error("Content-Length headers disagree")]
    ConflictingContentLength,
    #[error("Content-Length is required on stream transports")]
    MissingContentLength,
    #[error("Content-Length {declared} exceeds the {available} body bytes received")]
    BodyTruncated { declared: usize, available: usize },
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    #[error("invalid Request-URI: {0}")]
    InvalidRequestUri(&'static str),
}

impl ParseError {
    /// The status code a UAS should answer with when a request fails to parse.
    pub fn status_code(&self) -> u16 {
        match self {
            ParseError::UnsupportedVersion(_) => 505,
            ParseError::TooLarge { .. } => 513,
            _ => 400,
        }
    }
}

/// A request method. Methods are case-sensitive (RFC 3261 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Refer,
    Subscribe,
    Notify,
    Message,
    Prack,
    Publish,
    /// An extension method (RFC 4475 `intmeth`, `esc02`).
    Other(String),
}

impl Method {
    pub fn from_token(s: &str) -> Method {
        match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "REFER" => Method::Refer,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "MESSAGE" => Method::Message,
            "PRACK" => Method::Prack,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Refer => "REFER",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Message => "MESSAGE",
            Method::Prack => "PRACK",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

/// The default reason phrase for a status code (RFC 3261 §21).
pub fn default_reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        420 => "Bad Extension",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "",
    }
}

impl Request {
    pub fn new(method: Method, uri: impl Into<Uri>) -> Request {
        Request { method, uri: uri.into(), headers: Headers::new(), body: Vec::new() }
    }

    /// Serializes with canonical header names and a correct Content-Length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.uri.to_string().as_bytes());
        out.extend_from_slice(b" SIP/2.0\r\n");
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out
    }

    /// Checks what RFC 3261 §8.2 requires of a request beyond syntax: the
    /// mandatory headers, present exactly once (RFC 4475 `insuf`, `multi01`).
    pub fn validate(&self) -> Result<(), ParseError> {
        for (name, label) in [
            (HeaderName::To, "To"),
            (HeaderName::From, "From"),
            (HeaderName::CallId, "Call-ID"),
            (HeaderName::CSeq, "CSeq"),
        ] {
            match self.headers.count(&name) {
                0 => return Err(ParseError::MissingHeader(label)),
                1 => {}
                _ => return Err(ParseError::DuplicateHeader(label)),
            }
        }
        if self.headers.get(&HeaderName::Via).is_none() {
            return Err(ParseError::MissingHeader("Via"));
        }
        if self.headers.count(&HeaderName::MaxForwards) > 1 {
            return Err(ParseError::DuplicateHeader("Max-Forwards"));
        }
        Ok(())
    }
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response { status, reason: default_reason(status).to_owned(), headers: Headers::new(), body: Vec::new() }
    }

    /// Builds a response to `req` copying Via, From, To, Call-ID and CSeq
    /// (RFC 3261 §8.2.6.2). A To tag is added when `to_tag` is given and the
    /// request had none. A provisional (but not 100) or success response also
    /// carries the request's Record-Route (§12.1.1), so the proxies that asked
    /// to stay in the dialog's path stay there for the caller too.
    pub fn for_request(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
        let mut r = Response::new(status);
        let dialog_forming = (101..300).contains(&status);
        for h in &req.headers {
            match h.name {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    r.headers.push(h.name.clone(), h.value);
                }
                HeaderName::RecordRoute if dialog_forming => r.headers.push(h.name.clone(), h.value),
                HeaderName::To => {
                    match to_tag.and_then(|tag| Some((tag, NameAddr::parse_named("To", h.value).ok()?))) {
                        Some((tag, to)) if to.tag().is_none() => {
                            r.headers.push(HeaderName::To, to.with_tag(tag).to_string())
                        }
                        _ => r.headers.push(HeaderName::To, h.value),
                    }
                }
                _ => {}
            }
        }
        r
    }

    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        out.extend_from_slice(b"SIP/2.0 ");
        out.extend_from_slice(self.status.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out
    }
}

fn write_headers_and_body(out: &mut Vec<u8>, headers: &Headers, body: &[u8]) {
    for h in headers {
        if *h.name == HeaderName::ContentLength {
            continue;
        }
        out.extend_from_slice(h.name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

impl Message {
    /// Parses one datagram with the default limits.
    pub fn parse(buf: &[u8]) -> Result<Message, ParseError> {
        Parser::default().parse_datagram(buf)
    }

    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }

    pub fn body(&self) -> &[u8] {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }

    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }

    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        }
    }
}

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserConfig {
    /// Largest accepted message (head and body), in bytes.
    pub max_size: usize,
    /// Most header lines accepted.
    pub max_headers: usize,
}

impl Default for ParserConfig {
    fn default() -> ParserConfig {
        ParserConfig { max_size: 64 * 1024, max_headers: 256 }
    }
}

/// A configured message parser.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parser {
    pub config: ParserConfig,
}

/// Where the head ends: the index after the head's last line break, and where
/// the body starts.
fn find_head_end(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'\n') {
        let nl = i + off;
        match b.get(nl + 1) {
            Some(b'\n') => return Some((nl + 1, nl + 2)),
            Some(b'\r') if b.get(nl + 2) == Some(&b'\n') => return Some((nl + 1, nl + 3)),
            _ => {}
        }
        i = nl + 1;
    }
    None
}

/// A keep-alive ping on a SIP connection (RFC 5626 §4.4.1).
pub const KEEPALIVE_PING: &[u8] = b"\r\n\r\n";
/// The answer to a [`KEEPALIVE_PING`].
pub const KEEPALIVE_PONG: &[u8] = b"\r\n";

/// What a SIP connection's reader takes off the front of its buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    Message(Box<Message>),
    /// A keep-alive ping: answer with [`KEEPALIVE_PONG`].
    Ping,
    /// The answer to our ping.
    Pong,
}

impl Parser {
    pub fn new(config: ParserConfig) -> Parser {
        Parser { config }
    }

    /// Parses a whole UDP datagram (RFC 3261 §18.3).
    pub fn parse_datagram(&self, buf: &[u8]) -> Result<Message, ParseError> {
        if buf.len() > self.config.max_size {
            return Err(ParseError::TooLarge { size: buf.len(), max: self.config.max_size });
        }
        let buf = skip_leading_crlf(buf);
        let (head_end, body_start) = find_head_end(buf).ok_or(ParseError::Incomplete)?;
        let (mut msg, declared) = self.parse_head(&buf[..head_end])?;
        let available = buf.len() - body_start;
        let len = match declared {
            None => available,
            Some(d) if d > available => return Err(ParseError::BodyTruncated { declared: d, available }),
            Some(d) => d,
        };
        set_body(&mut msg, &buf[body_start..body_start + len]);
        Ok(msg)
    }

    /// Frames one message from the front of a stream buffer. `Ok(None)` means more
    /// bytes are needed; `Ok(Some((msg, n)))` consumed `n` bytes (including any
    /// keep-alive CRLFs before the message).
    pub fn parse_stream(&self, buf: &[u8]) -> Result<Option<(Message, usize)>, ParseError> {
        let skipped = buf.len() - skip_leading_crlf(buf).len();
        let rest = &buf[skipped..];
        let Some((head_end, body_start)) = find_head_end(rest) else {
            if rest.len() > self.config.max_size {
                return Err(ParseError::TooLarge { size: rest.len(), max: self.config.max_size });
            }
            return Ok(None);
        };
        let (mut msg, declared) = self.parse_head(&rest[..head_end])?;
        let len = declared.ok_or(ParseError::MissingContentLength)?;
        let total = body_start.saturating_add(len);
        if total > self.config.max_size {
            return Err(ParseError::TooLarge { size: total, max: self.config.max_size });
        }
        if rest.len() < total {
            return Ok(None);
        }
        set_body(&mut msg, &rest[body_start..total]);
        Ok(Some((msg, skipped + total)))
    }

    /// Like [`Parser::parse_stream`], but also tells keep-alives apart (RFC 5626 §3.5.1): a
    /// buffer holding only a double CRLF (or more line ends) is a ping the peer wants answered
    /// with [`KEEPALIVE_PONG`]; one holding a single CRLF is that pong. Line ends in front of a
    /// message are skipped as before. A ping split across two reads is taken for two pongs:
    /// left unanswered, its sender reconnects, which TCP's segmenting of four bytes makes rare.
    pub fn parse_stream_item(&self, buf: &[u8]) -> Result<Option<(StreamItem, usize)>, ParseError> {
        let line_ends = buf.len() - skip_leading_crlf(buf).len();
        if line_ends == buf.len() {
            return Ok(match buf {
                b"\r\n" => Some((StreamItem::Pong, 2)),
                _ if buf.starts_with(KEEPALIVE_PING) => Some((StreamItem::Ping, buf.len())),
                _ => None,
            });
        }
        Ok(self.parse_stream(buf)?.map(|(message, used)| (StreamItem::Message(Box::new(message)), used)))
    }

    /// Parses the start line and headers; returns the message with an empty body
    /// and the declared Content-Length.
    fn parse_head(&self, head: &[u8]) -> Result<(Message, Option<usize>), ParseError> {
        let head = std::str::from_utf8(head).map_err(|_| ParseError::NotUtf8)?;
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let start = lines.next().ok_or(ParseError::InvalidStartLine("empty"))?;
        let mut headers = Headers::new();
        let mut pending: Option<(&str, Cow<'_, str>)> = None;
        let mut count = 0usize;
        for line in lines {
            if line.is_empty() {
                continue; // the final line break of the head
            }
            if line.bytes().next().is_some_and(is_wsp) {
                // Line folding: the continuation joins the previous value with one SP.
                let (_, value) =
                    pending.as_mut().ok_or(ParseError::InvalidHeaderLine("continuation without header"))?;
                let cont = trim_lws(line);
                if !cont.is_empty() {
                    let v = value.to_mut();
                    if !v.is_empty() {
                        v.push(' ');
                    }
                    v.push_str(cont);
                }
                continue;
            }
            if let Some((name, value)) = pending.take() {
                headers.push(HeaderName::from_name(name), value);
            }
            count += 1;
            if count > self.config.max_headers {
                return Err(ParseError::TooManyHeaders { max: self.config.max_headers });
            }
            let colon = line.find(':').ok_or(ParseError::InvalidHeaderLine("missing ':'"))?;
            let name = trim_lws(&line[..colon]);
            if !is_token(name) {
                return Err(ParseError::InvalidHeaderLine("invalid header name"));
            }
            pending = Some((name, Cow::Borrowed(trim_lws(&line[colon + 1..]))));
        }
        if let Some((name, value)) = pending.take() {
            headers.push(HeaderName::from_name(name), value);
        }

        let mut declared: Option<u32> = None;
        for v in headers.get_all(&HeaderName::ContentLength) {
            let n = typed::parse_u32(v, "Content-Length")?;
            if declared.is_some_and(|d| d != n) {
                return Err(ParseError::ConflictingContentLength);
            }
            declared = Some(n);
        }
        // Start-line errors take precedence so that a UAS can answer 505 for an
        // unknown version (RFC 4475 badvers) rather than 400.
        let msg = if start.starts_with("SIP/") {
            Message::Response(parse_status_line(start, headers)?)
        } else {
            Message::Request(parse_request_line(start, headers)?)
        };
        typed::validate_core(msg.headers())?;
        if let Message::Request(req) = &msg
            && let Some(cseq) = req.headers.get(&HeaderName::CSeq)
            && CSeq::parse(cseq)?.method != req.method
        {
            return Err(ParseError::CSeqMethodMismatch);
        }
        Ok((msg, declared.map(|d| d as usize)))
    }
}

fn skip_leading_crlf(mut b: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = b {
        b = rest;
    }
    b
}

fn set_body(msg: &mut Message, body: &[u8]) {
    let b = match msg {
        Message::Request(r) => &mut r.body,
        Message::Response(r) => &mut r.body,
    };
    b.extend_from_slice(body);
}

fn check_version(v: &str) -> Result<(), ParseError> {
    if v == "SIP/2.0" {
        return Ok(());
    }
    // Byte-wise: `v` may hold multi-byte characters (found by fuzzing).
    let rest = match v.as_bytes().get(..4) {
        Some(p) if p.eq_ignore_ascii_case(b"SIP/") => &v[4..],
        _ => return Err(ParseError::InvalidStartLine("invalid SIP version")),
    };
    let ok_shape = rest.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
    });
    if ok_shape {
        if rest == "2.0" {
            return Ok(()); // "sip/2.0": the protocol name is case-insensitive
        }
        return Err(ParseError::UnsupportedVersion(v.to_owned()));
    }
    Err(ParseError::InvalidStartLine("invalid SIP version"))
}

/// `Method SP Request-URI SP SIP-Version`, with exactly one SP between elements
/// (RFC 4475 lwsstart, trws, lwsruri are rejected).
fn parse_request_line(line: &str, headers: Headers) -> Result<Request, ParseError> {
    let (method, rest) = line.split_once(' ').ok_or(ParseError::InvalidStartLine("missing Request-URI"))?;
    let (uri, version) = rest.rsplit_once(' ').ok_or(ParseError::InvalidStartLine("missing SIP version"))?;
    if !method.bytes().all(is_token_char) || method.is_empty() {
        return Err(ParseError::InvalidStartLine("invalid method"));
    }
    check_version(version)?;
    if uri.is_empty() || uri.bytes().any(|c| c == b' ' || c == b'\t') {
        return Err(ParseError::InvalidRequestUri("whitespace in Request-URI"));
    }
    let uri = Uri::parse(uri).map_err(|_| ParseError::InvalidRequestUri("malformed URI"))?;
    if matches!(&uri, Uri::Sip(u) if !u.headers.is_empty()) {
        // RFC 3261 §19.1.1: headers are not allowed in a Request-URI (RFC 4475 escruri).
        return Err(ParseError::InvalidRequestUri("headers in Request-URI"));
    }
    Ok(Request { method: Method::from_token(method), uri, headers, body: Vec::new() })
}

/// `SIP-Version SP Status-Code SP Reason-Phrase`; a missing reason is accepted.
fn parse_status_line(line: &str, headers: Headers) -> Result<Response, ParseError> {
    let (version, rest) = line.split_once(' ').ok_or(ParseError::InvalidStartLine("missing status code"))?;
    check_version(version)?;
    let (code, reason) = match rest.split_once(' ') {
        Some((c, r)) => (c, r),
        None => (rest, ""),
    };
    if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::InvalidStartLine("status code must be three digits"));
    }
    let status: u16 = code.parse().map_err(|_| ParseError::InvalidStartLine("invalid status code"))?;
    if !(100..=699).contains(&status) {
        return Err(ParseError::InvalidStartLine("status code out of range"));
    }
    if reason.bytes().any(|c| c < b' ' && c != b'\t') {
        return Err(ParseError::InvalidStartLine("control character in reason phrase"));
    }
    Ok(Response { status, reason: reason.to_owned(), headers, body: Vec::new() })
}

#[cfg(test)]
mod tests;
