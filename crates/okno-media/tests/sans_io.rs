//! Tidy check for the crate's invariants: library code (outside `#[cfg(test)]`
//! modules, comments aside) reads no clock, draws no randomness, and does no I/O or threading.

const SOURCES: &[(&str, &str)] = &[
    ("lib.rs", include_str!("../src/lib.rs")),
    ("rtp.rs", include_str!("../src/rtp.rs")),
    ("rtcp.rs", include_str!("../src/rtcp.rs")),
    ("g711.rs", include_str!("../src/g711.rs")),
    ("opus.rs", include_str!("../src/opus.rs")),
    ("dtmf.rs", include_str!("../src/dtmf.rs")),
    ("jitter.rs", include_str!("../src/jitter.rs")),
    ("quality.rs", include_str!("../src/quality.rs")),
    ("resample.rs", include_str!("../src/resample.rs")),
    ("session.rs", include_str!("../src/session.rs")),
    ("srtp.rs", include_str!("../src/srtp.rs")),
];

const FORBIDDEN: &[&str] = &[
    "Instant::now",
    "SystemTime",
    "rand::",
    "getrandom",
    "std::net",
    "std::fs",
    "std::thread",
    "Mutex",
    "tokio",
    "env::var",
];

#[test]
fn library_code_is_sans_io() {
    let listed: Vec<&str> = SOURCES.iter().map(|(n, _)| *n).collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(on_disk, expected, "list every source file here");

    for (name, text) in SOURCES {
        // Test modules come last in each file; only the code before them is checked.
        let library = text.split("#[cfg(test)]").next().unwrap_or(text);
        for (i, line) in library.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue; // docs may talk about the driver's clock and tasks
            }
            for word in FORBIDDEN {
                assert!(!line.contains(word), "{name}:{}: {word} outside tests", i + 1);
            }
        }
    }
}
