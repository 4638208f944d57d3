//! `cargo xtask tidy`: the layering rules of docs/ARCHITECTURE.md, checked instead of hoped for.
//! `cargo xtask test` runs it first; each rule names the files or crates that break it.
//!
//! - Forbidden direct dependencies per crate, read from `cargo metadata`: okno-core is pure;
//!   the protocol crates have no runtime, sockets or database; okno-desk has no Tauri; the
//!   shell reaches the services only through okno-desk.
//! - Sans-IO: the protocol crates' code (tests aside) never reads the clock, sleeps or opens a
//!   socket; time comes in as an argument.
//! - Size: the Tauri shell at most 1,000 lines of Rust; no hand-written file in `crates/` over
//!   1,200 lines.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// (crate, direct dependencies it must not have, why)
const FORBIDDEN: &[(&str, &[&str], &str)] = &[
    (
        "okno-core",
        &["tokio", "sqlx", "tauri", "reqwest", "axum", "cpal", "okno-store", "okno-sync"],
        "domain types and pure rules: no I/O",
    ),
    (
        "okno-rules",
        &["tokio", "sqlx", "tauri", "reqwest", "axum", "okno-store", "okno-sync"],
        "the center's work rules as pure functions",
    ),
    (
        "okno-acd",
        &["tokio", "sqlx", "tauri", "reqwest", "axum", "mio", "socket2", "okno-sip", "okno-media"],
        "the call queue's decisions, sans-IO: the server carries them out",
    ),
    (
        "okno-hotline",
        &["sqlx", "tauri", "reqwest", "axum", "okno-store", "okno-server"],
        "the hotline carries calls; the server keeps its records",
    ),
    ("okno-sip", &["tokio", "sqlx", "tauri", "reqwest", "axum", "mio", "socket2"], "sans-IO SIP and SDP"),
    ("okno-media", &["tokio", "sqlx", "tauri", "reqwest", "axum", "mio", "socket2", "cpal"], "sans-IO media"),
    (
        "okno-softphone",
        &["tokio", "sqlx", "tauri", "reqwest", "okno-sip", "okno-store"],
        "the desk's phone as pure state",
    ),
    (
        "okno-sync-client",
        &["tauri", "okno-sip", "okno-phone", "okno-media", "okno-audio", "okno-server", "axum"],
        "a desk's sync and nothing else: the app and okno-sim share it",
    ),
    (
        "okno-desk",
        &["tauri", "tauri-build", "tauri-plugin-global-shortcut", "wry", "tao"],
        "the desk's services, no Tauri",
    ),
    (
        "okno-desktop",
        &[
            "okno-sip",
            "okno-phone",
            "okno-store",
            "okno-sync",
            "okno-sync-client",
            "okno-audio",
            "okno-media",
            "okno-softphone",
            "sqlx",
            "reqwest",
        ],
        "the shell forwards to okno-desk and keeps only what needs a window",
    ),
];

/// Source folders whose code must take time as an input (tests are exempt).
const SANS_IO: &[&str] = &[
    "crates/okno-sip/src",
    "crates/okno-media/src",
    "crates/okno-softphone/src",
    "crates/okno-core/src",
    "crates/okno-rules/src",
    "crates/okno-acd/src",
    "crates/okno-phone/src/engine/control",
];
const SANS_IO_FORBIDDEN: &[&str] = &[
    "Instant::now()",
    "SystemTime::now()",
    "std::thread::sleep",
    "std::net::UdpSocket",
    "std::net::TcpStream",
    "tokio::",
];
/// okno-sync's engine and okno-phone's call control are sans-IO; the rest of each crate holds
/// their transport (the sync client, the phone engine's socket and media tasks).
const SANS_IO_FILES: &[&str] = &["crates/okno-sync/src/engine.rs", "crates/okno-phone/src/engine/control.rs"];

const SHELL_MAX_LINES: usize = 1000;
const FILE_MAX_LINES: usize = 1200;

pub(crate) fn tidy(root: &Path) -> Result<()> {
    let mut problems = Vec::new();
    problems.extend(dependency_problems(root)?);
    problems.extend(sans_io_problems(root)?);
    problems.extend(size_problems(root)?);
    if problems.is_empty() {
        println!("tidy: layering, sans-IO and size rules hold");
        return Ok(());
    }
    for p in &problems {
        eprintln!("tidy: {p}");
    }
    bail!("{} tidy problem(s)", problems.len())
}

