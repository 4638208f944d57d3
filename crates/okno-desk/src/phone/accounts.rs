//! SIP accounts as settings keep them, the engine config built from one, and provisioning files.

use std::net::SocketAddr;

use okno_phone::engine::{self, EngineConfig};
use okno_softphone::provision::Provision;
use okno_softphone::{SipAccount, SipTransport};
use okno_store::Store;

use super::{ACCOUNTS_KEY, RECORD_KEY, Result, StoredAccount, WRAP_UP_KEY};
use crate::error::{ErrorCode, UiError};
use crate::secrets::{SecretStore, sip_key};

/// The headless engine config for an account: listen on the local address that reaches the registrar.
pub(super) fn engine_config(
    account: &SipAccount,
    password: Option<String>,
) -> std::result::Result<EngineConfig, String> {
    // Every request goes to the outbound proxy when there is one (RFC 3261 §8.1.2), else to the
    // registrar; the REGISTER still names the account's domain.
    let (what, host) = match account.outbound_proxy.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(proxy) => ("outbound proxy", proxy.trim_start_matches("sip:")),
        None => ("registrar", account.registrar.as_str()),
    };
    let registrar: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(host)
        .map_err(|e| format!("cannot resolve the {what} {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("the {what} {host} has no address"))?;
    // Unspecified: the engine advertises the address of the interface that routes to the registrar.
    let any = if registrar.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let mut config = EngineConfig::new(SocketAddr::new(any, 0));
    config.account = Some(
        okno_sip::uri::Uri::parse(&format!("sip:{}@{}", account.user, account.domain)).map_err(|e| e.to_string())?,
    );
    config.registrar = Some(registrar);
    config.transport = match account.transport {
        SipTransport::Udp => engine::Transport::Udp,
        SipTransport::Tcp => engine::Transport::Tcp,
        SipTransport::Tls | SipTransport::Wss => {
            // The PBX's certificate must chain to the Mozilla roots and name the host the
            // account reaches it by; keys sent over TLS protect the call, so SRTP is required.
            let name = host.rsplit_once(':').map_or(host, |(h, _)| h).trim_matches(['[', ']']);
            let ca = match account.ca_file.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
                Some(file) => Some(std::fs::read(file).map_err(|e| format!("the account's CA file {file}: {e}"))?),
                None => None,
            };
            config.tls = Some(engine::SipTls::new(ca.as_deref(), name).map_err(|e| e.to_string())?);
            config.srtp = okno_sip::sdp::SrtpPolicy::Require;
            if account.transport == SipTransport::Tls { engine::Transport::Tls } else { engine::Transport::Wss }
        }
        SipTransport::Ws => engine::Transport::Ws,
    };
    // A peer's REFER may move the call only within the account's PBX (its domain or the
    // registrar's address), never make the desk dial out elsewhere.
    config.refer_hosts = Some(vec![account.domain.clone(), registrar.ip().to_string()]);
    config.password = password;
    if !account.codecs.is_empty() {
        config.codecs = engine::parse_codecs(&account.codecs.join(","))
            .map_err(|e| format!("the account's codecs {:?}: {e}", account.codecs))?;
    }
    Ok(config)
}

pub(super) async fn stored_accounts(store: &Store) -> Result<Vec<StoredAccount>> {
    match store.setting(ACCOUNTS_KEY).await? {
        Some(text) => serde_json::from_str(&text).map_err(|e| UiError {
            code: ErrorCode::Storage,
            message: format!("the saved SIP accounts cannot be read: {e}"),
        }),
        None => Ok(Vec::new()),
    }
}

pub(super) async fn save_accounts(store: &Store, accounts: &[StoredAccount]) -> Result<()> {
    let text =
        serde_json::to_string(accounts).map_err(|e| UiError { code: ErrorCode::Internal, message: e.to_string() })?;
    store.set_setting(ACCOUNTS_KEY, &text).await?;
    Ok(())
}

/// Applies a provisioning file: its accounts replace same-id ones in settings; a plain-text
/// password moves to the keychain and the file is rewritten without it.
pub(super) async fn apply_provisioning(
    store: &Store,
    path: &std::path::Path,
    secrets: &dyn SecretStore,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let provision = Provision::parse(&text).with_context(|| format!("in {}", path.display()))?;
    let mut accounts = stored_accounts(store).await.map_err(|e| anyhow::anyhow!(e.message))?;
    let mut moved = false;
    for p in &provision.sip_accounts {
        if let Some(password) = &p.password {
            secrets.set(&sip_key(&p.id), password).map_err(|e| {
                anyhow::anyhow!("{}: cannot move the password of {:?} to the keychain: {e}", path.display(), p.id)
            })?;
            moved = true;
        }
        let mut account = p.account();
        // Relative to the provisioning file, as an IT team ships the two side by side.
        account.ca_file = p
            .ca_file
            .as_ref()
            .map(|file| path.parent().unwrap_or(std::path::Path::new(".")).join(file).display().to_string());
        let stored = StoredAccount { account, password_env: p.password_env.clone() };
        match accounts.iter().position(|a| a.account.id == p.id) {
            Some(i) => accounts[i] = stored,
            None => accounts.push(stored),
        }
    }
    save_accounts(store, &accounts).await.map_err(|e| anyhow::anyhow!(e.message))?;
    let desk = &provision.desk;
    let bring_to_front = desk.bring_to_front.map(|b| b.to_string());
    let record_calls = desk.record_calls.map(|b| b.to_string());
    let wrap_up = desk.wrap_up_limit_s.map(|s| s.to_string());
    for (key, value) in [
        (WRAP_UP_KEY, wrap_up.as_deref()),
        ("hotkey_answer", desk.hotkey_answer.as_deref()),
        ("hotkey_hangup", desk.hotkey_hangup.as_deref()),
        (RECORD_KEY, record_calls.as_deref()),
        ("phone_bring_to_front", bring_to_front.as_deref()),
    ] {
        if let Some(value) = value {
            store.set_setting(key, value).await?;
        }
    }
    if moved {
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("password =") && !l.trim_start().starts_with("password="))
            .collect();
        std::fs::write(path, kept.join("\n") + "\n").with_context(|| format!("cannot rewrite {}", path.display()))?;
    }
    tracing::info!(accounts = provision.sip_accounts.len(), file = %path.display(), "provisioned");
    Ok(())
}
