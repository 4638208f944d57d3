//! RTP packets (RFC 3550 §5.1) and the receiver side bookkeeping of a stream:
//! extended sequence numbers (Appendix A.1), loss counts (A.3) and
//! interarrival jitter (A.8).
//!
//! Parsing borrows: [`RtpPacket::parse`] returns views into the datagram, so a
//! receive path that only needs the payload copies nothing. Header extensions
//! are kept as opaque bytes plus their profile word; [`Extension::elements`]
//! walks RFC 8285 one-byte and two-byte elements when a caller needs them.

use std::time::{Duration, Instant};

use crate::rtcp::{NtpTime, ReportBlock};

/// The only RTP version in use.
pub const RTP_VERSION: u8 = 2;
/// Length of the fixed header, without CSRCs or extension.
pub const FIXED_HEADER_LEN: usize = 12;
/// Most CSRCs a header can carry (4-bit count).
pub const MAX_CSRCS: usize = 15;

/// Why bytes are not an RTP packet, or why a packet cannot be serialized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    #[error("{len} bytes is shorter than the 12-byte RTP header")]
    TooShort { len: usize },
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    #[error("the {count} CSRCs run past the end of the packet")]
    TruncatedCsrcs { count: u8 },
    #[error("the header extension runs past the end of the packet")]
    TruncatedExtension,
    #[error("padding of {padding} bytes does not fit the {available} bytes after the header")]
    BadPadding { padding: u8, available: usize },
    #[error("payload type {0} does not fit in 7 bits")]
    PayloadTypeTooLarge(u8),
    #[error("{0} CSRCs, at most 15 fit")]
    TooManyCsrcs(usize),
    #[error("extension data of {0} bytes is not a whole number of 32-bit words below 256 KiB")]
    BadExtensionLength(usize),
    #[error("malformed RFC 8285 header extension element")]
    BadExtensionElement,
}

/// The CSRC list, stored inline (at most 15 entries) so packets need no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Csrcs {
    len: u8,
    items: [u32; MAX_CSRCS],
}

impl Csrcs {
    /// A list from a slice; fails past 15 entries.
    pub fn from_slice(csrcs: &[u32]) -> Result<Self, RtpError> {
        if csrcs.len() > MAX_CSRCS {
            return Err(RtpError::TooManyCsrcs(csrcs.len()));
        }
        let mut items = [0; MAX_CSRCS];
        items[..csrcs.len()].copy_from_slice(csrcs);
        Ok(Csrcs { len: csrcs.len() as u8, items })
    }

    pub fn as_slice(&self) -> &[u32] {
        &self.items[..self.len as usize]
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for Csrcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// A header extension: the 16-bit profile word and the data (a whole number of 32-bit words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    pub profile: u16,
    pub data: &'a [u8],
}

/// Profile word of RFC 8285 one-byte header elements.
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;

/// One RFC 8285 header extension element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionElement<'a> {
    pub id: u8,
    pub data: &'a [u8],
}

impl<'a> Extension<'a> {
    /// The RFC 8285 elements, if the profile is one-byte (0xBEDE) or two-byte (0x100x);
    /// `None` for any other profile. Padding bytes (id 0) are skipped; id 15 in the
    /// one-byte form ends the walk, as RFC 8285 §4.2 requires.
    pub fn elements(self) -> Option<impl Iterator<Item = Result<ExtensionElement<'a>, RtpError>> + 'a> {
        let two_byte = match self.profile {
            ONE_BYTE_PROFILE => false,
            p if p & 0xFFF0 == 0x1000 => true,
            _ => return None,
        };
        let mut rest = self.data;
        Some(std::iter::from_fn(move || {
            loop {
                let (&first, tail) = rest.split_first()?;
                if first == 0 {
                    rest = tail;
                    continue;
                }
                let (id, len, tail) = if two_byte {
                    let Some((&len, tail)) = tail.split_first() else {
                        rest = &[];
                        return Some(Err(RtpError::BadExtensionElement));
                    };
                    (first, len as usize, tail)
                } else {
                    let id = first >> 4;
                    if id == 15 {
                        rest = &[];
                        return None;
                    }
                    (id, (first & 0x0F) as usize + 1, tail)
                };
                if tail.len() < len {
                    rest = &[];
                    return Some(Err(RtpError::BadExtensionElement));
                }
                let (data, after) = tail.split_at(len);
                rest = after;
                return Some(Ok(ExtensionElement { id, data }));
            }
        }))
    }
}

