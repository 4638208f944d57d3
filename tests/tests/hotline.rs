//! The hotline in the real window (issue 19): okno-server runs the hotline (`[hotline]`) behind
//! Kamailio; a customer's okno-phone calls it while nobody is available, and lena, a team lead,
//! sees the call waiting on her wallboard and moves it to the sales queue from the window. anna
//! becomes available, her okno-phone is rung and answers; lena presses "Listen" on anna's tile,
//! her own okno-phone is rung for the call, and the audit log says she listened in; anna's phone
//! is told who listens and when she leaves (the center's `announce_monitoring`).

use std::time::Duration;

use anyhow::{Context, Result};
use okno_e2e::server::{WAIT, seeded_demo, server_binary, start_server, wait, wallboard_window};
use okno_e2e::{Driver, Killed, app_binary, artifacts_dir, free_udp_port, registered_phone};
use okno_testkit::sip::Kamailio;

const PASSWORD: &str = "e2e-hotline-password";
const SIP_PASSWORD: &str = "e2e-hotline-sip";
const SIP_PASSWORD_VAR: &str = "OKNO_E2E_HOTLINE_SIP";

/// A headless okno-phone registered at Kamailio as `user`, with `args` after the account's.
fn phone(
    user: &str,
    kamailio: &Kamailio,
    args: &[&str],
) -> Result<(Killed, std::thread::JoinHandle<Vec<serde_json::Value>>)> {
    registered_phone(user, &kamailio.addr(), SIP_PASSWORD, args)
}

