//! SRTP and SRTCP (RFC 3711) for calls whose keys were exchanged with SDES (RFC 4568): the
//! crypto suites `AES_CM_128_HMAC_SHA1_80` and `AES_CM_128_HMAC_SHA1_32`.
//!
//! An [`SrtpContext`] is one direction of a call: the sender protects with the key it put in
//! its own `a=crypto` line, the receiver unprotects with the peer's. It derives the session
//! keys once (key derivation rate 0, the only one SDES offers by default), keeps the rollover
//! counter of every SSRC it has seen (index estimation of RFC 3711 Appendix A) and a 64-packet
//! replay window for SRTP and for SRTCP.
//!
//! Sans-IO like the rest of the crate: keys come in as bytes (the driver draws them), packets
//! in and out as byte slices. Keys are never logged; `Debug` shows only the profile.

use aes::Aes128;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

type AesCm = ctr::Ctr128BE<Aes128>;
type HmacSha1 = Hmac<Sha1>;

/// Master key length of both suites, in bytes.
pub const MASTER_KEY_LEN: usize = 16;
/// Master salt length of both suites, in bytes.
pub const MASTER_SALT_LEN: usize = 14;
/// The SDES `inline:` key material: master key then master salt.
pub const KEY_SALT_LEN: usize = MASTER_KEY_LEN + MASTER_SALT_LEN;

/// SRTCP always carries an 80-bit tag, for the `_32` suite too (RFC 4568 §6.2.2).
const SRTCP_TAG_LEN: usize = 10;
/// The E flag and the 31-bit SRTCP index.
const SRTCP_INDEX_LEN: usize = 4;
const REPLAY_WINDOW: u64 = 64;
/// SSRCs remembered per context; a call has one or two, so this only bounds what a peer
/// with valid keys could make us keep.
const MAX_STREAMS: usize = 32;

/// Why a packet could not be protected or unprotected, or a key not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    #[error("SRTP key material must be {KEY_SALT_LEN} bytes (key and salt), got {0}")]
    KeyLength(usize),
    #[error("packet too short for SRTP/SRTCP")]
    TooShort,
    #[error("not an RTP/RTCP packet: {0}")]
    Malformed(&'static str),
    #[error("authentication tag does not match")]
    BadAuthTag,
    #[error("replayed or too old packet")]
    Replay,
}

/// The crypto suites we implement, by their SDES names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// `AES_CM_128_HMAC_SHA1_80`: 80-bit tags.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: 32-bit SRTP tags (SRTCP keeps 80 bits).
    AesCm128HmacSha1_32,
}

impl SrtpProfile {
    /// Our preference order for offers.
    pub const ALL: [SrtpProfile; 2] = [SrtpProfile::AesCm128HmacSha1_80, SrtpProfile::AesCm128HmacSha1_32];

    pub fn from_sdes_name(name: &str) -> Option<SrtpProfile> {
        SrtpProfile::ALL.into_iter().find(|p| p.sdes_name() == name)
    }

    pub fn sdes_name(self) -> &'static str {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpProfile::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// Bytes an SRTP packet grows by.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 => 10,
            SrtpProfile::AesCm128HmacSha1_32 => 4,
        }
    }

    /// Bytes an SRTCP packet grows by (index and tag).
    pub fn rtcp_overhead(self) -> usize {
        SRTCP_INDEX_LEN + SRTCP_TAG_LEN
    }
}

/// AES in counter mode (RFC 3711 §4.1.1): XORs the keystream that starts at `iv` into `data`.
fn aes_cm(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    let mut cipher = AesCm::new(key.into(), iv.into());
    cipher.apply_keystream(data);
}

/// The key derivation PRF (RFC 3711 §4.3.1, §4.3.3) with key_derivation_rate 0: `r` is 0, so
/// the key id is the label alone, XORed into byte 7 of the salt.
fn derive(master_key: &[u8; 16], master_salt: &[u8; 14], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(master_salt);
    iv[7] ^= label;
    out.fill(0);
    aes_cm(master_key, &iv, out);
}

