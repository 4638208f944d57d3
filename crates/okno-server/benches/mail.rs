//! Mail intake figures against a real Dovecot and PostgreSQL, the server a child process (the
//! real `okno-server --config`, so its memory is its own):
//!
//! - ingest rate: 1,000 messages waiting in one mailbox, from the server's start until every one
//!   is committed as a ticket;
//! - arrival latency with IDLE: from Dovecot accepting a message (its APPEND answered, as an
//!   MTA's delivery would be) to the live poke on a desk's WebSocket (the desk pulls on it);
//!   p50/p99 over 100 messages, with 1 mailbox and with 100 mailboxes watched at once;
//! - memory per watched mailbox: the server's RSS with 100 mailboxes against none.
//!
//! Run: `cargo bench -p okno-server --bench mail` (env: OKNO_TEST_PG). It prints figures; it
//! asserts nothing about time.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{percentile, rss_kib};

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use okno_core::{Channel, Role};
use okno_server::admin;
use okno_server::{AppState, Caller, Config};
use okno_sync::{LIVE_PATH, LiveEvent};
use okno_testkit::mail::{Dovecot, PASSWORD, SmtpSink};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const MAILBOXES: usize = 100;
const INGEST: usize = 1000;
const ROUNDS: usize = 100;

fn user(i: usize) -> String {
    format!("mailbox{i}@shop.test")
}

fn message(n: usize, to: &str) -> Vec<u8> {
    format!(
        "From: Customer {c} <customer{c}@example.com>\r\nTo: {to}\r\nSubject: Bench order {n}\r\n\
         Message-ID: <bench-{n}-{pid}@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nЗаказ {n}.\r\n",
        c = n % 250,
        pid = std::process::id()
    )
    .into_bytes()
}

