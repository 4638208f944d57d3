//! URIs used in SIP: `sip:`/`sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any
//! other absolute URI kept opaque (RFC 4475 `novelsc`, `unkscm`).
//!
//! Escaped characters are kept as they arrived (`%41` stays `%41`) so that a URI
//! re-serializes byte-for-byte; [`crate::syntax::percent_decode`] gives the
//! decoded form when an application needs to compare user parts.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::syntax::{check_escaped, is_token_char, is_unreserved, percent_decode};

/// Why a URI did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    #[error("URI has no scheme")]
    NoScheme,
    #[error("invalid character or escape in URI {0}")]
    InvalidPart(&'static str),
    #[error("invalid host")]
    InvalidHost,
    #[error("invalid port")]
    InvalidPort,
}

/// A host: domain name, IPv4 address or IPv6 reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Domain(String),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl Host {
    /// Parses `example.com`, `192.0.2.1` or `[2001:db8::1]`.
    pub fn parse(s: &str) -> Result<Host, UriError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(UriError::InvalidHost)?;
            return inner.parse().map(Host::Ipv6).map_err(|_| UriError::InvalidHost);
        }
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_') {
            return Err(UriError::InvalidHost);
        }
        if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
            return s.parse().map(Host::Ipv4).map_err(|_| UriError::InvalidHost);
        }
        Ok(Host::Domain(s.to_owned()))
    }

    /// Domain names compare case-insensitively (RFC 3261 §19.1.4).
    pub fn eq_ignore_case(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            _ => self == other,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Splits `host[:port]`, handling IPv6 references.
pub(crate) fn parse_host_port(s: &str) -> Result<(Host, Option<u16>), UriError> {
    let (host, port) = if s.starts_with('[') {
        let end = s.find(']').ok_or(UriError::InvalidHost)?;
        let (h, rest) = s.split_at(end + 1);
        match rest.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if rest.is_empty() => (h, None),
            None => return Err(UriError::InvalidHost),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(UriError::InvalidPort);
            }
            Some(p.parse().map_err(|_| UriError::InvalidPort)?)
        }
        None => None,
    };
    Ok((Host::parse(host)?, port))
}

/// A `name[=value]` parameter. The value is stored as received (a quoted value
/// keeps its quotes) so that it re-serializes unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

impl Param {
    pub fn new(name: impl Into<String>, value: Option<impl Into<String>>) -> Param {
        Param { name: name.into(), value: value.map(Into::into) }
    }

    /// The value with surrounding quotes and quoted-pair escapes removed.
    pub fn unquoted_value(&self) -> Option<String> {
        let v = self.value.as_deref()?;
        if v.starts_with('"') { crate::syntax::parse_quoted(v).map(|(s, _)| s) } else { Some(v.to_owned()) }
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(v) = &self.value {
            write!(f, "={v}")?;
        }
        Ok(())
    }
}

/// Finds a parameter by case-insensitive name (parameter names are
/// case-insensitive in SIP).
pub fn find_param<'a>(params: &'a [Param], name: &str) -> Option<&'a Param> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub secure: bool,
    /// User part, still escaped.
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Vec<Param>,
    /// `?name=value&...` headers, still escaped.
    pub headers: Vec<(String, String)>,
}

impl SipUri {
    pub fn new(host: Host) -> SipUri {
        SipUri { secure: false, user: None, password: None, host, port: None, params: Vec::new(), headers: Vec::new() }
    }

    pub fn with_user(mut self, user: impl Into<String>) -> SipUri {
        self.user = Some(user.into());
        self
    }

    pub fn with_port(mut self, port: u16) -> SipUri {
        self.port = Some(port);
        self
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    /// The user part with escapes decoded (RFC 4475 `esc01`, `escnull`).
    pub fn user_decoded(&self) -> Option<Vec<u8>> {
        self.user.as_deref().map(percent_decode)
    }

    /// `lr` parameter present: a loose router (RFC 3261 §16.12.1.1).
    pub fn is_loose_router(&self) -> bool {
        self.param("lr").is_some()
    }

    fn parse_after_scheme(secure: bool, s: &str) -> Result<SipUri, UriError> {
        let (userinfo, rest) = match s.find('@') {
            Some(at) => (Some(&s[..at]), &s[at + 1..]),
            None => (None, s),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match ui.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (ui, None),
                };
                if u.is_empty() || !check_escaped(u, is_user_char) {
                    return Err(UriError::InvalidPart("user"));
                }
                if let Some(p) = p
                    && !check_escaped(p, is_password_char)
                {
                    return Err(UriError::InvalidPart("password"));
                }
                (Some(u.to_owned()), p.map(str::to_owned))
            }
        };
        let hp_end = rest.find([';', '?']).unwrap_or(rest.len());
        let (host, port) = parse_host_port(&rest[..hp_end])?;
        let mut rest = &rest[hp_end..];
        let mut params = Vec::new();
        while let Some(r) = rest.strip_prefix(';') {
            let end = r.find([';', '?']).unwrap_or(r.len());
            let p = &r[..end];
            let (name, value) = match p.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            };
            if name.is_empty() || !check_escaped(name, is_param_char) {
                return Err(UriError::InvalidPart("parameter"));
            }
            if let Some(v) = value
                && (v.is_empty() || !check_escaped(v, is_param_char))
            {
                return Err(UriError::InvalidPart("parameter"));
            }
            params.push(Param { name: name.to_owned(), value: value.map(str::to_owned) });
            rest = &r[end..];
        }
        let mut headers = Vec::new();
        if let Some(h) = rest.strip_prefix('?') {
            for pair in h.split('&') {
                let (n, v) = pair.split_once('=').ok_or(UriError::InvalidPart("header"))?;
                if n.is_empty() || !check_escaped(n, is_hchar) || !check_escaped(v, is_hchar) {
                    return Err(UriError::InvalidPart("header"));
                }
                headers.push((n.to_owned(), v.to_owned()));
            }
        } else if !rest.is_empty() {
            return Err(UriError::InvalidPart("host"));
        }
        Ok(SipUri { secure, user, password, host, port, params, headers })
    }
}

