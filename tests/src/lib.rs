//! End-to-end test support: start the real `okno-desktop` through `tauri-driver` and drive it
//! with the W3C WebDriver protocol, the way a person would use the window.
//!
//! The tests need a display (Xvfb), `tauri-driver` and `WebKitWebDriver`; `cargo xtask test`
//! provides all three and passes the app's path in `OKNO_DESKTOP_BIN`.

pub mod server;

/// The token the tests give a headless desk's HTTP bridge (`OKNO_BRIDGE_TOKEN`).
pub const BRIDGE_TOKEN: &str = "okno-e2e-bridge-token";

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

/// The W3C "element identifier" key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The desktop binary under test.
pub fn app_binary() -> Result<PathBuf> {
    let path = std::env::var_os("OKNO_DESKTOP_BIN")
        .map(PathBuf::from)
        .context("OKNO_DESKTOP_BIN is not set: run the end-to-end tests through `cargo xtask test`")?;
    if !path.exists() {
        bail!("{} does not exist: build okno-desktop first", path.display());
    }
    Ok(path)
}

/// Where screenshots go (CI keeps the folder as an artifact).
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("OKNO_ARTIFACTS").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// WebKitWebDriver answers "stale element reference" when the DOM changes while it looks
/// something up (a Svelte re-render mid-query); a poll just tries again.
fn is_stale(e: &anyhow::Error) -> bool {
    e.to_string().contains("stale element reference")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub use okno_testkit::{Killed, free_udp_port};

/// The JSON events a headless okno-phone prints (`--json-events`) on `stdout`, collected on a
/// thread until the phone exits.
pub fn json_events(stdout: std::process::ChildStdout) -> std::thread::JoinHandle<Vec<Value>> {
    use std::io::BufRead;
    std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .collect()
    })
}

/// A headless okno-phone on a free loopback port, registered at `registrar` as `user` with the
/// SIP password `password` (handed over in the environment, as a deployment would), `args`
/// after the account's; its JSON events are collected until it exits.
pub fn registered_phone(
    user: &str,
    registrar: &str,
    password: &str,
    args: &[&str],
) -> Result<(Killed, std::thread::JoinHandle<Vec<Value>>)> {
    const PASSWORD_VAR: &str = "OKNO_E2E_SIP_PASSWORD";
    let mut child = std::process::Command::new(okno_phone_binary())
        .args(["--listen", &format!("udp:127.0.0.1:{}", free_udp_port())])
        .args(["--account", &format!("sip:{user}@127.0.0.1")])
        .args(["--registrar", registrar, "--password-env", PASSWORD_VAR, "--json-events"])
        .args(args)
        .env(PASSWORD_VAR, password)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("okno-phone at {}", okno_phone_binary().display()))?;
    let out = child.stdout.take().context("piped")?;
    Ok((Killed(child), json_events(out)))
}

/// The headless phone: `OKNO_PHONE_BIN`, or beside the app's binary.
pub fn okno_phone_binary() -> PathBuf {
    std::env::var_os("OKNO_PHONE_BIN")
        .map(Into::into)
        .unwrap_or_else(|| app_binary().map(|a| a.with_file_name("okno-phone")).unwrap_or_default())
}

/// What plays on a sink of the private PulseAudio (`PULSE_SERVER`) for `how_long`, from its
/// monitor at 8 kHz.
pub fn record_sink(sink: &str, how_long: Duration) -> Result<Vec<i16>> {
    let options = okno_audio::StreamOptions { backend: okno_audio::Backend::PulseAudio, ..Default::default() };
    let mut monitor = okno_audio::CaptureStream::open(
        okno_audio::DeviceChoice::Named(format!("{sink}.monitor")),
        okno_audio::FrameRate::Hz8000,
        options,
    )?;
    let mut recorded = Vec::new();
    let mut frame = [0i16; 160];
    let until = std::time::Instant::now() + how_long;
    while std::time::Instant::now() < until {
        if monitor.read_frame(&mut frame, Duration::from_millis(50)).is_some() {
            recorded.extend_from_slice(&frame);
        }
    }
    Ok(recorded)
}

