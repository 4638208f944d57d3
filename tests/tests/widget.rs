//! The website chat end to end: a shop page in headless Chromium embeds the real okno-server's
//! widget; a visitor fills in the form, writes and sends a picture; the chat appears in the
//! operator's real window (through sync), the operator's reply typed there appears in the
//! visitor's browser, the conversation survives a page reload, and a second visitor in another
//! browser gets their own answer and never the first one's.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use okno_e2e::server::{
    Database, WAIT, headless_desk, invoke, provision, reply, seeded_demo, server_binary, start_server, wait, wait_state,
};
use okno_e2e::{Driver, Session, SessionBus, app_binary, artifacts_dir, free_port};
use serde_json::json;

const PASSWORD: &str = "e2e-chat-password";
const HOST: &str = "#okno-chat";

/// A visitor's browser on the demo shop page.
fn visitor(chrome: &Driver, port: u16) -> Result<Session> {
    let page = chrome.launch_chromium(&format!("http://127.0.0.1:{port}/widget/demo?channel=shop&lang=en"))?;
    let launcher = page.wait_in_shadow(HOST, ".launcher", WAIT)?;
    page.click(&launcher[0])?;
    Ok(page)
}

/// The chat's lines as the visitor sees them.
fn lines(page: &Session) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    for line in page.find_in_shadow(HOST, ".log .msg")? {
        texts.push(page.text_content(&line)?);
    }
    Ok(texts)
}

fn wait_line(page: &Session, text: &str) -> Result<()> {
    page.wait_until(&format!("{text:?} in the visitor's chat"), WAIT, |p| {
        Ok(lines(p)?.iter().any(|l| l.contains(text)).then_some(()))
    })
}

fn start_chat(page: &Session, name: &str, contact: &str, first: &str) -> Result<()> {
    let fields = page.wait_in_shadow(HOST, "form.start input[name=name]", WAIT)?;
    page.type_into(&fields[0], name)?;
    page.type_into(&page.find_in_shadow(HOST, "form.start input[name=contact]")?[0], contact)?;
    page.click(&page.find_in_shadow(HOST, "form.start button[type=submit]")?[0])?;
    let text = page.wait_in_shadow(HOST, ".compose textarea", WAIT)?;
    // Typed as a visitor types: the Enter key sends.
    page.type_into(&text[0], &format!("{first}\u{E007}"))?;
    wait_line(page, first)
}

