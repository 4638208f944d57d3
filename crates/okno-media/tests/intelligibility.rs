//! Speech stays intelligible under loss and jitter: recorded speech (English and Russian,
//! `tests/data/speech-8k.wav`, made with espeak-ng) goes through two `MediaSession`s over an
//! emulated network in virtual time — random loss, uniform jitter, reordering — and what the
//! receiver plays out is scored against the original.
//!
//! The score is our own documented metric, a simplified STOI (Taal et al., 2011): short-time
//! amplitude envelopes in 1/3-octave bands from 150 Hz to 3.4 kHz (32 ms Hann frames, 10 ms
//! hop), correlated between original and received over 384 ms windows, averaged over bands
//! and over the windows that hold speech. Each window is aligned on its own (the adaptive
//! jitter buffer moves the delay during the call). 1.0 is identical; unrelated speech scores
//! near 0. It tracks STOI's ranking, not its absolute scale; figures are in docs/BENCHMARKS.md.
//! Run for G.711 (with and without concealment) and for Opus with in-band FEC.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use okno_media::g711::G711;
use okno_media::jitter::Frame;
use okno_media::session::{Codec, MediaSession, SessionConfig};

fn speech() -> Vec<i16> {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech-8k.wav")).unwrap();
    // A canonical PCM WAV: find the `data` chunk and read its 16-bit samples.
    let at = bytes.windows(4).position(|w| w == b"data").expect("data chunk") + 8;
    bytes[at..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
}

/// Sends `input` (8 kHz) from one session to another through a network with `loss` (0–1) and
/// `jitter_ms` of uniform extra delay over a 20 ms base; returns what the receiver played, at
/// 8 kHz. With `conceal` false, concealed frames are replaced by silence (a receiver without
/// PLC). A codec with a higher PCM rate (Opus, 16 kHz) gets the input interpolated up and its
/// output averaged back down, which changes nothing below 4 kHz that the score looks at.
fn transmit(codec: Codec, input: &[i16], loss: f64, jitter_ms: f64, seed: u64, conceal: bool) -> Vec<i16> {
    let up = (codec.pcm_rate() / 8000) as usize;
    let input: Vec<i16> = (0..input.len() * up)
        .map(|i| {
            let (k, f) = (i / up, (i % up) as f64 / up as f64);
            let next = input.get(k + 1).copied().unwrap_or(input[k]);
            (input[k] as f64 * (1.0 - f) + next as f64 * f) as i16
        })
        .collect();
    let frame = 160 * up;
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut tx = MediaSession::new(SessionConfig::new(codec, 0, Some(101), 0x5EED), t0, Duration::ZERO).unwrap();
    let mut rx = MediaSession::new(SessionConfig::new(codec, 0, Some(101), 0xCAFE), t0, Duration::ZERO).unwrap();
    let mut rng = okno_core::rng::Rng::new(seed);
    let mut in_flight: BinaryHeap<Reverse<(u64, u64, Vec<u8>)>> = BinaryHeap::new();
    let mut out = Vec::with_capacity(input.len() + 8000);
    let frames = input.len() / frame;
    let end_ms = frames as u64 * 20 + 600;
    for ms in 0..end_ms {
        if ms % 20 == 0 && ((ms / 20) as usize) < frames {
            let i = (ms / 20) as usize;
            let d = tx.send_frame(&input[i * frame..(i + 1) * frame]).unwrap();
            if rng.unit() >= loss {
                let arrival = ms + 20 + (rng.unit() * jitter_ms) as u64;
                in_flight.push(Reverse((arrival, ms, d)));
            }
        }
        while in_flight.peek().is_some_and(|Reverse((a, ..))| *a <= ms) {
            let Reverse((_, _, d)) = in_flight.pop().unwrap();
            rx.receive(at(ms), &d).unwrap();
        }
        if ms % 20 == 10 {
            match rx.playout(at(ms)) {
                Frame::Audio(s) => out.extend_from_slice(&s),
                Frame::Concealed(s) if conceal => out.extend_from_slice(&s),
                _ => out.extend(std::iter::repeat_n(0, frame)),
            }
        }
    }
    out.chunks(up).map(|c| (c.iter().map(|&s| s as i32).sum::<i32>() / c.len() as i32) as i16).collect()
}

const RATE: f64 = 8000.0;
const FRAME: usize = 256;
const HOP: usize = 80;
const WINDOW: usize = 38;

/// Band amplitude envelopes: `[frame][band]`.
fn envelopes(x: &[i16]) -> Vec<Vec<f64>> {
    // 1/3-octave band centres from 150 Hz up to 3.4 kHz.
    let centres: Vec<f64> = (0..14).map(|k| 150.0 * 2f64.powf(k as f64 / 3.0)).filter(|c| *c < 3400.0).collect();
    let bins: Vec<(usize, usize)> = centres
        .iter()
        .map(|c| {
            let lo = (c * 2f64.powf(-1.0 / 6.0) * FRAME as f64 / RATE).floor() as usize;
            let hi = (c * 2f64.powf(1.0 / 6.0) * FRAME as f64 / RATE).ceil() as usize;
            (lo.max(1), hi.max(lo + 1))
        })
        .collect();
    let top = bins.iter().map(|b| b.1).max().unwrap();
    let window: Vec<f64> =
        (0..FRAME).map(|n| 0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / FRAME as f64).cos()).collect();
    // Twiddles for the bins we need: a plain DFT of those bins is enough here.
    let twiddles: Vec<Vec<(f64, f64)>> = (0..top)
        .map(|k| {
            (0..FRAME)
                .map(|n| {
                    let a = -std::f64::consts::TAU * (k * n) as f64 / FRAME as f64;
                    (a.cos(), a.sin())
                })
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    let mut start = 0;
    while start + FRAME <= x.len() {
        let frame: Vec<f64> = (0..FRAME).map(|n| x[start + n] as f64 * window[n]).collect();
        let power: Vec<f64> = twiddles
            .iter()
            .map(|tw| {
                let (re, im) =
                    frame.iter().zip(tw).fold((0.0, 0.0), |(re, im), (s, (c, si))| (re + s * c, im + s * si));
                re * re + im * im
            })
            .collect();
        out.push(bins.iter().map(|&(lo, hi)| power[lo..hi].iter().sum::<f64>().sqrt()).collect());
        start += HOP;
    }
    out
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        num += (x - ma) * (y - mb);
        da += (x - ma) * (x - ma);
        db += (y - mb) * (y - mb);
    }
    if da == 0.0 || db == 0.0 { 0.0 } else { num / (da * db).sqrt() }
}

/// The simplified STOI score of `received` against `original` (see the module docs).
fn intelligibility(original: &[i16], received: &[i16]) -> f64 {
    let (x, y) = (envelopes(original), envelopes(received));
    let bands = x[0].len();
    let energy = |f: &Vec<f64>| f.iter().map(|v| v * v).sum::<f64>();
    let loudest = x.iter().map(energy).fold(0.0, f64::max);
    let score_at = |start: usize, lag: usize| -> f64 {
        (0..bands)
            .map(|b| {
                let xs: Vec<f64> = (start..start + WINDOW).map(|i| x[i][b]).collect();
                let ys: Vec<f64> = (start..start + WINDOW).map(|i| y.get(i + lag).map_or(0.0, |f| f[b])).collect();
                pearson(&xs, &ys)
            })
            .sum::<f64>()
            / bands as f64
    };
    let mut scores = Vec::new();
    let mut start = 0;
    while start + WINDOW <= x.len() {
        // Windows of pauses say nothing about intelligibility (STOI drops them too).
        let speech = x[start..start + WINDOW].iter().map(energy).sum::<f64>() / WINDOW as f64 > loudest * 1e-3;
        if speech {
            // The path delays by 20–300 ms: align each window on its own.
            let best = (0..40).map(|lag| score_at(start, lag)).fold(f64::MIN, f64::max);
            scores.push(best);
        }
        start += WINDOW / 2;
    }
    scores.iter().sum::<f64>() / scores.len() as f64
}

#[test]
fn speech_stays_intelligible_under_loss_and_jitter() {
    let input = speech();
    assert!(input.len() > 8000 * 10, "the fixture holds over 10 s of speech");

    let g711 = Codec::G711(G711::Pcmu);
    let clean = intelligibility(&input, &transmit(g711, &input, 0.0, 0.0, 1, true));
    let lossy = |loss, conceal| intelligibility(&input, &transmit(g711, &input, loss, 40.0, 7, conceal));
    let (five, ten, twenty) = (lossy(0.05, true), lossy(0.10, true), lossy(0.20, true));
    let ten_without_plc = lossy(0.10, false);
    // Unrelated speech: the English half against the Russian half.
    let half = input.len() / 2;
    let unrelated = intelligibility(&input[..half], &input[half..half * 2]);
    eprintln!(
        "intelligibility (simplified STOI): clean {clean:.3}, 5% {five:.3}, 10% {ten:.3}, 20% {twenty:.3}, \
         10% without concealment {ten_without_plc:.3}, unrelated speech {unrelated:.3}"
    );

    assert!(clean > 0.95, "G.711 alone barely changes speech: {clean:.3}");
    assert!(unrelated < 0.5, "the metric tells different speech apart: {unrelated:.3}");
    // 5 % loss with 40 ms of jitter: still clearly intelligible.
    assert!(five > 0.93, "5 % loss, 40 ms jitter: {five:.3}");
    assert!(clean > five && five > ten && ten > twenty, "more loss, lower score");
    assert!(ten > ten_without_plc, "concealment helps: {ten:.3} vs {ten_without_plc:.3} without");
}

#[test]
fn opus_with_fec_stays_intelligible_under_loss_and_jitter() {
    let input = speech();
    let score = |loss| intelligibility(&input, &transmit(Codec::Opus, &input, loss, 40.0, 7, true));
    let clean = intelligibility(&input, &transmit(Codec::Opus, &input, 0.0, 0.0, 1, true));
    let (five, ten, twenty) = (score(0.05), score(0.10), score(0.20));
    eprintln!(
        "intelligibility over Opus 24 kbit/s with FEC (simplified STOI): clean {clean:.3}, 5% {five:.3}, \
         10% {ten:.3}, 20% {twenty:.3}"
    );
    assert!(clean > 0.9, "Opus alone keeps speech intelligible: {clean:.3}");
    assert!(five > 0.9 && ten > 0.9, "5 % and 10 % loss with 40 ms jitter: {five:.3}, {ten:.3}");
    assert!(clean > twenty, "20 % loss costs something: {clean:.3} vs {twenty:.3}");
    // What FEC buys: at 20 % loss Opus holds up better than G.711 with our concealment.
    let g711_twenty = intelligibility(&input, &transmit(Codec::G711(G711::Pcmu), &input, 0.20, 40.0, 7, true));
    assert!(twenty > g711_twenty, "Opus {twenty:.3} vs G.711 {g711_twenty:.3} at 20 % loss");
}