/// A private D-Bus session bus with `dbus-monitor` watching the desktop-notification
/// interface: nothing serves it, but the monitor's log shows every notification the app sent.
/// Both processes stop with it.
pub struct SessionBus {
    pub address: String,
    log: PathBuf,
    daemon: Child,
    monitor: Child,
}

impl SessionBus {
    pub fn start(dir: &std::path::Path) -> Result<SessionBus> {
        let socket = dir.join("session-bus");
        let address = format!("unix:path={}", socket.display());
        let daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address={address}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start dbus-daemon (apt install dbus-daemon)")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if Instant::now() > deadline {
                bail!("dbus-daemon did not start");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = dir.join("notifications.log");
        let monitor = Command::new("dbus-monitor")
            .args(["--address", &address, "interface='org.freedesktop.Notifications'"])
            .stdout(std::fs::File::create(&log)?)
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start dbus-monitor (apt install dbus-bin)")?;
        Ok(SessionBus { address, log, daemon, monitor })
    }

    /// Everything the monitor saw so far.
    pub fn notifications(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        for child in [&mut self.monitor, &mut self.daemon] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running tauri-driver; killed on drop.
pub struct Driver {
    child: Child,
    base: String,
}

impl Driver {
    /// tauri-driver, which starts the app through WebKitWebDriver.
    pub fn start() -> Result<Driver> {
        let port = free_port()?;
        let native = free_port()?.to_string();
        Driver::spawn("tauri-driver", &["--port".into(), port.to_string(), "--native-port".into(), native], port)
            .context("cannot start tauri-driver (cargo install tauri-driver --version 2.1.0 --locked)")
    }

    /// tauri-driver with extra environment variables, which the app it starts inherits (a
    /// password named in a provisioning file).
    pub fn start_with_env(envs: &[(&str, &str)]) -> Result<Driver> {
        let port = free_port()?;
        let native = free_port()?.to_string();
        let child = Command::new("tauri-driver")
            .args(["--port", &port.to_string(), "--native-port", &native])
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start tauri-driver (cargo install tauri-driver --version 2.1.0 --locked)")?;
        Driver::wait_ready(Driver { child, base: format!("http://127.0.0.1:{port}") }, port)
    }

    /// chromedriver, for the same UI in Chromium.
    pub fn start_chromedriver() -> Result<Driver> {
        let port = free_port()?;
        Driver::spawn("chromedriver", &[format!("--port={port}")], port)
            .context("cannot start chromedriver (apt chromium-driver)")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn spawn(program: &str, args: &[String], port: u16) -> Result<Driver> {
        let child = Command::new(program).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        Driver::wait_ready(Driver { child, base: format!("http://127.0.0.1:{port}") }, port)
    }

    fn wait_ready(driver: Driver, port: u16) -> Result<Driver> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if ureq::get(&format!("{}/status", driver.base)).call().is_ok() {
                return Ok(driver);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("tauri-driver did not answer on port {port}")
    }

    /// Start the app with `args` and open a WebDriver session on its window.
    pub fn launch(&self, app: &Path, args: &[String]) -> Result<Session> {
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "wry",
            "tauri:options": { "application": app, "args": args }
        }}});
        self.session(&caps)
    }

    /// Headless Chromium at `url`, flags as this machine needs them (no network, no sandbox as root).
    pub fn launch_chromium(&self, url: &str) -> Result<Session> {
        self.launch_chromium_with(url, &[])
    }

    /// The same with `extra` flags (a fake microphone playing a file, autoplay allowed).
    pub fn launch_chromium_with(&self, url: &str, extra: &[String]) -> Result<Session> {
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-quic",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1440,900",
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend_from_slice(extra);
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args }
        }}});
        let session = self.session(&caps)?;
        post(&format!("{}/url", session.url), &json!({ "url": url }))?;
        Ok(session)
    }

    fn session(&self, caps: &Value) -> Result<Session> {
        let response = post(&format!("{}/session", self.base), caps)?;
        let id = response["value"]["sessionId"].as_str().ok_or_else(|| anyhow!("no session id in {response}"))?;
        let session = Session { url: format!("{}/session/{id}", self.base), open: true };
        // Scrolling a 100k-row inbox in one async script takes longer than the default 30 s.
        post(&format!("{}/timeouts", session.url), &json!({ "script": 600_000 }))?;
        Ok(session)
    }
}

