//! Website call figures for docs/BENCHMARKS.md: headless Chromium places N WebRTC calls through
//! the real okno-server's gateway to a headless okno-phone (the desk: auto-answer, Opus, a tone
//! played back), one after another, then all talk for a while.
//!
//! - click to ringing: from the page creating its offer (microphone already open) to the
//!   widget protocol's `ringing`, per call;
//! - CPU per call: the server's CPU time (the gateway is in it) over the talking window, divided
//!   by the calls and the window; beside it the desk's (okno-phone's) for the same calls: the
//!   same SIP leg and codec, without the WebRTC leg.
//!
//! Needs chromedriver and Chromium, PostgreSQL, and the built server and okno-phone:
//!   OKNO_SERVER_BIN=... OKNO_PHONE_BIN=... okno-webcall-bench [--calls N] [--seconds S]

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use okno_e2e::server::{Database, server_binary, start_server};
use okno_e2e::{Driver, Killed, free_port, free_udp_port, okno_phone_binary};

const CALLS_SCRIPT: &str = r#"
const [base, n] = [arguments[0], arguments[1]];
const done = arguments[arguments.length - 1];
(async () => {
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  const calls = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(base.replace('http', 'ws') + '/v1/widget/shop/ws');
    const inbox = [];
    let waiter = null;
    ws.onmessage = (e) => { inbox.push(JSON.parse(e.data)); if (waiter) waiter(); };
    const next = async (type) => {
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type || (type.startsWith('call:') && m.type === 'call' && m.state === type.slice(5)));
        if (i >= 0) return inbox.splice(i, 1)[0];
        const err = inbox.find((m) => m.type === 'error');
        if (err) throw new Error(err.code + ': ' + err.message);
        await new Promise((r) => (waiter = r));
      }
    };
    await new Promise((r) => (ws.onopen = r));
    ws.send(JSON.stringify({ type: 'hello' }));
    await next('welcome');
    ws.send(JSON.stringify({ type: 'start', name: 'Bench ' + i, contact: 'bench' + i + '@example.com' }));
    await next('started');
    const pc = new RTCPeerConnection({ iceServers: [] });
    mic.getTracks().forEach((t) => pc.addTrack(t, mic));
    const t0 = performance.now();
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => {
      if (pc.iceGatheringState === 'complete') return r();
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
    });
    ws.send(JSON.stringify({ type: 'call_offer', sdp: pc.localDescription.sdp }));
    const answer = await next('call_answer');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    await next('call:ringing');
    const ringing = performance.now() - t0;
    await next('call:answered');
    calls.push({ ws, pc, ringing });
  }
  window.__benchCalls = calls;
  done(calls.map((c) => c.ringing));
})().catch((e) => done({ error: String(e) }));
"#;

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut calls, mut seconds) = (10usize, 20u64);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--calls" => calls = args.next().context("--calls N")?.parse()?,
            "--seconds" => seconds = args.next().context("--seconds S")?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let server = server_binary()?;
    let db = Database::create("okno_e2e")?;
    let work = tempfile::tempdir()?;
    let seeded =
        Command::new(&server).args(["seed", "--demo", "--tickets", "1"]).env("DATABASE_URL", db.url()).output()?;
    anyhow::ensure!(seeded.status.success(), "seed: {}", String::from_utf8_lossy(&seeded.stderr));
    let tone = work.path().join("desk.wav");
    let spec =
        hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut wav = hound::WavWriter::create(&tone, spec)?;
    for i in 0..8000 * 10 {
        wav.write_sample((0.3 * 32767.0 * (std::f64::consts::TAU * 600.0 * f64::from(i) / 8000.0).sin()) as i16)?;
    }
    wav.finalize()?;
    let desk_port = free_udp_port();
    let desk = Command::new(okno_phone_binary())
        .args(["--listen", &format!("udp:127.0.0.1:{desk_port}"), "--auto-answer", "--answer-after-ms", "200"])
        .args(["--codecs", "opus", "--max-calls", &calls.to_string()])
        .arg("--play")
        .arg(&tone)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let desk = Killed(desk);
    let config = work.path().join("okno-server.toml");
    std::fs::write(
        &config,
        format!(
            "[[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\ncalls = true\n[widget]\nmessages_per_minute = 600\n\n\
             [calls]\ntarget = \"sip:desk@127.0.0.1:{desk_port}\"\nsip_listen = \"127.0.0.1:0\"\ncodecs = \"opus\"\n"
        ),
    )?;
    let port = free_port()?;
    let config_arg = config.display().to_string();
    let server_proc =
        start_server(&server, &db, port, &work.path().join("server.log"), &["--config", &config_arg], &[])?;
    let chrome = Driver::start_chromedriver()?;
    let flags = [
        "--use-fake-ui-for-media-stream".to_owned(),
        "--use-fake-device-for-media-stream".to_owned(),
        "--autoplay-policy=no-user-gesture-required".to_owned(),
    ];
    let base = format!("http://127.0.0.1:{port}");
    let page = chrome.launch_chromium_with(&format!("{base}/widget/demo?channel=shop"), &flags)?;
    std::thread::sleep(Duration::from_secs(1));
    let (server_pid, desk_pid) = (server_proc.0.id(), desk.0.id());
    let idle = cpu_seconds(server_pid);
    std::thread::sleep(Duration::from_secs(5));
    let idle_share = (cpu_seconds(server_pid) - idle) / 5.0;
    let rings = page.execute_async_with(CALLS_SCRIPT, &[base.clone().into(), calls.into()])?;
    let Some(rings) = rings.as_array() else { bail!("the calls failed: {rings}") };
    let mut rings: Vec<f64> = rings.iter().filter_map(|v| v.as_f64()).collect();
    rings.sort_by(f64::total_cmp);
    std::thread::sleep(Duration::from_secs(2));
    let (s0, d0) = (cpu_seconds(server_pid), cpu_seconds(desk_pid));
    std::thread::sleep(Duration::from_secs(seconds));
    let (s1, d1) = (cpu_seconds(server_pid), cpu_seconds(desk_pid));
    let per_call = |cpu: f64| 100.0 * cpu / seconds as f64 / calls as f64;
    println!(
        "okno-webcall-bench: {calls} website calls through the gateway to a headless okno-phone (debug build unless said otherwise)"
    );
    println!(
        "  click to ringing: p50 {:.0} ms, max {:.0} ms (offer created -> `ringing` on the widget's socket; microphone already open)",
        rings[rings.len() / 2],
        rings.last().copied().unwrap_or(0.0)
    );
    println!(
        "  CPU per call over {seconds} s of talk: server (gateway) {:.2} % of a core, desk (okno-phone, same SIP leg and codec) {:.2} %; idle server {:.2} %",
        per_call(s1 - s0),
        per_call(d1 - d0),
        100.0 * idle_share
    );
    println!("  command: okno-webcall-bench --calls {calls} --seconds {seconds}");
    Ok(())
}
