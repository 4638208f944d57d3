//! The desk's local HTTP bridge (`okno-desktop --serve-http`) against the pages an operator's
//! browser may open: a web page on another origin posts a command to it the way any page can
//! (a `text/plain` POST needs no permission), and the desk does not run it; requests without
//! the run's token, with a foreign Host (DNS rebinding) or Origin, or too large are refused with
//! their reason; and the UI opened from the URL the desk prints (its `#token=`) works.

use anyhow::Result;
use okno_e2e::server::{WAIT, headless_desk, invoke, wait};
use okno_e2e::{BRIDGE_TOKEN, Driver, app_binary};
use serde_json::{Value, json};

fn agent_state(port: u16) -> Result<String> {
    Ok(invoke(port, "me", json!({}))?["state"].as_str().unwrap_or_default().to_owned())
}

/// A raw command with the given headers: the status and the answer's message.
fn post(port: u16, headers: &[(&str, &str)], content_type: &str, body: &[u8]) -> (u16, String) {
    let mut request = ureq::post(&format!("http://127.0.0.1:{port}/invoke/set_agent_state"));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    match request.set("Content-Type", content_type).send_bytes(body) {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => {
            let text = r.into_string().unwrap_or_default();
            let message = serde_json::from_str::<Value>(&text).map(|v| v["message"].to_string()).unwrap_or(text);
            (code, message)
        }
        Err(e) => (0, e.to_string()),
    }
}

#[test]
#[ignore = "needs the built app, chromedriver and Chromium: run through `cargo xtask test`"]
fn only_the_desks_own_ui_can_run_commands_on_its_http_bridge() -> Result<()> {
    let app = app_binary()?;
    let data = tempfile::tempdir()?;
    let (_desk, port) = headless_desk(&app, &["--demo", "--data-dir", &data.path().display().to_string()], None)?;
    wait("the bridge", || Ok(invoke(port, "me", json!({})).is_ok()))?;
    let before = agent_state(port)?;
    assert_ne!(before, "break", "the demo operator starts available");

    // A page on another origin posts the command as any page may, without asking.
    let chrome = Driver::start_chromedriver()?;
    let page = chrome.launch_chromium("data:text/html,<title>a shop</title>")?;
    let outcome = page.execute_async(&format!(
        "const done = arguments[arguments.length - 1]; \
         fetch('http://127.0.0.1:{port}/invoke/set_agent_state', {{ method: 'POST', mode: 'no-cors', \
           headers: {{ 'Content-Type': 'text/plain' }}, body: JSON.stringify({{ agentState: 'break' }}) }}) \
           .then(r => done('sent: ' + r.type), e => done('failed: ' + e));"
    ))?;
    // The same with JSON and a guessed token needs CORS permission the bridge never gives.
    let preflighted = page.execute_async(&format!(
        "const done = arguments[arguments.length - 1]; \
         fetch('http://127.0.0.1:{port}/invoke/set_agent_state', {{ method: 'POST', \
           headers: {{ 'Content-Type': 'application/json', 'Authorization': 'Bearer guess' }}, \
           body: JSON.stringify({{ agentState: 'break' }}) }}) \
           .then(r => done('answered: ' + r.status), e => done('blocked: ' + e));"
    ))?;
    assert!(preflighted.as_str().unwrap_or_default().starts_with("blocked"), "{preflighted}");
    assert_eq!(agent_state(port)?, before, "the page's posts ({outcome}) changed nothing");

    // What a program on the machine (or a rebound name) might send, each refused with its reason.
    let bearer = format!("Bearer {BRIDGE_TOKEN}");
    let auth = ("Authorization", bearer.as_str());
    let body = br#"{"agentState":"break"}"#;
    let refused = [
        (post(port, &[], "application/json", body), 401, "no token"),
        (
            post(port, &[("Authorization", "Bearer okno-e2e-bridge-tokeX")], "application/json", body),
            401,
            "wrong token",
        ),
        (post(port, &[auth, ("Host", &format!("evil.example:{port}"))], "application/json", body), 403, "rebound Host"),
        (post(port, &[auth, ("Origin", "https://shop.example")], "application/json", body), 403, "foreign Origin"),
        (post(port, &[auth], "text/plain", body), 415, "text/plain"),
        (post(port, &[auth], "application/json", &vec![b' '; 33 * 1024 * 1024]), 413, "33 MiB"),
    ];
    for ((status, message), expected, what) in refused {
        assert_eq!(status, expected, "{what}: {message}");
        assert!(!message.is_empty(), "{what}: the refusal says why");
    }
    assert_eq!(agent_state(port)?, before, "none of them changed anything");

    // The desk's own UI, opened from the printed URL, runs commands.
    let ui = chrome.launch_chromium(&format!("http://127.0.0.1:{port}/?backend=http#token={BRIDGE_TOKEN}"))?;
    ui.wait_for("[data-testid=ticket-row][data-ticket-id]", WAIT)?;
    let address = ui.execute("return location.href")?;
    assert!(!address.as_str().unwrap_or_default().contains("token"), "the token leaves the address bar: {address}");
    let (status, _) = post(port, &[auth], "application/json", body);
    assert_eq!(status, 200, "with the token the command runs");
    assert_eq!(agent_state(port)?, "break");
    Ok(())
}
