//! What TLS costs the server: new connections per second (TCP + TLS handshake + one
//! `GET /healthz`), and the latency of a request on a kept-open connection, over HTTPS and over
//! plain HTTP side by side, against one in-process instance on the real PostgreSQL.
//!
//! Run: `cargo bench -p okno-server --bench tls` (env: OKNO_TEST_PG, OKNO_BENCH_CONNECTIONS).
//! It prints figures; it asserts nothing about time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Instant;

use common::percentile;
use okno_server::{Config, serve};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}

/// One `GET /healthz` on `stream`, read to the end of its (small, fixed-length) answer.
async fn healthz<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> anyhow::Result<()> {
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await?;
    let mut buf = vec![0u8; 2048];
    let mut got = Vec::new();
    loop {
        let n = stream.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "closed");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if got.len() >= head_end + 4 + length {
                anyhow::ensure!(text.starts_with("HTTP/1.1 200"), "{text}");
                return Ok(());
            }
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let connections = env_usize("OKNO_BENCH_CONNECTIONS", 500);
    let db = common::TestDb::new().await;
    let dir = tempfile::tempdir()?;
    let (cert, key) = okno_server::tls::self_signed(dir.path(), &[])?;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::pem::PemObject::pem_file_iter(&cert)? {
        roots.add(c?)?;
    }
    let client = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let connector = tokio_rustls::TlsConnector::from(client);
    println!("cargo bench -p okno-server --bench tls   ({connections} connections each way)");
    for tls in [false, true] {
        let mut config = Config::new(db.url.clone());
        config.max_connections = 4;
        if tls {
            config.tls = Some(okno_server::tls::load(&cert, &key)?);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            serve(&config, listener, async move {
                let _ = stopped.await;
            })
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let name = rustls::pki_types::ServerName::try_from("localhost")?;
        // New connection per request.
        let started = Instant::now();
        for _ in 0..connections {
            let tcp = TcpStream::connect(addr).await?;
            if tls {
                let mut stream = connector.connect(name.clone(), tcp).await?;
                healthz(&mut stream).await?;
            } else {
                let mut stream = tcp;
                healthz(&mut stream).await?;
            }
        }
        let per_second = connections as f64 / started.elapsed().as_secs_f64();
        // Requests on one kept-open connection.
        let tcp = TcpStream::connect(addr).await?;
        let mut samples = Vec::with_capacity(connections);
        if tls {
            let mut stream = connector.connect(name.clone(), tcp).await?;
            for _ in 0..connections {
                let t = Instant::now();
                healthz(&mut stream).await?;
                samples.push(t.elapsed().as_secs_f64() * 1e3);
            }
        } else {
            let mut stream = tcp;
            for _ in 0..connections {
                let t = Instant::now();
                healthz(&mut stream).await?;
                samples.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        samples.sort_by(f64::total_cmp);
        println!(
            "{:5}: {per_second:.0} new connections/s (handshake + GET /healthz); kept-open GET p50 {:.3} ms, p99 {:.3} ms",
            if tls { "HTTPS" } else { "HTTP" },
            percentile(&samples, 50.0),
            percentile(&samples, 99.0)
        );
        let _ = stop.send(());
        let _ = server.await;
    }
    Ok(())
}