/// The session keys of one of RTP or RTCP.
#[derive(Clone)]
struct SessionKeys {
    cipher: [u8; 16],
    salt: [u8; 14],
    /// Keyed once; cloned per packet.
    mac: HmacSha1,
}

impl SessionKeys {
    fn derive(key: &[u8; 16], salt: &[u8; 14], first_label: u8) -> SessionKeys {
        let (mut cipher, mut auth, mut session_salt) = ([0u8; 16], [0u8; 20], [0u8; 14]);
        derive(key, salt, first_label, &mut cipher);
        derive(key, salt, first_label + 1, &mut auth);
        derive(key, salt, first_label + 2, &mut session_salt);
        // HMAC takes keys of any length: this cannot fail.
        let mac = <HmacSha1 as KeyInit>::new_from_slice(&auth).expect("HMAC accepts any key length");
        SessionKeys { cipher, salt: session_salt, mac }
    }

    /// The counter of RFC 3711 §4.1.1: salt·2^16 ⊕ SSRC·2^64 ⊕ index·2^16.
    fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        iv
    }

    fn tag(&self, parts: &[&[u8]]) -> HmacSha1 {
        let mut mac = self.mac.clone();
        for p in parts {
            mac.update(p);
        }
        mac
    }
}

/// A 64-entry sliding window over indices (RFC 3711 §3.3.2).
#[derive(Debug, Clone, Copy, Default)]
struct ReplayWindow {
    highest: u64,
    /// Bit i: `highest - i` was received.
    seen: u64,
}

impl ReplayWindow {
    fn check(&self, index: u64) -> Result<(), SrtpError> {
        if index > self.highest {
            return Ok(());
        }
        let behind = self.highest - index;
        if behind >= REPLAY_WINDOW || self.seen & (1 << behind) != 0 {
            return Err(SrtpError::Replay);
        }
        Ok(())
    }

    fn accept(&mut self, index: u64) {
        if index > self.highest {
            let ahead = index - self.highest;
            self.seen = if ahead >= REPLAY_WINDOW { 0 } else { self.seen << ahead };
            self.seen |= 1;
            self.highest = index;
        } else {
            self.seen |= 1 << (self.highest - index);
        }
    }
}

/// What is known of one SSRC.
#[derive(Debug, Clone, Copy)]
struct Stream {
    ssrc: u32,
    /// Highest accepted packet index: ROC·2^16 + SEQ.
    rtp: ReplayWindow,
    rtcp: ReplayWindow,
    /// Whether an RTCP packet of this SSRC was accepted (index 0 is a valid first index).
    rtcp_seen: bool,
    /// Next SRTCP index to send.
    srtcp_next: u32,
}

impl Stream {
    fn new(ssrc: u32, first_seq: u16) -> Stream {
        Stream {
            ssrc,
            rtp: ReplayWindow { highest: first_seq as u64, seen: 0 },
            rtcp: ReplayWindow::default(),
            rtcp_seen: false,
            srtcp_next: 0,
        }
    }

    /// RFC 3711 Appendix A: the index of `seq`, guessing the ROC from the highest index.
    fn estimate(&self, seq: u16) -> u64 {
        let roc = self.rtp.highest >> 16;
        let s_l = (self.rtp.highest & 0xFFFF) as u16;
        let v = if s_l < 0x8000 {
            if seq > s_l && seq - s_l > 0x8000 { roc.checked_sub(1) } else { Some(roc) }
        } else if s_l - 0x8000 > seq {
            Some(roc + 1)
        } else {
            Some(roc)
        };
        // Before the first wrap a "previous ROC" does not exist: such a packet is older than
        // anything we keep, and the replay check refuses index 0's neighbourhood anyway.
        match v {
            Some(v) => (v << 16) | seq as u64,
            None => seq as u64,
        }
    }
}

