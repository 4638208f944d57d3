//! The website chat over real WebSockets against a real server instance: a visitor's chat
//! becomes a ticket that operators pull, an operator's reply reaches every tab of the visitor
//! and no one else, history survives a reconnect, and bad input (unknown channels, malformed
//! frames, oversized messages, floods, foreign files) is refused without disturbing anyone.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::Harness;
use futures_util::{SinkExt, StreamExt};
use okno_core::Mutation;
use okno_server::chat::config::{ChatChannel, ChatConfig, ChatLimits};
use okno_server::{AppState, Config, app};
use okno_sync::{PushItem, PushRequest, SCHEMA_VERSION};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A guard against a hang, not a performance bound.
const PATIENCE: Duration = Duration::from_secs(20);

struct Server {
    state: AppState,
    addr: SocketAddr,
}

fn channel(id: &str, hours: okno_core::sla::BusinessHours) -> ChatChannel {
    ChatChannel {
        id: id.into(),
        queue: "Chat (outsourced)".into(),
        title: "Shop support".into(),
        origins: Vec::new(),
        hours,
        mailbox: None,
        calls: false,
    }
}

async fn server(h: &Harness, limits: ChatLimits) -> Server {
    let closed = okno_core::sla::BusinessHours { working_days: [false; 7], ..okno_core::sla::BusinessHours::ALWAYS };
    let mut shop_only = channel("shop-eu", okno_core::sla::BusinessHours::ALWAYS);
    shop_only.origins = vec!["https://shop.example".into()];
    let mut config = Config::new(h.db.url.clone());
    config.max_connections = 8;
    config.chat = ChatConfig {
        channels: vec![
            channel("shop", okno_core::sla::BusinessHours::ALWAYS),
            channel("night", closed),
            ChatChannel { mailbox: Some("support".into()), ..channel("night-mail", closed) },
            shop_only,
        ],
        limits,
    };
    let state = AppState::connect(&config).await.expect("server");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server { state, addr }
}

async fn open(server: &Server, channel: &str) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let req = format!("ws://{}/v1/widget/{channel}/ws", server.addr).into_client_request().unwrap();
    tokio_tungstenite::connect_async(req).await.map(|(s, _)| s)
}

async fn send(socket: &mut Socket, frame: Value) {
    socket.send(Message::text(frame.to_string())).await.expect("send");
}