#[test]
#[ignore = "needs PostgreSQL, Kamailio, Xvfb, WebDriver and the built app, phone and server: run through `cargo xtask test`"]
fn a_team_lead_moves_a_waiting_hotline_call_and_listens_in() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let kamailio = Kamailio::start(SIP_PASSWORD);
    let db = seeded_demo(&server, 6, PASSWORD)?;
    db.sql("INSERT INTO queues (id, name, channel, department_id) VALUES ('sales', 'Sales line', 'phone', 'support')")?;
    let work = tempfile::tempdir()?;
    let config = work.path().join("okno-server.toml");
    std::fs::write(
        &config,
        format!(
            "[hotline]\nsip_listen = \"127.0.0.1:{}\"\nregistrar = \"{}\"\naccount = \"sip:hotline@127.0.0.1\"\n\
             password_env = \"{SIP_PASSWORD_VAR}\"\nannounce_monitoring = true\n\n\
             [[hotline.queue]]\nid = \"hotline\"\nnumbers = [\"hotline\"]\n\n\
             [[hotline.queue]]\nid = \"sales\"\nnumbers = [\"sales\"]\n\n\
             [[hotline.agent]]\noperator = \"anna\"\nuri = \"sip:anna@127.0.0.1\"\n\n\
             [[hotline.supervisor]]\noperator = \"lena\"\nuri = \"sip:lena@127.0.0.1\"\n",
            free_udp_port(),
            kamailio.addr()
        ),
    )?;
    let port = okno_e2e::free_port()?;
    let config_arg = config.display().to_string();
    let _server = start_server(
        &server,
        &db,
        port,
        &work.path().join("server.log"),
        &["--config", &config_arg],
        &[(SIP_PASSWORD_VAR, SIP_PASSWORD)],
    )?;
    // The hotline registers with Kamailio as the server starts; then a customer calls it.
    std::thread::sleep(Duration::from_millis(800));
    let _caller = phone("carol", &kamailio, &["--call", "sip:hotline@127.0.0.1", "--hangup-after-ms", "120000"])?;

    let driver = Driver::start_with_env(&[("OKNO_E2E_PASSWORD", PASSWORD)])?;
    let desk = wallboard_window(&driver, &app, &work.path().join("lena"), port, "lena")?;
    let waiting =
        desk.wait_for("[data-testid=wallboard-queue][data-queue-id=hotline] [data-testid=wallboard-call]", WAIT)?;
    let shown = desk.text_content(&waiting[0])?;
    assert!(shown.contains("waiting") || shown.contains("ждёт"), "the waiting call's row: {shown}");
    std::thread::sleep(Duration::from_millis(700));
    desk.screenshot(&artifacts_dir().join("wallboard-hotline-waiting.png"))?;

    // Lena moves it to the sales line from the window.
    desk.execute(
        "const s = document.querySelector('[data-testid=wallboard-queue][data-queue-id=hotline] [data-testid=wallboard-call] select'); \
         s.value = 'sales'; s.dispatchEvent(new Event('change', { bubbles: true }));",
    )?;
    desk.wait_for("[data-testid=wallboard-queue][data-queue-id=sales] [data-testid=wallboard-call]", WAIT)?;
    wait("the move stored as a queue event", || {
        Ok(db.sql("SELECT count(*) FROM acd_events WHERE kind = 'moved' AND queue_id = 'sales'")? == "1")
    })?;

    // Anna's phone is up and she becomes available: the hotline rings her, she answers.
    let (_anna, anna_events) =
        phone("anna", &kamailio, &["--auto-answer", "--answer-after-ms", "200", "--exit-after-calls", "1"])?;
    std::thread::sleep(Duration::from_millis(800));
    db.sql("UPDATE operators SET state = 'available', state_since = (extract(epoch FROM now()) * 1000)::bigint WHERE id = 'anna'")?;
    let listen = desk
        .wait_for("[data-testid=wallboard-agent][data-agent-id=anna] [data-testid=wallboard-monitor] button", WAIT)?;
    wait("the call answered on the wallboard", || {
        Ok(db.sql("SELECT count(*) FROM acd_events WHERE kind = 'answered' AND agent_id = 'anna'")? == "1")
    })?;

    // Lena listens in: her own phone rings for it.
    let (_lena_phone, lena_events) = phone(
        "lena",
        &kamailio,
        &["--auto-answer", "--answer-after-ms", "200", "--hangup-after-ms", "1500", "--exit-after-calls", "1"],
    )?;
    std::thread::sleep(Duration::from_millis(800));
    desk.click(&listen[0])?;
    std::thread::sleep(Duration::from_millis(700));
    desk.screenshot(&artifacts_dir().join("wallboard-hotline-listen.png"))?;
    let lena_events = lena_events.join().map_err(|_| anyhow::anyhow!("lena's phone events"))?;
    let incoming = lena_events.iter().find(|e| e["event"] == "incoming").context("lena's phone was not rung")?;
    let name = incoming["display_name"].as_str().unwrap_or_default();
    assert!(name.starts_with("listen"), "lena's phone says what the call is: {name}");
    assert!(lena_events.iter().any(|e| e["event"] == "answered"), "{lena_events:?}");
    // Listening in on a call is in the server's audit log, with who and how.
    assert_eq!(
        db.sql("SELECT actor || ' ' || detail FROM audit_log WHERE action = 'call_monitored'")?,
        r#"lena {"mode":"listen"}"#
    );
    // Lena's phone has hung up; the hotline's word to anna's phone follows her BYE on loopback.
    std::thread::sleep(Duration::from_millis(1500));
    drop(_anna);
    let anna_events = anna_events.join().map_err(|_| anyhow::anyhow!("anna's phone events"))?;
    assert!(anna_events.iter().any(|e| e["event"] == "answered"), "anna took the call: {anna_events:?}");
    // The center tells its operators (announce_monitoring): anna's phone was told who listened,
    // by the name lena signs in with, and that she left.
    let told: Vec<&serde_json::Value> = anna_events.iter().filter(|e| e["event"] == "monitored").collect();
    let lena_name = db.sql("SELECT name FROM operators WHERE id = 'lena'")?;
    assert_eq!(
        told.first().map(|e| (e["by"].as_str(), e["mode"].as_str())),
        Some((Some(lena_name.as_str()), Some("listen"))),
        "{anna_events:?}"
    );
    assert_eq!(told.last().map(|e| e["mode"].is_null()), Some(true), "lena left: {anna_events:?}");
    Ok(())
}
