//! The HTTP app against a real PostgreSQL (see `common::TestDb`): each test has its own
//! database, created at start and dropped at the end.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::{Harness, PASSWORD, TestDb};
use okno_core::{AgentState, Mutation, Role, TicketStatus};
use okno_server::admin;
use okno_sync::{
    Config as EngineConfig, Engine, Input, Output, PullResponse, PushItem, PushRequest, PushResponse, Request,
    SCHEMA_VERSION,
};
use serde_json::{Value, json};

fn push_body(client: &str, items: &[(u64, Mutation)]) -> Value {
    let req = PushRequest {
        client_id: client.into(),
        schema_version: SCHEMA_VERSION,
        mutations: items
            .iter()
            .map(|(seq, m)| PushItem { client_seq: *seq, mutation_id: format!("{client}-m{seq}"), mutation: m.clone() })
            .collect(),
    };
    serde_json::to_value(req).unwrap()
}

fn status(ticket: &str, status: TicketStatus, at: i64) -> Mutation {
    Mutation::SetTicketStatus { ticket_id: ticket.into(), status, at }
}

fn reply(ticket: &str, message_id: &str, body: &str) -> Mutation {
    Mutation::ReplyTicket {
        cc: Vec::new(),
        attachments: Vec::new(),
        ticket_id: ticket.into(),
        message_id: message_id.into(),
        body: body.into(),
        internal: false,
        at: 10_000,
    }
}

fn claim(ticket: &str, me: &str) -> Mutation {
    Mutation::AssignTicket { ticket_id: ticket.into(), assignee_id: Some(me.into()), at: 10_000 }
}

fn outcomes(resp: &Value) -> Vec<String> {
    resp["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let o = &r["outcome"];
            match o["kind"].as_str().unwrap() {
                "rejected" => format!("rejected:{}", o["code"].as_str().unwrap()),
                kind => kind.to_owned(),
            }
        })
        .collect()
}

async fn count(h: &Harness, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&h.pool).await.unwrap()
}

async fn pull_all(h: &Harness, token: &str, limit: u32) -> Vec<Value> {
    let mut cursor = 0u64;
    let mut changes = Vec::new();
    loop {
        let (code, resp) = h.post("/v1/pull", Some(token), json!({ "cursor": cursor, "limit": limit })).await;
        assert_eq!(code, StatusCode::OK, "{resp}");
        changes.extend(resp["changes"].as_array().unwrap().iter().cloned());
        let next = resp["cursor"].as_u64().unwrap();
        assert!(next >= cursor, "the cursor never goes back");
        cursor = next;
        if !resp["has_more"].as_bool().unwrap() {
            return changes;
        }
    }
}

