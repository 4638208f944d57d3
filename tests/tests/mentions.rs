//! @mentions between two real desks through the server (issue 18): boris's desk saves a note
//! naming @anna, and anna's window announces it with a desktop notification and keeps it under
//! the bell (the notices list opens the ticket); anna answers with a
//! note of her own, picking boris from the window's @ suggestions with the keyboard, and the
//! server records the mention and makes boris a follower of the ticket. Anna's window shows that
//! she follows the ticket.

use anyhow::Result;
use okno_e2e::server::{
    WAIT, headless_desk, invoke, provision, seeded_demo, server_binary, start_server, wait, wait_state,
};
use okno_e2e::{Driver, SessionBus, app_binary, artifacts_dir};
use serde_json::json;

const PASSWORD: &str = "e2e-mention-password";
const ENTER: &str = "\u{E007}";

#[test]
#[ignore = "needs PostgreSQL, Xvfb, WebDriver and the built app and server: run through `cargo xtask test`"]
fn a_mentioned_colleague_is_notified_and_the_window_suggests_handles() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let db = seeded_demo(&server, 6, PASSWORD)?;
    let ticket = db.sql("SELECT id FROM tickets WHERE number = 1000")?;
    let work = tempfile::tempdir()?;
    let port = okno_e2e::free_port()?;
    let _server = start_server(&server, &db, port, &work.path().join("server.log"), &[], &[])?;

    let boris_dir = work.path().join("boris");
    std::fs::create_dir_all(&boris_dir)?;
    let prov = provision(&boris_dir, port, "boris")?;
    let boris = headless_desk(
        &app,
        &["--data-dir", &boris_dir.display().to_string(), "--provision", &prov.display().to_string()],
        Some(PASSWORD),
    )?;
    wait("boris's desk online", || {
        Ok(invoke(boris.1, "sync_status", json!({})).is_ok_and(|s| s["connection"].as_str() == Some("online")))
    })?;

    // Anna's window, with a private session bus whose monitor sees its desktop notifications.
    let anna_dir = work.path().join("anna");
    std::fs::create_dir_all(&anna_dir)?;
    let prov = provision(&anna_dir, port, "anna")?;
    let bus = SessionBus::start(work.path())?;
    let driver =
        Driver::start_with_env(&[("OKNO_E2E_PASSWORD", PASSWORD), ("DBUS_SESSION_BUS_ADDRESS", &bus.address)])?;
    let args = ["--data-dir", &anna_dir.display().to_string(), "--provision", &prov.display().to_string()];
    let desk = driver.launch(&app, &args.map(str::to_owned))?;
    wait_state(&desk, "online")?;

    let note = json!({ "ticketId": ticket, "body": "@anna the customer asks for you, call back please",
                       "internal": true, "cc": [], "attachments": [] });
    invoke(boris.1, "reply_ticket", note)?;
    desk.wait_until("anna's desktop notification of the mention", WAIT, |_| {
        let log = bus.notifications();
        Ok((log.contains("Mentioned you") && log.contains("call back please")).then_some(()))
    })?;

    // The bell keeps the mention after the notification is gone: one unseen, and the list
    // opens the ticket.
    let badge = desk.wait_for("[data-testid=notices-unseen]", WAIT)?;
    assert_eq!(desk.text_content(&badge[0])?.trim(), "1");
    desk.click(&desk.wait_for("[data-testid=notices-open]", WAIT)?[0])?;
    let item = desk.wait_for("[data-testid=notice-item][data-kind=mention]", WAIT)?;
    let shown = desk.text_content(&item[0])?;
    assert!(
        shown.contains("Mentioned you") && shown.contains("boris") && shown.contains("call back please"),
        "{shown}"
    );
    std::thread::sleep(std::time::Duration::from_millis(600));
    desk.screenshot(&artifacts_dir().join("notices.png"))?;
    desk.click(&item[0])?;
    desk.wait_until("the badge gone once the list was opened", WAIT, |s| {
        Ok((s.execute("return document.querySelector('[data-testid=notices-unseen]') === null")?.as_bool()
            == Some(true))
        .then_some(()))
    })?;

    // Anna answers in a note: "@bo" offers boris; Enter puts his handle in.
    // Mentioned, she follows the ticket: its header says so (and the button stops it).
    let follow = desk.wait_for("[data-testid=follow][aria-pressed=true]", WAIT)?;
    let label = desk.text_content(&follow[0])?;
    assert!(label.contains("Following"), "{label}");
    desk.click(&desk.wait_for("[data-testid=note-toggle]", WAIT)?[0])?;
    let reply_box = desk.wait_for("[data-testid=reply-box]", WAIT)?;
    desk.type_into(&reply_box[0], "Called her back, @bo")?;
    let list = desk.wait_for("[data-testid=mention-list]", WAIT)?;
    let offered = desk.text_content(&list[0])?;
    assert!(offered.contains("@boris"), "the suggestions: {offered}");
    assert!(!offered.contains("@anna"), "nobody mentions themselves: {offered}");
    // Let the list paint before the picture (WebKit hands out the last painted frame).
    std::thread::sleep(std::time::Duration::from_millis(500));
    desk.screenshot(&artifacts_dir().join("mention-suggestions.png"))?;
    desk.press(ENTER)?;
    desk.type_into(&reply_box[0], "please take the refund from here")?;
    let text = desk.execute("return document.querySelector('[data-testid=reply-box]').value")?;
    assert_eq!(text.as_str(), Some("Called her back, @boris please take the refund from here"));
    desk.click(&desk.wait_for("[data-testid=reply-send]", WAIT)?[0])?;
    wait("the server records anna's mention of boris", || {
        Ok(db.sql(&format!(
            "SELECT count(*) FROM events WHERE kind = 'mentioned' AND ticket_id = '{ticket}' AND data->>'mentioned' = 'boris'"
        ))? == "1")
    })?;
    assert_eq!(
        db.sql(&format!("SELECT string_agg(operator_id, ',' ORDER BY operator_id) FROM ticket_followers WHERE ticket_id = '{ticket}'"))?,
        "anna,boris",
        "each mentioned colleague follows the ticket"
    );
    Ok(())
}