/// One direction of SRTP/SRTCP with one master key.
#[derive(Clone)]
pub struct SrtpContext {
    profile: SrtpProfile,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    streams: Vec<Stream>,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("SrtpContext").field("profile", &self.profile).field("streams", &self.streams.len()).finish()
    }
}

/// Bytes of the RTP header (fixed part, CSRCs and extension) of `p`, checked against its length.
fn rtp_header_len(p: &[u8]) -> Result<usize, SrtpError> {
    if p.len() < 12 {
        return Err(SrtpError::TooShort);
    }
    if p[0] >> 6 != 2 {
        return Err(SrtpError::Malformed("RTP version is not 2"));
    }
    let mut len = 12 + 4 * (p[0] & 0x0F) as usize;
    if p[0] & 0x10 != 0 {
        let ext = p.get(len + 2..len + 4).ok_or(SrtpError::TooShort)?;
        len += 4 + 4 * u16::from_be_bytes([ext[0], ext[1]]) as usize;
    }
    if len > p.len() {
        return Err(SrtpError::TooShort);
    }
    Ok(len)
}

impl SrtpContext {
    /// A context for `profile` with the SDES key material (master key then master salt).
    pub fn new(profile: SrtpProfile, key_salt: &[u8]) -> Result<SrtpContext, SrtpError> {
        if key_salt.len() != KEY_SALT_LEN {
            return Err(SrtpError::KeyLength(key_salt.len()));
        }
        let mut key = [0u8; 16];
        let mut salt = [0u8; 14];
        key.copy_from_slice(&key_salt[..MASTER_KEY_LEN]);
        salt.copy_from_slice(&key_salt[MASTER_KEY_LEN..]);
        Ok(SrtpContext {
            profile,
            rtp: SessionKeys::derive(&key, &salt, 0),
            rtcp: SessionKeys::derive(&key, &salt, 3),
            streams: Vec::new(),
        })
    }

    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    fn stream(&self, ssrc: u32) -> Option<&Stream> {
        self.streams.iter().find(|s| s.ssrc == ssrc)
    }

    fn stream_mut(&mut self, ssrc: u32, first_seq: u16) -> &mut Stream {
        let i = match self.streams.iter().position(|s| s.ssrc == ssrc) {
            Some(i) => i,
            None => {
                if self.streams.len() >= MAX_STREAMS {
                    self.streams.remove(0);
                }
                self.streams.push(Stream::new(ssrc, first_seq));
                self.streams.len() - 1
            }
        };
        &mut self.streams[i]
    }

