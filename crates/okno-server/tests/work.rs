//! The center's work rules on the server (issue 18): rules, templates and SLA policies edited
//! over HTTP by team leads only, refused with the reason when they cannot work, and applied to
//! real mail taken in from Dovecot, with the auto-replies and forwards they send reaching an
//! SMTP server.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{Harness, eventually, imap, mail_config};
use okno_core::{Channel, Mutation, TicketStatus};
use okno_rules::{Calendar, SlaPolicy, SlaPolicySpec, TicketClock};
use okno_server::admin;
use okno_sync::{PushItem, PushRequest, SCHEMA_VERSION};
use okno_testkit::mail::{Dovecot, SmtpSink};
use serde_json::{Value, json};

/// 2026-12-07 (a Monday) 10:00 in Moscow.
const MONDAY_10_MSK: i64 = 1_796_626_800_000;
const HOUR: i64 = 3_600_000;

fn moscow_policy(id: &str) -> SlaPolicySpec {
    let day = Some(okno_rules::DayHours { open: "09:00".into(), close: "18:00".into() });
    SlaPolicySpec::standard(
        id,
        okno_rules::CalendarSpec {
            time_zone: "Europe/Moscow".into(),
            week: [day.clone(), day.clone(), day.clone(), day.clone(), day, None, None],
            holidays: vec!["2026-12-31".into()],
        },
    )
}

async fn put(h: &Harness, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    h.call(Method::PUT, path, Some(token), Some(body)).await
}

