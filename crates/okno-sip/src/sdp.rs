//! SDP (RFC 4566) parsing and serialization, and the offer/answer rules of
//! RFC 3264 that a softphone needs: building an offer from a codec preference
//! list, answering an offer, and putting a call on hold and back; and SDES (RFC 4568):
//! `a=crypto` lines, the `RTP/SAVP` profile and choosing a crypto suite in the answer.
//!
//! Lines this module does not interpret (`i=`, `u=`, `e=`, `b=`, `k=`, unknown
//! attributes, ...) are kept and written back unchanged.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};

/// Why an SDP body was rejected or an offer could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    #[error("SDP is not valid UTF-8")]
    NotUtf8,
    #[error("line {line}: {reason}")]
    InvalidLine { line: usize, reason: &'static str },
    #[error("missing mandatory {0}= line")]
    Missing(char),
    /// No offered stream has a codec in common with ours (answer with 488).
    #[error("no common codec in any offered stream")]
    NoCommonCodec,
    /// SRTP is required (by us, or by an `RTP/SAVP` offer) and no offered crypto suite is one
    /// we support, or we do not do SRTP (answer with 488).
    #[error("no acceptable SRTP crypto suite")]
    NoCommonCrypto,
    /// An `a=crypto` value that does not follow RFC 4568 §9.1.
    #[error("invalid a=crypto: {0}")]
    InvalidCrypto(&'static str),
}

/// `o=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: String,
    pub session_version: u64,
    pub net_type: String,
    pub addr_type: String,
    pub address: String,
}

/// `c=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub net_type: String,
    pub addr_type: String,
    pub address: String,
}

impl Connection {
    pub fn from_ip(ip: IpAddr) -> Connection {
        Connection {
            net_type: "IN".into(),
            addr_type: if ip.is_ipv4() { "IP4" } else { "IP6" }.into(),
            address: ip.to_string(),
        }
    }
}

/// `a=name[:value]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

impl Attribute {
    pub fn flag(name: &str) -> Attribute {
        Attribute { name: name.into(), value: None }
    }

    pub fn value(name: &str, value: impl Into<String>) -> Attribute {
        Attribute { name: name.into(), value: Some(value.into()) }
    }
}

/// Media direction attributes (RFC 3264 §5.1, §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn from_attr(s: &str) -> Option<Direction> {
        Some(match s {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    fn from_flags(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The direction an answerer may use given the offered one and what it
    /// wants itself (RFC 3264 §6.1): it sends only if the offerer receives.
    pub fn answer(offered: Direction, ours: Direction) -> Direction {
        Direction::from_flags(offered.receives() && ours.sends(), offered.sends() && ours.receives())
    }

    /// Putting the other side on hold stops our receiving (RFC 3264 §8.4):
    /// sendrecv → sendonly, recvonly → inactive.
    pub fn hold(self) -> Direction {
        Direction::from_flags(self.sends(), false)
    }

    /// Taking the call off hold: sendonly → sendrecv, inactive → recvonly.
    pub fn resume(self) -> Direction {
        Direction::from_flags(self.sends(), true)
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: String,
    pub port: u16,
    pub port_count: Option<u16>,
    pub proto: String,
    pub formats: Vec<String>,
    pub connection: Option<Connection>,
    /// `i=`, `b=`, `k=` lines of this section, kept in order.
    pub extra: Vec<(char, String)>,
    pub attributes: Vec<Attribute>,
}

/// `a=rtpmap` contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u8>,
}

impl Media {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Direction of this stream; sendrecv when none is given (RFC 3264 §5.1).
    pub fn direction(&self, session_default: Direction) -> Direction {
        self.attributes.iter().find_map(|a| Direction::from_attr(&a.name)).unwrap_or(session_default)
    }

    pub fn set_direction(&mut self, d: Direction) {
        self.attributes.retain(|a| Direction::from_attr(&a.name).is_none());
        self.attributes.push(Attribute::flag(d.as_str()));
    }

    /// All parseable `a=rtpmap` lines.
    pub fn rtpmaps(&self) -> Vec<RtpMap> {
        self.attributes
            .iter()
            .filter(|a| a.name == "rtpmap")
            .filter_map(|a| parse_rtpmap(a.value.as_deref()?))
            .collect()
    }

    /// The rtpmap for a payload type, or the static assignment of RFC 3551.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.rtpmaps().into_iter().find(|m| m.payload_type == pt).or_else(|| static_rtpmap(pt))
    }

    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attributes.iter().filter(|a| a.name == "fmtp").find_map(|a| {
            let v = a.value.as_deref()?;
            let (p, rest) = v.split_once(' ')?;
            (p.parse::<u8>().ok()? == pt).then_some(rest.trim())
        })
    }

    pub fn ptime(&self) -> Option<u32> {
        self.attribute("ptime")?.value.as_deref()?.trim().parse().ok()
    }

    /// `a=rtcp` port (RFC 3605), if any.
    pub fn rtcp_port(&self) -> Option<u16> {
        let v = self.attribute("rtcp")?.value.as_deref()?;
        v.split_whitespace().next()?.parse().ok()
    }

    /// Payload types listed on the m-line, in order.
    pub fn payload_types(&self) -> Vec<u8> {
        self.formats.iter().filter_map(|f| f.parse().ok()).collect()
    }
}

