//! The team lead's wallboard against PostgreSQL: figures recomputed from the calls the desks
//! recorded (service level not counting callers who gave up within 20 s), the website chats
//! waiting, the agents' states (a team lead changes one through the synced mutation), and the
//! whole view refused to an operator.

mod common;

use axum::http::{Method, StatusCode};
use common::Harness;
use okno_core::{AgentState, Mutation};
use okno_sync::{PushItem, PushRequest, SCHEMA_VERSION};
use serde_json::Value;

const MIN: i64 = 60_000;

fn now() -> i64 {
    okno_core::unix_ms(std::time::SystemTime::now())
}

async fn recorded_call(h: &Harness, id: &str, started: i64, answered_after: Option<i64>, ended_after: i64) {
    sqlx::query(
        "INSERT INTO calls (id, customer_id, queue_id, operator_id, direction, from_number, to_number, started_at, answered_at, ended_at, outcome) \
         VALUES ($1, 'c1', 'q1', CASE WHEN $3::bigint IS NULL THEN NULL ELSE 'anna' END, 'inbound', '+79151234567', '100', $2, $2 + $3, $2 + $4, \
           CASE WHEN $3::bigint IS NULL THEN 'missed' ELSE 'answered' END)",
    )
    .bind(id)
    .bind(started)
    .bind(answered_after)
    .bind(ended_after)
    .execute(&h.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_team_lead_sees_the_queues_figures_and_agents_and_an_operator_is_refused() {
    let h = Harness::new().await;
    let t = now();
    let since = t - 60 * MIN;
    // Today, in the hotline (q1): answered in 5 s and in 40 s; gave up after 30 s and after 3 s.
    recorded_call(&h, "call-a", t - 50 * MIN, Some(5_000), 120_000).await;
    recorded_call(&h, "call-b", t - 40 * MIN, Some(40_000), 300_000).await;
    recorded_call(&h, "call-c", t - 10 * MIN, None, 30_000).await;
    recorded_call(&h, "call-d", t - 5 * MIN, None, 3_000).await;
    // Yesterday's call is not today's.
    recorded_call(&h, "call-old", t - 25 * 60 * MIN, Some(1_000), 60_000).await;
    // A website chat waits for an operator in q2 for 90 s.
    sqlx::query(
        "INSERT INTO tickets (id, number, subject, customer_id, channel, status, priority, queue_id, created_at, updated_at) \
         VALUES ('chat-1', 50, 'Chat', 'c2', 'chat', 'new', 'normal', 'q2', $1, $1)",
    )
    .bind(t - 90_000)
    .execute(&h.pool)
    .await
    .unwrap();

    let anna = h.token("anna").await;
    let (code, body) = h.call(Method::GET, &format!("/v1/wallboard?since={since}"), Some(&anna), None).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");

    let lena = h.token("lena").await;
    // Lena puts boris on a break from her desk (the synced mutation a desk pushes).
    let push = PushRequest {
        client_id: "lena-desk".into(),
        schema_version: SCHEMA_VERSION,
        mutations: vec![PushItem {
            client_seq: 1,
            mutation_id: "lena-desk-1".into(),
            mutation: Mutation::SetAgentState {
                operator_id: "boris".into(),
                state: AgentState::Break,
                at: t - 2 * MIN,
            },
        }],
    };
    let (_, resp) = h.post("/v1/push", Some(&lena), serde_json::to_value(push).unwrap()).await;
    assert_eq!(resp["results"][0]["outcome"]["kind"], "applied", "{resp}");

    let (code, board) = h.call(Method::GET, &format!("/v1/wallboard?since={since}"), Some(&lena), None).await;
    assert_eq!(code, StatusCode::OK, "{board}");
    let queue = |id: &str| board["queues"].as_array().unwrap().iter().find(|q| q["id"] == id).cloned().unwrap();
    let hotline = queue("q1");
    let today = &hotline["today"];
    assert_eq!(
        (today["offered"].as_u64(), today["answered"].as_u64(), today["answered_in_target"].as_u64()),
        (Some(4), Some(2), Some(1))
    );
    assert_eq!((today["abandoned"].as_u64(), today["abandoned_in_target"].as_u64()), (Some(2), Some(1)));
    // One answered within 20 s of the three that did not give up within 20 s.
    assert!((today["service_level"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9, "{today}");
    assert_eq!(today["average_answer_ms"].as_u64(), Some(22_500));
    let recent = &hotline["last_15_min"];
    assert_eq!((recent["offered"].as_u64(), recent["abandoned"].as_u64()), (Some(2), Some(2)));
    let chat = queue("q2");
    assert_eq!(chat["waiting_chats"], 1);
    assert!(chat["longest_wait_ms"].as_u64().unwrap() >= 90_000, "{chat}");

    let agent =
        |id: &str| -> Value { board["agents"].as_array().unwrap().iter().find(|a| a["id"] == id).cloned().unwrap() };
    assert_eq!(agent("boris")["state"], "break");
    assert_eq!(agent("boris")["state_since"], t - 2 * MIN);
    assert_eq!(agent("anna")["handled_today"], 2, "two answered calls today");

    let (code, _) = h.call(Method::GET, &format!("/v1/wallboard?since={}", t + MIN), Some(&lena), None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "a day that has not started");
}