/// An RTP packet; after [`RtpPacket::parse`], `payload` and `extension` borrow the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub csrcs: Csrcs,
    pub extension: Option<Extension<'a>>,
    pub payload: &'a [u8],
    /// Number of padding bytes at the end, including the count byte itself; 0 for none.
    pub padding: u8,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// True if the datagram looks like RTCP rather than RTP when both share a port
/// (RFC 5761 §4: RTCP packet types 192–223 fall where RTP would have marker + PT 64–95).
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.len() >= 2 && (192..=223).contains(&datagram[1])
}

impl<'a> RtpPacket<'a> {
    /// A packet with no CSRCs, extension or padding.
    pub fn new(payload_type: u8, sequence: u16, timestamp: u32, ssrc: u32, payload: &'a [u8]) -> Self {
        RtpPacket {
            marker: false,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrcs: Csrcs::default(),
            extension: None,
            payload,
            padding: 0,
        }
    }

    /// Parses one datagram. Never panics; every malformed case is a distinct error.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        if buf.len() < FIXED_HEADER_LEN {
            return Err(RtpError::TooShort { len: buf.len() });
        }
        let version = buf[0] >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = buf[0] & 0x20 != 0;
        let has_extension = buf[0] & 0x10 != 0;
        let cc = buf[0] & 0x0F;
        let mut at = FIXED_HEADER_LEN + 4 * cc as usize;
        if buf.len() < at {
            return Err(RtpError::TruncatedCsrcs { count: cc });
        }
        let mut csrcs = Csrcs { len: cc, items: [0; MAX_CSRCS] };
        for (i, item) in csrcs.items[..cc as usize].iter_mut().enumerate() {
            *item = be32(buf, FIXED_HEADER_LEN + 4 * i);
        }
        let extension = if has_extension {
            if buf.len() < at + 4 {
                return Err(RtpError::TruncatedExtension);
            }
            let profile = be16(buf, at);
            let words = be16(buf, at + 2) as usize;
            let start = at + 4;
            let end = start + 4 * words;
            if buf.len() < end {
                return Err(RtpError::TruncatedExtension);
            }
            at = end;
            Some(Extension { profile, data: &buf[start..end] })
        } else {
            None
        };
        let mut end = buf.len();
        let mut padding = 0;
        if has_padding {
            // The last byte counts the padding, itself included (§5.1).
            padding = buf[buf.len() - 1];
            let available = buf.len() - at;
            if padding == 0 || padding as usize > available {
                return Err(RtpError::BadPadding { padding, available });
            }
            end -= padding as usize;
        }
        Ok(RtpPacket {
            marker: buf[1] & 0x80 != 0,
            payload_type: buf[1] & 0x7F,
            sequence: be16(buf, 2),
            timestamp: be32(buf, 4),
            ssrc: be32(buf, 8),
            csrcs,
            extension,
            payload: &buf[at..end],
            padding,
        })
    }

    /// Bytes this packet takes on the wire.
    pub fn wire_len(&self) -> usize {
        FIXED_HEADER_LEN
            + 4 * self.csrcs.len()
            + self.extension.map_or(0, |e| 4 + e.data.len())
            + self.payload.len()
            + self.padding as usize
    }

    /// Appends the packet to `out`. Padding bytes are zeros followed by the count.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        if self.payload_type > 0x7F {
            return Err(RtpError::PayloadTypeTooLarge(self.payload_type));
        }
        if let Some(ext) = &self.extension
            && (!ext.data.len().is_multiple_of(4) || ext.data.len() / 4 > u16::MAX as usize)
        {
            return Err(RtpError::BadExtensionLength(ext.data.len()));
        }
        out.reserve(self.wire_len());
        let b0 = (RTP_VERSION << 6)
            | if self.padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | self.csrcs.len;
        out.push(b0);
        out.push(if self.marker { 0x80 } else { 0 } | self.payload_type);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for c in self.csrcs.as_slice() {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if let Some(ext) = &self.extension {
            out.extend_from_slice(&ext.profile.to_be_bytes());
            out.extend_from_slice(&((ext.data.len() / 4) as u16).to_be_bytes());
            out.extend_from_slice(ext.data);
        }
        out.extend_from_slice(self.payload);
        if self.padding > 0 {
            out.extend(std::iter::repeat_n(0, self.padding as usize - 1));
            out.push(self.padding);
        }
        Ok(())
    }

    /// The packet as a new buffer.
    pub fn to_vec(&self) -> Result<Vec<u8>, RtpError> {
        let mut out = Vec::with_capacity(self.wire_len());
        self.write_to(&mut out)?;
        Ok(out)
    }
}