#[tokio::test]
async fn only_leads_edit_rules_and_a_set_that_cannot_work_is_refused_with_the_rule_and_the_reason() {
    let h = Harness::new().await;
    let (anna, lena) = (h.token("anna").await, h.token("lena").await);
    let (code, _) = h.call(Method::GET, "/v1/work/rules", Some(&anna), None).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "an operator does not see the rule editor's data");
    let (code, body) = h.call(Method::GET, "/v1/work/rules", Some(&lena), None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 0);
    assert_eq!(body["queues"].as_array().unwrap().len(), 2);

    let bad = json!({ "version": 0, "rules": [
        { "id": "r1", "name": "tag hotline", "enabled": true, "when": [], "then": [{ "do": "add_tags", "tags": ["hotline"] }], "stop": false },
        { "id": "r2", "name": "invoices", "enabled": true,
          "when": [{ "field": "subject", "test": { "op": "regex", "value": "(invoice" } }],
          "then": [{ "do": "set_queue", "queue_id": "q2" }], "stop": false }
    ]});
    let (code, body) = put(&h, "/v1/work/rules", &lena, bad).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid");
    assert_eq!(body["detail"]["position"], 2);
    assert_eq!(body["detail"]["name"], "invoices");
    assert!(body["detail"]["reason"].as_str().unwrap().contains("unclosed group"), "{body}");

    let good = json!({ "version": 0, "rules": [
        { "id": "r1", "name": "ticket t3 is urgent", "enabled": true,
          "when": [{ "field": "subject", "test": { "op": "regex", "value": "ticket t[3]$" } }],
          "then": [{ "do": "set_priority", "priority": "urgent" }, { "do": "add_tags", "tags": ["dry"] }], "stop": true }
    ]});
    let (code, body) = put(&h, "/v1/work/rules", &anna, good.clone()).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    let (code, body) = put(&h, "/v1/work/rules", &lena, good.clone()).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 1);
    // A second editor who started from version 0 does not overwrite the first.
    let (code, body) = put(&h, "/v1/work/rules", &lena, good.clone()).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    let (_, body) = h.call(Method::GET, "/v1/work/rules", Some(&lena), None).await;
    assert_eq!(body["rules"][0]["name"], "ticket t3 is urgent");

    // A dry run over the latest tickets says what would fire and changes nothing.
    let (code, run) =
        h.post("/v1/work/rules/dry-run", Some(&lena), json!({ "rules": good["rules"], "last": 50 })).await;
    assert_eq!(code, StatusCode::OK, "{run}");
    assert_eq!(run["tickets"].as_array().unwrap().len(), 3);
    assert_eq!(run["matched"], 1);
    let t3 = run["tickets"].as_array().unwrap().iter().find(|t| t["ticket_id"] == "t3").unwrap();
    assert_eq!(t3["outcome"]["priority"], "urgent");
    assert_eq!(t3["outcome"]["fired"][0]["name"], "ticket t3 is urgent");
    let priority: String =
        sqlx::query_scalar("SELECT priority FROM tickets WHERE id = 't3'").fetch_one(&h.pool).await.unwrap();
    assert_eq!(priority, "normal", "a dry run changes nothing");
    let (code, _) = h.post("/v1/work/rules/dry-run", Some(&anna), json!({ "rules": [], "last": 5 })).await;
    assert_eq!(code, StatusCode::FORBIDDEN);

    // A rule on replies is tried on each ticket's latest reply from the customer.
    for (id, body, at) in
        [("m1", "Where is my order?", 3_000), ("m2", "Still waiting", 4_000), ("m3", "Thank you!", 5_000)]
    {
        sqlx::query(
            "INSERT INTO messages (id, ticket_id, channel, direction, author_name, body, created_at) \
             VALUES ($1, 't1', 'phone', 'inbound', 'Customer c1', $2, $3)",
        )
        .bind(id)
        .bind(body)
        .bind(at)
        .execute(&h.pool)
        .await
        .unwrap();
    }
    let thanks = json!([{ "id": "r9", "name": "close thank-you replies", "enabled": true,
        "when": [{ "field": "first_message", "is": false }, { "field": "body", "test": { "op": "contains", "value": "thank" } }],
        "then": [{ "do": "close" }], "stop": true }]);
    let (code, run) = h.post("/v1/work/rules/dry-run", Some(&lena), json!({ "rules": thanks, "last": 50 })).await;
    assert_eq!(code, StatusCode::OK, "{run}");
    let replayed: Vec<(&str, bool, usize)> = run["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["ticket_id"].as_str().unwrap(),
                t["reply"].as_bool().unwrap(),
                t["outcome"]["fired"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert!(replayed.contains(&("t1", false, 0)), "the first message is no reply: {replayed:?}");
    assert!(replayed.contains(&("t1", true, 1)), "the latest reply fires: {replayed:?}");
    assert_eq!(replayed.len(), 4, "t1's first message and latest reply, t2 and t3: {replayed:?}");
    assert_eq!(
        (run["matched"].as_u64(), run["replayed"].as_u64(), run["replies"].as_u64()),
        (Some(1), Some(3), Some(1))
    );

    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'rules_changed' AND actor = 'lena'")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn templates_are_shared_by_leads_personal_to_their_owner_and_filled_in_for_a_ticket() {
    let h = Harness::new().await;
    let (anna, lena, kate) = (h.token("anna").await, h.token("lena").await, h.token("kate").await);
    let template = |id: &str, owner: Option<&str>, body: &str| {
        json!({ "id": id, "name": format!("Template {id}"), "language": "ru", "queue_id": "q1", "owner_id": owner,
                "subject": null, "body": body, "attachments": [] })
    };
    let shared = template(
        "tpl-hello",
        None,
        "Здравствуйте, {{customer.name}}! Обращение №{{ticket.number}}. Заказ {{order.number}}. {{operator.name}}",
    );
    let (code, body) = put(&h, "/v1/work/templates/tpl-hello", &anna, shared.clone()).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "an operator cannot write a shared template: {body}");
    let (code, body) = put(&h, "/v1/work/templates/tpl-hello", &lena, shared).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, body) =
        put(&h, "/v1/work/templates/tpl-mine", &anna, template("tpl-mine", Some("anna"), "Минутку, уточняю.")).await;
    assert_eq!(code, StatusCode::OK, "an operator keeps personal templates: {body}");
    let (code, body) = put(&h, "/v1/work/templates/tpl-k", &kate, template("tpl-k", Some("kate"), "x")).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    let (code, body) =
        put(&h, "/v1/work/templates/tpl-bad", &lena, template("tpl-bad", None, "Hi {{customer.phone}}")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["message"].as_str().unwrap().contains("unknown variable {{customer.phone}}"), "{body}");
    let mut unsent = template("tpl-file", None, "См. прайс во вложении.");
    unsent["attachments"] =
        json!([{ "sha256": "00".repeat(32), "name": "price.pdf", "mime": "application/pdf", "size": 10 }]);
    let (code, body) = put(&h, "/v1/work/templates/tpl-file", &lena, unsent).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "a file that was never uploaded: {body}");
    assert_eq!(body["message"], "the file \"price.pdf\" is not on the server; attach it again");

    // Each sees what is theirs to use.
    let names = |body: &Value| -> Vec<String> {
        body["templates"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
    };
    let (_, mine) = h.call(Method::GET, "/v1/work/templates", Some(&anna), None).await;
    let mut mine = names(&mine);
    mine.sort();
    assert_eq!(mine, ["tpl-hello", "tpl-mine"]);
    let (_, lead) = h.call(Method::GET, "/v1/work/templates", Some(&lena), None).await;
    assert_eq!(names(&lead), ["tpl-hello"], "a personal template is its owner's alone");
    let (_, contractor) = h.call(Method::GET, "/v1/work/templates", Some(&kate), None).await;
    assert!(names(&contractor).is_empty(), "q1's templates are not a q2 contractor's");

    let (code, rendered) =
        h.post("/v1/work/templates/tpl-hello/render", Some(&anna), json!({ "ticket_id": "t1" })).await;
    assert_eq!(code, StatusCode::OK, "{rendered}");
    assert_eq!(rendered["body"]["text"], "Здравствуйте, Customer c1! Обращение №1. Заказ . anna");
    assert_eq!(rendered["body"]["missing"], json!(["order.number"]));
    // The desk sends the latest order from its card: it fills {{order.*}}.
    let order = json!({ "number": "ORD-100234", "status": "shipped", "total": "12450.00 RUB" });
    let (code, rendered) =
        h.post("/v1/work/templates/tpl-hello/render", Some(&anna), json!({ "ticket_id": "t1", "order": order })).await;
    assert_eq!(code, StatusCode::OK, "{rendered}");
    assert_eq!(rendered["body"]["text"], "Здравствуйте, Customer c1! Обращение №1. Заказ ORD-100234. anna");
    assert_eq!(rendered["body"]["missing"], json!([]));
    let (code, _) = h.post("/v1/work/templates/tpl-hello/render", Some(&anna), json!({ "ticket_id": "t2" })).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "t2 is in a queue anna does not work");

    // A template a rule auto-replies with cannot be deleted from under the rule.
    let rules = json!({ "version": 0, "rules": [{ "id": "r1", "name": "greet", "enabled": true, "when": [],
        "then": [{ "do": "auto_reply", "template_id": "tpl-hello" }], "stop": false }] });
    let (code, body) = put(&h, "/v1/work/rules", &lena, rules).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, body) = h.call(Method::DELETE, "/v1/work/templates/tpl-hello", Some(&lena), None).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    let (code, _) = h.call(Method::DELETE, "/v1/work/templates/tpl-mine", Some(&lena), None).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "a lead cannot delete an operator's own template");
    let (code, _) = h.call(Method::DELETE, "/v1/work/templates/tpl-mine", Some(&anna), None).await;
    assert_eq!(code, StatusCode::OK);
}

