//! HTTP Digest authentication as used by SIP (RFC 3261 §22, RFC 2617, RFC 7616,
//! RFC 8760): parse `WWW-Authenticate` / `Proxy-Authenticate` challenges and
//! compute the matching `Authorization` / `Proxy-Authorization` value.
//!
//! The client nonce is supplied by the caller: this crate holds no random
//! number generator, which keeps every computation reproducible in tests.

use std::fmt::{self, Write as _};

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

use crate::syntax::{is_token_char, parse_quoted, trim_lws, trim_start_lws, write_quoted};

/// Why a challenge could not be parsed or answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("authentication scheme {0} is not Digest")]
    NotDigest(String),
    #[error("malformed authentication header: {0}")]
    Malformed(&'static str),
    #[error("missing {0} parameter")]
    MissingParam(&'static str),
    #[error("unsupported digest algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("challenge offers no supported qop")]
    UnsupportedQop,
}

/// Digest hash algorithms (RFC 7616 §3.2, RFC 8760 for SIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
    Sha512_256,
    Sha512_256Sess,
}

impl Algorithm {
    pub fn parse(s: &str) -> Result<Algorithm, AuthError> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "MD5" => Algorithm::Md5,
            "MD5-SESS" => Algorithm::Md5Sess,
            "SHA-256" => Algorithm::Sha256,
            "SHA-256-SESS" => Algorithm::Sha256Sess,
            "SHA-512-256" => Algorithm::Sha512_256,
            "SHA-512-256-SESS" => Algorithm::Sha512_256Sess,
            _ => return Err(AuthError::UnsupportedAlgorithm(s.to_owned())),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess)
    }

    /// Lowercase hex of the hash of `data`.
    pub fn hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => to_hex(&Md5::digest(data)),
            Algorithm::Sha256 | Algorithm::Sha256Sess => to_hex(&Sha256::digest(data)),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => to_hex(&Sha512_256::digest(data)),
        }
    }
}

fn to_hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        // Writing to a String cannot fail.
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// `scheme param=value, param="quoted", ...` as in challenges and credentials.
fn parse_auth_params(s: &str) -> Result<(String, Vec<(String, String)>), AuthError> {
    let s = trim_lws(s);
    let n = s.bytes().take_while(|&c| is_token_char(c)).count();
    if n == 0 {
        return Err(AuthError::Malformed("missing scheme"));
    }
    let scheme = s[..n].to_owned();
    let mut rest = trim_start_lws(&s[n..]);
    let mut params = Vec::new();
    while !rest.is_empty() {
        let k = rest.bytes().take_while(|&c| is_token_char(c)).count();
        if k == 0 {
            return Err(AuthError::Malformed("expected parameter name"));
        }
        let name = rest[..k].to_ascii_lowercase();
        rest = trim_start_lws(&rest[k..]);
        rest = trim_start_lws(rest.strip_prefix('=').ok_or(AuthError::Malformed("expected '='"))?);
        let value;
        if rest.starts_with('"') {
            let (v, r) = parse_quoted(rest).ok_or(AuthError::Malformed("unterminated quoted string"))?;
            value = v;
            rest = r;
        } else {
            // token in the grammar; real servers also send unquoted base64
            // nonces, so accept any visible ASCII except ',' and '"'.
            let m = rest.bytes().take_while(|&c| c.is_ascii_graphic() && c != b',' && c != b'"').count();
            if m == 0 {
                return Err(AuthError::Malformed("empty parameter value"));
            }
            value = rest[..m].to_owned();
            rest = &rest[m..];
        }
        params.push((name, value));
        rest = trim_start_lws(rest);
        if let Some(r) = rest.strip_prefix(',') {
            rest = trim_start_lws(r);
        } else if !rest.is_empty() {
            return Err(AuthError::Malformed("expected ',' between parameters"));
        }
    }
    Ok((scheme, params))
}

fn take(params: &[(String, String)], name: &str) -> Option<String> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

/// A parsed Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// qop options offered (`auth`, `auth-int`); empty for RFC 2069 style.
    pub qop: Vec<String>,
    pub stale: bool,
    /// RFC 7616 `userhash=true`.
    pub userhash: bool,
}

