//! A thousand messages through Dovecot while okno-server is killed with SIGKILL mid-intake and
//! started again: every message becomes exactly one ticket message, none is lost, none doubled.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Harness, eventually, imap};
use okno_core::Channel;
use okno_server::admin;
use okno_testkit::mail::{self as peers, Dovecot, SmtpSink};

const MESSAGES: usize = 1000;

fn message(n: usize) -> Vec<u8> {
    format!(
        "From: Customer {c} <customer{c}@example.com>\r\nTo: support@shop.test\r\nSubject: Order {n} is late\r\n\
         Message-ID: <crash-{n}@example.com>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0300\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nЗаказ {n} не пришёл.\r\n",
        c = n % 100
    )
    .into_bytes()
}

fn start_server(db_url: &str, config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_okno-server"))
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .env("DATABASE_URL", db_url)
        .env("OKNO_TEST_MAIL_PASSWORD", peers::PASSWORD)
        .env("OKNO_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("okno-server")
}

async fn count(h: &Harness, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&h.pool).await.unwrap()
}

#[tokio::test]
async fn a_thousand_messages_survive_sigkill_mid_intake_without_loss_or_duplicates() {
    let h = Harness::new().await;
    admin::create_queue(&h.pool, "qmail", "Email", Channel::Email, "d1").await.unwrap();
    let dovecot = Dovecot::start();
    let smtp = SmtpSink::start();
    let mut sender = imap(dovecot.port).await;
    for n in 0..MESSAGES {
        sender.append("INBOX", None, None, message(n)).await.unwrap();
    }
    let config = dovecot.run.path().join("okno.toml");
    std::fs::write(
        &config,
        format!(
            "[[email]]\nname = \"support\"\nqueue = \"qmail\"\naddress = \"support@shop.test\"\n\
             imap = \"imap://support%40shop.test@127.0.0.1:{}\"\nsmtp = \"smtp://127.0.0.1:{}\"\n\
             password_env = \"OKNO_TEST_MAIL_PASSWORD\"\n",
            dovecot.port, smtp.port
        ),
    )
    .unwrap();

    let started = Instant::now();
    let mut server = start_server(&h.db.url, &config);
    let at_kill = eventually(Duration::from_secs(60), "intake under way", || async {
        let n = count(&h, "SELECT count(*) FROM mail_intake").await;
        (n >= 200).then_some(n)
    })
    .await;
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
    let first_run = started.elapsed();
    assert!(at_kill < MESSAGES as i64, "killed mid-intake ({at_kill} of {MESSAGES})");

    // The lease of the killed instance runs out; the restarted one takes the mailbox over.
    let restarted = Instant::now();
    let mut server = start_server(&h.db.url, &config);
    eventually(Duration::from_secs(180), "every message taken in after the restart", || async {
        (count(&h, "SELECT count(*) FROM mail_intake").await == MESSAGES as i64).then_some(())
    })
    .await;
    let second_run = restarted.elapsed();
    server.kill().unwrap();
    server.wait().unwrap();

    let n = MESSAGES as i64;
    assert_eq!(count(&h, "SELECT count(*) FROM messages WHERE channel = 'email' AND direction = 'inbound'").await, n);
    assert_eq!(count(&h, "SELECT count(DISTINCT email->>'message_id') FROM messages WHERE email IS NOT NULL").await, n);
    assert_eq!(count(&h, "SELECT count(*) FROM tickets WHERE channel = 'email'").await, n);
    assert_eq!(count(&h, "SELECT count(DISTINCT number) FROM tickets WHERE channel = 'email'").await, n);
    // A hundred senders, each one customer however many times they wrote.
    assert_eq!(
        count(&h, "SELECT count(*) FROM customer_identities WHERE value LIKE 'customer%@example.com'").await,
        100
    );
    assert_eq!(count(&h, "SELECT max(last_uid) FROM mailbox_state").await, n);
    eprintln!(
        "mail intake: {at_kill} messages before SIGKILL in {:.1} s; the rest ({}) after restart in {:.1} s (includes the 30 s lease takeover)",
        first_run.as_secs_f64(),
        n - at_kill,
        second_run.as_secs_f64()
    );
    let _ = sender.logout().await;
}
