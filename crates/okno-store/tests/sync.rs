//! The store's side of sync against a real SQLite file: pulled batches with their cursor,
//! acknowledged and refused outbox entries.

use okno_core::{Mutation, Role, TicketStatus, new_id};
use okno_store::Store;
use okno_store::sync::BatchOutcome;
use okno_store::views::TimelineItem;
use okno_sync::{Change, Op};
use serde_json::json;

fn change(version: u64, entity: &str, id: &str, data: serde_json::Value) -> Change {
    Change { version, bucket: "queue:support".into(), entity: entity.into(), id: id.into(), op: Op::Upsert, data }
}

/// What the server's `to_jsonb(...)` rows look like for a customer, a ticket and a message.
fn server_batch() -> Vec<Change> {
    vec![
        change(
            1,
            "customer",
            "c1",
            json!({"id": "c1", "name": "Olga Petrova", "company": null, "tier": "premium", "tags": [], "created_at": 5,
                   "identities": [{"kind": "phone", "value": "+7 900 123-45-67"}]}),
        ),
        change(
            2,
            "ticket",
            "t1",
            json!({"id": "t1", "number": 101, "subject": "Refund for order 42", "customer_id": "c1", "channel": "email",
                   "status": "new", "priority": "normal", "queue_id": "support", "assignee_id": null, "tags": ["refund"],
                   "created_at": 10, "updated_at": 10, "sla_due_at": 1000, "first_response_due_at": 1000,
                   "first_response_at": null, "preview": "", "message_count": 0}),
        ),
        change(
            3,
            "message",
            "m1",
            json!({"id": "m1", "ticket_id": "t1", "channel": "email", "direction": "inbound", "author_name": "Olga Petrova",
                   "operator_id": null, "subject": "Refund", "body": "Where is my refund?", "attachments": [],
                   "created_at": 11}),
        ),
        change(4, "queue_stats", "x", json!({"whatever": 1})),
    ]
}

async fn synced_store(dir: &tempfile::TempDir) -> Store {
    let store = Store::open(&dir.path().join("okno.db")).await.unwrap();
    store.set_me("anna", "Anna", Role::Operator).await.unwrap();
    let outcome = store.apply_server_changes(&server_batch(), 4).await.unwrap();
    assert_eq!(outcome, BatchOutcome::Applied { applied: 3, skipped: 1 }, "the unknown entity is skipped, not fatal");
    store
}

#[tokio::test]
async fn a_batch_and_its_cursor_are_written_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(&dir).await;
    assert_eq!(store.sync_cursor().await.unwrap(), 4);
    let detail = store.ticket_detail("t1").await.unwrap();
    assert_eq!(detail.ticket.subject, "Refund for order 42");
    assert_eq!(detail.ticket.tags, ["refund"]);
    assert_eq!(detail.timeline.len(), 1);
    assert_eq!(store.caller_match("+7 900 123 45 67").await.unwrap().map(|m| m.customer_id).as_deref(), Some("c1"));

    // A batch with a malformed row still moves the cursor; the good rows land.
    let bad = vec![
        change(5, "ticket", "t2", json!({"id": "t2"})),
        change(
            6,
            "operator",
            "boris",
            json!({"id": "boris", "name": "Boris", "role": "operator", "state": "available", "state_since": 1}),
        ),
    ];
    assert_eq!(store.apply_server_changes(&bad, 6).await.unwrap(), BatchOutcome::Applied { applied: 1, skipped: 1 });
    assert_eq!(store.sync_cursor().await.unwrap(), 6);
    assert!(store.list_operators().await.unwrap().iter().any(|o| o.name == "Boris"));

    // While a local write waits in the outbox, nothing of a batch is written, not even its cursor.
    let reply = Mutation::ReplyTicket {
        cc: Vec::new(),
        attachments: Vec::new(),
        ticket_id: "t1".into(),
        message_id: new_id(),
        body: "On it".into(),
        internal: false,
        at: 20,
    };
    store.apply(reply).await.unwrap();
    let overwrite = vec![change(
        7,
        "ticket",
        "t1",
        json!({"id": "t1", "number": 101, "subject": "Changed", "customer_id": "c1",
        "channel": "email", "status": "closed", "priority": "normal", "queue_id": "support", "created_at": 10, "updated_at": 30}),
    )];
    assert_eq!(store.apply_server_changes(&overwrite, 7).await.unwrap(), BatchOutcome::HeldBack);
    assert_eq!(store.sync_cursor().await.unwrap(), 6);
    assert_eq!(store.ticket_row("t1").await.unwrap().subject, "Refund for order 42");
}

