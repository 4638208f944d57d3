//! Handing waiting callers to another instance when this one stops (issue 19: "the server
//! instance restarting"). The stopping instance asks each waiting caller's phone to call the
//! hotline's number again (a blind transfer, REFER); the registrar now routes that number to
//! the instance that took over. The new call's To URI carries a resume token, so the taking
//! instance continues the same queued call: same id in the records, same place by arrival.
//!
//! The token is the call's facts signed with a key every instance of the deployment shares
//! (HMAC-SHA256): a caller cannot forge a place ahead of others, and a token is good for
//! [`TOKEN_LIFETIME_MS`] only, so an old one cannot be replayed later. The facts travel in the
//! token itself, not in a table, because the caller's new INVITE can reach the other instance
//! before any table it polls would show them.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use okno_core::Millis;
use sha2::Sha256;

/// The To URI parameter that carries the token.
pub const RESUME_PARAM: &str = "okno-resume";

/// How long after it was made a token is honoured: a transfer takes a second or two.
pub const TOKEN_LIFETIME_MS: Millis = 60_000;

/// The deployment's shared key for resume tokens. `Debug` never shows it.
#[derive(Clone)]
pub struct HandoverKey(Arc<[u8]>);

impl HandoverKey {
    pub fn new(key: &[u8]) -> HandoverKey {
        HandoverKey(Arc::from(key))
    }

    fn mac(&self, text: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(text.as_bytes());
        hex(&mac.finalize().into_bytes()[..16])
    }
}

impl std::fmt::Debug for HandoverKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandoverKey(***)")
    }
}

/// A waiting call as it goes from one instance to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    /// The call's id in the queue's records (the first instance's SIP call id).
    pub call_id: String,
    pub queue_id: String,
    /// The caller's URI, as the first instance saw it (for a callback).
    pub caller: String,
    /// The caller's name as the desks show it.
    pub display_name: Option<String>,
    pub arrived_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the resume token is malformed")]
    Malformed,
    #[error("the resume token's signature does not hold")]
    Forged,
    #[error("the resume token has expired")]
    Expired,
}

/// The token for `call`, good until `now` + [`TOKEN_LIFETIME_MS`].
pub fn seal(key: &HandoverKey, call: &Resumed, now: Millis) -> String {
    let fields = [
        hex(call.call_id.as_bytes()),
        hex(call.queue_id.as_bytes()),
        hex(call.caller.as_bytes()),
        call.display_name.as_deref().map(|n| hex(n.as_bytes())).unwrap_or_else(|| "-".into()),
        call.arrived_at.to_string(),
        (now + TOKEN_LIFETIME_MS).to_string(),
    ];
    let body = fields.join(".");
    format!("{body}.{}", key.mac(&body))
}

/// The call a token names, when its signature holds and it has not expired at `now`.
pub fn open(key: &HandoverKey, token: &str, now: Millis) -> Result<Resumed, TokenError> {
    let (body, given) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let want = key.mac(body);
    // Compared in constant time: the signature is what keeps a caller from forging a place.
    let same = want.len() == given.len() && want.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if !same {
        return Err(TokenError::Forged);
    }
    let fields: Vec<&str> = body.split('.').collect();
    let [call_id, queue_id, caller, display_name, arrived_at, expires_at] = fields[..] else {
        return Err(TokenError::Malformed);
    };
    let text = |h: &str| unhex(h).and_then(|b| String::from_utf8(b).ok()).ok_or(TokenError::Malformed);
    let number = |n: &str| n.parse::<Millis>().map_err(|_| TokenError::Malformed);
    if number(expires_at)? < now {
        return Err(TokenError::Expired);
    }
    Ok(Resumed {
        call_id: text(call_id)?,
        queue_id: text(queue_id)?,
        caller: text(caller)?,
        display_name: if display_name == "-" { None } else { Some(text(display_name)?) },
        arrived_at: number(arrived_at)?,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Resumed {
        Resumed {
            call_id: "a84b4c76e66710@pc33.example".into(),
            queue_id: "q-support".into(),
            caller: "sip:+79001234567@pbx.example".into(),
            display_name: Some("Павел".into()),
            arrived_at: 1_000_000,
        }
    }

    #[test]
    fn a_token_names_its_call_until_it_expires() {
        let key = HandoverKey::new(b"deployment key");
        let token = seal(&key, &call(), 1_005_000);
        assert!(
            token.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b'-'),
            "fits a URI parameter: {token}"
        );
        assert_eq!(open(&key, &token, 1_006_000), Ok(call()));
        assert_eq!(open(&key, &token, 1_005_000 + TOKEN_LIFETIME_MS + 1), Err(TokenError::Expired));
        let nameless = Resumed { display_name: None, ..call() };
        assert_eq!(open(&key, &seal(&key, &nameless, 1_005_000), 1_006_000), Ok(nameless));
    }

    #[test]
    fn a_forged_or_broken_token_is_refused() {
        let key = HandoverKey::new(b"deployment key");
        let token = seal(&key, &call(), 1_005_000);
        assert_eq!(open(&HandoverKey::new(b"another key"), &token, 1_006_000), Err(TokenError::Forged));
        // An earlier arrival written over the signed one.
        let earlier = token.replacen(".1000000.", ".1.", 1);
        assert_ne!(earlier, token);
        assert_eq!(open(&key, &earlier, 1_006_000), Err(TokenError::Forged));
        for broken in ["", "abc", "zz.zz", &token[..token.len() - 1]] {
            assert!(open(&key, broken, 1_006_000).is_err(), "{broken:?}");
        }
        assert!(!format!("{key:?}").contains("deployment"), "the key never shows");
    }
}
