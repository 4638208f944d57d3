//! The store against real SQLite files: demo data, inbox queries, writes through the outbox,
//! search, and refusal to touch files that are not ours.

use okno_core::{AgentState, Mutation, TicketStatus, new_id};
use okno_store::demo::DemoSize;
use okno_store::views::{AssigneeFilter, SearchResults, TicketFilter, TicketSort, TimelineItem};
use okno_store::{Store, StoreError};

/// 2026-11-20 12:00 UTC: a fixed anchor, so the demo is the same on every run.
const NOW: i64 = 1_795_176_000_000;

async fn demo_store(dir: &tempfile::TempDir) -> Store {
    let store = Store::open(&dir.path().join("okno.db")).await.unwrap();
    let summary = store.generate_demo(DemoSize::Small, 7, NOW).await.unwrap().expect("empty store gets demo data");
    assert_eq!(summary.tickets, 3_000);
    store
}

fn page(filter: TicketFilter) -> TicketFilter {
    TicketFilter { limit: if filter.limit == 0 { 100 } else { filter.limit }, ..filter }
}

#[tokio::test]
async fn demo_is_deterministic_and_realistic() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (sa, sb) = (demo_store(&a).await, demo_store(&b).await);
    let first_a =
        sa.list_tickets(&page(TicketFilter { sort: TicketSort::Created, ..Default::default() })).await.unwrap();
    let first_b =
        sb.list_tickets(&page(TicketFilter { sort: TicketSort::Created, ..Default::default() })).await.unwrap();
    assert_eq!(first_a.rows, first_b.rows, "same seed, same data");

    let stats = sa.stats().await.unwrap();
    assert_eq!(stats.customers, 1_000);
    assert!(stats.messages > 15_000, "about 8 messages per ticket: {}", stats.messages);
    assert!(stats.calls >= 6_000, "{}", stats.calls);
    assert_eq!(stats.outbox_pending, 0, "demo data is not an operator's write");

    // Both languages are present.
    let all = sa.list_tickets(&page(TicketFilter { limit: 500, ..Default::default() })).await.unwrap();
    assert!(all.rows.iter().any(|t| t.subject.chars().any(|c| ('а'..='я').contains(&c))));
    assert!(
        all.rows
            .iter()
            .any(|t| t.subject.starts_with("Where") || t.subject.starts_with("Refund") || t.subject.contains("order"))
    );
    // A second run on a filled store does nothing.
    assert_eq!(sa.generate_demo(DemoSize::Small, 7, NOW).await.unwrap(), None);
}

#[tokio::test]
async fn inbox_filters_and_sorts_by_sla() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(&dir).await;
    let open = TicketFilter { statuses: vec![TicketStatus::New, TicketStatus::Open], ..Default::default() };
    let first = store.list_tickets(&page(open.clone())).await.unwrap();
    assert!(first.total > 0);
    assert!(first.rows.iter().all(|t| matches!(t.status, TicketStatus::New | TicketStatus::Open)));
    let dues: Vec<i64> = first.rows.iter().map(|t| t.sla_due_at.unwrap_or(i64::MAX)).collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]), "sorted by SLA due time");

    // Paging covers every row exactly once.
    let mut seen = std::collections::HashSet::new();
    let mut offset = 0;
    while offset < first.total {
        let p = store.list_tickets(&TicketFilter { offset, limit: 37, ..open.clone() }).await.unwrap();
        for row in p.rows {
            assert!(seen.insert(row.id));
        }
        offset += 37;
    }
    assert_eq!(seen.len() as u32, first.total);

    let mine = store
        .list_tickets(&page(TicketFilter { assignee: Some(AssigneeFilter::Me), ..Default::default() }))
        .await
        .unwrap();
    let me = store.me().await.unwrap();
    assert!(mine.total > 0 && mine.rows.iter().all(|t| t.assignee_id.as_deref() == Some(me.id.as_str())));

    let unassigned = store
        .list_tickets(&page(TicketFilter { assignee: Some(AssigneeFilter::Unassigned), ..Default::default() }))
        .await
        .unwrap();
    assert!(unassigned.rows.iter().all(|t| t.assignee_id.is_none()));

    let tag = store.list_tags().await.unwrap().into_iter().next().expect("demo tickets have tags");
    let tagged =
        store.list_tickets(&page(TicketFilter { tag: Some(tag.clone()), ..Default::default() })).await.unwrap();
    assert!(tagged.total > 0 && tagged.rows.iter().all(|t| t.tags.contains(&tag)));

    let queues = store.list_queues().await.unwrap();
    let open_total: u32 = queues.iter().map(|q| q.open_count).sum();
    assert_eq!(open_total, first.total, "rail counts agree with the inbox");
    let known = &queues[0];
    assert_eq!(store.queue_name(&known.id).await.unwrap().as_deref(), Some(known.name.as_str()));
    assert_eq!(store.queue_name("no-such-queue").await.unwrap(), None);
}