/// The server applied entries `seqs`, each at the changelog version 100 + its sequence.
fn applied(seqs: &[u64]) -> Vec<okno_sync::Ack> {
    seqs.iter().map(|&seq| okno_sync::Ack { seq, version: Some(100 + seq) }).collect()
}

/// A server restored from a backup taken at changelog version 102 has the writes applied up to
/// it and lacks those after: they go back to the outbox ahead of the pending write, in their
/// order, with the duplicate whose version was never told; the rest stay out.
#[tokio::test]
async fn the_writes_a_restored_server_lost_are_queued_again_before_the_pending_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(&dir).await;
    let statuses = [TicketStatus::Open, TicketStatus::Pending, TicketStatus::Resolved, TicketStatus::Closed];
    for (n, status) in statuses.into_iter().enumerate() {
        store.apply(Mutation::SetTicketStatus { ticket_id: "t1".into(), status, at: 20 + n as i64 }).await.unwrap();
    }
    let mut acks = applied(&[1, 2, 3]);
    acks.push(okno_sync::Ack { seq: 4, version: None });
    store.ack_outbox(&acks).await.unwrap();
    assert_eq!((store.unsent().await.unwrap(), store.journal_len().await.unwrap()), (0, 4), "out of the outbox, kept");
    store
        .apply(Mutation::SetTicketStatus { ticket_id: "t1".into(), status: TicketStatus::Open, at: 30 })
        .await
        .unwrap();

    assert_eq!(store.requeue_acknowledged(102).await.unwrap(), 2, "versions 103 and the unknown one");
    let queued: Vec<(u64, String)> = store
        .outbox_entries(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| match e.mutation {
            Mutation::SetTicketStatus { status, .. } => (e.seq, format!("{status:?}")),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        queued,
        [(1, "Resolved".to_owned()), (2, "Closed".to_owned()), (3, "Open".to_owned())],
        "the lost writes first, in order, then the pending one"
    );
    assert_eq!(store.journal_len().await.unwrap(), 2, "what the backup has stays in the journal");
    assert_eq!(store.requeue_acknowledged(102).await.unwrap(), 0, "nothing is queued twice");
    let next = store.restart_client("anna").await.unwrap();
    assert!(!next.is_empty());
    let seqs: Vec<u64> = store.outbox_entries(100).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
}

