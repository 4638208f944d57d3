//! The central server for end-to-end tests: a PostgreSQL database of the test's own, the real
//! `okno-server` binary, and a desk's provisioning file and HTTP bridge.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::Session;

/// How long a step may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

pub fn server_binary() -> Result<PathBuf> {
    let path = std::env::var_os("OKNO_SERVER_BIN").map(PathBuf::from).context("OKNO_SERVER_BIN is not set")?;
    if !path.exists() {
        bail!("no okno-server at {}", path.display());
    }
    Ok(path)
}

/// A database of its own, dropped at the end.
pub use okno_testkit::pg::{Database, psql};

/// A child process of this test, killed on drop.
pub use okno_testkit::Killed as Proc;

/// A fresh database seeded by `okno-server seed --demo` with `tickets` tickets; the demo's
/// accounts (operators anna and boris, team lead lena) all sign in with `password`.
pub fn seeded_demo(server: &Path, tickets: u32, password: &str) -> Result<Database> {
    let db = Database::create("okno_e2e")?;
    let mut seed = Command::new(server);
    seed.args(["seed", "--demo", "--tickets", &tickets.to_string()]);
    for name in ["anna", "boris", "lena"] {
        seed.args(["--password", &format!("{name}={password}")]);
    }
    let seeded = seed.env("DATABASE_URL", db.url()).output()?;
    anyhow::ensure!(seeded.status.success(), "seed: {}", String::from_utf8_lossy(&seeded.stderr));
    Ok(db)
}

