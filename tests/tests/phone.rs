//! The softphone in the real window (issue 5): the operator's desk registers two accounts at a
//! real Kamailio from a provisioning file, a real SIP peer (the headless okno-phone) calls the hotline from a
//! demo customer's number, and the operator sees who is calling (on the call card and in a
//! desktop notification), answers with the global hotkey
//! (Ctrl+Alt+A, grabbed desktop-wide), pauses and resumes the call's recording, holds, resumes,
//! moves the call to another output device without dropping it, brings a courier's phone into a
//! three-way call (each side hears the other) and lets it go again, calls the customer back from
//! the card and hangs up with the global Ctrl+Alt+H,
//! transfers the caller (blind) to a colleague's phone registered at the same Kamailio, and wraps
//! up with a disposition; the call is then in the store, on the customer's timeline and in the
//! outbox with where it was transferred, and the agent state went Busy → Wrap-up → Available.
//! Audio is real too: a private PulseAudio with null sinks is the operator's headset and
//! microphone; the caller's tone is heard on the headset, the microphone's tone reaches the
//! caller, and after the transfer the colleague's tone reaches the caller.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use okno_e2e::{
    Driver, Killed, SessionBus, app_binary, artifacts_dir, free_udp_port, json_events, okno_phone_binary, record_sink,
};
use okno_testkit::pulse::Pulse;
use okno_testkit::sip::Kamailio;

const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "e2e-sip-secret";
const PASSWORD_VAR: &str = "OKNO_E2E_SIP_PASSWORD";
const HOTLINE: &str = "78005553535";
/// The colleague the call is transferred to.
const COLLEAGUE: &str = "1002";
/// The desk's second account (a second line).
const SALES_LINE: &str = "78005550000";
/// The courier the operator brings into a three-way call.
const COURIER: &str = "1003";

