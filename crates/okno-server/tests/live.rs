//! Live pokes, presence and agent states over real WebSockets, and claims racing through two
//! server instances (two `AppState`s on one database, as two processes would have).
//!
//! The cross-instance tests need NATS on 127.0.0.1:4222 (`OKNO_TEST_NATS` to point elsewhere).
//! Without it they fail when `CI=true` (CI installs NATS) and otherwise run against one
//! instance, which still checks everything but the fan-out.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::Harness;
use futures_util::StreamExt;
use okno_core::{AgentState, Channel, Mutation, Priority, Role, TicketStatus};
use okno_server::admin::{self, NewTicket};
use okno_server::{AppState, Config, app};
use okno_sync::{LIVE_PATH, LiveEvent, PushItem, PushRequest, SCHEMA_VERSION};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A guard against a hang, not a performance bound: events normally arrive in milliseconds.
const PATIENCE: Duration = Duration::from_secs(20);

/// One more server instance on the harness's database, served on a free port.
struct Instance {
    state: AppState,
    addr: SocketAddr,
}

async fn instance(h: &Harness, nats: Option<&str>) -> Instance {
    let mut config = Config::new(h.db.url.clone());
    config.max_connections = 8;
    config.nats_url = nats.map(str::to_owned);
    let state = AppState::connect(&config).await.expect("second instance");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Instance { state, addr }
}

/// Two instances with NATS, or the same lone instance twice without it.
async fn two_instances(h: &Harness) -> (Instance, Instance) {
    match okno_testkit::nats::url("testing one instance only (no fan-out between instances)") {
        Some(url) => (instance(h, Some(&url)).await, instance(h, Some(&url)).await),
        None => {
            let a = instance(h, None).await;
            let b = Instance { state: a.state.clone(), addr: a.addr };
            (a, b)
        }
    }
}

async fn connect(instance: &Instance, token: &str) -> Socket {
    let mut req = format!("ws://{}{LIVE_PATH}", instance.addr).into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(req).await.expect("WebSocket upgrade");
    socket
}

async fn next_event(socket: &mut Socket) -> LiveEvent {
    loop {
        let msg = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("no live event in time")
            .expect("socket closed")
            .expect("socket error");
        if let Message::Text(text) = msg {
            return serde_json::from_str(&text).expect("a LiveEvent");
        }
    }
}

/// Skip events until one matches.
async fn wait_for(socket: &mut Socket, what: impl Fn(&LiveEvent) -> bool) -> LiveEvent {
    loop {
        let event = next_event(socket).await;
        if what(&event) {
            return event;
        }
    }
}

fn push_body(client: &str, items: Vec<(u64, Mutation)>) -> Value {
    let mutations = items
        .into_iter()
        .map(|(seq, mutation)| PushItem { client_seq: seq, mutation_id: okno_core::new_id(), mutation })
        .collect();
    serde_json::to_value(PushRequest { client_id: client.into(), schema_version: SCHEMA_VERSION, mutations }).unwrap()
}

async fn push(instance: &Instance, token: &str, client: &str, items: Vec<(u64, Mutation)>) -> Vec<Value> {
    let router = app(instance.state.clone());
    let (code, resp) =
        common::call(&router, Method::POST, "/v1/push", Some(token), Some(push_body(client, items))).await;
    assert_eq!(code, StatusCode::OK, "{resp}");
    resp["results"].as_array().unwrap().iter().map(|r| r["outcome"].clone()).collect()
}

