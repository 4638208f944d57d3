//! `okno-sim --server URL[,URL2] --clients N --mutations M --seed S [--faults]`: prints one JSON
//! summary line and exits 1 on any anomaly (2 when the run itself could not be made).
//!
//! `okno-sim --as-server --listen ADDR` runs an okno-server instance (the same code as the
//! `okno-server` binary) so `--spawn` needs only this binary.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use okno_sim::Options;
use okno_sim::servers::Launch;
use tracing_subscriber::EnvFilter;

const USAGE: &str = "\
usage: okno-sim --server URL[,URL2] [--clients N] [--mutations M] [--seed S] [--faults]
                [--database-url URL] [--spawn [--server-bin PATH] [--nats-url URL]] [--require-live]
                [--tls-ca FILE]
                [--tickets T] [--write-gap-ms MS]
  --server        base URLs of the server instances (http://127.0.0.1:8080); clients are spread over them
  --database-url  the servers' PostgreSQL, checked at the end (default: DATABASE_URL)
  --faults        drop and duplicate requests, partitions, client crashes (also mid-push), and with
                  --spawn a server instance killed and restarted
  --spawn         start the instances at the --server addresses as child processes (this binary in
                  --as-server mode, or --server-bin), with NATS_URL from --nats-url or the environment
  --tls-ca        trust for https:// servers besides the public roots (their CA or self-signed certificate);
                  with --spawn and https:// addresses the sim makes a self-signed certificate itself
  --require-live  a client that had to be forced to pull at the end (no poke reached it) is an anomaly
prints one JSON line; exit status 1 on any anomaly (lost, duplicated, double_owned, not converged)";

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_from_env("OKNO_LOG").unwrap_or_else(|_| EnvFilter::new("warn")))
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("okno-sim: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = runtime.block_on(async {
        if args.first().map(String::as_str) == Some("--as-server") {
            return match as_server(&args[1..]).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("okno-sim --as-server: {e:#}");
                    2
                }
            };
        }
        match parse(&args) {
            Ok(None) => 0,
            Ok(Some(opts)) => match okno_sim::run(opts).await {
                Ok(summary) => {
                    for line in &summary.details {
                        eprintln!("okno-sim: {line}");
                    }
                    match serde_json::to_string(&summary) {
                        Ok(json) => println!("{json}"),
                        Err(e) => eprintln!("okno-sim: cannot print the summary: {e}"),
                    }
                    if summary.ok { 0 } else { 1 }
                }
                Err(e) => {
                    eprintln!("okno-sim: {e:#}");
                    2
                }
            },
            Err(e) => {
                eprintln!("okno-sim: {e:#}\n{USAGE}");
                2
            }
        }
    });
    // Spawned servers are killed on drop; leave no runtime tasks behind.
    runtime.shutdown_timeout(Duration::from_secs(1));
    std::process::exit(code);
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut servers = Vec::new();
    let mut database_url = std::env::var("DATABASE_URL").ok();
    let mut nats_url = std::env::var("NATS_URL").ok().filter(|u| !u.is_empty());
    let mut server_bin = None;
    let mut opts = Options {
        servers: Vec::new(),
        database_url: String::new(),
        clients: 4,
        mutations: 200,
        seed: 1,
        faults: false,
        spawn: None,
        require_live: false,
        tickets: 6,
        write_gap: Duration::from_millis(10),
        tls_ca: None,
    };
    let mut spawn = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--server" => servers.extend(value("--server")?.split(',').map(str::to_owned)),
            "--database-url" => database_url = Some(value("--database-url")?),
            "--nats-url" => nats_url = Some(value("--nats-url")?),
            "--server-bin" => server_bin = Some(value("--server-bin")?),
            "--tls-ca" => opts.tls_ca = Some(value("--tls-ca")?.into()),
            "--clients" => opts.clients = value("--clients")?.parse().context("--clients")?,
            "--mutations" => opts.mutations = value("--mutations")?.parse().context("--mutations")?,
            "--seed" => opts.seed = value("--seed")?.parse().context("--seed")?,
            "--tickets" => opts.tickets = value("--tickets")?.parse().context("--tickets")?,
            "--write-gap-ms" => {
                opts.write_gap = Duration::from_millis(value("--write-gap-ms")?.parse().context("--write-gap-ms")?)
            }
            "--faults" => opts.faults = true,
            "--spawn" => spawn = true,
            "--require-live" => opts.require_live = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    if servers.is_empty() {
        bail!("--server is required");
    }
    opts.servers = servers;
    opts.database_url = database_url.context("--database-url or DATABASE_URL is required")?;
    if spawn {
        let (program, args) = match server_bin {
            Some(bin) => (bin.into(), Vec::new()),
            None => (std::env::current_exe().context("cannot find this binary")?, vec!["--as-server".to_owned()]),
        };
        opts.spawn = Some(Launch { program, args, database_url: opts.database_url.clone(), nats_url });
    }
    Ok(Some(opts))
}

/// `--as-server [--tls-cert CERT --tls-key KEY] --listen ADDR`: the okno-server binary's job
/// (env DATABASE_URL, NATS_URL), over HTTPS and WSS when given a certificate.
async fn as_server(args: &[String]) -> Result<()> {
    const AS_SERVER_USAGE: &str = "usage: okno-sim --as-server [--tls-cert CERT --tls-key KEY] --listen ADDR";
    let (mut listen, mut cert, mut key) = (None, None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let value = it.next().context(AS_SERVER_USAGE)?;
        match arg.as_str() {
            "--listen" => listen = Some(value.clone()),
            "--tls-cert" => cert = Some(std::path::PathBuf::from(value)),
            "--tls-key" => key = Some(std::path::PathBuf::from(value)),
            _ => bail!(AS_SERVER_USAGE),
        }
    }
    let listen = listen.context(AS_SERVER_USAGE)?;
    let mut config = okno_server::Config::new(std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?);
    config.nats_url = std::env::var("NATS_URL").ok().filter(|u| !u.is_empty());
    config.tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(okno_server::tls::load(&cert, &key)?),
        (None, None) => None,
        _ => bail!(AS_SERVER_USAGE),
    };
    let listener =
        tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    okno_server::serve(&config, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
