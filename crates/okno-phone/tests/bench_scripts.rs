//! The benchmark scripts in docs/bench run as docs/BENCHMARKS.md says, from a checkout: a short
//! run of `cpu-vs-baresip.sh` against the real baresip measures both sides and leaves nothing
//! running, and a run whose subject is missing fails with a message instead of printing a
//! figure. baresip must be installed (`cargo xtask test` installs baresip-core).

mod common;
use common::*;

use std::path::PathBuf;
use std::process::Command;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/bench").join(name)
}

fn baresips_running() -> usize {
    let out = Command::new("pgrep").args(["-c", "-x", "baresip"]).output().expect("pgrep runs");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

/// Each side's "cpu% X rss Y kB" line: (name, cpu, rss).
fn figures(stdout: &str) -> Vec<(String, f64, u64)> {
    stdout
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            match words.as_slice() {
                [name, "cpu%", cpu, "rss", rss, "kB"] => {
                    Some((name.trim_end_matches(':').to_owned(), cpu.parse().ok()?, rss.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn cpu_vs_baresip_measures_both_sides_and_cleans_up() {
    require("baresip", "baresip-core");
    let before = baresips_running();
    let out = Command::new("bash")
        .arg(script("cpu-vs-baresip.sh"))
        // Run from elsewhere: the script must not depend on the caller's directory.
        .current_dir(std::env::temp_dir())
        .env("OKNO_PHONE", env!("CARGO_BIN_EXE_okno-phone"))
        .env("SECONDS_MEASURED", "2")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the script ran: {stdout}\n{stderr}");
    let figures = figures(&stdout);
    let names: Vec<&str> = figures.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["baresip", "okno-phone"], "{stdout}");
    // The script itself fails when a side sent no audio back; a CPU of 0.00 % is a share under
    // one clock tick in the short window this test measures.
    for (name, cpu, rss) in &figures {
        assert!(*cpu >= 0.0 && *rss > 1000, "{name} was measured running a call: {stdout}");
    }
    assert_eq!(baresips_running(), before, "the script left no baresip running");
}

#[test]
fn cpu_vs_baresip_without_its_subject_fails_loudly() {
    let out = Command::new("bash")
        .arg(script("cpu-vs-baresip.sh"))
        .env("OKNO_PHONE", "/nonexistent/okno-phone")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(figures(&stdout).is_empty(), "no figure is printed: {stdout}");
    assert!(stderr.contains("no okno-phone at /nonexistent/okno-phone"), "{stderr}");

    let out =
        Command::new("bash").arg(script("drift.sh")).env("OKNO_PHONE", "/nonexistent/okno-phone").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no okno-phone"));
}
