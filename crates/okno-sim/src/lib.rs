//! `okno-sim`: a seeded fault harness. Simulated operators (the app's own sync, okno-sync-client's
//! driver on a real okno-store SQLite file, over real HTTP and WebSocket) make random mutations against one or two real server instances while the
//! network drops and duplicates requests, desktops crash (mid-push too), partitions come and
//! go, and a server instance is killed and restarted. At the end the network heals, every
//! desktop must converge to the server's state, and the server's PostgreSQL must show no
//! acknowledged mutation lost, none applied twice, and no ticket with two owners.
//!
//! - [`rng`]: the seeded generator; [`fixture`]: the run's accounts, queues and tickets;
//! - [`client`]: one simulated desktop and its faults; [`ledger`]: what they all did;
//! - [`servers`]: instances the sim starts and restarts itself; [`check`]: the verdict.
//!
//! Repeatable: the seed fixes every client's actions and faults. The interleaving between
//! clients follows real timing, so who wins a race may differ between runs; the invariants
//! checked must hold for every interleaving.

pub mod check;
pub mod client;
pub mod fixture;
pub mod ledger;
pub mod rng;
pub mod servers;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use sqlx::postgres::PgPoolOptions;

use crate::client::{Faults, Shared, Spec};
use crate::ledger::{Counters, Fate, Ledger};
use crate::servers::{Launch, ServerProcess};

/// One run's settings (the command line, parsed).
#[derive(Debug, Clone)]
pub struct Options {
    /// Base URLs, `http://host:port`, one per server instance.
    pub servers: Vec<String>,
    pub database_url: String,
    pub clients: usize,
    pub mutations: usize,
    pub seed: u64,
    pub faults: bool,
    /// Start the instances at `servers` as child processes (and restart one under `faults`).
    pub spawn: Option<Launch>,
    /// Count a client that needed a forced pull at the end (its pokes did not arrive) as an
    /// anomaly. Set when pokes must cross instances (NATS is up).
    pub require_live: bool,
    /// Tickets to work on; few, so claims collide.
    pub tickets: usize,
    pub write_gap: Duration,
    /// Trust for `https://` servers besides the public roots. With `spawn` and `https://`
    /// addresses, a self-signed certificate the sim makes is used when this is unset.
    pub tls_ca: Option<std::path::PathBuf>,
}

/// The one JSON line `okno-sim` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub ok: bool,
    pub seed: u64,
    pub servers: usize,
    pub clients: usize,
    pub mutations: usize,
    pub faults: bool,
    /// The desks spoke HTTPS and WSS to the servers.
    pub tls: bool,
    pub acked: u64,
    pub rejected: u64,
    /// Writes the desktops' own stores refused before they reached the outbox.
    pub refused_locally: u64,
    pub unacked: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub double_owned: u64,
    pub converged: bool,
    /// Clients that had not caught up by pokes within the settle time and were made to pull.
    pub late: u64,
    pub pokes: u64,
    pub restarts: u64,
    pub crashes: u64,
    pub crashes_mid_push: u64,
    pub dropped_requests: u64,
    pub dropped_responses: u64,
    pub duplicated_requests: u64,
    pub partitions: u64,
    /// From writing a mutation to its acknowledgement, retries and faults included.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub elapsed_ms: u64,
    #[serde(skip)]
    pub details: Vec<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    (sorted[rank.min(sorted.len() - 1)] * 10.0).round() / 10.0
}