fn parse_rtpmap(v: &str) -> Option<RtpMap> {
    let (pt, rest) = v.split_once(' ')?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next()?.to_owned();
    let clock_rate = parts.next()?.parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.parse().ok()?),
        None => None,
    };
    Some(RtpMap { payload_type: pt.parse().ok()?, encoding, clock_rate, channels })
}

/// The static payload types a softphone meets (RFC 3551 table 4).
fn static_rtpmap(pt: u8) -> Option<RtpMap> {
    let (enc, rate) = match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        18 => ("G729", 8000),
        _ => return None,
    };
    Some(RtpMap { payload_type: pt, encoding: enc.into(), clock_rate: rate, channels: None })
}

/// A session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub origin: Origin,
    pub name: String,
    pub connection: Option<Connection>,
    /// `t=` start and stop.
    pub timing: (u64, u64),
    /// Other session-level lines (`i u e p b r z k`), kept in order.
    pub extra: Vec<(char, String)>,
    pub attributes: Vec<Attribute>,
    pub media: Vec<Media>,
}

fn bad(line: usize, reason: &'static str) -> SdpError {
    SdpError::InvalidLine { line, reason }
}

fn parse_origin(v: &str, n: usize) -> Result<Origin, SdpError> {
    let f: Vec<&str> = v.split(' ').collect();
    if f.len() != 6 {
        return Err(bad(n, "o= needs six fields"));
    }
    Ok(Origin {
        username: f[0].into(),
        session_id: f[1].into(),
        session_version: f[2].parse().map_err(|_| bad(n, "invalid session version"))?,
        net_type: f[3].into(),
        addr_type: f[4].into(),
        address: f[5].into(),
    })
}

fn parse_connection(v: &str, n: usize) -> Result<Connection, SdpError> {
    let f: Vec<&str> = v.split(' ').collect();
    if f.len() != 3 {
        return Err(bad(n, "c= needs three fields"));
    }
    Ok(Connection { net_type: f[0].into(), addr_type: f[1].into(), address: f[2].into() })
}

fn parse_attribute(v: &str) -> Attribute {
    match v.split_once(':') {
        Some((n, val)) => Attribute { name: n.into(), value: Some(val.into()) },
        None => Attribute { name: v.into(), value: None },
    }
}

fn parse_media(v: &str, n: usize) -> Result<Media, SdpError> {
    let f: Vec<&str> = v.split(' ').filter(|s| !s.is_empty()).collect();
    if f.len() < 3 {
        return Err(bad(n, "m= needs media, port and proto"));
    }
    let (port, count) = match f[1].split_once('/') {
        Some((p, c)) => (p, Some(c.parse().map_err(|_| bad(n, "invalid port count"))?)),
        None => (f[1], None),
    };
    Ok(Media {
        kind: f[0].into(),
        port: port.parse().map_err(|_| bad(n, "invalid port"))?,
        port_count: count,
        proto: f[2].into(),
        formats: f[3..].iter().map(|s| (*s).to_owned()).collect(),
        connection: None,
        extra: Vec::new(),
        attributes: Vec::new(),
    })
}