    /// Encrypts and authenticates an RTP packet (RFC 3711 §3.1): the payload is encrypted in
    /// place, the tag appended.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let header = rtp_header_len(packet)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let stream = self.stream_mut(ssrc, seq);
        let index = stream.estimate(seq);
        if index > stream.rtp.highest {
            stream.rtp.highest = index;
        }
        let roc = (index >> 16) as u32;
        let mut out = Vec::with_capacity(packet.len() + self.profile.rtp_tag_len());
        out.extend_from_slice(packet);
        aes_cm(&self.rtp.cipher, &self.rtp.iv(ssrc, index), &mut out[header..]);
        let tag = self.rtp.tag(&[&out, &roc.to_be_bytes()]).finalize().into_bytes();
        out.extend_from_slice(&tag[..self.profile.rtp_tag_len()]);
        Ok(out)
    }

    /// Authenticates, replay-checks and decrypts an SRTP packet; returns the RTP packet.
    /// Nothing is remembered of a packet that fails.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let tag_len = self.profile.rtp_tag_len();
        let body_len = packet.len().checked_sub(tag_len).ok_or(SrtpError::TooShort)?;
        let (body, tag) = packet.split_at(body_len);
        let header = rtp_header_len(body)?;
        let seq = u16::from_be_bytes([body[2], body[3]]);
        let ssrc = u32::from_be_bytes([body[8], body[9], body[10], body[11]]);
        let known = self.stream(ssrc).copied();
        // The first packet of an SSRC starts its ROC at 0 (RFC 3711 §3.3.1).
        let index = match &known {
            Some(s) => {
                let index = s.estimate(seq);
                s.rtp.check(index)?;
                index
            }
            None => seq as u64,
        };
        let roc = (index >> 16) as u32;
        self.rtp.tag(&[body, &roc.to_be_bytes()]).verify_truncated_left(tag).map_err(|_| SrtpError::BadAuthTag)?;
        let mut out = body.to_vec();
        aes_cm(&self.rtp.cipher, &self.rtp.iv(ssrc, index), &mut out[header..]);
        let stream = self.stream_mut(ssrc, seq);
        if known.is_none() {
            stream.rtp = ReplayWindow { highest: index, seen: 0 };
        }
        stream.rtp.accept(index);
        Ok(out)
    }

    /// Encrypts and authenticates an RTCP (compound) packet (RFC 3711 §3.4): all but the first
    /// eight bytes encrypted, then the E flag with the SRTCP index, then an 80-bit tag.
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        if packet.len() < 8 {
            return Err(SrtpError::TooShort);
        }
        if packet[0] >> 6 != 2 {
            return Err(SrtpError::Malformed("RTCP version is not 2"));
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let stream = self.stream_mut(ssrc, 0);
        let index = stream.srtcp_next;
        stream.srtcp_next = (index + 1) & 0x7FFF_FFFF;
        let mut out = Vec::with_capacity(packet.len() + self.profile.rtcp_overhead());
        out.extend_from_slice(packet);
        aes_cm(&self.rtcp.cipher, &self.rtcp.iv(ssrc, index as u64), &mut out[8..]);
        out.extend_from_slice(&(index | 0x8000_0000).to_be_bytes());
        let tag = self.rtcp.tag(&[&out]).finalize().into_bytes();
        out.extend_from_slice(&tag[..SRTCP_TAG_LEN]);
        Ok(out)
    }

    /// Authenticates, replay-checks and (when the E flag says so) decrypts an SRTCP packet.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        if packet.len() < 8 + SRTCP_INDEX_LEN + SRTCP_TAG_LEN {
            return Err(SrtpError::TooShort);
        }
        let (authenticated, tag) = packet.split_at(packet.len() - SRTCP_TAG_LEN);
        let (body, e_index) = authenticated.split_at(authenticated.len() - SRTCP_INDEX_LEN);
        if body[0] >> 6 != 2 {
            return Err(SrtpError::Malformed("RTCP version is not 2"));
        }
        let e_index = u32::from_be_bytes([e_index[0], e_index[1], e_index[2], e_index[3]]);
        let (encrypted, index) = (e_index & 0x8000_0000 != 0, (e_index & 0x7FFF_FFFF) as u64);
        let ssrc = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
        if let Some(s) = self.stream(ssrc)
            && s.rtcp_seen
        {
            s.rtcp.check(index)?;
        }
        self.rtcp.tag(&[authenticated]).verify_truncated_left(tag).map_err(|_| SrtpError::BadAuthTag)?;
        let mut out = body.to_vec();
        if encrypted {
            aes_cm(&self.rtcp.cipher, &self.rtcp.iv(ssrc, index), &mut out[8..]);
        }
        let stream = self.stream_mut(ssrc, 0);
        if !stream.rtcp_seen {
            stream.rtcp = ReplayWindow { highest: index, seen: 0 };
            stream.rtcp_seen = true;
        }
        stream.rtcp.accept(index);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    const KEY_SALT: &str = "E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6";

    fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&(seq as u32 * 160).to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        p.extend((0..160).map(|i| (i as u8) ^ 0x55));
        p
    }

    fn pair(profile: SrtpProfile) -> (SrtpContext, SrtpContext) {
        let k = hex(KEY_SALT);
        (SrtpContext::new(profile, &k).unwrap(), SrtpContext::new(profile, &k).unwrap())
    }

    /// RFC 3711 Appendix B.2: the AES-CM keystream for session key and salt, index 0, SSRC 0.
    #[test]
    fn aes_cm_keystream_matches_appendix_b2() {
        let key: [u8; 16] = hex("2B7E151628AED2A6ABF7158809CF4F3C").try_into().unwrap();
        let keys = SessionKeys {
            cipher: key,
            salt: hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap(),
            mac: <HmacSha1 as KeyInit>::new_from_slice(&[0]).unwrap(),
        };
        let iv = keys.iv(0, 0);
        assert_eq!(iv.to_vec(), hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"));
        let mut stream = vec![0u8; 48];
        aes_cm(&key, &iv, &mut stream);
        assert_eq!(
            stream,
            hex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0")
        );
        // The last block before the counter's 16 bits wrap (FEFF at offset 0xFEFF·16).
        let mut long = vec![0u8; 0xFF00 * 16];
        aes_cm(&key, &iv, &mut long);
        assert_eq!(long[0xFEFF * 16..], hex("EC8CDF7398607CB0F2D21675EA9EA1E4")[..]);
    }

    /// RFC 3711 Appendix B.3: session keys from the master key and salt.
    #[test]
    fn key_derivation_matches_appendix_b3() {
        let k = hex(KEY_SALT);
        let (key, salt): ([u8; 16], [u8; 14]) = (k[..16].try_into().unwrap(), k[16..].try_into().unwrap());
        let mut cipher = [0u8; 16];
        derive(&key, &salt, 0, &mut cipher);
        assert_eq!(cipher.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut session_salt = [0u8; 14];
        derive(&key, &salt, 2, &mut session_salt);
        assert_eq!(session_salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut auth = [0u8; 94];
        derive(&key, &salt, 1, &mut auth);
        assert_eq!(
            auth.to_vec(),
            hex("CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE E049646C43D9327AD175578EF7227098
                 6371C10C9A369AC2F94A8C5FBCDDDC25 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2")
        );
    }

    #[test]
    fn rtp_round_trip_both_suites() {
        for profile in SrtpProfile::ALL {
            let (mut tx, mut rx) = pair(profile);
            for seq in 100..110 {
                let plain = rtp(seq, 0xDEAD_BEEF);
                let sealed = tx.protect_rtp(&plain).unwrap();
                assert_eq!(sealed.len(), plain.len() + profile.rtp_tag_len());
                assert_eq!(sealed[..12], plain[..12], "the header stays readable");
                assert_ne!(sealed[12..plain.len()], plain[12..], "the payload is encrypted");
                assert_eq!(rx.unprotect_rtp(&sealed).unwrap(), plain);
            }
        }
    }

    #[test]
    fn rtcp_round_trip_carries_e_flag_and_index() {
        let (mut tx, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_32);
        // An RR with one report block's worth of bytes.
        let mut plain = vec![0x81, 201, 0, 7, 0x12, 0x34, 0x56, 0x78];
        plain.extend(1..=24u8);
        for i in 0..3u32 {
            let sealed = tx.protect_rtcp(&plain).unwrap();
            assert_eq!(sealed.len(), plain.len() + 14, "80-bit tag for SRTCP even with the _32 suite");
            let e_index = u32::from_be_bytes(sealed[plain.len()..plain.len() + 4].try_into().unwrap());
            assert_eq!(e_index, 0x8000_0000 | i);
            assert_ne!(sealed[8..plain.len()], plain[8..]);
            assert_eq!(rx.unprotect_rtcp(&sealed).unwrap(), plain);
            assert_eq!(rx.unprotect_rtcp(&sealed), Err(SrtpError::Replay));
        }
    }

    #[test]
    fn sequence_wrap_advances_the_rollover_counter() {
        let (mut tx, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_80);
        let mut sealed = Vec::new();
        for n in 0..40u32 {
            let seq = (65_520 + n) as u16; // wraps after 16 packets
            sealed.push(tx.protect_rtp(&rtp(seq, 7)).unwrap());
        }
        // Reordered across the wrap: one late packet from before it.
        sealed.swap(15, 17);
        for p in &sealed {
            rx.unprotect_rtp(p).unwrap();
        }
        let s = rx.stream(7).unwrap();
        assert_eq!(s.rtp.highest, (1 << 16) | 23);
        // A packet sealed as if the ROC were still 0 after the wrap does not authenticate.
        let (mut stale_tx, _) = pair(SrtpProfile::AesCm128HmacSha1_80);
        let stale = stale_tx.protect_rtp(&rtp(30, 7)).unwrap();
        assert_eq!(rx.unprotect_rtp(&stale), Err(SrtpError::BadAuthTag));
        // The right one does.
        rx.unprotect_rtp(&tx.protect_rtp(&rtp(30, 7)).unwrap()).unwrap();
    }

    #[test]
    fn replays_and_too_old_packets_are_refused() {
        let (mut tx, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_80);
        let sealed: Vec<_> = (0..100u16).map(|s| tx.protect_rtp(&rtp(s, 1)).unwrap()).collect();
        rx.unprotect_rtp(&sealed[0]).unwrap();
        assert_eq!(rx.unprotect_rtp(&sealed[0]), Err(SrtpError::Replay));
        rx.unprotect_rtp(&sealed[99]).unwrap();
        // 50 behind the highest: inside the window, not seen yet, accepted once.
        rx.unprotect_rtp(&sealed[49]).unwrap();
        assert_eq!(rx.unprotect_rtp(&sealed[49]), Err(SrtpError::Replay));
        // 89 behind: outside the 64-packet window.
        assert_eq!(rx.unprotect_rtp(&sealed[10]), Err(SrtpError::Replay));
    }

    #[test]
    fn tampered_or_foreign_packets_are_refused() {
        let (mut tx, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_80);
        let sealed = tx.protect_rtp(&rtp(5, 9)).unwrap();
        for i in [0usize, 3, 11, 40, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(rx.unprotect_rtp(&bad).is_err(), "flipped byte {i}");
        }
        let mut other = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &[7u8; 30]).unwrap();
        assert_eq!(other.unprotect_rtp(&sealed), Err(SrtpError::BadAuthTag));
        // A failed packet leaves no state: the genuine one is still accepted.
        rx.unprotect_rtp(&sealed).unwrap();
        let rtcp = tx.protect_rtcp(&[0x80, 200, 0, 1, 0, 0, 0, 9]).unwrap();
        let mut bad = rtcp.clone();
        bad[9] ^= 0x80;
        assert_eq!(rx.unprotect_rtcp(&bad), Err(SrtpError::BadAuthTag));
    }

    #[test]
    fn short_and_malformed_input_is_an_error() {
        let (_, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_80);
        for len in 0..30 {
            let p = vec![0x80u8; len];
            assert!(rx.unprotect_rtp(&p).is_err());
            assert!(rx.unprotect_rtcp(&p).is_err());
        }
        // Header claims 15 CSRCs and an extension beyond the end.
        assert_eq!(rx.unprotect_rtp(&[0x9F; 40]), Err(SrtpError::TooShort));
        assert_eq!(SrtpContext::new(SrtpProfile::AesCm128HmacSha1_32, &[0; 29]).err(), Some(SrtpError::KeyLength(29)));
        assert_eq!(SrtpProfile::from_sdes_name("AES_CM_128_HMAC_SHA1_32"), Some(SrtpProfile::AesCm128HmacSha1_32));
        assert_eq!(SrtpProfile::from_sdes_name("F8_128_HMAC_SHA1_80"), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = crate::test_rng::Rng::new(11);
        let (mut tx, mut rx) = pair(SrtpProfile::AesCm128HmacSha1_32);
        for _ in 0..2000 {
            let len = rng.index(80);
            let p: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let _ = rx.unprotect_rtp(&p);
            let _ = rx.unprotect_rtcp(&p);
            let _ = tx.protect_rtp(&p);
            let _ = tx.protect_rtcp(&p);
        }
    }
}
