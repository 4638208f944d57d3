//! Calls from the website end to end: headless Chromium on a shop page presses the widget's call
//! button with a fake microphone playing a 1 kHz tone; the real okno-server's gateway answers the
//! WebRTC offer and calls a headless okno-phone (the operator's desk) over SIP, which answers and
//! plays a 600 Hz tone. The desk's recording holds the browser's tone, and a WebAudio analyser in
//! the page finds the desk's. Once over direct ICE, once forced through a real coturn relay.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use okno_e2e::server::{Database, WAIT, server_binary, start_server, wait};
use okno_e2e::{Driver, Killed, Session, free_port, free_udp_port, okno_phone_binary};

const HOST: &str = "#okno-chat";

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
    Ok(samples
        .chunks_exact(rate as usize)
        .filter(|x| okno_audio::convert::level(x).rms_dbfs > -50.0)
        .map(|x| okno_audio::convert::tone_share(x, rate, hz))
        .fold(0.0, f64::max))
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
    std::thread::sleep(Duration::from_millis(500));
    Ok((Killed(child), port))
}

fn widget_call(page: &Session) -> Result<()> {
    page.click(&page.wait_in_shadow(HOST, ".launcher", WAIT)?[0])?;
    page.type_into(&page.wait_in_shadow(HOST, "form.start input[name=name]", WAIT)?[0], "Pavel")?;
    page.type_into(&page.find_in_shadow(HOST, "form.start input[name=contact]")?[0], "pavel@example.com")?;
    page.click(&page.find_in_shadow(HOST, "form.start button[type=submit]")?[0])?;
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
           done([best * ctx.sampleRate / an.fftSize, d[best]]); }, 1500);",
    )?;
    Ok((v[0].as_f64().unwrap_or(0.0), v[1].as_f64().unwrap_or(-200.0)))
}

fn a_call_through(relay: bool) -> Result<()> {
    let server = server_binary()?;
    let db = Database::create()?;
    let work = tempfile::tempdir()?;
    let seeded =
        Command::new(&server).args(["seed", "--demo", "--tickets", "1"]).env("DATABASE_URL", db.url()).output()?;
    assert!(seeded.status.success(), "seed: {}", String::from_utf8_lossy(&seeded.stderr));

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
    let events = std::thread::spawn(move || {
        BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .collect::<Vec<_>>()
    });

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
    let flags = [
        "--use-fake-ui-for-media-stream".to_owned(),
        "--use-fake-device-for-media-stream".to_owned(),
        format!("--use-file-for-fake-audio-capture={}", mic.display()),
        "--autoplay-policy=no-user-gesture-required".to_owned(),
    ];
    let page =
        chrome.launch_chromium_with(&format!("http://127.0.0.1:{port}/widget/demo?channel=shop&lang=en"), &flags)?;
    widget_call(&page)?;
    let answered = page.wait_until("the call answered in the widget", WAIT, |p| {
        let bar = p.find_in_shadow(HOST, ".callbar[data-state=answered]")?;
        Ok(bar.into_iter().next())
    });
    if let Err(e) = answered {
        bail!("{e:#}\nserver log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
    }
    let (peak, level) = browser_peak(&page)?;
    assert!((peak - 600.0).abs() < 30.0, "the browser hears {peak:.0} Hz at {level:.0} dB, not the desk's 600 Hz");
    // The desk hangs up after 6 s; the widget says so.
    page.wait_until("the call ended in the widget", WAIT, |p| {
        Ok(p.find_in_shadow(HOST, ".callbar[data-state=ended]")?.into_iter().next())
    })?;
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
