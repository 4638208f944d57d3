//! okno-phone against sipp scenario files (tests/sipp/*.xml), each one call flow a PBX or a
//! trunk will put it through: a caller who gives up while it rings (CANCEL), a caller who holds
//! and resumes (re-INVITE sendonly/sendrecv, our answer must mirror it), DTMF as SIP INFO
//! (dtmf-relay and dtmf bodies), a busy callee (486,
//! which we must ACK), and a callee that wants digest credentials for the INVITE (401, then the
//! INVITE again with Authorization, which sipp verifies against the password). sipp must be
//! installed (`cargo xtask test` installs it).

mod common;
use common::*;

use std::process::{Command, Stdio};
use std::time::Duration;

fn scenario(name: &str) -> String {
    format!("{}/tests/sipp/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn sipp() -> Command {
    require("sipp", "sip-tester");
    let mut cmd = Command::new("sipp");
    cmd.args(["-i", "127.0.0.1", "-nostdin", "-timeout", "20s", "-timeout_error"]).stdout(Stdio::null());
    cmd
}

/// An auto-answering (or just ringing) okno-phone that exits after one call; its JSON events.
fn callee(port: u16, answer: bool) -> Killed {
    callee_with(port, answer, &[])
}

fn callee_with(port: u16, answer: bool, extra: &[&str]) -> Killed {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_okno-phone"));
    cmd.args(["--listen", &format!("udp:127.0.0.1:{port}"), "--json-events", "--exit-after-calls", "1"]);
    cmd.args(extra);
    if answer {
        cmd.arg("--auto-answer");
    }
    let phone = Killed(cmd.stdout(Stdio::piped()).spawn().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    phone
}

fn run_uac(file: &str, phone_port: u16) {
    let status = sipp()
        .args(["-sf", &scenario(file), &format!("127.0.0.1:{phone_port}"), "-p", &free_udp_port().to_string()])
        .args(["-m", "1"])
        .status()
        .unwrap();
    assert!(status.success(), "sipp {file}: the call flow failed ({status})");
}

fn output(mut phone: Killed) -> String {
    let status = phone.0.wait().unwrap();
    let out = std::io::read_to_string(phone.0.stdout.take().unwrap()).unwrap();
    assert!(status.success(), "okno-phone: {status}\n{out}");
    out
}

/// Session timers (RFC 4028) with seconds-long intervals (`--min-se 4`; a desk keeps the RFC's
/// 90 s floor): the caller asks okno-phone to refresh, and the scenario checks the agreement in
/// the 200 and waits for two refresh re-INVITEs, each within the 4 s interval.
#[test]
fn a_session_timer_the_callee_refreshes() {
    let port = free_udp_port();
    let phone = callee_with(port, true, &["--min-se", "4"]);
    run_uac("uac_session_refreshed.xml", port);
    let out = output(phone);
    assert_eq!(events(&out, "ended")[0]["cause"], "remote_bye", "{out}");
    assert!(events(&out, "held").is_empty(), "a refresh is no hold: {out}");
}

/// The caller asks for a 6 s timer it refreshes itself, then never does (a crashed phone):
/// okno-phone hangs up once the timer runs out, with the cause `session_expired`.
#[test]
fn a_session_the_caller_stops_refreshing_is_ended() {
    let port = free_udp_port();
    let phone = callee_with(port, true, &["--min-se", "4"]);
    run_uac("uac_session_expires.xml", port);
    let out = output(phone);
    let ended = events(&out, "ended");
    assert_eq!((&ended[0]["cause"], &ended[0]["answered"]), (&"session_expired".into(), &true.into()), "{out}");
}

#[test]
fn a_caller_who_cancels_while_it_rings() {
    let port = free_udp_port();
    let phone = callee(port, false);
    run_uac("uac_cancel.xml", port);
    let out = output(phone);
    assert_eq!(events(&out, "incoming").len(), 1, "{out}");
    let ended = events(&out, "ended");
    assert_eq!((&ended[0]["cause"], &ended[0]["answered"]), (&"cancelled".into(), &false.into()), "{out}");
}

#[test]
fn a_caller_who_holds_and_resumes() {
    let port = free_udp_port();
    let phone = callee(port, true);
    // The scenario checks our answers: recvonly to its sendonly, sendrecv to its sendrecv.
    run_uac("uac_hold.xml", port);
    let out = output(phone);
    let by_remote = |name: &str| events(&out, name).iter().filter(|e| e["by"] == "remote").count();
    assert_eq!((by_remote("held"), by_remote("resumed")), (1, 1), "{out}");
    assert_eq!(events(&out, "ended")[0]["cause"], "remote_bye", "{out}");
}

#[test]
fn dtmf_sent_as_sip_info_is_reported_like_rtp_events() {
    let port = free_udp_port();
    let phone = callee(port, true);
    run_uac("uac_info_dtmf.xml", port);
    let out = output(phone);
    let keys: String = events(&out, "dtmf").iter().map(|e| e["key"].as_str().unwrap_or("?").to_owned()).collect();
    assert_eq!(keys, "5#7", "{out}");
}

#[test]
fn a_busy_callee_answers_486_and_gets_its_ack() {
    let sipp_port = free_udp_port();
    let mut uas = Killed(
        sipp().args(["-sf", &scenario("uas_486.xml"), "-p", &sipp_port.to_string(), "-m", "1"]).spawn().unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{}", free_udp_port()), "--json-events"])
        .args(["--call", &format!("sip:busy@127.0.0.1:{sipp_port}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "an unanswered call is a failure exit: {stdout}");
    assert_eq!(events(&stdout, "rejected")[0]["status"], 486, "{stdout}");
    assert_eq!(events(&stdout, "ended")[0]["cause"], "status_486", "{stdout}");
    // sipp's scenario ends successfully only if our ACK for the 486 arrived.
    assert!(uas.0.wait().unwrap().success(), "sipp did not get the ACK");
}

#[test]
fn a_callee_that_wants_digest_credentials_gets_them() {
    let sipp_port = free_udp_port();
    let mut uas = Killed(
        sipp().args(["-sf", &scenario("uas_auth.xml"), "-p", &sipp_port.to_string(), "-m", "1"]).spawn().unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{}", free_udp_port()), "--json-events"])
        .args(["--account", "sip:alice@127.0.0.1", "--password-env", "OKNO_SIPP_AUTH_PASSWORD"])
        .args(["--call", &format!("sip:secure@127.0.0.1:{sipp_port}"), "--hangup-after-ms", "300"])
        .env("OKNO_SIPP_AUTH_PASSWORD", "s3cret")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the challenged call went through: {stdout}");
    let ended = events(&stdout, "ended");
    assert_eq!((&ended[0]["answered"], &ended[0]["cause"]), (&true.into(), &"local_bye".into()), "{stdout}");
    assert!(uas.0.wait().unwrap().success(), "sipp's scenario completed");

    // With the wrong password sipp's check fails: it answers 403 and the call fails.
    let sipp_port = free_udp_port();
    let mut uas = Killed(
        sipp().args(["-sf", &scenario("uas_auth.xml"), "-p", &sipp_port.to_string(), "-m", "1"]).spawn().unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{}", free_udp_port()), "--json-events"])
        .args(["--account", "sip:alice@127.0.0.1", "--password-env", "OKNO_SIPP_AUTH_PASSWORD"])
        .args(["--call", &format!("sip:secure@127.0.0.1:{sipp_port}")])
        .env("OKNO_SIPP_AUTH_PASSWORD", "wrong")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(events(&stdout, "ended")[0]["cause"], "status_403", "{stdout}");
    let _ = uas.0.wait();
}
