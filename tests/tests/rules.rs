//! Work rules end to end (issue 18): a team lead writes a routing rule in the real window
//! ("Rules and templates"), tries it on the latest tickets, saves it, and writes a reply
//! template; a customer's email taken in from Dovecot by the real server then gets what the rule
//! says (its tag and the "Rules" note, shown in the window), and the template goes into the reply
//! box filled in for that customer. An operator's desk asking for the rules is refused by the
//! server. The customer is then asked for a satisfaction mark by a signed link; her "bad",
//! clicked in a real browser, brings the ticket back to the quality team's queue in the window.
//! The team lead also sets where bad marks go and an SLA policy (office hours in Moscow, a
//! holiday) from the window; the email queue's open tickets get the policy's due times.

use anyhow::{Context, Result};
use okno_e2e::server::{
    WAIT, desk_window, headless_desk, invoke, provision, seeded_demo, server_binary, start_server_with_mail, wait,
};
use okno_e2e::{Driver, Session, app_binary, artifacts_dir};
use okno_testkit::mail::{Dovecot, SmtpSink};
use serde_json::json;

const PASSWORD: &str = "e2e-rules-password";

/// Set a `<select>`'s value as a person picking an option does (the page sees a change event).
fn choose(s: &Session, css: &str, value: &str) -> Result<()> {
    s.execute(&format!(
        "const all = document.querySelectorAll({css:?}); const e = all[all.length - 1]; \
         e.value = {value:?}; e.dispatchEvent(new Event('change', {{ bubbles: true }})); return e.value"
    ))?;
    Ok(())
}

/// Replace a text field's content by typing, as a person selecting all and typing over it.
fn retype(s: &Session, css: &str, text: &str) -> Result<()> {
    let field = s.wait_for(css, WAIT)?;
    let field = field.last().context("the field")?;
    s.click(field)?;
    s.press_ctrl("a")?;
    s.type_into(field, text)?;
    Ok(())
}

/// Wait until the open ticket's conversation shows `text`.
fn conversation_shows(s: &Session, text: &str) -> Result<()> {
    s.wait_until(&format!("{text:?} in the conversation"), WAIT, |s| {
        let all = s.find_all("[data-testid=conversation]")?;
        Ok(match all.first() {
            Some(c) if s.text_content(c)?.contains(text) => Some(()),
            _ => None,
        })
    })
}