/// The next JSON frame of `kind` (others are skipped).
async fn next(socket: &mut Socket, kind: &str) -> Value {
    tokio::time::timeout(PATIENCE, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    if frame["type"] == kind {
                        return frame;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("the socket ended waiting for {kind}: {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} frame"))
}

/// A visitor who said hello (with `token`, if any) and, if `name`, filled in the form.
async fn visitor(server: &Server, token: Option<&str>, name: Option<&str>) -> (Socket, Value) {
    let mut socket = open(server, "shop").await.expect("upgrade");
    send(&mut socket, json!({ "type": "hello", "token": token, "page": "https://shop.example/cart" })).await;
    let welcome = next(&mut socket, "welcome").await;
    if let Some(name) = name {
        send(
            &mut socket,
            json!({ "type": "start", "name": name, "contact": format!("{}@example.com", name.to_lowercase()) }),
        )
        .await;
        assert_eq!(next(&mut socket, "started").await["name"], name);
    }
    (socket, welcome)
}

async fn say(socket: &mut Socket, id: &str, text: &str) -> Value {
    send(socket, json!({ "type": "message", "id": id, "text": text })).await;
    next(socket, "message").await
}

fn reply(ticket: &str, id: &str, body: &str, internal: bool) -> Mutation {
    Mutation::ReplyTicket {
        ticket_id: ticket.into(),
        message_id: id.into(),
        body: body.into(),
        internal,
        at: okno_core::unix_ms(std::time::SystemTime::now()),
        cc: Vec::new(),
        attachments: Vec::new(),
    }
}

async fn push(server: &Server, token: &str, seq: u64, mutation: Mutation) -> Value {
    let body = PushRequest {
        client_id: "anna-desk".into(),
        schema_version: SCHEMA_VERSION,
        mutations: vec![PushItem { client_seq: seq, mutation_id: okno_core::new_id(), mutation }],
    };
    let router = app(server.state.clone());
    let (code, resp) =
        common::call(&router, Method::POST, "/v1/push", Some(token), Some(serde_json::to_value(body).unwrap())).await;
    assert_eq!(code, StatusCode::OK, "{resp}");
    resp["results"][0]["outcome"].clone()
}

async fn ticket_of(server: &Server, token: &str) -> String {
    let hash = okno_server::chat::store::token_hash(token);
    sqlx::query_scalar("SELECT ticket_id FROM chat_visitors WHERE token_hash = $1")
        .bind(hash)
        .fetch_one(&server.state.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitors_chat_reaches_operators_and_their_reply_reaches_every_tab() {
    let h = Harness::new().await;
    okno_server::admin::grant_queue(&h.pool, "anna", "q2").await.unwrap();
    let server = server(&h, ChatLimits::default()).await;
    let anna = h.token("anna").await;

    let (mut tab1, welcome) = visitor(&server, None, None).await;
    assert_eq!(welcome["open"], true);
    assert_eq!(welcome["title"], "Shop support");
    assert_eq!(welcome["rating"], "three", "the widget asks on the center's scale");
    let token = welcome["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    // No message before the form.
    send(&mut tab1, json!({ "type": "message", "id": "m0", "text": "hello?" })).await;
    assert_eq!(next(&mut tab1, "error").await["code"], "form_needed");
    send(&mut tab1, json!({ "type": "start", "name": "Olga", "contact": "Olga@Example.com" })).await;
    next(&mut tab1, "started").await;
    let echo = say(&mut tab1, "m1", "Where is my order 1234?").await;
    assert_eq!(echo["client_id"], "m1");
    assert_eq!(echo["message"]["from"], "visitor");
    let ticket = ticket_of(&server, &token).await;

    // The chat is a ticket in the channel's queue, matched to the customer by email, with a
    // note of where the visitor wrote from; anna pulls all of it.
    let (subject, channel, queue, customer): (String, String, String, String) =
        sqlx::query_as("SELECT subject, channel, queue_id, customer_id FROM tickets WHERE id = $1")
            .bind(&ticket)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!((subject.as_str(), channel.as_str(), queue.as_str()), ("Where is my order 1234?", "chat", "q2"));
    assert_eq!(customer, "c2", "olga@example.com is customer c2");
    let (code, pulled) = h.post("/v1/pull", Some(&anna), json!({ "cursor": 0, "limit": 1000 })).await;
    assert_eq!(code, StatusCode::OK);
    let bodies: Vec<&str> = pulled["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "message" && c["data"]["ticket_id"] == ticket.as_str())
        .filter_map(|c| c["data"]["body"].as_str())
        .collect();
    assert!(bodies.contains(&"Where is my order 1234?"), "{bodies:?}");
    assert!(bodies.iter().any(|b| b.contains("Page: https://shop.example/cart")), "{bodies:?}");

    // A second tab of the same browser, and a stranger.
    let (mut tab2, welcome2) = visitor(&server, Some(&token), None).await;
    assert_eq!(welcome2["name"], "Olga");
    assert_eq!(welcome2["history"].as_array().unwrap().len(), 1);
    let (mut stranger, _) = visitor(&server, None, Some("Ivan")).await;
    say(&mut stranger, "s1", "I am someone else").await;

    // Anna types: both tabs see it; typing on a phone ticket or for someone else's queue is refused.
    let typing = |token: String, ticket: String| {
        let router = app(server.state.clone());
        async move {
            common::call(&router, Method::POST, "/v1/typing", Some(&token), Some(json!({ "ticket_id": ticket })))
                .await
                .0
        }
    };
    assert_eq!(typing(anna.clone(), ticket.clone()).await, StatusCode::NO_CONTENT);
    next(&mut tab1, "typing").await;
    next(&mut tab2, "typing").await;
    assert_eq!(typing(anna.clone(), "t1".into()).await, StatusCode::FORBIDDEN, "t1 is a phone ticket");
    let boris = h.token("boris").await;
    assert_eq!(typing(boris, ticket.clone()).await, StatusCode::FORBIDDEN, "boris does not work the chat queue");

    // Anna's internal note stays on the desks; her reply reaches both tabs with a read mark.
    assert!(
        push(&server, &anna, 1, reply(&ticket, &okno_core::new_id(), "Checking with the warehouse", true)).await["kind"]
            == "applied"
    );
    assert!(
        push(&server, &anna, 2, reply(&ticket, &okno_core::new_id(), "Your order ships today.", false)).await["kind"]
            == "applied"
    );
    for tab in [&mut tab1, &mut tab2] {
        let frame = next(tab, "message").await;
        assert_eq!(frame["message"]["text"], "Your order ships today.", "an internal note leaked: {frame}");
        assert_eq!(frame["message"]["author"], "anna");
        assert!(next(tab, "read").await["at"].as_i64().unwrap() >= echo["message"]["at"].as_i64().unwrap());
    }
    // The stranger hears nothing of it (a ping would do; the next frame must be their own echo).
    let own = say(&mut stranger, "s2", "still there?").await;
    assert_eq!(own["client_id"], "s2");

    // After a reload: the whole conversation, without the note.
    drop(tab1);
    let (_tab3, welcome3) = visitor(&server, Some(&token), None).await;
    let texts: Vec<&str> =
        welcome3["history"].as_array().unwrap().iter().map(|l| l["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Where is my order 1234?", "Your order ships today."]);
    assert!(welcome3["read_at"].as_i64().is_some());

    // A resend of m1 after a reconnect is stored once.
    say(&mut tab2, "m1", "Where is my order 1234?").await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE ticket_id = $1 AND direction = 'inbound'")
        .bind(&ticket)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);

    // The operator resolves it: the visitor is asked for a rating, which lands on the ticket.
    let resolve = Mutation::SetTicketStatus {
        ticket_id: ticket.clone(),
        status: okno_core::TicketStatus::Resolved,
        at: okno_core::unix_ms(std::time::SystemTime::now()),
    };
    assert!(push(&server, &anna, 3, resolve).await["kind"] == "applied");
    assert_eq!(next(&mut tab2, "status").await["status"], "resolved");
    send(&mut tab2, json!({ "type": "rate", "score": "great" })).await;
    assert_eq!(next(&mut tab2, "error").await["code"], "bad_score");
    send(&mut tab2, json!({ "type": "rate", "score": "bad", "comment": "too slow" })).await;
    next(&mut tab2, "rated").await;
    let csat: Value = sqlx::query_scalar("SELECT data FROM events WHERE kind = 'csat_received' AND ticket_id = $1")
        .bind(&ticket)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!((csat["score"].as_str(), csat["comment"].as_str()), (Some("bad"), Some("too slow")));

    // A center that stops asking in chats (set in the window, see tests/work.rs): the widget
    // is told not to ask, and a rating sent anyway is refused.
    sqlx::query("UPDATE deployment SET csat_settings = $1")
        .bind(json!({ "scale": "five", "ask_by_email": false, "ask_in_chat": false, "manager_queue_id": null }))
        .execute(&h.pool)
        .await
        .unwrap();
    let (mut tab4, welcome4) = visitor(&server, Some(&token), None).await;
    assert_eq!(welcome4["rating"], Value::Null);
    send(&mut tab4, json!({ "type": "rate", "score": "5" })).await;
    assert_eq!(next(&mut tab4, "error").await["code"], "not_asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tab_opened_before_the_chat_existed_follows_the_chat_another_tab_opens() {
    let h = Harness::new().await;
    okno_server::admin::grant_queue(&h.pool, "anna", "q2").await.unwrap();
    let server = server(&h, ChatLimits::default()).await;
    let anna = h.token("anna").await;
    let (mut tab1, welcome) = visitor(&server, None, None).await;
    let token = welcome["token"].as_str().unwrap().to_owned();
    let (mut tab2, welcome2) = visitor(&server, Some(&token), None).await;
    assert_eq!(welcome2["status"], Value::Null, "no chat yet");
    // The form filled in one tab: the other leaves its form too.
    send(&mut tab1, json!({ "type": "start", "name": "Olga", "contact": "olga@example.com" })).await;
    next(&mut tab1, "started").await;
    assert_eq!(next(&mut tab2, "started").await["name"], "Olga");
    // The first message opens the chat: the other tab shows it and the operator's answer.
    say(&mut tab1, "m1", "Is the parcel insured?").await;
    let echo = next(&mut tab2, "message").await;
    assert_eq!(echo["message"]["text"], "Is the parcel insured?");
    let ticket = ticket_of(&server, &token).await;
    assert!(push(&server, &anna, 1, reply(&ticket, "r1", "Yes, fully.", false)).await["kind"] == "applied");
    assert_eq!(next(&mut tab2, "message").await["message"]["text"], "Yes, fully.");
    assert_eq!(next(&mut tab1, "message").await["message"]["text"], "Yes, fully.");
    // The waiting tab writes into the same chat, not a new one.
    say(&mut tab2, "m2", "Thanks!").await;
    assert_eq!(next(&mut tab1, "message").await["message"]["text"], "Thanks!");
    assert_eq!(ticket_of(&server, &token).await, ticket);
    let chats: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tickets WHERE channel = 'chat'").fetch_one(&h.pool).await.unwrap();
    assert_eq!(chats, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_learns_that_the_visitor_has_read_its_reply() {
    let h = Harness::new().await;
    okno_server::admin::grant_queue(&h.pool, "anna", "q2").await.unwrap();
    let server = server(&h, ChatLimits::default()).await;
    let anna = h.token("anna").await;
    let (mut tab, welcome) = visitor(&server, None, Some("Olga")).await;
    say(&mut tab, "m1", "Is my order on its way?").await;
    let ticket = ticket_of(&server, welcome["token"].as_str().unwrap()).await;
    let read_at = || async {
        sqlx::query_scalar::<_, Option<i64>>("SELECT visitor_read_at FROM tickets WHERE id = $1")
            .bind(&ticket)
            .fetch_one(&h.pool)
            .await
            .unwrap()
    };
    // Frames are answered in order: the echo of a message says the frames before it are done.
    let seen_then_sync = |at: i64, n: u32| (json!({ "type": "seen", "at": at }), format!("sync{n}"));

    // Nothing to have read yet: no receipt.
    let (seen, sync) = seen_then_sync(i64::MAX / 2, 1);
    send(&mut tab, seen).await;
    say(&mut tab, &sync, "still there?").await;
    assert_eq!(read_at().await, None);

    assert!(push(&server, &anna, 1, reply(&ticket, "r1", "It ships today.", false)).await["kind"] == "applied");
    let shown = next(&mut tab, "message").await;
    let reply_at = shown["message"]["at"].as_i64().unwrap();
    // A widget claiming a time past the newest reply has read that reply, no more.
    let (seen, sync) = seen_then_sync(reply_at + 86_400_000, 2);
    send(&mut tab, seen).await;
    say(&mut tab, &sync, "thanks").await;
    assert_eq!(read_at().await, Some(reply_at));

    // Anna's desk pulls the receipt with the ticket.
    let (code, pulled) = h.post("/v1/pull", Some(&anna), json!({ "cursor": 0, "limit": 1000 })).await;
    assert_eq!(code, StatusCode::OK);
    let tickets: Vec<&Value> = pulled["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "ticket" && c["id"] == ticket.as_str())
        .collect();
    assert_eq!(tickets.last().unwrap()["data"]["visitor_read_at"], reply_at, "{tickets:#?}");

    // Repeats and older times change nothing and send the desks nothing new.
    let cursor = pulled["cursor"].as_u64().unwrap();
    for (n, at) in [(3, reply_at), (4, reply_at - 5_000), (5, reply_at)] {
        let (seen, sync) = seen_then_sync(at, n);
        send(&mut tab, seen).await;
        say(&mut tab, &sync, "ok").await;
    }
    assert_eq!(read_at().await, Some(reply_at));
    let (_, later) = h.post("/v1/pull", Some(&anna), json!({ "cursor": cursor, "limit": 1000 })).await;
    let receipts = later["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "ticket" && c["data"]["visitor_read_at"] != reply_at)
        .count();
    assert_eq!(receipts, 0, "{later:#}");
    // A malformed receipt is refused like any bad frame; the chat goes on.
    send(&mut tab, json!({ "type": "seen", "at": "yesterday" })).await;
    assert_eq!(next(&mut tab, "error").await["code"], "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_disturbs_no_one() {
    let h = Harness::new().await;
    let limits = ChatLimits { max_message_chars: 100, messages_per_minute: 5, ..ChatLimits::default() };
    let server = server(&h, limits).await;

    // An unknown channel, and a page the channel is not offered on.
    let err = open(&server, "no-such-shop").await.expect_err("an unknown channel");
    assert!(err.to_string().contains("404"), "{err}");
    let mut req = format!("ws://{}/v1/widget/shop-eu/ws", server.addr).into_client_request().unwrap();
    req.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.expect_err("a foreign page");
    assert!(err.to_string().contains("403"), "{err}");

    let (mut calm, calm_hello) = visitor(&server, None, Some("Calm")).await;
    let (mut noisy, noisy_welcome) = visitor(&server, None, Some("Noisy")).await;
    for (frame, code) in [
        ("not json".to_owned(), "bad_request"),
        (json!({ "type": "become_operator" }).to_string(), "bad_request"),
        (json!({ "type": "message", "id": "x1", "text": "y".repeat(101) }).to_string(), "too_long"),
        (json!({ "type": "message", "id": "x2", "text": "   " }).to_string(), "empty"),
        (json!({ "type": "message", "id": "../../etc", "text": "hi" }).to_string(), "bad_request"),
        (json!({ "type": "start", "name": "", "contact": "a@b.c" }).to_string(), "bad_name"),
        (json!({ "type": "start", "name": "N", "contact": "call me maybe" }).to_string(), "bad_contact"),
    ] {
        noisy.send(Message::text(frame.clone())).await.unwrap();
        assert_eq!(next(&mut noisy, "error").await["code"], code, "{frame}");
    }
    // A flood: five messages a minute, the sixth refused, nothing over the limit stored.
    for i in 0..5 {
        say(&mut noisy, &format!("f{i}"), &format!("flood {i}")).await;
    }
    send(&mut noisy, json!({ "type": "message", "id": "f5", "text": "flood 5" })).await;
    assert_eq!(next(&mut noisy, "error").await["code"], "rate_limited");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE body LIKE 'flood %'").fetch_one(&h.pool).await.unwrap();
    assert_eq!(stored, 5);
    // The calm visitor's chat goes on as before.
    assert_eq!(say(&mut calm, "c1", "hello").await["message"]["text"], "hello");

    // Files: a refused type, a page posing as a picture, and someone else's file.
    let calm_welcome = calm_hello["token"].as_str().unwrap().to_owned();
    let http = common::http_client();
    let files = format!("http://{}/v1/widget/shop/files?name=a.png", server.addr);
    let upload = |token: String, mime: &'static str, body: Vec<u8>| {
        http.post(&files).header("x-okno-visitor", token).header("content-type", mime).body(body).send()
    };
    assert_eq!(upload(calm_welcome.clone(), "application/x-msdownload", b"MZ".to_vec()).await.unwrap().status(), 415);
    assert_eq!(upload(calm_welcome.clone(), "image/png", b"<html>".to_vec()).await.unwrap().status(), 415);
    assert_eq!(upload("0".repeat(64), "image/png", b"\x89PNG\r\n\x1a\n".to_vec()).await.unwrap().status(), 401);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-a-tiny-picture".to_vec();
    let stored: Value = upload(calm_welcome.clone(), "image/png", png).await.unwrap().json().await.unwrap();
    assert_eq!(stored["mime"], "image/png");
    let picture = |id: &str| json!({ "type": "message", "id": id, "text": "", "attachments": [stored.clone()] });
    send(&mut noisy, picture("p1")).await;
    assert_eq!(next(&mut noisy, "error").await["code"], "bad_file", "a file uploaded by someone else");
    send(&mut calm, picture("p2")).await;
    let sent = next(&mut calm, "message").await;
    assert_eq!(sent["message"]["attachments"][0]["sha256"], stored["sha256"]);
    let url = format!("http://{}/v1/widget/shop/files/{}", server.addr, stored["sha256"].as_str().unwrap());
    let mine = http.get(&url).header("x-okno-visitor", &calm_welcome).send().await.unwrap();
    assert_eq!(mine.status(), 200);
    assert_eq!(mine.headers()["x-content-type-options"], "nosniff");
    let theirs =
        http.get(&url).header("x-okno-visitor", noisy_welcome["token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(theirs.status(), 403, "another visitor downloaded the picture");
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_visitors_at_once_each_get_only_their_own_answer() {
    let h = Harness::new().await;
    okno_server::admin::grant_queue(&h.pool, "anna", "q2").await.unwrap();
    let server = server(&h, ChatLimits::default()).await;
    let anna = h.token("anna").await;
    let mut visitors = Vec::new();
    for i in 0..10 {
        let (mut socket, welcome) = visitor(&server, None, Some(&format!("Visitor{i}"))).await;
        say(&mut socket, "q", &format!("question {i}")).await;
        let token = welcome["token"].as_str().unwrap().to_owned();
        visitors.push((socket, ticket_of(&server, &token).await));
    }
    for (i, (_, ticket)) in visitors.iter().enumerate() {
        push(&server, &anna, i as u64 + 1, reply(ticket, &okno_core::new_id(), &format!("answer {i}"), false)).await;
    }
    for (i, (socket, _)) in visitors.iter_mut().enumerate() {
        assert_eq!(next(socket, "message").await["message"]["text"], format!("answer {i}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_hours_the_widget_offers_to_leave_a_message_answered_by_email() {
    let h = Harness::new().await;
    okno_server::admin::grant_queue(&h.pool, "anna", "q2").await.unwrap();
    let server = server(&h, ChatLimits::default()).await;
    let mut socket = open(&server, "night").await.unwrap();
    send(&mut socket, json!({ "type": "hello" })).await;
    let welcome = next(&mut socket, "welcome").await;
    assert_eq!((welcome["open"].as_bool(), welcome["can_leave_message"].as_bool()), (Some(false), Some(false)));
    send(
        &mut socket,
        json!({ "type": "leave_message", "name": "Night owl", "email": "owl@example.com", "text": "Call me" }),
    )
    .await;
    assert_eq!(next(&mut socket, "error").await["code"], "closed", "no mailbox to answer from");

    let mut socket = open(&server, "night-mail").await.unwrap();
    send(&mut socket, json!({ "type": "hello", "page": "https://shop.example/contacts" })).await;
    let welcome = next(&mut socket, "welcome").await;
    assert_eq!((welcome["open"].as_bool(), welcome["can_leave_message"].as_bool()), (Some(false), Some(true)));
    let leave = |email: &str| json!({ "type": "leave_message", "name": "Night owl", "email": email, "text": "Please call me back\nabout the refund" });
    send(&mut socket, leave("not an address")).await;
    assert_eq!(next(&mut socket, "error").await["code"], "bad_contact");
    send(&mut socket, leave("Owl@Example.com")).await;
    let number = next(&mut socket, "left").await["number"].as_i64().unwrap();
    let (ticket, channel, subject): (String, String, String) =
        sqlx::query_as("SELECT id, channel, subject FROM tickets WHERE number = $1")
            .bind(number)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!((channel.as_str(), subject.as_str()), ("email", "Please call me back"));
    // The operator's answer goes out by email, from the channel's mailbox, to the visitor.
    let anna = h.token("anna").await;
    assert_eq!(
        push(&server, &anna, 1, reply(&ticket, &okno_core::new_id(), "We will call at 10:00.", false)).await["kind"],
        "applied"
    );
    let (mailbox, to): (String, Value) = sqlx::query_as(
        "SELECT o.mailbox, (SELECT m.email FROM messages m WHERE m.ticket_id = $1 AND m.direction = 'inbound') \
         FROM mail_outbox o JOIN messages r ON r.id = o.message_id WHERE r.ticket_id = $1",
    )
    .bind(&ticket)
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert_eq!(mailbox, "support");
    assert_eq!(to["from"]["address"], "owl@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_call_signalling_is_refused_and_the_chat_goes_on() {
    let h = Harness::new().await;
    let mut config = Config::new(h.db.url.clone());
    config.max_connections = 8;
    config.chat = ChatConfig {
        channels: vec![
            ChatChannel { calls: true, ..channel("shop", okno_core::sla::BusinessHours::ALWAYS) },
            channel("no-calls", okno_core::sla::BusinessHours::ALWAYS),
        ],
        limits: ChatLimits::default(),
    };
    config.calls = Some(okno_gateway::GatewayConfig {
        sip_listen: "127.0.0.1:0".parse().unwrap(),
        target: okno_sip::Uri::parse("sip:desk@127.0.0.1:9").unwrap(),
        registrar: None,
        account: None,
        password: None,
        codecs: "opus,pcmu".into(),
        ice_servers: Vec::new(),
        relay_only: false,
    });
    let state = AppState::connect(&config).await.expect("server with a gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let server = Server { state, addr };

    let (mut socket, welcome) = visitor(&server, None, None).await;
    assert!(welcome["calls"].is_object(), "a calls channel tells the widget how to call: {welcome}");
    send(&mut socket, json!({ "type": "call_offer", "sdp": "v=0" })).await;
    assert_eq!(next(&mut socket, "error").await["code"], "form_needed");
    send(&mut socket, json!({ "type": "start", "name": "Eve", "contact": "eve@example.com" })).await;
    next(&mut socket, "started").await;
    for sdp in ["", "v=0\r\nthis is not SDP", &"a=x\r\n".repeat(5000)] {
        send(&mut socket, json!({ "type": "call_offer", "sdp": sdp })).await;
        let error = next(&mut socket, "error").await;
        assert!(matches!(error["code"].as_str(), Some("call_failed") | Some("bad_request")), "{error}");
    }
    assert_eq!(server.state.gateway.as_ref().unwrap().active_calls(), 0, "a refused offer leaves no call behind");
    // The chat itself goes on, and a channel without calls says so.
    assert_eq!(say(&mut socket, "m1", "still here").await["message"]["text"], "still here");
    let mut plain = open(&server, "no-calls").await.unwrap();
    send(&mut plain, json!({ "type": "hello" })).await;
    let welcome = next(&mut plain, "welcome").await;
    assert!(welcome.get("calls").is_none(), "{welcome}");
    send(&mut plain, json!({ "type": "start", "name": "Eve", "contact": "eve@example.com" })).await;
    next(&mut plain, "started").await;
    send(&mut plain, json!({ "type": "call_offer", "sdp": "v=0" })).await;
    assert_eq!(next(&mut plain, "error").await["code"], "no_calls");
}

/// The center's routing rules run on website chats too: a new chat about a refund opens in the
/// hotline's queue (q1), urgent and tagged, with the rules' note on it; a chat about anything
/// else stays in the channel's queue; a later message in the routed chat does not move it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_reply_rule_answers_a_new_chat_in_the_chat_once() {
    let h = Harness::new().await;
    let server = server(&h, ChatLimits::default()).await;
    let lena = h.token("lena").await;
    let template = json!({ "id": "tpl-chat", "name": "Chat greeting", "language": "en", "queue_id": null,
        "owner_id": null, "subject": null, "body": "Hello {{customer.name}}, an operator will answer shortly.",
        "attachments": [] });
    let (code, body) = h.call(Method::PUT, "/v1/work/templates/tpl-chat", Some(&lena), Some(template)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let rules = json!({ "version": 0, "rules": [
        { "id": "greet", "name": "greet chats", "enabled": true, "when": [{ "field": "channel", "any_of": ["chat"] }],
          "then": [{ "do": "auto_reply", "template_id": "tpl-chat" }], "stop": false }
    ]});
    let (code, body) = h.call(Method::PUT, "/v1/work/rules", Some(&lena), Some(rules)).await;
    assert_eq!(code, StatusCode::OK, "{body}");

    let (mut olga, welcome) = visitor(&server, None, Some("Olga")).await;
    say(&mut olga, "o-1", "Hi, is anyone there?").await;
    // The greeting comes into the chat at once, after the visitor's own message.
    let answer = next(&mut olga, "message").await;
    assert_eq!(answer["message"]["from"], "operator", "{answer}");
    assert_eq!(answer["message"]["author"], "Rules");
    let text = answer["message"]["text"].as_str().unwrap();
    assert!(text.starts_with("Hello ") && text.ends_with("an operator will answer shortly."), "{text}");
    let ticket = ticket_of(&server, welcome["token"].as_str().unwrap()).await;
    // It is in the ticket for the desks, as a chat line, and nothing goes to the mail outbox.
    let (channel, body): (String, String) = sqlx::query_as(
        "SELECT channel, body FROM messages WHERE ticket_id = $1 AND author_name = 'Rules' AND direction = 'outbound'",
    )
    .bind(&ticket)
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert_eq!((channel.as_str(), body.as_str()), ("chat", text));
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_outbox").fetch_one(&h.pool).await.unwrap();
    assert_eq!(queued, 0);

    // The rule matches every message; the chat is answered once within the hour.
    say(&mut olga, "o-2", "Hello?").await;
    say(&mut olga, "o-3", "Still there?").await;
    let greetings: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE ticket_id = $1 AND direction = 'outbound'")
            .bind(&ticket)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(greetings, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routing_rules_route_a_new_chat() {
    let h = Harness::new().await;
    let server = server(&h, ChatLimits::default()).await;
    let lena = h.token("lena").await;
    let rules = json!({ "version": 0, "rules": [
        { "id": "refunds", "name": "refunds to the hotline", "enabled": true,
          "when": [{ "field": "channel", "any_of": ["chat"] }, { "field": "body", "test": { "op": "contains", "value": "refund" } }],
          "then": [{ "do": "set_queue", "queue_id": "q1" }, { "do": "set_priority", "priority": "urgent" },
                   { "do": "add_tags", "tags": ["refund"] }], "stop": true }
    ]});
    let (code, body) = h.call(Method::PUT, "/v1/work/rules", Some(&lena), Some(rules)).await;
    assert_eq!(code, StatusCode::OK, "{body}");

    let (mut olga, welcome) = visitor(&server, None, Some("Olga")).await;
    say(&mut olga, "o-1", "I want a Refund for order 5512").await;
    let token = welcome["token"].as_str().unwrap().to_owned();
    let ticket = ticket_of(&server, &token).await;
    let (queue, priority, tags): (String, String, Value) =
        sqlx::query_as("SELECT queue_id, priority, tags FROM tickets WHERE id = $1")
            .bind(&ticket)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!((queue.as_str(), priority.as_str()), ("q1", "urgent"));
    assert_eq!(tags, json!(["refund"]));
    let fired: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE kind = 'rule_fired' AND ticket_id = $1")
        .bind(&ticket)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(fired, 1);
    let note: String = sqlx::query_scalar(
        "SELECT body FROM messages WHERE ticket_id = $1 AND direction = 'internal' AND body LIKE '%refunds to the hotline%'",
    )
    .bind(&ticket)
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert!(note.contains("queue q1"), "{note}");
    // Anna works q1: she pulls the routed chat.
    let (_, pulled) = h.post("/v1/pull", Some(&h.token("anna").await), json!({ "cursor": 0, "limit": 1000 })).await;
    assert!(
        pulled["changes"].as_array().unwrap().iter().any(|c| c["entity"] == "ticket" && c["id"] == ticket.as_str())
    );

    // The next message in the same chat keeps it where it is.
    say(&mut olga, "o-2", "and another refund please").await;
    let queue: String = sqlx::query_scalar("SELECT queue_id FROM tickets WHERE id = $1")
        .bind(&ticket)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(queue, "q1");

    // A chat about something else stays in the channel's queue.
    let (mut ivan, welcome) = visitor(&server, None, Some("Ivan")).await;
    say(&mut ivan, "i-1", "Where is my parcel?").await;
    let other = ticket_of(&server, welcome["token"].as_str().unwrap()).await;
    let (queue, priority): (String, String) = sqlx::query_as("SELECT queue_id, priority FROM tickets WHERE id = $1")
        .bind(&other)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!((queue.as_str(), priority.as_str()), ("q2", "normal"));
}