impl Challenge {
    /// Parses one WWW-Authenticate or Proxy-Authenticate value.
    pub fn parse(s: &str) -> Result<Challenge, AuthError> {
        let (scheme, params) = parse_auth_params(s)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::NotDigest(scheme));
        }
        let algorithm = match take(&params, "algorithm") {
            Some(a) => Algorithm::parse(&a)?,
            None => Algorithm::Md5,
        };
        Ok(Challenge {
            realm: take(&params, "realm").ok_or(AuthError::MissingParam("realm"))?,
            nonce: take(&params, "nonce").ok_or(AuthError::MissingParam("nonce"))?,
            opaque: take(&params, "opaque"),
            algorithm,
            qop: take(&params, "qop")
                .map(|q| q.split(',').map(|s| trim_lws(s).to_owned()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
            stale: take(&params, "stale").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            userhash: take(&params, "userhash").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }
}

/// Username and password for a realm.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password (STYLE: no secrets in logs).
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// The value of an Authorization or Proxy-Authorization header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub opaque: Option<String>,
    /// `(qop, cnonce, nc)` when the challenge asked for qop.
    pub qop: Option<(String, String, u32)>,
    pub userhash: bool,
}

impl Authorization {
    /// Parses a credentials value (for servers and tests).
    pub fn parse(s: &str) -> Result<Authorization, AuthError> {
        let (scheme, p) = parse_auth_params(s)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::NotDigest(scheme));
        }
        let qop = match take(&p, "qop") {
            Some(q) => {
                let cnonce = take(&p, "cnonce").ok_or(AuthError::MissingParam("cnonce"))?;
                let nc = take(&p, "nc").ok_or(AuthError::MissingParam("nc"))?;
                let nc = u32::from_str_radix(&nc, 16).map_err(|_| AuthError::Malformed("nc"))?;
                Some((q, cnonce, nc))
            }
            None => None,
        };
        Ok(Authorization {
            username: take(&p, "username").ok_or(AuthError::MissingParam("username"))?,
            realm: take(&p, "realm").ok_or(AuthError::MissingParam("realm"))?,
            nonce: take(&p, "nonce").ok_or(AuthError::MissingParam("nonce"))?,
            uri: take(&p, "uri").ok_or(AuthError::MissingParam("uri"))?,
            response: take(&p, "response").ok_or(AuthError::MissingParam("response"))?,
            algorithm: match take(&p, "algorithm") {
                Some(a) => Algorithm::parse(&a)?,
                None => Algorithm::Md5,
            },
            opaque: take(&p, "opaque"),
            qop,
            userhash: take(&p, "userhash").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest username=")?;
        write_quoted(f, &self.username)?;
        f.write_str(", realm=")?;
        write_quoted(f, &self.realm)?;
        f.write_str(", nonce=")?;
        write_quoted(f, &self.nonce)?;
        f.write_str(", uri=")?;
        write_quoted(f, &self.uri)?;
        f.write_str(", response=")?;
        write_quoted(f, &self.response)?;
        write!(f, ", algorithm={}", self.algorithm.as_str())?;
        if let Some(o) = &self.opaque {
            f.write_str(", opaque=")?;
            write_quoted(f, o)?;
        }
        if let Some((qop, cnonce, nc)) = &self.qop {
            write!(f, ", qop={qop}, nc={nc:08x}, cnonce=")?;
            write_quoted(f, cnonce)?;
        }
        if self.userhash {
            f.write_str(", userhash=true")?;
        }
        Ok(())
    }
}

/// Computes the credentials answering `ch` for a request with `method` and
/// Request-URI `uri`. `cnonce` and `nc` (the nonce count, starting at 1 for each
/// new nonce) come from the caller. `qop=auth` is used when offered; `auth-int`
/// alone is answered with the body hash.
pub fn authorize(
    ch: &Challenge,
    creds: &Credentials,
    method: &str,
    uri: &str,
    body: &[u8],
    cnonce: &str,
    nc: u32,
) -> Result<Authorization, AuthError> {
    let alg = ch.algorithm;
    let qop = if ch.qop.is_empty() {
        None
    } else if ch.qop.iter().any(|q| q.eq_ignore_ascii_case("auth")) {
        Some("auth")
    } else if ch.qop.iter().any(|q| q.eq_ignore_ascii_case("auth-int")) {
        Some("auth-int")
    } else {
        return Err(AuthError::UnsupportedQop);
    };
    let mut ha1 = alg.hex(format!("{}:{}:{}", creds.username, ch.realm, creds.password).as_bytes());
    if alg.is_sess() {
        ha1 = alg.hex(format!("{ha1}:{}:{cnonce}", ch.nonce).as_bytes());
    }
    let ha2 = match qop {
        Some("auth-int") => alg.hex(format!("{method}:{uri}:{}", alg.hex(body)).as_bytes()),
        _ => alg.hex(format!("{method}:{uri}").as_bytes()),
    };
    let response = match qop {
        Some(q) => alg.hex(format!("{ha1}:{}:{nc:08x}:{cnonce}:{q}:{ha2}", ch.nonce).as_bytes()),
        None => alg.hex(format!("{ha1}:{}:{ha2}", ch.nonce).as_bytes()),
    };
    let username = if ch.userhash {
        alg.hex(format!("{}:{}", creds.username, ch.realm).as_bytes())
    } else {
        creds.username.clone()
    };
    Ok(Authorization {
        username,
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri: uri.to_owned(),
        response,
        algorithm: alg,
        opaque: ch.opaque.clone(),
        qop: qop.map(|q| (q.to_owned(), cnonce.to_owned(), nc)),
        userhash: ch.userhash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mufasa(pw: &str) -> Credentials {
        Credentials { username: "Mufasa".into(), password: pw.into() }
    }

    /// RFC 7616 §3.9.1, MD5 and SHA-256 with qop=auth.
    #[test]
    fn rfc7616_vectors() {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        for (alg, expected) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ] {
            let hdr = format!(
                "Digest\r\n realm=\"http-auth@example.org\",\r\n qop=\"auth, auth-int\", algorithm={alg},\r\n nonce=\"{nonce}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            )
            .replace("\r\n", "");
            let ch = Challenge::parse(&hdr).unwrap();
            assert_eq!(ch.qop, vec!["auth", "auth-int"]);
            let a = authorize(&ch, &mufasa("Circle of Life"), "GET", "/dir/index.html", b"", cnonce, 1).unwrap();
            assert_eq!(a.response, expected, "{alg}");
            let text = a.to_string();
            assert!(text.contains("nc=00000001"));
            assert!(text.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
            assert_eq!(Authorization::parse(&text).unwrap(), a);
        }
    }

    /// RFC 2617 §3.5.
    #[test]
    fn rfc2617_vector() {
        let ch = Challenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let a = authorize(&ch, &mufasa("Circle Of Life"), "GET", "/dir/index.html", b"", "0a4f113b", 1).unwrap();
        assert_eq!(a.response, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn sip_register_without_qop() {
        // RFC 2069-style challenge as still sent by some registrars.
        let ch = Challenge::parse(
            r#"Digest realm="atlanta.example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", algorithm=MD5"#,
        )
        .unwrap();
        let c = Credentials { username: "bob".into(), password: "zanzibar".into() };
        let a = authorize(&ch, &c, "REGISTER", "sip:atlanta.example.com", b"", "x", 1).unwrap();
        let ha1 = Algorithm::Md5.hex(b"bob:atlanta.example.com:zanzibar");
        let ha2 = Algorithm::Md5.hex(b"REGISTER:sip:atlanta.example.com");
        assert_eq!(a.response, Algorithm::Md5.hex(format!("{ha1}:ea9c8e88df84f1cec4341ae6cbe5a359:{ha2}").as_bytes()));
        assert!(a.qop.is_none());
        assert!(!a.to_string().contains("qop"));
        assert!(!format!("{c:?}").contains("zanzibar"));
    }

    #[test]
    fn errors() {
        assert!(matches!(Challenge::parse("Basic realm=\"x\""), Err(AuthError::NotDigest(_))));
        assert_eq!(Challenge::parse("Digest nonce=\"n\""), Err(AuthError::MissingParam("realm")));
        assert!(matches!(
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1"),
            Err(AuthError::UnsupportedAlgorithm(_))
        ));
        assert!(Challenge::parse("Digest realm=\"r").is_err());
        assert!(Challenge::parse("Digest realm=").is_err());
        assert!(Challenge::parse("").is_err());
        // Found by fuzzing: a control character in an unquoted value.
        assert!(Challenge::parse("Digest realm=\"r\", nonce= ab\u{2}\ncd").is_err());
        let ch = Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"weird\"").unwrap();
        let c = mufasa("p");
        assert_eq!(authorize(&ch, &c, "INVITE", "sip:x", b"", "c", 1), Err(AuthError::UnsupportedQop));
    }

    #[test]
    fn sess_and_userhash() {
        let ch = Challenge::parse(r#"Digest realm="r", nonce="n", algorithm=SHA-256-sess, qop=auth, userhash=true"#)
            .unwrap();
        let a = authorize(&ch, &mufasa("p"), "INVITE", "sip:x", b"", "c", 2).unwrap();
        let alg = Algorithm::Sha256;
        let ha1 = alg.hex(format!("{}:n:c", alg.hex(b"Mufasa:r:p")).as_bytes());
        let ha2 = alg.hex(b"INVITE:sip:x");
        assert_eq!(a.response, alg.hex(format!("{ha1}:n:00000002:c:auth:{ha2}").as_bytes()));
        assert_eq!(a.username, alg.hex(b"Mufasa:r"));
    }
}
