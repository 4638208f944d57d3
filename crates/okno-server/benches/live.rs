//! Live figures of one server instance (a child process of this bench, so its memory is its
//! own), against the real PostgreSQL:
//!
//! - write-to-other-screen latency with 500 connected WebSockets: desktop A pushes a change
//!   over HTTP, desktop B (one of the 500, all in the change's queue) gets the poke and pulls
//!   the change; p50/p99 over 200 rounds;
//! - server memory per connected WebSocket: the child's RSS before and after 500 connect;
//! - initial sync: a new desktop pulls 50,000 changes through the sync engine over HTTP (the
//!   local store is a map here, so this is the server and the wire, not SQLite).
//!
//! Run: `cargo bench -p okno-server --bench live` (env: OKNO_TEST_PG, OKNO_BENCH_SOCKETS,
//! OKNO_BENCH_ROWS). It prints figures; it asserts nothing about time.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{percentile, rss_kib};

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use okno_core::{Channel, CustomerTier, Priority, Role, TicketStatus};
use okno_server::admin::{self, NewCustomer, NewTicket};
use okno_server::{AppState, Caller, Config};
use okno_sync::{
    Config as EngineConfig, Engine, Input, LIVE_PATH, LiveEvent, Output, PullResponse, PushItem, PushRequest,
    PushResponse, Request, SCHEMA_VERSION,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // Re-executed as the server child: serve until killed.
    if let Ok(addr) = std::env::var("OKNO_BENCH_SERVE") {
        return rt.block_on(async {
            let config = Config::new(std::env::var("DATABASE_URL")?);
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            okno_server::serve(&config, listener, std::future::pending()).await
        });
    }
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let sockets = env_usize("OKNO_BENCH_SOCKETS", 500);
    let rows = env_usize("OKNO_BENCH_ROWS", 50_000);
    let db = common::TestDb::new().await;
    let mut config = Config::new(db.url.clone());
    config.max_connections = 4;
    let state = AppState::connect(&config).await?;
    let pool = state.pool.clone();
    admin::create_department(&pool, "d1", "Support").await?;
    admin::create_queue(&pool, "q1", "Hotline", Channel::Phone, "d1").await?;
    let customer = NewCustomer {
        id: "c1".into(),
        name: "Customer".into(),
        company: None,
        tier: CustomerTier::Standard,
        identities: vec![],
        created_at: 0,
    };
    admin::create_customer(&pool, &customer).await?;
    let ticket = NewTicket {
        id: "t1".into(),
        number: 1,
        subject: "Bench".into(),
        customer_id: "c1".into(),
        channel: Channel::Phone,
        priority: Priority::Normal,
        queue_id: "q1".into(),
        created_at: 0,
    };
    admin::create_ticket(&pool, &ticket).await?;
    let mut tokens = Vec::new();
    for i in 0..=sockets {
        let id = format!("op{i}");
        admin::create_operator(&pool, &id, &id, Role::Operator, None).await?;
        admin::grant_queue(&pool, &id, "q1").await?;
        let caller = Caller { id: id.clone(), name: id, role: Role::Operator, session_id: None };
        tokens.push(okno_server::auth::issue_tokens(&pool, caller).await?.access_token);
    }
    let writer = tokens.pop().expect("one more token than sockets");

    let common::BenchServer { mut child, port, base, pid } = common::BenchServer::start(&db.url).await?;
    let http = common::http_client();
    let rss_before = rss_kib(pid);

    // Connect every socket; all read continuously, socket 0 (desktop B) reports its pokes.
    let (poke_tx, mut pokes) = tokio::sync::mpsc::unbounded_channel::<u64>();
    for (i, token) in tokens.iter().enumerate() {
        let mut req = format!("ws://127.0.0.1:{port}{LIVE_PATH}").into_client_request()?;
        req.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(req).await?;
        let tx = (i == 0).then(|| poke_tx.clone());
        tokio::spawn(async move {
            while let Some(Ok(msg)) = socket.next().await {
                if let (Some(tx), Message::Text(text)) = (&tx, &msg)
                    && let Ok(LiveEvent::Poke { version, .. }) = serde_json::from_str(text)
                {
                    let _ = tx.send(version);
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib(pid);
    let metrics = http.get(format!("{base}/metrics")).send().await?.text().await?;
    let open = metrics.lines().find(|l| l.starts_with("okno_live_sockets ")).unwrap_or("?").to_owned();

    // Write on A's screen, see it on B's.
    let b_token = &tokens[0];
    let mut cursor: u64 =
        sqlx::query_scalar::<_, i64>("SELECT max(version) FROM changelog").fetch_one(&pool).await? as u64;
    let mut samples = Vec::new();
    for round in 1..=200u64 {
        let started = Instant::now();
        let push = PushRequest {
            client_id: "writer-desk".into(),
            schema_version: SCHEMA_VERSION,
            mutations: vec![PushItem {
                client_seq: round,
                mutation_id: okno_core::new_id(),
                mutation: okno_core::Mutation::SetTicketStatus {
                    ticket_id: "t1".into(),
                    status: TicketStatus::ALL[round as usize % 4],
                    at: round as i64,
                },
            }],
        };
        let resp: PushResponse =
            http.post(format!("{base}/v1/push")).bearer_auth(&writer).json(&push).send().await?.json().await?;
        let okno_sync::Outcome::Applied { version } = resp.results[0].outcome else {
            anyhow::bail!("push not applied: {resp:?}")
        };
        while pokes.recv().await.is_some_and(|v| v < version) {}
        let pulled: PullResponse = http
            .post(format!("{base}/v1/pull"))
            .bearer_auth(b_token)
            .json(&serde_json::json!({ "cursor": cursor, "limit": 500 }))
            .send()
            .await?
            .json()
            .await?;
        anyhow::ensure!(pulled.changes.iter().any(|c| c.version == version), "B's pull has the change");
        cursor = pulled.cursor;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples.sort_by(f64::total_cmp);

    // Initial sync: `rows` ticket-sized changes in the queue, pulled by a new desktop.
    sqlx::query(
        "INSERT INTO changelog (version, bucket, entity, entity_id, op, data) \
         SELECT nextval('changelog_version'), 'queue:q1', 'ticket', 'bulk-' || g, 'upsert', \
           jsonb_build_object('id', 'bulk-' || g, 'number', 1000 + g, 'subject', 'Order ' || g || ' did not arrive', \
             'customer_id', 'c1', 'channel', 'email', 'status', 'open', 'priority', 'normal', 'queue_id', 'q1', \
             'assignee_id', NULL, 'tags', '[\"vip\"]'::jsonb, 'created_at', 1700000000000 + g, \
             'updated_at', 1700000000000 + g, 'preview', repeat('Hello, my parcel is late. ', 6), 'message_count', 3) \
         FROM generate_series(1, $1) AS g",
    )
    .bind(rows as i64)
    .execute(&pool)
    .await?;
    let mut engine = Engine::new(EngineConfig::new("fresh-desk"), 0);
    let mut local = std::collections::HashMap::new();
    let started = Instant::now();
    let mut pages = 0;
    loop {
        match engine.poll_output(Instant::now()) {
            Output::Transmit(Request::Pull(req)) => {
                pages += 1;
                let resp: PullResponse =
                    http.post(format!("{base}/v1/pull")).bearer_auth(b_token).json(&req).send().await?.json().await?;
                engine.handle_input(Instant::now(), Input::PullResponse(resp));
            }
            Output::ApplyBatch { changes, .. } => {
                for c in changes {
                    local.insert((c.entity, c.id), c.data);
                }
            }
            Output::Timeout(_) if engine.is_idle() => break,
            other => anyhow::bail!("unexpected engine output {other:?}"),
        }
    }
    let sync_secs = started.elapsed().as_secs_f64();
    let _ = child.kill().await;
    pool.close().await;

    println!("okno-server live bench ({sockets} WebSockets on one instance, release build, same machine)");
    println!(
        "  write-to-other-screen: p50 {:.1} ms, p99 {:.1} ms (push over HTTP -> poke on B's socket -> B's pull; 200 rounds)",
        percentile(&samples, 50.0),
        percentile(&samples, 99.0)
    );
    println!(
        "  memory per connected WebSocket: {:.1} KiB (server RSS {} -> {} KiB for {sockets} sockets; {open})",
        (rss_after.saturating_sub(rss_before)) as f64 / sockets as f64,
        rss_before,
        rss_after
    );
    println!(
        "  initial sync: {} rows in {sync_secs:.2} s ({pages} pulls of {}; {:.0} rows/s)",
        local.len(),
        EngineConfig::new("x").pull_limit,
        local.len() as f64 / sync_secs
    );
    println!(
        "  command: OKNO_BENCH_SOCKETS={sockets} OKNO_BENCH_ROWS={rows} \
         cargo bench -p okno-server --bench live"
    );
    drop(db);
    Ok(())
}
