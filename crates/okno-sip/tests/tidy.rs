//! Architecture checks: the sans-IO crate reads no clock, starts no threads and
//! takes no locks (STYLE.md, recommendations 2 and 4).

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn src_is_sans_io() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    assert!(files.len() > 5);
    // Spelled in pieces so this file does not trip its own check if moved.
    let forbidden = [
        ["Instant", "::now"].concat(),
        ["SystemTime", "::now"].concat(),
        ["std::", "thread"].concat(),
        ["Mut", "ex<"].concat(),
        ["Rw", "Lock<"].concat(),
        ["tok", "io::"].concat(),
        ["std::net::", "UdpSocket"].concat(),
        ["std::", "env::"].concat(),
    ];
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for pat in &forbidden {
            assert!(!text.contains(pat.as_str()), "{} contains {pat}", f.display());
        }
    }
}