/// Send side of one RTP source: numbers packets, keeps the media clock, and
/// counts what a sender report needs. The SSRC and the initial sequence number
/// and timestamp come from the caller (RFC 3550 wants them random; this crate
/// has no randomness).
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    next_seq: u16,
    timestamp: u32,
    packets: u32,
    octets: u32,
}

impl RtpSender {
    pub fn new(ssrc: u32, initial_seq: u16, initial_timestamp: u32) -> Self {
        RtpSender { ssrc, next_seq: initial_seq, timestamp: initial_timestamp, packets: 0, octets: 0 }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The media clock: the timestamp of the frame about to be sent.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Moves the media clock on by one frame; call once per frame interval
    /// whether audio, a DTMF event or nothing (silence suppression) was sent.
    pub fn advance(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// The next packet of this source, with the next sequence number. Audio
    /// passes `self.timestamp()`; a telephone event passes its start timestamp.
    pub fn packet<'a>(&mut self, payload_type: u8, marker: bool, timestamp: u32, payload: &'a [u8]) -> RtpPacket<'a> {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload.len() as u32);
        RtpPacket { marker, ..RtpPacket::new(payload_type, seq, timestamp, self.ssrc, payload) }
    }

    /// Packets sent so far (wraps, as the SR field does).
    pub fn packet_count(&self) -> u32 {
        self.packets
    }

    /// Payload octets sent so far (wraps, as the SR field does).
    pub fn octet_count(&self) -> u32 {
        self.octets
    }

    /// A sender report stamped `ntp`; the RTP timestamp is the media clock now.
    pub fn sender_report(&self, ntp: NtpTime, reports: Vec<ReportBlock>) -> crate::rtcp::SenderReport {
        crate::rtcp::SenderReport {
            ssrc: self.ssrc,
            ntp,
            rtp_timestamp: self.timestamp,
            packet_count: self.packets,
            octet_count: self.octets,
            reports,
            extension: Vec::new(),
        }
    }
}

const SEQ_MOD: u64 = 1 << 16;
/// A.1: a forward jump below this is accepted as loss.
const MAX_DROPOUT: u16 = 3000;
/// A.1: a backward jump below this is a late or duplicate packet.
const MAX_MISORDER: u16 = 100;
/// A.1: consecutive packets needed before a new source is believed.
const MIN_SEQUENTIAL: u8 = 2;

/// What the sequence tracker made of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqUpdate {
    /// Counted; the extended (32+ bit) sequence number.
    Valid { extended: u64 },
    /// The source is still on probation (A.1 needs two in-order packets first).
    Probation,
    /// A jump too large to be loss or reordering; a second packet continuing it restarts the count.
    BadJump,
}

/// Sequence number extension and validation (RFC 3550 Appendix A.1).
#[derive(Debug, Clone)]
pub struct SequenceTracker {
    max_seq: u16,
    /// Count of wraps, already multiplied by 2^16.
    cycles: u64,
    base_seq: u16,
    bad_seq: u32,
    probation: u8,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
}

impl SequenceTracker {
    /// Starts on probation at the first packet's sequence number; feed that
    /// packet to [`SequenceTracker::update`] too, like every later one.
    pub fn new(first_seq: u16) -> Self {
        let mut t = SequenceTracker {
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
        };
        t.init(first_seq);
        t.max_seq = first_seq.wrapping_sub(1);
        t.probation = MIN_SEQUENTIAL;
        t
    }

