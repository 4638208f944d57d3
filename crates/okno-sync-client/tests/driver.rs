//! The driver between the engine and a real SQLite store, against a scripted server (a mock
//! is enough here: what is under test is the driver's bookkeeping; okno-sim and the e2e tests
//! run it against real servers).

use std::time::Duration;

use okno_core::{Mutation, Role, TicketStatus};
use okno_store::Store;
use okno_store::sync::Rejection;
use okno_sync::{Change, Config, Input, Op, Outcome, PullResponse, PushResponse, PushResult, Request};
use okno_sync_client::{Driver, Link};
use serde_json::json;

/// A server in memory: its changelog, and the client ids and sequences it saw.
struct ScriptedServer {
    changes: Vec<Change>,
    /// (client id, seq, mutation id) of every write applied.
    applied: Vec<(String, u64, String)>,
    /// Writes whose ticket is this one are refused.
    refuse_ticket: Option<String>,
    /// Times it told a desk its head was behind the desk's cursor.
    restored_seen: Vec<u64>,
}

impl ScriptedServer {
    fn head(&self) -> u64 {
        self.changes.last().map_or(0, |c| c.version)
    }
}

impl Link for ScriptedServer {
    async fn exchange(&mut self, request: &Request) -> Input {
        match request {
            Request::Pull(pull) => {
                let changes: Vec<Change> = self.changes.iter().filter(|c| c.version > pull.cursor).cloned().collect();
                let head = self.head();
                Input::PullResponse(PullResponse {
                    changes,
                    cursor: head.max(pull.cursor),
                    has_more: false,
                    head: Some(head),
                })
            }
            Request::Push(push) => {
                let results = push
                    .mutations
                    .iter()
                    .map(|item| {
                        let refused = matches!(&item.mutation, Mutation::SetTicketStatus { ticket_id, .. }
                            if Some(ticket_id) == self.refuse_ticket.as_ref());
                        let outcome = if refused {
                            Outcome::Rejected { code: "forbidden".into(), reason: "not yours".into() }
                        } else {
                            self.applied.push((push.client_id.clone(), item.client_seq, item.mutation_id.clone()));
                            Outcome::Applied { version: self.head() }
                        };
                        PushResult { client_seq: item.client_seq, outcome }
                    })
                    .collect();
                Input::PushResponse(PushResponse { results })
            }
        }
    }

    fn restored(&mut self, head: u64) {
        self.restored_seen.push(head);
    }

    fn rejected(&mut self, seq: u64, code: &str, recorded: Option<Rejection>) {
        assert_eq!(code, "forbidden");
        assert_eq!(recorded.map(|r| r.seq), Some(seq), "the store records the refusal for the window");
    }
}

fn ticket(version: u64, status: &str) -> Change {
    Change {
        version,
        bucket: "queue:support".into(),
        entity: "ticket".into(),
        id: "t1".into(),
        op: Op::Upsert,
        data: json!({"id": "t1", "number": 101, "subject": "Refund", "customer_id": "c1", "channel": "email",
                     "status": status, "priority": "normal", "queue_id": "support", "assignee_id": null, "tags": [],
                     "created_at": 10, "updated_at": 10, "sla_due_at": null, "first_response_due_at": null,
                     "first_response_at": null, "preview": "", "message_count": 0}),
    }
}

fn server() -> ScriptedServer {
    let customer = Change {
        version: 1,
        bucket: "queue:support".into(),
        entity: "customer".into(),
        id: "c1".into(),
        op: Op::Upsert,
        data: json!({"id": "c1", "name": "Olga", "company": null, "tier": "standard", "tags": [], "created_at": 5,
                     "identities": []}),
    };
    ScriptedServer {
        changes: vec![customer, ticket(2, "new")],
        applied: vec![],
        refuse_ticket: None,
        restored_seen: vec![],
    }
}

fn config() -> Config {
    let mut config = Config::new("");
    config.backoff_min = Duration::from_millis(1);
    config
}

/// Drain until the engine has nothing left to do now.
async fn settle(driver: &mut Driver, link: &mut ScriptedServer) {
    for _ in 0..10 {
        driver.drain(link).await;
        if driver.is_idle() {
            return;
        }
    }
}

