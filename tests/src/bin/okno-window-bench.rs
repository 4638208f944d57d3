//! Window figures for docs/BENCHMARKS.md: cold start to the first painted inbox, scrolling the
//! whole inbox, and the memory that costs — for Okno (Tauri/WebKitGTK) and for the same UI in
//! headless Chromium fed by `okno-desktop --serve-http` from the same store.
//!
//! Needs a display, tauri-driver, chromedriver and a store (default: the large demo that
//! `cargo xtask bench` leaves in /tmp/okno-bench-large):
//!   okno-window-bench [--data-dir DIR] [--app PATH]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use okno_e2e::{Driver, Session, memory_of, process_tree};

const WAIT: Duration = Duration::from_secs(120);

/// Scroll the inbox from top to bottom a screen at a time, one step per animation frame, and
/// report how long it took and how many frames were slower than 50 ms.
const SCROLL_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
// Every ticket, not only the open ones the inbox starts with.
document.querySelector('[data-testid=rail-all]').click();
let start = 0, last = 0, slow = 0, frames = 0, scroller = null;
function step(now) {
  frames++;
  if (now - last > 50) slow++;
  last = now;
  scroller.scrollTop += scroller.clientHeight * 3;
  if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 2) {
    setTimeout(() => done({ ms: performance.now() - start, frames, slow, height: scroller.scrollHeight,
      rows: document.querySelectorAll('[data-testid=ticket-row]').length }), 1500);
  } else {
    requestAnimationFrame(step);
  }
}
setTimeout(() => {
  const list = document.querySelector('[data-testid=ticket-list]');
  scroller = [list, ...list.querySelectorAll('*')].find(e => e.scrollHeight > e.clientHeight + 10);
  start = last = performance.now();
  requestAnimationFrame(step);
}, 2000);
"#;

fn scroll_and_report(name: &str, s: &Session) -> Result<()> {
    let r = s.execute_async(SCROLL_SCRIPT)?;
    println!(
        "{name:<9} scrolled the whole inbox ({} rows, {} px) in {:.1} s: {} frames, {} slower than 50 ms; {} rows in the DOM at the end",
        r["height"].as_f64().unwrap_or(0.0) / 64.0,
        r["height"],
        r["ms"].as_f64().unwrap_or(0.0) / 1e3,
        r["frames"],
        r["slow"],
        r["rows"]
    );
    Ok(())
}

/// Memory per process name, largest first, for the report.
fn breakdown(pids: &[u32]) -> String {
    let mut parts: Vec<(String, f64)> = pids
        .iter()
        .map(|pid| {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_owned();
            (name, memory_of(&[*pid]).pss_mb)
        })
        .filter(|(_, mb)| *mb > 0.0)
        .collect();
    parts.sort_by(|a, b| b.1.total_cmp(&a.1));
    parts.iter().map(|(n, mb)| format!("{n} {mb:.0}")).collect::<Vec<_>>().join(", ")
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut data_dir = PathBuf::from("/tmp/okno-bench-large");
    let mut app = okno_e2e::app_binary().ok();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data-dir" => data_dir = args.next().context("--data-dir DIR")?.into(),
            "--app" => app = Some(args.next().context("--app PATH")?.into()),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    let app = app.context("pass --app PATH or set OKNO_DESKTOP_BIN")?;
    anyhow::ensure!(
        data_dir.join("okno.db").exists(),
        "no store at {}: run `cargo xtask bench` first",
        data_dir.display()
    );
    let dir_arg = data_dir.display().to_string();

    // Okno: the real app through tauri-driver.
    let driver = Driver::start()?;
    let log_path = data_dir.join("okno.log");
    let log_start = std::fs::metadata(&log_path).map(|m| m.len() as usize).unwrap_or(0);
    let t = Instant::now();
    let mut s = driver.launch(&app, &["--data-dir".to_owned(), dir_arg.clone()])?;
    s.wait_for("[data-testid=ticket-row][data-ticket-id]", WAIT)?;
    let cold = t.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let log = std::fs::read_to_string(&log_path).unwrap_or_default().get(log_start..).unwrap_or_default().to_owned();
    let first_paint = log
        .lines()
        .rev()
        .find_map(|l| l.split("first_paint_ms=").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("?")
        .to_owned();
    println!(
        "okno      cold start to first painted inbox: {:.0} ms (WebDriver view), {first_paint} ms (app's own: process start → UI ready)",
        cold.as_secs_f64() * 1e3
    );
    let tree = process_tree(driver.pid());
    let before = memory_of(&tree[1..]);
    scroll_and_report("okno", &s)?;
    let after = memory_of(&process_tree(driver.pid())[1..]);
    println!(
        "okno      memory: {} processes, RSS {:.0} MB → {:.0} MB after scrolling, PSS {:.0} MB → {:.0} MB",
        after.processes, before.rss_mb, after.rss_mb, before.pss_mb, after.pss_mb
    );
    s.quit()?;
    drop(driver);

    // The same UI in Chromium, its commands served by okno-desktop --serve-http.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut bridge = std::process::Command::new(&app)
        .args(["--data-dir", &dir_arg, "--serve-http", &format!("127.0.0.1:{port}")])
        .env("OKNO_BRIDGE_TOKEN", okno_e2e::BRIDGE_TOKEN)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    std::thread::sleep(Duration::from_secs(2));
    let chrome = Driver::start_chromedriver()?;
    let t = Instant::now();
    let mut c =
        chrome.launch_chromium(&format!("http://127.0.0.1:{port}/?backend=http#token={}", okno_e2e::BRIDGE_TOKEN))?;
    c.wait_for("[data-testid=ticket-row][data-ticket-id]", WAIT)?;
    println!("chromium  cold start to first painted inbox: {:.0} ms (WebDriver view)", t.elapsed().as_secs_f64() * 1e3);
    let before = memory_of(&process_tree(chrome.pid())[1..]);
    scroll_and_report("chromium", &c)?;
    let after = memory_of(&process_tree(chrome.pid())[1..]);
    let served = memory_of(&[bridge.id()]);
    println!("chromium  PSS by process (MB): {}", breakdown(&process_tree(chrome.pid())[1..]));
    println!(
        "chromium  memory: {} processes, RSS {:.0} MB → {:.0} MB after scrolling, PSS {:.0} MB → {:.0} MB (plus the HTTP bridge holding the store: PSS {:.0} MB)",
        after.processes, before.rss_mb, after.rss_mb, before.pss_mb, after.pss_mb, served.pss_mb
    );
    c.quit()?;
    drop(chrome);
    let _ = bridge.kill();
    let _ = bridge.wait();
    Ok(())
}