    fn init(&mut self, seq: u16) {
        self.base_seq = seq;
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD as u32 + 1; // cannot equal a 16-bit sequence number
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Feeds one packet's sequence number.
    pub fn update(&mut self, seq: u16) -> SeqUpdate {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init(seq);
                    self.received += 1;
                    return SeqUpdate::Valid { extended: self.extended_max() };
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SeqUpdate::Probation;
        }
        let extended;
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += SEQ_MOD;
            }
            self.max_seq = seq;
            extended = self.extended_max();
        } else if udelta as u32 <= SEQ_MOD as u32 - MAX_MISORDER as u32 {
            if seq as u32 == self.bad_seq {
                // Two sequential packets after a big jump: the sender restarted
                // (A.1), so start counting again from here.
                self.init(seq);
                extended = self.extended_max();
            } else {
                self.bad_seq = (seq as u32 + 1) & (SEQ_MOD as u32 - 1);
                return SeqUpdate::BadJump;
            }
        } else {
            // Duplicate or reordered: it belongs to the previous cycle if it is
            // numerically above the current maximum.
            let back = self.max_seq.wrapping_sub(seq) as u64;
            extended = self.extended_max().saturating_sub(back);
        }
        self.received += 1;
        SeqUpdate::Valid { extended }
    }

    /// Highest extended sequence number seen.
    pub fn extended_max(&self) -> u64 {
        self.cycles + self.max_seq as u64
    }

    /// Packets expected since the (re)start (A.3).
    pub fn expected(&self) -> u64 {
        (self.extended_max() + 1).saturating_sub(self.base_seq as u64)
    }

    /// Packets counted, duplicates included (A.3 counts them too).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Cumulative lost; negative when duplicates outnumber losses.
    pub fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Fraction lost since the previous call, in 1/256 (A.3); starts a new interval.
    pub fn take_fraction_lost(&mut self) -> u8 {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        }
    }
}