fn status_push(seq: u64, ticket: &str, status: TicketStatus, at: i64) -> Value {
    serde_json::to_value(PushRequest {
        client_id: "anna-desk".into(),
        schema_version: SCHEMA_VERSION,
        mutations: vec![PushItem {
            client_seq: seq,
            mutation_id: format!("anna-desk-{seq}"),
            mutation: Mutation::SetTicketStatus { ticket_id: ticket.into(), status, at },
        }],
    })
    .unwrap()
}

#[tokio::test]
async fn a_policy_sets_due_times_in_business_hours_and_waiting_on_the_customer_moves_resolution() {
    let h = Harness::new().await;
    let (anna, lena) = (h.token("anna").await, h.token("lena").await);
    sqlx::query("UPDATE tickets SET created_at = $1 WHERE queue_id = 'q1'")
        .bind(MONDAY_10_MSK)
        .execute(&h.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE customers SET tier = 'premium' WHERE id = 'c2'").execute(&h.pool).await.unwrap();
    let spec = moscow_policy("office");
    let (code, body) = put(&h, "/v1/work/sla-policies/office", &anna, serde_json::to_value(&spec).unwrap()).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    let mut broken = spec.clone();
    broken.calendar.time_zone = "Europe/Atlantis".into();
    let (code, body) = put(&h, "/v1/work/sla-policies/office", &lena, serde_json::to_value(&broken).unwrap()).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["message"], "calendar: unknown time zone \"Europe/Atlantis\"");
    let (code, body) = put(&h, "/v1/work/sla-policies/office", &lena, serde_json::to_value(&spec).unwrap()).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["recomputed"], 0, "no queue runs on it yet");
    let (code, body) = put(&h, "/v1/work/queues/q1/sla-policy", &lena, json!({ "sla_policy_id": "office" })).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["recomputed"], 2, "t1 and t3 are open in q1");

    let pool = &h.pool;
    let due = |id: &'static str| async move {
        let row: (Option<i64>, Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT first_response_due_at, resolution_due_at, sla_due_at FROM tickets WHERE id = $1")
                .bind(id)
                .fetch_one(pool)
                .await
                .unwrap();
        row
    };
    // Standard (c1): 8 working hours from Monday 10:00 is 18:00; premium (c2): 4 hours, 14:00.
    assert_eq!(due("t1").await.0, Some(MONDAY_10_MSK + 8 * HOUR));
    assert_eq!(due("t3").await.0, Some(MONDAY_10_MSK + 4 * HOUR));
    assert_eq!(due("t3").await.2, Some(MONDAY_10_MSK + 4 * HOUR), "the inbox sorts by the first target to breach");
    let policy = SlaPolicy::compile(&spec).unwrap();
    let expected = policy.due(
        okno_core::CustomerTier::Premium,
        Channel::Phone,
        okno_core::Priority::Normal,
        &TicketClock { created_at: MONDAY_10_MSK, ..TicketClock::default() },
    );
    assert_eq!(due("t3").await.1, expected.resolution);

    // Anna asks the customer and waits from 11:00 to 13:00: the resolution target moves two
    // working hours, the first response does not.
    let (code, resp) =
        h.post("/v1/push", Some(&anna), status_push(1, "t3", TicketStatus::Pending, MONDAY_10_MSK + HOUR)).await;
    assert_eq!(resp["results"][0]["outcome"]["kind"], "applied", "{code} {resp}");
    assert_eq!(due("t3").await.1, None, "no resolution due while waiting on the customer");
    let (_, resp) =
        h.post("/v1/push", Some(&anna), status_push(2, "t3", TicketStatus::Open, MONDAY_10_MSK + 3 * HOUR)).await;
    assert_eq!(resp["results"][0]["outcome"]["kind"], "applied", "{resp}");
    let after = due("t3").await;
    assert_eq!(after.0, Some(MONDAY_10_MSK + 4 * HOUR));
    let calendar = Calendar::compile(&spec.calendar).unwrap();
    assert_eq!(calendar.working_minutes_between(expected.resolution.unwrap(), after.1.unwrap()), 120);
    let pauses: Value =
        sqlx::query_scalar("SELECT sla_pauses FROM tickets WHERE id = 't3'").fetch_one(&h.pool).await.unwrap();
    assert_eq!(pauses, json!([{ "from": MONDAY_10_MSK + HOUR, "until": MONDAY_10_MSK + 3 * HOUR }]));
    // Late: the breach watch records each first-response breach once, whoever runs it.
    let late = MONDAY_10_MSK + 9 * HOUR;
    assert_eq!(
        okno_server::work::sla::record_breaches(&h.pool, late).await.unwrap(),
        2,
        "t1 (18:00) and t3 (14:00) passed"
    );
    assert_eq!(okno_server::work::sla::record_breaches(&h.pool, late + HOUR).await.unwrap(), 0, "once per due time");
    let breach: Value = sqlx::query_scalar("SELECT data FROM events WHERE kind = 'sla_breached' AND ticket_id = 't1'")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(breach, json!({ "due_at": MONDAY_10_MSK + 8 * HOUR, "late_ms": HOUR, "target": "first_response" }));
    // Resolved: nothing is due any more.
    let (_, resp) =
        h.post("/v1/push", Some(&anna), status_push(3, "t3", TicketStatus::Resolved, MONDAY_10_MSK + 4 * HOUR)).await;
    assert_eq!(resp["results"][0]["outcome"]["kind"], "applied", "{resp}");
    assert_eq!(due("t3").await.2, None);
    // What a desk pulls carries the new due times: after the policy change, the three times alone.
    let (_, pulled) = h.post("/v1/pull", Some(&anna), json!({ "cursor": 0, "limit": 1000 })).await;
    let t1 = pulled["changes"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|c| (c["entity"] == "ticket" || c["entity"] == okno_sync::TICKET_DUE) && c["id"] == "t1")
        .unwrap();
    assert_eq!(t1["entity"], okno_sync::TICKET_DUE, "{t1}");
    assert_eq!(t1["data"]["first_response_due_at"], json!(MONDAY_10_MSK + 8 * HOUR));
    assert_eq!(t1["data"]["sla_due_at"], json!(MONDAY_10_MSK + 8 * HOUR));
    assert!(t1["data"].get("subject").is_none(), "not the whole row: {t1}");
}

