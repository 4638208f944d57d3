//! The server restored from a backup: a headless desk syncs with the real server, the database
//! is snapshotted, the desk's replies reach the server, then the server is restored from the
//! snapshot and restarted. Its changelog is now behind the desk, and the sequences it remembers
//! for the desk are behind the desk's outbox: the desk must notice, pull everything again and
//! send its next writes under a new client id, so they reach the server instead of being taken
//! for duplicates or stuck behind a gap forever; and the replies the server had acknowledged
//! after the backup, which the restore lost, must reach it again from the desk's journal.

use anyhow::Result;
use okno_e2e::server::{Proc, headless_desk, invoke, provision, seeded_demo, server_binary, start_server, wait};
use okno_e2e::{app_binary, free_port};
use serde_json::json;

const PASSWORD: &str = "e2e-restore-password";

/// A headless desk on data directory `dir`, signed in to the server on `port` as `operator`,
/// once it is online; returns the process and its bridge's port.
fn desk_on(app: &std::path::Path, dir: &std::path::Path, port: u16, operator: &str) -> Result<(Proc, u16)> {
    let prov = provision(dir, port, operator)?;
    let (desk, http) = headless_desk(
        app,
        &["--data-dir", &dir.display().to_string(), "--provision", &prov.display().to_string()],
        Some(PASSWORD),
    )?;
    wait(&format!("{operator}'s desk online"), || {
        Ok(invoke(http, "sync_status", json!({})).is_ok_and(|v| v["connection"] == "online"))
    })?;
    Ok((desk, http))
}

#[test]
#[ignore = "needs PostgreSQL and the built app and server: run through `cargo xtask test`"]
fn a_desk_recovers_when_the_server_is_restored_from_a_backup() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let db = seeded_demo(&server, 3, PASSWORD)?;
    let work = tempfile::tempdir()?;
    let port = free_port()?;
    let log = work.path().join("server.log");
    let mut server_proc = Some(start_server(&server, &db, port, &log, &[], &[])?);

    let dir = work.path().join("desk");
    std::fs::create_dir_all(&dir)?;
    let (_desk, http) = desk_on(&app, &dir, port, "anna")?;
    let online = || Ok(invoke(http, "sync_status", json!({})).is_ok_and(|v| v["connection"] == "online"));
    let ticket = db.sql("SELECT id FROM tickets WHERE queue_id = 'hotline' ORDER BY number LIMIT 1")?;
    let reply = |body: &str| {
        invoke(
            http,
            "reply_ticket",
            json!({ "ticketId": ticket, "body": body, "internal": false, "cc": [], "attachments": [] }),
        )
    };
    let on_server = |body: &str| -> Result<bool> {
        Ok(db.sql(&format!("SELECT count(*) FROM messages WHERE body = '{body}'"))? == "1")
    };
    reply("Before the backup")?;
    wait("the first reply on the server", || on_server("Before the backup"))?;

    // The nightly backup.
    drop(server_proc.take());
    let snapshot = format!("{}_backup", db.name());
    db.admin_sql(&format!("CREATE DATABASE {snapshot} TEMPLATE {}", db.name()))?;
    server_proc = Some(start_server(&server, &db, port, &log, &[], &[])?);
    wait("the desk online again", online)?;

    // A day's work the backup does not have.
    for n in 1..=3 {
        reply(&format!("After the backup {n}"))?;
    }
    wait("the day's replies on the server", || on_server("After the backup 3"))?;
    wait("nothing unsent", || Ok(invoke(http, "sync_status", json!({}))?["unsent"] == 0))?;

    // The server is restored from the backup and restarted.
    drop(server_proc.take());
    db.admin_sql(&format!("DROP DATABASE {} WITH (FORCE)", db.name()))?;
    db.admin_sql(&format!("CREATE DATABASE {} TEMPLATE {snapshot}", db.name()))?;
    db.admin_sql(&format!("DROP DATABASE {snapshot}"))?;
    // Checked before the server starts: once it is up, the desk sends the lost replies again.
    assert!(!on_server("After the backup 1")?, "the restored server lost the day's replies");
    let _server = start_server(&server, &db, port, &log, &[], &[])?;

    // The desk's next write reaches it.
    wait("the desk online after the restore", online)?;
    reply("After the restore")?;
    wait("the reply after the restore on the server", || on_server("After the restore"))
        .map_err(|e| anyhow::anyhow!("{e}; desk: {}", invoke(http, "sync_status", json!({})).unwrap_or_default()))?;
    wait("nothing unsent after the restore", || Ok(invoke(http, "sync_status", json!({}))?["unsent"] == 0))?;
    // The day's replies the backup lacked came back from the desk's journal, once each; the
    // reply the backup has was not sent twice.
    for n in 1..=3 {
        let body = format!("After the backup {n}");
        wait(&format!("{body:?} on the restored server again"), || on_server(&body))?;
    }
    assert!(on_server("Before the backup")?, "the reply in the backup is there once");
    Ok(())
}

/// Another account signs in on a desk: the last one's pulled data is gone from it and their
/// unsent write is listed as not sent, never pushed under the new account's name.
#[test]
#[ignore = "needs PostgreSQL and the built app and server: run through `cargo xtask test`"]
fn another_account_on_the_same_desk_starts_over_and_sends_nothing_of_the_last() -> Result<()> {
    let (app, server) = (app_binary()?, server_binary()?);
    let db = seeded_demo(&server, 3, PASSWORD)?;
    let work = tempfile::tempdir()?;
    let port = free_port()?;
    let log = work.path().join("server.log");
    let mut server_proc = Some(start_server(&server, &db, port, &log, &[], &[])?);
    let dir = work.path().join("desk");
    std::fs::create_dir_all(&dir)?;
    let ticket = db.sql("SELECT id FROM tickets WHERE queue_id = 'hotline' ORDER BY number LIMIT 1")?;
    let desk_as = |operator: &str| desk_on(&app, &dir, port, operator);

    // Anna works on this desk; her last reply is written while the server is away.
    {
        let (_desk, http) = desk_as("anna")?;
        wait("anna's tickets on the desk", || Ok(invoke(http, "get_ticket", json!({ "ticketId": ticket })).is_ok()))?;
        drop(server_proc.take());
        invoke(
            http,
            "reply_ticket",
            json!({ "ticketId": ticket, "body": "Anna's unsent reply", "internal": false, "cc": [], "attachments": [] }),
        )?;
        wait("the reply counted as unsent", || Ok(invoke(http, "sync_status", json!({}))?["unsent"] == 1))?;
    }

    // Boris signs in on the same desk.
    let _server = start_server(&server, &db, port, &log, &[], &[])?;
    let (_desk, http) = desk_as("boris")?;
    let status = invoke(http, "sync_status", json!({}))?;
    assert_eq!(status["last_rejection"]["code"], "operator_changed", "{status}");
    assert_eq!(status["unsent"], 0, "{status}");
    wait(
        "the ticket pulled again for boris",
        || Ok(invoke(http, "get_ticket", json!({ "ticketId": ticket })).is_ok()),
    )?;
    let detail = invoke(http, "get_ticket", json!({ "ticketId": ticket }))?;
    assert!(!detail.to_string().contains("Anna's unsent reply"), "anna's local reply is gone from the desk");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        db.sql("SELECT count(*) FROM messages WHERE body = 'Anna''s unsent reply'")?,
        "0",
        "nothing of anna's went out under boris's name"
    );
    Ok(())
}