#[test]
#[ignore = "needs a display, tauri-driver, PostgreSQL, Dovecot, aiosmtpd and the built app and server: run through `cargo xtask test`"]
fn a_team_lead_writes_a_rule_in_the_window_and_incoming_mail_follows_it() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let db = seeded_demo(&server, 6, PASSWORD)?;
    let work = tempfile::tempdir()?;
    let dovecot = Dovecot::start();
    let smtp = SmtpSink::start();
    // The quality team's queue, where the team lead will send bad satisfaction marks from the
    // window; the config file only says where customers reach the server.
    db.sql("INSERT INTO queues (id, name, channel, department_id) VALUES ('quality', 'Quality', 'email', 'support')")?;
    let csat = |port: u16| format!("[csat]\npublic_url = \"http://127.0.0.1:{port}\"\n\n");
    let (_server, port) = start_server_with_mail(&server, &db, work.path(), &dovecot, &smtp, csat)?;

    // The operator's desk: the server refuses her the rules, whatever the window shows.
    let anna_dir = work.path().join("anna");
    std::fs::create_dir_all(&anna_dir)?;
    let anna_prov = provision(&anna_dir, port, "anna")?;
    let (_anna, bridge) = headless_desk(
        &app,
        &["--data-dir", &anna_dir.display().to_string(), "--provision", &anna_prov.display().to_string()],
        Some(PASSWORD),
    )?;
    let mut refused = json!(null);
    wait("anna's desk asks for the rules", || {
        refused = invoke(bridge, "work_rules", json!({})).unwrap_or_else(|e| json!({ "error": e.to_string() }));
        Ok(refused.to_string().contains("forbidden"))
    })
    .with_context(|| format!("the server refuses an operator the rules: {refused}"))?;

    // The team lead's window.
    let driver = Driver::start_with_env(&[("OKNO_E2E_PASSWORD", PASSWORD)])?;
    let mut s = desk_window(&driver, &app, &work.path().join("lena"), port, "lena")?;
    s.click(&s.wait_for("[data-testid=rail-work]", WAIT)?[0])?;
    s.click(&s.wait_for("[data-testid=work-tab-rules]", WAIT)?[0])?;

    // A template first: the rule set may name it, and the reply box will use it.
    s.click(&s.wait_for("[data-testid=work-tab-templates]", WAIT)?[0])?;
    s.click(&s.wait_for("[data-testid=template-add]", WAIT)?[0])?;
    retype(&s, "[data-testid=template-name]", "Счёт получен")?;
    let body = s.wait_for("[data-testid=template-body]", WAIT)?;
    s.type_into(&body[0], "Здравствуйте, {{customer.name}}! Счёт по обращению №{{ticket.number}} получен.")?;
    // With a file that goes with every use.
    let details = work.path().join("реквизиты.pdf");
    std::fs::write(&details, b"%PDF-1.4 bank details e2e")?;
    s.type_into(&s.wait_for("[data-testid=template-file-input]", WAIT)?[0], &details.display().to_string())?;
    s.wait_for("[data-testid=template-file]", WAIT)?;
    s.click(&s.wait_for("[data-testid=template-save]", WAIT)?[0])?;
    wait("the template on the server", || Ok(db.sql("SELECT count(*) FROM templates")? == "1"))?;
    assert_eq!(db.sql("SELECT spec->'attachments'->0->>'name' FROM templates")?, "реквизиты.pdf");

    // The rule: subject contains "счёт" → tag "invoice".
    s.click(&s.wait_for("[data-testid=work-tab-rules]", WAIT)?[0])?;
    s.click(&s.wait_for("[data-testid=rule-add]", WAIT)?[0])?;
    retype(&s, "[data-testid=rule-name]", "Счета в бухгалтерию")?;
    s.click(&s.wait_for("[data-testid=condition-add]", WAIT)?[0])?;
    s.type_into(&s.wait_for("[data-testid=condition-value]", WAIT)?[0], "счёт")?;
    choose(&s, "[data-testid=action-kind]", "add_tags")?;
    let tags = s.wait_for("[data-testid=action-tags]", WAIT)?;
    s.click(&tags[0])?;
    s.press_ctrl("a")?;
    s.type_into(&tags[0], "invoice\u{E004}")?;
    // A bad pattern first: the server's reason is shown next to the rule, nothing is saved.
    choose(&s, "[data-testid=rule-condition] select:nth-of-type(2)", "regex")?;
    retype(&s, "[data-testid=condition-value]", "(счёт")?;
    s.click(&s.wait_for("[data-testid=rule-save]", WAIT)?[0])?;
    let problem = s.wait_for("[data-testid=rule-problem]", WAIT)?;
    let reason = s.text_content(&problem[0])?;
    assert!(reason.contains("rule 1") && reason.contains("regular expression"), "{reason}");
    assert_eq!(db.sql("SELECT version FROM rule_sets")?, "0");
    choose(&s, "[data-testid=rule-condition] select:nth-of-type(2)", "contains")?;
    retype(&s, "[data-testid=condition-value]", "счёт")?;
    s.click(&s.wait_for("[data-testid=rule-dry-run]", WAIT)?[0])?;
    let report = s.wait_for("[data-testid=dry-run-report]", WAIT)?;
    let report = s.text_content(&report[0])?;
    assert!(report.contains(" 6 "), "the dry run replayed the 6 tickets there are: {report}");
    s.click(&s.wait_for("[data-testid=rule-save]", WAIT)?[0])?;
    wait("the rule on the server", || Ok(db.sql("SELECT version FROM rule_sets")? == "1"))?;
    let stored = db.sql("SELECT rules::text FROM rule_sets")?;
    assert!(stored.contains("Счета в бухгалтерию") && stored.contains("\"invoice\""), "{stored}");
    std::fs::create_dir_all(artifacts_dir())?;
    s.screenshot(&artifacts_dir().join("rules-editor.png"))?;

    // How the center asks for marks: bad ones reopen in the quality team's queue.
    s.click(&s.wait_for("[data-testid=work-tab-csat]", WAIT)?[0])?;
    let email = s.wait_for("[data-testid=csat-email]", WAIT)?;
    assert_eq!(
        s.property(&email[0], "checked")?,
        "true",
        "email questions are on while the config has a public address"
    );
    choose(&s, "[data-testid=csat-manager-queue]", "quality")?;
    s.click(&s.wait_for("[data-testid=csat-save]", WAIT)?[0])?;
    wait("the satisfaction settings on the server", || {
        Ok(db.sql("SELECT csat_settings->>'manager_queue_id' FROM deployment")? == "quality")
    })?;
    s.screenshot(&artifacts_dir().join("csat-settings.png"))?;

    // An SLA policy (office hours in Moscow, 4 h premium / 8 h standard, a holiday) for the
    // email queue: its open tickets get due times by the policy's calendar.
    s.click(&s.wait_for("[data-testid=work-tab-sla]", WAIT)?[0])?;
    s.click(&s.wait_for("[data-testid=sla-add]", WAIT)?[0])?;
    retype(&s, "[data-testid=sla-name]", "Офис")?;
    s.type_into(&s.wait_for("[data-testid=sla-holidays]", WAIT)?[0], "2027-01-01")?;
    s.click(&s.wait_for("[data-testid=sla-save]", WAIT)?[0])?;
    wait("the policy on the server", || Ok(db.sql("SELECT spec->>'name' FROM sla_policies")? == "Офис"))?;
    let policy_id = db.sql("SELECT id FROM sla_policies")?;
    assert_eq!(db.sql("SELECT spec->'calendar'->'holidays'->>0 FROM sla_policies")?, "2027-01-01");
    choose(&s, "[data-testid=sla-queue][data-queue-id=email]", &policy_id)?;
    wait("the email queue on the policy", || {
        Ok(db.sql("SELECT coalesce(sla_policy_id, '') FROM queues WHERE id = 'email'")? == policy_id)
    })?;
    let spec: okno_rules::SlaPolicySpec = serde_json::from_str(&db.sql("SELECT spec::text FROM sla_policies")?)?;
    let policy = okno_rules::SlaPolicy::compile(&spec)?;
    let open = db.sql(
        "SELECT string_agg(concat_ws('|', t.id, c.tier, t.channel, t.priority, t.created_at, \
           coalesce(t.first_response_at::text, ''), coalesce(t.first_response_due_at::text, ''), t.sla_pauses::text), \
           E'\\n' ORDER BY t.id) FROM tickets t JOIN customers c ON c.id = t.customer_id \
         WHERE t.queue_id = 'email' AND t.status NOT IN ('resolved', 'closed')",
    )?;
    assert!(!open.is_empty(), "the demo has open email tickets");
    for line in open.lines() {
        let f: Vec<&str> = line.split('|').collect();
        let [id, tier, channel, priority, created, responded, due, pauses] = f[..] else {
            anyhow::bail!("a row of eight fields: {line}")
        };
        let clock = okno_rules::TicketClock {
            created_at: created.parse()?,
            first_response_at: responded.parse().ok(),
            resolved_at: None,
            pauses: serde_json::from_str(pauses)?,
        };
        let want = policy.due(tier.parse()?, channel.parse()?, priority.parse()?, &clock);
        assert_eq!(due.parse().ok(), want.first_response, "ticket {id}: {line}");
    }
    s.screenshot(&artifacts_dir().join("sla-policy.png"))?;
    s.press("\u{E00C}")?;

    // Mail that the rule catches.
    let subject = format!("Счёт №{} на оплату", std::process::id());
    dovecot.deliver(
        format!(
            "From: Olga Petrova <olga.petrova@example.com>\r\nTo: support@shop.test\r\nSubject: {subject}\r\n\
             Message-ID: <rules-{pid}@mail.example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nСчёт во вложении.\r\n",
            pid = std::process::id()
        )
        .as_bytes(),
    );
    let mut ticket = String::new();
    wait("the email as a ticket tagged by the rule", || {
        ticket = db.sql(&format!("SELECT id FROM tickets WHERE subject = '{subject}' AND tags ? 'invoice'"))?;
        Ok(!ticket.is_empty())
    })?;
    let row = s.wait_for(&format!("[data-testid=ticket-row][data-ticket-id='{ticket}']"), WAIT)?;
    s.click(&row[0])?;
    conversation_shows(&s, "«Счета в бухгалтерию»")
    .inspect_err(|_| {
        let _ = s.screenshot(&artifacts_dir().join("rules-note-missing.png"));
        eprintln!("server messages: {:?}", db.sql(&format!("SELECT string_agg(direction || ':' || author_name || ':' || left(body, 60), ' | ') FROM messages WHERE ticket_id = '{ticket}'")));
    })?;

    // The template from the reply box: Ctrl+Shift+T, type to find it, Enter.
    let reply = s.wait_for("[data-testid=reply-box]", WAIT)?;
    s.click(&reply[0])?;
    s.click(&s.wait_for("[data-testid=reply-templates]", WAIT)?[0])?;
    let search = s.wait_for("[data-testid=template-search]", WAIT)?;
    s.type_into(&search[0], "счет\u{E007}")?;
    let number = db.sql(&format!("SELECT number FROM tickets WHERE id = '{ticket}'"))?;
    let text = s.wait_until("the template in the reply box", WAIT, |s| {
        let value = s.property(&s.find_all("[data-testid=reply-box]")?[0], "value")?;
        Ok(value.contains("получен").then_some(value))
    })?;
    assert_eq!(text, format!("Здравствуйте, Olga Petrova! Счёт по обращению №{number} получен."));
    let files = s.wait_for("[data-testid=reply-files]", WAIT)?;
    assert!(s.text_content(&files[0])?.contains("реквизиты.pdf"), "the template's file goes with the reply");
    s.screenshot(&artifacts_dir().join("rules-template-inserted.png"))?;

    // Sent and resolved: the customer is asked for a mark by a link, and her "bad" from a real
    // browser sends the ticket back, unassigned, to the quality team's queue in the window.
    s.click(&s.wait_for("[data-testid=reply-send]", WAIT)?[0])?;
    wait("the reply on the server", || {
        Ok(db.sql(&format!("SELECT count(*) FROM messages WHERE ticket_id = '{ticket}' AND direction = 'outbound'"))?
            == "1")
    })?;
    let sent = s.wait_until("the reply in the customer's mailbox", WAIT, |_| {
        Ok(smtp.delivered().iter().map(|raw| okno_mail::read(raw, 1 << 20)).find(|m| m.text.contains("получен")))
    })?;
    let attached: Vec<&str> = sent.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(attached, ["реквизиты.pdf"]);
    assert_eq!(sent.attachments[0].data, b"%PDF-1.4 bank details e2e");
    s.press("\u{E00C}")?;
    s.press("e")?;
    wait(
        "the ticket closed",
        || Ok(db.sql(&format!("SELECT status FROM tickets WHERE id = '{ticket}'"))? == "closed"),
    )?;
    let ask = s.wait_until("the satisfaction question in the customer's mailbox", WAIT, |_| {
        Ok(smtp.delivered().iter().map(|raw| okno_mail::read(raw, 1 << 20)).find(|m| m.text.contains("/csat/")))
    })?;
    let link = ask.text.split_whitespace().find(|w| w.contains("/csat/")).context("the link")?.to_owned();
    assert!(link.starts_with(&format!("http://127.0.0.1:{port}/csat/")), "{link}");
    let chrome = Driver::start_chromedriver()?;
    let mut browser = chrome.launch_chromium(&link)?;
    let comment = browser.wait_for("textarea#comment", WAIT)?;
    browser.type_into(&comment[0], "Курьер так и не приехал")?;
    browser.click(&browser.wait_for("button[data-score=bad]", WAIT)?[0])?;
    browser.wait_until("the thank-you page", WAIT, |b| {
        let body = b.find_all("body")?;
        Ok(match body.first() {
            Some(e) if b.text_content(e)?.contains("Спасибо") => Some(()),
            _ => None,
        })
    })?;
    browser.quit()?;
    wait("the ticket back in the quality queue", || {
        Ok(db.sql(&format!("SELECT queue_id || '/' || status FROM tickets WHERE id = '{ticket}'"))? == "quality/open")
    })?;
    let row = s.wait_until("the reopened ticket in the window, tagged", WAIT, |s| {
        for row in s.find_all(&format!("[data-testid=ticket-row][data-ticket-id='{ticket}']"))? {
            let text = s.text_content(&row)?;
            if text.contains("csat-bad") {
                return Ok(Some(row));
            }
        }
        Ok(None)
    })?;
    s.click(&row)?;
    conversation_shows(&s, "Курьер так и не приехал")?;
    s.screenshot(&artifacts_dir().join("csat-bad-reopened.png"))?;
    s.quit()?;
    Ok(())
}