impl Session {
    pub fn parse(body: &[u8]) -> Result<Session, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
        let mut origin = None;
        let mut name = None;
        let mut timing = None;
        let mut connection = None;
        let mut extra = Vec::new();
        let mut attributes = Vec::new();
        let mut media: Vec<Media> = Vec::new();
        let mut seen_version = false;
        for (i, raw) in text.split('\n').enumerate() {
            let n = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.is_empty() {
                continue;
            }
            let b = line.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
                return Err(bad(n, "expected <letter>=<value>"));
            }
            let (kind, v) = (b[0] as char, &line[2..]);
            if !seen_version {
                if kind != 'v' || v != "0" {
                    return Err(bad(n, "first line must be v=0"));
                }
                seen_version = true;
                continue;
            }
            if let Some(m) = media.last_mut() {
                match kind {
                    'm' => media.push(parse_media(v, n)?),
                    'c' => m.connection = Some(parse_connection(v, n)?),
                    'a' => m.attributes.push(parse_attribute(v)),
                    'v' | 'o' | 's' | 't' => return Err(bad(n, "session line inside a media section")),
                    k => m.extra.push((k, v.to_owned())),
                }
                continue;
            }
            match kind {
                'o' => origin = Some(parse_origin(v, n)?),
                's' => name = Some(v.to_owned()),
                'c' => connection = Some(parse_connection(v, n)?),
                't' => {
                    let (a, b) = v.split_once(' ').ok_or(bad(n, "t= needs two fields"))?;
                    let p = |s: &str| s.parse::<u64>().map_err(|_| bad(n, "invalid time"));
                    // Only the first t= is kept; repeated ones are rare in telephony.
                    if timing.is_none() {
                        timing = Some((p(a)?, p(b)?));
                    }
                }
                'a' => attributes.push(parse_attribute(v)),
                'm' => media.push(parse_media(v, n)?),
                'v' => return Err(bad(n, "duplicate v= line")),
                k => extra.push((k, v.to_owned())),
            }
        }
        if !seen_version {
            return Err(SdpError::Missing('v'));
        }
        Ok(Session {
            origin: origin.ok_or(SdpError::Missing('o'))?,
            name: name.ok_or(SdpError::Missing('s'))?,
            connection,
            // RFC 3264 bodies from some gateways omit t=; treat it as "0 0".
            timing: timing.unwrap_or((0, 0)),
            extra,
            attributes,
            media,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Session-level direction default (sendrecv if absent).
    pub fn direction(&self) -> Direction {
        self.attributes.iter().find_map(|a| Direction::from_attr(&a.name)).unwrap_or(Direction::SendRecv)
    }

    /// The connection address for a media section (media-level overrides session).
    pub fn connection_for<'a>(&'a self, m: &'a Media) -> Option<&'a Connection> {
        m.connection.as_ref().or(self.connection.as_ref())
    }

    /// Increments `o=` version, required for every new offer in a dialog
    /// (RFC 3264 §8).
    pub fn bump_version(&mut self) {
        self.origin.session_version = self.origin.session_version.wrapping_add(1);
    }

    /// Puts every active stream on hold (new offer; caller bumps the version).
    pub fn hold(&mut self) {
        let d = self.direction();
        self.attributes.retain(|a| Direction::from_attr(&a.name).is_none());
        for m in self.media.iter_mut().filter(|m| m.port != 0) {
            let cur = m.direction(d);
            m.set_direction(cur.hold());
        }
    }

    /// Takes every stream off hold.
    pub fn resume(&mut self) {
        let d = self.direction();
        self.attributes.retain(|a| Direction::from_attr(&a.name).is_none());
        for m in self.media.iter_mut().filter(|m| m.port != 0) {
            let cur = m.direction(d);
            m.set_direction(cur.resume());
        }
    }
}

impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(
            f,
            "v=0\r\no={} {} {} {} {} {}\r\ns={}\r\n",
            o.username, o.session_id, o.session_version, o.net_type, o.addr_type, o.address, self.name
        )?;
        // RFC 4566 §5 order: v o s i u e p c b t r z k a m.
        for (k, v) in self.extra.iter().filter(|(k, _)| "iuep".contains(*k)) {
            write!(f, "{k}={v}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "c={} {} {}\r\n", c.net_type, c.addr_type, c.address)?;
        }
        for (k, v) in self.extra.iter().filter(|(k, _)| *k == 'b') {
            write!(f, "{k}={v}\r\n")?;
        }
        write!(f, "t={} {}\r\n", self.timing.0, self.timing.1)?;
        for (k, v) in self.extra.iter().filter(|(k, _)| !"iuepb".contains(*k)) {
            write!(f, "{k}={v}\r\n")?;
        }
        write_attrs(f, &self.attributes)?;
        for m in &self.media {
            write!(f, "m={} {}", m.kind, m.port)?;
            if let Some(c) = m.port_count {
                write!(f, "/{c}")?;
            }
            write!(f, " {}", m.proto)?;
            for fmt in &m.formats {
                write!(f, " {fmt}")?;
            }
            f.write_str("\r\n")?;
            for (k, v) in m.extra.iter().filter(|(k, _)| *k == 'i') {
                write!(f, "{k}={v}\r\n")?;
            }
            if let Some(c) = &m.connection {
                write!(f, "c={} {} {}\r\n", c.net_type, c.addr_type, c.address)?;
            }
            for (k, v) in m.extra.iter().filter(|(k, _)| *k != 'i') {
                write!(f, "{k}={v}\r\n")?;
            }
            write_attrs(f, &m.attributes)?;
        }
        Ok(())
    }
}

