//! What the team lead's wallboard costs the server at the end of a busy day on the hotline:
//! 3,000 calls in the hotline's queue today (queued, offered, answered or abandoned, ended: about
//! 12,000 raw queue events) and 20 callers waiting now; `GET /v1/wallboard` recomputes every
//! figure from those rows on each request. The window asks once a second, so the figures a team
//! lead sees are at most one second plus this old (issue 19's goal: at most 1 s old).
//!
//! Run: `cargo bench -p okno-server --bench wallboard` (env: OKNO_TEST_PG). Prints figures;
//! asserts nothing about time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Instant;

use axum::http::{Method, StatusCode};
use common::Harness;
use okno_acd::QueueSpec;
use okno_hotline::HotlineConfig;
use okno_server::hotline::HotlineSettings;

const CALLS: i64 = 3_000;
const WAITING: i64 = 20;
const REQUESTS: usize = 100;

#[tokio::main]
async fn main() {
    println!("cargo bench -p okno-server --bench wallboard");
    let mut h = Harness::new().await;
    let settings = HotlineSettings {
        config: HotlineConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            vec![("hotline".into(), "q1".into())],
            vec![QueueSpec {
                id: "q1".into(),
                skill: None,
                ring_timeout_ms: 15_000,
                callback_after_ms: None,
                announce_every_ms: 45_000,
                wrap_up_ms: 0,
            }],
        ),
        drain_limit: std::time::Duration::from_secs(1),
    };
    let hotline = okno_server::hotline::start(&h.pool, h.state.live.clone(), &settings).await.unwrap();
    h.state.hotline = Some((hotline, Arc::new(vec!["q1".into()])));
    h.app = okno_server::app(h.state.clone());

    let now = okno_core::unix_ms(std::time::SystemTime::now());
    let day_start = now - 10 * 3_600_000;
    // Calls spread over ten hours: 9 in 10 answered after 2-40 s and talking 2-6 min, the rest
    // abandoned after 5-60 s; anna and boris take turns.
    sqlx::query(
        "WITH c AS (SELECT g, $1 + g * ($2 - $1 - 600000) / $3 AS at, g % 10 <> 0 AS answered, \
           2000 + (g * 7919) % 38000 AS wait, 120000 + (g * 104729) % 240000 AS talk, \
           CASE WHEN g % 2 = 0 THEN 'anna' ELSE 'boris' END AS agent FROM generate_series(1, $3) g) \
         INSERT INTO acd_events (at, call_id, queue_id, kind, agent_id, waited_ms) \
         SELECT at, 'c' || g, 'q1', 'queued', NULL::text, NULL::bigint FROM c \
         UNION ALL SELECT at + 1000, 'c' || g, 'q1', 'offered', agent, NULL::bigint FROM c WHERE answered \
         UNION ALL SELECT at + wait, 'c' || g, 'q1', 'answered', agent, wait FROM c WHERE answered \
         UNION ALL SELECT at + wait + talk, 'c' || g, 'q1', 'ended', agent, NULL::bigint FROM c WHERE answered \
         UNION ALL SELECT at + 5000 + wait, 'c' || g, 'q1', 'abandoned', NULL::text, 5000 + wait FROM c WHERE NOT answered",
    )
    .bind(day_start)
    .bind(now)
    .bind(CALLS)
    .execute(&h.pool)
    .await
    .expect("a day of queue events");
    sqlx::query(
        "INSERT INTO acd_events (at, call_id, queue_id, kind) SELECT $1 - g * 3000, 'w' || g, 'q1', 'queued' \
         FROM generate_series(1, $2) g",
    )
    .bind(now)
    .bind(WAITING)
    .execute(&h.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE acd_events").execute(&h.pool).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM acd_events").fetch_one(&h.pool).await.unwrap();

    let lena = h.token("lena").await;
    let path = format!("/v1/wallboard?since={day_start}");
    let mut times = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let started = Instant::now();
        let (code, board) = h.call(Method::GET, &path, Some(&lena), None).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(code, StatusCode::OK, "{board}");
    }
    let (_, board) = h.call(Method::GET, &path, Some(&lena), None).await;
    let q1 = board["queues"].as_array().unwrap().iter().find(|q| q["id"] == "q1").cloned().unwrap();
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    println!(
        "{rows} queue events ({CALLS} calls today, {WAITING} waiting): board offered {}, answered {}, waiting {}",
        q1["today"]["offered"], q1["today"]["answered"], q1["waiting_calls"]
    );
    println!(
        "GET /v1/wallboard, {REQUESTS} requests one after another: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.5),
        pct(0.99),
        times.last().copied().unwrap_or(f64::NAN)
    );
}
