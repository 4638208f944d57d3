//! SRTP with SDES keys between two okno-phones: the test signal is found in both recordings
//! while the packets on the wire (captured with tcpdump) carry an authentication tag and
//! nothing that decodes to the signal; a key other than the call's does not open them. And
//! the policies against a phone without SRTP: `offer` falls back to RTP, `require` gets 488.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use okno_media::g711::G711;
use okno_media::srtp::{SrtpContext, SrtpError, SrtpProfile};

fn phone(dir: &Path, name: &str, port: u16, srtp: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_okno-phone"));
    cmd.args(["--listen", &format!("udp:127.0.0.1:{port}"), "--codecs", "pcmu", "--json-events", "--srtp", srtp])
        .arg("--play")
        .arg(dir.join("signal.wav"))
        .arg("--record")
        .arg(dir.join(format!("{name}.wav")))
        .args(extra)
        .stdout(Stdio::piped());
    cmd
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("okno-srtp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    write_wav(&dir.join("signal.wav"), &test_signal());
    dir
}

/// Alice calls bob for 3 s; both outputs.
fn call(dir: &Path, alice_srtp: &str, bob_srtp: &str, bob_rtp_port: u16) -> (bool, String, String) {
    let (a_port, b_port) = (free_udp_port(), free_udp_port());
    let rtp = bob_rtp_port.to_string();
    let b = phone(dir, "bob", b_port, bob_srtp, &["--auto-answer", "--exit-after-calls", "1", "--rtp-port", &rtp])
        .spawn()
        .unwrap();
    let mut b = Killed(b);
    std::thread::sleep(Duration::from_millis(300));
    let a = phone(dir, "alice", a_port, alice_srtp, &["--hangup-after-ms", "3000"])
        .arg("--call")
        .arg(format!("sip:bob@127.0.0.1:{b_port}"))
        .output()
        .unwrap();
    let a_out = String::from_utf8_lossy(&a.stdout).into_owned();
    // Bob waits for a call that ends; when alice's was refused, he is stopped here.
    if !a.status.success() {
        std::thread::sleep(Duration::from_millis(200));
        let _ = b.0.kill();
    }
    let _ = b.0.wait();
    let b_out = std::io::read_to_string(b.0.stdout.take().unwrap()).unwrap();
    (a.status.success(), a_out, b_out)
}

/// UDP payloads of a pcap file (tcpdump -w on `lo`: Ethernet framing) sent to `port`.
fn udp_payloads_to(pcap: &[u8], port: u16) -> Vec<Vec<u8>> {
    assert!(pcap.len() >= 24, "a pcap file");
    let le = pcap[..4] == [0xd4, 0xc3, 0xb2, 0xa1];
    let u32_at = |b: &[u8], i: usize| {
        let v = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le { u32::from_le_bytes(v) } else { u32::from_be_bytes(v) }
    };
    assert_eq!(u32_at(pcap, 20), 1, "Ethernet link type");
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let len = u32_at(pcap, at + 8) as usize;
        let frame = &pcap[at + 16..(at + 16 + len).min(pcap.len())];
        at += 16 + len;
        // IPv4 / UDP only.
        if frame.len() < 14 + 20 + 8 || frame[12..14] != [0x08, 0x00] || frame[14 + 9] != 17 {
            continue;
        }
        let udp = 14 + (frame[14] & 0x0F) as usize * 4;
        if udp + 8 <= frame.len() && u16::from_be_bytes([frame[udp + 2], frame[udp + 3]]) == port {
            out.push(frame[udp + 8..].to_vec());
        }
    }
    out
}

