//! okno-phone and baresip, a real softphone, calling each other both ways with audio: each
//! side plays the test signal from a WAV file, and the signal must be found in what the other
//! side recorded (baresip's `sndfile` module dumps what it decoded). okno-phone's DTMF keys
//! must reach baresip. One direction runs PCMU, the other PCMA. baresip must be installed
//! (`cargo xtask test` installs baresip-core). Transfers both ways: okno-phone blind-transfers
//! baresip to a second okno-phone (baresip follows our REFER), and baresip transfers okno-phone
//! (we follow its REFER and report by NOTIFY); the signal reaches the transfer target. Opus
//! both ways, the signal found in each side's recording. SRTP (SDES, baresip's srtp module)
//! both ways, okno-phone requiring it: the signal found in each side's recording. And baresip
//! over TLS, registered with a TLS-only Kamailio, calling okno-phone registered there too.

mod common;
use common::*;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// baresip with an auto-answering account `bob`, on `sip_port`, controlled on `ctrl_port`,
/// sending `signal.wav` from its directory and dumping what it decodes there.
fn start_baresip(sip_port: u16, ctrl_port: u16, codec: &str) -> (Killed, PathBuf) {
    start_baresip_with(sip_port, ctrl_port, codec, None)
}

/// The same, with `mediaenc` (`srtp`: SDES offered on RTP/AVP; `srtp-mand`: RTP/SAVP only)
/// and baresip's srtp module when `mediaenc` is given.
fn start_baresip_with(sip_port: u16, ctrl_port: u16, codec: &str, mediaenc: Option<&str>) -> (Killed, PathBuf) {
    let account = format!(
        "<sip:bob@127.0.0.1:{sip_port}>;regint=0;answermode=auto;audio_codecs={codec}{}",
        mediaenc.map(|m| format!(";mediaenc={m}")).unwrap_or_default()
    );
    let extra = if mediaenc.is_some() { "module srtp.so\n" } else { "" };
    start_baresip_configured(sip_port, ctrl_port, extra, &account)
}