pub async fn run(opts: Options) -> anyhow::Result<Summary> {
    let started = Instant::now();
    anyhow::ensure!(!opts.servers.is_empty(), "at least one --server is needed");
    anyhow::ensure!(opts.clients > 0, "--clients must be at least 1");
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&opts.database_url)
        .await
        .context("cannot connect to the server's PostgreSQL (--database-url / DATABASE_URL)")?;
    okno_server::migrate::migrate(&pool).await?;
    okno_server::tls::install_provider();
    let tls_dir = std::env::temp_dir().join(format!("okno-sim-tls-{}", std::process::id()));
    let tls = opts.servers.iter().any(|s| s.starts_with("https://"));
    let mut spawn = opts.spawn.clone();
    let mut ca = opts.tls_ca.clone();
    if tls && let Some(launch) = &mut spawn {
        let (cert, key) = okno_server::tls::self_signed(&tls_dir, &[])?;
        launch.args.extend(["--tls-cert".to_owned(), cert.display().to_string()]);
        launch.args.extend(["--tls-key".to_owned(), key.display().to_string()]);
        ca.get_or_insert(cert);
    }
    let ca_pem = match &ca {
        Some(path) => Some(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?),
        None => None,
    };
    let trust = okno_sync_client::tls_client(ca_pem.as_deref())?;
    let http =
        reqwest::Client::builder().timeout(Duration::from_secs(5)).use_preconfigured_tls((*trust).clone()).build()?;

    let mut spawned = Vec::new();
    if let Some(launch) = &spawn {
        for url in &opts.servers {
            spawned.push(ServerProcess::start(launch.clone(), url, &http).await?);
        }
    }
    let fixture = fixture::create(&pool, opts.seed, opts.clients, opts.tickets.max(1)).await?;
    tracing::info!(tag = %fixture.tag, "fixture ready");

    let shared = Arc::new(Shared {
        http: http.clone(),
        tls: tls.then(|| trust.clone()),
        servers: opts.servers.iter().map(|s| s.trim_end_matches('/').to_owned()).collect(),
        ledger: Ledger::default(),
        counters: Counters::default(),
        faults_on: AtomicBool::new(opts.faults),
        target: std::sync::Mutex::new(None),
        target_set: tokio::sync::Notify::new(),
        settle: Duration::from_secs(10),
    });
    let faults = if opts.faults { Faults::standard() } else { Faults::default() };
    // Each desktop's SQLite file, removed with the run.
    let stores = std::env::temp_dir().join(format!("okno-sim-{}", fixture.tag));
    std::fs::create_dir_all(&stores).with_context(|| format!("cannot create {}", stores.display()))?;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (operator_id, token)) in fixture.operators.iter().enumerate() {
        let mutations = opts.mutations / opts.clients + usize::from(i < opts.mutations % opts.clients);
        let spec = Spec {
            index: i,
            operator_id: operator_id.clone(),
            token: token.clone(),
            server: i % opts.servers.len(),
            seed: opts.seed,
            mutations,
            tickets: fixture.tickets.clone(),
            faults,
            write_gap: opts.write_gap,
            database: stores.join(format!("desk{i}.db")),
        };
        tasks.spawn(client::run(spec, shared.clone()));
    }

    // Writing phase: restart one instance a third of the way through, then wait until every
    // mutation is written and settled (acknowledged or rejected).
    let mut restart_pending = opts.faults && !spawned.is_empty();
    let settle_deadline = Instant::now() + Duration::from_secs(120) + Duration::from_millis(opts.mutations as u64 * 20);
    loop {
        let entries = shared.ledger.snapshot();
        if restart_pending && entries.len() * 3 >= opts.mutations {
            restart_pending = false;
            if let Some(victim) = spawned.last_mut() {
                tracing::info!(url = %victim.url, "fault: restarting a server instance");
                victim.restart(Duration::from_millis(300), &http).await?;
                Counters::inc(&shared.counters.restarts);
            }
        }
        let settled = entries.iter().filter(|e| e.fate != Fate::Pending).count();
        if entries.len() == opts.mutations && settled == opts.mutations && !restart_pending {
            break;
        }
        if Instant::now() > settle_deadline {
            tracing::warn!(settled, written = entries.len(), "not every mutation settled in time");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Final phase: a clean network; every desktop must reach the head.
    shared.faults_on.store(false, std::sync::atomic::Ordering::Relaxed);
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM changelog").fetch_one(&pool).await?;
    *shared.target.lock().unwrap_or_else(|e| e.into_inner()) = Some((u64::try_from(head).unwrap_or(0), Instant::now()));
    shared.target_set.notify_waiters();
    let mut reports = Vec::new();
    let join_deadline = tokio::time::Instant::now() + shared.settle + Duration::from_secs(60);
    while let Ok(Some(joined)) = tokio::time::timeout_at(join_deadline, tasks.join_next()).await {
        match joined.context("a simulated client panicked")? {
            Ok(report) => reports.push(report),
            Err(e) => tracing::error!(error = format!("{e:#}"), "a simulated client stopped"),
        }
    }
    tasks.abort_all();
    reports.sort_by_key(|r| r.index);

    let entries = shared.ledger.snapshot();
    let mut verdict = check::check(&pool, &fixture, &entries, &reports).await?;
    if reports.len() < opts.clients {
        verdict.converged = false;
        verdict.details.push(format!("{} clients never converged", opts.clients - reports.len()));
    }
    let refused_locally = reports.iter().map(|r| r.refused_locally).sum();
    let mut latencies: Vec<f64> =
        entries.iter().filter_map(|e| e.ack_latency).map(|d| d.as_secs_f64() * 1000.0).collect();
    latencies.sort_by(f64::total_cmp);
    let c = &shared.counters;
    let late = Counters::get(&c.late);
    let ok = verdict.lost == 0
        && verdict.duplicated == 0
        && verdict.double_owned == 0
        && verdict.converged
        && (!opts.require_live || late == 0);
    for mut server in spawned {
        server.kill().await;
    }
    for report in &reports {
        report.store.close().await;
    }
    drop(reports);
    let _ = std::fs::remove_dir_all(&stores);
    let _ = std::fs::remove_dir_all(&tls_dir);
    pool.close().await;
    Ok(Summary {
        ok,
        seed: opts.seed,
        servers: opts.servers.len(),
        clients: opts.clients,
        mutations: opts.mutations,
        faults: opts.faults,
        tls,
        acked: verdict.acked,
        rejected: verdict.rejected,
        refused_locally,
        unacked: verdict.unacked,
        lost: verdict.lost,
        duplicated: verdict.duplicated,
        double_owned: verdict.double_owned,
        converged: verdict.converged,
        late,
        pokes: Counters::get(&c.pokes),
        restarts: Counters::get(&c.restarts),
        crashes: Counters::get(&c.crashes),
        crashes_mid_push: Counters::get(&c.crashes_mid_push),
        dropped_requests: Counters::get(&c.dropped_requests),
        dropped_responses: Counters::get(&c.dropped_responses),
        duplicated_requests: Counters::get(&c.duplicated_requests),
        partitions: Counters::get(&c.partitions),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        elapsed_ms: started.elapsed().as_millis() as u64,
        details: verdict.details,
    })
}
