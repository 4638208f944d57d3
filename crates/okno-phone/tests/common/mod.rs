//! Helpers shared by the interop tests: free loopback ports, child processes that are always
//! stopped, and okno-phone's JSON events.
#![allow(dead_code, unreachable_pub)]

use std::net::{TcpListener, UdpSocket};
use std::process::Child;

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed when the test ends, passed or not.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fails the test with how to install `program` when it is missing.
pub fn require(program: &str, package: &str) {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(found, "{program} is not installed: apt-get install {package} (cargo xtask test does it)");
}

/// okno-phone's `--json-events` lines with `"event": name`.
pub fn events(stdout: &str, name: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == name)
        .collect()
}
