//! Website chat figures of one server instance (a child process of this bench, so its memory is
//! its own), against the real PostgreSQL:
//!
//! - memory per open visitor socket: the child's RSS before and after 500 widgets said hello;
//! - visitor to operator, with those 500 sockets open: a visitor's message over its WebSocket
//!   until an operator's live socket has the poke and the operator's pull holds the message
//!   (what a desk does before it draws it); p50/p99 over 200 messages from 200 visitors;
//! - operator to visitor: a reply pushed over HTTP until the visitor's socket has it;
//! - the widget's size as sites download it (gzip -9).
//!
//! Run: `cargo bench -p okno-server --bench chat` (env: OKNO_TEST_PG, OKNO_BENCH_VISITORS). It
//! prints figures; it asserts nothing about time.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{percentile, rss_kib};

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use okno_core::{Channel, Role};
use okno_server::admin;
use okno_server::chat::config::{ChatChannel, ChatConfig, ChatLimits};
use okno_server::{AppState, Caller, Config};
use okno_sync::{LIVE_PATH, LiveEvent, PullResponse, PushItem, PushRequest, SCHEMA_VERSION};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn chat_config() -> ChatConfig {
    ChatConfig {
        channels: vec![ChatChannel {
            id: "bench".into(),
            queue: "q1".into(),
            title: "Bench".into(),
            origins: Vec::new(),
            hours: okno_core::sla::BusinessHours::ALWAYS,
            mailbox: None,
            calls: false,
        }],
        limits: ChatLimits { messages_per_minute: 600, ..ChatLimits::default() },
    }
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Ok(addr) = std::env::var("OKNO_BENCH_SERVE") {
        return rt.block_on(async {
            let mut config = Config::new(std::env::var("DATABASE_URL")?);
            config.chat = chat_config();
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            okno_server::serve(&config, listener, std::future::pending()).await
        });
    }
    rt.block_on(run())
}

type Sink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// An open widget: where to send, and the frames it received (with when).
struct Visitor {
    sink: Sink,
    frames: mpsc::UnboundedReceiver<(Instant, Value)>,
}

impl Visitor {
    async fn next(&mut self, kind: &str) -> anyhow::Result<(Instant, Value)> {
        loop {
            let (at, frame) = tokio::time::timeout(Duration::from_secs(20), self.frames.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("the socket closed"))?;
            if frame["type"] == kind {
                return Ok((at, frame));
            }
        }
    }

    async fn send(&mut self, frame: Value) -> anyhow::Result<()> {
        Ok(self.sink.send(Message::text(frame.to_string())).await?)
    }
}

async fn open(port: u16) -> anyhow::Result<Visitor> {
    let req = format!("ws://127.0.0.1:{port}/v1/widget/bench/ws").into_client_request()?;
    let (socket, _) = tokio_tungstenite::connect_async(req).await?;
    let (sink, mut stream) = socket.split();
    let (tx, frames) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = stream.next().await {
            if let Ok(frame) = serde_json::from_str::<Value>(&text) {
                let _ = tx.send((Instant::now(), frame));
            }
        }
    });
    let mut visitor = Visitor { sink, frames };
    visitor.send(json!({ "type": "hello", "page": "https://shop.example/bench" })).await?;
    visitor.next("welcome").await?;
    Ok(visitor)
}

