//! The softphone in the real window (issue 5): the operator's desk registers at a real Kamailio
//! from a provisioning file, a real SIP peer (the headless okno-phone) calls the hotline from a
//! demo customer's number, and the operator sees who is calling, answers, holds, resumes, hangs
//! up and wraps up with a disposition; the call is then in the store, on the customer's timeline
//! and in the outbox, and the agent state went Busy → Wrap-up → Available. Audio is real too: a
//! private PulseAudio with null sinks is the operator's headset and microphone, and the caller's
//! tone is heard on the headset while the microphone's tone reaches the caller.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use okno_e2e::{Driver, app_binary, artifacts_dir};

const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "e2e-sip-secret";
const PASSWORD_VAR: &str = "OKNO_E2E_SIP_PASSWORD";
const HOTLINE: &str = "78005553535";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_kamailio(dir: &std::path::Path) -> anyhow::Result<(Killed, u16)> {
    let port = free_udp_port();
    let cfg = include_str!("../../crates/okno-phone/tests/kamailio.cfg.in")
        .replace("@PORT@", &port.to_string())
        .replace("@RUNDIR@", &dir.display().to_string())
        .replace("@PASSWORD@", PASSWORD);
    let path = dir.join("kamailio.cfg");
    std::fs::write(&path, cfg)?;
    let d = dir.display().to_string();
    let child = Command::new("kamailio")
        .args(["-f", &path.display().to_string(), "-DD", "-E", "-Y", &d, "-P", &format!("{d}/kamailio.pid"), "-w", &d])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("kamailio.log"))?)
        .spawn()?;
    std::thread::sleep(Duration::from_millis(800));
    Ok((Killed(child), port))
}

fn okno_phone_binary() -> std::path::PathBuf {
    std::env::var_os("OKNO_PHONE_BIN")
        .map(Into::into)
        .unwrap_or_else(|| app_binary().unwrap().with_file_name("okno-phone"))
}

/// A private PulseAudio for the app: sink `headset` (the default output) and sink `mic`, whose
/// monitor is the default input. Dies with the test process.
fn start_pulseaudio(dir: &std::path::Path) -> anyhow::Result<(Killed, String)> {
    let runtime = dir.join("pulse-xdg");
    std::fs::create_dir_all(&runtime)?;
    Command::new("chmod").arg("700").arg(&runtime).status()?;
    let child = Command::new("setpriv")
        .args(["--pdeathsig", "KILL", "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1"])
        .args(["-L", "module-native-protocol-unix"])
        .args(["-L", "module-null-sink sink_name=headset sink_properties=device.description=Headset"])
        .args(["-L", "module-null-sink sink_name=mic sink_properties=device.description=Mic"])
        .env("XDG_RUNTIME_DIR", &runtime)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("pulseaudio.log"))?)
        .spawn()?;
    let server = format!("unix:{}/pulse/native", runtime.display());
    let pactl = |args: &[&str]| Command::new("pactl").args(args).env("PULSE_SERVER", &server).output();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !pactl(&["info"])?.status.success() {
        anyhow::ensure!(std::time::Instant::now() < deadline, "pulseaudio did not start; see pulseaudio.log");
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::ensure!(pactl(&["set-default-sink", "headset"])?.status.success());
    anyhow::ensure!(pactl(&["set-default-source", "mic.monitor"])?.status.success());
    Ok((Killed(child), server))
}