/// A desk stores a message only under a ticket it already has: in a pull, every message of
/// `ticket_id` must come after an upsert of the ticket.
fn ticket_before_its_messages(changes: &[Value], ticket_id: &str) {
    let mut seen_ticket = false;
    for c in changes {
        if c["entity"] == "ticket" && c["id"] == ticket_id {
            seen_ticket = c["op"] == "upsert";
        }
        if c["entity"] == "message" && c["data"]["ticket_id"] == ticket_id {
            assert!(seen_ticket, "message {} before its ticket in {changes:#?}", c["id"]);
        }
    }
}

async fn save_rules(h: &Harness, token: &str, rules: Value) {
    let (_, current) = h.call(Method::GET, "/v1/work/rules", Some(token), None).await;
    let (code, body) = put(h, "/v1/work/rules", token, json!({ "version": current["version"], "rules": rules })).await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn rules_route_close_answer_and_forward_real_mail() {
    let h = Harness::new().await;
    admin::create_queue(&h.pool, "qmail", "Email", Channel::Email, "d1").await.unwrap();
    admin::create_queue(&h.pool, "qbill", "Billing", Channel::Email, "d1").await.unwrap();
    admin::grant_queue(&h.pool, "anna", "qmail").await.unwrap();
    let lena = h.token("lena").await;
    let ack = json!({ "id": "tpl-invoice", "name": "Invoice received", "language": "ru", "queue_id": null, "owner_id": null,
        "subject": null, "body": "Здравствуйте, {{customer.name}}! Счёт получен, обращение №{{ticket.number}}.", "attachments": [] });
    let (code, body) = put(&h, "/v1/work/templates/tpl-invoice", &lena, ack).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let dovecot = Dovecot::start();
    let smtp = SmtpSink::start();
    let tasks = okno_server::mail::start(&h.state, &mail_config(dovecot.port, smtp.port)).await.unwrap();

    // A forward back into the center would come in again and fire again: refused.
    let (_, current) = h.call(Method::GET, "/v1/work/rules", Some(&lena), None).await;
    let looping = json!([{ "id": "x", "name": "copy to support", "enabled": true, "when": [],
        "then": [{ "do": "forward", "to": "Support@shop.test" }], "stop": false }]);
    let (code, body) =
        put(&h, "/v1/work/rules", &lena, json!({ "version": current["version"], "rules": looping })).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["message"].as_str().unwrap().contains("would loop"), "{body}");

    save_rules(&h, &lena, json!([
        { "id": "r-spam", "name": "promo spam", "enabled": true,
          "when": [{ "field": "sender_domain", "any_of": ["promo.test"] }], "then": [{ "do": "mark_spam" }], "stop": true },
        { "id": "r-thanks", "name": "thank-you replies close", "enabled": true,
          "when": [{ "field": "first_message", "is": false },
                   { "field": "body", "test": { "op": "regex", "value": "^\\s*(спасибо|thank you|thanks)[!.\\s]*$" } }],
          "then": [{ "do": "close" }], "stop": true },
        { "id": "r-invoice", "name": "invoices to billing", "enabled": true,
          "when": [{ "field": "subject", "test": { "op": "regex", "value": "сч[её]т\\s*№?\\s*\\d+" } }],
          "then": [{ "do": "set_queue", "queue_id": "qbill" }, { "do": "add_tags", "tags": ["invoice"] },
                   { "do": "auto_reply", "template_id": "tpl-invoice" }, { "do": "forward", "to": "ledger@accounting.test" }],
          "stop": false }
    ]))
    .await;

    let mut sender = imap(dovecot.port).await;
    let invoice = "From: Ivan Petrov <ivan@client.test>\r\nTo: support@shop.test\r\nSubject: Счёт № 2026-1187\r\n\
                   Message-ID: <invoice-1@client.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nСчёт во вложении.\r\n";
    sender.append("INBOX", None, None, invoice.as_bytes()).await.unwrap();
    let (ticket_id, number, queue, tags): (String, i64, String, Value) =
        eventually(Duration::from_secs(30), "the invoice as a ticket", || async {
            sqlx::query_as("SELECT id, number, queue_id, tags FROM tickets WHERE subject = 'Счёт № 2026-1187'")
                .fetch_optional(&h.pool)
                .await
                .unwrap()
        })
        .await;
    assert_eq!(queue, "qbill", "the rule opened the ticket in billing");
    assert_eq!(tags, json!(["invoice"]));
    let fired: Vec<String> =
        sqlx::query_scalar("SELECT data->>'name' FROM events WHERE kind = 'rule_fired' AND ticket_id = $1 ORDER BY id")
            .bind(&ticket_id)
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(fired, ["invoices to billing"]);
    let note: String = sqlx::query_scalar(
        "SELECT body FROM messages WHERE ticket_id = $1 AND direction = 'internal' AND author_name = 'Rules' AND email IS NULL",
    )
    .bind(&ticket_id)
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert!(note.contains("«invoices to billing»") && note.contains("queue qbill"), "{note}");
    let (_, pulled) = h.post("/v1/pull", Some(&lena), json!({ "cursor": 0, "limit": 1000 })).await;
    ticket_before_its_messages(pulled["changes"].as_array().unwrap(), &ticket_id);

    // The customer gets the template, marked as an auto-reply and threaded; the ledger gets a copy.
    let sent = eventually(Duration::from_secs(30), "the auto-reply and the forward sent", || async {
        let all: Vec<_> = smtp.delivered().iter().map(|raw| (raw.clone(), okno_mail::read(raw, 1 << 20))).collect();
        (all.len() >= 2).then_some(all)
    })
    .await;
    let (raw_reply, reply) = sent.iter().find(|(_, m)| m.to.iter().any(|a| a.address == "ivan@client.test")).unwrap();
    assert_eq!(reply.text.trim(), format!("Здравствуйте, Ivan Petrov! Счёт получен, обращение №{number}."));
    assert_eq!(reply.subject, format!("Re: Счёт № 2026-1187 [#{number}]"));
    assert_eq!(reply.in_reply_to, ["invoice-1@client.test"]);
    assert!(String::from_utf8_lossy(raw_reply).contains("Auto-Submitted: auto-replied"));
    let (_, copy) = sent.iter().find(|(_, m)| m.to.iter().any(|a| a.address == "ledger@accounting.test")).unwrap();
    assert!(copy.subject.starts_with("Fwd: Счёт № 2026-1187"), "{}", copy.subject);
    assert!(copy.text.contains("Счёт во вложении."));
    assert_eq!(copy.kind, okno_mail::MailKind::AutoReply, "a rule's forward is machine mail to the other side too");
    let first_response: Option<i64> = sqlx::query_scalar("SELECT first_response_at FROM tickets WHERE id = $1")
        .bind(&ticket_id)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(first_response, None, "an auto-reply is not the first response a person owes");

    // A second invoice within the hour: billing again, no second auto-reply to the same sender.
    let again = invoice.replace("invoice-1@", "invoice-2@").replace("2026-1187", "2026-1188");
    sender.append("INBOX", None, None, again.as_bytes()).await.unwrap();
    let second: String = eventually(Duration::from_secs(30), "the second invoice", || async {
        sqlx::query_scalar("SELECT id FROM tickets WHERE subject = 'Счёт № 2026-1188' AND queue_id = 'qbill'")
            .fetch_optional(&h.pool)
            .await
            .unwrap()
    })
    .await;
    let second_note: String = sqlx::query_scalar(
        "SELECT body FROM messages WHERE ticket_id = $1 AND author_name = 'Rules' AND direction = 'internal' AND email IS NULL",
    )
    .bind(&second)
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert!(second_note.contains("no auto-reply to ivan@client.test"), "{second_note}");

    // The customer's "thank you" on the first ticket closes it; the rule below did not run.
    let thanks = format!(
        "From: ivan@client.test\r\nTo: support@shop.test\r\nSubject: Re: Счёт [#{number}]\r\nMessage-ID: <thanks-1@client.test>\r\n\
         In-Reply-To: <invoice-1@client.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nСпасибо!\r\n"
    );
    sender.append("INBOX", None, None, thanks.as_bytes()).await.unwrap();
    eventually(Duration::from_secs(30), "the thank-you closes the ticket", || async {
        let status: String = sqlx::query_scalar("SELECT status FROM tickets WHERE id = $1")
            .bind(&ticket_id)
            .fetch_one(&h.pool)
            .await
            .unwrap();
        (status == "closed").then_some(())
    })
    .await;
    // Spam is closed and tagged; an out-of-office answer (machine mail) runs no rules at all.
    let spam = "From: deals@eu.promo.test\r\nTo: support@shop.test\r\nSubject: Счёт №1 на скидку!\r\nMessage-ID: <p-1@promo.test>\r\n\r\nКупите!\r\n";
    let ooo = "From: boss@client.test\r\nTo: support@shop.test\r\nSubject: Счёт № 77: Out of office\r\nAuto-Submitted: auto-replied\r\n\
               Message-ID: <ooo-1@client.test>\r\n\r\nI am away.\r\n";
    sender.append("INBOX", None, None, spam.as_bytes()).await.unwrap();
    sender.append("INBOX", None, None, ooo.as_bytes()).await.unwrap();
    let (status, tags): (String, Value) = eventually(Duration::from_secs(30), "the spam ticket", || async {
        sqlx::query_as("SELECT status, tags FROM tickets WHERE subject = 'Счёт №1 на скидку!'")
            .fetch_optional(&h.pool)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(status, "closed");
    assert_eq!(tags, json!(["spam"]), "the spam rule stopped before the invoice rule");
    eventually(Duration::from_secs(30), "the out-of-office recorded", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_intake WHERE message_id = 'ooo-1@client.test'")
            .fetch_one(&h.pool)
            .await
            .unwrap();
        (n == 1).then_some(())
    })
    .await;
    // Two invoices, the thank-you and the spam fired a rule each; the out-of-office none.
    let fired: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE kind = 'rule_fired'").fetch_one(&h.pool).await.unwrap();
    assert_eq!(fired, 4);
    let recipients: Vec<String> = smtp
        .delivered()
        .iter()
        .flat_map(|raw| okno_mail::read(raw, 1 << 20).to.into_iter().map(|a| a.address))
        .collect();
    assert_eq!(
        recipients.iter().filter(|r| *r == "ivan@client.test").count(),
        1,
        "one auto-reply per hour: {recipients:?}"
    );
    assert_eq!(recipients.iter().filter(|r| *r == "ledger@accounting.test").count(), 2, "a copy of each invoice");
    assert_eq!(recipients.len(), 3, "nothing to machine mail or spam: {recipients:?}");
    tasks.stop(&h.state).await;
    let _ = sender.logout().await;
}

/// A form POST as a browser sends it.
async fn post_form(h: &Harness, path: &str, form: &str) -> (StatusCode, String) {
    use tower::ServiceExt;
    let request = axum::http::Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(form.to_owned()))
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn a_resolved_email_ticket_asks_for_a_mark_by_a_signed_single_use_link_and_a_bad_one_goes_to_the_manager() {
    let mut h = Harness::new().await;
    admin::create_queue(&h.pool, "qmail", "Email", Channel::Email, "d1").await.unwrap();
    admin::create_queue(&h.pool, "qboss", "Quality", Channel::Email, "d1").await.unwrap();
    admin::grant_queue(&h.pool, "anna", "qmail").await.unwrap();
    let mut csat = okno_server::work::csat::CsatConfig {
        public_url: "https://support.shop.test/".trim_end_matches('/').into(),
        manager_queue: Some("Quality".into()),
        scale: okno_rules::CsatScale::Three,
        ask_by_email: true,
    };
    okno_server::work::csat::resolve(&h.pool, &mut csat).await.unwrap();
    assert_eq!(csat.manager_queue.as_deref(), Some("qboss"));
    h.state.csat = Some(std::sync::Arc::new(csat.clone()));
    h.app = okno_server::app(h.state.clone());
    let dovecot = Dovecot::start();
    let smtp = SmtpSink::start();
    let tasks = okno_server::mail::start(&h.state, &mail_config(dovecot.port, smtp.port)).await.unwrap();
    let asking = okno_server::work::csat::start(&h.state).unwrap();

    let mut sender = imap(dovecot.port).await;
    let question = "From: Olga <olga@client.test>\r\nTo: support@shop.test\r\nSubject: Где заказ?\r\n\
                    Message-ID: <q-1@client.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nГде мой заказ?\r\n";
    sender.append("INBOX", None, None, question.as_bytes()).await.unwrap();
    let ticket_id: String = eventually(Duration::from_secs(30), "the question as a ticket", || async {
        sqlx::query_scalar("SELECT id FROM tickets WHERE subject = 'Где заказ?'").fetch_optional(&h.pool).await.unwrap()
    })
    .await;
    // Anna answers and resolves it from her desk.
    let anna = h.token("anna").await;
    let now = okno_core::unix_ms(std::time::SystemTime::now());
    let reply = PushRequest {
        client_id: "anna-desk".into(),
        schema_version: SCHEMA_VERSION,
        mutations: vec![
            PushItem {
                client_seq: 1,
                mutation_id: "anna-desk-1".into(),
                mutation: Mutation::ReplyTicket {
                    ticket_id: ticket_id.clone(),
                    message_id: "reply-csat-1".into(),
                    body: "Заказ передан курьеру.".into(),
                    internal: false,
                    at: now,
                    cc: Vec::new(),
                    attachments: Vec::new(),
                },
            },
            PushItem {
                client_seq: 2,
                mutation_id: "anna-desk-2".into(),
                mutation: Mutation::SetTicketStatus {
                    ticket_id: ticket_id.clone(),
                    status: TicketStatus::Resolved,
                    at: now + 1,
                },
            },
        ],
    };
    let (_, resp) = h.post("/v1/push", Some(&anna), serde_json::to_value(reply).unwrap()).await;
    assert_eq!(resp["results"][1]["outcome"]["kind"], "applied", "{resp}");

    // The question arrives in the customer's mailbox, once, with a link to our public address.
    let ask = eventually(Duration::from_secs(30), "the question in the customer's mailbox", || async {
        smtp.delivered().iter().map(|raw| okno_mail::read(raw, 1 << 20)).find(|m| m.text.contains("/csat/"))
    })
    .await;
    let link =
        ask.text.split_whitespace().find(|w| w.starts_with("https://support.shop.test/csat/")).unwrap().to_owned();
    let path = link.trim_start_matches("https://support.shop.test").to_owned();
    assert_eq!(ask.kind, okno_mail::MailKind::AutoReply, "marked Auto-Submitted, so auto-responders stay quiet");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let asked = smtp.delivered().iter().filter(|raw| okno_mail::read(raw, 1 << 20).text.contains("/csat/")).count();
    assert_eq!(asked, 1, "a ticket is asked once");

    // A link that was not signed by us is refused; ours shows the question.
    let flipped = if path.ends_with('0') { '1' } else { '0' };
    let (code, _) = h.call(Method::GET, &format!("{}{flipped}", &path[..path.len() - 1]), None, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, page) = h.call(Method::GET, &path, None, None).await;
    assert_eq!(code, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(page.contains("data-score=\"bad\"") && page.contains("name=\"comment\""), "{page}");
    let (code, _) = post_form(&h, &path, "score=5&comment=x").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "stars on a three-answer scale");

    // "Bad", with a comment: the ticket reopens in the manager's queue, unassigned, the comment first.
    let (code, thanks) = post_form(&h, &path, "score=bad&comment=%D0%9A%D1%83%D1%80%D1%8C%D0%B5%D1%80+%D0%BD%D0%B5+%D0%BF%D1%80%D0%B8%D0%B5%D1%85%D0%B0%D0%BB").await;
    assert_eq!(code, StatusCode::OK, "{thanks}");
    assert!(thanks.contains("Спасибо"));
    let (queue, status, assignee, preview, tags): (String, String, Option<String>, String, Value) =
        sqlx::query_as("SELECT queue_id, status, assignee_id, preview, tags FROM tickets WHERE id = $1")
            .bind(&ticket_id)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!((queue.as_str(), status.as_str(), assignee), ("qboss", "open", None));
    assert_eq!(preview, "CSAT bad: Курьер не приехал");
    assert_eq!(tags, json!(["csat-bad"]));
    let event: Value = sqlx::query_scalar("SELECT data FROM events WHERE kind = 'csat_received' AND ticket_id = $1")
        .bind(&ticket_id)
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(event, json!({ "score": "bad", "percent": 0, "comment": "Курьер не приехал", "channel": "email" }));
    // Single use: a second answer changes nothing.
    let (code, _) = post_form(&h, &path, "score=good").await;
    assert_eq!(code, StatusCode::OK);
    let marks: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE kind = 'csat_received'")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(marks, 1);
    // Anna's desk (email queue) is told to drop the ticket; the team lead's pull has it in the
    // manager's queue with its whole thread.
    let (_, pulled) = h.post("/v1/pull", Some(&anna), json!({ "cursor": 0, "limit": 1000 })).await;
    let last =
        pulled["changes"].as_array().unwrap().iter().rev().find(|c| c["id"] == ticket_id.as_str()).unwrap().clone();
    assert_eq!(last["op"], "delete", "{last}");
    let lena = h.token("lena").await;
    let (_, pulled) = h.post("/v1/pull", Some(&lena), json!({ "cursor": 0, "limit": 1000 })).await;
    let changes = pulled["changes"].as_array().unwrap();
    ticket_before_its_messages(changes, &ticket_id);
    let ticket = changes.iter().rev().find(|c| c["entity"] == "ticket" && c["id"] == ticket_id.as_str()).unwrap();
    assert_eq!(ticket["data"]["queue_id"], "qboss");
    assert!(
        changes.iter().any(|c| c["entity"] == "message" && c["data"]["body"].as_str().unwrap_or("").contains("Курьер не приехал")),
        "the note with the comment reaches the manager"
    );
    asking.abort();
    tasks.stop(&h.state).await;
    let _ = sender.logout().await;
}

#[tokio::test]
async fn how_the_center_asks_for_marks_is_set_by_its_leads_and_every_question_follows_it() {
    let mut h = Harness::new().await;
    let (anna, lena) = (h.token("anna").await, h.token("lena").await);
    let settings = |scale: &str, by_email: bool, in_chat: bool, manager: Option<&str>| json!({ "scale": scale, "ask_by_email": by_email, "ask_in_chat": in_chat, "manager_queue_id": manager });
    // A server without a public address has no links to send: email questions stay off.
    let (code, view) = h.call(Method::GET, "/v1/work/csat", Some(&lena), None).await;
    assert_eq!(code, StatusCode::OK, "{view}");
    assert_eq!(view["public_url"], Value::Null);
    assert_eq!(view["settings"], settings("three", false, true, None));
    let (code, body) = put(&h, "/v1/work/csat", &lena, settings("three", true, true, None)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["message"].as_str().unwrap().contains("public_url"), "{body}");

    h.state.csat = Some(std::sync::Arc::new(okno_server::work::csat::CsatConfig {
        public_url: "https://support.shop.test".into(),
        manager_queue: None,
        scale: okno_rules::CsatScale::Three,
        ask_by_email: true,
    }));
    h.app = okno_server::app(h.state.clone());
    let (code, _) = h.call(Method::GET, "/v1/work/csat", Some(&anna), None).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "an operator does not see them");
    let (code, _) = put(&h, "/v1/work/csat", &anna, settings("five", false, false, None)).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "nor change them");
    let (code, body) = put(&h, "/v1/work/csat", &lena, settings("five", false, false, Some("nowhere"))).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["message"], "no queue has the id \"nowhere\"");
    let (code, view) = put(&h, "/v1/work/csat", &lena, settings("five", false, false, Some("q2"))).await;
    assert_eq!(code, StatusCode::OK, "{view}");
    assert_eq!(view["settings"], settings("five", false, false, Some("q2")));
    assert_eq!(view["public_url"], "https://support.shop.test");
    let (actor, detail): (Option<String>, Value) =
        sqlx::query_as("SELECT actor, detail::jsonb FROM audit_log WHERE action = 'csat_settings_changed'")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!((actor.as_deref(), detail), (Some("lena"), settings("five", false, false, Some("q2"))));

    // Email questions off: a resolved email ticket is not asked.
    let now = okno_core::unix_ms(std::time::SystemTime::now());
    sqlx::query(
        "UPDATE tickets SET channel = 'email', status = 'resolved', first_response_at = $1, updated_at = $1 WHERE id = 't1'",
    )
    .bind(now - 1_000)
    .execute(&h.pool)
    .await
    .unwrap();
    let config = h.state.csat.clone().unwrap();
    assert_eq!(okno_server::work::csat::ask_pending(&h.state, &config).await.unwrap(), 0);
    // Turned on: a ticket resolved before that is not asked (no survey of last week's customers).
    let (code, _) = put(&h, "/v1/work/csat", &lena, settings("five", true, false, Some("q2"))).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(okno_server::work::csat::ask_pending(&h.state, &config).await.unwrap(), 0);
    // One resolved after it is, on five stars; two stars reopen it in the chosen queue.
    sqlx::query("UPDATE tickets SET status = 'open' WHERE id = 't1'").execute(&h.pool).await.unwrap();
    let resolved_now = okno_core::unix_ms(std::time::SystemTime::now()) + 1;
    sqlx::query("UPDATE tickets SET status = 'resolved', updated_at = $1 WHERE id = 't1'")
        .bind(resolved_now)
        .execute(&h.pool)
        .await
        .unwrap();
    assert_eq!(okno_server::work::csat::ask_pending(&h.state, &config).await.unwrap(), 1);
    let body: String = sqlx::query_scalar("SELECT body FROM messages WHERE ticket_id = 't1' AND author_name = 'Okno'")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    let link = body.split_whitespace().find(|w| w.starts_with("https://support.shop.test/csat/")).unwrap();
    let path = link.trim_start_matches("https://support.shop.test").to_owned();
    // The center goes back to three answers: a question already asked keeps its stars.
    let (code, _) = put(&h, "/v1/work/csat", &lena, settings("three", true, false, Some("q2"))).await;
    assert_eq!(code, StatusCode::OK);
    let (code, page) = h.call(Method::GET, &path, None, None).await;
    assert_eq!(code, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(page.contains("data-score=\"5\"") && page.contains("data-score=\"1\""), "{page}");
    assert!(!page.contains("data-score=\"bad\""), "{page}");
    let (code, thanks) = post_form(&h, &path, "score=2&comment=slow").await;
    assert_eq!(code, StatusCode::OK, "{thanks}");
    let (queue, status): (String, String) =
        sqlx::query_as("SELECT queue_id, status FROM tickets WHERE id = 't1'").fetch_one(&h.pool).await.unwrap();
    assert_eq!((queue.as_str(), status.as_str()), ("q2", "open"), "two stars are a bad mark");
}

