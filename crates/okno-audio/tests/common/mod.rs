//! A private PulseAudio daemon for the device tests, started once per test binary.
//!
//! Hermetic on purpose: every test binary starts its own daemon in a fresh runtime directory
//! (even if the developer's own sound server runs), so tests can load, unload and re-default
//! sinks without touching the desktop's audio. The daemon dies with the test process
//! (`setpriv --pdeathsig`, from a thread that lives as long as the process).
//!
//! If PulseAudio cannot be started the tests skip with a printed reason, except under CI=true,
//! where they fail: CI installs it (`cargo xtask test` runs `ensure_pulseaudio`).

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

pub(crate) struct Pulse {
    pub(crate) runtime_dir: PathBuf,
}

static SERVER: OnceLock<Result<Pulse, String>> = OnceLock::new();

/// The shared daemon, or `None` (after printing why) when the test should be skipped.
pub(crate) fn server() -> Option<&'static Pulse> {
    match SERVER.get_or_init(start) {
        Ok(p) => Some(p),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true and PulseAudio cannot be started for the audio device tests: {why}")
        }
        Err(why) => {
            eprintln!("skipping audio device test: {why}");
            None
        }
    }
}

fn pactl_ok(runtime: &PathBuf) -> bool {
    Command::new("pactl")
        .arg("info")
        .env("XDG_RUNTIME_DIR", runtime)
        .env("PULSE_SERVER", format!("unix:{}/pulse/native", runtime.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn start() -> Result<Pulse, String> {
    for tool in ["pulseaudio", "pactl", "setpriv"] {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output();
        if !found.is_ok_and(|o| o.status.success()) {
            return Err(format!("`{tool}` not found (cargo xtask setup installs pulseaudio and pulseaudio-utils)"));
        }
    }
    let run = std::env::temp_dir().join(format!("okno-audio-pulse-{}", std::process::id()));
    let runtime = run.join("xdg");
    std::fs::create_dir_all(&runtime).map_err(|e| format!("cannot create {}: {e}", runtime.display()))?;
    let _ = Command::new("chmod").arg("700").arg(&runtime).status();
    let log = std::fs::File::create(run.join("pulseaudio.log")).map_err(|e| e.to_string())?;
    let (tx, rx) = std::sync::mpsc::channel();
    let thread_runtime = runtime.clone();
    // pdeathsig fires when the spawning *thread* exits, so spawn from one that never does.
    std::thread::spawn(move || {
        let child = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1"])
            .args(["--log-target=stderr", "-L", "module-native-protocol-unix"])
            .args(["-L", "module-null-sink sink_name=null sink_properties=device.description=NullSink"])
            .args(["-L", "module-always-sink"])
            .env("XDG_RUNTIME_DIR", &thread_runtime)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn();
        let _ = tx.send(child.map(|c| c.id()).map_err(|e| e.to_string()));
        loop {
            std::thread::park();
        }
    });
    rx.recv().map_err(|e| e.to_string())?.map_err(|e| format!("cannot start pulseaudio: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pactl_ok(&runtime) {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(run.join("pulseaudio.log")).unwrap_or_default();
            return Err(format!("pulseaudio did not come up within 10 s; its log:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: set once, inside the OnceLock initialiser, before this process makes any audio call
    // (every test asks for the server first). Both cpal hosts (the PulseAudio client and the ALSA
    // pulse plugin) find the server through these variables.
    unsafe {
        std::env::set_var("XDG_RUNTIME_DIR", &runtime);
        std::env::set_var("PULSE_SERVER", format!("unix:{}/pulse/native", runtime.display()));
    }
    pactl(&["set-default-sink", "null"]);
    pactl(&["set-default-source", "null.monitor"]);
    Ok(Pulse { runtime_dir: runtime })
}

/// Runs pactl against the test daemon; returns its stdout, panicking on failure.
pub(crate) fn pactl(args: &[&str]) -> String {
    let out = Command::new("pactl").args(args).output().expect("pactl runs");
    assert!(out.status.success(), "pactl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A null sink of its own for one test, unloaded when dropped. 44.1 kHz stereo, so the streams
/// must convert channels and resample to reach the call's rates.
pub(crate) struct NullSink {
    pub(crate) name: String,
    module: Option<String>,
}

impl NullSink {
    pub(crate) fn new(name: &str) -> Self {
        let mut sink = NullSink { name: name.to_owned(), module: None };
        sink.load();
        sink
    }

    pub(crate) fn monitor(&self) -> String {
        format!("{}.monitor", self.name)
    }

    pub(crate) fn load(&mut self) {
        let args = format!("sink_name={0} sink_properties=device.description={0} rate=44100 channels=2", self.name);
        self.module = Some(pactl(&["load-module", "module-null-sink", &args]));
    }

    pub(crate) fn unload(&mut self) {
        if let Some(module) = self.module.take() {
            pactl(&["unload-module", &module]);
        }
    }
}

impl Drop for NullSink {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            let _ = Command::new("pactl").args(["unload-module", &module]).status();
        }
    }
}

/// Runs the device tests one at a time: they change the server's default sink, and real-time
/// streams of parallel tests starve each other on a two-core machine (debug builds), which shows
/// up as dropouts in the captured tone rather than as a failure of the code under test.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A sine at `freq` Hz and peak `amplitude` (of full scale), as successive frames.
pub(crate) struct Sine {
    pub(crate) rate: u32,
    pub(crate) freq: f64,
    pub(crate) amplitude: f64,
    n: u64,
}

impl Sine {
    pub(crate) fn new(rate: u32, freq: f64, amplitude: f64) -> Self {
        Sine { rate, freq, amplitude, n: 0 }
    }

    pub(crate) fn frame(&mut self, len: usize) -> Vec<i16> {
        (0..len)
            .map(|_| {
                let t = self.n as f64 / self.rate as f64;
                self.n += 1;
                ((t * self.freq * std::f64::consts::TAU).sin() * self.amplitude * 32767.0) as i16
            })
            .collect()
    }
}

/// Frequency estimated from rising zero crossings.
pub(crate) fn zero_crossing_hz(x: &[i16], rate: u32) -> f64 {
    let rising: Vec<usize> = (1..x.len()).filter(|&i| x[i - 1] < 0 && x[i] >= 0).collect();
    if rising.len() < 2 {
        return 0.0;
    }
    let periods = (rising.len() - 1) as f64;
    periods * rate as f64 / (rising[rising.len() - 1] - rising[0]) as f64
}

pub(crate) use okno_audio::convert::tone_share;

/// The window of `window` samples (from `samples[skip..]`) with the largest share of power at
/// `hz`, each window's share and level logged under `label`: a glitch in one window (a busy
/// two-core machine) does not decide, a wrong or missing tone in all of them does.
pub(crate) fn best_tone_window<'a>(
    samples: &'a [i16],
    skip: usize,
    window: usize,
    rate: u32,
    hz: f64,
    label: &str,
) -> &'a [i16] {
    let windows: Vec<&[i16]> = samples[skip.min(samples.len())..].chunks_exact(window).collect();
    for (i, w) in windows.iter().enumerate() {
        eprintln!(
            "{label} window {i}: {:.1} Hz by zero crossings, {:.1}% of power at {hz} Hz, {:.2} dBFS RMS",
            zero_crossing_hz(w, rate),
            tone_share(w, rate, hz) * 100.0,
            okno_audio::convert::level(w).rms_dbfs
        );
    }
    windows.into_iter().max_by(|a, b| tone_share(a, rate, hz).total_cmp(&tone_share(b, rate, hz))).unwrap_or(&[])
}
