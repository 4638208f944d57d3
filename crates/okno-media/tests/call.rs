//! One direction of a G.711 call between two sans-IO endpoints, stepped in
//! virtual time through an emulated network with delay, jitter, loss and
//! duplication: RTP out, DTMF in band, RTCP SR/RR back for the round-trip time,
//! jitter buffer and concealment on the receiving side, and a MOS estimate.
//! Ten seconds of call run in milliseconds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use okno_media::dtmf::{DtmfReceiver, DtmfSender};
use okno_media::g711::G711;
use okno_media::jitter::{AudioJitterBuffer, Frame, JitterConfig};
use okno_media::quality::{CodecImpairment, Conditions, mos};
use okno_media::rtcp::{NtpTime, ReceiverReport, RtcpPacket};
use okno_media::rtp::{ReceiverStats, RtpPacket, RtpSender, is_rtcp};
use okno_testkit::net::{Link, Network};

/// Alice's and Bob's addresses on the emulated network.
fn alice_addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 40_000))
}

fn bob_addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 2], 40_000))
}

const EVENT_PT: u8 = 101;

#[test]
fn ten_second_call_through_a_lossy_jittery_network() {
    let t0 = Instant::now();
    // The wall clock both ends would read, for NTP timestamps (2026-11-22).
    let unix0 = Duration::from_secs(1_795_000_000);
    let ntp_at = |ms: u64| NtpTime::from_unix(unix0 + Duration::from_millis(ms));
    let at = |ms: u64| t0 + Duration::from_millis(ms);

    // 30–60 ms one way, 3 % lost, 1 % doubled.
    let link = Link { loss: 30, dup: 10, delay: Duration::from_millis(30), jitter: Duration::from_millis(30) };
    let mut net = Network::new(t0, link, 2026);

    // Alice sends.
    let mut alice = RtpSender::new(0xA11CE, 65_000, u32::MAX - 40_000);
    let mut keys = DtmfSender::new(160, 10);
    let law = G711::Pcmu;
    let mut codes = Vec::with_capacity(160);
    let mut rtt = None;

    // Bob receives.
    let mut stats = ReceiverStats::new(8000);
    let mut jb = AudioJitterBuffer::new(JitterConfig::default());
    let mut digits = DtmfReceiver::new();
    let mut heard = Vec::new();
    let (mut audio, mut concealed, mut silence) = (0u32, 0u32, 0u32);
    let mut pcm = Vec::with_capacity(160);

    for ms in 0..10_500u64 {
        let arrived = net.advance(at(ms));
        if ms % 20 == 0 && ms < 10_000 {
            if ms == 1000 {
                keys.press('5', 800).unwrap();
            }
            if ms == 2000 {
                keys.press('#', 1600).unwrap();
            }
            let datagram = if let Some(ev) = keys.tick(alice.timestamp()) {
                let payload = ev.payload.to_bytes();
                alice.packet(EVENT_PT, ev.marker, ev.timestamp, &payload).to_vec().unwrap()
            } else {
                let frame: Vec<i16> = (0..160u64)
                    .map(|i| {
                        let n = (ms * 8 + i) as f64;
                        ((n * 440.0 * std::f64::consts::TAU / 8000.0).sin() * 8000.0) as i16
                    })
                    .collect();
                codes.clear();
                law.encode(&frame, &mut codes);
                let ts = alice.timestamp();
                alice.packet(law.payload_type(), ms == 0, ts, &codes).to_vec().unwrap()
            };
            alice.advance(160);
            net.send(alice_addr(), bob_addr(), datagram);
        }
        if ms == 5000 {
            let sr = alice.sender_report(ntp_at(ms), Vec::new());
            net.send(alice_addr(), bob_addr(), RtcpPacket::write_compound(&[sr.into()]).unwrap());
        }
        for arrival in arrived {
            let datagram = arrival.bytes;
            if arrival.to == bob_addr() {
                if is_rtcp(&datagram) {
                    for p in RtcpPacket::parse_compound(&datagram).unwrap() {
                        if let RtcpPacket::SenderReport(sr) = p {
                            stats.on_sender_report(at(ms), sr.ntp);
                        }
                    }
                    continue;
                }
                let p = RtpPacket::parse(&datagram).unwrap();
                if p.payload_type == EVENT_PT {
                    stats.on_event_packet(p.sequence);
                    if let Some(d) = digits.on_packet(p.timestamp, p.payload).unwrap() {
                        heard.push(d.key().unwrap());
                    }
                    continue;
                }
                stats.on_packet(at(ms), p.sequence, p.timestamp);
                pcm.clear();
                law.decode(p.payload, &mut pcm);
                jb.push(at(ms), p.sequence, p.timestamp, pcm.clone());
            } else {
                for p in RtcpPacket::parse_compound(&datagram).unwrap() {
                    if let RtcpPacket::ReceiverReport(rr) = p {
                        rtt = rr.reports[0].round_trip_time(ntp_at(ms));
                    }
                }
            }
        }
        // Play out until the last packets are in; the stream ends at 10 s.
        if ms % 20 == 7 && ms < 10_100 {
            match jb.pop(at(ms)) {
                Frame::Audio(s) => {
                    assert_eq!(s.len(), 160);
                    audio += 1;
                }
                Frame::Concealed(_) => concealed += 1,
                Frame::Silence => silence += 1,
            }
        }
        if ms == 5500 {
            let block = stats.report_block(at(ms), alice.ssrc());
            assert_ne!(block.lsr, 0, "Bob has seen Alice's SR");
            let rr = ReceiverReport { ssrc: 0xB0B, reports: vec![block], extension: Vec::new() };
            // Make sure the report itself gets through: RTCP loss is not what this test is about.
            net.set_link(Link { loss: 0, ..link });
            net.send(bob_addr(), alice_addr(), RtcpPacket::write_compound(&[rr.into()]).unwrap());
            net.set_link(link);
        }
    }

    assert_eq!(heard, ['5', '#'], "each digit once despite three end packets, loss and duplicates");

    // SR forward and RR back each take 30–60 ms.
    let rtt = rtt.expect("RR arrived and carries LSR/DLSR");
    assert!((Duration::from_millis(55)..=Duration::from_millis(125)).contains(&rtt), "rtt {rtt:?}");

    let loss_pct = 100.0 * stats.lost() as f64 / stats.expected() as f64;
    assert!((1.5..5.0).contains(&loss_pct), "measured loss {loss_pct:.2}%");
    // Uniform 0–30 ms jitter: mean |D| is 10 ms = 80 ticks.
    assert!((40..=120).contains(&stats.jitter()), "jitter {} ticks", stats.jitter());

    let js = *jb.stats();
    eprintln!(
        "audio {audio} concealed {concealed} silence {silence} {js:?} target {:?} rtt {rtt:?} loss {loss_pct} jitter {}",
        jb.target_delay(),
        stats.jitter()
    );
    assert!(js.duplicates > 0, "{js:?}");
    // 505 pops. DTMF (7 + 12 intervals) replaces audio and is concealed once,
    // ~3 % of packets are lost, and a few late packets cost an expansion each
    // while the delay grows to cover the jitter.
    assert_eq!(js.played, js.accepted, "every accepted frame is played: {js:?}");
    assert!(audio >= 455, "audio {audio} concealed {concealed} silence {silence} {js:?}");
    assert!(concealed <= 45, "audio {audio} concealed {concealed} silence {silence} {js:?}");
    assert_eq!(js.late, 0, "{js:?}");

    let delay_ms = 45.0 + jb.target_delay().as_millis() as f64 + 20.0;
    let score = mos(&Conditions::new(delay_ms, loss_pct), CodecImpairment::G711_PLC);
    assert!((3.8..4.4).contains(&score), "MOS {score:.2}");
}
