//! Test helpers: a throwaway PostgreSQL database per test, a seeded call center, HTTP calls
//! through the router with `oneshot`.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use okno_core::{Channel, CustomerTier, Identity, IdentityKind, Priority, Role};
use okno_server::admin::{self, NewCustomer, NewTicket};
use okno_server::auth::issue_tokens;
use okno_server::{AppState, Caller, Config, app};
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;

/// A database `okno_test_<pid>_<n>` on the test PostgreSQL, dropped when this is dropped
/// (also when the test panics).
pub struct TestDb {
    pub url: String,
    db: okno_testkit::pg::Database,
}

impl TestDb {
    pub async fn new() -> TestDb {
        // psql, blocking: off the runtime's worker.
        let db = tokio::task::spawn_blocking(|| okno_testkit::pg::Database::create("okno_test"))
            .await
            .expect("the database task")
            .unwrap_or_else(|e| panic!("{e}"));
        TestDb { url: db.url(), db }
    }
}

/// A seeded call center behind the HTTP app.
///
/// Queues q1 (phone) and q2 (chat). Accounts: `anna` and `boris` (operators, q1), `lena`
/// (team lead), `kate` (contractor, q2). Customer c1 (phone + email) has ticket t1 in q1 and
/// t2 in q2; customer c2 has ticket t3 in q1.
pub struct Harness {
    pub state: AppState,
    pub app: Router,
    pub pool: PgPool,
    pub db: TestDb,
}

pub const PASSWORD: &str = "correct horse";

impl Harness {
    pub async fn new() -> Harness {
        let db = TestDb::new().await;
        // Small pools: tests run in parallel against one server (max_connections 100 by default).
        let mut config = Config::new(db.url.clone());
        config.max_connections = 8;
        let state = AppState::connect(&config).await.expect("connect and migrate");
        let pool = state.pool.clone();
        admin::create_department(&pool, "d1", "Support").await.unwrap();
        admin::create_queue(&pool, "q1", "Hotline", Channel::Phone, "d1").await.unwrap();
        admin::create_queue(&pool, "q2", "Chat (outsourced)", Channel::Chat, "d1").await.unwrap();
        admin::create_operator(&pool, "anna", "anna", Role::Operator, Some(PASSWORD)).await.unwrap();
        admin::create_operator(&pool, "boris", "boris", Role::Operator, None).await.unwrap();
        admin::create_operator(&pool, "lena", "lena", Role::TeamLead, None).await.unwrap();
        admin::create_operator(&pool, "kate", "kate", Role::Contractor, None).await.unwrap();
        admin::grant_queue(&pool, "anna", "q1").await.unwrap();
        admin::grant_queue(&pool, "boris", "q1").await.unwrap();
        admin::grant_queue(&pool, "kate", "q2").await.unwrap();
        let customer = |id: &str, phone: &str, email: &str| NewCustomer {
            id: id.into(),
            name: format!("Customer {id}"),
            company: None,
            tier: CustomerTier::Standard,
            identities: vec![
                Identity { kind: IdentityKind::Phone, value: phone.into() },
                Identity { kind: IdentityKind::Email, value: email.into() },
            ],
            created_at: 1_000,
        };
        admin::create_customer(&pool, &customer("c1", "+7 915 123-45-67", "ivan.petrov@mail.ru")).await.unwrap();
        admin::create_customer(&pool, &customer("c2", "+7 495 765-43-21", "olga@example.com")).await.unwrap();
        for (n, (id, customer, queue)) in
            [("t1", "c1", "q1"), ("t2", "c1", "q2"), ("t3", "c2", "q1")].iter().enumerate()
        {
            let ticket = NewTicket {
                id: (*id).into(),
                number: n as i64 + 1,
                subject: format!("Ticket {id}"),
                customer_id: (*customer).into(),
                channel: Channel::Phone,
                priority: Priority::Normal,
                queue_id: (*queue).into(),
                created_at: 2_000,
            };
            admin::create_ticket(&pool, &ticket).await.unwrap();
        }
        let app = app(state.clone());
        Harness { state, app, pool, db }
    }

