//! Crash safety of the store: the real desktop process (`--serve-http`, no window) is killed with
//! SIGKILL over and over while operators' writes stream in, on one data directory. After every
//! kill the files on disk are checked: `PRAGMA integrity_check` is "ok", every write the UI was
//! told had succeeded (an HTTP 200 from `POST /invoke/...`) is there with its outbox entry, and the
//! outbox keeps its order: each writer's confirmed writes appear in the order it made them, and
//! nothing once on disk disappears or is renumbered.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use okno_core::Mutation;
use okno_e2e::{app_binary, artifacts_dir};
use serde_json::{Value, json};
use sqlx::{Connection, Row};

const ROUNDS: usize = 25;
const WRITERS: usize = 3;
/// Each writer owns its tickets, so the outbox entries for them are its writes, in its order.
const TICKETS_PER_WRITER: usize = 3;
/// The kill comes this long after the writers start (a seeded random pick in the range).
const KILL_AFTER_MS: (u64, u64) = (50, 400);
/// The seed of the kill delays unless `OKNO_CRASH_SEED` says otherwise.
const DEFAULT_SEED: u64 = 6;
/// Every confirmed reply and note carries this prefix and a unique round/writer/number marker.
const MARKER: &str = "crash r";

#[test]
#[ignore = "needs the built app: run through `cargo xtask test`"]
fn kill_9_during_outbox_writes_loses_no_confirmed_write_and_leaves_a_sound_database() -> anyhow::Result<()> {
    let app = app_binary()?;
    let data = tempfile::tempdir()?;
    let db = data.path().join("okno.db");
    let log_path = artifacts_dir().join("crash-desktop.log");
    let log = File::create(&log_path)?;
    let seed = std::env::var("OKNO_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED);
    let mut rng = SplitMix(okno_core::rng::Rng::new(seed));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    eprintln!("crash: {ROUNDS} rounds, {WRITERS} writers, kill after {KILL_AFTER_MS:?} ms, seed {seed}");
    eprintln!("crash: desktop output in {}", log_path.display());

    // The demo dataset is generated on the first start; its first tickets are the writers'.
    let tickets: Vec<Vec<String>> = {
        let desktop = Desktop::start(&app, data.path(), &log)?;
        let page = desktop.call(
            "list_tickets",
            json!({ "filter": {
                "statuses": [], "channel": null, "queue_id": null, "assignee": null, "tag": null,
                "sort": "created", "offset": 0, "limit": WRITERS * TICKETS_PER_WRITER
            }}),
        )?;
        let ids: Vec<String> =
            page["rows"].as_array().into_iter().flatten().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect();
        ensure!(ids.len() == WRITERS * TICKETS_PER_WRITER, "the demo has tickets to write to: {page}");
        eprintln!("crash: demo ready in {} ms", desktop.startup.as_millis());
        ids.chunks(TICKETS_PER_WRITER).map(<[String]>::to_vec).collect()
    };

    let mut confirmed: Vec<Vec<Write>> = vec![Vec::new(); WRITERS];
    let mut previous: Option<Snapshot> = None;
    let mut total_confirmed = 0;
    let mut rounds_cut = 0;
    for round in 1..=ROUNDS {
        let started = Instant::now();
        let kill_after = Duration::from_millis(rng.between(KILL_AFTER_MS.0, KILL_AFTER_MS.1));
        let mut desktop = Desktop::start(&app, data.path(), &log)?;
        let base = desktop.base.clone();
        let stop = AtomicBool::new(false);
        let results: Vec<WriterResult> = std::thread::scope(|scope| {
            let handles: Vec<_> = tickets
                .iter()
                .enumerate()
                .map(|(w, mine)| {
                    let (base, stop) = (&base, &stop);
                    scope.spawn(move || write_until_killed(base, round, w, mine, stop))
                })
                .collect();
            std::thread::sleep(kill_after);
            desktop.kill();
            stop.store(true, Ordering::Relaxed);
            handles.into_iter().map(|h| h.join().expect("a writer thread does not panic")).collect()
        });
        for (w, result) in results.iter().enumerate() {
            ensure!(
                result.refused.is_none(),
                "round {round}: writer {w} had a write refused by the running app: {:?}",
                result.refused
            );
        }
        let in_round: usize = results.iter().map(|r| r.confirmed.len()).sum();
        let unconfirmed: usize = results.iter().map(|r| r.unconfirmed).sum();
        // For the log only: "cut" = the kill came while the app held the request (reset, EOF);
        // "refused" = the next request found it gone; "idle" = between requests.
        let endings: Vec<&str> = results
            .iter()
            .map(|r| match r.ended.as_str() {
                "stopped" => "idle",
                e if e.contains("refused") => "refused",
                _ => "cut",
            })
            .collect();
        rounds_cut += usize::from(endings.contains(&"cut"));
        for (w, result) in results.into_iter().enumerate() {
            confirmed[w].extend(result.confirmed);
        }
        total_confirmed += in_round;

        // The files exactly as the killed process left them, checked on a copy so the next
        // start recovers the same hot WAL the crash left.
        let checked = Instant::now();
        let copy = tempfile::tempdir()?;
        for suffix in ["", "-wal"] {
            let from = PathBuf::from(format!("{}{suffix}", db.display()));
            if from.exists() {
                std::fs::copy(&from, copy.path().join(format!("okno.db{suffix}")))?;
            }
        }
        let snapshot = rt.block_on(Snapshot::read(&copy.path().join("okno.db")))?;
        snapshot.verify(&tickets, &confirmed, previous.as_ref()).with_context(|| format!("after round {round}"))?;
        eprintln!(
            "crash: round {round:>2}: startup {:>4} ms, killed after {:>3} ms, {in_round:>3} writes confirmed, \
             {unconfirmed} unanswered, writers {endings:?}, outbox {} entries (wal {} KiB), check {} ms, round {} ms",
            desktop.startup.as_millis(),
            kill_after.as_millis(),
            snapshot.outbox.len(),
            std::fs::metadata(format!("{}-wal", db.display())).map(|m| m.len() / 1024).unwrap_or(0),
            checked.elapsed().as_millis(),
            started.elapsed().as_millis(),
        );
        previous = Some(snapshot);
    }
    eprintln!(
        "crash: {total_confirmed} writes confirmed over {ROUNDS} kills; {rounds_cut} kills cut a request the app was handling"
    );
    ensure!(total_confirmed > 0, "no write was confirmed in any round: the test exercised nothing");

    // One more start on the crashed files: the app opens the store and shows every confirmed
    // reply through its own read path.
    let desktop = Desktop::start(&app, data.path(), &log)?;
    let stats = desktop.call("store_stats", json!({}))?;
    let outbox = previous.as_ref().map_or(0, |s| s.outbox.len());
    ensure!(
        stats["outbox_pending"].as_u64() == Some(outbox as u64),
        "the app counts {stats} pending, the file {outbox}"
    );
    for (w, mine) in tickets.iter().enumerate() {
        for ticket in mine {
            let detail = desktop.call("get_ticket", json!({ "ticketId": ticket }))?;
            let shown: HashSet<&str> =
                detail["timeline"].as_array().into_iter().flatten().filter_map(|item| item["body"].as_str()).collect();
            for write in &confirmed[w] {
                if let Write::Reply { ticket: t, body, .. } = write
                    && t == ticket
                {
                    ensure!(shown.contains(body.as_str()), "ticket {ticket} shows the confirmed reply {body:?}");
                }
            }
        }
    }
    eprintln!("crash: the restarted app opened the store in {} ms and shows every reply", desktop.startup.as_millis());
    drop(desktop);

    // And the real file, after all of it.
    let last = rt.block_on(Snapshot::read(&db))?;
    last.verify(&tickets, &confirmed, previous.as_ref()).context("after the last start")?;
    Ok(())
}

/// A write the app confirmed, as the outbox must hold it.
#[derive(Debug, Clone)]
enum Write {
    Reply {
        ticket: String,
        body: String,
        internal: bool,
    },
    /// `at` is the ticket's `updated_at` the app returned, which is the mutation's time: only
    /// this writer touches the ticket.
    Status {
        ticket: String,
        status: String,
        at: i64,
    },
}

impl Write {
    fn ticket(&self) -> &str {
        match self {
            Write::Reply { ticket, .. } | Write::Status { ticket, .. } => ticket,
        }
    }

    fn is(&self, mutation: &Mutation) -> bool {
        match (self, mutation) {
            (
                Write::Reply { ticket, body, internal },
                Mutation::ReplyTicket { ticket_id, body: b, internal: i, .. },
            ) => ticket == ticket_id && body == b && internal == i,
            (Write::Status { ticket, status, at }, Mutation::SetTicketStatus { ticket_id, status: s, at: a }) => {
                ticket == ticket_id && status == s.as_str() && at == a
            }
            _ => false,
        }
    }
}

struct WriterResult {
    confirmed: Vec<Write>,
    /// Requests that got no answer: the kill came first. They may or may not be on disk.
    unconfirmed: usize,
    /// An HTTP error status from the live app: a bug, reported by the caller.
    refused: Option<String>,
    /// How the writer stopped: the transport error that ended it, or "stopped".
    ended: String,
}

/// Replies, internal notes and status changes on this writer's tickets, back to back, until
/// the app stops answering.
fn write_until_killed(base: &str, round: usize, writer: usize, tickets: &[String], stop: &AtomicBool) -> WriterResult {
    const STATUSES: [&str; 3] = ["open", "pending", "resolved"];
    let agent = agent();
    let mut result = WriterResult { confirmed: Vec::new(), unconfirmed: 0, refused: None, ended: "stopped".into() };
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let ticket = &tickets[n % tickets.len()];
        let (command, args, write) = match n % 3 {
            0 | 1 => {
                let internal = n % 3 == 1;
                let body = format!("{MARKER}{round} w{writer} n{n}: проверили заказ, ответим сегодня");
                let args =
                    json!({ "ticketId": ticket, "body": body, "internal": internal, "cc": [], "attachments": [] });
                ("reply_ticket", args, Write::Reply { ticket: ticket.clone(), body, internal })
            }
            _ => {
                let status = STATUSES[(n / 3) % STATUSES.len()];
                let args = json!({ "ticketId": ticket, "status": status });
                let write = Write::Status { ticket: ticket.clone(), status: status.to_owned(), at: 0 };
                ("set_ticket_status", args, write)
            }
        };
        match invoke(&agent, base, command, &args) {
            Ok(reply) => {
                let write = match write {
                    Write::Status { ticket, status, .. } => {
                        let Some(at) = reply["updated_at"].as_i64() else {
                            result.refused = Some(format!("{command}: no updated_at in {reply}"));
                            break;
                        };
                        Write::Status { ticket, status, at }
                    }
                    reply_write => reply_write,
                };
                result.confirmed.push(write);
            }
            Err(Failure::Status(code, body)) => {
                result.refused = Some(format!("{command} {args}: HTTP {code}: {body}"));
                break;
            }
            Err(Failure::Transport(e)) => {
                result.unconfirmed += 1;
                result.ended = e;
                break;
            }
        }
    }
    result
}