#[test]
#[ignore = "needs a display, tauri-driver, chromedriver and Chromium, PostgreSQL, and the built app and server: run through `cargo xtask test`"]
fn a_website_visitor_chats_with_the_operator_in_the_window() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let db = seeded_demo(&server, 2, PASSWORD)?;
    let work = tempfile::tempdir()?;
    let config = work.path().join("okno-server.toml");
    std::fs::write(&config, "[[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\ntitle = \"Shop support\"\n")?;
    let port = free_port()?;
    let config_arg = config.display().to_string();
    let _server = start_server(&server, &db, port, &work.path().join("server.log"), &["--config", &config_arg], &[])?;

    // The widget is one small script a site embeds.
    let script = ureq::get(&format!("http://127.0.0.1:{port}/widget.js")).call()?;
    assert!(script.content_type().contains("javascript"));

    let chrome = Driver::start_chromedriver()?;
    let olga = visitor(&chrome, port)?;
    start_chat(&olga, "Olga", "olga@example.com", "Hello, where is order 5512?")?;
    // A picture through the widget's file button (WebDriver sets the file input's path).
    let picture = work.path().join("receipt.png");
    std::fs::write(&picture, include_bytes!("../../icons/32x32.png"))?;
    let input = olga.find_in_shadow(HOST, "input[name=file]")?;
    olga.type_into(&input[0], &picture.display().to_string())?;
    olga.wait_until("the picture in the visitor's chat", WAIT, |p| {
        Ok((!p.find_in_shadow(HOST, ".log .msg.visitor img[src^='blob:']")?.is_empty()).then_some(()))
    })?;
    let mut ticket = String::new();
    wait("the chat as a ticket on the server", || {
        ticket =
            db.sql("SELECT id FROM tickets WHERE channel = 'chat' AND subject LIKE 'Hello, where is order 5512%'")?;
        Ok(!ticket.is_empty())
    })?;

    // The operator's window: the chat in the inbox, with the page the visitor wrote from.
    let dir = work.path().join("desk");
    std::fs::create_dir_all(&dir)?;
    let prov = provision(&dir, port, "anna")?;
    // A private session bus whose monitor sees the desk's desktop notifications.
    let bus = SessionBus::start(work.path())?;
    let driver =
        Driver::start_with_env(&[("OKNO_E2E_PASSWORD", PASSWORD), ("DBUS_SESSION_BUS_ADDRESS", &bus.address)])?;
    let args = ["--data-dir", &dir.display().to_string(), "--provision", &prov.display().to_string()];
    let desk = driver.launch(&app, &args.map(str::to_owned))?;
    wait_state(&desk, "online")?;
    let row = desk.wait_for(&format!("[data-testid=ticket-row][data-ticket-id='{ticket}']"), WAIT)?;
    assert_eq!(desk.attribute(&row[0], "data-channel")?.as_deref(), Some("chat"));
    desk.click(&row[0])?;
    let mut shown = String::new();
    let conversation = desk
        .wait_until("the visitor's words and page in the window", WAIT, |s| {
            shown = s.text_content(&s.wait_for("[data-testid=conversation]", WAIT)?[0])?;
            Ok((shown.contains("where is order 5512") && shown.contains("/widget/demo")).then(|| shown.clone()))
        })
        .with_context(|| format!("the window shows: {shown}"))?;
    assert!(conversation.contains("Olga"), "{conversation}");

    // The visitor types (without sending): the window says so.
    // (The window's live socket may still be connecting: the visitor keeps typing, as people do.)
    let text = olga.find_in_shadow(HOST, ".compose textarea")?;
    let typing_seen = (0..12).any(|_| {
        let _ = olga.type_into(&text[0], "One more thing ");
        desk.wait_for("[data-testid=visitor-typing]", Duration::from_millis(2500)).is_ok()
    });
    assert!(typing_seen, "the window never showed the visitor typing");
    olga.execute("document.querySelector('#okno-chat').shadowRoot.querySelector('.compose textarea').value = ''")?;

    // The operator answers in the window; the visitor's browser shows it.
    // The operator starts typing: the visitor sees it.
    let answer = "Olga, order 5512 leaves the warehouse today.";
    let (greeting, rest) = answer.split_at(6);
    let reply_box = desk.wait_for("[data-testid=reply-box]", WAIT)?;
    desk.type_into(&reply_box[0], greeting)?;
    olga.wait_in_shadow(HOST, ".typing:not([hidden])", WAIT).context("the widget shows the operator typing")?;
    let sent_at = Instant::now();
    reply(&desk, rest)?;
    wait_line(&olga, answer)?;
    eprintln!(
        "window reply to the visitor's browser: {} ms (including the window's own send)",
        sent_at.elapsed().as_millis()
    );
    olga.wait_until("the visitor's message marked read", WAIT, |p| {
        Ok(lines(p)?.iter().any(|l| l.contains("5512?") && l.contains("Read")).then_some(()))
    })?;
    // Olga's open widget has shown the answer: the window marks the reply read by the visitor.
    let receipt = desk.wait_for("[data-testid=chat-receipt][data-read=true]", WAIT)?;
    let said = desk.text_content(&receipt[0])?;
    assert!(said.contains("Read by the visitor"), "the window's receipt on the reply: {said}");
    // The operator takes the chat; when the visitor writes again, the desk announces it.
    desk.click(&desk.wait_for("[data-testid=assign-me]", WAIT)?[0])?;
    wait("the chat assigned to anna on the server", || {
        Ok(db.sql(&format!("SELECT assignee_id FROM tickets WHERE id = '{ticket}'"))? == "anna")
    })?;
    std::thread::sleep(Duration::from_millis(1500));
    let text = olga.find_in_shadow(HOST, ".compose textarea")?;
    olga.type_into(&text[0], "Thank you, waiting for it!\u{E007}")?;
    desk.wait_until("a desktop notification of the visitor's new message", WAIT, |_| {
        let log = bus.notifications();
        Ok((log.contains("New message") && log.contains("Thank you, waiting")).then_some(()))
    })?;
    let artifacts = artifacts_dir();
    std::thread::sleep(Duration::from_millis(500));
    olga.screenshot(&artifacts.join("widget-chat.png"))?;
    desk.screenshot(&artifacts.join("widget-desk.png"))?;

    // A reload keeps the conversation (the visitor token in the page's storage).
    olga.execute("location.reload()")?;
    let launcher = olga.wait_in_shadow(HOST, ".launcher", WAIT)?;
    olga.click(&launcher[0])?;
    wait_line(&olga, answer)?;
    let after = lines(&olga)?;
    assert!(after[0].contains("where is order 5512"), "{after:?}");
    assert_eq!(after.len(), 4, "message, picture, answer, thanks: {after:?}");

    // A second visitor in another browser gets their own answer, and Olga never sees it.
    let ivan = visitor(&chrome, port)?;
    start_chat(&ivan, "Ivan", "+7 915 000-11-22", "Можно оплатить картой?")?;
    let mut second = String::new();
    wait("the second chat as a ticket", || {
        second = db.sql("SELECT id FROM tickets WHERE channel = 'chat' AND subject LIKE 'Можно оплатить%'")?;
        Ok(!second.is_empty())
    })?;
    let row = desk.wait_for(&format!("[data-testid=ticket-row][data-ticket-id='{second}']"), WAIT)?;
    // The online desk announced the new chat.
    desk.wait_until("a desktop notification of the new chat", WAIT, |_| {
        let log = bus.notifications();
        Ok((log.contains("New chat") && log.contains("Можно оплатить")).then_some(()))
    })?;
    desk.click(&row[0])?;
    desk.wait_until("the second chat open", WAIT, |s| {
        let text = s.text_content(&s.wait_for("[data-testid=conversation]", WAIT)?[0])?;
        Ok(text.contains("Можно оплатить").then_some(()))
    })?;
    reply(&desk, "Да, картой можно.")?;
    wait_line(&ivan, "Да, картой можно.")?;
    std::thread::sleep(Duration::from_millis(500));
    assert!(!lines(&olga)?.iter().any(|l| l.contains("картой")), "Olga saw Ivan's answer");
    Ok(())
}

