//! Developer tasks. `cargo xtask demo` and `cargo xtask test` are the README's two commands:
//! each installs what this machine lacks (saying what), builds the UI and the app, then runs
//! the demo or every test. CI runs `cargo xtask test` on a fresh machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod nats;
mod pulse;
mod tidy;

const USAGE: &str = "\
cargo xtask <task>

  demo [ARGS...]   set up, build, and open the window on generated demo data (ARGS go to okno-desktop)
  test             set up, then run every test: tidy, lints, unit, integration, UI, and the real app under Xvfb
  tidy             check the layering rules: forbidden dependencies, sans-IO code, file sizes
  setup            install missing system packages and npm packages, build the UI
  bindings         regenerate ui/src/lib/backend/bindings.ts from the Rust types
  bench            run the store benchmarks (large demo dataset) and print figures";

/// Debian/Ubuntu packages the desktop app needs to build and run (WebKitGTK for the window, ALSA for cpal,
/// D-Bus for the Secret Service keychain, libopus for Opus calls).
const APT_BUILD: &[&str] =
    &["pkg-config", "libwebkit2gtk-4.1-dev", "libasound2-dev", "libdbus-1-dev", "libopus-dev", "build-essential"];
/// Extra packages the tests use: a virtual display, the WebKit WebDriver, xdotool (global hotkeys),
/// a D-Bus session bus and monitor (desktop notifications), real SIP peers, tcpdump (the
/// SRTP test looks at the packets on the wire), Dovecot (email), and Chromium with its WebDriver
/// (the website chat widget as visitors see it), and coturn (TURN for calls from the website).
const APT_TEST: &[&str] = &[
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "imagemagick",
    "xdotool",
    "dbus-daemon",
    "dbus-bin",
    "sip-tester",
    "kamailio",
    "kamailio-tls-modules",
    "kamailio-websocket-modules",
    "openssl",
    "baresip-core",
    "tcpdump",
    "dovecot-imapd",
    "chromium",
    "chromium-driver",
    "coturn",
];
/// Python modules the tests start as real peers: aiosmtpd is the SMTP server the email tests send
/// replies to (Debian has no package of it).
const PIP_TEST: &[&str] = &["aiosmtpd"];
const TAURI_DRIVER_VERSION: &str = "2.1.0";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match task.as_str() {
        "demo" => demo(&rest),
        "test" => test(),
        "tidy" => tidy::tidy(&root()),
        "setup" => setup(true),
        "bindings" => bindings(),
        "bench" => bench(),
        _ => {
            println!("{USAGE}");
            if task.is_empty() || task == "help" || task == "--help" { Ok(()) } else { bail!("unknown task {task:?}") }
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Test counts over every runner, for the one summary line `cargo xtask test` ends with.
static PASSED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static FAILED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// What each failed test printed (its panic), repeated after the summary: CI keeps only the
/// end of a long log, and the fuzz pass prints a lot after the tests.
static FAILURES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
/// At most this many lines of one failed test's output are repeated.
const FAILURE_LINES: usize = 25;

/// Run a test command, echoing its output and adding up the results it reports
/// (`test result: ok. N passed; M failed` from cargo, `Tests  N passed` from vitest).
fn run_tests(cmd: &mut Command) -> Result<()> {
    use std::io::{BufRead, BufReader};
    use std::sync::atomic::Ordering;
    eprintln!("xtask: running {cmd:?}");
    let mut child =
        cmd.stdout(std::process::Stdio::piped()).spawn().with_context(|| format!("cannot start {cmd:?}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut failures = FailureReader::default();
    let keep = |failure: Option<String>| {
        if let Some(f) = failure {
            FAILURES.lock().unwrap_or_else(|e| e.into_inner()).push(f);
        }
    };
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        let plain: String = strip_ansi(&line);
        keep(failures.line(&plain));
        let number_before = |word: &str| {
            plain
                .split_whitespace()
                .collect::<Vec<_>>()
                .windows(2)
                .find(|w| w[1].trim_end_matches([';', ',']) == word)
                .and_then(|w| w[0].parse::<u64>().ok())
        };
        if plain.starts_with("test result:") || plain.trim_start().starts_with("Tests ") {
            PASSED.fetch_add(number_before("passed").unwrap_or(0), Ordering::Relaxed);
            FAILED.fetch_add(number_before("failed").unwrap_or(0), Ordering::Relaxed);
        }
    }
    keep(failures.end());
    let status = child.wait()?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Picks the failed tests out of cargo test's output: from `---- NAME stdout ----` to the
/// next such line or the `failures:` list, named after the test binary that ran it.
#[derive(Default)]
struct FailureReader {
    binary: String,
    current: Option<Vec<String>>,
}

impl FailureReader {
    /// Takes one line; returns a failure it completed.
    fn line(&mut self, plain: &str) -> Option<String> {
        if let Some(rest) = plain.trim_start().strip_prefix("Running ") {
            self.binary = rest.split(" (").next().unwrap_or(rest).to_owned();
        }
        let mut done = None;
        if plain.starts_with("---- ") || plain.starts_with("failures:") || plain.starts_with("test result:") {
            done = self.end();
        }
        if let Some(name) = plain.strip_prefix("---- ").and_then(|r| r.strip_suffix(" stdout ----")) {
            self.current = Some(vec![format!("{}: {name}", self.binary)]);
        } else if let Some(lines) = self.current.as_mut()
            && lines.len() < FAILURE_LINES
            && !plain.trim().is_empty()
        {
            lines.push(format!("    {plain}"));
        }
        done
    }

    fn end(&mut self) -> Option<String> {
        self.current.take().map(|lines| lines.join("\n"))
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null 2>&1"))
        .status()
        .is_ok_and(|s| s.success())
}

/// Install missing Debian packages, saying which. Elsewhere, say what the platform needs.
fn ensure_system_packages(packages: &[&str]) -> Result<()> {
    if !cfg!(target_os = "linux") {
        eprintln!(
            "xtask: not Linux: skipping system packages. macOS needs Xcode command-line tools; Windows needs \
             WebView2 (preinstalled on Windows 10/11) and the MSVC build tools. Node.js 20+ is needed everywhere."
        );
        return Ok(());
    }
    if !have("dpkg-query") || !have("apt-get") {
        eprintln!("xtask: no apt on this Linux: install the equivalents of {packages:?} yourself");
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            let out = Command::new("dpkg-query").args(["-W", "-f=${Status}", p]).output();
            !out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing system packages: {}", missing.join(" "));
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| {
        let mut cmd = Command::new(sudo.first().copied().unwrap_or("apt-get"));
        if !sudo.is_empty() {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(apt(&["update", "-qq"]).arg("-o").arg("APT::Update::Error-Mode=any"))
        .or_else(|_| run(&mut apt(&["update", "-qq"])))?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    run(&mut install)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// npm packages (from the lock file) and the UI build into ui/dist, which the app embeds.
fn build_ui() -> Result<()> {
    let ui = root().join("ui");
    if !have("npm") {
        bail!("Node.js 20+ with npm is needed to build the UI: install it from your OS packages or nodejs.org");
    }
    let lock = ui.join("package-lock.json");
    let stamp = ui.join("node_modules/.package-lock.json");
    let stale = match (
        std::fs::metadata(&lock).and_then(|m| m.modified()),
        std::fs::metadata(&stamp).and_then(|m| m.modified()),
    ) {
        (Ok(l), Ok(s)) => l > s,
        _ => true,
    };
    if stale {
        eprintln!("xtask: installing npm packages (npm ci)");
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&ui))?;
    }
    run(Command::new("npm").args(["run", "build"]).current_dir(&ui))
}

fn setup(for_tests: bool) -> Result<()> {
    ensure_system_packages(APT_BUILD)?;
    if for_tests {
        ensure_system_packages(APT_TEST)?;
        ensure_tauri_driver()?;
        ensure_postgres()?;
        nats::ensure_nats()?;
        pulse::ensure_pulseaudio()?;
        ensure_python_modules(PIP_TEST)?;
    }
    build_ui()
}

/// Install missing Python modules with pip, saying which.
fn ensure_python_modules(modules: &[&str]) -> Result<()> {
    let python = if have("python3") { "python3" } else { bail!("python3 is needed by the tests' SMTP peer") };
    for module in modules {
        let present =
            Command::new(python).args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success());
        if !present {
            eprintln!("xtask: installing Python module {module} (pip)");
            let mut pip = Command::new(python);
            pip.args(["-m", "pip", "install", "--quiet"]);
            if !is_root() {
                pip.arg("--user");
            }
            run(pip.arg(module))?;
        }
    }
    Ok(())
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), std::time::Duration::from_millis(300)).is_ok()
}

/// The server's tests need PostgreSQL on 127.0.0.1:5432 (trust auth for local connections, as
/// Debian's package sets up for the postgres user). Start it, installing it first if needed.
fn ensure_postgres() -> Result<()> {
    if port_open(5432) || !cfg!(target_os = "linux") {
        return Ok(());
    }
    let installed_here = !have("pg_ctlcluster");
    if installed_here {
        ensure_system_packages(&["postgresql"])?;
    }
    let versions = std::fs::read_dir("/etc/postgresql")
        .context("PostgreSQL is installed but has no cluster in /etc/postgresql")?;
    for version in versions.flatten() {
        let version = version.file_name().to_string_lossy().into_owned();
        if installed_here {
            // A throwaway test server: loopback connections as postgres without a password.
            let hba = format!("/etc/postgresql/{version}/main/pg_hba.conf");
            let conf = std::fs::read_to_string(&hba).unwrap_or_default();
            std::fs::write(&hba, format!("host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n{conf}"))
                .with_context(|| format!("cannot write {hba}"))?;
        }
        eprintln!("xtask: starting PostgreSQL {version}");
        let _ = run(Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &version, "main", "start"]));
    }
    for _ in 0..50 {
        if port_open(5432) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    bail!("PostgreSQL did not start on 127.0.0.1:5432")
}

fn ensure_tauri_driver() -> Result<()> {
    if !cfg!(target_os = "linux") || have("tauri-driver") {
        return Ok(());
    }
    eprintln!("xtask: installing tauri-driver {TAURI_DRIVER_VERSION} (cargo install)");
    run(cargo().args(["install", "tauri-driver", "--version", TAURI_DRIVER_VERSION, "--locked"]))
}

fn demo(args: &[String]) -> Result<()> {
    setup(false)?;
    let mut cmd = cargo();
    cmd.args(["run", "-p", "okno-desktop", "--", "--demo"]).args(app_args(args));
    run(&mut cmd)
}

/// The app's arguments as the user typed them after `cargo xtask demo`: cargo users put a `--`
/// before an application's arguments out of habit, so a leading one is dropped.
fn app_args(args: &[String]) -> &[String] {
    match args.split_first() {
        Some((first, rest)) if first == "--" => rest,
        _ => args,
    }
}

fn bindings() -> Result<()> {
    run(cargo().args(["test", "-p", "okno-desk", "--lib", "--", "bindings"]).env("OKNO_BLESS", "1"))
}

fn bench() -> Result<()> {
    run(cargo().args(["bench", "-p", "okno-store", "--bench", "store"]))
}

fn test() -> Result<()> {
    setup(true)?;
    tidy::tidy(&root())?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    let ui = root().join("ui");
    run(Command::new("npm").args(["run", "check"]).current_dir(&ui))?;
    // Every runner runs even if an earlier one failed, so one run shows every failure.
    let mut failed_runs = Vec::new();
    let mut check = |what: &str, result: Result<()>| {
        if let Err(e) = result {
            eprintln!("xtask: {what} FAILED: {e:#}");
            failed_runs.push(what.to_owned());
        }
    };
    check("UI tests", run_tests(Command::new("npm").args(["test"]).current_dir(&ui)));
    // Unit and integration tests of every crate (the end-to-end crate needs a display: below).
    check("crate tests", run_tests(cargo().args(["test", "--workspace", "--exclude", "okno-e2e", "--no-fail-fast"])));
    check("end-to-end tests", end_to_end());
    check("fuzz smoke run", fuzz_smoke());
    use std::sync::atomic::Ordering;
    for failure in FAILURES.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        println!("failed: {failure}");
    }
    println!("summary: {} passed, {} failed", PASSED.load(Ordering::Relaxed), FAILED.load(Ordering::Relaxed));
    if !failed_runs.is_empty() {
        bail!("failed: {}", failed_runs.join(", "));
    }
    Ok(())
}

/// The parsers' fuzz targets, briefly, from the committed seed corpus (a crash fails the run).
/// New inputs go to a temporary directory so the repository's corpus stays as committed.
fn fuzz_smoke() -> Result<()> {
    const SECONDS: &str = "20";
    let targets = tidy::fuzz_targets(&root())?;
    let nightly = Command::new("cargo").args(["+nightly", "--version"]).output().is_ok_and(|o| o.status.success());
    if !nightly {
        // In CI a skipped fuzz pass would look like a passed one: fail instead.
        if std::env::var("CI").as_deref() == Ok("true") {
            bail!("no nightly toolchain: the fuzz smoke run (cargo-fuzz needs nightly) cannot run");
        }
        eprintln!("xtask: no nightly toolchain here: skipping the fuzz smoke run (cargo-fuzz needs nightly)");
        return Ok(());
    }
    if !have("cargo-fuzz") {
        eprintln!("xtask: installing cargo-fuzz (cargo install)");
        run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let fuzz_dir = root().join("fuzz");
    for target in &targets {
        let scratch = std::env::temp_dir().join(format!("okno-fuzz-{target}-{}", std::process::id()));
        std::fs::create_dir_all(&scratch)?;
        let seeds = fuzz_dir.join("corpus").join(target);
        let result = run(Command::new("cargo")
            .current_dir(&fuzz_dir)
            .args(["+nightly", "fuzz", "run", target])
            .arg(&scratch)
            .arg(&seeds)
            .args(["--", &format!("-max_total_time={SECONDS}")]));
        let _ = std::fs::remove_dir_all(&scratch);
        result?;
    }
    Ok(())
}

/// The real app under a virtual X display, driven through WebDriver.
fn end_to_end() -> Result<()> {
    if !cfg!(target_os = "linux") {
        eprintln!("xtask: the WebDriver tests run on Linux only (tauri-driver uses WebKitWebDriver)");
        return Ok(());
    }
    // The app, the headless phone the softphone test calls it with, and the server the sync test
    // connects desktops to.
    run(cargo().args(["build", "-p", "okno-desktop", "-p", "okno-phone", "-p", "okno-server"]))?;
    let display = free_display();
    let mut xvfb = Command::new("Xvfb")
        .args([&format!(":{display}"), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"])
        .spawn()
        .context("cannot start Xvfb")?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    let artifacts = root().join("artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let result = run_tests(
        cargo()
            .args(["test", "-p", "okno-e2e", "--", "--include-ignored", "--test-threads", "1"])
            .env("DISPLAY", format!(":{display}"))
            .env("OKNO_DESKTOP_BIN", target_dir().join("debug/okno-desktop"))
            .env("OKNO_PHONE_BIN", target_dir().join("debug/okno-phone"))
            .env("OKNO_SERVER_BIN", target_dir().join("debug/okno-server"))
            .env("OKNO_ARTIFACTS", &artifacts),
    );
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    result
}

fn free_display() -> u32 {
    (90..200)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .unwrap_or(99)
}

#[cfg(test)]
mod tests {
    use super::{FailureReader, app_args};

    #[test]
    fn failed_tests_are_picked_out_of_cargo_output_with_their_panic() {
        let output = "\
     Running tests/sim.rs (target/debug/deps/sim-0123)

running 2 tests
test converges ... FAILED
test kills ... ok

failures:

---- converges stdout ----

thread 'converges' panicked at crates/okno-sim/tests/sim.rs:40:5:
lost 1 write

failures:
    converges

test result: FAILED. 1 passed; 1 failed; 0 ignored
     Running tests/other.rs (target/debug/deps/other-4567)
test result: ok. 3 passed; 0 failed; 0 ignored";
        let mut reader = FailureReader::default();
        let mut found: Vec<String> = output.lines().filter_map(|l| reader.line(l)).collect();
        found.extend(reader.end());
        assert_eq!(
            found,
            [
                "tests/sim.rs: converges\n    thread 'converges' panicked at crates/okno-sim/tests/sim.rs:40:5:\n    lost 1 write"
            ]
        );
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_leading_double_dash_before_the_apps_arguments_is_dropped() {
        assert_eq!(app_args(&strings(&["--", "--data-dir", "D"])), strings(&["--data-dir", "D"]));
        assert_eq!(app_args(&strings(&["--data-dir", "D"])), strings(&["--data-dir", "D"]));
        assert_eq!(app_args(&strings(&["--demo-size", "large", "--"])), strings(&["--demo-size", "large", "--"]));
        assert!(app_args(&[]).is_empty());
    }
}