/// Receive-side statistics of one RTP source: sequence tracking, interarrival
/// jitter in timestamp units (A.8) and what is needed to fill an RTCP report block.
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    clock_rate: u32,
    seq: Option<SequenceTracker>,
    /// Time origin for converting arrival instants to timestamp units.
    epoch: Option<Instant>,
    last_transit: Option<u32>,
    /// Jitter scaled by 16, the integer form of A.8.
    jitter16: u32,
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    /// `clock_rate`: the payload format's RTP clock (8000 for G.711, 48000 for Opus).
    pub fn new(clock_rate: u32) -> Self {
        ReceiverStats { clock_rate, seq: None, epoch: None, last_transit: None, jitter16: 0, last_sr: None }
    }

    /// Records one received media packet that arrived at `now`.
    pub fn on_packet(&mut self, now: Instant, sequence: u16, timestamp: u32) -> SeqUpdate {
        let update = self.on_event_packet(sequence);
        let epoch = *self.epoch.get_or_insert(now);
        // Arrival in timestamp units; only differences matter, so wrapping is fine.
        let ticks = now.saturating_duration_since(epoch).as_nanos() * self.clock_rate as u128 / 1_000_000_000;
        let transit = (ticks as u32).wrapping_sub(timestamp);
        if let Some(last) = self.last_transit {
            let d = (transit.wrapping_sub(last) as i32).unsigned_abs();
            // J += (|D| - J) / 16, kept scaled by 16 to stay in integers (A.8).
            self.jitter16 = self.jitter16.wrapping_add(d).wrapping_sub((self.jitter16 + 8) >> 4);
        }
        self.last_transit = Some(transit);
        update
    }

    /// Records a packet whose timestamp does not follow the sending clock, such
    /// as an RFC 4733 telephone event (every packet of an event carries the
    /// event's start time): it counts for sequence and loss but not for jitter.
    pub fn on_event_packet(&mut self, sequence: u16) -> SeqUpdate {
        match &mut self.seq {
            Some(t) => t.update(sequence),
            None => self.seq.insert(SequenceTracker::new(sequence)).update(sequence),
        }
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        self.jitter16 >> 4
    }

    /// Interarrival jitter as a duration.
    pub fn jitter_duration(&self) -> Duration {
        Duration::from_secs_f64(self.jitter() as f64 / self.clock_rate as f64)
    }

    pub fn sequence(&self) -> Option<&SequenceTracker> {
        self.seq.as_ref()
    }

    pub fn expected(&self) -> u64 {
        self.seq.as_ref().map_or(0, |s| s.expected())
    }

    pub fn received(&self) -> u64 {
        self.seq.as_ref().map_or(0, |s| s.received())
    }

    pub fn lost(&self) -> i64 {
        self.seq.as_ref().map_or(0, |s| s.lost())
    }

    /// Records a sender report from this source (its NTP time), received at `now`.
    pub fn on_sender_report(&mut self, now: Instant, ntp: NtpTime) {
        self.last_sr = Some((ntp.middle32(), now));
    }

    /// A report block about this source (`ssrc`) as of `now`; starts a new fraction-lost interval.
    pub fn report_block(&mut self, now: Instant, ssrc: u32) -> ReportBlock {
        let (fraction_lost, cumulative_lost, highest_seq) = match &mut self.seq {
            Some(s) => (s.take_fraction_lost(), s.lost(), s.extended_max() as u32),
            None => (0, 0, 0),
        };
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, at)) => {
                let delay = now.saturating_duration_since(at);
                // DLSR is in 1/65536 s.
                let units = (delay.as_nanos() * 65536 / 1_000_000_000).min(u32::MAX as u128) as u32;
                (lsr, units)
            }
            None => (0, 0),
        };
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as i32,
            highest_seq,
            jitter: self.jitter(),
            lsr,
            dlsr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut b = vec![0x80, 0x00, 0x12, 0x34, 0, 0, 0x03, 0x20, 0xDE, 0xAD, 0xBE, 0xEF];
        b.extend_from_slice(&[0xFF; 160]);
        b
    }

    #[test]
    fn parses_minimal_packet() {
        let b = sample();
        let p = RtpPacket::parse(&b).unwrap();
        assert!(!p.marker);
        assert_eq!(p.payload_type, 0);
        assert_eq!(p.sequence, 0x1234);
        assert_eq!(p.timestamp, 800);
        assert_eq!(p.ssrc, 0xDEADBEEF);
        assert_eq!(p.payload.len(), 160);
        assert!(p.csrcs.is_empty());
        assert_eq!(p.to_vec().unwrap(), b);
    }

    #[test]
    fn round_trips_every_header_feature() {
        let ext = [0x10, 0xAA, 0x21, 0xBB, 0xCC, 0x00, 0x00, 0x00];
        let p = RtpPacket {
            marker: true,
            payload_type: 101,
            sequence: 65535,
            timestamp: u32::MAX,
            ssrc: 7,
            csrcs: Csrcs::from_slice(&[1, 2, 3]).unwrap(),
            extension: Some(Extension { profile: ONE_BYTE_PROFILE, data: &ext }),
            payload: b"hello",
            padding: 3,
        };
        let bytes = p.to_vec().unwrap();
        assert_eq!(bytes.len(), p.wire_len());
        assert_eq!(bytes.len() % 4, 0);
        let q = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(q, p);
        assert_eq!(q.csrcs.as_slice(), &[1, 2, 3]);
        let elems: Vec<_> = q.extension.unwrap().elements().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            elems,
            vec![ExtensionElement { id: 1, data: &[0xAA] }, ExtensionElement { id: 2, data: &[0xBB, 0xCC] }]
        );
    }

    #[test]
    fn two_byte_extension_elements() {
        let data = [0x05, 0x02, 0xAB, 0xCD, 0x00, 0x07, 0x00, 0x00];
        let ext = Extension { profile: 0x1000, data: &data };
        let elems: Vec<_> = ext.elements().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(elems, vec![ExtensionElement { id: 5, data: &[0xAB, 0xCD] }, ExtensionElement { id: 7, data: &[] }]);
        let bad = Extension { profile: 0x1000, data: &[0x05, 0x09, 0x00, 0x00] };
        assert_eq!(bad.elements().unwrap().next(), Some(Err(RtpError::BadExtensionElement)));
        assert!(Extension { profile: 0x1234, data: &[] }.elements().is_none());
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(RtpError::TooShort { len: 11 }));
        let mut b = sample();
        b[0] = 0x40;
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadVersion(1)));
        let mut b = sample()[..12].to_vec();
        b[0] = 0x82;
        b.extend_from_slice(&[0; 7]);
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::TruncatedCsrcs { count: 2 }));
        let mut b = sample()[..12].to_vec();
        b[0] = 0x90;
        b.extend_from_slice(&[0xBE, 0xDE]);
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::TruncatedExtension));
        b.extend_from_slice(&[0x00, 0x02, 1, 2, 3, 4]);
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::TruncatedExtension));
        let mut b = sample();
        b[0] = 0xA0;
        *b.last_mut().unwrap() = 0;
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadPadding { padding: 0, available: 160 }));
        *b.last_mut().unwrap() = 161;
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadPadding { padding: 161, available: 160 }));
        *b.last_mut().unwrap() = 160;
        assert_eq!(RtpPacket::parse(&b).unwrap().payload.len(), 0);
    }

    #[test]
    fn parse_never_panics_on_any_short_prefix_or_flipped_header() {
        let ext = [0u8; 4];
        let p = RtpPacket {
            csrcs: Csrcs::from_slice(&[9; 15]).unwrap(),
            extension: Some(Extension { profile: 0x1000, data: &ext }),
            padding: 4,
            ..RtpPacket::new(0, 1, 2, 3, &[1, 2, 3, 4])
        };
        let full = p.to_vec().unwrap();
        for n in 0..=full.len() {
            let _ = RtpPacket::parse(&full[..n]);
            for byte in 0..2 {
                for bit in 0..8 {
                    let mut b = full[..n].to_vec();
                    if let Some(x) = b.get_mut(byte) {
                        *x ^= 1 << bit;
                    }
                    if let Ok(q) = RtpPacket::parse(&b) {
                        assert!(q.wire_len() == b.len());
                    }
                }
            }
        }
    }

    /// The fuzz target's property on deterministic random mutations of valid packets.
    #[test]
    fn random_mutations_parse_and_round_trip() {
        let mut rng = crate::test_rng::Rng::new(3);
        let ext = [0x10, 0xAA, 0x21, 0xBB, 0xCC, 0x00, 0x00, 0x00];
        let base = RtpPacket {
            marker: true,
            csrcs: Csrcs::from_slice(&[5, 6]).unwrap(),
            extension: Some(Extension { profile: ONE_BYTE_PROFILE, data: &ext }),
            padding: 4,
            ..RtpPacket::new(96, 9, 9, 9, &[7; 20])
        }
        .to_vec()
        .unwrap();
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut b = base.clone();
            b.truncate(b.len() - rng.index(8));
            for _ in 0..1 + rng.index(3) {
                let i = rng.index(b.len());
                b[i] = rng.next_u64() as u8;
            }
            let Ok(p) = RtpPacket::parse(&b) else { continue };
            parsed += 1;
            assert_eq!(p.wire_len(), b.len());
            let out = p.to_vec().unwrap();
            assert_eq!(RtpPacket::parse(&out).unwrap(), p);
            let keep = b.len() - p.padding as usize;
            assert_eq!(&out[..keep], &b[..keep]);
            if let Some(elements) = p.extension.and_then(|e| e.elements()) {
                elements.for_each(drop);
            }
        }
        assert!(parsed > 1000, "{parsed}");
    }

    #[test]
    fn serializer_rejects_bad_fields() {
        let mut p = RtpPacket::new(128, 0, 0, 0, &[]);
        assert_eq!(p.to_vec(), Err(RtpError::PayloadTypeTooLarge(128)));
        p.payload_type = 0;
        p.extension = Some(Extension { profile: 1, data: &[1, 2, 3] });
        assert_eq!(p.to_vec(), Err(RtpError::BadExtensionLength(3)));
        assert_eq!(Csrcs::from_slice(&[0; 16]), Err(RtpError::TooManyCsrcs(16)));
    }

    #[test]
    fn demultiplexes_rtcp() {
        assert!(is_rtcp(&[0x80, 200, 0, 6]));
        assert!(is_rtcp(&[0x81, 201, 0, 7]));
        assert!(!is_rtcp(&sample()));
        assert!(!is_rtcp(&[0x80, 0x80 | 96]));
        assert!(!is_rtcp(&[0x80]));
    }

    fn valid(u: SeqUpdate) -> u64 {
        match u {
            SeqUpdate::Valid { extended } => extended,
            other => panic!("expected valid, got {other:?}"),
        }
    }

    #[test]
    fn sequence_probation_then_extension_across_wrap() {
        let mut t = SequenceTracker::new(65533);
        assert_eq!(t.update(65533), SeqUpdate::Probation);
        assert_eq!(valid(t.update(65534)), 65534);
        assert_eq!(valid(t.update(65535)), 65535);
        assert_eq!(valid(t.update(0)), 65536);
        assert_eq!(valid(t.update(2)), 65538); // 1 lost
        assert_eq!(valid(t.update(1)), 65537); // late, previous position
        assert_eq!(t.extended_max(), 65538);
        assert_eq!(t.expected(), 5);
        assert_eq!(t.received(), 5);
        assert_eq!(t.lost(), 0);
        // A late packet from before the wrap gets the previous cycle.
        assert_eq!(valid(t.update(65535)), 65535);
        assert_eq!(t.lost(), -1, "duplicates count as received (A.3)");
    }

    #[test]
    fn probation_restarts_on_out_of_order_start() {
        let mut t = SequenceTracker::new(10);
        assert_eq!(t.update(10), SeqUpdate::Probation);
        assert_eq!(t.update(50), SeqUpdate::Probation);
        assert_eq!(valid(t.update(51)), 51);
        assert_eq!(t.expected(), 1);
    }

    #[test]
    fn large_jump_needs_two_packets_to_restart() {
        let mut t = SequenceTracker::new(100);
        t.update(100);
        for s in 101..110 {
            valid(t.update(s));
        }
        assert_eq!(t.update(30_000), SeqUpdate::BadJump);
        valid(t.update(110)); // stream carries on: the stray packet is forgotten
        assert_eq!(t.update(40_000), SeqUpdate::BadJump);
        assert_eq!(valid(t.update(40_001)), 40_001);
        assert_eq!(t.expected(), 1, "counting restarted at the new sequence");
        assert_eq!(valid(t.update(40_002)), 40_002);
        // A jump within MAX_DROPOUT is loss, not a restart.
        assert_eq!(valid(t.update(42_000)), 42_000);
        assert_eq!(t.lost(), 1997);
    }

    #[test]
    fn fraction_lost_per_interval() {
        let mut t = SequenceTracker::new(0);
        t.update(0);
        for s in 1..=100u16 {
            if s % 4 != 2 {
                t.update(s);
            }
        }
        // Expected 100 (1..=100), received 75.
        assert_eq!(t.take_fraction_lost(), 64);
        for s in 101..=200u16 {
            t.update(s);
        }
        assert_eq!(t.take_fraction_lost(), 0);
        assert_eq!(t.lost(), 25);
    }

    #[test]
    fn jitter_is_zero_for_a_steady_stream_and_tracks_variation() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(8000);
        for i in 0..100u32 {
            s.on_packet(t0 + Duration::from_millis(20 * i as u64), i as u16, 1000 + 160 * i);
        }
        assert_eq!(s.jitter(), 0);
        assert_eq!(s.received(), 99);
        // Alternate 0 and 10 ms extra delay: |D| = 80 ticks each packet, J converges to 80.
        for i in 100..1000u32 {
            let extra = if i % 2 == 0 { 10 } else { 0 };
            s.on_packet(t0 + Duration::from_millis(20 * i as u64 + extra), i as u16, 1000 + 160 * i);
        }
        assert!((78..=80).contains(&s.jitter()), "jitter {}", s.jitter());
        assert!((s.jitter_duration().as_secs_f64() - 0.010).abs() < 0.0005);
    }

    #[test]
    fn event_packets_count_for_loss_but_not_jitter() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(8000);
        for i in 0..100u32 {
            let now = t0 + Duration::from_millis(20 * i as u64);
            if (40..50).contains(&i) {
                // A telephone event: all its packets carry the start timestamp.
                s.on_event_packet(i as u16);
            } else {
                s.on_packet(now, i as u16, 160 * i);
            }
        }
        assert_eq!(s.jitter(), 0);
        assert_eq!(s.received(), 99);
        assert_eq!(s.lost(), 0);
    }

    #[test]
    fn report_block_from_stats() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(8000);
        for i in 0..50u32 {
            if i != 20 {
                s.on_packet(t0 + Duration::from_millis(20 * i as u64), 500 + i as u16, 160 * i);
            }
        }
        s.on_sender_report(t0, NtpTime(0x0001_2345_6789_0000));
        let rb = s.report_block(t0 + Duration::from_millis(1500), 42);
        assert_eq!(rb.ssrc, 42);
        assert_eq!(rb.cumulative_lost, 1);
        assert_eq!(rb.highest_seq, 549);
        assert_eq!(rb.lsr, 0x2345_6789);
        assert_eq!(rb.dlsr, 98304); // 1.5 s in 1/65536 s
        assert_eq!(rb.fraction_lost, (256 / 49) as u8);
    }
}
