//! Real mail servers for the mail tests: Dovecot (IMAP) and aiosmtpd (SMTP), each on a free
//! loopback port in a temporary directory, stopped when dropped. See ../shared/TESTING.md.

#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "support@shop.test";
pub const PASSWORD: &str = "secret";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Dovecot serving one account's Maildir over plain IMAP on loopback.
pub struct Dovecot {
    pub port: u16,
    pub run: tempfile::TempDir,
    config: PathBuf,
}

impl Dovecot {
    pub fn start() -> Dovecot {
        let dovecot = ["/usr/sbin/dovecot", "/usr/bin/dovecot"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("Dovecot is not installed: `apt-get install dovecot-imapd` (cargo xtask setup installs it)");
        let run = tempfile::Builder::new().prefix("okno-dovecot-").tempdir().expect("temp dir");
        let dir = run.path();
        // Dovecot drops privileges to `nobody`: every directory it reads must be reachable.
        for sub in ["home", "state", "base"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let _ = Command::new("chmod").arg("755").arg(dir).status();
        let _ = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(dir.join("home")).status();
        std::fs::write(dir.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let port = free_port();
        let config = dir.join("dovecot.conf");
        std::fs::write(
            &config,
            format!(
                "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {d}/base\nstate_dir = {d}/state\n\
                 log_path = {d}/dovecot.log\nssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
                 passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/home/%u\n}}\n\
                 mail_location = maildir:~/Maildir\n\
                 service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  \
                 inet_listener imaps {{\n    port = 0\n  }}\n}}\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let status = Command::new(dovecot).arg("-c").arg(&config).stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(status.is_ok_and(|s| s.success()), "dovecot did not start; see {}/dovecot.log", dir.display());
        wait_for_port(port, "dovecot");
        Dovecot { port, run, config }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.run.path().join("dovecot.log")).unwrap_or_default()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm").arg("-c").arg(&self.config).arg("stop").stderr(Stdio::null()).status();
    }
}

/// aiosmtpd delivering every accepted message into a Maildir: the customers' side.
pub struct SmtpSink {
    pub port: u16,
    pub maildir: tempfile::TempDir,
    child: Child,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let maildir = tempfile::Builder::new().prefix("okno-smtp-").tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            // A path that does not exist yet: Python's Maildir creates tmp/new/cur only then.
            .arg(maildir.path().join("Maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (`pip install aiosmtpd`; cargo xtask setup installs it)");
        wait_for_port(port, "aiosmtpd");
        SmtpSink { port, maildir, child }
    }

    /// Every message delivered so far, as raw bytes.
    pub fn delivered(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.path().join("Maildir").join(sub)) {
                for entry in entries.flatten() {
                    out.push(std::fs::read(entry.path()).unwrap());
                }
            }
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An IMAP session as the mail's sender would have it: to put messages into the mailbox.
pub async fn imap(port: u16) -> async_imap::Session<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    client.login(USER, PASSWORD).await.map_err(|(e, _)| e).unwrap()
}

/// Wait until `check` returns Some, polling; panics with `what` after `timeout`.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
