//! `okno-server --config FILE.toml` as a whole: the mailboxes ([`crate::mail::config`]) and the
//! website's chat channels ([`crate::chat::config`]). Unknown keys are refused with their line, so
//! a misspelt setting is found at start, not guessed at in production.

use serde::Deserialize;

use crate::chat::config::ChatConfig;
use crate::mail::config::MailConfig;

/// A config file problem: the key (as written, `email[1].imap`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

pub(crate) fn error(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError { key: key.into(), reason: reason.into() }
}

/// Everything a config file sets.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    pub mail: MailConfig,
    pub chat: ChatConfig,
    /// Calls from the website (`[calls]`), if the center takes them.
    pub calls: Option<okno_gateway::GatewayConfig>,
    /// Satisfaction marks after closed contacts (`[csat]`).
    pub csat: Option<crate::work::csat::CsatConfig>,
    /// The call queue behind the center's number (`[hotline]`).
    pub hotline: Option<crate::hotline::HotlineSettings>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    mail: Option<crate::mail::config::Limits>,
    #[serde(default)]
    email: Vec<crate::mail::config::RawMailbox>,
    #[serde(default)]
    widget: Option<crate::chat::config::RawLimits>,
    #[serde(default)]
    chat: Vec<crate::chat::config::RawChannel>,
    #[serde(default)]
    calls: Option<crate::chat::calls::RawCalls>,
    #[serde(default)]
    csat: Option<crate::work::csat::RawCsat>,
    #[serde(default)]
    hotline: Option<crate::hotline::RawHotline>,
}

impl ConfigFile {
    /// Parse a config file's text; `env` looks up environment variables (the process's own in
    /// the binary, a map in tests).
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<ConfigFile, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| {
            let key = e.span().map(|s| format!("line {}", line_of(text, s.start))).unwrap_or_else(|| "file".into());
            error(key, e.message().to_owned())
        })?;
        let mail = MailConfig::from_file(file.mail, file.email, &env)?;
        let mailboxes: Vec<&str> = mail.mailboxes.iter().map(|m| m.name.as_str()).collect();
        let chat = ChatConfig::from_file(file.widget, file.chat, &mailboxes)?;
        let calls = file.calls.map(|raw| crate::chat::calls::from_file(raw, &env)).transpose()?;
        if calls.is_none()
            && let Some(i) = chat.channels.iter().position(|c| c.calls)
        {
            return Err(error(format!("chat[{i}].calls"), "needs a [calls] table: where website calls go"));
        }
        let csat = file.csat.map(crate::work::csat::CsatConfig::from_file).transpose()?;
        let hotline = file.hotline.map(|raw| crate::hotline::from_file(raw, &env)).transpose()?;
        Ok(ConfigFile { mail, chat, calls, csat, hotline })
    }
}

/// A secret named by an environment variable in the config (`password_env = "VAR"`): the
/// variable must be set and not empty; secrets never stand in the file itself.
pub(crate) fn secret_from_env(
    key: &str,
    var: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    var.map(|var| {
        env(var)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| error(key, format!("the environment variable {var} is not set")))
    })
    .transpose()
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}
