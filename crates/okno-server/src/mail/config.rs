//! The mailboxes in `okno-server --config FILE.toml`: one `[[email]]` table each, and the limits
//! in `[mail]` (the file as a whole is read by [`crate::config_file`]). A config that cannot work
//! is refused at start with the key and the reason, never discovered at the first message.
//! Passwords are named, not written: `password_env` says which environment variable holds one,
//! and [`Password`] never prints it.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

pub use crate::config_file::ConfigError;
use crate::config_file::error;

/// A mailbox password, read from the environment at start; shown as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub(crate) String);

impl Password {
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain TCP; STARTTLS when the server offers it.
    StartTlsIfOffered,
    /// TLS from the first byte (`imaps://`, `smtps://`).
    Implicit,
}

/// Where and how to reach a mail server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub security: Security,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: String,
    /// Queue id or name as written; the server resolves it to an id at start.
    pub queue: String,
    pub address: String,
    pub imap: Endpoint,
    pub smtp: Endpoint,
    pub password: Password,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    pub mailboxes: Vec<Mailbox>,
    /// Attachments over this are left out of the ticket with a note.
    pub max_attachment_bytes: usize,
    /// How often a mailbox whose server has no IDLE is polled, and the longest IDLE before
    /// it is renewed.
    pub poll_interval: Duration,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            mailboxes: Vec::new(),
            max_attachment_bytes: 25 * 1024 * 1024,
            poll_interval: Duration::from_secs(60),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Limits {
    max_attachment_mb: Option<u64>,
    poll_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMailbox {
    name: String,
    queue: String,
    address: String,
    imap: String,
    smtp: String,
    password_env: String,
}

impl MailConfig {
    /// Parse a config file's text; `env` looks up environment variables (the process's own in
    /// the binary, a map in tests).
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<MailConfig, ConfigError> {
        crate::config_file::ConfigFile::parse(text, env).map(|file| file.mail)
    }

    pub(crate) fn from_file(
        limits: Option<Limits>,
        mailboxes: Vec<RawMailbox>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<MailConfig, ConfigError> {
        let mut config = MailConfig::default();
        if let Some(limits) = limits {
            if let Some(mb) = limits.max_attachment_mb {
                if mb == 0 || mb > 1024 {
                    return Err(error("mail.max_attachment_mb", "must be 1 to 1024"));
                }
                config.max_attachment_bytes = usize::try_from(mb * 1024 * 1024).unwrap_or(usize::MAX);
            }
            if let Some(seconds) = limits.poll_seconds {
                if !(1..=3600).contains(&seconds) {
                    return Err(error("mail.poll_seconds", "must be 1 to 3600"));
                }
                config.poll_interval = Duration::from_secs(seconds);
            }
        }
        for (i, raw) in mailboxes.into_iter().enumerate() {
            let key = |field: &str| format!("email[{i}].{field}");
            if raw.name.trim().is_empty() {
                return Err(error(key("name"), "must not be empty"));
            }
            if config.mailboxes.iter().any(|m| m.name == raw.name) {
                return Err(error(key("name"), format!("{:?} is used by another mailbox", raw.name)));
            }
            if raw.queue.trim().is_empty() {
                return Err(error(key("queue"), "must name a queue (id or name)"));
            }
            if raw.address.parse::<lettre::Address>().is_err() {
                return Err(error(key("address"), format!("{:?} is not an email address", raw.address)));
            }
            let imap = endpoint(&raw.imap, ("imap", 143), ("imaps", 993)).map_err(|r| error(key("imap"), r))?;
            if imap.user.is_none() {
                return Err(error(key("imap"), "needs the user to sign in as: imap://USER@HOST:PORT"));
            }
            let smtp = endpoint(&raw.smtp, ("smtp", 587), ("smtps", 465)).map_err(|r| error(key("smtp"), r))?;
            let password = env(&raw.password_env).filter(|p| !p.is_empty()).ok_or_else(|| {
                error(key("password_env"), format!("the environment variable {} is not set", raw.password_env))
            })?;
            config.mailboxes.push(Mailbox {
                name: raw.name,
                queue: raw.queue,
                address: raw.address.to_lowercase(),
                imap,
                smtp,
                password: Password(password),
            });
        }
        Ok(config)
    }
}

/// `SCHEME://[USER@]HOST[:PORT]` with the plain and the TLS scheme and their default ports.
fn endpoint(text: &str, plain: (&str, u16), tls: (&str, u16)) -> Result<Endpoint, String> {
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    let (security, default_port) = match url.scheme() {
        s if s == plain.0 => (Security::StartTlsIfOffered, plain.1),
        s if s == tls.0 => (Security::Implicit, tls.1),
        other => return Err(format!("scheme {other:?}: say {}:// or {}://", plain.0, tls.0)),
    };
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| format!("{text:?} has no host"))?;
    if url.password().is_some() {
        return Err("the password does not belong in the URL: use password_env".into());
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() {
        return Err(format!("{text:?}: only SCHEME://USER@HOST:PORT is understood"));
    }
    let user = (!url.username().is_empty()).then(|| percent_decode(url.username())).transpose()?;
    Ok(Endpoint {
        host: host.trim_start_matches('[').trim_end_matches(']').to_owned(),
        port: url.port().unwrap_or(default_port),
        user,
        security,
    })
}

/// A user name like `support%40shop.test` (an address as the IMAP login) decoded.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or("a broken %-escape in the user name")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "a broken %-escape in the user name")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the user name is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "SUPPORT_PW").then(|| "s3cret".to_owned())
    }

    const GOOD: &str = r#"
[mail]
max_attachment_mb = 10
poll_seconds = 30

[[email]]
name = "support"
queue = "email"
address = "Support@Shop.test"
imap = "imap://support%40shop.test@127.0.0.1:1143"
smtp = "smtp://127.0.0.1:2525"
password_env = "SUPPORT_PW"

[[email]]
name = "billing"
queue = "Billing"
address = "billing@shop.test"
imaps = "x"
"#;

    #[test]
    fn a_good_file_reads_whole_and_its_password_never_prints() {
        let text = GOOD.split("[[email]]\nname = \"billing\"").next().unwrap();
        let config = MailConfig::parse(text, env).expect("valid");
        assert_eq!(config.max_attachment_bytes, 10 * 1024 * 1024);
        assert_eq!(config.poll_interval, Duration::from_secs(30));
        let m = &config.mailboxes[0];
        assert_eq!(m.address, "support@shop.test");
        assert_eq!(
            m.imap,
            Endpoint {
                host: "127.0.0.1".into(),
                port: 1143,
                user: Some("support@shop.test".into()),
                security: Security::StartTlsIfOffered
            }
        );
        assert_eq!(m.smtp.port, 2525);
        assert_eq!(m.smtp.user, None);
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn a_bad_file_is_refused_with_the_key_and_the_reason() {
        let base = "[[email]]\nname = \"support\"\nqueue = \"email\"\naddress = \"support@shop.test\"\n\
                    imap = \"imap://u@h\"\nsmtp = \"smtp://h\"\npassword_env = \"SUPPORT_PW\"\n";
        let cases = [
            (base.replace("imap://u@h", "pop3://u@h"), "email[0].imap", "scheme"),
            (base.replace("imap://u@h", "imap://h"), "email[0].imap", "user"),
            (base.replace("imap://u@h", "imap://u:pw@h"), "email[0].imap", "password_env"),
            (base.replace("smtp://h", "smtp:/"), "email[0].smtp", "host"),
            (base.replace("support@shop.test", "not-an-address"), "email[0].address", "not an email address"),
            (base.replace("SUPPORT_PW", "MISSING_PW"), "email[0].password_env", "MISSING_PW is not set"),
            (format!("{base}{base}"), "email[1].name", "used by another mailbox"),
            (base.replace("queue = \"email\"", "queue = \"\""), "email[0].queue", "must name a queue"),
            (format!("{base}colour = \"red\"\n"), "line 8", "unknown field"),
            (format!("[mail]\nmax_attachment_mb = 0\n{base}"), "mail.max_attachment_mb", "1 to 1024"),
        ];
        for (text, key, reason) in cases {
            let e = MailConfig::parse(&text, env).expect_err(&text);
            assert_eq!(e.key, key, "{text}");
            assert!(e.reason.contains(reason), "{}: {e}", key);
        }
        assert!(MailConfig::parse(GOOD, env).is_err(), "unknown key imaps");
    }
}
