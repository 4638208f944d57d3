//! Provisioning for IT teams that set up hundreds of desks: one TOML file (given with
//! `okno-desktop --provision FILE.toml`, or dropped in the config directory) names the server and
//! the SIP accounts. A password is never kept in it: the file names an environment variable that
//! holds it (`password_env`), or carries it once (`password`) to be moved into the OS keychain
//! on first start, after which the desktop rewrites the file without it.

use serde::Deserialize;

use crate::{SipAccount, SipTransport};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    /// The central server, e.g. `https://okno.example.com`.
    pub server_url: Option<String>,
    /// Who signs in to the server from this desk; without it the desk does not sync.
    #[serde(default)]
    pub server: Option<ServerSignIn>,
    #[serde(default, rename = "sip_account")]
    pub sip_accounts: Vec<ProvisionedAccount>,
    /// How this desk's phone behaves; each key left out keeps the desk's current setting.
    #[serde(default)]
    pub desk: DeskSettings,
}

/// The `[desk]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskSettings {
    /// Seconds of wrap-up after a call before the desk is Available again (10–3600).
    pub wrap_up_limit_s: Option<u32>,
    /// Global hotkeys, e.g. `Ctrl+Alt+A` (the desktop-wide answer and hang-up keys).
    pub hotkey_answer: Option<String>,
    pub hotkey_hangup: Option<String>,
    /// Bring the window to the front when a call comes in.
    pub bring_to_front: Option<bool>,
    /// Record answered calls (both sides mixed, to the data directory's `recordings/`).
    pub record_calls: Option<bool>,
}

/// The range a wrap-up limit must be in: long enough to write a comment, short enough that a
/// forgotten wrap-up does not keep the queue waiting for an hour.
pub const WRAP_UP_LIMIT_S: std::ops::RangeInclusive<u32> = 10..=3600;

/// The `[server]` table: the account this desk signs in to `server_url` with. The password
/// itself is never in the file, only the environment variable that holds it; after the first
/// sign-in a refresh token in the OS keychain keeps the desk signed in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSignIn {
    /// The operator's sign-in name on the server, e.g. `anna`.
    pub operator: String,
    /// The environment variable holding the operator's password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A PEM file with the certificate authority (or the server's own self-signed certificate)
    /// to trust for an `https://` server, besides the public roots.
    #[serde(default)]
    pub ca_file: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionedAccount {
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    pub user: String,
    pub domain: String,
    /// `host:port`; defaults to the domain on port 5060.
    #[serde(default)]
    pub registrar: Option<String>,
    #[serde(default)]
    pub transport: SipTransport,
    #[serde(default)]
    pub outbound_proxy: Option<String>,
    #[serde(default)]
    pub codecs: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A password to move into the keychain on first start.
    #[serde(default)]
    pub password: Option<String>,
    /// A PEM file to trust over TLS and WSS besides the public roots; a relative path starts at
    /// the provisioning file (see [`SipAccount::ca_file`]).
    #[serde(default)]
    pub ca_file: Option<String>,
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for ProvisionedAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisionedAccount")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password_env", &self.password_env)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("the provisioning file is not valid TOML for Okno: {0}")]
    Syntax(String),
    #[error("SIP account {id:?}: {problem}")]
    Account { id: String, problem: String },
    #[error("[server]: {0}")]
    Server(String),
    #[error("[desk]: {0}")]
    Desk(String),
}

