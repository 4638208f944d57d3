//! `okno-server --listen 127.0.0.1:8080`, with `DATABASE_URL` in the environment;
//! `okno-server seed --demo` fills an empty database with a small center to try a desktop on.

use anyhow::{Context, Result, bail};
use okno_server::{Config, serve};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: okno-server [--listen ADDR:PORT] [--log-format text|json] [--config FILE.toml]
                        [--tls-cert CERT.pem --tls-key KEY.pem | --tls-self-signed DIR [--tls-name HOST]...]
                        (env: DATABASE_URL, optional NATS_URL, OKNO_CONFIG, OKNO_LOG, OKNO_LOG_FORMAT)
                        --config: mailboxes, one [[email]] table each, and the website chat's
                                  channels, one [[chat]] table each (README: Email, The website chat)
                        --tls-*: serve HTTPS and WSS; --tls-self-signed makes DIR/okno-server.crt once
                                 (for localhost and each --tls-name) for desks to trust (README: Deployment)
       okno-server seed --demo [--tickets N] [--password NAME=PASSWORD]...
                        fill an empty database: queues, operators anna and boris and team lead lena (passwords printed), tickets
       okno-server account disable|enable|revoke NAME
                        disable an account (its sessions end at once), enable it again, or end its sessions
       okno-server account email NAME ADDRESS
                        where @mentions reach a contractor who works without the desk (an empty ADDRESS clears it)
       okno-server audit verify
                        check the audit log's hash chain: exit 1 and name the first entry edited or after a removal";

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    let mut log_format = std::env::var("OKNO_LOG_FORMAT").ok().filter(|f| !f.is_empty());
    if args.peek().map(String::as_str) == Some("seed") {
        args.next();
        init_logging(log_format.as_deref())?;
        return seed(args.collect()).await;
    }
    if args.peek().map(String::as_str) == Some("audit") {
        args.next();
        init_logging(log_format.as_deref())?;
        if args.next().as_deref() != Some("verify") {
            bail!("{USAGE}");
        }
        let database_url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
        let state = okno_server::AppState::connect(&okno_server::Config::new(database_url)).await?;
        let verified = okno_server::audit::verify(&state.pool).await?;
        println!("{} entries, head {}", verified.entries, verified.head);
        if let Some(id) = verified.first_broken {
            bail!("the audit log does not hold from entry {id} on: edited, or an entry before it removed");
        }
        println!("the chain holds");
        return Ok(());
    }
    if args.peek().map(String::as_str) == Some("account") {
        args.next();
        init_logging(log_format.as_deref())?;
        return account(args.collect()).await;
    }
    let mut listen = "127.0.0.1:8080".to_owned();
    let mut config_file = std::env::var("OKNO_CONFIG").ok().filter(|f| !f.is_empty());
    let (mut tls_cert, mut tls_key, mut self_signed, mut tls_names) = (None, None, None, Vec::new());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().context(USAGE)?,
            "--tls-cert" => tls_cert = Some(std::path::PathBuf::from(args.next().context(USAGE)?)),
            "--tls-key" => tls_key = Some(std::path::PathBuf::from(args.next().context(USAGE)?)),
            "--tls-self-signed" => self_signed = Some(std::path::PathBuf::from(args.next().context(USAGE)?)),
            "--tls-name" => tls_names.push(args.next().context(USAGE)?),
            "--log-format" => log_format = Some(args.next().context(USAGE)?),
            "--config" => config_file = Some(args.next().context(USAGE)?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    init_logging(log_format.as_deref())?;
    let database_url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    let mut config = Config::new(database_url);
    config.nats_url = std::env::var("NATS_URL").ok().filter(|u| !u.is_empty());
    if let Some(path) = &config_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the config file {path}"))?;
        let file = okno_server::config_file::ConfigFile::parse(&text, |name| std::env::var(name).ok())
            .with_context(|| format!("{path}: refused"))?;
        config.mail = file.mail;
        config.chat = file.chat;
        config.calls = file.calls;
        config.csat = file.csat;
        config.hotline = file.hotline;
    }
    config.tls = match (tls_cert, tls_key, self_signed) {
        (Some(cert), Some(key), None) => Some(okno_server::tls::load(&cert, &key)?),
        (None, None, Some(dir)) => {
            let (cert, key) = okno_server::tls::self_signed(&dir, &tls_names)?;
            Some(okno_server::tls::load(&cert, &key)?)
        }
        (None, None, None) => None,
        _ => bail!("give --tls-cert and --tls-key together, or --tls-self-signed alone\n{USAGE}"),
    };
    let listener =
        tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    serve(&config, listener, shutdown_signal()).await
}

/// Ctrl+C, or SIGTERM from a service manager: either stops the server cleanly (mailboxes are
/// handed over at once, live sockets told).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn account(args: Vec<String>) -> Result<()> {
    let (action, name, value) = match args.as_slice() {
        [action, name] => (action, name, None),
        [action, name, value] if action == "email" => (action, name, Some(value.as_str())),
        _ => bail!("{USAGE}"),
    };
    let database_url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    let state = okno_server::AppState::connect(&okno_server::Config::new(database_url)).await?;
    let found = match action.as_str() {
        "disable" | "enable" => okno_server::admin::set_disabled(&state.pool, name, action == "disable").await?,
        "email" => okno_server::admin::set_email(&state.pool, name, value.filter(|v| !v.is_empty())).await?,
        "revoke" => {
            let ended = okno_server::admin::revoke_sessions(&state.pool, name).await?;
            if let Some(n) = ended {
                println!("{name}: {n} tokens revoked");
            }
            ended.is_some()
        }
        other => bail!("unknown account action {other:?}\n{USAGE}"),
    };
    if !found {
        bail!("no account named {name:?}");
    }
    if action == "email" {
        println!("{name}: email set");
    } else {
        println!("{name}: {action}d");
    }
    Ok(())
}

async fn seed(args: Vec<String>) -> Result<()> {
    let mut options = okno_server::seed::SeedOptions { tickets: 50, passwords: Vec::new(), now: now_ms() };
    let mut demo = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--demo" => demo = true,
            "--tickets" => options.tickets = args.next().and_then(|n| n.parse().ok()).context(USAGE)?,
            "--password" => {
                let pair = args.next().context(USAGE)?;
                let (name, password) = pair.split_once('=').context("--password needs NAME=PASSWORD")?;
                options.passwords.push((name.to_owned(), password.to_owned()));
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if !demo {
        bail!("say what to seed: --demo\n{USAGE}");
    }
    let database_url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    // Connecting migrates, so seeding works on a database the server has never opened.
    let state = okno_server::AppState::connect(&okno_server::Config::new(database_url)).await?;
    let credentials = okno_server::seed::seed(&state.pool, &options).await?;
    println!("seeded {} tickets in queues hotline and email; operators:", options.tickets);
    for (name, password) in credentials {
        println!("  {name}  password: {password}");
    }
    Ok(())
}

/// Logs go to stderr: plain text, coloured only when stderr is a terminal (a file or a journal
/// gets no escape codes), or one JSON object per line for a log collector in production.
fn init_logging(format: Option<&str>) -> Result<()> {
    let filter = EnvFilter::try_from_env("OKNO_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format.unwrap_or("text") {
        "text" => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        "json" => builder.json().with_current_span(true).init(),
        other => bail!("unknown log format {other:?}: say text or json\n{USAGE}"),
    }
    Ok(())
}

fn now_ms() -> i64 {
    okno_core::unix_ms(std::time::SystemTime::now())
}
