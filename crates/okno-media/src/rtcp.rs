//! RTCP (RFC 3550 §6): sender and receiver reports, SDES, BYE and compound
//! packets, plus the round-trip time a report block implies (§6.4.1).
//!
//! RTCP packets are small and rare (one compound every few seconds), so they are
//! parsed into owned values; unknown packet types (APP, feedback, XR) are kept as
//! opaque bodies so a compound packet survives a parse/serialize round trip.

use std::time::Duration;

/// Why bytes are not a (compound) RTCP packet, or why one cannot be serialized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    #[error("{len} bytes is shorter than the 4-byte RTCP header")]
    TooShort { len: usize },
    #[error("RTCP version {0}, expected 2")]
    BadVersion(u8),
    #[error("length field says {declared} bytes, only {available} remain")]
    BadLength { declared: usize, available: usize },
    #[error("packet type {packet_type} body is truncated")]
    Truncated { packet_type: u8 },
    #[error("padding of {padding} bytes does not fit the {available}-byte body")]
    BadPadding { padding: u8, available: usize },
    #[error("padding is only allowed on the last packet of a compound")]
    PaddingNotLast,
    #[error("{0} entries, at most 31 fit the count field")]
    TooManyEntries(usize),
    #[error("SDES item of {0} bytes, at most 255 fit")]
    ItemTooLong(usize),
    #[error("SDES item type 0 is reserved for the end of a chunk")]
    SdesTypeZero,
    #[error("BYE reason of {0} bytes, at most 255 fit")]
    ReasonTooLong(usize),
    #[error("packet of {0} bytes does not fit the 16-bit length field")]
    TooLong(usize),
    #[error("opaque body of {0} bytes is not a whole number of 32-bit words")]
    UnalignedBody(usize),
}

/// Packet type numbers (RFC 3550 §12.1).
pub mod packet_type {
    pub const SR: u8 = 200;
    pub const RR: u8 = 201;
    pub const SDES: u8 = 202;
    pub const BYE: u8 = 203;
    pub const APP: u8 = 204;
}

/// SDES item type of the canonical name.
pub const SDES_CNAME: u8 = 1;

/// A 64-bit NTP timestamp: seconds since 1900 in the high half, fraction in the low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct NtpTime(pub u64);

/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

