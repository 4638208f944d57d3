//! What Okno's test suites share so that each is written once: free loopback ports and the
//! real peers a test starts for itself. Dev-dependency only; std only (no async runtime), so a
//! synchronous end-to-end test and a tokio test use the same helpers.
//!
//! Every peer lives in a temporary directory and stops when its value is dropped, also when the
//! test panics. (Issue 14 asks for more here: the seeded RNG, the network emulator and the
//! Kamailio, PulseAudio, PostgreSQL and NATS starters still live in their suites.)

pub mod mail;

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Block until something accepts connections on 127.0.0.1:`port`; panics naming `what` after 20 s.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
