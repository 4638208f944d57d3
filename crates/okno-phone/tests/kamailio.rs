//! okno-phone with Kamailio as registrar and proxy: digest-authenticated REGISTER, and two
//! okno-phones calling each other through it, over UDP and over TCP. Kamailio must be installed (`cargo xtask test`);
//! okno-testkit starts it.

mod common;
use common::*;

use std::process::{Command, Stdio};
use std::time::Duration;

use okno_testkit::sip::Kamailio;

const PASSWORD: &str = "s3cret-test-only";

fn phone(args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_okno-phone"));
    cmd.args(args).arg("--json-events").env("OKNO_TEST_SIP_PASSWORD", PASSWORD);
    cmd
}

#[test]
fn two_phones_register_with_digest_and_call_through_kamailio() {
    two_phones_call_through(Kamailio::start(PASSWORD), "udp", (free_udp_port(), free_udp_port()));
}

/// Kamailio record-routes the call: both phones keep it as their route set, so the ACK, the
/// BYE and everything else inside the call pass through it (RFC 3261 §12.2.1.1).
#[test]
fn two_phones_call_through_a_record_routing_proxy() {
    two_phones_call_through(Kamailio::start_record_routing(PASSWORD), "udp", (free_udp_port(), free_udp_port()));
}

/// Kamailio listens on TCP only, so registering, calling and being called all cross TCP
/// connections: the phones open theirs to Kamailio, and Kamailio opens one to bob's listening
/// port for the INVITE (his Contact says `transport=tcp`).
#[test]
fn two_phones_register_and_call_over_tcp() {
    two_phones_call_through(Kamailio::start_tcp(PASSWORD), "tcp", (free_tcp_port(), free_tcp_port()));
}

/// Kamailio speaks SIP over WebSocket only (RFC 7118): each phone opens its WebSocket to it,
/// registers a `.invalid` Contact, and is called on its own connection; the calls' media is
/// RTP as usual.
#[test]
fn two_phones_register_and_call_over_websocket() {
    let kamailio = Kamailio::start_ws(PASSWORD);
    let (port_a, port_b) = (free_tcp_port(), free_tcp_port());
    // Carol registers first: her binding and her connection, as Kamailio holds them.
    let carol_phone = phone(&[
        "--listen".into(),
        format!("ws:127.0.0.1:{port_b}"),
        "--account".into(),
        "sip:carol@127.0.0.1".into(),
        "--registrar".into(),
        kamailio.addr(),
        "--password-env".into(),
        "OKNO_TEST_SIP_PASSWORD".into(),
    ])
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    let carol = Killed(carol_phone);
    std::thread::sleep(Duration::from_millis(700));
    let location = kamailio.rpc("ul.dump");
    assert!(location.contains(".invalid;transport=ws"), "a WebSocket client's Contact: {location}");
    let connections = kamailio.rpc("ws.dump");
    assert!(
        connections.contains("state: OPEN") && connections.contains("sub-protocol: sip"),
        "carol's WebSocket connection is open in Kamailio, speaking SIP: {connections}"
    );
    drop(carol);
    two_phones_call_through(kamailio, "ws", (port_a, free_tcp_port()));
}

/// The same over secure WebSocket: the phones verify Kamailio's certificate (`--tls-ca`), and
/// their calls' media is SRTP, which TLS makes the default.
#[test]
fn two_phones_register_and_call_over_secure_websocket_with_srtp() {
    let kamailio = Kamailio::start_wss(PASSWORD);
    let ca = kamailio.ca_pem().display().to_string();
    let (a_out, b_out) =
        two_phones_call_through_with(kamailio, "wss", (free_tcp_port(), free_tcp_port()), &["--tls-ca".into(), ca]);
    for (who, out) in [("alice", &a_out), ("bob", &b_out)] {
        assert!(events(out, "media")[0]["srtp"].is_string(), "{who}'s call is SRTP over WSS: {out}");
    }
}

/// Kamailio speaks TLS only, with a certificate from a CA made for the test: the phones verify
/// it (`--tls-ca`), register and call over their own TLS connections (Kamailio sends bob's
/// INVITE back on bob's connection: his Via asks it to, RFC 5923), and the call's media is
/// SRTP, which TLS makes the default.
#[test]
fn two_phones_register_and_call_over_tls_with_srtp() {
    let kamailio = Kamailio::start_tls(PASSWORD);
    let ca = kamailio.ca_pem().display().to_string();
    let (a_out, b_out) =
        two_phones_call_through_with(kamailio, "tls", (free_tcp_port(), free_tcp_port()), &["--tls-ca".into(), ca]);
    for (who, out) in [("alice", &a_out), ("bob", &b_out)] {
        let media = events(out, "media");
        assert_eq!(media.len(), 1, "{who}: {out}");
        assert!(media[0]["srtp"].is_string(), "{who}'s call is SRTP over TLS: {out}");
    }
}

