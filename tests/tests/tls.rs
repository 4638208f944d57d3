//! TLS on the desk's hop to the server: okno-server serves HTTPS and WSS with a self-signed
//! certificate it makes (`--tls-self-signed`); a headless desk provisioned with `https://` and
//! that certificate as its `ca_file` signs in, pulls and keeps its live socket; a desk without
//! it refuses the server's certificate, says so, and sends nothing.

use anyhow::Result;
use okno_e2e::server::{Proc, headless_desk, invoke, seeded_demo, server_binary, start_server, wait};
use okno_e2e::{app_binary, free_port};
use serde_json::{Value, json};

const PASSWORD: &str = "e2e-tls-password";

fn desk(app: &std::path::Path, dir: &std::path::Path, port: u16, ca: Option<&std::path::Path>) -> Result<(Proc, u16)> {
    std::fs::create_dir_all(dir)?;
    let mut provision = format!(
        "server_url = \"https://127.0.0.1:{port}\"\n[server]\noperator = \"anna\"\npassword_env = \"OKNO_E2E_PASSWORD\"\n"
    );
    if let Some(ca) = ca {
        provision.push_str(&format!("ca_file = \"{}\"\n", ca.display()));
    }
    let file = dir.join("provision.toml");
    std::fs::write(&file, provision)?;
    headless_desk(
        app,
        &["--data-dir", &dir.display().to_string(), "--provision", &file.display().to_string()],
        Some(PASSWORD),
    )
}

fn status(http: u16) -> Value {
    invoke(http, "sync_status", json!({})).unwrap_or(Value::Null)
}

#[test]
#[ignore = "needs PostgreSQL and the built app and server: run through `cargo xtask test`"]
fn a_desk_syncs_over_tls_and_refuses_a_certificate_it_does_not_trust() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let db = seeded_demo(&server, 3, PASSWORD)?;
    let work = tempfile::tempdir()?;
    let port = free_port()?;
    let certs = work.path().join("certs");
    let certs_arg = certs.display().to_string();
    let log = work.path().join("server.log");
    let _server = start_server(&server, &db, port, &log, &["--tls-self-signed", &certs_arg], &[])?;
    let cert = certs.join("okno-server.crt");
    let key = std::fs::metadata(certs.join("okno-server.key"))?;
    #[cfg(unix)]
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o077, 0, "the key is its owner's only");

    // Trusting the server's certificate: online, the tickets pulled.
    let (_trusting, http) = desk(&app, &work.path().join("trusting"), port, Some(&cert))?;
    wait("the trusting desk online over TLS", || Ok(status(http)["connection"] == "online"))?;
    wait("tickets pulled over TLS", || {
        Ok(invoke(http, "store_stats", json!({})).is_ok_and(|stats| stats["tickets"].as_u64() > Some(0)))
    })?;

    // Without it: never online, and the problem names the certificate.
    let (_doubting, http) = desk(&app, &work.path().join("doubting"), port, None)?;
    let mut problem = String::new();
    wait("the doubting desk's problem", || {
        problem = status(http)["problem"].as_str().unwrap_or_default().to_owned();
        Ok(!problem.is_empty())
    })?;
    assert!(problem.to_lowercase().contains("certificate"), "the window says why: {problem}");
    assert_ne!(status(http)["connection"], "online");
    eprintln!("refused: {problem}");
    Ok(())
}

/// The phone's hop with a PBX whose certificate the center issued itself: the desk's SIP
/// accounts name that CA's file (`ca_file` in provisioning, relative to the file) and register
/// over TLS and over secure WebSocket with real Kamailios, each with a CA of its own; an account
/// over TLS without the CA refuses the PBX's certificate and shows the registration failed. No
/// server is involved: this is the desk's own connection to its PBX.
#[test]
#[ignore = "needs Kamailio with its TLS and websocket modules, and the built app: run through `cargo xtask test`"]
fn a_desk_registers_over_sip_tls_and_wss_with_its_centers_own_ca() -> Result<()> {
    use okno_testkit::sip::Kamailio;
    let app = app_binary()?;
    let tls = Kamailio::start_tls(PASSWORD);
    let wss = Kamailio::start_wss(PASSWORD);
    let work = tempfile::tempdir()?;
    let dir = work.path().join("desk");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(tls.ca_pem(), dir.join("pbx-ca.pem"))?;
    std::fs::copy(wss.ca_pem(), dir.join("edge-ca.pem"))?;
    let account = |id: &str, user: &str, registrar: &str, transport: &str, ca: Option<&str>| {
        let ca = ca.map(|f| format!("ca_file = \"{f}\"\n")).unwrap_or_default();
        format!(
            "[[sip_account]]\nid = \"{id}\"\nuser = \"{user}\"\ndomain = \"127.0.0.1\"\nregistrar = \"{registrar}\"\n\
             transport = \"{transport}\"\npassword_env = \"OKNO_E2E_PASSWORD\"\n{ca}"
        )
    };
    let provision = dir.join("provision.toml");
    std::fs::write(
        &provision,
        [
            account("pbx", "anna", &tls.addr(), "tls", Some("pbx-ca.pem")),
            account("edge", "anna", &wss.addr(), "wss", Some("edge-ca.pem")),
            account("doubting", "boris", &tls.addr(), "tls", None),
        ]
        .concat(),
    )?;
    let (_desk, http) = headless_desk(
        &app,
        &["--data-dir", &dir.display().to_string(), "--provision", &provision.display().to_string()],
        Some(PASSWORD),
    )?;
    let state = |id: &str| -> Value {
        let snapshot = invoke(http, "phone_snapshot", json!({})).unwrap_or(Value::Null);
        snapshot["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["account_id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    wait("the TLS account registered with the center's CA", || Ok(state("pbx")["state"] == "registered"))?;
    wait("the WSS account registered with the center's CA", || Ok(state("edge")["state"] == "registered"))?;
    wait("the account without the CA failed", || Ok(state("doubting")["state"] == "failed"))?;
    assert!(tls.registered("anna") && wss.registered("anna"), "both PBXs hold anna's binding");
    assert!(!tls.registered("boris"), "the doubting account never registered: {}", state("doubting"));
    Ok(())
}