fn config(dovecot: &Dovecot, smtp: &SmtpSink, mailboxes: usize) -> String {
    let mut text = String::from("[mail]\npoll_seconds = 30\n");
    for i in 0..mailboxes {
        text.push_str(&format!(
            "[[email]]\nname = \"box{i}\"\nqueue = \"email\"\naddress = \"{}\"\n\
             imap = \"imap://{}@127.0.0.1:{}\"\nsmtp = \"smtp://127.0.0.1:{}\"\npassword_env = \"OKNO_BENCH_MAIL_PASSWORD\"\n",
            user(i),
            user(i).replace('@', "%40"),
            dovecot.port,
            smtp.port
        ));
    }
    text
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(db_url: &str, config_path: Option<&std::path::Path>) -> Server {
    let port = okno_testkit::free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_okno-server"));
    command.args(["--listen", &format!("127.0.0.1:{port}")]);
    if let Some(path) = config_path {
        command.arg("--config").arg(path);
    }
    let child = command
        .env("DATABASE_URL", db_url)
        .env("OKNO_BENCH_MAIL_PASSWORD", PASSWORD)
        .env("OKNO_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("okno-server");
    okno_testkit::wait_for_port(port, "okno-server");
    Server { child, port }
}

async fn imap(port: u16, login: &str) -> async_imap::Session<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("dovecot");
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.expect("greeting").expect("greeting");
    client.login(login, PASSWORD).await.map_err(|(e, _)| e).expect("login")
}

async fn count(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM mail_intake").fetch_one(pool).await.unwrap_or(0)
}

/// Deliver ROUNDS messages round-robin over `mailboxes` and time each to the desk's poke.
async fn latency(dovecot: &Dovecot, server: &Server, token: &str, mailboxes: usize, first: usize) -> Vec<f64> {
    let mut req = format!("ws://127.0.0.1:{}{LIVE_PATH}", server.port).into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(req).await.expect("live socket");
    let (tx, mut pokes) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = socket.next().await {
            if let Message::Text(text) = &msg
                && let Ok(LiveEvent::Poke { .. }) = serde_json::from_str(text)
            {
                let _ = tx.send(Instant::now());
            }
        }
    });
    let mut sessions = HashMap::new();
    let mut samples = Vec::new();
    for round in 0..ROUNDS {
        let i = round % mailboxes;
        if let std::collections::hash_map::Entry::Vacant(slot) = sessions.entry(i) {
            slot.insert(imap(dovecot.port, &user(i)).await);
        }
        while pokes.try_recv().is_ok() {}
        let session = sessions.get_mut(&i).expect("session");
        session.append("INBOX", None, None, message(first + round, &user(i))).await.expect("append");
        let accepted = Instant::now();
        match tokio::time::timeout(Duration::from_secs(30), pokes.recv()).await {
            Ok(Some(at)) => samples.push(at.saturating_duration_since(accepted).as_secs_f64() * 1000.0),
            _ => eprintln!("round {round}: no poke within 30 s"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    samples.sort_by(f64::total_cmp);
    samples
}

/// One line of arrival figures from sorted samples (ms).
fn arrival(what: &str, sorted: &[f64]) {
    println!(
        "arrival, {what} (IDLE): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over {} messages",
        percentile(sorted, 50.0),
        percentile(sorted, 99.0),
        sorted.last().copied().unwrap_or(0.0),
        sorted.len()
    );
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let db = common::TestDb::new().await;
    let mut config_db = Config::new(db.url.clone());
    config_db.max_connections = 2;
    let state = AppState::connect(&config_db).await?;
    let pool = state.pool.clone();
    admin::create_department(&pool, "d1", "Support").await?;
    admin::create_queue(&pool, "email", "Email", Channel::Email, "d1").await?;
    admin::create_operator(&pool, "anna", "anna", Role::Operator, None).await?;
    admin::grant_queue(&pool, "anna", "email").await?;
    let token = okno_server::auth::issue_tokens(
        &pool,
        Caller { id: "anna".into(), name: "anna".into(), role: Role::Operator, session_id: None },
    )
    .await?
    .access_token;
    let users: Vec<String> = (0..MAILBOXES).map(user).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let dovecot = Dovecot::start_for(&refs);
    let smtp = SmtpSink::start();
    let dir = tempfile::tempdir()?;
    let one = dir.path().join("one.toml");
    let many = dir.path().join("many.toml");
    std::fs::write(&one, config(&dovecot, &smtp, 1))?;
    std::fs::write(&many, config(&dovecot, &smtp, MAILBOXES))?;

    // Ingest rate: a full mailbox, then the server starts.
    let mut session = imap(dovecot.port, &user(0)).await;
    for n in 0..INGEST {
        session.append("INBOX", None, None, message(n, &user(0))).await?;
    }
    let _ = session.logout().await;
    let started = Instant::now();
    let server = start_server(&db.url, Some(&one));
    while count(&pool).await < INGEST as i64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ingest = started.elapsed().as_secs_f64();
    println!(
        "ingest: {INGEST} messages in {ingest:.2} s from the server's start = {:.0} messages/s (each its own ticket, customer matched or created)",
        INGEST as f64 / ingest
    );

    let one_box = latency(&dovecot, &server, &token, 1, INGEST).await;
    arrival("1 mailbox", &one_box);
    drop(server);

    // Memory: no mailboxes against a hundred, each with its IDLE session up.
    sqlx::query("UPDATE mailbox_state SET lease_owner = NULL, lease_until = NULL").execute(&pool).await?;
    let bare = start_server(&db.url, None);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_bare = rss_kib(bare.child.id());
    drop(bare);
    let server = start_server(&db.url, Some(&many));
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let held: i64 =
            sqlx::query_scalar("SELECT count(*) FROM mailbox_state WHERE lease_until > now()").fetch_one(&pool).await?;
        if held == MAILBOXES as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_many = rss_kib(server.child.id());
    println!(
        "memory: {rss_bare} KiB with no mailbox, {rss_many} KiB watching {MAILBOXES} = {:.0} KiB per watched mailbox",
        (rss_many.saturating_sub(rss_bare)) as f64 / MAILBOXES as f64
    );
    let many_boxes = latency(&dovecot, &server, &token, MAILBOXES, INGEST + ROUNDS).await;
    arrival(&format!("{MAILBOXES} mailboxes"), &many_boxes);
    drop(server);
    Ok(())
}
