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

/// `[hotline]` for the queue `hotline` behind Kamailio, at a SIP port of its own, ringing anna.
fn hotline_config(kamailio: &Kamailio) -> String {
    format!(
        "[hotline]\nsip_listen = \"127.0.0.1:{}\"\nregistrar = \"{}\"\naccount = \"sip:hotline@127.0.0.1\"\n\
         password_env = \"{SIP_PASSWORD_VAR}\"\n\n\
         [[hotline.queue]]\nid = \"hotline\"\nnumbers = [\"hotline\"]\n\n\
         [[hotline.queue]]\nid = \"sales\"\nnumbers = [\"sales\"]\n\n\
         [[hotline.agent]]\noperator = \"anna\"\nuri = \"sip:anna@127.0.0.1\"\n",
        free_udp_port(),
        kamailio.addr()
    )
}

/// Two okno-servers with the same `[hotline]` on one database (joined by NATS when `nats` is a
/// URL), the first started first so it takes the number: each with its log and HTTP port.
fn two_servers(
    kamailio: &Kamailio,
    db: &okno_e2e::server::Database,
    dir: &std::path::Path,
    nats: &str,
) -> Result<[(okno_e2e::Killed, std::path::PathBuf, u16); 2]> {
    let server = server_binary()?;
    let mut started = Vec::new();
    for name in ["first", "second"] {
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, hotline_config(kamailio))?;
        let config_arg = config.display().to_string();
        let log = dir.join(format!("{name}.log"));
        let args = ["--config", config_arg.as_str()];
        let env = [(SIP_PASSWORD_VAR, SIP_PASSWORD), ("NATS_URL", nats)];
        let port = okno_e2e::free_port()?;
        started.push((start_server(&server, db, port, &log, &args, &env)?, log, port));
    }
    // The first registers with Kamailio as it starts; the second waits in standby.
    std::thread::sleep(Duration::from_millis(800));
    started.try_into().map_err(|_| anyhow::anyhow!("two servers"))
}

