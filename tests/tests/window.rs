//! The operator's main path in the real window: open the demo, select a ticket, see its
//! conversation and customer card, search, reply, and find the reply stored.

use std::time::Duration;

use okno_e2e::{Driver, app_binary, artifacts_dir};

const WAIT: Duration = Duration::from_secs(30);

/// The app on generated demo data kept in `dir`.
fn demo_args(dir: &std::path::Path) -> Vec<String> {
    vec!["--demo".to_owned(), "--data-dir".to_owned(), dir.display().to_string()]
}

/// The app opened on a fresh demo store, its inbox painted; the store lives as long as the
/// returned directory.
fn open_demo(driver: &Driver) -> anyhow::Result<(tempfile::TempDir, okno_e2e::Session)> {
    let data = tempfile::tempdir()?;
    let s = driver.launch(&app_binary()?, &demo_args(data.path()))?;
    s.wait_for("[data-testid=ticket-row]", WAIT)?;
    Ok((data, s))
}

#[test]
#[ignore = "needs a display, tauri-driver and the built app: run through `cargo xtask test`"]
fn operator_opens_a_ticket_searches_and_replies() -> anyhow::Result<()> {
    let app = app_binary()?;
    let data = tempfile::tempdir()?;
    let driver = Driver::start()?;
    let args = demo_args(data.path());
    let mut s = driver.launch(&app, &args)?;

    // The inbox fills from the demo store.
    let rows = s.wait_for("[data-testid=ticket-row][data-ticket-id]", WAIT)?;
    assert!(rows.len() >= 5, "a screenful of tickets, got {}", rows.len());
    let row = &rows[0];
    let ticket_id = s.attribute(row, "data-ticket-id")?.expect("rows carry their ticket id");
    let row_text = s.text_content(row)?;
    s.click(row)?;

    // Its conversation and the customer's card.
    let items = s.wait_for("[data-testid=conversation] [data-testid=timeline-item]", WAIT)?;
    assert!(!items.is_empty());
    let customer = s.wait_until("the customer card", WAIT, |s| {
        let names = s.find_all("[data-testid=customer-card] [data-testid=customer-name]")?;
        Ok(match names.first() {
            Some(e) => Some(s.text_content(e)?).filter(|t| !t.trim().is_empty()),
            None => None,
        })
    })?;
    assert!(row_text.contains(customer.trim()), "the card shows the row's customer: {customer:?} in {row_text:?}");
    std::thread::sleep(Duration::from_millis(500));
    s.screenshot(&artifacts_dir().join("window-ticket.png"))?;

    // Global search by the customer's surname finds them.
    let surname = customer.split_whitespace().last().unwrap_or_default().to_owned();
    s.press_ctrl("k")?;
    let input = s.wait_for("[data-testid=search-input]", WAIT)?;
    s.type_into(&input[0], &surname)?;
    let hits = s.wait_for("[data-testid=search-results] [data-testid=search-hit]", WAIT)?;
    let texts: Vec<String> = hits.iter().map(|h| s.text_content(h)).collect::<anyhow::Result<_>>()?;
    assert!(
        texts.iter().any(|t| t.to_lowercase().contains(&surname.to_lowercase())),
        "a hit mentions {surname:?}: {texts:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    s.screenshot(&artifacts_dir().join("window-search.png"))?;
    s.press("\u{E00C}")?; // Escape closes the search.

    // A tag finds its tickets, shown with their tags as chips, never as raw JSON.
    let tag = s.execute("return document.querySelector('[data-testid=filter-tag]').options[1].value")?;
    let tag = tag.as_str().expect("the demo has tags").to_owned();
    s.press_ctrl("k")?;
    let input = s.wait_for("[data-testid=search-input]", WAIT)?;
    s.execute("const i = document.querySelector('[data-testid=search-input]'); i.value = ''; i.dispatchEvent(new Event('input'));")?;
    s.type_into(&input[0], &tag)?;
    let chips = s.wait_for("[data-testid=search-group][data-kind=ticket] [data-testid=search-hit-tags]", WAIT)?;
    let chip_texts: Vec<String> = chips.iter().map(|c| s.text_content(c)).collect::<anyhow::Result<_>>()?;
    assert!(chip_texts.iter().any(|t| t.contains(&tag)), "a hit shows the tag {tag:?} as a chip: {chip_texts:?}");
    for hit in s.find_all("[data-testid=search-results] [data-testid=search-hit]")? {
        let text = s.text_content(&hit)?;
        assert!(!text.contains("[\"") && !text.contains("\",\""), "no raw JSON in a hit: {text:?}");
    }
    std::thread::sleep(Duration::from_millis(500));
    s.screenshot(&artifacts_dir().join("window-search-tag.png"))?;
    s.press("\u{E00C}")?;

    // Reply; it appears in the conversation.
    let reply = format!("Проверили заказ, отправим сегодня. e2e-{}", std::process::id());
    let box_ = s.wait_for("[data-testid=reply-box]", WAIT)?;
    s.type_into(&box_[0], &reply)?;
    s.click(&s.wait_for("[data-testid=reply-send]", WAIT)?[0])?;
    s.wait_until("the reply in the conversation", WAIT, |s| {
        for item in s.find_all("[data-testid=conversation] [data-testid=timeline-item]")? {
            if s.text_content(&item)?.contains(&reply) {
                return Ok(Some(()));
            }
        }
        Ok(None)
    })?;
    std::thread::sleep(Duration::from_millis(500));
    s.screenshot(&artifacts_dir().join("window-reply.png"))?;
    s.quit()?;
    drop(driver);

    // The reply is in the store, queued for the server.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let store = okno_store::Store::open(&data.path().join("okno.db")).await?;
        let detail = store.ticket_detail(&ticket_id).await?;
        let stored = detail
            .timeline
            .iter()
            .any(|item| matches!(item, okno_store::views::TimelineItem::Message(m) if m.body == reply));
        assert!(stored, "the reply was stored on ticket {ticket_id}");
        let pending = store.pending_mutations(10).await?;
        assert!(
            pending.iter().any(|(_, m)| matches!(m, okno_core::Mutation::ReplyTicket { body, .. } if *body == reply))
        );
        anyhow::Ok(())
    })
}

