//! A write the server refuses, in the real window (issue 17): anna, an operator, takes a ticket
//! boris has just claimed from his desk. The server refuses her claim (`already_claimed`); the
//! window undoes it, says so, and lists it under "refused" in the status bar with the server's
//! code, while her next write to the same ticket goes through.

use anyhow::Result;
use okno_e2e::server::{
    WAIT, headless_desk, invoke, provision, seeded_demo, server_binary, start_server, wait, wait_state,
};
use okno_e2e::{Driver, app_binary, artifacts_dir};
use serde_json::json;

const PASSWORD: &str = "e2e-refused-password";

#[test]
#[ignore = "needs PostgreSQL, Xvfb, WebDriver and the built app and server: run through `cargo xtask test`"]
fn a_refused_write_is_undone_and_listed_and_later_writes_go_on() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let db = seeded_demo(&server, 6, PASSWORD)?;
    let ticket = db.sql("SELECT id FROM tickets WHERE number = 1001")?;
    let work = tempfile::tempdir()?;
    let port = okno_e2e::free_port()?;
    let _server = start_server(&server, &db, port, &work.path().join("server.log"), &[], &[])?;
    let dir = work.path().join("anna");
    std::fs::create_dir_all(&dir)?;
    let prov = provision(&dir, port, "anna")?;
    let driver = Driver::start_with_env(&[("OKNO_E2E_PASSWORD", PASSWORD)])?;
    let desk = driver.launch(
        &app,
        &["--data-dir", &dir.display().to_string(), "--provision", &prov.display().to_string()].map(str::to_owned),
    )?;
    wait_state(&desk, "online")?;

    let row = desk.wait_for(&format!("[data-testid=ticket-row][data-ticket-id='{ticket}']"), WAIT)?;
    desk.click(&row[0])?;
    desk.wait_for("[data-testid=assign-me]", WAIT)?;

    // Boris claims it from his desk a moment before anna clicks.
    let boris_dir = work.path().join("boris");
    std::fs::create_dir_all(&boris_dir)?;
    let boris_prov = provision(&boris_dir, port, "boris")?;
    let boris = headless_desk(
        &app,
        &["--data-dir", &boris_dir.display().to_string(), "--provision", &boris_prov.display().to_string()],
        Some(PASSWORD),
    )?;
    wait("boris's desk has the ticket", || Ok(invoke(boris.1, "get_ticket", json!({ "ticketId": ticket })).is_ok()))?;
    invoke(boris.1, "assign_ticket", json!({ "ticketId": ticket, "assigneeId": "boris" }))?;
    wait("boris's claim on the server", || {
        Ok(db.sql(&format!("SELECT COALESCE(assignee_id, '-') FROM tickets WHERE id = '{ticket}'"))? == "boris")
    })?;
    // Found again: the pulled claim may have redrawn the header since.
    desk.click(&desk.wait_for("[data-testid=assign-me]", WAIT)?[0])?;

    // Refused by the server: undone here, and listed with the server's code and reason.
    let button = desk.wait_for("[data-testid=refused-writes]", WAIT).map_err(|e| {
        let owner = db.sql(&format!("SELECT COALESCE(assignee_id, '-') FROM tickets WHERE id = '{ticket}'"));
        let shown = desk.execute("return document.querySelector('[data-testid=ticket-assignee]').value");
        let _ = desk.screenshot(&artifacts_dir().join("refused-writes-failed.png"));
        anyhow::anyhow!("{e}; owner on the server {owner:?}, in the window {shown:?}")
    })?;
    desk.wait_until("the owner shown as the server has it", WAIT, |s| {
        let owner = s.execute("return document.querySelector('[data-testid=ticket-assignee]').value")?;
        Ok((owner.as_str() == Some("boris")).then_some(()))
    })?;
    desk.click(&button[0])?;
    let item = desk.wait_for("[data-testid=refused-item][data-code=already_claimed]", WAIT)?;
    let text = desk.text_content(&item[0])?;
    assert!(!text.trim().is_empty(), "the item says what was refused and why: {text:?}");
    std::thread::sleep(std::time::Duration::from_millis(600));
    desk.screenshot(&artifacts_dir().join("refused-writes.png"))?;
    assert_eq!(db.sql(&format!("SELECT assignee_id FROM tickets WHERE id = '{ticket}'"))?, "boris");

    // Her next write to the same ticket is not held up behind the refused one.
    desk.execute(
        "const s = document.querySelector('[data-testid=ticket-status]'); s.value = 'pending'; \
         s.dispatchEvent(new Event('change', { bubbles: true })); return true",
    )?;
    wait("anna's status change on the server", || {
        Ok(db.sql(&format!("SELECT status FROM tickets WHERE id = '{ticket}'"))? == "pending")
    })?;
    Ok(())
}