/// The widget on a site served over HTTPS: okno-server listens with TLS only (its self-signed
/// certificate, which the test's Chromium is told to accept), so the page, the widget's script
/// and its chat socket (`wss://`, as an `https://` page makes it) all cross TLS; a plain `ws://`
/// socket would find nobody. The visitor's first message reaches an operator's desk (itself
/// over TLS, trusting the certificate), and the operator's answer reaches the browser.
#[test]
#[ignore = "needs chromedriver and Chromium, PostgreSQL, and the built app and server: run through `cargo xtask test`"]
fn a_website_visitor_chats_over_https_and_wss() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let db = seeded_demo(&server, 3, PASSWORD)?;
    let work = tempfile::tempdir()?;
    let config = work.path().join("okno-server.toml");
    std::fs::write(&config, "[[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\n")?;
    let certs = work.path().join("certs");
    let (config_arg, certs_arg) = (config.display().to_string(), certs.display().to_string());
    let port = free_port()?;
    let args = ["--config", &config_arg, "--tls-self-signed", &certs_arg];
    let _server = start_server(&server, &db, port, &work.path().join("server.log"), &args, &[])?;

    let desk_dir = work.path().join("desk");
    std::fs::create_dir_all(&desk_dir)?;
    let provision = desk_dir.join("provision.toml");
    std::fs::write(
        &provision,
        format!(
            "server_url = \"https://127.0.0.1:{port}\"\n[server]\noperator = \"anna\"\npassword_env = \"OKNO_E2E_PASSWORD\"\nca_file = \"{}\"\n",
            certs.join("okno-server.crt").display()
        ),
    )?;
    let (_desk, http) = headless_desk(
        &app,
        &["--data-dir", &desk_dir.display().to_string(), "--provision", &provision.display().to_string()],
        Some(PASSWORD),
    )?;
    wait("the desk online over TLS", || {
        Ok(invoke(http, "sync_status", json!({})).is_ok_and(|s| s["connection"] == "online"))
    })?;

    let chrome = Driver::start_chromedriver()?;
    let url = format!("https://127.0.0.1:{port}/widget/demo?channel=shop&lang=en");
    let page = chrome.launch_chromium_with(&url, &["--ignore-certificate-errors".to_owned()])?;
    let protocol = page.execute("return location.protocol")?;
    assert_eq!(protocol, "https:", "the shop page came over HTTPS");
    let launcher = page.wait_in_shadow(HOST, ".launcher", WAIT)?;
    page.click(&launcher[0])?;
    start_chat(&page, "Vera", "vera@example.com", "Is the shop open on Sunday over TLS?")?;

    let mut ticket = String::new();
    wait("the chat on the operator's desk", || {
        let found = invoke(http, "search", json!({ "query": "Sunday", "limit": 5 }))?;
        let hit = found["messages"].as_array().into_iter().flatten().find_map(|m| m["ticket_id"].as_str());
        ticket = hit.unwrap_or_default().to_owned();
        Ok(!ticket.is_empty())
    })?;
    let answer =
        json!({ "ticketId": ticket, "body": "Yes, from ten to six.", "internal": false, "cc": [], "attachments": [] });
    invoke(http, "reply_ticket", answer)?;
    wait_line(&page, "Yes, from ten to six.")?;
    Ok(())
}

