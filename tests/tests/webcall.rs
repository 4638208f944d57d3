//! Calls from the website end to end: headless Chromium on a shop page presses the widget's call
//! button with a fake microphone playing a 1 kHz tone; the real okno-server's gateway answers the
//! WebRTC offer and calls a headless okno-phone (the operator's desk) over SIP, which answers and
//! plays a 600 Hz tone. The desk's recording holds the browser's tone, and a WebAudio analyser in
//! the page finds the desk's. Once over direct ICE, once forced through a real coturn relay; once
//! transferred by the desk to another desk; once answered in the operator's real window,
//! registered at Kamailio, with PulseAudio as its headset and microphone; and once through the
//! hotline's queue, music on hold first, then the operator who became available.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use okno_e2e::server::{Database, WAIT, seeded_demo, server_binary, start_server, wait, wait_state};
use okno_e2e::{
    Driver, Killed, Session, app_binary, artifacts_dir, free_port, free_udp_port, json_events, okno_phone_binary,
    record_sink, registered_phone,
};
use okno_testkit::pulse::Pulse;
use okno_testkit::sip::Kamailio;

const HOST: &str = "#okno-chat";
const OPERATOR_PASSWORD: &str = "webcall-e2e-operator";

/// A mono 16-bit WAV of a sine at `hz`.
fn write_tone(path: &std::path::Path, hz: f64, rate: u32, secs: u32) -> Result<()> {
    let spec =
        hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut wav = hound::WavWriter::create(path, spec)?;
    for i in 0..rate * secs {
        wav.write_sample((0.3 * 32767.0 * (std::f64::consts::TAU * hz * f64::from(i) / f64::from(rate)).sin()) as i16)?;
    }
    wav.finalize()?;
    Ok(())
}

/// The largest share of power at `hz` over any one-second window of the recording.
fn best_tone_share(path: &std::path::Path, hz: f64) -> Result<f64> {
    let mut wav = hound::WavReader::open(path).with_context(|| format!("the desk's recording {}", path.display()))?;
    let rate = wav.spec().sample_rate;
    let samples: Vec<i16> = wav.samples::<i16>().collect::<Result<_, _>>()?;
    Ok(best_share(&samples, rate, hz))
}

/// The largest share of power at `hz` over any one-second window of `samples` that is not silent.
fn best_share(samples: &[i16], rate: u32, hz: f64) -> f64 {
    samples
        .chunks_exact(rate as usize)
        .filter(|x| okno_audio::convert::level(x).rms_dbfs > -50.0)
        .map(|x| okno_audio::convert::tone_share(x, rate, hz))
        .fold(0.0, f64::max)
}

/// Waits until the widget's call bar is in `state` (`answered`, `held`, `ended`).
fn call_state(page: &Session, state: &str, what: &str) -> Result<()> {
    let selector = format!(".callbar[data-state={state}]");
    page.wait_until(what, WAIT, |p| Ok(p.find_in_shadow(HOST, &selector)?.into_iter().next())).map(|_| ())
}

/// Waits until the loudest frequency the page plays is `hz` (±30 Hz); returns it.
fn hears(page: &Session, hz: f64, what: &str) -> Result<f64> {
    hears_one_of(page, &[hz], what)
}

/// Waits until the browser's loudest frequency is within 30 Hz of one of `tones`; on a timeout
/// the error names the last readings, so a failure says whether there was no sound at all or
/// another one.
fn hears_one_of(page: &Session, tones: &[f64], what: &str) -> Result<f64> {
    let mut heard = std::collections::VecDeque::new();
    page.wait_until(what, WAIT, |p| {
        let (peak, level) = browser_peak(p)?;
        if heard.len() == 5 {
            heard.pop_front();
        }
        heard.push_back(format!("{peak:.0} Hz at {level:.0} dB"));
        Ok(tones.iter().any(|hz| (peak - hz).abs() < 30.0).then_some(peak))
    })
    .with_context(|| format!("the last readings: {}", Vec::from(heard.clone()).join(", ")))
}

