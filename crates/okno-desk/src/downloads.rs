//! Saving a downloaded attachment where the operator looks for files: the user's Downloads
//! folder (the desk's data directory when there is none), under the sender's file name made safe
//! for the file system, never overwriting a file already there.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Save `bytes` as `name`; returns the path written.
pub(crate) fn save(data_dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    save_into(&downloads_folder().unwrap_or_else(|| data_dir.join("downloads")), name, bytes)
}

fn save_into(folder: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(folder)?;
    let safe = safe_name(name);
    let (stem, extension) = match safe.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem.to_owned(), format!(".{ext}")),
        _ => (safe.clone(), String::new()),
    };
    for n in 0..1000 {
        let candidate = if n == 0 { folder.join(&safe) } else { folder.join(format!("{stem} ({n}){extension}")) };
        // `create_new` so two downloads of the same name never overwrite each other.
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&candidate) {
            Ok(mut file) => {
                file.write_all(bytes)?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("a thousand files of this name already"))
}

fn downloads_folder() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"))?;
    let folder = PathBuf::from(home).join("Downloads");
    folder.is_dir().then_some(folder)
}

/// A sender's file name with no path in it and nothing a file system refuses.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| if c.is_control() || "<>:\"|?*".contains(c) { '_' } else { c })
        .collect::<String>()
        .trim_matches([' ', '.'])
        .chars()
        .take(150)
        .collect();
    if cleaned.is_empty() { "attachment".to_owned() } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_cannot_name_a_path_and_nothing_is_overwritten() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\\\Windows\\\\evil.exe"), "evil.exe");
        assert_eq!(safe_name("счёт: март?.pdf"), "счёт_ март_.pdf");
        assert_eq!(safe_name(".."), "attachment");
        let dir = tempfile::tempdir().unwrap();
        let first = save_into(dir.path(), "receipt.pdf", b"one").unwrap();
        let second = save_into(dir.path(), "receipt.pdf", b"two").unwrap();
        assert_eq!(first.file_name().unwrap(), "receipt.pdf");
        assert_eq!(second.file_name().unwrap(), "receipt (1).pdf");
        assert_eq!(std::fs::read(first).unwrap(), b"one");
        assert_eq!(std::fs::read(second).unwrap(), b"two");
    }
}
