//! Mutations per second applied by one server instance against the real PostgreSQL.
//!
//! Run: `cargo bench -p okno-server --bench push` (env: OKNO_TEST_PG, OKNO_BENCH_WORKERS,
//! OKNO_BENCH_MUTATIONS). Each worker is one desktop pushing batches of 100 through the HTTP
//! router (JSON in and out, no socket); every mutation is its own PostgreSQL transaction with a
//! changelog append, as in production. Half are status changes, half replies (message + ticket
//! + events). A throwaway database is created and dropped.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use axum::http::{Method, StatusCode};
use okno_core::{Channel, CustomerTier, Priority, Role, TicketStatus};
use okno_server::admin::{self, NewCustomer, NewTicket};
use okno_server::{AppState, Config, app};
use okno_sync::{PushItem, PushRequest, SCHEMA_VERSION};

const TICKETS_PER_WORKER: usize = 50;
const BATCH: usize = 100;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let workers = env_usize("OKNO_BENCH_WORKERS", 16);
    let total = env_usize("OKNO_BENCH_MUTATIONS", 20_000);
    let per_worker = total.div_ceil(workers).div_ceil(BATCH) * BATCH;
    let db = common::TestDb::new().await;
    let mut config = Config::new(db.url.clone());
    config.max_connections = workers as u32;
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
    let mut tokens = Vec::new();
    for w in 0..workers {
        let id = format!("op{w}");
        admin::create_operator(&pool, &id, &id, Role::Operator, None).await?;
        admin::grant_queue(&pool, &id, "q1").await?;
        for t in 0..TICKETS_PER_WORKER {
            let ticket = NewTicket {
                id: format!("t{w}-{t}"),
                number: (w * TICKETS_PER_WORKER + t) as i64,
                subject: "Bench".into(),
                customer_id: "c1".into(),
                channel: Channel::Phone,
                priority: Priority::Normal,
                queue_id: "q1".into(),
                created_at: 0,
            };
            admin::create_ticket(&pool, &ticket).await?;
        }
        let (name, role) = (id.clone(), Role::Operator);
        let caller = okno_server::Caller { id, name, role, session_id: None };
        tokens.push(okno_server::auth::issue_tokens(&pool, caller).await?.access_token);
    }
    let router = app(state.clone());

    let cpu_before = (own_cpu_ticks(), postgres_cpu_ticks());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (w, token) in tokens.into_iter().enumerate() {
        let router = router.clone();
        tasks.push(tokio::spawn(async move {
            let mut seq = 0u64;
            let mut slowest = 0f64;
            while (seq as usize) < per_worker {
                let mutations: Vec<PushItem> = (0..BATCH)
                    .map(|_| {
                        seq += 1;
                        let ticket_id = format!("t{w}-{}", seq as usize % TICKETS_PER_WORKER);
                        let mutation = if seq.is_multiple_of(2) {
                            okno_core::Mutation::SetTicketStatus {
                                ticket_id,
                                status: TicketStatus::ALL[seq as usize % 4],
                                at: seq as i64,
                            }
                        } else {
                            okno_core::Mutation::ReplyTicket {
                                cc: Vec::new(),
                                attachments: Vec::new(),
                                ticket_id,
                                message_id: okno_core::new_id(),
                                body: "Thank you for waiting, the order is on its way.".into(),
                                internal: false,
                                at: seq as i64,
                            }
                        };
                        PushItem { client_seq: seq, mutation_id: okno_core::new_id(), mutation }
                    })
                    .collect();
                let body = serde_json::to_value(PushRequest {
                    client_id: format!("bench-{w}"),
                    schema_version: SCHEMA_VERSION,
                    mutations,
                })
                .expect("serializable");
                let t = Instant::now();
                let (code, resp) = common::call(&router, Method::POST, "/v1/push", Some(&token), Some(body)).await;
                slowest = f64::max(slowest, t.elapsed().as_secs_f64());
                assert_eq!(code, StatusCode::OK, "{resp}");
                let applied =
                    resp["results"].as_array().expect("results").iter().all(|r| r["outcome"]["kind"] == "applied");
                assert!(applied, "every mutation applies: {resp}");
            }
            slowest
        }));
    }
    let mut slowest = 0f64;
    for task in tasks {
        slowest = slowest.max(task.await?);
    }
    let secs = started.elapsed().as_secs_f64();
    let applied = per_worker * workers;
    let tick_us = 1e6 / 100.0; // USER_HZ is 100 on Linux
    let own_us = (own_cpu_ticks() - cpu_before.0) as f64 * tick_us / applied as f64;
    let pg_us = (postgres_cpu_ticks() - cpu_before.1) as f64 * tick_us / applied as f64;
    let versions: i64 = sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM changelog").fetch_one(&pool).await?;
    pool.close().await;
    println!(
        "okno-server push bench: {applied} mutations ({workers} clients x {per_worker}, batches of {BATCH}, 1/2 replies)"
    );
    println!(
        "  {:.0} mutations/s applied ({secs:.2} s; slowest push of {BATCH}: {:.0} ms; changelog head {versions})",
        applied as f64 / secs,
        slowest * 1000.0
    );
    println!(
        "  CPU per mutation: {own_us:.0} us in this process (HTTP, JSON, sqlx) + {pg_us:.0} us in PostgreSQL; \
         on 2 otherwise idle cores that is ~{:.0} mutations/s",
        2e6 / (own_us + pg_us)
    );
    println!(
        "  command: OKNO_BENCH_WORKERS={workers} OKNO_BENCH_MUTATIONS={total} cargo bench -p okno-server --bench push"
    );
    drop(db);
    Ok(())
}

/// utime + stime of /proc/<pid>/stat, in clock ticks.
fn proc_ticks(stat: &str) -> u64 {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn own_cpu_ticks() -> u64 {
    std::fs::read_to_string("/proc/self/stat").map(|s| proc_ticks(&s)).unwrap_or(0)
}

/// CPU of every `postgres` process (other users of the server add noise, reported as is).
fn postgres_cpu_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|s| s.contains("(postgres)"))
        .map(|s| proc_ticks(&s))
        .sum()
}
