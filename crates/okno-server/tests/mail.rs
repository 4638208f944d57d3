//! Email against real mail servers: Dovecot holds the support mailbox, aiosmtpd stands in for
//! the customers' mail servers. The hand-written corpus of okno-mail goes in over IMAP; tickets,
//! customers and attachments come out in PostgreSQL and in what a desk pulls; an operator's
//! reply goes out over SMTP with the threading headers a mail client needs.

mod common;

use std::time::Duration;

use common::{Harness, eventually, imap, mail_config};
use okno_core::{Channel, Mutation};
use okno_server::admin;
use okno_sync::{PushItem, PushRequest, SCHEMA_VERSION};
use okno_testkit::mail::{self as peers, Dovecot, SmtpSink};
use serde_json::{Value, json};

const CORPUS: &[&str] = &[
    "utf8-qp.eml",
    "cp1251-base64.eml",
    "koi8r-qp.eml",
    "alternative.eml",
    "html-only.eml",
    "nested-attachments.eml",
    "malformed.eml",
    "auto-reply.eml",
    "bounce.eml",
];

fn corpus(file: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../okno-mail/tests/corpus").join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn email_queue(h: &Harness) {
    admin::create_queue(&h.pool, "qmail", "Email", Channel::Email, "d1").await.unwrap();
    admin::grant_queue(&h.pool, "anna", "qmail").await.unwrap();
}

async fn scalar(h: &Harness, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).bind(bind).fetch_one(&h.pool).await.unwrap()
}

async fn download(h: &Harness, token: &str, sha256: &str) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    use tower::ServiceExt;
    let request = axum::http::Request::get(okno_sync::blob_path(sha256))
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec();
    (parts.status.as_u16(), parts.headers, bytes)
}

async fn upload(h: &Harness, token: &str, name: &str, data: &[u8]) -> (u16, Value) {
    use tower::ServiceExt;
    let query: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("name", name).finish();
    let request = axum::http::Request::post(format!("{}?{query}", okno_sync::UPLOAD_PATH))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/pdf")
        .body(axum::body::Body::from(data.to_vec()))
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn intake_count(h: &Harness) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM mail_intake").fetch_one(&h.pool).await.unwrap()
}