#[tokio::test]
async fn reply_is_stored_with_its_outbox_entry_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(&dir).await;
    let fresh = TicketFilter { statuses: vec![TicketStatus::New], ..Default::default() };
    let ticket = store.list_tickets(&page(fresh)).await.unwrap().rows.remove(0);
    assert!(ticket.first_response_at.is_none());
    assert!(ticket.sla_due_at.is_some(), "an unanswered ticket waits on its first-response deadline");

    let message_id = new_id();
    let applied = store
        .apply(Mutation::ReplyTicket {
            cc: Vec::new(),
            attachments: Vec::new(),
            ticket_id: ticket.id.clone(),
            message_id: message_id.clone(),
            body: "  Здравствуйте! Заказ уже в пути.  ".into(),
            internal: false,
            at: NOW + 1_000,
        })
        .await
        .unwrap();
    let detail = store.ticket_detail(&ticket.id).await.unwrap();
    let TimelineItem::Message(last) = detail.timeline.last().unwrap() else { panic!("last item is the reply") };
    assert_eq!(last.id, message_id);
    assert_eq!(last.body, "Здравствуйте! Заказ уже в пути.");
    assert_eq!(last.author_name, store.me().await.unwrap().name);
    assert_eq!(detail.ticket.status, TicketStatus::Open, "answering a new ticket opens it");
    assert_eq!(detail.ticket.first_response_at, Some(NOW + 1_000));
    assert_eq!(detail.ticket.sla_due_at, None, "the first response met the deadline");
    assert_eq!(detail.ticket.message_count, ticket.message_count + 1);

    let pending = store.pending_mutations(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0, applied.outbox_seq);
    assert!(matches!(&pending[0].1, Mutation::ReplyTicket { message_id: m, .. } if *m == message_id));

    // The reply is searchable at once.
    let found = store.search("уже в пути", 10).await.unwrap();
    assert!(found.messages.iter().any(|h| h.ticket_id.as_deref() == Some(ticket.id.as_str())));
}

#[tokio::test]
async fn bad_writes_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(&dir).await;
    let ticket = store.list_tickets(&page(TicketFilter::default())).await.unwrap().rows.remove(0);
    let empty = Mutation::ReplyTicket {
        cc: Vec::new(),
        attachments: Vec::new(),
        ticket_id: ticket.id.clone(),
        message_id: new_id(),
        body: "   ".into(),
        internal: false,
        at: NOW,
    };
    assert!(matches!(store.apply(empty).await, Err(StoreError::InvalidInput(_))));
    let ghost = Mutation::SetTicketStatus { ticket_id: "no-such".into(), status: TicketStatus::Closed, at: NOW };
    assert!(matches!(store.apply(ghost).await, Err(StoreError::NotFound { what: "ticket", .. })));
    let nobody = Mutation::AssignTicket { ticket_id: ticket.id.clone(), assignee_id: Some("op-99".into()), at: NOW };
    assert!(matches!(store.apply(nobody).await, Err(StoreError::NotFound { what: "operator", .. })));
    assert_eq!(store.stats().await.unwrap().outbox_pending, 0);
    assert_eq!(store.ticket_row(&ticket.id).await.unwrap(), ticket, "the ticket is unchanged");
}

#[tokio::test]
async fn status_assignment_tags_and_agent_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(&dir).await;
    let me = store.me().await.unwrap();
    let ticket = store
        .list_tickets(&page(TicketFilter { assignee: Some(AssigneeFilter::Unassigned), ..Default::default() }))
        .await
        .unwrap()
        .rows
        .remove(0);
    store
        .apply(Mutation::AssignTicket { ticket_id: ticket.id.clone(), assignee_id: Some(me.id.clone()), at: NOW })
        .await
        .unwrap();
    store
        .apply(Mutation::SetTicketStatus { ticket_id: ticket.id.clone(), status: TicketStatus::Closed, at: NOW })
        .await
        .unwrap();
    store
        .apply(Mutation::SetTicketTags {
            ticket_id: ticket.id.clone(),
            tags: vec![" Возврат ".into(), "возврат".into(), "vip".into()],
            at: NOW,
        })
        .await
        .unwrap();
    let row = store.ticket_row(&ticket.id).await.unwrap();
    assert_eq!(row.assignee_id.as_deref(), Some(me.id.as_str()));
    assert_eq!(row.status, TicketStatus::Closed);
    assert_eq!(row.tags, vec!["Возврат".to_owned(), "vip".to_owned()]);
    let tagged =
        store.list_tickets(&page(TicketFilter { tag: Some("vip".into()), ..Default::default() })).await.unwrap();
    assert!(tagged.rows.iter().any(|t| t.id == ticket.id));

    store
        .apply(Mutation::SetAgentState { operator_id: me.id.clone(), state: AgentState::Break, at: NOW + 5 })
        .await
        .unwrap();
    let me_after = store.me().await.unwrap();
    assert_eq!((me_after.state, me_after.state_since), (AgentState::Break, NOW + 5));
    assert_eq!(store.stats().await.unwrap().outbox_pending, 4);
}