fn dependency_problems(root: &Path) -> Result<Vec<String>> {
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).context("cargo metadata's JSON")?;
    let packages = metadata["packages"].as_array().context("no packages in cargo metadata")?;
    let mut problems = Vec::new();
    for (name, forbidden, why) in FORBIDDEN {
        let Some(package) = packages.iter().find(|p| p["name"] == *name) else {
            problems.push(format!("crate {name} is named in the tidy rules but not in the workspace"));
            continue;
        };
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            // Dev-dependencies may be anything: tests start real peers.
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if forbidden.contains(&dep_name) {
                problems.push(format!("{name} depends on {dep_name}, which it must not ({why})"));
            }
        }
    }
    Ok(problems)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The code of a file without its tests: everything before the first `#[cfg(test)]`.
fn code_without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name == "tests.rs" || name.ends_with("_tests.rs") || path.components().any(|c| c.as_os_str() == "tests")
}

fn sans_io_problems(root: &Path) -> Result<Vec<String>> {
    let mut files: Vec<PathBuf> = SANS_IO.iter().flat_map(|d| rust_files(&root.join(d))).collect();
    files.extend(SANS_IO_FILES.iter().map(|f| root.join(f)));
    let mut problems = Vec::new();
    for path in files.iter().filter(|p| !is_test_file(p)) {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        for (n, line) in code_without_tests(&text).lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in SANS_IO_FORBIDDEN.iter().filter(|w| code.contains(*w)) {
                problems.push(format!(
                    "{}:{}: `{word}` in sans-IO code: take the time or the I/O as an input",
                    relative(root, path),
                    n + 1
                ));
            }
        }
    }
    Ok(problems)
}

fn line_count(path: &Path) -> Result<usize> {
    Ok(std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?.lines().count())
}

fn size_problems(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let shell: usize = rust_files(&root.join("src-tauri/src")).iter().map(|f| line_count(f)).sum::<Result<_>>()?;
    if shell > SHELL_MAX_LINES {
        problems.push(format!(
            "src-tauri has {shell} lines of Rust (at most {SHELL_MAX_LINES}): move services into okno-desk"
        ));
    }
    for path in rust_files(&root.join("crates")) {
        let lines = line_count(&path)?;
        if lines > FILE_MAX_LINES {
            problems.push(format!(
                "{} has {lines} lines (at most {FILE_MAX_LINES}): split it by role",
                relative(root, &path)
            ));
        }
    }
    Ok(problems)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// The fuzz targets, read from fuzz/Cargo.toml's `[[bin]]` tables, so the smoke run can never
/// leave one out.
pub(crate) fn fuzz_targets(root: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).context("cannot read fuzz/Cargo.toml")?;
    let mut targets = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(value) = line.strip_prefix("name").map(str::trim).and_then(|l| l.strip_prefix('='))
        {
            targets.push(value.trim().trim_matches('"').to_owned());
        }
    }
    if targets.is_empty() {
        bail!("fuzz/Cargo.toml names no [[bin]] targets");
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_is_tidy() {
        tidy(&crate::root()).unwrap();
    }

    #[test]
    fn every_fuzz_target_has_a_committed_seed_corpus_and_a_source() {
        let root = crate::root();
        let targets = fuzz_targets(&root).unwrap();
        assert!(targets.contains(&"sip_message".to_owned()), "{targets:?}");
        for t in &targets {
            assert!(root.join("fuzz/corpus").join(t).is_dir(), "no seed corpus for {t}");
            assert!(root.join("fuzz/fuzz_targets").join(format!("{t}.rs")).is_file(), "no source for {t}");
        }
    }

    #[test]
    fn tests_are_cut_off_before_the_scan() {
        let text = "fn a() {}\n#[cfg(test)]\nmod tests { fn b() { Instant::now(); } }";
        assert!(!code_without_tests(text).contains("Instant"));
        assert!(is_test_file(Path::new("crates/okno-sip/src/sdp/tests.rs")));
        assert!(!is_test_file(Path::new("crates/okno-sip/src/sdp.rs")));
    }
}
