//! NATS for the server's fan-out tests (issue 6): `okno-server`'s live tests and `okno-sim`
//! run two server instances that exchange pokes over NATS on 127.0.0.1:4222.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

const PORT: u16 = 4222;

/// Makes sure a NATS server answers on 127.0.0.1:4222: if nothing does (Linux only), installs
/// Debian's `nats-server` if missing and starts it in the background, its output in a log file
/// in the temp dir. It keeps running after xtask exits, like the PostgreSQL cluster does.
pub(crate) fn ensure_nats() -> Result<()> {
    if super::port_open(PORT) || !cfg!(target_os = "linux") {
        return Ok(());
    }
    if !super::have("nats-server") {
        crate::ensure_system_packages(&["nats-server"])?;
    }
    let log_path = std::env::temp_dir().join("okno-nats-server.log");
    let log = std::fs::File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    eprintln!("xtask: starting nats-server on 127.0.0.1:{PORT} (log: {})", log_path.display());
    let mut cmd = Command::new("nats-server");
    cmd.args(["-a", "127.0.0.1", "-p", &PORT.to_string()]).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
    // Its own process group: a Ctrl-C in the terminal running xtask does not stop it.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().context("cannot start nats-server (is it on PATH?)")?;
    for _ in 0..50 {
        if super::port_open(PORT) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!("nats-server exited with {status}; see {}", log_path.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("nats-server did not answer on 127.0.0.1:{PORT} within 10 s; see {}", log_path.display())
}