/// A mono 8 kHz WAV of a sine at `hz`, `secs` long.
fn write_tone(path: &std::path::Path, hz: f64, secs: u32) -> anyhow::Result<()> {
    let n = 8000 * secs as usize;
    let mut bytes = Vec::with_capacity(44 + 2 * n);
    let riff = |b: &mut Vec<u8>, tag: &[u8], len: u32| {
        b.extend_from_slice(tag);
        b.extend_from_slice(&len.to_le_bytes());
    };
    riff(&mut bytes, b"RIFF", 36 + 2 * n as u32);
    bytes.extend_from_slice(b"WAVE");
    riff(&mut bytes, b"fmt ", 16);
    for v in [1u16, 1] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend_from_slice(&8000u32.to_le_bytes());
    bytes.extend_from_slice(&16000u32.to_le_bytes());
    for v in [2u16, 16] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    riff(&mut bytes, b"data", 2 * n as u32);
    for i in 0..n {
        let v = (0.3 * 32767.0 * (std::f64::consts::TAU * hz * i as f64 / 8000.0).sin()) as i16;
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

/// The largest share of power at `hz` (Goertzel) over any one-second window of 8 kHz samples.
fn best_tone_share(samples: &[i16], hz: f64) -> f64 {
    samples
        .chunks_exact(8000)
        .filter(|x| okno_audio::convert::level(x).rms_dbfs > -50.0)
        .map(|x| okno_audio::convert::tone_share(x, 8000, hz))
        .fold(0.0, f64::max)
}

fn pcm16(bytes: &[u8]) -> Vec<i16> {
    bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
#[ignore = "needs a display, tauri-driver, Kamailio and the built apps: run through `cargo xtask test`"]
fn a_customer_calls_the_hotline_and_the_operator_answers_holds_and_wraps_up() -> anyhow::Result<()> {
    let app = app_binary()?;
    let data = tempfile::tempdir()?;
    let run = tempfile::tempdir()?;
    let (_kamailio, sip_port) = start_kamailio(run.path())?;

    // The demo store, made here so the test knows a customer to call from.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (customer_id, customer_name, caller_number) = rt.block_on(async {
        let store = okno_store::Store::open(&data.path().join("okno.db")).await?;
        store.generate_demo(okno_store::demo::DemoSize::Small, 1, now_ms()).await?;
        let first = store.list_tickets(&okno_store::views::TicketFilter { limit: 1, ..Default::default() }).await?;
        let card = store.customer_card(&first.rows[0].customer_id).await?;
        let phone = card.identities.iter().find(|i| i.kind == okno_core::IdentityKind::Phone).expect("a phone");
        let digits: String = phone.value.chars().filter(char::is_ascii_digit).collect();
        store.close().await;
        anyhow::Ok((card.id, card.name, format!("+{digits}")))
    })?;

    // IT's provisioning file: the desk's SIP account, its password named by an environment variable.
    let provision = run.path().join("provision.toml");
    std::fs::write(
        &provision,
        format!(
            "[[sip_account]]\nid = \"desk\"\nlabel = \"Hotline\"\nuser = \"{HOTLINE}\"\ndomain = \"127.0.0.1\"\n\
             registrar = \"127.0.0.1:{sip_port}\"\npassword_env = \"{PASSWORD_VAR}\"\n"
        ),
    )?;
    let (_pulse, pulse_server) = start_pulseaudio(run.path())?;
    // SAFETY: set before any other thread of this test process exists (the tests run one at a
    // time and this is the first thing that spawns anything that reads the environment). The
    // app inherits both through tauri-driver.
    unsafe {
        std::env::set_var(PASSWORD_VAR, PASSWORD);
        std::env::set_var("PULSE_SERVER", &pulse_server);
    }
    let caller_tone = run.path().join("caller-1000hz.wav");
    write_tone(&caller_tone, 1000.0, 30)?;
    let mic_tone = run.path().join("mic-600hz.wav");
    write_tone(&mic_tone, 600.0, 30)?;
    let caller_heard = run.path().join("caller-heard.wav");

    let driver = Driver::start()?;
    let args = vec![
        "--demo".to_owned(),
        "--data-dir".to_owned(),
        data.path().display().to_string(),
        "--provision".to_owned(),
        provision.display().to_string(),
    ];
    let mut s = driver.launch(&app, &args)?;
    s.wait_for("[data-testid=registration-state][data-state=registered]", WAIT)?;

    // The customer calls the hotline through Kamailio.
    let caller = Command::new(okno_phone_binary())
        .args(["--listen", &format!("udp:127.0.0.1:{}", free_udp_port())])
        .args(["--account", &format!("sip:{caller_number}@127.0.0.1")])
        .args(["--registrar", &format!("127.0.0.1:{sip_port}"), "--password-env", PASSWORD_VAR])
        .args(["--call", &format!("sip:{HOTLINE}@127.0.0.1"), "--json-events"])
        .arg("--play")
        .arg(&caller_tone)
        .arg("--record")
        .arg(&caller_heard)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut caller = Killed(caller);
    let heard = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let reader = {
        let heard = heard.clone();
        let out = caller.0.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    heard.lock().unwrap().push(v);
                }
            }
        })
    };
    let caller_saw = |event: &str| heard.lock().unwrap().iter().any(|v| v["event"] == event);

    // The call card says who is calling and through which line, before answering.
    s.wait_for("[data-testid=incoming-call]", WAIT)?;
    let name = s.wait_until("the caller's name", WAIT, |s| {
        let names = s.find_all("[data-testid=incoming-call] [data-testid=call-customer-name]")?;
        Ok(match names.first() {
            Some(e) => Some(s.text_content(e)?).filter(|t| !t.contains("Unknown") && !t.contains("Неизвест")),
            None => None,
        })
    })?;
    assert_eq!(name.trim(), customer_name, "the caller is matched to the demo customer");
    let line = s.text_content(&s.find_all("[data-testid=incoming-call] [data-testid=call-line]")?[0])?;
    assert!(line.contains("Горячая линия"), "the hotline's queue is shown: {line:?}");
    std::thread::sleep(Duration::from_millis(300));
    s.screenshot(&artifacts_dir().join("phone-incoming.png"))?;

    s.click(&s.wait_for("[data-testid=answer]", WAIT)?[0])?;
    s.wait_for("[data-testid=in-call][data-phase=active]", WAIT)?;
    // Three seconds of conversation: the operator's microphone plays 600 Hz, the headset is recorded.
    let options = okno_audio::StreamOptions { backend: okno_audio::Backend::PulseAudio, ..Default::default() };
    let mut headset = okno_audio::CaptureStream::open(
        okno_audio::DeviceChoice::Named("headset.monitor".into()),
        okno_audio::FrameRate::Hz8000,
        options,
    )?;
    let mut mic = Killed(Command::new("paplay").args(["-d", "mic"]).arg(&mic_tone).spawn()?);
    let mut recorded = Vec::new();
    let mut frame = [0i16; 160];
    let until = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < until {
        if headset.read_frame(&mut frame, Duration::from_millis(50)).is_some() {
            recorded.extend_from_slice(&frame);
        }
    }
    drop(headset);
    let _ = mic.0.kill();
    let on_headset = best_tone_share(&recorded, 1000.0);
    assert!(on_headset > 0.5, "the caller's 1 kHz tone plays on the operator's headset: share {on_headset:.2}");
    let state = s.attribute(&s.wait_for("[data-testid=agent-state]", WAIT)?[0], "class")?.unwrap_or_default();
    assert!(state.contains("busy"), "the agent is Busy during the call: {state:?}");

    s.click(&s.wait_for("[data-testid=hold]", WAIT)?[0])?;
    s.wait_for("[data-testid=in-call][data-phase=held]", WAIT)?;
    s.wait_until("the caller put on hold", WAIT, |_| Ok(caller_saw("held").then_some(())))?;
    std::thread::sleep(Duration::from_millis(300));
    s.screenshot(&artifacts_dir().join("phone-held.png"))?;
    s.click(&s.wait_for("[data-testid=resume]", WAIT)?[0])?;
    s.wait_for("[data-testid=in-call][data-phase=active]", WAIT)?;
    s.wait_until("the caller taken off hold", WAIT, |_| Ok(caller_saw("resumed").then_some(())))?;

    s.click(&s.wait_for("[data-testid=hangup]", WAIT)?[0])?;
    s.wait_for("[data-testid=wrapup]", WAIT)?;
    let state = s.attribute(&s.wait_for("[data-testid=agent-state]", WAIT)?[0], "class")?.unwrap_or_default();
    assert!(state.contains("wrap_up"), "the agent is in Wrap-up after the call: {state:?}");
    s.click(&s.wait_for("[data-testid=disposition-option][data-id='customer.delivery']", WAIT)?[0])?;
    let comment = format!("перезвонить по заказу, e2e-{}", std::process::id());
    s.type_into(&s.wait_for("[data-testid=wrapup-comment]", WAIT)?[0], &comment)?;
    std::thread::sleep(Duration::from_millis(300));
    s.screenshot(&artifacts_dir().join("phone-wrapup.png"))?;
    s.click(&s.wait_for("[data-testid=wrapup-submit]", WAIT)?[0])?;
    s.wait_until("the wrap-up closed", WAIT, |s| Ok(s.find_all("[data-testid=wrapup]")?.is_empty().then_some(())))?;
    s.wait_until("the agent Available again", WAIT, |s| {
        let class = s.attribute(&s.find_all("[data-testid=agent-state]")?[0], "class")?.unwrap_or_default();
        Ok(class.contains("available").then_some(()))
    })?;
    s.quit()?;
    drop(driver);

    let status = caller.0.wait()?;
    reader.join().ok();
    assert!(status.success(), "the caller's call was answered and ended cleanly: {:?}", heard.lock().unwrap());
    let ended = heard.lock().unwrap().iter().find(|v| v["event"] == "ended").cloned().expect("ended");
    assert_eq!(ended["cause"], "remote_bye", "the operator hung up: {ended}");
    let wav = std::fs::read(&caller_heard)?;
    let at_caller = best_tone_share(&pcm16(&wav[44.min(wav.len())..]), 600.0);
    assert!(at_caller > 0.5, "the operator's microphone (600 Hz) reaches the caller: share {at_caller:.2}");
    eprintln!("audio: 1 kHz share on the headset {on_headset:.2}, 600 Hz share at the caller {at_caller:.2}");

    rt.block_on(async {
        let store = okno_store::Store::open(&data.path().join("okno.db")).await?;
        let calls = store.recent_calls(5).await?;
        let call = calls.iter().find(|c| c.call.notes.contains(&comment)).expect("the wrapped-up call is stored");
        assert_eq!(call.call.customer_id.as_deref(), Some(customer_id.as_str()));
        assert_eq!(call.call.outcome, okno_core::CallOutcome::Answered);
        assert_eq!(call.call.disposition.as_deref(), Some("Покупатель / Статус доставки"));
        assert_eq!(call.call.from_number, caller_number);
        assert!(call.call.answered_at.is_some() && call.call.ended_at > call.call.answered_at);
        let card = store.customer_card(&customer_id).await?;
        assert!(card.recent_contacts.iter().any(|c| c.id == call.call.id), "on the customer's timeline");
        let pending = store.pending_mutations(50).await?;
        assert!(
            pending
                .iter()
                .any(|(_, m)| matches!(m, okno_core::Mutation::SaveCall { call_id, .. } if *call_id == call.call.id)),
            "queued for the server"
        );
        assert_eq!(store.me().await?.state, okno_core::AgentState::Available);
        anyhow::Ok(())
    })
}