/// The process's exit status once it ends by itself, or an error (and the process killed) after
/// `patience`: a phone that never hangs up fails the test instead of hanging it.
fn exit_within(process: &mut Killed, patience: Duration) -> anyhow::Result<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        if let Some(status) = process.0.try_wait()? {
            return Ok(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = process.0.kill();
            anyhow::bail!("the phone did not finish its calls within {patience:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Open the transfer dialog on the call, pick `number` and the kind (`blind` or `attended`);
/// the caller confirms.
fn choose_transfer(s: &okno_e2e::Session, number: &str, kind: &str) -> anyhow::Result<()> {
    s.click(&s.wait_for("[data-testid=transfer]", WAIT)?[0])?;
    s.type_into(&s.wait_for("[data-testid=transfer-search]", WAIT)?[0], number)?;
    s.click(&s.wait_for("[data-testid=transfer-target][data-kind=number]", WAIT)?[0])?;
    s.click(&s.wait_for(&format!("[data-testid=transfer-{kind}]"), WAIT)?[0])?;
    Ok(())
}

/// Events an answering okno-phone printed, collected when it exits.
type Events = std::thread::JoinHandle<Vec<serde_json::Value>>;

/// A headless okno-phone registered at Kamailio as `number`: answers after 300 ms, plays
/// `tone`, records to `record`, hangs up after `hangup_ms` (or waits for the other side), exits
/// after one call.
fn answering_phone(
    number: &str,
    sip_port: u16,
    tone: &std::path::Path,
    record: Option<&std::path::Path>,
    hangup_ms: Option<u32>,
) -> anyhow::Result<(Killed, Events)> {
    answering_phone_for(number, sip_port, tone, record, hangup_ms, 1)
}

/// The same, exiting after `calls` calls (a transferee has two: ours and the one it is sent to).
fn answering_phone_for(
    number: &str,
    sip_port: u16,
    tone: &std::path::Path,
    record: Option<&std::path::Path>,
    hangup_ms: Option<u32>,
    calls: u32,
) -> anyhow::Result<(Killed, Events)> {
    let mut cmd = Command::new(okno_phone_binary());
    cmd.args(["--listen", &format!("udp:127.0.0.1:{}", free_udp_port())])
        .args(["--account", &format!("sip:{number}@127.0.0.1")])
        .args(["--registrar", &format!("127.0.0.1:{sip_port}"), "--password-env", PASSWORD_VAR])
        .args(["--auto-answer", "--answer-after-ms", "300", "--exit-after-calls", &calls.to_string(), "--json-events"])
        .arg("--play")
        .arg(tone);
    if let Some(ms) = hangup_ms {
        cmd.args(["--hangup-after-ms", &ms.to_string()]);
    }
    if let Some(path) = record {
        cmd.arg("--record").arg(path);
    }
    let mut phone = Killed(cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?);
    let out = phone.0.stdout.take().expect("piped");
    Ok((phone, json_events(out)))
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
fn a_customer_calls_the_hotline_and_the_operator_answers_holds_transfers_and_wraps_up() -> anyhow::Result<()> {
    let app = app_binary()?;
    let data = tempfile::tempdir()?;
    let run = tempfile::tempdir()?;
    let kamailio = Kamailio::start(PASSWORD);
    let sip_port = kamailio.port;

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
             registrar = \"127.0.0.1:{sip_port}\"\npassword_env = \"{PASSWORD_VAR}\"\n\
             [[sip_account]]\nid = \"sales\"\nlabel = \"Sales\"\nuser = \"{SALES_LINE}\"\ndomain = \"127.0.0.1\"\n\
             registrar = \"127.0.0.1:{sip_port}\"\npassword_env = \"{PASSWORD_VAR}\"\n\
             [desk]\nwrap_up_limit_s = 300\n"
        ),
    )?;
    let pulse = Pulse::start();
    let pulse_server = pulse.server.clone();
    // A private session bus with a monitor on the desktop-notification interface: nothing
    // serves it, but the monitor sees the app's Notify call.
    let bus = SessionBus::start(run.path())?;
    // SAFETY: set before any other thread of this test process exists (the tests run one at a
    // time and this is the first thing that spawns anything that reads the environment). The
    // app inherits both through tauri-driver.
    unsafe {
        std::env::set_var(PASSWORD_VAR, PASSWORD);
        std::env::set_var("PULSE_SERVER", &pulse_server);
        std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    }
    let caller_tone = run.path().join("caller-1000hz.wav");
    write_tone(&caller_tone, 1000.0, 30)?;
    let mic_tone = run.path().join("mic-600hz.wav");
    write_tone(&mic_tone, 600.0, 30)?;
    // The caller records each of its calls: 1 with the desk, 2 with the colleague after the transfer.
    let caller_heard = run.path().join("caller-heard-{n}.wav");
    let colleague_tone = run.path().join("colleague-1500hz.wav");
    write_tone(&colleague_tone, 1500.0, 30)?;

    let driver = Driver::start()?;
    let args = vec![
        "--demo".to_owned(),
        "--data-dir".to_owned(),
        data.path().display().to_string(),
        "--provision".to_owned(),
        provision.display().to_string(),
    ];
    let mut s = driver.launch(&app, &args)?;
    // Both of the desk's accounts register, each with its own engine.
    for account in ["desk", "sales"] {
        s.wait_for(
            &format!("[data-testid=registration-state][data-account-id={account}][data-state=registered]"),
            WAIT,
        )?;
    }

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

    // A colleague's phone, registered as 1002, answers what it gets and talks for three seconds.
    let (mut colleague, colleague_events) = answering_phone(COLLEAGUE, sip_port, &colleague_tone, None, Some(3000))?;
    // A courier's phone (1003) the operator brings into a three-way call; it plays 2 kHz and
    // records what it hears.
    let courier_tone = run.path().join("courier-2000hz.wav");
    write_tone(&courier_tone, 2000.0, 30)?;
    let courier_heard = run.path().join("courier-heard.wav");
    let (mut courier, courier_events) = answering_phone(COURIER, sip_port, &courier_tone, Some(&courier_heard), None)?;

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
    // A desktop notification went out, naming the matched customer.
    let notified = s.wait_until("a desktop notification", WAIT, |_| {
        let log = bus.notifications();
        Ok(log.contains("member=Notify").then_some(log))
    })?;
    assert!(notified.contains(&customer_name), "the notification names the caller: {notified}");

    // Answered with the global hotkey: an X key press the window's own keys ignore (they are
    // Alt+letter without Ctrl), so only the desktop-wide grab can answer it.
    s.wait_for("[data-testid=answer]", WAIT)?;
    let pressed = Command::new("xdotool").args(["key", "--clearmodifiers", "ctrl+alt+a"]).status()?;
    assert!(pressed.success(), "xdotool sent the hotkey");
    s.wait_for("[data-testid=in-call][data-phase=active]", WAIT)?;
    // Three seconds of conversation: the operator's microphone plays 600 Hz, the headset is recorded.
    let mut mic = Killed(Command::new("paplay").args(["-d", "mic"]).arg(&mic_tone).spawn()?);
    let recorded = record_sink("headset", Duration::from_secs(3))?;
    let _ = mic.0.kill();
    let on_headset = best_tone_share(&recorded, 1000.0);
    assert!(on_headset > 0.5, "the caller's 1 kHz tone plays on the operator's headset: share {on_headset:.2}");
    let state = s.attribute(&s.wait_for("[data-testid=agent-state]", WAIT)?[0], "class")?.unwrap_or_default();
    assert!(state.contains("busy"), "the agent is Busy during the call: {state:?}");

    // The customer is about to read out a card number: the operator pauses the recording for
    // a moment (it records silence meanwhile), then resumes it.
    s.wait_for("[data-testid=recording-on]", WAIT)?;
    s.click(&s.wait_for("[data-testid=recording-pause]", WAIT)?[0])?;
    s.wait_for("[data-testid=recording-paused]", WAIT)?;
    std::thread::sleep(Duration::from_millis(1500));
    s.click(&s.wait_for("[data-testid=recording-resume]", WAIT)?[0])?;
    s.wait_for("[data-testid=recording-on]", WAIT)?;

    s.click(&s.wait_for("[data-testid=hold]", WAIT)?[0])?;
    s.wait_for("[data-testid=in-call][data-phase=held]", WAIT)?;
    s.wait_until("the caller put on hold", WAIT, |_| Ok(caller_saw("held").then_some(())))?;
    std::thread::sleep(Duration::from_millis(300));
    s.screenshot(&artifacts_dir().join("phone-held.png"))?;
    s.click(&s.wait_for("[data-testid=resume]", WAIT)?[0])?;
    s.wait_for("[data-testid=in-call][data-phase=active]", WAIT)?;
    s.wait_until("the caller taken off hold", WAIT, |_| Ok(caller_saw("resumed").then_some(())))?;

    // Mid-call the operator moves the call to another output (the `speaker` sink): the caller's
    // tone plays there from then on, and the call goes on.
    s.click(&s.wait_for("[data-testid=devices-toggle]", WAIT)?[0])?;
    s.click(&s.wait_for("[data-testid=device-output] option[value=speaker]", WAIT)?[0])?;
    s.wait_until("the output device chosen", WAIT, |s| {
        let select = s.find_all("[data-testid=device-output]")?;
        Ok(select.first().map(|e| s.property(e, "value")).transpose()?.filter(|v| v == "speaker"))
    })?;
    std::thread::sleep(Duration::from_millis(300));
    s.screenshot(&artifacts_dir().join("phone-devices.png"))?;
    let on_speaker = best_tone_share(&record_sink("speaker", Duration::from_secs(3))?, 1000.0);
    // The app's log, for CI's artifacts: it says which devices each call opened.
    let _ = std::fs::copy(data.path().join("okno.log"), artifacts_dir().join("phone-desktop.log"));
    assert!(on_speaker > 0.5, "after the switch the caller's tone plays on the new device: share {on_speaker:.2}");
    s.click(&s.wait_for("[data-testid=devices-toggle]", WAIT)?[0])?;
    s.wait_for("[data-testid=in-call][data-phase=active]", WAIT)?;

    // A three-way call: the operator calls the courier (consult first: the customer is held),
    // then merges; the customer and the courier hear each other through the desk. Then the
    // courier's leg ends and the customer is back with the operator alone.
    choose_transfer(&s, COURIER, "attended")?;
    s.click(&s.wait_for("[data-testid=transfer-confirm]", WAIT)?[0])?;
    s.wait_for("[data-testid=in-call][data-phase=held]", WAIT)?;
    s.wait_for("[data-testid=consult-leg][data-phase=active]", WAIT)?;
    s.click(&s.wait_for("[data-testid=conference]", WAIT)?[0])?;
    s.wait_for("[data-testid=in-call][data-phase=active]", WAIT)?;
    s.wait_until("the caller taken off hold for the conference", WAIT, |_| {
        Ok((heard.lock().unwrap().iter().filter(|v| v["event"] == "resumed").count() >= 2).then_some(()))
    })?;
    std::thread::sleep(Duration::from_millis(3000));
    s.screenshot(&artifacts_dir().join("phone-conference.png"))?;
    s.click(&s.wait_for("[data-testid=end-consult]", WAIT)?[0])?;
    s.wait_until("the courier's leg gone", WAIT, |s| {
        Ok(s.find_all("[data-testid=consult-leg]")?.is_empty().then_some(()))
    })?;
    s.wait_for("[data-testid=in-call][data-phase=active]", WAIT)?;
    let status = courier.0.wait()?;
    let courier_saw = courier_events.join().expect("courier's events");
    assert!(status.success(), "the courier's phone took one call: {courier_saw:?}");
    let courier_wav = std::fs::read(&courier_heard)?;
    let at_courier = best_tone_share(&pcm16(&courier_wav[44.min(courier_wav.len())..]), 1000.0);
    assert!(at_courier > 0.5, "in the conference the courier hears the customer (1 kHz): share {at_courier:.2}");

    // A blind transfer to the colleague's number: the caller is asked to call 1002 (REFER), the
    // desk's leg ends once the colleague answers, and the desk goes to wrap-up.
    choose_transfer(&s, COLLEAGUE, "blind")?;
    // WebKitGTK under Xvfb paints the dialog's list a moment after the DOM has it.
    std::thread::sleep(Duration::from_millis(1000));
    s.screenshot(&artifacts_dir().join("phone-transfer.png"))?;
    s.click(&s.wait_for("[data-testid=transfer-confirm]", WAIT)?[0])?;
    s.wait_for("[data-testid=wrapup]", WAIT)?;
    s.wait_until("the caller referred to the colleague", WAIT, |_| Ok(caller_saw("referred").then_some(())))?;
    s.wait_until("the agent in Wrap-up after the call", WAIT, |s| {
        let class = s.attribute(&s.find_all("[data-testid=agent-state]")?[0], "class")?.unwrap_or_default();
        Ok(class.contains("wrap_up").then_some(()))
    })?;
    let countdown = s.wait_for("[data-testid=wrapup-countdown]", WAIT)?;
    let left: i64 = s.attribute(&countdown[0], "data-left")?.unwrap_or_default().parse()?;
    assert!(left > 240, "the provisioned 300 s wrap-up limit is in force (default 120): {left} s left");
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

    // Click-to-call: the operator calls the customer back from the card; the customer's phone
    // (registered under their number now that the first call is over) answers, and the operator
    // hangs up with the desktop-wide Ctrl+Alt+H.
    let caller_status = caller.0.wait()?;
    let (mut callback, callback_events) = answering_phone(&caller_number, sip_port, &caller_tone, None, None)?;
    std::thread::sleep(Duration::from_millis(1000)); // its REGISTER reaches Kamailio
    s.click(&s.wait_for("[data-testid=customer-card] [data-testid=click-to-call]", WAIT)?[0])?;
    s.wait_for("[data-testid=in-call][data-phase=active]", WAIT)?;
    let pressed = Command::new("xdotool").args(["key", "--clearmodifiers", "ctrl+alt+h"]).status()?;
    assert!(pressed.success(), "xdotool sent the hang-up hotkey");
    s.wait_for("[data-testid=wrapup]", WAIT)?;
    s.click(&s.wait_for("[data-testid=disposition-option][data-id='customer.delivery']", WAIT)?[0])?;
    s.click(&s.wait_for("[data-testid=wrapup-submit]", WAIT)?[0])?;
    s.wait_until("the second wrap-up closed", WAIT, |s| {
        Ok(s.find_all("[data-testid=wrapup]")?.is_empty().then_some(()))
    })?;
    let status = callback.0.wait()?;
    let callback_saw = callback_events.join().expect("the customer's phone's events");
    assert!(status.success(), "the customer's phone took the call back: {callback_saw:?}");
    let ended = callback_saw.iter().find(|v| v["event"] == "ended").expect("the call back ended");
    assert_eq!((&ended["answered"], &ended["cause"]), (&serde_json::json!(true), &serde_json::json!("remote_bye")));

    // An attended transfer completed from the window: the operator calls the customer again,
    // consults the colleague (the customer is held), then completes. The customer is asked to
    // call the colleague with Replaces (REFER), takes over the consult call, and the desk's
    // two legs end; the colleague's 1.5 kHz reaches the customer on the new call.
    let customer_heard = run.path().join("customer-attended-{n}.wav");
    let (mut customer, customer_events) =
        answering_phone_for(&caller_number, sip_port, &caller_tone, Some(&customer_heard), None, 2)?;
    // The colleague's phone has two calls: the desk's consult, and the customer's that replaces it.
    let (mut colleague2, colleague2_events) =
        answering_phone_for(COLLEAGUE, sip_port, &colleague_tone, None, Some(4000), 2)?;
    std::thread::sleep(Duration::from_millis(1000)); // both REGISTERs reach Kamailio
    s.click(&s.wait_for("[data-testid=customer-card] [data-testid=click-to-call]", WAIT)?[0])?;
    s.wait_for("[data-testid=in-call][data-phase=active]", WAIT)?;
    choose_transfer(&s, COLLEAGUE, "attended")?;
    s.click(&s.wait_for("[data-testid=transfer-confirm]", WAIT)?[0])?;
    s.wait_for("[data-testid=in-call][data-phase=held]", WAIT)?;
    s.wait_for("[data-testid=consult-leg][data-phase=active]", WAIT)?;
    std::thread::sleep(Duration::from_millis(500));
    s.screenshot(&artifacts_dir().join("phone-consult.png"))?;
    s.click(&s.wait_for("[data-testid=complete-transfer]", WAIT)?[0])?;
    s.wait_for("[data-testid=wrapup]", WAIT)?;
    s.wait_until("the desk's legs gone", WAIT, |s| {
        Ok((s.find_all("[data-testid=in-call]")?.is_empty() && s.find_all("[data-testid=consult-leg]")?.is_empty())
            .then_some(()))
    })?;
    s.click(&s.wait_for("[data-testid=disposition-option][data-id='customer.delivery']", WAIT)?[0])?;
    s.click(&s.wait_for("[data-testid=wrapup-submit]", WAIT)?[0])?;
    s.wait_until("the attended transfer's wrap-up closed", WAIT, |s| {
        Ok(s.find_all("[data-testid=wrapup]")?.is_empty().then_some(()))
    })?;
    let customer_status = exit_within(&mut customer, WAIT)?;
    let customer_saw = customer_events.join().expect("the customer's phone's events");
    let colleague2_status = exit_within(&mut colleague2, WAIT)?;
    let colleague2_saw = colleague2_events.join().expect("the colleague's phone's events");
    assert!(customer_status.success(), "the customer's phone took both calls: {customer_saw:?}");
    assert!(colleague2_status.success(), "the colleague's phone took both calls: {colleague2_saw:?}");
    assert!(
        customer_saw.iter().any(|v| v["event"] == "referred"),
        "the customer was referred to the colleague (REFER with Replaces): {customer_saw:?}"
    );
    assert!(
        colleague2_saw.iter().any(|v| v["event"] == "replaced"),
        "the customer's call replaced the desk's consult call at the colleague: {colleague2_saw:?}"
    );
    let second_call = std::fs::read(run.path().join("customer-attended-2.wav"))?;
    let transferred = best_tone_share(&pcm16(&second_call[44.min(second_call.len())..]), 1500.0);
    assert!(transferred > 0.5, "after the attended transfer the customer hears the colleague: share {transferred:.2}");
    s.quit()?;
    drop(driver);

    reader.join().ok();
    assert!(caller_status.success(), "the caller's call was answered and ended cleanly: {:?}", heard.lock().unwrap());
    let ended: Vec<serde_json::Value> =
        heard.lock().unwrap().iter().filter(|v| v["event"] == "ended").cloned().collect();
    assert_eq!(ended.len(), 2, "the desk's call and the colleague's: {ended:?}");
    assert_eq!(ended[0]["cause"], "remote_bye", "the desk left once the transfer was done: {ended:?}");
    assert_eq!(ended[1]["cause"], "remote_bye", "the colleague hung up after talking: {ended:?}");
    assert_eq!(ended[1]["answered"], true);
    let recorded_call = |n: u32| -> anyhow::Result<Vec<i16>> {
        let wav = std::fs::read(run.path().join(format!("caller-heard-{n}.wav")))?;
        Ok(pcm16(&wav[44.min(wav.len())..]))
    };
    let at_caller = best_tone_share(&recorded_call(1)?, 600.0);
    assert!(at_caller > 0.5, "the operator's microphone (600 Hz) reaches the caller: share {at_caller:.2}");
    let from_courier = best_tone_share(&recorded_call(1)?, 2000.0);
    assert!(from_courier > 0.5, "in the conference the caller hears the courier (2 kHz): share {from_courier:.2}");
    let from_colleague = best_tone_share(&recorded_call(2)?, 1500.0);
    assert!(from_colleague > 0.5, "after the transfer the caller hears the colleague (1.5 kHz): {from_colleague:.2}");
    eprintln!(
        "audio: 1 kHz share on the headset {on_headset:.2}, on the speaker after the switch {on_speaker:.2}, \
         600 Hz at the caller {at_caller:.2}, conference: courier hears the caller {at_courier:.2} and the caller \
         the courier {from_courier:.2}, 1.5 kHz from the colleague after the transfer {from_colleague:.2}"
    );
    let status = colleague.0.wait()?;
    let colleague_saw = colleague_events.join().expect("colleague's events");
    assert!(status.success(), "the colleague's phone took one call: {colleague_saw:?}");
    let incoming = colleague_saw.iter().find(|v| v["event"] == "incoming").expect("the colleague's phone rang");
    let from = incoming["from"].as_str().unwrap_or_default();
    assert!(from.contains(&caller_number), "the colleague sees the customer's number, not the desk's: {from}");

    rt.block_on(async {
        let store = okno_store::Store::open(&data.path().join("okno.db")).await?;
        let calls = store.recent_calls(10).await?;
        let back = calls
            .iter()
            .find(|c| c.call.direction == okno_core::CallDirection::Outbound && c.call.to_number == caller_number)
            .expect("click-to-call dialled the customer's number");
        assert_eq!(back.call.customer_id.as_deref(), Some(customer_id.as_str()), "and is on their history");
        assert_eq!(back.call.outcome, okno_core::CallOutcome::Answered);
        let call = calls.iter().find(|c| c.call.notes.contains(&comment)).expect("the wrapped-up call is stored");
        assert_eq!(call.call.customer_id.as_deref(), Some(customer_id.as_str()));
        assert_eq!(call.call.outcome, okno_core::CallOutcome::Answered);

        assert_eq!(call.call.disposition.as_deref(), Some("Покупатель / Статус доставки"));
        assert_eq!(call.call.from_number, caller_number);
        assert!(call.call.answered_at.is_some() && call.call.ended_at > call.call.answered_at);
        let card = store.customer_card(&customer_id).await?;
        assert!(card.recent_contacts.iter().any(|c| c.id == call.call.id), "on the customer's timeline");
        let pending = store.pending_mutations(50).await?;
        let queued = pending.iter().find_map(|(_, m)| match m {
            okno_core::Mutation::SaveCall { call_id, transferred_to, .. } if *call_id == call.call.id => {
                Some(transferred_to.clone())
            }
            _ => None,
        });
        assert_eq!(queued, Some(Some(COLLEAGUE.to_owned())), "queued for the server, saying where the call went");
        let attended = pending.iter().any(|(_, m)| {
            matches!(m, okno_core::Mutation::SaveCall { direction: okno_core::CallDirection::Outbound, to_number,
                transferred_to: Some(to), .. } if *to_number == caller_number && to == COLLEAGUE)
        });
        assert!(attended, "the attended transfer is saved on the customer's call, saying where it went");

        // The recording: both sides mixed, the caller's tone in it, silence where it was paused,
        // and the pause in the call's record.
        let (recording_ref, pauses) = pending
            .iter()
            .find_map(|(_, m)| match m {
                okno_core::Mutation::SaveCall { call_id, recording_ref, recording_pauses, .. }
                    if *call_id == call.call.id =>
                {
                    Some((recording_ref.clone(), recording_pauses.clone()))
                }
                _ => None,
            })
            .expect("the call's save_call");
        let file = data.path().join("recordings").join(recording_ref.expect("a recording reference"));
        let reader = hound::WavReader::open(&file)?;
        let rate = i64::from(reader.spec().sample_rate);
        let recorded: Vec<i16> = reader.into_samples::<i16>().collect::<Result<_, _>>()?;
        assert_eq!(pauses.len(), 1, "one pause: {pauses:?}");
        let answered = call.call.answered_at.expect("answered");
        let sample = |at: i64| (((at - answered).max(0) * rate / 1000) as usize).min(recorded.len());
        // A margin for the media's start after the answer and the 20 ms frames.
        let paused = &recorded[sample(pauses[0].from + 300)..sample(pauses[0].to - 300)];
        assert!(paused.len() > rate as usize / 2, "the pause covers {} samples", paused.len());
        assert!(paused.iter().all(|&s| s == 0), "silence while the recording was paused");
        let before = best_tone_share(&recorded[..sample(pauses[0].from)], 1000.0);
        let after = best_tone_share(&recorded[sample(pauses[0].to)..], 1000.0);
        assert!(
            before > 0.5 && after > 0.5,
            "the caller's tone is recorded before ({before:.2}) and after ({after:.2})"
        );
        assert_eq!(store.me().await?.state, okno_core::AgentState::Available);
        anyhow::Ok(())
    })
}
