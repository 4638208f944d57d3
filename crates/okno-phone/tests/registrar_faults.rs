//! okno-phone when its registrar goes away and comes back, against a real Kamailio: a restart
//! that drops every binding and connection (over TLS and TCP), and a registrar that stops
//! answering for a while (frozen with SIGSTOP, as a network outage looks to the phone). Each
//! time the phone must notice, say so, register again as soon as the registrar answers, and take
//! calls again. Kamailio must be installed (`cargo xtask setup`).

mod common;
use common::*;

use std::process::{Command, Stdio};
use std::time::Duration;

use okno_testkit::sip::Kamailio;

const PASSWORD: &str = "s3cret-test-only";

/// Bob: registered, auto-answering one call, probing his registrar every `keepalive_ms`.
fn bob(kamailio: &Kamailio, transport: &str, keepalive_ms: u64, extra: &[String]) -> (Killed, EventLines) {
    let port = if transport == "udp" { free_udp_port() } else { free_tcp_port() };
    let mut child = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args([
            "--listen".into(),
            format!("{transport}:127.0.0.1:{port}"),
            "--account".into(),
            "sip:bob@127.0.0.1".into(),
            "--registrar".into(),
            kamailio.addr(),
            "--password-env".into(),
            "OKNO_TEST_SIP_PASSWORD".into(),
            "--keepalive-ms".into(),
            keepalive_ms.to_string(),
            "--auto-answer".into(),
            "--exit-after-calls".into(),
            "1".into(),
            "--json-events".into(),
        ])
        .args(extra)
        .env("OKNO_TEST_SIP_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = EventLines::follow(&mut child);
    (Killed(child), lines)
}

/// Alice calls bob through `kamailio` and hangs up after 300 ms; what she printed.
fn alice_calls_bob(kamailio: &Kamailio, transport: &str, extra: &[String]) -> String {
    let port = if transport == "udp" { free_udp_port() } else { free_tcp_port() };
    let out = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args([
            "--listen".into(),
            format!("{transport}:127.0.0.1:{port}"),
            "--account".into(),
            "sip:alice@127.0.0.1".into(),
            "--registrar".into(),
            kamailio.addr(),
            "--password-env".into(),
            "OKNO_TEST_SIP_PASSWORD".into(),
            "--call".into(),
            "sip:bob@127.0.0.1".into(),
            "--hangup-after-ms".into(),
            "300".into(),
            "--json-events".into(),
        ])
        .args(extra)
        .env("OKNO_TEST_SIP_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = kamailio.log();
    assert!(out.status.success(), "alice's call failed: {text}\nkamailio: {}", &log[log.len().saturating_sub(3000)..]);
    text
}

/// Waits up to `within` for `user`'s binding in Kamailio.
fn wait_registered(kamailio: &Kamailio, user: &str, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if kamailio.registered(user) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A restart loses every binding and closes bob's connection. Over TLS that connection was the
/// only way to reach him, so he registers again on a new one at once (no waiting for his
/// refresh, minutes away), and a call reaches him.
fn a_restarted_registrar_gets_the_binding_back(transport: &str, mut kamailio: Kamailio, extra: &[String]) {
    let (mut bob, lines) = bob(&kamailio, transport, 30_000, extra);
    assert!(lines.wait_for("registered", 1, Duration::from_secs(10)), "bob registers: {}", lines.text());
    assert!(kamailio.registered("bob"));

    let restarted = std::time::Instant::now();
    kamailio.restart();
    assert!(
        wait_registered(&kamailio, "bob", Duration::from_secs(15)),
        "bob's binding is back in the restarted Kamailio: {}\n{}",
        lines.text(),
        kamailio.log()
    );
    // Figures for docs/BENCHMARKS.md (`-- --nocapture`); the restart itself takes ~0.8 s.
    eprintln!("{transport}: binding back {} ms after the restart began", restarted.elapsed().as_millis());
    assert!(lines.wait_for("registered", 2, Duration::from_secs(5)), "bob says so: {}", lines.text());

    let a_out = alice_calls_bob(&kamailio, transport, extra);
    assert_eq!(events(&a_out, "ended")[0]["answered"], true, "{a_out}");
    let status = bob.0.wait().unwrap();
    assert!(status.success(), "{}", lines.text());
    assert!(lines.wait_for("ended", 1, Duration::from_secs(2)), "{}", lines.text());
    assert_eq!(events(&lines.text(), "ended")[0]["cause"], "remote_bye", "{}", lines.text());
}

#[test]
fn over_tls_a_restarted_registrar_gets_the_binding_back_at_once_and_calls_reach_the_phone() {
    let kamailio = Kamailio::start_tls(PASSWORD);
    let ca = kamailio.ca_pem().display().to_string();
    a_restarted_registrar_gets_the_binding_back("tls", kamailio, &["--tls-ca".into(), ca]);
}

#[test]
fn over_tcp_a_restarted_registrar_gets_the_binding_back_at_once_and_calls_reach_the_phone() {
    a_restarted_registrar_gets_the_binding_back("tcp", Kamailio::start_tcp(PASSWORD), &[]);
}

/// Kamailio stops answering (frozen): bob's next keep-alive goes unanswered, and he reports
/// the registration failed with no status, which the desk shows. Kamailio answers again: bob
/// is registered again within a few seconds (his REGISTER is being retransmitted or retried),
/// and a call reaches him.
fn a_registrar_that_stops_answering_is_reported_and_rejoined(transport: &str, kamailio: Kamailio, extra: &[String]) {
    let (mut bob, lines) = bob(&kamailio, transport, 1_000, extra);
    assert!(lines.wait_for("registered", 1, Duration::from_secs(10)), "bob registers: {}", lines.text());

    let frozen = std::time::Instant::now();
    kamailio.freeze();
    let noticed = lines.wait_for("registration_failed", 1, Duration::from_secs(10));
    let noticed_after = frozen.elapsed();
    let before_thaw = lines.text();
    let thawed = std::time::Instant::now();
    kamailio.thaw();
    assert!(noticed, "bob notices that his registrar stopped answering: {before_thaw}");
    let failed = events(&before_thaw, "registration_failed");
    assert_eq!(failed[0]["status"], serde_json::Value::Null, "no answer, not a refusal: {before_thaw}");

    assert!(
        lines.wait_for("registered", 2, Duration::from_secs(15)),
        "bob registers again once Kamailio answers: {}\n{}",
        lines.text(),
        kamailio.log()
    );
    // Figures for docs/BENCHMARKS.md (`-- --nocapture`).
    eprintln!(
        "{transport}: silence noticed after {} ms (probe every 1000 ms), registered again {} ms after the registrar answered",
        noticed_after.as_millis(),
        thawed.elapsed().as_millis()
    );
    assert!(kamailio.registered("bob"));
    let a_out = alice_calls_bob(&kamailio, transport, extra);
    assert_eq!(events(&a_out, "ended")[0]["answered"], true, "{a_out}");
    assert!(bob.0.wait().unwrap().success(), "{}", lines.text());
}

#[test]
fn over_udp_a_registrar_that_stops_answering_is_reported_and_rejoined() {
    a_registrar_that_stops_answering_is_reported_and_rejoined("udp", Kamailio::start(PASSWORD), &[]);
}

#[test]
fn over_tcp_a_registrar_that_stops_answering_is_reported_and_rejoined_on_a_new_connection() {
    a_registrar_that_stops_answering_is_reported_and_rejoined("tcp", Kamailio::start_tcp(PASSWORD), &[]);
}

#[test]
fn over_websocket_a_restarted_registrar_gets_the_binding_back_at_once_and_calls_reach_the_phone() {
    a_restarted_registrar_gets_the_binding_back("ws", Kamailio::start_ws(PASSWORD), &[]);
}

/// Over WebSocket the keep-alive is a WebSocket ping, which a frozen Kamailio does not answer.
#[test]
fn over_websocket_a_registrar_that_stops_answering_is_reported_and_rejoined_on_a_new_connection() {
    a_registrar_that_stops_answering_is_reported_and_rejoined("ws", Kamailio::start_ws(PASSWORD), &[]);
}
