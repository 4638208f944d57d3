//! The hotline in the server against real peers, at a busy hour's pace compressed in time: two
//! sipp processes call the hotline through Kamailio (which routes the number to the hotline's
//! registration and stays in the calls' path) faster than three operators can take the calls: patient callers who wait until an operator is done with them, and
//! impatient ones who hang up after two seconds, answered or not. The operators' desks are
//! okno-phone engines registered at Kamailio and rung through it; they answer at once and talk
//! for a second. What the peers saw (calls placed by sipp, calls the desks answered) must equal
//! the wallboard's figures, which the server recomputes from the stored raw queue events.
//! Kamailio, sipp and PostgreSQL must be there (`cargo xtask setup`).

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::Harness;
use okno_acd::QueueSpec;
use okno_hotline::{AgentLine, HotlineConfig};
use okno_phone::engine::{self, EngineConfig, PhoneCommand, PhoneEvent};
use okno_server::hotline::HotlineSettings;
use okno_sip::Uri;
use okno_testkit::free_udp_port as free_port;
use okno_testkit::sip::Kamailio;
use serde_json::Value;

const SIP_PASSWORD: &str = "hotline-busy-hour";
/// Patient callers (they wait up to 60 s) and impatient ones (2 s), with sipp's call rates.
const PATIENT: (u32, &str) = (30, "6");
const IMPATIENT: (u32, &str) = (15, "3");
const CALLS: u32 = PATIENT.0 + IMPATIENT.0;
const TALK: Duration = Duration::from_millis(1_000);

/// What the desks saw: calls answered, and of those the ones the far end hung up at once (the
/// caller gave up just as the desk answered: the hotline had already withdrawn the offer).
#[derive(Default)]
struct DeskCounts {
    answered: AtomicU32,
    cut_at_once: AtomicU32,
}

