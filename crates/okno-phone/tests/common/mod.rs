//! Helpers shared by the interop tests: free loopback ports, child processes that are always
//! stopped, and okno-phone's JSON events.
#![allow(dead_code, unreachable_pub, unused_imports)] // each test binary uses some of these

pub use okno_testkit::{Killed, Terminated, free_port as free_tcp_port, free_udp_port, require};

/// okno-phone's `--json-events` lines with `"event": name`.
pub fn events(stdout: &str, name: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == name)
        .collect()
}

/// The test signal both ends play: 2 s of tone bursts (300–1900 Hz, 100 ms each) over
/// deterministic noise, at 8 kHz. Its autocorrelation has one sharp peak, so finding it in a
/// recording tells both that it arrived and at which delay.
pub fn test_signal() -> Vec<i16> {
    let mut state = 0x2026_u32;
    (0..16_000usize)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state >> 20) as f64 / 4096.0 * 4000.0 - 2000.0;
            let freq = [300.0, 700.0, 1100.0, 1500.0, 1900.0][(i / 800) % 5];
            ((i as f64 * freq * std::f64::consts::TAU / 8000.0).sin() * 8000.0 + noise) as i16
        })
        .collect()
}

pub fn write_wav(path: &std::path::Path, samples: &[i16]) {
    let spec =
        hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// Mono 16-bit samples of a WAV file (the first channel), or nothing if it cannot be read.
pub fn read_wav(path: &std::path::Path) -> Vec<i16> {
    let Ok(mut r) = hound::WavReader::open(path) else { return Vec::new() };
    let channels = r.spec().channels.max(1) as usize;
    r.samples::<i16>().step_by(channels).filter_map(Result::ok).collect()
}

/// A recording taken to 8 kHz (the test signal's rate) by averaging: Opus calls record at
/// 16 kHz. The signal lies below 2 kHz, so averaging is filter enough.
pub fn read_wav_at_8k(path: &std::path::Path) -> Vec<i16> {
    let rate = hound::WavReader::open(path).map(|r| r.spec().sample_rate).unwrap_or(8000);
    let step = (rate / 8000).max(1) as usize;
    read_wav(path).chunks(step).map(|c| (c.iter().map(|&s| s as i32).sum::<i32>() / c.len() as i32) as i16).collect()
}

/// The highest normalised cross-correlation of `reference` against any stretch of
/// `recording`, and the lag in samples where it is found. 1.0 is a perfect copy; G.711 keeps
/// it above 0.99, and an unrelated signal stays near 0.
pub fn find_signal(reference: &[i16], recording: &[i16]) -> (f64, usize) {
    let n = reference.len();
    if recording.len() < n {
        return (0.0, 0);
    }
    let energy = |s: &[i16]| s.iter().map(|&x| x as f64 * x as f64).sum::<f64>();
    let ref_energy = energy(reference);
    let mut best = (0.0, 0);
    for lag in 0..=recording.len() - n {
        let seg = &recording[lag..lag + n];
        let dot: f64 = reference.iter().zip(seg).map(|(&a, &b)| a as f64 * b as f64).sum();
        let c = dot / ((ref_energy * energy(seg)).sqrt() + 1e-9);
        if c > best.0 {
            best = (c, lag);
        }
    }
    best
}

/// A child's `--json-events` lines as they arrive, read on a thread of their own so a test can
/// wait for one while the child keeps running.
pub struct EventLines {
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl EventLines {
    /// Reads `child`'s stdout (which must be piped) until it closes.
    pub fn follow(child: &mut std::process::Child) -> EventLines {
        use std::io::BufRead;
        let stdout = child.stdout.take().expect("the child's stdout is piped");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        EventLines { lines }
    }

    /// Everything read so far.
    pub fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits up to `within` until `count` events named `name` have arrived; true if they did.
    pub fn wait_for(&self, name: &str, count: usize, within: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        loop {
            if events(&self.text(), name).len() >= count {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