#[tokio::test]
async fn outbox_sequences_count_from_one_and_acks_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(&dir).await;
    let client = store.sync_client_id("anna").await.unwrap();
    assert_eq!(store.sync_client_id("anna").await.unwrap(), client, "stable per database and operator");
    assert_ne!(store.sync_client_id("boris").await.unwrap(), client, "another operator, another client");
    for status in [TicketStatus::Open, TicketStatus::Pending, TicketStatus::Resolved] {
        store.apply(Mutation::SetTicketStatus { ticket_id: "t1".into(), status, at: 20 }).await.unwrap();
    }
    let seqs: Vec<u64> = store.outbox_entries(100).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3], "client_seq is +1 per write from 1");
    store.ack_outbox(&applied(&[1, 2])).await.unwrap();
    assert_eq!(store.unsent().await.unwrap(), 1);
    store.ack_outbox(&applied(&[3])).await.unwrap();
    store
        .apply(Mutation::SetTicketStatus { ticket_id: "t1".into(), status: TicketStatus::Open, at: 21 })
        .await
        .unwrap();
    let seqs: Vec<u64> = store.outbox_entries(100).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [4], "acknowledged numbers are never reused");

    // The server says this database is older than what it saw (restored from a backup): the
    // pending writes are numbered from 1 under a new client id, in their order.
    for status in [TicketStatus::Pending, TicketStatus::Resolved] {
        store.apply(Mutation::SetTicketStatus { ticket_id: "t1".into(), status, at: 22 }).await.unwrap();
    }
    let before: Vec<String> = store.outbox_entries(100).await.unwrap().iter().map(|e| e.mutation_id.clone()).collect();
    let fresh = store.restart_client("anna").await.unwrap();
    assert_ne!(fresh, client);
    assert_eq!(store.sync_client_id("anna").await.unwrap(), fresh);
    let after = store.outbox_entries(100).await.unwrap();
    assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(after.iter().map(|e| e.mutation_id.clone()).collect::<Vec<_>>(), before, "same writes, same order");
    store
        .apply(Mutation::SetTicketStatus { ticket_id: "t1".into(), status: TicketStatus::Open, at: 23 })
        .await
        .unwrap();
    let seqs: Vec<u64> = store.outbox_entries(100).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4], "new writes follow on");
}

#[tokio::test]
async fn a_refused_status_change_and_reply_are_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(&dir).await;
    let status = Mutation::SetTicketStatus { ticket_id: "t1".into(), status: TicketStatus::Closed, at: 20 };
    let seq = store.apply(status).await.unwrap().outbox_seq as u64;
    assert_eq!(store.ticket_row("t1").await.unwrap().status, TicketStatus::Closed);
    let rejection = store.reject_outbox(seq, "forbidden", "not your queue", 30).await.unwrap().unwrap();
    assert_eq!((rejection.name.as_str(), rejection.code.as_str()), ("set_ticket_status", "forbidden"));
    assert_eq!(store.ticket_row("t1").await.unwrap().status, TicketStatus::New, "back to what the server has");
    assert_eq!(store.unsent().await.unwrap(), 0);
    assert_eq!(store.last_rejection().await.unwrap().unwrap().reason, "not your queue");
    assert_eq!(store.reject_outbox(seq, "forbidden", "again", 31).await.unwrap(), None, "settled once");

    let message_id = new_id();
    let reply = Mutation::ReplyTicket {
        cc: Vec::new(),
        attachments: Vec::new(),
        ticket_id: "t1".into(),
        message_id: message_id.clone(),
        body: "Refunded".into(),
        internal: false,
        at: 40,
    };
    let seq = store.apply(reply).await.unwrap().outbox_seq as u64;
    let row = store.ticket_row("t1").await.unwrap();
    assert_eq!((row.status, row.message_count), (TicketStatus::Open, 1), "a reply opens the ticket");
    store.reject_outbox(seq, "not_found", "no ticket t1", 50).await.unwrap();
    let detail = store.ticket_detail("t1").await.unwrap();
    assert!(
        !detail.timeline.iter().any(|i| matches!(i, TimelineItem::Message(m) if m.id == message_id)),
        "the refused reply is gone"
    );
    assert_eq!((detail.ticket.status, detail.ticket.message_count), (TicketStatus::New, 0));
    assert!(store.search("Refunded", 10).await.unwrap().messages.is_empty(), "and not found by search");
}

#[tokio::test]
async fn a_refusal_before_a_later_write_to_the_same_ticket_hands_its_undo_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(&dir).await;
    let first = store
        .apply(Mutation::SetTicketStatus { ticket_id: "t1".into(), status: TicketStatus::Pending, at: 20 })
        .await
        .unwrap()
        .outbox_seq as u64;
    let second = store
        .apply(Mutation::SetTicketTags { ticket_id: "t1".into(), tags: vec!["vip".into()], at: 21 })
        .await
        .unwrap()
        .outbox_seq as u64;
    store.reject_outbox(first, "forbidden", "no", 30).await.unwrap();
    assert_eq!(store.ticket_row("t1").await.unwrap().tags, ["vip"], "the later write stays visible");
    store.reject_outbox(second, "forbidden", "no", 31).await.unwrap();
    let row = store.ticket_row("t1").await.unwrap();
    assert_eq!((row.status, row.tags), (TicketStatus::New, vec!["refund".to_owned()]), "back to before both");
}