fn write_attrs(f: &mut fmt::Formatter<'_>, attrs: &[Attribute]) -> fmt::Result {
    for a in attrs {
        match &a.value {
            Some(v) => write!(f, "a={}:{v}\r\n", a.name)?,
            None => write!(f, "a={}\r\n", a.name)?,
        }
    }
    Ok(())
}

/// A codec we can use, in preference order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    pub payload_type: u8,
    pub name: String,
    pub clock_rate: u32,
    pub channels: Option<u8>,
    pub fmtp: Option<String>,
}

impl Codec {
    pub fn new(pt: u8, name: &str, clock_rate: u32, channels: Option<u8>, fmtp: Option<&str>) -> Codec {
        Codec { payload_type: pt, name: name.into(), clock_rate, channels, fmtp: fmtp.map(Into::into) }
    }

    /// RFC 4733 DTMF events; never counted as a voice codec in negotiation.
    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }

    fn matches(&self, m: &RtpMap) -> bool {
        self.name.eq_ignore_ascii_case(&m.encoding)
            && self.clock_rate == m.clock_rate
            && self.channels.unwrap_or(1) == m.channels.unwrap_or(1)
    }
}

/// Okno's default preference list: PCMU, PCMA, Opus, telephone-event.
pub fn default_codecs() -> Vec<Codec> {
    vec![
        Codec::new(0, "PCMU", 8000, None, None),
        Codec::new(8, "PCMA", 8000, None, None),
        Codec::new(111, "opus", 48000, Some(2), Some("minptime=10;useinbandfec=1")),
        Codec::new(101, "telephone-event", 8000, None, Some("0-16")),
    ]
}

/// What we offer or answer with for the audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    pub address: IpAddr,
    pub rtp_port: u16,
    pub codecs: Vec<Codec>,
    pub ptime: Option<u32>,
    pub direction: Direction,
    /// `o=` session id; the caller chooses it (no randomness in this crate).
    pub session_id: u64,
    /// Whether to offer or insist on SRTP.
    pub srtp: SrtpPolicy,
    /// Our `a=crypto` lines, one per suite we support, in preference order, each with a fresh
    /// key the caller drew. An offer lists them all; an answer uses the key of the suite it
    /// picks. Unused when `srtp` is off.
    pub crypto: Vec<Crypto>,
}