#[test]
#[ignore = "needs chromedriver and Chromium, PostgreSQL and the built server: run through `cargo xtask test`"]
fn a_bad_channel_is_refused_and_the_widget_stays_quiet() -> Result<()> {
    let server = server_binary()?;
    let db = Database::create("okno_e2e")?;
    let work = tempfile::tempdir()?;
    let config = work.path().join("okno-server.toml");
    // The queue does not exist: the server refuses to start, naming the key.
    std::fs::write(&config, "[[chat]]\nchannel = \"shop\"\nqueue = \"nowhere\"\n")?;
    let out = Command::new(&server)
        .args(["--listen", &format!("127.0.0.1:{}", free_port()?), "--config", &config.display().to_string()])
        .env("DATABASE_URL", db.url())
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("chat[0].queue"), "{stderr}");
    Command::new(&server).args(["seed", "--demo", "--tickets", "1"]).env("DATABASE_URL", db.url()).output()?;
    std::fs::write(&config, "[[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\n")?;
    let port = free_port()?;
    let config_arg = config.display().to_string();
    let _server = start_server(&server, &db, port, &work.path().join("server.log"), &["--config", &config_arg], &[])?;
    // A page naming a channel the server does not have: the widget keeps trying quietly and
    // the host page is unharmed.
    let chrome = Driver::start_chromedriver()?;
    let page = chrome.launch_chromium(&format!("http://127.0.0.1:{port}/widget/demo?channel=gone"))?;
    let launcher = page.wait_in_shadow(HOST, ".launcher", WAIT)?;
    page.click(&launcher[0])?;
    let status = page.wait_in_shadow(HOST, ".status", WAIT).context("the widget says it is not connected")?;
    assert!(page.text_content(&status[0])?.contains("Reconnecting"));
    let heading = page.execute("return document.querySelector('h1').textContent")?;
    assert_eq!(heading, "A shop page");
    Ok(())
}

/// The buttons of the widget's rating form: (score, label, pressed).
fn score_buttons(page: &Session) -> Result<Vec<(String, String, String)>> {
    let mut buttons = Vec::new();
    for b in page.find_in_shadow(HOST, "form.rating .scores button")? {
        let score = page.attribute(&b, "data-score")?.unwrap_or_default();
        let pressed = page.attribute(&b, "aria-pressed")?.unwrap_or_default();
        buttons.push((score, page.text_content(&b)?, pressed));
    }
    Ok(buttons)
}