#[tokio::test]
async fn search_finds_russian_forms_english_and_phones() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(&dir).await;
    let check = |r: &SearchResults| r.tickets.len() + r.messages.len() + r.customers.len() + r.calls.len();
    // "заказ" finds "заказа", "заказу" by prefix.
    let ru = store.search("заказ", 20).await.unwrap();
    assert!(!ru.messages.is_empty() && !ru.tickets.is_empty());
    assert!(ru.messages.iter().all(|h| h.snippet.contains('\u{2}')), "matches are marked");
    let en = store.search("refund", 20).await.unwrap();
    assert!(check(&en) > 0);
    // A customer by name and by the digits of their phone.
    let card_id = store.list_tickets(&page(TicketFilter::default())).await.unwrap().rows[0].customer_id.clone();
    let card = store.customer_card(&card_id).await.unwrap();
    let surname = card.name.split(' ').nth(1).unwrap().to_owned();
    assert!(store.search(&surname, 50).await.unwrap().customers.iter().any(|h| h.id == card_id));
    let phone = card.identities.iter().find(|i| i.kind == okno_core::IdentityKind::Phone).unwrap().value.clone();
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    assert!(store.search(&digits, 10).await.unwrap().customers.iter().any(|h| h.id == card_id));
    assert_eq!(store.customers_by_phone(&phone).await.unwrap(), vec![card_id.clone()]);
    // A tag match shows the ticket's tags as a list, never the raw JSON the index holds.
    let tag = store.list_tags().await.unwrap()[0].clone();
    let by_tag = store.search(&tag, 20).await.unwrap();
    assert!(!by_tag.tickets.is_empty(), "tag {tag:?} finds tickets");
    for hit in &by_tag.tickets {
        assert!(!hit.snippet.contains('[') && !hit.snippet.contains('"'), "snippet {:?} is not JSON", hit.snippet);
    }
    assert!(by_tag.tickets.iter().any(|h| h.tags.contains(&tag)), "the matched tag is in the hit's tags");
    assert!(ru.messages.iter().all(|h| h.tags.is_empty()), "only tickets carry tags");
    // Query syntax in the input is never an error.
    for odd in ["\"", "NEAR(", "a AND OR", "*", "'; DROP TABLE tickets; --", ""] {
        store.search(odd, 10).await.unwrap();
    }
    assert!(card.stats.tickets_total >= 1 && !card.recent_contacts.is_empty());
}

async fn sha(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[tokio::test]
async fn files_that_are_not_ours_are_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database at all, just some text").unwrap();
    let before = sha(&garbage).await;
    let err = Store::open(&garbage).await.unwrap_err();
    assert!(matches!(err, StoreError::NotSqlite { .. }), "{err}");
    assert!(err.to_string().contains("garbage.db"), "the message names the file: {err}");
    assert_eq!(sha(&garbage).await, before);

    let foreign = dir.path().join("foreign.db");
    {
        use sqlx::Connection;
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&foreign).create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)").execute(&mut conn).await.unwrap();
        sqlx::query("INSERT INTO invoices (total) VALUES (12.5)").execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
    let before = sha(&foreign).await;
    let err = Store::open(&foreign).await.unwrap_err();
    assert!(matches!(err, StoreError::ForeignDatabase { .. }), "{err}");
    assert_eq!(sha(&foreign).await, before);
    assert!(!dir.path().join("foreign.db-wal").exists());
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_reopening_ours_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.db");
    let store = demo_store(&dir).await;
    store.close().await;
    let again = Store::open(&path).await.unwrap();
    assert_eq!(again.stats().await.unwrap().tickets, 3_000, "reopening keeps the data");
    again.close().await;

    {
        use sqlx::Connection;
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::query("PRAGMA user_version = 99").execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
    let before = sha(&path).await;
    let err = Store::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { found: 99, .. }), "{err}");
    assert_eq!(sha(&path).await, before);
}

