//! `okno-server --listen 127.0.0.1:8080`, with `DATABASE_URL` in the environment.

use anyhow::{Context, Result, bail};
use okno_server::{Config, serve};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: okno-server [--listen ADDR:PORT]   (env: DATABASE_URL, optional NATS_URL, OKNO_LOG)";

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("OKNO_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let mut listen = "127.0.0.1:8080".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().context(USAGE)?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let database_url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    let mut config = Config::new(database_url);
    config.nats_url = std::env::var("NATS_URL").ok().filter(|u| !u.is_empty());
    let listener =
        tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    serve(&config, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
