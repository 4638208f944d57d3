//! Throughput of the media hot paths: RTP parse, G.711 encode/decode, jitter
//! buffer push+pop, SRTP protect+unprotect. Run: `cargo bench -p okno-media --bench media`
//! (uses `std::time` here only, never in the crate).

use std::hint::black_box;
use std::time::{Duration, Instant};

use okno_media::g711::G711;
use okno_media::jitter::{JitterBuffer, JitterConfig, Playout};
use okno_media::rtp::RtpPacket;
use okno_media::srtp::{SrtpContext, SrtpProfile};

fn rate(name: &str, unit: &str, per_call: u64, mut f: impl FnMut()) {
    // Warm up, then run for about a second.
    for _ in 0..1000 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..1000 {
            f();
        }
        n += 1000;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{name:<44} {:>14.0} {unit}/s", (n * per_call) as f64 / secs);
}

fn main() {
    let payload = [0xD5u8; 160];
    let packet = RtpPacket::new(8, 4242, 160 * 4242, 0x1234_5678, &payload).to_vec().unwrap();
    rate("RTP parse (172-byte G.711 packet)", "packets", 1, || {
        black_box(RtpPacket::parse(black_box(&packet)).unwrap());
    });
    let mut out = Vec::with_capacity(200);
    rate("RTP serialize (172-byte G.711 packet)", "packets", 1, || {
        out.clear();
        black_box(RtpPacket::new(8, 4242, 160, 1, black_box(&payload))).write_to(&mut out).unwrap();
    });

    for profile in SrtpProfile::ALL {
        let key = [0x42u8; 30];
        let (mut tx, mut rx) = (SrtpContext::new(profile, &key).unwrap(), SrtpContext::new(profile, &key).unwrap());
        let mut seq = 0u16;
        let mut plain = packet.clone();
        rate(&format!("SRTP protect+unprotect ({}, 172 B)", profile.sdes_name()), "packets", 1, || {
            // A fresh sequence number each time: the replay window refuses repeats.
            seq = seq.wrapping_add(1);
            plain[2..4].copy_from_slice(&seq.to_be_bytes());
            let sealed = tx.protect_rtp(black_box(&plain)).unwrap();
            black_box(rx.unprotect_rtp(&sealed).unwrap());
        });
    }

    let pcm: Vec<i16> = (0..160).map(|i| ((i as f64 * 0.2).sin() * 12_000.0) as i16).collect();
    let mut codes = Vec::with_capacity(160);
    let mut samples = Vec::with_capacity(160);
    for law in [G711::Pcmu, G711::Pcma] {
        rate(&format!("G.711 {law:?} encode (160-sample frames)"), "samples", 160, || {
            codes.clear();
            law.encode(black_box(&pcm), &mut codes);
            black_box(&codes);
        });
        let encoded = codes.clone();
        rate(&format!("G.711 {law:?} decode (160-sample frames)"), "samples", 160, || {
            samples.clear();
            law.decode(black_box(&encoded), &mut samples);
            black_box(&samples);
        });
    }

    // One push and one pop per 20 ms frame of virtual time, with mild jitter
    // (every 7th packet 30 ms late) so the delay estimate and reordering work.
    let t0 = Instant::now();
    let mut jb: JitterBuffer<u32> = JitterBuffer::new(JitterConfig::default());
    let mut i = 0u32;
    rate("jitter buffer push + pop (virtual time)", "frames", 1, || {
        let late = if i.is_multiple_of(7) { 30 } else { 0 };
        let at = t0 + Duration::from_millis(i as u64 * 20 + late);
        jb.push(at, i as u16, i.wrapping_mul(160), i);
        let popped = jb.pop(t0 + Duration::from_millis(i as u64 * 20 + 10));
        black_box(matches!(popped, Playout::Frame(_)));
        i = i.wrapping_add(1);
    });
    let s = jb.stats();
    println!("  (played {}, concealed {}, late {}, accelerated {})", s.played, s.concealed, s.late, s.accelerated);
}
