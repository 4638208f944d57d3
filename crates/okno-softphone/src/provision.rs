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
    #[serde(default, rename = "sip_account")]
    pub sip_accounts: Vec<ProvisionedAccount>,
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
}

impl Provision {
    pub fn parse(text: &str) -> Result<Provision, ProvisionError> {
        let p: Provision = toml::from_str(text).map_err(|e| ProvisionError::Syntax(e.to_string()))?;
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
}
