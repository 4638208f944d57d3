//! okno-phone and baresip, a real softphone, calling each other both ways with audio: each
//! side plays the test signal from a WAV file, and the signal must be found in what the other
//! side recorded (baresip's `sndfile` module dumps what it decoded). okno-phone's DTMF keys
//! must reach baresip. One direction runs PCMU, the other PCMA. baresip must be installed
//! (`cargo xtask test` installs baresip-core).

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
    require("baresip", "baresip-core");
    let dir = std::env::temp_dir().join(format!("okno-baresip-{}-{sip_port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    write_wav(&dir.join("signal.wav"), &test_signal());
    let config = format!(
        "sip_listen 127.0.0.1:{sip_port}\nnet_interface 127.0.0.1\n\
         audio_source aufile,{dir}/signal.wav\naudio_player aufile,/dev/null\naudio_alert aufile,/dev/null\n\
         ausrc_srate 8000\nausrc_channels 1\nauplay_srate 8000\nauplay_channels 1\n\
         snd_path {dir}\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule sndfile.so\n\
         module_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl_port}\n",
        dir = dir.display()
    );
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(
        dir.join("accounts"),
        format!("<sip:bob@127.0.0.1:{sip_port}>;regint=0;answermode=auto;audio_codecs={codec}\n"),
    )
    .unwrap();
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

/// What baresip decoded during the call (sndfile's `dump-*-dec.wav`).
fn baresip_heard(dir: &Path) -> Vec<i16> {
    let dump = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .expect("baresip's sndfile dump of the received audio");
    read_wav(&dump)
}

fn signal_found(who: &str, heard: &[i16], reference: &[i16]) {
    let (peak, lag) = find_signal(reference, heard);
    assert!(peak > 0.98, "{who} heard the test signal: correlation {peak:.3} at lag {lag} of {}", heard.len());
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
    // baresip's ctrl_tcp takes netstring-framed JSON commands.
    let command = format!(r#"{{"command":"dial","params":"sip:okno@127.0.0.1:{phone_port}"}}"#);
    let mut ctrl_conn = TcpStream::connect(("127.0.0.1", ctrl)).expect("baresip's control port");
    ctrl_conn.write_all(format!("{}:{},", command.len(), command).as_bytes()).unwrap();
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