/// coturn on loopback with one long-term user.
fn start_coturn(dir: &std::path::Path) -> Result<(Killed, u16)> {
    let port = free_udp_port();
    let relay = 50_000 + (std::process::id() % 5_000) as u16;
    let child = Command::new("turnserver")
        .args(["-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
        .arg(format!("--listening-port={port}"))
        .arg(format!("--min-port={relay}"))
        .arg(format!("--max-port={}", relay + 200))
        .args(["--lt-cred-mech", "--user=okno:turn-e2e", "--realm=okno.test", "--no-tls", "--no-dtls"])
        .args(["--fingerprint", "--allow-loopback-peers", "--no-cli", "--simple-log", "-v"])
        .arg(format!("--log-file={}", dir.join("turn.log").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start coturn's turnserver (apt coturn)")?;
    let child = Killed(child);
    // A relay-only gateway whose TURN server is not listening yet keeps retrying its allocation
    // past its answer timeout, so the test waits until coturn answers a STUN Binding.
    wait("coturn to answer a STUN Binding request", || stun_binding_answered(port))
        .with_context(|| std::fs::read_to_string(dir.join("turn.log")).unwrap_or_default())?;
    Ok((child, port))
}

/// Whether a STUN Binding request (RFC 8489 §6) to loopback `port` gets a success response.
fn stun_binding_answered(port: u16) -> Result<bool> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    request.extend_from_slice(b"okno-e2e-stn");
    socket.send_to(&request, ("127.0.0.1", port))?;
    let mut reply = [0u8; 512];
    Ok(match socket.recv(&mut reply) {
        Ok(n) => n >= 20 && reply[..2] == [0x01, 0x01] && reply[8..20] == request[8..20],
        Err(_) => false,
    })
}

/// A fresh database with the demo seed (it has the `chat` queue), operator anna's password set.
fn seeded_database(server: &std::path::Path) -> Result<Database> {
    seeded_demo(server, 1, OPERATOR_PASSWORD)
}

/// The shop's page in Chromium, its fake microphone playing `mic`.
fn shop_page(chrome: &Driver, port: u16, mic: &std::path::Path) -> Result<Session> {
    let flags = [
        "--use-fake-ui-for-media-stream".to_owned(),
        "--use-fake-device-for-media-stream".to_owned(),
        format!("--use-file-for-fake-audio-capture={}", mic.display()),
        "--autoplay-policy=no-user-gesture-required".to_owned(),
    ];
    chrome.launch_chromium_with(&format!("http://127.0.0.1:{port}/widget/demo?channel=shop&lang=en"), &flags)
}

/// The widget's form filled in as Pavel.
fn widget_form(page: &Session) -> Result<()> {
    page.click(&page.wait_in_shadow(HOST, ".launcher", WAIT)?[0])?;
    page.type_into(&page.wait_in_shadow(HOST, "form.start input[name=name]", WAIT)?[0], "Pavel")?;
    page.type_into(&page.find_in_shadow(HOST, "form.start input[name=contact]")?[0], "pavel@example.com")?;
    page.click(&page.find_in_shadow(HOST, "form.start button[type=submit]")?[0])
}

fn widget_call(page: &Session) -> Result<()> {
    widget_form(page)?;
    press_call(page)
}

fn press_call(page: &Session) -> Result<()> {
    // Chromium's echo canceller, fed a steady test tone from the far end, soon suppresses the
    // (equally synthetic) microphone tone as echo; the test turns the browser's own voice
    // processing off for its fake microphone. The widget itself asks for plain `audio: true`,
    // which keeps it on for real visitors.
    page.execute(
        "const md = navigator.mediaDevices; const real = md.getUserMedia.bind(md); \
         md.getUserMedia = () => real({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });",
    )?;
    let call = page.wait_until("the call button", WAIT, |p| {
        let found = p.find_in_shadow(HOST, "button.call:not([hidden])")?;
        Ok(found.into_iter().next())
    })?;
    page.click(&call)
}

/// The loudest frequency of what the page plays from the call (a WebAudio analyser on it).
fn browser_peak(page: &Session) -> Result<(f64, f64)> {
    let v = page.execute_async(
        "const done = arguments[arguments.length - 1]; \
         const audio = document.querySelector('#okno-chat').shadowRoot.querySelector('.remote-audio'); \
         const ctx = new AudioContext(); const an = ctx.createAnalyser(); an.fftSize = 8192; \
         ctx.createMediaStreamSource(audio.srcObject).connect(an); \
         setTimeout(() => { const d = new Float32Array(an.frequencyBinCount); an.getFloatFrequencyData(d); \
           let best = 1; for (let i = 2; i < d.length; i++) if (d[i] > d[best]) best = i; \
           const found = [best * ctx.sampleRate / an.fftSize, d[best]]; ctx.close().then(() => done(found)); }, 1500);",
    )?;
    Ok((v[0].as_f64().unwrap_or(0.0), v[1].as_f64().unwrap_or(-200.0)))
}

fn a_call_through(relay: bool) -> Result<()> {
    let server = server_binary()?;
    let (db, work) = (seeded_database(&server)?, tempfile::tempdir()?);

    // The operator's desk: answers, plays 600 Hz, records what it hears, hangs up after 6 s.
    let (mic, desk_tone, recording) =
        (work.path().join("mic.wav"), work.path().join("desk.wav"), work.path().join("heard.wav"));
    write_tone(&mic, 1000.0, 48_000, 10)?;
    write_tone(&desk_tone, 600.0, 8_000, 10)?;
    let desk_port = free_udp_port();
    let mut desk = Command::new(okno_phone_binary())
        .args(["--listen", &format!("udp:127.0.0.1:{desk_port}"), "--auto-answer", "--codecs", "opus"])
        .args(["--hangup-after-ms", "6000", "--exit-after-calls", "1", "--json-events"])
        .arg("--play")
        .arg(&desk_tone)
        .arg("--record")
        .arg(&recording)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("okno-phone")?;
    let out = desk.stdout.take().context("piped")?;
    let desk = Killed(desk);
    let events = json_events(out);

    let turn = if relay { Some(start_coturn(work.path())?) } else { None };
    let mut config = format!(
        "[[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\ncalls = true\n\n[calls]\ntarget = \"sip:desk@127.0.0.1:{desk_port}\"\n\
         sip_listen = \"127.0.0.1:0\"\ncodecs = \"opus,pcmu\"\n"
    );
    if let Some((_, port)) = &turn {
        config.push_str(&format!(
            "relay_only = true\n\n[[calls.ice]]\nurls = [\"turn:127.0.0.1:{port}?transport=udp\"]\nusername = \"okno\"\ncredential_env = \"OKNO_TURN_PASSWORD\"\n"
        ));
    }
    let config_path = work.path().join("okno-server.toml");
    std::fs::write(&config_path, config)?;
    let port = free_port()?;
    let config_arg = config_path.display().to_string();
    let log = work.path().join("server.log");
    let _server =
        start_server(&server, &db, port, &log, &["--config", &config_arg], &[("OKNO_TURN_PASSWORD", "turn-e2e")])?;

    let chrome = Driver::start_chromedriver()?;
    let page = shop_page(&chrome, port, &mic)?;
    widget_call(&page)?;
    if let Err(e) = call_state(&page, "answered", "the call answered in the widget") {
        let turn_log = std::fs::read_to_string(work.path().join("turn.log")).unwrap_or_default();
        bail!("{e:#}\nserver log:\n{}\ncoturn log:\n{turn_log}", std::fs::read_to_string(&log).unwrap_or_default());
    }
    let (peak, level) = browser_peak(&page)?;
    assert!((peak - 600.0).abs() < 30.0, "the browser hears {peak:.0} Hz at {level:.0} dB, not the desk's 600 Hz");
    // The desk hangs up after 6 s; the widget says so.
    call_state(&page, "ended", "the call ended in the widget")?;
    wait("the desk to finish", || Ok(!recording.exists() || std::fs::metadata(&recording)?.len() > 44))?;
    drop(desk);
    let events = events.join().map_err(|_| anyhow::anyhow!("the desk's events"))?;
    let incoming = events.iter().find(|e| e["event"] == "incoming").context("the desk saw no incoming call")?;
    assert_eq!(incoming["display_name"], "Pavel (website)", "the desk's screen shows the visitor: {incoming}");
    let media = events.iter().find(|e| e["event"] == "media").context("no media on the desk")?;
    assert_eq!(media["codec"], "opus", "{media}");
    let share = best_tone_share(&recording, 1000.0)?;
    assert!(share > 0.5, "the desk's recording holds the browser's 1 kHz tone at only {share:.2} of its power");
    if turn.is_some() {
        // Both sides allow only relayed candidates, so the audio above crossed coturn; its log
        // says so too.
        let turn_log = std::fs::read_to_string(work.path().join("turn.log")).unwrap_or_default();
        let files: Vec<_> = std::fs::read_dir(work.path())?.flatten().map(|e| e.file_name()).collect();
        assert!(turn_log.contains("ALLOCATE processed, success"), "coturn allocated nothing ({files:?}):\n{turn_log}");
    }
    eprintln!("relay={relay}: browser heard {peak:.0} Hz at {level:.0} dB; the desk's 1 kHz share {share:.2}");
    Ok(())
}

#[test]
#[ignore = "needs chromedriver and Chromium, PostgreSQL, and the built server and okno-phone: run through `cargo xtask test`"]
fn a_website_call_reaches_the_desk_and_both_hear_each_other() -> Result<()> {
    a_call_through(false)
}

#[test]
#[ignore = "needs chromedriver and Chromium, coturn, PostgreSQL, and the built server and okno-phone: run through `cargo xtask test`"]
fn a_website_call_through_a_turn_relay() -> Result<()> {
    a_call_through(true)
}

#[test]
#[ignore = "needs chromedriver and Chromium, Kamailio, PostgreSQL, and the built server and okno-phone: run through `cargo xtask test`"]
fn a_website_call_waits_in_the_hotline_queue_then_talks_with_the_operator() -> Result<()> {
    const SIP_PASSWORD: &str = "webcall-hotline-sip";
    let server = server_binary()?;
    let (db, work) = (seeded_database(&server)?, tempfile::tempdir()?);
    let kamailio = Kamailio::start(SIP_PASSWORD);
    let (mic, desk_tone, recording) =
        (work.path().join("mic.wav"), work.path().join("desk.wav"), work.path().join("heard.wav"));
    write_tone(&mic, 1000.0, 48_000, 10)?;
    write_tone(&desk_tone, 600.0, 8_000, 10)?;

    // The gateway's target is the hotline's own number: website calls join its queue, beside the
    // phone callers the PBX routes there; the hotline rings anna's desk through Kamailio.
    let hotline_port = free_udp_port();
    let config = format!(
        "[[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\ncalls = true\n\n\
         [calls]\ntarget = \"sip:hotline@127.0.0.1:{hotline_port}\"\nsip_listen = \"127.0.0.1:0\"\ncodecs = \"opus,pcmu\"\n\n\
         [hotline]\nsip_listen = \"127.0.0.1:{hotline_port}\"\nregistrar = \"{}\"\naccount = \"sip:hotline@127.0.0.1\"\n\
         password_env = \"OKNO_HOTLINE_SIP_PASSWORD\"\ntrunks = [\"127.0.0.1\"]\n\n\
         [[hotline.queue]]\nid = \"hotline\"\nnumbers = [\"hotline\"]\n\n\
         [[hotline.agent]]\noperator = \"anna\"\nuri = \"sip:anna@127.0.0.1\"\n",
        kamailio.addr()
    );
    let config_path = work.path().join("okno-server.toml");
    std::fs::write(&config_path, config)?;
    let port = free_port()?;
    let config_arg = config_path.display().to_string();
    let log = work.path().join("server.log");
    let _server = start_server(
        &server,
        &db,
        port,
        &log,
        &["--config", &config_arg],
        &[("OKNO_HOTLINE_SIP_PASSWORD", SIP_PASSWORD)],
    )?;
    // Anna's desk: registered at Kamailio; answers, plays 600 Hz, records what it hears, hangs
    // up after 6 s. She is not available yet.
    let (tone_arg, recording_arg) = (desk_tone.display().to_string(), recording.display().to_string());
    let anna_args = ["--auto-answer", "--hangup-after-ms", "6000", "--exit-after-calls", "1"];
    let (anna, anna_events) = registered_phone(
        "anna",
        &kamailio.addr(),
        SIP_PASSWORD,
        &[&anna_args[..], &["--play", &tone_arg, "--record", &recording_arg]].concat(),
    )?;

    let chrome = Driver::start_chromedriver()?;
    let page = shop_page(&chrome, port, &mic)?;
    widget_call(&page)?;
    // The hotline answers at once; the visitor waits with music on hold, as phone callers do.
    if let Err(e) = call_state(&page, "answered", "the hotline answering the website call") {
        bail!("{e:#}\nserver log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
    }
    let notes: Vec<f64> = okno_hotline::DEFAULT_MUSIC_HZ.iter().map(|hz| f64::from(*hz)).collect();
    let music = match hears_one_of(&page, &notes, "music on hold in the browser") {
        Ok(music) => music,
        Err(e) => bail!("{e:#}\nserver log:\n{}", std::fs::read_to_string(&log).unwrap_or_default()),
    };
    wait("the website call queued", || {
        Ok(db.sql("SELECT count(*) FROM acd_events WHERE kind = 'queued' AND queue_id = 'hotline'")? == "1")
    })?;
    assert_eq!(db.sql("SELECT count(*) FROM acd_events WHERE kind = 'answered'")?, "0", "nobody was available");

    // Anna becomes available: her desk rings with the website call and she talks with the visitor.
    db.sql("UPDATE operators SET state = 'available', state_since = (extract(epoch FROM now()) * 1000)::bigint WHERE id = 'anna'")?;
    let peak = hears(&page, 600.0, "the browser hearing anna's 600 Hz")?;
    call_state(&page, "ended", "the call ended in the widget when anna hung up")?;
    wait("anna's desk to finish", || Ok(std::fs::metadata(&recording).is_ok_and(|m| m.len() > 44)))?;
    drop(anna);
    let events = anna_events.join().map_err(|_| anyhow::anyhow!("anna's phone events"))?;
    let incoming = events.iter().find(|e| e["event"] == "incoming").context("anna's desk was not rung")?;
    let shown = incoming["display_name"].as_str().unwrap_or_default();
    assert!(shown.starts_with("hotline · Pavel (website) · "), "anna's desk shows the queue and the visitor: {shown}");
    let page_shown = incoming["call_info"].as_array().into_iter().flatten().find(|c| c["purpose"] == "info");
    let from_shop = page_shown.and_then(|c| c["uri"].as_str()).is_some_and(|u| u.contains("/widget/demo?channel=shop"));
    assert!(from_shop, "the page the visitor calls from reaches anna's desk through the hotline: {incoming}");
    let share = best_tone_share(&recording, 1000.0)?;
    assert!(share > 0.5, "anna's recording holds the browser's 1 kHz tone at only {share:.2} of its power");
    let kinds = db.sql("SELECT string_agg(kind, ',' ORDER BY at, id) FROM acd_events")?;
    assert_eq!(kinds, "queued,offered,answered,ended", "the website call's queue events");
    eprintln!("hotline: music at {music:.0} Hz while waiting, then anna at {peak:.0} Hz; her 1 kHz share {share:.2}");
    Ok(())
}

#[test]
#[ignore = "needs chromedriver and Chromium, PostgreSQL, and the built server and okno-phone: run through `cargo xtask test`"]
fn the_desk_transfers_a_website_call_and_the_visitor_talks_to_the_next_desk() -> Result<()> {
    let server = server_binary()?;
    let (db, work) = (seeded_database(&server)?, tempfile::tempdir()?);
    let (mic, first_tone, second_tone, heard) = (
        work.path().join("mic.wav"),
        work.path().join("first.wav"),
        work.path().join("second.wav"),
        work.path().join("heard-by-second.wav"),
    );
    write_tone(&mic, 1000.0, 48_000, 10)?;
    write_tone(&first_tone, 450.0, 8_000, 10)?;
    write_tone(&second_tone, 800.0, 8_000, 10)?;
    // The second desk answers the transferred visitor, plays 800 Hz and records.
    let second_port = free_udp_port();
    let _second = Killed(
        Command::new(okno_phone_binary())
            .args(["--listen", &format!("udp:127.0.0.1:{second_port}"), "--auto-answer", "--codecs", "opus"])
            .args(["--hangup-after-ms", "5000", "--exit-after-calls", "1", "--json-events"])
            .arg("--play")
            .arg(&second_tone)
            .arg("--record")
            .arg(&heard)
            .stdout(std::fs::File::create(artifacts_dir().join("webcall-second-desk.jsonl"))?)
            .stderr(Stdio::null())
            .spawn()?,
    );
    // The first desk answers and transfers the call to the second one after 1.5 s (REFER).
    let first_port = free_udp_port();
    let _first = Killed(
        Command::new(okno_phone_binary())
            .args(["--listen", &format!("udp:127.0.0.1:{first_port}"), "--auto-answer", "--codecs", "opus"])
            .args(["--transfer-to", &format!("sip:second@127.0.0.1:{second_port}"), "--transfer-after-ms", "1500"])
            .arg("--play")
            .arg(&first_tone)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let config_path = work.path().join("okno-server.toml");
    std::fs::write(
        &config_path,
        format!(
            "[[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\ncalls = true\n\n[calls]\n\
             target = \"sip:desk@127.0.0.1:{first_port}\"\nsip_listen = \"127.0.0.1:0\"\n"
        ),
    )?;
    let port = free_port()?;
    let config_arg = config_path.display().to_string();
    let _server = start_server(&server, &db, port, &work.path().join("server.log"), &["--config", &config_arg], &[])?;
    let chrome = Driver::start_chromedriver()?;
    let page = shop_page(&chrome, port, &mic)?;
    widget_call(&page)?;
    call_state(&page, "answered", "the call answered by the first desk")?;
    // After the transfer the visitor hears the second desk.
    let heard_second = hears(&page, 800.0, "the second desk's 800 Hz in the browser")?;
    call_state(&page, "ended", "the call ended in the widget")?;
    wait("the second desk's recording", || Ok(heard.exists() && std::fs::metadata(&heard)?.len() > 44))?;
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::fs::copy(&heard, artifacts_dir().join("webcall-transfer-heard.wav"));
    let _ = std::fs::copy(work.path().join("server.log"), artifacts_dir().join("webcall-transfer-server.log"));
    let share = best_tone_share(&heard, 1000.0)?;
    assert!(share > 0.5, "the second desk hears the visitor's 1 kHz at only {share:.2} of its power");
    eprintln!("transfer: the browser heard {heard_second:.0} Hz after it; the second desk's 1 kHz share {share:.2}");
    Ok(())
}

#[test]
#[ignore = "needs a display, tauri-driver, chromedriver and Chromium, Kamailio, PulseAudio, PostgreSQL and the built apps: run through `cargo xtask test`"]
fn a_website_call_rings_in_the_operators_window_and_they_talk() -> Result<()> {
    const SIP_PASSWORD: &str = "webcall-e2e-sip";
    const HOTLINE: &str = "100";
    let (app, server) = (app_binary()?, server_binary()?);
    let kamailio = Kamailio::start(SIP_PASSWORD);
    let pulse = Pulse::start();
    // SAFETY: set before this test starts any thread that reads the environment (the tests run
    // one at a time); the capture of the headset below reads it.
    unsafe { std::env::set_var("PULSE_SERVER", &pulse.server) };
    let (db, work) = (seeded_database(&server)?, tempfile::tempdir()?);

    // The server's gateway calls the hotline through Kamailio as its own account.
    let config_path = work.path().join("okno-server.toml");
    std::fs::write(
        &config_path,
        format!(
            "[[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\ncalls = true\n\n[calls]\ntarget = \"sip:{HOTLINE}@127.0.0.1\"\n\
             registrar = \"{}\"\naccount = \"sip:web@127.0.0.1\"\npassword_env = \"OKNO_GATEWAY_PASSWORD\"\n\
             sip_listen = \"127.0.0.1:0\"\ncodecs = \"opus,pcmu\"\n",
            kamailio.addr()
        ),
    )?;
    let port = free_port()?;
    let config_arg = config_path.display().to_string();
    let log = work.path().join("server.log");
    let _server =
        start_server(&server, &db, port, &log, &["--config", &config_arg], &[("OKNO_GATEWAY_PASSWORD", SIP_PASSWORD)])?;

    // The operator's window: signed in to the server as anna, the hotline registered at Kamailio.
    let data = work.path().join("desk");
    std::fs::create_dir_all(&data)?;
    let provision = work.path().join("provision.toml");
    std::fs::write(
        &provision,
        format!(
            "server_url = \"http://127.0.0.1:{port}\"\n[server]\noperator = \"anna\"\npassword_env = \"OKNO_E2E_PASSWORD\"\n\n\
             [[sip_account]]\nid = \"desk\"\nlabel = \"Hotline\"\nuser = \"{HOTLINE}\"\ndomain = \"127.0.0.1\"\n\
             registrar = \"{}\"\npassword_env = \"OKNO_E2E_SIP_PASSWORD\"\n",
            kamailio.addr()
        ),
    )?;
    let driver = Driver::start_with_env(&[
        ("OKNO_E2E_PASSWORD", OPERATOR_PASSWORD),
        ("OKNO_E2E_SIP_PASSWORD", SIP_PASSWORD),
        ("PULSE_SERVER", &pulse.server),
    ])?;
    let args = ["--data-dir", &data.display().to_string(), "--provision", &provision.display().to_string()];
    let desk = driver.launch(&app, &args.map(str::to_owned))?;
    wait_state(&desk, "online")?;
    desk.wait_for("[data-testid=registration-state][data-account-id=desk][data-state=registered]", WAIT)?;

    // The visitor writes first, then calls: the call's card pops their chat and page.
    let mic = work.path().join("visitor.wav");
    write_tone(&mic, 1000.0, 48_000, 30)?;
    let chrome = Driver::start_chromedriver()?;
    let page = shop_page(&chrome, port, &mic)?;
    widget_form(&page)?;
    let first = "Can I call you about order 7710?";
    page.type_into(&page.wait_in_shadow(HOST, ".compose textarea", WAIT)?[0], &format!("{first}\u{E007}"))?;
    let mut ticket = String::new();
    wait("the chat as a ticket on the server", || {
        ticket = db.sql("SELECT id FROM tickets WHERE channel = 'chat' AND subject LIKE 'Can I call you%'")?;
        Ok(!ticket.is_empty())
    })?;
    desk.wait_for(&format!("[data-testid=ticket-row][data-ticket-id='{ticket}']"), WAIT)?;
    press_call(&page)?;

    // The window rings with the visitor's name, the page they call from and their chat.
    let card = desk
        .wait_for("[data-testid=incoming-call]", WAIT)
        .with_context(|| format!("the window never rang; kamailio:\n{}", kamailio.log()))?;
    let shown = desk.wait_until("the visitor's name and chat on the call card", WAIT, |s| {
        let text = s.text_content(&card[0])?;
        Ok((text.contains("Pavel") && text.contains("order 7710")).then_some(text))
    })?;
    let page_chip = desk.wait_for("[data-testid=incoming-call] [data-testid=call-page]", WAIT)?;
    let page_shown = desk.text_content(&page_chip[0])?;
    assert!(page_shown.contains("/widget/demo"), "the card shows the visitor's page: {page_shown:?}");
    let chat_button = desk.find_all("[data-testid=incoming-call] [data-testid=call-ticket]")?;
    assert_eq!(chat_button.len(), 1, "one open ticket: the visitor's chat ({shown})");
    std::thread::sleep(Duration::from_millis(500));
    desk.screenshot(&artifacts_dir().join("webcall-incoming.png"))?;
    desk.click(&desk.wait_for("[data-testid=answer]", WAIT)?[0])?;
    desk.wait_for("[data-testid=in-call][data-phase=active]", WAIT)?;
    call_state(&page, "answered", "the call answered in the widget")?;

    // The visitor's 1 kHz plays on the operator's headset.
    let headset = record_sink("headset", Duration::from_secs(3))?;
    let share = best_share(&headset, 8000, 1000.0);
    assert!(share > 0.5, "the headset carries the visitor's 1 kHz at only {share:.2} of its power");
    // The operator speaks into the microphone (600 Hz into the mic sink); the visitor hears it.
    let desk_tone = work.path().join("operator.wav");
    write_tone(&desk_tone, 600.0, 8_000, 30)?;
    let _speaking =
        Killed(Command::new("paplay").args(["-d", "mic"]).arg(&desk_tone).env("PULSE_SERVER", &pulse.server).spawn()?);
    let heard = hears(&page, 600.0, "the operator's 600 Hz in the browser")?;
    page.screenshot(&artifacts_dir().join("webcall-widget.png"))?;

    // The operator holds the call: the widget says so and the visitor no longer hears them;
    // resumed, they do again.
    desk.click(&desk.wait_for("[data-testid=hold]", WAIT)?[0])?;
    desk.wait_for("[data-testid=in-call][data-phase=held]", WAIT)?;
    call_state(&page, "held", "the widget showing the hold")?;
    let quiet = page.wait_until("the operator's voice gone from the browser", WAIT, |p| {
        let (peak, level) = browser_peak(p)?;
        Ok(((peak - 600.0).abs() >= 30.0 || level < -90.0).then_some((peak, level)))
    })?;
    page.screenshot(&artifacts_dir().join("webcall-widget-held.png"))?;
    desk.click(&desk.wait_for("[data-testid=resume]", WAIT)?[0])?;
    desk.wait_for("[data-testid=in-call][data-phase=active]", WAIT)?;
    call_state(&page, "answered", "the widget back in the call")?;
    hears(&page, 600.0, "the operator's 600 Hz back in the browser")?;

    // The visitor hangs up in the widget; the window's call ends.
    page.click(&page.find_in_shadow(HOST, ".callbar button")?[0])?;
    desk.wait_until("the call to leave the window", WAIT, |s| {
        Ok(s.find_all("[data-testid=in-call][data-phase=active]")?.is_empty().then_some(()))
    })?;

    // The desk recorded the call: both voices are in the file.
    let recordings = data.join("recordings");
    let recording = wait_for_recording(&recordings)?;
    let _ = std::fs::copy(&recording, artifacts_dir().join("webcall-window-recording.wav"));
    let visitor_share = best_tone_share(&recording, 1000.0)?;
    let operator_share = best_tone_share(&recording, 600.0)?;
    assert!(visitor_share > 0.5, "the recording holds the visitor's 1 kHz at only {visitor_share:.2} of its power");
    assert!(operator_share > 0.25, "the recording holds the operator's 600 Hz at only {operator_share:.2}");
    eprintln!(
        "window: card {shown:?}, page {page_shown:?}; the browser heard {heard:.0} Hz, on hold {quiet:?}; \
         the headset's 1 kHz share {share:.2}; recorded 1 kHz {visitor_share:.2}, 600 Hz {operator_share:.2}"
    );
    Ok(())
}

/// The one WAV under `dir`, once the desk has finished writing it (its size stops changing).
fn wait_for_recording(dir: &std::path::Path) -> Result<std::path::PathBuf> {
    let mut last = (None, 0);
    wait("the desk's recording of the call", || {
        let wav = std::fs::read_dir(dir)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "wav"));
        let size = wav.as_ref().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
        let settled = wav.is_some() && size > 44 && last == (wav.clone(), size);
        last = (wav, size);
        std::thread::sleep(Duration::from_millis(300));
        Ok(settled)
    })?;
    last.0.context("no recording")
}