/// `okno-server` on `port` with `args` after `--listen` and `env` beside `DATABASE_URL`, its log
/// appended to `log`; returns once `/healthz` answers.
pub fn start_server(
    bin: &Path,
    db: &Database,
    port: u16,
    log: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Proc> {
    let child = Command::new(bin)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .envs(env.iter().copied())
        .env("DATABASE_URL", db.url())
        .env("OKNO_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::options().create(true).append(true).open(log)?)
        .spawn()?;
    let proc = Proc(child);
    if args.iter().any(|a| a.starts_with("--tls-")) {
        // HTTPS: this client has no TLS; the log line says the server is up.
        wait("the server listening over TLS", || {
            Ok(std::fs::read_to_string(log).is_ok_and(|l| l.contains(&format!("https://127.0.0.1:{port}"))))
        })?;
    } else {
        wait("the server's /healthz", || Ok(ureq::get(&format!("http://127.0.0.1:{port}/healthz")).call().is_ok()))?;
    }
    Ok(proc)
}

/// `okno-server` on a free port with one support mailbox (`support@shop.test`, queue "email")
/// on `dovecot`, replies through `smtp`, and the config tables `extra` writes for the port; its
/// config and log in `dir`. Returns it and its port.
pub fn start_server_with_mail(
    bin: &Path,
    db: &Database,
    dir: &Path,
    dovecot: &okno_testkit::mail::Dovecot,
    smtp: &okno_testkit::mail::SmtpSink,
    extra: impl Fn(u16) -> String,
) -> Result<(Proc, u16)> {
    let config = dir.join("okno-server.toml");
    let port = crate::free_port()?;
    std::fs::write(
        &config,
        extra(port)
            + &format!(
                "[mail]\npoll_seconds = 2\n\n[[email]]\nname = \"support\"\nqueue = \"email\"\naddress = \"support@shop.test\"\n\
             imap = \"imap://support%40shop.test@127.0.0.1:{}\"\nsmtp = \"smtp://127.0.0.1:{}\"\n\
             password_env = \"OKNO_MAIL_PASSWORD\"\n",
                dovecot.port, smtp.port
            ),
    )?;
    let config = config.display().to_string();
    let server = start_server(
        bin,
        db,
        port,
        &dir.join("server.log"),
        &["--config", &config],
        &[("OKNO_MAIL_PASSWORD", okno_testkit::mail::PASSWORD)],
    )?;
    Ok((server, port))
}

pub fn wait(what: &str, mut check: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if check()? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("timed out waiting for {what}")
}

pub fn provision(dir: &Path, port: u16, operator: &str) -> Result<PathBuf> {
    let path = dir.join("provision.toml");
    std::fs::write(
        &path,
        format!(
            "server_url = \"http://127.0.0.1:{port}\"\n[server]\noperator = \"{operator}\"\npassword_env = \"OKNO_E2E_PASSWORD\"\n"
        ),
    )?;
    Ok(path)
}

/// The real `okno-desktop` without a window (`--serve-http` on a free port, the tests' bridge
/// token), with `args` before it and the operator's password in `OKNO_E2E_PASSWORD`; returns the
/// process and the bridge's port for [`invoke`].
pub fn headless_desk(app: &Path, args: &[&str], password: Option<&str>) -> Result<(Proc, u16)> {
    let port = crate::free_port()?;
    let mut command = Command::new(app);
    command
        .args(args)
        .args(["--serve-http", &format!("127.0.0.1:{port}")])
        .env("OKNO_BRIDGE_TOKEN", crate::BRIDGE_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(password) = password {
        command.env("OKNO_E2E_PASSWORD", password);
    }
    Ok((Proc(command.spawn().with_context(|| format!("cannot start {}", app.display()))?), port))
}

/// A headless desk's command over its HTTP bridge.
pub fn invoke(port: u16, command: &str, args: Value) -> Result<Value> {
    let resp = ureq::post(&format!("http://127.0.0.1:{port}/invoke/{command}"))
        .set("Authorization", &format!("Bearer {}", crate::BRIDGE_TOKEN))
        .send_json(args);
    match resp {
        Ok(r) => Ok(r.into_json()?),
        Err(ureq::Error::Status(_, r)) => bail!("{command}: {}", r.into_string()?),
        Err(e) => Err(e.into()),
    }
}

/// The desk window's sync state (`online`, `offline`, ...), from the status bar.
pub fn sync_state(s: &Session) -> Result<Option<String>> {
    match s.find_all("[data-testid=sync-state]")?.first() {
        Some(e) => s.attribute(e, "data-state"),
        None => Ok(None),
    }
}

pub fn wait_state(s: &Session, state: &str) -> Result<()> {
    s.wait_until(&format!("sync state {state}"), WAIT, |s| Ok((sync_state(s)?.as_deref() == Some(state)).then_some(())))
}

/// Type `text` into the open ticket's reply box, send it, and wait until the conversation shows it.
pub fn reply(s: &Session, text: &str) -> Result<()> {
    let box_ = s.wait_for("[data-testid=reply-box]", WAIT)?;
    s.type_into(&box_[0], text)?;
    s.click(&s.wait_for("[data-testid=reply-send]", WAIT)?[0])?;
    s.wait_until("the reply in the conversation", WAIT, |s| {
        for item in s.find_all("[data-testid=conversation] [data-testid=timeline-item]")? {
            if s.text_content(&item)?.contains(text) {
                return Ok(Some(()));
            }
        }
        Ok(None)
    })
}

/// `name`'s window on the server at `port` (provisioned into `dir`), online, with the
/// wallboard open.
pub fn wallboard_window(
    driver: &crate::Driver,
    app: &Path,
    dir: &Path,
    port: u16,
    name: &str,
) -> Result<crate::Session> {
    let desk = desk_window(driver, app, dir, port, name)?;
    desk.click(&desk.wait_for("[data-testid=rail-wallboard]", WAIT)?[0])?;
    Ok(desk)
}

/// The real window of `name`'s desk, provisioned for the server on `port` with its data in
/// `dir`, once it is online.
pub fn desk_window(driver: &crate::Driver, app: &Path, dir: &Path, port: u16, name: &str) -> Result<crate::Session> {
    std::fs::create_dir_all(dir)?;
    let prov = provision(dir, port, name)?;
    let args = ["--data-dir", &dir.display().to_string(), "--provision", &prov.display().to_string()];
    let desk = driver.launch(app, &args.map(str::to_owned))?;
    wait_state(&desk, "online")?;
    Ok(desk)
}
