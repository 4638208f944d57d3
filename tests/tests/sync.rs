//! The desktop against the real server: a fresh PostgreSQL database seeded by
//! `okno-server seed --demo`, the real `okno-server`, desktop A in its window (WebDriver) and
//! desktop B headless (`--serve-http`). First sync, a reply reaching PostgreSQL and the other
//! desk, a reply made while the server is down, a refused claim rolled back with its reason, a
//! ticket a team lead assigns announced by a desktop notification, and a demo desk that stays
//! local.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use okno_e2e::server::{
    Database, WAIT, headless_desk, invoke, provision, reply, server_binary, start_server, wait, wait_state,
};
use okno_e2e::{Driver, Session, SessionBus, app_binary, artifacts_dir, free_port};
use serde_json::json;

const PASSWORD: &str = "e2e-sync-password";

fn unsent(s: &Session) -> Result<u32> {
    Ok(match s.find_all("[data-testid=unsent]")?.first() {
        Some(e) => s.attribute(e, "data-count")?.and_then(|n| n.parse().ok()).unwrap_or(0),
        None => 0,
    })
}

fn on_server(db: &Database, body: &str) -> Result<bool> {
    Ok(db.sql(&format!("SELECT count(*) FROM messages WHERE body = '{}'", body.replace('\'', "''")))? == "1")
}

