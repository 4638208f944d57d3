//! What Okno's test suites share so that each is written once: free loopback ports and the
//! real peers a test starts for itself. Dev-dependency only; std only (no async runtime), so a
//! synchronous end-to-end test and a tokio test use the same helpers.
//!
//! Every peer lives in a temporary directory and stops when its value is dropped, also when the
//! test panics. [`net`] is the datagram network that sans-IO peers are stepped through in
//! virtual time; the seeded generator behind it is `okno_core::rng`. [`pg`] gives a test a
//! PostgreSQL database of its own; [`nats`] finds the NATS server.

pub mod mail;
pub mod nats;
pub mod net;
pub mod pg;
pub mod pulse;
pub mod sip;

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A UDP port free on 127.0.0.1 right now.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("a free UDP port")
}

/// A child process killed (and reaped) when the test ends, however it ends.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child process with workers of its own (Kamailio, tcpdump): asked to stop with SIGTERM
/// when the test ends, killed if it has not stopped after 3 s (see [`terminate`]).
pub struct Terminated(pub std::process::Child);

impl Drop for Terminated {
    fn drop(&mut self) {
        terminate(&mut self.0);
    }
}

/// SIGTERM (Kamailio takes its worker processes down with it; SIGKILL would orphan them), then
/// SIGKILL if the process has not left within 3 s; reaped either way.
pub fn terminate(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Block until something accepts connections on 127.0.0.1:`port`; panics naming `what` after 20 s.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fails the test with how to install `program` when it is missing.
pub fn require(program: &str, package: &str) {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(found, "{program} is not installed: apt-get install {package} (cargo xtask setup does it)");
}