#[tokio::test]
async fn login_ok_bad_password_rate_limit_and_refresh() {
    let h = Harness::new().await;
    let (code, resp) = h.post("/v1/login", None, json!({ "name": "anna", "password": PASSWORD })).await;
    assert_eq!(code, StatusCode::OK, "{resp}");
    assert_eq!(resp["operator"]["role"], "operator");
    assert_eq!(resp["expires_in"], 900);
    let access = resp["access_token"].as_str().unwrap().to_owned();
    let refresh = resp["refresh_token"].as_str().unwrap().to_owned();
    let (code, _) = h.post("/v1/pull", Some(&access), json!({ "cursor": 0, "limit": 10 })).await;
    assert_eq!(code, StatusCode::OK);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM auth_tokens WHERE token_hash = $1")
        .bind(&access)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "tokens are stored hashed, never in clear");

    // Refresh rotates: the new pair works, the old refresh token does not.
    let (code, resp) = h.post("/v1/refresh", None, json!({ "refresh_token": refresh })).await;
    assert_eq!(code, StatusCode::OK, "{resp}");
    let (code, _) =
        h.post("/v1/pull", Some(resp["access_token"].as_str().unwrap()), json!({"cursor": 0, "limit": 1})).await;
    assert_eq!(code, StatusCode::OK);
    let (code, resp) = h.post("/v1/refresh", None, json!({ "refresh_token": refresh })).await;
    assert_eq!((code, resp["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));

    let (code, resp) = h.post("/v1/login", None, json!({ "name": "anna", "password": "wrong" })).await;
    assert_eq!((code, resp["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    let (code, _) = h.post("/v1/login", None, json!({ "name": "nobody", "password": "x" })).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    for _ in 0..4 {
        let (code, _) = h.post("/v1/login", None, json!({ "name": "anna", "password": "wrong" })).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    // Five failures within a minute: even the right password waits now.
    let (code, resp) = h.post("/v1/login", None, json!({ "name": "anna", "password": PASSWORD })).await;
    assert_eq!((code, resp["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{resp}");
    // Other names are not affected.
    let (code, _) = h.post("/v1/login", None, json!({ "name": "boris", "password": "x" })).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    let (code, text) = h.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(code, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(text.contains("okno_logins_total{result=\"ok\"} 1"), "{text}");
    assert!(text.contains("okno_logins_total{result=\"failed\"} 8"), "{text}");
}

#[tokio::test]
async fn endpoints_refuse_missing_tokens_and_unknown_schemas() {
    let h = Harness::new().await;
    let (code, body) = h.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((code, body), (StatusCode::OK, json!("ok")));
    let (code, body) = h.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(body["paths"]["/v1/push"].is_object());

    let body = push_body("c", &[(1, status("t1", TicketStatus::Open, 1))]);
    let (code, resp) = h.post("/v1/push", None, body.clone()).await;
    assert_eq!((code, resp["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    let (code, _) = h.post("/v1/push", Some("not-a-token"), body.clone()).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = h.post("/v1/pull", None, json!({ "cursor": 0, "limit": 1 })).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    let token = h.token("anna").await;
    let mut future = body;
    future["schema_version"] = json!(99);
    let (code, resp) = h.post("/v1/push", Some(&token), future).await;
    assert_eq!((code, resp["code"].as_str()), (StatusCode::CONFLICT, Some("unsupported_schema")));

    // A client id is bound to the account that first used it.
    let (code, _) =
        h.post("/v1/push", Some(&token), push_body("shared", &[(1, status("t1", TicketStatus::Open, 1))])).await;
    assert_eq!(code, StatusCode::OK);
    let boris = h.token("boris").await;
    let (code, resp) =
        h.post("/v1/push", Some(&boris), push_body("shared", &[(2, status("t1", TicketStatus::Open, 1))])).await;
    assert_eq!((code, resp["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
}

#[tokio::test]
async fn push_applies_once_and_a_repeat_is_a_duplicate() {
    let h = Harness::new().await;
    let token = h.token("anna").await;
    let items = [(1, status("t1", TicketStatus::Pending, 5_000)), (2, reply("t1", "msg-1", "Hello, Ivan"))];
    let (code, resp) = h.post("/v1/push", Some(&token), push_body("desk-1", &items)).await;
    assert_eq!(code, StatusCode::OK, "{resp}");
    assert_eq!(outcomes(&resp), ["applied", "applied"]);
    let v1 = resp["results"][0]["outcome"]["version"].as_u64().unwrap();
    let v2 = resp["results"][1]["outcome"]["version"].as_u64().unwrap();
    assert!(v2 > v1);
    let changelog_before = count(&h, "SELECT count(*) FROM changelog").await;

    // The response was lost; the desktop sends the same entries again.
    let (_, resp) = h.post("/v1/push", Some(&token), push_body("desk-1", &items)).await;
    assert_eq!(outcomes(&resp), ["duplicate", "duplicate"]);
    // A new entry carrying an already stored message id is a duplicate too.
    let (_, resp) =
        h.post("/v1/push", Some(&token), push_body("desk-1", &[(3, reply("t1", "msg-1", "Hello, Ivan"))])).await;
    assert_eq!(outcomes(&resp), ["duplicate"]);

    assert_eq!(count(&h, "SELECT count(*) FROM messages").await, 1);
    assert_eq!(count(&h, "SELECT message_count::bigint FROM tickets WHERE id = 't1'").await, 1);
    assert_eq!(count(&h, "SELECT count(*) FROM changelog").await, changelog_before);
    assert_eq!(count(&h, "SELECT last_seq FROM client_sequences WHERE client_id = 'desk-1'").await, 3);
    let (status_now, first_response): (String, Option<i64>) =
        sqlx::query_as("SELECT status, first_response_at FROM tickets WHERE id = 't1'")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!((status_now.as_str(), first_response), ("pending", Some(10_000)));
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM events WHERE ticket_id = 't1' AND kind <> 'ticket_created' ORDER BY kind")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(kinds, ["first_response", "message_sent", "ticket_status_changed"], "each event recorded once");

    let (_, metrics) = h.call(Method::GET, "/metrics", None, None).await;
    let metrics = metrics.as_str().unwrap();
    assert!(metrics.contains("okno_mutations_total{outcome=\"applied\"} 2"), "{metrics}");
    assert!(metrics.contains("okno_mutations_total{outcome=\"duplicate\"} 3"), "{metrics}");
    assert!(metrics.contains("okno_push_requests_total 3"), "{metrics}");
}

#[tokio::test]
async fn a_sequence_gap_is_refused_and_nothing_after_it_applies() {
    let h = Harness::new().await;
    let token = h.token("anna").await;
    let (_, resp) = h.post("/v1/push", Some(&token), push_body("d", &[(1, status("t1", TicketStatus::Open, 1))])).await;
    assert_eq!(outcomes(&resp), ["applied"]);
    let items = [(3, status("t1", TicketStatus::Closed, 3)), (4, status("t3", TicketStatus::Closed, 4))];
    let (code, resp) = h.post("/v1/push", Some(&token), push_body("d", &items)).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(outcomes(&resp), ["rejected:sequence_gap", "rejected:sequence_gap"]);
    assert_eq!(count(&h, "SELECT count(*) FROM tickets WHERE status = 'closed'").await, 0);
    assert_eq!(count(&h, "SELECT last_seq FROM client_sequences WHERE client_id = 'd'").await, 1);
    // A client's first push must start at 1.
    let (_, resp) =
        h.post("/v1/push", Some(&token), push_body("fresh", &[(2, status("t1", TicketStatus::Open, 1))])).await;
    assert_eq!(outcomes(&resp), ["rejected:sequence_gap"]);
    // Filling the gap works, and so does the entry that was refused.
    let items = [(2, status("t1", TicketStatus::Pending, 2)), (3, status("t1", TicketStatus::Closed, 3))];
    let (_, resp) = h.post("/v1/push", Some(&token), push_body("d", &items)).await;
    assert_eq!(outcomes(&resp), ["applied", "applied"]);
}

#[tokio::test]
async fn refused_mutations_roll_back_but_consume_their_sequence() {
    let h = Harness::new().await;
    let kate = h.token("kate").await;
    let anna = h.token("anna").await;
    let items = [
        (1, status("t1", TicketStatus::Closed, 1)), // q1 is not granted to the contractor
        (2, status("t2", TicketStatus::Open, 2)),   // q2 is
        (3, reply("t2", "m-empty", "   ")),
        (4, status("nope", TicketStatus::Open, 4)),
        (5, Mutation::SetAgentState { operator_id: "anna".into(), state: AgentState::Break, at: 5 }),
        (6, Mutation::AssignTicket { ticket_id: "t2".into(), assignee_id: Some("anna".into()), at: 6 }),
    ];
    let (code, resp) = h.post("/v1/push", Some(&kate), push_body("k", &items)).await;
    assert_eq!(code, StatusCode::OK, "{resp}");
    assert_eq!(
        outcomes(&resp),
        [
            "rejected:forbidden",
            "applied",
            "rejected:invalid",
            "rejected:not_found",
            "rejected:forbidden",
            "rejected:forbidden"
        ]
    );
    assert_eq!(count(&h, "SELECT count(*) FROM tickets WHERE status = 'closed'").await, 0);
    assert_eq!(count(&h, "SELECT last_seq FROM client_sequences WHERE client_id = 'k'").await, 6);
    // The owner and a lead may unassign; another operator may not.
    let (_, resp) = h.post("/v1/push", Some(&anna), push_body("a", &[(1, claim("t1", "anna"))])).await;
    assert_eq!(outcomes(&resp), ["applied"]);
    let boris = h.token("boris").await;
    let unassign = Mutation::AssignTicket { ticket_id: "t1".into(), assignee_id: None, at: 7 };
    let (_, resp) = h.post("/v1/push", Some(&boris), push_body("b", &[(1, unassign.clone())])).await;
    assert_eq!(outcomes(&resp), ["rejected:forbidden"]);
    let (_, resp) = h.post("/v1/push", Some(&anna), push_body("a", &[(2, unassign)])).await;
    assert_eq!(outcomes(&resp), ["applied"]);
    let lena = h.token("lena").await;
    let give = Mutation::AssignTicket { ticket_id: "t1".into(), assignee_id: Some("boris".into()), at: 8 };
    let (_, resp) = h.post("/v1/push", Some(&lena), push_body("l", &[(1, give)])).await;
    assert_eq!(outcomes(&resp), ["applied"]);
    let history: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT operator_id, released_at FROM ticket_assignments WHERE ticket_id = 't1' ORDER BY id")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(history, [("anna".to_owned(), Some(7)), ("boris".to_owned(), None)]);
}

#[tokio::test]
async fn a_retried_refusal_is_refused_again_not_acknowledged() {
    // Found by okno-sim: the answer to a refused claim is lost, the desktop resends it, and the
    // server used to call the consumed sequence a `duplicate`, which the desktop takes for
    // "applied": it kept a ticket it never got.
    let h = Harness::new().await;
    let anna = h.token("anna").await;
    let boris = h.token("boris").await;
    let (_, resp) = h.post("/v1/push", Some(&anna), push_body("a", &[(1, claim("t1", "anna"))])).await;
    assert_eq!(outcomes(&resp), ["applied"]);
    let items = [(1, claim("t1", "boris")), (2, status("t3", TicketStatus::Pending, 2))];
    let (_, first) = h.post("/v1/push", Some(&boris), push_body("b", &items)).await;
    assert_eq!(outcomes(&first), ["rejected:already_claimed", "applied"]);
    let (_, again) = h.post("/v1/push", Some(&boris), push_body("b", &items)).await;
    assert_eq!(outcomes(&again), ["rejected:already_claimed", "duplicate"]);
    assert_eq!(again["results"][0], first["results"][0], "the same verdict and reason");
    assert_eq!(count(&h, "SELECT count(*) FROM ticket_assignments WHERE ticket_id = 't1'").await, 1);
}

#[tokio::test]
async fn a_poison_write_is_refused_and_the_writes_after_it_go_on() {
    // A reply PostgreSQL cannot store (a NUL character), and a mutation this server cannot read
    // (a newer desk's): each is refused on its own, and the good writes around them apply.
    let h = Harness::new().await;
    let anna = h.token("anna").await;
    let good = |seq: u64, id: &str| json!({ "client_seq": seq, "mutation_id": format!("m{seq}"), "mutation": serde_json::to_value(reply("t1", id, "Fine")).unwrap() });
    let push = json!({
        "client_id": "poisoned",
        "schema_version": SCHEMA_VERSION,
        "mutations": [
            { "client_seq": 1, "mutation_id": "m1", "mutation": serde_json::to_value(reply("t1", "bad-1", "nul \u{0} here")).unwrap() },
            good(2, "good-2"),
            { "client_seq": 3, "mutation_id": "m3", "mutation": { "kind": "teleport_ticket", "ticket_id": "t1" } },
            good(4, "good-4"),
        ],
    });
    let (code, first) = h.post("/v1/push", Some(&anna), push.clone()).await;
    assert_eq!(code, StatusCode::OK, "{first}");
    assert_eq!(outcomes(&first), ["rejected:cannot_apply", "applied", "rejected:malformed", "applied"]);
    assert!(first["results"][0]["outcome"]["reason"].as_str().unwrap().contains("cannot store"), "{first}");
    // A retry (the answer was lost) gets the same verdicts.
    let (_, again) = h.post("/v1/push", Some(&anna), push).await;
    assert_eq!(outcomes(&again), ["rejected:cannot_apply", "duplicate", "rejected:malformed", "duplicate"]);
    assert_eq!(count(&h, "SELECT count(*) FROM messages WHERE id IN ('good-2', 'good-4')").await, 2);
    assert_eq!(count(&h, "SELECT count(*) FROM messages WHERE id = 'bad-1'").await, 0);
}

#[tokio::test]
async fn a_sequence_reused_by_another_mutation_is_a_conflict_not_a_duplicate() {
    // A desk restored from yesterday's backup numbers its new writes from where the backup was:
    // the server has seen those numbers, with other mutations.
    let h = Harness::new().await;
    let anna = h.token("anna").await;
    let (_, resp) = h.post("/v1/push", Some(&anna), push_body("restored", &[(1, reply("t1", "before", "Hi"))])).await;
    assert_eq!(outcomes(&resp), ["applied"]);
    let mut after = push_body("restored", &[(1, reply("t1", "after-restore", "A new reply"))]);
    after["mutations"][0]["mutation_id"] = json!("another-id");
    let (_, resp) = h.post("/v1/push", Some(&anna), after).await;
    assert_eq!(outcomes(&resp), ["rejected:sequence_reused"], "{resp}");
    // The same mutation again is still a plain retry.
    let (_, resp) = h.post("/v1/push", Some(&anna), push_body("restored", &[(1, reply("t1", "before", "Hi"))])).await;
    assert_eq!(outcomes(&resp), ["duplicate"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claims_have_exactly_one_winner() {
    let h = Harness::new().await;
    let mut tokens = Vec::new();
    for i in 0..20 {
        let id = format!("op{i:02}");
        admin::create_operator(&h.pool, &id, &id, Role::Operator, None).await.unwrap();
        admin::grant_queue(&h.pool, &id, "q1").await.unwrap();
        tokens.push((id.clone(), h.token(&id).await));
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(tokens.len()));
    let mut tasks = Vec::new();
    for (id, token) in tokens {
        let app = h.app.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let body = push_body(&format!("desk-{id}"), &[(1, claim("t3", &id))]);
            barrier.wait().await;
            let (code, resp) = common::call(&app, Method::POST, "/v1/push", Some(&token), Some(body)).await;
            assert_eq!(code, StatusCode::OK, "{resp}");
            (id, outcomes(&resp).remove(0))
        }));
    }
    let mut winners = Vec::new();
    let mut losers = 0;
    for task in tasks {
        let (id, outcome) = task.await.unwrap();
        match outcome.as_str() {
            "applied" => winners.push(id),
            "rejected:already_claimed" => losers += 1,
            other => panic!("unexpected outcome {other}"),
        }
    }
    assert_eq!((winners.len(), losers), (1, 19), "winners: {winners:?}");
    let owner: Option<String> =
        sqlx::query_scalar("SELECT assignee_id FROM tickets WHERE id = 't3'").fetch_one(&h.pool).await.unwrap();
    assert_eq!(owner.as_deref(), Some(winners[0].as_str()));
    assert_eq!(
        count(&h, "SELECT count(*) FROM ticket_assignments WHERE ticket_id = 't3' AND released_at IS NULL").await,
        1
    );
    assert_eq!(
        count(&h, "SELECT count(*) FROM client_sequences WHERE last_seq = 1").await,
        20,
        "losers' seqs consumed"
    );
}

#[tokio::test]
async fn pull_returns_entitled_buckets_in_version_order() {
    let h = Harness::new().await;
    let lena = h.token("lena").await;
    let anna = h.token("anna").await;
    let kate = h.token("kate").await;
    let items = [
        (1, status("t2", TicketStatus::Open, 1)),
        (2, status("t1", TicketStatus::Pending, 2)),
        (3, Mutation::SetAgentState { operator_id: "lena".into(), state: AgentState::Available, at: 3 }),
        (4, status("t2", TicketStatus::Resolved, 4)),
    ];
    let (_, resp) = h.post("/v1/push", Some(&lena), push_body("l", &items)).await;
    assert_eq!(outcomes(&resp), ["applied"; 4]);

    let all = pull_all(&h, &lena, 1000).await;
    let versions: Vec<u64> = all.iter().map(|c| c["version"].as_u64().unwrap()).collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "strictly increasing: {versions:?}");
    assert_eq!(versions.len() as i64, count(&h, "SELECT count(*) FROM changelog").await, "a lead sees every bucket");

    // Paging in small pages gives the same sequence.
    let paged = pull_all(&h, &lena, 3).await;
    assert_eq!(paged, all);

    let buckets = |changes: &[Value]| -> Vec<String> {
        let mut b: Vec<String> = changes.iter().map(|c| c["bucket"].as_str().unwrap().to_owned()).collect();
        b.sort();
        b.dedup();
        b
    };
    let anna_changes = pull_all(&h, &anna, 2).await;
    assert_eq!(buckets(&anna_changes), ["queue:q1", "user:anna"]);
    assert!(anna_changes.iter().all(|c| c["id"] != "t2"));
    let kate_changes = pull_all(&h, &kate, 1000).await;
    assert_eq!(buckets(&kate_changes), ["queue:q2", "user:kate"]);
    let t2 = kate_changes.iter().rfind(|c| c["id"] == "t2").unwrap();
    assert_eq!(t2["data"]["status"], "resolved");

    // Past the last change a pull returns nothing and a cursor at the head.
    let head = count(&h, "SELECT COALESCE(max(version), 0) FROM changelog").await as u64;
    let (_, resp) = h.post("/v1/pull", Some(&anna), json!({ "cursor": 0, "limit": 1000 })).await;
    assert_eq!(resp["cursor"].as_u64(), Some(head), "versions of other buckets are skipped");
    let (_, resp) = h.post("/v1/pull", Some(&anna), json!({ "cursor": head, "limit": 1000 })).await;
    assert_eq!(resp, json!({ "changes": [], "cursor": head, "has_more": false, "head": head }));
    // A desk that has seen versions this server does not have (it was restored from a backup)
    // learns the server's head, behind its own cursor, from the pull itself.
    let (_, resp) = h.post("/v1/pull", Some(&anna), json!({ "cursor": head + 50, "limit": 1000 })).await;
    assert_eq!(resp["head"].as_u64(), Some(head), "{resp}");
}

#[tokio::test]
async fn contractors_pull_masked_contacts() {
    let h = Harness::new().await;
    let kate = h.token("kate").await;
    let anna = h.token("anna").await;
    let customer = |changes: &[Value]| -> Value {
        changes.iter().find(|c| c["entity"] == "customer" && c["id"] == "c1").expect("customer c1")["data"].clone()
    };
    let clear = customer(&pull_all(&h, &anna, 1000).await);
    let phones = |data: &Value, kind: &str| -> Vec<String> {
        data["identities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == kind)
            .map(|i| i["value"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(phones(&clear, "phone"), ["+7 915 123-45-67"]);
    let kate_changes = pull_all(&h, &kate, 1000).await;
    let masked = customer(&kate_changes);
    assert_eq!(phones(&masked, "phone"), ["+* *** ***-**-67"]);
    assert_eq!(phones(&masked, "email"), ["i***@mail.ru"]);
    assert_eq!(masked["name"], "Customer c1");
    let text = serde_json::to_string(&kate_changes).unwrap();
    assert!(!text.contains("123-45") && !text.contains("ivan.petrov"), "no clear contact anywhere: {text}");

    // A team lead writes the customer's contacts into a reply on the contractor's ticket.
    let lena = h.token("lena").await;
    let body =
        "Call +79151234567 (or 8 915 123 45 67), mail ivan.petrov@mail.ru, tg @ivan_petrov; card 4276 1234 5678 9012";
    let (code, resp) =
        h.post("/v1/push", Some(&lena), push_body("lena-desk", &[(1, reply("t2", "m-pii", body))])).await;
    assert_eq!((code, outcomes(&resp)), (StatusCode::OK, vec!["applied".to_owned()]), "{resp}");
    let clear = pull_all(&h, &lena, 1000).await;
    assert!(serde_json::to_string(&clear).unwrap().contains("+79151234567"), "staff see the reply as written");
    let kate_changes = pull_all(&h, &kate, 1000).await;
    let reply = kate_changes.iter().find(|c| c["id"] == "m-pii").expect("the contractor gets the reply");
    assert_eq!(
        reply["data"]["body"],
        "Call +*********67 (or * *** *** ** 67), mail i***@mail.ru, tg @***; card **** **** **** **12"
    );
    // No text a contractor pulled exposes more than the allowed clear digits (ids and hashes are
    // the server's own, not text).
    fn strings<'a>(key: &str, value: &'a Value, into: &mut Vec<(String, &'a str)>) {
        match value {
            Value::String(s) if !(key == "id" || key.ends_with("_id") || key == "sha256" || key == "recording_ref") => {
                into.push((key.to_owned(), s))
            }
            Value::Array(list) => list.iter().for_each(|v| strings(key, v, into)),
            Value::Object(map) => map.iter().for_each(|(k, v)| strings(k, v, into)),
            _ => {}
        }
    }
    let mut texts = Vec::new();
    for change in &kate_changes {
        strings("data", &change["data"], &mut texts);
    }
    assert!(texts.iter().any(|(k, _)| k == "preview"), "the previews are checked too");
    for (key, text) in texts {
        assert_eq!(okno_core::pii::clear_digits_exposed(text), 0, "{key}: {text:?}");
    }
}

/// The client engine of okno-sync, driven against the real server through the router.
struct Desk {
    engine: Engine,
    token: String,
    outbox: Vec<PushItem>,
    next_seq: u64,
    local: BTreeMap<(String, String), Value>,
    rejected: Vec<(u64, String)>,
}

impl Desk {
    fn new(client_id: &str, token: String) -> Desk {
        Desk {
            engine: Engine::new(EngineConfig::new(client_id), 0),
            token,
            outbox: Vec::new(),
            next_seq: 1,
            local: BTreeMap::new(),
            rejected: Vec::new(),
        }
    }

    fn write(&mut self, now: Instant, mutation: Mutation) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.outbox.push(PushItem { client_seq: seq, mutation_id: okno_core::new_id(), mutation });
        self.engine.handle_input(now, Input::Outbox(self.outbox.clone()));
    }

    /// Step until the engine is idle; the clock is virtual, the server real.
    async fn sync(&mut self, h: &Harness, mut now: Instant) {
        for _ in 0..1000 {
            match self.engine.poll_output(now) {
                Output::Transmit(Request::Push(req)) => {
                    let (code, resp) = h.post("/v1/push", Some(&self.token), serde_json::to_value(req).unwrap()).await;
                    let input = if code == StatusCode::OK {
                        Input::PushResponse(serde_json::from_value::<PushResponse>(resp).unwrap())
                    } else {
                        Input::NetworkError
                    };
                    self.engine.handle_input(now, input);
                }
                Output::Transmit(Request::Pull(req)) => {
                    let (code, resp) = h.post("/v1/pull", Some(&self.token), serde_json::to_value(req).unwrap()).await;
                    assert_eq!(code, StatusCode::OK);
                    self.engine
                        .handle_input(now, Input::PullResponse(serde_json::from_value::<PullResponse>(resp).unwrap()));
                }
                Output::Acked(acks) => self.outbox.retain(|m| !acks.iter().any(|a| a.seq == m.client_seq)),
                Output::Rejected { seq, code, .. } => {
                    self.outbox.retain(|m| m.client_seq != seq);
                    self.rejected.push((seq, code));
                }
                Output::ApplyBatch { changes, .. } => {
                    assert!(self.outbox.is_empty());
                    for c in changes {
                        self.local.insert((c.entity, c.id), c.data);
                    }
                }
                Output::Timeout(at) => {
                    if self.engine.is_idle() {
                        return;
                    }
                    now = at.max(now + Duration::from_millis(1));
                }
            }
        }
        panic!("the engine did not settle");
    }
}

#[tokio::test]
async fn the_client_engine_converges_against_the_real_server() {
    let h = Harness::new().await;
    let t0 = Instant::now();
    let mut anna = Desk::new("anna-desk", h.token("anna").await);
    let mut boris = Desk::new("boris-desk", h.token("boris").await);
    anna.sync(&h, t0).await;
    boris.sync(&h, t0).await;
    assert_eq!(anna.local.get(&("ticket".into(), "t1".into())).unwrap()["status"], "new");

    // Both go for t1 while offline from each other; boris pushes first.
    boris.write(t0, claim("t1", "boris"));
    boris.write(t0, reply("t1", "boris-msg", "Boris here"));
    anna.write(t0, status("t3", TicketStatus::Pending, 11_000));
    anna.write(t0, claim("t1", "anna"));
    anna.write(t0, reply("t3", "anna-msg", "Anna here"));
    anna.write(
        t0,
        Mutation::SetTicketTags { ticket_id: "t3".into(), tags: vec!["vip".into(), "VIP".into()], at: 12_000 },
    );
    boris.sync(&h, t0).await;
    anna.sync(&h, t0).await;
    // The server's poke after anna's commits (NATS/WebSocket, not built yet) wakes boris.
    let head = count(&h, "SELECT COALESCE(max(version), 0) FROM changelog").await as u64;
    boris.engine.handle_input(t0, Input::Poke { version: head });
    boris.sync(&h, t0).await;

    assert_eq!(anna.rejected, [(2, "already_claimed".to_owned())]);
    assert!(boris.rejected.is_empty());
    assert!(anna.outbox.is_empty() && boris.outbox.is_empty());
    // Both desks now hold exactly the server's rows for queue q1.
    let rows: Vec<(String, Value)> =
        sqlx::query_as("SELECT id, to_jsonb(tickets.*) FROM tickets WHERE queue_id = 'q1'")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    for (id, row) in rows {
        for desk in [&anna, &boris] {
            assert_eq!(desk.local.get(&("ticket".to_owned(), id.clone())), Some(&row), "ticket {id}");
        }
    }
    assert_eq!(anna.local[&("ticket".to_owned(), "t1".to_owned())]["assignee_id"], "boris");
    assert_eq!(anna.local[&("ticket".to_owned(), "t3".to_owned())]["tags"], json!(["vip"]));
    assert!(boris.local.contains_key(&("message".to_owned(), "anna-msg".to_owned())));
    assert!(!anna.local.contains_key(&("ticket".to_owned(), "t2".to_owned())), "q2 is not anna's");
}

#[tokio::test]
async fn two_instances_migrating_at_once_apply_each_migration_once() {
    let db = TestDb::new().await;
    let connect = || async { sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&db.url).await.unwrap() };
    let (a, b) = (connect().await, connect().await);
    let (ra, rb) = tokio::join!(okno_server::migrate::migrate(&a), okno_server::migrate::migrate(&b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra + rb, okno_server::migrate::latest() as usize, "each migration applied by one of them only");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM schema_migrations").fetch_one(&a).await.unwrap();
    assert_eq!(rows, okno_server::migrate::latest());
    assert_eq!(okno_server::migrate::migrate(&a).await.unwrap(), 0);
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_puller_racing_writers_never_skips_a_committed_change() {
    let h = Harness::new().await;
    let lena = h.token("lena").await;
    let start = count(&h, "SELECT COALESCE(max(version), 0) FROM changelog").await as u64;
    let mut writers = Vec::new();
    for w in 0..6 {
        let id = format!("w{w}");
        admin::create_operator(&h.pool, &id, &id, Role::Operator, None).await.unwrap();
        admin::grant_queue(&h.pool, &id, "q1").await.unwrap();
        let token = h.token(&id).await;
        let app = h.app.clone();
        writers.push(tokio::spawn(async move {
            for batch in 0..10u64 {
                let items: Vec<(u64, Mutation)> = (1..=4)
                    .map(|i| {
                        let seq = batch * 4 + i;
                        let m = if seq.is_multiple_of(2) {
                            status(
                                if w % 2 == 0 { "t1" } else { "t3" },
                                TicketStatus::ALL[seq as usize % 5],
                                seq as i64,
                            )
                        } else {
                            reply("t3", &format!("{id}-msg-{seq}"), "racing")
                        };
                        (seq, m)
                    })
                    .collect();
                let body = push_body(&format!("desk-{id}"), &items);
                let (code, resp) = common::call(&app, Method::POST, "/v1/push", Some(&token), Some(body)).await;
                assert_eq!(code, StatusCode::OK, "{resp}");
                assert_eq!(outcomes(&resp), ["applied"; 4]);
            }
        }));
    }
    // Pull in small pages all along, as a desktop woken by every poke would.
    let mut seen = Vec::new();
    let mut cursor = start;
    let mut writers_done = false;
    loop {
        let (code, resp) = h.post("/v1/pull", Some(&lena), json!({ "cursor": cursor, "limit": 7 })).await;
        assert_eq!(code, StatusCode::OK);
        seen.extend(resp["changes"].as_array().unwrap().iter().map(|c| c["version"].as_u64().unwrap()));
        cursor = resp["cursor"].as_u64().unwrap();
        if writers_done && !resp["has_more"].as_bool().unwrap() {
            break;
        }
        if !writers_done && writers.iter().all(|t| t.is_finished()) {
            writers_done = true; // one more full pass after the last commit
        }
        tokio::task::yield_now().await;
    }
    for t in writers {
        t.await.unwrap();
    }
    let committed: Vec<i64> = sqlx::query_scalar("SELECT version FROM changelog WHERE version > $1 ORDER BY version")
        .bind(start as i64)
        .fetch_all(&h.pool)
        .await
        .unwrap();
    let committed: Vec<u64> = committed.into_iter().map(|v| v as u64).collect();
    assert_eq!(committed.len(), 6 + 6 * 40 / 2 * 3, "6 new operators, 120 status changes, 120 replies (2 each)");
    assert_eq!(seen, committed, "every committed version pulled once, in order");
}

fn call(id: &str, ticket: Option<&str>) -> Mutation {
    Mutation::SaveCall {
        call_id: id.into(),
        customer_id: Some("c1".into()),
        ticket_id: ticket.map(Into::into),
        queue_id: Some("q1".into()),
        direction: okno_core::CallDirection::Inbound,
        from_number: "+7 915 123-45-67".into(),
        to_number: "+7 800 555-35-35".into(),
        started_at: 10_000,
        answered_at: Some(14_000),
        ended_at: 74_000,
        outcome: okno_core::CallOutcome::Answered,
        disposition: Some("Покупатель / Статус доставки".into()),
        notes: "asked about order 100123".into(),
        recording_ref: None,
        quality: Some(okno_core::CallQuality {
            mos_centi: 432,
            loss_centi_pct: 12,
            jitter_ms: 3,
            rtt_ms: Some(20),
            packets_received: 3000,
        }),
        transferred_to: Some("1002".into()),
        recording_pauses: vec![okno_core::RecordingPause { from: 30_000, to: 42_000 }],
    }
}

#[tokio::test]
async fn a_saved_call_is_stored_once_with_its_report_event_and_follows_its_ticket_s_queue() {
    let h = Harness::new().await;
    let anna = h.token("anna").await;
    let (code, resp) = h.post("/v1/push", Some(&anna), push_body("desk-1", &[(1, call("call-1", Some("t1")))])).await;
    assert_eq!(code, StatusCode::OK, "{resp}");
    assert_eq!(outcomes(&resp), ["applied"]);
    // The same call pushed again under a new mutation (the desk crashed before the ack): no second row.
    let (_, resp) = h.post("/v1/push", Some(&anna), push_body("desk-1", &[(2, call("call-1", Some("t1")))])).await;
    assert_eq!(outcomes(&resp), ["duplicate"]);
    assert_eq!(count(&h, "SELECT count(*) FROM calls WHERE id = 'call-1'").await, 1);
    let data: Value =
        sqlx::query_scalar("SELECT data FROM events WHERE kind = 'call_ended'").fetch_one(&h.pool).await.unwrap();
    assert_eq!((data["talk_ms"].as_i64(), data["ring_ms"].as_i64()), (Some(60_000), Some(4_000)));
    assert_eq!(data["quality"]["mos_centi"], 432);
    assert_eq!(data["transferred_to"], "1002", "the transfer is in the report event");
    assert_eq!(data["recording_pauses"][0]["to"], 42_000, "the recording's pause is in the call's history");
    let changes = pull_all(&h, &anna, 100).await;
    assert!(changes.iter().any(|c| c["entity"] == "call" && c["id"] == "call-1"), "anna pulls her call");

    // A call linked to a ticket of a queue she is not granted is refused; out-of-order times too.
    let kate = h.token("kate").await;
    let (_, resp) = h.post("/v1/push", Some(&kate), push_body("desk-k", &[(1, call("call-2", Some("t1")))])).await;
    assert_eq!(outcomes(&resp), ["rejected:forbidden"]);
    let mut bad = call("call-3", None);
    if let Mutation::SaveCall { answered_at, .. } = &mut bad {
        *answered_at = Some(1);
    }
    let (_, resp) = h.post("/v1/push", Some(&anna), push_body("desk-1", &[(3, bad)])).await;
    assert_eq!(outcomes(&resp), ["rejected:invalid"]);
    assert_eq!(count(&h, "SELECT count(*) FROM calls").await, 1);
}