fn status(ticket: &str, status: TicketStatus) -> Mutation {
    Mutation::SetTicketStatus { ticket_id: ticket.into(), status, at: 20_000 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_instance_pokes_entitled_desktops_on_the_other() {
    let h = Harness::new().await;
    let (a, b) = two_instances(&h).await;
    let (anna, boris, kate, lena) =
        (h.token("anna").await, h.token("boris").await, h.token("kate").await, h.token("lena").await);
    let mut boris_ws = connect(&b, &boris).await;
    let mut kate_ws = connect(&b, &kate).await;
    let LiveEvent::Hello { version: head } = next_event(&mut boris_ws).await else { panic!("hello comes first") };
    assert!(matches!(next_event(&mut kate_ws).await, LiveEvent::Hello { .. }));

    // anna (q1) changes t1 through instance A: boris (q1) on B hears of it, without row data.
    let outcomes = push(&a, &anna, "anna-desk", vec![(1, status("t1", TicketStatus::Pending))]).await;
    let version = outcomes[0]["version"].as_u64().expect("applied");
    assert!(version > head);
    let poke = wait_for(&mut boris_ws, |e| matches!(e, LiveEvent::Poke { .. })).await;
    assert_eq!(poke, LiveEvent::Poke { bucket: "queue:q1".into(), version });

    // A change in q2 (kate's only queue) through A: the first poke kate gets is that one, so
    // the q1 poke before it never reached her.
    let outcomes = push(&a, &lena, "lena-desk", vec![(1, status("t2", TicketStatus::Open))]).await;
    let version = outcomes[0]["version"].as_u64().expect("applied");
    let poke = wait_for(&mut kate_ws, |e| matches!(e, LiveEvent::Poke { .. })).await;
    assert_eq!(poke, LiveEvent::Poke { bucket: "queue:q2".into(), version });

    // A desktop that reconnects learns the head from its hello.
    drop(boris_ws);
    let mut boris_ws = connect(&a, &boris).await;
    assert_eq!(next_event(&mut boris_ws).await, LiveEvent::Hello { version });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_lead_sees_who_is_connected_and_agent_state_changes() {
    let h = Harness::new().await;
    let (a, b) = two_instances(&h).await;
    let (anna, lena) = (h.token("anna").await, h.token("lena").await);
    let mut lena_ws = connect(&a, &lena).await;
    assert!(matches!(next_event(&mut lena_ws).await, LiveEvent::Hello { .. }));
    let online =
        |e: &LiveEvent, who: &str| matches!(e, LiveEvent::Presence { online } if online.iter().any(|o| o == who));
    wait_for(&mut lena_ws, |e| online(e, "lena")).await;

    let mut anna_ws = connect(&b, &anna).await;
    assert!(matches!(next_event(&mut anna_ws).await, LiveEvent::Hello { .. }));
    let presence = wait_for(&mut lena_ws, |e| online(e, "anna")).await;
    assert_eq!(presence, LiveEvent::Presence { online: vec!["anna".into(), "lena".into()] });

    let set_break = Mutation::SetAgentState { operator_id: "anna".into(), state: AgentState::Break, at: 30_000 };
    let outcomes = push(&b, &anna, "anna-desk", vec![(1, set_break)]).await;
    assert_eq!(outcomes[0]["kind"], "applied");
    let state = wait_for(&mut lena_ws, |e| matches!(e, LiveEvent::AgentState { .. })).await;
    assert_eq!(state, LiveEvent::AgentState { operator_id: "anna".into(), state: AgentState::Break, since: 30_000 });
    // anna's own socket gets the poke for her user bucket, never the wallboard events.
    let event = wait_for(&mut anna_ws, |e| !matches!(e, LiveEvent::Presence { .. })).await;
    assert!(matches!(event, LiveEvent::Poke { ref bucket, .. } if bucket == "user:anna"), "{event:?}");

    anna_ws.close(None).await.unwrap();
    let presence = wait_for(&mut lena_ws, |e| !online(e, "anna") && matches!(e, LiveEvent::Presence { .. })).await;
    assert_eq!(presence, LiveEvent::Presence { online: vec!["lena".into()] });
}

#[tokio::test]
async fn the_live_socket_needs_a_valid_token() {
    let h = Harness::new().await;
    let a = instance(&h, None).await;
    let mut req = format!("ws://{}{LIVE_PATH}", a.addr).into_client_request().unwrap();
    req.headers_mut().insert("authorization", "Bearer nope".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.expect_err("refused");
    assert!(err.to_string().contains("401"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_racing_through_two_instances_have_exactly_one_winner_per_ticket() {
    let h = Harness::new().await;
    let (a, b) = (instance(&h, None).await, instance(&h, None).await);
    const TICKETS: usize = 8;
    const OPERATORS: usize = 16;
    let tickets: Vec<String> = (0..TICKETS).map(|i| format!("race-{i}")).collect();
    for (i, id) in tickets.iter().enumerate() {
        let ticket = NewTicket {
            id: id.clone(),
            number: 100 + i as i64,
            subject: "Racing".into(),
            customer_id: "c1".into(),
            channel: Channel::Phone,
            priority: Priority::Normal,
            queue_id: "q1".into(),
            created_at: 3_000,
        };
        admin::create_ticket(&h.pool, &ticket).await.unwrap();
    }
    let mut operators = Vec::new();
    for i in 0..OPERATORS {
        let id = format!("racer{i:02}");
        admin::create_operator(&h.pool, &id, &id, Role::Operator, None).await.unwrap();
        admin::grant_queue(&h.pool, &id, "q1").await.unwrap();
        operators.push((id.clone(), h.token(&id).await));
    }
    let instances = [a, b];
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(OPERATORS));
    let mut tasks = Vec::new();
    for (i, (id, token)) in operators.into_iter().enumerate() {
        // Half the desktops on each instance; each claims every ticket, in its own order.
        let router = app(instances[i % 2].state.clone());
        let barrier = barrier.clone();
        let mut order = tickets.clone();
        order.rotate_left(i % TICKETS);
        tasks.push(tokio::spawn(async move {
            let items: Vec<(u64, Mutation)> = order
                .iter()
                .enumerate()
                .map(|(n, t)| {
                    (
                        n as u64 + 1,
                        Mutation::AssignTicket { ticket_id: t.clone(), assignee_id: Some(id.clone()), at: 1 },
                    )
                })
                .collect();
            let body = push_body(&format!("desk-{id}"), items);
            barrier.wait().await;
            let (code, resp) = common::call(&router, Method::POST, "/v1/push", Some(&token), Some(body)).await;
            assert_eq!(code, StatusCode::OK, "{resp}");
            let outcomes: Vec<(String, String)> = resp["results"]
                .as_array()
                .unwrap()
                .iter()
                .zip(&order)
                .map(|(r, t)| {
                    let o = &r["outcome"];
                    let verdict = match o["kind"].as_str().unwrap() {
                        "rejected" => format!("rejected:{}", o["code"].as_str().unwrap()),
                        kind => kind.to_owned(),
                    };
                    (t.clone(), verdict)
                })
                .collect();
            (id, outcomes)
        }));
    }
    let mut winners: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut rejections = 0;
    for task in tasks {
        let (id, outcomes) = task.await.unwrap();
        for (ticket, verdict) in outcomes {
            match verdict.as_str() {
                "applied" => winners.entry(ticket).or_default().push(id.clone()),
                "rejected:already_claimed" => rejections += 1,
                other => panic!("{id} claiming {ticket}: unexpected {other}"),
            }
        }
    }
    assert_eq!(winners.len(), TICKETS, "every ticket was won: {winners:?}");
    for (ticket, who) in &winners {
        assert_eq!(who.len(), 1, "{ticket} won by {who:?}");
        let owner: Option<String> = sqlx::query_scalar("SELECT assignee_id FROM tickets WHERE id = $1")
            .bind(ticket)
            .fetch_one(&h.pool)
            .await
            .unwrap();
        assert_eq!(owner.as_ref(), Some(&who[0]), "the winner owns {ticket}");
    }
    assert_eq!(rejections, TICKETS * (OPERATORS - 1), "every loser was told already_claimed");
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ticket_assignments WHERE ticket_id LIKE 'race-%' AND released_at IS NULL",
    )
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert_eq!(open, TICKETS as i64, "one open assignment per ticket");
}
