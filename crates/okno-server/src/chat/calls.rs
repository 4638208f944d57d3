//! Calls from the website: the `[calls]` table of `--config` (where website calls go, the
//! gateway's SIP side, the STUN/TURN servers browsers and the gateway use) and what a channel's
//! widget is told of it. The calls themselves are okno-gateway's; the widget's socket carries
//! their offer, answer and state ([`super::socket`]).
//!
//! ```toml
//! [calls]
//! target = "sip:hotline@pbx.example"     # the hotline's queue at the PBX, or a desk's SIP URI
//! registrar = "192.0.2.10:5060"          # send calls through it (leave out: straight to target)
//! account = "sip:web@pbx.example"        # the gateway's account there, password in password_env
//! password_env = "OKNO_GATEWAY_SIP_PASSWORD"
//! sip_listen = "192.0.2.20:5080"         # the gateway's SIP, RTP and WebRTC address
//! codecs = "opus,pcmu"
//! relay_only = false                     # true: only TURN-relayed paths (hides the visitor's IP)
//!
//! [[calls.ice]]
//! urls = ["turn:turn.example:3478"]
//! username = "okno"
//! credential_env = "OKNO_TURN_PASSWORD"
//! ```

use std::net::SocketAddr;

use okno_gateway::{GatewayConfig, IceServer};
use okno_sip::Uri;
use serde::{Deserialize, Serialize};

use crate::config_file::{ConfigError, error};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCalls {
    target: String,
    registrar: Option<String>,
    account: Option<String>,
    password_env: Option<String>,
    sip_listen: Option<String>,
    codecs: Option<String>,
    #[serde(default)]
    relay_only: bool,
    #[serde(default)]
    ice: Vec<RawIce>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIce {
    urls: Vec<String>,
    username: Option<String>,
    credential_env: Option<String>,
}

pub(crate) fn from_file(raw: RawCalls, env: &impl Fn(&str) -> Option<String>) -> Result<GatewayConfig, ConfigError> {
    let target = Uri::parse(&raw.target)
        .map_err(|e| error("calls.target", format!("{:?} is not a SIP URI: {e}", raw.target)))?;
    let addr = |key: &str, text: &str| {
        text.parse::<SocketAddr>().map_err(|_| error(format!("calls.{key}"), format!("{text:?}: say IP:PORT")))
    };
    let registrar = raw.registrar.as_deref().map(|r| addr("registrar", r)).transpose()?;
    let sip_listen = addr("sip_listen", raw.sip_listen.as_deref().unwrap_or("127.0.0.1:0"))?;
    if sip_listen.ip().is_unspecified() && registrar.is_none() {
        return Err(error(
            "calls.sip_listen",
            "an unspecified IP needs a registrar to find the interface; name the IP",
        ));
    }
    let account = raw
        .account
        .as_deref()
        .map(|a| Uri::parse(a).map_err(|e| error("calls.account", format!("{a:?} is not a SIP URI: {e}"))))
        .transpose()?;
    let password = crate::config_file::secret_from_env("calls.password_env", raw.password_env.as_deref(), env)?;
    let codecs = raw.codecs.unwrap_or_else(|| "opus,pcmu".to_owned());
    okno_phone::engine::parse_codecs(&codecs).map_err(|e| error("calls.codecs", e.to_string()))?;
    let mut ice_servers = Vec::new();
    for (i, ice) in raw.ice.into_iter().enumerate() {
        if ice.urls.is_empty()
            || ice.urls.iter().any(|u| !(u.starts_with("stun:") || u.starts_with("turn:") || u.starts_with("turns:")))
        {
            return Err(error(format!("calls.ice[{i}].urls"), "stun:, turn: or turns: URLs"));
        }
        let credential = match &ice.credential_env {
            Some(var) => Some(env(var).ok_or_else(|| {
                error(format!("calls.ice[{i}].credential_env"), format!("the environment variable {var} is not set"))
            })?),
            None => None,
        };
        ice_servers.push(IceServer { urls: ice.urls, username: ice.username, credential });
    }
    if raw.relay_only && !ice_servers.iter().any(|s| s.urls.iter().any(|u| u.starts_with("turn"))) {
        return Err(error("calls.relay_only", "needs a TURN server in [[calls.ice]]"));
    }
    Ok(GatewayConfig {
        sip_listen,
        target,
        registrar,
        account,
        password,
        codecs,
        ice_servers,
        relay_only: raw.relay_only,
    })
}

/// What the widget needs to place a call: the same ICE servers and policy as the gateway.
#[derive(Debug, Clone, Serialize)]
pub struct CallSettings {
    pub ice_servers: Vec<BrowserIce>,
    pub relay_only: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BrowserIce {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

pub fn settings(gateway: &okno_gateway::Gateway) -> CallSettings {
    CallSettings {
        ice_servers: gateway
            .ice_servers()
            .iter()
            .map(|s| BrowserIce {
                urls: s.urls.clone(),
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
            .collect(),
        relay_only: gateway.relay_only(),
    }
}

#[cfg(test)]
mod tests {
    use crate::config_file::ConfigFile;

    fn env(name: &str) -> Option<String> {
        (name == "TURN_PW").then(|| "t".to_owned())
    }

    #[test]
    fn a_calls_table_reads_whole_and_bad_ones_are_refused_with_the_key() {
        let good = "[calls]\ntarget = \"sip:hotline@127.0.0.1:5060\"\nsip_listen = \"127.0.0.1:0\"\nrelay_only = true\n\
                    [[calls.ice]]\nurls = [\"turn:127.0.0.1:3478\"]\nusername = \"okno\"\ncredential_env = \"TURN_PW\"\n";
        let config = ConfigFile::parse(good, env).expect("valid").calls.expect("calls");
        assert_eq!(config.target.to_string(), "sip:hotline@127.0.0.1:5060");
        assert_eq!(config.ice_servers[0].credential.as_deref(), Some("t"));
        assert!(!format!("{config:?}").contains("\"t\""), "the TURN password printed");
        let cases = [
            (good.replace("sip:hotline@127.0.0.1:5060", "hotline"), "calls.target"),
            (good.replace("127.0.0.1:0", "0.0.0.0:0"), "calls.sip_listen"),
            (good.replace("TURN_PW", "NO_SUCH"), "calls.ice[0].credential_env"),
            (good.replace("turn:127", "http:127"), "calls.ice[0].urls"),
            (good.replace("turn:127", "stun:127"), "calls.relay_only"),
            (good.replace("relay_only = true\n", "relay_only = true\ncodecs = \"g729\"\n"), "calls.codecs"),
            ("[[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\ncalls = true\n".to_owned(), "chat[0].calls"),
        ];
        for (text, key) in cases {
            let e = ConfigFile::parse(&text, env).expect_err(&text);
            assert_eq!(e.key, key, "{text}: {e}");
        }
    }
}