/// A visitor ends the chat and rates it with the buttons of the center's scale: stars where
/// the center asks for one to five, words where it asks good / normal / bad. What they clicked
/// is the mark stored on the ticket.
#[test]
#[ignore = "needs chromedriver and Chromium, PostgreSQL and the built server: run through `cargo xtask test`"]
fn a_visitor_rates_the_chat_with_the_centers_scale_in_the_browser() -> Result<()> {
    let server = server_binary()?;
    let db = seeded_demo(&server, 3, PASSWORD)?;
    let work = tempfile::tempdir()?;
    let config = work.path().join("okno-server.toml");
    std::fs::write(&config, "[[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\n")?;
    let port = free_port()?;
    let config_arg = config.display().to_string();
    let _server = start_server(&server, &db, port, &work.path().join("server.log"), &["--config", &config_arg], &[])?;
    let chrome = Driver::start_chromedriver()?;
    let settings = |scale: &str| {
        format!(
            "UPDATE deployment SET csat_settings = '{{\"scale\": \"{scale}\", \"ask_by_email\": false, \
             \"ask_in_chat\": true, \"manager_queue_id\": null}}'"
        )
    };
    let cases = [
        ("five", "Rita", "Do you deliver on Sunday?", "4", vec!["5", "4", "3", "2", "1"]),
        ("three", "Oleg", "Do you deliver on Monday?", "bad", vec!["good", "normal", "bad"]),
    ];
    for (scale, name, first, choice, scores) in cases {
        db.sql(&settings(scale))?;
        let page = visitor(&chrome, port)?;
        start_chat(&page, name, &format!("{}@example.com", name.to_lowercase()), first)?;
        let end = page.wait_until("the end button", WAIT, |p| {
            let buttons = p.find_in_shadow(HOST, ".head button")?;
            for b in buttons {
                if p.text_content(&b)?.contains("End") {
                    return Ok(Some(b));
                }
            }
            Ok(None)
        })?;
        page.click(&end)?;
        page.wait_in_shadow(HOST, "form.rating:not([hidden]) .scores button", WAIT)?;
        let shown = score_buttons(&page)?;
        let shown_scores: Vec<&str> = shown.iter().map(|(s, _, _)| s.as_str()).collect();
        assert_eq!(shown_scores, scores, "{scale}: the buttons of the center's scale, best first: {shown:?}");
        if scale == "five" {
            assert_eq!(shown[1].1, "★★★★", "four stars for 4");
        } else {
            assert_eq!(shown[2].1, "Bad", "the word in the visitor's language");
        }
        let pick = page
            .find_in_shadow(HOST, &format!("form.rating .scores button[data-score='{choice}']"))?
            .into_iter()
            .next()
            .context("the score's button")?;
        page.click(&pick)?;
        let pressed: Vec<String> = score_buttons(&page)?.into_iter().filter(|b| b.2 == "true").map(|b| b.0).collect();
        assert_eq!(pressed, [choice], "the chosen button shows pressed");
        let comment = page.find_in_shadow(HOST, "form.rating textarea")?;
        page.type_into(&comment[0], "Quick answer")?;
        page.click(&page.find_in_shadow(HOST, "form.rating button[type=submit]")?[0])?;
        let thanks = page.wait_in_shadow(HOST, ".note[role=status]:not([hidden])", WAIT)?;
        assert!(page.text_content(&thanks[0])?.contains("Thank you"), "the visitor is thanked");
        let stored = db.sql(&format!(
            "SELECT e.data->>'score' || '|' || (e.data->>'comment') FROM events e JOIN messages m ON m.ticket_id = e.ticket_id \
             WHERE e.kind = 'csat_received' AND m.body LIKE '%{first}%'"
        ))?;
        assert_eq!(stored, format!("{choice}|Quick answer"), "{scale}: the mark on the chat's ticket");
    }
    Ok(())
}

/// The chat's lines in the widget inside the `i`th frame of the page.
const FRAME_LINES: &str = "const w = document.querySelectorAll('iframe')[arguments[0]].contentDocument; \
    const host = w && w.querySelector('#okno-chat'); \
    return host ? [...host.shadowRoot.querySelectorAll('.log .msg')].map(m => m.textContent) : [];";

