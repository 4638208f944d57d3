//! DTMF as RTP telephone events (RFC 4733 §2.3, §2.5).
//!
//! [`TelephoneEvent`] is the 4-byte payload. [`DtmfSender`] turns key presses
//! into the packet sequence §2.5.1 asks for: a first packet with the marker
//! bit, updates every packet interval with the same RTP timestamp and a growing
//! duration, then the end packet sent three times. [`DtmfReceiver`] reports
//! each event once, whichever of its packets arrive and in whatever order.
//! Neither assigns sequence numbers or SSRCs: the RTP session that sends the
//! audio does, so events and audio share one sequence space.

use std::collections::VecDeque;

/// Why bytes are not a telephone-event payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmfError {
    #[error("telephone-event payload of {0} bytes, expected at least 4")]
    TooShort(usize),
    #[error("{0:?} is not a DTMF key")]
    NotAKey(char),
}

/// The 4-byte telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0–9, 10 = `*`, 11 = `#`, 12–15 = A–D, 16 = flash.
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level in −dBm0, 0–63 (6 bits).
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 bytes; redundant blocks after them (RFC 2198) are ignored.
    /// The reserved R bit is ignored, as §2.3 requires of receivers.
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        let [event, flags, d0, d1, ..] = *payload else { return Err(DtmfError::TooShort(payload.len())) };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [self.event, if self.end { 0x80 } else { 0 } | (self.volume & 0x3F), d[0], d[1]]
    }
}

/// Event code for a DTMF key (`0`–`9`, `*`, `#`, `A`–`D`, case-insensitive).
pub fn event_for_key(key: char) -> Result<u8, DtmfError> {
    Ok(match key.to_ascii_uppercase() {
        c @ '0'..='9' => c as u8 - b'0',
        '*' => 10,
        '#' => 11,
        c @ 'A'..='D' => c as u8 - b'A' + 12,
        _ => return Err(DtmfError::NotAKey(key)),
    })
}

/// The key for an event code 0–15.
pub fn key_for_event(event: u8) -> Option<char> {
    Some(match event {
        0..=9 => (b'0' + event) as char,
        10 => '*',
        11 => '#',
        12..=15 => (b'A' + event - 12) as char,
        _ => return None,
    })
}

/// One telephone-event packet to send: the caller wraps it in RTP with its own
/// sequence number and SSRC and the negotiated telephone-event payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    pub marker: bool,
    pub timestamp: u32,
    pub payload: TelephoneEvent,
}

/// How many times the end packet goes out (§2.5.1.4 recommends three).
const END_REPEATS: u8 = 3;

#[derive(Debug, Clone, Copy)]
struct Pending {
    event: u8,
    duration: u32,
}

#[derive(Debug, Clone, Copy)]
enum SendState {
    Idle,
    Playing { event: u8, start: u32, elapsed: u32, total: u32 },
    Ending { event: u8, start: u32, duration: u16, left: u8 },
}

/// Sends queued events, one packet per call to [`DtmfSender::tick`].
///
/// Driving contract: call `tick` once per packet interval with the RTP
/// timestamp the audio packet of that interval would carry. While it returns
/// `Some`, send that packet instead of audio; when it returns `None`, send audio.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    interval: u32,
    volume: u8,
    queue: VecDeque<Pending>,
    state: SendState,
}

impl DtmfSender {
    /// `interval`: timestamp units between packets (160 for 20 ms at 8000 Hz).
    /// `volume`: power in −dBm0 (10 is a common choice).
    pub fn new(interval: u32, volume: u8) -> Self {
        DtmfSender { interval: interval.max(1), volume: volume.min(63), queue: VecDeque::new(), state: SendState::Idle }
    }

    /// Queues a key press lasting `duration` timestamp units (800 = 100 ms at 8000 Hz).
    /// Durations are capped at 65535 units, the longest one packet can express.
    pub fn press(&mut self, key: char, duration: u32) -> Result<(), DtmfError> {
        let event = event_for_key(key)?;
        self.queue.push_back(Pending { event, duration: duration.clamp(1, u16::MAX as u32) });
        Ok(())
    }

    /// True while an event is being sent or waiting.
    pub fn is_busy(&self) -> bool {
        !matches!(self.state, SendState::Idle) || !self.queue.is_empty()
    }

    /// The packet for this interval, if an event is in progress or queued.
    pub fn tick(&mut self, timestamp: u32) -> Option<DtmfPacket> {
        if let SendState::Idle = self.state {
            let next = self.queue.pop_front()?;
            self.state = SendState::Playing { event: next.event, start: timestamp, elapsed: 0, total: next.duration };
        }
        let volume = self.volume;
        match &mut self.state {
            SendState::Idle => None,
            SendState::Playing { event, start, elapsed, total } => {
                let marker = *elapsed == 0;
                *elapsed = (*elapsed + self.interval).min(*total);
                let (event, start) = (*event, *start);
                let duration = *elapsed as u16;
                if *elapsed >= *total {
                    // This packet is the first of the end packets.
                    self.state = SendState::Ending { event, start, duration, left: END_REPEATS - 1 };
                    Some(DtmfPacket {
                        marker,
                        timestamp: start,
                        payload: TelephoneEvent { event, end: true, volume, duration },
                    })
                } else {
                    Some(DtmfPacket {
                        marker,
                        timestamp: start,
                        payload: TelephoneEvent { event, end: false, volume, duration },
                    })
                }
            }
            SendState::Ending { event, start, duration, left } => {
                let packet = DtmfPacket {
                    marker: false,
                    timestamp: *start,
                    payload: TelephoneEvent { event: *event, end: true, volume, duration: *duration },
                };
                *left -= 1;
                if *left == 0 {
                    self.state = SendState::Idle;
                }
                Some(packet)
            }
        }
    }
}

