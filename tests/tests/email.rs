//! Email end to end: a customer's message put into Dovecot becomes a ticket in the operator's
//! window (through the real okno-server's IMAP intake and sync), the window shows the sender and
//! the message, the operator's reply typed in the window (with a copy address and a file) leaves through the server's SMTP outbox,
//! arrives in the customer's mailbox (aiosmtpd) threaded to their message, and the window shows
//! it as sent.

use anyhow::{Context, Result};
use okno_e2e::server::{WAIT, desk_window, reply, seeded_demo, server_binary, start_server_with_mail, wait};
use okno_e2e::{Driver, app_binary, artifacts_dir};
use okno_testkit::mail::{Dovecot, SmtpSink};

const PASSWORD: &str = "e2e-email-password";

#[test]
#[ignore = "needs a display, tauri-driver, PostgreSQL, Dovecot, aiosmtpd and the built app and server: run through `cargo xtask test`"]
fn an_email_becomes_a_ticket_and_the_reply_from_the_window_reaches_the_customer_threaded() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let db = seeded_demo(&server, 4, PASSWORD)?;
    let work = tempfile::tempdir()?;

    let dovecot = Dovecot::start();
    let smtp = SmtpSink::start();
    let (_server, port) = start_server_with_mail(&server, &db, work.path(), &dovecot, &smtp, |_| String::new())?;

    let subject = format!("Parcel 77{} arrived damaged", std::process::id());
    let message = format!(
        "From: Olga Petrova <olga.petrova@example.com>\r\nTo: support@shop.test\r\nSubject: {subject}\r\n\
         Message-ID: <e2e-{pid}@mail.example.com>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0300\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nКоробка пришла мятая, внутри разбитая чашка.\r\n",
        pid = std::process::id()
    );
    dovecot.deliver(message.as_bytes());
    let mut ticket = String::new();
    wait("the email as a ticket on the server", || {
        ticket = db.sql(&format!("SELECT id FROM tickets WHERE subject = '{subject}'"))?;
        Ok(!ticket.is_empty())
    })?;
    let number = db.sql(&format!("SELECT number FROM tickets WHERE id = '{ticket}'"))?;

    let driver = Driver::start_with_env(&[("OKNO_E2E_PASSWORD", PASSWORD)])?;
    let mut s = desk_window(&driver, &app, &work.path().join("desk"), port, "anna")?;
    let row = s.wait_for(&format!("[data-testid=ticket-row][data-ticket-id='{ticket}']"), WAIT)?;
    assert_eq!(s.attribute(&row[0], "data-channel")?.as_deref(), Some("email"));
    s.click(&row[0])?;
    let head = s.wait_for("[data-testid=mail-head]", WAIT)?;
    let head_text = s.text_content(&head[0])?;
    assert!(head_text.contains("olga.petrova@example.com"), "the sender is shown: {head_text:?}");
    let conversation = s.text_content(&s.wait_for("[data-testid=conversation]", WAIT)?[0])?;
    assert!(conversation.contains("Коробка пришла мятая"), "the message is shown: {conversation:?}");

    let text = "Ольга, мы отправили новую чашку сегодня.";
    let cc = s.wait_for("[data-testid=reply-cc]", WAIT)?;
    s.type_into(&cc[0], "warehouse@shop.test")?;
    // A file through the composer's file picker (WebDriver sets an <input type=file>'s path).
    let waybill = work.path().join("накладная.pdf");
    std::fs::write(&waybill, b"%PDF-1.4 waybill e2e")?;
    let picker = s.wait_for("[data-testid=reply-file-input]", WAIT)?;
    s.type_into(&picker[0], &waybill.display().to_string())?;
    s.wait_until("the file uploaded and listed", WAIT, |s| {
        let listed = s.find_all("[data-testid=reply-files]")?;
        let done = s.find_all("[data-testid=uploading]")?.is_empty();
        Ok(match listed.first() {
            Some(e) if done && s.text_content(e)?.contains("накладная.pdf") => Some(()),
            _ => None,
        })
    })?;
    reply(&s, text)?;
    let delivered = s.wait_until("the reply in the customer's mailbox", WAIT, |_| {
        let all = smtp.delivered();
        Ok((!all.is_empty()).then_some(all))
    })?;
    assert_eq!(delivered.len(), 1);
    let mail = okno_mail::read(&delivered[0], 1 << 20);
    assert_eq!(mail.to.iter().map(|m| m.address.as_str()).collect::<Vec<_>>(), ["olga.petrova@example.com"]);
    assert_eq!(mail.from.as_ref().map(|m| m.address.as_str()), Some("support@shop.test"));
    assert_eq!(mail.cc.iter().map(|m| m.address.as_str()).collect::<Vec<_>>(), ["warehouse@shop.test"]);
    let want_parent = format!("e2e-{}@mail.example.com", std::process::id());
    assert_eq!(mail.in_reply_to, std::slice::from_ref(&want_parent));
    assert_eq!(mail.references, [want_parent]);
    assert_eq!(mail.subject, format!("Re: {subject} [#{number}]"));
    assert!(mail.text.contains(text), "{:?}", mail.text);
    assert_eq!(mail.attachments.len(), 1, "the file went with the reply");
    assert_eq!(mail.attachments[0].name, "накладная.pdf");
    assert_eq!(mail.attachments[0].data, b"%PDF-1.4 waybill e2e");

    // The window learns the outcome through sync: the reply is marked sent.
    s.wait_for("[data-testid=delivery][data-state=sent]", WAIT).context("the reply shown as sent")?;
    // A message with an inline picture and a file: the picture shows inside the HTML (fetched
    // from the server), the file downloads into the operator's folder.
    let nested = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/okno-mail/tests/corpus/nested-attachments.eml"),
    )?;
    dovecot.deliver(&nested);
    let mut photos = String::new();
    wait("the photos message as a ticket", || {
        photos = db.sql("SELECT id FROM tickets WHERE subject = 'Damaged parcel photos'")?;
        Ok(!photos.is_empty())
    })?;
    let row = s.wait_for(&format!("[data-testid=ticket-row][data-ticket-id='{photos}']"), WAIT)?;
    s.click(&row[0])?;
    s.wait_for("[data-testid=mail-html]", WAIT)?;
    let src = s.wait_until("the inline picture inside the HTML", WAIT, |s| {
        let src = s.execute(
            "const f = document.querySelector('[data-testid=mail-html]'); \
             return f?.contentDocument?.querySelector('img')?.getAttribute('src') ?? ''",
        )?;
        let src = src.as_str().unwrap_or_default().to_owned();
        Ok(src.starts_with("data:image/png;base64,").then_some(src))
    })?;
    assert!(src.len() > 40, "the picture's bytes are there: {src}");
    let receipt = s
        .find_all("[data-testid=attachment]")?
        .into_iter()
        .find(|a| s.text_content(a).is_ok_and(|t| t.contains("receipt.pdf")))
        .context("receipt.pdf listed")?;
    s.click(&receipt)?;
    let saved = s.wait_until("the download's toast", WAIT, |s| {
        for toast in s.find_all("[data-testid=toast]")? {
            let text = s.text_content(&toast)?;
            if let Some(path) = text.split("Saved to ").nth(1) {
                return Ok(Some(path.trim().to_owned()));
            }
        }
        Ok(None)
    })?;
    let bytes = std::fs::read(&saved).with_context(|| format!("the saved file {saved}"))?;
    assert!(bytes.starts_with(b"%PDF-1.4"), "the receipt as the customer sent it");
    let _ = std::fs::remove_file(&saved);
    s.screenshot(&artifacts_dir().join("email-inline-picture.png"))?;

    // Back to the first ticket for the picture of a sent reply.
    s.click(&s.wait_for(&format!("[data-testid=ticket-row][data-ticket-id='{ticket}']"), WAIT)?[0])?;
    s.wait_for("[data-testid=delivery][data-state=sent]", WAIT)?;
    // The DOM says sent at once; the window's pixels follow at the next paint.
    std::thread::sleep(std::time::Duration::from_millis(500));
    s.screenshot(&artifacts_dir().join("email-window.png"))?;
    s.quit()?;
    drop(driver);
    Ok(())
}