#[tokio::test]
async fn an_email_message_keeps_its_addresses_html_attachments_and_delivery_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(&dir).await;
    let email = json!({"mailbox": "support", "message_id": "m2@mail.ru", "kind": "personal",
        "from": {"address": "olga@mail.ru", "name": "Olga"}, "to": [{"address": "support@shop.test", "name": null}], "cc": [],
        "notes": ["The message has no Message-ID."], "html": "<p>Hi</p><img src=\"https://t.example/p.gif\">", "remote_images": 1});
    let attachments = json!([{"name": "receipt.pdf", "mime": "application/pdf", "size": 1200,
        "sha256": "ab".repeat(32), "content_id": null, "inline": false}]);
    let batch = vec![
        change(
            5,
            "message",
            "m2",
            json!({"id": "m2", "ticket_id": "t1", "channel": "email", "direction": "inbound",
            "author_name": "Olga", "subject": "Re: Refund", "body": "Hi", "attachments": attachments, "email": email, "created_at": 12}),
        ),
        change(
            6,
            "message",
            "m3",
            json!({"id": "m3", "ticket_id": "t1", "channel": "email", "direction": "outbound",
            "author_name": "Anna", "subject": null, "body": "Sent today", "attachments": [], "created_at": 13,
            "email": {"delivery": {"state": "failed", "reason": "550 no such user", "at": 14}}}),
        ),
    ];
    assert_eq!(store.apply_server_changes(&batch, 6).await.unwrap(), BatchOutcome::Applied { applied: 2, skipped: 0 });
    let detail = store.ticket_detail("t1").await.unwrap();
    let messages: Vec<_> = detail
        .timeline
        .iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    let inbound = messages.iter().find(|m| m.id == "m2").unwrap();
    let mail = inbound.email.as_ref().expect("email details");
    assert_eq!(mail.from.as_ref().unwrap().address, "olga@mail.ru");
    assert_eq!(mail.remote_images, 1);
    assert_eq!(mail.notes, ["The message has no Message-ID."]);
    assert_eq!(inbound.attachments[0].sha256.as_deref(), Some("ab".repeat(32).as_str()));
    let outbound = messages.iter().find(|m| m.id == "m3").unwrap();
    let delivery = outbound.email.as_ref().and_then(|e| e.delivery.as_ref()).unwrap();
    assert_eq!(delivery.state, okno_store::views::DeliveryState::Failed);
    assert_eq!(delivery.reason.as_deref(), Some("550 no such user"));
    // Messages of other channels have none.
    assert!(messages.iter().find(|m| m.id == "m1").unwrap().email.is_none());
}

#[tokio::test]
async fn a_due_time_change_moves_the_badge_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(&dir).await;
    let due = vec![change(
        5,
        okno_sync::TICKET_DUE,
        "t1",
        json!({"id": "t1", "first_response_due_at": 5000, "resolution_due_at": 90000, "sla_due_at": 5000}),
    )];
    assert_eq!(store.apply_server_changes(&due, 5).await.unwrap(), BatchOutcome::Applied { applied: 1, skipped: 0 });
    let ticket = store.ticket_row("t1").await.unwrap();
    assert_eq!(ticket.sla_due_at, Some(5000));
    assert_eq!(ticket.subject, "Refund for order 42", "the rest of the row is kept");
    assert_eq!(ticket.tags, ["refund"]);
}

