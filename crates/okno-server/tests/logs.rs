//! The real `okno-server` binary's log as an operator of the server reads it: written to a file
//! (as a service manager or `> server.log` does), it carries no terminal colour codes; with
//! `--log-format json` every line is one JSON object a log collector can parse.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;

/// Start the server on a free port with stderr in a file, wait until it says it listens, stop
/// it, and return what it wrote.
async fn run_server_and_read_log(extra_args: &[&str]) -> String {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_okno-server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(extra_args)
        .env("DATABASE_URL", &db.url)
        .env_remove("NATS_URL")
        .env_remove("OKNO_LOG_FORMAT")
        .env("OKNO_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("okno-server listening") || Instant::now() > deadline {
            break text;
        }
        if let Some(status) = server.try_wait().unwrap() {
            panic!("okno-server exited with {status} before listening:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(text.contains("okno-server listening"), "the server said it listens:\n{text}");
    text
}

#[tokio::test]
async fn a_log_written_to_a_file_has_no_colour_codes() {
    let text = run_server_and_read_log(&[]).await;
    assert!(!text.contains('\u{1b}'), "no ANSI escape codes in a file:\n{text:?}");
    assert!(text.contains("INFO"), "the level is written as text:\n{text}");
}

#[tokio::test]
async fn the_json_log_format_writes_one_object_per_line() {
    let text = run_server_and_read_log(&["--log-format", "json"]).await;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {line:?} is not JSON: {e}"));
        assert!(value.get("level").is_some() && value.get("timestamp").is_some(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("okno-server listening")));
}

#[test]
fn an_unknown_log_format_is_refused_with_the_choices() {
    let out = Command::new(env!("CARGO_BIN_EXE_okno-server"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "xml"])
        .env("DATABASE_URL", "postgres://127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("xml") && stderr.contains("json"), "{stderr}");
}