/// baresip on `sip_port`, controlled on `ctrl_port`, with `extra` config lines and the one
/// account line `account`; it sends `signal.wav` from its directory and dumps what it decodes.
fn start_baresip_configured(sip_port: u16, ctrl_port: u16, extra: &str, account: &str) -> (Killed, PathBuf) {
    require("baresip", "baresip-core");
    let dir = std::env::temp_dir().join(format!("okno-baresip-{}-{sip_port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    write_wav(&dir.join("signal.wav"), &test_signal());
    let config = format!(
        "sip_listen 127.0.0.1:{sip_port}\nnet_interface 127.0.0.1\n\
         audio_source aufile,{dir}/signal.wav\naudio_player aufile,/dev/null\naudio_alert aufile,/dev/null\n\
         ausrc_srate 8000\nausrc_channels 1\nauplay_srate 8000\nauplay_channels 1\n\
         snd_path {dir}\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\nmodule opus.so\nmodule aufile.so\nmodule sndfile.so\n\
         module_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl_port}\n{extra}",
        dir = dir.display(),
    );
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("accounts"), format!("{account}\n")).unwrap();
    let child = Command::new("baresip")
        .args(["-f", &dir.display().to_string()])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("out.log")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    (Killed(child), dir)
}

/// A command to baresip's ctrl_tcp, which takes netstring-framed JSON.
fn baresip_command(ctrl: u16, command: &str, params: &str) {
    let command = format!(r#"{{"command":"{command}","params":"{params}"}}"#);
    let mut ctrl_conn = TcpStream::connect(("127.0.0.1", ctrl)).expect("baresip's control port");
    ctrl_conn.write_all(format!("{}:{},", command.len(), command).as_bytes()).unwrap();
}

fn baresip_heard(dir: &Path) -> Vec<i16> {
    let dump = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .expect("baresip's sndfile dump of the received audio");
    read_wav_at_8k(&dump)
}

fn signal_found(who: &str, heard: &[i16], reference: &[i16]) {
    signal_found_above(who, heard, reference, 0.98);
}

/// Opus is a perceptual codec: the waveform survives less exactly than through G.711.
fn signal_found_above(who: &str, heard: &[i16], reference: &[i16], min: f64) {
    let (peak, lag) = find_signal(reference, heard);
    eprintln!("{who}: correlation {peak:.3}");
    assert!(peak > min, "{who} heard the test signal: correlation {peak:.3} at lag {lag} of {}", heard.len());
}

#[test]
fn okno_phone_calls_baresip_with_audio_and_dtmf() {
    let (sip, ctrl) = (free_udp_port(), free_tcp_port());
    let (baresip, dir) = start_baresip(sip, ctrl, "PCMU");
    let out = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{}", free_udp_port()), "--codecs", "pcmu,pcma"])
        .args(["--call", &format!("sip:bob@127.0.0.1:{sip}"), "--dtmf", "42#"])
        .arg("--play")
        .arg(dir.join("signal.wav"))
        .arg("--record")
        .arg(dir.join("okno.wav"))
        .args(["--hangup-after-ms", "1800", "--json-events"])
        .output()
        .unwrap();
    // Give baresip the BYE's moment to close its dump files before it is stopped.
    std::thread::sleep(Duration::from_millis(700));
    drop(baresip);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    assert!(out.status.success(), "{stdout}\nbaresip: {log}");
    let ended = events(&stdout, "ended");
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["answered"], true);
    assert_eq!(ended[0]["cause"], "local_bye");
    assert_eq!(ended[0]["media"]["codec"], "PCMU", "{stdout}");
    assert!(log.contains("answering call"), "baresip answered: {log}");
    for key in ['4', '2', '#'] {
        assert!(log.contains(&format!("received event: '{key}' (end=1)")), "baresip got DTMF {key}: {log}");
    }
    let signal = test_signal();
    // okno-phone's keys replace its audio from 0.5 s to about 1 s: compare after that.
    signal_found("baresip", &baresip_heard(&dir), &signal[9600..11_200]);
    signal_found("okno-phone", &read_wav(&dir.join("okno.wav")), &signal[4000..6400]);
}

#[test]
fn baresip_calls_okno_phone_with_audio() {
    let (sip, ctrl) = (free_udp_port(), free_tcp_port());
    let phone_port = free_udp_port();
    let (baresip, dir) = start_baresip(sip, ctrl, "PCMA");
    let phone = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{phone_port}"), "--auto-answer", "--answer-after-ms", "200"])
        .args(["--codecs", "pcmu,pcma"])
        .arg("--play")
        .arg(dir.join("signal.wav"))
        .arg("--record")
        .arg(dir.join("okno.wav"))
        .args(["--hangup-after-ms", "1500", "--exit-after-calls", "1", "--json-events"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut phone = Killed(phone);
    std::thread::sleep(Duration::from_millis(200));
    baresip_command(ctrl, "dial", &format!("sip:okno@127.0.0.1:{phone_port}"));
    let status = phone.0.wait().unwrap();
    // Give baresip the BYE's moment to close its dump files before it is stopped.
    std::thread::sleep(Duration::from_millis(700));
    drop(baresip);
    let stdout = std::io::read_to_string(phone.0.stdout.take().unwrap()).unwrap();
    let log = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    assert!(status.success(), "{stdout}\nbaresip: {log}");
    let incoming = events(&stdout, "incoming");
    assert_eq!(incoming.len(), 1, "{stdout}");
    assert!(incoming[0]["from"].as_str().unwrap().contains("bob"), "{stdout}");
    assert_eq!(events(&stdout, "answered").len(), 1);
    let ended = events(&stdout, "ended");
    assert_eq!(ended[0]["cause"], "local_bye", "{stdout}");
    // baresip offered PCMA only; okno-phone answered with it although it prefers PCMU.
    assert_eq!(ended[0]["media"]["codec"], "PCMA", "{stdout}");
    let signal = test_signal();
    signal_found("baresip", &baresip_heard(&dir), &signal[4000..6400]);
    signal_found("okno-phone", &read_wav(&dir.join("okno.wav")), &signal[4000..6400]);
}

/// A second okno-phone, `carol`, that answers one call, records it and hangs up after `talk_ms`.
fn start_carol(port: u16, record: &Path, talk_ms: u32) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{port}"), "--account", &format!("sip:carol@127.0.0.1:{port}")])
        .args(["--auto-answer", "--answer-after-ms", "200", "--exit-after-calls", "1", "--json-events"])
        .args(["--hangup-after-ms", &talk_ms.to_string()])
        .arg("--record")
        .arg(record)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    Killed(child)
}

fn stdout_of(phone: &mut Killed) -> String {
    let status = phone.0.wait().unwrap();
    let out = std::io::read_to_string(phone.0.stdout.take().unwrap()).unwrap();
    assert!(status.success(), "{out}");
    out
}

#[test]
fn okno_phone_transfers_baresip_to_another_okno_phone() {
    let (sip, ctrl) = (free_udp_port(), free_tcp_port());
    let (baresip, dir) = start_baresip(sip, ctrl, "PCMU");
    let carol_port = free_udp_port();
    let mut carol = start_carol(carol_port, &dir.join("carol.wav"), 2000);
    let out = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{}", free_udp_port()), "--json-events"])
        .args(["--call", &format!("sip:bob@127.0.0.1:{sip}")])
        .args(["--transfer-to", &format!("sip:carol@127.0.0.1:{carol_port}"), "--transfer-after-ms", "800"])
        .output()
        .unwrap();
    let carol_out = stdout_of(&mut carol);
    drop(baresip);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    assert!(out.status.success(), "{stdout}\nbaresip: {log}");
    // baresip accepted our REFER, called carol and reported 200 by NOTIFY; then we hung up.
    assert_eq!(events(&stdout, "transferring").len(), 1, "{stdout}");
    assert_eq!(events(&stdout, "transferred").len(), 1, "{stdout}\nbaresip: {log}");
    assert_eq!(events(&stdout, "ended")[0]["cause"], "transferred", "{stdout}");
    let incoming = events(&carol_out, "incoming");
    assert_eq!(incoming.len(), 1, "{carol_out}");
    assert!(incoming[0]["from"].as_str().unwrap().contains("bob"), "carol's caller is baresip: {carol_out}");
    // Whoever hangs up first (carol's timer or baresip at the end of its file), the call was up.
    assert_eq!(events(&carol_out, "ended")[0]["answered"], true, "{carol_out}");
    signal_found("carol, after the transfer", &read_wav(&dir.join("carol.wav")), &test_signal()[4000..6400]);
}

#[test]
fn baresip_transfers_okno_phone_to_another_okno_phone() {
    let (sip, ctrl) = (free_udp_port(), free_tcp_port());
    let (baresip, dir) = start_baresip(sip, ctrl, "PCMU");
    let carol_port = free_udp_port();
    let mut carol = start_carol(carol_port, &dir.join("carol.wav"), 2000);
    let phone_port = free_udp_port();
    let phone = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{phone_port}"), "--auto-answer", "--answer-after-ms", "200"])
        .args(["--exit-after-calls", "2", "--json-events"])
        .arg("--play")
        .arg(dir.join("signal.wav"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut phone = Killed(phone);
    std::thread::sleep(Duration::from_millis(200));
    baresip_command(ctrl, "dial", &format!("sip:okno@127.0.0.1:{phone_port}"));
    std::thread::sleep(Duration::from_millis(1500));
    baresip_command(ctrl, "transfer", &format!("sip:carol@127.0.0.1:{carol_port}"));
    let stdout = stdout_of(&mut phone);
    let carol_out = stdout_of(&mut carol);
    drop(baresip);
    let log = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    // baresip's REFER made us call carol; baresip hung up once our NOTIFY said 200.
    let referred = events(&stdout, "referred");
    assert_eq!(referred.len(), 1, "{stdout}\nbaresip: {log}");
    assert!(referred[0]["to"].as_str().unwrap().contains("carol"), "{stdout}");
    assert!(log.contains("Call transfered") || log.contains("terminated"), "baresip left the call: {log}");
    let ended = events(&stdout, "ended");
    let first = ended.iter().find(|e| e["call_id"] == referred[0]["call_id"]).expect("the referring call ended");
    assert_eq!(first["cause"], "remote_bye", "{stdout}");
    let second = ended.iter().find(|e| e["call_id"] == referred[0]["new_call_id"]).expect("the new call ended");
    assert_eq!((&second["answered"], &second["cause"]), (&serde_json::json!(true), &serde_json::json!("remote_bye")));
    assert_eq!(events(&carol_out, "incoming").len(), 1, "{carol_out}");
    signal_found("carol, after the transfer", &read_wav(&dir.join("carol.wav")), &test_signal()[4000..6400]);
}

#[test]
fn okno_phone_and_baresip_talk_opus_both_ways() {
    // okno-phone calls baresip.
    let (sip, ctrl) = (free_udp_port(), free_tcp_port());
    let (baresip, dir) = start_baresip(sip, ctrl, "opus");
    let out = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{}", free_udp_port()), "--codecs", "opus,pcmu"])
        .args(["--call", &format!("sip:bob@127.0.0.1:{sip}"), "--hangup-after-ms", "2500", "--json-events"])
        .arg("--play")
        .arg(dir.join("signal.wav"))
        .arg("--record")
        .arg(dir.join("okno.wav"))
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    drop(baresip);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    assert!(out.status.success(), "{stdout}\nbaresip: {log}");
    let ended = events(&stdout, "ended");
    assert_eq!(ended[0]["media"]["codec"], "opus", "{stdout}");
    assert_eq!(ended[0]["media"]["packets_lost"], 0, "{stdout}");
    let signal = test_signal();
    signal_found_above("baresip (opus)", &baresip_heard(&dir), &signal[4000..6400], 0.8);
    signal_found_above("okno-phone (opus)", &read_wav_at_8k(&dir.join("okno.wav")), &signal[4000..6400], 0.8);

    // baresip calls okno-phone.
    let (sip, ctrl) = (free_udp_port(), free_tcp_port());
    let phone_port = free_udp_port();
    let (baresip, dir) = start_baresip(sip, ctrl, "opus/48000/2");
    let phone = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{phone_port}"), "--auto-answer", "--codecs", "pcmu,opus"])
        .arg("--play")
        .arg(dir.join("signal.wav"))
        .arg("--record")
        .arg(dir.join("okno.wav"))
        .args(["--hangup-after-ms", "2500", "--exit-after-calls", "1", "--json-events"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut phone = Killed(phone);
    std::thread::sleep(Duration::from_millis(200));
    baresip_command(ctrl, "dial", &format!("sip:okno@127.0.0.1:{phone_port}"));
    let status = phone.0.wait().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    drop(baresip);
    let stdout = std::io::read_to_string(phone.0.stdout.take().unwrap()).unwrap();
    let log = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    assert!(status.success(), "{stdout}\nbaresip: {log}");
    // baresip offered only Opus: okno-phone answers with it although it lists PCMU first.
    assert_eq!(events(&stdout, "ended")[0]["media"]["codec"], "opus", "{stdout}");
    signal_found_above("baresip (opus, calling)", &baresip_heard(&dir), &signal[4000..6400], 0.8);
    signal_found_above("okno-phone (opus, called)", &read_wav_at_8k(&dir.join("okno.wav")), &signal[4000..6400], 0.8);
}

/// SRTP (SDES) with baresip's srtp module, okno-phone calling: baresip insists on RTP/SAVP
/// (`srtp-mand`), okno-phone requires SRTP; the signal crosses both ways.
#[test]
fn okno_phone_calls_baresip_over_srtp() {
    let (sip, ctrl) = (free_udp_port(), free_tcp_port());
    let (baresip, dir) = start_baresip_with(sip, ctrl, "PCMU", Some("srtp-mand"));
    let out = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{}", free_udp_port()), "--codecs", "pcmu", "--srtp", "require"])
        .args(["--call", &format!("sip:bob@127.0.0.1:{sip}")])
        .arg("--play")
        .arg(dir.join("signal.wav"))
        .arg("--record")
        .arg(dir.join("okno.wav"))
        .args(["--hangup-after-ms", "1500", "--json-events"])
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    drop(baresip);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    assert!(out.status.success(), "{stdout}\nbaresip: {log}");
    assert_eq!(events(&stdout, "media")[0]["srtp"], "AES_CM_128_HMAC_SHA1_80", "{stdout}");
    assert_eq!(events(&stdout, "ended")[0]["cause"], "local_bye", "{stdout}");
    let signal = test_signal();
    signal_found("baresip, over SRTP", &baresip_heard(&dir), &signal[4000..6400]);
    signal_found("okno-phone, over SRTP", &read_wav(&dir.join("okno.wav")), &signal[4000..6400]);
}

/// SRTP the other way: baresip offers SDES on RTP/AVP (`mediaenc=srtp`), okno-phone with
/// `--srtp require` accepts it; the signal crosses both ways.
#[test]
fn baresip_calls_okno_phone_over_srtp() {
    let (sip, ctrl) = (free_udp_port(), free_tcp_port());
    let phone_port = free_udp_port();
    let (baresip, dir) = start_baresip_with(sip, ctrl, "PCMA", Some("srtp"));
    let phone = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{phone_port}"), "--auto-answer", "--answer-after-ms", "200"])
        .args(["--codecs", "pcmu,pcma", "--srtp", "require"])
        .arg("--play")
        .arg(dir.join("signal.wav"))
        .arg("--record")
        .arg(dir.join("okno.wav"))
        .args(["--hangup-after-ms", "1500", "--exit-after-calls", "1", "--json-events"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut phone = Killed(phone);
    std::thread::sleep(Duration::from_millis(200));
    baresip_command(ctrl, "dial", &format!("sip:okno@127.0.0.1:{phone_port}"));
    let status = phone.0.wait().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    drop(baresip);
    let stdout = std::io::read_to_string(phone.0.stdout.take().unwrap()).unwrap();
    let log = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    assert!(status.success(), "{stdout}\nbaresip: {log}");
    let media = events(&stdout, "media");
    assert_eq!(media.len(), 1, "{stdout}\nbaresip: {log}");
    assert!(media[0]["srtp"].as_str().is_some_and(|s| s.starts_with("AES_CM_128_HMAC_SHA1_")), "{stdout}");
    assert_eq!(events(&stdout, "ended")[0]["media"]["codec"], "PCMA", "{stdout}");
    let signal = test_signal();
    signal_found("baresip, over SRTP", &baresip_heard(&dir), &signal[4000..6400]);
    signal_found("okno-phone, over SRTP", &read_wav(&dir.join("okno.wav")), &signal[4000..6400]);
}

/// baresip over TLS: it registers with a TLS-only Kamailio (trusting its CA, `sip_cafile`) and
/// calls okno-phone, registered there over its own TLS connection, with SRTP (required by
/// okno-phone over TLS); baresip hangs up. The signal crosses both ways.
#[test]
fn baresip_calls_okno_phone_through_kamailio_over_tls() {
    use okno_testkit::sip::Kamailio;
    const PASSWORD: &str = "s3cret-test-only";
    let kamailio = Kamailio::start_tls(PASSWORD);
    let ca = kamailio.ca_pem().display().to_string();
    let (sip, ctrl) = (free_udp_port(), free_tcp_port());
    let account = format!(
        "<sip:bob@127.0.0.1;transport=tls>;auth_pass={PASSWORD};outbound=\"sip:{};transport=tls\";regint=600;\
         answermode=auto;audio_codecs=PCMU;mediaenc=srtp-mand",
        kamailio.addr()
    );
    let (baresip, dir) = start_baresip_configured(sip, ctrl, &format!("module srtp.so\nsip_cafile {ca}\n"), &account);
    assert!(
        kamailio.registered("bob"),
        "baresip registered over TLS: {}",
        std::fs::read_to_string(dir.join("out.log")).unwrap_or_default()
    );
    let phone = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("tls:127.0.0.1:{}", free_tcp_port()), "--tls-ca", &ca])
        .args([
            "--account",
            "sip:alice@127.0.0.1",
            "--registrar",
            &kamailio.addr(),
            "--password-env",
            "OKNO_TEST_SIP_PASSWORD",
        ])
        .args(["--auto-answer", "--codecs", "pcmu", "--exit-after-calls", "1", "--json-events"])
        .arg("--play")
        .arg(dir.join("signal.wav"))
        .arg("--record")
        .arg(dir.join("okno.wav"))
        .env("OKNO_TEST_SIP_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut phone = Killed(phone);
    std::thread::sleep(Duration::from_millis(700));
    assert!(kamailio.registered("alice"), "okno-phone registered over TLS");
    baresip_command(ctrl, "dial", "sip:alice@127.0.0.1");
    std::thread::sleep(Duration::from_millis(2500));
    baresip_command(ctrl, "hangup", "");
    let status = phone.0.wait().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    drop(baresip);
    let stdout = std::io::read_to_string(phone.0.stdout.take().unwrap()).unwrap();
    let log = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    assert!(status.success(), "{stdout}\nbaresip: {log}");
    assert!(events(&stdout, "incoming")[0]["from"].as_str().unwrap().contains("bob"), "{stdout}");
    assert_eq!(events(&stdout, "media")[0]["srtp"], "AES_CM_128_HMAC_SHA1_80", "{stdout}");
    assert_eq!(events(&stdout, "ended")[0]["cause"], "remote_bye", "{stdout}");
    let signal = test_signal();
    signal_found("baresip, over TLS and SRTP", &baresip_heard(&dir), &signal[4000..6400]);
    signal_found("okno-phone, over TLS and SRTP", &read_wav(&dir.join("okno.wav")), &signal[4000..6400]);
}