#[tokio::test]
async fn a_failed_migration_rolls_back_and_keeps_existing_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.db");
    {
        // An Okno-stamped file at schema 0 whose `tickets` table already exists: migration 1 fails.
        use sqlx::Connection;
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::query("PRAGMA application_id = 1330335311").execute(&mut conn).await.unwrap();
        sqlx::query("CREATE TABLE tickets (note TEXT)").execute(&mut conn).await.unwrap();
        sqlx::query("INSERT INTO tickets VALUES ('keep me')").execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
    let err = Store::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Migration { version: 1, .. }), "{err}");
    use sqlx::Connection;
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let kept: String = sqlx::query_scalar("SELECT note FROM tickets").fetch_one(&mut conn).await.unwrap();
    assert_eq!(kept, "keep me");
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut conn).await.unwrap();
    assert_eq!(version, 0);
    let leftovers: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'messages'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(leftovers, 0, "nothing of the failed migration remains");
}

#[tokio::test]
async fn a_truncated_store_is_reported_as_damaged_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okno.db");
    let store = demo_store(&dir).await;
    store.close().await;
    let len = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len / 2 / 4096 * 4096).unwrap();
    drop(file);
    let before = sha(&path).await;
    let err = Store::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("okno.db"), "{err}");
    assert_eq!(sha(&path).await, before);
}

#[tokio::test]
async fn a_saved_call_is_matched_to_its_caller_kept_once_and_listed_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(&dir).await;
    // A demo customer's phone number, as a caller ID would carry it (digits only, with +).
    let (customer_id, number): (String, String) = {
        let any = store.list_tickets(&page(TicketFilter::default())).await.unwrap().rows[0].customer_id.clone();
        let card = store.customer_card(&any).await.unwrap();
        let phone = card.identities.iter().find(|i| i.kind == okno_core::IdentityKind::Phone).unwrap().value.clone();
        (any, phone)
    };
    let caller: String = format!("+{}", number.chars().filter(char::is_ascii_digit).collect::<String>());
    let matched = store.caller_match(&caller).await.unwrap().expect("a demo customer's number is recognised");
    assert_eq!(matched.customer_id, customer_id);
    assert!(store.caller_match("+1 555 0000000").await.unwrap().is_none(), "an unknown number is no match");

    let call_id = new_id();
    let save = Mutation::SaveCall {
        call_id: call_id.clone(),
        customer_id: Some(customer_id.clone()),
        ticket_id: matched.open_tickets.first().map(|t| t.id.clone()),
        queue_id: Some("q-hotline".into()),
        direction: okno_core::CallDirection::Inbound,
        from_number: caller.clone(),
        to_number: "+7 800 555-35-35".into(),
        started_at: NOW + 1_000,
        answered_at: Some(NOW + 5_000),
        ended_at: NOW + 65_000,
        outcome: okno_core::CallOutcome::Answered,
        disposition: Some("Покупатель / Статус доставки".into()),
        notes: "где заказ".into(),
        recording_ref: None,
        quality: None,
        transferred_to: None,
        recording_pauses: Vec::new(),
    };
    store.apply(save.clone()).await.unwrap();
    store.apply(save).await.unwrap(); // a retry is kept once
    let history = store.recent_calls(5).await.unwrap();
    let ours: Vec<_> = history.iter().filter(|c| c.call.id == call_id).collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].customer_name.as_deref(), Some(matched.name.as_str()));
    assert_eq!(ours[0].call.disposition.as_deref(), Some("Покупатель / Статус доставки"));
    let card = store.customer_card(&customer_id).await.unwrap();
    assert!(card.recent_contacts.iter().any(|c| c.id == call_id), "the call is on the customer's timeline");
    assert_eq!(store.stats().await.unwrap().outbox_pending, 2, "both writes are queued for the server");

    let mut backwards = store.recent_calls(1).await.unwrap()[0].call.clone();
    backwards.id = new_id();
    let bad = Mutation::SaveCall {
        call_id: backwards.id,
        customer_id: None,
        ticket_id: None,
        queue_id: None,
        direction: okno_core::CallDirection::Outbound,
        from_number: "100".into(),
        to_number: "200".into(),
        started_at: NOW,
        answered_at: None,
        ended_at: NOW - 1,
        outcome: okno_core::CallOutcome::Failed,
        disposition: None,
        notes: String::new(),
        recording_ref: None,
        quality: None,
        transferred_to: None,
        recording_pauses: Vec::new(),
    };
    assert!(matches!(store.apply(bad).await, Err(StoreError::InvalidInput(_))));
}
