//! Figures for docs/BENCHMARKS.md: capture→frame latency, playout buffer latency and the CPU cost
//! of an open capture + playback pair at 20 ms frames.
//!
//! Needs a reachable PulseAudio server with a sink named `null` (see shared/TESTING.md, "Audio
//! devices for cpal"); plays to `null` and captures from `null.monitor`.
//!
//! `cargo run --release -p okno-audio --example audio_bench [SECONDS]`

use std::time::{Duration, Instant};

use okno_audio::{Backend, CaptureStream, DeviceChoice, DeviceStatus, FrameRate, PlaybackStream, StreamOptions};

fn cpu_ticks() -> u64 {
    // Fields 14 and 15 of /proc/self/stat (utime, stime), after the parenthesised command name.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<u64> = after.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let options = StreamOptions { backend: Backend::PulseAudio, ..StreamOptions::default() };
    let rate = FrameRate::Hz16000;
    let mut capture = CaptureStream::open(DeviceChoice::Named("null.monitor".into()), rate, options.clone()).unwrap();
    let mut play = PlaybackStream::open(DeviceChoice::Named("null".into()), rate, options).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(matches!(capture.status(), DeviceStatus::Running { .. })
        && matches!(play.status(), DeviceStatus::Running { .. }))
    {
        if Instant::now() > deadline {
            eprintln!("devices not running: {:?} / {:?}", capture.status(), play.status());
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("capture: {:?}\nplayback: {:?}", capture.status(), play.status());
    let frame_len = rate.frame_samples();
    let mut frame = vec![0i16; frame_len];
    let silence = vec![0i16; frame_len];
    // Warm up: fill queues, let the first frames through.
    let warm = Instant::now() + Duration::from_millis(500);
    while Instant::now() < warm {
        if capture.read_frame(&mut frame, Duration::from_millis(20)).is_some() {
            play.write_frame(&silence);
        }
    }
    let (mut capture_ms, mut playout_ms) = (Vec::new(), Vec::new());
    let (ticks0, t0) = (cpu_ticks(), Instant::now());
    // The call's loop: each captured frame drives one written frame, as a softphone does.
    while t0.elapsed() < Duration::from_secs(seconds) {
        if let Some(captured_at) = capture.read_frame(&mut frame, Duration::from_millis(100)) {
            capture_ms.push(captured_at.elapsed().as_secs_f64() * 1000.0);
            play.write_frame(&silence);
            let s = play.stats();
            playout_ms.push((s.queued + s.device_latency + s.resampler_delay).as_secs_f64() * 1000.0);
        }
    }
    let cpu = (cpu_ticks() - ticks0) as f64 / clock_ticks_per_second() / t0.elapsed().as_secs_f64() * 100.0;
    for v in [&mut capture_ms, &mut playout_ms] {
        v.sort_by(f64::total_cmp);
    }
    let (c, p) = (capture.stats(), play.stats());
    println!("frames: {} captured over {seconds} s, 20 ms at {} Hz", capture_ms.len(), rate.hz());
    println!(
        "capture→frame delivered: p50 {:.1} ms, p95 {:.1} ms (device {:.1} ms + resampler {:.1} ms + frame assembly)",
        percentile(&capture_ms, 0.5),
        percentile(&capture_ms, 0.95),
        c.device_latency.as_secs_f64() * 1000.0,
        c.resampler_delay.as_secs_f64() * 1000.0
    );
    println!(
        "playout buffer (queue + resampler + device): p50 {:.1} ms, p95 {:.1} ms",
        percentile(&playout_ms, 0.5),
        percentile(&playout_ms, 0.95)
    );
    println!("CPU of the open capture + playback pair: {cpu:.1}% of one core");
    println!("capture overruns {}, playback underruns {}, overruns {}", c.overruns, p.underruns, p.overruns);
}