#[test]
#[ignore = "needs a display, tauri-driver, chromedriver and Chromium, PostgreSQL, and the built app and server: run through `cargo xtask test`"]
fn ten_visitors_at_once_each_get_the_operators_answer_in_their_browser() -> Result<()> {
    const VISITORS: usize = 10;
    let (app, server) = (app_binary()?, server_binary()?);
    let db = seeded_demo(&server, 1, PASSWORD)?;
    let work = tempfile::tempdir()?;
    // Ten shop pages, one channel each: a browser keeps one visitor per channel, so ten frames
    // of one browser are ten visitors.
    let config = work.path().join("okno-server.toml");
    let channels: String =
        (0..VISITORS).map(|i| format!("[[chat]]\nchannel = \"shop{i}\"\nqueue = \"chat\"\n")).collect();
    std::fs::write(&config, channels)?;
    let port = free_port()?;
    let config_arg = config.display().to_string();
    let _server = start_server(&server, &db, port, &work.path().join("server.log"), &["--config", &config_arg], &[])?;

    let dir = work.path().join("desk");
    std::fs::create_dir_all(&dir)?;
    let prov = provision(&dir, port, "anna")?;
    let driver = Driver::start_with_env(&[("OKNO_E2E_PASSWORD", PASSWORD)])?;
    let args = ["--data-dir", &dir.display().to_string(), "--provision", &prov.display().to_string()];
    let desk = driver.launch(&app, &args.map(str::to_owned))?;
    wait_state(&desk, "online")?;

    let chrome = Driver::start_chromedriver()?;
    let page = chrome.launch_chromium(&format!("http://127.0.0.1:{port}/widget/demo?channel=shop0"))?;
    page.execute_async_with(
        "const [n, done] = [arguments[0], arguments[arguments.length - 1]]; \
         document.body.innerHTML = [...Array(n).keys()].map(i => \
           `<iframe src=\"/widget/demo?channel=shop${i}&lang=en\" width=\"400\" height=\"640\"></iframe>`).join(''); \
         let loaded = 0; document.querySelectorAll('iframe').forEach(f => f.onload = () => ++loaded === n && done(true));",
        &[VISITORS.into()],
    )?;
    // Each visitor opens the chat, introduces themselves and asks, all at once.
    page.execute_async_with(
        "const [n, done] = [arguments[0], arguments[arguments.length - 1]]; \
         const root = (i) => document.querySelectorAll('iframe')[i].contentDocument.querySelector('#okno-chat').shadowRoot; \
         const until = (f) => new Promise(r => { const t = setInterval(() => { if (f()) { clearInterval(t); r(); } }, 50); }); \
         Promise.all([...Array(n).keys()].map(async i => { \
           await until(() => root(i)); const r = root(i); \
           r.querySelector('.launcher').click(); \
           await until(() => !r.querySelector('form.start').hidden); \
           r.querySelector('form.start input[name=name]').value = `Visitor ${i}`; \
           r.querySelector('form.start input[name=contact]').value = `visitor${i}@example.com`; \
           r.querySelector('form.start').requestSubmit(); \
           await until(() => !r.querySelector('.compose').hidden); \
           const box = r.querySelector('.compose textarea'); box.value = `Question from visitor ${i}`; \
           box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' })); \
         })).then(() => done(true));",
        &[VISITORS.into()],
    )?;
    let mut tickets = Vec::new();
    wait("ten chats on the server", || {
        let ids = db
            .sql("SELECT string_agg(id || '=' || subject, ',' ORDER BY subject) FROM tickets WHERE channel = 'chat'")?;
        tickets = ids.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        Ok(tickets.len() == VISITORS)
    })?;
    // The operator answers each from the window.
    for entry in &tickets {
        let (id, subject) = entry.split_once('=').context("id=subject")?;
        let visitor: usize = subject.rsplit(' ').next().and_then(|n| n.parse().ok()).context("the visitor's number")?;
        desk.click(&desk.wait_for(&format!("[data-testid=ticket-row][data-ticket-id='{id}']"), WAIT)?[0])?;
        desk.wait_until("the chat open", WAIT, |s| {
            let text = s.text_content(&s.wait_for("[data-testid=conversation]", WAIT)?[0])?;
            Ok(text.contains(subject).then_some(()))
        })?;
        reply(&desk, &format!("Answer for visitor {visitor}"))?;
    }
    // Every browser frame shows its own answer and nobody else's.
    for i in 0..VISITORS {
        let own = format!("Answer for visitor {i}");
        let lines = page.wait_until(&format!("visitor {i}'s answer"), WAIT, |p| {
            let lines = p.execute_async_with(
                &format!("const done = arguments[arguments.length - 1]; done((() => {{ {FRAME_LINES} }})())"),
                &[i.into()],
            )?;
            let lines: Vec<String> = lines
                .as_array()
                .map(|a| a.iter().filter_map(|l| l.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            Ok(lines.iter().any(|l| l.contains(&own)).then_some(lines))
        })?;
        let answers = lines.iter().filter(|l| l.contains("Answer for visitor")).count();
        assert_eq!(answers, 1, "visitor {i} sees only their own answer: {lines:?}");
    }
    std::thread::sleep(Duration::from_millis(500));
    page.screenshot(&artifacts_dir().join("widget-ten-visitors.png"))?;
    Ok(())
}