/// An operator's desk: registered at Kamailio, answers every call at once, talks for [`TALK`].
async fn desk(kamailio: &Kamailio, user: &str, counts: Arc<DeskCounts>) -> engine::PhoneHandle {
    let mut config = EngineConfig::new(SocketAddr::from(([127, 0, 0, 1], free_port())));
    config.account = Some(Uri::parse(&format!("sip:{user}@127.0.0.1")).unwrap());
    config.registrar = Some(kamailio.addr().parse().unwrap());
    config.password = Some(SIP_PASSWORD.into());
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (phone, _) = engine::spawn(config, Box::new(okno_phone::media::SilentMedia), tx).await.unwrap();
    let handle = phone.clone();
    let (registered_tx, registered) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut registered_tx = Some(registered_tx);
        while let Some(event) = events.recv().await {
            match event {
                PhoneEvent::Registered { .. } => {
                    if let Some(tx) = registered_tx.take() {
                        let _ = tx.send(());
                    }
                }
                PhoneEvent::Incoming { call_id, .. } => {
                    let _ = handle.send(PhoneCommand::Answer { call_id });
                }
                PhoneEvent::Ended { answered: true, talk_s, .. } if talk_s < 0.25 => {
                    counts.cut_at_once.fetch_add(1, Ordering::SeqCst);
                }
                PhoneEvent::Answered { call_id, .. } => {
                    counts.answered.fetch_add(1, Ordering::SeqCst);
                    let handle = handle.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(TALK).await;
                        let _ = handle.send(PhoneCommand::Hangup { call_id });
                    });
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), registered).await.expect("the desk registers").unwrap();
    phone
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_hour_through_the_hotline_adds_up_on_the_wallboard() {
    okno_testkit::require("sipp", "sip-tester");
    let mut h = Harness::new().await;
    okno_server::admin::create_operator(&h.pool, "vera", "vera", okno_core::Role::Operator, None).await.unwrap();
    let kamailio = Kamailio::start_record_routing(SIP_PASSWORD);
    let agents = ["anna", "boris", "vera"];
    let hotline_port = free_port();
    let settings = HotlineSettings {
        config: HotlineConfig {
            registrar: Some(kamailio.addr().parse().unwrap()),
            account: Some(Uri::parse("sip:hotline@127.0.0.1").unwrap()),
            password: Some(SIP_PASSWORD.into()),
            codecs: "pcmu".into(),
            agents: agents
                .iter()
                .map(|a| AgentLine {
                    id: (*a).into(),
                    uri: Uri::parse(&format!("sip:{a}@127.0.0.1")).unwrap(),
                    skills: Vec::new(),
                })
                .collect(),
            // Callers come through Kamailio, the registrar: no other host may deliver calls.
            ..HotlineConfig::new(
                SocketAddr::from(([127, 0, 0, 1], hotline_port)),
                vec![("hotline".into(), "q1".into())],
                vec![QueueSpec {
                    id: "q1".into(),
                    skill: None,
                    ring_timeout_ms: 5_000,
                    callback_after_ms: None,
                    announce_every_ms: 30_000,
                    wrap_up_ms: 0,
                }],
            )
        },
    };
    let hotline = okno_server::hotline::start(&h.pool, &settings).await.unwrap();
    h.state.hotline = Some((hotline.clone(), Arc::new(vec!["q1".into()])));
    h.app = okno_server::app(h.state.clone());

    let counts = Arc::new(DeskCounts::default());
    let mut desks = Vec::new();
    for agent in agents {
        desks.push(desk(&kamailio, agent, counts.clone()).await);
    }
    // The operators become available the way their desks say so: their state on the server.
    let since = okno_core::unix_ms(std::time::SystemTime::now()) - 1_000;
    sqlx::query("UPDATE operators SET state = 'available' WHERE id = ANY($1)")
        .bind(agents.map(String::from).to_vec())
        .execute(&h.pool)
        .await
        .unwrap();
    tokio::time::sleep(okno_server::hotline::STATE_POLL * 2).await;

    let scenarios = tempfile::tempdir().unwrap();
    let proxy = kamailio.addr();
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../okno-hotline/tests/hotline_caller.xml"))
            .unwrap();
    let callers = |(calls, rate): (u32, &'static str), patience_ms: u32| {
        let scenario = scenarios.path().join(format!("caller-{patience_ms}.xml"));
        std::fs::write(&scenario, template.replace("PATIENCE_MS", &patience_ms.to_string())).unwrap();
        let proxy = proxy.clone();
        tokio::task::spawn_blocking(move || {
            Command::new("sipp")
                .arg(&proxy)
                .arg("-sf")
                .arg(&scenario)
                .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-mp", &free_port().to_string()])
                .args(["-m", &calls.to_string(), "-r", rate, "-l", &calls.to_string(), "-nostdin", "-timeout", "120s"])
                .output()
                .unwrap()
        })
    };
    let patient = callers(PATIENT, 60_000);
    let impatient = callers(IMPATIENT, 2_000);
    for (sipp, calls) in [(patient.await.unwrap(), PATIENT.0), (impatient.await.unwrap(), IMPATIENT.0)] {
        let out = String::from_utf8_lossy(&sipp.stdout).into_owned();
        assert_eq!(sipp_stat(&out, "Total Calls created"), Some(calls), "sipp placed every call: {out}");
    }

    // The last conversations end within a talk time; then nothing waits and no leg is left.
    let started = std::time::Instant::now();
    loop {
        let status = hotline.status().await.unwrap();
        if status.waiting.is_empty() && status.legs == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "the hotline still holds calls: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let lena = h.token("lena").await;
    let (code, board) = h.call(Method::GET, &format!("/v1/wallboard?since={since}"), Some(&lena), None).await;
    assert_eq!(code, StatusCode::OK, "{board}");
    let q1 = board["queues"].as_array().unwrap().iter().find(|q| q["id"] == "q1").cloned().unwrap();
    let today = &q1["today"];
    let desks_answered = u64::from(counts.answered.load(Ordering::SeqCst));
    let cut_at_once = u64::from(counts.cut_at_once.load(Ordering::SeqCst));
    let count = |v: &Value| v.as_u64().unwrap_or(u64::MAX);
    eprintln!(
        "busy hour: {CALLS} calls placed, {desks_answered} answered at the desks ({cut_at_once} hung up at once); \
         the board's today: {today}"
    );
    let answered = count(&today["answered"]);
    assert_eq!(count(&today["offered"]), u64::from(CALLS), "{q1:#}");
    // A caller who gives up just as a desk picks up is abandoned for the queue, and the desk
    // sees a call that ends at once: those are the only answers the board may not count.
    assert!(
        answered <= desks_answered && desks_answered <= answered + cut_at_once,
        "the desks answered what the board says ({desks_answered} answered, {cut_at_once} of them hung up at once): {q1:#}"
    );
    assert_eq!(count(&today["answered"]) + count(&today["abandoned"]), u64::from(CALLS), "{q1:#}");
    assert_eq!(count(&today["waiting"]), 0, "{q1:#}");
    assert!(
        answered >= u64::from(PATIENT.0) && answered < u64::from(CALLS),
        "every patient caller is answered and some impatient ones give up: {q1:#}"
    );
    // Every abandonment came within 2 s, which the service level leaves out; it is the share of
    // the others answered within 20 s.
    let in_target = count(&today["answered_in_target"]);
    let short_abandons = count(&today["abandoned_in_target"]);
    assert_eq!(short_abandons, u64::from(CALLS) - answered, "{q1:#}");
    let expected = in_target as f64 / (u64::from(CALLS) - short_abandons) as f64;
    let level = today["service_level"].as_f64().unwrap();
    assert!((level - expected).abs() < 1e-9, "service level {level}, recomputed {expected}: {q1:#}");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM acd_events WHERE kind = 'queued'").fetch_one(&h.pool).await.unwrap();
    assert_eq!(stored, i64::from(CALLS));

    // An operator is refused the move a team lead may make.
    let anna = h.token("anna").await;
    let (code, _) =
        h.post("/v1/wallboard/move", Some(&anna), serde_json::json!({"call_id": "x", "queue_id": "q1"})).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, body) =
        h.post("/v1/wallboard/move", Some(&lena), serde_json::json!({"call_id": "gone", "queue_id": "q1"})).await;
    assert_eq!(code, StatusCode::CONFLICT, "no such call waiting: {body}");
    // Listening in is for team leads too, and only to a connected call with a supervisor line.
    let listen = serde_json::json!({"call_id": "gone", "mode": "listen"});
    let (code, _) = h.post("/v1/wallboard/monitor", Some(&anna), listen.clone()).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, body) = h.post("/v1/wallboard/monitor", Some(&lena), listen).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    let (code, _) =
        h.post("/v1/wallboard/monitor", Some(&lena), serde_json::json!({"call_id": "x", "mode": "shout"})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    drop(desks);
}

/// A figure of sipp's final statistics screen (`Successful call`, `Failed call`, ...): the
/// cumulative column.
fn sipp_stat(out: &str, name: &str) -> Option<u32> {
    out.lines()
        .rev()
        .find(|l| l.trim_start().starts_with(name))
        .and_then(|l| l.split('|').nth(2).and_then(|c| c.split_whitespace().next()).and_then(|n| n.parse().ok()))
}