/// SRTP with SDES keys (RFC 4568) for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrtpPolicy {
    /// Plain RTP; an `RTP/SAVP` offer is refused.
    #[default]
    Off,
    /// Offer `a=crypto` on an `RTP/AVP` stream (best effort: a peer without SRTP ignores the
    /// lines and the call falls back to RTP); accept SRTP when offered.
    Offer,
    /// Offer `RTP/SAVP`; refuse an offer without a crypto suite we support.
    Require,
}

impl std::str::FromStr for SrtpPolicy {
    type Err = SdpError;

    fn from_str(s: &str) -> Result<SrtpPolicy, SdpError> {
        match s {
            "off" => Ok(SrtpPolicy::Off),
            "offer" => Ok(SrtpPolicy::Offer),
            "require" => Ok(SrtpPolicy::Require),
            _ => Err(SdpError::InvalidCrypto("the SRTP policy is one of off, offer, require")),
        }
    }
}

/// One key of an `a=crypto` line: `inline:<base64 key||salt>[|lifetime][|MKI:length]`.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptoKey {
    /// Master key then master salt, decoded.
    pub key_salt: Vec<u8>,
    /// As written: `2^31` or a decimal count of packets.
    pub lifetime: Option<String>,
    /// The MKI value and its length in bytes.
    pub mki: Option<(u64, u8)>,
}

impl fmt::Debug for CryptoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A secret: never printed or logged.
        f.debug_struct("CryptoKey")
            .field("key_salt", &format_args!("<{} bytes>", self.key_salt.len()))
            .field("lifetime", &self.lifetime)
            .field("mki", &self.mki)
            .finish()
    }
}

/// An `a=crypto` attribute (RFC 4568 §9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    /// The crypto suite's name, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub suite: String,
    pub keys: Vec<CryptoKey>,
    /// Session parameters (`UNENCRYPTED_SRTP`, `KDR=..`, ...), kept as written.
    pub session_params: Vec<String>,
}

impl Crypto {
    /// A line with one inline key and no lifetime or MKI.
    pub fn new(tag: u32, suite: &str, key_salt: Vec<u8>) -> Crypto {
        Crypto {
            tag,
            suite: suite.to_owned(),
            keys: vec![CryptoKey { key_salt, lifetime: None, mki: None }],
            session_params: Vec::new(),
        }
    }

    /// Parses the value after `a=crypto:`.
    pub fn parse(value: &str) -> Result<Crypto, SdpError> {
        let mut fields = value.split_whitespace();
        let tag = fields.next().ok_or(SdpError::InvalidCrypto("empty"))?;
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SdpError::InvalidCrypto("the tag is 1 to 9 digits"));
        }
        let tag = tag.parse().map_err(|_| SdpError::InvalidCrypto("the tag is 1 to 9 digits"))?;
        let suite = fields.next().ok_or(SdpError::InvalidCrypto("no crypto suite"))?;
        if !suite.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(SdpError::InvalidCrypto("bad crypto suite name"));
        }
        let params = fields.next().ok_or(SdpError::InvalidCrypto("no key parameters"))?;
        let keys = params.split(';').map(parse_key_param).collect::<Result<Vec<_>, _>>()?;
        Ok(Crypto { tag, suite: suite.to_owned(), keys, session_params: fields.map(str::to_owned).collect() })
    }

    /// The first key's material (the one SDES peers use).
    pub fn key_salt(&self) -> &[u8] {
        self.keys.first().map(|k| k.key_salt.as_slice()).unwrap_or_default()
    }
}