async fn run() -> anyhow::Result<()> {
    let visitors_n: usize = std::env::var("OKNO_BENCH_VISITORS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let rounds = 200.min(visitors_n);
    let db = common::TestDb::new().await;
    let mut config = Config::new(db.url.clone());
    config.max_connections = 4;
    let state = AppState::connect(&config).await?;
    let pool = state.pool.clone();
    admin::create_department(&pool, "d1", "Support").await?;
    admin::create_queue(&pool, "q1", "Web chat", Channel::Chat, "d1").await?;
    admin::create_operator(&pool, "op", "op", Role::Operator, None).await?;
    admin::grant_queue(&pool, "op", "q1").await?;
    let caller = Caller { id: "op".into(), name: "op".into(), role: Role::Operator, session_id: None };
    let token = okno_server::auth::issue_tokens(&pool, caller).await?.access_token;

    let common::BenchServer { mut child, port, base, pid } = common::BenchServer::start(&db.url).await?;
    let http = common::http_client();
    let rss_before = rss_kib(pid);
    let mut visitors = Vec::with_capacity(visitors_n);
    for _ in 0..visitors_n {
        visitors.push(open(port).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib(pid);

    // The operator's desk: its live socket reports pokes.
    let mut req = format!("ws://127.0.0.1:{port}{LIVE_PATH}").into_client_request()?;
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
    let (mut live, _) = tokio_tungstenite::connect_async(req).await?;
    let (poke_tx, mut pokes) = mpsc::unbounded_channel::<u64>();
    tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = live.next().await {
            if let Ok(LiveEvent::Poke { version, .. }) = serde_json::from_str(&text) {
                let _ = poke_tx.send(version);
            }
        }
    });
    let mut cursor =
        sqlx::query_scalar::<_, i64>("SELECT COALESCE(max(version), 0) FROM changelog").fetch_one(&pool).await? as u64;

    let mut to_operator = Vec::new();
    let mut tickets = Vec::new();
    for (i, visitor) in visitors.iter_mut().take(rounds).enumerate() {
        visitor
            .send(json!({ "type": "start", "name": format!("Visitor {i}"), "contact": format!("v{i}@example.com") }))
            .await?;
        visitor.next("started").await?;
        let text = format!("bench question {i}");
        let started = Instant::now();
        visitor.send(json!({ "type": "message", "id": format!("b{i}"), "text": text })).await?;
        // Pokes until the pull holds the message.
        let found = loop {
            tokio::time::timeout(Duration::from_secs(20), pokes.recv()).await?;
            let pulled: PullResponse = http
                .post(format!("{base}/v1/pull"))
                .bearer_auth(&token)
                .json(&json!({ "cursor": cursor, "limit": 500 }))
                .send()
                .await?
                .json()
                .await?;
            cursor = pulled.cursor;
            if let Some(change) =
                pulled.changes.iter().find(|c| c.entity == "message" && c.data["body"] == text.as_str())
            {
                break change.data["ticket_id"].as_str().unwrap_or_default().to_owned();
            }
        };
        to_operator.push(started.elapsed().as_secs_f64() * 1000.0);
        tickets.push(found);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut to_visitor = Vec::new();
    for (i, (visitor, ticket)) in visitors.iter_mut().zip(&tickets).enumerate() {
        let push = PushRequest {
            client_id: "bench-desk".into(),
            schema_version: SCHEMA_VERSION,
            mutations: vec![PushItem {
                client_seq: i as u64 + 1,
                mutation_id: okno_core::new_id(),
                mutation: okno_core::Mutation::ReplyTicket {
                    ticket_id: ticket.clone(),
                    message_id: okno_core::new_id(),
                    body: format!("bench answer {i}"),
                    internal: false,
                    at: okno_core::unix_ms(std::time::SystemTime::now()),
                    cc: Vec::new(),
                    attachments: Vec::new(),
                },
            }],
        };
        let started = Instant::now();
        http.post(format!("{base}/v1/push")).bearer_auth(&token).json(&push).send().await?.error_for_status()?;
        // (The visitor's own echo of its question is still queued: skip it.)
        let (at, frame) = loop {
            let (at, frame) = visitor.next("message").await?;
            if frame["message"]["from"] == "operator" {
                break (at, frame);
            }
        };
        anyhow::ensure!(frame["message"]["text"] == format!("bench answer {i}").as_str(), "the visitor got {frame}");
        to_visitor.push(at.duration_since(started).as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    to_operator.sort_by(f64::total_cmp);
    to_visitor.sort_by(f64::total_cmp);
    let _ = child.kill().await;
    pool.close().await;

    let js = okno_server::chat::widget::WIDGET_JS;
    let gzipped = gzip_size(js.as_bytes());
    println!("okno-server chat bench ({visitors_n} visitor sockets open on one instance, release build, same machine)");
    println!(
        "  visitor -> operator: p50 {:.1} ms, p99 {:.1} ms (widget socket -> commit -> poke on the desk's socket -> desk's pull has it; {rounds} messages)",
        percentile(&to_operator, 50.0),
        percentile(&to_operator, 99.0)
    );
    println!(
        "  operator -> visitor: p50 {:.1} ms, p99 {:.1} ms (reply pushed over HTTP -> on the visitor's socket; {rounds} replies)",
        percentile(&to_visitor, 50.0),
        percentile(&to_visitor, 99.0)
    );
    println!(
        "  memory per open visitor socket: {:.1} KiB (server RSS {rss_before} -> {rss_after} KiB for {visitors_n} sockets)",
        (rss_after.saturating_sub(rss_before)) as f64 / visitors_n as f64
    );
    println!("  widget.js: {} bytes, {} bytes gzip -9", js.len(), gzipped.map_or("?".to_owned(), |n| n.to_string()));
    println!("  command: OKNO_BENCH_VISITORS={visitors_n} cargo bench -p okno-server --bench chat");
    drop(db);
    Ok(())
}

/// The size `gzip -9` makes of `data` (what a web server sends with compression on).
fn gzip_size(data: &[u8]) -> Option<usize> {
    use std::io::Write;
    let mut child = std::process::Command::new("gzip")
        .arg("-9c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(data).ok()?;
    Some(child.wait_with_output().ok()?.stdout.len())
}
