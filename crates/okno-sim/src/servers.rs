//! Server instances the sim starts itself (`--spawn`), so it can kill and restart one mid-run.
//!
//! Each is a child process: by default this very binary in its `--as-server` mode, which runs
//! `okno_server::serve` exactly as `okno-server` does (so the test needs no second binary
//! built), or the program given with `--server-bin`. Children are killed when dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// How to start one instance.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    /// Arguments before `--listen ADDR`.
    pub args: Vec<String>,
    pub database_url: String,
    pub nats_url: Option<String>,
}

#[derive(Debug)]
pub struct ServerProcess {
    pub url: String,
    listen: String,
    launch: Launch,
    child: Option<Child>,
}

impl ServerProcess {
    /// Start an instance listening on the host and port of `url` (`http(s)://host:port`), and wait
    /// until it answers `/healthz`.
    pub async fn start(launch: Launch, url: &str, http: &reqwest::Client) -> anyhow::Result<ServerProcess> {
        let listen = url.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/').to_owned();
        let mut server = ServerProcess { url: url.trim_end_matches('/').to_owned(), listen, launch, child: None };
        server.spawn(http).await?;
        Ok(server)
    }

    async fn spawn(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let mut cmd = Command::new(&self.launch.program);
        cmd.args(&self.launch.args)
            .args(["--listen", &self.listen])
            .env("DATABASE_URL", &self.launch.database_url)
            .env("OKNO_LOG", std::env::var("OKNO_SIM_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match &self.launch.nats_url {
            Some(url) => cmd.env("NATS_URL", url),
            None => cmd.env_remove("NATS_URL"),
        };
        let child = cmd.spawn().with_context(|| format!("cannot start {}", self.launch.program.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(resp) = http.get(format!("{}/healthz", self.url)).send().await
                && resp.status().is_success()
            {
                return Ok(());
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!("server {} exited with {status} while starting", self.url);
            }
            if Instant::now() > deadline {
                bail!("server {} did not answer /healthz within 60 s", self.url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no goodbye on the bus, connections cut mid-request.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Kill, stay down for `down`, start again on the same address.
    pub async fn restart(&mut self, down: Duration, http: &reqwest::Client) -> anyhow::Result<()> {
        self.kill().await;
        tokio::time::sleep(down).await;
        self.spawn(http).await
    }
}

/// A free port on 127.0.0.1 (free when asked; the OS may hand it out again later).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