fn parse_key_param(p: &str) -> Result<CryptoKey, SdpError> {
    let info = p.strip_prefix("inline:").ok_or(SdpError::InvalidCrypto("only the inline key method exists"))?;
    let mut parts = info.split('|');
    let key_salt =
        base64_decode(parts.next().unwrap_or_default()).ok_or(SdpError::InvalidCrypto("key is not base64"))?;
    if key_salt.is_empty() {
        return Err(SdpError::InvalidCrypto("empty key"));
    }
    let (mut lifetime, mut mki) = (None, None);
    for part in parts {
        if let Some((value, len)) = part.split_once(':') {
            let value = value.parse().map_err(|_| SdpError::InvalidCrypto("bad MKI value"))?;
            let len =
                len.parse().ok().filter(|l| (1..=128).contains(l)).ok_or(SdpError::InvalidCrypto("bad MKI length"))?;
            if mki.replace((value, len)).is_some() {
                return Err(SdpError::InvalidCrypto("two MKIs"));
            }
        } else {
            let ok = match part.strip_prefix("2^") {
                Some(exp) => exp.parse::<u8>().is_ok(),
                None => part.parse::<u64>().is_ok(),
            };
            if !ok || lifetime.replace(part.to_owned()).is_some() {
                return Err(SdpError::InvalidCrypto("bad key lifetime"));
            }
        }
    }
    Ok(CryptoKey { key_salt, lifetime, mki })
}

impl fmt::Display for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.tag, self.suite)?;
        for (i, k) in self.keys.iter().enumerate() {
            let sep = if i == 0 { "" } else { ";" };
            write!(f, "{sep}inline:{}", base64_encode(&k.key_salt))?;
            if let Some(l) = &k.lifetime {
                write!(f, "|{l}")?;
            }
            if let Some((v, len)) = k.mki {
                write!(f, "|{v}:{len}")?;
            }
        }
        for p in &self.session_params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard alphabet; padding optional (some peers leave it out).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = BASE64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

impl Media {
    /// The parseable `a=crypto` lines, in order (a line we cannot read is skipped, as RFC 4568
    /// §7.1.1 has an answerer ignore what it does not understand).
    pub fn crypto(&self) -> Vec<Crypto> {
        self.attributes
            .iter()
            .filter(|a| a.name == "crypto")
            .filter_map(|a| Crypto::parse(a.value.as_deref()?).ok())
            .collect()
    }

    /// Whether the transport profile is SRTP with SDES (`RTP/SAVP`, `RTP/SAVPF`).
    pub fn is_savp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("RTP/SAVP") || self.proto.eq_ignore_ascii_case("RTP/SAVPF")
    }
}

/// The SRTP keys of a call: the suite both sides use, our key (we protect with it) and the
/// peer's (we unprotect with it). `Debug` hides the keys.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    pub suite: String,
    pub local: Vec<u8>,
    pub remote: Vec<u8>,
}

impl fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeys").field("suite", &self.suite).finish_non_exhaustive()
    }
}

/// The SRTP keys agreed for the first active audio stream, from our description (`local`,
/// offer or answer) and the peer's: the `a=crypto` pair with the same tag and suite.
/// `None`: the stream is plain RTP.
pub fn srtp_keys(local: &Session, remote: &Session) -> Option<SrtpKeys> {
    let index = remote.media.iter().position(|m| m.kind == "audio" && m.port != 0)?;
    let (lm, rm) = (local.media.get(index)?, &remote.media[index]);
    let ours = lm.crypto();
    rm.crypto().into_iter().find_map(|theirs| {
        let mine = ours.iter().find(|c| c.tag == theirs.tag && c.suite == theirs.suite)?;
        Some(SrtpKeys {
            suite: theirs.suite.clone(),
            local: mine.key_salt().to_vec(),
            remote: theirs.key_salt().to_vec(),
        })
    })
}

fn push_codec_attrs(m: &mut Media, c: &Codec, pt: u8) {
    let mut v = format!("{pt} {}/{}", c.name, c.clock_rate);
    if let Some(ch) = c.channels {
        let _ = write!(v, "/{ch}");
    }
    m.attributes.push(Attribute::value("rtpmap", v));
    if let Some(f) = &c.fmtp {
        m.attributes.push(Attribute::value("fmtp", format!("{pt} {f}")));
    }
}