#[tokio::test]
async fn a_chats_read_receipt_arrives_with_its_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(&dir).await;
    assert_eq!(store.ticket_detail("t1").await.unwrap().visitor_read_at, None, "no receipt before the visitor reads");
    let mut ticket = server_batch()[1].data.clone();
    ticket["visitor_read_at"] = json!(900);
    let read = vec![change(5, "ticket", "t1", ticket)];
    assert_eq!(store.apply_server_changes(&read, 5).await.unwrap(), BatchOutcome::Applied { applied: 1, skipped: 0 });
    assert_eq!(store.ticket_detail("t1").await.unwrap().visitor_read_at, Some(900));
}

#[tokio::test]
async fn another_account_signing_in_finds_nothing_the_last_one_pulled() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(&dir).await;
    store
        .apply(Mutation::SetTicketStatus { ticket_id: "t1".into(), status: TicketStatus::Open, at: 20 })
        .await
        .unwrap();
    assert_eq!(store.set_me("anna", "Anna", Role::Operator).await.unwrap(), None, "the same account again keeps all");
    assert!(store.ticket_detail("t1").await.is_ok());
    assert_eq!(store.unsent().await.unwrap(), 1);

    // A contractor signs in on the desk Anna used: her pulled tickets and customers are gone,
    // and her unsent write is listed as not sent instead of going out under his name.
    let unsent = store.set_me("kostya", "Kostya", Role::Contractor).await.unwrap();
    assert_eq!(unsent, Some(1));
    assert!(store.ticket_detail("t1").await.is_err(), "Anna's ticket is not on the desk any more");
    assert!(store.customer_card("c1").await.is_err(), "nor her customer");
    assert_eq!(store.caller_match("+7 900 123-45-67").await.unwrap(), None, "nor the customer's number");
    let found = store.search("refund", 10).await.unwrap();
    assert!(found.tickets.is_empty() && found.messages.is_empty(), "nor anything in search: {found:?}");
    assert_eq!(store.unsent().await.unwrap(), 0, "her write is not pushed as his");
    let refused = store.last_rejection().await.unwrap().expect("her write is listed");
    assert_eq!((refused.name.as_str(), refused.code.as_str()), ("set_ticket_status", "operator_changed"));
    assert_eq!(store.sync_cursor().await.unwrap(), 0, "his pull starts from the beginning");
    assert_eq!(store.me().await.unwrap().id, "kostya");
    assert_eq!(store.list_operators().await.unwrap().len(), 1, "only himself");
}

#[tokio::test]
async fn pulled_notices_are_listed_newest_first_until_seen() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(&dir).await;
    let notice = |version: u64, id: &str, kind: &str, at: i64| Change {
        version,
        bucket: "user:anna".into(),
        entity: okno_sync::NOTICE.into(),
        id: id.into(),
        op: Op::Upsert,
        data: json!({"id": id, "for": "anna", "kind": kind, "ticket_id": "t1", "number": 101, "message_id": "m9",
                     "by": "boris", "excerpt": "@anna call her back", "at": at}),
    };
    let batch = [notice(5, "n1", "mention", 100), notice(6, "n2", "reply", 200)];
    assert_eq!(store.apply_server_changes(&batch, 6).await.unwrap(), BatchOutcome::Applied { applied: 2, skipped: 0 });
    let list = store.notices(10).await.unwrap();
    assert_eq!(list.unseen, 2);
    assert_eq!(list.notices.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), ["n2", "n1"], "newest first");
    assert_eq!(
        (list.notices[1].kind.as_str(), list.notices[1].by.as_str(), list.notices[1].number),
        ("mention", "boris", 101)
    );

    // Pulled again (a resync) it stays seen; opening the list marked both.
    store.mark_notices_seen().await.unwrap();
    store.apply_server_changes(&batch, 6).await.unwrap();
    let list = store.notices(10).await.unwrap();
    assert_eq!((list.unseen, list.notices.len()), (0, 2));
    assert!(list.notices.iter().all(|n| n.seen));
}