async fn desk(dir: &tempfile::TempDir) -> (Driver, Store) {
    let store = Store::open(&dir.path().join("okno.db")).await.unwrap();
    store.set_me("anna", "Anna", Role::Operator).await.unwrap();
    let driver = Driver::new(store.clone(), "anna", config()).await.unwrap();
    (driver, store)
}

async fn set_status(store: &Store, status: TicketStatus) {
    store.apply(Mutation::SetTicketStatus { ticket_id: "t1".into(), status, at: 20 }).await.unwrap();
}

#[tokio::test]
async fn writes_reach_the_server_and_leave_the_outbox_and_a_refusal_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut driver, store) = desk(&dir).await;
    let mut link = server();
    driver.poke(2);
    settle(&mut driver, &mut link).await;
    assert_eq!(store.sync_cursor().await.unwrap(), 2, "the first pull is written with its cursor");

    set_status(&store, TicketStatus::Open).await;
    driver.feed_outbox().await;
    settle(&mut driver, &mut link).await;
    assert_eq!(link.applied.len(), 1);
    assert_eq!(link.applied[0].0, store.sync_client_id("anna").await.unwrap(), "pushed under the store's client id");
    assert_eq!(store.unsent().await.unwrap(), 0, "acknowledged writes leave the outbox");

    link.refuse_ticket = Some("t1".into());
    set_status(&store, TicketStatus::Resolved).await;
    driver.feed_outbox().await;
    settle(&mut driver, &mut link).await;
    assert_eq!(store.unsent().await.unwrap(), 0, "a refused write does not block the outbox");
    assert_eq!(store.ticket_row("t1").await.unwrap().status, TicketStatus::Open, "and is rolled back");
    assert_eq!(store.last_rejection().await.unwrap().map(|r| r.code).as_deref(), Some("forbidden"));
}

#[tokio::test]
async fn a_hello_older_than_the_last_pull_is_not_taken_for_a_restored_server() {
    let dir = tempfile::tempdir().unwrap();
    let (mut driver, store) = desk(&dir).await;
    let mut link = server();
    link.changes.push(ticket(3, "open"));
    driver.poke(3);
    settle(&mut driver, &mut link).await;
    let client = driver.client_id().to_owned();
    assert_eq!(store.sync_cursor().await.unwrap(), 3);

    // The socket's hello said head 2, but the desk has pulled up to 3 since it was read.
    driver.server_up(2).await;
    settle(&mut driver, &mut link).await;
    assert!(link.restored_seen.is_empty(), "the pull showed the server's head is 3");
    assert_eq!(driver.client_id(), client, "same client id");
    assert_eq!(store.sync_cursor().await.unwrap(), 3, "nothing pulled again");
}

#[tokio::test]
async fn a_server_restored_from_a_backup_gets_everything_again_under_a_new_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let (mut driver, store) = desk(&dir).await;
    let mut link = server();
    link.changes.push(ticket(3, "open"));
    link.changes.push(ticket(4, "pending"));
    driver.poke(4);
    settle(&mut driver, &mut link).await;
    let client = driver.client_id().to_owned();
    assert_eq!(store.ticket_row("t1").await.unwrap().status, TicketStatus::Pending);

    // Restored from last night's backup: versions 3 and 4 are gone. A write is pending; the
    // engine pushes before it pulls, so it goes out first, under the old id.
    link.changes.truncate(2);
    set_status(&store, TicketStatus::Resolved).await;
    driver.server_up(2).await;
    settle(&mut driver, &mut link).await;
    assert_eq!(link.restored_seen, [2], "the pull's head showed the restore");
    assert_eq!(link.applied.len(), 1, "the pending write reached the server");
    assert_eq!(store.unsent().await.unwrap(), 0);
    assert_ne!(driver.client_id(), client, "the desk goes on under a new client id");
    assert_eq!(store.sync_cursor().await.unwrap(), 2, "everything pulled again from the restored state");
    assert_eq!(store.ticket_row("t1").await.unwrap().status, TicketStatus::New, "as the server has it now");

    set_status(&store, TicketStatus::Open).await;
    driver.feed_outbox().await;
    settle(&mut driver, &mut link).await;
    let (last_client, seq, _) = link.applied.last().cloned().unwrap();
    assert_eq!((last_client.as_str(), seq), (driver.client_id(), 1), "the next write is numbered from 1 under it");
}
