//! Real mail servers (../shared/TESTING.md): Dovecot serving one account's Maildir over IMAP,
//! and aiosmtpd accepting SMTP into a Maildir of its own (the customers' side).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::{free_port, wait_for_port};

/// The support mailbox's login and password in [`Dovecot`].
pub const USER: &str = "support@shop.test";
pub const PASSWORD: &str = "secret";

/// Dovecot on a free loopback port, plain IMAP, one account ([`USER`]).
pub struct Dovecot {
    pub port: u16,
    pub run: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Dovecot {
    /// One account, [`USER`] with [`PASSWORD`].
    pub fn start() -> Dovecot {
        Dovecot::start_for(&[USER])
    }

    /// One account per name, each with [`PASSWORD`] and a Maildir of its own.
    pub fn start_for(users: &[&str]) -> Dovecot {
        Dovecot::start_with(users, "")
    }

    /// As [`Dovecot::start_for`], with `extra` appended to the configuration (for example an
    /// `imap_capability` without IDLE, to test polling).
    pub fn start_with(users: &[&str], extra: &str) -> Dovecot {
        let dovecot = ["/usr/sbin/dovecot", "/usr/bin/dovecot"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("Dovecot is not installed: `apt-get install dovecot-imapd` (cargo xtask setup installs it)");
        let run = tempfile::Builder::new().prefix("okno-dovecot-").tempdir().expect("temp dir");
        let dir = run.path();
        // Dovecot drops privileges to `nobody`: the mail home must be theirs, the rest readable.
        for sub in ["home", "state", "base"] {
            std::fs::create_dir_all(dir.join(sub)).expect("dovecot dirs");
        }
        let _ = Command::new("chmod").arg("755").arg(dir).status();
        let _ = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(dir.join("home")).status();
        let passwd: String = users.iter().map(|u| format!("{u}:{{PLAIN}}{PASSWORD}\n")).collect();
        std::fs::write(dir.join("passwd"), passwd).expect("passwd");
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
                 inet_listener imaps {{\n    port = 0\n  }}\n}}\n{extra}\n",
                d = dir.display()
            ),
        )
        .expect("dovecot.conf");
        // It daemonizes; its output goes to log_path.
        let status = Command::new(dovecot).arg("-c").arg(&config).stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(status.is_ok_and(|s| s.success()), "dovecot did not start; see {}/dovecot.log", dir.display());
        wait_for_port(port, "dovecot");
        Dovecot { port, run, config }
    }

    /// Put a message into the INBOX as a mail server's delivery would (IMAP APPEND, through
    /// Python's imaplib so that this crate needs no IMAP client of its own).
    pub fn deliver(&self, raw: &[u8]) {
        let file = self.run.path().join(format!("append-{}.eml", std::process::id()));
        std::fs::write(&file, raw).expect("message file");
        let script = "import imaplib,sys,time\n\
                      c=imaplib.IMAP4('127.0.0.1',int(sys.argv[1]))\nc.login(sys.argv[2],sys.argv[3])\n\
                      r=c.append('INBOX',None,imaplib.Time2Internaldate(time.time()),open(sys.argv[4],'rb').read())\n\
                      assert r[0]=='OK',r\nc.logout()\n";
        let out = Command::new("python3")
            .args(["-c", script, &self.port.to_string(), USER, PASSWORD])
            .arg(&file)
            .output()
            .expect("python3");
        assert!(out.status.success(), "IMAP APPEND failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The account's Maildir (owned by `nobody`).
    pub fn maildir(&self, user: &str) -> std::path::PathBuf {
        self.run.path().join("home").join(user).join("Maildir")
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

/// aiosmtpd delivering every accepted message into a Maildir.
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
                    if let Ok(bytes) = std::fs::read(entry.path()) {
                        out.push(bytes);
                    }
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