/// A registrar whose certificate the phone cannot verify (no `--tls-ca`: the Mozilla roots
/// only) is not talked to: the registration fails and no password is sent.
#[test]
fn a_registrar_with_an_untrusted_certificate_is_refused() {
    let kamailio = Kamailio::start_tls(PASSWORD);
    let mut cmd = phone(&[
        "--listen".into(),
        format!("tls:127.0.0.1:{}", free_tcp_port()),
        "--account".into(),
        "sip:carol@127.0.0.1".into(),
        "--registrar".into(),
        kamailio.addr(),
        "--password-env".into(),
        "OKNO_TEST_SIP_PASSWORD".into(),
    ]);
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut child = Killed(child);
    std::thread::sleep(Duration::from_millis(2500));
    let _ = child.0.kill();
    let out = std::io::read_to_string(child.0.stdout.take().unwrap()).unwrap();
    assert!(events(&out, "registered").is_empty(), "{out}");
    let failed = events(&out, "registration_failed");
    assert!(!failed.is_empty() && failed[0]["status"].is_null(), "no answer over an untrusted connection: {out}");
    assert!(!kamailio.registered("carol"), "Kamailio has no binding for carol");
}

fn two_phones_call_through(kamailio: Kamailio, transport: &str, ports: (u16, u16)) {
    two_phones_call_through_with(kamailio, transport, ports, &[]);
}

/// Bob auto-answers, alice calls him and hangs up; both registered with digest. Returns what
/// each printed.
fn two_phones_call_through_with(
    kamailio: Kamailio,
    transport: &str,
    (a_port, b_port): (u16, u16),
    extra: &[String],
) -> (String, String) {
    let registrar = kamailio.addr();

    let bob = phone(
        &[
            &[
                "--listen".into(),
                format!("{transport}:127.0.0.1:{b_port}"),
                "--account".into(),
                "sip:bob@127.0.0.1".into(),
                "--registrar".into(),
                registrar.clone(),
                "--password-env".into(),
                "OKNO_TEST_SIP_PASSWORD".into(),
                "--auto-answer".into(),
                "--exit-after-calls".into(),
                "1".into(),
            ][..],
            extra,
        ]
        .concat(),
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut bob = Killed(bob);
    std::thread::sleep(Duration::from_millis(700));
    assert!(kamailio.registered("bob"), "bob's binding is in Kamailio before alice calls");

    let alice = phone(
        &[
            &[
                "--listen".into(),
                format!("{transport}:127.0.0.1:{a_port}"),
                "--account".into(),
                "sip:alice@127.0.0.1".into(),
                "--registrar".into(),
                registrar,
                "--password-env".into(),
                "OKNO_TEST_SIP_PASSWORD".into(),
                "--call".into(),
                "sip:bob@127.0.0.1".into(),
                "--hangup-after-ms".into(),
                "300".into(),
            ][..],
            extra,
        ]
        .concat(),
    )
    .output()
    .unwrap();
    let a_out = String::from_utf8_lossy(&alice.stdout).into_owned();
    let log = kamailio.log();
    assert!(
        alice.status.success(),
        "alice's call over {transport} failed: {a_out}\nkamailio: {}",
        &log[log.len().saturating_sub(3000)..]
    );
    assert_eq!(events(&a_out, "registered").len(), 1, "{a_out}");
    let ended = events(&a_out, "ended");
    assert_eq!(ended.len(), 1, "{a_out}");
    assert_eq!(ended[0]["answered"], true);
    assert_eq!(ended[0]["cause"], "local_bye");

    let status = bob.0.wait().unwrap();
    let b_out = std::io::read_to_string(bob.0.stdout.take().unwrap()).unwrap();
    assert!(status.success(), "{b_out}");
    assert_eq!(events(&b_out, "registered").len(), 1, "{b_out}");
    let incoming = events(&b_out, "incoming");
    assert_eq!(incoming.len(), 1, "{b_out}");
    assert!(incoming[0]["from"].as_str().unwrap().contains("alice"), "{b_out}");
    assert_eq!(events(&b_out, "ended")[0]["cause"], "remote_bye", "{b_out}");
    (a_out, b_out)
}

#[test]
fn a_wrong_password_is_reported_not_retried_forever() {
    let kamailio = Kamailio::start(PASSWORD);
    let mut cmd = phone(&[
        "--listen".into(),
        format!("udp:127.0.0.1:{}", free_udp_port()),
        "--account".into(),
        "sip:carol@127.0.0.1".into(),
        "--registrar".into(),
        kamailio.addr(),
        "--password-env".into(),
        "WRONG_PASSWORD".into(),
    ]);
    let child = cmd.env("WRONG_PASSWORD", "not-the-password").stdout(Stdio::piped()).spawn().unwrap();
    let mut child = Killed(child);
    std::thread::sleep(Duration::from_millis(1500));
    let _ = child.0.kill();
    let out = std::io::read_to_string(child.0.stdout.take().unwrap()).unwrap();
    let failed = events(&out, "registration_failed");
    assert_eq!(failed.len(), 1, "one failure, then a delayed retry: {out}");
    assert_eq!(failed[0]["status"], 401);
    assert!(events(&out, "registered").is_empty());
}
