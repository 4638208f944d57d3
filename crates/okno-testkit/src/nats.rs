//! The NATS server that tests of several server instances pass their pokes through:
//! `OKNO_TEST_NATS`, else 127.0.0.1:4222 (`cargo xtask test` starts one, TESTING.md says how).

/// The NATS URL when a server answers there. Without one a test runs its single-instance
/// part only, except in CI (`CI=true`), which installs NATS: there its absence fails the test
/// rather than passing without what it is for.
pub fn url(without: &str) -> Option<String> {
    let url = std::env::var("OKNO_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    if std::net::TcpStream::connect(url.trim_start_matches("nats://")).is_ok() {
        return Some(url);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "NATS is not reachable at {url}. CI installs it; start one with `nats-server -a 127.0.0.1 -p 4222 &` \
         (apt-get install nats-server) or run `cargo xtask test`, which does."
    );
    eprintln!("NATS is not reachable at {url}: {without}");
    None
}
