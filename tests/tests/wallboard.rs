//! The team lead's wallboard in the real window (issue 19): lena opens it and sees the hotline's
//! figures recomputed by the server from the calls on record (service level not counting a
//! caller who gave up within 20 s), then puts boris on a break from his tile, which reaches the
//! server; anna, an operator, has no wallboard entry and her desk's request is refused.

use anyhow::Result;
use okno_e2e::server::{
    WAIT, headless_desk, invoke, provision, seeded_demo, server_binary, start_server, wait, wallboard_window,
};
use okno_e2e::{Driver, app_binary, artifacts_dir};
use serde_json::json;

const PASSWORD: &str = "e2e-wallboard-password";

#[test]
#[ignore = "needs PostgreSQL, Xvfb, WebDriver and the built app and server: run through `cargo xtask test`"]
fn a_team_lead_watches_the_wallboard_and_an_operator_is_refused_it() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let db = seeded_demo(&server, 6, PASSWORD)?;
    // Today on the hotline: answered in 6 s and in 45 s, a caller who gave up after 35 s, one after 4 s.
    db.sql(
        "INSERT INTO calls (id, customer_id, queue_id, operator_id, direction, from_number, to_number, started_at, answered_at, ended_at, outcome) \
         SELECT v.id, (SELECT id FROM customers ORDER BY id LIMIT 1), 'hotline', v.agent, 'inbound', '+79001234567', '100', \
           now_ms - v.ago, now_ms - v.ago + v.answer, now_ms - v.ago + v.len, v.outcome \
         FROM (SELECT (extract(epoch FROM now()) * 1000)::bigint AS now_ms) n, \
           (VALUES ('w-1', 'anna', 600000, 6000, 120000, 'answered'), ('w-2', 'boris', 500000, 45000, 200000, 'answered'), \
                   ('w-3', NULL, 300000, NULL, 35000, 'missed'), ('w-4', NULL, 200000, NULL, 4000, 'missed')) \
             AS v(id, agent, ago, answer, len, outcome)",
    )?;
    let work = tempfile::tempdir()?;
    let port = okno_e2e::free_port()?;
    let _server = start_server(&server, &db, port, &work.path().join("server.log"), &[], &[])?;

    // Anna's desk (an operator) asks anyway: the server refuses.
    let anna_dir = work.path().join("anna");
    std::fs::create_dir_all(&anna_dir)?;
    let prov = provision(&anna_dir, port, "anna")?;
    let anna = headless_desk(
        &app,
        &["--data-dir", &anna_dir.display().to_string(), "--provision", &prov.display().to_string()],
        Some(PASSWORD),
    )?;
    wait("anna's desk online", || {
        Ok(invoke(anna.1, "sync_status", json!({})).is_ok_and(|s| s["connection"].as_str() == Some("online")))
    })?;
    let refused = invoke(anna.1, "wallboard", json!({ "since": 0 })).expect_err("an operator gets no wallboard");
    assert!(refused.to_string().contains("team leads"), "{refused}");

    // Lena's window.
    let driver = Driver::start_with_env(&[("OKNO_E2E_PASSWORD", PASSWORD)])?;
    let desk = wallboard_window(&driver, &app, &work.path().join("lena"), port, "lena")?;
    let hotline = desk.wait_for("[data-testid=wallboard-queue][data-queue-id=hotline]", WAIT)?;
    let shown = desk.text_content(&hotline[0])?;
    // One answered within 20 s of the three that did not give up within 20 s.
    assert!(shown.contains("33.3 %"), "the hotline's tile: {shown}");
    assert!(shown.contains("2/4"), "answered of offered: {shown}");
    let boris = desk.wait_for("[data-testid=wallboard-agent][data-agent-id=boris]", WAIT)?;
    let tile = desk.text_content(&boris[0])?;
    assert!(tile.contains("1 handled today"), "boris answered one call: {tile}");

    // Lena puts boris on a break from his tile; the server has it within a second or two.
    desk.execute(
        "const s = document.querySelector('[data-testid=wallboard-agent][data-agent-id=boris] select'); \
         s.value = 'break'; s.dispatchEvent(new Event('change', { bubbles: true }));",
    )?;
    wait(
        "boris on a break on the server",
        || Ok(db.sql("SELECT state FROM operators WHERE id = 'boris'")? == "break"),
    )?;
    desk.wait_for("[data-testid=wallboard-agent][data-agent-id=boris][data-state=break]", WAIT)?;
    // Let the board paint before the picture (WebKit hands out the last painted frame).
    std::thread::sleep(std::time::Duration::from_millis(700));
    desk.screenshot(&artifacts_dir().join("wallboard.png"))?;
    Ok(())
}