fn audio_media(cfg: &MediaConfig, codecs: &[(Codec, u8)], dir: Direction) -> Media {
    let mut m = Media {
        kind: "audio".into(),
        port: cfg.rtp_port,
        port_count: None,
        proto: "RTP/AVP".into(),
        formats: codecs.iter().map(|(_, pt)| pt.to_string()).collect(),
        connection: None,
        extra: Vec::new(),
        attributes: Vec::new(),
    };
    for (c, pt) in codecs {
        push_codec_attrs(&mut m, c, *pt);
    }
    if let Some(p) = cfg.ptime {
        m.attributes.push(Attribute::value("ptime", p.to_string()));
    }
    m.set_direction(dir);
    m
}

fn base_session(cfg: &MediaConfig) -> Session {
    let c = Connection::from_ip(cfg.address);
    Session {
        origin: Origin {
            username: "okno".into(),
            session_id: cfg.session_id.to_string(),
            session_version: 1,
            net_type: c.net_type.clone(),
            addr_type: c.addr_type.clone(),
            address: c.address.clone(),
        },
        name: "-".into(),
        connection: Some(c),
        timing: (0, 0),
        extra: Vec::new(),
        attributes: Vec::new(),
        media: Vec::new(),
    }
}

/// Builds an offer with one audio stream listing `cfg.codecs` in order.
pub fn build_offer(cfg: &MediaConfig) -> Session {
    let mut s = base_session(cfg);
    let codecs: Vec<(Codec, u8)> = cfg.codecs.iter().map(|c| (c.clone(), c.payload_type)).collect();
    let mut m = audio_media(cfg, &codecs, cfg.direction);
    if cfg.srtp != SrtpPolicy::Off && !cfg.crypto.is_empty() {
        // `offer` keeps RTP/AVP so that a peer without SRTP still accepts the stream (and
        // ignores the a=crypto lines); `require` says SAVP and gets a 488 from such a peer.
        if cfg.srtp == SrtpPolicy::Require {
            m.proto = "RTP/SAVP".into();
        }
        for c in &cfg.crypto {
            m.attributes.push(Attribute::value("crypto", c.to_string()));
        }
    }
    s.media.push(m);
    s
}

/// The crypto line to answer an offered stream with: the first offered suite we have a key
/// for, with the offer's tag and our key (RFC 4568 §7.1.2). `Err` when the stream cannot be
/// accepted for lack of SRTP; `Ok(None)` for plain RTP.
fn answer_crypto(om: &Media, cfg: &MediaConfig) -> Result<Option<Crypto>, SdpError> {
    let chosen = if cfg.srtp == SrtpPolicy::Off {
        None
    } else {
        om.crypto().into_iter().find_map(|offered| {
            let ours = cfg.crypto.iter().find(|c| c.suite == offered.suite)?;
            Some(Crypto::new(offered.tag, &offered.suite, ours.key_salt().to_vec()))
        })
    };
    if chosen.is_none() && (om.is_savp() || cfg.srtp == SrtpPolicy::Require) {
        return Err(SdpError::NoCommonCrypto);
    }
    Ok(chosen)
}

/// Answers `offer` (RFC 3264 §6): the first audio stream with a common voice
/// codec is accepted, listing the common codecs in *our* preference order with
/// the offerer's payload type numbers; every other stream is rejected with port
/// 0. Fails with [`SdpError::NoCommonCodec`] when nothing can be accepted.
pub fn answer(offer: &Session, cfg: &MediaConfig) -> Result<Session, SdpError> {
    let mut s = base_session(cfg);
    let session_dir = offer.direction();
    let mut accepted = false;
    let mut crypto_refused = false;
    for om in &offer.media {
        let mut common = Vec::new();
        let mut crypto = None;
        if !accepted && om.kind == "audio" && om.port != 0 && om.proto.starts_with("RTP/") {
            match answer_crypto(om, cfg) {
                Ok(c) => crypto = c,
                Err(_) => {
                    crypto_refused = true;
                    reject_stream(&mut s, om);
                    continue;
                }
            }
            let maps: Vec<RtpMap> = om.payload_types().into_iter().filter_map(|pt| om.rtpmap(pt)).collect();
            for c in &cfg.codecs {
                if let Some(m) = maps.iter().find(|m| c.matches(m)) {
                    common.push((c.clone(), m.payload_type));
                }
            }
        }
        if common.iter().any(|(c, _)| !c.is_telephone_event()) {
            accepted = true;
            let dir = Direction::answer(om.direction(session_dir), cfg.direction);
            let mut m = audio_media(cfg, &common, dir);
            m.proto = om.proto.clone();
            if let Some(c) = crypto {
                m.attributes.push(Attribute::value("crypto", c.to_string()));
            }
            s.media.push(m);
        } else {
            reject_stream(&mut s, om);
        }
    }
    if !accepted {
        return Err(if crypto_refused { SdpError::NoCommonCrypto } else { SdpError::NoCommonCodec });
    }
    Ok(s)
}