impl NtpTime {
    /// From a duration since the Unix epoch (the caller reads the wall clock).
    pub fn from_unix(since_epoch: Duration) -> Self {
        let secs = since_epoch.as_secs() + NTP_UNIX_OFFSET;
        let frac = ((since_epoch.subsec_nanos() as u64) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// The middle 32 bits (16.16 fixed point), the form used by LSR and RTT.
    pub fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// One reception report block (§6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost, a signed 24-bit value on the wire.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP time, 0 if none yet.
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub dlsr: u32,
}

impl ReportBlock {
    /// Round-trip time seen by the sender of the SR this block answers, given
    /// when the block arrived (§6.4.1: A − LSR − DLSR). `None` without an SR
    /// (LSR 0) or when clocks make the result negative.
    pub fn round_trip_time(&self, arrival: NtpTime) -> Option<Duration> {
        round_trip_time(arrival, self.lsr, self.dlsr)
    }
}

/// RTT from the arrival time and the LSR/DLSR fields, in 16.16 NTP arithmetic modulo 2^32.
pub fn round_trip_time(arrival: NtpTime, lsr: u32, dlsr: u32) -> Option<Duration> {
    if lsr == 0 {
        return None;
    }
    let rtt = arrival.middle32().wrapping_sub(lsr).wrapping_sub(dlsr);
    // Anything in the upper half is a negative result from skew or a bogus block.
    if rtt >= 0x8000_0000 {
        return None;
    }
    Some(Duration::from_nanos((rtt as u64 * 1_000_000_000) >> 16))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderReport {
    pub ssrc: u32,
    pub ntp: NtpTime,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
    pub reports: Vec<ReportBlock>,
    /// Profile-specific extension, opaque (a whole number of 32-bit words).
    pub extension: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverReport {
    pub ssrc: u32,
    pub reports: Vec<ReportBlock>,
    pub extension: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesItem {
    /// Item type (1 = CNAME, 2 = NAME, …); never 0, which ends a chunk.
    pub kind: u8,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk {
    pub source: u32,
    pub items: Vec<SdesItem>,
}

impl SdesChunk {
    /// A chunk with only a CNAME, what every compound packet must carry.
    pub fn cname(source: u32, cname: &str) -> Self {
        SdesChunk { source, items: vec![SdesItem { kind: SDES_CNAME, value: cname.as_bytes().to_vec() }] }
    }

    /// The CNAME, if present and UTF-8.
    pub fn cname_str(&self) -> Option<&str> {
        self.items.iter().find(|i| i.kind == SDES_CNAME).and_then(|i| std::str::from_utf8(&i.value).ok())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bye {
    pub sources: Vec<u32>,
    pub reason: Option<Vec<u8>>,
}

/// One RTCP packet of a compound.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket {
    SenderReport(SenderReport),
    ReceiverReport(ReceiverReport),
    SourceDescription(Vec<SdesChunk>),
    Bye(Bye),
    /// Any other type (APP, RTPFB, PSFB, XR…), body kept as is.
    Other {
        packet_type: u8,
        count: u8,
        body: Vec<u8>,
    },
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn parse_blocks(body: &[u8], count: usize, packet_type: u8) -> Result<Vec<ReportBlock>, RtcpError> {
    if body.len() < 24 * count {
        return Err(RtcpError::Truncated { packet_type });
    }
    Ok((0..count)
        .map(|i| {
            let b = &body[24 * i..24 * i + 24];
            // Sign-extend the 24-bit cumulative loss.
            let lost = (i32::from_be_bytes([b[4], b[5], b[6], b[7]]) << 8) >> 8;
            ReportBlock {
                ssrc: be32(b, 0),
                fraction_lost: b[4],
                cumulative_lost: lost,
                highest_seq: be32(b, 8),
                jitter: be32(b, 12),
                lsr: be32(b, 16),
                dlsr: be32(b, 20),
            }
        })
        .collect())
}

fn write_blocks(blocks: &[ReportBlock], out: &mut Vec<u8>) {
    for b in blocks {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        let lost = (b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32) & 0x00FF_FFFF;
        out.extend_from_slice(&((b.fraction_lost as u32) << 24 | lost).to_be_bytes());
        out.extend_from_slice(&b.highest_seq.to_be_bytes());
        out.extend_from_slice(&b.jitter.to_be_bytes());
        out.extend_from_slice(&b.lsr.to_be_bytes());
        out.extend_from_slice(&b.dlsr.to_be_bytes());
    }
}

fn parse_sdes(body: &[u8], count: usize) -> Result<Vec<SdesChunk>, RtcpError> {
    let truncated = RtcpError::Truncated { packet_type: packet_type::SDES };
    let mut chunks = Vec::with_capacity(count);
    let mut at = 0;
    for _ in 0..count {
        if body.len() < at + 4 {
            return Err(truncated);
        }
        let source = be32(body, at);
        at += 4;
        let mut items = Vec::new();
        loop {
            let Some(&kind) = body.get(at) else { return Err(truncated) };
            if kind == 0 {
                // The END item, then null octets up to the next 32-bit boundary.
                at = (at + 4) & !3;
                if at > body.len() {
                    return Err(truncated);
                }
                break;
            }
            let Some(&len) = body.get(at + 1) else { return Err(truncated) };
            let end = at + 2 + len as usize;
            if end > body.len() {
                return Err(truncated);
            }
            items.push(SdesItem { kind, value: body[at + 2..end].to_vec() });
            at = end;
        }
        chunks.push(SdesChunk { source, items });
    }
    Ok(chunks)
}

fn parse_bye(body: &[u8], count: usize) -> Result<Bye, RtcpError> {
    let truncated = RtcpError::Truncated { packet_type: packet_type::BYE };
    if body.len() < 4 * count {
        return Err(truncated);
    }
    let sources = (0..count).map(|i| be32(body, 4 * i)).collect();
    let rest = &body[4 * count..];
    let reason = match rest.first() {
        // Trailing zero octets are padding to the word boundary, not a reason.
        None | Some(0) => None,
        Some(&len) => {
            let end = 1 + len as usize;
            if end > rest.len() {
                return Err(truncated);
            }
            Some(rest[1..end].to_vec())
        }
    };
    Ok(Bye { sources, reason })
}

impl RtcpPacket {
    /// Parses a compound packet (one datagram). Never panics.
    pub fn parse_compound(buf: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
        let mut packets = Vec::new();
        let mut rest = buf;
        while !rest.is_empty() {
            let (packet, len, padded) = Self::parse_one(rest)?;
            rest = &rest[len..];
            if padded && !rest.is_empty() {
                return Err(RtcpError::PaddingNotLast);
            }
            packets.push(packet);
        }
        if packets.is_empty() {
            return Err(RtcpError::TooShort { len: 0 });
        }
        Ok(packets)
    }

    /// Parses the first packet of `buf`; returns it, its length, and whether it was padded.
    fn parse_one(buf: &[u8]) -> Result<(RtcpPacket, usize, bool), RtcpError> {
        if buf.len() < 4 {
            return Err(RtcpError::TooShort { len: buf.len() });
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let padded = buf[0] & 0x20 != 0;
        let count = (buf[0] & 0x1F) as usize;
        let pt = buf[1];
        let len = (u16::from_be_bytes([buf[2], buf[3]]) as usize + 1) * 4;
        if len > buf.len() {
            return Err(RtcpError::BadLength { declared: len, available: buf.len() });
        }
        let mut body = &buf[4..len];
        if padded {
            let padding = body.last().copied().unwrap_or(0);
            if padding == 0 || padding as usize > body.len() {
                return Err(RtcpError::BadPadding { padding, available: body.len() });
            }
            body = &body[..body.len() - padding as usize];
        }
        let truncated = RtcpError::Truncated { packet_type: pt };
        let packet = match pt {
            packet_type::SR => {
                if body.len() < 24 {
                    return Err(truncated);
                }
                let reports = parse_blocks(&body[24..], count, pt)?;
                SenderReport {
                    ssrc: be32(body, 0),
                    ntp: NtpTime((be32(body, 4) as u64) << 32 | be32(body, 8) as u64),
                    rtp_timestamp: be32(body, 12),
                    packet_count: be32(body, 16),
                    octet_count: be32(body, 20),
                    reports,
                    extension: body[24 + 24 * count..].to_vec(),
                }
                .into()
            }
            packet_type::RR => {
                if body.len() < 4 {
                    return Err(truncated);
                }
                let reports = parse_blocks(&body[4..], count, pt)?;
                ReceiverReport { ssrc: be32(body, 0), reports, extension: body[4 + 24 * count..].to_vec() }.into()
            }
            packet_type::SDES => RtcpPacket::SourceDescription(parse_sdes(body, count)?),
            packet_type::BYE => RtcpPacket::Bye(parse_bye(body, count)?),
            _ => RtcpPacket::Other { packet_type: pt, count: count as u8, body: body.to_vec() },
        };
        Ok((packet, len, padded))
    }

    /// Appends this packet (unpadded) to `out`; on error `out` is left as it was.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        let start = out.len();
        // Placeholder header, filled in once the body length is known.
        out.extend_from_slice(&[0; 4]);
        match self.write_body(start, out) {
            Ok(_) if out.len() - start > 4 * (u16::MAX as usize + 1) => {
                let len = out.len() - start;
                out.truncate(start);
                Err(RtcpError::TooLong(len))
            }
            Ok((count, pt)) => {
                let words = (out.len() - start) / 4 - 1;
                out[start] = 0x80 | count as u8;
                out[start + 1] = pt;
                out[start + 2..start + 4].copy_from_slice(&(words as u16).to_be_bytes());
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    fn write_body(&self, start: usize, out: &mut Vec<u8>) -> Result<(usize, u8), RtcpError> {
        Ok(match self {
            RtcpPacket::SenderReport(sr) => {
                check_count(sr.reports.len())?;
                check_aligned(&sr.extension)?;
                out.extend_from_slice(&sr.ssrc.to_be_bytes());
                out.extend_from_slice(&sr.ntp.0.to_be_bytes());
                out.extend_from_slice(&sr.rtp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.packet_count.to_be_bytes());
                out.extend_from_slice(&sr.octet_count.to_be_bytes());
                write_blocks(&sr.reports, out);
                out.extend_from_slice(&sr.extension);
                (sr.reports.len(), packet_type::SR)
            }
            RtcpPacket::ReceiverReport(rr) => {
                check_count(rr.reports.len())?;
                check_aligned(&rr.extension)?;
                out.extend_from_slice(&rr.ssrc.to_be_bytes());
                write_blocks(&rr.reports, out);
                out.extend_from_slice(&rr.extension);
                (rr.reports.len(), packet_type::RR)
            }
            RtcpPacket::SourceDescription(chunks) => {
                check_count(chunks.len())?;
                for item in chunks.iter().flat_map(|c| &c.items) {
                    if item.kind == 0 {
                        // Type 0 is the END marker; written as an item it would cut the chunk short.
                        return Err(RtcpError::SdesTypeZero);
                    }
                    if item.value.len() > 255 {
                        return Err(RtcpError::ItemTooLong(item.value.len()));
                    }
                }
                for chunk in chunks {
                    let chunk_start = out.len();
                    out.extend_from_slice(&chunk.source.to_be_bytes());
                    for item in &chunk.items {
                        out.push(item.kind);
                        out.push(item.value.len() as u8);
                        out.extend_from_slice(&item.value);
                    }
                    // END item plus null octets to the boundary: at least one zero.
                    out.push(0);
                    while !(out.len() - chunk_start).is_multiple_of(4) {
                        out.push(0);
                    }
                }
                (chunks.len(), packet_type::SDES)
            }
            RtcpPacket::Bye(bye) => {
                check_count(bye.sources.len())?;
                for s in &bye.sources {
                    out.extend_from_slice(&s.to_be_bytes());
                }
                // An empty reason is written as none: a zero length octet reads back as padding.
                if let Some(reason) = bye.reason.as_ref().filter(|r| !r.is_empty()) {
                    if reason.len() > 255 {
                        return Err(RtcpError::ReasonTooLong(reason.len()));
                    }
                    out.push(reason.len() as u8);
                    out.extend_from_slice(reason);
                    while !(out.len() - start).is_multiple_of(4) {
                        out.push(0);
                    }
                }
                (bye.sources.len(), packet_type::BYE)
            }
            RtcpPacket::Other { packet_type, count, body } => {
                if *count > 31 {
                    return Err(RtcpError::TooManyEntries(*count as usize));
                }
                check_aligned(body)?;
                out.extend_from_slice(body);
                (*count as usize, *packet_type)
            }
        })
    }

    /// Serializes a compound packet.
    pub fn write_compound(packets: &[RtcpPacket]) -> Result<Vec<u8>, RtcpError> {
        let mut out = Vec::with_capacity(128);
        for p in packets {
            p.write_to(&mut out)?;
        }
        Ok(out)
    }
}

fn check_count(n: usize) -> Result<(), RtcpError> {
    if n > 31 { Err(RtcpError::TooManyEntries(n)) } else { Ok(()) }
}

fn check_aligned(body: &[u8]) -> Result<(), RtcpError> {
    if !body.len().is_multiple_of(4) { Err(RtcpError::UnalignedBody(body.len())) } else { Ok(()) }
}

impl From<SenderReport> for RtcpPacket {
    fn from(sr: SenderReport) -> Self {
        RtcpPacket::SenderReport(sr)
    }
}

impl From<ReceiverReport> for RtcpPacket {
    fn from(rr: ReceiverReport) -> Self {
        RtcpPacket::ReceiverReport(rr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ssrc: u32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 12,
            cumulative_lost: -3,
            highest_seq: 0x0001_0005,
            jitter: 77,
            lsr: 0xB705_2000,
            dlsr: 0x0005_4000,
        }
    }

    fn compound() -> Vec<RtcpPacket> {
        vec![
            SenderReport {
                ssrc: 0x1111,
                ntp: NtpTime(0xE000_0000_8000_0000),
                rtp_timestamp: 160_000,
                packet_count: 1000,
                octet_count: 160_000,
                reports: vec![block(0x2222)],
                extension: vec![],
            }
            .into(),
            RtcpPacket::SourceDescription(vec![
                SdesChunk::cname(0x1111, "okno@192.0.2.1"),
                SdesChunk {
                    source: 0x3333,
                    items: vec![SdesItem { kind: 1, value: b"ab".to_vec() }, SdesItem { kind: 6, value: vec![] }],
                },
            ]),
            RtcpPacket::Bye(Bye { sources: vec![0x1111], reason: Some(b"hangup".to_vec()) }),
        ]
    }

    #[test]
    fn compound_round_trip() {
        let packets = compound();
        let bytes = RtcpPacket::write_compound(&packets).unwrap();
        assert_eq!(bytes.len() % 4, 0);
        // SR: 4 + 24 + 24; SDES: 4 + (4+2+14+1 → 24) + (4+4+2+1 → 12); BYE: 4 + 4 + 7 → 16.
        assert_eq!(bytes.len(), 52 + 40 + 16);
        let back = RtcpPacket::parse_compound(&bytes).unwrap();
        assert_eq!(back, packets);
        let RtcpPacket::SourceDescription(chunks) = &back[1] else { panic!() };
        assert_eq!(chunks[0].cname_str(), Some("okno@192.0.2.1"));
    }

    #[test]
    fn receiver_report_and_unknown_types_round_trip() {
        let packets = vec![
            ReceiverReport { ssrc: 9, reports: vec![block(1), block(2)], extension: vec![1, 2, 3, 4] }.into(),
            RtcpPacket::Other { packet_type: 205, count: 1, body: vec![0, 0, 0, 9, 0, 0, 0, 1] },
            RtcpPacket::Bye(Bye { sources: vec![], reason: None }),
        ];
        let bytes = RtcpPacket::write_compound(&packets).unwrap();
        assert_eq!(&bytes[..4], &[0x82, 201, 0, 14]);
        assert_eq!(RtcpPacket::parse_compound(&bytes).unwrap(), packets);
    }

    #[test]
    fn cumulative_lost_is_24_bit_signed() {
        let mut b = block(1);
        b.cumulative_lost = 10_000_000;
        let bytes =
            RtcpPacket::write_compound(&[ReceiverReport { ssrc: 1, reports: vec![b], extension: vec![] }.into()])
                .unwrap();
        let back = RtcpPacket::parse_compound(&bytes).unwrap();
        let RtcpPacket::ReceiverReport(rr) = &back[0] else { panic!() };
        assert_eq!(rr.reports[0].cumulative_lost, 0x7F_FFFF);
        assert_eq!(rr.reports[0].fraction_lost, 12);
    }

    #[test]
    fn padding_on_last_packet_only() {
        let mut bytes = RtcpPacket::write_compound(&compound()[2..]).unwrap();
        // Pad the BYE by 4 bytes.
        bytes[0] |= 0x20;
        bytes[3] += 1;
        bytes.extend_from_slice(&[0, 0, 0, 4]);
        assert_eq!(RtcpPacket::parse_compound(&bytes).unwrap(), compound()[2..]);
        let mut two = bytes.clone();
        two.extend_from_slice(&RtcpPacket::write_compound(&compound()[2..]).unwrap());
        assert_eq!(RtcpPacket::parse_compound(&two), Err(RtcpError::PaddingNotLast));
        let n = bytes.len();
        bytes[n - 1] = 0;
        assert_eq!(RtcpPacket::parse_compound(&bytes), Err(RtcpError::BadPadding { padding: 0, available: 16 }));
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        assert_eq!(RtcpPacket::parse_compound(&[]), Err(RtcpError::TooShort { len: 0 }));
        assert_eq!(RtcpPacket::parse_compound(&[0x80, 200]), Err(RtcpError::TooShort { len: 2 }));
        assert_eq!(RtcpPacket::parse_compound(&[0x40, 200, 0, 0]), Err(RtcpError::BadVersion(1)));
        assert_eq!(
            RtcpPacket::parse_compound(&[0x80, 200, 0, 6, 0, 0, 0, 0]),
            Err(RtcpError::BadLength { declared: 28, available: 8 })
        );
        assert_eq!(RtcpPacket::parse_compound(&[0x80, 200, 0, 0]), Err(RtcpError::Truncated { packet_type: 200 }));
        assert_eq!(
            RtcpPacket::parse_compound(&[0x81, 201, 0, 1, 0, 0, 0, 1]),
            Err(RtcpError::Truncated { packet_type: 201 })
        );
        // SDES chunk whose item length runs past the packet.
        assert_eq!(
            RtcpPacket::parse_compound(&[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, b'a', 0]),
            Err(RtcpError::Truncated { packet_type: 202 })
        );
        // SDES without an END item.
        assert_eq!(
            RtcpPacket::parse_compound(&[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, b'a', b'b']),
            Err(RtcpError::Truncated { packet_type: 202 })
        );
        // BYE reason longer than the packet.
        assert_eq!(
            RtcpPacket::parse_compound(&[0x81, 203, 0, 2, 0, 0, 0, 1, 5, b'a', 0, 0]),
            Err(RtcpError::Truncated { packet_type: 203 })
        );
    }

    #[test]
    fn parse_never_panics_on_prefixes_and_bit_flips() {
        let bytes = RtcpPacket::write_compound(&compound()).unwrap();
        for n in 0..=bytes.len() {
            let _ = RtcpPacket::parse_compound(&bytes[..n]);
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                if let Ok(p) = RtcpPacket::parse_compound(&b) {
                    // Whatever parsed must serialize without error or panic.
                    let _ = RtcpPacket::write_compound(&p);
                }
            }
        }
    }

    /// The fuzz target's property on deterministic random mutations of a valid compound.
    #[test]
    fn random_mutations_parse_and_round_trip() {
        let mut rng = crate::test_rng::Rng::new(5);
        let base = RtcpPacket::write_compound(&compound()).unwrap();
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut b = base.clone();
            b.truncate(b.len() - rng.index(4) * 4);
            for _ in 0..1 + rng.index(3) {
                let i = rng.index(b.len());
                b[i] = rng.next_u64() as u8;
            }
            let Ok(packets) = RtcpPacket::parse_compound(&b) else { continue };
            parsed += 1;
            let Ok(out) = RtcpPacket::write_compound(&packets) else { continue };
            assert_eq!(RtcpPacket::parse_compound(&out).unwrap(), packets);
        }
        assert!(parsed > 1000, "{parsed}");
    }

    #[test]
    fn serializer_rejects_oversized_fields() {
        let rr = ReceiverReport { ssrc: 1, reports: vec![block(1); 32], extension: vec![] };
        assert_eq!(RtcpPacket::write_compound(&[rr.into()]), Err(RtcpError::TooManyEntries(32)));
        let sdes = RtcpPacket::SourceDescription(vec![SdesChunk {
            source: 1,
            items: vec![SdesItem { kind: 1, value: vec![b'x'; 256] }],
        }]);
        assert_eq!(RtcpPacket::write_compound(&[sdes]), Err(RtcpError::ItemTooLong(256)));
        let sdes = RtcpPacket::SourceDescription(vec![SdesChunk {
            source: 1,
            items: vec![SdesItem { kind: 0, value: vec![] }],
        }]);
        assert_eq!(RtcpPacket::write_compound(&[sdes]), Err(RtcpError::SdesTypeZero));
        let bye = RtcpPacket::Bye(Bye { sources: vec![1], reason: Some(vec![b'x'; 300]) });
        assert_eq!(RtcpPacket::write_compound(&[bye]), Err(RtcpError::ReasonTooLong(300)));
        let other = RtcpPacket::Other { packet_type: 204, count: 0, body: vec![1, 2] };
        assert_eq!(RtcpPacket::write_compound(&[other]), Err(RtcpError::UnalignedBody(2)));
    }

    #[test]
    fn rtt_example_from_rfc_3550() {
        // §6.4.1: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125 s),
        // DLSR = 0x0005:4000 (5.250 s) → RTT = 0x0006:2000 (6.125 s).
        let arrival = NtpTime(0xB710_8000u64 << 16);
        assert_eq!(arrival.middle32(), 0xB710_8000);
        assert_eq!(block(1).round_trip_time(arrival), Some(Duration::from_millis(6125)));
        assert_eq!(round_trip_time(arrival, 0, 0), None, "no SR received yet");
        assert_eq!(round_trip_time(NtpTime(0xB705_0000u64 << 16), 0xB705_2000, 0), None, "negative");
        // Across the 16-bit seconds wrap of the middle word.
        assert_eq!(round_trip_time(NtpTime(0x0000_8000u64 << 16), 0xFFFF_8000, 0), Some(Duration::from_secs(1)));
    }

    #[test]
    fn ntp_from_unix() {
        let t = NtpTime::from_unix(Duration::new(1, 500_000_000));
        assert_eq!(t.0 >> 32, NTP_UNIX_OFFSET + 1);
        assert_eq!(t.0 as u32, 0x8000_0000);
        assert_eq!(t.middle32() & 0xFFFF, 0x8000);
    }
}