/// The okno-desktop process serving the UI's commands over HTTP, with no window.
struct Desktop {
    child: Child,
    base: String,
    startup: Duration,
}

/// A free loopback port this test has not used yet. A killed desktop's port can still have
/// connections in TIME_WAIT, and the HTTP bridge's listener (no SO_REUSEADDR) cannot bind it
/// again for a while, although a probe with SO_REUSEADDR says it is free.
fn fresh_port() -> anyhow::Result<u16> {
    static USED: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if !used.contains(&port) {
            used.push(port);
            return Ok(port);
        }
    }
}

impl Desktop {
    /// Start on `data_dir` and wait until it answers a read command.
    fn start(app: &Path, data_dir: &Path, log: &File) -> anyhow::Result<Desktop> {
        let port = fresh_port()?;
        let started = Instant::now();
        let child = Command::new(app)
            .args(["--demo", "--data-dir"])
            .arg(data_dir)
            .args(["--serve-http", &format!("127.0.0.1:{port}")])
            .env("OKNO_BRIDGE_TOKEN", okno_e2e::BRIDGE_TOKEN)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .spawn()
            .with_context(|| format!("cannot start {}", app.display()))?;
        let mut desktop = Desktop { child, base: format!("http://127.0.0.1:{port}"), startup: Duration::ZERO };
        let agent = agent();
        let deadline = started + Duration::from_secs(120);
        loop {
            if let Some(status) = desktop.child.try_wait()? {
                bail!("okno-desktop exited before serving ({status}); see {}", artifacts_dir().display());
            }
            let error = match invoke(&agent, &desktop.base, "store_stats", &json!({})) {
                Ok(_) => {
                    desktop.startup = started.elapsed();
                    return Ok(desktop);
                }
                Err(Failure::Status(code, body)) => format!("HTTP {code}: {body}"),
                Err(Failure::Transport(e)) => e,
            };
            if Instant::now() > deadline {
                bail!("okno-desktop did not serve on {} within 120 s: {error}", desktop.base);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn call(&self, command: &str, args: Value) -> anyhow::Result<Value> {
        invoke(&agent(), &self.base, command, &args).map_err(|e| anyhow::anyhow!("{command}: {e:?}"))
    }

    /// SIGKILL, and reap it so its file lock and files are released before the next start.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        self.kill();
    }
}

#[derive(Debug)]
enum Failure {
    Status(u16, String),
    Transport(String),
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(2)).timeout(Duration::from_secs(30)).build()
}

/// `POST /invoke/<command>`: a 200 whose JSON body arrived whole is a confirmed result.
fn invoke(agent: &ureq::Agent, base: &str, command: &str, args: &Value) -> Result<Value, Failure> {
    let authorized = agent
        .post(&format!("{base}/invoke/{command}"))
        .set("Authorization", &format!("Bearer {}", okno_e2e::BRIDGE_TOKEN));
    match authorized.send_json(args) {
        Ok(response) => response.into_json::<Value>().map_err(|e| Failure::Transport(e.to_string())),
        Err(ureq::Error::Status(code, response)) => {
            Err(Failure::Status(code, response.into_string().unwrap_or_default()))
        }
        Err(e) => Err(Failure::Transport(e.to_string())),
    }
}

struct OutboxRow {
    seq: i64,
    mutation_id: String,
    mutation: Mutation,
}

/// What the database file holds, read after a crash.
struct Snapshot {
    integrity: Vec<String>,
    /// In table order (rowid order).
    outbox: Vec<OutboxRow>,
    /// AUTOINCREMENT's high-water mark for the outbox.
    sequence: i64,
    /// The test's messages by id: (ticket, direction, body).
    messages: HashMap<String, (String, String, String)>,
}

impl Snapshot {
    async fn read(db: &Path) -> anyhow::Result<Snapshot> {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .with_context(|| format!("cannot open {}", db.display()))?;
        let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut conn).await?;
        let mut outbox = Vec::new();
        for row in sqlx::query("SELECT seq, mutation_id, name, body FROM outbox").fetch_all(&mut conn).await? {
            let body: String = row.try_get("body")?;
            let mutation: Mutation =
                serde_json::from_str(&body).with_context(|| format!("an outbox body that does not parse: {body}"))?;
            let name: String = row.try_get("name")?;
            ensure!(name == mutation.name(), "outbox name {name} holds a {} mutation", mutation.name());
            outbox.push(OutboxRow { seq: row.try_get("seq")?, mutation_id: row.try_get("mutation_id")?, mutation });
        }
        let sequence: Option<i64> = sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")
            .fetch_optional(&mut conn)
            .await?;
        let mut messages = HashMap::new();
        for row in sqlx::query("SELECT id, ticket_id, direction, body FROM messages WHERE body LIKE ?")
            .bind(format!("{MARKER}%"))
            .fetch_all(&mut conn)
            .await?
        {
            messages.insert(
                row.try_get("id")?,
                (row.try_get("ticket_id")?, row.try_get("direction")?, row.try_get("body")?),
            );
        }
        conn.close().await?;
        Ok(Snapshot { integrity, outbox, sequence: sequence.unwrap_or(0), messages })
    }