/// A rejected stream: port 0, formats copied from the offer (RFC 3264 §6).
fn reject_stream(s: &mut Session, om: &Media) {
    s.media.push(Media {
        kind: om.kind.clone(),
        port: 0,
        port_count: None,
        proto: om.proto.clone(),
        formats: om.formats.clone(),
        connection: None,
        extra: Vec::new(),
        attributes: Vec::new(),
    });
}

/// What the media engine needs once offer and answer are known: where to send,
/// which codec, and which payload type carries RFC 4733 events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlan {
    /// The peer's RTP address (its `c=` and `m=` port).
    pub remote_rtp: SocketAddr,
    /// The peer's RTCP address: `a=rtcp` (RFC 3605) or the RTP port + 1.
    pub remote_rtcp: SocketAddr,
    /// The voice codec both sides send (the answer's first voice format, RFC 3264 §6.1).
    pub codec: RtpMap,
    /// The codec's `a=fmtp` parameters in the answer, if any.
    pub fmtp: Option<String>,
    /// Payload type of telephone-event, when both sides support it.
    pub telephone_event: Option<u8>,
    /// Packet time in ms (the answer's, else the offer's, else 20).
    pub ptime: u32,
    /// The direction of the answered stream as the answerer wrote it.
    pub direction: Direction,
}

/// Derives the media plan of the first active audio stream from the `answer` and the
/// peer's own description (`remote`: the offer when we answered, the answer when we offered).
pub fn media_plan(answer: &Session, remote: &Session) -> Result<MediaPlan, SdpError> {
    let (index, am) = answer
        .media
        .iter()
        .enumerate()
        .find(|(_, m)| m.kind == "audio" && m.port != 0)
        .ok_or(SdpError::NoCommonCodec)?;
    let rm = remote.media.get(index).filter(|m| m.port != 0).ok_or(SdpError::NoCommonCodec)?;
    let conn = remote.connection_for(rm).ok_or(SdpError::Missing('c'))?;
    let ip: IpAddr = conn
        .address
        .split('/')
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| SdpError::InvalidLine { line: 0, reason: "connection address is not an IP address" })?;
    let mut codec = None;
    let mut telephone_event = None;
    for pt in am.payload_types() {
        let Some(map) = am.rtpmap(pt) else { continue };
        if map.encoding.eq_ignore_ascii_case("telephone-event") {
            telephone_event.get_or_insert(pt);
        } else if codec.is_none() && !map.encoding.eq_ignore_ascii_case("CN") {
            codec = Some(map);
        }
    }
    let codec = codec.ok_or(SdpError::NoCommonCodec)?;
    let rtcp_port = rm.rtcp_port().unwrap_or(rm.port.wrapping_add(1));
    Ok(MediaPlan {
        remote_rtp: SocketAddr::new(ip, rm.port),
        remote_rtcp: SocketAddr::new(ip, rtcp_port),
        fmtp: am.fmtp(codec.payload_type).map(str::to_owned),
        codec,
        telephone_event,
        ptime: am.ptime().or_else(|| rm.ptime()).unwrap_or(20),
        direction: am.direction(answer.direction()),
    })
}

#[cfg(test)]
mod tests;
