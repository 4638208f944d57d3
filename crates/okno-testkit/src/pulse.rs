//! A private PulseAudio with null sinks as the desk's sound devices (../shared/TESTING.md):
//! `headset` (the default output), `speaker` (another output to switch to) and `mic`, whose
//! monitor is the default input. Whatever plays on a sink can be recorded from its monitor.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running PulseAudio; killed on drop (and with the test process: `setpriv --pdeathsig`).
pub struct Pulse {
    /// `unix:/…/pulse/native`: give it to clients as `PULSE_SERVER`.
    pub server: String,
    pub run: tempfile::TempDir,
    child: Child,
}

impl Pulse {
    pub fn start() -> Pulse {
        let run = tempfile::Builder::new().prefix("okno-pulse-").tempdir().expect("temp dir");
        let runtime = run.path().join("xdg");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        let _ = Command::new("chmod").arg("700").arg(&runtime).status();
        let child = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1"])
            .args(["-L", "module-native-protocol-unix"])
            .args(["-L", "module-null-sink sink_name=headset sink_properties=device.description=Headset"])
            .args(["-L", "module-null-sink sink_name=mic sink_properties=device.description=Mic"])
            .args(["-L", "module-null-sink sink_name=speaker sink_properties=device.description=Speaker"])
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(run.path().join("pulseaudio.log")).expect("pulseaudio.log"))
            .spawn()
            .expect("cannot start pulseaudio (apt-get install pulseaudio; cargo xtask setup installs it)");
        let server = format!("unix:{}/pulse/native", runtime.display());
        let pulse = Pulse { server, run, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pulse.pactl(&["info"]) {
            assert!(
                Instant::now() < deadline,
                "pulseaudio did not start; see its log in {}",
                pulse.run.path().display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(pulse.pactl(&["set-default-sink", "headset"]), "cannot make headset the default sink");
        assert!(pulse.pactl(&["set-default-source", "mic.monitor"]), "cannot make mic.monitor the default source");
        pulse
    }

    /// Run `pactl` against this server; whether it succeeded.
    pub fn pactl(&self, args: &[&str]) -> bool {
        Command::new("pactl").args(args).env("PULSE_SERVER", &self.server).output().is_ok_and(|o| o.status.success())
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
