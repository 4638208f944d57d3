//! Header names (long and compact forms) and the ordered header list of a message.

use std::fmt;

macro_rules! header_names {
    ($( $variant:ident => $canon:literal $(, $compact:literal)? ;)*) => {
        /// A header field name. Known names are matched case-insensitively, including
        /// compact forms (RFC 3261 §7.3.3, RFC 3515, RFC 4028, RFC 6665, RFC 4474);
        /// anything else is kept as received in [`HeaderName::Other`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( $variant, )*
            /// An extension header, spelled as received.
            Other(String),
        }

        impl HeaderName {
            /// The canonical long form used when serializing.
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other(s) => s,
                }
            }

            /// Looks a name up; `s` must already be a valid token.
            pub fn from_name(s: &str) -> HeaderName {
                // `eq_ignore_ascii_case` compares lengths first, so the linear scan
                // costs little more than one length check per known name.
                $(
                    if s.eq_ignore_ascii_case($canon) $( || s.eq_ignore_ascii_case($compact) )? {
                        return HeaderName::$variant;
                    }
                )*
                HeaderName::Other(s.to_owned())
            }
        }
    };
}

header_names! {
    // Most frequent first: `from_name` tries them in this order.
    Via => "Via", "v";
    From => "From", "f";
    To => "To", "t";
    CallId => "Call-ID", "i";
    CSeq => "CSeq";
    Contact => "Contact", "m";
    MaxForwards => "Max-Forwards";
    ContentType => "Content-Type", "c";
    ContentLength => "Content-Length", "l";
    Route => "Route";
    RecordRoute => "Record-Route";
    Allow => "Allow";
    Supported => "Supported", "k";
    UserAgent => "User-Agent";
    Expires => "Expires";
    Accept => "Accept";
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    AlertInfo => "Alert-Info";
    AllowEvents => "Allow-Events", "u";
    AuthenticationInfo => "Authentication-Info";
    Authorization => "Authorization";
    CallInfo => "Call-Info";
    ContentDisposition => "Content-Disposition";
    ContentEncoding => "Content-Encoding", "e";
    ContentLanguage => "Content-Language";
    Date => "Date";
    ErrorInfo => "Error-Info";
    Event => "Event", "o";
    Identity => "Identity", "y";
    InReplyTo => "In-Reply-To";
    MimeVersion => "MIME-Version";
    MinExpires => "Min-Expires";
    MinSe => "Min-SE";
    Organization => "Organization";
    Priority => "Priority";
    ProxyAuthenticate => "Proxy-Authenticate";
    ProxyAuthorization => "Proxy-Authorization";
    ProxyRequire => "Proxy-Require";
    RAck => "RAck";
    Reason => "Reason";
    ReferTo => "Refer-To", "r";
    ReferredBy => "Referred-By", "b";
    Replaces => "Replaces";
    ReplyTo => "Reply-To";
    Require => "Require";
    RetryAfter => "Retry-After";
    RSeq => "RSeq";
    Server => "Server";
    SessionExpires => "Session-Expires", "x";
    Subject => "Subject", "s";
    SubscriptionState => "Subscription-State";
    Timestamp => "Timestamp";
    Unsupported => "Unsupported";
    Warning => "Warning";
    WwwAuthenticate => "WWW-Authenticate";
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header line as seen through [`Headers::iter`]: its name and its value
/// with line folding collapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a HeaderName,
    pub value: &'a str,
}

#[derive(Debug, Clone)]
struct Entry {
    name: HeaderName,
    start: usize,
    end: usize,
}

/// The headers of a message, in order of arrival. A header name may appear
/// several times (Via, Route, Record-Route, Contact, ...); a single line may also
/// carry several comma-separated values, which the typed accessors split.
///
/// Values live in one shared buffer (one allocation for all of them instead
/// of one per header: parsing speed, see `benches/parse.rs`).
#[derive(Debug, Clone, Default)]
pub struct Headers {
    buf: String,
    list: Vec<Entry>,
}

impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl Eq for Headers {}

impl Headers {
    pub fn new() -> Headers {
        Headers { buf: String::with_capacity(512), list: Vec::with_capacity(16) }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn value_of(&self, e: &Entry) -> &str {
        &self.buf[e.start..e.end]
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter { headers: self, inner: self.list.iter() }
    }

    fn store(&mut self, value: &str) -> (usize, usize) {
        let start = self.buf.len();
        self.buf.push_str(value);
        (start, self.buf.len())
    }

    /// Appends a header line.
    pub fn push(&mut self, name: HeaderName, value: impl AsRef<str>) {
        let (start, end) = self.store(value.as_ref());
        self.list.push(Entry { name, start, end });
    }

    /// Inserts a header line before all others (used for a new top Via).
    pub fn push_front(&mut self, name: HeaderName, value: impl AsRef<str>) {
        let (start, end) = self.store(value.as_ref());
        self.list.insert(0, Entry { name, start, end });
    }

    /// Replaces every line of `name` by one line with `value`, keeping the
    /// position of the first occurrence.
    pub fn set(&mut self, name: HeaderName, value: impl AsRef<str>) {
        let (start, end) = self.store(value.as_ref());
        match self.list.iter().position(|h| h.name == name) {
            Some(i) => {
                self.list[i].start = start;
                self.list[i].end = end;
                let mut seen = 0;
                self.list.retain(|h| {
                    if h.name == name {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => self.list.push(Entry { name, start, end }),
        }
    }

    pub fn remove(&mut self, name: &HeaderName) {
        self.list.retain(|h| &h.name != name);
    }

    /// The first line of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.list.iter().find(|h| &h.name == name).map(|h| self.value_of(h))
    }

    /// All lines of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.list.iter().filter(move |h| &h.name == name).map(|h| self.value_of(h))
    }

    /// An extension header by case-insensitive name.
    pub fn get_other(&self, name: &str) -> Option<&str> {
        self.list.iter().find(|h| h.name.as_str().eq_ignore_ascii_case(name)).map(|h| self.value_of(h))
    }

    pub fn count(&self, name: &HeaderName) -> usize {
        self.list.iter().filter(|h| &h.name == name).count()
    }
}

/// Iterator over [`Header`] views.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    headers: &'a Headers,
    inner: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Header<'a>;
    fn next(&mut self) -> Option<Header<'a>> {
        let e = self.inner.next()?;
        Some(Header { name: &e.name, value: self.headers.value_of(e) })
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = Header<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(HeaderName::from_name("v"), HeaderName::Via);
        assert_eq!(HeaderName::from_name("VIA"), HeaderName::Via);
        assert_eq!(HeaderName::from_name("call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::from_name("I"), HeaderName::CallId);
        assert_eq!(HeaderName::from_name("www-authenticate"), HeaderName::WwwAuthenticate);
        assert_eq!(HeaderName::from_name("Y"), HeaderName::Identity);
        assert_eq!(HeaderName::from_name("C%6Fntact"), HeaderName::Other("C%6Fntact".into()));
        assert_eq!(HeaderName::CallId.as_str(), "Call-ID");
    }
}