    fn verify(
        &self,
        tickets: &[Vec<String>],
        confirmed: &[Vec<Write>],
        previous: Option<&Snapshot>,
    ) -> anyhow::Result<()> {
        ensure!(self.integrity == ["ok"], "PRAGMA integrity_check: {:?}", self.integrity);

        // The outbox: strictly increasing sequence numbers, unique mutations, and no number
        // below AUTOINCREMENT's mark (a number is never handed out twice).
        for pair in self.outbox.windows(2) {
            ensure!(pair[0].seq < pair[1].seq, "outbox seq {} is followed by {}", pair[0].seq, pair[1].seq);
        }
        let ids: HashSet<&str> = self.outbox.iter().map(|r| r.mutation_id.as_str()).collect();
        ensure!(ids.len() == self.outbox.len(), "duplicate mutation ids in the outbox");
        if let Some(last) = self.outbox.last() {
            ensure!(
                self.sequence >= last.seq,
                "sqlite_sequence says {} but the outbox reaches {}",
                self.sequence,
                last.seq
            );
        }

        // What was on disk after the last crash is still there, with the same numbers; whatever
        // is new was numbered after it.
        if let Some(before) = previous {
            let now: HashMap<&str, i64> = self.outbox.iter().map(|r| (r.mutation_id.as_str(), r.seq)).collect();
            let before_max = before.outbox.last().map_or(0, |r| r.seq);
            for row in &before.outbox {
                ensure!(
                    now.get(row.mutation_id.as_str()) == Some(&row.seq),
                    "outbox entry {} ({}, seq {}) was on disk after the previous crash and is now {:?}",
                    row.mutation_id,
                    row.mutation.name(),
                    row.seq,
                    now.get(row.mutation_id.as_str())
                );
            }
            let before_ids: HashSet<&str> = before.outbox.iter().map(|r| r.mutation_id.as_str()).collect();
            for row in self.outbox.iter().filter(|r| !before_ids.contains(r.mutation_id.as_str())) {
                ensure!(row.seq > before_max, "new outbox entry seq {} is not after {before_max}", row.seq);
            }
        }

        // The local change and its outbox entry are one transaction: every reply of the test's
        // in the outbox has its message, and every message of the test's has its outbox entry.
        let mut replies_in_outbox = HashSet::new();
        for row in &self.outbox {
            if let Mutation::ReplyTicket { ticket_id, message_id, body, internal, .. } = &row.mutation
                && body.starts_with(MARKER)
            {
                let direction = if *internal { "internal" } else { "outbound" };
                let found = self.messages.get(message_id);
                ensure!(
                    found.is_some_and(|(t, d, b)| t == ticket_id && d == direction && b == body),
                    "outbox seq {} ({body:?}) has no matching message: {found:?}",
                    row.seq
                );
                replies_in_outbox.insert(message_id.as_str());
            }
        }
        for (id, (_, _, body)) in &self.messages {
            ensure!(replies_in_outbox.contains(id.as_str()), "message {id} ({body:?}) has no outbox entry");
        }

        // Every confirmed write is there, in the order its writer made it.
        for (w, (mine, writes)) in tickets.iter().zip(confirmed).enumerate() {
            let entries: Vec<&OutboxRow> = self
                .outbox
                .iter()
                .filter(|r| ticket_of(&r.mutation).is_some_and(|t| mine.iter().any(|m| m == t)))
                .collect();
            let mut next = 0;
            for (i, write) in writes.iter().enumerate() {
                match entries[next..].iter().position(|r| write.is(&r.mutation)) {
                    Some(at) => next += at + 1,
                    None => {
                        let anywhere = entries.iter().find(|r| write.is(&r.mutation)).map(|r| r.seq);
                        bail!(
                            "writer {w}'s confirmed write #{i} on ticket {} is {}: {write:?}",
                            write.ticket(),
                            match anywhere {
                                Some(seq) => format!("out of order in the outbox (seq {seq})"),
                                None => "LOST: not in the outbox".to_owned(),
                            }
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

fn ticket_of(mutation: &Mutation) -> Option<&str> {
    match mutation {
        Mutation::ReplyTicket { ticket_id, .. } | Mutation::SetTicketStatus { ticket_id, .. } => Some(ticket_id),
        _ => None,
    }
}

/// okno-core's seeded generator: the same seed gives the same kill times.
struct SplitMix(okno_core::rng::Rng);

impl SplitMix {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.0.below(high - low + 1)
    }
}
