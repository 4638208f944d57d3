//! Kamailio as the SIP registrar and proxy the phone suites call through (../shared/TESTING.md):
//! digest authentication with one password for every user, on a free port of 127.0.0.1, over
//! UDP or (to prove a phone speaks it) over TCP only.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::free_udp_port;

/// A running Kamailio; sent SIGTERM (then killed) on drop.
pub struct Kamailio {
    pub port: u16,
    pub run: tempfile::TempDir,
    child: Child,
}

impl Kamailio {
    /// Over UDP; every user registers and calls with `password`.
    pub fn start(password: &str) -> Kamailio {
        Kamailio::start_on("udp", password, false)
    }

    /// Over UDP, staying in the path of every call it sets up (Record-Route): peers that
    /// send their in-dialog requests to the proxy (sipp does) reach each other through it.
    pub fn start_record_routing(password: &str) -> Kamailio {
        Kamailio::start_on("udp", password, true)
    }

    /// Over TCP only: a phone that registers and calls through it speaks SIP over TCP both
    /// ways (Kamailio connects to the phone's `transport=tcp` Contact for calls to it).
    pub fn start_tcp(password: &str) -> Kamailio {
        Kamailio::start_on("tcp", password, false)
    }

    fn start_on(transport: &str, password: &str, record_route: bool) -> Kamailio {
        assert!(
            Path::new("/usr/sbin/kamailio").exists() || Command::new("kamailio").arg("-v").output().is_ok(),
            "Kamailio is not installed: `apt-get install kamailio` (cargo xtask setup installs it)"
        );
        let run = tempfile::Builder::new().prefix("okno-kamailio-").tempdir().expect("temp dir");
        let dir = run.path();
        let port = if transport == "tcp" { crate::free_port() } else { free_udp_port() };
        let cfg = include_str!("kamailio.cfg.in")
            .replace("@TRANSPORT@", transport)
            .replace("@PORT@", &port.to_string())
            .replace("@RUNDIR@", &dir.display().to_string())
            .replace("@PASSWORD@", password)
            .replace(
                "@RECORD_ROUTE@",
                if record_route { "if (is_method(\"INVITE\")) { record_route(); }" } else { "" },
            );
        let path = dir.join("kamailio.cfg");
        std::fs::write(&path, cfg).expect("kamailio.cfg");
        let d = dir.display().to_string();
        let child = Command::new("kamailio")
            .args([
                "-f",
                &path.display().to_string(),
                "-DD",
                "-E",
                "-Y",
                &d,
                "-P",
                &format!("{d}/kamailio.pid"),
                "-w",
                &d,
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("kamailio.log")).expect("kamailio.log"))
            .spawn()
            .expect("cannot start kamailio");
        // Kamailio forks its workers after reading the config; it listens well within this.
        std::thread::sleep(Duration::from_millis(800));
        Kamailio { port, run, child }
    }

    /// `127.0.0.1:PORT`, as a registrar setting.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What Kamailio logged so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.run.path().join("kamailio.log")).unwrap_or_default()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        crate::terminate(&mut self.child);
    }
}
