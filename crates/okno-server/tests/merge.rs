//! Merging a customer's duplicate tickets and splitting a message out (issue 18), against
//! PostgreSQL through the HTTP API: who may, what moves, and two desks merging the same pair in
//! opposite directions at once converging on one survivor.

mod common;

use axum::http::StatusCode;
use common::Harness;
use okno_core::{Channel, Priority};
use okno_server::admin::{self, NewTicket};
use serde_json::{Value, json};

async fn message(h: &Harness, id: &str, ticket: &str, body: &str, at: i64) {
    sqlx::query(
        "INSERT INTO messages (id, ticket_id, channel, direction, author_name, body, created_at) \
         VALUES ($1, $2, 'email', 'inbound', 'Customer c1', $3, $4)",
    )
    .bind(id)
    .bind(ticket)
    .bind(body)
    .bind(at)
    .execute(&h.pool)
    .await
    .unwrap();
}

async fn ticket(h: &Harness, id: &str, number: i64, queue: &str) {
    let t = NewTicket {
        id: id.into(),
        number,
        subject: format!("Ticket {id}"),
        customer_id: "c1".into(),
        channel: Channel::Email,
        priority: Priority::Normal,
        queue_id: queue.into(),
        created_at: 3_000,
    };
    admin::create_ticket(&h.pool, &t).await.unwrap();
}

async fn messages_of(h: &Harness, ticket: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT body FROM messages WHERE ticket_id = $1 AND direction = 'inbound' ORDER BY created_at")
        .bind(ticket)
        .fetch_all(&h.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn only_one_customers_tickets_merge_and_only_by_who_works_both_queues() {
    let h = Harness::new().await;
    let (anna, lena, kate) = (h.token("anna").await, h.token("lena").await, h.token("kate").await);
    let (code, body) = h.post("/v1/tickets/merge", Some(&anna), json!({ "source_id": "t1", "target_id": "t2" })).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "anna does not work q2: {body}");
    let (code, _) = h.post("/v1/tickets/merge", Some(&kate), json!({ "source_id": "t2", "target_id": "t2" })).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "contractors do not merge");
    let (code, body) = h.post("/v1/tickets/merge", Some(&lena), json!({ "source_id": "t1", "target_id": "t3" })).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "t3 is another customer's: {body}");
    let (code, _) = h.post("/v1/tickets/merge", Some(&lena), json!({ "source_id": "t1", "target_id": "nope" })).await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    // A lead merges the chat duplicate (q2) into the hotline ticket (q1): everything moves.
    message(&h, "m1", "t1", "Звоню по заказу 5512", 10).await;
    message(&h, "m2", "t2", "Пишу в чат про заказ 5512", 20).await;
    sqlx::query("UPDATE tickets SET tags = '[\"vip\"]' WHERE id = 't2'").execute(&h.pool).await.unwrap();
    // Boris follows the duplicate (he was mentioned on it).
    sqlx::query(
        "INSERT INTO ticket_followers (ticket_id, operator_id, since, reason) VALUES ('t2', 'boris', 5, 'mention')",
    )
    .execute(&h.pool)
    .await
    .unwrap();
    let (code, merged) =
        h.post("/v1/tickets/merge", Some(&lena), json!({ "source_id": "t2", "target_id": "t1" })).await;
    assert_eq!(code, StatusCode::OK, "{merged}");
    assert_eq!(merged, json!({ "survivor_id": "t1", "merged": true }));
    assert_eq!(messages_of(&h, "t1").await, ["Звоню по заказу 5512", "Пишу в чат про заказ 5512"]);
    let (into, status, tags): (Option<String>, String, Value) =
        sqlx::query_as("SELECT merged_into, status, tags FROM tickets WHERE id = 't2'")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!((into.as_deref(), status.as_str()), (Some("t1"), "closed"));
    assert_eq!(tags, json!(["vip"]));
    let survivor_tags: Value =
        sqlx::query_scalar("SELECT tags FROM tickets WHERE id = 't1'").fetch_one(&h.pool).await.unwrap();
    assert_eq!(survivor_tags, json!(["vip"]), "tags move to the survivor");
    let followers: Vec<String> = sqlx::query_scalar("SELECT operator_id FROM ticket_followers WHERE ticket_id = 't1'")
        .fetch_all(&h.pool)
        .await
        .unwrap();
    assert_eq!(followers, ["boris"], "followers move to the survivor");
    // Anna (q1) pulls the survivor before its messages, the moved one included.
    let (_, pulled) = h.post("/v1/pull", Some(&anna), json!({ "cursor": 0, "limit": 1000 })).await;
    let changes = pulled["changes"].as_array().unwrap();
    let ticket_at = changes.iter().rposition(|c| c["entity"] == "ticket" && c["id"] == "t1").unwrap();
    let moved_at = changes.iter().rposition(|c| c["entity"] == "message" && c["id"] == "m2").unwrap();
    assert!(ticket_at < moved_at, "the ticket before the message moved into it");
    assert_eq!(changes[moved_at]["data"]["ticket_id"], "t1");
}

