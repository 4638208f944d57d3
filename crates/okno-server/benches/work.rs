//! What the work rules cost the server with PostgreSQL in the loop: the SLA due times of
//! 100,000 open tickets recomputed after a queue is put on a policy and after its calendar
//! changes (a holiday added), through the real HTTP handlers (issue 18's goal: ≤ 2 s).
//!
//! Run: `cargo bench -p okno-server --bench work` (env: OKNO_TEST_PG). Prints figures; asserts
//! nothing about time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use axum::http::Method;
use common::Harness;

const TICKETS: i64 = 100_000;
/// 2026-12-07 10:00 Moscow.
const NOW: i64 = 1_796_626_800_000;

fn policy(holidays: &[&str]) -> serde_json::Value {
    let day = serde_json::json!({ "open": "09:00", "close": "18:00" });
    serde_json::json!({
        "id": "office", "name": "Office hours",
        "calendar": { "time_zone": "Europe/Moscow", "week": [day, day, day, day, day, null, null], "holidays": holidays },
        "targets": [
            { "tier": "premium", "channel": null, "priority": null, "first_response_minutes": 240, "resolution_minutes": 1620 },
            { "tier": null, "channel": null, "priority": null, "first_response_minutes": 480, "resolution_minutes": 2700 }
        ]
    })
}

#[tokio::main]
async fn main() {
    println!("cargo bench -p okno-server --bench work");
    let h = Harness::new().await;
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO tickets (id, number, subject, customer_id, channel, status, priority, queue_id, created_at, updated_at, sla_pauses) \
         SELECT 'bench-' || g, 1000 + g, 'Bench ' || g, CASE WHEN g % 5 = 0 THEN 'c2' ELSE 'c1' END, 'email', 'open', 'normal', 'q1', \
           $1 - (g % 43200) * 60000, $1, \
           CASE WHEN g % 4 = 0 THEN jsonb_build_array(jsonb_build_object('from', $1 - (g % 43200) * 60000 + 3600000, 'until', $1 - (g % 43200) * 60000 + 7200000)) ELSE '[]'::jsonb END \
         FROM generate_series(1, $2) g",
    )
    .bind(NOW)
    .bind(TICKETS)
    .execute(&h.pool)
    .await
    .expect("bench tickets");
    sqlx::query("ANALYZE tickets").execute(&h.pool).await.unwrap();
    println!("{TICKETS} open tickets inserted in {:.1} s", started.elapsed().as_secs_f64());
    let lead = h.token("lena").await;
    let (code, body) = h.call(Method::PUT, "/v1/work/sla-policies/office", Some(&lead), Some(policy(&[]))).await;
    assert!(code.is_success(), "{body}");

    let started = Instant::now();
    let (code, body) = h
        .call(
            Method::PUT,
            "/v1/work/queues/q1/sla-policy",
            Some(&lead),
            Some(serde_json::json!({ "sla_policy_id": "office" })),
        )
        .await;
    let first = started.elapsed();
    assert!(code.is_success(), "{body}");
    println!("queue put on a policy: {} tickets recomputed in {:.2} s", body["recomputed"], first.as_secs_f64());

    let started = Instant::now();
    let (code, body) = h
        .call(Method::PUT, "/v1/work/sla-policies/office", Some(&lead), Some(policy(&["2026-12-08", "2026-12-09"])))
        .await;
    let second = started.elapsed();
    assert!(code.is_success(), "{body}");
    println!(
        "calendar changed (two holidays in the coming days): due times of {} tickets moved, in {:.2} s",
        body["recomputed"],
        second.as_secs_f64()
    );
}