impl Drop for Driver {
    /// The driver starts WebKitWebDriver (or Chromium), which starts the app; killing only the
    /// driver would leave those running, so the whole tree goes, children first.
    fn drop(&mut self) {
        let mut tree = process_tree(self.child.id());
        tree.reverse();
        let pids: Vec<String> = tree.iter().map(u32::to_string).collect();
        let _ = Command::new("kill").arg("-KILL").args(&pids).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }
}

fn post(url: &str, body: &Value) -> Result<Value> {
    match ureq::post(url).send_json(body.clone()) {
        Ok(r) => Ok(r.into_json()?),
        Err(ureq::Error::Status(code, r)) => bail!("POST {url} → {code}: {}", r.into_string().unwrap_or_default()),
        Err(e) => Err(e.into()),
    }
}

fn get(url: &str) -> Result<Value> {
    match ureq::get(url).call() {
        Ok(r) => Ok(r.into_json()?),
        Err(ureq::Error::Status(code, r)) => bail!("GET {url} → {code}: {}", r.into_string().unwrap_or_default()),
        Err(e) => Err(e.into()),
    }
}

/// A WebDriver session: one running app. Quitting ends the app.
pub struct Session {
    url: String,
    open: bool,
}

/// An element on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session {
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let v = post(&format!("{}/elements", self.url), &json!({ "using": "css selector", "value": css }))?;
        Ok(v["value"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_owned()))).collect())
            .unwrap_or_default())
    }

    /// Elements matching `css` inside the shadow root of the element `host` (the website chat
    /// widget keeps its page in one); WebDriver then types into and clicks them as usual.
    pub fn find_in_shadow(&self, host: &str, css: &str) -> Result<Vec<Element>> {
        let v = post(
            &format!("{}/execute/sync", self.url),
            &json!({ "script": "const h = document.querySelector(arguments[0]);                                 return h && h.shadowRoot ? [...h.shadowRoot.querySelectorAll(arguments[1])] : []",
                     "args": [host, css] }),
        )?;
        Ok(v["value"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_owned()))).collect())
            .unwrap_or_default())
    }

    /// Wait up to `timeout` for an element matching `css` in `host`'s shadow root.
    pub fn wait_in_shadow(&self, host: &str, css: &str, timeout: Duration) -> Result<Vec<Element>> {
        self.wait_until(&format!("{css:?} in the shadow root of {host:?}"), timeout, |s| {
            let found = s.find_in_shadow(host, css)?;
            Ok((!found.is_empty()).then_some(found))
        })
    }

    /// Wait up to `timeout` for at least one element matching `css`.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Result<Vec<Element>> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = match self.find_all(css) {
                Err(e) if is_stale(&e) => Vec::new(),
                other => other?,
            };
            if !found.is_empty() {
                return Ok(found);
            }
            if Instant::now() > deadline {
                bail!("nothing matched {css:?} within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until `check` returns Some, polling.
    pub fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Session) -> Result<Option<T>>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            match check(self) {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                // The page re-rendered under the query: ask again.
                Err(e) if is_stale(&e) => {}
                Err(e) => return Err(e),
            }
            if Instant::now() > deadline {
                bail!("timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn click(&self, e: &Element) -> Result<()> {
        post(&format!("{}/element/{}/click", self.url, e.0), &json!({}))?;
        Ok(())
    }

    pub fn text(&self, e: &Element) -> Result<String> {
        Ok(get(&format!("{}/element/{}/text", self.url, e.0))?["value"].as_str().unwrap_or_default().to_owned())
    }

    /// The element's whole text (`textContent`): unlike WebDriver's visible-text rules, this
    /// includes text that is clipped with an ellipsis.
    pub fn text_content(&self, e: &Element) -> Result<String> {
        let v = post(
            &format!("{}/execute/sync", self.url),
            &json!({ "script": "return arguments[0].textContent", "args": [{ ELEMENT: e.0 }] }),
        )?;
        Ok(v["value"].as_str().unwrap_or_default().to_owned())
    }

    /// A DOM property (what the page sees now, e.g. a select's `value`), not the HTML attribute.
    pub fn property(&self, e: &Element, name: &str) -> Result<String> {
        let v = get(&format!("{}/element/{}/property/{name}", self.url, e.0))?;
        Ok(match &v["value"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    pub fn attribute(&self, e: &Element, name: &str) -> Result<Option<String>> {
        Ok(get(&format!("{}/element/{}/attribute/{name}", self.url, e.0))?["value"].as_str().map(str::to_owned))
    }

    pub fn type_into(&self, e: &Element, text: &str) -> Result<()> {
        post(&format!("{}/element/{}/value", self.url, e.0), &json!({ "text": text }))?;
        Ok(())
    }

    /// Press a key with Control held (e.g. 'k' for Ctrl+K), as keyboard input to the page.
    pub fn press_ctrl(&self, key: &str) -> Result<()> {
        let actions = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
            { "type": "keyDown", "value": "\u{E009}" }, { "type": "keyDown", "value": key },
            { "type": "keyUp", "value": key }, { "type": "keyUp", "value": "\u{E009}" }
        ]}]});
        post(&format!("{}/actions", self.url), &actions)?;
        Ok(())
    }

    /// Press one key (a character, or a WebDriver key code such as "\u{E00C}" for Escape).
    pub fn press(&self, key: &str) -> Result<()> {
        let actions = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
            { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }
        ]}]});
        post(&format!("{}/actions", self.url), &actions)?;
        Ok(())
    }

    /// The window's position and size as WebDriver reports them: (x, y, width, height).
    pub fn rect(&self) -> Result<(f64, f64, f64, f64)> {
        let v = get(&format!("{}/window/rect", self.url))?["value"].clone();
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        Ok((f("x"), f("y"), f("width"), f("height")))
    }

    pub fn set_rect(&self, x: i64, y: i64, width: i64, height: i64) -> Result<()> {
        post(&format!("{}/window/rect", self.url), &json!({ "x": x, "y": y, "width": width, "height": height }))?;
        Ok(())
    }

    /// Run an async script; it finishes by calling `arguments[arguments.length - 1](result)`.
    pub fn execute_async(&self, script: &str) -> Result<Value> {
        Ok(post(&format!("{}/execute/async", self.url), &json!({ "script": script, "args": [] }))?["value"].clone())
    }

    /// The same with arguments (`arguments[0]`, ...; the callback is last).
    pub fn execute_async_with(&self, script: &str, args: &[Value]) -> Result<Value> {
        Ok(post(&format!("{}/execute/async", self.url), &json!({ "script": script, "args": args }))?["value"].clone())
    }

    pub fn execute(&self, script: &str) -> Result<Value> {
        Ok(post(&format!("{}/execute/sync", self.url), &json!({ "script": script, "args": [] }))?["value"].clone())
    }

    /// Save a PNG of the window.
    pub fn screenshot(&self, path: &Path) -> Result<()> {
        use base64::Engine;
        let v = get(&format!("{}/screenshot", self.url))?;
        let png = base64::engine::general_purpose::STANDARD.decode(v["value"].as_str().unwrap_or_default())?;
        std::fs::write(path, png).with_context(|| format!("cannot write {}", path.display()))
    }

    /// End the session, which closes the app.
    pub fn quit(&mut self) -> Result<()> {
        if self.open {
            self.open = false;
            ureq::delete(&self.url).call()?;
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.quit();
    }
}

/// Memory of a process tree, from /proc (Linux).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memory {
    pub processes: usize,
    /// Resident set size summed over the processes (counts shared pages once per process).
    pub rss_mb: f64,
    /// Proportional set size: shared pages divided among their users; sums fairly.
    pub pss_mb: f64,
}

/// `root` and every process descended from it.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            // The command name is in parentheses and may contain spaces: the fields after ")" are fixed.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    tree
}

pub fn memory_of(pids: &[u32]) -> Memory {
    let mut m = Memory::default();
    for pid in pids {
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else { continue };
        m.processes += 1;
        for line in rollup.lines() {
            let kb = |l: &str| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0;
            if line.starts_with("Rss:") {
                m.rss_mb += kb(line);
            } else if line.starts_with("Pss:") {
                m.pss_mb += kb(line);
            }
        }
    }
    m
}