#[tokio::test]
async fn two_desks_merging_the_same_pair_in_opposite_directions_converge() {
    let h = Harness::new().await;
    let (anna, boris) = (h.token("anna").await, h.token("boris").await);
    for round in 0..5 {
        let (a, b) = (format!("r{round}a"), format!("r{round}b"));
        ticket(&h, &a, 100 + round * 2, "q1").await;
        ticket(&h, &b, 101 + round * 2, "q1").await;
        message(&h, &format!("{a}-m"), &a, &format!("first {round}"), 10).await;
        message(&h, &format!("{b}-m"), &b, &format!("second {round}"), 20).await;
        let (one, two) = tokio::join!(
            h.post("/v1/tickets/merge", Some(&anna), json!({ "source_id": a, "target_id": b })),
            h.post("/v1/tickets/merge", Some(&boris), json!({ "source_id": b, "target_id": a })),
        );
        assert_eq!((one.0, two.0), (StatusCode::OK, StatusCode::OK), "{} {}", one.1, two.1);
        assert_eq!(one.1["survivor_id"], two.1["survivor_id"], "both desks are told the same survivor");
        let merged = [&one.1, &two.1].iter().filter(|r| r["merged"] == true).count();
        assert_eq!(merged, 1, "exactly one merge happened: {} {}", one.1, two.1);
        let survivor = one.1["survivor_id"].as_str().unwrap().to_owned();
        let other = if survivor == a { &b } else { &a };
        assert_eq!(messages_of(&h, &survivor).await.len(), 2, "round {round}: both messages in the survivor");
        assert!(messages_of(&h, other).await.is_empty());
        let into: Option<String> = sqlx::query_scalar("SELECT merged_into FROM tickets WHERE id = $1")
            .bind(other)
            .fetch_one(&h.pool)
            .await
            .unwrap();
        assert_eq!(into.as_deref(), Some(survivor.as_str()));
        let open: String = sqlx::query_scalar("SELECT status FROM tickets WHERE id = $1")
            .bind(&survivor)
            .fetch_one(&h.pool)
            .await
            .unwrap();
        assert_ne!(open, "closed", "the survivor stays open");
    }
}

#[tokio::test]
async fn a_message_splits_out_into_a_new_ticket_of_the_same_customer() {
    let h = Harness::new().await;
    let anna = h.token("anna").await;
    message(&h, "m1", "t1", "Где заказ 5512?", 10).await;
    let (code, body) = h.post("/v1/tickets/split", Some(&anna), json!({ "message_id": "m1" })).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "a ticket's only message stays: {body}");
    message(&h, "m2", "t1", "И ещё: хочу сменить адрес доставки\nна Тверскую, 5", 20).await;
    let (code, split) = h.post("/v1/tickets/split", Some(&anna), json!({ "message_id": "m2" })).await;
    assert_eq!(code, StatusCode::OK, "{split}");
    let new_id = split["ticket_id"].as_str().unwrap();
    let (subject, customer, queue): (String, String, String) =
        sqlx::query_as("SELECT subject, customer_id, queue_id FROM tickets WHERE id = $1")
            .bind(new_id)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(
        (subject.as_str(), customer.as_str(), queue.as_str()),
        ("И ещё: хочу сменить адрес доставки", "c1", "q1")
    );
    assert_eq!(messages_of(&h, new_id).await, ["И ещё: хочу сменить адрес доставки\nна Тверскую, 5"]);
    assert_eq!(messages_of(&h, "t1").await, ["Где заказ 5512?"]);
    let note: String =
        sqlx::query_scalar("SELECT body FROM messages WHERE ticket_id = 't1' AND direction = 'internal'")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert!(note.contains(&format!("#{}", split["number"])), "{note}");
    let (code, _) = h.post("/v1/tickets/split", Some(&h.token("kate").await), json!({ "message_id": "m1" })).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
}