#[test]
fn okno_phones_talk_over_srtp_and_the_wire_is_not_g711() {
    require("tcpdump", "tcpdump");
    let dir = scratch("wire");
    let rtp_base = 30_000 + (std::process::id() % 5_000) as u16 * 2;
    let pcap = dir.join("call.pcap");
    let dump = Command::new("tcpdump")
        .args(["-i", "lo", "-U", "-n", "-w"])
        .arg(&pcap)
        .args(["udp", "portrange", &format!("{rtp_base}-{}", rtp_base + 60)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dump = Terminated(dump);
    std::thread::sleep(Duration::from_millis(800));
    // Offer on one side, require on the other: SRTP either way.
    let (ok, a_out, b_out) = call(&dir, "offer", "require", rtp_base);
    std::thread::sleep(Duration::from_millis(300));
    drop(dump);
    assert!(ok, "alice:\n{a_out}\nbob:\n{b_out}");
    for out in [&a_out, &b_out] {
        let media = events(out, "media");
        assert_eq!(media[0]["srtp"], "AES_CM_128_HMAC_SHA1_80", "{out}");
        let m = &events(out, "ended")[0]["media"];
        assert!(m["packets_received"].as_u64().unwrap() >= 130, "{m}");
        assert_eq!(m["packets_lost"], 0, "{m}");
    }
    let signal = test_signal();
    let reference = &signal[4000..6400];
    for name in ["alice", "bob"] {
        let (peak, _) = find_signal(reference, &read_wav(&dir.join(format!("{name}.wav"))));
        eprintln!("SRTP: {name} heard the signal at correlation {peak:.3}");
        assert!(peak > 0.98, "{name} heard the signal through SRTP: {peak:.3}");
    }

    // On the wire: RTP headers in the clear, the payload plus an 80-bit tag, and a payload
    // that, read as PCMU, is not the signal.
    let bob_port = events(&b_out, "media")[0]["local_port"].as_u64().unwrap() as u16;
    let packets = udp_payloads_to(&std::fs::read(&pcap).unwrap(), bob_port);
    let rtp: Vec<&Vec<u8>> = packets.iter().filter(|p| p.len() > 12 && p[0] >> 6 == 2 && p[1] & 0x7F == 0).collect();
    assert!(rtp.len() >= 100, "captured {} PCMU packets to bob's port {bob_port}", rtp.len());
    assert!(rtp.iter().all(|p| p.len() == 12 + 160 + 10), "SRTP packets carry the tag");
    let mut wire_audio = Vec::new();
    for p in &rtp {
        G711::Pcmu.decode(&p[12..12 + 160], &mut wire_audio);
    }
    let (peak, _) = find_signal(reference, &wire_audio);
    eprintln!("SRTP: the payload on the wire read as PCMU correlates {peak:.3} with the signal");
    assert!(peak < 0.3, "the wire carries the signal in the clear: {peak:.3}");
    // A key other than the call's: refused.
    let mut wrong = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &[0x5A; 30]).unwrap();
    assert_eq!(wrong.unprotect_rtp(rtp[50]), Err(SrtpError::BadAuthTag));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn srtp_offer_falls_back_to_rtp_with_a_plain_peer() {
    let dir = scratch("fallback");
    let (ok, a_out, b_out) = call(&dir, "offer", "off", 0);
    assert!(ok, "alice:\n{a_out}\nbob:\n{b_out}");
    for out in [&a_out, &b_out] {
        assert_eq!(events(out, "media")[0]["srtp"], serde_json::Value::Null, "{out}");
    }
    let (peak, _) = find_signal(&test_signal()[4000..6400], &read_wav(&dir.join("bob.wav")));
    assert!(peak > 0.98, "bob heard alice over plain RTP: {peak:.3}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn srtp_require_refuses_a_plain_peer_with_488() {
    let dir = scratch("require");
    // Bob requires SRTP; alice offers plain RTP: bob answers 488.
    let (ok, a_out, _) = call(&dir, "off", "require", 0);
    assert!(!ok, "{a_out}");
    assert_eq!(events(&a_out, "rejected")[0]["status"], 488, "{a_out}");
    // Alice requires it (RTP/SAVP); bob has SRTP off: bob answers 488.
    let (ok, a_out, _) = call(&dir, "require", "off", 0);
    assert!(!ok, "{a_out}");
    assert_eq!(events(&a_out, "rejected")[0]["status"], 488, "{a_out}");
    let _ = std::fs::remove_dir_all(&dir);
}
