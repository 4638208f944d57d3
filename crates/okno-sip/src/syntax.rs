//! Low-level lexical helpers shared by the SIP and SDP parsers (RFC 3261 §25.1).
//!
//! Everything here works on `&str` slices of an already unfolded header value and
//! returns `None`/`Err` instead of panicking: the input comes from the network.

/// `token` characters (RFC 3261 §25.1): alphanumerics and `-.!%*_+`'~`.
pub(crate) fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~')
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// `unreserved` = alphanum / mark.
pub(crate) fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')')
}

pub(crate) fn is_wsp(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Checks that every `%` in `s` starts a valid `escaped` triplet and that every
/// other byte satisfies `allowed`.
pub(crate) fn check_escaped(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok = b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
            if !ok {
                return false;
            }
            i += 3;
        } else if allowed(b[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// Decodes `%HH` escapes into bytes. Invalid escapes are kept literally, because
/// callers validate with [`check_escaped`] first where it matters.
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = (b[i + 1] as char).to_digit(16);
            let l = (b[i + 2] as char).to_digit(16);
            if let (Some(h), Some(l)) = (h, l) {
                // Two hex digits always fit in a byte.
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

pub(crate) fn trim_lws(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

pub(crate) fn trim_start_lws(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// Splits a header value on commas that are outside quoted strings and angle
/// brackets (RFC 3261 §7.3.1). Items are trimmed; empty items are yielded so that
/// callers can reject them (RFC 4475 `badinv01`).
pub(crate) fn split_list(s: &str) -> SplitList<'_> {
    SplitList { rest: Some(s) }
}

pub(crate) struct SplitList<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for SplitList<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let b = s.as_bytes();
        let mut in_quote = false;
        let mut in_angle = false;
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\\' if in_quote => i += 1,
                b'"' => in_quote = !in_quote,
                b'<' if !in_quote => in_angle = true,
                b'>' if !in_quote => in_angle = false,
                b',' if !in_quote && !in_angle => {
                    self.rest = Some(&s[i + 1..]);
                    return Some(trim_lws(&s[..i]));
                }
                _ => {}
            }
            i += 1;
        }
        self.rest = None;
        Some(trim_lws(s))
    }
}

/// Parses a quoted string starting at `s[0] == '"'`. Returns the unescaped content
/// and the remainder after the closing quote, or `None` if unterminated or if a
/// quoted-pair escapes CR or LF.
pub(crate) fn parse_quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, '"')) => {}
        _ => return None,
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\r' | '\n')) | None => return None,
                Some((_, e)) if e.is_ascii() => out.push(e),
                Some(_) => return None,
            },
            '\r' | '\n' => return None,
            c => out.push(c),
        }
    }
    None
}

/// Writes `s` as a quoted string, escaping `"` and `\`.
pub(crate) fn write_quoted(f: &mut impl core::fmt::Write, s: &str) -> core::fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_and_angles() {
        let v: Vec<_> = split_list(r#""a, b" <sip:x@y;p=1,2>, <sip:z>,"#).collect();
        assert_eq!(v, vec![r#""a, b" <sip:x@y;p=1,2>"#, "<sip:z>", ""]);
    }

    #[test]
    fn quoted_with_escapes() {
        let (s, rest) = parse_quoted(r#""J Rosenberg \\\"" <sip:x>"#).unwrap();
        assert_eq!(s, r#"J Rosenberg \""#);
        assert_eq!(rest, " <sip:x>");
        assert!(parse_quoted("\"unterminated").is_none());
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("null-%00-null"), b"null-\0-null");
        assert_eq!(percent_decode("%4"), b"%4");
        assert!(check_escaped("a%20b", is_unreserved));
        assert!(!check_escaped("a%2", is_unreserved));
    }
}
