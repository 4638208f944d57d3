//! One running app per data directory. Two processes writing one store would each believe
//! their outbox order is the truth; so the second launch hands over to the first (its window
//! comes to the front) and exits.
//!
//! The lock is an OS file lock on `okno.lock` (released by the OS if the process dies); the
//! hand-over is one line over a loopback TCP port written in that file.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

pub(crate) enum Instance {
    /// This process is the only one: keep the guard for the life of the process.
    First(Guard),
    /// Another process already runs on this data directory and was asked to show its window.
    AlreadyRunning,
}

pub(crate) struct Guard {
    _lock: File,
    listener: TcpListener,
}

impl Guard {
    /// Call `show` whenever a later launch asks for the window.
    pub(crate) fn on_show(self, show: impl Fn() + Send + 'static) {
        let Guard { _lock: lock, listener } = self;
        std::thread::spawn(move || {
            // The lock lives as long as this thread, which lives as long as the process.
            let _lock = lock;
            for stream in listener.incoming().flatten() {
                let mut line = String::new();
                let _ = stream.take(16).read_to_string(&mut line);
                if line.trim() == "show" {
                    show();
                }
            }
        });
    }
}

pub(crate) fn acquire(data_dir: &Path) -> std::io::Result<Instance> {
    let path = data_dir.join("okno.lock");
    let mut file = std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path)?;
    match file.try_lock() {
        Ok(()) => {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "{}", listener.local_addr()?.port())?;
            file.flush()?;
            Ok(Instance::First(Guard { _lock: file, listener }))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let port: Option<u16> = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse().ok());
            if let Some(port) = port
                && let Ok(mut stream) =
                    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))
            {
                let _ = stream.write_all(b"show\n");
            }
            Ok(Instance::AlreadyRunning)
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_second_launch_hands_over_to_the_first() {
        let dir = tempfile_dir();
        let Instance::First(guard) = acquire(&dir).unwrap() else { panic!("first launch owns the directory") };
        let shown = Arc::new(AtomicBool::new(false));
        let flag = shown.clone();
        guard.on_show(move || flag.store(true, Ordering::SeqCst));
        // The second launch runs in another process in real life; a second open file
        // description in this process is locked out the same way.
        assert!(matches!(acquire(&dir).unwrap(), Instance::AlreadyRunning));
        for _ in 0..50 {
            if shown.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the first instance was not asked to show its window");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "okno-single-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