#[tokio::test]
async fn mail_in_dovecot_becomes_tickets_and_a_reply_reaches_the_customer_threaded() {
    let _ = tracing_subscriber::fmt().with_env_filter("okno_server=debug").with_test_writer().try_init();
    let h = Harness::new().await;
    email_queue(&h).await;
    let dovecot = Dovecot::start();
    let smtp = SmtpSink::start();
    let mut sender = imap(dovecot.port).await;
    for file in CORPUS {
        sender.append("INBOX", None, None, corpus(file)).await.unwrap();
    }
    let tasks = okno_server::mail::start(&h.state, &mail_config(dovecot.port, smtp.port)).await.unwrap();

    let all = CORPUS.len() as i64;
    eventually(Duration::from_secs(30), "the corpus taken in", || async {
        (intake_count(&h).await == all).then_some(())
    })
    .await;
    // Seven people wrote; the out-of-office answer and the bounce thread to no ticket and open none.
    let tickets: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT number, subject, status FROM tickets WHERE channel = 'email' ORDER BY number")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    let subjects: Vec<&str> = tickets.iter().map(|t| t.1.as_str()).collect();
    for want in ["Где мой заказ №5521?", "Возврат денег", "Курьер не приехал", "Damaged parcel photos"]
    {
        assert!(subjects.contains(&want), "{want} among {subjects:?}");
    }
    assert_eq!(tickets.len(), 7, "{subjects:?}");
    assert!(tickets.iter().all(|t| t.0 >= 1000 && t.2 == "new"));
    let kinds: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT kind, ticket_id FROM mail_intake WHERE kind IN ('auto_reply', 'bounce') ORDER BY kind")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(kinds, [("auto_reply".to_owned(), None), ("bounce".to_owned(), None)]);

    // The sender became a customer with their address; the Windows-1251 text reads as Russian.
    assert_eq!(
        scalar(&h, "SELECT count(*) FROM customer_identities WHERE kind = 'email' AND normalized = $1", "ivan@mail.ru")
            .await,
        1
    );
    let body: String = sqlx::query_scalar(
        "SELECT m.body FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.subject = 'Возврат денег'",
    )
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert!(body.contains("вернуть деньги за повреждённую посылку"), "{body}");
    // Attachments are stored once, by content, and listed on the message.
    let attachments: Value = sqlx::query_scalar(
        "SELECT m.attachments FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.subject = 'Damaged parcel photos'",
    )
    .fetch_one(&h.pool)
    .await
    .unwrap();
    let names: Vec<&str> = attachments.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["box.png", "receipt.pdf"]);
    let sha = attachments[1]["sha256"].as_str().unwrap();
    let pdf: Vec<u8> =
        sqlx::query_scalar("SELECT data FROM blobs WHERE sha256 = $1").bind(sha).fetch_one(&h.pool).await.unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4"));
    // A desk of the queue downloads it; a contractor of another queue cannot, even knowing the hash.
    let (code, headers, bytes) = download(&h, &h.token("anna").await, sha).await;
    assert_eq!(code, 200);
    assert_eq!(bytes, pdf);
    assert_eq!(headers.get("content-type").unwrap(), "application/pdf");
    assert!(headers.get("content-disposition").unwrap().to_str().unwrap().contains("receipt.pdf"));
    let (code, _, _) = download(&h, &h.token("kate").await, sha).await;
    assert_eq!(code, 403);
    // The malformed message is a ticket with what could be read and the notes.
    let notes: Value =
        sqlx::query_scalar("SELECT m.email->'notes' FROM messages m WHERE m.email->'from' = 'null'::jsonb")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert!(notes.to_string().contains("no readable sender"), "{notes}");
    // The HTML-only message is sanitised on the server: no script reaches a desk.
    let html: String = sqlx::query_scalar(
        "SELECT m.email->>'html' FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.subject = 'Invoice for last month'",
    )
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert!(html.contains("<i>invoice</i>") && !html.contains("script"), "{html}");

    // What a desk of the queue pulls: the ticket, its customer and the message with its email.
    let anna = h.token("anna").await;
    let (_, pulled) = h.post("/v1/pull", Some(&anna), json!({ "cursor": 0, "limit": 1000 })).await;
    let changes = pulled["changes"].as_array().unwrap();
    let pulled_message = changes
        .iter()
        .find(|c| c["entity"] == "message" && c["data"]["subject"] == "Курьер не приехал")
        .expect("the KOI8-R message reaches the desk");
    assert_eq!(pulled_message["data"]["email"]["from"]["address"], "sveta@yandex.ru");

    // Every fetched message is flagged seen on the server, after it was committed.
    let unseen = sender.search("UNSEEN").await.unwrap();
    assert!(unseen.is_empty(), "unseen after intake: {unseen:?}");

    // The customer answers the first ticket: the answer joins it (In-Reply-To), no new ticket.
    let (ticket_id, number): (String, i64) =
        sqlx::query_as("SELECT id, number FROM tickets WHERE subject = 'Где мой заказ №5521?'")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    let follow_up = "From: Olga <olga.petrova@example.com>\r\nTo: support@shop.test\r\nSubject: Re: Где мой заказ\r\n\
                     Message-ID: <follow-1@mail.example.com>\r\nIn-Reply-To: <utf8-qp-1@mail.example.com>\r\n\
                     Content-Type: text/plain; charset=utf-8\r\n\r\nЕщё раз: где заказ?\r\n";
    sender.append("INBOX", None, None, follow_up.as_bytes()).await.unwrap();
    eventually(Duration::from_secs(30), "the follow-up joins its ticket", || async {
        (scalar(&h, "SELECT count(*) FROM messages WHERE ticket_id = $1", &ticket_id).await == 2).then_some(())
    })
    .await;
    assert_eq!(scalar(&h, "SELECT count(*) FROM tickets WHERE channel = 'email' AND id <> $1", &ticket_id).await, 6);

    // Anna attaches a file (uploaded first, as the desk does) and replies from her desk (a
    // synced mutation, as the window sends it). A contractor may not upload; a reply naming a
    // file the server does not have is refused.
    let (code, file) = upload(&h, &anna, "накладная 5521.pdf", b"%PDF-1.4 waybill 5521").await;
    assert_eq!(code, 200, "{file}");
    let file: okno_core::AttachmentRef = serde_json::from_value(file).unwrap();
    assert_eq!((file.name.as_str(), file.mime.as_str(), file.size), ("накладная 5521.pdf", "application/pdf", 21));
    let (code, _) = upload(&h, &h.token("kate").await, "x.pdf", b"%PDF").await;
    assert_eq!(code, 403);
    let missing = okno_core::AttachmentRef { sha256: "0".repeat(64), ..file.clone() };
    let push = |seq: u64, id: &str, attachments: Vec<okno_core::AttachmentRef>| PushRequest {
        client_id: "anna-desk".into(),
        schema_version: SCHEMA_VERSION,
        mutations: vec![PushItem {
            client_seq: seq,
            mutation_id: format!("anna-desk-{seq}"),
            mutation: Mutation::ReplyTicket {
                ticket_id: ticket_id.clone(),
                message_id: id.into(),
                body: "Ольга, заказ 5521 передан курьеру сегодня.".into(),
                internal: false,
                at: okno_core::unix_ms(std::time::SystemTime::now()),
                cc: vec![" Manager@Example.com ".into()],
                attachments,
            },
        }],
    };
    let (code, resp) =
        h.post("/v1/push", Some(&anna), serde_json::to_value(push(1, "reply-0000", vec![missing])).unwrap()).await;
    assert_eq!(code, 200, "{resp}");
    assert_eq!(resp["results"][0]["outcome"]["code"], "invalid", "{resp}");
    let (code, resp) =
        h.post("/v1/push", Some(&anna), serde_json::to_value(push(2, "reply-0001", vec![file.clone()])).unwrap()).await;
    assert_eq!(code, 200, "{resp}");
    assert_eq!(resp["results"][0]["outcome"]["kind"], "applied", "{resp}");
    let delivered = eventually(Duration::from_secs(30), "the reply in the customer's mailbox", || async {
        let all = smtp.delivered();
        (!all.is_empty()).then_some(all)
    })
    .await;
    assert_eq!(delivered.len(), 1);
    let reply = okno_mail::read(&delivered[0], 1 << 20);
    assert_eq!(reply.to.iter().map(|m| m.address.as_str()).collect::<Vec<_>>(), ["olga.petrova@example.com"]);
    assert_eq!(reply.from.as_ref().unwrap().address, "support@shop.test");
    assert_eq!(reply.subject, format!("Re: Где мой заказ №5521? [#{number}]"));
    assert_eq!(reply.in_reply_to, ["follow-1@mail.example.com"]);
    assert_eq!(reply.references, ["utf8-qp-1@mail.example.com", "follow-1@mail.example.com"]);
    assert_eq!(reply.message_id, "reply-0001@shop.test");
    assert_eq!(reply.cc.iter().map(|m| m.address.as_str()).collect::<Vec<_>>(), ["manager@example.com"]);
    assert_eq!(reply.attachments.len(), 1, "the file went with the reply");
    assert_eq!(reply.attachments[0].name, "накладная 5521.pdf");
    assert_eq!(reply.attachments[0].data, b"%PDF-1.4 waybill 5521");
    assert!(reply.text.contains("передан курьеру"), "{}", reply.text);
    let delivery: Value = eventually(Duration::from_secs(10), "the delivery state on the message", || async {
        let d: Value = sqlx::query_scalar("SELECT email->'delivery' FROM messages WHERE id = 'reply-0001'")
            .fetch_one(&h.pool)
            .await
            .unwrap();
        (d["state"] == "sent").then_some(d)
    })
    .await;
    assert!(delivery["at"].as_i64().is_some(), "{delivery}");
    let shown: Value =
        sqlx::query_scalar("SELECT email FROM messages WHERE id = 'reply-0001'").fetch_one(&h.pool).await.unwrap();
    assert_eq!(shown["to"][0]["address"], "olga.petrova@example.com", "the desk shows where it went: {shown}");
    assert_eq!(shown["cc"][0]["address"], "manager@example.com");

    // The operator resolves the ticket; the customer answers the reply (threaded by our
    // Message-ID): the answer lands on the same ticket and reopens it.
    sqlx::query("UPDATE tickets SET status = 'resolved' WHERE id = $1")
        .bind(&ticket_id)
        .execute(&h.pool)
        .await
        .unwrap();
    let answer = "From: olga.petrova@example.com\r\nTo: support@shop.test\r\nSubject: Re: something else\r\n\
                  Message-ID: <follow-2@mail.example.com>\r\nIn-Reply-To: <reply-0001@shop.test>\r\n\r\nСпасибо!\r\n";
    sender.append("INBOX", None, None, answer.as_bytes()).await.unwrap();
    eventually(Duration::from_secs(30), "the answer to our reply joins the ticket", || async {
        (scalar(&h, "SELECT count(*) FROM messages WHERE ticket_id = $1 AND direction = 'inbound'", &ticket_id).await
            == 3)
            .then_some(())
    })
    .await;
    let status: String = sqlx::query_scalar("SELECT status FROM tickets WHERE id = $1")
        .bind(&ticket_id)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(status, "open", "a customer's answer reopens a resolved ticket");

    // A customer whose mail names a Reply-To gets the answer there, not at From.
    let orders = "From: Ivan <ivan@mail.ru>\r\nReply-To: Orders desk <Orders@Mail.ru>\r\nTo: support@shop.test\r\n\
                  Subject: Счёт на оплату\r\nMessage-ID: <reply-to-1@mail.ru>\r\n\r\nПришлите счёт.\r\n";
    sender.append("INBOX", None, None, orders.as_bytes()).await.unwrap();
    let invoice: String = eventually(Duration::from_secs(30), "the Reply-To message as a ticket", || async {
        sqlx::query_scalar("SELECT id FROM tickets WHERE subject = 'Счёт на оплату'")
            .fetch_optional(&h.pool)
            .await
            .unwrap()
    })
    .await;
    let answer = PushRequest {
        client_id: "anna-desk".into(),
        schema_version: SCHEMA_VERSION,
        mutations: vec![PushItem {
            client_seq: 3,
            mutation_id: "anna-desk-3".into(),
            mutation: Mutation::ReplyTicket {
                ticket_id: invoice,
                message_id: "reply-0002".into(),
                body: "Счёт во вложении.".into(),
                internal: false,
                at: okno_core::unix_ms(std::time::SystemTime::now()),
                cc: Vec::new(),
                attachments: Vec::new(),
            },
        }],
    };
    let (code, resp) = h.post("/v1/push", Some(&anna), serde_json::to_value(answer).unwrap()).await;
    assert_eq!(code, 200, "{resp}");
    let second = eventually(Duration::from_secs(30), "the second reply delivered", || async {
        smtp.delivered()
            .into_iter()
            .map(|raw| okno_mail::read(&raw, 1 << 20))
            .find(|m| m.message_id == "reply-0002@shop.test")
    })
    .await;
    assert_eq!(second.to.iter().map(|m| m.address.as_str()).collect::<Vec<_>>(), ["orders@mail.ru"]);

    // A restart of intake fetches nothing twice.
    // A clean stop hands the mailbox over at once (no waiting for the lease).
    tasks.stop(&h.state).await;
    let lease: Option<String> =
        sqlx::query_scalar("SELECT lease_owner FROM mailbox_state").fetch_one(&h.pool).await.unwrap();
    assert_eq!(lease, None);
    let before = intake_count(&h).await;
    sqlx::query("UPDATE mailbox_state SET last_uid = 0").execute(&h.pool).await.unwrap();
    let tasks = okno_server::mail::start(&h.state, &mail_config(dovecot.port, smtp.port)).await.unwrap();
    eventually(Duration::from_secs(30), "a re-read of the whole mailbox", || async {
        let last: i64 = sqlx::query_scalar("SELECT last_uid FROM mailbox_state").fetch_one(&h.pool).await.unwrap();
        (last >= before).then_some(())
    })
    .await;
    assert_eq!(intake_count(&h).await, before, "re-reading the mailbox deduplicates by Message-ID");
    tasks.stop(&h.state).await;
    let _ = sender.logout().await;
}

