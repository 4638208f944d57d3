//! okno-phone and baresip, a real softphone, calling each other both ways (signaling; media
//! comes with issue 4). baresip must be installed (`cargo xtask test` installs baresip-core).

mod common;
use common::*;

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// baresip with an auto-answering account `bob`, on `sip_port`, controlled on `ctrl_port`.
fn start_baresip(sip_port: u16, ctrl_port: u16) -> (Killed, std::path::PathBuf) {
    require("baresip", "baresip-core");
    let dir = std::env::temp_dir().join(format!("okno-baresip-{}-{sip_port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // ausine only produces 48 kHz stereo; baresip resamples to the call's G.711.
    let config = format!(
        "sip_listen 127.0.0.1:{sip_port}\nnet_interface 127.0.0.1\naudio_source ausine,1000\n\
         audio_player aufile,{dir}/received.wav\naudio_alert aufile,/dev/null\n\
         ausrc_srate 48000\nausrc_channels 2\nauplay_srate 48000\nauplay_channels 2\n\
         module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule ausine.so\nmodule aufile.so\n\
         module_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl_port}\n",
        dir = dir.display()
    );
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("accounts"), format!("<sip:bob@127.0.0.1:{sip_port}>;regint=0;answermode=auto\n")).unwrap();
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

#[test]
fn okno_phone_calls_baresip() {
    let (sip, ctrl) = (free_udp_port(), free_tcp_port());
    let (_baresip, dir) = start_baresip(sip, ctrl);
    let out = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args([
            "--listen",
            &format!("udp:127.0.0.1:{}", free_udp_port()),
            "--call",
            &format!("sip:bob@127.0.0.1:{sip}"),
        ])
        .args(["--hangup-after-ms", "700", "--json-events"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    assert!(out.status.success(), "{stdout}\nbaresip: {log}");
    let ended = events(&stdout, "ended");
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["answered"], true);
    assert_eq!(ended[0]["cause"], "local_bye");
    assert!(log.contains("answering call"), "baresip answered: {log}");
}

#[test]
fn baresip_calls_okno_phone() {
    let (sip, ctrl) = (free_udp_port(), free_tcp_port());
    let phone_port = free_udp_port();
    let phone = Command::new(env!("CARGO_BIN_EXE_okno-phone"))
        .args(["--listen", &format!("udp:127.0.0.1:{phone_port}"), "--auto-answer", "--answer-after-ms", "200"])
        .args(["--hangup-after-ms", "700", "--exit-after-calls", "1", "--json-events"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut phone = Killed(phone);
    let (_baresip, dir) = start_baresip(sip, ctrl);
    // baresip's ctrl_tcp takes netstring-framed JSON commands.
    let command = format!(r#"{{"command":"dial","params":"sip:okno@127.0.0.1:{phone_port}"}}"#);
    let mut ctrl_conn = TcpStream::connect(("127.0.0.1", ctrl)).expect("baresip's control port");
    ctrl_conn.write_all(format!("{}:{},", command.len(), command).as_bytes()).unwrap();
    let status = phone.0.wait().unwrap();
    let stdout = std::io::read_to_string(phone.0.stdout.take().unwrap()).unwrap();
    let log = std::fs::read_to_string(dir.join("out.log")).unwrap_or_default();
    assert!(status.success(), "{stdout}\nbaresip: {log}");
    let incoming = events(&stdout, "incoming");
    assert_eq!(incoming.len(), 1, "{stdout}");
    assert!(incoming[0]["from"].as_str().unwrap().contains("bob"), "{stdout}");
    assert_eq!(events(&stdout, "answered").len(), 1);
    assert_eq!(events(&stdout, "ended")[0]["cause"], "local_bye", "{stdout}");
}