/// A rolling restart with the real servers: two okno-servers run the same hotline, joined by
/// NATS. The first takes the calls; a customer waits there. Lena, a team lead whose window talks
/// to the second server, moves the call to the sales line: the second asks the first, which has
/// it. The first gets SIGTERM: it hands the customer's phone to the second server (which took
/// the number over) and exits; anna answers the call there, and the call's record is one call
/// across both servers.
#[test]
#[ignore = "needs PostgreSQL, Kamailio and the built phone and server: run through `cargo xtask test`"]
fn a_stopped_server_hands_its_waiting_caller_to_the_other_instance() -> Result<()> {
    let server = server_binary()?;
    let kamailio = Kamailio::start(SIP_PASSWORD);
    let db = seeded_demo(&server, 3, PASSWORD)?;
    db.sql("INSERT INTO queues (id, name, channel, department_id) VALUES ('sales', 'Sales line', 'phone', 'support')")?;
    let nats = okno_testkit::nats::url("the relayed move is not tried").unwrap_or_default();
    let work = tempfile::tempdir()?;
    let [(mut first, first_log, _), (_second, second_log, second_port)] =
        two_servers(&kamailio, &db, work.path(), &nats)?;
    let (_carol, carol_events) = phone(
        "carol",
        &kamailio,
        &["--call", "sip:hotline@127.0.0.1", "--hangup-after-ms", "60000", "--exit-after-calls", "2"],
    )?;
    wait("carol queued", || Ok(db.sql("SELECT count(*) FROM acd_events WHERE kind = 'queued'")? == "1"))?;
    let call = db.sql("SELECT call_id FROM acd_events WHERE kind = 'queued'")?;
    let mut expected = "queued,handed_over,offered,answered,ended";
    if !nats.is_empty() {
        // Lena's move reaches the second server, which does not have the call: the first does.
        let lena = db.sql("SELECT name FROM operators WHERE id = 'lena'")?;
        let api = format!("http://127.0.0.1:{second_port}");
        let login: serde_json::Value = ureq::post(&format!("{api}/v1/login"))
            .send_json(serde_json::json!({ "name": lena, "password": PASSWORD }))?
            .into_json()?;
        let token = login["access_token"].as_str().context("lena's token")?;
        let moved: serde_json::Value = ureq::post(&format!("{api}/v1/wallboard/move"))
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(serde_json::json!({ "call_id": call, "queue_id": "sales" }))?
            .into_json()?;
        assert_eq!(moved["queue_id"], "sales", "{moved}");
        expected = "queued,moved,handed_over,offered,answered,ended";
    }

    // The first server is stopped as a service manager stops it.
    std::process::Command::new("kill").args(["-TERM", &first.0.id().to_string()]).status()?;
    wait("carol handed over", || Ok(db.sql("SELECT count(*) FROM acd_events WHERE kind = 'handed_over'")? == "1"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = first.0.try_wait()? {
            break status;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "the first server did not exit after its drain");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "the first server stopped cleanly: {status}");
    let stopped = std::fs::read_to_string(&first_log)?;
    assert!(stopped.contains("hotline drained"), "the first server's log:\n{stopped}");

    // Anna's phone is up and she becomes available: the second server rings her with the call.
    let anna_args =
        ["--auto-answer", "--answer-after-ms", "200", "--hangup-after-ms", "2000", "--exit-after-calls", "1"];
    let (_anna, anna_events) = phone("anna", &kamailio, &anna_args)?;
    std::thread::sleep(Duration::from_millis(800));
    db.sql("UPDATE operators SET state = 'available', state_since = (extract(epoch FROM now()) * 1000)::bigint WHERE id = 'anna'")?;
    let record =
        || db.sql(&format!("SELECT string_agg(kind, ',' ORDER BY at, id) FROM acd_events WHERE call_id = '{call}'"));
    if let Err(e) = wait("anna answering the handed-over call", || Ok(record()?.contains("answered"))) {
        anyhow::bail!("{e:#}\nsecond server's log:\n{}", std::fs::read_to_string(&second_log).unwrap_or_default());
    }
    // Anna hangs up after 2 s; the second server ends carol's call with it.
    let anna_events = anna_events.join().map_err(|_| anyhow::anyhow!("anna's phone events"))?;
    assert!(anna_events.iter().any(|e| e["event"] == "answered"), "{anna_events:?}");
    let carol_events = carol_events.join().map_err(|_| anyhow::anyhow!("carol's phone events"))?;
    let referred =
        carol_events.iter().find(|e| e["event"] == "referred").context("carol's phone was not transferred")?;
    assert!(referred["to"].as_str().is_some_and(|to| to.contains("okno-resume=")), "{referred}");
    wait("the call's end recorded", || Ok(record()?.ends_with("ended")))?;
    assert_eq!(record()?, expected, "one call across both servers");
    if !nats.is_empty() {
        let queues = db.sql(&format!("SELECT string_agg(DISTINCT queue_id, ',') FROM acd_events WHERE call_id = '{call}' AND kind IN ('offered', 'answered')"))?;
        assert_eq!(queues, "sales", "the moved call kept its queue across the hand-over");
    }
    Ok(())
}

/// A server that dies (SIGKILL) loses its calls: their media went through it. The other server
/// takes the number over and closes the records of the calls the dead one left, so the
/// wallboard does not show a caller waiting for the rest of the day; a new caller is then taken
/// by the second.
#[test]
#[ignore = "needs PostgreSQL, Kamailio and the built phone and server: run through `cargo xtask test`"]
fn a_killed_servers_waiting_call_is_closed_in_the_records_by_the_other() -> Result<()> {
    let server = server_binary()?;
    let kamailio = Kamailio::start(SIP_PASSWORD);
    let db = seeded_demo(&server, 3, PASSWORD)?;
    db.sql("INSERT INTO queues (id, name, channel, department_id) VALUES ('sales', 'Sales line', 'phone', 'support')")?;
    let work = tempfile::tempdir()?;
    let [(mut first, _, _), (_second, second_log, _)] = two_servers(&kamailio, &db, work.path(), "")?;
    let (_carol, _) = phone("carol", &kamailio, &["--call", "sip:hotline@127.0.0.1", "--hangup-after-ms", "60000"])?;
    wait("carol queued", || Ok(db.sql("SELECT count(*) FROM acd_events WHERE kind = 'queued'")? == "1"))?;
    let call = db.sql("SELECT call_id FROM acd_events WHERE kind = 'queued'")?;
    let killed_at = std::time::Instant::now();
    first.0.kill()?;
    first.0.wait()?;
    let record =
        || db.sql(&format!("SELECT string_agg(kind, ',' ORDER BY at, id) FROM acd_events WHERE call_id = '{call}'"));
    if let Err(e) = wait("the dead server's call closed", || Ok(record()? == "queued,abandoned")) {
        anyhow::bail!("{e:#}: {}\nsecond server's log:\n{}", record()?, std::fs::read_to_string(&second_log)?);
    }
    eprintln!("the dead server's call was closed {:.1} s after the kill", killed_at.elapsed().as_secs_f64());
    let waited: i64 = db
        .sql(&format!("SELECT waited_ms FROM acd_events WHERE call_id = '{call}' AND kind = 'abandoned'"))?
        .parse()?;
    assert!(waited > 0, "the wait until the server died counts: {waited} ms");
    let closer = db.sql(&format!("SELECT count(DISTINCT instance) FROM acd_events WHERE call_id = '{call}'"))?;
    assert_eq!(closer, "2", "written by the dead server, closed by the other");

    // The second server has the number: dave's call is queued there.
    let (_dave, _) = phone("dave", &kamailio, &["--call", "sip:hotline@127.0.0.1", "--hangup-after-ms", "60000"])?;
    wait("dave queued on the second server", || {
        Ok(db.sql("SELECT count(*) FROM acd_events WHERE kind = 'queued'")? == "2")
    })?;
    Ok(())
}