impl Provision {
    pub fn parse(text: &str) -> Result<Provision, ProvisionError> {
        let p: Provision = toml::from_str(text).map_err(|e| ProvisionError::Syntax(e.to_string()))?;
        if let Some(server) = &p.server {
            if server.operator.trim().is_empty() {
                return Err(ProvisionError::Server("operator must not be empty".into()));
            }
            if p.server_url.is_none() {
                return Err(ProvisionError::Server("an operator is given but no server_url".into()));
            }
        }
        if let Some(limit) = p.desk.wrap_up_limit_s
            && !WRAP_UP_LIMIT_S.contains(&limit)
        {
            return Err(ProvisionError::Desk(format!(
                "wrap_up_limit_s = {limit} is outside {}–{} seconds",
                WRAP_UP_LIMIT_S.start(),
                WRAP_UP_LIMIT_S.end()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for a in &p.sip_accounts {
            let bad = |problem: &str| ProvisionError::Account { id: a.id.clone(), problem: problem.into() };
            if a.id.trim().is_empty() || !seen.insert(a.id.clone()) {
                return Err(bad("every account needs its own id"));
            }
            if a.user.trim().is_empty() || a.domain.trim().is_empty() {
                return Err(bad("user and domain are required"));
            }
            if a.password_env.is_some() && a.password.is_some() {
                return Err(bad("give password_env or password, not both"));
            }
        }
        Ok(p)
    }
}

impl ProvisionedAccount {
    /// The account as settings keep it (`has_password` is filled in by whoever knows the keychain).
    pub fn account(&self) -> SipAccount {
        SipAccount {
            id: self.id.clone(),
            label: self.label.clone().unwrap_or_else(|| format!("{}@{}", self.user, self.domain)),
            user: self.user.clone(),
            domain: self.domain.clone(),
            registrar: self.registrar.clone().unwrap_or_else(|| format!("{}:5060", self.domain)),
            transport: self.transport,
            outbound_proxy: self.outbound_proxy.clone(),
            codecs: if self.codecs.is_empty() { vec!["PCMU".into(), "PCMA".into()] } else { self.codecs.clone() },
            enabled: self.enabled,
            has_password: self.password_env.is_some() || self.password.is_some(),
            ca_file: self.ca_file.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provisioning_file_names_the_server_and_accounts() {
        let p = Provision::parse(
            r#"
            server_url = "https://okno.example.com"
            [[sip_account]]
            id = "desk"
            user = "1001"
            domain = "pbx.example.com"
            password_env = "OKNO_SIP_PASSWORD"
            "#,
        )
        .unwrap();
        assert_eq!(p.server_url.as_deref(), Some("https://okno.example.com"));
        let a = p.sip_accounts[0].account();
        assert_eq!((a.registrar.as_str(), a.label.as_str()), ("pbx.example.com:5060", "1001@pbx.example.com"));
        assert_eq!(a.codecs, ["PCMU", "PCMA"]);
        assert!(a.has_password && a.enabled);
    }

    #[test]
    fn the_server_section_names_the_operator_and_where_the_password_is() {
        let p = Provision::parse(
            "server_url = \"http://127.0.0.1:8080\"\n[server]\noperator = \"anna\"\npassword_env = \"OKNO_PASSWORD\"",
        )
        .unwrap();
        let server = p.server.unwrap();
        assert_eq!((server.operator.as_str(), server.password_env.as_deref()), ("anna", Some("OKNO_PASSWORD")));
        let e = Provision::parse("[server]\noperator = \"anna\"").unwrap_err();
        assert!(e.to_string().contains("no server_url"), "{e}");
        let e =
            Provision::parse("server_url = \"http://x\"\n[server]\noperator = \"anna\"\npassword = \"p\"").unwrap_err();
        assert!(e.to_string().contains("password"), "a password in the file is refused: {e}");
        assert!(Provision::parse("server_url = \"http://x\"").unwrap().server.is_none());
    }

    #[test]
    fn mistakes_are_named() {
        let e = Provision::parse("[[sip_account]]\nid = \"a\"\nuser = \"\"\ndomain = \"d\"").unwrap_err();
        assert!(e.to_string().contains("user and domain"), "{e}");
        let e = Provision::parse("sip_acount = 1").unwrap_err();
        assert!(e.to_string().contains("sip_acount"), "{e}");
        let twice = "[[sip_account]]\nid=\"a\"\nuser=\"u\"\ndomain=\"d\"\npassword=\"p\"\npassword_env=\"X\"";
        assert!(Provision::parse(twice).unwrap_err().to_string().contains("not both"));
        let p = Provision::parse("[[sip_account]]\nid=\"a\"\nuser=\"u\"\ndomain=\"d\"\npassword=\"hunter2\"").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"), "never in logs");
    }

    #[test]
    fn the_desk_table_sets_the_wrap_up_limit_and_hotkeys() {
        let p = Provision::parse(
            "[desk]\nwrap_up_limit_s = 90\nhotkey_answer = \"Ctrl+Shift+F9\"\nbring_to_front = false\n",
        )
        .unwrap();
        assert_eq!(p.desk.wrap_up_limit_s, Some(90));
        assert_eq!(p.desk.hotkey_answer.as_deref(), Some("Ctrl+Shift+F9"));
        assert_eq!((p.desk.hotkey_hangup, p.desk.bring_to_front), (None, Some(false)));
        assert!(Provision::parse("").unwrap().desk == DeskSettings::default());
        let err = Provision::parse("[desk]\nwrap_up_limit_s = 2\n").unwrap_err().to_string();
        assert!(err.contains("wrap_up_limit_s = 2"), "{err}");
        assert!(Provision::parse("[desk]\nwrapup = 3\n").is_err(), "unknown keys are refused");
    }
}