/// A received event, reported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit {
    pub event: u8,
    /// RTP timestamp of the event's start, which identifies it.
    pub timestamp: u32,
}

impl DtmfDigit {
    pub fn key(&self) -> Option<char> {
        key_for_event(self.event)
    }
}

/// How many recent events the receiver remembers to suppress repeats.
const REMEMBERED: usize = 16;

/// Reports each telephone event once: on whichever of its packets arrives first.
/// Events are identified by their RTP timestamp (§2.5.2.1), so the start packet,
/// updates and the three end packets of one press yield one digit, while the same
/// key pressed twice yields two.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    recent: VecDeque<(u32, u8)>,
}

impl DtmfReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one telephone-event RTP packet (its timestamp and payload).
    pub fn on_packet(&mut self, timestamp: u32, payload: &[u8]) -> Result<Option<DtmfDigit>, DtmfError> {
        let ev = TelephoneEvent::parse(payload)?;
        if self.recent.iter().any(|&(ts, e)| ts == timestamp && e == ev.event) {
            return Ok(None);
        }
        if self.recent.len() == REMEMBERED {
            self.recent.pop_front();
        }
        self.recent.push_back((timestamp, ev.event));
        Ok(Some(DtmfDigit { event: ev.event, timestamp }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_rfc_layout() {
        let ev = TelephoneEvent { event: 11, end: true, volume: 10, duration: 1280 };
        assert_eq!(ev.to_bytes(), [11, 0x8A, 0x05, 0x00]);
        assert_eq!(TelephoneEvent::parse(&ev.to_bytes()).unwrap(), ev);
        // R bit set by a sender must be ignored.
        assert_eq!(TelephoneEvent::parse(&[11, 0xCA, 5, 0]).unwrap(), ev);
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), Err(DtmfError::TooShort(3)));
    }

    #[test]
    fn keys_and_events() {
        let keys = "0123456789*#ABCD";
        for (i, k) in keys.chars().enumerate() {
            assert_eq!(event_for_key(k), Ok(i as u8));
            assert_eq!(key_for_event(i as u8), Some(k));
        }
        assert_eq!(event_for_key('a'), Ok(12));
        assert_eq!(event_for_key('x'), Err(DtmfError::NotAKey('x')));
        assert_eq!(key_for_event(16), None);
    }

    #[test]
    fn sender_emits_start_updates_and_three_ends() {
        let mut s = DtmfSender::new(160, 10);
        s.press('5', 800).unwrap();
        let mut ts = 16_000u32;
        let mut packets = Vec::new();
        while let Some(p) = s.tick(ts) {
            packets.push(p);
            ts += 160;
        }
        assert!(!s.is_busy());
        let durations: Vec<u16> = packets.iter().map(|p| p.payload.duration).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        let ends: Vec<bool> = packets.iter().map(|p| p.payload.end).collect();
        assert_eq!(ends, [false, false, false, false, true, true, true]);
        assert!(packets[0].marker);
        assert!(packets[1..].iter().all(|p| !p.marker));
        assert!(packets.iter().all(|p| p.timestamp == 16_000 && p.payload.event == 5 && p.payload.volume == 10));
        assert_eq!(s.tick(ts), None, "audio resumes");
    }

    #[test]
    fn sender_sends_queued_digits_back_to_back_and_caps_duration() {
        let mut s = DtmfSender::new(160, 10);
        s.press('1', 100).unwrap();
        s.press('#', 1_000_000).unwrap();
        assert_eq!(s.press('?', 100), Err(DtmfError::NotAKey('?')));
        let mut packets = Vec::new();
        let mut ts = 0u32;
        while let Some(p) = s.tick(ts) {
            packets.push(p);
            ts = ts.wrapping_add(160);
        }
        // '1': a single interval that is already the end, so three end packets.
        assert_eq!(
            packets[0],
            DtmfPacket {
                marker: true,
                timestamp: 0,
                payload: TelephoneEvent { event: 1, end: true, volume: 10, duration: 100 }
            }
        );
        assert!(packets[1..3].iter().all(|p| p.payload.end && p.timestamp == 0 && !p.marker));
        assert_eq!(packets[3].timestamp, 480);
        assert!(packets[3].marker);
        let last = packets.last().unwrap();
        assert_eq!(last.payload.duration, u16::MAX);
        assert_eq!(packets.len(), 3 + 65535_usize.div_ceil(160) + 2);
    }

    #[test]
    fn receiver_reports_once_despite_redundancy_loss_and_reordering() {
        let mut s = DtmfSender::new(160, 10);
        for k in "1#1".chars() {
            s.press(k, 480).unwrap();
        }
        let mut packets = Vec::new();
        let mut ts = 0;
        while let Some(p) = s.tick(ts) {
            packets.push(p);
            ts += 160;
        }
        // Lose the first digit's start packet; swap the second digit's updates; duplicate one.
        packets.remove(0);
        packets.swap(6, 7);
        let dup = packets[7];
        packets.insert(8, dup);
        // A late end packet of the first digit after the second began.
        let late = packets[3];
        packets.insert(7, late);
        let mut r = DtmfReceiver::new();
        let digits: Vec<char> = packets
            .iter()
            .filter_map(|p| r.on_packet(p.timestamp, &p.payload.to_bytes()).unwrap())
            .map(|d| d.key().unwrap())
            .collect();
        assert_eq!(digits, ['1', '#', '1']);
        assert_eq!(r.on_packet(0, &[1]), Err(DtmfError::TooShort(1)));
    }
}