/// A mail server without IDLE is polled; a mailbox whose UIDVALIDITY changes (Dovecot rebuilt
/// its UID list, as after a restore) is read again from the start without a single duplicate.
#[tokio::test]
async fn intake_polls_a_server_without_idle_and_survives_a_uidvalidity_change() {
    let h = Harness::new().await;
    email_queue(&h).await;
    // Dovecot advertises what `imap_capability` says: here everything but IDLE.
    let dovecot = Dovecot::start_with(&[peers::USER], "imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE");
    let smtp = SmtpSink::start();
    let mut sender = imap(dovecot.port).await;
    let capabilities = sender.capabilities().await.unwrap();
    assert!(!capabilities.has_str("IDLE"), "the test server must not offer IDLE");
    for file in ["utf8-qp.eml", "cp1251-base64.eml"] {
        sender.append("INBOX", None, None, corpus(file)).await.unwrap();
    }
    let tasks = okno_server::mail::start(&h.state, &mail_config(dovecot.port, smtp.port)).await.unwrap();
    eventually(Duration::from_secs(30), "two messages taken in by polling", || async {
        (intake_count(&h).await == 2).then_some(())
    })
    .await;
    // A third one arrives while intake waits between polls (poll_seconds = 1).
    sender.append("INBOX", None, None, corpus("koi8r-qp.eml")).await.unwrap();
    eventually(Duration::from_secs(30), "the third by the next poll", || async {
        (intake_count(&h).await == 3).then_some(())
    })
    .await;
    tasks.stop(&h.state).await;
    let old_validity: Option<i64> =
        sqlx::query_scalar("SELECT uid_validity FROM mailbox_state").fetch_one(&h.pool).await.unwrap();

    // Dovecot forgets its UIDs: the next SELECT answers a new UIDVALIDITY and renumbers.
    let _ = sender.logout().await;
    let maildir = dovecot.maildir(peers::USER);
    for entry in std::fs::read_dir(&maildir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("dovecot-uidlist") || name.starts_with("dovecot.index") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    // UIDVALIDITY is a timestamp in Dovecot: a new one needs the clock to move on a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut sender = imap(dovecot.port).await;
    sender.append("INBOX", None, None, corpus("alternative.eml")).await.unwrap();
    let tasks = okno_server::mail::start(&h.state, &mail_config(dovecot.port, smtp.port)).await.unwrap();
    eventually(Duration::from_secs(30), "the new message after the UIDVALIDITY change", || async {
        (intake_count(&h).await == 4).then_some(())
    })
    .await;
    let new_validity: Option<i64> =
        sqlx::query_scalar("SELECT uid_validity FROM mailbox_state").fetch_one(&h.pool).await.unwrap();
    assert_ne!(new_validity, old_validity, "the change was seen");
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM messages WHERE channel = 'email'")
            .fetch_one(&h.pool)
            .await
            .unwrap(),
        4,
        "the three old messages, fetched again under new UIDs, are not taken in twice"
    );
    tasks.stop(&h.state).await;
    let _ = sender.logout().await;
}