#[tokio::test]
async fn the_clock_bookkeeping_follows_a_status_change_from_any_path() {
    // Mail reopening a ticket, the chat ending, a merge: each writes the status with its own
    // statement; the pauses and the resolution time follow all of them alike.
    let h = Harness::new().await;
    let set = |status: &'static str, at: i64| {
        let pool = h.pool.clone();
        async move {
            sqlx::query("UPDATE tickets SET status = $1, updated_at = $2 WHERE id = 't1'")
                .bind(status)
                .bind(at)
                .execute(&pool)
                .await
                .unwrap();
            let row: (Value, Option<i64>) =
                sqlx::query_as("SELECT sla_pauses, resolved_at FROM tickets WHERE id = 't1'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            row
        }
    };
    assert_eq!(set("pending", 10).await, (json!([{ "from": 10, "until": null }]), None));
    assert_eq!(
        set("open", 25).await,
        (json!([{ "from": 10, "until": 25 }]), None),
        "a customer's answer ends the wait"
    );
    assert_eq!(set("resolved", 40).await.1, Some(40));
    assert_eq!(set("closed", 50).await.1, Some(40), "closing a resolved ticket keeps when it was resolved");
    assert_eq!(set("open", 60).await, (json!([{ "from": 10, "until": 25 }]), None), "reopened: not resolved any more");
}