#[test]
#[ignore = "needs a display, tauri-driver, PostgreSQL and the built app and server: run through `cargo xtask test`"]
fn desktops_sync_through_the_server() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let db = Database::create("okno_e2e")?;
    let work = tempfile::tempdir()?;
    let server_log = work.path().join("server.log");

    // A small center: queues, anna and boris, 30 tickets, each with the customer's first message.
    let seeded = Command::new(&server)
        .args(["seed", "--demo", "--tickets", "30", "--password", &format!("anna={PASSWORD}")])
        .args(["--password", &format!("boris={PASSWORD}"), "--password", &format!("lena={PASSWORD}")])
        .env("DATABASE_URL", db.url())
        .output()?;
    assert!(seeded.status.success(), "seed: {}", String::from_utf8_lossy(&seeded.stderr));
    let port = free_port()?;
    let mut server_proc = Some(start_server(&server, &db, port, &server_log, &[], &[])?);

    // Desktop A (anna) in its window: a new desk does its first sync.
    let dir_a = work.path().join("a");
    std::fs::create_dir_all(&dir_a)?;
    let prov_a = provision(&dir_a, port, "anna")?;
    // A's desktop notifications go to a private session bus that the test watches.
    let bus = SessionBus::start(work.path())?;
    let driver =
        Driver::start_with_env(&[("OKNO_E2E_PASSWORD", PASSWORD), ("DBUS_SESSION_BUS_ADDRESS", &bus.address)])?;
    let args = ["--data-dir", &dir_a.display().to_string(), "--provision", &prov_a.display().to_string()];
    let mut s = driver.launch(&app, &args.map(str::to_owned))?;
    wait_state(&s, "online")?;
    let rows = s.wait_for("[data-testid=ticket-row][data-ticket-id]", WAIT)?;
    let ticket_id = s.attribute(&rows[0], "data-ticket-id")?.context("rows carry their ticket id")?;
    let subject = db.sql(&format!("SELECT subject FROM tickets WHERE id = '{ticket_id}'"))?;
    assert!(!subject.is_empty(), "the desk shows the server's ticket {ticket_id}");
    assert!(s.text_content(&rows[0])?.contains(&subject), "with the server's subject {subject:?}");
    assert!(s.find_all("[data-testid=first-sync]")?.is_empty(), "the first sync is over");

    // Desktop B (boris), headless.
    let dir_b = work.path().join("b");
    std::fs::create_dir_all(&dir_b)?;
    let prov_b = provision(&dir_b, port, "boris")?;
    let (_desk_b, http_b) = headless_desk(
        &app,
        &["--data-dir", &dir_b.display().to_string(), "--provision", &prov_b.display().to_string()],
        Some(PASSWORD),
    )?;
    wait("desktop B online", || {
        Ok(invoke(http_b, "sync_status", json!({})).is_ok_and(|v| v["connection"] == "online"))
    })?;

    // A reply on A reaches PostgreSQL and then B.
    s.click(&rows[0])?;
    let first = format!("Reply from A, e2e {}", std::process::id());
    reply(&s, &first)?;
    wait("the reply in PostgreSQL", || on_server(&db, &first))?;
    wait("the reply on desktop B", || {
        let detail = invoke(http_b, "get_ticket", json!({ "ticketId": ticket_id }))?;
        Ok(detail["timeline"].as_array().is_some_and(|items| items.iter().any(|m| m["body"] == first.as_str())))
    })?;
    s.wait_until("nothing unsent", WAIT, |s| Ok((unsent(s)? == 0).then_some(())))?;
    std::thread::sleep(Duration::from_millis(500));
    s.screenshot(&artifacts_dir().join("sync-online.png"))?;

    // The server goes away: a reply is still accepted, and waits.
    drop(server_proc.take());
    wait_state(&s, "offline")?;
    let second = format!("Written offline, e2e {}", std::process::id());
    reply(&s, &second)?;
    s.wait_until("one unsent change", WAIT, |s| Ok((unsent(s)? == 1).then_some(())))?;
    std::thread::sleep(Duration::from_millis(500));
    s.screenshot(&artifacts_dir().join("sync-offline.png"))?;
    assert!(!on_server(&db, &second)?);

    // It comes back: the reply goes out by itself.
    server_proc = Some(start_server(&server, &db, port, &server_log, &[], &[])?);
    wait_state(&s, "online")?;
    s.wait_until("nothing unsent", WAIT, |s| Ok((unsent(s)? == 0).then_some(())))?;
    assert!(on_server(&db, &second)?, "the offline reply is on the server");

    // B takes the ticket; A's claim on it is refused and rolled back, with the reason shown.
    invoke(http_b, "assign_ticket", json!({ "ticketId": ticket_id, "assigneeId": "boris" }))?;
    wait("boris owns the ticket on the server", || {
        Ok(db.sql(&format!("SELECT assignee_id FROM tickets WHERE id = '{ticket_id}'"))? == "boris")
    })?;
    // Claim at once, whatever A has pulled by now: the server decides.
    s.execute("document.querySelector('[data-testid=assign-me]')?.click()")?;
    let toast = s.wait_until("the refusal's toast", WAIT, |s| {
        for t in s.find_all("[data-testid=toast][data-kind=error]")? {
            let text = s.text_content(&t)?;
            if text.contains("someone else") {
                return Ok(Some(text));
            }
        }
        Ok(None)
    })?;
    assert!(toast.contains("the ticket was taken by someone else"), "the server's reason is shown: {toast:?}");
    s.wait_until("the ticket back with boris", WAIT, |s| {
        let owner = s.execute("return document.querySelector('[data-testid=ticket-assignee]')?.value ?? null")?;
        Ok((owner == "boris").then_some(()))
    })?;
    std::thread::sleep(Duration::from_millis(500));
    s.screenshot(&artifacts_dir().join("sync-rejected.png"))?;
    assert_eq!(db.sql(&format!("SELECT assignee_id FROM tickets WHERE id = '{ticket_id}'"))?, "boris");
    // New work: the team lead lena (headless) assigns an unowned ticket to anna; anna's desk
    // pulls it and announces it with a desktop notification naming the ticket.
    let dir_lead = work.path().join("lead");
    std::fs::create_dir_all(&dir_lead)?;
    let prov_lead = provision(&dir_lead, port, "lena")?;
    let (_desk_lead, http_lead) = headless_desk(
        &app,
        &["--data-dir", &dir_lead.display().to_string(), "--provision", &prov_lead.display().to_string()],
        Some(PASSWORD),
    )?;
    wait("the lead's desk online", || {
        Ok(invoke(http_lead, "sync_status", json!({})).is_ok_and(|v| v["connection"] == "online"))
    })?;
    let (work_id, work_subject) = {
        let row = db.sql("SELECT id || '|' || subject FROM tickets WHERE assignee_id IS NULL ORDER BY id LIMIT 1")?;
        let (id, subject) = row.split_once('|').context("an unowned ticket")?;
        (id.to_owned(), subject.to_owned())
    };
    invoke(http_lead, "assign_ticket", json!({ "ticketId": work_id, "assigneeId": "anna" }))?;
    let notified = s.wait_until("anna told of her new ticket", WAIT, |_| {
        let log = bus.notifications();
        Ok(log.contains(&work_subject).then_some(log))
    })?;
    assert!(notified.contains("member=Notify"), "a desktop notification: {notified}");
    s.quit()?;
    drop(driver);

    // A demo desk provisioned with the same server stays local and says why: generated demo
    // data must never reach a real server.
    let dir_demo = work.path().join("demo");
    std::fs::create_dir_all(&dir_demo)?;
    let prov_demo = provision(&dir_demo, port, "anna")?;
    let (_desk_demo, http_demo) = headless_desk(
        &app,
        &["--demo", "--data-dir", &dir_demo.display().to_string(), "--provision", &prov_demo.display().to_string()],
        Some(PASSWORD),
    )?;
    let mut status = json!(null);
    wait("the demo desk up", || {
        status = invoke(http_demo, "sync_status", json!({})).unwrap_or(json!(null));
        Ok(!status.is_null())
    })?;
    assert_eq!(status["connection"], "local_only", "{status}");
    assert!(status["problem"].as_str().unwrap_or_default().contains("demo"), "and says why: {status}");
    drop(server_proc);
    Ok(())
}