    /// An access token for an existing account, without the (slow, on purpose) password check.
    pub async fn token(&self, id: &str) -> String {
        let (name, role): (String, String) = sqlx::query_as("SELECT name, role FROM operators WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .unwrap();
        let caller = Caller { id: id.into(), name, role: role.parse().unwrap(), session_id: None };
        issue_tokens(&self.pool, caller).await.unwrap().access_token
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call(&self.app, method, path, token, body).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        call(&self.app, Method::POST, path, token, Some(body)).await
    }
}

pub async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let value =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// Wait until `check` returns Some, polling; panics with `what` after `timeout`.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An IMAP session on the test Dovecot as the mail's sender would have it: to put messages into
/// the mailbox and look at their flags.
pub async fn imap(port: u16) -> async_imap::Session<tokio::net::TcpStream> {
    use okno_testkit::mail::{PASSWORD, USER};
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    client.login(USER, PASSWORD).await.map_err(|(e, _)| e).unwrap()
}

/// A process's resident memory in KiB (Linux; 0 elsewhere), for the benches.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The `p`th percentile of sorted samples (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[(((p / 100.0) * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

/// A bench re-executed as its own server child (its `main` serves when it sees
/// `OKNO_BENCH_SERVE`), so the server's memory and CPU are its own; killed on drop.
pub struct BenchServer {
    pub child: tokio::process::Child,
    pub port: u16,
    pub base: String,
    pub pid: u32,
}

impl BenchServer {
    /// Start it on a free port against `database_url`; returns once `/healthz` answers (and a
    /// settling half second, so memory figures start from a quiet server).
    pub async fn start(database_url: &str) -> anyhow::Result<BenchServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        let child = tokio::process::Command::new(std::env::current_exe()?)
            .env("OKNO_BENCH_SERVE", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("OKNO_LOG", "warn")
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().unwrap_or(0);
        let http = http_client();
        while !http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(BenchServer { child, port, base, pid })
    }
}

/// A reqwest client for tests and benches (see `okno_server::tls::install_provider`).
pub fn http_client() -> reqwest::Client {
    okno_server::tls::install_provider();
    reqwest::Client::new()
}

/// The support mailbox on the test Dovecot (IMAP) and SMTP sink, as an admin writes it in the
/// config file, for queue "Email".
#[allow(dead_code)]
pub fn mail_config(imap_port: u16, smtp_port: u16) -> okno_server::mail::config::MailConfig {
    let text = format!(
        "[mail]\npoll_seconds = 1\n[[email]]\nname = \"support\"\nqueue = \"Email\"\naddress = \"support@shop.test\"\n\
         imap = \"imap://support%40shop.test@127.0.0.1:{imap_port}\"\nsmtp = \"smtp://127.0.0.1:{smtp_port}\"\n\
         password_env = \"OKNO_TEST_MAIL_PASSWORD\"\n"
    );
    let config = okno_server::mail::config::MailConfig::parse(&text, |_| Some(okno_testkit::mail::PASSWORD.to_owned()))
        .expect("config");
    assert_eq!(
        config.mailboxes[0],
        okno_server::mail::config::Mailbox {
            name: "support".into(),
            queue: "Email".into(),
            address: "support@shop.test".into(),
            imap: okno_server::mail::config::Endpoint {
                host: "127.0.0.1".into(),
                port: imap_port,
                user: Some(okno_testkit::mail::USER.into()),
                security: okno_server::mail::config::Security::StartTlsIfOffered
            },
            smtp: okno_server::mail::config::Endpoint {
                host: "127.0.0.1".into(),
                port: smtp_port,
                user: None,
                security: okno_server::mail::config::Security::StartTlsIfOffered
            },
            password: okno_server::mail::config::Password::new(okno_testkit::mail::PASSWORD),
        }
    );
    config
}
