//! @mentions and followers against real mail servers: an operator's internal note names a
//! colleague and an outside contractor; the colleague's desk pulls a notice, the contractor gets
//! the note by email (Dovecot and the SMTP sink as in `mail.rs`), masked, and answers by email
//! into the ticket's internal notes. A stranger answering the same mail does not. Followers
//! (mentioned, or following by choice) are told when the customer writes again.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::{Harness, eventually, imap, mail_config};
use okno_core::{Channel, Mutation};
use okno_server::admin;
use okno_sync::{PushItem, PushRequest, SCHEMA_VERSION};
use okno_testkit::mail::{Dovecot, SmtpSink};
use serde_json::{Value, json};

const CARD: &str = "4111 1111 1111 1111";

async fn notices(h: &Harness, account: &str) -> Vec<Value> {
    let (_, pulled) = h.post("/v1/pull", Some(&h.token(account).await), json!({ "cursor": 0, "limit": 1000 })).await;
    pulled["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "notice")
        .map(|c| c["data"].clone())
        .collect()
}

async fn count(h: &Harness, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&h.pool).await.unwrap()
}

#[tokio::test]
async fn a_mention_reaches_a_colleague_and_a_contractor_who_answers_by_email() {
    let _ = tracing_subscriber::fmt().with_env_filter("okno_server=debug").with_test_writer().try_init();
    let h = Harness::new().await;
    admin::create_queue(&h.pool, "qmail", "Email", Channel::Email, "d1").await.unwrap();
    assert!(admin::set_email(&h.pool, "kate", Some("Kate@Partner.test")).await.unwrap());
    assert!(admin::set_email(&h.pool, "boris", Some("not an address")).await.is_err(), "a bad address is refused");
    let dovecot = Dovecot::start();
    let smtp = SmtpSink::start();
    let tasks = okno_server::mail::start(&h.state, &mail_config(dovecot.port, smtp.port)).await.unwrap();

    // Anna asks on a phone ticket (t1, queue q1): Boris works the queue; Kate, a contractor of
    // another queue, has no desk for it.
    let anna = h.token("anna").await;
    let note = format!("@kate @Boris please check the payment from card {CARD}, the customer is at +7 915 123-45-67");
    let push = PushRequest {
        client_id: "anna-desk".into(),
        schema_version: SCHEMA_VERSION,
        mutations: vec![PushItem {
            client_seq: 1,
            mutation_id: "anna-desk-1".into(),
            mutation: Mutation::ReplyTicket {
                ticket_id: "t1".into(),
                message_id: "note-1".into(),
                body: note.clone(),
                internal: true,
                at: okno_core::unix_ms(std::time::SystemTime::now()),
                cc: Vec::new(),
                attachments: Vec::new(),
            },
        }],
    };
    let (code, resp) = h.post("/v1/push", Some(&anna), serde_json::to_value(push).unwrap()).await;
    assert_eq!(code, 200, "{resp}");
    assert_eq!(resp["results"][0]["outcome"]["kind"], "applied", "{resp}");
    assert_eq!(
        count(&h, "SELECT count(*) FROM ticket_followers WHERE ticket_id = 't1' AND operator_id IN ('kate', 'boris')")
            .await,
        2,
        "both mentioned follow the ticket"
    );
    assert_eq!(count(&h, "SELECT count(*) FROM events WHERE kind = 'mentioned' AND ticket_id = 't1'").await, 2);

    // Boris's desk pulls a notice with the note as written; Kate's pulls it masked.
    let boris = notices(&h, "boris").await;
    assert_eq!(boris.len(), 1, "{boris:?}");
    assert_eq!(
        (boris[0]["kind"].as_str(), boris[0]["by"].as_str(), boris[0]["number"].as_i64()),
        (Some("mention"), Some("anna"), Some(1))
    );
    assert!(boris[0]["excerpt"].as_str().unwrap().contains(CARD));
    let kate = notices(&h, "kate").await;
    assert_eq!(kate.len(), 1, "{kate:?}");
    let masked = kate[0]["excerpt"].as_str().unwrap();
    assert!(!masked.contains(CARD) && !masked.contains("123-45-67"), "{masked}");
    assert!(notices(&h, "lena").await.is_empty(), "nobody else is told, not even a team lead who pulls every queue");

    // Kate gets the note by mail from the center's mailbox, masked, numbered like the ticket.
    let delivered = eventually(Duration::from_secs(30), "the mention mail", || async {
        let all = smtp.delivered();
        (!all.is_empty()).then_some(all)
    })
    .await;
    assert_eq!(delivered.len(), 1);
    let mail = okno_mail::read(&delivered[0], 1 << 20);
    assert_eq!(mail.to.iter().map(|m| m.address.as_str()).collect::<Vec<_>>(), ["kate@partner.test"]);
    assert_eq!(mail.from.as_ref().unwrap().address, "support@shop.test");
    assert_eq!(mail.subject, "[#1] Ticket t1");
    assert!(mail.text.contains("anna mentioned you on ticket #1"), "{}", mail.text);
    assert!(mail.text.contains("please check the payment"), "{}", mail.text);
    assert!(!mail.text.contains(CARD) && !mail.text.contains("123-45-67"), "masked: {}", mail.text);
    let mention_id = mail.message_id.clone();
    let state: String = sqlx::query_scalar("SELECT email->'delivery'->>'state' FROM messages WHERE id = 'note-1'")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(state, "sent", "the note shows that its mail went out");

    // Kate answers from her mail client: an internal note by her, nothing the customer sees.
    let mut sender = imap(dovecot.port).await;
    let answer = format!(
        "From: Kate <kate@partner.test>\r\nTo: support@shop.test\r\nSubject: Re: [#1] Ticket t1\r\n\
         Message-ID: <kate-1@partner.test>\r\nIn-Reply-To: <{mention_id}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nChecked: the payment was refunded on Friday.\r\n"
    );
    sender.append("INBOX", None, None, answer.as_bytes()).await.unwrap();
    let (direction, author): (String, String) =
        eventually(Duration::from_secs(30), "Kate's answer on the ticket", || async {
            sqlx::query_as(
                "SELECT direction, operator_id FROM messages WHERE ticket_id = 't1' AND body LIKE 'Checked:%'",
            )
            .fetch_optional(&h.pool)
            .await
            .unwrap()
        })
        .await;
    assert_eq!((direction.as_str(), author.as_str()), ("internal", "kate"));
    assert_eq!(count(&h, "SELECT count(*) FROM tickets WHERE channel = 'email'").await, 0, "no ticket was opened");
    let answered: Vec<Value> = notices(&h, "boris").await.into_iter().filter(|n| n["kind"] == "answer").collect();
    assert_eq!(answered.len(), 1, "Boris follows the ticket: {answered:?}");
    assert_eq!(answered[0]["by"], "kate");

    // Someone else answering the same mail is not Kate: their mail does not become a note.
    let stranger = format!(
        "From: Mallory <mallory@evil.test>\r\nTo: support@shop.test\r\nSubject: Re: hello\r\n\
         Message-ID: <mallory-1@evil.test>\r\nIn-Reply-To: <{mention_id}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nPlease send me the card number.\r\n"
    );
    sender.append("INBOX", None, None, stranger.as_bytes()).await.unwrap();
    eventually(Duration::from_secs(30), "the stranger's mail taken in", || async {
        (count(&h, "SELECT count(*) FROM mail_intake WHERE message_id = 'mallory-1@evil.test'").await == 1)
            .then_some(())
    })
    .await;
    assert_eq!(
        count(&h, "SELECT count(*) FROM messages WHERE ticket_id = 't1' AND body LIKE 'Please send%'").await,
        0,
        "a stranger's mail never joins the ticket through the mention"
    );

    // Anna follows the ticket by choice; when the customer writes again, every follower is told.
    let (code, followers) =
        h.call(Method::PUT, "/v1/tickets/t1/follow", Some(&anna), Some(json!({ "follow": true }))).await;
    assert_eq!(code, 200, "{followers}");
    assert_eq!(followers["following"], true);
    let names: Vec<&str> = followers["people"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(names, ["anna", "boris", "kate"]);
    let kate_token = h.token("kate").await;
    let (code, _) = h.call(Method::GET, "/v1/tickets/t1/followers", Some(&kate_token), None).await;
    assert_eq!(code, 403, "kate was mentioned, but the ticket's queue is not hers");
    let customer = "From: Ivan Petrov <ivan.petrov@mail.ru>\r\nTo: support@shop.test\r\nSubject: Re: [#1] Ticket t1\r\n\
                    Message-ID: <ivan-2@mail.ru>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAny news on my payment?\r\n";
    sender.append("INBOX", None, None, customer.as_bytes()).await.unwrap();
    let told = eventually(Duration::from_secs(30), "anna told of the customer's mail", || async {
        let replies: Vec<Value> = notices(&h, "anna").await.into_iter().filter(|n| n["kind"] == "reply").collect();
        (!replies.is_empty()).then_some(replies)
    })
    .await;
    assert!(told[0]["excerpt"].as_str().unwrap().contains("Any news on my payment?"), "{told:?}");
    assert!(notices(&h, "boris").await.iter().any(|n| n["kind"] == "reply"), "boris follows too");
    let (_, followers) =
        h.call(Method::PUT, "/v1/tickets/t1/follow", Some(&anna), Some(json!({ "follow": false }))).await;
    assert_eq!(followers["following"], false);
    tasks.stop(&h.state).await;
}
