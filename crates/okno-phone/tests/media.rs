//! Calls between two okno-phones carry audio both ways: each side plays the test signal from
//! a WAV file and records what it hears; the signal must be found in both recordings, DTMF
//! keys sent by each side must arrive once each, and the quality figures of the `ended`
//! event must fit a clean loopback call. Run for both G.711 laws and for Opus (a perceptual
//! codec: the signal is found with a lower correlation, after taking its 16 kHz output to 8 kHz).

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Stdio};

fn phone(dir: &Path, name: &str, port: u16, codecs: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_okno-phone"));
    cmd.args(["--listen", &format!("udp:127.0.0.1:{port}"), "--codecs", codecs, "--json-events"])
        .arg("--play")
        .arg(dir.join("signal.wav"))
        .arg("--record")
        .arg(dir.join(format!("{name}.wav")))
        .args(extra)
        .stdout(Stdio::piped());
    cmd
}

fn call_both_ways(codecs: &str, expect_codec: &str, min_correlation: f64) {
    let dir = std::env::temp_dir().join(format!("okno-media-{}-{codecs}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let signal = test_signal();
    write_wav(&dir.join("signal.wav"), &signal);

    let (a_port, b_port) = (free_udp_port(), free_udp_port());
    let b = phone(&dir, "bob", b_port, codecs, &["--auto-answer", "--exit-after-calls", "1", "--dtmf", "*0"])
        .spawn()
        .unwrap();
    let mut b = Killed(b);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let a = phone(&dir, "alice", a_port, codecs, &["--dtmf", "159#", "--hangup-after-ms", "3000"])
        .arg("--call")
        .arg(format!("sip:bob@127.0.0.1:{b_port}"))
        .output()
        .unwrap();
    let a_out = String::from_utf8_lossy(&a.stdout).into_owned();
    let b_status = b.0.wait().unwrap();
    let b_out = std::io::read_to_string(b.0.stdout.take().unwrap()).unwrap();
    assert!(a.status.success() && b_status.success(), "alice:\n{a_out}\nbob:\n{b_out}");

    // Each side heard the other's signal (nearly bit-exact through G.711). DTMF replaces
    // the audio from 0.5 s to about 1.1 s, so the reference is taken after it.
    let reference = &signal[9600..12_000];
    for name in ["alice", "bob"] {
        let heard = read_wav_at_8k(&dir.join(format!("{name}.wav")));
        let (peak, lag) = find_signal(reference, &heard);
        eprintln!("{expect_codec}: {name} heard the signal at correlation {peak:.3}");
        assert!(peak > min_correlation, "{name} heard the signal: correlation {peak:.3} at lag {lag}");
    }

    let keys =
        |out: &str| events(out, "dtmf").iter().map(|e| e["key"].as_str().unwrap().to_owned()).collect::<String>();
    assert_eq!(keys(&b_out), "159#", "bob got alice's keys once each");
    assert_eq!(keys(&a_out), "*0", "alice got bob's keys");

    for out in [&a_out, &b_out] {
        let media = events(out, "media");
        assert_eq!(media.len(), 1, "{out}");
        assert_eq!(media[0]["codec"], expect_codec);
        let ended = events(out, "ended");
        let m = &ended[0]["media"];
        assert_eq!(m["codec"], expect_codec, "{out}");
        // 3 s of 20 ms packets, less the last few in flight at the BYE.
        assert!(m["packets_sent"].as_u64().unwrap() >= 140, "{m}");
        assert!(m["packets_received"].as_u64().unwrap() >= 130, "{m}");
        assert_eq!(m["packets_lost"], 0, "{m}");
        assert!(m["jitter_ms"].as_f64().unwrap() < 10.0, "{m}");
        assert!(m["mos"].as_f64().unwrap() > 4.0, "{m}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// G.711 crosses nearly bit-exact (0.98 and up on a quiet machine); one late packet concealed
// inside the 300 ms reference costs about 0.02, and a busy CI machine (the whole suite at once
// on two cores) showed 0.961 once. Unrelated audio correlates near 0.
#[test]
fn okno_phones_exchange_audio_and_dtmf_over_pcmu() {
    call_both_ways("pcmu", "PCMU", 0.95);
}

#[test]
fn okno_phones_exchange_audio_and_dtmf_over_pcma() {
    call_both_ways("pcma,pcmu", "PCMA", 0.95);
}

#[test]
fn okno_phones_exchange_audio_and_dtmf_over_opus() {
    call_both_ways("opus,pcmu", "opus", 0.8);
}

#[test]
fn bad_media_options_are_refused_with_a_reason() {
    for (args, reason) in [
        (&["--codecs", "g729"][..], "unknown codec"),
        (&["--dtmf", "12x"][..], "not a DTMF key"),
        (&["--audio-device", "hw:0"][..], "no sound devices"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_okno-phone")).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}

/// A third party who learns a call's RTP port sends it a loud 3 kHz tone from another address
/// while the caller is silent: the callee's recording stays silent, and the call goes on.
#[test]
fn rtp_from_a_third_address_is_not_heard() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("okno-media-inject-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (a_port, b_port) = (free_udp_port(), free_udp_port());
    let mut b = Command::new(env!("CARGO_BIN_EXE_okno-phone"));
    b.args(["--listen", &format!("udp:127.0.0.1:{b_port}"), "--codecs", "pcmu", "--json-events"])
        .args(["--auto-answer", "--exit-after-calls", "1", "--record"])
        .arg(dir.join("bob.wav"))
        .stdout(Stdio::piped());
    let mut b = Killed(b.spawn().unwrap());
    let lines = std::io::BufReader::new(b.0.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Alice calls and says nothing for 3 s.
    let mut a = Command::new(env!("CARGO_BIN_EXE_okno-phone"));
    a.args(["--listen", &format!("udp:127.0.0.1:{a_port}"), "--codecs", "pcmu", "--hangup-after-ms", "3000"])
        .arg("--call")
        .arg(format!("sip:bob@127.0.0.1:{b_port}"))
        .stdout(Stdio::null());
    let a = Killed(a.spawn().unwrap());
    let media: serde_json::Value = rx
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .find(|e| e["event"] == "media")
        .expect("bob's media event");
    let port = media["local_port"].as_u64().unwrap() as u16;
    std::thread::sleep(std::time::Duration::from_millis(500));
    // 50 packets of a full-scale 3 kHz tone in PCMU, from an address the call never saw.
    let attacker = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for n in 0..50u16 {
        let mut packet = vec![0x80, 0x00];
        packet.extend_from_slice(&(1000 + n).to_be_bytes());
        packet.extend_from_slice(&(160 * u32::from(n)).to_be_bytes());
        packet.extend_from_slice(&0x0BAD_F00Du32.to_be_bytes());
        for i in 0..160u32 {
            let x = (std::f64::consts::TAU * 3000.0 * f64::from(160 * u32::from(n) + i) / 8000.0).sin();
            packet.push(okno_media::g711::ulaw_encode((x * 30_000.0) as i16));
        }
        attacker.send_to(&packet, ("127.0.0.1", port)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let rest: Vec<String> = rx.iter().collect();
    drop(a);
    let ended =
        rest.iter().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find(|e| e["event"] == "ended");
    let ended = ended.expect("bob's call ended");
    assert_eq!(ended["cause"], "remote_bye", "the call went on to alice's hang-up: {ended}");
    let heard = read_wav_at_8k(&dir.join("bob.wav"));
    let loudest = heard.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(loudest < 100, "bob heard the third party: peak {loudest}");
    let _ = std::fs::remove_dir_all(&dir);
}