#[test]
#[ignore = "needs the built app: run through `cargo xtask test`"]
fn a_damaged_database_is_reported_with_its_path_and_left_alone() -> anyhow::Result<()> {
    let app = app_binary()?;
    let data = tempfile::tempdir()?;
    let db = data.path().join("okno.db");
    let junk = b"definitely not an sqlite file\n".repeat(100);
    std::fs::write(&db, &junk)?;
    let out = std::process::Command::new(&app).args(["--data-dir", &data.path().display().to_string()]).output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exits with an error: {stderr}");
    assert!(stderr.contains(&db.display().to_string()), "names the file: {stderr}");
    assert!(stderr.contains("not an SQLite database"), "says what is wrong: {stderr}");
    assert_eq!(std::fs::read(&db)?, junk, "the file is untouched");
    Ok(())
}

#[test]
#[ignore = "needs a display, tauri-driver and the built app: run through `cargo xtask test`"]
fn the_window_reopens_with_the_size_it_was_left_at() -> anyhow::Result<()> {
    let app = app_binary()?;
    let data = tempfile::tempdir()?;
    let driver = Driver::start()?;
    let args = demo_args(data.path());
    let mut s = driver.launch(&app, &args)?;
    s.wait_for("[data-testid=ticket-row]", WAIT)?;
    s.set_rect(40, 30, 1180, 760)?;
    let (_, _, width, height) = s.rect()?;
    // Geometry is saved once moves and resizes settle.
    std::thread::sleep(Duration::from_millis(1500));
    s.quit()?;

    let mut again = driver.launch(&app, &args)?;
    again.wait_for("[data-testid=ticket-row]", WAIT)?;
    let (_, _, w2, h2) = again.rect()?;
    assert!((w2 - width).abs() <= 2.0 && (h2 - height).abs() <= 2.0, "reopened at {w2}×{h2}, left at {width}×{height}");
    assert!((width - 1440.0).abs() > 50.0, "the resize took effect (default is 1440 wide): {width}");
    again.quit()?;
    Ok(())
}

/// What the inbox's filters need and have, measured in the page: for the channel and assignee
/// selects every option (each may be chosen), for the tag select the one shown, and the status
/// filter's label. A native select keeps about 20 px of its width for the arrow.
const MEASURE_FILTERS: &str = r#"
const ctx = document.createElement("canvas").getContext("2d");
const out = [];
for (const el of document.querySelectorAll("[data-testid^=filter-]")) {
  const st = getComputedStyle(el);
  ctx.font = st.font;
  const room = el.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight);
  if (el.tagName === "SELECT") {
    const options = el.dataset.testid === "filter-tag" ? [el.options[el.selectedIndex]] : [...el.options];
    for (const o of options) out.push({ id: el.dataset.testid, text: o.text, need: Math.ceil(ctx.measureText(o.text).width), have: Math.floor(room - 20) });
  } else {
    const label = el.querySelector(".ellipsis");
    out.push({ id: el.dataset.testid, text: label.textContent, need: label.scrollWidth, have: label.clientWidth });
  }
}
return out;
"#;

#[test]
#[ignore = "needs a display, tauri-driver and the built app: run through `cargo xtask test`"]
fn the_inbox_filters_read_whole_at_laptop_widths_in_both_languages() -> anyhow::Result<()> {
    let driver = Driver::start()?;
    let (_data, mut s) = open_demo(&driver)?;
    let mut cut = Vec::new();
    for locale in ["en", "ru"] {
        s.execute(&format!("localStorage.setItem('okno.locale', '{locale}'); location.reload();"))?;
        std::thread::sleep(Duration::from_millis(500));
        s.wait_for("[data-testid=ticket-row]", WAIT)?;
        for width in [1280, 1366, 1440, 1920] {
            s.set_rect(0, 0, width, 860)?;
            std::thread::sleep(Duration::from_millis(600));
            let measured = s.execute(MEASURE_FILTERS)?;
            let filters = measured.as_array().cloned().unwrap_or_default();
            assert!(filters.len() >= 4, "four filters measured at {width} ({locale}): {measured}");
            for f in &filters {
                if f["need"].as_f64().unwrap_or(f64::MAX) > f["have"].as_f64().unwrap_or(0.0) {
                    cut.push(format!(
                        "{locale} {width}px {}: {:?} needs {} px, has {}",
                        f["id"], f["text"], f["need"], f["have"]
                    ));
                }
            }
            s.screenshot(&artifacts_dir().join(format!("inbox-filters-{locale}-{width}.png")))?;
        }
    }
    // The language is kept in the webview's storage, shared by the next tests' windows.
    s.execute("localStorage.removeItem('okno.locale');")?;
    s.quit()?;
    assert!(cut.is_empty(), "filter labels cut off:\n{}", cut.join("\n"));
    Ok(())
}