fn is_user_char(c: u8) -> bool {
    is_unreserved(c) || matches!(c, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

fn is_password_char(c: u8) -> bool {
    is_unreserved(c) || matches!(c, b'&' | b'=' | b'+' | b'$' | b',')
}

fn is_param_char(c: u8) -> bool {
    is_unreserved(c) || matches!(c, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

fn is_hchar(c: u8) -> bool {
    is_unreserved(c) || matches!(c, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        for p in &self.params {
            write!(f, ";{p}")?;
        }
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

/// A `tel:` URI (RFC 3966), kept as number plus parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    pub number: String,
    pub params: Vec<Param>,
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}", self.number)?;
        for p in &self.params {
            write!(f, ";{p}")?;
        }
        Ok(())
    }
}

/// Any URI that may appear in a Request-URI or a name-addr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    Tel(TelUri),
    /// Another scheme, kept opaque: `scheme` and everything after the colon.
    Other {
        scheme: String,
        rest: String,
    },
}

impl Uri {
    /// Parses a URI with no surrounding whitespace or angle brackets.
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        let (scheme, rest) = s.split_once(':').ok_or(UriError::NoScheme)?;
        let sb = scheme.as_bytes();
        if sb.is_empty()
            || !sb[0].is_ascii_alphabetic()
            || !sb.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        {
            return Err(UriError::NoScheme);
        }
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse_after_scheme(false, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_after_scheme(true, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            let mut parts = rest.split(';');
            let number = parts.next().unwrap_or_default();
            let ok_num = |c: u8| c.is_ascii_hexdigit() || matches!(c, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#');
            if number.is_empty() || !number.bytes().all(ok_num) {
                return Err(UriError::InvalidPart("telephone number"));
            }
            let mut params = Vec::new();
            for p in parts {
                let (n, v) = match p.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (p, None),
                };
                if n.is_empty() || !n.bytes().all(is_token_char) {
                    return Err(UriError::InvalidPart("parameter"));
                }
                if let Some(v) = v
                    && !check_escaped(v, is_param_char)
                {
                    return Err(UriError::InvalidPart("parameter"));
                }
                params.push(Param { name: n.to_owned(), value: v.map(str::to_owned) });
            }
            Ok(Uri::Tel(TelUri { number: number.to_owned(), params }))
        } else {
            // absoluteURI: only reject what can never be part of one.
            if rest.bytes().any(|c| c <= b' ' || c == b'<' || c == b'>' || c == b'"' || c >= 0x7f) {
                return Err(UriError::InvalidPart("opaque part"));
            }
            Ok(Uri::Other { scheme: scheme.to_owned(), rest: rest.to_owned() })
        }
    }

    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// True when this URI could not be written in addr-spec form without angle
    /// brackets (RFC 3261 §20: it contains `,`, `;` or `?`).
    pub fn needs_angle_brackets(&self) -> bool {
        match self {
            Uri::Sip(u) => {
                !u.params.is_empty()
                    || !u.headers.is_empty()
                    || u.user.as_deref().is_some_and(|s| s.contains([',', ';', '?']))
            }
            Uri::Tel(t) => !t.params.is_empty(),
            Uri::Other { rest, .. } => rest.contains([',', ';', '?']),
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(t) => t.fmt(f),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

impl From<SipUri> for Uri {
    fn from(u: SipUri) -> Uri {
        Uri::Sip(u)
    }
}

impl std::str::FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Uri, UriError> {
        Uri::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s).unwrap() {
            Uri::Sip(u) => u,
            other => panic!("not sip: {other:?}"),
        }
    }

    #[test]
    fn basic_and_roundtrip() {
        for s in [
            "sip:alice@atlanta.example.com",
            "sips:bob:secret@[2001:db8::1]:5061;transport=tls;lr?Subject=hi&X=y",
            "sip:192.0.2.1:5060",
            "tel:+1-201-555-0123;phone-context=example.com",
            "urn:service:sos",
        ] {
            assert_eq!(Uri::parse(s).unwrap().to_string(), s);
        }
        let u = sip("sips:bob:secret@[2001:db8::1]:5061;transport=tls;lr?Subject=hi");
        assert!(u.secure);
        assert_eq!(u.host, Host::Ipv6("2001:db8::1".parse().unwrap()));
        assert_eq!(u.port, Some(5061));
        assert!(u.is_loose_router());
        assert_eq!(u.param("TRANSPORT").unwrap().value.as_deref(), Some("tls"));
    }

    #[test]
    fn torture_users() {
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(u.user.as_deref(), Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"));
        assert_eq!(u.password.as_deref(), Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"));
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user_decoded().unwrap(), b"user;par=u@example.net");
        let u = sip("sip:%00%00@host5.example.com");
        assert_eq!(u.user_decoded().unwrap(), b"\0\0");
    }

    #[test]
    fn rejects() {
        for s in
            ["<sip:a@b>", " sip:a@b", "sip:a b@c", "sip:a@b:99999", "sip:a@[::1", "sip:a%zz@b", "sip:a@b;", "sip:", "x"]
        {
            assert!(Uri::parse(s).is_err(), "{s}");
        }
    }
}
